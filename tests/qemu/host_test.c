/*
 * host_test.c - amp's tests on a real Cortex-M: core 0 of QEMU's
 * mps2-an521 is the host, core 1 runs firmware loaded by path from the
 * PC's file system through semihosting.
 *
 *   qemu-system-arm -M mps2-an521 ... -kernel an521_test.elf \
 *       -semihosting-config enable=on,target=native,arg=an521_test,arg=FIRMWARE_DIR
 *
 * FIRMWARE_DIR holds virtual_uart.elf, virtual_uart_hosttable.elf,
 * crash.elf and hostile.elf (ports/an521/build.sh). With a third
 * argument "lean" (FIRMWARE_DIR then holds the firmware-lean/ images,
 * AMP_CFG_RPMSG_LEAN), only the tests of the remote's RPMsg run: echoes,
 * a burst, stop/start cycles, the host's table, crashes and lies, with
 * EVENT_IDX never negotiated. Each test prints
 * "ok" or "FAIL" lines; the run ends with "N passed, M failed" and QEMU's
 * exit status 0 (all passed) or 1 (SYS_EXIT_EXTENDED). A fault on core 0
 * exits with 3. The harness (tools/test-qemu.sh) wants both the line and
 * the status: a guest reset also ends QEMU with 0.
 *
 * Core 1's UART goes to QEMU's second serial port (a log file).
 */
#include <string.h>

#include "amp/amp.h"
#include "amp_an521.h"
#include "an521_host.h"

#define NSLOTS (2u * 256u)
#define ELF_MAX (512u * 1024u)

static struct amp_an521 hw;
static struct amp_port port;
static struct amp_rpmsg dev;
static struct amp_rproc rp;
static struct amp_vring_slot slots[NSLOTS];
static struct an521_file file = {-1, 0};
static struct amp_ept ept;
static const char *fwdir = ".";
static bool lean;
static int passed, failed;

/* The port, with notifications that can be held back: a lie is written
 * into a message already published, before the remote is told of it. */
static const struct amp_port_ops *hw_ops;
static struct amp_port_ops lie_ops;
static bool mute;

static int lie_notify(void *ctx, uint32_t notifyid)
{
    return mute ? 0 : hw_ops->notify(ctx, notifyid);
}

void an521_mhu0_irq(void)
{
    amp_an521_mhu0_irq(&hw);
}

void an521_mhu1_irq(void)
{
    amp_an521_mhu1_irq(&hw);
}

static bool check(bool ok, const char *what)
{
    an521_printf("  %s: %s\n", ok ? "ok" : "FAIL", what);
    if (ok)
        passed++;
    else
        failed++;
    return ok;
}

/* ==== Set-up, load by path, bind ==== */

static struct {
    uint8_t data[512];
    size_t len;
    uint32_t count;
} rx;

/* A burst's messages: 16 bytes, the sequence number and a pattern of it. */
static struct {
    bool on;
    uint32_t next, bad;
} burst;

static void burst_msg(uint32_t seq, uint8_t msg[16])
{
    memcpy(msg, &seq, 4);
    for (uint32_t k = 4; k < 16; k++)
        msg[k] = (uint8_t)(seq * 7u + k);
}

static int rx_cb(struct amp_ept *e, void *data, size_t len, uint32_t src, void *priv)
{
    (void)e, (void)src, (void)priv;
    rx.len = len < sizeof(rx.data) ? len : sizeof(rx.data);
    memcpy(rx.data, data, rx.len);
    rx.count++;
    if (burst.on) {
        uint8_t want[16];
        burst_msg(burst.next++, want);
        burst.bad += len != sizeof(want) || memcmp(data, want, sizeof(want)) != 0;
    }
    return AMP_RX_DONE;
}

static uint32_t crashes;

/* Poll and sleep until *flag changes from `from` or ms pass; a crash
 * record is passed on to the library as it comes. */
static void pump(volatile uint32_t *flag, uint32_t from, uint32_t ms)
{
    uint32_t t0 = an521_ms();
    while (*flag == from && an521_ms() - t0 < ms) {
        amp_rpmsg_wait(&dev, 5);
        if (amp_an521_take_crash(&hw)) {
            crashes++;
            amp_rproc_crashed(&rp);
        }
    }
}

/* A fresh device and remoteproc on a layout; the previous remote is
 * parked first. features_off: feature bits the host refuses. */
static void setup(enum amp_an521_layout layout, uint32_t features_off)
{
    struct amp_rproc_cfg cfg;
    amp_rproc_shutdown(&rp);
    amp_an521_rproc_cfg(&cfg, layout, slots, NSLOTS);
    cfg.features &= ~features_off;
    amp_rpmsg_init(&dev, AMP_ROLE_HOST, &port);
    amp_rproc_init(&rp, &port, &dev, &cfg);
    amp_ept_create(&ept, &dev, "vuart-channel", AMP_ADDR_ANY, AMP_ADDR_ANY, rx_cb, NULL);
}

static int load(const char *name)
{
    char path[256];
    an521_snprintf(path, sizeof(path), "%s/%s", fwdir, name);
    an521_file_close(&file);
    int err = an521_file_open(&file, path);
    if (err) {
        an521_printf("  cannot open %s (semihosting)\n", path);
        return err;
    }
    err = amp_rproc_load(&rp, an521_file_read, &file, file.size);
    if (err)
        an521_printf("  load %s: %d (%s)\n", path, err, rp.why ? rp.why : "");
    return err;
}

static bool bound(uint32_t ms)
{
    uint32_t t0 = an521_ms();
    while (!amp_ept_is_ready(&ept) && an521_ms() - t0 < ms) {
        amp_rpmsg_wait(&dev, 5);
        if (amp_an521_take_crash(&hw)) {
            crashes++;
            amp_rproc_crashed(&rp);
            return false;
        }
    }
    return amp_ept_is_ready(&ept);
}

static int start_bound(void)
{
    int err = amp_rproc_start(&rp);
    if (err) {
        an521_printf("  start: %d (%s / %s)\n", err, rp.why ? rp.why : "",
                     amp_an521_why(&hw) ? amp_an521_why(&hw) : "");
        return err;
    }
    return bound(5000) ? 0 : -ETIMEDOUT;
}

/* ==== Checksummed echoes ==== */

static uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static uint32_t seed = 12345;

static uint32_t rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    return seed;
}

/* Send n messages of 8..496 bytes (sequence, random bytes, CRC-32 of
 * them) and check each echo, byte for byte and by its checksum. Returns
 * how many came back right. */
static uint32_t echo(uint32_t n)
{
    uint8_t msg[496];
    uint32_t good = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t len = 8u + rnd() % (sizeof(msg) - 8u);
        memcpy(msg, &i, 4);
        for (size_t k = 4; k < len - 4; k++)
            msg[k] = (uint8_t)rnd();
        uint32_t c = crc32(msg, len - 4);
        memcpy(msg + len - 4, &c, 4);
        uint32_t before = rx.count;
        int err = amp_ept_send(&ept, msg, len, 1000);
        if (err != (int)len) {
            an521_printf("  send %u: %d\n", (unsigned)i, err);
            break;
        }
        pump(&rx.count, before, 1000);
        uint32_t c2;
        memcpy(&c2, rx.data + (rx.len >= 4 ? rx.len - 4 : 0), 4);
        if (rx.count != before + 1 || rx.len != len || memcmp(rx.data, msg, len) != 0 ||
            crc32(rx.data, rx.len - 4) != c2) {
            an521_printf("  echo %u: %s\n", (unsigned)i, rx.count == before ? "none" : "wrong");
            break;
        }
        good++;
    }
    return good;
}

/* ==== The tests ==== */

/* The spec's example: RemoteProc("virtual_uart.elf"), start, an endpoint
 * bound by the firmware's announcement, messages echoed back. */
static void test_example(void)
{
    an521_printf("example: virtual_uart.elf loaded by path, bound by announcement, echoed\n");
    setup(AMP_AN521_FW_TABLE, 0);
    check(load("virtual_uart.elf") == 0 && rp.state == AMP_RPROC_READY, "loaded by path");
    check(start_bound() == 0, "started and bound to the announced vuart-channel");
    check(echo(100) == 100, "100 checksummed messages of 8..496 bytes echoed");
    if (lean)
        check(!(dev.features & (1u << AMP_VIRTIO_F_EVENT_IDX)), "EVENT_IDX not negotiated: the lean remote has none");
    else
        check(dev.features & (1u << AMP_VIRTIO_F_EVENT_IDX), "EVENT_IDX negotiated");
    char trace[128];
    check(amp_rproc_trace_read(&rp, 0, trace, sizeof(trace)) > 0 &&
              strncmp(trace, "virtual_uart: start", 19) == 0,
          "the firmware's trace buffer reads 'virtual_uart: start'");
    check(amp_rproc_load(&rp, an521_file_read, &file, file.size) == -EBUSY, "load while running: -EBUSY");
    check(AMP_AN521_REG(AMP_AN521_CPUWAIT) == 0 && AMP_AN521_LIFE->boots >= 1,
          "core 1 released from CPUWAIT and booted");
}

/* Spin, reading nothing, until the remote has taken every message we
 * sent, or ms pass. */
static void spin_until_used(uint32_t ms)
{
    uint32_t t0 = an521_ms();
    while (dev.tx.used->idx != dev.tx.shadow_idx && an521_ms() - t0 < ms)
        ;
}

/* More echoes than the remote has send buffers, while we read none of
 * them: 48 messages, then `more`. Its sends find no buffer (a lean
 * remote's say -EAGAIN at once, and vc_sendto() sleeps in amp_rpmsg_wait
 * until we give some back): with more = 17 the 65th echo waits with
 * nothing else to do (the remote must ask to be told of a buffer), with
 * more = 48 while messages wait behind it. Every echo must still come,
 * in order. */
static void test_burst(int more)
{
    char what[96];
    uint8_t msg[16];
    uint32_t before = rx.count, sent = 0, t0;
    int total = 48 + more;
    an521_printf("burst: %d messages while the host reads no echo: the remote runs out of send buffers\n", total);
    burst.on = true;
    burst.next = burst.bad = 0;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < (round ? more : 48); i++) {
            burst_msg(sent, msg);
            if (amp_ept_send(&ept, msg, sizeof(msg), 0) == (int)sizeof(msg))
                sent++;
        }
        if (round == 0)
            spin_until_used(2000); /* the remote took all 48: their buffers are ours again */
    }
    /* 64 echoes fill every receive buffer we gave; the 65th waits for one */
    t0 = an521_ms();
    while ((uint16_t)(dev.rx.used->idx - dev.rx.last_idx) != dev.rx.num && an521_ms() - t0 < 2000)
        ;
    an521_snprintf(what, sizeof(what), "%d messages sent without reading an echo", total);
    check(sent == (uint32_t)total, what);
    check((uint16_t)(dev.rx.used->idx - dev.rx.last_idx) == dev.rx.num,
          "the remote filled all our receive buffers: its next send found none");
    t0 = an521_ms();
    while (rx.count - before < sent && an521_ms() - t0 < 3000)
        amp_rpmsg_wait(&dev, 5);
    burst.on = false;
    if (rx.count - before != sent || burst.bad)
        an521_printf("  %u of %u echoes, %u wrong\n", (unsigned)(rx.count - before), (unsigned)sent,
                     (unsigned)burst.bad);
    an521_snprintf(what, sizeof(what), "all %d echoed once we read again, in order, byte for byte", total);
    check(rx.count - before == sent && burst.bad == 0, what);
    check(echo(5) == 5, "... and the link goes on");
}

static void test_cycles(void)
{
    an521_printf("stop/start: 20 cycles, rebinding each time\n");
    uint32_t ok = 0, boots = AMP_AN521_LIFE->boots;
    for (int i = 0; i < 20; i++) {
        int err = amp_rproc_stop(&rp);
        bool stopped = !err && rp.state == AMP_RPROC_STOPPED && !amp_ept_is_ready(&ept) && hw.parked;
        err = stopped ? start_bound() : -1;
        if (stopped && !err && echo(3) == 3)
            ok++;
        else
            an521_printf("  cycle %d: stopped %d, start %d\n", i, stopped, err);
    }
    check(ok == 20, "20 stops parked core 1, 20 starts reloaded it, rebound and echoed");
    check(AMP_AN521_LIFE->boots == boots + 20, "core 1 booted 20 more times");
}

static void test_event_idx_off(void)
{
    an521_printf("EVENT_IDX off: the host refuses it\n");
    setup(AMP_AN521_FW_TABLE, 1u << AMP_VIRTIO_F_EVENT_IDX);
    check(load("virtual_uart.elf") == 0 && start_bound() == 0, "started and bound");
    check(!(dev.features & (1u << AMP_VIRTIO_F_EVENT_IDX)) && !(dev.vdev->gfeatures & (1u << 29)),
          "EVENT_IDX not negotiated");
    check(echo(100) == 100, "100 messages echoed");
}

static void test_host_table(void)
{
    an521_printf("host-provided table (MicroPython layout): virtual_uart_hosttable.elf\n");
    setup(AMP_AN521_MICROPYTHON, 0);
    check(load("virtual_uart_hosttable.elf") == 0 && rp.rsc_size == 0, "loaded: the image has no table");
    check(start_bound() == 0, "started and bound");
    const volatile uint32_t *t = (const volatile uint32_t *)(uintptr_t)AMP_AN521_RSC_DA;
    check(t[0] == 1 && dev.vdev && (uintptr_t)dev.vdev > AMP_AN521_RSC_DA &&
              (uintptr_t)dev.vdev < AMP_AN521_RSC_DA + AMP_AN521_RSC_SIZE,
          "the table is the host's, at 0x38000000");
    check(echo(100) == 100, "100 messages echoed");
    char trace[128];
    check(amp_rproc_trace_read(&rp, 0, trace, sizeof(trace)) > 0 &&
              strncmp(trace, "virtual_uart_hosttable: start", 29) == 0,
          "the trace buffer is the host's (0x3800FF80)");
    check(amp_rproc_stop(&rp) == 0 && amp_rproc_start(&rp) == 0 && bound(2000) && echo(5) == 5,
          "stop and start again");
}

static void test_crash(const char *cmd, uint32_t cause, const char *what)
{
    if (rp.state != AMP_RPROC_RUNNING && start_bound() != 0) {
        check(false, "crash.elf starts");
        return;
    }
    uint32_t before = crashes;
    amp_ept_send(&ept, cmd, strlen(cmd), 1000);
    pump(&crashes, before, 5000);
    bool ok = crashes == before + 1 && rp.state == AMP_RPROC_CRASHED && !amp_ept_is_ready(&ept) &&
              hw.crash.cause == cause;
    if (!ok)
        an521_printf("  crashes %u->%u, state %s, cause %s (%x) pc %08x\n", (unsigned)before,
                     (unsigned)crashes, amp_rproc_state_name(rp.state), amp_an521_crash_name(hw.crash.cause),
                     (unsigned)hw.crash.cause, (unsigned)hw.crash.pc);
    check(ok, what);
    check(start_bound() == 0 && echo(3) == 3, "... and it restarts from a fresh image");
}

static void test_crashes(void)
{
    an521_printf("crashes: reported by the firmware's fault handlers, then restarted\n");
    setup(AMP_AN521_FW_TABLE, 0);
    check(load("crash.elf") == 0, "crash.elf loaded");
    test_crash("udf", AMP_AN521_CRASH_USAGEFAULT, "udf: UsageFault reported as a crash");
    check((hw.crash.cfsr & (1u << 16)) && hw.crash.pc >= AMP_AN521_ISRAM_DA &&
              hw.crash.pc < AMP_AN521_ISRAM_DA + AMP_AN521_ISRAM_SIZE,
          "... with CFSR.UNDEFINSTR and the pc in the image");
    test_crash("hard", AMP_AN521_CRASH_HARDFAULT, "UsageFault disabled: HardFault reported");
    test_crash("bus", AMP_AN521_CRASH_BUSFAULT, "write to 0xF0000000: BusFault reported");
    test_crash("svc", AMP_AN521_CRASH_OTHER, "an unhandled SVC reported");
    /* PendSV has UsageFault's priority (0): the fault escalates to HardFault */
    test_crash("nested", AMP_AN521_CRASH_HARDFAULT, "a fault inside PendSV: HardFault, two exceptions unwound");
    test_crash("exit", AMP_AN521_CRASH_EXIT, "vc_exit(3) reported as exit");
    check(hw.crash.status == 3, "... with status 3");
    amp_ept_send(&ept, "spin", 4, 1000);
    pump(&crashes, crashes, 50);
    check(amp_rproc_stop(&rp) == 0 && hw.parked, "a core spinning with interrupts on still parks");
    check(start_bound() == 0 && echo(3) == 3, "... and restarts");
}

/* ==== Lies: the host breaks the rules, the remote counts and goes on ==== */

/* The remote's counts (crash.elf's "stats"): ring errors, message
 * errors, messages for no endpoint. */
static bool remote_stats(uint32_t st[3])
{
    uint32_t before = rx.count;
    if (amp_ept_send(&ept, "stats", 5, 1000) != 5)
        return false;
    pump(&rx.count, before, 1000);
    if (rx.count != before + 1 || rx.len != 12)
        return false;
    memcpy(st, rx.data, 12);
    return true;
}

enum lie { HEAD, HEAD_FAR, HEAD_HELD, ADDR_HIGH, ADDR_OUT, LEN_OUT, CHAINED, HDR_LEN, NOBODY, NS_SHORT, NS_NONAME, IDX_JUMP };

/* Send a well-formed NS announcement (as a payload: to the remote's
 * endpoint) with the doorbell held back (the remote sleeps: nothing has
 * rung it since its last reply), change what was published, then ring. */
static uint16_t held_head; /* the head of the buffer crash.elf holds ("hold") */

static void lie(enum lie how)
{
    struct amp_rpmsg_ns_msg ns = {.name = "lie", .addr = 1234, .flags = AMP_RPMSG_NS_CREATE};
    struct amp_vring *vr = &dev.tx;
    uint32_t t0 = an521_ms();
    while (an521_ms() - t0 < 100) /* the remote is back asleep after its last reply (a wide
                                   * margin: a loaded machine may deschedule core 1) */
        ;
    mute = true;
    amp_ept_send(&ept, &ns, sizeof(ns), 1000);
    uint32_t pos = (uint16_t)(vr->shadow_idx - 1u) & (vr->num - 1u);
    uint16_t head = vr->avail->ring[pos];
    volatile struct amp_vring_desc *d = &vr->desc[head];
    volatile struct amp_rpmsg_hdr *h = (volatile struct amp_rpmsg_hdr *)(vr->shm.va + vr->slot[head].off);
    switch (how) {
    case HEAD: vr->avail->ring[pos] = (uint16_t)(vr->num + 3u); break;       /* no such descriptor */
    case HEAD_FAR: vr->avail->ring[pos] = 0xFFFF; break;
    case HEAD_HELD: vr->avail->ring[pos] = held_head; break;                 /* a buffer the remote holds */
    case ADDR_HIGH: d->addr |= 1ull << 32; break;                            /* above 4 GiB */
    case ADDR_OUT: d->addr = AMP_AN521_LIFE_DA; break;                       /* just past the window */
    case LEN_OUT: d->len = 0xFFFFFFF0u; break;                               /* wraps past the window */
    case CHAINED: d->flags = AMP_VRING_DESC_F_NEXT; break;
    case HDR_LEN: h->len = 0xFFFF; break;                                    /* more than the buffer */
    case NOBODY: h->dst = 4321; break;
    case NS_SHORT: h->dst = AMP_RPMSG_NS_ADDR; h->len = 39; break;
    case NS_NONAME: h->dst = AMP_RPMSG_NS_ADDR; ((volatile uint8_t *)h)[AMP_RPMSG_HDR_SIZE] = 0; break;
    case IDX_JUMP: vr->avail->idx = (uint16_t)(vr->shadow_idx + 100u); break; /* more than num new */
    }
    __asm__ volatile("dsb" ::: "memory");
    mute = false;
    hw_ops->notify(port.ctx, 1);
}

static void test_lies(void)
{
    static const struct {
        enum lie how;
        int counter; /* 0 ring errors, 1 message errors, 2 dropped */
        const char *what;
    } lies[] = {
        {HEAD, 0, "an avail entry naming no descriptor (num + 3)"},
        {HEAD_FAR, 0, "an avail entry naming no descriptor (0xFFFF)"},
        {HEAD_HELD, 0, "an avail entry naming a buffer the remote holds"},
        {ADDR_HIGH, 0, "a buffer address above 4 GiB"},
        {ADDR_OUT, 0, "a buffer just past the shared window (the life-cycle block)"},
        {LEN_OUT, 0, "a buffer length past the window"},
        {CHAINED, 0, "a chained descriptor"},
        {HDR_LEN, 1, "a header length past its buffer"},
        {NOBODY, 2, "a message for an address nobody has"},
        {NS_SHORT, 1, "an NS announcement one byte short"},
        {NS_NONAME, 1, "an NS announcement without a name"},
    };
    an521_printf("lies: the host breaks the rules, the remote counts each one and goes on\n");
    setup(AMP_AN521_FW_TABLE, 0);
    uint32_t st[3], st2[3];
    if (!check(load("crash.elf") == 0 && start_bound() == 0 && remote_stats(st) && st[0] + st[1] + st[2] == 0,
               "crash.elf started, bound, and has counted nothing"))
        return;
    for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
        char what[112];
        uint32_t before = crashes;
        if (lies[i].how == HEAD_HELD) {
            uint32_t n = rx.count;
            amp_ept_send(&ept, "hold", 4, 1000);
            held_head = dev.tx.avail->ring[(uint16_t)(dev.tx.shadow_idx - 1u) & (dev.tx.num - 1u)];
            pump(&rx.count, n, 1000);
            check(rx.count == n + 1 && rx.len == 4 && memcmp(rx.data, "held", 4) == 0,
                  "crash.elf holds a received buffer");
        }
        lie(lies[i].how);
        bool got = remote_stats(st2);
        bool ok = got && crashes == before;
        for (int k = 0; k < 3; k++)
            ok = ok && st2[k] == st[k] + (k == lies[i].counter);
        if (!ok)
            an521_printf("  counts %u %u %u -> %u %u %u, crashes %u -> %u\n", (unsigned)st[0], (unsigned)st[1],
                         (unsigned)st[2], (unsigned)st2[0], (unsigned)st2[1], (unsigned)st2[2],
                         (unsigned)before, (unsigned)crashes);
        an521_snprintf(what, sizeof(what), "%s: counted once, nothing else", lies[i].what);
        check(ok && echo(2) == 2, what);
        if (got)
            memcpy(st, st2, sizeof(st));
        if (lies[i].how == HEAD_HELD) {
            uint32_t n = rx.count;
            amp_ept_send(&ept, "release", 7, 1000);
            pump(&rx.count, n, 1000);
            check(rx.count == n + 1 && rx.len == 8 && memcmp(rx.data, "released", 8) == 0,
                  "... and gives it back once, when asked");
        }
    }
    struct amp_rpmsg_stats hst;
    amp_rpmsg_get_stats(&dev, &hst);
    check(hst.ring_errors == 0 && hst.msg_errors == 0,
          "the remote never gave back a buffer twice, or one it did not have");
    /* the avail index jumps: the ring is broken for good, the firmware
     * says so (vc_rpmsg_run: exit status 2) */
    uint32_t before = crashes;
    lie(IDX_JUMP);
    pump(&crashes, before, 2000);
    check(crashes == before + 1 && hw.crash.cause == AMP_AN521_CRASH_EXIT && hw.crash.status == 2,
          "an avail index that jumps by 100: the remote's link breaks (-EIO), it exits with status 2");
    check(start_bound() == 0 && echo(3) == 3, "... and it restarts and echoes");
}

/* One attack of hostile.elf from `phase` on (1: lies on the rings'
 * contents, 2: random words over the rings, 3: index jumps), while we
 * keep sending and polling for 700 ms. */
static void attack(int phase)
{
    char what[96];
    setup(AMP_AN521_FW_TABLE, 0);
    if (!check(load("hostile.elf") == 0 && start_bound() == 0 && echo(5) == 5,
               "hostile.elf started, bound and echoing"))
        return;
    uint32_t magic = AMP_AN521_LIFE->magic, park = AMP_AN521_LIFE->park_entry;
    if (phase > 1) {
        char cmd[] = "attack 0";
        cmd[7] = (char)('0' + phase);
        amp_ept_send(&ept, cmd, 8, 1000);
    }
    amp_ept_send(&ept, "go", 2, 1000);
    uint8_t msg[64];
    uint32_t t0 = an521_ms(), sent = 0, refused = 0;
    while (an521_ms() - t0 < 700) {
        memset(msg, (int)sent, sizeof(msg));
        if (amp_ept_send(&ept, msg, sizeof(msg), 0) == (int)sizeof(msg))
            sent++;
        else
            refused++;
        amp_rpmsg_wait(&dev, 1);
        if (amp_an521_take_crash(&hw))
            amp_rproc_crashed(&rp);
    }
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(&dev, &st);
    an521_printf("  phase %d: %u sent, %u sends refused; peer violations: %u ring, %u message; link %s\n",
                 phase, (unsigned)sent, (unsigned)refused, (unsigned)st.ring_errors, (unsigned)st.msg_errors,
                 dev.state == AMP_LINK_UP ? "up" : dev.state == AMP_LINK_BROKEN ? "broken" : "down");
    an521_snprintf(what, sizeof(what), "attack from phase %d: the lies were caught and counted", phase);
    check(st.ring_errors + st.msg_errors > 0 || dev.state == AMP_LINK_BROKEN, what);
    check(AMP_AN521_LIFE->magic == magic && AMP_AN521_LIFE->park_entry == park,
          "... the life-cycle block outside the window is intact");
    check(amp_rproc_stop(&rp) == 0, "... and the hostile core parks on request");
}

static void test_hostile(void)
{
    an521_printf("hostile: a remote scribbling on shared memory\n");
    for (int phase = 1; phase <= 3; phase++)
        attack(phase);
    setup(AMP_AN521_FW_TABLE, 0);
    check(load("virtual_uart.elf") == 0 && start_bound() == 0 && echo(20) == 20,
          "the host still runs: virtual_uart.elf runs again after them");
}

/* Malformed images, built in memory from a good one. */
static uint8_t img[ELF_MAX], bad[ELF_MAX];
static uint32_t img_size, bad_size;
static uint32_t canary[64];

static int mem_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    (void)ctx;
    if (off > bad_size || len > bad_size - off)
        return -EIO;
    memcpy(buf, bad + off, len);
    return 0;
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* The first PT_LOAD's program header in bad[]. */
static uint8_t *first_load(void)
{
    uint32_t phoff = rd32(bad + 28);
    uint16_t phnum;
    memcpy(&phnum, bad + 44, 2);
    for (uint32_t i = 0; i < phnum && phoff + 32u * (i + 1) <= bad_size; i++)
        if (rd32(bad + phoff + 32u * i) == 1)
            return bad + phoff + 32u * i;
    return bad + phoff;
}

static void reject(const char *what, int how)
{
    memcpy(bad, img, img_size);
    bad_size = img_size;
    uint8_t *ph = first_load();
    switch (how) {
    case 0: bad[0] = 0x7E; break;                                /* magic */
    case 1: bad[18] = 62; break;                                 /* e_machine: x86-64 */
    case 2: wr32(ph + 8, (uint32_t)(uintptr_t)canary); wr32(ph + 12, (uint32_t)(uintptr_t)canary); break;
    case 3: wr32(ph + 8, AMP_AN521_SHM_DA); wr32(ph + 12, AMP_AN521_SHM_DA); break;
    case 4: wr32(ph + 8, 0x50000000u); wr32(ph + 12, 0x50000000u); break; /* MMIO */
    case 5: wr32(ph + 8, 0xFFFFF000u); wr32(ph + 12, 0xFFFFF000u); wr32(ph + 20, 0x2000u); break;
    case 6: wr32(ph + 20, 0x7FFFFFF0u); break;                   /* p_memsz */
    case 7: wr32(ph + 16, rd32(ph + 20) + 1u); break;            /* p_filesz > p_memsz */
    case 8: wr32(ph + 4, img_size - 8u); break;                  /* p_offset past the end */
    case 9: bad_size = 100; break;                               /* truncated */
    case 10: wr32(ph + 8, AMP_AN521_LIFE_DA); wr32(ph + 12, AMP_AN521_LIFE_DA); break;
    }
    for (size_t i = 0; i < 64; i++)
        canary[i] = 0xC0FFEE00u + i;
    uint32_t life_magic = AMP_AN521_LIFE->magic;
    int err = amp_rproc_load(&rp, mem_read, NULL, bad_size);
    bool intact = AMP_AN521_LIFE->magic == life_magic;
    for (size_t i = 0; i < 64; i++)
        intact = intact && canary[i] == 0xC0FFEE00u + i;
    char line[160];
    an521_snprintf(line, sizeof(line), "%s: %d (%s)", what, err, err && rp.why ? rp.why : "accepted");
    check(err < 0 && rp.state == AMP_RPROC_OFFLINE && intact, line);
}

static void test_malformed(void)
{
    an521_printf("malformed ELFs are rejected, memory outside core 1's untouched\n");
    setup(AMP_AN521_FW_TABLE, 0);
    char path[256];
    an521_snprintf(path, sizeof(path), "%s/virtual_uart.elf", fwdir);
    an521_file_close(&file);
    if (!check(an521_file_open(&file, path) == 0 && file.size <= ELF_MAX &&
                   an521_file_read(&file, 0, img, file.size) == 0,
               "virtual_uart.elf read into memory"))
        return;
    img_size = file.size;
    reject("bad magic", 0);
    reject("e_machine x86-64", 1);
    reject("segment over the host's memory", 2);
    reject("segment in the shared window", 3);
    reject("segment over MMIO", 4);
    reject("segment wrapping past 4 GiB", 5);
    reject("segment of 2 GiB", 6);
    reject("p_filesz > p_memsz", 7);
    reject("p_offset past the end of the file", 8);
    reject("file truncated to 100 bytes", 9);
    reject("segment over the life-cycle block", 10);
    /* loads, but the entry is no vector table's reset vector */
    memcpy(bad, img, img_size);
    bad_size = img_size;
    wr32(bad + 24, rd32(bad + 24) + 2u);
    int err = amp_rproc_load(&rp, mem_read, NULL, bad_size);
    int serr = err ? err : amp_rproc_start(&rp);
    check(err == 0 && serr == -ENOEXEC && rp.state == AMP_RPROC_READY, "an entry point without a vector table is not started");
    memcpy(bad, img, img_size);
    check(amp_rproc_load(&rp, mem_read, NULL, bad_size) == 0 && start_bound() == 0 && echo(5) == 5,
          "the good image still runs after all that");
}

/* Last: a core that never unmasks interrupts cannot be parked. */
static void test_masked(void)
{
    an521_printf("a core with interrupts masked: stop times out (last: it is lost for good)\n");
    setup(AMP_AN521_FW_TABLE, 0);
    check(load("crash.elf") == 0 && start_bound() == 0, "crash.elf started");
    amp_ept_send(&ept, "mask", 4, 1000);
    pump(&crashes, crashes, 50);
    int err = amp_rproc_stop(&rp);
    check(err == -ETIMEDOUT && amp_an521_why(&hw) != NULL, "stop: -ETIMEDOUT, with a reason");
    check(amp_rproc_start(&rp) == -EBUSY || rp.state != AMP_RPROC_STOPPED, "and no start over a running core");
}

int main(void)
{
    char *argv[4];
    int argc = an521_args(argv, 4);
    if (argc >= 2)
        fwdir = argv[1];
    lean = argc >= 3 && strcmp(argv[2], "lean") == 0;
    an521_printf("an521: amp host on core %u, firmware from %s%s\n",
                 (unsigned)AMP_AN521_REG(AMP_AN521_CPU_IDENTITY), fwdir, lean ? " (lean remote)" : "");
    /* generous: two loaded host cores may leave core 1 unscheduled for a while */
    struct amp_an521_cfg cfg = {.ticks_ms = an521_ms, .park_timeout_ms = 1000};
    if (amp_an521_init(&hw, &cfg) != 0)
        return 2;
    port = amp_an521_port(&hw);
    hw_ops = port.ops;
    lie_ops = *hw_ops;
    lie_ops.notify = lie_notify;
    port.ops = &lie_ops;
    test_example();
    test_burst(17);
    test_burst(48);
    test_cycles();
    if (!lean)
        test_event_idx_off();
    test_host_table();
    test_crashes();
    test_lies();
    if (!lean) {
        test_hostile();
        test_malformed();
        test_masked();
    }
    an521_printf("an521: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
