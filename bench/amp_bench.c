/*
 * amp_bench.c - amp's round trip and throughput next to the machine's
 * limits, all measured in one run, printed as one table.
 *
 * Two processes on two cores (parent on CPU 0, child on CPU 1). The
 * limits are the same exchanges with nothing in between: a counter
 * bounced in one shared cache line, an eventfd ping-pong, and an SPSC
 * ring of message-sized memcpy's; and the protocol floor, the round trip
 * through two split virtqueues done by hand with only what the wire
 * format requires (vq_floor). amp's figures come from the tests'
 * two-process fixture (tests/twoproc.h: a memfd, one eventfd each way,
 * the Linux port on both sides), the parent being the host.
 *
 * Main invariant: every figure is the median over `runs` runs, and the
 * runs interleave the figures (run 1 of everything, then run 2, ...), so
 * a noisy stretch of the shared machine hits the limits and amp alike.
 * A latency sample is one round trip timed by its sender with the same
 * clock (rdtsc calibrated against CLOCK_MONOTONIC on x86) for the limits
 * and for amp, so timer overhead cancels in the ratios.
 *
 * Every exchange checks what it received (sequence numbers and sums): a
 * figure from a broken exchange is reported as an error, not printed.
 * Nothing here has a timeout of its own (amp's waits are
 * AMP_WAIT_FOREVER, as a blocking main loop would have them): a stuck
 * phase is ended by alarm(), and the child dies with the parent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "twoproc.h"

#define MAX_RUNS 15
#define RT_LEN 16u           /* round-trip message size */
#define ADDR_HOST 1024u      /* fixed endpoint addresses: no name service */
#define ADDR_REMOTE 1025u
#define ALARM_S 60u          /* a phase that takes longer than this is stuck */
#define CTL_SIZE 4096u       /* control block; the raw ring's slots follow */

struct opts {
    uint32_t num;        /* vring entries (and raw ring slots) */
    uint32_t buf;        /* buffer size (and raw ring slot size) */
    uint32_t payload;    /* throughput message: buf - 16 */
    uint32_t runs;
    uint32_t rt_busy_n, rt_busy_warm; /* busy-poll round trips: timed, untimed */
    uint32_t rt_ntf_n, rt_ntf_warm;   /* notified round trips */
    uint32_t tp_n, tp_warm;           /* one-way messages */
    const char *only;                 /* run only figures whose key has this */
    bool verbose;                     /* every run's figures on stderr */
};

/* Shared by parent and child (a memfd mapped before fork). Fields the
 * two sides write sit on separate cache lines. */
struct ctl {
    _Alignas(64) atomic_uint ready;            /* child: set up, go */
    _Alignas(64) atomic_uint stage;            /* relink handshake (--buf) */
    _Alignas(64) atomic_uint done;             /* child: finished, results below */
    uint64_t count, sum, errors, kicks;        /* child's results */
    _Alignas(64) atomic_uint_least64_t line;   /* raw ping-pong counter */
    _Alignas(64) atomic_uint head;             /* raw ring: written by the producer */
    _Alignas(64) atomic_uint tail;             /* raw ring: written by the consumer */
};
_Static_assert(sizeof(struct ctl) <= CTL_SIZE, "control block fits its page");

static struct ctl *g_ctl;
static uint8_t *g_ring;        /* raw ring slots, after the control block */
static int g_efd[2];           /* raw eventfd ping-pong: [0] parent's, [1] child's */
static bool g_one_cpu;         /* both processes share a CPU: yield, don't spin */
static int g_cpu[2] = {0, 1};  /* where parent and child run */
static double g_ns_per_tick = 1.0;
static double g_kicks[3] = {-1, -1, 0}; /* last amp figure: notifications (host, remote), messages */

/* ==== Clock, CPUs, processes ==== */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__) || defined(__i386__)
#define CLOCK_NAME "rdtsc"
static inline uint64_t ticks(void)
{
    return __builtin_ia32_rdtsc();
}
static inline void cpu_pause(void)
{
    __builtin_ia32_pause();
}
#else
#define CLOCK_NAME "CLOCK_MONOTONIC"
static inline uint64_t ticks(void)
{
    return mono_ns();
}
static inline void cpu_pause(void)
{
}
#endif

/* ns per tick, from 50 ms of both clocks. */
static void calibrate(void)
{
    uint64_t n0 = mono_ns(), c0 = ticks(), n1, c1;
    do {
        n1 = mono_ns();
        c1 = ticks();
    } while (n1 - n0 < 50000000u);
    g_ns_per_tick = (double)(n1 - n0) / (double)(c1 - c0);
}

/* In a spin loop. The pause matters: spinning without it keeps stealing
 * the line back and slows the writer (cache-line round trip 0.27 us
 * instead of 0.16 us here), for the limits and amp alike. */
static inline void relax(void)
{
    if (g_one_cpu)
        sched_yield();
    else
        cpu_pause();
}

static void pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    if (sched_setaffinity(0, sizeof(s), &s) < 0)
        perror("amp-bench: sched_setaffinity");
}

/* Parent on CPU 0 and child on CPU 1 if we may use both, otherwise both on
 * the first CPU we may use. */
static void pick_cpus(void)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    if (sched_getaffinity(0, sizeof(s), &s) < 0 || !CPU_ISSET(0, &s) || !CPU_ISSET(1, &s)) {
        g_one_cpu = true;
        for (int c = 0; c < CPU_SETSIZE; c++) {
            if (CPU_ISSET(c, &s)) {
                g_cpu[0] = g_cpu[1] = c;
                break;
            }
        }
    }
    pin(g_cpu[0]);
}

static void on_alarm(int sig)
{
    static const char msg[] = "amp-bench: a phase took over 60 s: stuck (or the peer died)\n";
    (void)sig;
    if (write(2, msg, sizeof(msg) - 1) < 0)
        _exit(3);
    _exit(3);
}

/* In a freshly forked child: die with the parent, run on the child's CPU,
 * give up if stuck. */
static void child_init(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    pin(g_cpu[1]);
    alarm(ALARM_S);
}

static pid_t fork_child(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        child_init();
    return pid;
}

/* The child's exit status, or -1 if it did not exit normally. */
static int join(pid_t pid)
{
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static void ctl_reset(void)
{
    atomic_store(&g_ctl->ready, 0);
    atomic_store(&g_ctl->stage, 0);
    atomic_store(&g_ctl->done, 0);
    g_ctl->count = g_ctl->sum = g_ctl->errors = g_ctl->kicks = 0;
    atomic_store(&g_ctl->line, 0);
    atomic_store(&g_ctl->head, 0);
    atomic_store(&g_ctl->tail, 0);
}

static void wait_flag(atomic_uint *f, unsigned v)
{
    while (atomic_load_explicit(f, memory_order_acquire) != v)
        relax();
}

/* ==== Statistics ==== */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* out[0..2] = median, p99, p99.9 of n tick samples, in us. Sorts s. */
static void lat_stats(uint64_t *s, size_t n, double out[3])
{
    static const double q[3] = {0.5, 0.99, 0.999};
    qsort(s, n, sizeof(*s), cmp_u64);
    for (int i = 0; i < 3; i++) {
        size_t k = (size_t)(q[i] * (double)(n - 1) + 0.5);
        out[i] = (double)s[k] * g_ns_per_tick / 1000.0;
    }
}

static double median(const double *v, size_t n)
{
    double t[MAX_RUNS];
    memcpy(t, v, n * sizeof(*v));
    qsort(t, n, sizeof(*t), cmp_dbl);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* Word j of every message; word 0 is the sequence number. */
static uint64_t pattern(size_t j)
{
    return 0x9E3779B97F4A7C15ull * j;
}

/* Sum of every word of messages 0..count-1 of `words` words, mod 2^64. */
static uint64_t pattern_sum(uint64_t count, size_t words)
{
    uint64_t rest = 0;
    for (size_t j = 1; j < words; j++)
        rest += pattern(j);
    uint64_t seqs = count % 2 ? count * ((count - 1) / 2) : (count / 2) * (count - 1);
    return seqs + count * rest;
}

/* ==== Limits ==== */

/* Two processes bounce a counter in one cache line: odd values go to the
 * child, even ones come back. */
static int raw_line(const struct opts *o, uint64_t *s, double out[3])
{
    uint64_t total = (uint64_t)o->rt_busy_warm + o->rt_busy_n;
    atomic_uint_least64_t *line = &g_ctl->line;
    ctl_reset();
    pid_t pid = fork_child();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        for (uint64_t i = 0; i < total; i++) {
            while (atomic_load_explicit(line, memory_order_acquire) != 2 * i + 1)
                relax();
            atomic_store_explicit(line, 2 * i + 2, memory_order_release);
        }
        _exit(0);
    }
    for (uint64_t i = 0; i < total; i++) {
        uint64_t t0 = ticks();
        atomic_store_explicit(line, 2 * i + 1, memory_order_release);
        while (atomic_load_explicit(line, memory_order_acquire) != 2 * i + 2)
            relax();
        uint64_t t1 = ticks();
        if (i >= o->rt_busy_warm)
            s[i - o->rt_busy_warm] = t1 - t0;
    }
    if (join(pid) != 0)
        return -1;
    lat_stats(s, o->rt_busy_n, out);
    return 0;
}

/* Each process blocks in read() on its eventfd and write()s the other's. */
static int raw_eventfd(const struct opts *o, uint64_t *s, double out[3])
{
    uint64_t total = (uint64_t)o->rt_ntf_warm + o->rt_ntf_n, one = 1, v;
    pid_t pid = fork_child();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        for (uint64_t i = 0; i < total; i++) {
            if (read(g_efd[1], &v, sizeof(v)) != sizeof(v) ||
                write(g_efd[0], &one, sizeof(one)) != sizeof(one))
                _exit(1);
        }
        _exit(0);
    }
    int err = 0;
    for (uint64_t i = 0; i < total && !err; i++) {
        uint64_t t0 = ticks();
        if (write(g_efd[1], &one, sizeof(one)) != sizeof(one) ||
            read(g_efd[0], &v, sizeof(v)) != sizeof(v))
            err = -1;
        uint64_t t1 = ticks();
        if (i >= o->rt_ntf_warm)
            s[i - o->rt_ntf_warm] = t1 - t0;
    }
    if (err)
        kill(pid, SIGKILL);
    if (join(pid) != 0 || err)
        return -1;
    lat_stats(s, o->rt_ntf_n, out);
    return 0;
}

/* An SPSC ring of num slots of buf bytes; the parent memcpy's `payload`
 * bytes in, the child memcpy's them out. Each side reads the other's
 * index only when its own copy says the ring is full (empty). out[0] =
 * MB/s, out[1] = million messages/s, timed from the first message after
 * the warm-up until the child has taken the last. */
static int raw_ring(const struct opts *o, double out[3])
{
    uint64_t total = (uint64_t)o->tp_warm + o->tp_n;
    uint32_t mask = o->num - 1, words = o->payload / 8;
    _Alignas(64) uint64_t buf[1024]; /* one slot, --buf <= 8192 */
    ctl_reset();
    pid_t pid = fork_child();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        uint32_t tail = 0, head = 0;
        uint64_t errors = 0;
        for (uint64_t i = 0; i < total; i++, tail++) {
            while (tail == head) {
                head = atomic_load_explicit(&g_ctl->head, memory_order_acquire);
                if (tail == head)
                    relax();
            }
            memcpy(buf, g_ring + (size_t)(tail & mask) * o->buf, o->payload);
            __asm__ volatile("" : : "r"(buf) : "memory"); /* the copy happens */
            if (buf[0] != i)
                errors++;
            atomic_store_explicit(&g_ctl->tail, tail + 1, memory_order_release);
        }
        g_ctl->count = total;
        g_ctl->errors = errors;
        atomic_store_explicit(&g_ctl->done, 1, memory_order_release);
        _exit(errors ? 1 : 0);
    }
    for (uint32_t j = 0; j < words; j++)
        buf[j] = pattern(j);
    uint32_t head = 0, tail = 0;
    uint64_t t0 = 0;
    for (uint64_t i = 0; i < total; i++, head++) {
        if (i == o->tp_warm)
            t0 = ticks();
        while (head - tail == o->num) {
            tail = atomic_load_explicit(&g_ctl->tail, memory_order_acquire);
            if (head - tail == o->num)
                relax();
        }
        buf[0] = i;
        memcpy(g_ring + (size_t)(head & mask) * o->buf, buf, o->payload);
        atomic_store_explicit(&g_ctl->head, head + 1, memory_order_release);
    }
    wait_flag(&g_ctl->done, 1);
    uint64_t t1 = ticks();
    if (join(pid) != 0)
        return -1;
    double s = (double)(t1 - t0) * g_ns_per_tick / 1e9;
    out[0] = (double)o->tp_n * o->payload / s / 1e6;
    out[1] = (double)o->tp_n / s / 1e6;
    out[2] = 0;
    return 0;
}

/* ==== The split-virtqueue protocol floor ==== */

/* The wire format's own cost: a 16-byte message and its echo through two
 * split virtqueues laid out as virtio 1.0 says (desc table, avail ring,
 * used ring at 64-byte alignment) with the 16-byte RPMsg header, each
 * side doing only what the format requires and nothing else: no checks
 * of the peer, no endpoints, no notifications, no locks. One direction
 * (vq1 host -> remote, then vq0 remote -> host) costs:
 *   producer writes desc (len) + buffer (header, payload) + avail entry + avail idx,
 *   consumer reads avail idx + entry + desc + buffer, writes used entry + idx,
 *   the buffer's owner reads used idx + entry.
 * Indices the other side writes are read only when needed, as a shadow
 * copy allows: the remote reads vq0's avail idx when it has used every
 * buffer it knew of, the host reads vq1's used ring when it is out of
 * buffers to send (every `num` messages, a batch). The host posts every
 * vq0 buffer at the start and reposts each after reading it. The remote
 * returns the vq1 buffer after sending its echo, as amp's callback does.
 * While spinning on an index, each side prefetches the entry it will read
 * next (the index and the entry are written together), as amp's vrings do. */
struct fl_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};
struct fl_used_elem {
    uint32_t id, len;
};
struct fl_hdr { /* the RPMsg header */
    uint32_t src, dst, reserved;
    uint16_t len, flags;
};
struct fl_vq {
    volatile struct fl_desc *desc;
    volatile uint16_t *avail; /* flags, idx, ring[num], used_event */
    volatile uint16_t *used;  /* flags, idx, then num used elems from used + 2 */
    uint8_t *bufs;            /* num buffers of o->buf bytes; desc i points at buffer i */
};

/* the barriers amp's vrings use (src/amp_util.h) */
#define fl_rmb() atomic_thread_fence(memory_order_acquire)
#define fl_wmb() atomic_thread_fence(memory_order_release)
#define FL_ALIGN(x) (((x) + 63u) & ~(size_t)63u)

static size_t fl_vq_size(uint32_t num)
{
    return FL_ALIGN(FL_ALIGN(16u * num) + 6u + 2u * num) + FL_ALIGN(6u + 8u * num);
}

static void fl_vq_init(struct fl_vq *q, uint8_t *mem, uint8_t *bufs, uint32_t num, uint32_t buf)
{
    q->desc = (volatile struct fl_desc *)mem;
    q->avail = (volatile uint16_t *)(mem + FL_ALIGN(16u * num));
    q->used = (volatile uint16_t *)(mem + FL_ALIGN(FL_ALIGN(16u * num) + 6u + 2u * num));
    q->bufs = bufs;
    for (uint32_t i = 0; i < num; i++) {
        q->desc[i].addr = (uint64_t)i * buf; /* an offset into bufs: both map it elsewhere */
        q->desc[i].len = buf;
    }
}

static inline volatile struct fl_used_elem *fl_used(struct fl_vq *q, uint16_t i, uint32_t mask)
{
    return (volatile struct fl_used_elem *)(q->used + 2) + (i & mask);
}

static int vq_floor(const struct opts *o, uint64_t *s, double out[3])
{
    const uint32_t num = o->num, mask = num - 1, mlen = sizeof(struct fl_hdr) + RT_LEN;
    uint64_t total = (uint64_t)o->rt_busy_warm + o->rt_busy_n;
    size_t vqs = fl_vq_size(num), size = 2 * vqs + 2 * (size_t)num * o->buf;
    uint8_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return -1;
    struct fl_vq vq0, vq1; /* vq0: remote -> host, vq1: host -> remote */
    fl_vq_init(&vq0, mem, mem + 2 * vqs, num, o->buf);
    fl_vq_init(&vq1, mem + vqs, mem + 2 * vqs + (size_t)num * o->buf, num, o->buf);
    for (uint32_t i = 0; i < num; i++) /* every vq0 buffer posted */
        vq0.avail[2 + i] = (uint16_t)i;
    vq0.avail[1] = (uint16_t)num;

    pid_t pid = fork_child();
    if (pid < 0) {
        munmap(mem, size);
        return -1;
    }
    if (pid == 0) { /* the remote: the device of both queues */
        uint16_t last1 = 0, last0 = 0, shadow0 = 0, used0 = 0, used1 = 0;
        uint64_t errors = 0;
        for (uint64_t i = 0; i < total; i++) {
            while (vq1.avail[1] == last1) { /* avail idx; the entry's line on the way */
                __builtin_prefetch((const void *)&vq1.avail[2 + (last1 & mask)]);
                relax();
            }
            fl_rmb();
            uint16_t id = vq1.avail[2 + (last1++ & mask)] & mask; /* entry */
            uint64_t off = vq1.desc[id].addr;                        /* desc */
            uint32_t len = vq1.desc[id].len;
            uint8_t msg[sizeof(struct fl_hdr) + RT_LEN];
            memcpy(msg, vq1.bufs + off, sizeof(msg)); /* header, payload */
            uint64_t seq;
            memcpy(&seq, msg + sizeof(struct fl_hdr), sizeof(seq));
            if (len != mlen || seq != i)
                errors++;
            while (last0 == shadow0) { /* out of vq0 buffers we know of: read avail idx */
                shadow0 = vq0.avail[1];
                if (last0 == shadow0)
                    relax();
            }
            fl_rmb();
            uint16_t id0 = vq0.avail[2 + (last0++ & mask)] & mask;
            uint64_t off0 = vq0.desc[id0].addr;
            struct fl_hdr *h = (struct fl_hdr *)msg;
            h->src = ADDR_REMOTE;
            h->dst = ADDR_HOST;
            memcpy(vq0.bufs + off0, msg, sizeof(msg));
            fl_used(&vq0, used0, mask)->id = id0;
            fl_used(&vq0, used0, mask)->len = mlen;
            fl_wmb(); /* the echo is out */
            vq0.used[1] = ++used0;
            fl_used(&vq1, used1, mask)->id = id; /* the message's buffer back */
            fl_used(&vq1, used1, mask)->len = 0;
            fl_wmb();
            vq1.used[1] = ++used1;
        }
        _exit(errors ? 1 : 0);
    }

    uint16_t avail1 = 0, avail0 = (uint16_t)num, last_used0 = 0, last_used1 = 0;
    uint64_t sent = 0, back = 0, errors = 0;
    for (uint64_t i = 0; i < total; i++) {
        uint64_t t0 = ticks();
        while (sent - back == num) { /* out of vq1 buffers: reclaim what came back */
            for (uint16_t u = vq1.used[1]; last_used1 != u; last_used1++, back++) {
                fl_rmb();
                if (fl_used(&vq1, last_used1, mask)->id != (back & mask))
                    errors++;
            }
            if (sent - back == num)
                relax();
        }
        uint16_t id = (uint16_t)(sent++ & mask);
        struct fl_hdr h = {ADDR_HOST, ADDR_REMOTE, 0, RT_LEN, 0};
        uint8_t *p = vq1.bufs + (size_t)id * o->buf;
        memcpy(p, &h, sizeof(h));
        memcpy(p + sizeof(h), &i, sizeof(i));
        memset(p + sizeof(h) + sizeof(i), 0, RT_LEN - sizeof(i));
        vq1.desc[id].len = mlen;
        vq1.avail[2 + (avail1 & mask)] = id;
        fl_wmb(); /* desc, buffer and entry before the idx */
        vq1.avail[1] = ++avail1;
        while (vq0.used[1] == last_used0) { /* the echo; its entry's line on the way */
            __builtin_prefetch((const void *)fl_used(&vq0, last_used0, mask));
            relax();
        }
        fl_rmb();
        volatile struct fl_used_elem *e = fl_used(&vq0, last_used0++, mask);
        uint32_t id0 = e->id & mask, len = e->len;
        uint64_t seq;
        memcpy(&seq, vq0.bufs + (size_t)id0 * o->buf + sizeof(struct fl_hdr), sizeof(seq));
        if (len != mlen || seq != i)
            errors++;
        vq0.avail[2 + (avail0 & mask)] = (uint16_t)id0; /* repost */
        fl_wmb();
        vq0.avail[1] = ++avail0;
        uint64_t t1 = ticks();
        if (i >= o->rt_busy_warm)
            s[i - o->rt_busy_warm] = t1 - t0;
    }
    int status = join(pid);
    munmap(mem, size);
    if (status != 0 || errors)
        return -1;
    lat_stats(s, o->rt_busy_n, out);
    return 0;
}

/* ==== amp ==== */

enum amp_kind { K_RT_BUSY, K_RT_NTF, K_TP_COPY, K_TP_ZC };

/* What a side's endpoint callback has seen. */
struct side {
    uint64_t count;  /* messages received */
    uint64_t seq;    /* sequence number expected next */
    uint64_t sum;    /* one-way: every word received, added up */
    uint64_t errors; /* wrong length or sequence, failed echo */
    uint32_t len;    /* expected length */
    bool got;        /* host: the echo is back */
};

/* Remote, round trip: send the message back. */
static int echo_cb(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    struct side *s = priv;
    (void)src;
    if (amp_ept_send(ept, data, len, 0) != (int)len)
        s->errors++;
    s->count++;
    return AMP_RX_DONE;
}

/* Host, round trip: the echo of message s->seq. */
static int rt_cb(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    struct side *s = priv;
    uint64_t seq;
    (void)ept;
    (void)src;
    memcpy(&seq, data, sizeof(seq));
    if (len != RT_LEN || seq != s->seq)
        s->errors++;
    s->seq++;
    s->count++;
    s->got = true;
    return AMP_RX_DONE;
}

/* Remote, one-way: read every byte (add up the words) and count. */
static int sink_cb(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    struct side *s = priv;
    const uint64_t *w = data;
    uint64_t sum = 0;
    (void)ept;
    (void)src;
    for (size_t j = 0; j < len / 8; j++)
        sum += w[j];
    if (len != s->len || w[0] != s->seq)
        s->errors++;
    s->seq++;
    s->sum += sum;
    s->count++;
    return AMP_RX_DONE;
}

/* For --buf other than the default: the fixture starts the link with
 * 512-byte buffers, so take it down on both sides and bring it up again
 * with the size asked for. The remote stops first and starts last. */
static int relink(struct twoproc *tp, const struct opts *o)
{
    if (o->buf == AMP_CFG_RPMSG_BUF_SIZE)
        return 0;
    if (tp->remote) {
        amp_rpmsg_stop(&tp->lb.remote);
        atomic_store(&g_ctl->stage, 1);
        wait_flag(&g_ctl->stage, 2);
        return amp_rpmsg_start(&tp->lb.remote, &tp->lb.rcfg, 10000);
    }
    wait_flag(&g_ctl->stage, 1);
    amp_rpmsg_stop(&tp->lb.host);
    tp->lb.vdev->status = 0;
    tp->lb.hcfg.buf_size = o->buf;
    int err = amp_rpmsg_start(&tp->lb.host, &tp->lb.hcfg, 0);
    atomic_store(&g_ctl->stage, 2);
    return err;
}

static uint64_t amp_total(enum amp_kind k, const struct opts *o)
{
    switch (k) {
    case K_RT_BUSY:
        return (uint64_t)o->rt_busy_warm + o->rt_busy_n;
    case K_RT_NTF:
        return (uint64_t)o->rt_ntf_warm + o->rt_ntf_n;
    default:
        return (uint64_t)o->tp_warm + o->tp_n;
    }
}

/* The child gives up: tell a host waiting for the end. Exit status. */
static int remote_fail(int code)
{
    g_ctl->errors++;
    atomic_store_explicit(&g_ctl->done, 1, memory_order_release);
    return code;
}

/* The child: echo or swallow until every message has come. Exit status. */
static int amp_remote(struct twoproc *tp, enum amp_kind k, const struct opts *o)
{
    static struct amp_ept ept;
    static struct side s;
    struct amp_rpmsg *dev = &tp->lb.remote;
    bool busy = k != K_RT_NTF, rt = k == K_RT_BUSY || k == K_RT_NTF;
    uint64_t total = amp_total(k, o);

    if (relink(tp, o) < 0)
        return remote_fail(90);
    s.len = o->payload;
    if (amp_ept_create(&ept, dev, NULL, ADDR_REMOTE, ADDR_HOST, rt ? echo_cb : sink_cb, &s) < 0)
        return remote_fail(91);
    amp_rpmsg_set_busy_poll(dev, busy);
    atomic_store(&g_ctl->ready, 1);
    while (s.count < total) {
        int n = busy ? amp_rpmsg_poll(dev) : amp_rpmsg_wait(dev, AMP_WAIT_FOREVER);
        if (n < 0 && n != -ETIMEDOUT)
            return remote_fail(92);
        if (n == 0)
            relax();
    }
    g_ctl->count = s.count;
    g_ctl->sum = s.sum;
    g_ctl->errors = s.errors;
    g_ctl->kicks = tp->lp.kicks;
    atomic_store_explicit(&g_ctl->done, 1, memory_order_release);
    return s.errors ? 1 : 0;
}

/* Host, round trips: send message i, wait for its echo, time the pair. */
static int amp_rt(struct amp_rpmsg *dev, struct amp_ept *ept, struct side *s, bool busy,
                  uint64_t warm, uint64_t n, uint64_t *samples)
{
    uint8_t msg[RT_LEN] = {0};
    for (uint64_t i = 0; i < warm + n; i++) {
        memcpy(msg, &i, sizeof(i));
        s->got = false;
        uint64_t t0 = ticks();
        if (amp_ept_send(ept, msg, sizeof(msg), 0) != (int)sizeof(msg))
            return -1;
        while (!s->got) {
            int r = busy ? amp_rpmsg_poll(dev) : amp_rpmsg_wait(dev, AMP_WAIT_FOREVER);
            if (r < 0 && r != -ETIMEDOUT)
                return -1;
            if (r == 0)
                relax();
        }
        uint64_t t1 = ticks();
        if (i >= warm)
            samples[i - warm] = t1 - t0;
    }
    return s->errors ? -1 : 0;
}

/* Host, one-way: `total` messages of `payload` bytes, copied by
 * amp_ept_send or written straight into a buffer from alloc_tx. Returns
 * the ticks from message `warm` until the remote has taken the last. */
static int64_t amp_oneway(struct amp_rpmsg *dev, struct amp_ept *ept, bool zc, uint32_t payload,
                          uint64_t warm, uint64_t total)
{
    _Alignas(64) uint64_t src[1024]; /* one payload, --buf <= 8192 */
    for (uint32_t j = 0; j < payload / 8; j++)
        src[j] = pattern(j);
    uint64_t t0 = 0;
    for (uint64_t i = 0; i < total; i++) {
        if (i == warm)
            t0 = ticks();
        src[0] = i;
        int r;
        if (!zc) {
            while ((r = amp_ept_send(ept, src, payload, 0)) == -EAGAIN)
                relax();
        } else {
            void *p;
            uint32_t cap;
            while ((r = amp_rpmsg_alloc_tx(dev, &p, &cap, 0)) == -EAGAIN)
                relax();
            if (r < 0 || cap < payload)
                return -1;
            memcpy(p, src, payload);
            r = amp_ept_send_nocopy(ept, AMP_ADDR_ANY, p, payload);
        }
        if (r != (int)payload)
            return -1;
    }
    wait_flag(&g_ctl->done, 1);
    return (int64_t)(ticks() - t0);
}

/* Host, one-way: the figure, checked against what the remote counted. */
static int amp_oneway_fig(struct amp_rpmsg *dev, struct amp_ept *ept, enum amp_kind k,
                          const struct opts *o, double out[3])
{
    uint64_t total = amp_total(k, o);
    int64_t t = amp_oneway(dev, ept, k == K_TP_ZC, o->payload, o->tp_warm, total);
    if (t < 0 || g_ctl->count != total || g_ctl->errors ||
        g_ctl->sum != pattern_sum(total, o->payload / 8))
        return -1;
    double sec = (double)t * g_ns_per_tick / 1e9;
    out[0] = (double)o->tp_n * o->payload / sec / 1e6;
    out[1] = (double)o->tp_n / sec / 1e6;
    out[2] = 0;
    return 0;
}

/* One run of one amp figure: fork host and remote over the fixture.
 * Round trips: out = median, p99, p99.9 in us; one-way: MB/s, Mmsg/s. */
static int amp_phase(enum amp_kind k, const struct opts *o, uint32_t features, uint64_t *samples,
                     double out[3])
{
    static struct twoproc tp;
    static struct amp_ept ept;
    static struct side s;
    bool busy = k != K_RT_NTF, rt = k == K_RT_BUSY || k == K_RT_NTF;

    ctl_reset();
    fflush(NULL);
    pid_t pid = tp_fork(&tp, o->num, features, false);
    if (pid < 0)
        return -1;
    if (pid == 0) {
        child_init();
        _exit(amp_remote(&tp, k, o));
    }
    struct amp_rpmsg *dev = &tp.lb.host;
    memset(&s, 0, sizeof(s));
    int err = relink(&tp, o);
    if (!err)
        err = amp_ept_create(&ept, dev, NULL, ADDR_HOST, ADDR_REMOTE, rt_cb, &s);
    bool have_ept = !err;
    if (!err) {
        amp_rpmsg_set_busy_poll(dev, busy);
        while (!atomic_load(&g_ctl->ready) && !atomic_load(&g_ctl->done))
            relax();
        if (!atomic_load(&g_ctl->ready))
            err = -1; /* the remote gave up */
    }
    if (!err && rt) {
        uint64_t warm = k == K_RT_BUSY ? o->rt_busy_warm : o->rt_ntf_warm;
        uint64_t n = k == K_RT_BUSY ? o->rt_busy_n : o->rt_ntf_n;
        err = amp_rt(dev, &ept, &s, busy, warm, n, samples);
        if (!err)
            lat_stats(samples, n, out);
    } else if (!err) {
        err = amp_oneway_fig(dev, &ept, k, o, out);
    }
    if (have_ept)
        amp_ept_destroy(&ept);
    if (!err) {
        wait_flag(&g_ctl->done, 1); /* the remote's count is final */
        g_kicks[0] = (double)tp.lp.kicks;
        g_kicks[1] = (double)g_ctl->kicks;
        g_kicks[2] = (double)amp_total(k, o);
    } else {
        kill(pid, SIGKILL);
    }
    int status = tp_join(&tp);
    return err || status != 0 ? -1 : 0;
}

/* ==== The table ==== */

enum fig {
    F_LINE,
    F_EFD,
    F_RING,
    F_FLOOR,
    F_RT_BUSY,
    F_RT_NTF,
    F_RT_NTF_NOEI,
    F_TP_COPY,
    F_TP_ZC,
    F_COUNT
};

struct figure {
    const char *label;
    const char *key;    /* RESULT name */
    bool rate;          /* throughput (MB/s, Mmsg/s) rather than latency */
    enum fig limit;     /* compared with (F_COUNT: none) */
    double target;      /* latency: ratio at most; rate: ratio at least */
    enum fig limit2;    /* a second comparison (0: none), e.g. the protocol floor */
    double target2;
    bool info;          /* ratio shown, no target */
    double v[MAX_RUNS][3]; /* per run */
    bool got[MAX_RUNS];    /* that run succeeded */
    uint32_t ok;           /* runs that succeeded */
    double med[3];         /* median over the runs */
    double lo, hi;         /* spread of the runs' first figure */
    double paired;         /* median over the runs of that run's ratio to the limit */
    double paired2;        /* the same against limit2 */
};

#define LIMIT(l, k, r) {.label = l, .key = k, .rate = r, .limit = F_COUNT}
#define OURS(l, k, r, lim, t, i) {.label = l, .key = k, .rate = r, .limit = lim, .target = t, .info = i}
#define OURS2(l, k, lim, t, lim2, t2)                                                              \
    {.label = l, .key = k, .limit = lim, .target = t, .limit2 = lim2, .target2 = t2}
static struct figure g_fig[F_COUNT] = {
    [F_LINE] = LIMIT("raw cache-line ping-pong RT", "raw_line_rtt", false),
    [F_EFD] = LIMIT("raw eventfd ping-pong RT", "raw_eventfd_rtt", false),
    [F_RING] = LIMIT("raw SPSC ring, memcpy in/out", "raw_ring", true),
    /* targets from the issues (15: busy-poll RT <= 2.5x the line, <= 1.2x the floor) */
    [F_FLOOR] = OURS("split-vq protocol floor RT, busy", "vq_floor_rtt", false, F_LINE, 0, true),
    [F_RT_BUSY] = OURS2("amp 16-B RT, busy-poll", "amp_rtt_busy", F_LINE, 2.5, F_FLOOR, 1.2),
    [F_RT_NTF] = OURS("amp 16-B RT, eventfd, event-idx", "amp_rtt_notified", false, F_EFD, 1.1,
                      false),
    [F_RT_NTF_NOEI] = OURS("amp 16-B RT, eventfd, no event-idx", "amp_rtt_notified_noei", false,
                           F_EFD, 1.1, true),
    [F_TP_COPY] = OURS("amp one-way, copy (ept_send)", "amp_oneway_copy", true, F_RING, 0.85,
                       false),
    [F_TP_ZC] = OURS("amp one-way, zero-copy", "amp_oneway_zerocopy", true, F_RING, 0.85, false),
};

/* The median over the runs of f's figure / l's in the same run. */
static double paired(const struct figure *f, const struct figure *l, uint32_t runs)
{
    double col[MAX_RUNS];
    uint32_t n = 0;
    for (uint32_t r = 0; r < runs; r++)
        if (f->got[r] && l->got[r] && l->v[r][0] > 0)
            col[n++] = f->v[r][0] / l->v[r][0];
    return n ? median(col, n) : 0;
}

static void summarize(struct figure *f, uint32_t runs)
{
    double col[MAX_RUNS];
    uint32_t n;
    for (int c = 0; c < 3; c++) {
        n = 0;
        for (uint32_t r = 0; r < runs; r++)
            if (f->got[r])
                col[n++] = f->v[r][c];
        f->med[c] = n ? median(col, n) : 0;
    }
    f->lo = f->hi = 0;
    for (uint32_t r = 0, first = 1; r < runs; r++) {
        if (!f->got[r])
            continue;
        f->lo = first || f->v[r][0] < f->lo ? f->v[r][0] : f->lo;
        f->hi = first || f->v[r][0] > f->hi ? f->v[r][0] : f->hi;
        first = 0;
    }
    /* the same ratio run by run: a run's figures are measured seconds
     * apart, so this cancels slow changes of the machine (another load,
     * where the hypervisor put our two vCPUs) */
    f->paired = f->limit == F_COUNT ? 0 : paired(f, &g_fig[f->limit], runs);
    f->paired2 = f->limit2 ? paired(f, &g_fig[f->limit2], runs) : 0;
}

/* --only: is one of its comma-separated words part of f's key? */
static bool selected(const struct opts *o, const struct figure *f)
{
    if (!o->only)
        return true;
    for (const char *w = o->only; *w;) {
        size_t n = strcspn(w, ",");
        for (const char *k = f->key; n && strlen(k) >= n; k++)
            if (!strncmp(k, w, n))
                return true;
        w += n + (w[n] == ',');
    }
    return false;
}

/* ours / limit: above 1 is slower for a latency, below 1 for a rate */
static double ratio_to(const struct figure *f, enum fig lim)
{
    const struct figure *l = &g_fig[lim];
    return l->med[0] > 0 ? f->med[0] / l->med[0] : 0;
}

static double ratio(const struct figure *f)
{
    return ratio_to(f, f->limit);
}

static bool met_at(const struct figure *f, double r, double target)
{
    return f->rate ? r >= target : r > 0 && r <= target;
}

static bool met(const struct figure *f)
{
    return met_at(f, ratio(f), f->target);
}

static void print_table(const struct opts *o, uint32_t features)
{
    char a[32], b[32], c[32], d[32], e[32], sp[32], lim[32], rat[32], pr[32], tgt[32];
    printf("\n%-36s %8s %8s %8s %8s %7s %15s | %11s %7s %7s %7s  %s\n", "figure", "median", "p99",
           "p99.9", "MB/s", "Mmsg/s", "runs min..max", "limit", "ratio", "paired", "target",
           "result");
    printf("%-36s %8s %8s %8s\n", "", "us", "us", "us");
    for (int i = 0; i < 36 + 9 * 4 + 8 + 16 + 3 + 12 + 8 * 3 + 10; i++)
        putchar('-');
    putchar('\n');
    for (int i = 0; i < F_COUNT; i++) {
        struct figure *f = &g_fig[i];
        const char *res = "";
        a[0] = b[0] = c[0] = d[0] = e[0] = sp[0] = lim[0] = rat[0] = pr[0] = tgt[0] = '\0';
        if (!selected(o, f))
            continue;
        if (!f->ok) {
            printf("%-36s %s\n", f->label, "FAILED (see stderr)");
            continue;
        }
        if (f->rate) {
            snprintf(d, sizeof(d), "%.0f", f->med[0]);
            snprintf(e, sizeof(e), "%.2f", f->med[1]);
            snprintf(sp, sizeof(sp), "%.0f..%.0f", f->lo, f->hi);
        } else {
            snprintf(a, sizeof(a), "%.3f", f->med[0]);
            snprintf(b, sizeof(b), "%.3f", f->med[1]);
            snprintf(c, sizeof(c), "%.3f", f->med[2]);
            snprintf(sp, sizeof(sp), "%.3f..%.3f", f->lo, f->hi);
        }
        if (f->limit != F_COUNT && g_fig[f->limit].ok) {
            const struct figure *l = &g_fig[f->limit];
            if (f->rate)
                snprintf(lim, sizeof(lim), "%.0f MB/s", l->med[0]);
            else
                snprintf(lim, sizeof(lim), "%.3f us", l->med[0]);
            snprintf(rat, sizeof(rat), "%.3fx", ratio(f));
            snprintf(pr, sizeof(pr), "%.3fx", f->paired);
            snprintf(tgt, sizeof(tgt), "%s%.2fx", f->rate ? ">=" : "<=", f->target);
            res = f->info ? "(info)" : met(f) ? "met" : "NOT MET";
        }
        printf("%-36s %8s %8s %8s %8s %7s %15s | %11s %7s %7s %7s  %s\n", f->label, a, b, c, d, e,
               sp, lim, rat, pr, tgt, res);
        if (f->limit2 && g_fig[f->limit2].ok) { /* the same figure against a second limit */
            const struct figure *l = &g_fig[f->limit2];
            double r2 = ratio_to(f, f->limit2);
            snprintf(lim, sizeof(lim), "%.3f us", l->med[0]);
            snprintf(rat, sizeof(rat), "%.3fx", r2);
            snprintf(pr, sizeof(pr), "%.3fx", f->paired2);
            snprintf(tgt, sizeof(tgt), "<=%.2fx", f->target2);
            printf("%-36s %8s %8s %8s %8s %7s %15s | %11s %7s %7s %7s  %s\n", "  ... against the protocol floor",
                   "", "", "", "", "", "", lim, rat, pr, tgt,
                   met_at(f, r2, f->target2) ? "met" : "NOT MET");
        }
    }
    printf("\nRT = round trip of a 16-byte message; one-way and ring messages carry %u bytes.\n",
           o->payload);
    printf("Each figure: median over %u runs of that run's median (p99, p99.9, rate); "
           "\"runs\" is the spread of the\nper-run medians. ratio = amp / limit, from the "
           "medians (the result is judged on it);\npaired = median of the per-run ratios. "
           "features: NS%s (last RT line: NS only).\n",
           o->runs, features & (1u << AMP_VIRTIO_F_EVENT_IDX) ? " | EVENT_IDX" : "");

    printf("\n");
    for (int i = 0; i < F_COUNT; i++) {
        struct figure *f = &g_fig[i];
        if (!f->ok)
            continue;
        if (f->rate) {
            printf("RESULT %s_mbps %.1f MB/s\n", f->key, f->med[0]);
            printf("RESULT %s_mmsgps %.3f Mmsg/s\n", f->key, f->med[1]);
        } else {
            printf("RESULT %s_median %.3f us\n", f->key, f->med[0]);
            printf("RESULT %s_p99 %.3f us\n", f->key, f->med[1]);
            printf("RESULT %s_p999 %.3f us\n", f->key, f->med[2]);
        }
        if (f->limit != F_COUNT && g_fig[f->limit].ok) {
            printf("RESULT %s_ratio %.3f x\n", f->key, ratio(f));
            printf("RESULT %s_ratio_paired %.3f x\n", f->key, f->paired);
        }
        if (f->limit2 && g_fig[f->limit2].ok) {
            printf("RESULT %s_floor_ratio %.3f x\n", f->key, ratio_to(f, f->limit2));
            printf("RESULT %s_floor_ratio_paired %.3f x\n", f->key, f->paired2);
        }
    }
}

/* ==== Main ==== */

static void usage(FILE *to)
{
    fprintf(to, "usage: amp-bench [--quick] [--num N] [--buf N] [--runs N] [--only KEY] [-v]\n"
                "  --quick   fewer samples and 3 runs (CI smoke run, a few seconds)\n"
                "  --num N   vring entries, a power of two, 2..256 (default 256)\n"
                "  --buf N   buffer size in bytes, a multiple of 8, >= 32 (default 512)\n"
                "  --runs N  repetitions of every figure, 1..%d (default 5, --quick 3)\n"
                "  --only K  run only the figures whose RESULT name contains K, or one of\n"
                "            the comma-separated words in K (profiling)\n"
                "  -v        print every run's figures on stderr\n",
            MAX_RUNS);
}

static bool parse_u32(const char *s, uint32_t *v)
{
    char *end;
    errno = 0;
    unsigned long x = s ? strtoul(s, &end, 0) : 0;
    if (!s || errno || *end || end == s || x > UINT32_MAX)
        return false;
    *v = (uint32_t)x;
    return true;
}

static int parse(int argc, char **argv, struct opts *o)
{
    bool quick = false;
    uint32_t runs = 0;
    o->num = 256;
    o->buf = AMP_CFG_RPMSG_BUF_SIZE;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--quick")) {
            quick = true;
        } else if (!strcmp(arg, "--num") && i + 1 < argc && parse_u32(argv[i + 1], &o->num)) {
            i++;
        } else if (!strcmp(arg, "--buf") && i + 1 < argc && parse_u32(argv[i + 1], &o->buf)) {
            i++;
        } else if (!strcmp(arg, "--runs") && i + 1 < argc && parse_u32(argv[i + 1], &runs)) {
            i++;
        } else if (!strcmp(arg, "--verbose") || !strcmp(arg, "-v")) {
            o->verbose = true;
        } else if (!strcmp(arg, "--only") && i + 1 < argc) {
            o->only = argv[++i];
        } else if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            exit(0);
        } else {
            usage(stderr);
            return -1;
        }
    }
    /* the fixture has slots for 256 entries and a 448 KiB buffer pool */
    if (o->num < 2 || o->num > 256 || (o->num & (o->num - 1))) {
        fprintf(stderr, "amp-bench: --num must be a power of two in 2..256\n");
        return -1;
    }
    if (o->buf < 32 || o->buf % 8 || o->buf > 8192 ||
        (LB_SHM_SIZE - 65536u) / o->buf < o->num + 1) {
        fprintf(stderr, "amp-bench: --buf must be a multiple of 8 in 32..8192, and %u+1 "
                        "buffers must fit in %u bytes\n",
                o->num, LB_SHM_SIZE - 65536u);
        return -1;
    }
    o->payload = o->buf - AMP_RPMSG_HDR_SIZE;
    o->runs = runs ? runs : quick ? 3 : 5;
    if (o->runs > MAX_RUNS) {
        fprintf(stderr, "amp-bench: --runs must be 1..%d\n", MAX_RUNS);
        return -1;
    }
    o->rt_busy_n = quick ? 20000 : 200000;
    o->rt_busy_warm = o->rt_busy_n / 10;
    o->rt_ntf_n = quick ? 5000 : 50000;
    o->rt_ntf_warm = o->rt_ntf_n / 10;
    o->tp_n = quick ? 200000 : 2000000;
    o->tp_warm = o->tp_n / 20;
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    if (parse(argc, argv, &o) < 0)
        return 2;
    const uint32_t features = (1u << AMP_RPMSG_F_NS) | (1u << AMP_VIRTIO_F_EVENT_IDX);

    signal(SIGALRM, on_alarm);
    pick_cpus();
    calibrate();
    int fd;
    size_t shm_size = CTL_SIZE + (size_t)o.num * o.buf;
    uint8_t *shm = amp_linux_shm_create("amp-bench", shm_size, &fd);
    g_efd[0] = eventfd(0, EFD_CLOEXEC);
    g_efd[1] = eventfd(0, EFD_CLOEXEC);
    uint64_t *samples = malloc(sizeof(uint64_t) * (o.rt_busy_n > o.rt_ntf_n ? o.rt_busy_n : o.rt_ntf_n));
    if (!shm || g_efd[0] < 0 || g_efd[1] < 0 || !samples) {
        perror("amp-bench: setup");
        return 1;
    }
    g_ctl = (struct ctl *)shm;
    g_ring = shm + CTL_SIZE;

    printf("amp-bench: vring num %u, buffer %u B (payload %u B), %u run%s%s\n", o.num, o.buf,
           o.payload, o.runs, o.runs > 1 ? "s" : "", o.runs > 1 ? ", median of runs" : "");
    if (g_one_cpu)
        printf("NOTE: CPUs 0 and 1 are not both available: both processes run on CPU %d; "
               "busy-poll figures are meaningless\n",
               g_cpu[0]);
    else
        printf("parent (host, producer) on CPU %d, child (remote, consumer) on CPU %d\n", g_cpu[0],
               g_cpu[1]);
    printf("clock: %s, %.1f MHz against CLOCK_MONOTONIC\n", CLOCK_NAME, 1000.0 / g_ns_per_tick);
    printf("samples per run: %u busy-poll RT, %u notified RT, %u one-way messages\n", o.rt_busy_n,
           o.rt_ntf_n, o.tp_n);

    int failures = 0;
    for (uint32_t r = 0; r < o.runs; r++) {
        fprintf(stderr, "amp-bench: run %u/%u\n", r + 1, o.runs);
        for (int i = 0; i < F_COUNT; i++) {
            struct figure *f = &g_fig[i];
            double *out = f->v[r];
            int err;
            if (!selected(&o, f))
                continue;
            alarm(ALARM_S);
            switch ((enum fig)i) {
            case F_LINE:
                err = raw_line(&o, samples, out);
                break;
            case F_EFD:
                err = raw_eventfd(&o, samples, out);
                break;
            case F_RING:
                err = raw_ring(&o, out);
                break;
            case F_FLOOR:
                err = vq_floor(&o, samples, out);
                break;
            case F_RT_BUSY:
                err = amp_phase(K_RT_BUSY, &o, features, samples, out);
                break;
            case F_RT_NTF:
                err = amp_phase(K_RT_NTF, &o, features, samples, out);
                break;
            case F_RT_NTF_NOEI:
                err = amp_phase(K_RT_NTF, &o, 1u << AMP_RPMSG_F_NS, samples, out);
                break;
            case F_TP_COPY:
                err = amp_phase(K_TP_COPY, &o, features, samples, out);
                break;
            case F_TP_ZC:
                err = amp_phase(K_TP_ZC, &o, features, samples, out);
                break;
            default:
                err = -1;
                break;
            }
            alarm(0);
            if (err) {
                fprintf(stderr, "amp-bench: run %u: %s failed\n", r + 1, f->label);
                failures++;
            } else {
                if (o.verbose)
                    fprintf(stderr, "amp-bench: run %u: %-36s %10.3f %10.3f %10.3f\n", r + 1,
                            f->label, out[0], out[1], out[2]);
                if (o.verbose && g_kicks[0] >= 0)
                    fprintf(stderr, "amp-bench:        notifications: host %.0f, remote %.0f, "
                                    "for %.0f messages\n",
                            g_kicks[0], g_kicks[1], g_kicks[2]);
                g_kicks[0] = g_kicks[1] = -1;
                f->got[r] = true;
                f->ok++;
            }
        }
    }
    for (int i = 0; i < F_COUNT; i++)
        summarize(&g_fig[i], o.runs);
    print_table(&o, features);

    free(samples);
    close(g_efd[0]);
    close(g_efd[1]);
    munmap(shm, shm_size);
    close(fd);
    return failures ? 1 : 0;
}
