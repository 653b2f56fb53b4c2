/*
 * an521_host.c - core 0's runtime on QEMU's mps2-an521 (an521_host.h).
 *
 * Main invariant: nothing here touches core 1's memory or the MHUs; the
 * SysTick interrupt only counts, so a WFI anywhere wakes at least once a
 * millisecond.
 */
#include <errno.h>
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

/* ==== Semihosting ==== */

#define SYS_OPEN 0x01u
#define SYS_CLOSE 0x02u
#define SYS_READ 0x06u
#define SYS_SEEK 0x0Au
#define SYS_FLEN 0x0Cu
#define SYS_GET_CMDLINE 0x15u
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

static int32_t semi(uint32_t op, void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (int32_t)r0;
}

_Noreturn void an521_exit(int status)
{
    uint32_t a[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    for (;;)
        semi(SYS_EXIT_EXTENDED, a);
}

int an521_args(char **argv, int max)
{
    static char line[1024];
    uint32_t a[2] = {(uint32_t)(uintptr_t)line, sizeof(line) - 1u};
    if (semi(SYS_GET_CMDLINE, a) != 0)
        return -1;
    line[a[1] < sizeof(line) ? a[1] : sizeof(line) - 1u] = '\0';
    int argc = 0;
    for (char *p = line; *p && argc < max;) {
        while (*p == ' ')
            *p++ = '\0';
        if (!*p)
            break;
        argv[argc++] = p;
        while (*p && *p != ' ')
            p++;
    }
    return argc;
}

int an521_file_open(struct an521_file *f, const char *path)
{
    size_t len = 0;
    while (path[len])
        len++;
    uint32_t a[3] = {(uint32_t)(uintptr_t)path, 1 /* "rb" */, (uint32_t)len};
    f->fd = semi(SYS_OPEN, a);
    if (f->fd < 0)
        return -ENOENT;
    uint32_t b[1] = {(uint32_t)f->fd};
    int32_t size = semi(SYS_FLEN, b);
    if (size < 0) {
        an521_file_close(f);
        return -EIO;
    }
    f->size = (uint32_t)size;
    return 0;
}

int an521_file_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    struct an521_file *f = ctx;
    if (f->fd < 0 || off > f->size || len > f->size - off)
        return -EIO;
    uint32_t s[2] = {(uint32_t)f->fd, (uint32_t)off};
    if (semi(SYS_SEEK, s) != 0)
        return -EIO;
    uint32_t r[3] = {(uint32_t)f->fd, (uint32_t)(uintptr_t)buf, (uint32_t)len};
    return semi(SYS_READ, r) == 0 ? 0 : -EIO; /* SYS_READ returns the bytes NOT read */
}

void an521_file_close(struct an521_file *f)
{
    if (f->fd >= 0) {
        uint32_t a[1] = {(uint32_t)f->fd};
        semi(SYS_CLOSE, a);
    }
    f->fd = -1;
}
