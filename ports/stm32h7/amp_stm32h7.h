/*
 * amp_stm32h7.h - the STM32H745/747/755/757 host port: amp runs on the
 * Cortex-M7 as host, the Cortex-M4 is the remote.
 *
 *   doorbells     HSEM 0 rings the M4, HSEM 1 rings us (HSEM1 interrupt)
 *   wait          WFI until the HSEM1 interrupt has set `pending`
 *   shared memory SRAM4, made uncached by the MPU or kept coherent with
 *                 D-cache maintenance by address
 *   life cycle    start = boot address + RCC_GCR.BOOT_C2; stop cannot
 *                 halt the M4 (the silicon has no way): -ENOTSUP, a
 *                 cooperative park, or (opt-in) a reset of the whole chip
 *
 * Main invariant: the HSEM1 interrupt touches nothing but `pending` and
 * the user hook, so every library call stays in thread context and the
 * port needs no lock. Call the library from one thread (the main loop, or
 * MicroPython's scheduler), never from the interrupt.
 */
#ifndef AMP_STM32H7_H
#define AMP_STM32H7_H

#include <stdbool.h>
#include <stdint.h>

#include "amp/amp.h"
#include "amp_stm32h7_layout.h"

/* stop() and shutdown() reset the whole chip (both cores), as MicroPython
 * does, instead of failing with -ENOTSUP. Off by default: a library that
 * silently reboots its caller loses the caller's state. */
#ifndef AMP_STM32H7_STOP_RESETS_SYSTEM
#define AMP_STM32H7_STOP_RESETS_SYSTEM 0
#endif

/* The cooperative stop (cfg.park). 0 compiles it out for a host that
 * never gives a park block (MicroPython's module): cfg.park is ignored and
 * stop() is -ENOTSUP, or the opt-in reset above. */
#ifndef AMP_STM32H7_PARK_STOP
#define AMP_STM32H7_PARK_STOP 1
#endif

/* Reasons in `why`: sentences, short ones with AMP_CFG_REASONS 0, or with
 * 0 here none at all (why stays NULL; a host that prints errno codes only,
 * as MicroPython's module on a small target does, sets it). */
#ifndef AMP_STM32H7_REASONS
#define AMP_STM32H7_REASONS 1
#endif

/* MPU region for amp_stm32h7_mpu_uncached(). The M7 has 16; the highest
 * number wins where regions overlap, so the shared window stays uncached
 * even inside a larger region of the application's. MicroPython uses 8. */
#ifndef AMP_STM32H7_MPU_REGION
#define AMP_STM32H7_MPU_REGION 15u
#endif

/* An NVIC priority (0 = most urgent, 15 = least) as the priority byte. */
#define AMP_STM32H7_PRIO(p) ((uint8_t)((p) << (8u - 4u)))

/* ==== Memory layouts ==== */

enum amp_stm32h7_layout {
    /* MicroPython's: the host builds the table at 0x38000000, vrings at
     * fixed addresses, NS only, trace at the end of SRAM4. */
    AMP_STM32H7_MICROPYTHON = 0,
    /* The image carries a .resource_table; vrings at AMP_RSC_ADDR_ANY are
     * placed in the SRAM4 window; NS is accepted, EVENT_IDX is not
     * (OpenAMP remotes lose notifications with it: see amp_rpmsg.h). */
    AMP_STM32H7_FW_TABLE = 1,
};

struct amp_stm32h7_map {
    const char *name;
    uint32_t rsc_da;      /* host-provided table, AMP_RSC_ADDR_ANY: the image's */
    uint32_t shm_da;      /* shared window: vrings, then buffers */
    uint32_t shm_size;
    uint32_t vring_da[2]; /* host-provided table: vring0, vring1 */
    uint32_t num;         /* ... their size, 0 when the image decides */
    uint32_t align;
    uint32_t dfeatures;   /* ... the features the table offers */
    uint32_t features;    /* what the host accepts */
    uint32_t trace_da;    /* ... its trace entry (len 0: none) */
    uint32_t trace_len;
};

extern const struct amp_stm32h7_map amp_stm32h7_maps[2];

/* Fill *cfg for amp_rproc_init() from a layout; slots is the RPMsg
 * device's storage (2 * 64 entries for the MicroPython layout, 2 * num of
 * the image's vrings otherwise). 0, -EINVAL (unknown layout), -E2BIG
 * (too few slots for the layout's vrings). */
int amp_stm32h7_rproc_cfg(struct amp_rproc_cfg *cfg, enum amp_stm32h7_layout layout,
                          struct amp_vring_slot *slots, uint32_t nslots);

/* ==== The port ==== */

#define AMP_STM32H7_HOST_OWNED_MAX 4u

struct amp_stm32h7_cfg {
    /* A millisecond counter with a periodic interrupt behind it (SysTick),
     * so that WFI wakes up to look at the clock. NULL: timeouts count WFI
     * wake-ups as milliseconds, which is only approximate (see wait()). */
    uint32_t (*ticks_ms)(void);
    /* Called from the HSEM1 interrupt after `pending` is set, e.g. to
     * schedule amp_rpmsg_poll() (MicroPython: mp_sched_schedule). Must not
     * call the library. NULL: the main loop watches `pending`. */
    void (*on_notify)(void *arg);
    void *arg;
    uint8_t irq_priority; /* HSEM1 interrupt, AMP_STM32H7_PRIO(n) */
    /* SRAM4 is uncached (amp_stm32h7_mpu_uncached() was called): the
     * port's cache ops are NULL. false: the D-cache is maintained by
     * address on every shared access (or the cache is off); a library
     * built with AMP_CFG_CACHE 0 has no cache ops and refuses it. */
    bool mpu_uncached;
    /* Cooperative stop: the park block the M4 firmware honours
     * (AMP_STM32H7_PARK), and how long stop() waits for it (0: 100 ms).
     * NULL: stop() fails with -ENOTSUP. */
    volatile struct amp_stm32h7_park *park;
    uint32_t park_timeout_ms;
    /* Memory the host program owns inside what the M4 reaches, as the M7
     * sees it (a MicroPython host: its firmware's end of flash bank 2, its
     * GC heap in SRAM1 on GIGA and DISCO). Nothing maps there: an image or
     * resource table there is refused (-ERANGE), and so is a boot address.
     * Unused entries have size 0. */
    struct amp_stm32h7_range {
        uint32_t base, size;
    } host_owned[AMP_STM32H7_HOST_OWNED_MAX];
};

struct amp_stm32h7 {
    struct amp_stm32h7_cfg cfg;
    volatile uint32_t pending; /* set by the HSEM1 interrupt, taken by wait() */
    uint32_t wakeups;          /* no ticks_ms: WFI wake-ups, our clock */
    uint32_t load_lo, load_hi; /* SRAM1-3 span handed out by da_to_va (M7 addresses) */
    bool parked;               /* the M4 acknowledged a park request */
    const char *why;           /* why the last operation failed */
};

/* Enable the HSEM, SYSCFG and SRAM1-3 clocks, clear a stale HSEM1 flag,
 * then enable the HSEM1 interrupt for semaphore 1. Thread context, once,
 * before the port is used (and again after shutdown). 0 or -EINVAL
 * (also: mpu_uncached false without AMP_CFG_CACHE). */
int amp_stm32h7_init(struct amp_stm32h7 *h, const struct amp_stm32h7_cfg *cfg);

/* The ops table (const) and h, for amp_rpmsg_init()/amp_rproc_init(). */
struct amp_port amp_stm32h7_port(struct amp_stm32h7 *h);

/* Call from the application's HSEM1_IRQHandler: acknowledges semaphore 1
 * (only that one: other bits belong to the application), sets `pending`,
 * calls cfg.on_notify. IRQ context. */
void amp_stm32h7_hsem_irq(struct amp_stm32h7 *h);

/* Take the pending flag: true if the M4 rang since the last call (or the
 * last wait()). Any context. For loops that poll instead of waiting. */
bool amp_stm32h7_take_pending(struct amp_stm32h7 *h);

/* Can start() release the M4? 0, or -EBUSY with the reason in why: the
 * M4 boots from the option bytes (BCM4=1), or was released already. */
int amp_stm32h7_can_start(struct amp_stm32h7 *h);

/* A sentence on why the last port operation failed, or NULL. */
const char *amp_stm32h7_why(const struct amp_stm32h7 *h);

/* Make [base, base + 2^size_log2) Normal, non-cacheable, shareable and
 * non-executable for the M7 (TEX=1 C=0 B=0 S=1 XN=1, full access: what
 * MicroPython's MPU_CONFIG_SHARED_UNCACHED sets), in region
 * AMP_STM32H7_MPU_REGION. Cleans and invalidates the range first, so no
 * dirty line is left behind to be evicted over the peer's data later.
 * Enables the MPU with PRIVDEFENA (the default map stays for privileged
 * code). 0, -EINVAL (size_log2 outside 5..31, base not aligned to the
 * size), -ENOTSUP (no such region). Thread context, before the link is
 * up. For SRAM4: (AMP_STM32H7_SRAM4_BASE, AMP_STM32H7_SRAM4_LOG2). */
int amp_stm32h7_mpu_uncached(uint32_t base, unsigned size_log2);

#endif /* AMP_STM32H7_H */
