/*
 * linux_twoproc.c - host and remote in two processes, over a memfd window
 * and eventfd doorbells with the Linux port (twoproc.h): binding by
 * announcement and from the new-service callback, NS destroy, send
 * timeouts on the wall clock, zero-copy both ways, and a blocking
 * ping-pong that must wake for every message, with and without event-idx,
 * in both port modes.
 *
 * The parent is the host, the forked child the remote. The child records
 * failed CHECKs in its own copy of the harness counters and reports them
 * through its exit status, which the parent checks. Every process arms a
 * watchdog, so a lost notification fails the test instead of hanging it.
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

#define F_NS (1u << AMP_RPMSG_F_NS)
#define F_EVIDX (1u << AMP_VIRTIO_F_EVENT_IDX)

/* ---- processes and clocks ---- */

static volatile pid_t watched_child; /* killed by the parent's watchdog */

static void on_alarm(int sig)
{
    static const char msg[] = "watchdog: test took too long\n";
    (void)sig;
    if (write(2, msg, sizeof(msg) - 1) < 0) {
        /* nothing to do: we are going down anyway */
    }
    if (watched_child > 0)
        kill(watched_child, SIGKILL);
    _exit(3);
}

/* Parent: fail the whole run if one test hangs. */
static void parent_watchdog(unsigned seconds)
{
    signal(SIGALRM, on_alarm);
    alarm(seconds);
}

/* Child: die with the parent, and on our own after `seconds`. */
static void child_watchdog(unsigned seconds)
{
    watched_child = 0;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGALRM, SIG_DFL);
    alarm(seconds);
}

/* Child: the exit status is the verdict of our CHECKs. */
static void child_exit(void)
{
    fflush(stderr);
    _exit(amp_test_fails ? 1 : 0);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static pid_t fork_tp(struct twoproc *tp, uint32_t num, uint32_t features, bool threaded)
{
    fflush(stdout); /* the child must not inherit unflushed output */
    pid_t pid = tp_fork(tp, num, features, threaded);
    if (pid > 0)
        watched_child = pid;
    return pid;
}

static int join_tp(struct twoproc *tp)
{
    int st = tp_join(tp);
    watched_child = 0;
    return st;
}

/* ---- a receiving endpoint that records what it got ---- */

#define INBOX_MAX 64

struct inbox {
    atomic_int count;
    uint32_t src[INBOX_MAX];
    size_t len[INBOX_MAX];
    uint8_t data[INBOX_MAX][512];
    void *ptr[INBOX_MAX];
    int ret; /* what the callback returns */
    atomic_int unbinds;
    atomic_uint last; /* first 4 bytes of the last message */
};

static int inbox_cb(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    struct inbox *in = priv;
    int i = atomic_load(&in->count);
    (void)ept;
    if (i < INBOX_MAX) {
        in->src[i] = src;
        in->len[i] = len;
        memcpy(in->data[i], data, len < 512 ? len : 512);
        in->ptr[i] = data;
    }
    if (len >= 4) {
        uint32_t v;
        memcpy(&v, data, 4);
        atomic_store(&in->last, v);
    }
    atomic_store(&in->count, i + 1);
    return in->ret;
}

static void inbox_unbind(struct amp_ept *ept)
{
    atomic_fetch_add(&((struct inbox *)ept->priv)->unbinds, 1);
}

/* Single-threaded port: run the device until *flag reaches `want` or
 * ms pass. Returns whether it did. */
static bool pump_until(struct amp_rpmsg *dev, atomic_int *flag, int want, int ms)
{
    double end = now_s() + ms / 1000.0;
    while (atomic_load(flag) < want) {
        double left = end - now_s();
        if (left <= 0)
            return false;
        int n = amp_rpmsg_wait(dev, (int32_t)(left * 1000) + 1);
        if (n < 0 && n != -ETIMEDOUT)
            return false;
    }
    return true;
}

/* The same, until an endpoint is bound both ways. */
static bool pump_until_ready(struct amp_rpmsg *dev, struct amp_ept *ept, int ms)
{
    double end = now_s() + ms / 1000.0;
    while (!amp_ept_is_ready(ept)) {
        double left = end - now_s();
        if (left <= 0)
            return false;
        int n = amp_rpmsg_wait(dev, (int32_t)(left * 1000) + 1);
        if (n < 0 && n != -ETIMEDOUT)
            return false;
    }
    return true;
}

static void pipe_put(int fd, uint32_t v)
{
    CHECK_EQ(write(fd, &v, sizeof(v)), sizeof(v));
}

static uint32_t pipe_get(int fd)
{
    uint32_t v = 0;
    CHECK_EQ(read(fd, &v, sizeof(v)), sizeof(v));
    return v;
}

/* ---- binding ---- */

static void test_twoproc_announce_binds_both_ways(void)
{
    parent_watchdog(30);
    int go[2];
    CHECK_EQ(pipe(go), 0);
    struct twoproc tp;
    static struct inbox in; /* static: large; each process has its own copy */
    memset(&in, 0, sizeof(in));
    pid_t pid = fork_tp(&tp, 64, F_NS | F_EVIDX, false);
    CHECK(pid >= 0);
    if (pid < 0)
        return;
    if (pid == 0) {
        child_watchdog(20);
        struct amp_rpmsg *dev = tp_dev(&tp);
        struct amp_ept r;
        pipe_get(go[0]); /* the host's endpoint exists and has announced */
        CHECK_EQ(amp_ept_create(&r, dev, "twoproc-svc", AMP_ADDR_ANY, AMP_ADDR_ANY, inbox_cb, &in), 0);
        CHECK(pump_until_ready(dev, &r, 5000)); /* bound by the host's announcement */
        CHECK_EQ(amp_ept_send(&r, "ping", 4, 1000), 4);
        CHECK(pump_until(dev, &in.count, 1, 5000));
        CHECK_EQ(in.len[0], 4);
        CHECK_MEM(in.data[0], "pong", 4);
        CHECK_EQ(in.src[0], r.dest);
        child_exit();
    }
    struct amp_ept h;
    struct amp_rpmsg *dev = tp_dev(&tp);
    CHECK_EQ(amp_ept_create(&h, dev, "twoproc-svc", AMP_ADDR_ANY, AMP_ADDR_ANY, inbox_cb, &in), 0);
    CHECK(!amp_ept_is_ready(&h));
    pipe_put(go[1], 1);
    CHECK(pump_until_ready(dev, &h, 5000)); /* bound by the remote's announcement */
    CHECK(pump_until(dev, &in.count, 1, 5000));
    CHECK_EQ(in.len[0], 4);
    CHECK_MEM(in.data[0], "ping", 4);
    CHECK_EQ(in.src[0], h.dest);
    CHECK(h.addr >= AMP_RPMSG_ADDR_RESERVED && h.dest >= AMP_RPMSG_ADDR_RESERVED);
    CHECK_EQ(amp_ept_send(&h, "pong", 4, 1000), 4);
    CHECK_EQ(join_tp(&tp), 0);
    close(go[0]);
    close(go[1]);
    alarm(0);
}

struct nsrec {
    atomic_int calls;
    char name[AMP_RPMSG_NAME_SIZE];
    uint32_t addr;
    int create_ret;
    struct amp_ept ept;
    struct inbox in;
};

static void ns_create_cb(struct amp_rpmsg *dev, const char *name, uint32_t addr, void *priv)
{
    struct nsrec *n = priv;
    strncpy(n->name, name, sizeof(n->name) - 1);
    n->addr = addr;
    /* an endpoint made from the callback names the remote's address as dest */
    n->create_ret = amp_ept_create(&n->ept, dev, name, AMP_ADDR_ANY, addr, inbox_cb, &n->in);
    atomic_fetch_add(&n->calls, 1);
}

static void test_twoproc_new_service_cb_with_explicit_dest_binds(void)
{
    parent_watchdog(30);
    struct twoproc tp;
    static struct nsrec n;
    memset(&n, 0, sizeof(n));
    pid_t pid = fork_tp(&tp, 64, F_NS | F_EVIDX, false);
    CHECK(pid >= 0);
    if (pid < 0)
        return;
    if (pid == 0) {
        child_watchdog(20);
        struct amp_rpmsg *dev = tp_dev(&tp);
        struct amp_ept r;
        static struct inbox in;
        CHECK_EQ(amp_ept_create(&r, dev, "twoproc-sensor", AMP_ADDR_ANY, AMP_ADDR_ANY, inbox_cb, &in), 0);
        CHECK(!amp_ept_is_ready(&r));
        CHECK(pump_until(dev, &in.count, 1, 5000));
        /* the host never announces: the first message binds us */
        CHECK(amp_ept_is_ready(&r));
        CHECK_EQ(r.dest, in.src[0]);
        CHECK_EQ(in.len[0], 5);
        CHECK_MEM(in.data[0], "hello", 5);
        uint8_t reply[8];
        memcpy(reply, &r.dest, 4);
        memcpy(reply + 4, "back", 4);
        CHECK_EQ(amp_ept_send(&r, reply, sizeof(reply), 1000), 8);
        child_exit();
    }
    struct amp_rpmsg *dev = tp_dev(&tp);
    amp_rpmsg_set_ns_cb(dev, ns_create_cb, &n); /* before the first poll */
    CHECK(pump_until(dev, &n.calls, 1, 5000));
    CHECK_EQ(atomic_load(&n.calls), 1);
    CHECK_EQ(n.create_ret, 0);
    CHECK(strcmp(n.name, "twoproc-sensor") == 0);
    CHECK(n.addr >= AMP_RPMSG_ADDR_RESERVED && n.addr != AMP_ADDR_ANY);
    CHECK(amp_ept_is_ready(&n.ept));
    CHECK_EQ(n.ept.dest, n.addr);
    CHECK_EQ(amp_ept_send(&n.ept, "hello", 5, 1000), 5);
    CHECK(pump_until(dev, &n.in.count, 1, 5000));
    CHECK_EQ(n.in.len[0], 8);
    CHECK_EQ(n.in.src[0], n.addr);
    uint32_t their_dest;
    memcpy(&their_dest, n.in.data[0], 4);
    CHECK_EQ(their_dest, n.ept.addr); /* the remote bound to our endpoint */
    CHECK_MEM(n.in.data[0] + 4, "back", 4);
    CHECK_EQ(atomic_load(&n.calls), 1); /* no second announcement */
    CHECK_EQ(join_tp(&tp), 0);
    alarm(0);
}

static void test_twoproc_ns_destroy_unbinds_host_endpoint(void)
{
    parent_watchdog(30);
    int go[2];
    CHECK_EQ(pipe(go), 0);
    struct twoproc tp;
    static struct inbox in;
    memset(&in, 0, sizeof(in));
    pid_t pid = fork_tp(&tp, 64, F_NS | F_EVIDX, false);
    CHECK(pid >= 0);
    if (pid < 0)
        return;
    if (pid == 0) {
        child_watchdog(20);
        struct amp_rpmsg *dev = tp_dev(&tp);
        struct amp_ept r;
        pipe_get(go[0]);
        CHECK_EQ(amp_ept_create(&r, dev, "twoproc-svc", AMP_ADDR_ANY, AMP_ADDR_ANY, inbox_cb, &in), 0);
        CHECK(pump_until_ready(dev, &r, 5000));
        CHECK(pump_until(dev, &in.count, 1, 5000)); /* "bound": the host is bound too */
        CHECK_MEM(in.data[0], "bound", 5);
        amp_ept_destroy(&r); /* sends NS destroy */
        CHECK(!amp_ept_is_ready(&r));
        child_exit();
    }
    struct amp_rpmsg *dev = tp_dev(&tp);
    struct amp_ept h;
    CHECK_EQ(amp_ept_create(&h, dev, "twoproc-svc", AMP_ADDR_ANY, AMP_ADDR_ANY, inbox_cb, &in), 0);
    amp_ept_set_unbind_cb(&h, inbox_unbind);
    pipe_put(go[1], 1);
    CHECK(pump_until_ready(dev, &h, 5000));
    CHECK_EQ(amp_ept_send(&h, "bound", 5, 1000), 5);
    CHECK(pump_until(dev, &in.unbinds, 1, 5000));
    CHECK_EQ(atomic_load(&in.unbinds), 1);
    CHECK(!amp_ept_is_ready(&h));
    CHECK_EQ(h.dest, AMP_ADDR_ANY);
    CHECK_EQ(amp_ept_send(&h, "x", 1, 0), -ENOTCONN);
    CHECK_EQ(join_tp(&tp), 0);
    close(go[0]);
    close(go[1]);
    alarm(0);
}

/* ---- send timeout on the wall clock ---- */

/* One side (the sender) fills every send buffer while the other (the
 * sink) consumes nothing: timeout 0 gives -EAGAIN, 50 ms gives -ETIMEDOUT
 * after at least 50 ms of wall clock. Then the sink consumes again, and a
 * sender blocked for a buffer must be woken by it. The sender is the host
 * or the remote; the sink drains only when told through a pipe. */
static void send_timeout(bool host_sends, uint32_t features)
{
    parent_watchdog(30);
    int go[2];
    CHECK_EQ(pipe(go), 0);
    struct twoproc tp;
    static struct inbox in;
    memset(&in, 0, sizeof(in));
    pid_t pid = fork_tp(&tp, 16, features, false);
    CHECK(pid >= 0);
    if (pid < 0)
        return;
    bool host = pid != 0;
    if (!host)
        child_watchdog(20);
    struct amp_rpmsg *dev = tp_dev(&tp);
    struct amp_ept e;
    CHECK_EQ(amp_ept_create(&e, dev, NULL, host ? 0x401 : 0x400, host ? 0x400 : 0x401, inbox_cb,
                            &in), 0);
    if (host != host_sends) { /* the sink: consume nothing until told */
        uint32_t want = pipe_get(go[0]);
        CHECK(pump_until(dev, &in.count, (int)want, 5000));
        CHECK_EQ(atomic_load(&in.count), (int)want);
        if (!host)
            child_exit();
        CHECK_EQ(join_tp(&tp), 0);
    } else {
        uint32_t sent = 0;
        while (amp_ept_send(&e, "z", 1, 0) == 1)
            sent++;
        CHECK_EQ(sent, 16); /* every send buffer is with the sink */
        CHECK_EQ(amp_ept_send(&e, "z", 1, 0), -EAGAIN);
        amp_linux_doorbell_wait(tp.lp.wait_fd, 0); /* start from a quiet doorbell */
        double t0 = now_s();
        CHECK_EQ(amp_ept_send(&e, "z", 1, 50), -ETIMEDOUT);
        double dt = now_s() - t0;
        CHECK(dt >= 0.050);
        CHECK(dt < 1.0);
        /* the sink consumes again: a blocked sender is woken by it */
        pipe_put(go[1], sent + 1);
        t0 = now_s();
        CHECK_EQ(amp_ept_send(&e, "z", 1, 5000), 1);
        CHECK(now_s() - t0 < 4.0);
        if (!host)
            child_exit();
        CHECK_EQ(join_tp(&tp), 0);
    }
    close(go[0]);
    close(go[1]);
    alarm(0);
}

static void test_twoproc_send_times_out_when_remote_stops_consuming(void)
{
    send_timeout(true, F_NS | F_EVIDX);
    send_timeout(true, F_NS);
}

static void test_twoproc_remote_send_times_out_when_host_stops_consuming(void)
{
    send_timeout(false, F_NS | F_EVIDX);
    send_timeout(false, F_NS);
}

/* ---- zero-copy ---- */

#define ZC_N 8

static void zc_fill(uint8_t *p, uint32_t len, uint32_t seed)
{
    for (uint32_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed * 131u + i * 7u);
}

static bool zc_ok(const uint8_t *p, uint32_t len, uint32_t seed)
{
    for (uint32_t i = 0; i < len; i++)
        if (p[i] != (uint8_t)(seed * 131u + i * 7u))
            return false;
    return true;
}

/* Send ZC_N zero-copy messages of sizes 100 + i, seeded with base + i. */
static void zc_send_batch(struct amp_rpmsg *dev, struct amp_ept *ept, uint32_t base)
{
    for (uint32_t i = 0; i < ZC_N; i++) {
        void *p = NULL;
        uint32_t cap = 0;
        CHECK_EQ(amp_rpmsg_alloc_tx(dev, &p, &cap, 1000), 0);
        if (!p)
            return;
        CHECK_EQ(cap, 496);
        zc_fill(p, 100 + i, base + i);
        CHECK_EQ(amp_ept_send_nocopy(ept, AMP_ADDR_ANY, p, 100 + i), (int)(100 + i));
    }
}

/* Hold all ZC_N received buffers, check they stay intact, give them back
 * out of order. */
static void zc_check_and_release(struct amp_rpmsg *dev, struct inbox *in, uint32_t base)
{
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(dev, &st);
    CHECK_EQ(st.rx_held, ZC_N);
    for (uint32_t i = 0; i < ZC_N; i++) {
        CHECK_EQ(in->len[i], 100 + i);
        CHECK(zc_ok(in->ptr[i], 100 + i, base + i)); /* the buffer itself, still ours */
    }
    static const int order[ZC_N] = {3, 0, 7, 1, 6, 2, 5, 4};
    for (int k = 0; k < ZC_N; k++) {
        CHECK_EQ(amp_rpmsg_release_rx(dev, in->ptr[order[k]]), 0);
        CHECK_EQ(amp_rpmsg_release_rx(dev, in->ptr[order[k]]), -EINVAL);
    }
    amp_rpmsg_get_stats(dev, &st);
    CHECK_EQ(st.rx_held, 0);
    CHECK_EQ(st.tx_held, 0);
}

static void test_twoproc_zero_copy_both_ways_with_held_rx(void)
{
    parent_watchdog(30);
    struct twoproc tp;
    static struct inbox in;
    memset(&in, 0, sizeof(in));
    in.ret = AMP_RX_HOLD;
    pid_t pid = fork_tp(&tp, 16, F_NS | F_EVIDX, false);
    CHECK(pid >= 0);
    if (pid < 0)
        return;
    if (pid == 0) {
        child_watchdog(20);
        struct amp_rpmsg *dev = tp_dev(&tp);
        struct amp_ept r;
        CHECK_EQ(amp_ept_create(&r, dev, NULL, 0x400, 0x401, inbox_cb, &in), 0);
        CHECK(pump_until(dev, &in.count, ZC_N, 5000));
        zc_check_and_release(dev, &in, 1000);
        zc_send_batch(dev, &r, 2000);
        child_exit();
    }
    struct amp_rpmsg *dev = tp_dev(&tp);
    struct amp_ept h;
    CHECK_EQ(amp_ept_create(&h, dev, NULL, 0x401, 0x400, inbox_cb, &in), 0);
    zc_send_batch(dev, &h, 1000);
    CHECK(pump_until(dev, &in.count, ZC_N, 5000));
    zc_check_and_release(dev, &in, 2000);
    /* the remote released ours before it sent: all buffers are home */
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(dev, &st);
    CHECK_EQ(st.rx_queued, 16); /* every rx buffer went back to the remote */
    CHECK_EQ(st.tx_free, st.tx_total);
    CHECK_EQ(join_tp(&tp), 0); /* unmaps the window: last */
    alarm(0);
}

/* ---- blocking ping-pong: every message must wake the other side ---- */

#define PP_ROUNDS 2000
#define PP_WAIT_MS 2000 /* a wait this long with a message due is a lost wake-up */
#define PP_LIMIT_S 20.0

struct pp {
    struct twoproc *tp;
    struct amp_rpmsg *dev;
    struct inbox in;
    atomic_bool stop;
    atomic_int poll_errors;
    pthread_t poller;
    int stalls; /* waits that timed out although a message was due */
};

/* Threaded port: the poller thread sleeps on our doorbell, handles what
 * came, and wakes the threads sleeping in the port. */
static void *pp_poller(void *arg)
{
    struct pp *p = arg;
    while (!atomic_load(&p->stop)) {
        int err = amp_linux_doorbell_wait(p->tp->lp.wait_fd, 10000);
        if (err && err != -ETIMEDOUT)
            atomic_fetch_add(&p->poll_errors, 1);
        if (amp_rpmsg_poll(p->dev) < 0)
            atomic_fetch_add(&p->poll_errors, 1);
        amp_linux_port_wake(&p->tp->lp);
    }
    return NULL;
}

static void pp_poller_stop(struct pp *p)
{
    uint64_t one = 1;
    atomic_store(&p->stop, true);
    CHECK_EQ(write(p->tp->lp.wait_fd, &one, sizeof(one)), sizeof(one)); /* ring ourselves */
    pthread_join(p->poller, NULL);
}

/* Sleep until the message count reaches `want`; false after PP_LIMIT_S. */
static bool pp_wait_count(struct pp *p, int want, bool threaded, double end)
{
    struct amp_linux_port *lp = &p->tp->lp;
    if (threaded)
        amp_linux_lock(lp);
    while (atomic_load(&p->in.count) < want) {
        if (now_s() > end)
            break;
        int err = threaded ? amp_linux_wait(lp, PP_WAIT_MS) : amp_rpmsg_wait(p->dev, PP_WAIT_MS);
        if (err == -ETIMEDOUT && atomic_load(&p->in.count) < want)
            p->stalls++;
    }
    if (threaded)
        amp_linux_unlock(lp);
    return atomic_load(&p->in.count) >= want;
}

static void pingpong(uint32_t features, bool threaded)
{
    parent_watchdog(60);
    struct twoproc tp;
    static struct pp p;
    memset(&p, 0, sizeof(p));
    pid_t pid = fork_tp(&tp, 64, features, threaded);
    CHECK(pid >= 0);
    if (pid < 0)
        return;
    p.tp = &tp;
    p.dev = tp_dev(&tp);
    bool want_evidx = (features & F_EVIDX) != 0;
    struct amp_ept e;
    bool host = pid != 0;
    if (!host)
        child_watchdog(45);
    CHECK_EQ(amp_ept_create(&e, p.dev, NULL, host ? 0x401 : 0x400, host ? 0x400 : 0x401, inbox_cb,
                            &p.in), 0);
    if (threaded)
        CHECK_EQ(pthread_create(&p.poller, NULL, pp_poller, &p), 0);
    double t0 = now_s(), end = t0 + PP_LIMIT_S;
    int done = 0;
    for (uint32_t i = 0; i < PP_ROUNDS; i++) {
        if (host) {
            if (amp_ept_send(&e, &i, sizeof(i), AMP_WAIT_FOREVER) != (int)sizeof(i))
                break;
            if (!pp_wait_count(&p, (int)i + 1, threaded, end))
                break;
            if (atomic_load(&p.in.last) != i)
                break;
        } else {
            if (!pp_wait_count(&p, (int)i + 1, threaded, end))
                break;
            uint32_t v = atomic_load(&p.in.last);
            if (v != i || amp_ept_send(&e, &v, sizeof(v), AMP_WAIT_FOREVER) != (int)sizeof(v))
                break;
        }
        done++;
    }
    double dt = now_s() - t0;
    if (threaded)
        pp_poller_stop(&p);
    CHECK_EQ(done, PP_ROUNDS);
    CHECK_EQ(atomic_load(&p.in.count), PP_ROUNDS);
    CHECK_EQ(p.stalls, 0);
    CHECK_EQ(atomic_load(&p.poll_errors), 0);
    CHECK(dt < PP_LIMIT_S);
    CHECK_EQ((p.dev->features & F_EVIDX) != 0, want_evidx);
    if (!host)
        child_exit();
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(p.dev, &st);
    CHECK_EQ(st.ring_errors + st.msg_errors + st.dropped, 0);
    printf("     %d round trips in %.3f s (%.1f us each), %" PRIu64 " kicks sent by the host\n",
           done, dt, dt * 1e6 / (done ? done : 1), tp.lp.kicks);
    CHECK_EQ(join_tp(&tp), 0);
    alarm(0);
}

static void test_twoproc_pingpong_blocking_event_idx_on_single_threaded(void)
{
    pingpong(F_NS | F_EVIDX, false);
}

static void test_twoproc_pingpong_blocking_event_idx_off_single_threaded(void)
{
    pingpong(F_NS, false);
}

static void test_twoproc_pingpong_blocking_event_idx_on_threaded(void)
{
    pingpong(F_NS | F_EVIDX, true);
}

static void test_twoproc_pingpong_blocking_event_idx_off_threaded(void)
{
    pingpong(F_NS, true);
}

AMP_TEST_MAIN(TEST(test_twoproc_announce_binds_both_ways),
              TEST(test_twoproc_new_service_cb_with_explicit_dest_binds),
              TEST(test_twoproc_ns_destroy_unbinds_host_endpoint),
              TEST(test_twoproc_send_times_out_when_remote_stops_consuming),
              TEST(test_twoproc_remote_send_times_out_when_host_stops_consuming),
              TEST(test_twoproc_zero_copy_both_ways_with_held_rx),
              TEST(test_twoproc_pingpong_blocking_event_idx_on_single_threaded),
              TEST(test_twoproc_pingpong_blocking_event_idx_off_single_threaded),
              TEST(test_twoproc_pingpong_blocking_event_idx_on_threaded),
              TEST(test_twoproc_pingpong_blocking_event_idx_off_threaded))
