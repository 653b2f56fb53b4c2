/*
 * amp_host.h - a complete host on Linux: the virtual core, an RPMsg
 * device, remoteproc, and a service thread that reacts to the remote's
 * doorbell and to its death.
 *
 * The service thread delivers messages: endpoint callbacks, the
 * new-service callback and unbind callbacks run on it, with no lock held.
 * Everything else may be called from any thread: sends block until a
 * buffer is free. Life-cycle calls (load, start, stop, ...) are handed to
 * the service thread and run there, one at a time: it is the only thread
 * that touches the remoteproc state and the core process, and the core
 * (which dies with the thread that spawned it) lives as long as it.
 *
 *     struct amp_host h;
 *     amp_host_open(&h, NULL);
 *     amp_ept_create(&ept, &h.rpmsg, "vuart-channel", AMP_ADDR_ANY, AMP_ADDR_ANY, cb, NULL);
 *     amp_host_load(&h, "virtual_uart.elf");
 *     amp_host_start(&h);
 *     ... amp_ept_send(&ept, "hi", 2, AMP_WAIT_FOREVER) ...
 *     amp_host_close(&h);
 */
#ifndef AMP_HOST_H
#define AMP_HOST_H

#include <pthread.h>

#include "amp_vcore.h"

#ifndef AMP_HOST_NUM_MAX
#define AMP_HOST_NUM_MAX 256u /* largest vring a firmware may ask for */
#endif

struct amp_host;
typedef void (*amp_host_event_cb)(struct amp_host *h, void *priv);

struct amp_host_cfg {
    int uart_fd;       /* firmware UART output; -1: our stdout */
    int cpu;           /* pin the virtual core; -1: don't */
    uint32_t buf_size; /* RPMsg buffer size; 0: 512 */
    uint32_t features; /* features the host accepts, and offers in the table it
                        * builds for firmware without one. 0: accept NS and
                        * EVENT_IDX (the latter only if the firmware's own
                        * table offers it), offer NS only */
    amp_host_event_cb on_crash; /* on the service thread, after endpoints unbound */
    /* on the service thread after each round of its work (a poll of the
     * rings, a life-cycle call, ...), with no lock held: a binding may
     * deliver what the round's callbacks queued */
    amp_host_event_cb on_service;
    /* on a thread waiting for a life-cycle call, every 100 ms while the
     * service thread has not begun it (a callback holds it up): true
     * cancels the call, which returns -EINTR. NULL: wait to the end */
    bool (*interrupted)(struct amp_host *h, void *priv);
    void *priv;
};

struct amp_host {
    struct amp_vcore vc;      /* first: it is the port's context */
    struct amp_port port;
    struct amp_rpmsg rpmsg;
    struct amp_rproc rproc;
    struct amp_host_cfg cfg;
    pthread_t thread;         /* the service thread */
    int ctl_fd;               /* eventfd: wake the service thread */
    volatile int quit;
    bool more;                /* the last poll stopped at its bound: poll again, don't sleep */
    /* one life-cycle call at a time, handed to the service thread */
    pthread_mutex_t call_mutex;
    pthread_cond_t call_cond;
    int (*call_fn)(struct amp_host *h, const void *arg);
    const void *call_arg;
    int call_ret;
    bool call_busy, call_begun, call_done;
    int image_fd;             /* the loaded image, kept for reloads */
    char why[160];            /* the last error, in words */
    struct amp_vring_slot slots[2 * AMP_HOST_NUM_MAX];
};

/* Make the virtual core and the RPMsg device, and start the service
 * thread. cfg may be NULL. 0 or -errno. */
int amp_host_open(struct amp_host *h, const struct amp_host_cfg *cfg);

/* Shut the remote down, stop the thread, release everything. */
void amp_host_close(struct amp_host *h);

/* Load an ELF image from a file (-ENOENT if it does not exist, loader
 * errors as in amp_elf.h). The file stays open for reloads. */
int amp_host_load(struct amp_host *h, const char *path);

/* Use an image already in the core's memory. */
int amp_host_attach(struct amp_host *h, uint64_t entry);

/* Life-cycle calls (load, attach, start, stop, shutdown, trace) may also
 * return -EINTR: cfg.interrupted said so before the service thread began
 * them, and nothing was done. From a callback they run there and then. */
int amp_host_start(struct amp_host *h);
int amp_host_stop(struct amp_host *h);
int amp_host_shutdown(struct amp_host *h);
enum amp_rproc_state amp_host_state(struct amp_host *h);

/* Why the last call failed, or how the core ended after a crash. */
const char *amp_host_why(struct amp_host *h);

int amp_host_trace(struct amp_host *h, uint32_t i, char *buf, size_t n);

/* From a callback on the service thread, which must not sleep on what only
 * that thread does (a send waiting for a buffer, a wait for a message):
 * one round of the service thread's work, sleeping at most timeout_ms
 * (-1: no limit) for the doorbell, a life-cycle call or the core's death.
 * Messages it polls go to their endpoints' callbacks as usual (a binding
 * that runs callbacks from on_service queues them). 0, -ESHUTDOWN (closing),
 * or -EPERM on any other thread. */
int amp_host_pump(struct amp_host *h, int32_t timeout_ms);

#endif /* AMP_HOST_H */
