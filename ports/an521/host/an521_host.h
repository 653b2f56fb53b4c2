/*
 * an521_host.h - a bare-metal runtime for core 0 of QEMU's mps2-an521:
 * startup and vector table (host.ld links the image at 0x10000000, where
 * QEMU's -kernel puts it and core 0 boots from), a 1 kHz SysTick clock,
 * the console on UART0, and ARM semihosting for files, the command line
 * and QEMU's exit status. Soft-float: core 0 has no FPU.
 *
 * The application provides main() and, if it uses the amp port, the
 * handlers of IRQ 6 and 7 (an521_mhu0_irq, an521_mhu1_irq), which call
 * amp_an521_mhu0_irq / _mhu1_irq. A fault on core 0 prints the faulting
 * pc and ends QEMU with status 3.
 */
#ifndef AN521_HOST_H
#define AN521_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "an521_semi.h"

int main(void);
void an521_mhu0_irq(void); /* weak: do nothing */
void an521_mhu1_irq(void);

/* Milliseconds since boot (QEMU's virtual clock, which follows the host's
 * wall clock without -icount). The SysTick interrupt also wakes WFI. */
uint32_t an521_ms(void);

/* Console (UART0, QEMU's first -serial). */
void an521_puts(const char *s);
int an521_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int an521_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* AN521_HOST_H */
