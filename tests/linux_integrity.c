/*
 * linux_integrity.c - a million messages each way at once between two
 * processes, none lost, duplicated, reordered or corrupted.
 *
 * Every message has a length drawn from a generator both sides know (0 to
 * the max payload, by sequence number and direction), so a receiver knows
 * what the next message must look like. From 8 bytes up a message is
 *
 *     seq u32 | fnv u32 | payload (pseudo-random)
 *
 * with fnv a 32-bit FNV-1a of the length, the sequence number and the
 * payload. Shorter messages are that layout cut short (len 0 carries only
 * its length). The receiver counts, per direction, messages received,
 * sequence numbers out of place (lost, duplicated or reordered), bad
 * lengths and bad checksums; all but the first must be zero.
 *
 * The host (parent) uses the threaded port: a poller thread receives, the
 * main thread sends with blocking sends. The remote (child) is one thread
 * interleaving non-blocking sends with amp_rpmsg_poll/amp_rpmsg_wait.
 * AMP_INTEGRITY_COUNT sets the count per direction (default 1000000).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <time.h>

#include "amp_test.h"
#include "twoproc.h"

#define NUM 256 /* entries per vring: 256 rx and 256 tx buffers */
#define H2R 0u
#define R2H 1u
#define HOST_ADDR 0x401u
#define REMOTE_ADDR 0x400u

static uint32_t count_from_env(void)
{
    const char *s = getenv("AMP_INTEGRITY_COUNT");
    long v = s ? strtol(s, NULL, 10) : 0;
    return v > 0 ? (uint32_t)v : 1000000u;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the message format ---- */

static uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* Length of message `seq` in direction `dir`: 0 .. max inclusive. */
static uint32_t msg_len(uint32_t dir, uint32_t seq, uint32_t max)
{
    return mix32(seq * 2u + dir + 0x9e3779b9u) % (max + 1);
}

static uint32_t fnv_step(uint32_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

/* FNV-1a of (len u16, seq u32, payload). */
static uint32_t msg_sum(uint32_t len, uint32_t seq, const uint8_t *payload, size_t n)
{
    uint8_t head[6] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)seq, (uint8_t)(seq >> 8),
                       (uint8_t)(seq >> 16), (uint8_t)(seq >> 24)};
    return fnv_step(fnv_step(2166136261u, head, sizeof(head)), payload, n);
}

/* Build message seq of direction dir into buf; returns its length. */
static uint32_t msg_build(uint8_t *buf, uint32_t dir, uint32_t seq, uint32_t max)
{
    uint32_t len = msg_len(dir, seq, max);
    uint8_t full[8];
    if (len > 8) {
        uint64_t x = ((uint64_t)seq << 1 | dir) * 0x9e3779b97f4a7c15ull + 1;
        for (uint32_t i = 8; i < len; i += 8) {
            x ^= x << 13; /* xorshift64 */
            x ^= x >> 7;
            x ^= x << 17;
            uint32_t n = len - i < 8 ? len - i : 8;
            memcpy(buf + i, &x, n);
        }
    }
    uint32_t sum = msg_sum(len, seq, buf + 8, len > 8 ? len - 8 : 0);
    memcpy(full, &seq, 4);
    memcpy(full + 4, &sum, 4);
    memcpy(buf, full, len < 8 ? len : 8);
    return len;
}

struct verdict {
    uint32_t received;
    uint32_t bad_seq; /* lost, duplicated or reordered */
    uint32_t bad_len;
    uint32_t bad_sum;
    uint32_t next;    /* the sequence number expected next */
    uint32_t max;     /* max payload */
    uint32_t dir;
};

/* Check one received message against what must come next. */
static void msg_check(struct verdict *v, const uint8_t *p, size_t len)
{
    uint32_t want = v->next;
    v->received++;
    if (len >= 8) {
        uint32_t seq, sum;
        memcpy(&seq, p, 4);
        memcpy(&sum, p + 4, 4);
        if (seq != want) {
            v->bad_seq++;
            want = seq; /* resynchronise, so one loss counts once */
        }
        if (len != msg_len(v->dir, want, v->max))
            v->bad_len++;
        if (sum != msg_sum((uint32_t)len, seq, p + 8, len - 8))
            v->bad_sum++;
    } else {
        uint8_t ref[16]; /* len < 8 here; 16 for gcc -O3, which cannot see it in msg_build */
        if (len != msg_len(v->dir, want, v->max))
            v->bad_len++;
        else if (msg_build(ref, v->dir, want, v->max) != len || memcmp(ref, p, len) != 0)
            v->bad_sum++;
    }
    v->next = want + 1;
}

static int verdict_cb(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    struct verdict *v = priv;
    (void)ept;
    if (src != (v->dir == H2R ? HOST_ADDR : REMOTE_ADDR))
        v->bad_seq++; /* not from the peer's endpoint: count as out of place */
    msg_check(v, data, len);
    return AMP_RX_DONE;
}

/* ---- the remote: one thread, non-blocking sends between polls ---- */

struct remote_report {
    struct verdict rx;
    uint32_t sent;
    uint32_t send_errors; /* anything but len or -EAGAIN */
    uint32_t poll_errors;
    uint32_t starved;     /* short waits for a send buffer */
    uint32_t stalls;      /* long waits with nothing coming */
    double seconds;
};

static void run_remote(struct twoproc *tp, uint32_t n, int report_fd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(300);
    /* the remote is single-threaded: swap the port to that mode (the
     * device only keeps a pointer to it) */
    amp_linux_port_destroy(&tp->lp);
    amp_linux_port_init(&tp->lp, tp->to_host, tp->to_remote, false);
    struct amp_rpmsg *dev = tp_dev(tp);
    static struct remote_report rep;
    static uint8_t buf[512];
    memset(&rep, 0, sizeof(rep));
    rep.rx.dir = H2R;
    rep.rx.max = amp_rpmsg_max_payload(dev);
    struct amp_ept ept;
    if (amp_ept_create(&ept, dev, NULL, REMOTE_ADDR, HOST_ADDR, verdict_cb, &rep.rx) < 0)
        _exit(2);
    double t0 = now_s();
    uint32_t len = msg_build(buf, R2H, 0, rep.rx.max);
    while (rep.sent < n || rep.rx.received < n) {
        int progress = 0;
        bool starved = false;
        for (int burst = 0; rep.sent < n && burst < 64; burst++) {
            int r = amp_ept_send(&ept, buf, len, 0);
            if (r == -EAGAIN) {
                starved = true;
                break;
            }
            if (r != (int)len) {
                rep.send_errors++;
                if (rep.send_errors > 100)
                    goto out;
                break;
            }
            progress++;
            if (++rep.sent < n)
                len = msg_build(buf, R2H, rep.sent, rep.rx.max);
        }
        int got = amp_rpmsg_poll(dev);
        if (got < 0) {
            rep.poll_errors++;
            goto out;
        }
        if (progress || got)
            continue;
        if (starved) {
            /* wait() wakes us for received messages only; a returned send
             * buffer does not ring, so sleep briefly */
            rep.starved++;
            amp_rpmsg_wait(dev, 1);
        } else if (amp_rpmsg_wait(dev, 2000) == -ETIMEDOUT) {
            rep.stalls++; /* messages are due: a lost notification */
            if (rep.stalls > 10)
                goto out;
        }
    }
out:
    rep.seconds = now_s() - t0;
    if (write(report_fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
        _exit(3);
    _exit(0);
}

/* ---- the host: a poller thread and the sending main thread ---- */

struct host {
    struct twoproc *tp;
    struct amp_rpmsg *dev;
    struct verdict rx;    /* written by the poller only */
    atomic_uint received; /* rx.received, for the main thread */
    atomic_bool stop;
    atomic_int poll_errors;
    atomic_int stalls;    /* doorbell waits that timed out with messages due */
    uint32_t n;           /* messages due */
    bool poll_once;       /* AMP_INTEGRITY_POLL_ONCE: one poll per doorbell */
};

static int host_cb(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    struct host *h = priv;
    int r = verdict_cb(ept, data, len, src, &h->rx);
    atomic_store(&h->received, h->rx.received);
    return r;
}

/* The poller: sleep on the doorbell, then poll until a poll finds
 * nothing. amp_rpmsg_poll() stops after about two rings' worth, and when
 * it stops there with messages left no notification will announce them
 * (with event-idx the peer has passed the index we asked to be told
 * about), so one poll per doorbell, as amp_linux.h describes the loop,
 * can sleep with work waiting: AMP_INTEGRITY_POLL_ONCE=1 shows it as
 * stalls of the doorbell timeout. A poll that handled nothing has re-armed
 * the notification, so sleeping after it is safe. */
static void *host_poller(void *arg)
{
    struct host *h = arg;
    while (!atomic_load(&h->stop)) {
        int err = amp_linux_doorbell_wait(h->tp->lp.wait_fd, 1000);
        if (err == -ETIMEDOUT && atomic_load(&h->received) < h->n && !atomic_load(&h->stop))
            atomic_fetch_add(&h->stalls, 1); /* the remote never goes quiet for a second */
        else if (err && err != -ETIMEDOUT)
            atomic_fetch_add(&h->poll_errors, 1);
        int n;
        do {
            n = amp_rpmsg_poll(h->dev);
            amp_linux_port_wake(&h->tp->lp); /* buffers may have come back */
        } while (n > 0 && !h->poll_once);
        if (n < 0)
            atomic_fetch_add(&h->poll_errors, 1);
    }
    return NULL;
}

static void test_integrity_million_each_way_at_once(void)
{
    uint32_t n = count_from_env();
    struct twoproc tp;
    int rep_pipe[2];
    CHECK_EQ(pipe(rep_pipe), 0);
    fflush(stdout);
    pid_t pid = tp_fork(&tp, NUM, (1u << AMP_RPMSG_F_NS) | (1u << AMP_VIRTIO_F_EVENT_IDX), true);
    CHECK(pid >= 0);
    if (pid < 0)
        return;
    if (pid == 0) {
        close(rep_pipe[0]);
        run_remote(&tp, n, rep_pipe[1]);
    }
    close(rep_pipe[1]);
    alarm(600); /* the default action kills us; ctest reports it */

    static struct host h;
    memset(&h, 0, sizeof(h));
    h.tp = &tp;
    h.dev = tp_dev(&tp);
    h.rx.dir = R2H;
    h.rx.max = amp_rpmsg_max_payload(h.dev);
    h.n = n;
    h.poll_once = getenv("AMP_INTEGRITY_POLL_ONCE") && atoi(getenv("AMP_INTEGRITY_POLL_ONCE"));
    CHECK_EQ(h.rx.max, 496);
    struct amp_ept ept;
    CHECK_EQ(amp_ept_create(&ept, h.dev, NULL, HOST_ADDR, REMOTE_ADDR, host_cb, &h), 0);
    pthread_t poller;
    CHECK_EQ(pthread_create(&poller, NULL, host_poller, &h), 0);

    double t0 = now_s();
    static uint8_t buf[512];
    uint32_t sent = 0, send_errors = 0;
    for (; sent < n; sent++) {
        uint32_t len = msg_build(buf, H2R, sent, h.rx.max);
        int r = amp_ept_send(&ept, buf, len, AMP_WAIT_FOREVER);
        if (r != (int)len) {
            send_errors++;
            break;
        }
    }
    double t_sent = now_s() - t0;

    /* every message from the remote, within a minute of the last send */
    struct amp_linux_port *lp = &tp.lp;
    double end = now_s() + 60;
    amp_linux_lock(lp);
    while (atomic_load(&h.received) < n && now_s() < end)
        amp_linux_wait(lp, 1000);
    amp_linux_unlock(lp);
    double t_host = now_s() - t0;

    struct remote_report rep;
    memset(&rep, 0, sizeof(rep));
    CHECK_EQ(read(rep_pipe[0], &rep, sizeof(rep)), sizeof(rep));
    close(rep_pipe[0]);

    /* both sides idle: stop the poller, take what is left, count buffers */
    uint64_t one = 1;
    atomic_store(&h.stop, true);
    CHECK_EQ(write(lp->wait_fd, &one, sizeof(one)), sizeof(one));
    pthread_join(poller, NULL);
    CHECK(amp_rpmsg_poll(h.dev) >= 0);
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(h.dev, &st);

    double t_all = t_host > rep.seconds ? t_host : rep.seconds;
    printf("     %u messages each way in %.2f s: %.0f msgs/s total, %.1f MB/s payload\n"
           "     host sent in %.2f s; remote %.2f s, starved %u times; stalls: host %d, remote %u;"
           " %" PRIu64 " host kicks\n",
           n, t_all, 2.0 * n / t_all, 2.0 * n * 248 / t_all / 1e6, t_sent, rep.seconds,
           rep.starved, atomic_load(&h.stalls), rep.stalls, tp.lp.kicks);
    printf("     host rx: %u received, %u bad seq, %u bad len, %u bad sum\n", h.rx.received,
           h.rx.bad_seq, h.rx.bad_len, h.rx.bad_sum);
    printf("     remote rx: %u received, %u bad seq, %u bad len, %u bad sum\n", rep.rx.received,
           rep.rx.bad_seq, rep.rx.bad_len, rep.rx.bad_sum);

    CHECK_EQ(sent, n);
    CHECK_EQ(send_errors, 0);
    CHECK_EQ(atomic_load(&h.poll_errors), 0);
    CHECK_EQ(atomic_load(&h.stalls), 0);
    CHECK_EQ(h.rx.received, n);
    CHECK_EQ(h.rx.bad_seq, 0);
    CHECK_EQ(h.rx.bad_len, 0);
    CHECK_EQ(h.rx.bad_sum, 0);
    CHECK_EQ(h.rx.next, n);
    CHECK_EQ(rep.sent, n);
    CHECK_EQ(rep.send_errors, 0);
    CHECK_EQ(rep.poll_errors, 0);
    CHECK_EQ(rep.stalls, 0);
    CHECK_EQ(rep.rx.received, n);
    CHECK_EQ(rep.rx.bad_seq, 0);
    CHECK_EQ(rep.rx.bad_len, 0);
    CHECK_EQ(rep.rx.bad_sum, 0);
    CHECK_EQ(rep.rx.next, n);

    /* buffer accounting on the host */
    CHECK_EQ(st.rx_held, 0);
    CHECK_EQ(st.tx_held, 0);
    CHECK_EQ(st.tx_total, NUM);
    CHECK_EQ(st.tx_free, st.tx_total);
    CHECK_EQ(st.rx_queued, NUM);
    CHECK_EQ(st.tx_queued, 0);
    CHECK_EQ(st.ring_errors + st.msg_errors + st.dropped, 0);
    CHECK_EQ(st.rx, n);
    CHECK_EQ(st.tx, n);
    CHECK_EQ(tp_join(&tp), 0);
    alarm(0);
}

/* The generator and checker agree with themselves, and a flipped bit,
 * a skipped or repeated message is caught (so the big test can fail). */
static void test_integrity_checker_catches_damage(void)
{
    uint8_t b[512];
    struct verdict v = {.max = 496, .dir = H2R};
    for (uint32_t s = 0; s < 2000; s++) {
        uint32_t len = msg_build(b, H2R, s, 496);
        msg_check(&v, b, len);
    }
    CHECK_EQ(v.received, 2000);
    CHECK_EQ(v.bad_seq + v.bad_len + v.bad_sum, 0);
    uint32_t seen0 = 0, seen_max = 0, small = 0;
    for (uint32_t s = 0; s < 200000; s++) {
        uint32_t len = msg_len(H2R, s, 496);
        seen0 += len == 0;
        seen_max += len == 496;
        small += len < 8;
    }
    CHECK(seen0 > 0 && seen_max > 0 && small > 0); /* the whole range occurs */

    struct verdict w = {.max = 496, .dir = H2R};
    uint32_t s = 0, len;
    do /* a long one, with a bit flipped */
        len = msg_build(b, H2R, s++, 496);
    while (len < 100);
    w.next = s - 1;
    b[len - 1] ^= 0x10;
    msg_check(&w, b, len);
    CHECK_EQ(w.bad_sum, 1);
    len = msg_build(b, H2R, w.next + 1, 496); /* one skipped */
    msg_check(&w, b, len);
    len = msg_build(b, H2R, w.next - 1, 496); /* one repeated */
    msg_check(&w, b, len);
    CHECK(w.bad_seq + w.bad_len + w.bad_sum >= 3);
}

AMP_TEST_MAIN(TEST(test_integrity_checker_catches_damage),
              TEST(test_integrity_million_each_way_at_once))
