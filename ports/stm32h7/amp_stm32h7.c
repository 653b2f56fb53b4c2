/*
 * amp_stm32h7.c - the STM32H745/747/755/757 host port (Cortex-M7 side).
 *
 * Main invariant: the HSEM1 interrupt only acknowledges semaphore 1 and
 * sets `pending`; every op below runs in thread context except notify,
 * now_ms and the cache ops, which are safe anywhere. So the port needs no
 * lock, and wait() cannot miss a doorbell: it tests `pending` and sleeps
 * with interrupts masked, and WFI still wakes for an interrupt that only
 * PRIMASK holds back (ARMv7-M WFI wake-up rules), which then runs the
 * moment we unmask.
 *
 * What the silicon cannot do (RM0399 §9.4, §9.7.36; FACTS.md
 * section 2): hold, halt or reset the M4 once it runs. RCC_GCR.BOOT_C2 is
 * set-only until a system reset. So start() works once per system reset,
 * and stop() is -ENOTSUP, a cooperative park, or (opt-in) a chip reset.
 */
#include <string.h>

#include "amp_stm32h7.h"
#include "amp_stm32h7_regs.h"

#define TO_M4 AMP_STM32H7_HSEM_TO_M4
#define TO_M7 AMP_STM32H7_HSEM_TO_M7
#define PARK_TIMEOUT_MS 100u  /* default: the M4 parks from its wait loop */
#define BOOT_GRAIN 0x10000u   /* UR3 holds boot address bits 31:16 */

/* Why an operation failed: a sentence with what to do, on a small target
 * (AMP_CFG_REASONS 0) a short one, or none (AMP_STM32H7_REASONS 0, as in
 * the MicroPython module: the errno alone). */
#if !AMP_STM32H7_REASONS
#define WHY(sentence, short_form) NULL
#elif AMP_CFG_REASONS
#define WHY(sentence, short_form) sentence
#else
#define WHY(sentence, short_form) short_form
#endif
#define WHY_BCM4 WHY( \
    "the M4 boots from the option bytes (BCM4=1): it cannot be held and restarted; clear BCM4 " \
    "with STM32CubeProgrammer (Option bytes > User Configuration) and reset the board", \
    "the M4 boots on its own (option byte BCM4=1): clear BCM4")
#define WHY_RELEASED WHY( \
    "the M4 was released already (RCC_GCR.BOOT_C2 stays set until a system reset): it cannot " \
    "be restarted without resetting the whole chip", \
    "the M4 runs already: only a chip reset restarts it")
#define WHY_PARKED WHY( \
    "the M4 is parked (cooperative stop): only a system reset lets it boot again", \
    "the M4 is parked: only a chip reset restarts it")
#define WHY_NO_STOP WHY( \
    "the STM32H7 cannot halt or reset the M4 alone, only the whole chip (RM0399 9.4): build " \
    "with AMP_STM32H7_STOP_RESETS_SYSTEM=1 for that, or give the port a park block", \
    "the STM32H7 cannot stop the M4 alone, only reset the chip")
#define WHY_NO_PARK WHY( \
    "the M4 firmware does not honour park requests (park block not READY), and the STM32H7 " \
    "cannot halt the M4 otherwise", \
    "the M4 firmware does not honour park requests")
#define WHY_PARK_TIMEOUT WHY( \
    "the M4 did not acknowledge the park request in time: it is still running", \
    "the M4 did not park in time")
#define WHY_BOOT_RANGE WHY( \
    "the M4 boot address (entry rounded down to 64 KiB) is not in flash bank 2 or SRAM1-3, " \
    "or is memory the host program owns", \
    "M4 boot address outside its memory, or on the host's")
#define WHY_NO_VECTORS WHY( \
    "no Cortex-M4 vector table at the boot address (erased flash reads 0xFFFFFFFF)", \
    "no M4 vector table at the boot address")
#define WHY_WAIT_MASKED WHY("cannot sleep with interrupts masked", "cannot sleep with interrupts masked")
#define WHY_HSEM_HELD WHY( \
    "HSEM 0 is held by someone else: the doorbell was not rung", "HSEM 0 held elsewhere: no doorbell")

/* Without reasons h->why stays the NULL amp_stm32h7_init() put there. */
static int fail(struct amp_stm32h7 *h, int err, const char *why)
{
    if (AMP_STM32H7_REASONS)
        h->why = why;
    return err;
}

/* ==== Memory the M4 can reach (FACTS.md section 5) ==== */

struct region {
    uint32_t da;   /* as the M4 and its resource table name it */
    uint32_t size;
    uint32_t m7;   /* where the M7 sees it */
    bool load;     /* may the ELF loader write here? */
};

static const struct region regions[] = {
    /* SRAM1-3 through the M4's alias (CMSIS L2227 D2_AXISRAM_BASE, 288 KiB) */
    {0x10000000u, 0x48000u, 0x30000000u, true},
    /* SRAM1-3 (CMSIS L2228 D2_AHBSRAM_BASE) */
    {0x30000000u, 0x48000u, 0x30000000u, true},
    /* SRAM4, the shared window (CMSIS L2231): the host lays it out, no image goes here */
    {AMP_STM32H7_SRAM4_BASE, AMP_STM32H7_SRAM4_SIZE, AMP_STM32H7_SRAM4_BASE, false},
    /* flash bank 2 (CMSIS L2237): readable, never loaded; this port does not program flash */
    {0x08100000u, 0x100000u, 0x08100000u, false},
};

#define FLASH_REGION (&regions[3])
#define SRAM4_REGION (&regions[2])

/* In 32 bits: every region is below 4 GiB (h7_da_to_va refuses wider
 * values before it asks). */
static const struct region *find_region(uint32_t da, uint32_t len)
{
    for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
        const struct region *r = &regions[i];
        if (da >= r->da && da - r->da <= r->size && len <= r->size - (da - r->da))
            return r;
    }
    return NULL;
}

/* Does [va, va + len) (M7 addresses) touch memory the host program owns? */
static bool host_owned(const struct amp_stm32h7 *h, uint32_t va, uint32_t len)
{
    if (!len)
        len = 1;
    for (size_t i = 0; i < AMP_STM32H7_HOST_OWNED_MAX; i++) {
        const struct amp_stm32h7_range *o = &h->cfg.host_owned[i];
        /* va < base + size && va + len > base, with no sum that can
         * pass 2^32: the distance from the lower start to the other */
        if (o->size && (va >= o->base ? va - o->base < o->size : o->base - va < len))
            return true;
    }
    return false;
}

/* ==== D-cache maintenance by address (cachel1_armv7.h L388-407) ==== */

/* Apply `op` to every 32-byte line that [a, a + n) touches, `edge` to a
 * first or last line the range covers only in part. Invalidating a line
 * we share with a neighbour would throw away the neighbour's dirty bytes,
 * so invalidate passes clean + invalidate as `edge`. Our layouts keep
 * every shared structure on its own lines (align 32), so edges are rare. */
static void dcache_lines(uintptr_t a, size_t n, uint32_t op, uint32_t edge)
{
    if (n == 0 || !(H7_REG(H7_SCB_CCR) & H7_SCB_CCR_DC))
        return; /* nothing to do, or the cache is off */
    const uintptr_t mask = H7_DCACHE_LINE - 1u;
    uintptr_t end = n - 1u > UINTPTR_MAX - a ? UINTPTR_MAX : a + (n - 1u); /* last byte */
    uintptr_t first = a & ~mask, last = end & ~mask;
    h7_dsb(); /* our stores reach the cache before we maintain it */
    for (uintptr_t l = first;; l += H7_DCACHE_LINE) {
        bool partial = (l == first && a != first) || (l == last && (end & mask) != mask);
        H7_REG(partial ? edge : op) = (uint32_t)l;
        if (l == last)
            break;
    }
    h7_dsb(); /* maintenance completes before the peer is told */
    h7_isb();
}

static void dcache_clean(uintptr_t a, size_t n)
{
    dcache_lines(a, n, H7_SCB_DCCMVAC, H7_SCB_DCCMVAC);
}

/* Shared-memory accesses of the port itself: skipped when the MPU made
 * SRAM4 uncached. */
static void shm_clean(struct amp_stm32h7 *h, const volatile void *p, size_t n)
{
    if (!h->cfg.mpu_uncached)
        dcache_clean((uintptr_t)p, n);
}

static void shm_inval(struct amp_stm32h7 *h, const volatile void *p, size_t n)
{
    if (!h->cfg.mpu_uncached)
        dcache_lines((uintptr_t)p, n, H7_SCB_DCIMVAC, H7_SCB_DCCIMVAC);
}

int amp_stm32h7_mpu_uncached(uint32_t base, unsigned size_log2)
{
    if (size_log2 < 5u || size_log2 > 31u)
        return -EINVAL;
    uint32_t size = 1u << size_log2;
    if (base & (size - 1u))
        return -EINVAL; /* an MPU region is aligned to its size (ARMv7-M B3.5.8) */
    if (H7_MPU_TYPE_DREGION(H7_REG(H7_MPU_TYPE)) <= AMP_STM32H7_MPU_REGION)
        return -ENOTSUP;
    uint32_t pm = h7_irq_save();
    /* no dirty line may outlive the change: it would be evicted later,
     * over whatever the M4 wrote meanwhile */
    dcache_lines(base, size, H7_SCB_DCCIMVAC, H7_SCB_DCCIMVAC);
    H7_REG(H7_MPU_RNR) = AMP_STM32H7_MPU_REGION;
    H7_REG(H7_MPU_RBAR) = base;
    H7_REG(H7_MPU_RASR) = H7_MPU_RASR_XN | H7_MPU_RASR_AP_FULL | H7_MPU_RASR_TEX(1) |
                          H7_MPU_RASR_S | H7_MPU_RASR_SIZE(size_log2) | H7_MPU_RASR_ENABLE;
    H7_REG(H7_MPU_CTRL) |= H7_MPU_CTRL_ENABLE | H7_MPU_CTRL_PRIVDEFENA;
    h7_dsb(); /* the new map applies to the next instruction on */
    h7_isb();
    h7_irq_restore(pm);
    return 0;
}

/* ==== HSEM doorbells ==== */

/* Fast take (a read of RLR locks it for COREID 3, PROCID 0) and release:
 * the release raises the M4's HSEM2 interrupt (RM0399 §11.3.3, §11.3.5).
 * If someone else holds the semaphore our release would be ignored and
 * the doorbell lost, so say so. */
static int ring(uint32_t sem)
{
    const uint32_t me = H7_HSEM_COREID_M7 << H7_HSEM_COREID_POS;
    h7_dsb(); /* the M4 reads the rings after the doorbell: our writes land first */
    if (H7_REG(H7_HSEM_RLR(sem)) != (H7_HSEM_LOCK | me))
        return -EBUSY;
    H7_REG(H7_HSEM_R(sem)) = me; /* LOCK = 0, PROCID = 0 */
    return 0;
}

/* Enable the HSEM clock, then listen on semaphore 1. The clock comes
 * first: HSEM writes are lost while it is off (MicroPython clears the
 * flag before enabling the clock). A stale flag is cleared before the
 * enable, or it would fire at once; a doorbell lost that way is harmless,
 * since the link is (re)built and polled after this. */
static void hsem_up(struct amp_stm32h7 *h)
{
    const uint32_t bit = H7_HSEM_BIT(TO_M7);
    h7_rcc_enable(H7_RCC_AHB4ENR, H7_RCC_AHB4ENR_HSEMEN);
    H7_REG(H7_HSEM_C1ICR) = bit;
    h7_nvic_clear_pending(H7_HSEM1_IRQN);
    h7_nvic_set_priority(H7_HSEM1_IRQN, h->cfg.irq_priority);
    h7_nvic_enable(H7_HSEM1_IRQN);
    h->pending = 0;
    H7_REG(H7_HSEM_C1IER) |= bit;
}

static void hsem_down(struct amp_stm32h7 *h)
{
    const uint32_t bit = H7_HSEM_BIT(TO_M7);
    H7_REG(H7_HSEM_C1IER) &= ~bit;
    h7_nvic_disable(H7_HSEM1_IRQN);
    H7_REG(H7_HSEM_C1ICR) = bit;
    h7_nvic_clear_pending(H7_HSEM1_IRQN);
    h->pending = 0;
    H7_REG(H7_RCC_AHB4ENR) &= ~H7_RCC_AHB4ENR_HSEMEN;
}

void amp_stm32h7_hsem_irq(struct amp_stm32h7 *h)
{
    const uint32_t bit = H7_HSEM_BIT(TO_M7);
    if (!(H7_REG(H7_HSEM_C1MISR) & bit))
        return; /* another semaphore: the application's */
    H7_REG(H7_HSEM_C1ICR) = bit; /* IER stays set: nothing to re-arm */
    h->pending = 1;
    h7_dsb(); /* the clear reaches the HSEM before we return, or the IRQ re-enters */
    if (h->cfg.on_notify)
        h->cfg.on_notify(h->cfg.arg);
}

bool amp_stm32h7_take_pending(struct amp_stm32h7 *h)
{
    uint32_t pm = h7_irq_save();
    bool was = h->pending != 0;
    h->pending = 0;
    h7_irq_restore(pm);
    return was;
}

/* ==== Port ops ==== */

/* Any context; never blocks. One doorbell for both vrings, as MicroPython
 * and ST do: the notify id is not transmitted. */
static int h7_notify(void *ctx, uint32_t notifyid)
{
    (void)notifyid;
    struct amp_stm32h7 *h = ctx;
    int err = ring(TO_M4);
    return err ? fail(h, err, WHY_HSEM_HELD) : 0;
}

/* Any context. Without ticks_ms the clock is the count of WFI wake-ups. */
static uint32_t h7_now(void *ctx)
{
    struct amp_stm32h7 *h = ctx;
    return h->cfg.ticks_ms ? h->cfg.ticks_ms() : h->wakeups;
}

/* Thread context, interrupts enabled. Sleeps until the M4 rings or
 * timeout_ms passes. With ticks_ms, the timeout is exact to a tick as long
 * as the tick interrupt wakes WFI. Without it, every wake-up counts as one
 * millisecond: right with a 1 kHz SysTick and nothing else, short when
 * other interrupts are frequent, and never over if nothing interrupts at
 * all (then only the doorbell ends a finite wait). */
static int h7_wait(void *ctx, int32_t timeout_ms)
{
    struct amp_stm32h7 *h = ctx;
    uint32_t start = h7_now(h);
    uint32_t pm = h7_irq_save();
    int err = 0;
    if (pm & 1u) { /* the caller masked interrupts: WFI would spin */
        h7_irq_restore(pm);
        return fail(h, -EAGAIN, WHY_WAIT_MASKED);
    }
    while (!h->pending) {
        if (timeout_ms >= 0 && h7_now(h) - start >= (uint32_t)timeout_ms) {
            err = -ETIMEDOUT;
            break;
        }
        h7_dsb();
        h7_wfi(); /* returns with the waking interrupt still pending ... */
        if (!h->cfg.ticks_ms)
            h->wakeups++;
        h7_irq_enable(); /* ... it runs here ... */
        h7_isb();
        h7_irq_disable(); /* ... and we look at the flag again */
    }
    h->pending = 0;
    h7_irq_restore(pm);
    return err;
}

#if AMP_CFG_CACHE
/* Any context. */
static void h7_cache_clean(void *ctx, const volatile void *p, size_t len)
{
    (void)ctx;
    dcache_clean((uintptr_t)p, len);
}

/* Any context. */
static void h7_cache_invalidate(void *ctx, const volatile void *p, size_t len)
{
    (void)ctx;
    dcache_lines((uintptr_t)p, len, H7_SCB_DCIMVAC, H7_SCB_DCCIMVAC);
}
#endif

/* Thread context. Identity, except the M4's SRAM1-3 alias. Images load
 * into SRAM1-3 only: flash is refused with AMP_MEM_LOAD (an image in
 * flash is programmed beforehand and started with amp_rproc_attach), and
 * SRAM4 belongs to the shared layout; nothing maps onto memory the host
 * program owns (cfg.host_owned). Every SRAM1-3 range handed out is
 * remembered, for start() to clean. */
static void *h7_da_to_va(void *ctx, uint64_t da, size_t len, unsigned flags)
{
    struct amp_stm32h7 *h = ctx;
    if (da > UINT32_MAX || len > UINT32_MAX) /* (the second: a 64-bit host's test build) */
        return NULL;
    const struct region *r = find_region((uint32_t)da, (uint32_t)len);
    if (!r || ((flags & AMP_MEM_LOAD) && !r->load))
        return NULL;
    uint32_t va = r->m7 + (uint32_t)(da - r->da);
    if (host_owned(h, va, (uint32_t)len))
        return NULL; /* the loader says ERANGE */
    if (r->load && len) {
        if (va < h->load_lo)
            h->load_lo = va;
        if (va + len > h->load_hi)
            h->load_hi = va + (uint32_t)len;
    }
    return (void *)(uintptr_t)va;
}

static bool m4_released(void)
{
    return (H7_REG(H7_FLASH_OPTSR_CUR) & H7_FLASH_OPTSR_BCM4) ||
           (H7_REG(H7_RCC_GCR) & H7_RCC_GCR_BOOT_C2);
}

int amp_stm32h7_can_start(struct amp_stm32h7 *h)
{
    if (H7_REG(H7_FLASH_OPTSR_CUR) & H7_FLASH_OPTSR_BCM4)
        return fail(h, -EBUSY, WHY_BCM4);
    if (H7_REG(H7_RCC_GCR) & H7_RCC_GCR_BOOT_C2)
        return fail(h, -EBUSY, h->parked ? WHY_PARKED : WHY_RELEASED);
    return 0;
}

/* The M4 takes its stack pointer and reset vector from the boot address.
 * Refuse to release it into erased flash or something that is not a
 * vector table: the stack must be in RAM it reaches (SRAM1-3, SRAM4 or
 * AXI SRAM), the reset vector a Thumb address in its memory. */
static int check_vectors(struct amp_stm32h7 *h, uint32_t boot)
{
    const struct region *r = find_region(boot, 8);
    if (!r || r == SRAM4_REGION || host_owned(h, r->m7 + (boot - r->da), 8))
        return fail(h, -ERANGE, WHY_BOOT_RANGE);
    const volatile uint32_t *v = (const volatile uint32_t *)(uintptr_t)(r->m7 + (boot - r->da));
    uint32_t sp = v[0], pc = v[1];
    const struct region *s = find_region(sp - 4u, 4); /* sp < 4 wraps to no region */
    bool sp_ok = (s && s != FLASH_REGION) || (sp > 0x24000000u && sp <= 0x24080000u);
    bool pc_ok = (pc & 1u) && find_region(pc & ~1u, 2) != NULL;
    if (!sp_ok || (sp & 3u) || !pc_ok)
        return fail(h, -ENOEXEC, WHY_NO_VECTORS);
    return 0;
}

/* Boot address 0 of the M4, live copy (reloaded from the option bytes at
 * every reset). UR3[31:16] as ST's HAL/LL and shipping boards write it;
 * RM0399 Rev 4 draws the field at [15:0]: UNVERIFIED on silicon. Written
 * only when it differs, so the option-byte default costs no write. */
static void set_boot_address(uint32_t boot)
{
    uint32_t want = (boot >> 16) << H7_SYSCFG_UR3_BCM4_ADD0_POS;
    uint32_t ur3 = H7_REG(H7_SYSCFG_UR3);
    if ((ur3 & H7_SYSCFG_UR3_BCM4_ADD0_MASK) != want)
        H7_REG(H7_SYSCFG_UR3) = (ur3 & ~H7_SYSCFG_UR3_BCM4_ADD0_MASK) | want;
}

/* Thread context. Boots the M4 from the 64 KiB block holding `entry`: an
 * attached image passes its vector table address (0x08100000), a loaded
 * ELF its e_entry, with the vector table at the start of that block. */
static int h7_start(void *ctx, uint64_t entry)
{
    struct amp_stm32h7 *h = ctx;
    int err = amp_stm32h7_can_start(h);
    if (err)
        return err;
    if (entry > UINT32_MAX)
        return fail(h, -ERANGE, WHY_BOOT_RANGE);
    uint32_t boot = (uint32_t)entry & ~(BOOT_GRAIN - 1u);
    if ((err = check_vectors(h, boot)))
        return err;
    if (!(H7_REG(H7_RCC_AHB4ENR) & H7_RCC_AHB4ENR_HSEMEN))
        hsem_up(h); /* after a shutdown */

    h->parked = false;
    if (AMP_STM32H7_PARK_STOP && h->cfg.park) {
        h->cfg.park->host = 0;
        h->cfg.park->remote = 0;
        shm_clean(h, h->cfg.park, sizeof(*h->cfg.park));
    }
    /* the image, its table and the vdev words sit in our D-cache: the M4
     * has none and reads SRAM1-3 directly */
    if (h->load_hi > h->load_lo)
        dcache_clean(h->load_lo, h->load_hi - h->load_lo);
    h->load_lo = UINT32_MAX;
    h->load_hi = 0;

    set_boot_address(boot);
    h7_dsb(); /* everything above is done before the M4 runs */
    H7_REG(H7_RCC_GCR) |= H7_RCC_GCR_BOOT_C2; /* rw1: the other bits cannot be cleared */
    if (AMP_STM32H7_REASONS)
        h->why = NULL;
    return 0;
}

__attribute__((noreturn)) static void system_reset(void)
{
    h7_dsb(); /* finish outstanding writes (ARMv7-M: before SYSRESETREQ) */
    H7_REG(H7_SCB_AIRCR) = H7_SCB_AIRCR_VECTKEY | (H7_REG(H7_SCB_AIRCR) & H7_SCB_AIRCR_PRIGROUP_MASK) |
                           H7_SCB_AIRCR_SYSRESETREQ;
    h7_dsb();
    for (;;)
        h7_wfi();
}

/* Ask the M4 to park itself and wait for its answer (see the park block
 * in amp_stm32h7_layout.h). */
static int park(struct amp_stm32h7 *h)
{
    volatile struct amp_stm32h7_park *pk = h->cfg.park;
    shm_inval(h, pk, sizeof(*pk));
    if (pk->remote != AMP_STM32H7_PARK_READY)
        return fail(h, -ENOTSUP, WHY_NO_PARK);
    pk->host = AMP_STM32H7_PARK_REQUEST;
    shm_clean(h, pk, sizeof(*pk));
    ring(TO_M4);
    uint32_t limit = h->cfg.park_timeout_ms ? h->cfg.park_timeout_ms : PARK_TIMEOUT_MS;
    uint32_t start = h7_now(h);
    for (;;) {
        shm_inval(h, pk, sizeof(*pk));
        if (pk->remote == AMP_STM32H7_PARK_PARKED) {
            h->parked = true;
            return 0;
        }
        uint32_t spent = h7_now(h) - start;
        if (spent >= limit)
            return fail(h, -ETIMEDOUT, WHY_PARK_TIMEOUT);
        if (h7_wait(h, (int32_t)(limit - spent)) == -EAGAIN)
            return -EAGAIN; /* why is set */
    }
}

/* Thread context. The M4 cannot be halted from here (RM0399 §9.4): park
 * it if its firmware agrees, reset the chip if so configured, else say
 * why not. Returns 0 when the M4 is quiet (never started, or parked). */
static int h7_stop(void *ctx)
{
    struct amp_stm32h7 *h = ctx;
    if (!m4_released() || h->parked)
        return 0;
    if (AMP_STM32H7_STOP_RESETS_SYSTEM)
        system_reset();
    if (!AMP_STM32H7_PARK_STOP || !h->cfg.park)
        return fail(h, -ENOTSUP, WHY_NO_STOP);
    return park(h);
}

/* Thread context. stop(), then release the HSEM interrupt and clock
 * (start() takes them again). The clock bit is the M7's allocation only
 * (RM0399 §9.7.1): an M4 still running keeps its own. */
static int h7_shutdown(void *ctx)
{
    struct amp_stm32h7 *h = ctx;
    int err = h7_stop(h);
    hsem_down(h);
    return err;
}

#if AMP_CFG_CACHE
static const struct amp_port_ops ops_cached = {
    .notify = h7_notify,
    .wait = h7_wait,
    .now_ms = h7_now,
    .cache_clean = h7_cache_clean,
    .cache_invalidate = h7_cache_invalidate,
    .da_to_va = h7_da_to_va,
    .start = h7_start,
    .stop = h7_stop,
    .shutdown = h7_shutdown,
};
#endif

/* SRAM4 uncached by the MPU: the library needs no maintenance. (start()
 * still cleans what it loaded into SRAM1-3, which stays cacheable.) */
static const struct amp_port_ops ops_uncached = {
    .notify = h7_notify,
    .wait = h7_wait,
    .now_ms = h7_now,
    .da_to_va = h7_da_to_va,
    .start = h7_start,
    .stop = h7_stop,
    .shutdown = h7_shutdown,
};

int amp_stm32h7_init(struct amp_stm32h7 *h, const struct amp_stm32h7_cfg *cfg)
{
    if (!h || !cfg || (!AMP_CFG_CACHE && !cfg->mpu_uncached))
        return -EINVAL; /* a library without cache ops needs SRAM4 uncached */
    memset(h, 0, sizeof(*h));
    h->cfg = *cfg;
    h->load_lo = UINT32_MAX;
    h7_rcc_enable(H7_RCC_APB4ENR, H7_RCC_APB4ENR_SYSCFGEN); /* before SYSCFG_UR3 */
    /* SRAM1-3 allocated to us too, so the M7 can load images there and D2
     * keeps running while the M4 is held or in CStop (RM0399 §9.7.41) */
    h7_rcc_enable(H7_RCC_AHB2ENR,
                  H7_RCC_AHB2ENR_SRAM1EN | H7_RCC_AHB2ENR_SRAM2EN | H7_RCC_AHB2ENR_SRAM3EN);
    hsem_up(h);
    return 0;
}

struct amp_port amp_stm32h7_port(struct amp_stm32h7 *h)
{
#if AMP_CFG_CACHE
    struct amp_port p = {h->cfg.mpu_uncached ? &ops_uncached : &ops_cached, h};
#else
    struct amp_port p = {&ops_uncached, h}; /* init made sure SRAM4 is uncached */
#endif
    return p;
}

const char *amp_stm32h7_why(const struct amp_stm32h7 *h)
{
    return h->why;
}

/* ==== Layouts ==== */

#define F_NS (1u << AMP_RPMSG_F_NS)
#define F_EVENT_IDX (1u << AMP_VIRTIO_F_EVENT_IDX)

const struct amp_stm32h7_map amp_stm32h7_maps[2] = {
    [AMP_STM32H7_MICROPYTHON] = {
        .name = "micropython",
        .rsc_da = AMP_STM32H7_RSC_DA,
        .shm_da = AMP_STM32H7_SHM_DA,
        .shm_size = AMP_STM32H7_TRACE_DA - AMP_STM32H7_SHM_DA,
        .vring_da = {AMP_STM32H7_VRING0_DA, AMP_STM32H7_VRING1_DA},
        .num = AMP_STM32H7_VRING_NUM,
        .align = AMP_STM32H7_VRING_ALIGN,
        .dfeatures = F_NS, /* existing OpenAMP remotes do not expect EVENT_IDX */
        .features = F_NS,
        .trace_da = AMP_STM32H7_TRACE_DA,
        .trace_len = AMP_STM32H7_TRACE_LEN,
    },
    [AMP_STM32H7_FW_TABLE] = {
        .name = "firmware-table",
        .rsc_da = AMP_RSC_ADDR_ANY,
        .shm_da = AMP_STM32H7_SHM_DA,
        .shm_size = AMP_STM32H7_TRACE_DA - AMP_STM32H7_SHM_DA,
        .vring_da = {AMP_RSC_ADDR_ANY, AMP_RSC_ADDR_ANY},
        /* not EVENT_IDX: the image may be OpenAMP firmware, whose remote
         * never re-arms its event index (v2026.04): the link would lose
         * notifications. Add F_EVENT_IDX for amp firmware that offers it. */
        .features = AMP_RPMSG_FEATURES_DEFAULT,
    },
};

int amp_stm32h7_rproc_cfg(struct amp_rproc_cfg *cfg, enum amp_stm32h7_layout layout,
                          struct amp_vring_slot *slots, uint32_t nslots)
{
    if (!cfg || (unsigned)layout >= sizeof(amp_stm32h7_maps) / sizeof(amp_stm32h7_maps[0]))
        return -EINVAL;
    const struct amp_stm32h7_map *m = &amp_stm32h7_maps[layout];
    memset(cfg, 0, sizeof(*cfg));
    cfg->machine = AMP_EM_ARM;
    cfg->shm.va = (uint8_t *)(uintptr_t)m->shm_da; /* SRAM4: the same address on both cores */
    cfg->shm.da = m->shm_da;
    cfg->shm.size = m->shm_size;
    cfg->rsc_da = m->rsc_da;
    cfg->host_rsc.dfeatures = m->dfeatures;
    cfg->host_rsc.vring_da[0] = m->vring_da[0];
    cfg->host_rsc.vring_da[1] = m->vring_da[1];
    cfg->host_rsc.num = m->num;
    cfg->host_rsc.align = m->align;
    cfg->host_rsc.trace_da = m->trace_da;
    cfg->host_rsc.trace_len = m->trace_len;
    cfg->buf_size = 0; /* 512, as OpenAMP and Linux */
    cfg->features = m->features;
    cfg->slots = slots;
    cfg->nslots = nslots;
    return nslots < 2u * m->num ? -E2BIG : 0;
}
