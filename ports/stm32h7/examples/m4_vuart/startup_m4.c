/*
 * startup_m4.c - vector table and reset handler of the Cortex-M4 remote.
 *
 * Reset_Handler: copy .data (from flash; in an image the host loaded
 * into RAM it is already in place), zero .bss, point VTOR at our table,
 * listen on HSEM 0, run main().
 */
#include <stdint.h>
#include <string.h>

#include "amp_stm32h7_regs.h"
#include "m4_port.h"

#define N_IRQ 150u /* WAKEUP_PIN_IRQn = 149 is the last (stm32h747xx.h) */
#define EXC(n) ((n) - 1u) /* exception n in handler[]: the stack pointer takes slot 0 */
#define IRQ(n) (15u + (n))

extern uint32_t _estack[], _sidata[], _sdata[], _edata[], _sbss[], _ebss[];

int main(void);
void Reset_Handler(void);
void HSEM2_IRQHandler(void);

/* Anything unexpected: stop here, where a debugger will look. */
static void default_handler(void)
{
    for (;;)
        h7_wfi();
}

/* The compiler assumes that two symbols never share an address (it turns
 * `_sidata != _sdata` into true, and memmove into memcpy); the linker
 * makes them equal in a RAM image. Hide where the value came from. */
static inline uintptr_t opaque(uintptr_t x)
{
    __asm volatile("" : "+r"(x));
    return x;
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
        [IRQ(H7_HSEM2_IRQN)] = HSEM2_IRQHandler,
    },
};
#pragma GCC diagnostic pop

void Reset_Handler(void)
{
    if (opaque((uintptr_t)_sidata) != (uintptr_t)_sdata) /* RAM image: in place */
        memcpy(_sdata, _sidata, (size_t)((uintptr_t)_edata - (uintptr_t)_sdata));
    memset(_sbss, 0, (size_t)((uintptr_t)_ebss - (uintptr_t)_sbss));
    /* the boot address remap got us here; interrupts need VTOR (a
     * multiple of 0x400 here: it is the 64 KiB-aligned image start) */
    H7_REG(H7_SCB_VTOR) = (uint32_t)(uintptr_t)&vectors;
    h7_dsb();
    h7_isb();
    m4_hsem_init();
    main();
    default_handler();
}
