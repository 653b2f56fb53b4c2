/*
 * startup_m7.c - vector table and reset handler of the Cortex-M7 host
 * example: FPU on (the code is built for fpv5-d16), copy .data, zero
 * .bss, VTOR, main(). Clocks stay at their reset values (HSI, 64 MHz).
 */
#include <stdint.h>
#include <string.h>

#include "amp_stm32h7_regs.h"

#define N_IRQ 150u /* WAKEUP_PIN_IRQn = 149 is the last (stm32h747xx.h) */
#define EXC(n) ((n) - 1u)
#define IRQ(n) (15u + (n))

extern uint32_t _estack[], _sidata[], _sdata[], _edata[], _sbss[], _ebss[];

int main(void);
void Reset_Handler(void);
void SysTick_Handler(void);
void HSEM1_IRQHandler(void);

static void default_handler(void)
{
    for (;;)
        h7_wfi();
}

struct vector_table {
    uint32_t *sp;
    void (*handler[15u + N_IRQ])(void); /* exceptions 1..15, then IRQs */
};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init" /* defaults first, then ours */
__attribute__((section(".isr_vector"), used)) const struct vector_table vectors = {
    .sp = _estack,
    .handler = {
        [0 ... 15u + N_IRQ - 1u] = default_handler,
        [EXC(1)] = Reset_Handler,
        [EXC(15)] = SysTick_Handler,
        [IRQ(H7_HSEM1_IRQN)] = HSEM1_IRQHandler,
    },
};
#pragma GCC diagnostic pop

void Reset_Handler(void)
{
    /* before any floating-point instruction, library code included */
    H7_REG(H7_SCB_CPACR) |= H7_SCB_CPACR_CP10_CP11;
    h7_dsb();
    h7_isb();
    memcpy(_sdata, _sidata, (size_t)((uintptr_t)_edata - (uintptr_t)_sdata));
    memset(_sbss, 0, (size_t)((uintptr_t)_ebss - (uintptr_t)_sbss));
    H7_REG(H7_SCB_VTOR) = (uint32_t)(uintptr_t)&vectors;
    h7_dsb();
    h7_isb();
    main();
    default_handler();
}
