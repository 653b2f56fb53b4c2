/*
 * an521_sdk.c - startup, vector table, fault reporting, UART1, doorbell and
 * clock for firmware on core 1 of QEMU's mps2-an521 (vcore.h here; trace
 * and the amp port: firmware/sdk/vc_common.c).
 *
 * Main invariant: every way out of the firmware - a fault, an exception
 * it has no handler for, vc_exit(), returning from main() - writes the
 * crash record and ends in the host's park routine, so the host always
 * learns of it and can restart the core. The interrupts only count.
 */
#include <errno.h>
#include <string.h>

#include "an521_fmt.h"
#include "vcore.h"

#define REG AMP_AN521_REG
#define SCB_SHCSR 0xE000ED24u
#define SCB_CFSR 0xE000ED28u
#define SCB_HFSR 0xE000ED2Cu
#define SCB_MMFAR 0xE000ED34u
#define SCB_BFAR 0xE000ED38u
#define SYST_CSR 0xE000E010u
#define SYST_RVR 0xE000E014u
#define SYST_CVR 0xE000E018u
#define NVIC_ISER(n) (0xE000E100u + 4u * (n))
#define CORE_HZ 20000000u
#define UART_DATA 0x00u
#define UART_STATE 0x04u
#define UART_CTRL 0x08u
#define UART_BAUDDIV 0x10u

static inline void dsb(void)
{
    __asm__ volatile("dsb" ::: "memory");
}

/* ==== Dying: the crash record, then the park ==== */

/* Record why we die and go to the host's park routine, which never
 * returns here. Runs in Handler mode (a fault) or Thread mode (exit). */
__attribute__((noreturn)) static void die(uint32_t cause, const uint32_t *frame, uint32_t status)
{
    volatile struct amp_an521_life *l = AMP_AN521_LIFE;
    uint32_t cfsr = REG(SCB_CFSR);
    __asm__ volatile("cpsid i" ::: "memory");
    l->cause = cause;
    l->pc = frame ? frame[6] : 0;
    l->lr = frame ? frame[5] : 0;
    l->psr = frame ? frame[7] : 0;
    l->cfsr = cfsr;
    l->hfsr = REG(SCB_HFSR);
    l->far = (cfsr & (1u << 15)) ? REG(SCB_BFAR) : (cfsr & (1u << 7)) ? REG(SCB_MMFAR) : 0;
    l->status = status;
    dsb(); /* the record before its sequence number */
    l->crash_seq = l->crash_seq + 1u;
    dsb();
    uint32_t park = l->park_entry;
    if (l->magic == AMP_AN521_LIFE_MAGIC && (park & 1u))
        ((void (*)(void))(uintptr_t)park)();
    for (;;) /* no host to park with: sleep */
        __asm__ volatile("wfi");
}

__attribute__((used)) static void fault_c(const uint32_t *frame)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    ipsr &= 0x1FFu;
    die(ipsr >= AMP_AN521_CRASH_HARDFAULT && ipsr <= AMP_AN521_CRASH_SECUREFAULT ? ipsr
                                                                               : AMP_AN521_CRASH_OTHER,
        frame, ipsr);
}

/* Every exception without a handler of its own: find the stacked frame. */
__attribute__((naked)) static void fault(void)
{
    __asm__ volatile("tst lr, #4\n\t"
                     "ite eq\n\t"
                     "mrseq r0, msp\n\t"
                     "mrsne r0, psp\n\t"
                     "b fault_c");
}

_Noreturn void vc_exit(int status)
{
    die(AMP_AN521_CRASH_EXIT, NULL, (uint32_t)status);
}

long vc_syscall(long nr, long a, long b, long c)
{
    (void)nr, (void)a, (void)b, (void)c;
    __asm__ volatile("svc 0" ::: "memory"); /* nobody handles it: a crash */
    return -ENOSYS;
}

/* ==== Interrupts ==== */

static volatile uint32_t ticks, kicks;

static void systick(void)
{
    ticks++;
}

static void mhu0(void)
{
    REG(AMP_AN521_MHU0 + AMP_AN521_MHU_CPU1_CLR) = REG(AMP_AN521_MHU0 + AMP_AN521_MHU_CPU1_STAT);
    kicks++;
    dsb(); /* the clear lands before we return */
}

/* ==== Startup ==== */

extern uint32_t __bss_start[], __bss_end[], __stack_top[];
void vc_reset(void);

/* IRQ 7's vector is the host's park routine once the host has started
 * us (it writes it into the loaded image); until then, a stop request
 * finds no park and is reported like any unexpected exception. */
__attribute__((section(".vectors"), used, aligned(512))) void (*const vc_vectors[16 + 32])(void) = {
    (void (*)(void))__stack_top,
    vc_reset,
    [2 ... 14] = fault,
    [15] = systick,
    [16 ... 16 + AMP_AN521_MHU0_IRQ - 1] = fault,
    [16 + AMP_AN521_MHU0_IRQ] = mhu0,
    [16 + AMP_AN521_MHU1_IRQ ... 47] = fault,
};

void vc_reset(void)
{
    for (uint32_t *p = __bss_start; p < __bss_end; p++)
        *p = 0;
    AMP_AN521_LIFE->boots = AMP_AN521_LIFE->boots + 1u;
    REG(AMP_AN521_UART1 + UART_BAUDDIV) = 16;
    REG(AMP_AN521_UART1 + UART_CTRL) = 1;
    REG(SCB_SHCSR) |= 0xFu << 16; /* MemManage, BusFault, UsageFault, SecureFault: own causes */
    REG(SYST_RVR) = CORE_HZ / 1000u - 1u;
    REG(SYST_CVR) = 0;
    REG(SYST_CSR) = 7;
    REG(NVIC_ISER(0)) = (1u << AMP_AN521_MHU0_IRQ) | (1u << AMP_AN521_MHU1_IRQ);
    __asm__ volatile("cpsie i" ::: "memory");
    vc_exit(main());
}

/* ==== UART1 ==== */

static void uart_put(void *arg, char c)
{
    (void)arg;
    while (REG(AMP_AN521_UART1 + UART_STATE) & 1u)
        ;
    REG(AMP_AN521_UART1 + UART_DATA) = (uint8_t)c;
}

void vc_puts(const char *s)
{
    while (*s)
        uart_put(0, *s++);
}

int vc_vprintf(const char *fmt, va_list ap)
{
    return an521_vformat(uart_put, 0, fmt, ap);
}

int vc_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vc_vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int vc_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = an521_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

/* ==== Doorbell and clock ==== */

static uint32_t seen; /* kicks accounted for */

void vc_kick(void)
{
    dsb(); /* the host reads the rings after the doorbell */
    REG(AMP_AN521_MHU0 + AMP_AN521_MHU_CPU0_SET) = 1u;
}

uint32_t vc_now_ms(void)
{
    return ticks;
}

/* Interrupts masked while we test, so a kick between the test and the
 * WFI still wakes it (WFI wakes for an interrupt PRIMASK holds back). */
int vc_wait_kick(int32_t timeout_ms)
{
    uint32_t start = ticks;
    int err = 0;
    __asm__ volatile("cpsid i" ::: "memory");
    while (kicks == seen) {
        if (timeout_ms >= 0 && ticks - start >= (uint32_t)timeout_ms) {
            err = -ETIMEDOUT;
            break;
        }
        dsb();
        __asm__ volatile("wfi\n\tcpsie i\n\tisb\n\tcpsid i" ::: "memory");
    }
    seen = kicks;
    __asm__ volatile("cpsie i" ::: "memory");
    return err;
}
