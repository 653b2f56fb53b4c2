/*
 * platform_an521.c - the binding core's platform for MicroPython's qemu
 * port on QEMU's mps2-an521: MicroPython on core 0 is the host, core 1
 * runs the firmware (ports/an521 is the port), loaded by path from the
 * PC's file system through semihosting.
 *
 * Build: MicroPython's qemu port with the board in ports/an521/micropython
 * (BOARD_DIR=), USER_C_MODULES=<amp>/micropython; the board sets
 * AMP_PLATFORM=an521, which adds this file, the port and its semihosting
 * file access (micropython.mk).
 *
 * Everything runs in thread context: the MHU interrupts only schedule a
 * poll (a static scheduler node), the poll queues messages for the
 * interpreter and passes crash records on, and blocking calls poll while
 * they wait. Nothing runs concurrently, so the queue lock is empty.
 *
 * The qemu port's vector table has the 16 system entries only, so the
 * platform moves it to RAM with our two MHU vectors added (VTOR), the
 * first time it is opened.
 *
 * The shared layout is MicroPython's (AMP_AN521_MICROPYTHON: the table
 * at 0x38000000, NS only); firmware with its own .resource_table runs
 * too, its vrings placed in the same window.
 */
#include <string.h>

#include "py/mphal.h"
#include "py/runtime.h"

#include "amp_an521.h"
#include "an521_semi.h"
#include "ampy.h"

#if MICROPY_PY_OPENAMP_AMP

#if !MICROPY_SCHEDULER_STATIC_NODES
#error "the an521 platform needs MICROPY_SCHEDULER_STATIC_NODES"
#endif

#define NSLOTS (2u * 256u) /* firmware tables may ask for vrings of up to 256 */
#define NVEC (16u + 32u)
#define SCB_VTOR 0xE000ED08u

static struct {
    struct amp_an521 hw;
    struct amp_port port;
    struct amp_rpmsg rpmsg;
    struct amp_rproc rproc;
    struct amp_vring_slot slots[NSLOTS];
    mp_sched_node_t poll_node;
    struct an521_file image; /* stays open for restarts */
    char why[160];           /* a crash or a file that would not open, in words */
} plat = {.image = {-1, 0}};

static uint32_t vectors[NVEC] __attribute__((aligned(256)));

/* ==== The MHU interrupts: schedule a poll, nothing else ==== */

/* A crash record: tell the library (the link goes down, endpoints
 * unbind) and keep the reason for RemoteProc's errors. */
static void take_crash(void)
{
    if (!amp_an521_take_crash(&plat.hw))
        return;
    const struct amp_an521_crash_info *c = &plat.hw.crash;
    vstr_t v;
    vstr_init_fixed_buf(&v, sizeof(plat.why), plat.why);
    if (c->cause == AMP_AN521_CRASH_EXIT)
        vstr_printf(&v, "the remote crashed: it exited with status %u", (unsigned)c->status);
    else
        vstr_printf(&v, "the remote crashed: %s at pc 0x%08x", amp_an521_crash_name(c->cause),
                    (unsigned)c->pc);
    vstr_null_terminated_str(&v);
    amp_rproc_crashed(&plat.rproc);
}

static void poll_cb(mp_sched_node_t *node)
{
    take_crash();
    /* a poll handles a bounded batch: come back for the rest */
    if (amp_rpmsg_poll(&plat.rpmsg) > 0)
        mp_sched_schedule_node(node, poll_cb);
}

static void on_notify(void *arg)
{
    (void)arg;
    mp_sched_schedule_node(&plat.poll_node, poll_cb);
}

static void mhu0_irq(void)
{
    amp_an521_mhu0_irq(&plat.hw);
}

static void mhu1_irq(void)
{
    amp_an521_mhu1_irq(&plat.hw);
}

static uint32_t ticks_ms(void)
{
    return (uint32_t)mp_hal_ticks_ms();
}

/* The qemu port's 16 system vectors, then IRQ 6 and 7 to us; every
 * other IRQ stays disabled and is never taken. */
static void install_vectors(void)
{
    volatile uint32_t *vtor = (volatile uint32_t *)SCB_VTOR;
    if (*vtor == (uint32_t)(uintptr_t)vectors)
        return;
    const uint32_t *old = (const uint32_t *)(uintptr_t)*vtor;
    for (uint32_t i = 0; i < 16u; i++)
        vectors[i] = old[i];
    vectors[16u + AMP_AN521_MHU0_IRQ] = (uint32_t)(uintptr_t)mhu0_irq;
    vectors[16u + AMP_AN521_MHU1_IRQ] = (uint32_t)(uintptr_t)mhu1_irq;
    __asm__ volatile("dsb" ::: "memory");
    *vtor = (uint32_t)(uintptr_t)vectors;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
}

/* ==== Platform hooks ==== */

int ampy_plat_open(struct ampy_dev *d)
{
    struct amp_an521_cfg cfg = {.ticks_ms = ticks_ms, .on_notify = on_notify};
    install_vectors();
    int err = amp_an521_init(&plat.hw, &cfg);
    if (err)
        return err;
    plat.port = amp_an521_port(&plat.hw);
    amp_rpmsg_init(&plat.rpmsg, AMP_ROLE_HOST, &plat.port);
    struct amp_rproc_cfg rc;
    err = amp_an521_rproc_cfg(&rc, AMP_AN521_MICROPYTHON, plat.slots, NSLOTS);
    if (err)
        return err;
    amp_rproc_init(&plat.rproc, &plat.port, &plat.rpmsg, &rc);
    d->rpmsg = &plat.rpmsg;
    d->plat = &plat;
    return 0;
}

void ampy_plat_close(struct ampy_dev *d)
{
    ampy_rproc_shutdown(d);
    d->plat = NULL;
}

void ampy_plat_lock(struct ampy_dev *d)
{
    (void)d; /* one context: nothing to exclude */
}

void ampy_plat_unlock(struct ampy_dev *d)
{
    (void)d;
}

/* The binding's condition wait: 0 once something was queued (a
 * broadcast), -ETIMEDOUT when timeout_ms passed first. Waiting is polling:
 * deliver what came, run MicroPython's scheduled work (our poll among it),
 * and sleep in WFI until the next interrupt (a doorbell or SysTick). It
 * must not return 0 without a broadcast: the binding waits again with the
 * whole timeout after every 0. */
static volatile uint32_t broadcasts;

int ampy_plat_wait(struct ampy_dev *d, int32_t timeout_ms)
{
    (void)d;
    uint32_t t0 = mp_hal_ticks_ms(), seen = broadcasts;
    for (;;) {
        take_crash();
        amp_rpmsg_poll(&plat.rpmsg);
        mp_event_handle_nowait();
        if (broadcasts != seen)
            return 0;
        if (timeout_ms >= 0 && mp_hal_ticks_ms() - t0 >= (uint32_t)timeout_ms)
            return -ETIMEDOUT;
        __asm__ volatile("wfi"); /* an interrupt that came since is at most a SysTick late */
    }
}

void ampy_plat_broadcast(struct ampy_dev *d)
{
    (void)d;
    broadcasts++;
}

int ampy_plat_fd_open(void)
{
    return -1; /* no descriptors: select.poll uses the stream protocol */
}

void ampy_plat_fd_set(int fd, bool readable)
{
    (void)fd;
    (void)readable;
}

void ampy_plat_fd_close(int fd)
{
    (void)fd;
}

/* ==== Remote processor ==== */

/* The path is the PC's (relative to QEMU's working directory), read
 * through semihosting: the qemu port has no file system of its own. */
int ampy_rproc_load(struct ampy_dev *d, const char *path)
{
    (void)d;
    struct an521_file f;
    if (an521_file_open(&f, path) != 0) {
        vstr_t v;
        vstr_init_fixed_buf(&v, sizeof(plat.why), plat.why);
        vstr_printf(&v, "cannot open %s (a path on the PC running QEMU)", path);
        vstr_null_terminated_str(&v);
        plat.rproc.why = plat.why;
        return -ENOENT;
    }
    an521_file_close(&plat.image);
    plat.image = f;
    plat.why[0] = '\0';
    int err = amp_rproc_load(&plat.rproc, an521_file_read, &plat.image, plat.image.size);
    if (err)
        an521_file_close(&plat.image);
    return err;
}

int ampy_rproc_attach(struct ampy_dev *d, uint64_t entry)
{
    (void)d;
    return amp_rproc_attach(&plat.rproc, entry);
}

int ampy_rproc_start(struct ampy_dev *d)
{
    (void)d;
    plat.why[0] = '\0';
    return amp_rproc_start(&plat.rproc);
}

int ampy_rproc_stop(struct ampy_dev *d)
{
    (void)d;
    return amp_rproc_stop(&plat.rproc);
}

int ampy_rproc_shutdown(struct ampy_dev *d)
{
    (void)d;
    int err = amp_rproc_shutdown(&plat.rproc);
    an521_file_close(&plat.image);
    return err;
}

enum amp_rproc_state ampy_rproc_state(struct ampy_dev *d)
{
    (void)d;
    take_crash();
    return plat.rproc.state;
}

int ampy_rproc_trace(struct ampy_dev *d, uint32_t i, char *buf, size_t n)
{
    (void)d;
    return amp_rproc_trace_read(&plat.rproc, i, buf, n);
}

const char *ampy_rproc_why(struct ampy_dev *d)
{
    (void)d;
    if (plat.rproc.state == AMP_RPROC_CRASHED && plat.why[0])
        return plat.why;
    const char *hw = amp_an521_why(&plat.hw);
    return hw ? hw : plat.rproc.why ? plat.rproc.why : "";
}

#endif /* MICROPY_PY_OPENAMP_AMP */
