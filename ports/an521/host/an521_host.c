/*
 * an521_host.c - core 0's runtime on QEMU's mps2-an521 (an521_host.h).
 *
 * Main invariant: nothing here touches core 1's memory or the MHUs; the
 * SysTick interrupt only counts, so a WFI anywhere wakes at least once a
 * millisecond.
 */
#include <stdarg.h>
#include <stdbool.h>

#include "amp_an521_layout.h"
#include "an521_fmt.h"
#include "an521_host.h"

#define REG AMP_AN521_REG
#define SYST_CSR 0xE000E010u
#define SYST_RVR 0xE000E014u
#define SYST_CVR 0xE000E018u
#define CORE_HZ 20000000u /* mps2-an521 SYSCLK: SysTick's processor clock */

#define UART_DATA 0x00u
#define UART_STATE 0x04u /* bit 0: TX full */
#define UART_CTRL 0x08u  /* bit 0: TX enable */
#define UART_BAUDDIV 0x10u

/* ==== Startup ==== */

extern uint32_t __bss_start[], __bss_end[], __stack_top[];
void an521_reset(void);

static volatile uint32_t ticks;

static void systick(void)
{
    ticks++;
}

uint32_t an521_ms(void)
{
    return ticks;
}

/* Report a fault on core 0 and end the run: a host that faults has no
 * test result to give. */
__attribute__((used)) static void fault_c(uint32_t *frame)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    an521_printf("\nhost: exception %u on core 0: pc=%08x lr=%08x CFSR=%08x HFSR=%08x BFAR=%08x\n",
                 (unsigned)(ipsr & 0x1FFu), (unsigned)frame[6], (unsigned)frame[5],
                 (unsigned)REG(0xE000ED28u), (unsigned)REG(0xE000ED2Cu), (unsigned)REG(0xE000ED38u));
    an521_exit(3);
}

__attribute__((naked)) static void fault(void)
{
    __asm__ volatile("tst lr, #4\n\t"
                     "ite eq\n\t"
                     "mrseq r0, msp\n\t"
                     "mrsne r0, psp\n\t"
                     "b fault_c");
}

__attribute__((weak)) void an521_mhu0_irq(void) {}
__attribute__((weak)) void an521_mhu1_irq(void) {}

__attribute__((section(".vectors"), used, aligned(512))) static void (*const vectors[16 + 32])(void) = {
    (void (*)(void))__stack_top,
    an521_reset,
    [2 ... 14] = fault, /* NMI, faults, SVC, PendSV: none expected */
    [15] = systick,
    [16 ... 16 + AMP_AN521_MHU0_IRQ - 1] = fault,
    [16 + AMP_AN521_MHU0_IRQ] = an521_mhu0_irq,
    [16 + AMP_AN521_MHU1_IRQ] = an521_mhu1_irq,
    [16 + AMP_AN521_MHU1_IRQ + 1 ... 47] = fault,
};

void an521_reset(void)
{
    for (uint32_t *p = __bss_start; p < __bss_end; p++)
        *p = 0;
    REG(AMP_AN521_UART0 + UART_BAUDDIV) = 16;
    REG(AMP_AN521_UART0 + UART_CTRL) = 1;
    REG(SYST_RVR) = CORE_HZ / 1000u - 1u;
    REG(SYST_CVR) = 0;
    REG(SYST_CSR) = 7; /* processor clock, interrupt, enable */
    __asm__ volatile("cpsie i" ::: "memory");
    an521_exit(main());
}

/* ==== Console ==== */

static void uart_put(void *arg, char c)
{
    (void)arg;
    if (c == '\n')
        uart_put(arg, '\r');
    while (REG(AMP_AN521_UART0 + UART_STATE) & 1u)
        ;
    REG(AMP_AN521_UART0 + UART_DATA) = (uint8_t)c;
}

void an521_puts(const char *s)
{
    while (*s)
        uart_put(0, *s++);
}

int an521_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = an521_vformat(uart_put, 0, fmt, ap);
    va_end(ap);
    return n;
}

int an521_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = an521_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
