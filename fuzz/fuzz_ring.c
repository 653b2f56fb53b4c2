/*
 * fuzz_ring.c - the message path of one RPMsg device against a peer that
 * the input plays, in either role. Built twice:
 *
 *   fuzz_host   (FUZZ_HOST=1): our host; the input is an adversarial
 *               remote writing used rings, rx buffers, RPMsg headers and
 *               NS messages (and anything else in the window);
 *   fuzz_remote (FUZZ_HOST=0): our remote; the input is an adversarial
 *               host writing descriptors, avail rings, the vdev's geometry
 *               and the messages it posts.
 *
 * Its expectations follow the library's AMP_CFG_* settings, so it also
 * builds against a library compiled for a small remote (one endpoint, no
 * lock, no waiting, no endpoint destroy), as tested by hand for issue 15,
 * and against the lean remote (AMP_CFG_RPMSG_LEAN): fuzz/run.sh's targets
 * `lean` and `lean-echo` (without zero-copy and endpoint destroy), harness
 * and library compiled with the same settings.
 *
 * The input is a script (fuzz_ring.h): a header that lays the link out in
 * a heap block of exactly the window's size, then ops that either call
 * the device (poll, wait, send, zero-copy alloc/send/release, endpoint
 * create/destroy, stop, start) or write the window as the peer.
 *
 * Invariants checked after every call of ours:
 *   - the device wrote only where its role may: the host its descriptors,
 *     avail rings and send buffers; the remote its used rings and the send
 *     buffers it took (a byte-for-byte diff of the window);
 *   - buffer accounting (amp_rpmsg_get_stats) adds up while the link is
 *     up: host rx_queued + rx_held == num and tx_free + tx_queued +
 *     tx_held == tx_total; remote rx_queued == rx_held and tx_queued ==
 *     tx_free + tx_held; held counts match what the application holds;
 *   - callbacks run unlocked, for a live endpoint, with data inside one
 *     receive buffer; NS names are NUL-terminated and non-empty;
 *   - the port lock is never taken twice, and wait() is called holding it;
 *   - results are from the documented set; a send that succeeds has put
 *     its buffer on the ring; a held buffer can be given back while the
 *     link is up, and nothing else can;
 *   - a link that is down or broken refuses every call;
 *   - remote: an NS message of ours goes only on a link with the name
 *     service.
 */
#include "fuzz_common.h"
#include "fuzz_ring.h"

#ifndef FUZZ_HOST
#error "build with -DFUZZ_HOST=1 (fuzz_host) or -DFUZZ_HOST=0 (fuzz_remote)"
#endif
static const bool HOST = FUZZ_HOST;

#define HDR AMP_RPMSG_HDR_SIZE
#define NEPT 4u
#define NHELD 64u
#define NUM_MAX 64u      /* our slot storage: rings larger are refused (-E2BIG) */
#define WIN_DA 0x20000000u
#define RING0 128u       /* the vdev sits at 0, the rings from here */
#define MAX_INPUT 8192u
#define MAX_OPS 1500u

struct range {
    size_t lo, hi;
};

static struct fz {
    /* the window and its layout, as set up (the peer writes by this) */
    uint8_t *win, *snap;
    size_t size;
    struct amp_rsc_vdev *vdev;
    uint32_t num, align, bs, ntx, cap;
    size_t roff[2], rsize, used_off, pool;
    /* the device under test */
    struct amp_port port;
    struct amp_rpmsg dev;
    struct amp_rpmsg_cfg cfg;
    struct amp_vring_slot slots[2 * NUM_MAX];
    int lock_depth;
    uint32_t clock;
    uint32_t gen; /* dev.gen the held lists belong to */
    /* our endpoints */
    struct amp_ept ept[NEPT];
    bool live[NEPT];
    uint32_t unbinds;
    /* buffers the application holds */
    struct {
        uint8_t *p;
        uint32_t gen;
    } rx[NHELD];
    unsigned nrx;
    struct {
        uint8_t *p;
        uint32_t cap;
    } tx[NHELD];
    unsigned ntxh;
    uint8_t cb_mode;
    bool in_cb;
    /* the peer */
    uint16_t peer_idx[2];  /* host target: used idx published; remote target: avail idx */
    uint16_t peer_last[2]; /* host target: avail entries consumed; remote target: used */
    bool scribbled;        /* raw writes since the last start: the rings say anything */
    struct range extra[1]; /* the peer wrote this during our call (from wait) */
    struct amp_vring_slot tx_before[NUM_MAX]; /* remote: its send slots before our call */
    unsigned nextra;
} F;

static uint8_t pattern[2048];

/* ==== Helpers ==== */

static void wr16(size_t off, uint16_t v)
{
    F.win[off] = (uint8_t)v;
    F.win[off + 1] = (uint8_t)(v >> 8);
}

static void wr32(size_t off, uint32_t v)
{
    fz_put32(F.win + off, v);
}

static uint16_t rd16(size_t off)
{
    return (uint16_t)(F.win[off] | F.win[off + 1] << 8);
}

static uint32_t rd32(size_t off)
{
    uint8_t *p = F.win + off;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(size_t off)
{
    return rd32(off) | (uint64_t)rd32(off + 4) << 32;
}

/* Where the peer finds the parts of ring r (by the layout it set up). */
static size_t desc_at(int r, uint32_t i)
{
    return F.roff[r] + 16 * (size_t)i;
}
static size_t avail_at(int r)
{
    return F.roff[r] + 16 * (size_t)F.num; /* flags, idx, ring[], used_event */
}
static size_t used_at(int r)
{
    return F.roff[r] + F.used_off; /* flags, idx, ring[] {id, len}, avail_event */
}

FZ_NOCOV static void touch(const uint8_t *p, size_t n)
{
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum ^= p[i];
    (void)sum;
}

static size_t win_off(const volatile void *p)
{
    return (size_t)((uintptr_t)p - (uintptr_t)F.win);
}

static void forget_held(void)
{
    F.nrx = F.ntxh = 0;
    F.gen = F.dev.gen;
}

#if AMP_CFG_RPMSG_EPT_DESTROY
static void poison(unsigned e)
{
    memset(&F.ept[e], 0xDB, sizeof(F.ept[e])); /* the library must not look at it again */
    F.live[e] = false;
}
#endif

static bool err_in(int r, const int *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (r == set[i])
            return true;
    return false;
}
#define ERR_IN(r, ...) err_in((r), (const int[]){__VA_ARGS__}, sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

/* ==== What the device may write ==== */

/* Has the remote taken buffer s from the host (and not given it back)?
 * The full build says so in the vring's slot state, the lean one in the
 * slot's user byte (0: the host has it). */
FZ_NOCOV static bool taken(const struct amp_vring_slot *s)
{
    return AMP_CFG_RPMSG_LEAN ? s->user != 0 : s->state == AMP_SLOT_QUEUED;
}

FZ_NOCOV static bool in_range(size_t i, size_t lo, size_t len)
{
    return i >= lo && i - lo < len;
}

FZ_NOCOV static bool in_desc_of(const uint8_t *ring, size_t i)
{
    /* remote: a send buffer named by a descriptor of its tx ring, before
     * or after the call (it may have rewritten one that covers the table) */
    const struct amp_vring *vr = &F.dev.tx;
    if (!vr->desc)
        return false;
    size_t d = win_off(vr->desc);
    for (uint32_t k = 0; k < vr->num; k++) {
        if (d + 16 * (size_t)(k + 1) > F.size)
            break;
        uint64_t a = 0;
        uint32_t len = 0;
        for (int b = 7; b >= 0; b--)
            a = a << 8 | ring[d + 16 * k + (size_t)b];
        for (int b = 3; b >= 0; b--)
            len = len << 8 | ring[d + 16 * k + 8 + (size_t)b];
        if (a >= WIN_DA && in_range(i, (size_t)(a - WIN_DA), len))
            return true;
    }
    return false;
}

FZ_NOCOV static bool may_write(size_t i, bool start)
{
    for (unsigned k = 0; k < F.nextra; k++)
        if (i >= F.extra[k].lo && i < F.extra[k].hi)
            return true;
    for (int r = 0; r < 2; r++) {
        const struct amp_vring *vr = r ? &F.dev.tx : &F.dev.rx;
        if (!vr->desc)
            continue;
        if (HOST) {
            /* descriptors, the avail ring and used_event; at start all of it */
            size_t lo = win_off(vr->desc), hi = win_off(vr->used_event) + 2;
            if (start)
                hi = win_off(vr->avail_event) + 2;
            if (i >= lo && i < hi)
                return true;
        } else {
            /* the used ring and avail_event (by the geometry: avail_event
             * is NULL without AMP_CFG_VRING_EVENT_IDX) */
            if (i >= win_off(vr->used) && i < win_off(vr->used) + 6 + 8 * (size_t)vr->num)
                return true;
        }
    }
    if (HOST) {
        if (in_range(i, F.pool + (size_t)F.num * F.bs, (size_t)F.ntx * F.bs))
            return true; /* send buffers */
        if (start && (in_range(i, offsetof(struct amp_rsc_vdev, gfeatures), 4) ||
                      i == offsetof(struct amp_rsc_vdev, status)))
            return true;
        return false;
    }
    /* a send buffer it had before the call or has after it (a head taken
     * again within the call has a new record), or one a descriptor names */
    for (uint32_t k = 0; k < F.dev.tx.num && k < NUM_MAX; k++) {
        const struct amp_vring_slot *s = &F.dev.tx.slot[k], *b = &F.tx_before[k];
        if ((s->len && in_range(i, s->off, s->len)) || (b->len && in_range(i, b->off, b->len)))
            return true;
    }
    return in_desc_of(F.snap, i) || in_desc_of(F.win, i);
}

static void ours_begin(void)
{
    memcpy(F.snap, F.win, F.size);
    F.nextra = 0;
    if (!HOST && F.dev.tx.slot && F.dev.tx.num <= NUM_MAX)
        memcpy(F.tx_before, F.dev.tx.slot, F.dev.tx.num * sizeof(F.tx_before[0]));
    else
        memset(F.tx_before, 0, sizeof(F.tx_before));
}

/* Every byte the call changed is one its role may write. */
FZ_NOCOV static void diff_check(bool start)
{
    if (memcmp(F.win, F.snap, F.size) == 0)
        return;
    for (size_t i = 0; i < F.size; i++)
        if (F.win[i] != F.snap[i] && !may_write(i, start)) {
            fprintf(stderr, "the device wrote byte %zu of the window (%02x -> %02x)\n", i,
                    F.snap[i], F.win[i]);
            FUZZ_ASSERT(!"a write outside what the role may write");
        }
}

/* After each call of ours: what it wrote, and the accounting. */
static void ours_end(bool start)
{
    diff_check(start);

    FUZZ_ASSERT(F.lock_depth == 0 && !F.in_cb);
    if (F.dev.gen != F.gen)
        forget_held(); /* the link went down: held buffers went with it */
    for (unsigned e = 0; e < NEPT; e++)
        FUZZ_ASSERT(!F.live[e] || F.ept[e].dev == &F.dev);
    if (F.dev.state != AMP_LINK_UP) {
        FUZZ_ASSERT(amp_rpmsg_poll(&F.dev) == (F.dev.state == AMP_LINK_BROKEN ? -EIO : -ENOTCONN));
        for (unsigned e = 0; e < NEPT; e++)
            FUZZ_ASSERT(!F.live[e] || !amp_ept_is_ready(&F.ept[e]));
        return;
    }
    FUZZ_ASSERT(fz_ring_aligned(&F.dev.rx) && fz_ring_aligned(&F.dev.tx));
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(&F.dev, &st);
    FUZZ_ASSERT(F.lock_depth == 0);
    if (F.dev.rx.broken || F.dev.tx.broken)
        return; /* the next poll marks the link broken */
    FUZZ_ASSERT(st.rx_held == F.nrx && st.tx_held == F.ntxh);
    if (HOST) {
        FUZZ_ASSERT(st.rx_queued + st.rx_held == F.num);
        FUZZ_ASSERT(st.tx_total == F.ntx);
        FUZZ_ASSERT(st.tx_free + st.tx_queued + st.tx_held == st.tx_total);
    } else {
        FUZZ_ASSERT(st.rx_queued == st.rx_held);
        FUZZ_ASSERT(st.tx_queued == st.tx_free + st.tx_held);
    }
}

/* ==== Buffers handed to the application ==== */

/* A receive callback's data: inside exactly one receive buffer. */
FZ_NOCOV static void check_rx_buf(const uint8_t *data, size_t len)
{
    FUZZ_ASSERT(data >= F.win + HDR && len <= F.size && (size_t)(data - F.win) <= F.size - len);
    size_t off = (size_t)(data - F.win) - HDR;
    if (HOST) {
        FUZZ_ASSERT(off >= F.pool && (off - F.pool) % F.bs == 0);
        FUZZ_ASSERT((off - F.pool) / F.bs < F.num && len <= F.bs - HDR);
        return;
    }
    bool found = false;
    for (uint32_t k = 0; k < F.dev.rx.num && !found; k++) {
        const struct amp_vring_slot *s = &F.dev.rx.slot[k];
        found = taken(s) && s->off == off && s->len >= HDR && len <= s->len - HDR;
    }
    FUZZ_ASSERT(found);
    FUZZ_ASSERT(!F.cap || len <= F.cap - HDR);
}

/* A send buffer from alloc_tx: cap bytes of payload inside one buffer. */
FZ_NOCOV static void check_tx_buf(const uint8_t *p, uint32_t cap)
{
    FUZZ_ASSERT(p >= F.win + HDR && cap <= F.size && (size_t)(p - F.win) <= F.size - cap);
    size_t off = (size_t)(p - F.win) - HDR;
    if (HOST) {
        FUZZ_ASSERT(off >= F.pool && (off - F.pool) % F.bs == 0);
        size_t k = (off - F.pool) / F.bs;
        FUZZ_ASSERT(k >= F.num && k < F.num + F.ntx && cap == F.bs - HDR);
        return;
    }
    bool found = false;
    for (uint32_t k = 0; k < F.dev.tx.num && !found; k++) {
        const struct amp_vring_slot *s = &F.dev.tx.slot[k];
        found = taken(s) && s->off == off && s->len >= HDR && cap <= s->len - HDR;
    }
    FUZZ_ASSERT(found);
    FUZZ_ASSERT(!F.cap || cap <= F.cap - HDR);
}

FZ_NOCOV static bool is_held_rx(const uint8_t *p)
{
    for (unsigned i = 0; i < F.nrx; i++)
        if (F.rx[i].p == p)
            return true;
    return false;
}

/* The smallest cap the application was given for the buffer at p. */
FZ_NOCOV static uint32_t min_cap(const uint8_t *p)
{
    uint32_t cap = UINT32_MAX;
    for (unsigned i = 0; i < F.ntxh; i++)
        if (F.tx[i].p == p && F.tx[i].cap < cap)
            cap = F.tx[i].cap;
    return cap;
}

FZ_NOCOV static bool is_held_tx(const uint8_t *p)
{
    for (unsigned i = 0; i < F.ntxh; i++)
        if (F.tx[i].p == p)
            return true;
    return false;
}

static void drop_rx(unsigned i)
{
    F.rx[i] = F.rx[--F.nrx];
}

/* The application gave back (or sent) the buffer it holds as F.tx[i]. A
 * host that posts one buffer twice makes the remote hand out one pointer
 * twice, and a pointer cannot say which of the two goes: the one that
 * stays may be either, so it keeps the smaller cap. */
static void drop_tx(unsigned i)
{
    for (unsigned k = 0; k < F.ntxh; k++)
        if (k != i && F.tx[k].p == F.tx[i].p && F.tx[i].cap < F.tx[k].cap)
            F.tx[k].cap = F.tx[i].cap;
    F.tx[i] = F.tx[--F.ntxh];
}

/* ==== The port ==== */

static void peer_help(void);

static int port_notify(void *ctx, uint32_t id)
{
    (void)ctx;
    (void)id;
    return 0;
}

static int port_wait(void *ctx, int32_t timeout_ms)
{
    (void)ctx;
    FUZZ_ASSERT(!AMP_CFG_LOCK || F.lock_depth == 1); /* "called with the port lock held" */
    FUZZ_ASSERT(timeout_ms >= 0);    /* we never ask to wait forever */
    F.clock++;
    if (F.cb_mode & FZ_CB_WAIT_HELPS)
        peer_help();
    return 0;
}

static uint32_t port_now(void *ctx)
{
    (void)ctx;
    return F.clock;
}

static void port_lock(void *ctx)
{
    (void)ctx;
    FUZZ_ASSERT(F.lock_depth == 0); /* a mutex taken twice: deadlock */
    F.lock_depth++;
}

static void port_unlock(void *ctx)
{
    (void)ctx;
    FUZZ_ASSERT(F.lock_depth == 1);
    F.lock_depth--;
}

static void port_cache(void *ctx, const volatile void *p, size_t n)
{
    (void)ctx;
    FUZZ_ASSERT(fz_in_block((const void *)p, n, F.win, F.size));
}

static const struct amp_port_ops port_ops = {
    .notify = port_notify,
    .wait = port_wait,
    .now_ms = port_now,
    .lock = port_lock,
    .unlock = port_unlock,
    .cache_clean = port_cache,
    .cache_invalidate = port_cache,
};

/* ==== Callbacks ==== */

static void unbind_cb(struct amp_ept *ept)
{
    FUZZ_ASSERT(F.lock_depth == 0);
    FUZZ_ASSERT(ept->dest == AMP_ADDR_ANY);
    F.unbinds++;
}

static int ept_cb(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    unsigned e = (unsigned)(uintptr_t)priv;
    FUZZ_ASSERT(F.lock_depth == 0 && !F.in_cb);
    FUZZ_ASSERT(e < NEPT && ept == &F.ept[e] && F.live[e] && ept->dev == &F.dev);
    check_rx_buf(data, len);
    touch(data, len);
    if (F.dev.gen != F.gen)
        forget_held();
    F.in_cb = true;
    uint8_t m = F.cb_mode;
    int ret = AMP_RX_DONE;
    if ((m & FZ_CB_RELEASE) && F.nrx) {
        FUZZ_ASSERT(amp_rpmsg_release_rx(&F.dev, F.rx[0].p) == 0);
        drop_rx(0);
    }
    if (m & FZ_CB_POLL)
        FUZZ_ASSERT(amp_rpmsg_poll(&F.dev) == 0); /* one poll at a time */
    if (m & FZ_CB_REPLY) {
        int r = amp_ept_sendto(ept, AMP_ADDR_ANY, src, data, len < 8 ? len : 8, 0);
        FUZZ_ASSERT(r >= 0 || ERR_IN(r, -EAGAIN, -EIO, -EMSGSIZE, -ENOTCONN));
    }
    if ((m & FZ_CB_HOLD) && F.nrx < NHELD) {
        if (AMP_CFG_RPMSG_ZEROCOPY) { /* without it, HOLD is DONE */
            F.rx[F.nrx].p = data;
            F.rx[F.nrx++].gen = F.dev.cb_gen;
        }
        ret = AMP_RX_HOLD;
    }
#if AMP_CFG_RPMSG_EPT_DESTROY
    if (m & FZ_CB_DESTROY) {
        amp_ept_destroy(ept);
        FUZZ_ASSERT(ept->dev == NULL);
        poison(e);
    }
#endif
    if (m & FZ_CB_STOP)
        amp_rpmsg_stop(&F.dev); /* the hold is void: the buffer went with the link */
    F.in_cb = false;
    return ret;
}

static void ns_cb(struct amp_rpmsg *dev, const char *name, uint32_t addr, void *priv)
{
    (void)priv;
    FUZZ_ASSERT(F.lock_depth == 0 && dev == &F.dev);
    const char *nul = memchr(name, 0, AMP_RPMSG_NAME_SIZE);
    FUZZ_ASSERT(nul && nul > name && addr != AMP_ADDR_ANY); /* terminated, not empty */
    if (!(F.cb_mode & FZ_CB_CREATE))
        return;
    for (unsigned e = 0; e < NEPT; e++) {
        if (F.live[e])
            continue;
        if (AMP_CFG_RPMSG_EPT_MAX == 1 && dev->epts) { /* the one endpoint there may be */
            FUZZ_ASSERT(amp_ept_create(&F.ept[e], dev, name, AMP_ADDR_ANY, addr, ept_cb,
                                       (void *)(uintptr_t)e) == -ENOSPC);
            return;
        }
        FUZZ_ASSERT(amp_ept_create(&F.ept[e], dev, name, AMP_ADDR_ANY, addr, ept_cb,
                                   (void *)(uintptr_t)e) == 0);
        amp_ept_set_unbind_cb(&F.ept[e], unbind_cb);
        F.live[e] = true;
        FUZZ_ASSERT(F.ept[e].dest == addr);
        return;
    }
}

/* ==== Arguments ==== */

static uint32_t arg_addr(struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    if (b == FZ_ADDR_ANY)
        return AMP_ADDR_ANY;
    if (b >= FZ_ADDR_EPT0 && b < FZ_ADDR_EPT0 + NEPT) {
        unsigned e = b - FZ_ADDR_EPT0;
        return F.live[e] ? F.ept[e].addr : 1024u + e;
    }
    if (b == FZ_ADDR_NS)
        return AMP_RPMSG_NS_ADDR;
    if (b == FZ_ADDR_PEER)
        return 0x400u;
    if (b == FZ_ADDR_RAW)
        return fz_u32(in);
    return 1024u + b;
}

/* A length as the peer reports it: the usual ones and the edges. */
static uint32_t arg_len(struct fz_in *in, uint32_t exact)
{
    uint8_t b = fz_u8(in);
    switch (b % 8) {
    case 0:
        return exact;
    case 1:
        return HDR - 1;
    case 2:
        return HDR;
    case 3:
        return F.bs;
    case 4:
        return F.bs + 1;
    case 5:
        return 0xFFFFFFFFu;
    case 6:
        return fz_u32(in);
    default:
        return b >> 3;
    }
}

/* ==== The peer: the input writing the window ==== */

/* Publish one used entry (host target) on ring r. */
static void peer_used(int r, uint32_t id, uint32_t len)
{
    size_t e = used_at(r) + 4 + 8 * (size_t)(F.peer_idx[r] & (F.num - 1));
    wr32(e, id);
    wr32(e + 4, len);
    F.peer_idx[r]++;
    wr16(used_at(r) + 2, F.peer_idx[r]);
}

/* Post one descriptor (remote target) on ring r. */
static void peer_avail(int r, uint32_t head, uint64_t addr, uint32_t len, uint16_t flags)
{
    if (head < F.num) {
        size_t d = desc_at(r, head);
        fz_put64(F.win + d, addr);
        wr32(d + 8, len);
        wr16(d + 12, flags);
        wr16(d + 14, 0);
    }
    wr16(avail_at(r) + 4 + 2 * (size_t)(F.peer_idx[r] & (F.num - 1)), (uint16_t)head);
    F.peer_idx[r]++;
    wr16(avail_at(r) + 2, F.peer_idx[r]);
}

static uint64_t buf_da(uint32_t k)
{
    return WIN_DA + F.pool + (uint64_t)k * F.bs;
}

/* Zero both rings and post the empty buffers a host starts with. */
static void peer_reset(void)
{
    memset(F.peer_idx, 0, sizeof(F.peer_idx));
    memset(F.peer_last, 0, sizeof(F.peer_last));
    F.scribbled = false;
    if (!F.rsize || HOST)
        return;
    memset(F.win + F.roff[0], 0, F.rsize);
    memset(F.win + F.roff[1], 0, F.rsize);
    for (uint32_t k = 0; k < F.num; k++)
        peer_avail(0, k, buf_da(k), F.bs, AMP_VRING_DESC_F_WRITE);
}

/* From inside a sender's wait: the peer gives one send buffer back. */
static void peer_help(void)
{
    if (!F.rsize)
        return;
    if (HOST) {
        uint16_t idx = rd16(avail_at(1) + 2);
        if (idx == F.peer_last[1])
            return;
        uint16_t head = rd16(avail_at(1) + 4 + 2 * (size_t)(F.peer_last[1]++ & (F.num - 1)));
        peer_used(1, head, 0);
        F.extra[0] = (struct range){used_at(1), used_at(1) + 6 + 8 * (size_t)F.num};
    } else {
        uint32_t k = F.peer_idx[0] & (F.num - 1);
        peer_avail(0, k, buf_da(k), F.bs, AMP_VRING_DESC_F_WRITE);
        F.extra[0] = (struct range){F.roff[0], avail_at(0) + 6 + 2 * (size_t)F.num};
    }
    F.nextra = 1;
}

/* A message from the peer at window offset `at`: header, payload. Reads
 * src (fz_addr), hlen u8 (+u16), n u8, n bytes; returns its size. */
static uint32_t peer_fill(size_t at, struct fz_in *in, uint32_t dst)
{
    uint32_t src = arg_addr(in);
    uint8_t hl = fz_u8(in);
    uint32_t room = F.bs - HDR;
    uint32_t n = fz_u8(in) % (room + 1);
    uint16_t hlen = (uint16_t)n; /* the header's len: right, one off, or anything */
    if (hl & 0x80)
        hlen = fz_u16(in);
    else if (hl % 4 == 1)
        hlen = (uint16_t)(n + 1);
    else if (hl % 4 == 2)
        hlen = (uint16_t)(n - 1);
    wr32(at, src);
    wr32(at + 4, dst);
    wr32(at + 8, 0);
    wr16(at + 12, hlen);
    wr16(at + 14, 0);
    memset(F.win + at + HDR, 0, n);
    fz_bytes(in, F.win + at + HDR, n);
    return HDR + n;
}

static uint32_t peer_ns(size_t at, struct fz_in *in)
{
    static const char *const names[] = {"rpmsg-raw", "vuart-channel", "x", "rpmsg-tty",
                                        "a-name-of-exactly-31-characters"};
    uint8_t ns[40] = {0};
    uint8_t b = fz_u8(in);
    if (b & 0x80)
        fz_bytes(in, ns, 32); /* maybe without a NUL */
    else
        memcpy(ns, names[b % 5], strlen(names[b % 5]));
    fz_put32(ns + 32, arg_addr(in));
    uint8_t f = fz_u8(in);
    fz_put32(ns + 36, (f & 0x80) ? fz_u32(in) : f % 3u);
    uint8_t ml = fz_u8(in);
    uint32_t mlen = ml ? ml : 40;
    uint32_t room = F.bs - HDR, n = room < 40 ? room : 40;
    wr32(at, arg_addr(in));
    wr32(at + 4, AMP_RPMSG_NS_ADDR);
    wr32(at + 8, 0);
    wr16(at + 12, (uint16_t)mlen);
    wr16(at + 14, 0);
    memcpy(F.win + at + HDR, ns, n);
    return HDR + n;
}

static void peer_op(uint8_t op, struct fz_in *in)
{
    if (op == FZ_PEER_WRITE) {
        size_t off = fz_u16(in) % F.size;
        size_t n = fz_u8(in) % 64u;
        if (n > F.size - off)
            n = F.size - off;
        fz_bytes(in, F.win + off, n);
        F.scribbled = true;
        return;
    }
    if (!F.rsize) { /* no rings at all: only raw writes make sense */
        fz_u32(in);
        return;
    }
    /* every op but a message names its ring first */
    int r = op == FZ_PEER_MSG || op == FZ_PEER_NS ? 0 : fz_u8(in) & 1;
    uint32_t mask = F.num - 1;
    switch (op) {
    case FZ_PEER_PUSH: {
        uint8_t b = fz_u8(in);
        uint32_t id = (b & 0x80) ? (HOST ? fz_u32(in) : fz_u16(in)) : b % (F.num + 1);
        if (HOST) {
            peer_used(r, id, arg_len(in, F.bs));
            break;
        }
        uint32_t len = arg_len(in, F.bs);
        uint8_t a = fz_u8(in);
        uint64_t addr;
        switch (a % 8) {
        case 4:
            addr = WIN_DA + F.size - (a >> 3); /* straddles the end */
            break;
        case 5:
            addr = WIN_DA + F.roff[0]; /* the rings themselves */
            break;
        case 6:
            addr = WIN_DA - (a >> 3); /* just before the window */
            break;
        case 7:
            addr = fz_u64(in);
            break;
        default:
            addr = buf_da((a >> 3) % (2 * F.num));
        }
        if (a % 8 >= 4)
            F.scribbled = true; /* buffers over the rings: the rings say anything */
        uint8_t fl = fz_u8(in);
        uint16_t flags = fl % 6 == 0 ? (r ? 0 : AMP_VRING_DESC_F_WRITE)
                         : fl % 6 == 1 ? AMP_VRING_DESC_F_NEXT
                         : fl % 6 == 2 ? AMP_VRING_DESC_F_INDIRECT
                         : fl % 6 == 3 ? AMP_VRING_DESC_F_WRITE
                         : fl % 6 == 4 ? 0
                                       : fz_u16(in);
        peer_avail(r, id, addr, len, flags);
        break;
    }
    case FZ_PEER_MSG:
    case FZ_PEER_NS: {
        uint32_t k = fz_u8(in) % F.num;
        /* host target: our receive buffer k (rx id k); remote target: a
         * message buffer of the host's own, after the empty ones */
        size_t at = F.pool + (size_t)(HOST ? k : F.num + k) * F.bs;
        uint32_t n;
        if (op == FZ_PEER_NS) {
            n = peer_ns(at, in);
        } else {
            uint32_t dst = arg_addr(in);
            n = peer_fill(at, in, dst);
        }
        uint32_t len = arg_len(in, n);
        if (HOST)
            peer_used(0, k, len);
        else
            peer_avail(1, k, buf_da(F.num + k), len, 0);
        break;
    }
    case FZ_PEER_CONSUME: {
        uint32_t len = arg_len(in, 0);
        if (HOST) {
            /* take what the host sent on vring1, and give the buffer back */
            uint16_t idx = rd16(avail_at(1) + 2);
            if (idx == F.peer_last[1])
                break;
            uint16_t head = rd16(avail_at(1) + 4 + 2 * (size_t)(F.peer_last[1]++ & mask));
            if (!F.scribbled) { /* what the host posted is exactly a send buffer */
                FUZZ_ASSERT(head < F.num);
                FUZZ_ASSERT(rd64(desc_at(1, head)) == buf_da(F.num + head));
                FUZZ_ASSERT(rd32(desc_at(1, head) + 8) == F.bs && rd16(desc_at(1, head) + 12) == 0);
            }
            peer_used(1, head, len);
        } else {
            /* take what the remote returned on ring r; refill vring0 */
            uint16_t idx = rd16(used_at(r) + 2);
            if (idx == F.peer_last[r])
                break;
            size_t e = used_at(r) + 4 + 8 * (size_t)(F.peer_last[r]++ & mask);
            uint32_t id = rd32(e);
            if (!F.scribbled)
                FUZZ_ASSERT(id < F.num); /* only heads it took come back */
            if (r == 0)
                peer_avail(0, id & mask, buf_da(id & mask), F.bs, AMP_VRING_DESC_F_WRITE);
        }
        break;
    }
    case FZ_PEER_IDX: {
        uint8_t b = fz_u8(in);
        uint16_t v = (b & 0x80) ? fz_u16(in) : (uint16_t)(F.peer_idx[r] + b - 0x20);
        F.peer_idx[r] = v;
        wr16((HOST ? used_at(r) : avail_at(r)) + 2, v);
        break;
    }
    case FZ_PEER_FLAGS: {
        uint8_t which = fz_u8(in) & 1;
        uint16_t v = fz_u16(in);
        if (HOST)
            wr16(which ? used_at(r) + 4 + 8 * (size_t)F.num : used_at(r), v); /* avail_event, flags */
        else
            wr16(which ? avail_at(r) + 4 + 2 * (size_t)F.num : avail_at(r), v); /* used_event, flags */
        break;
    }
    default:
        break;
    }
}

/* ==== Ours: calls into the device ==== */

static const char *const ept_names[] = {NULL, "", "rpmsg-raw", "vuart-channel", "x", "rpmsg-tty",
                                        "a-name-of-exactly-31-characters",
                                        "a-name-of-exactly-32-characters!"};

/* Remote: an NS message of ours goes only on a link that runs the name
 * service. Every message the call put on the send ring's used ring (from
 * the index before it, in the snapshot) that is one - to 53, 40 bytes,
 * the name of an endpoint of ours - needs it negotiated. */
FZ_NOCOV static void check_ns_sent(void)
{
    const struct amp_vring *vr = &F.dev.tx;
    if (HOST || F.dev.state != AMP_LINK_UP || !vr->used || !vr->slot || vr->num > NUM_MAX)
        return;
    size_t u = win_off(vr->used);
    uint16_t end = rd16(u + 2), i = (uint16_t)(F.snap[u + 2] | F.snap[u + 3] << 8);
    if ((uint16_t)(end - i) > vr->num)
        i = (uint16_t)(end - vr->num); /* older entries were overwritten */
    for (; i != end; i++) {
        size_t e = u + 4 + 8 * (size_t)(i & (vr->num - 1u));
        uint32_t id = rd32(e), len = rd32(e + 4);
        if (id >= vr->num || len != HDR + sizeof(struct amp_rpmsg_ns_msg))
            continue;
        size_t off = vr->slot[id].off;
        if (rd32(off + 4) != AMP_RPMSG_NS_ADDR)
            continue;
        for (size_t k = 0; k < sizeof(ept_names) / sizeof(ept_names[0]); k++)
            if (ept_names[k] && ept_names[k][0] &&
                !strncmp((const char *)F.win + off + HDR, ept_names[k], AMP_RPMSG_NAME_SIZE))
                FUZZ_ASSERT(AMP_CFG_RPMSG_NS && F.dev.ns);
    }
}

static int do_start(void)
{
    if (HOST)
        return amp_rpmsg_start(&F.dev, &F.cfg, 0);
    int err = amp_rpmsg_cfg_from_vdev(&F.cfg, F.vdev);
    F.cfg.shm = (struct amp_shm){F.win, WIN_DA, F.size};
    F.cfg.features = (1u << AMP_RPMSG_F_NS) | (1u << AMP_VIRTIO_F_EVENT_IDX);
    F.cfg.slots = F.slots;
    F.cfg.nslots = 2 * NUM_MAX;
    F.cfg.buf_size = F.cap;
    if (err)
        return F.dev.state == AMP_LINK_DOWN ? err : -EBUSY;
    return amp_rpmsg_start(&F.dev, &F.cfg, 0);
}

static void ours_op(uint8_t op, struct fz_in *in)
{
    bool start = false;
    if (op == FZ_START && !HOST && F.dev.state == AMP_LINK_DOWN)
        peer_reset(); /* a host zeroes and refills its rings before it restarts */
    ours_begin();
    switch (op) {
    case FZ_POLL: {
        int r = amp_rpmsg_poll(&F.dev);
        FUZZ_ASSERT(r >= 0 || ERR_IN(r, -ENOTCONN, -EIO));
        break;
    }
    case FZ_WAIT: {
        int r = amp_rpmsg_wait(&F.dev, fz_u8(in) % 4);
        FUZZ_ASSERT(r >= 0 || ERR_IN(r, -ENOTCONN, -EIO, -ETIMEDOUT));
        break;
    }
    case FZ_SEND: {
        unsigned e = fz_u8(in) % NEPT;
        uint32_t len = fz_u16(in) % 1100u;
        uint32_t dst = arg_addr(in);
        int32_t t = fz_u8(in) % 4;
        if (!F.live[e])
            break;
        uint16_t before = F.dev.tx.shadow_idx;
        uint32_t max = amp_rpmsg_max_payload(&F.dev);
        int r = amp_ept_sendto(&F.ept[e], AMP_ADDR_ANY, dst, pattern, len, t);
        FUZZ_ASSERT(r == (int)len ||
                    ERR_IN(r, -ENOTCONN, -EMSGSIZE, -EAGAIN, -ETIMEDOUT, -ECONNRESET, -EIO));
        if (r == -EMSGSIZE && HOST)
            FUZZ_ASSERT(len > max);
        if (r >= 0) { /* on the ring, or it was not sent */
            uint16_t d = (uint16_t)(F.dev.tx.shadow_idx - before);
            FUZZ_ASSERT(HOST ? d == 1 : d >= 1);
        }
        break;
    }
    case FZ_ALLOC_TX: {
        int32_t t = fz_u8(in) % 4;
        void *p = NULL;
        uint32_t cap = 0;
        if (F.ntxh == NHELD)
            break;
        int r = amp_rpmsg_alloc_tx(&F.dev, &p, &cap, t);
        if (!AMP_CFG_RPMSG_ZEROCOPY)
            FUZZ_ASSERT(r == -ENOTSUP);
        FUZZ_ASSERT(r == 0 || ERR_IN(r, -ENOTCONN, -EAGAIN, -ETIMEDOUT, -ECONNRESET, -EIO, -ENOTSUP));
        if (r)
            break;
        check_tx_buf(p, cap);
        FUZZ_ASSERT(!HOST || !is_held_tx(p)); /* a hostile host may post one buffer twice */
        memset(p, 0x5A, cap); /* all of it is ours to write */
        F.tx[F.ntxh].p = p;
        F.tx[F.ntxh++].cap = cap;
        break;
    }
    case FZ_SEND_NOCOPY: {
        unsigned i = fz_u8(in), e = fz_u8(in) % NEPT;
        uint32_t len = fz_u16(in);
        uint32_t dst = arg_addr(in);
        if (!F.ntxh || !F.live[e])
            break;
        i %= F.ntxh;
        len %= F.tx[i].cap + 8;
        uint16_t before = F.dev.tx.shadow_idx;
        uint8_t state = F.dev.state;
        int r = amp_ept_send_nocopy(&F.ept[e], dst, F.tx[i].p, len);
        FUZZ_ASSERT(r == (int)len || ERR_IN(r, -ENOTCONN, -EMSGSIZE, -EIO, -EINVAL));
        if (r == -EMSGSIZE) /* a host may post one buffer twice, with two lengths */
            FUZZ_ASSERT(len > min_cap(F.tx[i].p));
        if (r == -EINVAL) /* a buffer from alloc_tx, on a link that is up */
            FUZZ_ASSERT(state != AMP_LINK_UP);
        if (r >= 0) {
            uint16_t d = (uint16_t)(F.dev.tx.shadow_idx - before);
            FUZZ_ASSERT(d == 1); /* it is on the ring, not lost */
            drop_tx(i);
        }
        break;
    }
    case FZ_RELEASE_TX: {
        unsigned i = fz_u8(in);
        if (!F.ntxh)
            break;
        i %= F.ntxh;
        int r = amp_rpmsg_release_tx(&F.dev, F.tx[i].p);
        FUZZ_ASSERT(r == (F.dev.state == AMP_LINK_UP ? 0 : -EINVAL));
        if (r == 0)
            drop_tx(i);
        break;
    }
    case FZ_RELEASE_RX: {
        unsigned i = fz_u8(in);
        bool stale = fz_u8(in) & 1;
        if (!F.nrx)
            break;
        i %= F.nrx;
        int r = amp_rpmsg_release_rx_gen(&F.dev, F.rx[i].p, F.rx[i].gen - stale);
        FUZZ_ASSERT(r == (stale ? -ESTALE : F.dev.state == AMP_LINK_UP ? 0 : -EINVAL));
        if (r == 0)
            drop_rx(i);
        break;
    }
    case FZ_RELEASE_BOGUS: {
        uint8_t kind = fz_u8(in) % 3;
        uint16_t w = fz_u16(in);
        uint8_t *p = (w & 3) == 0 ? NULL : (uint8_t *)((uintptr_t)F.win + (w >> 2) % (F.size + 64) - 32);
        int no = AMP_CFG_RPMSG_ZEROCOPY ? -EINVAL : -ENOTSUP;
        if (kind == 0 && !is_held_rx(p))
            FUZZ_ASSERT(amp_rpmsg_release_rx(&F.dev, p) == no);
        else if (kind == 1 && !is_held_tx(p))
            FUZZ_ASSERT(amp_rpmsg_release_tx(&F.dev, p) == no);
        else if (kind == 2 && !is_held_tx(p) && F.live[w % NEPT])
            FUZZ_ASSERT(amp_ept_send_nocopy(&F.ept[w % NEPT], AMP_ADDR_ANY, p, 0) < 0);
        break;
    }
    case FZ_EPT_CREATE: {
        unsigned e = fz_u8(in) % NEPT;
        const char *name = ept_names[fz_u8(in) % 8];
        uint32_t src = arg_addr(in), dest = arg_addr(in);
        int r = amp_ept_create(&F.ept[e], &F.dev, name, src, dest, ept_cb, (void *)(uintptr_t)e);
        FUZZ_ASSERT(r == 0 || ERR_IN(r, -EINVAL, -EADDRINUSE) ||
                    (AMP_CFG_RPMSG_EPT_MAX == 1 && r == -ENOSPC)); /* one endpoint only */
        if (F.live[e]) {
            FUZZ_ASSERT(r == -EINVAL); /* already in use */
            break;
        }
        if (src == AMP_RPMSG_NS_ADDR || (name && strlen(name) >= AMP_RPMSG_NAME_SIZE))
            FUZZ_ASSERT(r == -EINVAL);
        if (r)
            break;
        F.live[e] = true;
        amp_ept_set_unbind_cb(&F.ept[e], unbind_cb);
        FUZZ_ASSERT(F.ept[e].addr != AMP_RPMSG_NS_ADDR && F.ept[e].addr != AMP_ADDR_ANY);
        FUZZ_ASSERT(src == AMP_ADDR_ANY || F.ept[e].addr == src);
        break;
    }
    case FZ_EPT_DESTROY: {
        unsigned e = fz_u8(in) % NEPT;
        if (!F.live[e])
            break;
#if AMP_CFG_RPMSG_EPT_DESTROY
        amp_ept_destroy(&F.ept[e]);
        FUZZ_ASSERT(F.ept[e].dev == NULL);
        poison(e);
#endif
        break;
    }
    case FZ_STOP: {
        uint8_t was = F.dev.state;
        amp_rpmsg_stop(&F.dev);
        FUZZ_ASSERT(F.dev.state == AMP_LINK_DOWN);
        for (unsigned e = 0; e < NEPT && was != AMP_LINK_DOWN; e++)
            FUZZ_ASSERT(!F.live[e] || F.ept[e].dest == AMP_ADDR_ANY); /* all unbound */
        break;
    }
    case FZ_START: {
        uint8_t was = F.dev.state;
        int r = do_start();
        start = true;
        if (was != AMP_LINK_DOWN)
            FUZZ_ASSERT(r == -EBUSY);
        else if (HOST) /* our own layout: good unless the geometry is not */
            FUZZ_ASSERT(F.rsize ? r == 0 : r == -EINVAL);
        else
            FUZZ_ASSERT(r == 0 || ERR_IN(r, -EINVAL, -E2BIG, -ETIMEDOUT, -ENOTSUP, -EIO) ||
                        (!AMP_CFG_RPMSG_WAIT && r == -EAGAIN)); /* no host yet, no waiting */
        if (was == AMP_LINK_DOWN)
            FUZZ_ASSERT((r == 0) == (F.dev.state == AMP_LINK_UP));
        if (r == 0 && HOST)
            peer_reset(); /* the host zeroed the rings */
        break;
    }
    case FZ_BUSY_POLL:
        amp_rpmsg_set_busy_poll(&F.dev, fz_u8(in) & 1);
        break;
    case FZ_CB_MODE:
        F.cb_mode = fz_u8(in);
        break;
    }
    check_ns_sent();
    ours_end(start);
}

/* ==== Set-up ==== */

static size_t up(size_t v, size_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static bool setup(struct fz_in *in)
{
    uint8_t h[FZ_HDR];
    for (unsigned i = 0; i < FZ_HDR; i++)
        h[i] = fz_u8(in);
    F.num = (h[0] & 0x80) && !HOST ? h[0] & 0x7fu : 1u << (h[0] % 5);
    F.align = (h[1] & 0x80) && !HOST ? h[1] & 0x7fu : 1u << (h[1] % 8);
    F.bs = fz_buf_sizes[(h[2] & 0x7f) % 6];
    F.cap = !HOST && (h[2] & 0x80) ? 64 : 0;
    uint32_t features = h[3] & 3; /* bit 0 NS, bit 1 event index */
    features = (features & 1 ? 1u << AMP_RPMSG_F_NS : 0) | (features & 2 ? 1u << AMP_VIRTIO_F_EVENT_IDX : 0);
    F.cb_mode = h[5];

    F.rsize = F.num <= NUM_MAX ? amp_vring_size(F.num, F.align) : 0;
    F.used_off = F.rsize ? amp_vring_used_offset(F.num, F.align) : 0;
    F.roff[0] = RING0;
    F.roff[1] = !HOST && (h[4] & 1) ? RING0 : up(RING0 + F.rsize, 16);
    F.pool = up(F.roff[1] + F.rsize, 64);
    uint32_t nbufs;
    if (HOST) {
        F.ntx = 1 + h[4] % F.num;
        nbufs = F.num + F.ntx;
    } else {
        nbufs = F.rsize ? 2 * F.num : 2;
    }
    F.size = F.pool + (size_t)nbufs * F.bs;
    F.win = malloc(F.size);
    F.snap = malloc(F.size);
    memset(F.win, 0, F.size);

    F.vdev = (struct amp_rsc_vdev *)F.win;
    F.vdev->type = AMP_RSC_VDEV;
    F.vdev->id = AMP_VIRTIO_ID_RPMSG;
    F.vdev->dfeatures = features;
    F.vdev->num_of_vrings = 2;
    for (int i = 0; i < 2; i++) {
        F.vdev->vring[i].da = WIN_DA + (uint32_t)F.roff[i];
        F.vdev->vring[i].align = F.align;
        F.vdev->vring[i].num = F.num;
        F.vdev->vring[i].notifyid = (uint32_t)i;
    }
    F.port = (struct amp_port){&port_ops, NULL};
    amp_rpmsg_init(&F.dev, HOST ? AMP_ROLE_HOST : AMP_ROLE_REMOTE, &F.port);
    amp_rpmsg_set_ns_cb(&F.dev, ns_cb, NULL);
    F.gen = F.dev.gen;
    if (HOST) {
        F.cfg = (struct amp_rpmsg_cfg){
            .shm = {F.win, WIN_DA, F.size},
            .vring_da = {WIN_DA + F.roff[0], WIN_DA + F.roff[1]},
            .num = F.num,
            .align = F.align,
            .notifyid = {0, 1},
            .buf_size = F.bs,
            .pool_da = WIN_DA + F.pool,
            .pool_size = nbufs * F.bs,
            .features = (1u << AMP_RPMSG_F_NS) | (1u << AMP_VIRTIO_F_EVENT_IDX),
            .vdev = F.vdev,
            .slots = F.slots,
            .nslots = 2 * NUM_MAX,
        };
    } else {
        /* the host's side of the handshake: features, DRIVER_OK */
        F.vdev->gfeatures = features;
        F.vdev->status = AMP_VIRTIO_STATUS_ACKNOWLEDGE | AMP_VIRTIO_STATUS_DRIVER |
                         AMP_VIRTIO_STATUS_DRIVER_OK;
    }
    ours_op(FZ_START, in);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return -1;
    if (!pattern[1])
        for (size_t i = 0; i < sizeof(pattern); i++)
            pattern[i] = (uint8_t)(i * 7 + 1);
    memset(&F, 0, sizeof(F));
    struct fz_in in = {data, size};
    setup(&in);
    for (unsigned n = 0; in.n && n < MAX_OPS; n++) {
        uint8_t op = fz_u8(&in) % FZ_OP_COUNT;
        if (op >= FZ_PEER_WRITE)
            peer_op(op, &in);
        else
            ours_op(op, &in);
    }
    ours_op(FZ_STOP, &in);
    free(F.win);
    free(F.snap);
    return 0;
}
