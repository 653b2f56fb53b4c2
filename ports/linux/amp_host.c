/*
 * amp_host.c - a host on Linux: virtual core + RPMsg + remoteproc + the
 * service thread.
 *
 * The service thread sleeps in poll() on three descriptors: the remote's
 * doorbell (deliver messages, then wake blocked senders), the core's pidfd
 * (it died: reap it and mark the remote crashed), and a control eventfd
 * (a new core was started, or we are closing).
 *
 * Signals: the thread is created with every asynchronous signal blocked,
 * so a process-directed signal (Ctrl-C's SIGINT, SIGTERM, ...) is always
 * taken by a thread of the program, never here: an interpreter whose
 * handler jumps (MicroPython's unix port raises KeyboardInterrupt from
 * inside its SIGINT handler) must not run that jump on this thread. A
 * signal sent to this thread itself stays pending, harmlessly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "amp_host.h"

/* Host-provided table (for firmware without a .resource_table): the
 * MicroPython STM32 layout moved to the virtual core's SHM. The trace
 * buffer sits at the end of SHM, outside the window for rings and buffers. */
#define HOST_VRING1_DA AMP_VCORE_SHM_FREE_DA
#define HOST_VRING0_DA (AMP_VCORE_SHM_FREE_DA + 0x1000u)
#define HOST_TRACE_LEN 0x400u
#define HOST_TRACE_DA (AMP_VCORE_SHM_DA + AMP_VCORE_SHM_SIZE - HOST_TRACE_LEN)

static void kick_service(struct amp_host *h)
{
    uint64_t one = 1;
    if (write(h->ctl_fd, &one, sizeof(one)) < 0)
        perror("amp_host: control eventfd");
}

/* A caller waits for the service thread in slices this long, and asks
 * cfg.interrupted between them: the thread may be held up for long (a
 * callback that blocks runs on it). */
#define CALL_SLICE_MS 100

static bool interrupted(struct amp_host *h, pthread_mutex_t *held)
{
    if (!h->cfg.interrupted)
        return false;
    pthread_mutex_unlock(held); /* (the hook may wait for a lock of the binding's) */
    bool yes = h->cfg.interrupted(h, h->cfg.priv);
    pthread_mutex_lock(held);
    return yes;
}

/* Run fn on the service thread and return what it returned, or -EINTR if
 * the caller was interrupted (cancel) before the thread began it: once
 * begun, a call runs to its end, and the caller waits for it. */
static int call(struct amp_host *h, int (*fn)(struct amp_host *, const void *), const void *arg,
                bool cancel)
{
    if (pthread_equal(pthread_self(), h->thread))
        return fn(h, arg); /* from a callback: we are the service thread */
    pthread_mutex_lock(&h->call_mutex);
    while (h->call_busy) {
        amp_linux_cond_wait(&h->call_cond, &h->call_mutex, CALL_SLICE_MS);
        if (h->call_busy && cancel && interrupted(h, &h->call_mutex)) {
            pthread_mutex_unlock(&h->call_mutex);
            return -EINTR;
        }
    }
    h->call_busy = true;
    h->call_begun = h->call_done = false;
    h->call_fn = fn;
    h->call_arg = arg;
    kick_service(h);
    while (!h->call_done) {
        amp_linux_cond_wait(&h->call_cond, &h->call_mutex, CALL_SLICE_MS);
        if (!h->call_begun && cancel && interrupted(h, &h->call_mutex) && !h->call_begun) {
            h->call_busy = false; /* the thread finds nothing to run */
            pthread_cond_broadcast(&h->call_cond);
            pthread_mutex_unlock(&h->call_mutex);
            return -EINTR;
        }
    }
    int ret = h->call_ret;
    h->call_busy = false;
    pthread_cond_broadcast(&h->call_cond);
    pthread_mutex_unlock(&h->call_mutex);
    return ret;
}

static void run_call(struct amp_host *h)
{
    pthread_mutex_lock(&h->call_mutex);
    bool pending = h->call_busy && !h->call_begun;
    h->call_begun = true;
    int (*fn)(struct amp_host *, const void *) = h->call_fn;
    const void *arg = h->call_arg;
    pthread_mutex_unlock(&h->call_mutex);
    if (!pending)
        return;
    int ret = fn(h, arg);
    pthread_mutex_lock(&h->call_mutex);
    h->call_ret = ret;
    h->call_done = true;
    pthread_cond_broadcast(&h->call_cond);
    pthread_mutex_unlock(&h->call_mutex);
}

/* One round of the service thread's work: sleep in poll() (at most
 * timeout_ms, -1: no limit; not at all while h->more says the last poll
 * stopped at its bound), then handle what woke it. */
static void service_once(struct amp_host *h, int timeout_ms)
{
    char st[96];
    struct pollfd p[3] = {
        {.fd = h->vc.to_host, .events = POLLIN},
        {.fd = h->ctl_fd, .events = POLLIN},
        {.fd = h->vc.pidfd, .events = POLLIN},
    };
    if (poll(p, h->vc.pidfd >= 0 ? 3 : 2, h->more ? 0 : timeout_ms) < 0)
        return; /* EINTR */
    uint64_t v;
    if (p[1].revents) {
        if (read(h->ctl_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
            return;
        run_call(h);
    }
    if (p[0].revents || h->more) {
        if (p[0].revents && read(h->vc.to_host, &v, sizeof(v)) < 0 && errno != EAGAIN)
            return;
        /* a poll handles a bounded batch; what it left behind was rung
         * for already, so no new doorbell will come for it */
        h->more = amp_rpmsg_poll(&h->rpmsg) > 0;
        amp_linux_port_wake(&h->vc.lp); /* buffers may have come back */
    }
    int status;
    if (p[2].revents && amp_vcore_reap(&h->vc, &status) && h->rproc.state == AMP_RPROC_RUNNING) {
        snprintf(h->why, sizeof(h->why), "the remote crashed: %s",
                 amp_vcore_status_str(status, st, sizeof(st)));
        amp_rproc_crashed(&h->rproc); /* unbinds every endpoint */
        amp_linux_port_wake(&h->vc.lp); /* blocked senders: ECONNRESET */
        if (h->cfg.on_crash)
            h->cfg.on_crash(h, h->cfg.priv);
    }
}

static void *service(void *arg)
{
    struct amp_host *h = arg;
    while (!h->quit) {
        service_once(h, -1);
        if (h->cfg.on_service)
            h->cfg.on_service(h, h->cfg.priv);
    }
    return NULL;
}

int amp_host_pump(struct amp_host *h, int32_t timeout_ms)
{
    if (!pthread_equal(pthread_self(), h->thread))
        return -EPERM;
    if (h->quit)
        return -ESHUTDOWN;
    service_once(h, timeout_ms < 0 ? -1 : (int)timeout_ms);
    return 0;
}

/* Start the service thread with every asynchronous signal blocked. */
static int start_service(struct amp_host *h)
{
    return amp_linux_thread(&h->thread, service, h);
}

static int set_why(struct amp_host *h, int err)
{
    if (err) {
        const char *why = h->rproc.why ? h->rproc.why : strerror(-err);
        snprintf(h->why, sizeof(h->why), "%s", why);
    }
    return err;
}

int amp_host_open(struct amp_host *h, const struct amp_host_cfg *cfg)
{
    static const struct amp_host_cfg defaults = {.uart_fd = -1, .cpu = -1};
    memset(h, 0, sizeof(*h));
    h->cfg = cfg ? *cfg : defaults;
    h->image_fd = h->ctl_fd = -1;
    /* EVENT_IDX is accepted when the firmware's own table offers it (amp's
     * firmware does, and streams twice as fast with it; OpenAMP's default
     * tables do not), but the table we build for firmware without one
     * never offers it: that firmware may be OpenAMP's, whose remote never
     * re-arms its event index (v2026.04). See amp_rpmsg.h. Features the
     * user names are offered as they are. */
    uint32_t offer = h->cfg.features ? h->cfg.features : AMP_RPMSG_FEATURES_DEFAULT;
    if (!h->cfg.features)
        h->cfg.features = AMP_RPMSG_FEATURES_DEFAULT | (1u << AMP_VIRTIO_F_EVENT_IDX);

    struct amp_vcore_cfg vcfg = {.uart_fd = h->cfg.uart_fd, .cpu = h->cfg.cpu};
    int err = amp_vcore_open(&h->vc, &vcfg);
    if (err)
        return err;
    h->port = amp_vcore_port(&h->vc);
    amp_rpmsg_init(&h->rpmsg, AMP_ROLE_HOST, &h->port);

    uint8_t *shm = h->vc.mem + AMP_VCORE_RAM_SIZE;
    struct amp_rproc_cfg rc = {
        .machine = AMP_EM_X86_64,
        .shm = {shm + (AMP_VCORE_SHM_FREE_DA - AMP_VCORE_SHM_DA), AMP_VCORE_SHM_FREE_DA,
                HOST_TRACE_DA - AMP_VCORE_SHM_FREE_DA},
        .rsc_da = AMP_VCORE_RSC_DA,
        .host_rsc = {.dfeatures = offer,
                     .vring_da = {HOST_VRING0_DA, HOST_VRING1_DA},
                     .num = 64,
                     .align = 32,
                     .trace_da = HOST_TRACE_DA,
                     .trace_len = HOST_TRACE_LEN},
        .buf_size = h->cfg.buf_size,
        .features = h->cfg.features,
        .slots = h->slots,
        .nslots = 2 * AMP_HOST_NUM_MAX,
    };
    amp_rproc_init(&h->rproc, &h->port, &h->rpmsg, &rc);

    pthread_mutex_init(&h->call_mutex, NULL);
    amp_linux_cond_init(&h->call_cond);
    h->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (h->ctl_fd < 0 || (err = start_service(h))) {
        err = h->ctl_fd < 0 ? -errno : err;
        if (h->ctl_fd >= 0)
            close(h->ctl_fd);
        pthread_cond_destroy(&h->call_cond);
        pthread_mutex_destroy(&h->call_mutex);
        amp_vcore_close(&h->vc);
        return err;
    }
    return 0;
}

static int do_shutdown(struct amp_host *h, const void *arg);

void amp_host_close(struct amp_host *h)
{
    call(h, do_shutdown, NULL, false); /* not to be cancelled: the core must end */
    h->quit = 1;
    kick_service(h);
    pthread_join(h->thread, NULL);
    amp_linux_port_close(&h->vc.lp);
    close(h->ctl_fd);
    pthread_cond_destroy(&h->call_cond);
    pthread_mutex_destroy(&h->call_mutex);
    amp_vcore_close(&h->vc);
}

/* ==== Life-cycle calls, run on the service thread ==== */

static int do_load(struct amp_host *h, const void *arg)
{
    const char *path = arg;
    uint64_t size;
    int fd = amp_linux_open_image(path, &size);
    if (fd < 0) {
        snprintf(h->why, sizeof(h->why), "%s: %s", path,
                 fd == -EINVAL ? "not a regular file" : strerror(-fd));
        return fd;
    }
    int err = amp_rproc_load(&h->rproc, amp_linux_file_read, (void *)(intptr_t)fd, size);
    if (err) {
        close(fd);
        snprintf(h->why, sizeof(h->why), "%s: %s", path, h->rproc.why ? h->rproc.why : strerror(-err));
        return err;
    }
    if (h->image_fd >= 0)
        close(h->image_fd);
    h->image_fd = fd;
    return 0;
}

static int do_attach(struct amp_host *h, const void *arg)
{
    return set_why(h, amp_rproc_attach(&h->rproc, *(const uint64_t *)arg));
}

static int do_start(struct amp_host *h, const void *arg)
{
    (void)arg;
    return set_why(h, amp_rproc_start(&h->rproc));
}

static int do_stop(struct amp_host *h, const void *arg)
{
    (void)arg;
    int err = set_why(h, amp_rproc_stop(&h->rproc));
    amp_linux_port_wake(&h->vc.lp); /* blocked senders: ECONNRESET */
    return err;
}

static int do_shutdown(struct amp_host *h, const void *arg)
{
    (void)arg;
    int err = set_why(h, amp_rproc_shutdown(&h->rproc));
    if (h->image_fd >= 0)
        close(h->image_fd);
    h->image_fd = -1;
    amp_linux_port_wake(&h->vc.lp);
    return err;
}

struct trace_args {
    uint32_t i;
    char *buf;
    size_t n;
};

static int do_trace(struct amp_host *h, const void *arg)
{
    const struct trace_args *t = arg;
    return amp_rproc_trace_read(&h->rproc, t->i, t->buf, t->n);
}

int amp_host_load(struct amp_host *h, const char *path)
{
    return call(h, do_load, path, true);
}

int amp_host_attach(struct amp_host *h, uint64_t entry)
{
    return call(h, do_attach, &entry, true);
}

int amp_host_start(struct amp_host *h)
{
    return call(h, do_start, NULL, true);
}

int amp_host_stop(struct amp_host *h)
{
    return call(h, do_stop, NULL, true);
}

int amp_host_shutdown(struct amp_host *h)
{
    return call(h, do_shutdown, NULL, true);
}

enum amp_rproc_state amp_host_state(struct amp_host *h)
{
    return __atomic_load_n(&h->rproc.state, __ATOMIC_ACQUIRE);
}

const char *amp_host_why(struct amp_host *h)
{
    return h->why;
}

int amp_host_trace(struct amp_host *h, uint32_t i, char *buf, size_t n)
{
    struct trace_args t = {i, buf, n};
    return call(h, do_trace, &t, true);
}
