/*
 * amp_guard.c - what keeps a vhost-user frontend (ports/linux/amp_vhost.c)
 * from killing or stopping us through what it shares with us: its memory
 * files (the guard: a SIGBUS in our mapping of one becomes zero pages and a
 * mark) and its doorbell eventfds (the bound: a read or write that would
 * wait does not, and says EINTR). Process-wide: signal dispositions are.
 *
 * Main invariant: our handlers act only on what is provably ours - a
 * SIGBUS inside a range listed here, a timer signal carrying our tag -
 * and pass every other signal to the disposition they replaced, which is
 * put back when the last user goes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "amp_guard.h"
#include "amp_vhost.h"

/* ==== The guard: frontend memory that shrinks under us ====
 *
 * Every region we map is listed in guards[], process-wide. A SIGBUS whose
 * address lies in a listed range can only mean that the frontend cut its
 * file short under our mapping (the range was inside the file when we
 * mapped it). The handler then maps private zero pages over the whole
 * range and marks it: the access that faulted is retried on zeros and
 * whatever was running finishes normally, reading what is, for the ring
 * and RPMsg layers, just one more hostile content. run() sees the mark and
 * drops the frontend. No jump: no lock, no callback and no half-updated
 * ring state is ever skipped, on any thread, so no access of frontend
 * memory needs wrapping (ring processing, callbacks, a send from another
 * call all are covered). Any other SIGBUS (another address, another cause,
 * sent by kill) goes to the disposition found when the first backend
 * opened, which is put back when the last one closes.
 *
 * The list is written under guard_lock, entry by entry like a seqlock
 * (seq odd while it changes), and read by the handler without a lock: an
 * entry changing is skipped (it is not in use while it changes). An entry
 * is withdrawn before its mapping is unmapped, so an address mapped later
 * by anyone else is never taken for ours. mmap() in a handler is outside
 * POSIX's list of async-signal-safe calls; on Linux it is a bare system
 * call. */

static struct guard {
    atomic_uint seq;    /* odd while amp_guard_add/_del change the entry */
    atomic_uintptr_t lo, hi; /* our mapping [lo, hi); empty (0, 0) when free */
    atomic_int faulted; /* the handler put zero pages over it */
} guards[AMP_GUARD_MAX];
static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER; /* writers of all below */
static unsigned guard_users;      /* open backends: our handlers are installed while > 0 */

/* Our two handlers: the guard's (SIGBUS) and the bound's (see below). */
static void guard_sigbus(int sig, siginfo_t *si, void *uc);
static void bound_signal(int sig, siginfo_t *si, void *uc);
static struct hook {
    int sig;               /* 0 until the first open (SIGRTMAX is not a constant) */
    void (*fn)(int, siginfo_t *, void *);
    int flags;
    bool chained;          /* ours is installed, or in a chain someone put over it */
    struct sigaction old;  /* the disposition ours replaced */
} hooks[2] = {
    {.fn = guard_sigbus, .flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART},
    {.fn = bound_signal, .flags = SA_SIGINFO | SA_ONSTACK}, /* no SA_RESTART: EINTR is the point */
};

/* Pass a signal that is not ours to the disposition `old` that ours
 * replaced. SIG_DFL and SIG_IGN are told first (sa_flags may say
 * SA_SIGINFO for them too: there is no function to call then). A fault
 * (raised by the access that faulted) recurs when we return, so the
 * default action is put back for it, also under SIG_IGN, which the
 * kernel does not honour for a fault either; any other signal (sent, or
 * a machine check reported after the fact) is raised again under the
 * default action (it stays blocked until we return), or dropped under
 * SIG_IGN. */
static void chain(int sig, const struct sigaction *old, siginfo_t *si, void *uc)
{
    bool fault = sig == SIGBUS && (si->si_code == BUS_ADRALN || si->si_code == BUS_ADRERR ||
                                   si->si_code == BUS_OBJERR || si->si_code == BUS_MCEERR_AR);
    if (old->sa_handler == SIG_DFL || old->sa_handler == SIG_IGN) {
        if (old->sa_handler == SIG_IGN && !fault)
            return;
        signal(sig, SIG_DFL);
        if (!fault)
            raise(sig);
    } else if (old->sa_flags & SA_SIGINFO) {
        old->sa_sigaction(sig, si, uc);
    } else {
        old->sa_handler(sig);
    }
}

static void guard_sigbus(int sig, siginfo_t *si, void *uc)
{
    int e = errno;
    uintptr_t a = (uintptr_t)si->si_addr;
    for (unsigned i = 0; si->si_code == BUS_ADRERR && i < AMP_GUARD_MAX; i++) {
        struct guard *g = &guards[i];
        unsigned seq = atomic_load(&g->seq);
        uintptr_t lo = atomic_load(&g->lo), hi = atomic_load(&g->hi);
        if ((seq & 1) || a < lo || a >= hi || atomic_load(&g->seq) != seq)
            continue;
        if (mmap((void *)lo, hi - lo, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
            break; /* cannot repair: fatal after all */
        atomic_store(&g->faulted, 1);
        errno = e;
        return; /* the access is retried, on zeros */
    }
    errno = e;
    chain(sig, &hooks[0].old, si, uc);
}

/* A backend opens (+1) or closes (-1): the first installs our handlers,
 * the last puts the previous dispositions back, unless someone replaced
 * ours meanwhile (then theirs may chain to ours: it stays, and is not
 * installed again over theirs, which would make a loop). */
void amp_guard_use(int delta)
{
    pthread_mutex_lock(&guard_lock);
    hooks[0].sig = SIGBUS;
    hooks[1].sig = AMP_VHOST_SIGNAL;
    if (delta > 0 && guard_users++ == 0) {
        for (unsigned i = 0; i < 2; i++) {
            struct hook *k = &hooks[i];
            struct sigaction sa = {.sa_sigaction = k->fn, .sa_flags = k->flags};
            sigemptyset(&sa.sa_mask);
            if (!k->chained)
                k->chained = sigaction(k->sig, &sa, &k->old) == 0;
        }
    } else if (delta < 0 && --guard_users == 0) {
        for (unsigned i = 0; i < 2; i++) {
            struct hook *k = &hooks[i];
            struct sigaction cur;
            if (sigaction(k->sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
                cur.sa_sigaction == k->fn)
                k->chained = sigaction(k->sig, &k->old, NULL) != 0;
        }
    }
    pthread_mutex_unlock(&guard_lock);
}

/* List our mapping [p, p + len): its entry, or -ENOSPC. */
int amp_guard_add(void *p, size_t len)
{
    int found = -ENOSPC;
    pthread_mutex_lock(&guard_lock);
    for (unsigned i = 0; i < AMP_GUARD_MAX && found < 0; i++) {
        struct guard *g = &guards[i];
        if (atomic_load(&g->hi))
            continue;
        atomic_fetch_add(&g->seq, 1);
        atomic_store(&g->faulted, 0);
        atomic_store(&g->lo, (uintptr_t)p);
        atomic_store(&g->hi, (uintptr_t)p + len);
        atomic_fetch_add(&g->seq, 1);
        found = (int)i;
    }
    pthread_mutex_unlock(&guard_lock);
    return found;
}

/* Withdraw entry i, before its mapping is unmapped. */
void amp_guard_del(unsigned i)
{
    struct guard *g = &guards[i];
    pthread_mutex_lock(&guard_lock);
    atomic_fetch_add(&g->seq, 1);
    atomic_store(&g->hi, 0);
    atomic_store(&g->lo, 0);
    atomic_store(&g->faulted, 0);
    atomic_fetch_add(&g->seq, 1);
    pthread_mutex_unlock(&guard_lock);
}

/* ==== The bound: doorbell fds the frontend can make blocking ====
 *
 * A kick or call fd is the frontend's: we share its open file description,
 * so the O_NONBLOCK we set is the frontend's to clear, at any moment, and
 * then a read of an empty eventfd (drained by the frontend between our poll
 * and our read) or a write to a full one (0xfffffffffffffffe) waits for the
 * frontend, forever if it likes. No description of our own can be had
 * (opening /proc/self/fd/N of an eventfd or a socket fails with ENXIO), and
 * testing the flag or polling before the call leaves a window the frontend
 * can use, so only what holds for the call itself counts:
 *  - a socket: MSG_DONTWAIT;
 *  - an eventfd read: preadv2(RWF_NOWAIT), which eventfds honour whatever
 *    the file's flags since Linux 5.12 (read_iter and FMODE_NOWAIT); the
 *    read is the only system call. Before 5.12 it fails with EOPNOTSUPP
 *    (ENOSYS before 4.6), once per process, and reads run under the timer;
 *  - an eventfd write (no per-call flag: eventfds have no write_iter, and
 *    pwritev2(RWF_NOWAIT) is EOPNOTSUPP, still in 6.18): under a timer of
 *    this thread's (SIGEV_THREAD_ID), armed for BOUND_NS and every BOUND_NS
 *    after, whose signal (AMP_VHOST_SIGNAL, unblocked meanwhile) has a
 *    handler that does nothing, installed without SA_RESTART: a wait is cut
 *    short with EINTR. Repeating, it also interrupts a wait begun after a
 *    first expiry came too early. Each thread makes its timer once and
 *    deletes it as it exits; a child of fork() makes its own (timers are
 *    not inherited). Per operation: the mask, the write, arm and disarm
 *    (left armed, it would cut the caller's own system calls short).
 * An operation that would have waited (EINTR under the timer; EAGAIN from
 * a read of a file the frontend made blocking: a plain read would have
 * waited) is reported as EINTR, and the frontend is dropped for it. Any
 * other kind of fd is refused as a doorbell (a pipe could also raise
 * SIGPIPE; a file on FUSE waits unkillably). The handler passes every
 * other signal of that number to the disposition it replaced, like the
 * guard. */

#define BOUND_NS 20000000L /* 20 ms: an eventfd operation that does not wait takes microseconds */

static int bound_tag; /* our timers' signals carry its address */
static atomic_bool bound_reads; /* reads run under the timer: no RWF_NOWAIT for eventfds */

/* This thread's timer (made: it exists, and is ours to arm). */
static _Thread_local struct bound_timer {
    timer_t id;
    bool made;
} bound_timer;
static pthread_once_t bound_once = PTHREAD_ONCE_INIT;
static pthread_key_t bound_key; /* its destructor deletes a thread's timer */
static bool bound_keyed;        /* bound_key and the fork handler exist */

static void bound_signal(int sig, siginfo_t *si, void *uc)
{
    if (si->si_code == SI_TIMER && si->si_value.sival_ptr == &bound_tag)
        return; /* the wait it interrupted returns EINTR */
    int e = errno;
    chain(sig, &hooks[1].old, si, uc);
    errno = e;
}

static void bound_thread_exit(void *p)
{
    struct bound_timer *t = p;
    if (t->made)
        timer_delete(t->id);
    t->made = false;
}

/* In a child of fork(): the parent's timers are not here (the id may be
 * given to another timer of the child's). */
static void bound_forked(void)
{
    bound_timer.made = false;
}

static void bound_init(void)
{
    bound_keyed = pthread_key_create(&bound_key, bound_thread_exit) == 0;
    if (bound_keyed && pthread_atfork(NULL, NULL, bound_forked) != 0) {
        pthread_key_delete(bound_key);
        bound_keyed = false;
    }
}

/* A read or write under the timer. */
static ssize_t bounded(int fd, bool wr, void *buf, size_t len)
{
    static const struct itimerspec every = {{0, BOUND_NS}, {0, BOUND_NS}}, off;
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, AMP_VHOST_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &set, &old);
    struct bound_timer *t = &bound_timer;
    if (!t->made) {
        pthread_once(&bound_once, bound_init);
        struct sigevent ev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = AMP_VHOST_SIGNAL,
                              .sigev_value.sival_ptr = &bound_tag};
        ev._sigev_un._tid = gettid(); /* sigev_notify_thread_id, which glibc 2.36 lacks */
        t->made = bound_keyed && timer_create(CLOCK_MONOTONIC, &ev, &t->id) == 0;
        if (t->made && pthread_setspecific(bound_key, t) != 0) {
            timer_delete(t->id); /* it would outlive the thread */
            t->made = false;
        }
    }
    ssize_t n = -1;
    int e = ENOMEM;
    if (t->made && timer_settime(t->id, 0, &every, NULL) == 0) {
        n = wr ? write(fd, buf, len) : read(fd, buf, len);
        e = errno;
        timer_settime(t->id, 0, &off, NULL); /* an expiry still queued is taken as this returns */
    }
    if (sigismember(&old, AMP_VHOST_SIGNAL))
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return n;
}

/* One read or write on a doorbell fd (sock: a socket, else an eventfd)
 * that cannot wait. What read/write return; errno EAGAIN: nothing to
 * read, or a full eventfd (a call is pending anyway); EINTR: it would
 * have waited; ENOMEM: no timer for the bound (not tried). */
ssize_t amp_guard_io(int fd, bool sock, bool wr, void *buf, size_t len)
{
    if (sock)
        return wr ? send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT)
                  : recv(fd, buf, len, MSG_DONTWAIT);
    if (wr || atomic_load_explicit(&bound_reads, memory_order_relaxed))
        return bounded(fd, wr, buf, len);
    struct iovec v = {buf, len};
    ssize_t n = preadv2(fd, &v, 1, -1, RWF_NOWAIT);
    if (n < 0 && errno == EAGAIN) {
        int fl = fcntl(fd, F_GETFL); /* the frontend's doing, if it is blocking */
        errno = fl >= 0 && !(fl & O_NONBLOCK) ? EINTR : EAGAIN;
    } else if (n < 0 && (errno == EOPNOTSUPP || errno == ENOSYS)) {
        atomic_store(&bound_reads, true); /* Linux before 5.12 */
        return bounded(fd, false, buf, len);
    }
    return n;
}

void amp_guard_bound_reads(bool on)
{
    atomic_store(&bound_reads, on);
}

bool amp_guard_faulted(unsigned i)
{
    return atomic_load(&guards[i].faulted) != 0;
}
