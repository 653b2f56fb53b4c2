/*
 * m4_port.c - the remote's port on the Cortex-M4 (see m4_port.h).
 *
 * Main invariant: HSEM2_IRQHandler touches only `pending`; wait() tests
 * it and sleeps with interrupts masked, so a doorbell between the test
 * and WFI keeps WFI from sleeping (it wakes for an interrupt that only
 * PRIMASK holds back). wait() is also where a park request from the host
 * is noticed: every blocking point of the library goes through it.
 */
#include "m4_port.h"

#include "amp_stm32h7_layout.h"
#include "amp_stm32h7_regs.h"

#define TO_M4 AMP_STM32H7_HSEM_TO_M4
#define TO_M7 AMP_STM32H7_HSEM_TO_M7
#define HSEM2_PRIO ((uint8_t)(10u << (8u - H7_NVIC_PRIO_BITS))) /* MicroPython's IRQ_PRI_HSEM */

static volatile uint32_t pending; /* set by HSEM2_IRQHandler, taken by wait() */

void m4_hsem_init(void)
{
    const uint32_t bit = H7_HSEM_BIT(TO_M4);
    h7_rcc_enable(H7_RCC_AHB4ENR, H7_RCC_AHB4ENR_HSEMEN); /* our bank: RCC_C2_AHB4ENR */
    H7_REG(H7_HSEM_C2ICR) = bit; /* the M7 rang before we ran: we look at the table anyway */
    h7_nvic_clear_pending(H7_HSEM2_IRQN);
    h7_nvic_set_priority(H7_HSEM2_IRQN, HSEM2_PRIO);
    h7_nvic_enable(H7_HSEM2_IRQN);
    H7_REG(H7_HSEM_C2IER) |= bit;
}

void HSEM2_IRQHandler(void);
void HSEM2_IRQHandler(void)
{
    const uint32_t bit = H7_HSEM_BIT(TO_M4);
    if (H7_REG(H7_HSEM_C2MISR) & bit) {
        H7_REG(H7_HSEM_C2ICR) = bit;
        pending = 1;
    }
    h7_dsb(); /* the clear lands before the exception returns */
}

/* Take + release HSEM 1: the release raises the M7's HSEM1 interrupt. */
static int ring(uint32_t sem)
{
    const uint32_t me = H7_HSEM_COREID_M4 << H7_HSEM_COREID_POS;
    h7_dsb(); /* ring and buffer writes land before the doorbell */
    if (H7_REG(H7_HSEM_RLR(sem)) != (H7_HSEM_LOCK | me))
        return -EBUSY; /* held by someone else: our release would be ignored */
    H7_REG(H7_HSEM_R(sem)) = me;
    return 0;
}

void m4_park_ready(void)
{
    AMP_STM32H7_PARK->remote = AMP_STM32H7_PARK_READY;
}

/* The host asked us to stop: go quiet for good. Nothing after the
 * acknowledgement touches memory, so the host may reuse all of it. */
__attribute__((noreturn)) static void park(void)
{
    h7_irq_disable();
    H7_REG(H7_HSEM_C2IER) &= ~H7_HSEM_BIT(TO_M4);
    h7_nvic_disable(H7_HSEM2_IRQN);
    AMP_STM32H7_PARK->remote = AMP_STM32H7_PARK_PARKED;
    ring(TO_M7);
    for (;;)
        h7_wfi(); /* masked and nothing enabled: sleeps */
}

/* Any context; never blocks. */
static int m4_notify(void *ctx, uint32_t notifyid)
{
    (void)ctx;
    (void)notifyid; /* one doorbell for both vrings */
    return ring(TO_M7);
}

/* Thread context. There is no clock here (the M7 owns the clock tree, so
 * we do not know our frequency for SysTick): any wake-up returns 0, and a
 * finite timeout other than 0 lasts until the next interrupt. */
static int m4_wait(void *ctx, int32_t timeout_ms)
{
    (void)ctx;
    int err = 0;
    uint32_t pm = h7_irq_save();
    if (!pending && timeout_ms == 0) {
        err = -ETIMEDOUT;
    } else if (!pending) {
        h7_dsb();
        h7_wfi();           /* returns with the waking interrupt pending ... */
        h7_irq_restore(pm); /* ... it runs here ... */
        h7_isb();
        h7_irq_disable(); /* ... before we take the flag */
    }
    pending = 0;
    h7_irq_restore(pm);
    if (AMP_STM32H7_PARK->host == AMP_STM32H7_PARK_REQUEST)
        park();
    return err;
}

static const struct amp_port_ops ops = {
    .notify = m4_notify,
    .wait = m4_wait,
};

struct amp_port m4_port(void)
{
    struct amp_port p = {&ops, NULL};
    return p;
}
