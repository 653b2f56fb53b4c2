/*
 * amp_vhost.c - a vhost-user backend: amp's RPMsg remote as a virtio-rpmsg
 * device for a vhost-user frontend (User-Mode Linux's virtio_uml).
 *
 * Main invariant: nothing the frontend says is trusted. Its messages are
 * read whole (header, then at most MSG_MAX payload bytes, or the
 * connection is dropped: the stream cannot be resynchronised), and each
 * request checks its own size before reading a field. Its memory table is
 * mapped region by region after checking that offset + size fits the
 * file it gave; ring addresses are translated through that table and each
 * part (desc, avail, used) must lie whole inside one region. Buffers are
 * then checked by the vring layer against one window (struct amp_shm: the
 * region with the lowest guest address, capped at 4 GiB), like any peer's
 * descriptors. Every file descriptor received is either kept in exactly
 * one place (vq kick/call, the backend channel) or closed at once, on a
 * thread of its own if its close could wait (a file on FUSE: close_fd). A
 * memory file is stat'ed and mapped only once its filesystem, told from
 * /proc without calling into it, is one no process serves (not FUSE):
 * else the frontend is dropped (mem_file_ok).
 *
 * Nor can the frontend stop or kill the process. A message is read whole
 * within AMP_VHOST_MSG_WAIT_MS of the call that began it, or the frontend
 * is dropped: run() returns within its timeout plus that limit (plus what
 * the endpoint callbacks take). Every region is listed with the guard
 * (amp_guard.c) from its mmap to its munmap, and nothing else is: a SIGBUS
 * there (the frontend cut its file short) turns the region into zero
 * pages and marks it, the access completes, and run() drops the frontend
 * (mem_faults) before it does anything else; any other SIGBUS is not ours.
 * No read or write of ours on a file the frontend gave us can wait for
 * it, whatever it does to that file's flags (O_NONBLOCK is on the open
 * file description, which it shares): sockets are read and written with
 * MSG_DONTWAIT; doorbells must be eventfds or sockets (anything else is
 * refused), and an eventfd is read with RWF_NOWAIT and written under the
 * bound (amp_guard.c), which cuts a wait short. A reply or an in-band call that the socket
 * does not take whole at once (the frontend does not read), or a doorbell
 * operation that would have waited (the frontend cleared O_NONBLOCK),
 * marks the frontend stuck, and run() drops it (msg_errors).
 *
 * Where the rings are:
 *   frontend memory  regions[i]: guest address gpa, frontend (user) address
 *                    uva, size, mapped here at map + (mmap_offset - page).
 *   ring parts       SET_VRING_ADDR gives frontend user addresses (uva);
 *   buffers          descriptors hold guest addresses (gpa), in the window.
 *
 * The link (amp_rpmsg_start) comes up when both rings have a size, an
 * address, a kick fd and are enabled; it goes down (amp_rpmsg_stop,
 * endpoints kept) on GET_VRING_BASE, RESET_OWNER, a new memory table or
 * when the frontend goes away. A failed reply does not matter: the next
 * read sees the end of the connection.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "amp_guard.h"
#include "amp_linux.h"
#include "amp_vhost.h"

/* ==== The protocol (vhost-user, as in QEMU's docs/interop/vhost-user.rst) ==== */

enum {
    GET_FEATURES = 1,
    SET_FEATURES = 2,
    SET_OWNER = 3,
    RESET_OWNER = 4,
    SET_MEM_TABLE = 5,
    SET_VRING_NUM = 8,
    SET_VRING_ADDR = 9,
    SET_VRING_BASE = 10,
    GET_VRING_BASE = 11,
    SET_VRING_KICK = 12,
    SET_VRING_CALL = 13,
    SET_VRING_ERR = 14,
    GET_PROTOCOL_FEATURES = 15,
    SET_PROTOCOL_FEATURES = 16,
    GET_QUEUE_NUM = 17,
    SET_VRING_ENABLE = 18,
    SET_BACKEND_REQ_FD = 21, /* SET_SLAVE_REQ_FD */
    VRING_KICK = 35,         /* in-band: the frontend's doorbell as a message */
    BACKEND_VRING_CALL = 4,  /* in-band, on the backend channel: ours */
};

#define F_VERSION 1u         /* header flags: version 1 ... */
#define F_VERSION_MASK 3u
#define F_REPLY (1u << 2)    /* ... this is a reply ... */
#define F_NEED_REPLY (1u << 3) /* ... and the frontend wants a status (REPLY_ACK) */

#define VIRTIO_F_VERSION_1 32
#define F_PROTOCOL_FEATURES 30
#define PROTO_REPLY_ACK 3
#define PROTO_BACKEND_REQ 5 /* SLAVE_REQ: virtio_uml's probe fails (-16) without it */
#define PROTO_INBAND 14     /* INBAND_NOTIFICATIONS: doorbells as messages, no fds */

#define VRING_IDX_MASK 0xffu
#define VRING_NOFD (1u << 8) /* "no fd: poll or in-band", which we do not offer */

#define NVQ 2u       /* rpmsg: vq0 (device -> driver), vq1 (driver -> device) */
#define NREGIONS 8u  /* VHOST_MEMORY_BASELINE_NREGIONS */
#define MSG_MAX 512u /* larger than any message we accept: a bigger header is garbage */
#define HDR_SIZE 12u

struct hdr {
    uint32_t request;
    uint32_t flags;
    uint32_t size;
};

struct region {
    uint64_t gpa, size, uva; /* as the frontend gave them, checked */
    void *map;               /* our mapping of the fd, map_len bytes */
    size_t map_len;
    uint8_t *va;             /* gpa maps here */
    unsigned guard;          /* its entry with the guard (amp_guard_add) */
};

struct vq {
    uint32_t num;          /* 0: not set */
    uint64_t desc, avail, used; /* frontend user addresses; valid if addr_set */
    bool addr_set;
    bool enabled;          /* SET_VRING_ENABLE, or implied without protocol features */
    int kick_fd, call_fd;  /* -1: none */
    bool kick_sock, call_sock; /* the fd is a socket, else an eventfd (see the bound) */
};

struct amp_vhost {
    struct amp_vhost_cfg cfg;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int listen_fd;       /* -1: no socket (amp_vhost_handle only) */
    int conn_fd;         /* the frontend, -1 when none */
    int backend_fd;      /* SET_BACKEND_REQ_FD: kept, never written */
    uint64_t features;   /* acked by SET_FEATURES */
    uint64_t proto;      /* acked by SET_PROTOCOL_FEATURES */
    struct region reg[NREGIONS];
    uint32_t nreg;
    struct vq vq[NVQ];
    struct amp_vhost_stats st;
    struct amp_rpmsg rpmsg;
    struct amp_rsc_vdev *vdev; /* ours: the status and features amp_rpmsg_start reads */
    struct amp_vring_parts parts[NVQ];
    struct amp_vring_slot slots[2 * AMP_VHOST_NUM_MAX];
    bool lost;           /* a region unmapped had faulted (see the guard): drop the frontend */
    const char *stuck;   /* why the frontend would make us wait (run() drops it), or NULL */
};

static uint64_t offered(const struct amp_vhost *vh)
{
    return (1ull << VIRTIO_F_VERSION_1) | (1ull << F_PROTOCOL_FEATURES) |
           (1ull << AMP_RPMSG_F_NS) | (vh->cfg.event_idx ? 1ull << AMP_VIRTIO_F_EVENT_IDX : 0);
}

static uint64_t proto_offered(const struct amp_vhost *vh)
{
    return (1ull << PROTO_REPLY_ACK) | (1ull << PROTO_BACKEND_REQ) |
           (vh->cfg.inband ? 1ull << PROTO_INBAND : 0);
}

/* Doorbells as messages: kicks on the socket, calls on the backend channel. */
static bool inband(const struct amp_vhost *vh)
{
    return vh->proto & (1ull << PROTO_INBAND);
}

/* ==== Helpers ==== */

static int mem_file_ok(int fd, char *type, size_t len);

/* The name /proc gives fd's file ("socket:[123]", a path...), told
 * without calling into its filesystem (fstat could wait: a file on FUSE). */
static void fd_name(int fd, char *name, size_t len)
{
    char link[32];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, name, len - 1);
    if (n < 0)
        snprintf(name, len, "unknown: %s", strerror(errno));
    else
        name[n] = '\0';
}

#define CLOSERS_MAX 64
static int closers; /* closer threads still waiting */

static void *closer(void *fd)
{
    close((int)(intptr_t)fd);
    __atomic_fetch_sub(&closers, 1, __ATOMIC_RELAXED);
    return NULL;
}

/* Close a file of ours or the frontend's, without waiting for anyone:
 * closing a file on FUSE waits, uninterruptibly, for its daemon to answer
 * FLUSH. So a file that is not a socket, a pipe, an eventfd, memory or on
 * a mount mem_file_ok passes is closed on a thread of its own, which may
 * wait for ever but holds nothing else; beyond CLOSERS_MAX such threads
 * waiting, it is left open. */
static void close_fd(int *fd)
{
    char name[64], type[40];
    pthread_t t;
    if (*fd < 0)
        return;
    fd_name(*fd, name, sizeof(name));
    if (strncmp(name, "socket:[", 8) == 0 || strncmp(name, "pipe:[", 6) == 0 ||
        strcmp(name, "anon_inode:[eventfd]") == 0 || mem_file_ok(*fd, type, sizeof(type)) == 0) {
        close(*fd);
    } else if (__atomic_fetch_add(&closers, 1, __ATOMIC_RELAXED) < CLOSERS_MAX) {
        /* signals blocked: one sent to the process must not pick a
         * thread that sleeps, uninterruptibly, in close */
        if (amp_linux_thread(&t, closer, (void *)(intptr_t)*fd) == 0)
            pthread_detach(t);
        else
            __atomic_fetch_sub(&closers, 1, __ATOMIC_RELAXED); /* left open */
    } else {
        __atomic_fetch_sub(&closers, 1, __ATOMIC_RELAXED); /* left open */
    }
    *fd = -1;
}

/* Count a refused message, say why, and return err. */
static int refuse(struct amp_vhost *vh, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(struct amp_vhost *vh, int err, const char *fmt, ...)
{
    vh->st.msg_errors++;
    if (vh->cfg.on_error) {
        char why[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        vh->cfg.on_error(vh, why, vh->cfg.priv);
    }
    return err;
}

/* Send a whole message on a socket of the frontend's without waiting: a
 * frontend that does not read what we send (its socket full, or only
 * part of the message taken) is marked to be dropped. 0, or -EPIPE. */
static int send_all(struct amp_vhost *vh, int fd, const void *m, size_t len, const char *what)
{
    ssize_t n = send(fd, m, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == (ssize_t)len)
        return 0;
    if (n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK)
        vh->stuck = what;
    return -EPIPE;
}

/* The frontend's user address range [uva, uva + len) as our pointer, if
 * it lies whole in one region; NULL otherwise. */
static void *uva_to_va(const struct amp_vhost *vh, uint64_t uva, uint64_t len)
{
    for (uint32_t i = 0; i < vh->nreg; i++) {
        const struct region *r = &vh->reg[i];
        if (uva >= r->uva && uva - r->uva <= r->size && len <= r->size - (uva - r->uva))
            return r->va + (uva - r->uva);
    }
    return NULL;
}

static void unmap_all(struct amp_vhost *vh)
{
    for (uint32_t i = 0; i < vh->nreg; i++) {
        vh->lost |= amp_guard_faulted(vh->reg[i].guard);
        amp_guard_del(vh->reg[i].guard);
        munmap(vh->reg[i].map, vh->reg[i].map_len);
    }
    memset(vh->reg, 0, sizeof(vh->reg));
    vh->nreg = 0;
}

/* Did the frontend shrink a memory file under our mapping of it? */
static bool mem_lost(const struct amp_vhost *vh)
{
    if (vh->lost)
        return true;
    for (uint32_t i = 0; i < vh->nreg; i++)
        if (amp_guard_faulted(vh->reg[i].guard))
            return true;
    return false;
}

static void link_down(struct amp_vhost *vh)
{
    if (vh->rpmsg.state == AMP_LINK_DOWN)
        return;
    amp_rpmsg_stop(&vh->rpmsg);
    if (vh->cfg.on_link)
        vh->cfg.on_link(vh, false, vh->cfg.priv);
}

/* Forget the frontend's state (a new owner, or none). */
static void reset_state(struct amp_vhost *vh)
{
    link_down(vh);
    for (uint32_t i = 0; i < NVQ; i++) {
        close_fd(&vh->vq[i].kick_fd);
        close_fd(&vh->vq[i].call_fd);
        memset(&vh->vq[i], 0, sizeof(vh->vq[i]));
        vh->vq[i].kick_fd = vh->vq[i].call_fd = -1;
    }
    close_fd(&vh->backend_fd);
    unmap_all(vh);
    vh->features = vh->proto = 0;
}

/* Both rings complete? Then translate them and bring the link up. */
static void link_try(struct amp_vhost *vh)
{
    if (vh->rpmsg.state != AMP_LINK_DOWN || vh->nreg == 0)
        return;
    uint32_t num = vh->vq[0].num;
    for (uint32_t i = 0; i < NVQ; i++) {
        struct vq *q = &vh->vq[i];
        if (!q->num || !q->addr_set || !q->enabled || (q->kick_fd < 0 && !inband(vh)))
            return;
    }
    if (vh->vq[1].num != num) {
        refuse(vh, -EINVAL, "rings of different sizes (%u, %u)", num, vh->vq[1].num);
        return;
    }
    for (uint32_t i = 0; i < NVQ; i++) {
        struct vq *q = &vh->vq[i];
        vh->parts[i].desc = uva_to_va(vh, q->desc, 16ull * num);
        vh->parts[i].avail = uva_to_va(vh, q->avail, 6ull + 2ull * num);
        vh->parts[i].used = uva_to_va(vh, q->used, 6ull + 8ull * num);
        if (!vh->parts[i].desc || !vh->parts[i].avail || !vh->parts[i].used) {
            refuse(vh, -EFAULT, "vq%u: a ring part outside the memory table", i);
            return;
        }
    }
    /* the window for buffers: the lowest region, its part below 4 GiB */
    const struct region *w = &vh->reg[0];
    for (uint32_t i = 1; i < vh->nreg; i++)
        if (vh->reg[i].gpa < w->gpa)
            w = &vh->reg[i];
    if (w->gpa > UINT32_MAX) {
        refuse(vh, -EFAULT, "no memory below 4 GiB for buffers");
        return;
    }
    uint64_t wsize = w->size < (1ull << 32) - w->gpa ? w->size : (1ull << 32) - w->gpa;
    uint32_t features = (uint32_t)(vh->features & offered(vh));
    vh->vdev->dfeatures = (uint32_t)offered(vh);
    vh->vdev->gfeatures = features;
    vh->vdev->status = AMP_VIRTIO_STATUS_ACKNOWLEDGE | AMP_VIRTIO_STATUS_DRIVER |
                      AMP_VIRTIO_STATUS_DRIVER_OK;
    struct amp_rpmsg_cfg cfg = {
        .shm = {w->va, (uint32_t)w->gpa, (uint32_t)(wsize > UINT32_MAX ? UINT32_MAX : wsize)},
        .num = num,
        .align = 4096, /* unused with parts, but must be a valid geometry */
        .parts = vh->parts,
        .notifyid = {0, 1},
        .buf_size = vh->cfg.buf_cap,
        .features = features,
        .vdev = vh->vdev,
        .slots = vh->slots,
        .nslots = 2 * AMP_VHOST_NUM_MAX,
    };
    int err = amp_rpmsg_start(&vh->rpmsg, &cfg, 0);
    if (err) {
        refuse(vh, err, "rings refused by the RPMsg layer (%d)", err);
        return;
    }
    vh->st.links++;
    if (vh->cfg.on_link)
        vh->cfg.on_link(vh, true, vh->cfg.priv);
}

/* ==== Port: the doorbells ==== */

/* Ring the frontend: a write to the vq's call fd, which may be an eventfd
 * or a socket (virtio_uml gives a socketpair end: no SIGPIPE, please). A
 * full pipe means a call is pending already. */
static int vh_notify(void *ctx, uint32_t id)
{
    struct amp_vhost *vh = ctx;
    if (vh->stuck)
        return -EPIPE; /* about to be dropped: no more waits of the bound's */
    if (id < NVQ && vh->vq[id].call_fd < 0 && inband(vh) && vh->backend_fd >= 0) {
        /* no reply asked: the frontend may be waiting for ours meanwhile */
        uint32_t m[5] = {BACKEND_VRING_CALL, F_VERSION, 8, id, 0};
        vh->st.calls++;
        return send_all(vh, vh->backend_fd, m, sizeof(m),
                        "the frontend does not read its backend channel");
    }
    if (id >= NVQ || vh->vq[id].call_fd < 0)
        return -ENOTCONN;
    uint64_t one = 1;
    ssize_t n = amp_guard_io(vh->vq[id].call_fd, vh->vq[id].call_sock, true, &one, sizeof(one));
    vh->st.calls++;
    if (n == (ssize_t)sizeof(one) || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)))
        return 0;
    if (n < 0 && errno == EINTR)
        vh->stuck = "the frontend made its call fd blocking, and kept it full";
    return n < 0 ? -errno : -EIO;
}

static uint32_t vh_now_ms(void *ctx)
{
    struct timespec ts;
    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* Drain a doorbell: an eventfd gives 8 bytes, a socket whatever was
 * written (16 reads at most: a frontend that writes as fast as we read
 * does not keep us). True if the other end is gone. */
static bool drain(struct amp_vhost *vh, int fd, bool sock)
{
    uint8_t buf[64];
    for (int i = 0; i < 16 && !vh->stuck; i++) {
        ssize_t n = amp_guard_io(fd, sock, false, buf, sizeof(buf));
        if (n == (ssize_t)sizeof(buf))
            continue;
        if (n < 0 && errno == EINTR)
            vh->stuck = "the frontend made its kick fd blocking, and emptied it";
        return n == 0;
    }
    return false;
}

/* The kick fd's vq polled in p, or NULL. */
static struct vq *kick_vq(struct amp_vhost *vh, int fd)
{
    for (uint32_t i = 0; i < NVQ; i++)
        if (vh->vq[i].kick_fd == fd)
            return &vh->vq[i];
    return NULL;
}

static int reply_u64(struct amp_vhost *vh, int fd, const struct hdr *h, uint64_t v);

/* In-band: if the next message on the socket is a kick, take it (and ack
 * it: the frontend spins until we do). True if it was one. */
static bool inband_kick(struct amp_vhost *vh)
{
    uint32_t m[5];
    if (!inband(vh) || recv(vh->conn_fd, m, sizeof(m), MSG_PEEK | MSG_DONTWAIT) != sizeof(m) ||
        m[0] != VRING_KICK || m[2] != 8 ||
        recv(vh->conn_fd, m, sizeof(m), MSG_DONTWAIT) != sizeof(m))
        return false;
    struct hdr h = {m[0], m[1], m[2]};
    if ((h.flags & F_NEED_REPLY) && (vh->proto & (1ull << PROTO_REPLY_ACK)))
        reply_u64(vh, vh->conn_fd, &h, 0);
    vh->st.kicks++;
    return true;
}

/* A sender waits for a buffer: sleep until the frontend rings (a kick fd,
 * or an in-band kick). Another message on the socket ends the wait early
 * (it is read by run() later). */
static int vh_wait(void *ctx, int32_t timeout_ms)
{
    struct amp_vhost *vh = ctx;
    struct pollfd p[NVQ + 1];
    nfds_t n = 0;
    if (mem_lost(vh) || vh->stuck)
        return -ECONNRESET; /* no buffer will come: run() drops the frontend */
    for (uint32_t i = 0; i < NVQ; i++)
        if (vh->vq[i].kick_fd >= 0)
            p[n++] = (struct pollfd){.fd = vh->vq[i].kick_fd, .events = POLLIN};
    if (vh->conn_fd >= 0)
        p[n++] = (struct pollfd){.fd = vh->conn_fd, .events = POLLIN};
    if (n == 0)
        return -ENOTCONN;
    /* a signal ends the wait (-EINTR, passed on to the sender), so that a
     * Ctrl-C flag is seen even by a send waiting with no timeout */
    int r = poll(p, n, timeout_ms < 0 ? -1 : timeout_ms);
    if (r < 0)
        return -errno;
    if (r == 0)
        return -ETIMEDOUT;
    for (nfds_t i = 0; i < n; i++) {
        if (p[i].fd == vh->conn_fd && p[i].revents && !inband_kick(vh))
            return -ECONNRESET; /* the frontend wants something: give up this send */
        struct vq *q = kick_vq(vh, p[i].fd);
        if (q && (p[i].revents & POLLIN)) {
            vh->st.kicks++;
            drain(vh, q->kick_fd, q->kick_sock);
        }
    }
    return 0;
}

static const struct amp_port_ops vhost_ops = {
    .notify = vh_notify,
    .wait = vh_wait,
    .now_ms = vh_now_ms,
};

/* ==== Requests ==== */

static int reply(struct amp_vhost *vh, int fd, const struct hdr *h, const void *payload,
                 uint32_t size)
{
    if (fd < 0)
        return 0;
    uint8_t buf[HDR_SIZE + 64];
    struct hdr r = {h->request, F_VERSION | F_REPLY, size};
    memcpy(buf, &r, HDR_SIZE);
    memcpy(buf + HDR_SIZE, payload, size);
    return send_all(vh, fd, buf, HDR_SIZE + size, "the frontend does not read our replies");
}

static int reply_u64(struct amp_vhost *vh, int fd, const struct hdr *h, uint64_t v)
{
    return reply(vh, fd, h, &v, sizeof(v));
}

/* ==== Where a memory file lives ==== */

static bool digits(const char *s, long *v)
{
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (end == s || n < 0 || errno || (*end && *end != '\n' && *end != ' '))
        return false;
    *v = n;
    return true;
}

/* Is the file behind fdinfo (a /proc/PID/fdinfo/N) on a mount whose type
 * mountinfo gives and no process serves? Told without calling into the
 * file's filesystem: FUSE (fuse, fuseblk, fuse.*) is refused, as any user
 * can serve one, the frontend too, and leave our page faults waiting for
 * ever; so is a mount we cannot see (another mount namespace's: it may be
 * FUSE). Network filesystems pass: mounting one takes privilege, so its
 * server is the administrator's choice, not the frontend's. */
int amp_vhost_mount_check(FILE *fdinfo, FILE *mountinfo, char *type, size_t len)
{
    char *line = NULL, *save, *f;
    size_t cap = 0;
    long id = -1, v;
    while (id < 0 && getline(&line, &cap, fdinfo) > 0)
        if (strncmp(line, "mnt_id:", 7) == 0 && !digits(line + 7, &id))
            break;
    int r = -EPERM;
    snprintf(type, len, "a mount not in our mount table");
    /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPEROPTIONS,
     * paths with their spaces, tabs, newlines and backslashes escaped (\040) */
    while (id >= 0 && r && getline(&line, &cap, mountinfo) > 0) {
        if (!(f = strtok_r(line, " \n", &save)) || !digits(f, &v) || v != id)
            continue;
        for (int n = 2; (f = strtok_r(NULL, " \n", &save)) && (n <= 6 || strcmp(f, "-")); n++)
            ;
        if (f && (f = strtok_r(NULL, " \n", &save))) {
            snprintf(type, len, "%s", f);
            r = strcmp(f, "fuse") == 0 || strcmp(f, "fuseblk") == 0 ||
                strncmp(f, "fuse.", 5) == 0 ? -EPERM : 0;
            break;
        }
    }
    free(line);
    return r;
}

/* May the memory file fd be stat'ed, mapped and touched without waiting
 * for a process? A file whose seals can be read is memory (tmpfs, memfd,
 * hugetlbfs); else its mount says (amp_vhost_mount_check). 0, or -EPERM;
 * type: what it is, or why not. */
static int mem_file_ok(int fd, char *type, size_t len)
{
    snprintf(type, len, "memory");
    if (fcntl(fd, F_GET_SEALS) >= 0)
        return 0;
    char path[40];
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
    FILE *fi = fopen(path, "re"), *mi = fopen("/proc/self/mountinfo", "re");
    int r = -EPERM;
    if (fi && mi)
        r = amp_vhost_mount_check(fi, mi, type, len);
    else
        snprintf(type, len, "a file /proc does not show (%s)", strerror(errno));
    if (fi)
        fclose(fi);
    if (mi)
        fclose(mi);
    return r;
}

static int set_mem_table(struct amp_vhost *vh, const uint8_t *p, uint32_t size, int *fds,
                         int nfds)
{
    uint32_t num;
    if (size < 8)
        return refuse(vh, -EINVAL, "SET_MEM_TABLE: %u bytes", size);
    memcpy(&num, p, 4);
    /* virtio_uml sends room for 2 regions whatever num is: size may be larger */
    if (num == 0 || num > NREGIONS || size < 8 + 32 * num || (uint32_t)nfds != num)
        return refuse(vh, -EINVAL, "SET_MEM_TABLE: %u regions, %u bytes, %d fds", num, size,
                      nfds);
    link_down(vh);
    unmap_all(vh);
    long page = sysconf(_SC_PAGESIZE);
    for (uint32_t i = 0; i < num; i++) {
        uint64_t v[4]; /* guest address, size, user address, mmap offset */
        memcpy(v, p + 8 + 32 * i, sizeof(v));
        char type[40];
        if (mem_file_ok(fds[i], type, sizeof(type)) < 0) {
            unmap_all(vh);
            vh->stuck = "its memory is a file where our page faults could wait for it";
            return refuse(vh, -EPERM, "SET_MEM_TABLE: region %u is a file on %s", i, type);
        }
        struct stat sb;
        uint64_t pg = v[3] & ~(uint64_t)(page - 1), delta = v[3] - pg;
        if (v[1] == 0 || v[1] > SIZE_MAX / 2 || v[0] + v[1] < v[0] || v[2] + v[1] < v[2] ||
            v[3] + v[1] < v[3] || fstat(fds[i], &sb) < 0 ||
            (S_ISREG(sb.st_mode) && v[3] + v[1] > (uint64_t)sb.st_size)) {
            unmap_all(vh);
            return refuse(vh, -EINVAL,
                          "SET_MEM_TABLE: region %u (gpa 0x%llx size 0x%llx offset 0x%llx) is "
                          "not in its file",
                          i, (unsigned long long)v[0], (unsigned long long)v[1],
                          (unsigned long long)v[3]);
        }
        void *m = mmap(NULL, v[1] + delta, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], (off_t)pg);
        if (m == MAP_FAILED) {
            int e = errno;
            unmap_all(vh);
            return refuse(vh, -e, "SET_MEM_TABLE: region %u: mmap failed (%s)", i, strerror(e));
        }
        int g = amp_guard_add(m, v[1] + delta);
        if (g < 0) {
            munmap(m, v[1] + delta);
            unmap_all(vh);
            return refuse(vh, g, "SET_MEM_TABLE: region %u: more than %u regions mapped in "
                          "this process", i, AMP_GUARD_MAX);
        }
        vh->reg[i] = (struct region){v[0], v[1], v[2], m, v[1] + delta, (uint8_t *)m + delta,
                                     (unsigned)g};
        vh->nreg = i + 1;
    }
    link_try(vh);
    return 0;
}

/* The vq a vring_state or fd message names, or NULL. */
static struct vq *vq_of(struct amp_vhost *vh, uint32_t index)
{
    return index < NVQ ? &vh->vq[index] : NULL;
}

/* SET_VRING_KICK/CALL/ERR: payload u64, index in the low byte. */
static int set_vring_fd(struct amp_vhost *vh, const struct hdr *h, uint64_t v, int *fds, int nfds)
{
    struct vq *q = vq_of(vh, (uint32_t)(v & VRING_IDX_MASK));
    bool nofd = v & VRING_NOFD;
    if (!q || (v & ~(uint64_t)(VRING_IDX_MASK | VRING_NOFD)) || nfds != (nofd ? 0 : 1))
        return refuse(vh, -EINVAL, "vring fd message 0x%llx with %d fds", (unsigned long long)v,
                      nfds);
    if (h->request == SET_VRING_ERR) {
        if (!nofd)
            close_fd(&fds[0]); /* we never report ring errors */
        return 0;
    }
    if (nofd && !inband(vh)) /* polling: not offered */
        return refuse(vh, -ENOTSUP, "vq%u: no doorbell fd", (unsigned)(v & VRING_IDX_MASK));
    if (nofd) { /* in-band from now on */
        close_fd(h->request == SET_VRING_KICK ? &q->kick_fd : &q->call_fd);
        link_try(vh);
        return 0;
    }
    /* a socket or an eventfd, nothing else (see the bound) */
    char name[64];
    fd_name(fds[0], name, sizeof(name));
    bool sock = strncmp(name, "socket:[", 8) == 0;
    if (!sock && strcmp(name, "anon_inode:[eventfd]") != 0)
        return refuse(vh, -EINVAL, "vq%u: a doorbell fd that is neither an eventfd nor a socket "
                      "(%s)", (unsigned)(v & VRING_IDX_MASK), name);
    int *slot = h->request == SET_VRING_KICK ? &q->kick_fd : &q->call_fd;
    close_fd(slot);
    *slot = fds[0];
    fds[0] = -1;
    fcntl(*slot, F_SETFL, fcntl(*slot, F_GETFL) | O_NONBLOCK);
    fcntl(*slot, F_SETFD, FD_CLOEXEC);
    if (h->request == SET_VRING_CALL)
        q->call_sock = sock;
    else
        q->kick_sock = sock;
    if (h->request == SET_VRING_KICK) {
        /* without protocol features a ring starts once its kick fd is set */
        if (!(vh->features & (1ull << F_PROTOCOL_FEATURES)))
            q->enabled = true;
        link_try(vh);
    }
    return 0;
}

/* One request, whose payload is `size` bytes at p. Returns 0, or -errno
 * (the status for REPLY_ACK). Every fd left in fds is closed by the
 * caller. */
static int request(struct amp_vhost *vh, const struct hdr *h, const uint8_t *p, int *fds,
                   int nfds, int reply_fd, bool *replied)
{
    uint64_t u = 0;
    uint32_t st[2] = {0, 0}; /* vring_state: index, num */
    if (h->size == 8) {
        memcpy(&u, p, 8);
        memcpy(st, p, 8);
    }
    bool want_u64 = h->request == SET_FEATURES || h->request == SET_PROTOCOL_FEATURES ||
                    h->request == SET_VRING_KICK || h->request == SET_VRING_CALL ||
                    h->request == SET_VRING_ERR;
    bool want_state = h->request == SET_VRING_NUM || h->request == SET_VRING_BASE ||
                      h->request == GET_VRING_BASE || h->request == SET_VRING_ENABLE ||
                      h->request == VRING_KICK;
    if ((want_u64 || want_state) && h->size != 8)
        return refuse(vh, -EINVAL, "request %u: payload of %u bytes, not 8", h->request, h->size);
    bool takes_fds = h->request == SET_MEM_TABLE || h->request == SET_VRING_KICK ||
                     h->request == SET_VRING_CALL || h->request == SET_VRING_ERR ||
                     h->request == SET_BACKEND_REQ_FD;
    if (nfds && !takes_fds)
        return refuse(vh, -EINVAL, "request %u came with %d fds", h->request, nfds);

    switch (h->request) {
    case SET_OWNER:
        return 0;
    case RESET_OWNER:
        reset_state(vh);
        return 0;
    case GET_FEATURES:
        *replied = true;
        return reply_u64(vh, reply_fd, h, offered(vh));
    case SET_FEATURES:
        if (u & ~offered(vh))
            return refuse(vh, -EINVAL, "SET_FEATURES 0x%llx: not offered", (unsigned long long)u);
        if (vh->rpmsg.state != AMP_LINK_DOWN && u != vh->features)
            return refuse(vh, -EBUSY, "SET_FEATURES while the rings run");
        vh->features = u;
        return 0;
    case GET_PROTOCOL_FEATURES:
        *replied = true;
        return reply_u64(vh, reply_fd, h, proto_offered(vh));
    case SET_PROTOCOL_FEATURES:
        if (u & ~proto_offered(vh))
            return refuse(vh, -EINVAL, "SET_PROTOCOL_FEATURES 0x%llx: not offered",
                          (unsigned long long)u);
        vh->proto = u;
        return 0;
    case GET_QUEUE_NUM:
        *replied = true;
        return reply_u64(vh, reply_fd, h, NVQ);
    case SET_BACKEND_REQ_FD: {
        if (nfds != 1 || h->size != 0)
            return refuse(vh, -EINVAL, "SET_BACKEND_REQ_FD with %d fds", nfds);
        char name[64]; /* polled and read: a socket, not a file that could wait */
        fd_name(fds[0], name, sizeof(name));
        if (strncmp(name, "socket:[", 8) != 0)
            return refuse(vh, -EINVAL, "SET_BACKEND_REQ_FD: not a socket (%s)", name);
        close_fd(&vh->backend_fd);
        vh->backend_fd = fds[0];
        fds[0] = -1;
        return 0;
    }
    case SET_MEM_TABLE:
        return set_mem_table(vh, p, h->size, fds, nfds);
    case SET_VRING_KICK:
    case SET_VRING_CALL:
    case SET_VRING_ERR:
        return set_vring_fd(vh, h, u, fds, nfds);
    case SET_VRING_ADDR: {
        uint32_t idx_flags[2];
        uint64_t a[4]; /* desc, used, avail, log */
        if (h->size != 40)
            return refuse(vh, -EINVAL, "SET_VRING_ADDR: %u bytes", h->size);
        memcpy(idx_flags, p, 8);
        memcpy(a, p + 8, sizeof(a));
        struct vq *q = vq_of(vh, idx_flags[0]);
        if (!q || idx_flags[1] != 0) /* flags: VHOST_VRING_F_LOG, not offered */
            return refuse(vh, -EINVAL, "SET_VRING_ADDR: vq %u flags 0x%x", idx_flags[0],
                          idx_flags[1]);
        if (vh->rpmsg.state != AMP_LINK_DOWN)
            return refuse(vh, -EBUSY, "SET_VRING_ADDR while the rings run");
        q->desc = a[0];
        q->used = a[1];
        q->avail = a[2];
        q->addr_set = true;
        link_try(vh);
        return 0;
    }
    case SET_VRING_NUM: {
        struct vq *q = vq_of(vh, st[0]);
        if (!q || st[1] == 0 || (st[1] & (st[1] - 1)) || st[1] > AMP_VHOST_NUM_MAX ||
            st[1] > AMP_CFG_VRING_NUM_MAX)
            return refuse(vh, -EINVAL, "SET_VRING_NUM: vq %u num %u", st[0], st[1]);
        if (vh->rpmsg.state != AMP_LINK_DOWN)
            return refuse(vh, -EBUSY, "SET_VRING_NUM while the rings run");
        q->num = st[1];
        link_try(vh);
        return 0;
    }
    case SET_VRING_BASE:
        if (!vq_of(vh, st[0]) || st[1] != 0) /* we start rings fresh only */
            return refuse(vh, -EINVAL, "SET_VRING_BASE: vq %u base %u", st[0], st[1]);
        return 0;
    case GET_VRING_BASE: {
        struct vq *q = vq_of(vh, st[0]);
        if (!q)
            return refuse(vh, -EINVAL, "GET_VRING_BASE: vq %u", st[0]);
        /* the ring stops: report where we are in its avail ring */
        struct amp_vring *vr = st[0] == 1 ? &vh->rpmsg.rx : &vh->rpmsg.tx;
        uint32_t base[2] = {st[0], vh->rpmsg.state == AMP_LINK_DOWN ? 0u : vr->last_idx};
        link_down(vh);
        q->enabled = false;
        close_fd(&q->kick_fd);
        *replied = true;
        return reply(vh, reply_fd, h, base, sizeof(base));
    }
    case SET_VRING_ENABLE: {
        struct vq *q = vq_of(vh, st[0]);
        if (!q || st[1] > 1)
            return refuse(vh, -EINVAL, "SET_VRING_ENABLE: vq %u %u", st[0], st[1]);
        q->enabled = st[1];
        if (!q->enabled)
            link_down(vh);
        link_try(vh);
        return 0;
    }
    case VRING_KICK: {
        struct vq *q = vq_of(vh, st[0]);
        if (!q || !inband(vh))
            return refuse(vh, -EINVAL, "VRING_KICK: vq %u%s", st[0],
                          inband(vh) ? "" : " without in-band notifications");
        /* ack first: the frontend spins until we do, and a send of ours
         * may need it to post buffers meanwhile */
        if ((h->flags & F_NEED_REPLY) && (vh->proto & (1ull << PROTO_REPLY_ACK)))
            reply_u64(vh, reply_fd, h, 0);
        *replied = true;
        if (vh->rpmsg.state == AMP_LINK_UP)
            amp_vhost_kick(vh, st[0]);
        return 0;
    }
    default:
        return refuse(vh, -ENOTSUP, "request %u not supported", h->request);
    }
}

int amp_vhost_handle(struct amp_vhost *vh, const void *msg, size_t len, int *fds, int nfds,
                     int reply_fd)
{
    struct hdr h;
    int err;
    bool replied = false;
    if (len < HDR_SIZE) {
        err = refuse(vh, -EINVAL, "a message of %zu bytes", len);
        goto out;
    }
    memcpy(&h, msg, HDR_SIZE);
    if ((h.flags & F_VERSION_MASK) != F_VERSION || (h.flags & F_REPLY) || h.size > MSG_MAX ||
        h.size != len - HDR_SIZE) {
        err = refuse(vh, -EPROTO, "bad header (request %u flags 0x%x size %u)", h.request,
                     h.flags, h.size);
        goto out;
    }
    err = request(vh, &h, (const uint8_t *)msg + HDR_SIZE, fds, nfds, reply_fd, &replied);
    /* REPLY_ACK: a status for every request that has no reply of its own */
    if (!replied && (h.flags & F_NEED_REPLY) && (vh->proto & (1ull << PROTO_REPLY_ACK)))
        reply_u64(vh, reply_fd, &h, err ? 1 : 0);
out:
    for (int i = 0; i < nfds; i++)
        close_fd(&fds[i]);
    return err;
}

/* ==== The connection ==== */

/* Wait for fd to be readable until deadline (vh_now_ms time): 0, or
 * -ETIMEDOUT, or -errno. */
static int wait_until(int fd, uint32_t deadline)
{
    for (;;) {
        int32_t left = (int32_t)(deadline - vh_now_ms(NULL));
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int r = left > 0 ? poll(&pf, 1, left) : 0;
        if (r > 0)
            return 0;
        if (r == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

/* Read exactly len bytes into p by deadline, keeping the fds that come
 * with them (up to NREGIONS in fds[], *nfds so far; more are closed).
 * 0, -ETIMEDOUT, -ECONNRESET (closed mid-message), -EPROTO (control data
 * cut short), -EAGAIN (first: nothing there yet) or -errno. */
static int read_by(int fd, uint8_t *p, size_t len, uint32_t deadline, int *fds, int *nfds,
                   bool first)
{
    for (bool begun = !first; len; begun = true) {
        union {
            struct cmsghdr h;
            char b[CMSG_SPACE(sizeof(int) * NREGIONS)];
        } ctl;
        struct iovec iov = {p, len};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
                           .msg_controllen = sizeof(ctl.b)};
        ssize_t n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        for (struct cmsghdr *c = n >= 0 ? CMSG_FIRSTHDR(&m) : NULL; c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < k; i++) {
                int rfd;
                memcpy(&rfd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (*nfds < (int)NREGIONS)
                    fds[(*nfds)++] = rfd;
                else
                    close_fd(&rfd);
            }
        }
        if (n > 0 && (m.msg_flags & MSG_CTRUNC))
            return -EPROTO;
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n == 0)
            return -ECONNRESET;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -errno;
        if (!begun && errno != EINTR)
            return -EAGAIN;
        int err = wait_until(fd, deadline);
        if (err)
            return err;
    }
    return 0;
}

static void drop_conn(struct amp_vhost *vh)
{
    reset_state(vh);
    close_fd(&vh->conn_fd);
    vh->lost = false;
    vh->stuck = NULL;
}

/* If the frontend shrank its memory under us (mem_faults), or would make
 * us wait on it (msg_errors), drop it. */
static void drop_if_lost(struct amp_vhost *vh)
{
    if (vh->conn_fd >= 0 && vh->stuck) {
        refuse(vh, -EPIPE, "%s: dropping the frontend", vh->stuck);
        drop_conn(vh);
    }
    if (vh->conn_fd < 0 || !mem_lost(vh))
        return;
    vh->st.mem_faults++;
    if (vh->cfg.on_error)
        vh->cfg.on_error(vh, "the frontend's memory file shrank under our mapping: dropping "
                         "the frontend", vh->cfg.priv);
    drop_conn(vh);
}

/* Read one message with its fds and handle it. False if the connection
 * is over (closed, a message we cannot frame, or one not complete within
 * AMP_VHOST_MSG_WAIT_MS of the call: the frontend stalled in it). No
 * message at all is not a stall: the one poll() saw may have been an
 * in-band kick, taken meanwhile by a send waiting in vh_wait(). */
static bool conn_read(struct amp_vhost *vh)
{
    uint8_t buf[HDR_SIZE + MSG_MAX];
    int fds[NREGIONS], nfds = 0;
    uint32_t deadline = vh_now_ms(NULL) + AMP_VHOST_MSG_WAIT_MS;
    struct hdr h;
    int err = read_by(vh->conn_fd, buf, HDR_SIZE, deadline, fds, &nfds, true);
    if (err == -EAGAIN)
        return true;
    if (!err) {
        memcpy(&h, buf, HDR_SIZE);
        if (h.size > MSG_MAX)
            err = refuse(vh, -EPROTO, "a message of %u bytes: dropping the frontend", h.size);
    }
    if (!err)
        err = read_by(vh->conn_fd, buf + HDR_SIZE, h.size, deadline, fds, &nfds, false);
    if (err == -ETIMEDOUT)
        refuse(vh, err, "a message not complete within %u ms: dropping the frontend",
               AMP_VHOST_MSG_WAIT_MS);
    if (err) {
        for (int i = 0; i < nfds; i++)
            close_fd(&fds[i]);
        return false;
    }
    amp_vhost_handle(vh, buf, HDR_SIZE + h.size, fds, nfds, vh->conn_fd);
    return true;
}

int amp_vhost_kick(struct amp_vhost *vh, uint32_t index)
{
    (void)index; /* one poll serves both rings */
    vh->st.kicks++;
    int n = 0, total = 0;
    /* poll returns > 0 while it left work: see amp_rpmsg_poll */
    while (!vh->stuck && (n = amp_rpmsg_poll(&vh->rpmsg)) > 0)
        total += n;
    if (n == -EIO) {
        refuse(vh, -EIO, "the frontend broke a ring: link down until it sets them up again");
        link_down(vh);
    }
    return n < 0 ? n : total;
}

int amp_vhost_run(struct amp_vhost *vh, int32_t timeout_ms)
{
    struct pollfd p[NVQ + 2];
    nfds_t n = 0;
    int kick_at = -1;
    drop_if_lost(vh); /* a send between two runs may have met the fault */
    if (vh->conn_fd < 0) {
        if (vh->listen_fd < 0)
            return -ENOTCONN;
        p[n++] = (struct pollfd){.fd = vh->listen_fd, .events = POLLIN};
    } else {
        p[n++] = (struct pollfd){.fd = vh->conn_fd, .events = POLLIN};
        if (vh->backend_fd >= 0)
            p[n++] = (struct pollfd){.fd = vh->backend_fd, .events = POLLIN};
        kick_at = (int)n;
        for (uint32_t i = 0; i < NVQ; i++)
            if (vh->vq[i].kick_fd >= 0)
                p[n++] = (struct pollfd){.fd = vh->vq[i].kick_fd, .events = POLLIN};
    }
    /* a signal ends the wait (0: call again), so that a caller's Ctrl-C
     * flag is seen even with timeout_ms = -1 */
    int r = poll(p, n, timeout_ms < 0 ? -1 : timeout_ms);
    if (r <= 0)
        return r < 0 && errno != EINTR ? -errno : 0;
    if (vh->conn_fd < 0) {
        int fd = accept4(vh->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            return errno == EINTR || errno == ECONNABORTED ? 0 : -errno;
        vh->conn_fd = fd;
        vh->st.connections++;
        return 0;
    }
    bool kicked = false;
    if (kick_at >= 0) {
        for (nfds_t i = (nfds_t)kick_at; i < n; i++) {
            struct vq *q = kick_vq(vh, p[i].fd);
            if (q && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                kicked = true;
                if (drain(vh, q->kick_fd, q->kick_sock)) { /* a socket whose frontend is gone */
                    drop_conn(vh);
                    return 0;
                }
            }
        }
    }
    if (kicked && vh->rpmsg.state == AMP_LINK_UP)
        amp_vhost_kick(vh, 0);
    drop_if_lost(vh);
    if (vh->conn_fd < 0)
        return 0;
    if (p[0].revents) {
        if (!conn_read(vh))
            drop_conn(vh);
        drop_if_lost(vh);
    } else if (vh->backend_fd >= 0 && p[1].fd == vh->backend_fd && p[1].revents) {
        /* the frontend never writes there unprompted: an end means it is gone */
        uint8_t b[64];
        if (recv(vh->backend_fd, b, sizeof(b), MSG_DONTWAIT) == 0)
            drop_conn(vh);
    }
    return 0;
}

/* ==== Life cycle ==== */

int amp_vhost_open(struct amp_vhost **out, const char *path, const struct amp_vhost_cfg *cfg)
{
    struct amp_vhost *vh = calloc(1, sizeof(*vh));
    if (!vh)
        return -ENOMEM;
    if (cfg)
        vh->cfg = *cfg;
    vh->listen_fd = vh->conn_fd = vh->backend_fd = -1;
    for (uint32_t i = 0; i < NVQ; i++)
        vh->vq[i].kick_fd = vh->vq[i].call_fd = -1;
    vh->vdev = calloc(1, sizeof(*vh->vdev));
    if (!vh->vdev) {
        free(vh);
        return -ENOMEM;
    }
    vh->vdev->id = AMP_VIRTIO_ID_RPMSG;
    amp_guard_use(+1);
    amp_rpmsg_init(&vh->rpmsg, AMP_ROLE_REMOTE, &(struct amp_port){&vhost_ops, vh});
    if (path) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(a.sun_path)) {
            amp_guard_use(-1);
            free(vh->vdev);
            free(vh);
            return -EINVAL;
        }
        strcpy(a.sun_path, path);
        strcpy(vh->path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISSOCK(sb.st_mode))
            unlink(path);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            amp_guard_use(-1);
            free(vh->vdev);
            free(vh);
            return -e;
        }
        vh->listen_fd = fd;
    }
    *out = vh;
    return 0;
}

void amp_vhost_close(struct amp_vhost *vh)
{
    if (!vh)
        return;
    drop_conn(vh);
    if (vh->listen_fd >= 0) {
        close(vh->listen_fd);
        unlink(vh->path);
    }
    amp_guard_use(-1);
    free(vh->vdev);
    free(vh);
}

struct amp_rpmsg *amp_vhost_rpmsg(struct amp_vhost *vh)
{
    return &vh->rpmsg;
}

bool amp_vhost_connected(const struct amp_vhost *vh)
{
    return vh->conn_fd >= 0;
}

bool amp_vhost_link_up(const struct amp_vhost *vh)
{
    return vh->rpmsg.state == AMP_LINK_UP;
}

void amp_vhost_get_stats(const struct amp_vhost *vh, struct amp_vhost_stats *st)
{
    *st = vh->st;
    st->inband = inband(vh);
}
