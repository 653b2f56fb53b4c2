/*
 * test_lean_hostile.c - a small remote (test_lean_one.c's settings) facing
 * a host that lies: the test writes the host's side of both rings by hand
 * (descriptors, avail rings, headers, NS messages) and reads the remote's
 * used rings. test_lean_hostile_split runs the same tests with the remote
 * on the lean build (AMP_CFG_RPMSG_LEAN, split.h); this one on the full
 * library built with the same switches, the reference.
 *
 * What must hold: every lie is refused and counted (ring_errors for the
 * ring's own values, msg_errors for headers and NS messages, dropped for
 * messages to no endpoint), nothing is delivered twice or lost, every
 * buffer the remote took is given back once (or held), and a callback
 * that stops the link, polls or destroys its endpoint breaks nothing.
 */
#include "cfg_lean_one.h"
#ifndef SPLIT_CFG /* test_lean_hostile_split: the library comes from split_*.c */
#include "../src/amp_vring.c"
#include "../src/amp_rpmsg.c"
#endif

#include "amp_test.h"
#include "loopback.h"

#define NUM 16u         /* entries per ring */
#define BUF 512u        /* bytes per host buffer */
#define POOL 65536u     /* where the host's buffers start in the window */
#define HADDR 0x400u    /* the host's service address */
#define HDR AMP_RPMSG_HDR_SIZE
#define TX 0            /* vring0: the remote sends */
#define RX 1            /* vring1: the remote receives */

/* Is the remote on the lean build (test_lean_hostile_split)? */
#ifdef SPLIT_CFG
#define REMOTE_LEAN 1
#else
#define REMOTE_LEAN 0
#endif

/* Callback behaviour. */
#define CB_HOLD 1u    /* keep the message (AMP_RX_HOLD) */
#define CB_STOP 2u    /* take the link down */
#define CB_POLL 4u    /* poll from inside */
#define CB_DESTROY 8u /* destroy the endpoint */

/* The host, played by the test, and the remote under test. */
struct fh {
    struct loopback lb;
    uint8_t *ring[2];     /* vring0, vring1 */
    uint16_t avail[2];    /* avail idx we published */
    uint16_t used[2];     /* used entries we read */
    uint8_t out[2][NUM];  /* we posted head i and it is not back yet */
    struct amp_ept ept;
    /* what the endpoint's callback saw */
    uint32_t seq[64];     /* the first payload word of each message, in order */
    int n;
    unsigned mode;        /* CB_* */
    int inner_poll;       /* what a poll from inside said */
    void *held[NUM];      /* payloads held (CB_HOLD) */
    int nheld;
    uint32_t held_gen;
    int unbinds;
    /* announcements the ns callback saw */
    char ns_name[64];
    uint32_t ns_addr;
    int ns_calls;
};

static volatile struct amp_vring_desc *desc(struct fh *h, int r, uint32_t id)
{
    return (volatile struct amp_vring_desc *)(h->ring[r] + 16 * id);
}

static volatile struct amp_vring_avail *avail(struct fh *h, int r)
{
    return (volatile struct amp_vring_avail *)(h->ring[r] + amp_vring_avail_offset(NUM));
}

static volatile struct amp_vring_used *used(struct fh *h, int r)
{
    return (volatile struct amp_vring_used *)(h->ring[r] + amp_vring_used_offset(NUM, 64));
}

/* Host buffer id of ring r: its offset in the window. */
static uint32_t buf_off(int r, uint32_t id)
{
    return POOL + (uint32_t)(r * NUM + id) * BUF;
}

static void set_desc(struct fh *h, int r, uint32_t id, uint64_t addr, uint32_t len, uint16_t flags)
{
    desc(h, r, id)->addr = addr;
    desc(h, r, id)->len = len;
    desc(h, r, id)->flags = flags;
    desc(h, r, id)->next = 0;
}

/* Put head on ring r's avail ring (whatever it is) and publish the index. */
static void post(struct fh *h, int r, uint16_t head)
{
    avail(h, r)->ring[h->avail[r] & (NUM - 1)] = head;
    h->avail[r]++;
    avail(h, r)->idx = h->avail[r];
    if (head < NUM)
        h->out[r][head]++;
}

/* Give the remote send buffer id (BUF bytes, or len). */
static void give_tx(struct fh *h, uint32_t id)
{
    set_desc(h, TX, id, LB_DA + buf_off(TX, id), BUF, AMP_VRING_DESC_F_WRITE);
    post(h, TX, (uint16_t)id);
}

/* Write a message into rx buffer id (header and n payload bytes), its
 * descriptor vouching for len bytes (0: just the message). Not posted. */
static void put_msg(struct fh *h, uint32_t id, uint32_t src, uint32_t dst, const void *data,
                    uint16_t n, uint32_t len)
{
    uint8_t *b = h->lb.shm + buf_off(RX, id);
    struct amp_rpmsg_hdr hdr = {.src = src, .dst = dst, .len = n};
    memcpy(b, &hdr, HDR);
    memcpy(b + HDR, data, n);
    set_desc(h, RX, id, LB_DA + buf_off(RX, id), len ? len : HDR + n, 0);
}

/* Send message number seq to the endpoint in rx buffer id. */
static void send_seq(struct fh *h, uint32_t id, uint32_t seq)
{
    put_msg(h, id, HADDR, h->ept.addr, &seq, sizeof(seq), 0);
    post(h, RX, (uint16_t)id);
}

/* Read what the remote gave back on ring r since last time: every id must
 * be one we posted and did not get back yet. Returns how many; the last
 * entry's id and len in *id, *len (if not NULL). */
static int reclaim(struct fh *h, int r, uint32_t *id, uint32_t *len)
{
    int n = 0;
    while (h->used[r] != used(h, r)->idx) {
        volatile struct amp_vring_used_elem *e = &used(h, r)->ring[h->used[r] & (NUM - 1)];
        h->used[r]++;
        CHECK(e->id < NUM && h->out[r][e->id] > 0); /* returned once, and only what we gave */
        if (e->id < NUM && h->out[r][e->id])
            h->out[r][e->id]--;
        if (id)
            *id = e->id;
        if (len)
            *len = e->len;
        n++;
    }
    return n;
}

/* The header of send buffer id, as the remote wrote it. */
static struct amp_rpmsg_hdr *tx_hdr(struct fh *h, uint32_t id)
{
    return (struct amp_rpmsg_hdr *)(h->lb.shm + buf_off(TX, id));
}

static int rec_cb(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    struct fh *h = priv;
    uint32_t seq = 0;
    (void)src;
    memcpy(&seq, data, len < 4 ? len : 4);
    if (h->n < 64)
        h->seq[h->n] = seq;
    h->n++;
    if (h->mode & CB_POLL)
        h->inner_poll = amp_rpmsg_poll(ept->dev);
    if (h->mode & CB_DESTROY) {
#if AMP_CFG_RPMSG_EPT_DESTROY
        amp_ept_destroy(ept);
#endif
    }
    if (h->mode & CB_STOP)
        amp_rpmsg_stop(ept->dev);
    if (h->mode & CB_HOLD) {
        h->held[h->nheld++ % NUM] = data;
        h->held_gen = ept->dev->cb_gen;
        return AMP_RX_HOLD;
    }
    return AMP_RX_DONE;
}

static void unbind_cb(struct amp_ept *ept)
{
    ((struct fh *)ept->priv)->unbinds++;
}

static void ns_cb(struct amp_rpmsg *dev, const char *name, uint32_t addr, void *priv)
{
    struct fh *h = priv;
    (void)dev;
    snprintf(h->ns_name, sizeof(h->ns_name), "%s", name);
    h->ns_addr = addr;
    h->ns_calls++;
}

static struct amp_rpmsg_stats stats(struct fh *h)
{
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(&h->lb.remote, &st);
    return st;
}

/* The remote's buffer accounting: it holds only what it says it holds. */
static void check_accounting(struct fh *h)
{
    struct amp_rpmsg_stats st = stats(h);
    CHECK_EQ(st.rx_queued, st.rx_held);
    CHECK_EQ(st.tx_queued, st.tx_free + st.tx_held);
}

static int poll(struct fh *h)
{
    return amp_rpmsg_poll(&h->lb.remote);
}

/* The host announces "svc" at HADDR (in rx buffer 0); the remote binds. */
static void host_announce(struct fh *h)
{
    struct amp_rpmsg_ns_msg m = {.addr = HADDR, .flags = AMP_RPMSG_NS_CREATE};
    memcpy(m.name, "svc", 4);
    put_msg(h, 0, HADDR, AMP_RPMSG_NS_ADDR, &m, sizeof(m), 0);
    post(h, RX, 0);
    CHECK_EQ(poll(h), 1);
    CHECK_EQ(reclaim(h, RX, NULL, NULL), 1);
    CHECK_EQ(h->ept.dest, HADDR);
}

/* Lay the rings out as a host (zeroed), with ntx send buffers given. */
static void host_rings(struct fh *h, uint32_t ntx)
{
    for (int r = 0; r < 2; r++) {
        memset(h->ring[r], 0, amp_vring_size(NUM, 64));
        h->avail[r] = h->used[r] = 0;
        memset(h->out[r], 0, sizeof(h->out[r]));
    }
    for (uint32_t i = 0; i < ntx; i++)
        give_tx(h, i);
}

/* A link with the name service (if ns: then ntx >= 1, for the remote's
 * announcement), ntx send buffers, the remote's endpoint "svc" bound to
 * HADDR: by the host's announcement with NS, by its address given at
 * creation without. */
static void setup(struct fh *h, bool ns, uint32_t ntx)
{
    memset(h, 0, sizeof(*h));
    uint32_t f = ns ? 1u << AMP_RPMSG_F_NS : 0;
    lb_setup(&h->lb, NUM, f);
    for (int r = 0; r < 2; r++)
        h->ring[r] = h->lb.shm + (h->lb.vdev->vring[r].da - LB_DA);
    h->lb.vdev->gfeatures = f;
    h->lb.vdev->status = AMP_VIRTIO_STATUS_DRIVER_OK;
    host_rings(h, ntx);
    amp_rpmsg_set_ns_cb(&h->lb.remote, ns_cb, h);
    CHECK_EQ(amp_ept_create(&h->ept, &h->lb.remote, "svc", AMP_ADDR_ANY, ns ? AMP_ADDR_ANY : HADDR,
                            rec_cb, h),
             0);
    amp_ept_set_unbind_cb(&h->ept, unbind_cb);
    CHECK_EQ(amp_rpmsg_start(&h->lb.remote, &h->lb.rcfg, 0), 0);
    if (ns) {
        uint32_t id = NUM;
        CHECK_EQ(reclaim(h, TX, &id, NULL), 1); /* the announcement */
        CHECK(id < NUM);
        if (id < NUM) {
            struct amp_rpmsg_ns_msg *m = (void *)(tx_hdr(h, id) + 1);
            CHECK_EQ(tx_hdr(h, id)->dst, AMP_RPMSG_NS_ADDR);
            CHECK_EQ(tx_hdr(h, id)->len, sizeof(*m));
            CHECK(!strcmp(m->name, "svc") && m->addr == h->ept.addr && m->flags == 0);
            give_tx(h, id);
        }
        host_announce(h);
    }
    CHECK_EQ(h->ept.dest, HADDR);
    check_accounting(h);
}

/* The remote got exactly messages first..last, in order, once each. */
static void check_got(struct fh *h, uint32_t first, uint32_t last)
{
    CHECK_EQ(h->n, (int)(last - first + 1));
    for (int i = 0; i < h->n && i < 64; i++)
        CHECK_EQ(h->seq[i], first + (uint32_t)i);
}

static void test_lean_hostile_bad_heads_are_counted_and_skipped(void)
{
    struct fh h;
    setup(&h, true, NUM);
    uint32_t errors = stats(&h).ring_errors;
    post(&h, RX, NUM);    /* one past the ring */
    post(&h, RX, 0xFFFF); /* far past */
    send_seq(&h, 3, 1);
    CHECK_EQ(poll(&h), 1);
    check_got(&h, 1, 1);
    CHECK_EQ(stats(&h).ring_errors, errors + 2);
    uint32_t id = NUM;
    CHECK_EQ(reclaim(&h, RX, &id, NULL), 1);
    CHECK_EQ(id, 3);
    check_accounting(&h);
    lb_teardown(&h.lb);
}

static void test_lean_hostile_head_posted_twice_is_refused(void)
{
    struct fh h;
    setup(&h, true, NUM);
    uint32_t errors = stats(&h).ring_errors;
    h.mode = CB_HOLD;
    send_seq(&h, 2, 1);
    CHECK_EQ(poll(&h), 1);
    CHECK_EQ(stats(&h).rx_held, 1);
    send_seq(&h, 2, 2); /* the held buffer again: its message is not ours to read */
    send_seq(&h, 5, 3);
    CHECK_EQ(poll(&h), 1);
    CHECK_EQ(h.n, 2);
    CHECK_EQ(h.seq[0], 1);
    CHECK_EQ(h.seq[1], 3);
    CHECK_EQ(stats(&h).ring_errors, errors + 1);
    CHECK_EQ(amp_rpmsg_release_rx(&h.lb.remote, h.held[0]), 0);
    CHECK_EQ(amp_rpmsg_release_rx(&h.lb.remote, h.held[1]), 0);
    uint32_t id;
    CHECK_EQ(reclaim(&h, RX, &id, NULL), 2); /* each once; the second post of 2 stays lost */
    check_accounting(&h);

    /* a send buffer we hold (alloc_tx) posted again */
    struct fh t;
    setup(&t, true, 2);
    errors = stats(&t).ring_errors;
    void *p = NULL, *q = NULL;
    uint32_t cap;
    CHECK_EQ(amp_rpmsg_alloc_tx(&t.lb.remote, &p, &cap, 0), 0);
    uint32_t held = (uint32_t)(((uint8_t *)p - HDR - t.lb.shm - POOL) / BUF);
    CHECK(held < NUM);
    CHECK_EQ(amp_rpmsg_alloc_tx(&t.lb.remote, &q, &cap, 0), 0); /* the other one */
    give_tx(&t, held);
    CHECK_EQ(amp_ept_send(&t.ept, "x", 1, 0), -EAGAIN);
    CHECK_EQ(stats(&t).ring_errors, errors + 1);
    CHECK_EQ(amp_rpmsg_release_tx(&t.lb.remote, p), 0); /* on our free list now */
    CHECK_EQ(amp_ept_send(&t.ept, "y", 1, 0), 1);       /* from the free list */
    CHECK_EQ(amp_ept_send(&t.ept, "z", 1, 0), -EAGAIN);
    CHECK_EQ(stats(&t).ring_errors, errors + 1);
    CHECK_EQ(reclaim(&t, TX, &id, NULL), 1);
    CHECK_EQ(id, held);
    CHECK_EQ(amp_ept_send_nocopy(&t.ept, AMP_ADDR_ANY, q, 1), 1);
    CHECK_EQ(reclaim(&t, TX, NULL, NULL), 1);
    check_accounting(&t);
    lb_teardown(&t.lb);
    lb_teardown(&h.lb);
}

/* Descriptors no remote may follow: outside the window, above 4 GiB,
 * chained, indirect. */
static const struct {
    uint64_t addr; /* from the window's start */
    uint32_t len;
    uint16_t flags;
} bad_desc[] = {
    {LB_SHM_SIZE, 16, 0},                  /* just past the end */
    {LB_SHM_SIZE - 8, 16, 0},              /* across the end */
    {(uint64_t)-16, 16, 0},                /* below the start */
    {POOL, 0xFFFFFFFFu, 0},                /* longer than the window */
    {(1ull << 32) + POOL, 16, 0},          /* a high address word, its low word inside */
    {POOL, BUF, AMP_VRING_DESC_F_NEXT},     /* chained */
    {POOL, BUF, AMP_VRING_DESC_F_INDIRECT}, /* indirect */
};
#define NBAD (sizeof(bad_desc) / sizeof(bad_desc[0]))

static void test_lean_hostile_descriptors_outside_the_window_are_refused(void)
{
    struct fh h;
    setup(&h, false, 0);
    uint32_t errors = stats(&h).ring_errors;
    for (uint32_t i = 0; i < NBAD; i++) {
        uint32_t seq = 100 + i;
        put_msg(&h, i, HADDR, h.ept.addr, &seq, 4, 0);
        set_desc(&h, RX, i, LB_DA + bad_desc[i].addr, bad_desc[i].len, bad_desc[i].flags);
        post(&h, RX, (uint16_t)i);
        set_desc(&h, TX, i, LB_DA + bad_desc[i].addr, bad_desc[i].len, bad_desc[i].flags);
        post(&h, TX, (uint16_t)i);
    }
    send_seq(&h, NBAD, 1);
    give_tx(&h, NBAD);
    CHECK_EQ(poll(&h), 1);
    check_got(&h, 1, 1);
    CHECK_EQ(amp_ept_send(&h.ept, "x", 1, 0), 1); /* into the one good send buffer */
    CHECK_EQ(amp_ept_send(&h.ept, "x", 1, 0), -EAGAIN);
    CHECK_EQ(stats(&h).ring_errors, errors + 2 * NBAD);
    uint32_t id = NUM;
    CHECK_EQ(reclaim(&h, RX, &id, NULL), 1);
    CHECK_EQ(id, NBAD);
    CHECK_EQ(reclaim(&h, TX, &id, NULL), 1);
    CHECK_EQ(id, NBAD);
    check_accounting(&h);
    lb_teardown(&h.lb);
}

static void test_lean_hostile_short_and_misaligned_buffers_go_back(void)
{
    struct fh h;
    setup(&h, false, 0);
    uint32_t errors = stats(&h).msg_errors;
    uint32_t seq = 7;
    /* receive: shorter than a header, empty, misaligned. The lean build
     * gives them back where it takes buffers: no messages handled for poll's
     * count, and the empty one counted too; the full build hands them to its
     * message path, which counts them as handled and the empty one as no
     * error. */
    const int handled = REMOTE_LEAN ? 1 : 4;
    const uint32_t bad = REMOTE_LEAN ? 3 : 2;
    put_msg(&h, 0, HADDR, h.ept.addr, &seq, 4, HDR - 1);
    put_msg(&h, 1, HADDR, h.ept.addr, &seq, 4, 0);
    set_desc(&h, RX, 1, LB_DA + buf_off(RX, 1), 0, 0);
    put_msg(&h, 2, HADDR, h.ept.addr, &seq, 4, 0);
    set_desc(&h, RX, 2, LB_DA + buf_off(RX, 2) + 2, HDR + 8, 0);
    for (uint16_t i = 0; i < 3; i++)
        post(&h, RX, i);
    send_seq(&h, 3, 1);
    CHECK_EQ(poll(&h), handled);
    check_got(&h, 1, 1);
    CHECK_EQ(stats(&h).msg_errors, errors + bad);
    CHECK_EQ(reclaim(&h, RX, NULL, NULL), 4); /* all given back */
    /* whole, as the host posted them (OpenAMP's host reads used.len as the
     * buffer's capacity) */
    const uint32_t posted[3] = {HDR - 1, 0, HDR + 8};
    for (uint32_t i = 0; i < 3; i++) {
        CHECK_EQ(used(&h, RX)->ring[i].id, i);
        CHECK_EQ(used(&h, RX)->ring[i].len, posted[i]);
    }
    /* send: shorter than a header, misaligned: given back unused */
    set_desc(&h, TX, 0, LB_DA + buf_off(TX, 0), HDR - 1, AMP_VRING_DESC_F_WRITE);
    post(&h, TX, 0);
    set_desc(&h, TX, 1, LB_DA + buf_off(TX, 1) + 1, BUF - 1, AMP_VRING_DESC_F_WRITE);
    post(&h, TX, 1);
    give_tx(&h, 2);
    CHECK_EQ(amp_ept_send(&h.ept, "x", 1, 0), 1);
    CHECK_EQ(stats(&h).msg_errors, errors + bad + 2);
    uint32_t id = NUM, len = 0;
    CHECK_EQ(reclaim(&h, TX, &id, &len), 3);
    CHECK_EQ(id, 2); /* the last one: the message */
    CHECK_EQ(len, HDR + 1);
    CHECK_EQ(used(&h, TX)->ring[0].len, 0); /* the refused ones, nothing written */
    CHECK_EQ(used(&h, TX)->ring[1].len, 0);
    check_accounting(&h);
    lb_teardown(&h.lb);
}

/* Give the remote send buffer id with room for cap payload bytes. */
static void give_tx_cap(struct fh *h, uint32_t id, uint32_t cap)
{
    set_desc(h, TX, id, LB_DA + buf_off(TX, id), HDR + cap, AMP_VRING_DESC_F_WRITE);
    post(h, TX, (uint16_t)id);
}

/* Send buffers of mixed sizes (virtio allows them; Linux, OpenAMP and
 * RPMsg-Lite post one size): one too small for a message stands in the
 * way of no larger one, is kept for a message it fits (before a larger
 * one), and -EMSGSIZE comes only when no buffer the remote holds or finds
 * in the avail ring is large enough. Nothing is given back twice or lost. */
static void test_lean_hostile_small_send_buffer_blocks_no_larger_send(void)
{
    struct fh h;
    setup(&h, false, 0);
    uint8_t msg[BUF] = {0};
    uint32_t id = NUM, len = 0;
    give_tx_cap(&h, 0, 8);
    give_tx(&h, 1);
    give_tx(&h, 2);
    CHECK_EQ(amp_ept_send(&h.ept, msg, 100, 0), 100);
    CHECK_EQ(reclaim(&h, TX, &id, &len), 1);
    CHECK_EQ(id, 1);
    CHECK_EQ(len, HDR + 100);
    CHECK_EQ(amp_ept_send(&h.ept, msg, 8, 0), 8);
    CHECK_EQ(reclaim(&h, TX, &id, &len), 1);
    CHECK_EQ(id, 0); /* the small one, not buffer 2 */
    CHECK_EQ(len, HDR + 8);
    check_accounting(&h);
    /* only small ones to be had: -EMSGSIZE, and they stay the remote's */
    give_tx_cap(&h, 3, 4);
    give_tx_cap(&h, 4, 8);
    CHECK_EQ(amp_ept_send(&h.ept, msg, 200, 0), 200); /* buffer 2 */
    CHECK_EQ(amp_ept_send(&h.ept, msg, 9, 0), -EMSGSIZE);
    CHECK_EQ(reclaim(&h, TX, &id, NULL), 1);
    CHECK_EQ(id, 2);
    CHECK_EQ(stats(&h).tx_free, 2);
    check_accounting(&h);
    give_tx(&h, 5);
    CHECK_EQ(amp_ept_send(&h.ept, msg, 9, 0), 9); /* buffer 5 */
    CHECK_EQ(amp_ept_send(&h.ept, msg, 5, 0), 5); /* buffer 4 */
    CHECK_EQ(amp_ept_send(&h.ept, msg, 5, 0), -EMSGSIZE);
    CHECK_EQ(amp_ept_send(&h.ept, msg, 4, 0), 4); /* buffer 3 */
    CHECK_EQ(amp_ept_send(&h.ept, msg, 0, 0), -EAGAIN); /* none at all */
    CHECK_EQ(reclaim(&h, TX, &id, NULL), 3);
    CHECK_EQ(used(&h, TX)->ring[3].id, 5);
    CHECK_EQ(used(&h, TX)->ring[4].id, 4);
    CHECK_EQ(used(&h, TX)->ring[5].id, 3);
    CHECK_EQ(stats(&h).tx_free, 0);
    check_accounting(&h);
    lb_teardown(&h.lb);
}

static void test_lean_hostile_avail_index_jump_breaks_the_link(void)
{
    struct fh h;
    setup(&h, true, NUM);
    /* exactly num new entries is a full ring, not a lie */
    for (uint32_t i = 0; i < NUM; i++)
        send_seq(&h, i, 1 + i);
    CHECK_EQ(poll(&h), (int)NUM);
    check_got(&h, 1, NUM);
    CHECK_EQ(reclaim(&h, RX, NULL, NULL), (int)NUM);
    /* num + 1 is */
    uint32_t errors = stats(&h).ring_errors;
    h.avail[RX] = (uint16_t)(h.avail[RX] + NUM + 1);
    avail(&h, RX)->idx = h.avail[RX];
    CHECK_EQ(poll(&h), -EIO);
    CHECK_EQ(h.lb.remote.state, AMP_LINK_BROKEN);
    CHECK_EQ(poll(&h), -EIO);
    CHECK_EQ(amp_ept_send(&h.ept, "x", 1, 0), -EIO);
    CHECK_EQ(stats(&h).ring_errors, errors + 1);
    CHECK_EQ(h.n, (int)NUM);
    /* and on the send ring */
    amp_rpmsg_stop(&h.lb.remote);
    host_rings(&h, 0);
    CHECK_EQ(amp_rpmsg_start(&h.lb.remote, &h.lb.rcfg, 0), 0);
    errors = stats(&h).ring_errors;
    h.avail[TX] = (uint16_t)(h.avail[TX] - 1); /* backwards: 65535 ahead */
    avail(&h, TX)->idx = h.avail[TX];
    CHECK_EQ(amp_ept_sendto(&h.ept, AMP_ADDR_ANY, HADDR, "x", 1, 0), -EIO);
    CHECK_EQ(poll(&h), -EIO);
    CHECK_EQ(stats(&h).ring_errors, errors + 1);
    /* a send ring laid out with its index past num already: the
     * announcement at start finds it (start itself says 0: the host's
     * rings are read from then on) */
    amp_rpmsg_stop(&h.lb.remote);
    host_rings(&h, 0);
    avail(&h, TX)->idx = NUM + 1;
    CHECK_EQ(amp_rpmsg_start(&h.lb.remote, &h.lb.rcfg, 0), 0);
    CHECK_EQ(poll(&h), -EIO);
    CHECK_EQ(amp_ept_sendto(&h.ept, AMP_ADDR_ANY, HADDR, "x", 1, 0), -EIO);
    CHECK_EQ(stats(&h).ring_errors, 1); /* a new link's rings count from 0 */
    CHECK_EQ(h.n, (int)NUM);
    CHECK_EQ(reclaim(&h, TX, NULL, NULL), 0);
    lb_teardown(&h.lb);
}

static void test_lean_hostile_used_index_above_num_at_start_is_refused(void)
{
    struct fh h;
    setup(&h, false, 0);
    amp_rpmsg_stop(&h.lb.remote);
    host_rings(&h, 0);
    used(&h, RX)->idx = NUM + 1;
    CHECK_EQ(amp_rpmsg_start(&h.lb.remote, &h.lb.rcfg, 0), -EIO);
    CHECK_EQ(h.lb.remote.state, AMP_LINK_DOWN);
    CHECK_EQ(poll(&h), -ENOTCONN);
    used(&h, RX)->idx = 0;
    used(&h, TX)->idx = NUM + 1;
    CHECK_EQ(amp_rpmsg_start(&h.lb.remote, &h.lb.rcfg, 0), -EIO);
    /* num is allowed (RPMsg-Lite's master leaves that many): we go on from it */
    used(&h, TX)->idx = NUM;
    h.used[TX] = NUM;
    CHECK_EQ(amp_rpmsg_start(&h.lb.remote, &h.lb.rcfg, 0), 0);
    give_tx(&h, 4);
    CHECK_EQ(amp_ept_send(&h.ept, "x", 1, 0), 1);
    CHECK_EQ(used(&h, TX)->idx, NUM + 1);
    uint32_t id = NUM;
    CHECK_EQ(reclaim(&h, TX, &id, NULL), 1);
    CHECK_EQ(id, 4);
    lb_teardown(&h.lb);
}

static void test_lean_hostile_header_longer_than_its_buffer_is_dropped(void)
{
    struct fh h;
    setup(&h, true, NUM);
    uint32_t errors = stats(&h).msg_errors, seq = 1;
    put_msg(&h, 0, HADDR, h.ept.addr, &seq, 4, HDR + 4); /* exactly fits */
    post(&h, RX, 0);
    seq = 99;
    put_msg(&h, 1, HADDR, h.ept.addr, &seq, 4, HDR + 3); /* one byte more than the buffer */
    post(&h, RX, 1);
    put_msg(&h, 2, HADDR, h.ept.addr, &seq, 4, HDR + 4);
    ((struct amp_rpmsg_hdr *)(h.lb.shm + buf_off(RX, 2)))->len = 0xFFFF;
    post(&h, RX, 2);
    CHECK_EQ(poll(&h), 3);
    check_got(&h, 1, 1);
    CHECK_EQ(stats(&h).msg_errors, errors + 2);
    CHECK_EQ(reclaim(&h, RX, NULL, NULL), 3);
    /* our own cap (cfg.buf_size) bounds what we read, whatever the host's buffer */
    amp_rpmsg_stop(&h.lb.remote);
    host_rings(&h, 0);
    h.lb.rcfg.buf_size = 64;
    CHECK_EQ(amp_rpmsg_start(&h.lb.remote, &h.lb.rcfg, 0), 0);
    errors = stats(&h).msg_errors;
    uint8_t big[64] = {2};
    put_msg(&h, 0, HADDR, h.ept.addr, big, 64 - HDR, BUF); /* fits the cap */
    post(&h, RX, 0);
    put_msg(&h, 1, HADDR, h.ept.addr, big, 64 - HDR + 1, BUF); /* does not */
    post(&h, RX, 1);
    h.n = 0;
    CHECK_EQ(poll(&h), 2);
    check_got(&h, 2, 2);
    CHECK_EQ(stats(&h).msg_errors, errors + 1);
    CHECK_EQ(reclaim(&h, RX, NULL, NULL), 2);
    check_accounting(&h);
    lb_teardown(&h.lb);
}

/* An NS message as the host writes it: mlen bytes of m, posted in rx buffer id. */
static void host_ns(struct fh *h, uint32_t id, const struct amp_rpmsg_ns_msg *m, uint16_t mlen)
{
    uint8_t b[64] = {0};
    memcpy(b, m, sizeof(*m));
    put_msg(h, id, HADDR, AMP_RPMSG_NS_ADDR, b, mlen, 0);
    post(h, RX, (uint16_t)id);
}

static void test_lean_hostile_ns_messages_are_checked(void)
{
    struct fh h;
    setup(&h, true, NUM);
    uint32_t errors = stats(&h).msg_errors;
    struct amp_rpmsg_ns_msg m = {.addr = 0x500, .flags = AMP_RPMSG_NS_CREATE};
    memcpy(m.name, "other", 6);
    host_ns(&h, 0, &m, sizeof(m) - 1); /* short */
    host_ns(&h, 1, &m, sizeof(m) + 1); /* long */
    m.addr = AMP_ADDR_ANY;
    host_ns(&h, 2, &m, sizeof(m)); /* no address */
    m.addr = 0x500;
    m.flags = 2;
    host_ns(&h, 3, &m, sizeof(m)); /* neither create nor destroy */
    m.flags = AMP_RPMSG_NS_CREATE;
    memset(m.name, 0, sizeof(m.name));
    host_ns(&h, 4, &m, sizeof(m)); /* no name */
    CHECK_EQ(poll(&h), 5);
    CHECK_EQ(stats(&h).msg_errors, errors + 5);
    CHECK_EQ(h.ns_calls, 0);
    CHECK_EQ(h.ept.dest, HADDR);
    /* a name without its NUL: ours is cut at 31 bytes */
    memset(m.name, 's', sizeof(m.name));
    host_ns(&h, 5, &m, sizeof(m));
    CHECK_EQ(poll(&h), 1);
    CHECK_EQ(h.ns_calls, 1);
    CHECK_EQ(strlen(h.ns_name), AMP_RPMSG_NAME_SIZE - 1);
    CHECK_EQ(h.ns_addr, 0x500);
    /* our name at another address: not ours to bind (we are bound), nor to unbind */
    memset(m.name, 0, sizeof(m.name));
    memcpy(m.name, "svc", 4);
    m.flags = AMP_RPMSG_NS_DESTROY;
    host_ns(&h, 6, &m, sizeof(m));
    CHECK_EQ(poll(&h), 1);
    CHECK_EQ(h.ept.dest, HADDR);
    CHECK_EQ(h.unbinds, 0);
    m.addr = HADDR; /* the real one */
    host_ns(&h, 7, &m, sizeof(m));
    CHECK_EQ(poll(&h), 1);
    CHECK_EQ(h.ept.dest, AMP_ADDR_ANY);
    CHECK_EQ(h.unbinds, 1);
    host_ns(&h, 8, &m, sizeof(m)); /* again: nothing to unbind */
    CHECK_EQ(poll(&h), 1);
    CHECK_EQ(h.unbinds, 1);
    CHECK_EQ(stats(&h).msg_errors, errors + 5);
    CHECK_EQ(reclaim(&h, RX, NULL, NULL), 9);
    CHECK_EQ(h.n, 0); /* none reached the endpoint */
    check_accounting(&h);
    lb_teardown(&h.lb);
}

static void test_lean_hostile_messages_to_unknown_addresses_are_dropped(void)
{
    struct fh h;
    setup(&h, true, NUM);
    uint32_t seq = 9, dropped = stats(&h).dropped;
    put_msg(&h, 0, HADDR, h.ept.addr + 1, &seq, 4, 0);
    put_msg(&h, 1, HADDR, 0, &seq, 4, 0);
    put_msg(&h, 2, HADDR, AMP_ADDR_ANY, &seq, 4, 0);
    for (uint16_t i = 0; i < 3; i++)
        post(&h, RX, i);
    send_seq(&h, 3, 1);
    CHECK_EQ(poll(&h), 4);
    check_got(&h, 1, 1);
    CHECK_EQ(stats(&h).dropped, dropped + 3);
    CHECK_EQ(reclaim(&h, RX, NULL, NULL), 4);
    lb_teardown(&h.lb);
}

static void test_lean_hostile_release_of_what_we_do_not_hold_is_refused(void)
{
    struct fh h;
    setup(&h, true, NUM);
    struct amp_rpmsg *dev = &h.lb.remote;
    h.mode = CB_HOLD;
    send_seq(&h, 4, 1);
    CHECK_EQ(poll(&h), 1);
    void *held = h.held[0], *tx = NULL;
    uint32_t cap, local = 0;
    CHECK_EQ(amp_rpmsg_alloc_tx(dev, &tx, &cap, 0), 0);
    uint8_t *rx_free = h.lb.shm + buf_off(RX, 5) + HDR; /* a buffer the host has */
    void *bogus[] = {
        NULL,
        &local,                              /* not in the window */
        h.lb.shm,                            /* the window's start: no header before it */
        h.lb.shm + LB_SHM_SIZE,              /* its end */
        (void *)((uintptr_t)h.lb.shm + LB_SHM_SIZE + 4096), /* past it */
        rx_free,                             /* the host's */
        (uint8_t *)held + 1,                 /* inside a held buffer */
        (uint8_t *)held - HDR,               /* its header */
    };
    for (size_t i = 0; i < sizeof(bogus) / sizeof(bogus[0]); i++) {
        CHECK_EQ(amp_rpmsg_release_rx(dev, bogus[i]), -EINVAL);
        CHECK_EQ(amp_rpmsg_release_tx(dev, bogus[i]), -EINVAL);
    }
    CHECK_EQ(amp_rpmsg_release_rx(dev, tx), -EINVAL);   /* a send buffer */
    CHECK_EQ(amp_rpmsg_release_tx(dev, held), -EINVAL); /* a receive buffer */
    CHECK_EQ(amp_rpmsg_release_rx_gen(dev, held, h.held_gen - 1), -ESTALE);
    CHECK_EQ(amp_ept_send_nocopy(&h.ept, AMP_ADDR_ANY, held, 1), -EINVAL);
    struct amp_rpmsg_stats st = stats(&h);
    CHECK_EQ(st.rx_held, 1);
    CHECK_EQ(st.tx_held, 1);
    CHECK_EQ(reclaim(&h, RX, NULL, NULL), 0);
    CHECK_EQ(amp_rpmsg_release_rx_gen(dev, held, h.held_gen), 0);
    CHECK_EQ(amp_rpmsg_release_rx(dev, held), -EINVAL); /* twice */
    CHECK_EQ(amp_rpmsg_release_tx(dev, tx), 0);
    CHECK_EQ(amp_rpmsg_release_tx(dev, tx), -EINVAL);
    CHECK_EQ(amp_ept_send_nocopy(&h.ept, AMP_ADDR_ANY, tx, 1), -EINVAL); /* released */
    uint32_t id = NUM;
    CHECK_EQ(reclaim(&h, RX, &id, NULL), 1);
    CHECK_EQ(id, 4);
    st = stats(&h);
    CHECK_EQ(st.rx_held, 0);
    CHECK_EQ(st.tx_held, 0);
    check_accounting(&h);
    lb_teardown(&h.lb);
}

static void test_lean_hostile_callback_that_stops_the_link(void)
{
    struct fh h;
    setup(&h, true, NUM);
    h.mode = CB_HOLD;
    send_seq(&h, 0, 1);
    CHECK_EQ(poll(&h), 1);
    h.mode = CB_STOP | CB_HOLD;
    for (uint32_t i = 1; i < 4; i++)
        send_seq(&h, i, 1 + i);
    /* the message delivered before the stop: the lean build counts it, the
     * full one does not (amp_rpmsg.h says neither) */
    CHECK_EQ(poll(&h), REMOTE_LEAN ? 1 : 0);
    check_got(&h, 1, 2);
    CHECK_EQ(h.lb.remote.state, AMP_LINK_DOWN);
    CHECK_EQ(h.unbinds, 1);
    CHECK_EQ(poll(&h), -ENOTCONN);
    CHECK_EQ(amp_ept_send(&h.ept, "x", 1, 0), -ENOTCONN);
    /* what was held went with the link: not given back to the host */
    CHECK_EQ(amp_rpmsg_release_rx(&h.lb.remote, h.held[0]), -EINVAL);
    CHECK_EQ(amp_rpmsg_release_rx(&h.lb.remote, h.held[1]), -EINVAL);
    CHECK_EQ(reclaim(&h, RX, NULL, NULL), 0);
    CHECK_EQ(h.n, 2);
    /* a new link: only new messages, once each */
    host_rings(&h, NUM);
    h.mode = 0;
    CHECK_EQ(amp_rpmsg_start(&h.lb.remote, &h.lb.rcfg, 0), 0);
    CHECK_EQ(amp_rpmsg_release_rx_gen(&h.lb.remote, h.held[0], h.held_gen), -ESTALE);
    CHECK_EQ(reclaim(&h, TX, NULL, NULL), 1); /* announced again */
    host_announce(&h);
    for (uint32_t i = 0; i < 3; i++)
        send_seq(&h, i, 3 + i);
    CHECK_EQ(poll(&h), 3);
    check_got(&h, 1, 5);
    CHECK_EQ(reclaim(&h, RX, NULL, NULL), 3);
    check_accounting(&h);
    lb_teardown(&h.lb);
}

static void test_lean_hostile_callback_that_polls_keeps_the_order(void)
{
    struct fh h;
    setup(&h, true, NUM);
    h.mode = CB_POLL;
    h.inner_poll = 1;
    for (uint32_t i = 0; i < 5; i++)
        send_seq(&h, i, 1 + i);
    CHECK_EQ(poll(&h), 5);
    CHECK_EQ(h.inner_poll, 0);
    check_got(&h, 1, 5);
    CHECK_EQ(reclaim(&h, RX, NULL, NULL), 5);
    check_accounting(&h);
    lb_teardown(&h.lb);
}

#if AMP_CFG_RPMSG_EPT_DESTROY
static void test_lean_hostile_callback_that_destroys_its_endpoint(void)
{
    struct fh h;
    setup(&h, true, NUM);
    uint32_t addr = h.ept.addr, dropped = stats(&h).dropped;
    h.mode = CB_DESTROY;
    for (uint32_t i = 0; i < 3; i++)
        send_seq(&h, i, 1 + i);
    CHECK_EQ(poll(&h), 3);
    check_got(&h, 1, 1);
    CHECK_EQ(stats(&h).dropped, dropped + 2); /* no endpoint for the others */
    CHECK(h.lb.remote.epts == NULL && h.ept.dev == NULL);
    uint32_t id = NUM;
    CHECK_EQ(reclaim(&h, TX, &id, NULL), 1); /* the host is told */
    if (id < NUM) {
        struct amp_rpmsg_ns_msg *m = (void *)(tx_hdr(&h, id) + 1);
        CHECK_EQ(tx_hdr(&h, id)->dst, AMP_RPMSG_NS_ADDR);
        CHECK(!strcmp(m->name, "svc") && m->addr == addr && m->flags == AMP_RPMSG_NS_DESTROY);
    }
    CHECK_EQ(reclaim(&h, RX, NULL, NULL), 3);
    check_accounting(&h);
    lb_teardown(&h.lb);
}
#endif

/* A host that did not accept the name service is never sent an NS
 * message, whether the endpoint was made before the link came up or after. */
static void test_lean_hostile_no_announcement_without_the_name_service(void)
{
    struct fh h;
    setup(&h, false, NUM);
    CHECK(!h.lb.remote.ns);
    CHECK_EQ(reclaim(&h, TX, NULL, NULL), 0);
#if AMP_CFG_RPMSG_EPT_DESTROY
    amp_ept_destroy(&h.ept);
    CHECK_EQ(amp_ept_create(&h.ept, &h.lb.remote, "svc2", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &h),
             0);
    CHECK_EQ(poll(&h), 0);
    CHECK_EQ(reclaim(&h, TX, NULL, NULL), 0);
    amp_rpmsg_stop(&h.lb.remote);
    amp_ept_destroy(&h.ept);
    CHECK_EQ(amp_ept_create(&h.ept, &h.lb.remote, "svc3", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &h),
             0);
    host_rings(&h, NUM);
    CHECK_EQ(amp_rpmsg_start(&h.lb.remote, &h.lb.rcfg, 0), 0);
    CHECK_EQ(poll(&h), 0);
    CHECK_EQ(reclaim(&h, TX, NULL, NULL), 0);
    CHECK_EQ(stats(&h).tx, 0);
#endif
    lb_teardown(&h.lb);
}

/* The geometry and the handshake the host wrote in the vdev: each bad
 * value refused at start, the link left down. */
static void test_lean_hostile_bad_geometry_is_refused_at_start(void)
{
    struct fh h;
    setup(&h, false, 0);
    struct amp_rpmsg *dev = &h.lb.remote;
    volatile struct amp_rsc_vdev *v = h.lb.vdev;
    amp_rpmsg_stop(dev);
    struct amp_rpmsg_cfg good = h.lb.rcfg, c;
    const uint32_t r1 = v->vring[1].da;
    const uint32_t bad_da[] = {
        LB_DA + LB_SHM_SIZE - 64, /* the ring runs past the window */
        LB_DA - 4096,             /* before it */
        r1 + 8,                   /* not 16-byte aligned */
        v->vring[0].da,           /* on top of vring0 */
        v->vring[0].da + 256,     /* overlapping it */
    };
    for (size_t i = 0; i < sizeof(bad_da) / sizeof(bad_da[0]); i++) {
        v->vring[1].da = bad_da[i];
        c = good;
        CHECK_EQ(amp_rpmsg_cfg_from_vdev(&c, v), 0);
        CHECK_EQ(amp_rpmsg_start(dev, &c, 0), -EINVAL);
        CHECK_EQ(dev->state, AMP_LINK_DOWN);
    }
    v->vring[1].da = r1;
    c = good;
    c.num = 3; /* not a power of two */
    CHECK_EQ(amp_rpmsg_start(dev, &c, 0), -EINVAL);
    c = good;
    c.num = 2 * NUM; /* more than our slots */
    c.nslots = 2 * NUM;
    CHECK_EQ(amp_rpmsg_start(dev, &c, 0), -E2BIG);
    c = good;
    c.buf_size = HDR - 1; /* a cap below a header */
    CHECK_EQ(amp_rpmsg_start(dev, &c, 0), -EINVAL);
    /* features the host accepted but the table did not offer, or we lack */
    v->gfeatures = 1u << AMP_RPMSG_F_NS;
    CHECK_EQ(amp_rpmsg_start(dev, &good, 0), -ENOTSUP);
    v->dfeatures = 1u << AMP_RPMSG_F_NS;
    c = good;
    c.features = 0;
    CHECK_EQ(amp_rpmsg_start(dev, &c, 0), -ENOTSUP);
    v->dfeatures = v->gfeatures = 1u << AMP_VIRTIO_F_EVENT_IDX; /* compiled out */
    CHECK_EQ(amp_rpmsg_start(dev, &good, 0), -ENOTSUP);
    v->dfeatures = v->gfeatures = 0;
    /* no DRIVER_OK yet: no waiting in this build, it says so at once */
    v->status = 0;
    uint32_t waits = h.lb.rport.waits;
    CHECK_EQ(amp_rpmsg_start(dev, &good, AMP_WAIT_FOREVER), -EAGAIN);
    CHECK_EQ(h.lb.rport.waits, waits);
    CHECK_EQ(dev->state, AMP_LINK_DOWN);
    v->status = AMP_VIRTIO_STATUS_DRIVER_OK;
    CHECK_EQ(amp_rpmsg_start(dev, &good, 0), 0); /* and all is well again */
    give_tx(&h, 0);
    CHECK_EQ(amp_ept_send(&h.ept, "x", 1, 0), 1);
    CHECK_EQ(reclaim(&h, TX, NULL, NULL), 1);
    lb_teardown(&h.lb);
}

int main(void)
{
    static const struct amp_test tests[] = {
        TEST(test_lean_hostile_bad_heads_are_counted_and_skipped),
        TEST(test_lean_hostile_head_posted_twice_is_refused),
        TEST(test_lean_hostile_descriptors_outside_the_window_are_refused),
        TEST(test_lean_hostile_short_and_misaligned_buffers_go_back),
        TEST(test_lean_hostile_small_send_buffer_blocks_no_larger_send),
        TEST(test_lean_hostile_avail_index_jump_breaks_the_link),
        TEST(test_lean_hostile_used_index_above_num_at_start_is_refused),
        TEST(test_lean_hostile_bad_geometry_is_refused_at_start),
        TEST(test_lean_hostile_header_longer_than_its_buffer_is_dropped),
        TEST(test_lean_hostile_ns_messages_are_checked),
        TEST(test_lean_hostile_messages_to_unknown_addresses_are_dropped),
        TEST(test_lean_hostile_release_of_what_we_do_not_hold_is_refused),
        TEST(test_lean_hostile_callback_that_stops_the_link),
        TEST(test_lean_hostile_callback_that_polls_keeps_the_order),
#if AMP_CFG_RPMSG_EPT_DESTROY
        TEST(test_lean_hostile_callback_that_destroys_its_endpoint),
#endif
        TEST(test_lean_hostile_no_announcement_without_the_name_service),
    };
    return amp_test_main(tests, sizeof(tests) / sizeof(tests[0]));
}
