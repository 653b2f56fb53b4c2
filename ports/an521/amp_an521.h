/*
 * amp_an521.h - the host port for QEMU's mps2-an521: amp runs on core 0
 * (Cortex-M33) as host, core 1 (Cortex-M33) is the remote.
 *
 *   doorbells     MHU0 rings the vrings both ways; MHU1 carries the park
 *                 request to core 1 and life-cycle news to core 0
 *   wait          WFI until the MHU0 or MHU1 interrupt set `pending`
 *   memory        ISRAM and SSRAM3 take images, SSRAM2 is shared
 *                 (amp_an521_layout.h); everything else is refused
 *   life cycle    start = INITSVTOR1 + CPUWAIT the first time, leaving
 *                 the park afterwards; stop = the park protocol; a crash
 *                 is the firmware's fault handler parking with a record
 *
 * Main invariant: the two interrupts touch nothing but `pending`, `life`
 * and the user hook, so every library call stays in thread context and
 * the port needs no lock. Call the library from one thread, never from
 * the interrupt handlers (amp_an521_mhu0_irq / _mhu1_irq).
 */
#ifndef AMP_AN521_H
#define AMP_AN521_H

#include <stdbool.h>
#include <stdint.h>

#include "amp/amp.h"
#include "amp_an521_layout.h"

/* ==== Memory layouts ==== */

enum amp_an521_layout {
    /* MicroPython's: the host builds the table at 0x38000000, vrings at
     * fixed addresses, NS only, a trace buffer at the end of the window. */
    AMP_AN521_MICROPYTHON = 0,
    /* The image carries a .resource_table; vrings at AMP_RSC_ADDR_ANY are
     * placed in the window; EVENT_IDX is accepted. */
    AMP_AN521_FW_TABLE = 1,
};

/* Fill *cfg for amp_rproc_init() from a layout; slots is the RPMsg
 * device's storage (2 * 64 entries for the MicroPython layout, 2 * num of
 * the image's vrings otherwise). 0, -EINVAL (unknown layout), -E2BIG (too
 * few slots for the layout's vrings). */
int amp_an521_rproc_cfg(struct amp_rproc_cfg *cfg, enum amp_an521_layout layout,
                        struct amp_vring_slot *slots, uint32_t nslots);

/* ==== The port ==== */

struct amp_an521_cfg {
    /* A millisecond counter with a periodic interrupt behind it (SysTick),
     * so that WFI wakes to look at the clock. Required: QEMU's virtual
     * time is the only clock, and timeouts must end. */
    uint32_t (*ticks_ms)(void);
    /* Called from either MHU interrupt after `pending` is set, e.g. to
     * schedule a poll (MicroPython). Must not call the library. */
    void (*on_notify)(void *arg);
    void *arg;
    uint32_t park_timeout_ms; /* how long stop() waits for the park, 0: 200 */
};

/* What the firmware's fault handler left (amp_an521_layout.h). */
struct amp_an521_crash_info {
    uint32_t cause; /* enum amp_an521_crash */
    uint32_t pc, lr, psr, cfsr, hfsr, far, status;
};

struct amp_an521 {
    struct amp_an521_cfg cfg;
    volatile uint32_t pending; /* set by the MHU interrupts, taken by wait() */
    volatile uint32_t life;    /* set by the MHU1 interrupt: look at the life-cycle block */
    uint32_t load_lo, load_hi; /* span the loader was handed since the last start */
    uint32_t crash_seen;       /* crash_seq we have reported */
    bool released;             /* core 1 left CPUWAIT (this cannot be undone) */
    bool parked;               /* core 1 is in the park routine */
    bool crashed;              /* a crash record came that the caller has not taken */
    struct amp_an521_crash_info crash; /* the last one */
    const char *why;           /* why the last operation failed */
};

/* Clear stale MHU bits, enable our two interrupts, set up the life-cycle
 * block. Thread context, once, before the port is used. 0 or -EINVAL. */
int amp_an521_init(struct amp_an521 *h, const struct amp_an521_cfg *cfg);

/* The ops table (const) and h, for amp_rpmsg_init()/amp_rproc_init(). */
struct amp_port amp_an521_port(struct amp_an521 *h);

/* Call from the host's IRQ 6 and IRQ 7 handlers. IRQ context. */
void amp_an521_mhu0_irq(struct amp_an521 *h);
void amp_an521_mhu1_irq(struct amp_an521 *h);

/* Did the remote crash since the last call? Reads the life-cycle block
 * once per MHU1 interrupt; true once per crash, with the record in
 * h->crash. The caller then tells the library: amp_rproc_crashed(). The
 * core is parked by then: start() restarts it. Thread context. */
bool amp_an521_take_crash(struct amp_an521 *h);

/* A sentence on why the last port operation failed, or NULL. */
const char *amp_an521_why(const struct amp_an521 *h);

/* A sentence naming a crash cause ("HardFault", "exit", ...). */
const char *amp_an521_crash_name(uint32_t cause);

#endif /* AMP_AN521_H */
