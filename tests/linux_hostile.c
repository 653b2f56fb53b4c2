/*
 * linux_hostile.c - a hostile peer scribbles on the rings and buffers for
 * a few seconds while the other side (the victim) keeps running.
 *
 * Both directions: a hostile remote against our host, a hostile host
 * against our remote. The hostile side alternates phases:
 *
 *   valid:   its own amp device exchanges checksummed messages with the
 *            victim and sends well-framed garbage (bad NS messages,
 *            unknown destinations), so the paths after validation run;
 *   garbage: its device stopped, it writes the rings directly: random
 *            bytes over both vrings, the vdev and buffer headers, and
 *            targeted values (index jumps, bad head ids, ids that are not
 *            outstanding, descriptors outside or straddling the window,
 *            huge or 0xFFFFFFFF lengths, chained/indirect flags, used
 *            lengths past the buffer, header lengths past the buffer, NS
 *            messages without NUL, of the wrong length, with flags 7 or
 *            addr ANY).
 *
 * The victim sends, receives (sometimes holding buffers), sleeps in
 * amp_rpmsg_wait and counts what it sees. When it gets -EIO (a ring it
 * marked broken), or the hostile side asks after a garbage phase, the
 * link restarts: both sides amp_rpmsg_stop, the host re-zeroes the rings
 * and both amp_rpmsg_start again, coordinated over a socket:
 *
 *     victim -> hostile  'R'  I stopped; restart the link
 *     hostile -> victim  'F'  please restart (my own device is out of step)
 *     remote -> host     'r'  I stopped: lay the rings out again
 *     host -> remote     'S'  DRIVER_OK is set: attach
 *     hostile -> victim  'Q'  time is up
 *
 * "Never touches memory outside its region": across processes the window
 * is a memfd mapped between PROT_NONE guard areas on both sides, so a
 * stray access faults and kills the victim, which the parent sees. The
 * same duel also runs in one process on a malloc'd window (hostile thread
 * and victim thread) so AddressSanitizer watches the edges. The victim's
 * own memory (device, slots, endpoints, the source of its messages) sits
 * between canaries that must survive, every buffer it is handed must lie
 * inside the window, and every name it is given must be NUL-terminated.
 *
 * AMP_HOSTILE_SECONDS sets the length of each duel (default 3),
 * AMP_HOSTILE_SEED the random seed (default: from the clock).
 * The hostile host also hands out buffers at odd addresses, which the
 * library must refuse (see scribble_rings); AMP_HOSTILE_UNALIGNED=0 turns
 * that off.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "amp_linux.h"
#include "amp_test.h"
#include "loopback.h"

#define NUM 64u                /* entries per vring */
#define SLOTS 512u             /* the victim accepts rings up to 256 entries */
#define VICTIM_ADDR 1100u
#define HOSTILE_ADDR 1200u
#define GUARD (1u << 20)       /* PROT_NONE on each side of the window */
#define POOL_OFF 65536u        /* where loopback.h puts the buffers */
#define CRAFT_OFF (POOL_OFF + 2 * NUM * 512u) /* buffers no device uses */
#define MAGIC_VICTIM 0x54434956u  /* "VICT" */
#define MAGIC_HOSTILE 0x4c545348u /* "HSTL" */
#define HANDSHAKE_MS 5000
#define CANARY 0xC0FFEE11DEADBEEFull

#define MIN(a, b) ((a) < (b) ? (a) : (b))

static const uint32_t features = (1u << AMP_RPMSG_F_NS) | (1u << AMP_VIRTIO_F_EVENT_IDX);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double seconds_from_env(void)
{
    const char *s = getenv("AMP_HOSTILE_SECONDS");
    double v = s ? strtod(s, NULL) : 0;
    return v > 0 ? v : 3.0;
}

/* Buffers at odd addresses: unless AMP_HOSTILE_UNALIGNED=0 (see
 * scribble_rings). */
static bool unaligned = true;

static uint32_t seed_from_env(void)
{
    const char *s = getenv("AMP_HOSTILE_SEED");
    if (s)
        return (uint32_t)strtoul(s, NULL, 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint32_t)(ts.tv_nsec ^ ts.tv_sec ^ getpid()) | 1u;
}

static uint32_t rnd(uint32_t *s) /* xorshift32 */
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static uint32_t fnv(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

/* A checksummed message: magic u32, seq u32, fnv(rest) ^ len u32, rest. */
static uint32_t msg_build(uint8_t *b, uint32_t magic, uint32_t seq, uint32_t len)
{
    memcpy(b, &magic, 4);
    memcpy(b + 4, &seq, 4);
    for (uint32_t i = 12; i < len; i++)
        b[i] = (uint8_t)(seq * 31u + i * 17u);
    uint32_t sum = fnv(b + 12, len - 12) ^ len;
    memcpy(b + 8, &sum, 4);
    return sum;
}

static bool msg_ok(const uint8_t *b, size_t len, uint32_t magic)
{
    uint32_t m, sum;
    if (len < 12)
        return false;
    memcpy(&m, b, 4);
    memcpy(&sum, b + 8, 4);
    return m == magic && sum == (fnv(b + 12, len - 12) ^ (uint32_t)len);
}

/* ==== The control channel ==== */

static void ctl_put(int fd, char c)
{
    if (send(fd, &c, 1, MSG_NOSIGNAL) != 1) {
        /* the peer is gone: its exit status tells the story */
    }
}

/* Next byte within ms: the byte, 0 on timeout, -1 at EOF or error. */
static int ctl_get(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;
    do
        n = poll(&p, 1, ms);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return 0;
    unsigned char c;
    if (n < 0 || recv(fd, &c, 1, 0) != 1)
        return -1;
    return c;
}

/* ==== What a side is given and reports ==== */

struct report {
    int status; /* 0: all well; else the first fatal finding */
    /* victim */
    uint32_t restarts, restarts_eio, restarts_forced, start_rejects;
    uint64_t ring_errors, msg_errors, dropped, rx;
    uint64_t sent, sent_zc, eagain, emsgsize, enotconn, eio, other_err;
    uint64_t rx_good, echo_good, rx_other, held, released, released_late, ns_calls;
    uint32_t bad_window, bad_canary, bad_src, bad_name, bad_cap, bad_release;
    uint32_t read_sum; /* so that reads of received data are not dropped */
    /* hostile */
    uint64_t phases, actions, valid_sent, echoed, hs_restarts, geometry_left_bad;
};

struct side {
    struct loopback *lb; /* layout and configuration (not its devices' state) */
    uint8_t *shm;
    bool host;    /* our role */
    int kick_fd;  /* the peer's doorbell */
    int wait_fd;  /* ours */
    int ctl;      /* our end of the control socket */
    double seconds;
    uint32_t seed;
    struct report rep;
};

/* ==== The victim ==== */

#define HELD_MAX 8
#define POOL_EPTS 4

/* Everything the victim owns, between canaries. */
struct vstate {
    uint64_t c0[8];
    struct amp_rpmsg dev;
    uint64_t c1[8];
    struct amp_vring_slot slots[SLOTS];
    uint64_t c2[8];
    struct amp_ept ept, named, pool[POOL_EPTS];
    uint64_t c3[8];
    uint8_t src[512]; /* what we send from: must never change under us */
    uint64_t c4[8];
    struct amp_linux_port lp;
    struct amp_port port;
    struct amp_rpmsg_cfg cfg;
    struct side *s;
    void *held[HELD_MAX];
    int nheld;
    uint32_t pool_next;
    uint32_t cap; /* remote: the buffer size cap of this session (0: none) */
    uint32_t rng;
    bool live_stats; /* stats of the current session not yet added up */
};

static void canaries_set(struct vstate *v)
{
    for (int i = 0; i < 8; i++)
        v->c0[i] = v->c1[i] = v->c2[i] = v->c3[i] = v->c4[i] = CANARY ^ (uint64_t)i;
}

static bool canaries_ok(const struct vstate *v)
{
    for (int i = 0; i < 8; i++) {
        uint64_t w = CANARY ^ (uint64_t)i;
        if (v->c0[i] != w || v->c1[i] != w || v->c2[i] != w || v->c3[i] != w || v->c4[i] != w)
            return false;
    }
    return true;
}

static bool in_window(const struct vstate *v, const void *p, size_t len)
{
    const uint8_t *b = p, *lo = v->s->shm, *hi = v->s->shm + LB_SHM_SIZE;
    return b && b >= lo && b <= hi && len <= (size_t)(hi - b);
}

/* Is a received payload inside the buffer it came in? The host knows its
 * rx buffers (NUM of 512 bytes at POOL_OFF); a remote only its cap. */
static bool in_rx_buffer(const struct vstate *v, const uint8_t *p, size_t len)
{
    if (v->s->host) {
        size_t off = (size_t)(p - v->s->shm);
        return off >= POOL_OFF + 16 && (off - POOL_OFF - 16) % 512 == 0 &&
               (off - POOL_OFF - 16) / 512 < NUM && len <= 512 - 16;
    }
    return !v->cap || len <= v->cap - 16;
}

static int victim_cb(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    struct vstate *v = priv;
    (void)ept;
    (void)src;
    if (!in_window(v, data, len) || len > 0xFFFF || !in_rx_buffer(v, data, len)) {
        v->s->rep.bad_window++;
        return AMP_RX_DONE;
    }
    v->s->rep.read_sum ^= fnv(data, len); /* read every byte we were given */
    if (msg_ok(data, len, MAGIC_VICTIM))
        v->s->rep.echo_good++;
    else if (msg_ok(data, len, MAGIC_HOSTILE))
        v->s->rep.rx_good++;
    else
        v->s->rep.rx_other++;
    if (v->nheld < HELD_MAX && rnd(&v->rng) % 8 == 0) {
        v->held[v->nheld++] = data;
        v->s->rep.held++;
        return AMP_RX_HOLD;
    }
    return AMP_RX_DONE;
}

static void victim_ns_cb(struct amp_rpmsg *dev, const char *name, uint32_t addr, void *priv)
{
    struct vstate *v = priv;
    v->s->rep.ns_calls++;
    if (!memchr(name, '\0', AMP_RPMSG_NAME_SIZE) || !name[0] || addr == AMP_ADDR_ANY) {
        v->s->rep.bad_name++; /* the library must have refused these */
        return;
    }
    /* bind an endpoint to the service, as an application would; a small
     * pool, so a flood of announcements recycles them */
    struct amp_ept *e = &v->pool[v->pool_next++ % POOL_EPTS];
    amp_ept_destroy(e);
    amp_ept_create(e, dev, name, AMP_ADDR_ANY, addr, victim_cb, v);
}

static void victim_epts_destroy(struct vstate *v)
{
    amp_ept_destroy(&v->ept);
    amp_ept_destroy(&v->named);
    for (int i = 0; i < POOL_EPTS; i++)
        amp_ept_destroy(&v->pool[i]);
}

static void victim_epts_create(struct vstate *v)
{
    if (amp_ept_create(&v->ept, &v->dev, NULL, VICTIM_ADDR, HOSTILE_ADDR, victim_cb, v) < 0 ||
        amp_ept_create(&v->named, &v->dev, "victim-svc", AMP_ADDR_ANY, AMP_ADDR_ANY, victim_cb,
                       v) < 0)
        v->s->rep.status = v->s->rep.status ? v->s->rep.status : 20;
}

static void victim_take_stats(struct vstate *v)
{
    if (!v->live_stats)
        return;
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(&v->dev, &st);
    v->s->rep.ring_errors += st.ring_errors;
    v->s->rep.msg_errors += st.msg_errors;
    v->s->rep.dropped += st.dropped;
    v->live_stats = false;
}

/* Start our device: the host at once, the remote after DRIVER_OK, with
 * the geometry read again from the (hostile) vdev. */
static int victim_start(struct vstate *v)
{
    struct amp_rpmsg_cfg cfg = v->cfg;
    if (!v->s->host) {
        int err = amp_rpmsg_cfg_from_vdev(&cfg, (volatile struct amp_rsc_vdev *)v->s->shm);
        if (err)
            return err;
        cfg.shm = v->cfg.shm;
        cfg.features = v->cfg.features;
        cfg.slots = v->slots;
        cfg.nslots = SLOTS;
        cfg.buf_size = rnd(&v->rng) & 1 ? 512 : 0; /* a cap on what the host posts, or none */
        v->cap = cfg.buf_size;
    }
    int err = amp_rpmsg_start(&v->dev, &cfg, v->s->host ? 0 : 1000);
    if (err == 0)
        v->live_stats = true;
    return err;
}

/* Wait for `want` from the hostile side, skipping its stale 'F'. Returns
 * 1, 0 when it said 'Q', -1 on timeout or EOF. */
static int victim_expect(struct vstate *v, char want)
{
    double end = now_s() + HANDSHAKE_MS / 1000.0;
    while (now_s() < end) {
        int c = ctl_get(v->s->ctl, 100);
        if (c == want)
            return 1;
        if (c == 'Q')
            return 0;
        if (c < 0)
            return -1;
    }
    return -1;
}

/* The link is broken or the peer asked: stop, re-zero, start. Returns 1
 * to go on, 0 to quit, -1 on a failed handshake. */
static int victim_restart(struct vstate *v, bool forced)
{
    struct side *s = v->s;
    victim_take_stats(v);
    amp_rpmsg_stop(&v->dev);
    victim_epts_destroy(v);
    v->nheld = 0; /* held buffers died with the link */
    s->rep.restarts++;
    if (forced)
        s->rep.restarts_forced++;
    else
        s->rep.restarts_eio++;
    ctl_put(s->ctl, 'R');
    for (int attempt = 0;; attempt++) {
        if (attempt > 20)
            return -1;
        int r = victim_expect(v, s->host ? 'r' : 'S');
        if (r <= 0)
            return r;
        if (s->host) {
            memset(s->shm + 4096, 0, POOL_OFF - 4096); /* both rings */
            ((volatile struct amp_rsc_vdev *)s->shm)->status = 0;
        }
        int err = victim_start(v);
        if (err == 0)
            break;
        if (s->host)
            return -1; /* our own configuration: must always work */
        s->rep.start_rejects++; /* the hostile host left a bad geometry */
        ctl_put(s->ctl, 'R');
    }
    if (s->host)
        ctl_put(s->ctl, 'S');
    victim_epts_create(v);
    return 1;
}

static void victim_count_send(struct vstate *v, int r, uint32_t len, bool *broken)
{
    struct report *rep = &v->s->rep;
    if (r == (int)len)
        rep->sent++;
    else if (r == -EAGAIN || r == -ETIMEDOUT)
        rep->eagain++;
    else if (r == -EMSGSIZE)
        rep->emsgsize++; /* a hostile host may post small buffers */
    else if (r == -ENOTCONN)
        rep->enotconn++;
    else if (r == -EIO)
        rep->eio++, *broken = true;
    else
        rep->other_err++;
}

/* Send one checksummed message by copy, then check that its source is
 * intact; every 8th also by zero-copy, checking the buffer we are given. */
static void victim_send(struct vstate *v, uint32_t seq, bool *broken)
{
    struct report *rep = &v->s->rep;
    uint32_t len = 12 + rnd(&v->rng) % 200;
    uint32_t sum = msg_build(v->src, MAGIC_VICTIM, seq, len);
    int32_t timeout = seq % 16 == 3 ? 2 : 0; /* sometimes sleep for a buffer */
    victim_count_send(v, amp_ept_send(&v->ept, v->src, len, timeout), len, broken);
    uint32_t again;
    memcpy(&again, v->src + 8, 4);
    if (again != sum || !msg_ok(v->src, len, MAGIC_VICTIM))
        rep->bad_src++;
    if (seq % 8)
        return;
    void *p = NULL;
    uint32_t cap = 0;
    int r = amp_rpmsg_alloc_tx(&v->dev, &p, &cap, 0);
    if (r < 0) {
        victim_count_send(v, r, len, broken);
        return;
    }
    if (!in_window(v, p, cap) || cap < 1) {
        rep->bad_cap++;
        return;
    }
    uint32_t n = len < cap ? len : cap;
    if (n < 12 || seq % 64 == 0) { /* sometimes give it back unsent */
        if (amp_rpmsg_release_tx(&v->dev, p) != 0)
            rep->other_err++;
        return;
    }
    memcpy(p, v->src, n);
    r = amp_ept_send_nocopy(&v->ept, AMP_ADDR_ANY, p, n);
    if (r == (int)n)
        rep->sent_zc++;
    else if (amp_rpmsg_release_tx(&v->dev, p) != 0) /* on error it is still ours */
        rep->other_err++;
}

static int victim_main(struct side *s)
{
    struct vstate *v = calloc(1, sizeof(*v)); /* heap: ASan guards its edges too */
    if (!v)
        return 30;
    canaries_set(v);
    v->s = s;
    v->rng = s->seed ^ 0x5bd1e995u;
    amp_linux_port_init(&v->lp, s->kick_fd, s->wait_fd, false);
    v->port = amp_linux_port(&v->lp);
    amp_rpmsg_init(&v->dev, s->host ? AMP_ROLE_HOST : AMP_ROLE_REMOTE, &v->port);
    amp_rpmsg_set_ns_cb(&v->dev, victim_ns_cb, v);
    v->cfg = s->host ? s->lb->hcfg : s->lb->rcfg;
    v->cfg.slots = v->slots;
    v->cfg.nslots = SLOTS;
    struct report *rep = &s->rep;
    int err = victim_start(v);
    if (err) {
        rep->status = 10;
        goto out;
    }
    victim_epts_create(v);

    uint32_t seq = 0;
    for (;;) {
        bool broken = false, forced = false;
        for (uint32_t k = 1 + rnd(&v->rng) % 4; k > 0 && !broken; k--)
            victim_send(v, seq++, &broken);
        int r = amp_rpmsg_wait(&v->dev, 2);
        if (r == -EIO)
            broken = true;
        else if (r < 0 && r != -ETIMEDOUT && r != -ENOTCONN)
            rep->other_err++;
        if (v->nheld && rnd(&v->rng) % 4 == 0) {
            /* give back the oldest held buffer */
            void *p = v->held[0];
            memmove(v->held, v->held + 1, (size_t)(--v->nheld) * sizeof(void *));
            if (amp_rpmsg_release_rx(&v->dev, p) == 0)
                rep->released++;
            else if (broken)
                rep->released_late++; /* the link broke: the buffer went with it */
            else
                rep->bad_release++; /* a held buffer is ours until we give it back */
        }
        if (seq % 64 < 4 && !canaries_ok(v))
            rep->bad_canary++;
        int c = ctl_get(s->ctl, 0);
        if (c == 'Q' || c < 0)
            break;
        if (c == 'F')
            forced = true;
        if (!broken && !forced)
            continue;
        int go = victim_restart(v, forced && !broken);
        if (go < 0) {
            rep->status = 11; /* the handshake failed */
            break;
        }
        if (go == 0)
            break;
    }
    victim_take_stats(v);
    amp_rpmsg_stop(&v->dev);
    victim_epts_destroy(v);
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(&v->dev, &st);
    rep->rx = st.rx;
out:
    if (!canaries_ok(v))
        rep->bad_canary++;
    if (!rep->status && (rep->bad_window || rep->bad_canary || rep->bad_src || rep->bad_name ||
                         rep->bad_cap || rep->bad_release || rep->other_err))
        rep->status = 12;
    amp_linux_port_destroy(&v->lp);
    free(v);
    return rep->status;
}

/* ==== The hostile side ==== */

struct hstate {
    struct side *s;
    struct amp_linux_port lp;
    struct amp_port port;
    struct amp_rpmsg *dev; /* our own, well-behaved device */
    struct amp_rpmsg_cfg *cfg;
    struct amp_ept ept;
    uint8_t *ring[2];                       /* vring0, vring1 */
    volatile struct amp_vring_desc *desc[2];
    volatile struct amp_vring_avail *avail[2];
    volatile struct amp_vring_used *used[2];
    volatile uint16_t *avail_event[2]; /* after used->ring[num] */
    uint16_t idx[2]; /* our raw avail (host) or used (remote) index */
    size_t ring_end; /* offset just past vring1 */
    uint8_t vdev_saved[256];
    uint32_t rng;
    uint32_t seq;
};

static int hostile_cb(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    struct hstate *h = priv;
    /* echo what the victim sent; it checks the checksum */
    if (amp_ept_sendto(ept, AMP_ADDR_ANY, src, data, len, 0) == (int)len)
        h->s->rep.echoed++;
    return AMP_RX_DONE;
}

static void hostile_kick(struct hstate *h)
{
    amp_linux_notify(&h->lp, 0);
}

static uint32_t R(struct hstate *h)
{
    return rnd(&h->rng);
}

/* Random bytes at a random place in `len` bytes from `p`. */
static void scribble(struct hstate *h, uint8_t *p, size_t len, uint32_t most)
{
    uint32_t n = 1 + R(h) % most;
    size_t at = R(h) % len;
    for (uint32_t i = 0; i < n && at + i < len; i++)
        p[at + i] = (uint8_t)R(h);
}

/* Craft an RPMsg message into the buffer at shm offset `off`, which has
 * room for `room` bytes (at least 16). Returns the length to publish: the
 * used length (we are the remote) or the descriptor length (the host). */
static uint32_t craft_msg(struct hstate *h, uint32_t off, uint32_t room)
{
    uint8_t *b = h->s->shm + off;
    struct amp_rpmsg_hdr hd = {.src = HOSTILE_ADDR, .dst = VICTIM_ADDR};
    struct amp_rpmsg_ns_msg ns;
    uint32_t plen = room - 16 < 12 ? room - 16 : 12 + R(h) % (room - 16 - 12 + 1);
    uint32_t pub = 0; /* 0: exactly the message */
    bool is_ns = false;
    memset(&ns, 0, sizeof(ns));
    memcpy(ns.name, "victim-svc", 10);
    ns.addr = 2000 + R(h) % 100;
    switch (R(h) % 12) {
    case 0: /* header length past the buffer */
        hd.len = (uint16_t)(R(h) & 1 ? 0xFFFF : MIN(room - 16 + 1 + R(h) % 64, 0xFFFFu));
        memcpy(b, &hd, sizeof(hd));
        return room;
    case 1: /* header length past what we publish */
        plen = MIN(64u, room - 16);
        pub = 16 + R(h) % (plen + 1);
        if (pub == 16 + plen)
            pub--;
        break;
    case 2: /* NS without NUL */
        memset(ns.name, 'A' + (int)(R(h) % 26), sizeof(ns.name));
        is_ns = true;
        break;
    case 3: /* NS flags 7 */
        ns.flags = 7;
        is_ns = true;
        break;
    case 4: /* NS addr ANY */
        ns.addr = AMP_ADDR_ANY;
        is_ns = true;
        break;
    case 5: /* NS of the wrong length */
        is_ns = true;
        plen = R(h) % 4 == 0 ? 0 : (uint32_t)sizeof(ns) + (R(h) & 1 ? 1u : (uint32_t)-1);
        break;
    case 6: /* NS create / destroy, for the victim's name or a new one */
        ns.flags = R(h) & 1;
        if (R(h) & 1)
            snprintf(ns.name, sizeof(ns.name), "svc-%u", R(h) % 1000);
        is_ns = true;
        break;
    case 7: /* nobody's address */
        hd.dst = R(h);
        break;
    case 8: /* a random header, published at a random length */
        for (int i = 0; i < 16; i++)
            b[i] = (uint8_t)R(h);
        return R(h) % (room + 1);
    case 9: /* published shorter than a header */
        memcpy(b, &hd, sizeof(hd));
        return R(h) % 16;
    default: /* a well-formed message for the victim */
        break;
    }
    if (is_ns) {
        hd.dst = AMP_RPMSG_NS_ADDR;
        if (R(h) & 1)
            hd.src = R(h);
        if (plen == 12 || plen > sizeof(ns)) /* not set by a case above */
            plen = sizeof(ns);
        if (room < 16 + sizeof(ns) + 1)
            return 0; /* no room for it: publish an empty buffer */
        memcpy(b + 16, &ns, sizeof(ns));
        if (plen > sizeof(ns))
            b[16 + sizeof(ns)] = (uint8_t)R(h);
    } else if (plen >= 12) {
        msg_build(b + 16, MAGIC_HOSTILE, h->seq++, plen);
    } else {
        for (uint32_t i = 0; i < plen; i++)
            b[16 + i] = (uint8_t)R(h);
    }
    hd.len = (uint16_t)plen;
    memcpy(b, &hd, sizeof(hd));
    return pub ? pub : 16 + plen;
}

/* Device role (hostile remote): publish a used entry on ring r. */
static void push_used(struct hstate *h, int r, uint32_t id, uint32_t len)
{
    volatile struct amp_vring_used_elem *e = &h->used[r]->ring[h->idx[r] % NUM];
    e->id = id;
    e->len = len;
    atomic_thread_fence(memory_order_release);
    h->used[r]->idx = ++h->idx[r];
}

/* Driver role (hostile host): publish descriptor `head` on ring r. */
static void push_avail(struct hstate *h, int r, uint16_t head, uint64_t addr, uint32_t len,
                       uint16_t flags, bool write_desc)
{
    if (write_desc && head < NUM) {
        h->desc[r][head].addr = addr;
        h->desc[r][head].len = len;
        h->desc[r][head].flags = flags;
        h->desc[r][head].next = (uint16_t)R(h);
    }
    h->avail[r]->ring[h->idx[r] % NUM] = head;
    atomic_thread_fence(memory_order_release);
    h->avail[r]->idx = ++h->idx[r];
}

/* Random bytes over both rings.
 *
 * Descriptors at odd addresses make our remote read and write the u32
 * fields of an RPMsg header at an odd address: undefined behaviour, a
 * HardFault on Cortex-M0, and an abort under UBSan. The library refuses
 * them; with AMP_HOSTILE_UNALIGNED=0 a hostile host writes the low byte
 * of a descriptor address with its low three bits clear instead. Each
 * byte is written once, so the victim never sees an odd address even
 * mid-scribble; everything else stays garbage. */
static void scribble_rings(struct hstate *h)
{
    uint8_t *base = h->s->shm + 4096;
    size_t len = h->ring_end - 4096;
    uint32_t n = 1 + R(h) % 256;
    size_t at = R(h) % len;
    for (uint32_t i = 0; i < n && at + i < len; i++) {
        uint8_t *p = base + at + i;
        uint8_t v = (uint8_t)R(h);
        for (int r = 0; r < 2; r++)
            if (h->s->host && !unaligned && p >= h->ring[r] &&
                (size_t)(p - h->ring[r]) < NUM * sizeof(struct amp_vring_desc) &&
                (size_t)(p - h->ring[r]) % sizeof(struct amp_vring_desc) == 0)
                v &= (uint8_t)~7u;
        *p = v;
    }
}

/* One adversarial write as the remote (the victim is the host). */
static void attack_as_remote(struct hstate *h)
{
    int r = (int)(R(h) & 1);
    uint32_t id = R(h) % NUM;
    switch (R(h) % 12) {
    case 0: /* index jumps */
        h->used[r]->idx = (uint16_t)(R(h) % 3 == 0 ? 0xFFFF : h->idx[r] + NUM + 1 + R(h) % 100);
        break;
    case 1: /* head id out of range */
        push_used(h, r, NUM + R(h) % (R(h) & 1 ? 0xFFFFFFFFu - NUM : 1000), R(h) % 600);
        break;
    case 2: /* the same id twice: the second is not outstanding */
        push_used(h, r, id, 16);
        push_used(h, r, id, 16);
        break;
    case 3: /* used length past the buffer */
        push_used(h, r, id, R(h) & 1 ? 0xFFFFFFFFu : 513 + R(h) % 1000);
        break;
    case 4:
    case 5:
    case 6: /* a crafted message in one of the host's rx buffers */
        push_used(h, 0, id, craft_msg(h, POOL_OFF + id * 512, 512));
        break;
    case 7: /* random bytes over the rings */
        scribble_rings(h);
        break;
    case 8: /* random bytes over buffer headers */
        scribble(h, h->s->shm + POOL_OFF + (R(h) % (2 * NUM)) * 512, 16, 16);
        break;
    case 9: /* notification fields */
        h->used[r]->flags = (uint16_t)R(h);
        *h->avail_event[r] = (uint16_t)R(h);
        break;
    case 10: /* the vdev */
        scribble(h, h->s->shm, 64, 8);
        break;
    default: /* an index step back */
        h->used[r]->idx = (uint16_t)(h->idx[r] - 1 - R(h) % 4);
        break;
    }
}

/* One adversarial write as the host (the victim is the remote). */
static void attack_as_host(struct hstate *h)
{
    int r = (int)(R(h) & 1);
    uint16_t head = (uint16_t)(R(h) % NUM);
    uint64_t da = LB_DA, size = LB_SHM_SIZE;
    uint32_t off = CRAFT_OFF + (R(h) % 256) * 512;
    if (R(h) % 4 == 0)
        off = LB_SHM_SIZE - 1024 + 8 * (R(h) % 96); /* near the end: overruns would leave the window */
    switch (unaligned && R(h) % 8 == 0 ? 16 : R(h) % 16) {
    case 0: /* index jumps */
        h->avail[r]->idx = (uint16_t)(R(h) % 3 == 0 ? 0xFFFF : h->idx[r] + NUM + 1 + R(h) % 100);
        break;
    case 1: /* head id out of range */
        push_avail(h, r, (uint16_t)(NUM + R(h) % (0x10000 - NUM)), 0, 0, 0, false);
        break;
    case 2: /* the same head twice: the second is already held */
        push_avail(h, r, head, da + off, 512, 0, true);
        push_avail(h, r, head, da + off, 512, 0, false);
        break;
    case 3: { /* descriptors outside the window */
        static const uint64_t bad[] = {0, 0xFFFFFFFFFFFFFFFFull, LB_DA - 16, LB_DA - 1,
                                       LB_DA + LB_SHM_SIZE, 0x100000000ull + LB_DA};
        push_avail(h, r, head, bad[R(h) % 6], 64, 0, true);
        break;
    }
    case 4: /* straddling the end of the window */
        push_avail(h, r, head, da + size - 8 - R(h) % 64, 128, 0, true);
        break;
    case 5: /* huge lengths */
        push_avail(h, r, head, da + off, R(h) & 1 ? 0xFFFFFFFFu : 0x7FFFFFFFu + R(h) % 2, 0,
                   true);
        break;
    case 6: /* chained or indirect */
        push_avail(h, r, head, da + off, 512,
                   (uint16_t)(R(h) & 1 ? AMP_VRING_DESC_F_NEXT : AMP_VRING_DESC_F_INDIRECT), true);
        break;
    case 7: /* too short for a header */
        push_avail(h, r, head, da + off, R(h) % 16, 0, true);
        break;
    case 8: /* a buffer over the rings or the vdev: inside, but not a buffer
             * (a send buffer over the rings would have the victim write
             * odd descriptor addresses itself: see scribble_rings) */
        push_avail(h, r, head,
                   da + (R(h) % 2 || (r == 0 && !unaligned) ? 0 : 4096 + (R(h) % 16) * 64), 512, 0,
                   true);
        break;
    case 9:
    case 10:
    case 11: { /* a crafted message in a buffer of our choice */
        uint32_t room = 16 + R(h) % (LB_SHM_SIZE - off - 16 + 1 < 600 ? LB_SHM_SIZE - off - 16 + 1 : 600);
        push_avail(h, 1, head, da + off, craft_msg(h, off, room), 0, true);
        break;
    }
    case 12: /* random bytes over the rings */
        scribble_rings(h);
        break;
    case 13: /* random bytes over buffer headers */
        scribble(h, h->s->shm + POOL_OFF + (R(h) % (2 * NUM)) * 512, 16, 16);
        break;
    case 14: /* notification fields */
        h->avail[r]->flags = (uint16_t)R(h);
        h->avail[r]->ring[NUM] = (uint16_t)R(h); /* used_event */
        break;
    case 15: /* the largest buffer there is: the whole window after the pool start */
        push_avail(h, r, head, da + POOL_OFF, (uint32_t)(size - POOL_OFF), 0, true);
        break;
    default: { /* 16: a crafted message at an odd address */
        uint32_t odd = off + 1 + R(h) % 7;
        push_avail(h, 1, head, da + odd, craft_msg(h, odd, 128), 0, true);
        break;
    }
    }
}

/* Well-framed garbage through our own device: NS messages of every bad
 * kind and messages for nobody. */
static void hostile_framed_garbage(struct hstate *h)
{
    struct amp_rpmsg_ns_msg ns;
    memset(&ns, 0, sizeof(ns));
    memcpy(ns.name, "victim-svc", 10);
    ns.addr = 3000 + R(h) % 100;
    size_t len = sizeof(ns);
    uint32_t dst = AMP_RPMSG_NS_ADDR;
    switch (R(h) % 7) {
    case 0:
        memset(ns.name, 'x', sizeof(ns.name));
        break;
    case 1:
        ns.flags = 7;
        break;
    case 2:
        ns.addr = AMP_ADDR_ANY;
        break;
    case 3:
        len = R(h) % sizeof(ns);
        break;
    case 4:
        ns.flags = R(h) & 1; /* a real create or destroy */
        break;
    case 5:
        dst = 5000 + R(h) % 100; /* nobody */
        break;
    default:
        snprintf(ns.name, sizeof(ns.name), "svc-%u", R(h) % 1000); /* new service */
        break;
    }
    amp_ept_sendto(&h->ept, HOSTILE_ADDR, dst, &ns, len, 0);
}

static void hostile_epts_create(struct hstate *h)
{
    amp_ept_create(&h->ept, h->dev, NULL, HOSTILE_ADDR, VICTIM_ADDR, hostile_cb, h);
}

/* A vdev geometry the victim must refuse. (A random one may also be
 * valid and put the victim's rings over buffers, where it reads payload
 * as descriptors: not with AMP_HOSTILE_UNALIGNED=0, see scribble_rings.) */
static void bad_geometry(struct hstate *h, volatile struct amp_rsc_vdev *vdev)
{
    uint32_t i = R(h) & 1;
    switch (R(h) % 7) {
    case 0:
        vdev->vring[i].num = 48; /* not a power of two */
        break;
    case 1:
        vdev->vring[0].num = vdev->vring[1].num = 1024; /* more slots than the victim has */
        break;
    case 2:
        vdev->vring[i].num = 0x80000000u;
        break;
    case 3:
        vdev->vring[i].da = LB_DA + LB_SHM_SIZE - 512; /* runs off the window */
        break;
    case 4:
        vdev->vring[i].da = (uint32_t)(LB_DA + 4096 + 1 + R(h) % 15); /* misaligned ring */
        break;
    case 5:
        vdev->num_of_vrings = (uint8_t)(R(h) % 2);
        break;
    default:
        vdev->vring[i].align = 3 + R(h) % 60; /* not a power of two (or differs) */
        break;
    }
}

/* The victim asked for a restart ('R'): do our half. 0 or -1. */
static int hostile_handshake(struct hstate *h)
{
    struct side *s = h->s;
    volatile struct amp_rsc_vdev *vdev = (volatile struct amp_rsc_vdev *)s->shm;
    amp_rpmsg_stop(h->dev);
    amp_ept_destroy(&h->ept);
    s->rep.hs_restarts++;
    if (s->host) {
        memset(s->shm + 4096, 0, POOL_OFF - 4096);
        memcpy(s->shm, h->vdev_saved, sizeof(h->vdev_saved));
        if (R(h) % 8 == 0) { /* make the victim re-read a bad geometry */
            s->rep.geometry_left_bad++;
            if (unaligned)
                scribble(h, s->shm + 8, 120, 16);
            else
                bad_geometry(h, vdev);
        }
        vdev->status = 0;
        /* offer event-idx or not: both notification schemes get their turn */
        h->cfg->features = R(h) & 1 ? features : features & ~(1u << AMP_VIRTIO_F_EVENT_IDX);
        if (amp_rpmsg_start(h->dev, h->cfg, 0) != 0)
            return -1;
        ctl_put(s->ctl, 'S');
    } else {
        memcpy(s->shm, h->vdev_saved, sizeof(h->vdev_saved));
        if (R(h) & 1) /* offer event-idx or not */
            vdev->dfeatures = features & ~(1u << AMP_VIRTIO_F_EVENT_IDX);
        ctl_put(s->ctl, 'r');
        double end = now_s() + HANDSHAKE_MS / 1000.0;
        int c;
        while ((c = ctl_get(s->ctl, 100)) != 'S')
            if (c < 0 || now_s() > end)
                return -1;
        if (amp_rpmsg_start(h->dev, h->cfg, 1000) != 0)
            return -1;
    }
    hostile_epts_create(h);
    return 0;
}

/* Look at the control socket: 1 if a restart was done, 0 if nothing came,
 * -1 on failure. */
static int hostile_ctl(struct hstate *h, int ms)
{
    int c = ctl_get(h->s->ctl, ms);
    if (c < 0)
        return -1;
    if (c != 'R')
        return 0;
    return hostile_handshake(h) < 0 ? -1 : 1;
}

static int hostile_main(struct side *s)
{
    struct hstate *h = calloc(1, sizeof(*h));
    if (!h)
        return 30;
    h->s = s;
    h->rng = s->seed;
    amp_linux_port_init(&h->lp, s->kick_fd, s->wait_fd, false);
    h->port = amp_linux_port(&h->lp);
    h->dev = s->host ? &s->lb->host : &s->lb->remote;
    h->cfg = s->host ? &s->lb->hcfg : &s->lb->rcfg;
    amp_rpmsg_init(h->dev, s->host ? AMP_ROLE_HOST : AMP_ROLE_REMOTE, &h->port);
    memcpy(h->vdev_saved, s->shm, sizeof(h->vdev_saved));
    for (int r = 0; r < 2; r++) {
        h->ring[r] = s->shm + (h->cfg->vring_da[r] - LB_DA);
        h->desc[r] = (volatile struct amp_vring_desc *)h->ring[r];
        h->avail[r] = (volatile struct amp_vring_avail *)(h->ring[r] + amp_vring_avail_offset(NUM));
        h->used[r] = (volatile struct amp_vring_used *)(h->ring[r] + amp_vring_used_offset(NUM, 64));
        h->avail_event[r] = (volatile uint16_t *)(h->ring[r] + amp_vring_used_offset(NUM, 64) + 4 +
                                                  NUM * sizeof(struct amp_vring_used_elem));
    }
    h->ring_end = (size_t)(h->ring[1] - s->shm) + amp_vring_size(NUM, 64);
    struct report *rep = &s->rep;
    if (amp_rpmsg_start(h->dev, h->cfg, s->host ? 0 : 5000) != 0) {
        rep->status = 40;
        goto out;
    }
    hostile_epts_create(h);
    double end = now_s() + s->seconds;
    static uint8_t buf[512];
    while (now_s() < end) {
        rep->phases++;
        /* valid phase: real traffic, and well-framed garbage */
        double until = now_s() + (10 + R(h) % 30) / 1000.0;
        bool restarted = false;
        while (now_s() < until && !restarted) {
            uint32_t len = 12 + R(h) % 200;
            msg_build(buf, MAGIC_HOSTILE, h->seq++, len);
            if (amp_ept_send(&h->ept, buf, len, 0) == (int)len)
                rep->valid_sent++;
            if (R(h) % 8 == 0)
                hostile_framed_garbage(h);
            if (amp_rpmsg_wait(h->dev, 1) == -EIO)
                break; /* our own garbage broke our device: on to more */
            int c = hostile_ctl(h, 0);
            if (c < 0)
                goto fail;
            restarted = c > 0;
        }
        if (restarted)
            continue;
        /* garbage phase: our device steps aside, we write the rings */
        amp_rpmsg_stop(h->dev);
        for (int r = 0; r < 2; r++)
            h->idx[r] = s->host ? h->avail[r]->idx : h->used[r]->idx;
        uint32_t n = 1 + R(h) % 48;
        for (uint32_t i = 0; i < n; i++) {
            if (s->host)
                attack_as_host(h);
            else
                attack_as_remote(h);
            rep->actions++;
            if (R(h) % 4 == 0)
                hostile_kick(h);
        }
        hostile_kick(h);
        /* let the victim chew on it (sometimes long enough to run out of
         * buffers); it may ask for a restart itself */
        int c = hostile_ctl(h, R(h) % 4 ? 3 : 40);
        if (c < 0)
            goto fail;
        if (c > 0)
            continue;
        /* ours is out of step with the rings now: ask for a restart */
        ctl_put(s->ctl, 'F');
        double hs_end = now_s() + HANDSHAKE_MS / 1000.0;
        while ((c = hostile_ctl(h, 100)) == 0)
            if (now_s() > hs_end)
                goto fail;
        if (c < 0)
            goto fail;
    }
    ctl_put(s->ctl, 'Q');
    /* wait for the victim to hang up */
    double q_end = now_s() + HANDSHAKE_MS / 1000.0;
    while (ctl_get(s->ctl, 100) >= 0 && now_s() < q_end)
        ;
    goto out;
fail:
    rep->status = 41;
    ctl_put(s->ctl, 'Q');
out:
    amp_rpmsg_stop(h->dev);
    amp_linux_port_destroy(&h->lp);
    free(h);
    return rep->status;
}

/* ==== Running a duel ==== */

struct duel {
    struct loopback lb;
    uint8_t *shm;
    int to_remote, to_host;
    int ctl[2];
    struct side victim, hostile;
};

static void duel_setup(struct duel *d, uint8_t *shm, bool victim_is_host, double seconds)
{
    lb_setup_in(&d->lb, NUM, features, shm);
    d->shm = d->lb.shm;
    d->to_remote = eventfd(0, EFD_CLOEXEC);
    d->to_host = eventfd(0, EFD_CLOEXEC);
    CHECK(d->to_remote >= 0 && d->to_host >= 0);
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, d->ctl), 0);
    uint32_t seed = seed_from_env();
    printf("     seed %#x (AMP_HOSTILE_SEED), %.1f s\n", seed, seconds);
    fflush(stdout);
    struct side *host = victim_is_host ? &d->victim : &d->hostile;
    struct side *remote = victim_is_host ? &d->hostile : &d->victim;
    *host = (struct side){.lb = &d->lb, .shm = d->shm, .host = true, .kick_fd = d->to_remote,
                          .wait_fd = d->to_host, .seconds = seconds, .seed = seed};
    *remote = (struct side){.lb = &d->lb, .shm = d->shm, .host = false, .kick_fd = d->to_host,
                            .wait_fd = d->to_remote, .seconds = seconds, .seed = seed * 7 + 1};
    d->victim.ctl = d->ctl[0];
    d->hostile.ctl = d->ctl[1];
}

static void duel_close(struct duel *d)
{
    close(d->to_remote);
    close(d->to_host);
}

static void duel_print(const struct report *v, const struct report *h)
{
    printf("     victim: %" PRIu64 " ring errors, %" PRIu64 " msg errors, %" PRIu64
           " dropped; %u restarts (%u on -EIO, %u asked), %u bad geometries refused\n",
           v->ring_errors, v->msg_errors, v->dropped, v->restarts, v->restarts_eio,
           v->restarts_forced, v->start_rejects);
    printf("     victim: sent %" PRIu64 " (+%" PRIu64 " zero-copy), -EAGAIN %" PRIu64
           ", -EMSGSIZE %" PRIu64 ", -ENOTCONN %" PRIu64 ", -EIO %" PRIu64 "; rx %" PRIu64
           ": %" PRIu64 " echoes ok, %" PRIu64 " hostile ok, %" PRIu64 " other; held %" PRIu64
           " (%" PRIu64 " given back, %" PRIu64 " lost to a break), NS callbacks %" PRIu64 "\n",
           v->sent, v->sent_zc, v->eagain, v->emsgsize, v->enotconn, v->eio, v->rx, v->echo_good,
           v->rx_good, v->rx_other, v->held, v->released, v->released_late, v->ns_calls);
    printf("     hostile: %" PRIu64 " phases, %" PRIu64 " raw writes, %" PRIu64 " valid sent, %" PRIu64
           " echoed, %" PRIu64 " restarts, %" PRIu64 " bad geometries left\n",
           h->phases, h->actions, h->valid_sent, h->echoed, h->hs_restarts, h->geometry_left_bad);
    fflush(stdout);
}

static void duel_check(const struct report *v, const struct report *h)
{
    CHECK_EQ(v->status, 0);
    CHECK_EQ(h->status, 0);
    CHECK(v->ring_errors + v->msg_errors > 0);
    CHECK(v->restarts > 0);
    CHECK(v->restarts_eio > 0); /* index garbage did break the rings */
    CHECK(v->echo_good + v->rx_good > 0); /* and valid traffic went through between */
    CHECK(v->sent > 0);
    CHECK_EQ(v->bad_window, 0);
    CHECK_EQ(v->bad_canary, 0);
    CHECK_EQ(v->bad_src, 0);
    CHECK_EQ(v->bad_name, 0);
    CHECK_EQ(v->bad_cap, 0);
    CHECK_EQ(v->bad_release, 0);
    CHECK_EQ(v->other_err, 0);
}

/* -- two processes, guard pages around the window on both sides -- */

static uint8_t *map_guarded(int fd)
{
    size_t total = LB_SHM_SIZE + 2 * (size_t)GUARD;
    uint8_t *res = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (res == MAP_FAILED)
        return NULL;
    void *p = mmap(res + GUARD, LB_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    if (p == MAP_FAILED) {
        munmap(res, total);
        return NULL;
    }
    return p;
}

static pid_t spawn(struct duel *d, struct side *s, bool hostile, int report_fd)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm((unsigned)s->seconds + 30);
    close(hostile ? d->ctl[0] : d->ctl[1]); /* EOF must reach the other side */
    int st = hostile ? hostile_main(s) : victim_main(s);
    if (write(report_fd, &s->rep, sizeof(s->rep)) != (ssize_t)sizeof(s->rep))
        st = 50;
    _exit(st);
}

/* Wait for pid until `end`; kill it after. Its wait status, or -1. */
static int reap(pid_t pid, double end)
{
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0)
            return -1;
        if (now_s() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(10000);
    }
}

static void duel_procs(bool victim_is_host)
{
    double secs = seconds_from_env();
    unaligned = !getenv("AMP_HOSTILE_UNALIGNED") || atoi(getenv("AMP_HOSTILE_UNALIGNED"));
    int fd = memfd_create("amp-hostile", MFD_CLOEXEC);
    CHECK(fd >= 0);
    CHECK_EQ(ftruncate(fd, LB_SHM_SIZE), 0);
    uint8_t *shm = map_guarded(fd);
    CHECK(shm != NULL);
    if (!shm)
        return;
    static struct duel d;
    memset(&d, 0, sizeof(d));
    duel_setup(&d, shm, victim_is_host, secs);
    int vp[2], hp[2];
    CHECK_EQ(pipe(vp), 0);
    CHECK_EQ(pipe(hp), 0);
    pid_t vpid = spawn(&d, &d.victim, false, vp[1]);
    pid_t hpid = spawn(&d, &d.hostile, true, hp[1]);
    CHECK(vpid > 0 && hpid > 0);
    close(d.ctl[0]);
    close(d.ctl[1]);
    close(vp[1]);
    close(hp[1]);
    double end = now_s() + secs + 40;
    int vst = reap(vpid, end), hst = reap(hpid, end);
    struct report v, h;
    memset(&v, 0, sizeof(v));
    memset(&h, 0, sizeof(h));
    CHECK_EQ(read(vp[0], &v, sizeof(v)), sizeof(v));
    CHECK_EQ(read(hp[0], &h, sizeof(h)), sizeof(h));
    close(vp[0]);
    close(hp[0]);
    duel_print(&v, &h);
    /* the victim process exited normally, on its own, saying all is well */
    if (vst != -1 && WIFSIGNALED(vst))
        fprintf(stderr, "victim killed by signal %d\n", WTERMSIG(vst));
    CHECK(vst != -1 && WIFEXITED(vst));
    CHECK(vst != -1 && WIFEXITED(vst) && WEXITSTATUS(vst) == 0);
    CHECK(hst != -1 && WIFEXITED(hst) && WEXITSTATUS(hst) == 0);
    duel_check(&v, &h);
    duel_close(&d);
    munmap(shm - GUARD, LB_SHM_SIZE + 2 * (size_t)GUARD);
    close(fd);
}

/* -- one process, two threads, a malloc'd window (for AddressSanitizer) -- */

static void *victim_thread(void *arg)
{
    struct side *s = arg;
    s->rep.status = victim_main(s);
    close(s->ctl);
    return NULL;
}

static void *hostile_thread(void *arg)
{
    struct side *s = arg;
    s->rep.status = hostile_main(s);
    close(s->ctl);
    return NULL;
}

static void duel_threads(bool victim_is_host)
{
    double secs = seconds_from_env();
    unaligned = !getenv("AMP_HOSTILE_UNALIGNED") || atoi(getenv("AMP_HOSTILE_UNALIGNED"));
    static struct duel d;
    memset(&d, 0, sizeof(d));
    duel_setup(&d, NULL, victim_is_host, secs); /* NULL: a malloc'd window */
    alarm((unsigned)secs + 60);
    pthread_t vt, ht;
    CHECK_EQ(pthread_create(&vt, NULL, victim_thread, &d.victim), 0);
    CHECK_EQ(pthread_create(&ht, NULL, hostile_thread, &d.hostile), 0);
    pthread_join(vt, NULL);
    pthread_join(ht, NULL);
    alarm(0);
    duel_print(&d.victim.rep, &d.hostile.rep);
    duel_check(&d.victim.rep, &d.hostile.rep);
    duel_close(&d);
    lb_teardown(&d.lb);
}

static void test_hostile_remote_vs_host_in_two_processes(void)
{
    duel_procs(true);
}

static void test_hostile_host_vs_remote_in_two_processes(void)
{
    duel_procs(false);
}

static void test_hostile_remote_vs_host_in_threads(void)
{
    duel_threads(true);
}

static void test_hostile_host_vs_remote_in_threads(void)
{
    duel_threads(false);
}

/* The guard pages work: touching one byte past the window kills a child. */
static void test_hostile_guard_pages_fault(void)
{
    int fd = memfd_create("amp-guard", MFD_CLOEXEC);
    CHECK_EQ(ftruncate(fd, LB_SHM_SIZE), 0);
    uint8_t *shm = map_guarded(fd);
    CHECK(shm != NULL);
    if (!shm)
        return;
    shm[0] = 1;
    shm[LB_SHM_SIZE - 1] = 1;
    for (int side = 0; side < 2; side++) {
        pid_t pid = fork();
        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 2); /* AddressSanitizer's report of the fault is expected */
            volatile uint8_t *p = side ? shm + LB_SHM_SIZE : shm - 1;
            *p = 1;
            _exit(0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        /* SIGSEGV, or under AddressSanitizer its report and exit 1 */
        CHECK(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0));
    }
    munmap(shm - GUARD, LB_SHM_SIZE + 2 * (size_t)GUARD);
    close(fd);
}

AMP_TEST_MAIN(TEST(test_hostile_guard_pages_fault),
              TEST(test_hostile_remote_vs_host_in_two_processes),
              TEST(test_hostile_host_vs_remote_in_two_processes),
              TEST(test_hostile_remote_vs_host_in_threads),
              TEST(test_hostile_host_vs_remote_in_threads))
