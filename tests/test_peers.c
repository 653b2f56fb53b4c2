/*
 * test_peers.c - how real peers behave, played by fakes of our own, against
 * amp in the role that faces them.
 *
 * Each behaviour is written from what was seen on the wire (REFERENCE.md,
 * "How real peers behave", measured 2026-12-03 over memfd + eventfd) and
 * from the virtio 1.x split-ring layout, never from the peers' code: the
 * fakes below drive the rings by hand, through the wire structs only. The
 * peer and version that behaves so is named at each test.
 *
 * The fake's side of a ring is `struct raw`: its own indices, and offsets
 * computed here from the spec (desc 16 bytes each; avail flags, idx,
 * ring[num], used_event; pad to align; used flags, idx, ring[num] of
 * {id, len}, avail_event), not by amp_vring.c.
 */
#include "amp_test.h"
#include "loopback.h"

#define NUM 8u
#define ALIGN 64u
#define BUF 512u
#define F_NS (1u << AMP_RPMSG_F_NS)
#define F_EI (1u << AMP_VIRTIO_F_EVENT_IDX)

/* ==== A fake peer's view of one ring ==== */

struct raw {
    uint8_t *base;
    uint16_t avail_idx; /* driver: next avail entry to write; device: to read */
    uint16_t used_idx;  /* driver: next used entry to read; device: to write */
};

static size_t raw_used_off(void)
{
    size_t off = 16u * NUM + 2u * (3u + NUM); /* desc[], avail */
    return (off + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

static volatile struct amp_vring_desc *raw_desc(struct raw *r, uint16_t id)
{
    return (volatile struct amp_vring_desc *)(r->base + 16u * id);
}

static volatile uint16_t *raw_avail(struct raw *r) /* [0] flags, [1] idx, [2 + i] ring */
{
    return (volatile uint16_t *)(r->base + 16u * NUM);
}

static volatile uint16_t *raw_used(struct raw *r) /* [0] flags, [1] idx */
{
    return (volatile uint16_t *)(r->base + raw_used_off());
}

static volatile uint32_t *raw_used_elem(struct raw *r, uint16_t i) /* [0] id, [1] len */
{
    return (volatile uint32_t *)(r->base + raw_used_off() + 4u + 8u * (i % NUM));
}

static volatile uint16_t *raw_avail_event(struct raw *r)
{
    return (volatile uint16_t *)(r->base + raw_used_off() + 4u + 8u * NUM);
}

/* Driver: post buffer id (len bytes at device address da). */
static void raw_post(struct raw *r, uint16_t id, uint32_t da, uint32_t len, uint16_t flags)
{
    volatile struct amp_vring_desc *d = raw_desc(r, id);
    d->addr = da;
    d->len = len;
    d->flags = flags;
    d->next = 0;
    raw_avail(r)[2 + r->avail_idx % NUM] = id;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    raw_avail(r)[1] = ++r->avail_idx;
}

/* Driver: the next used entry, or -1. */
static int raw_take_used(struct raw *r, uint32_t *len)
{
    if (raw_used(r)[1] == r->used_idx)
        return -1;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    volatile uint32_t *e = raw_used_elem(r, r->used_idx++);
    *len = e[1];
    return (int)e[0];
}

/* Device: the next avail head, or -1. */
static int raw_take_avail(struct raw *r)
{
    if (raw_avail(r)[1] == r->avail_idx)
        return -1;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return raw_avail(r)[2 + r->avail_idx++ % NUM];
}

/* Device: return head id with len bytes. */
static void raw_put_used(struct raw *r, uint16_t id, uint32_t len)
{
    volatile uint32_t *e = raw_used_elem(r, r->used_idx);
    e[0] = id;
    e[1] = len;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    raw_used(r)[1] = ++r->used_idx;
}

/* ==== One amp device facing one fake peer ==== */

/* Window: vdev at 0, vring0 at RING0, vring1 at RING1, buffers at POOL:
 * buffer i at POOL + i * BUF (0..NUM-1 host rx, NUM.. host tx). */
#define RING0 0x1000u
#define RING1 0x2000u
#define POOL 0x4000u
#define SHM_SIZE 0x10000u

struct fake {
    uint8_t *shm;
    struct amp_shm win;
    struct amp_rsc_vdev *vdev;
    struct raw r0, r1;
    struct lb_port lp;
    struct amp_port port;
    struct amp_rpmsg dev;
    struct amp_rpmsg_cfg cfg;
    struct amp_vring_slot slots[2 * NUM];
};

static void fake_setup(struct fake *f, enum amp_role role, uint32_t dfeatures)
{
    memset(f, 0, sizeof(*f));
    f->shm = aligned_alloc(4096, SHM_SIZE);
    memset(f->shm, 0, SHM_SIZE);
    f->win = (struct amp_shm){f->shm, LB_DA, SHM_SIZE};
    f->vdev = (struct amp_rsc_vdev *)f->shm;
    f->vdev->type = AMP_RSC_VDEV;
    f->vdev->id = AMP_VIRTIO_ID_RPMSG;
    f->vdev->dfeatures = dfeatures;
    f->vdev->num_of_vrings = 2;
    for (int i = 0; i < 2; i++) {
        f->vdev->vring[i].da = LB_DA + (i ? RING1 : RING0);
        f->vdev->vring[i].align = ALIGN;
        f->vdev->vring[i].num = NUM;
        f->vdev->vring[i].notifyid = (uint32_t)i;
    }
    f->r0.base = f->shm + RING0;
    f->r1.base = f->shm + RING1;
    f->port = (struct amp_port){&lb_ops, &f->lp};
    amp_rpmsg_init(&f->dev, role, &f->port);
    amp_rpmsg_cfg_from_vdev(&f->cfg, f->vdev);
    f->cfg.shm = f->win;
    f->cfg.pool_da = LB_DA + POOL;
    f->cfg.pool_size = SHM_SIZE - POOL;
    f->cfg.features = F_NS;
    f->cfg.slots = f->slots;
    f->cfg.nslots = 2 * NUM;
}

static void fake_teardown(struct fake *f)
{
    free(f->shm);
}

static uint32_t buf_da(uint32_t i)
{
    return LB_DA + POOL + i * BUF;
}

static uint8_t *buf_va(struct fake *f, uint32_t i)
{
    return f->shm + POOL + i * BUF;
}

/* Fake host: post every rx buffer on vring0, accept `gfeatures`, DRIVER_OK. */
static void fake_host_start(struct fake *f, uint32_t gfeatures)
{
    for (uint16_t i = 0; i < NUM; i++)
        raw_post(&f->r0, i, buf_da(i), BUF, AMP_VRING_DESC_F_WRITE);
    f->vdev->gfeatures = gfeatures;
    f->vdev->status = AMP_VIRTIO_STATUS_ACKNOWLEDGE | AMP_VIRTIO_STATUS_DRIVER |
                      AMP_VIRTIO_STATUS_DRIVER_OK;
}

/* Write an RPMsg message into buffer i: header and len bytes of `fill`. */
static void put_msg(struct fake *f, uint32_t i, uint32_t src, uint32_t dst, uint32_t len, uint8_t fill)
{
    struct amp_rpmsg_hdr h = {src, dst, 0, (uint16_t)len, 0};
    memcpy(buf_va(f, i), &h, sizeof(h));
    memset(buf_va(f, i) + 16, fill, len);
}

/* A receiver that keeps the last message. */
struct got {
    int count;
    size_t len;
    uint32_t src;
    uint8_t data[1024];
    int unbinds;
};

static int got_cb(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    struct got *g = priv;
    (void)ept;
    g->count++;
    g->len = len;
    g->src = src;
    memcpy(g->data, data, len < sizeof(g->data) ? len : sizeof(g->data));
    return AMP_RX_DONE;
}

static void got_unbind(struct amp_ept *ept)
{
    ((struct got *)ept->priv)->unbinds++;
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

/* ==== OpenAMP v2026.04 host ==== */

/* Its driver role takes the used.len of a returned send buffer as the
 * buffer's capacity, subtracts the header and copies that much into it
 * (rpmsg_virtio get_tx_buffer): a remote that returns 0 gets a runaway
 * copy. So amp's remote returns the descriptor's length. */
static void test_host_reuses_used_len_as_capacity(void)
{
    struct fake f;
    fake_setup(&f, AMP_ROLE_REMOTE, F_NS);
    fake_host_start(&f, F_NS);
    CHECK_EQ(amp_rpmsg_start(&f.dev, &f.cfg, 0), 0);
    struct amp_ept ept;
    struct got g = {0};
    CHECK_EQ(amp_ept_create(&ept, &f.dev, NULL, 1024, AMP_ADDR_ANY, got_cb, &g), 0);

    /* the host sends 100 bytes in its send buffer NUM (id 0 of vring1) */
    put_msg(&f, NUM, 1025, 1024, 100, 0x11);
    raw_post(&f.r1, 0, buf_da(NUM), BUF, 0);
    amp_rpmsg_poll(&f.dev);
    CHECK_EQ(g.count, 1);
    CHECK_EQ(g.len, 100);

    uint32_t len = 0;
    CHECK_EQ(raw_take_used(&f.r1, &len), 0);
    CHECK_EQ(len, BUF); /* what the host will take as the capacity */

    /* as that host does: fill the capacity it read, send again */
    uint32_t cap = len >= 16 ? len - 16 : 0;
    CHECK_EQ(cap, 496);
    if (cap == 496) {
        put_msg(&f, NUM, 1025, 1024, cap, 0x22);
        raw_post(&f.r1, 0, buf_da(NUM), len, 0);
        amp_rpmsg_poll(&f.dev);
        CHECK_EQ(g.count, 2);
        CHECK_EQ(g.len, 496);
        CHECK(all_bytes(g.data, 496, 0x22));
        CHECK_EQ(raw_take_used(&f.r1, &len), 0);
        CHECK_EQ(len, BUF);
    }
    fake_teardown(&f);
}

/* ==== RPMsg-Lite v5.4.0 master ==== */

/* No resource table: vring0 at the shared memory base, vring1 one
 * VRING_SIZE later, buffers after both. At init it posts its receive
 * buffers on vring0 and puts its send buffers on vring1's *used* ring
 * (used.idx = their count), to take them from there; and it sets
 * VRING_AVAIL_F_NO_INTERRUPT on both rings and never clears it (its own
 * remote tests used->flags instead). */
#define RL_STRIDE 0x1000u

static void rl_master_init(struct fake *f)
{
    f->r0.base = f->shm + RING0;
    f->r1.base = f->shm + RING0 + RL_STRIDE;
    memset(f->r0.base, 0, 2 * RL_STRIDE);
    for (uint16_t i = 0; i < NUM; i++)
        raw_post(&f->r0, i, buf_da(i), BUF, AMP_VRING_DESC_F_WRITE);
    for (uint16_t i = 0; i < NUM; i++) {
        volatile struct amp_vring_desc *d = raw_desc(&f->r1, i);
        d->addr = buf_da(NUM + i);
        d->len = BUF;
        raw_used_elem(&f->r1, i)[0] = i;
        raw_used_elem(&f->r1, i)[1] = BUF;
    }
    raw_used(&f->r1)[1] = NUM;
    raw_avail(&f->r0)[0] = AMP_VRING_AVAIL_F_NO_INTERRUPT;
    raw_avail(&f->r1)[0] = AMP_VRING_AVAIL_F_NO_INTERRUPT;
}

/* An amp remote set up for that master: its layout, always_notify. */
static int rl_remote_start(struct fake *f, bool always_notify)
{
    struct amp_rpmsg_cfg *c = &f->cfg;
    uint32_t poll = c->tx_poll_ms;
    memset(c, 0, sizeof(*c));
    int err = amp_rpmsg_cfg_rings(c, &f->win, LB_DA + RING0, RL_STRIDE, NUM, ALIGN);
    if (err)
        return err;
    c->tx_poll_ms = poll;
    c->features = F_NS;
    c->slots = f->slots;
    c->nslots = 2 * NUM;
    c->always_notify = always_notify;
    return amp_rpmsg_start(&f->dev, c, 0);
}

static void test_master_prefills_used_ring_and_never_wants_interrupts(void)
{
    struct fake f;
    fake_setup(&f, AMP_ROLE_REMOTE, 0);
    rl_master_init(&f);
    CHECK_EQ(rl_remote_start(&f, true), 0);

    /* the announcement reaches the master, with a doorbell */
    struct amp_ept ept;
    struct got g = {0};
    CHECK_EQ(amp_ept_create(&ept, &f.dev, "rl-echo", AMP_ADDR_ANY, AMP_ADDR_ANY, got_cb, &g), 0);
    CHECK(f.lp.kicks > 0);
    uint32_t len = 0;
    int id = raw_take_used(&f.r0, &len);
    CHECK_EQ(id, 0);
    if (id == 0) {
        struct amp_rpmsg_hdr h;
        struct amp_rpmsg_ns_msg m;
        memcpy(&h, buf_va(&f, 0), sizeof(h));
        memcpy(&m, buf_va(&f, 0) + 16, sizeof(m));
        CHECK_EQ(h.dst, AMP_RPMSG_NS_ADDR);
        CHECK_EQ(len, 16 + sizeof(m));
        CHECK(strcmp(m.name, "rl-echo") == 0);
        CHECK_EQ(m.addr, ept.addr);
    }

    /* the master takes its send buffers off vring1's used ring ... */
    for (uint16_t i = 0; i < NUM; i++)
        CHECK_EQ(raw_take_used(&f.r1, &len), i);
    /* ... and sends in the first one */
    put_msg(&f, NUM, 1025, ept.addr, 5, 0x33);
    raw_post(&f.r1, 0, buf_da(NUM), BUF, 0);
    uint32_t kicks = f.lp.kicks;
    amp_rpmsg_poll(&f.dev);
    CHECK_EQ(g.count, 1);
    CHECK(f.lp.kicks > kicks); /* the consumed buffer is announced too */

    /* it comes back after the pre-filled entries, which stay as they were */
    CHECK_EQ(raw_used(&f.r1)[1], NUM + 1);
    CHECK_EQ(raw_take_used(&f.r1, &len), 0);
    for (uint16_t i = 1; i < NUM; i++)
        CHECK_EQ(raw_used_elem(&f.r1, i)[0], i);
    CHECK_EQ(amp_ept_send(&ept, "back", 4, 0), 4); /* bound by the message */
    fake_teardown(&f);
}

/* Without the switch amp honours NO_INTERRUPT, per the spec: the master
 * never hears from it. This is why the switch exists. */
static void test_master_without_always_notify_gets_no_doorbell(void)
{
    struct fake f;
    fake_setup(&f, AMP_ROLE_REMOTE, 0);
    rl_master_init(&f);
    CHECK_EQ(rl_remote_start(&f, false), 0);
    struct amp_ept ept;
    CHECK_EQ(amp_ept_create(&ept, &f.dev, "rl-echo", AMP_ADDR_ANY, AMP_ADDR_ANY, NULL, NULL), 0);
    uint32_t len;
    CHECK_EQ(raw_take_used(&f.r0, &len), 0); /* sent ... */
    CHECK_EQ(f.lp.kicks, 0);                 /* ... but not rung */
    fake_teardown(&f);
}

/* A used index the master cannot have written (more entries than the
 * ring holds) is garbage: the remote refuses the ring. */
static void test_master_used_index_past_num_refused(void)
{
    struct fake f;
    fake_setup(&f, AMP_ROLE_REMOTE, 0);
    rl_master_init(&f);
    raw_used(&f.r1)[1] = NUM + 1;
    CHECK_EQ(rl_remote_start(&f, true), -EIO);
    raw_used(&f.r1)[1] = NUM;
    CHECK_EQ(rl_remote_start(&f, true), 0);
    fake_teardown(&f);
}

/* Built without consumed-buffer notification (RL_ALLOW_CONSUMED_BUFFERS_
 * NOTIFICATION 0, its default), the master gives receive buffers back
 * without a doorbell. An amp sender must find them without one, busy-
 * polling or with tx_poll_ms: it used to sleep its whole timeout each time
 * it ran out. The port below sleeps a wait's whole timeout unless rung, as
 * a real one does; the master gives a buffer back during the third wait. */
struct quiet_port {
    struct fake *f;
    uint32_t now, waits;
    bool device; /* the fake is the device (amp hosts it): it consumes a message */
};

static int quiet_wait(void *ctx, int32_t timeout_ms)
{
    struct quiet_port *q = ctx;
    if (++q->waits == 3 && !q->device) { /* the master consumed a message: repost its buffer */
        uint32_t len;
        int id = raw_take_used(&q->f->r0, &len);
        if (id >= 0)
            raw_post(&q->f->r0, (uint16_t)id, buf_da((uint32_t)id), BUF, AMP_VRING_DESC_F_WRITE);
    } else if (q->waits == 3) { /* the remote consumed a message, returns it */
        int id = raw_take_avail(&q->f->r1);
        if (id >= 0)
            raw_put_used(&q->f->r1, (uint16_t)id, raw_desc(&q->f->r1, (uint16_t)id)->len);
    }
    q->now += timeout_ms > 0 ? (uint32_t)timeout_ms : 1u; /* nobody rings */
    return -ETIMEDOUT;
}

static uint32_t quiet_now(void *ctx)
{
    return ((struct quiet_port *)ctx)->now;
}

static int quiet_notify(void *ctx, uint32_t id)
{
    (void)ctx;
    (void)id;
    return 0;
}

static const struct amp_port_ops quiet_ops = {
    .notify = quiet_notify,
    .wait = quiet_wait,
    .now_ms = quiet_now,
};

static void quiet_case(bool busy)
{
    struct fake f;
    fake_setup(&f, AMP_ROLE_REMOTE, 0);
    struct quiet_port q = {&f, 0, 0, false};
    f.port = (struct amp_port){&quiet_ops, &q};
    amp_rpmsg_init(&f.dev, AMP_ROLE_REMOTE, &f.port);
    rl_master_init(&f);
    memset(&f.cfg, 0, sizeof(f.cfg));
    f.cfg.tx_poll_ms = busy ? 0 : 1;
    CHECK_EQ(rl_remote_start(&f, true), 0);
    amp_rpmsg_set_busy_poll(&f.dev, busy);
    struct amp_ept ept;
    CHECK_EQ(amp_ept_create(&ept, &f.dev, NULL, AMP_ADDR_ANY, 1025, NULL, NULL), 0);
    int sent = 0;
    while (sent < (int)NUM + 1 && amp_ept_send(&ept, "fill", 4, 0) == 4)
        sent++;
    CHECK_EQ(sent, NUM); /* every buffer of the master's is ours now */
    uint32_t t0 = q.now;
    CHECK_EQ(amp_ept_send(&ept, "late", 4, 1000), 4);
    CHECK(q.now - t0 < 100); /* spun until it came, did not sleep 1000 ms */
    CHECK_EQ(q.waits, 3);
    fake_teardown(&f);
}

static void test_master_returns_buffers_without_doorbell(void)
{
    quiet_case(false); /* tx_poll_ms 1 */
    quiet_case(true);  /* busy-poll */
}

/* ==== RPMsg-Lite v5.4.0 remote ==== */

/* An amp host on RPMsg-Lite's layout (amp_rpmsg_cfg_rings: tx_poll_ms 1)
 * facing a remote that gives buffers back without a doorbell (q), with
 * an endpoint and every send buffer with the remote. */
static void quiet_host_filled(struct fake *f, struct quiet_port *q, struct amp_ept *ept)
{
    fake_setup(f, AMP_ROLE_HOST, 0);
    *q = (struct quiet_port){f, 0, 0, true};
    f->port = (struct amp_port){&quiet_ops, q};
    amp_rpmsg_init(&f->dev, AMP_ROLE_HOST, &f->port);
    struct amp_rpmsg_cfg *c = &f->cfg;
    memset(c, 0, sizeof(*c));
    CHECK_EQ(amp_rpmsg_cfg_rings(c, &f->win, LB_DA + RING0, RL_STRIDE, NUM, ALIGN), 0);
    CHECK_EQ(c->tx_poll_ms, 1);
    c->features = F_NS;
    c->buf_size = BUF;
    c->slots = f->slots;
    c->nslots = 2 * NUM;
    CHECK_EQ(amp_rpmsg_start(&f->dev, c, 0), 0);
    CHECK_EQ(amp_ept_create(ept, &f->dev, NULL, AMP_ADDR_ANY, 1024, NULL, NULL), 0);
    int sent = 0;
    while (sent < (int)NUM + 1 && amp_ept_send(ept, "fill", 4, 0) == 4)
        sent++;
    CHECK_EQ(sent, NUM); /* every send buffer is with the remote */
}

/* The same code returns buffers in both of its roles: its remote too
 * gives consumed messages back without a doorbell in the default build.
 * An amp host streaming to it (sending, not receiving) must find them;
 * amp_rpmsg_cfg_rings() sets tx_poll_ms for that. */
static void test_remote_returns_buffers_without_doorbell(void)
{
    struct fake f;
    struct quiet_port q;
    struct amp_ept ept;
    quiet_host_filled(&f, &q, &ept);
    uint32_t t0 = q.now;
    CHECK_EQ(amp_ept_send(&ept, "late", 4, 1000), 4);
    CHECK(q.now - t0 < 100);
    CHECK_EQ(q.waits, 3);
    fake_teardown(&f);
}

/* The same, for a host program that sleeps in amp_rpmsg_wait() after a
 * send found no buffer: with tx_poll_ms the wait looks again that often
 * (before, it slept its whole timeout, as no doorbell comes). */
static void test_remote_returns_buffers_without_doorbell_to_a_waiting_host(void)
{
    struct fake f;
    struct quiet_port q;
    struct amp_ept ept;
    quiet_host_filled(&f, &q, &ept);
    uint32_t t0 = q.now;
    int rounds = 0;
    while (amp_ept_send(&ept, "late", 4, 0) == -EAGAIN && rounds++ < 10)
        CHECK_EQ(amp_rpmsg_wait(&f.dev, 1000), 0); /* 0: look again */
    CHECK_EQ(rounds, 3); /* the remote gives the buffer back in the third wait */
    CHECK(q.now - t0 < 10);
    fake_teardown(&f);
}

/* ==== OpenAMP v2026.04 remote ==== */

/* Its rpmsg_virtio never re-arms callbacks: as a device it leaves its
 * event index (avail_event) at 0, and it offers EVENT_IDX if its table
 * does. It works on the ring only when notified. With amp's default
 * features the host must not run EVENT_IDX with it, or it would notify
 * once and then never (the event index is never crossed again). */
static void test_peer_never_rearms_event_index(void)
{
    struct fake f;
    fake_setup(&f, AMP_ROLE_HOST, F_NS | F_EI);
    f.cfg.features = AMP_RPMSG_FEATURES_DEFAULT;
    f.cfg.buf_size = BUF;
    CHECK_EQ(amp_rpmsg_start(&f.dev, &f.cfg, 0), 0);
    struct amp_ept ept;
    CHECK_EQ(amp_ept_create(&ept, &f.dev, NULL, AMP_ADDR_ANY, 1024, NULL, NULL), 0);

    unsigned got = 0, seen_kicks = f.lp.kicks;
    for (int i = 0; i < 100; i++) {
        if (amp_ept_send(&ept, "ping", 4, 0) != 4)
            break;
        if (f.lp.kicks == seen_kicks)
            continue; /* not notified: this peer sleeps */
        seen_kicks = f.lp.kicks;
        int id;
        while ((id = raw_take_avail(&f.r1)) >= 0) {
            got++;
            raw_put_used(&f.r1, (uint16_t)id, raw_desc(&f.r1, (uint16_t)id)->len);
        }
        CHECK_EQ(*raw_avail_event(&f.r1), 0); /* never re-armed */
    }
    CHECK_EQ(got, 100);
    fake_teardown(&f);
}

/* It writes into the header of buffers the host gave it to read, and
 * returns them with used.len = the descriptor's length. amp's host must
 * write every byte of every message again, never trusting what it wrote
 * into a buffer before it gave it away. */
static void test_remote_writes_into_device_readable_headers(void)
{
    struct fake f;
    fake_setup(&f, AMP_ROLE_HOST, F_NS);
    f.cfg.buf_size = BUF;
    CHECK_EQ(amp_rpmsg_start(&f.dev, &f.cfg, 0), 0);
    struct amp_ept ept;
    CHECK_EQ(amp_ept_create(&ept, &f.dev, NULL, 1030, 1024, NULL, NULL), 0);

    uint8_t msg[496];
    unsigned good = 0, total = 0;
    for (uint32_t i = 0; i < 5 * NUM; i++) {
        uint32_t n = (i * 61u) % 497u; /* 0 .. 496, varied */
        memset(msg, (int)(i + 1), n);
        if (amp_ept_send(&ept, msg, n, 0) != (int)n)
            break;
        int id = raw_take_avail(&f.r1);
        if (id < 0)
            break;
        total++;
        volatile struct amp_vring_desc *d = raw_desc(&f.r1, (uint16_t)id);
        uint8_t *b = f.shm + (uint32_t)(d->addr - LB_DA);
        struct amp_rpmsg_hdr h;
        memcpy(&h, b, sizeof(h));
        if (h.src == 1030 && h.dst == 1024 && h.reserved == 0 && h.len == n && h.flags == 0 &&
            d->len >= 16 + n && all_bytes(b + 16, n, (uint8_t)(i + 1)))
            good++;
        memset(b, 0xA5, 16);     /* the header, as this peer does */
        memset(b + 16, 0x5A, 8); /* and some payload for good measure */
        raw_put_used(&f.r1, (uint16_t)id, d->len);
    }
    CHECK_EQ(total, 5 * NUM);
    CHECK_EQ(good, 5 * NUM);
    fake_teardown(&f);
}

/* ==== Resource tables (Linux 6.12, older OpenAMP firmware) ==== */

/* Linux skips entries of types it does not know with a warning; older
 * OpenAMP firmware has a type-4 entry. Accept and skip; the entry's type
 * word must still lie inside the table. */
static void test_table_with_unknown_types_accepted(void)
{
    _Alignas(8) uint8_t t[256] = {0};
    uint32_t hdr[] = {1, 3, 0, 0, 32, 40, 48};
    memcpy(t, hdr, sizeof(hdr));
    uint32_t e4[] = {4, 0x1234}, e127[] = {127, 0};
    memcpy(t + 32, e4, sizeof(e4));
    memcpy(t + 40, e127, sizeof(e127));
    struct amp_rsc_vdev v = {AMP_RSC_VDEV, AMP_VIRTIO_ID_RPMSG, 0, F_NS, 0, 0, 0, 0, {0, 0}};
    memcpy(t + 48, &v, sizeof(v));
    size_t size = 48 + sizeof(v);
    const char *why = NULL;
    CHECK_EQ(amp_rsc_check(t, size, &why), 0);
    CHECK(why == NULL);
    CHECK_EQ(amp_rsc_find(t, AMP_RSC_VDEV, 0), 2);
    CHECK_EQ(amp_rsc_find(t, 4, 0), 0);

    /* bounds still hold: a type word running past the end is refused */
    uint32_t off = (uint32_t)size;
    memcpy(t + 20, &off, 4);
    CHECK_EQ(amp_rsc_check(t, size, &why), -EINVAL);
    /* and a type past the vendor range */
    off = 40;
    memcpy(t + 20, &off, 4);
    uint32_t bad = 513;
    memcpy(t + 40, &bad, 4);
    CHECK_EQ(amp_rsc_check(t, size, &why), -EINVAL);
}

/* ==== Feature negotiation, destroy, sizes: amp against amp ==== */

/* A remote whose table offers EVENT_IDX while its cfg.features lacks it
 * (or a host that accepts what was not offered) used to run with the AND
 * of both and lose notifications: the host ran EVENT_IDX, the remote did
 * not. It must refuse to start instead. */
static void test_feature_mismatch_refused(void)
{
    struct loopback lb;
    lb_setup(&lb, NUM, F_NS | F_EI);
    lb.rcfg.features = F_NS;
    CHECK_EQ(amp_rpmsg_start(&lb.host, &lb.hcfg, 0), 0);
    CHECK_EQ(lb.vdev->gfeatures, F_NS | F_EI);
    CHECK_EQ(amp_rpmsg_start(&lb.remote, &lb.rcfg, 0), -ENOTSUP);
    lb_teardown(&lb);

    /* gfeatures beyond dfeatures: the host broke the handshake */
    lb_setup(&lb, NUM, F_NS);
    CHECK_EQ(amp_rpmsg_start(&lb.host, &lb.hcfg, 0), 0);
    lb.vdev->gfeatures |= F_EI;
    CHECK_EQ(amp_rpmsg_start(&lb.remote, &lb.rcfg, 0), -ENOTSUP);
    lb_teardown(&lb);

    /* agreeing sides run with what the host accepted */
    lb_setup(&lb, NUM, F_NS | F_EI);
    lb.hcfg.features = F_NS;
    CHECK_EQ(lb_start(&lb), 0);
    CHECK_EQ(lb.remote.features, F_NS);
    CHECK_EQ(lb.remote.rx.event_idx, false);
    lb_teardown(&lb);
}

/* amp_ept_destroy never blocks: with no free send buffer its NS destroy
 * used to be dropped, and the peer stayed bound (its next message to us
 * was lost). Seen against every peer; run in both roles. */
static void test_destroy_with_no_tx_buffer_free(void)
{
    for (int role = 0; role < 2; role++) {
        struct loopback lb;
        lb_setup(&lb, NUM, F_NS);
        struct amp_ept he, re;
        struct got hg = {0}, rg = {0};
        CHECK_EQ(amp_ept_create(&he, &lb.host, "svc", AMP_ADDR_ANY, AMP_ADDR_ANY, got_cb, &hg), 0);
        CHECK_EQ(amp_ept_create(&re, &lb.remote, "svc", AMP_ADDR_ANY, AMP_ADDR_ANY, got_cb, &rg), 0);
        amp_ept_set_unbind_cb(&he, got_unbind);
        amp_ept_set_unbind_cb(&re, got_unbind);
        CHECK_EQ(lb_start(&lb), 0);
        CHECK(amp_ept_is_ready(&he) && amp_ept_is_ready(&re));

        struct amp_rpmsg *d = role ? &lb.remote : &lb.host;
        struct amp_ept *gone = role ? &re : &he, *peer = role ? &he : &re;
        struct got *pg = role ? &hg : &rg;
        void *held[2 * NUM + 1];
        uint32_t cap;
        int n = 0;
        while (n < (int)(2 * NUM + 1) && amp_rpmsg_alloc_tx(d, &held[n], &cap, 0) == 0)
            n++;
        CHECK(n > 0 && n <= (int)NUM);
        amp_ept_destroy(gone);
        for (int i = 0; i < 4; i++) {
            amp_rpmsg_poll(&lb.host);
            amp_rpmsg_poll(&lb.remote);
        }
        CHECK(amp_ept_is_ready(peer)); /* nothing could be sent yet */
        for (int i = 0; i < n; i++)
            CHECK_EQ(amp_rpmsg_release_tx(d, held[i]), 0);
        for (int i = 0; i < 4; i++) {
            amp_rpmsg_poll(&lb.host);
            amp_rpmsg_poll(&lb.remote);
        }
        CHECK_EQ(pg->unbinds, 1);
        CHECK(!amp_ept_is_ready(peer));
        lb_teardown(&lb);
    }
}

/* A remote with no cap of its own sends what fits the host's buffers: 600
 * bytes into 1024-byte buffers (it used to refuse anything above 496). */
static void test_600_byte_send_with_1024_byte_buffers(void)
{
    struct loopback lb;
    lb_setup(&lb, NUM, F_NS);
    lb.hcfg.buf_size = 1024;
    lb.rcfg.buf_size = 0;
    struct amp_ept he, re;
    struct got hg = {0}, rg = {0};
    CHECK_EQ(amp_ept_create(&he, &lb.host, "big", AMP_ADDR_ANY, AMP_ADDR_ANY, got_cb, &hg), 0);
    CHECK_EQ(amp_ept_create(&re, &lb.remote, "big", AMP_ADDR_ANY, AMP_ADDR_ANY, got_cb, &rg), 0);
    CHECK_EQ(lb_start(&lb), 0);
    uint8_t msg[1024];
    memset(msg, 0x6C, sizeof(msg));
    CHECK_EQ(amp_ept_send(&re, msg, 600, 0), 600);
    CHECK_EQ(amp_rpmsg_max_payload(&lb.remote), 1008);
    CHECK_EQ(amp_ept_send(&re, msg, 1008, 0), 1008);
    CHECK_EQ(amp_ept_send(&re, msg, 1009, 0), -EMSGSIZE);
    amp_rpmsg_poll(&lb.host);
    CHECK_EQ(hg.count, 2);
    CHECK_EQ(hg.len, 1008);
    CHECK(all_bytes(hg.data, 1008, 0x6C));
    CHECK_EQ(amp_ept_send(&he, msg, 600, 0), 600);
    amp_rpmsg_poll(&lb.remote);
    CHECK_EQ(rg.count, 1);
    CHECK_EQ(rg.len, 600);
    lb_teardown(&lb);

    /* a cap still caps */
    lb_setup(&lb, NUM, F_NS);
    lb.hcfg.buf_size = 1024;
    lb.rcfg.buf_size = 512;
    CHECK_EQ(amp_ept_create(&re, &lb.remote, NULL, AMP_ADDR_ANY, 1024, NULL, NULL), 0);
    CHECK_EQ(lb_start(&lb), 0);
    CHECK_EQ(amp_ept_send(&re, msg, 600, 0), -EMSGSIZE);
    CHECK_EQ(amp_ept_send(&re, msg, 496, 0), 496);
    lb_teardown(&lb);
}

/* Both roles over rings at fixed addresses, no resource table: the
 * configuration an amp host uses with an RPMsg-Lite remote, and an amp
 * remote with an RPMsg-Lite master. */
static void test_rings_without_table_both_roles(void)
{
    struct loopback lb;
    lb_setup(&lb, NUM, 0);
    struct amp_rpmsg_cfg *c[2] = {&lb.hcfg, &lb.rcfg};
    for (int i = 0; i < 2; i++) {
        struct amp_vring_slot *slots = c[i]->slots;
        memset(c[i], 0, sizeof(*c[i]));
        CHECK_EQ(amp_rpmsg_cfg_rings(c[i], &lb.win, LB_DA + 0x8000, 0x2000, NUM, 16), 0);
        c[i]->features = F_NS;
        c[i]->slots = slots;
        c[i]->nslots = 2 * NUM;
        c[i]->always_notify = i == 1;
    }
    lb.hcfg.buf_size = BUF;
    CHECK_EQ(lb.hcfg.vring_da[1], LB_DA + 0xA000);
    CHECK_EQ(lb.hcfg.pool_da, LB_DA + 0xC000);
    CHECK_EQ(lb.hcfg.pool_size, LB_SHM_SIZE - 0xC000);
    CHECK(lb.hcfg.vdev == NULL);

    struct amp_ept he, re;
    struct got hg = {0}, rg = {0};
    CHECK_EQ(amp_ept_create(&he, &lb.host, "rl", AMP_ADDR_ANY, AMP_ADDR_ANY, got_cb, &hg), 0);
    CHECK_EQ(amp_ept_create(&re, &lb.remote, "rl", AMP_ADDR_ANY, AMP_ADDR_ANY, got_cb, &rg), 0);
    CHECK_EQ(lb_start(&lb), 0);
    CHECK(amp_ept_is_ready(&he) && amp_ept_is_ready(&re));
    CHECK_EQ(amp_ept_send(&he, "ping", 4, 0), 4);
    amp_rpmsg_poll(&lb.remote);
    CHECK_EQ(rg.count, 1);
    CHECK_EQ(amp_ept_send(&re, "pong", 4, 0), 4);
    amp_rpmsg_poll(&lb.host);
    CHECK_EQ(hg.count, 1);

    /* rings that overlap, or do not fit */
    struct amp_rpmsg_cfg bad;
    CHECK_EQ(amp_rpmsg_cfg_rings(&bad, &lb.win, LB_DA, 16, NUM, 16), -EINVAL);
    CHECK_EQ(amp_rpmsg_cfg_rings(&bad, &lb.win, LB_DA + LB_SHM_SIZE - 0x1000, 0x1000, NUM, 16),
             -EINVAL);
    CHECK_EQ(amp_rpmsg_cfg_rings(&bad, &lb.win, LB_DA, 0, 3, 16), -EINVAL);
    lb_teardown(&lb);
}

AMP_TEST_MAIN(TEST(test_host_reuses_used_len_as_capacity),
              TEST(test_master_prefills_used_ring_and_never_wants_interrupts),
              TEST(test_master_without_always_notify_gets_no_doorbell),
              TEST(test_master_used_index_past_num_refused),
              TEST(test_master_returns_buffers_without_doorbell),
              TEST(test_remote_returns_buffers_without_doorbell),
              TEST(test_remote_returns_buffers_without_doorbell_to_a_waiting_host),
              TEST(test_peer_never_rearms_event_index),
              TEST(test_remote_writes_into_device_readable_headers),
              TEST(test_table_with_unknown_types_accepted),
              TEST(test_feature_mismatch_refused),
              TEST(test_destroy_with_no_tx_buffer_free),
              TEST(test_600_byte_send_with_1024_byte_buffers),
              TEST(test_rings_without_table_both_roles))
