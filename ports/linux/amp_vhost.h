/*
 * amp_vhost.h - amp's remote role as a vhost-user virtio-rpmsg device
 * (virtio id 7), so that a Linux kernel (User-Mode Linux's virtio_uml, or
 * any vhost-user frontend) talks to amp endpoints through its own
 * virtio_rpmsg_bus.
 *
 * The frontend is the virtio driver and the RPMsg host: it owns the memory
 * and the rings and gives us both over a unix socket (its memory as file
 * descriptors we map, the rings as addresses in it, and an eventfd per ring
 * and direction as doorbells). We are the device and the RPMsg remote:
 * endpoints created on `rpmsg` are announced when a frontend brings the
 * rings up, and unbound (kept) when it goes away; the next frontend gets
 * them announced again. One frontend at a time: another that connects
 * meanwhile waits in the listen queue.
 *
 *     struct amp_vhost *vh;
 *     amp_vhost_open(&vh, "/tmp/rpmsg.sock", NULL);
 *     amp_ept_create(&ept, amp_vhost_rpmsg(vh), "rpmsg-raw", AMP_ADDR_ANY, AMP_ADDR_ANY,
 *                    cb, NULL);
 *     for (;;) amp_vhost_run(vh, -1);     (callbacks run in here)
 *     amp_vhost_close(vh);
 *
 * Single-threaded: every call, and every endpoint callback, runs on the
 * thread that calls amp_vhost_run(). A send that finds no free buffer
 * waits (up to its timeout) for the frontend's doorbell.
 *
 * While a backend is open, a SIGBUS handler of ours is installed (the
 * first open installs it, the last close puts the previous disposition
 * back). It catches only faults in the frontend's memory as we mapped it
 * (the frontend shrank its file: that frontend is dropped and counted in
 * mem_faults); every other SIGBUS goes to the previous disposition. So is
 * one for AMP_VHOST_SIGNAL (a real-time signal, SIGRTMAX - 2 unless
 * defined otherwise when amp is built), installed without SA_RESTART: it
 * comes from a timer of ours, to the thread itself, only while that
 * thread writes a doorbell fd (an eventfd; reads too on Linux before
 * 5.12), and interrupts that call if the frontend made it wait; others of
 * that number go to the previous disposition. A thread that wrote one
 * keeps its timer, disarmed, until it exits. Doorbell fds must be eventfds or sockets.
 *
 * The frontend's memory must be memory (memfd, tmpfs, hugetlbfs) or a
 * file on a mount of ours that is not FUSE, whose daemon could make our
 * fstat and page faults wait; a file of the frontend's whose close could
 * wait (FUSE) is closed on a detached thread, which waits alone.
 */
#ifndef AMP_VHOST_H
#define AMP_VHOST_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "amp/amp.h"

#define AMP_VHOST_NUM_MAX 256u /* largest ring we accept: virtio_uml uses 256 */
/* The longest a frontend may take over one message once its first byte
 * came (real frontends send a message in one write): then it is dropped. */
#define AMP_VHOST_MSG_WAIT_MS 1000
/* The signal that cuts short a read or write on a doorbell fd the
 * frontend made blocking (see "While a backend is open" above). */
#ifndef AMP_VHOST_SIGNAL
#define AMP_VHOST_SIGNAL (SIGRTMAX - 2)
#endif

struct amp_vhost;

struct amp_vhost_cfg {
    bool event_idx;    /* offer VIRTIO_RING_F_EVENT_IDX */
    bool inband;       /* offer in-band notifications: doorbells as messages */
    uint32_t buf_cap;  /* largest buffer we write (0: as the frontend posts) */
    /* A frontend brought the rings up (endpoints are being announced), or
     * went away (endpoints unbound). Optional; on the run() thread. */
    void (*on_link)(struct amp_vhost *vh, bool up, void *priv);
    /* Every refused message or address, in words. Optional. */
    void (*on_error)(struct amp_vhost *vh, const char *why, void *priv);
    void *priv;
};

struct amp_vhost_stats {
    uint32_t connections;   /* frontends accepted */
    uint32_t links;         /* times the rings came up */
    uint32_t msg_errors;    /* messages refused (malformed, unsupported, stalled), and
                               frontends dropped for not taking what we send at once
                               or for making a doorbell fd wait */
    uint32_t mem_faults;    /* frontends dropped because their memory file shrank under us */
    uint32_t kicks;         /* doorbells from the frontend */
    uint32_t calls;         /* doorbells to the frontend */
    bool inband;            /* doorbells are messages (negotiated by the frontend) */
};

/* Listen on a unix socket at `path` (an existing socket file there is
 * replaced; NULL: no socket, messages come through amp_vhost_handle()).
 * cfg may be NULL. 0, or -errno (-EINVAL for a path too long). */
int amp_vhost_open(struct amp_vhost **vh, const char *path, const struct amp_vhost_cfg *cfg);

/* Drop the frontend, stop listening, remove the socket file, free. */
void amp_vhost_close(struct amp_vhost *vh);

/* The RPMsg device (remote role) to create endpoints on. */
struct amp_rpmsg *amp_vhost_rpmsg(struct amp_vhost *vh);

/* Serve for up to timeout_ms (-1: until something happened, or a signal
 * came): accept a frontend, handle its messages, deliver what it sent to
 * the endpoints. Returns 0 (call again), or -errno for a failure of our
 * own (the socket). Returns within timeout_ms plus AMP_VHOST_MSG_WAIT_MS
 * (a frontend stalling mid-message is dropped then), plus what the
 * endpoint callbacks take.
 * A frontend that goes away or sends garbage is not an error of run(): it
 * is dropped, counted, and the next one is accepted. */
int amp_vhost_run(struct amp_vhost *vh, int32_t timeout_ms);

/* Is a frontend connected, and are the rings up? */
bool amp_vhost_connected(const struct amp_vhost *vh);
bool amp_vhost_link_up(const struct amp_vhost *vh);

void amp_vhost_get_stats(const struct amp_vhost *vh, struct amp_vhost_stats *st);

/* For the fuzzer and tests: handle one message as if read from the
 * socket (hdr 12 bytes + payload, fds received with it, consumed or
 * closed). Replies go to reply_fd (-1: nowhere). 0, or -errno when the
 * message was refused. */
int amp_vhost_handle(struct amp_vhost *vh, const void *msg, size_t len, int *fds, int nfds,
                     int reply_fd);

/* For tests: may the file that fdinfo (a /proc/PID/fdinfo/N file) shows
 * be stat'ed, mapped and touched without waiting for a process, judged by
 * the type mountinfo (/proc/PID/mountinfo) gives the mount its mnt_id:
 * line names? 0, or -EPERM (FUSE: fuse, fuseblk, fuse.*; or no such
 * mount). type (len bytes, cut short if longer): the mount's type, or why
 * there is none. A memory file is stat'ed and mapped only if its seals
 * can be read (tmpfs, memfd, hugetlbfs) or this says 0. */
int amp_vhost_mount_check(FILE *fdinfo, FILE *mountinfo, char *type, size_t len);

/* For the fuzzer and tests: the frontend rang ring `index`'s doorbell.
 * Returns what amp_rpmsg_poll() returned (or -ENOTCONN: rings not up). */
int amp_vhost_kick(struct amp_vhost *vh, uint32_t index);

#endif /* AMP_VHOST_H */
