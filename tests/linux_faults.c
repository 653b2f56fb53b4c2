/*
 * linux_faults.c - fault injection on the virtual core: whatever the
 * remote does, the host process stays up, its memory stays clean (the
 * sanitizer stage runs this too), it says what happened, and a restart
 * brings the link back with every buffer accounted for.
 *
 *   hostile firmware  hostile.elf drives the rings by hand once bound and
 *                     lies, scribbles and jumps indices for a few seconds
 *                     (firmware/examples/hostile.c) while the host sends
 *                     (copying and zero-copy), receives (holding some
 *                     buffers) and reads the trace. The host counts the
 *                     errors; after stop, virtual_uart.elf works.
 *   crash storm       200 times: start, bind, echo, check the buffers,
 *                     then kill the core while a sender thread is busy -
 *                     SIGKILL from here, or "segv" / "abort" sent to
 *                     crash.elf - and check the host saw it: CRASHED, the
 *                     endpoint unbound and its unbind callback run, the
 *                     sender released with an error.
 *   stuck remote      crash.elf "spin" never returns another buffer: a
 *                     send with a timeout gets -ETIMEDOUT on time; one
 *                     without is released by amp_host_stop() or
 *                     amp_host_shutdown() with -ECONNRESET.
 *
 * Every test runs under alarm(): a hang is a failure, not a stuck ctest.
 * AMP_FAULTS_CRASHES overrides the storm's 200 cycles.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "amp_host.h"
#include "amp_test.h"

#define FW(name) AMP_FIRMWARE_DIR "/" name
#define SERVICE "vuart-channel"
#define HOLD_MAX 16

/* ==== Time and hangs ==== */

static const char *running; /* the test alarm() interrupts */

static void on_alarm(int sig)
{
    static const char msg[] = "linux_faults: timed out (a hang is a failure) in ";
    (void)sig;
    if (write(2, msg, sizeof(msg) - 1) < 0 || write(2, running, strlen(running)) < 0 ||
        write(2, "\n", 1) < 0)
        _exit(3);
    _exit(2);
}

static void bound_test(const char *name, unsigned seconds)
{
    running = name;
    signal(SIGALRM, on_alarm);
    alarm(seconds);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1e3), (long)((ms - (double)(time_t)(ms / 1e3) * 1e3) * 1e6)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ==== A host with one "vuart-channel" endpoint ==== */

struct fx {
    struct amp_host h;
    struct amp_ept ept;
    atomic_uint rx, bad_rx, unbinds, crashes;
    pthread_mutex_t mu; /* guards expect[], echoed and held[] */
    char expect[64];    /* the echo we wait for */
    bool echoed;        /* ... and it came */
    unsigned hold_every; /* keep every n-th buffer (0: none) */
    struct {
        void *p;
        uint32_t gen;
    } held[HOLD_MAX];
    unsigned nheld;
};

static struct fx fx;

/* On the service thread: every message must lie inside shared memory,
 * no longer than a buffer's payload. */
static int on_message(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    struct fx *f = priv;
    const uint8_t *shm = f->h.vc.mem + AMP_VCORE_RAM_SIZE, *p = data;
    (void)ept;
    (void)src;
    if (p < shm || p > shm + AMP_VCORE_SHM_SIZE || len > (size_t)(shm + AMP_VCORE_SHM_SIZE - p) ||
        len > amp_rpmsg_max_payload(&f->h.rpmsg))
        f->bad_rx++;
    unsigned n = ++f->rx;
    pthread_mutex_lock(&f->mu);
    if (f->expect[0] && len == strlen(f->expect) && memcmp(data, f->expect, len) == 0)
        f->echoed = true;
    int ret = AMP_RX_DONE;
    if (f->hold_every && n % f->hold_every == 0 && f->nheld < HOLD_MAX) {
        f->held[f->nheld].p = data;
        f->held[f->nheld++].gen = f->h.rpmsg.cb_gen;
        ret = AMP_RX_HOLD;
    }
    pthread_mutex_unlock(&f->mu);
    return ret;
}

static void on_unbind(struct amp_ept *ept)
{
    ((struct fx *)ept->priv)->unbinds++;
}

static void on_crash(struct amp_host *h, void *priv)
{
    (void)h;
    ((struct fx *)priv)->crashes++;
}

static int fx_open(struct fx *f, int uart_fd)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    struct amp_host_cfg cfg = {.uart_fd = uart_fd, .cpu = -1, .on_crash = on_crash, .priv = f};
    int err = amp_host_open(&f->h, &cfg);
    if (err)
        return err;
    err = amp_ept_create(&f->ept, &f->h.rpmsg, SERVICE, AMP_ADDR_ANY, AMP_ADDR_ANY, on_message, f);
    amp_ept_set_unbind_cb(&f->ept, on_unbind);
    return err;
}

static void fx_close(struct fx *f)
{
    amp_host_close(&f->h);
    pthread_mutex_destroy(&f->mu);
}

static bool is_bound(struct fx *f)
{
    return __atomic_load_n(&f->ept.dest, __ATOMIC_ACQUIRE) != AMP_ADDR_ANY;
}

/* Wait up to ms for the remote's announcement to bind our endpoint
 * (not at all if the core has died). */
static bool wait_bound(struct fx *f, double ms)
{
    for (double end = now_ms() + ms; now_ms() < end; sleep_ms(0.2)) {
        if (is_bound(f))
            return true;
        if (amp_host_state(&f->h) == AMP_RPROC_CRASHED)
            return false;
    }
    return false;
}

static bool wait_state(struct fx *f, enum amp_rproc_state s, double ms)
{
    for (double end = now_ms() + ms; now_ms() < end; sleep_ms(0.2))
        if (amp_host_state(&f->h) == s)
            return true;
    return amp_host_state(&f->h) == s;
}

/* Send msg and wait for it to come back (among whatever else comes). */
static bool echo(struct fx *f, const char *msg)
{
    pthread_mutex_lock(&f->mu);
    snprintf(f->expect, sizeof(f->expect), "%s", msg);
    f->echoed = false;
    pthread_mutex_unlock(&f->mu);
    bool came = false;
    if (amp_ept_send(&f->ept, msg, strlen(msg), 1000) == (int)strlen(msg)) {
        for (double end = now_ms() + 2000; !came && now_ms() < end; sleep_ms(0.2)) {
            pthread_mutex_lock(&f->mu);
            came = f->echoed;
            pthread_mutex_unlock(&f->mu);
        }
    }
    pthread_mutex_lock(&f->mu);
    f->expect[0] = '\0';
    pthread_mutex_unlock(&f->mu);
    return came;
}

static bool wait_count(atomic_uint *n, unsigned want, double ms)
{
    for (double end = now_ms() + ms; now_ms() < end; sleep_ms(0.2))
        if (*n == want)
            return true;
    return *n == want;
}

/* Once the remote is quiet, every buffer is where it belongs: all send
 * buffers free, all receive buffers with the remote, none held. */
static bool quiescent(struct fx *f, struct amp_rpmsg_stats *st)
{
    uint32_t num = f->h.rpmsg.rx.num; /* set by amp_host_start, which returned */
    for (double end = now_ms() + 2000; now_ms() < end; sleep_ms(0.5)) {
        amp_rpmsg_get_stats(&f->h.rpmsg, st);
        if (st->tx_free == st->tx_total && st->rx_held == 0 && st->rx_queued == num &&
            st->tx_held == 0 && st->tx_queued == 0)
            return true;
    }
    fprintf(stderr, "not quiescent: tx_free %u of %u, tx_queued %u, tx_held %u, rx_queued %u of %u, "
            "rx_held %u\n", st->tx_free, st->tx_total, st->tx_queued, st->tx_held, st->rx_queued, num,
            st->rx_held);
    return false;
}

/* Start the loaded image, wait for it to bind, and echo msg. A core that
 * dies on its own while coming up (the host sees CRASHED) is one more
 * crash the host must survive: counted in *early, and started again. */
static bool bring_up(struct fx *f, const char *msg, unsigned *early)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        unsigned crashes = f->crashes;
        if (amp_host_start(&f->h) == 0 && wait_bound(f, 3000) && echo(f, msg))
            return true;
        if (!wait_state(f, AMP_RPROC_CRASHED, 100))
            return false;
        (*early)++;
        fprintf(stderr, "the core died during bring-up: %s\n", amp_host_why(&f->h));
        wait_count(&f->crashes, crashes + 1, 1000); /* reported, then started again */
    }
    return false;
}

/* Release the buffers the callback held, as an application would. */
static unsigned release_held(struct fx *f, int *bad)
{
    unsigned n = 0;
    pthread_mutex_lock(&f->mu);
    for (unsigned i = 0; i < f->nheld; i++) {
        int r = amp_rpmsg_release_rx_gen(&f->h.rpmsg, f->held[i].p, f->held[i].gen);
        if (r == 0)
            n++;
        else if (r != -ESTALE && r != -EINVAL) /* link restarted, or broken */
            (*bad)++;
    }
    f->nheld = 0;
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* ==== A busy sender ==== */

struct sender {
    struct fx *f;
    int32_t timeout;
    bool zero_copy;   /* every 4th message through alloc_tx/send_nocopy */
    atomic_bool stop;
    atomic_bool done;
    unsigned ok, timeouts, eio, notconn, einval, reset, other;
    int last_other;   /* the last of those others */
    int last;         /* the error that ended a FOREVER sender */
    double ended_ms;  /* when it returned */
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    char msg[496];
    unsigned seed = 12345;
    for (unsigned i = 0; !s->stop; i++) {
        size_t len = 1 + (size_t)rand_r(&seed) % sizeof(msg);
        memset(msg, 'M', len); /* never one of crash.elf's commands */
        int r;
        if (s->zero_copy && i % 4 == 3) {
            void *p;
            uint32_t cap;
            r = amp_rpmsg_alloc_tx(&s->f->h.rpmsg, &p, &cap, s->timeout);
            if (r == 0) {
                size_t n = len < cap ? len : cap;
                memcpy(p, msg, n);
                if (i % 8 == 7) {
                    r = amp_rpmsg_release_tx(&s->f->h.rpmsg, p);
                    r = r == 0 ? (int)n : r;
                } else {
                    r = amp_ept_send_nocopy(&s->f->ept, AMP_ADDR_ANY, p, n);
                    if (r < 0)
                        amp_rpmsg_release_tx(&s->f->h.rpmsg, p); /* ours again on error */
                }
            }
        } else {
            r = amp_ept_send(&s->f->ept, msg, len, s->timeout);
        }
        if (r >= 0)
            s->ok++;
        else if (r == -ETIMEDOUT || r == -EAGAIN)
            s->timeouts++;
        else if (r == -EIO)
            s->eio++;
        else if (r == -ENOTCONN)
            s->notconn++;
        else if (r == -EINVAL) /* releasing a buffer of a link that broke meanwhile */
            s->einval++;
        else if (r == -ECONNRESET) /* the link went down while we waited */
            s->reset++;
        else {
            s->other++;
            s->last_other = r;
        }
        if (r < 0 && s->timeout == AMP_WAIT_FOREVER) {
            s->last = r;
            break;
        }
        if (r < 0 && r != -ETIMEDOUT && r != -EAGAIN)
            sleep_ms(1); /* a broken or unbound link: don't spin */
    }
    s->ended_ms = now_ms();
    s->done = true;
    return NULL;
}

/* Join, but give up (and fail) after ms. */
static bool join_within(pthread_t t, double ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)((long)ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return pthread_timedjoin_np(t, NULL, &ts) == 0;
}

/* ==== The hostile firmware ==== */

/* How many times the firmware's UART output (a file) says `what`. */
static unsigned uart_count(int fd, const char *what)
{
    static char buf[1 << 18];
    ssize_t k = pread(fd, buf, sizeof(buf) - 1, 0);
    unsigned n = 0;
    if (k <= 0)
        return 0;
    buf[k] = '\0';
    for (const char *p = buf; (p = strstr(p, what)) != NULL; p++)
        n++;
    return n;
}

struct attack_totals {
    unsigned early; /* cores that died on their own while coming up */
    unsigned cycles, ring_errors, msg_errors, dropped, rx, broken;
    unsigned ok, timeouts, eio, reset, notconn, einval, other;
    unsigned released, trace_reads;
    int bad_release, bad_trace;
    double ms, broke_ms[4]; /* summed per starting phase ... */
    unsigned nbroke[4];     /* ... over this many cycles */
};

/* One cycle: start hostile.elf, tell it which phase to begin with, keep
 * sending, receiving and reading the trace until it is done, or until its
 * lies have broken the link for a while; then stop it. */
static void attack_cycle(struct attack_totals *a, int uart, int phase)
{
    char first[16];
    snprintf(first, sizeof(first), "attack %d", phase);
    CHECK(bring_up(&fx, first, &a->early)); /* its last honest act: the echo */
    CHECK_EQ(amp_ept_send(&fx.ept, "go", 2, 1000), 2);

    struct sender s = {.f = &fx, .timeout = 20, .zero_copy = true};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, sender_main, &s), 0);
    char trace[1024 + 64]; /* the trace buffer is 1 KiB */
    unsigned done = uart_count(uart, "hostile: done");
    double t0 = now_ms(), broke = -1;
    while (uart_count(uart, "hostile: done") == done && now_ms() - t0 < 4000 &&
           (broke < 0 || now_ms() - t0 < broke + 300)) {
        sleep_ms(20);
        if (broke < 0 && __atomic_load_n(&fx.h.rpmsg.state, __ATOMIC_RELAXED) == AMP_LINK_BROKEN)
            broke = now_ms() - t0;
        int n = amp_host_trace(&fx.h, 0, trace, sizeof(trace));
        if (n >= 0) {
            a->trace_reads++;
            if ((size_t)n >= sizeof(trace) || trace[n] != '\0' || strlen(trace) != (size_t)n)
                a->bad_trace++;
        }
        a->released += release_held(&fx, &a->bad_release);
    }
    a->ms += now_ms() - t0;
    s.stop = true;
    CHECK(join_within(t, 5000));
    a->released += release_held(&fx, &a->bad_release);

    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(&fx.h.rpmsg, &st); /* before stop: a start clears them */
    a->cycles++;
    a->ring_errors += st.ring_errors;
    a->msg_errors += st.msg_errors;
    a->dropped += st.dropped;
    a->rx += st.rx;
    a->broken += broke >= 0;
    if (broke >= 0) {
        a->broke_ms[phase] += broke;
        a->nbroke[phase]++;
    }
    a->ok += s.ok;
    a->timeouts += s.timeouts;
    a->eio += s.eio;
    a->reset += s.reset;
    a->notconn += s.notconn;
    a->einval += s.einval;
    a->other += s.other;
    CHECK_EQ(amp_host_state(&fx.h), AMP_RPROC_RUNNING); /* lying is not dying */
    CHECK_EQ(amp_host_stop(&fx.h), 0);
    CHECK_EQ(amp_host_state(&fx.h), AMP_RPROC_STOPPED);
    CHECK(!is_bound(&fx));
}

static void test_faults_hostile_firmware_cannot_break_host(void)
{
    bound_test(__func__, 120);
    char path[] = "/tmp/amp-faults-uart-XXXXXX";
    int uart = mkstemp(path);
    CHECK(uart >= 0);
    unlink(path);
    CHECK_EQ(fx_open(&fx, uart), 0);
    fx.hold_every = 7;
    CHECK_EQ(amp_host_load(&fx.h, FW("hostile.elf")), 0);

    /* phases 1, 2, 3 in turn, for at least 6 cycles and 5 seconds */
    struct attack_totals a = {0};
    double t0 = now_ms();
    while (a.cycles < 6 || now_ms() - t0 < 5000)
        attack_cycle(&a, uart, 1 + (int)(a.cycles % 3));

    for (int p = 1; p <= 3; p++)
        a.broke_ms[p] = a.nbroke[p] ? a.broke_ms[p] / a.nbroke[p] : -1;
    printf("  hostile: %u attack cycles, %.0f ms under attack; the host marked the link broken in "
           "%u of them (after %.0f / %.0f / %.0f ms on average when starting in phase 1 / 2 / 3); "
           "%u cores died on their own during bring-up and were restarted\n",
           a.cycles, a.ms, a.broken, a.broke_ms[1], a.broke_ms[2], a.broke_ms[3], a.early);
    printf("  hostile: host counted %u ring errors, %u message errors, %u dropped; received %u; "
           "sends ok %u, timed out %u, -EIO %u, -ECONNRESET %u, -ENOTCONN %u, -EINVAL %u (release "
           "after the break), other %u; %u held buffers released, %u trace reads\n",
           a.ring_errors, a.msg_errors, a.dropped, a.rx, a.ok, a.timeouts, a.eio, a.reset, a.notconn,
           a.einval, a.other, a.released, a.trace_reads);
    CHECK(a.ring_errors > 0);
    CHECK(a.msg_errors > 0);
    CHECK(a.ok > 0 && a.rx > 0);
    CHECK_EQ(a.other, 0);
    CHECK_EQ(fx.bad_rx, 0);
    CHECK_EQ(a.bad_release, 0);
    CHECK_EQ(a.bad_trace, 0);
    CHECK_EQ(fx.crashes, a.early); /* lying is not dying */

    /* good firmware works again in the same host */
    fx.hold_every = 0;
    CHECK_EQ(amp_host_load(&fx.h, FW("virtual_uart.elf")), 0);
    CHECK(bring_up(&fx, "after the storm", &a.early));
    struct amp_rpmsg_stats st;
    CHECK(quiescent(&fx, &st));
    CHECK_EQ(st.ring_errors, 0);
    CHECK_EQ(st.msg_errors, 0);
    fx_close(&fx);
    close(uart);
    alarm(0);
}

/* ==== Crash storm ==== */

static unsigned crashes_from_env(void)
{
    const char *s = getenv("AMP_FAULTS_CRASHES");
    long v = s ? strtol(s, NULL, 10) : 0;
    return v > 0 ? (unsigned)v : 200u;
}

static void test_faults_crash_storm_always_recovers(void)
{
    const unsigned cycles = crashes_from_env();
    bound_test(__func__, 120);
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    CHECK_EQ(fx_open(&fx, null), 0);
    CHECK_EQ(amp_host_load(&fx.h, FW("crash.elf")), 0);
    unsigned seed = 42, fails = 0, how[3] = {0}, early = 0;
    unsigned sent = 0;
    double t0 = now_ms(), worst = 0;
    for (unsigned i = 0; i < cycles && fails < 5; i++) {
        double c0 = now_ms();
        char msg[32];
        snprintf(msg, sizeof(msg), "ping %u", i);
        struct amp_rpmsg_stats st;
        bool ok = bring_up(&fx, msg, &early) && quiescent(&fx, &st); /* the last crash leaked nothing */
        unsigned unbinds = fx.unbinds, crashes = fx.crashes;
        if (!ok) {
            fprintf(stderr, "cycle %u: no clean restart (%s)\n", i, amp_host_why(&fx.h));
            fails++;
            amp_host_stop(&fx.h);
            continue;
        }

        /* a busy sender, then death at a random moment */
        struct sender s = {.f = &fx, .timeout = AMP_WAIT_FOREVER, .zero_copy = i % 2};
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, sender_main, &s), 0);
        sleep_ms((double)(rand_r(&seed) % 3000) / 1000.0);
        unsigned mode = i % 3;
        how[mode]++;
        if (mode == 0) {
            pid_t pid = __atomic_load_n(&fx.h.vc.pid, __ATOMIC_ACQUIRE);
            if (pid > 0) /* only the service thread reaps it, after it died */
                kill(pid, SIGKILL);
        } else {
            const char *cmd = mode == 1 ? "segv" : "abort";
            int r = amp_ept_send(&fx.ept, cmd, strlen(cmd), 1000);
            if (r < 0) /* a remote that is alive takes it within a second */
                fprintf(stderr, "cycle %u: could not send \"%s\" (%d): the link stalled\n", i, cmd, r);
        }
        bool crashed = wait_state(&fx, AMP_RPROC_CRASHED, 3000);
        wait_count(&fx.crashes, crashes + 1, 1000); /* on_crash runs just after */
        bool joined = join_within(t, 3000);
        if (!joined) {
            s.stop = true;
            amp_host_stop(&fx.h); /* release it, then fail */
            joined = join_within(t, 3000);
        }
        sent += s.ok;
        double dt = now_ms() - c0;
        worst = dt > worst ? dt : worst;
        bool good = crashed && joined && !is_bound(&fx) && fx.unbinds == unbinds + 1 &&
                    fx.crashes == crashes + 1 &&
                    (s.last == -ECONNRESET || s.last == -ENOTCONN ||
                     (s.zero_copy && s.last == -EINVAL)); /* releasing into a dead link */
        if (!good) {
            fprintf(stderr, "cycle %u (%s): crashed %d, sender released %d (%d), bound %d, "
                    "unbinds +%u, crash reports +%u\n", i, mode == 0 ? "kill" : mode == 1 ? "segv" : "abort",
                    crashed, joined, s.last, is_bound(&fx), fx.unbinds - unbinds, fx.crashes - crashes);
            fails++;
        }
    }
    CHECK_EQ(fails, 0);
    /* the last crash leaked nothing either */
    CHECK(bring_up(&fx, "the end", &early));
    struct amp_rpmsg_stats st;
    CHECK(quiescent(&fx, &st));
    double total = now_ms() - t0;
    printf("  crash storm: %u crashes (%u SIGKILL, %u segv, %u abort) in %.1f s: %.1f ms per "
           "start-bind-echo-crash cycle, worst %.1f ms; %u messages sent meanwhile; %u cores "
           "died on their own during bring-up and were restarted\n",
           cycles, how[0], how[1], how[2], total / 1e3, total / cycles, worst, sent, early);
    CHECK(total < 60000);
    fx_close(&fx);
    close(null);
    alarm(0);
}

/* ==== A remote that stops returning buffers ==== */

/* Start crash.elf, bind, then make it spin and fill the send ring. */
static bool stuck_remote(struct fx *f)
{
    unsigned early = 0;
    if (!bring_up(f, "before the spin", &early))
        return false;
    if (amp_ept_send(&f->ept, "spin", 4, 1000) != 4)
        return false;
    sleep_ms(20); /* let it take "spin" and start looping */
    int n = 0, r;
    while ((r = amp_ept_send(&f->ept, "x", 1, 0)) == 1)
        n++;
    return r == -EAGAIN && n > 0;
}

static void test_faults_stuck_remote_send_times_out_on_time(void)
{
    bound_test(__func__, 30);
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    CHECK_EQ(fx_open(&fx, null), 0);
    CHECK_EQ(amp_host_load(&fx.h, FW("crash.elf")), 0);
    CHECK(stuck_remote(&fx));

    const int32_t timeouts[] = {50, 200, 500};
    for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
        double t0 = now_ms();
        int r = amp_ept_send(&fx.ept, "late", 4, timeouts[i]);
        double dt = now_ms() - t0;
        printf("  stuck remote: send with a %d ms timeout returned %d after %.1f ms\n", timeouts[i], r, dt);
        CHECK_EQ(r, -ETIMEDOUT);
        CHECK(dt >= timeouts[i] && dt < timeouts[i] + 200);

        void *p;
        uint32_t cap;
        t0 = now_ms();
        r = amp_rpmsg_alloc_tx(&fx.h.rpmsg, &p, &cap, timeouts[i]);
        dt = now_ms() - t0;
        CHECK_EQ(r, -ETIMEDOUT);
        CHECK(dt >= timeouts[i] && dt < timeouts[i] + 200);
    }
    CHECK_EQ(amp_host_state(&fx.h), AMP_RPROC_RUNNING); /* stuck is not dead */
    fx_close(&fx);
    close(null);
    alarm(0);
}

/* A sender with no timeout, blocked on the stuck remote, is released by
 * stop (then, after a restart, by shutdown) with -ECONNRESET. */
static void test_faults_stuck_remote_blocked_sender_released(void)
{
    bound_test(__func__, 30);
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    CHECK_EQ(fx_open(&fx, null), 0);
    CHECK_EQ(amp_host_load(&fx.h, FW("crash.elf")), 0);
    for (int how = 0; how < 2; how++) {
        const char *what = how ? "amp_host_shutdown" : "amp_host_stop";
        CHECK(stuck_remote(&fx));
        struct sender s[2] = {{.f = &fx, .timeout = AMP_WAIT_FOREVER},
                              {.f = &fx, .timeout = AMP_WAIT_FOREVER, .zero_copy = true}};
        pthread_t t[2];
        for (int k = 0; k < 2; k++)
            CHECK_EQ(pthread_create(&t[k], NULL, sender_main, &s[k]), 0);
        sleep_ms(150);
        CHECK(!s[0].done && !s[1].done); /* blocked, as they should be */
        double t0 = now_ms();
        CHECK_EQ(how ? amp_host_shutdown(&fx.h) : amp_host_stop(&fx.h), 0);
        for (int k = 0; k < 2; k++) {
            CHECK(join_within(t[k], 2000));
            CHECK_EQ(s[k].last, -ECONNRESET);
            printf("  stuck remote: %s released a blocked %s after %.1f ms with %d\n", what,
                   k ? "alloc_tx/send" : "send", s[k].ended_ms - t0, s[k].last);
            CHECK(s[k].ended_ms - t0 < 1000);
        }
        CHECK_EQ(amp_host_state(&fx.h), how ? AMP_RPROC_OFFLINE : AMP_RPROC_STOPPED);
    }
    /* and after all that, a good remote works */
    CHECK_EQ(amp_host_load(&fx.h, FW("virtual_uart.elf")), 0);
    unsigned early = 0;
    CHECK(bring_up(&fx, "unstuck", &early));
    struct amp_rpmsg_stats st;
    CHECK(quiescent(&fx, &st));
    fx_close(&fx);
    close(null);
    alarm(0);
}

/* ==== A remote that floods ==== */

/* hostile.elf, told "flood", sends as fast as it gets buffers. The host
 * must keep reading - one poll takes a bounded batch, so the service
 * thread has to come back for the rest before it sleeps, or both sides
 * wait for each other forever - and stay responsive to stop. */
static void test_faults_flooding_remote_never_stalls_host(void)
{
    bound_test(__func__, 30);
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    CHECK_EQ(fx_open(&fx, null), 0);
    CHECK_EQ(amp_host_load(&fx.h, FW("hostile.elf")), 0);
    unsigned early = 0;
    CHECK(bring_up(&fx, "flood", &early));
    double t0 = now_ms(), worst = 0, last_t = t0;
    unsigned last = fx.rx;
    while (now_ms() - t0 < 2000) {
        sleep_ms(1);
        unsigned n = fx.rx;
        double t = now_ms();
        if (n != last) {
            last = n;
            last_t = t;
        }
        worst = t - last_t > worst ? t - last_t : worst;
    }
    double rate = (double)fx.rx / ((now_ms() - t0) / 1e3);
    printf("  flood: %u messages in 2 s (%.0f per second), longest pause %.1f ms\n", fx.rx, rate, worst);
    CHECK(worst < 250);
    double s0 = now_ms();
    CHECK_EQ(amp_host_stop(&fx.h), 0);
    printf("  flood: amp_host_stop took %.1f ms\n", now_ms() - s0);
    CHECK(now_ms() - s0 < 1000);
    fx_close(&fx);
    close(null);
    alarm(0);
}

AMP_TEST_MAIN(TEST(test_faults_flooding_remote_never_stalls_host),
              TEST(test_faults_stuck_remote_send_times_out_on_time),
              TEST(test_faults_stuck_remote_blocked_sender_released),
              TEST(test_faults_crash_storm_always_recovers),
              TEST(test_faults_hostile_firmware_cannot_break_host))
