/*
 * amp_an521.c - the host port for QEMU's mps2-an521 (core 0 side), and
 * the park routine that core 1 runs from the host's memory.
 *
 * Main invariant: core 1 is in exactly one of three states, and the port
 * knows which before it touches the image: held (CPUWAIT bit 1, never
 * released since power-on), running, or parked (spinning in park_body()
 * on a host-owned stack, using no byte of its own memory). The image is
 * only (re)loaded while core 1 is held or parked; start() from any other
 * state is refused, since nothing on this board can halt a running core
 * (amp_an521_layout.h).
 *
 * The two MHU interrupts only set flags, so every op runs in thread
 * context and wait() cannot miss a doorbell: it tests `pending` with
 * interrupts masked and sleeps in WFI, which still wakes for an interrupt
 * that PRIMASK holds back; the interrupt then runs when we unmask.
 */
#include <string.h>

#include "amp_an521.h"

#define PARK_TIMEOUT_MS 200u
#define VTOR_ALIGN 128u   /* VTOR.TBLOFF is bits [31:7] */
#define VEC_MIN 24u       /* the table must reach IRQ 7's vector */

/* Cortex-M33 system registers (Secure view) */
#define SCB_ICSR 0xE000ED04u
#define SCB_VTOR 0xE000ED08u
#define SCB_SHCSR 0xE000ED24u
#define SYST_CSR 0xE000E010u
#define MPU_CTRL 0xE000ED94u
#define NVIC_ICER(n) (0xE000E180u + 4u * (n))
#define NVIC_ISER(n) (0xE000E100u + 4u * (n))
#define NVIC_ICPR(n) (0xE000E280u + 4u * (n))
#define NVIC_IABR(n) (0xE000E300u + 4u * (n))
#define ICSR_PENDSVCLR (1u << 27)
#define ICSR_PENDSTCLR (1u << 25)

#define REG AMP_AN521_REG

static const char WHY_RUNNING[] =
    "core 1 is running: it cannot be restarted before it parks (stop it first)";
static const char WHY_PARK_TIMEOUT[] =
    "core 1 did not park in time (interrupts masked, IRQ 7 disabled, or its vector replaced): it "
    "is still running";
static const char WHY_NO_VECTORS[] =
    "no vector table for the entry point: the image must start with a 128-byte aligned Cortex-M "
    "vector table in ISRAM or SSRAM3 whose reset vector is the entry";
static const char WHY_WAIT_MASKED[] = "cannot sleep with interrupts masked";

static int fail(struct amp_an521 *h, int err, const char *why)
{
    h->why = why;
    return err;
}

static inline void dsb(void)
{
    __asm__ volatile("dsb" ::: "memory");
}

static inline void isb(void)
{
    __asm__ volatile("isb" ::: "memory");
}

static inline uint32_t irq_save(void)
{
    uint32_t pm;
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(pm)::"memory");
    return pm;
}

static inline void irq_restore(uint32_t pm)
{
    __asm__ volatile("msr primask, %0" ::"r"(pm) : "memory");
}

/* ==== Memory core 1 can reach (amp_an521_layout.h) ==== */

struct region {
    uint32_t da, size;
    bool load; /* may the ELF loader write here? */
};

static const struct region regions[] = {
    {AMP_AN521_ISRAM_DA, AMP_AN521_ISRAM_SIZE, true},
    {AMP_AN521_SSRAM3_DA, AMP_AN521_SSRAM3_SIZE, true},
    /* the host-built table and the window: shared, never loaded */
    {AMP_AN521_RSC_DA, AMP_AN521_SHM_END - AMP_AN521_RSC_DA, false},
};

static const struct region *find_region(uint64_t da, uint64_t len)
{
    for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
        const struct region *r = &regions[i];
        if (da >= r->da && da - r->da <= r->size && len <= r->size - (da - r->da))
            return r;
    }
    return NULL;
}

static bool in_load(uint32_t a, uint32_t len)
{
    const struct region *r = find_region(a, len);
    return r && r->load;
}

/* ==== Doorbells ==== */

static void ring(uint32_t mhu)
{
    dsb(); /* core 1 reads what we wrote after it sees the doorbell */
    REG(mhu + AMP_AN521_MHU_CPU1_SET) = 1u;
}

void amp_an521_mhu0_irq(struct amp_an521 *h)
{
    REG(AMP_AN521_MHU0 + AMP_AN521_MHU_CPU0_CLR) = REG(AMP_AN521_MHU0 + AMP_AN521_MHU_CPU0_STAT);
    h->pending = 1;
    dsb(); /* the clear lands before we return, or the line fires again */
    if (h->cfg.on_notify)
        h->cfg.on_notify(h->cfg.arg);
}

void amp_an521_mhu1_irq(struct amp_an521 *h)
{
    REG(AMP_AN521_MHU1 + AMP_AN521_MHU_CPU0_CLR) = REG(AMP_AN521_MHU1 + AMP_AN521_MHU_CPU0_STAT);
    h->life = 1;
    h->pending = 1;
    dsb();
    if (h->cfg.on_notify)
        h->cfg.on_notify(h->cfg.arg);
}

static void nvic_on(uint32_t irq)
{
    REG(NVIC_ICPR(irq / 32u)) = 1u << (irq % 32u);
    REG(NVIC_ISER(irq / 32u)) = 1u << (irq % 32u);
}

/* ==== Crash records ==== */

/* Has a new crash record been completed? It is complete once the
 * firmware parked after writing it (crash_seq is written before the
 * branch to the park routine, which then writes parked). */
static bool crash_ready(struct amp_an521 *h)
{
    volatile struct amp_an521_life *l = AMP_AN521_LIFE;
    return l->crash_seq != h->crash_seen && l->parked == AMP_AN521_PARKED;
}

bool amp_an521_take_crash(struct amp_an521 *h)
{
    volatile struct amp_an521_life *l = AMP_AN521_LIFE;
    h->life = 0;
    if (!crash_ready(h))
        return false;
    h->crash_seen = l->crash_seq;
    h->crash.cause = l->cause;
    h->crash.pc = l->pc;
    h->crash.lr = l->lr;
    h->crash.psr = l->psr;
    h->crash.cfsr = l->cfsr;
    h->crash.hfsr = l->hfsr;
    h->crash.far = l->far;
    h->crash.status = l->status;
    h->parked = true;
    h->crashed = true;
    return true;
}

const char *amp_an521_crash_name(uint32_t cause)
{
    switch (cause) {
    case AMP_AN521_CRASH_HARDFAULT: return "HardFault";
    case AMP_AN521_CRASH_MEMMANAGE: return "MemManage fault";
    case AMP_AN521_CRASH_BUSFAULT: return "BusFault";
    case AMP_AN521_CRASH_USAGEFAULT: return "UsageFault";
    case AMP_AN521_CRASH_SECUREFAULT: return "SecureFault";
    case AMP_AN521_CRASH_OTHER: return "unexpected exception";
    case AMP_AN521_CRASH_EXIT: return "exit";
    default: return "unknown";
    }
}

/* ==== Port ops ==== */

/* Any context; never blocks. One doorbell for both vrings: the notify id
 * is not transmitted, the peer looks at both. */
static int an_notify(void *ctx, uint32_t notifyid)
{
    (void)ctx;
    (void)notifyid;
    ring(AMP_AN521_MHU0);
    return 0;
}

static uint32_t an_now(void *ctx)
{
    struct amp_an521 *h = ctx;
    return h->cfg.ticks_ms();
}

/* Thread context, interrupts enabled. Sleeps until core 1 rings or
 * timeout_ms passes (the SysTick interrupt wakes WFI to look at the
 * clock). -ECONNRESET once a crash record is complete: a blocked sender
 * gives up instead of waiting out its timeout. */
static int an_wait(void *ctx, int32_t timeout_ms)
{
    struct amp_an521 *h = ctx;
    uint32_t start = an_now(h);
    uint32_t pm = irq_save();
    int err = 0;
    if (pm & 1u) { /* the caller masked interrupts: WFI would never end */
        irq_restore(pm);
        return fail(h, -EAGAIN, WHY_WAIT_MASKED);
    }
    while (!h->pending) {
        if (timeout_ms >= 0 && an_now(h) - start >= (uint32_t)timeout_ms) {
            err = -ETIMEDOUT;
            break;
        }
        dsb();
        __asm__ volatile("wfi" ::: "memory"); /* returns with the waking interrupt pending ... */
        __asm__ volatile("cpsie i" ::: "memory"); /* ... it runs here ... */
        isb();
        __asm__ volatile("cpsid i" ::: "memory"); /* ... and we look again */
    }
    h->pending = 0;
    irq_restore(pm);
    if (!err && h->life && crash_ready(h))
        err = -ECONNRESET;
    return err;
}

/* Thread context. Identity: both cores see the same addresses. Images
 * load into ISRAM and SSRAM3 only; the span handed out is remembered, for
 * start() to find the vector table in. */
static void *an_da_to_va(void *ctx, uint64_t da, size_t len, unsigned flags)
{
    struct amp_an521 *h = ctx;
    const struct region *r = find_region(da, len);
    if (!r || ((flags & AMP_MEM_LOAD) && !r->load))
        return NULL;
    if ((flags & AMP_MEM_LOAD) && len) {
        if (da < h->load_lo)
            h->load_lo = (uint32_t)da;
        if (da + len > h->load_hi)
            h->load_hi = (uint32_t)(da + len);
    }
    return (void *)(uintptr_t)da;
}

/* Does a Cortex-M vector table start at a, and is its reset vector
 * `entry` (any Thumb address in loadable memory if entry is 0)? */
static bool is_vector_table(uint32_t a, uint32_t entry)
{
    if (a % VTOR_ALIGN || !in_load(a, VEC_MIN * 4u))
        return false;
    const volatile uint32_t *v = (const volatile uint32_t *)(uintptr_t)a;
    uint32_t sp = v[0], pc = v[1];
    bool sp_ok = sp % 8u == 0 && sp >= 4u && in_load(sp - 4u, 4u);
    bool pc_ok = (pc & 1u) && in_load(pc & ~1u, 2u);
    return sp_ok && pc_ok && (entry == 0 || (pc | 1u) == (entry | 1u));
}

/* The vector table to boot: `entry` itself if it is one (an attached
 * image passes its table), else the first table in what the loader just
 * wrote whose reset vector is the ELF's entry point. 0 if none. */
static uint32_t find_vtor(struct amp_an521 *h, uint64_t entry)
{
    if (entry > UINT32_MAX)
        return 0;
    if (is_vector_table((uint32_t)entry, 0))
        return (uint32_t)entry;
    uint32_t a = (h->load_lo + VTOR_ALIGN - 1u) & ~(VTOR_ALIGN - 1u);
    for (; h->load_hi > h->load_lo && a + VEC_MIN * 4u <= h->load_hi; a += VTOR_ALIGN)
        if (is_vector_table(a, (uint32_t)entry))
            return a;
    return 0;
}

void amp_an521_park(void);

/* Thread context. Boots core 1 the first time (INITSVTOR1, then CPUWAIT
 * bit 1 cleared: QEMU starts it at once), or sends it from the park to
 * the new image. The image's IRQ 7 vector becomes the park routine. */
static int an_start(void *ctx, uint64_t entry)
{
    struct amp_an521 *h = ctx;
    volatile struct amp_an521_life *l = AMP_AN521_LIFE;
    if (h->released && !h->parked)
        return fail(h, -EBUSY, WHY_RUNNING);
    uint32_t vtor = find_vtor(h, entry);
    if (!vtor)
        return fail(h, -ENOEXEC, WHY_NO_VECTORS);
    h->load_lo = UINT32_MAX;
    h->load_hi = 0;

    volatile uint32_t *vt = (volatile uint32_t *)(uintptr_t)vtor;
    vt[16u + AMP_AN521_MHU1_IRQ] = (uint32_t)(uintptr_t)amp_an521_park;
    l->park_entry = (uint32_t)(uintptr_t)amp_an521_park;
    l->magic = AMP_AN521_LIFE_MAGIC;
    h->crashed = false;
    h->why = NULL;
    dsb(); /* the image, its table and the block are written before core 1 runs */
    if (!h->released) {
        REG(AMP_AN521_INITSVTOR1) = vtor;
        dsb();
        REG(AMP_AN521_CPUWAIT) &= ~2u;
        h->released = true;
    } else {
        l->restart_vtor = vtor; /* the park routine takes it and clears `parked` */
    }
    h->parked = false;
    return 0;
}

/* Thread context. Ask core 1 to park (MHU1 -> its IRQ 7) and wait for
 * the park routine's answer. 0 when core 1 is quiet: never released,
 * parked already, or parked now. */
static int an_stop(void *ctx)
{
    struct amp_an521 *h = ctx;
    volatile struct amp_an521_life *l = AMP_AN521_LIFE;
    if (!h->released || h->parked)
        return 0;
    ring(AMP_AN521_MHU1);
    uint32_t limit = h->cfg.park_timeout_ms ? h->cfg.park_timeout_ms : PARK_TIMEOUT_MS;
    uint32_t start = an_now(h);
    for (;;) {
        if (l->parked == AMP_AN521_PARKED && l->restart_vtor == 0) {
            h->parked = true;
            return 0;
        }
        uint32_t spent = an_now(h) - start;
        if (spent >= limit)
            return fail(h, -ETIMEDOUT, WHY_PARK_TIMEOUT);
        int err = an_wait(h, (int32_t)(limit - spent));
        if (err == -EAGAIN)
            return err; /* why is set */
    }
}

/* Thread context. Nothing on this board powers core 1 down: parking it
 * is all shutdown can do. */
static int an_shutdown(void *ctx)
{
    return an_stop(ctx);
}

static const struct amp_port_ops ops = {
    .notify = an_notify,
    .wait = an_wait,
    .now_ms = an_now,
    .da_to_va = an_da_to_va,
    .start = an_start,
    .stop = an_stop,
    .shutdown = an_shutdown,
};

int amp_an521_init(struct amp_an521 *h, const struct amp_an521_cfg *cfg)
{
    volatile struct amp_an521_life *l = AMP_AN521_LIFE;
    if (!h || !cfg || !cfg->ticks_ms)
        return -EINVAL;
    memset(h, 0, sizeof(*h));
    h->cfg = *cfg;
    h->load_lo = UINT32_MAX;
    /* core 1 may be running already: the host program can start again
     * (MicroPython's soft reset) while core 1 keeps going */
    h->released = !(REG(AMP_AN521_CPUWAIT) & 2u);
    if (!h->released) {
        for (size_t i = 0; i < sizeof(*l) / 4u; i++)
            ((volatile uint32_t *)l)[i] = 0;
    }
    h->parked = h->released && l->magic == AMP_AN521_LIFE_MAGIC && l->parked == AMP_AN521_PARKED &&
                l->restart_vtor == 0;
    h->crash_seen = l->crash_seq;
    REG(AMP_AN521_MHU0 + AMP_AN521_MHU_CPU0_CLR) = ~0u;
    REG(AMP_AN521_MHU1 + AMP_AN521_MHU_CPU0_CLR) = ~0u;
    nvic_on(AMP_AN521_MHU0_IRQ);
    nvic_on(AMP_AN521_MHU1_IRQ);
    return 0;
}

struct amp_port amp_an521_port(struct amp_an521 *h)
{
    struct amp_port p = {&ops, h};
    return p;
}

const char *amp_an521_why(const struct amp_an521 *h)
{
    return h->why;
}

/* ==== The park routine: runs on core 1 ====
 *
 * Entered as core 1's IRQ 7 handler (a stop request) or by a branch from
 * its fault handler (a crash), so in Handler mode, or from Thread mode
 * when the firmware ends (vc_exit), with whatever stack it had, but
 * privileged. It moves to its own stack at once, so it uses no
 * memory of the image the host is about to overwrite. */

uint64_t amp_an521_park_stack[64]; /* 512 bytes, host memory, core 1 only */
static uint32_t park_frame[8] __attribute__((aligned(8))); /* an exception frame to return through */

void amp_an521_park_body(void);
void amp_an521_park_leave(uint32_t vtor);

__attribute__((naked, noreturn)) void amp_an521_park(void)
{
    __asm__ volatile("cpsid i\n\t"
                     "movs r0, #0\n\t"
                     "msr control, r0\n\t" /* Thread mode (an exit): back to MSP */
                     "isb\n\t"
                     "msr msplim, r0\n\t" /* the firmware's limit would fault on our stack */
                     "msr psplim, r0\n\t"
                     "ldr r0, =amp_an521_park_stack+512\n\t"
                     "msr msp, r0\n\t"
                     "isb\n\t"
                     "b amp_an521_park_body\n\t"
                     ".ltorg");
}

/* Back in Handler mode as the next active exception (see park_leave),
 * with r0 = the vector table still to boot. */
__attribute__((naked, noreturn, used)) static void park_again(void)
{
    __asm__ volatile("ldr r1, =amp_an521_park_stack+512\n\t"
                     "msr msp, r1\n\t"
                     "b amp_an521_park_leave\n\t"
                     ".ltorg");
}

__attribute__((noreturn, used)) void amp_an521_park_body(void)
{
    volatile struct amp_an521_life *l = AMP_AN521_LIFE;
    for (uint32_t i = 0; i < 16u; i++) { /* every interrupt off and forgotten */
        REG(NVIC_ICER(i)) = ~0u;
        REG(NVIC_ICPR(i)) = ~0u;
    }
    REG(SYST_CSR) = 0;
    REG(SCB_ICSR) = ICSR_PENDSVCLR | ICSR_PENDSTCLR;
    REG(SCB_SHCSR) &= ~(0xFu << 16); /* MemManage, BusFault, UsageFault, SecureFault enables */
    REG(MPU_CTRL) = 0;
    __asm__ volatile("msr basepri, %0" ::"r"(0u));
    REG(AMP_AN521_MHU0 + AMP_AN521_MHU_CPU1_CLR) = ~0u;
    REG(AMP_AN521_MHU1 + AMP_AN521_MHU_CPU1_CLR) = ~0u;
    dsb();
    l->parked = AMP_AN521_PARKED;
    dsb(); /* parked is visible before the host hears of it */
    REG(AMP_AN521_MHU1 + AMP_AN521_MHU_CPU0_SET) = 1u;
    uint32_t vtor;
    while ((vtor = l->restart_vtor) == 0)
        __asm__ volatile("nop");
    l->restart_vtor = 0;
    l->parked = 0;
    dsb();
    amp_an521_park_leave(vtor);
}

/* An active exception other than `cur` (the one in IPSR), or 0. */
static uint32_t other_active(uint32_t cur)
{
    /* SHCSR active bits and the exceptions they stand for */
    static const uint8_t sh[][2] = {{0, 4}, {1, 5}, {2, 3}, {3, 6}, {4, 7},
                                    {5, 2}, {7, 11}, {8, 12}, {10, 14}, {11, 15}};
    uint32_t shcsr = REG(SCB_SHCSR);
    for (size_t i = 0; i < sizeof(sh) / sizeof(sh[0]); i++)
        if ((shcsr & (1u << sh[i][0])) && sh[i][1] != cur)
            return sh[i][1];
    for (uint32_t w = 0; w < 16u; w++) {
        uint32_t act = REG(NVIC_IABR(w));
        for (uint32_t b = 0; act; b++, act >>= 1)
            if ((act & 1u) && 16u + 32u * w + b != cur)
                return 16u + 32u * w + b;
    }
    return 0;
}

/* Leave Handler mode as a reset would: each exception return ends the
 * exception in IPSR, so while another one is active we return "into" it
 * (Handler mode, park_again, r0 = vtor) and go round again; the last
 * return goes to Thread mode at the new reset vector, on the new stack,
 * with VTOR set and CONTROL, PRIMASK, BASEPRI cleared. */
__attribute__((noreturn, used)) void amp_an521_park_leave(uint32_t vtor)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    ipsr &= 0x1FFu;
    uint32_t next = other_active(ipsr);
    volatile uint32_t *f;
    uint32_t exc_return;
    if (!ipsr) { /* Thread mode already (an exit): a plain jump does */
        const volatile uint32_t *vt = (const volatile uint32_t *)(uintptr_t)vtor;
        REG(SCB_VTOR) = vtor;
        dsb();
        isb();
        __asm__ volatile("msr msp, %0\n\t"
                         "isb\n\t"
                         "cpsie i\n\t"
                         "bx %1" ::"r"(vt[0]),
                         "r"(vt[1])
                         : "memory");
        __builtin_unreachable();
    }
    if (next) {
        f = park_frame;
        f[6] = (uint32_t)(uintptr_t)park_again & ~1u;
        f[7] = 0x01000000u | next; /* Thumb, IPSR = next */
        exc_return = 0xFFFFFFF1u;  /* Secure, Handler mode, MSP, no FP state */
    } else {
        const volatile uint32_t *vt = (const volatile uint32_t *)(uintptr_t)vtor;
        f = (volatile uint32_t *)(uintptr_t)(vt[0] - 32u);
        f[6] = vt[1] & ~1u;
        f[7] = 0x01000000u;       /* Thumb, Thread mode */
        exc_return = 0xFFFFFFF9u; /* Secure, Thread mode, MSP, no FP state */
        REG(SCB_VTOR) = vtor;
        __asm__ volatile("msr control, %0\n\tisb" ::"r"(0u) : "memory");
    }
    f[0] = vtor; /* r0 */
    f[1] = f[2] = f[3] = f[4] = 0;
    f[5] = 0xFFFFFFFFu; /* lr */
    dsb();
    isb();
    __asm__ volatile("msr msp, %0\n\t"
                     "cpsie i\n\t"
                     "bx %1" ::"r"(f),
                     "r"(exc_return)
                     : "memory");
    __builtin_unreachable();
}

/* ==== Layouts ==== */

#define F_NS (1u << AMP_RPMSG_F_NS)
#define F_EVENT_IDX (1u << AMP_VIRTIO_F_EVENT_IDX)

int amp_an521_rproc_cfg(struct amp_rproc_cfg *cfg, enum amp_an521_layout layout,
                        struct amp_vring_slot *slots, uint32_t nslots)
{
    if (!cfg || (layout != AMP_AN521_MICROPYTHON && layout != AMP_AN521_FW_TABLE))
        return -EINVAL;
    bool mp = layout == AMP_AN521_MICROPYTHON;
    uint32_t end = mp ? AMP_AN521_MP_SHM_END : AMP_AN521_SHM_END;
    memset(cfg, 0, sizeof(*cfg));
    cfg->machine = AMP_EM_ARM;
    cfg->shm.va = (uint8_t *)(uintptr_t)AMP_AN521_SHM_DA; /* the same address on both cores */
    cfg->shm.da = AMP_AN521_SHM_DA;
    cfg->shm.size = end - AMP_AN521_SHM_DA;
    cfg->rsc_da = mp ? AMP_AN521_RSC_DA : AMP_RSC_ADDR_ANY;
    if (mp) {
        cfg->host_rsc.dfeatures = F_NS; /* existing OpenAMP remotes do not expect EVENT_IDX */
        cfg->host_rsc.vring_da[0] = AMP_AN521_MP_VRING0_DA;
        cfg->host_rsc.vring_da[1] = AMP_AN521_MP_VRING1_DA;
        cfg->host_rsc.num = AMP_AN521_MP_VRING_NUM;
        cfg->host_rsc.align = AMP_AN521_MP_VRING_ALIGN;
        cfg->host_rsc.trace_da = AMP_AN521_MP_TRACE_DA;
        cfg->host_rsc.trace_len = AMP_AN521_MP_TRACE_LEN;
    }
    cfg->buf_size = 0; /* 512, as OpenAMP and Linux */
    cfg->features = mp ? F_NS : F_NS | F_EVENT_IDX;
    cfg->slots = slots;
    cfg->nslots = nslots;
    return mp && nslots < 2u * AMP_AN521_MP_VRING_NUM ? -E2BIG : 0;
}
