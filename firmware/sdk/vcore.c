/*
 * vcore.c - system calls, UART, doorbell and clock (trace and the amp port:
 * vc_common.c) for firmware on the Linux virtual core.
 *
 * Main invariant: the only way out of the process is the syscall
 * instruction with read (0), write (1) or exit (60); any other number is
 * death by SIGKILL (strict seccomp), so every system call goes through
 * sys3() below with one of the AMP_VCORE_SYS_* numbers.
 */
#include <stdatomic.h>

#include "vcore.h"



/* ==== System calls ==== */

static inline long sys3(long nr, long a, long b, long c)
{
    long ret;
    /* the kernel clobbers rcx (return address) and r11 (flags) */
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return ret;
}

long vc_syscall(long nr, long a, long b, long c)
{
    return sys3(nr, a, b, c);
}

long vc_read(int fd, void *buf, size_t len)
{
    return sys3(AMP_VCORE_SYS_READ, fd, (long)buf, (long)len);
}

long vc_write(int fd, const void *buf, size_t len)
{
    return sys3(AMP_VCORE_SYS_WRITE, fd, (long)buf, (long)len);
}

_Noreturn void vc_exit(int status)
{
    for (;;) /* exit ends the only thread, and so the process */
        sys3(AMP_VCORE_SYS_EXIT, status, 0, 0);
}

/* ==== Formatted output ==== */

/* Where formatted text goes: buf[cap], flushed to the UART when full
 * (uart) or cut short (a string, which keeps room for its NUL). */
struct sink {
    char *buf;
    size_t cap, n;
    size_t total; /* characters produced, kept or not */
    bool uart;
};

static void put(struct sink *s, char c)
{
    s->total++;
    if (s->n + 1 >= s->cap) {
        if (!s->uart)
            return;
        vc_write(AMP_VCORE_FD_UART, s->buf, s->n);
        s->n = 0;
    }
    s->buf[s->n++] = c;
}

static void put_num(struct sink *s, uint64_t v, unsigned base, bool neg)
{
    char d[20]; /* 2^64 has 20 decimal digits */
    int i = 0;
    if (neg)
        put(s, '-');
    do
        d[i++] = "0123456789abcdef"[v % base];
    while ((v /= base) != 0);
    while (i > 0)
        put(s, d[--i]);
}

static void format(struct sink *s, const char *f, va_list ap)
{
    for (; *f; f++) {
        if (*f != '%') {
            put(s, *f);
            continue;
        }
        int lng = 0; /* 0: int, 1: long / size_t, 2: long long */
        for (f++; *f == 'l' || *f == 'z'; f++)
            lng = *f == 'z' ? 1 : lng + 1; /* size_t is unsigned long here */
        switch (*f) {
        case 'd':
        case 'i': {
            long long v = lng == 0 ? va_arg(ap, int) : lng == 1 ? va_arg(ap, long) : va_arg(ap, long long);
            /* negate in unsigned: -LLONG_MIN does not fit a long long */
            put_num(s, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 10, v < 0);
            break;
        }
        case 'u':
        case 'x': {
            uint64_t v = lng == 0 ? va_arg(ap, unsigned) : lng == 1 ? va_arg(ap, unsigned long)
                                                                    : va_arg(ap, unsigned long long);
            put_num(s, v, *f == 'x' ? 16 : 10, false);
            break;
        }
        case 'p':
            put(s, '0');
            put(s, 'x');
            put_num(s, (uintptr_t)va_arg(ap, void *), 16, false);
            break;
        case 's': {
            const char *str = va_arg(ap, const char *);
            for (str = str ? str : "(null)"; *str; str++)
                put(s, *str);
            break;
        }
        case 'c':
            put(s, (char)va_arg(ap, int));
            break;
        case '\0': /* a lone % at the end */
            return;
        default: /* %% and anything we do not know: print it */
            put(s, *f);
        }
    }
}

int vc_vprintf(const char *fmt, va_list ap)
{
    char buf[128];
    struct sink s = {buf, sizeof(buf), 0, 0, true};
    format(&s, fmt, ap);
    if (s.n)
        vc_write(AMP_VCORE_FD_UART, buf, s.n);
    return (int)s.total;
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
    struct sink s = {buf, size, 0, 0, false};
    va_list ap;
    va_start(ap, fmt);
    format(&s, fmt, ap);
    va_end(ap);
    if (size)
        buf[s.n] = '\0';
    return (int)s.total;
}

void vc_puts(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    vc_write(AMP_VCORE_FD_UART, s, n);
}

void vc_putu(uint64_t v)
{
    vc_printf("%llu", (unsigned long long)v);
}

void vc_puthex(uint64_t v)
{
    vc_printf("0x%llx", (unsigned long long)v);
}

/* ==== Doorbell and clock ==== */

/* There is no clock (amp_vcore_abi.h): strict seccomp sets the kernel's
 * TIF_NOTSC (CR4.TSD), so rdtsc faults and kills the core (checked on
 * Linux 6.18). Time is counted in calls and pause loops, and timeouts
 * are approximate. */
#define SPINS_PER_MS 40000u /* pause loops taken for a millisecond: 1 to 2 ms on recent x86 */

/* The host adds one to the mailbox before each kick; `seen` is the count
 * we have accounted for. A timed wait spins on it, since our doorbell
 * descriptor blocks and cannot be made non-blocking. */
static volatile uint32_t *const mailbox = (volatile uint32_t *)(uintptr_t)AMP_VCORE_MAILBOX_DA;
static uint32_t seen;
static uint32_t clock_ms; /* vc_now_ms(): see above */

void vc_kick(void)
{
    uint64_t one = 1; /* an eventfd adds what is written */
    vc_write(AMP_VCORE_FD_DOORBELL_OUT, &one, sizeof(one));
}

/* Has the host kicked since we last looked? The kicks a spin consumes
 * stay counted in the eventfd, so the next blocking read returns at once:
 * a spurious wake-up, which every caller tolerates. A lost one would not
 * be: a count is only marked seen after the ring updates of its kick,
 * which the host makes before it adds to the mailbox. */
static bool kicked(void)
{
    uint32_t now = *mailbox;
    atomic_thread_fence(memory_order_acquire); /* rings after the count */
    if (now == seen)
        return false;
    seen = now;
    return true;
}

int vc_wait_kick(int32_t timeout_ms)
{
    if (timeout_ms < 0) {
        uint64_t v;
        long r = vc_read(AMP_VCORE_FD_DOORBELL_IN, &v, sizeof(v));
        kicked(); /* what the read consumed is accounted for */
        return r == sizeof(v) ? 0 : r < 0 ? (int)r : -EIO;
    }
    for (uint64_t i = 0, n = (uint64_t)timeout_ms * SPINS_PER_MS;; i++) {
        if (kicked())
            return 0;
        if (i >= n) {
            clock_ms += (uint32_t)timeout_ms; /* the time a timed-out wait took */
            return -ETIMEDOUT;
        }
        __builtin_ia32_pause();
    }
}

uint32_t vc_now_ms(void)
{
    return ++clock_ms; /* each look costs a "millisecond": timeouts end */
}
