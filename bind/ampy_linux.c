/*
 * ampy_linux.c - the binding core's platform on Linux: the virtual core
 * (amp_host), a mutex and condition variable for the queues, and an
 * eventfd per endpoint for select/poll/asyncio.
 *
 * Settings, read when the device is first used:
 *   AMP_UART      where the firmware's UART output goes: a file path,
 *                 "-" for stderr, "null" to drop it (default: stdout)
 *   AMP_BUF_SIZE  RPMsg buffer size in bytes, header included: a multiple
 *                 of 4 from 56 (a name-service message) to 2048 (the most
 *                 that fits the core's shared memory for 256-entry rings);
 *                 default 512
 *   AMP_CPU       pin the virtual core to this CPU (default: no pinning)
 *   AMP_PLATFORM  "virtual" or "kernel": see ampy_kernel.h (the kernel
 *                 backend, when the binding links it in, takes over the
 *                 device and the remote-processor calls)
 * A bad value is an error naming the variable, never silently ignored.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "amp_host.h"
#include "ampy.h"
#include "ampy_kernel.h"
#include "ampy_linux.h"

const struct ampy_kernel_ops *ampy_linux_kernel;

struct plat {
    struct amp_host host;
    pthread_mutex_t mutex; /* the queue lock */
    pthread_cond_t cond;   /* queue changes */
    int uart_fd;           /* ours to close, or -1 */
    struct ampy_kernel *k; /* the kernel backend's, or NULL: the virtual core */
    void (*deliver)(struct ampy_dev *d); /* the binding's, on the service thread */
    bool (*interrupted)(void);           /* the binding's, on a life-cycle call's caller */
};

#define KOPS ampy_linux_kernel

static struct plat *P(struct ampy_dev *d)
{
    return d->plat;
}

/* A numeric setting: unset or empty gives dflt; otherwise decimal digits
 * for a value in lo..hi, and anything else is -EINVAL with a sentence
 * naming the variable in ampy_open_why. */
static int env_num(const char *name, long dflt, long lo, long hi, const char *what, long *out)
{
    const char *v = getenv(name);
    *out = dflt;
    if (!v || !*v)
        return 0;
    long x = 0;
    const char *p = v;
    for (; *p >= '0' && *p <= '9' && x <= hi; p++)
        x = x * 10 + (*p - '0');
    if (*p || x < lo || x > hi) {
        snprintf(ampy_open_why, sizeof(ampy_open_why), "%s=%.40s: want %s, %ld to %ld", name, v, what, lo,
                 hi);
        return -EINVAL;
    }
    *out = x;
    return 0;
}

/* The settings, each checked: 0 or -errno with ampy_open_why set. */
static int settings(struct amp_host_cfg *cfg, int *uart_fd)
{
    long buf, cpu;
    *uart_fd = -1;
    int err = env_num("AMP_BUF_SIZE", 0, 56, 2048, "bytes per RPMsg buffer, header included", &buf);
    if (!err && buf % 4) {
        snprintf(ampy_open_why, sizeof(ampy_open_why), "AMP_BUF_SIZE=%ld: want a multiple of 4", buf);
        err = -EINVAL;
    }
    if (!err)
        err = env_num("AMP_CPU", -1, 0, CPU_SETSIZE - 1, "a CPU number", &cpu);
    if (!err && cpu >= 0) {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof(set), &set) == 0 && !CPU_ISSET((int)cpu, &set)) {
            snprintf(ampy_open_why, sizeof(ampy_open_why),
                     "AMP_CPU=%ld: not a CPU this process may run on (%d online)", cpu, CPU_COUNT(&set));
            err = -EINVAL;
        }
    }
    if (err)
        return err;
    const char *uart = getenv("AMP_UART");
    if (uart && !strcmp(uart, "-"))
        *uart_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    else if (uart && *uart)
        *uart_fd = open(!strcmp(uart, "null") ? "/dev/null" : uart,
                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0644);
    if (uart && *uart && *uart_fd < 0) {
        err = -errno;
        snprintf(ampy_open_why, sizeof(ampy_open_why), "AMP_UART=%.100s: %s", uart, strerror(-err));
        return err;
    }
    cfg->uart_fd = *uart_fd;
    cfg->cpu = (int)cpu;
    cfg->buf_size = (uint32_t)buf;
    return 0;
}

/* A fork() child shares the device's memory and descriptors but has none
 * of its threads: it must leave them to the parent (ampy_dev_forked). A
 * child forked from a callback runs on a copy of the service thread: its
 * loop must end there, or it would go on reading the parent's doorbell and
 * rings. It ends when the callback returns; being the child's only thread,
 * its end is the child's exit, status 0. */
static void on_fork_child(void)
{
    struct ampy_dev *d = ampy_dev_peek();
    if (d && !P(d)->k && pthread_equal(pthread_self(), P(d)->host.thread))
        P(d)->host.quit = 1;
    ampy_dev_forked();
}

/* The remote died (service thread): receivers blocked on any endpoint
 * look again, and find the link down. */
static void on_crash(struct amp_host *h, void *priv)
{
    (void)h;
    ampy_wake_all(priv);
}

/* After each round of the service thread's work: the binding's turn. */
static void on_service(struct amp_host *h, void *priv)
{
    struct ampy_dev *d = priv;
    void (*deliver)(struct ampy_dev *) = __atomic_load_n(&P(d)->deliver, __ATOMIC_ACQUIRE);
    (void)h;
    if (deliver)
        deliver(d);
}

/* A life-cycle call's caller, while the service thread has not begun it. */
static bool interrupted(struct amp_host *h, void *priv)
{
    struct ampy_dev *d = priv;
    bool (*fn)(void) = __atomic_load_n(&P(d)->interrupted, __ATOMIC_ACQUIRE);
    (void)h;
    return fn && fn();
}

void ampy_linux_set_interrupted(struct ampy_dev *d, bool (*fn)(void))
{
    __atomic_store_n(&P(d)->interrupted, fn, __ATOMIC_RELEASE);
}

bool ampy_linux_set_deliver(struct ampy_dev *d, void (*deliver)(struct ampy_dev *d))
{
    if (P(d)->k)
        return false;
    __atomic_store_n(&P(d)->deliver, deliver, __ATOMIC_RELEASE);
    return true;
}

int ampy_linux_pump(struct ampy_dev *d, int32_t timeout_ms)
{
    return P(d)->k ? -EPERM : amp_host_pump(&P(d)->host, timeout_ms);
}

int ampy_plat_open(struct ampy_dev *d)
{
    static bool fork_hooked;
    if (!fork_hooked && pthread_atfork(NULL, NULL, on_fork_child) == 0)
        fork_hooked = true;

    const char *backend = ampy_plat_backend();
    if (!backend)
        return -EINVAL; /* AMP_PLATFORM is neither */
    struct plat *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->uart_fd = -1;
    if (!strcmp(backend, "kernel")) {
        amp_linux_cond_init(&p->cond);
        pthread_mutex_init(&p->mutex, NULL);
        d->plat = p;
        int err = KOPS->open(d, &p->k);
        if (err) {
            pthread_cond_destroy(&p->cond);
            pthread_mutex_destroy(&p->mutex);
            free(p);
            d->plat = NULL;
        }
        return err;
    }
    struct amp_host_cfg cfg = {
        .on_crash = on_crash, .on_service = on_service, .interrupted = interrupted, .priv = d};
    int err = settings(&cfg, &p->uart_fd);
    if (err) {
        free(p);
        return err;
    }
    amp_linux_cond_init(&p->cond);
    pthread_mutex_init(&p->mutex, NULL);
    d->plat = p; /* (the service thread starts in amp_host_open: on_service) */
    err = amp_host_open(&p->host, &cfg);
    if (err) {
        d->plat = NULL;
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->mutex);
        if (p->uart_fd >= 0)
            close(p->uart_fd);
        free(p);
        return err;
    }
    d->rpmsg = &p->host.rpmsg;
    return 0;
}

void ampy_plat_close(struct ampy_dev *d)
{
    struct plat *p = P(d);
    if (p->k) {
        KOPS->close(p->k);
    } else {
        amp_host_close(&p->host); /* views the binding kept read zeros from now on (keep_mem) */
    }
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mutex);
    if (p->uart_fd >= 0)
        close(p->uart_fd);
    free(p);
    d->plat = NULL;
}

void ampy_linux_abandon(struct ampy_dev *d)
{
    /* The core's pid changes only on the service thread, which is held
     * up in the callback; not reaped, it cannot name another process. */
    pid_t pid = P(d)->k ? 0 : __atomic_load_n(&P(d)->host.vc.pid, __ATOMIC_ACQUIRE);
    if (pid > 0)
        kill(pid, SIGKILL);
    ampy_dev_abandon();
}

void ampy_linux_keep_memory(struct ampy_dev *d)
{
    P(d)->host.vc.keep_mem = true;
}

void ampy_plat_lock(struct ampy_dev *d)
{
    pthread_mutex_lock(&P(d)->mutex);
}

void ampy_plat_unlock(struct ampy_dev *d)
{
    pthread_mutex_unlock(&P(d)->mutex);
}

int ampy_plat_wait(struct ampy_dev *d, int32_t timeout_ms)
{
    return amp_linux_cond_wait(&P(d)->cond, &P(d)->mutex, timeout_ms);
}

void ampy_plat_broadcast(struct ampy_dev *d)
{
    pthread_cond_broadcast(&P(d)->cond);
}

int ampy_plat_fd_open(void)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd >= 0 ? fd : errno > 1 ? -errno : -EMFILE; /* (-1 would say "none") */
}

void ampy_plat_fd_set(int fd, bool readable)
{
    uint64_t v = 1;
    if (fd < 0)
        return;
    if (readable) {
        if (write(fd, &v, sizeof(v)) < 0) { /* cannot fail: the counter is 0 or 1 */
        }
    } else if (read(fd, &v, sizeof(v)) < 0) { /* EAGAIN: already clear */
    }
}

void ampy_plat_fd_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

/* ==== Remote processor ==== */

int ampy_rproc_load(struct ampy_dev *d, const char *path)
{
    if (P(d)->k)
        return KOPS->rproc_load(P(d)->k, path);
    return amp_host_load(&P(d)->host, path);
}

int ampy_rproc_attach(struct ampy_dev *d, uint64_t entry)
{
    if (P(d)->k)
        return KOPS->rproc_attach(P(d)->k);
    return amp_host_attach(&P(d)->host, entry);
}

int ampy_rproc_start(struct ampy_dev *d)
{
    if (P(d)->k)
        return KOPS->rproc_start(P(d)->k);
    return amp_host_start(&P(d)->host);
}

int ampy_rproc_stop(struct ampy_dev *d)
{
    if (P(d)->k)
        return KOPS->rproc_stop(P(d)->k);
    int err = amp_host_stop(&P(d)->host);
    ampy_wake_all(d); /* blocked receivers: -ECONNRESET */
    return err;
}

int ampy_rproc_shutdown(struct ampy_dev *d)
{
    if (P(d)->k)
        return KOPS->rproc_shutdown(P(d)->k);
    int err = amp_host_shutdown(&P(d)->host);
    ampy_wake_all(d);
    return err;
}

enum amp_rproc_state ampy_rproc_state(struct ampy_dev *d)
{
    if (P(d)->k)
        return KOPS->rproc_state(P(d)->k);
    return amp_host_state(&P(d)->host);
}

int ampy_rproc_trace(struct ampy_dev *d, uint32_t i, char *buf, size_t n)
{
    if (P(d)->k)
        return KOPS->rproc_trace(P(d)->k, i, buf, n);
    return amp_host_trace(&P(d)->host, i, buf, n);
}

const char *ampy_rproc_why(struct ampy_dev *d)
{
    if (P(d)->k)
        return KOPS->why(P(d)->k);
    return amp_host_why(&P(d)->host);
}


const char *ampy_rproc_state_name(struct ampy_dev *d)
{
    if (P(d)->k)
        return KOPS->rproc_state_name(P(d)->k);
    return amp_rproc_state_name(amp_host_state(&P(d)->host));
}

/* The virtual core is one processor: index 0, named "virtual". */
int ampy_rproc_select(struct ampy_dev *d, const char *name, int index)
{
    if (P(d)->k)
        return KOPS->rproc_select(P(d)->k, name, index);
    return (name && strcmp(name, "virtual")) || index > 0 ? -ENODEV : 0;
}

const char *ampy_plat_backend(void)
{
    struct ampy_dev *d = ampy_dev_peek();
    if (d)
        return P(d)->k ? "kernel" : "virtual";
    return KOPS ? KOPS->choose() : "virtual";
}
