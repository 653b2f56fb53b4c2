/*
 * amp_linux.c - eventfd doorbells and shared-memory files for amp.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "amp_linux.h"

int amp_linux_thread(pthread_t *thread, void *(*fn)(void *), void *arg)
{
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS};
    sigset_t all, old;
    sigfillset(&all);
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
        sigdelset(&all, faults[i]);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(thread, NULL, fn, arg); /* inherits the mask */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return -err;
}

int amp_linux_cond_init(pthread_cond_t *cond)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int err = pthread_cond_init(cond, &ca);
    pthread_condattr_destroy(&ca);
    return -err;
}

int amp_linux_cond_wait(pthread_cond_t *cond, pthread_mutex_t *mutex, int32_t timeout_ms)
{
    if (timeout_ms < 0)
        return -pthread_cond_wait(cond, mutex);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return -pthread_cond_timedwait(cond, mutex, &ts);
}

int amp_linux_port_init(struct amp_linux_port *lp, int kick_fd, int wait_fd, bool threaded)
{
    memset(lp, 0, sizeof(*lp));
    lp->kick_fd = kick_fd;
    lp->wait_fd = wait_fd;
    lp->threaded = threaded;
    if (!threaded)
        return 0;
    int err = amp_linux_cond_init(&lp->cond);
    if (err)
        return err;
    err = pthread_mutex_init(&lp->mutex, NULL);
    if (err) {
        pthread_cond_destroy(&lp->cond);
        return -err;
    }
    return 0;
}

void amp_linux_port_destroy(struct amp_linux_port *lp)
{
    if (lp->threaded) {
        pthread_cond_destroy(&lp->cond);
        pthread_mutex_destroy(&lp->mutex);
    }
}

int amp_linux_notify(void *ctx, uint32_t id)
{
    struct amp_linux_port *lp = ctx;
    uint64_t one = 1;
    (void)id; /* one doorbell per direction: the peer looks at every ring */
    lp->kicks++;
    return write(lp->kick_fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

int amp_linux_doorbell_wait(int fd, int32_t timeout_ms)
{
    uint64_t v;
    if (timeout_ms < 0) {
        /* no time limit: a blocking read() is one syscall and a cheaper
         * wake-up than poll() then read() (about 1 us per wake-up) */
        ssize_t r;
        do
            r = read(fd, &v, sizeof(v));
        while (r < 0 && errno == EINTR);
        if (r == (ssize_t)sizeof(v))
            return 0;
        if (r >= 0 || errno != EAGAIN)
            return r < 0 ? -errno : -EIO;
        /* a non-blocking descriptor: wait in poll() */
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;
    do
        n = poll(&p, 1, timeout_ms < 0 ? -1 : timeout_ms);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0)
        return -ETIMEDOUT;
    if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return -errno;
    return 0;
}

int amp_linux_wait(void *ctx, int32_t timeout_ms)
{
    struct amp_linux_port *lp = ctx;
    if (!lp->threaded)
        return amp_linux_doorbell_wait(lp->wait_fd, timeout_ms);
    if (lp->closing)
        return -ECONNRESET;
    /* called with lp->mutex held, as a condition variable wants it */
    int err = amp_linux_cond_wait(&lp->cond, &lp->mutex, timeout_ms);
    return lp->closing ? -ECONNRESET : err;
}

uint32_t amp_linux_now_ms(void *ctx)
{
    struct timespec ts;
    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

void amp_linux_lock(void *ctx)
{
    struct amp_linux_port *lp = ctx;
    if (lp->threaded)
        pthread_mutex_lock(&lp->mutex);
}

void amp_linux_unlock(void *ctx)
{
    struct amp_linux_port *lp = ctx;
    if (lp->threaded)
        pthread_mutex_unlock(&lp->mutex);
}

void amp_linux_port_wake(struct amp_linux_port *lp)
{
    if (!lp->threaded)
        return;
    pthread_mutex_lock(&lp->mutex);
    pthread_cond_broadcast(&lp->cond);
    pthread_mutex_unlock(&lp->mutex);
}

void amp_linux_port_close(struct amp_linux_port *lp)
{
    if (!lp->threaded)
        return;
    pthread_mutex_lock(&lp->mutex);
    lp->closing = true;
    pthread_cond_broadcast(&lp->cond);
    pthread_mutex_unlock(&lp->mutex);
}

static const struct amp_port_ops linux_ops = {
    .notify = amp_linux_notify,
    .wait = amp_linux_wait,
    .now_ms = amp_linux_now_ms,
    .lock = amp_linux_lock,
    .unlock = amp_linux_unlock,
};

struct amp_port amp_linux_port(struct amp_linux_port *lp)
{
    return (struct amp_port){&linux_ops, lp};
}

void *amp_linux_shm_create(const char *name, size_t size, int *fd)
{
    int f = memfd_create(name, MFD_CLOEXEC);
    if (f < 0)
        return NULL;
    if (ftruncate(f, (off_t)size) < 0) {
        int e = errno;
        close(f);
        errno = e;
        return NULL;
    }
    void *p = amp_linux_shm_map(f, size);
    if (!p) {
        int e = errno;
        close(f);
        errno = e;
        return NULL;
    }
    *fd = f;
    return p;
}

void *amp_linux_shm_map(int fd, size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}
