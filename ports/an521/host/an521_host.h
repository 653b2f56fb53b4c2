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

/* ==== Semihosting (QEMU -semihosting-config enable=on,target=native) ==== */

/* The command line (arg=... of -semihosting-config, space-separated) in
 * argv[0..max-1]; returns argc, or -1 without semihosting. */
int an521_args(char **argv, int max);

/* End QEMU with this exit status (SYS_EXIT_EXTENDED). */
_Noreturn void an521_exit(int status);

/* A file of the PC's file system, read-only, for amp_rproc_load():
 * an521_file_open fills f and returns 0, or -ENOENT; an521_file_read is
 * an amp_elf_read_fn (ctx = f). */
struct an521_file {
    int fd;
    uint32_t size;
};
int an521_file_open(struct an521_file *f, const char *path);
int an521_file_read(void *ctx, uint64_t off, void *buf, size_t len);
void an521_file_close(struct an521_file *f);

#endif /* AN521_HOST_H */
