/*
 * hostile.c - a remote that turns on the host once it is bound.
 *
 * It comes up as a "vuart-channel" echo service, like virtual_uart. When
 * the host sends "go" (so both endpoints are bound, and the host has seen
 * the echoes before it), it drops the amp library and drives the rings by
 * hand for a set number of rounds (the core has no clock: rounds are
 * counted). It keeps serving - it takes what the host sends and gives the
 * buffers back, and sends messages of its own - so the host keeps sending
 * and receiving, but it lies while doing so, more and more:
 *
 *   phase 1  lies on the rings' contents: used entries with ids out of
 *            range, duplicated or never posted, lengths of 0, 15, past
 *            the buffer or 0xFFFFFFFF; RPMsg headers whose len exceeds
 *            the buffer, unknown destinations, NS messages of the wrong
 *            length, without a NUL, with flags 7 or address ANY; random
 *            bytes over the buffers, its own resource table (which the
 *            host set up) and its trace buffer (which the host reads)
 *   phase 2  also random words over the vrings themselves: descriptors,
 *            avail and used rings, flags and event indices
 *   phase 3  also index jumps that no honest device makes
 *
 * and then it says so on the UART ("hostile: done ...") and sleeps on its
 * doorbell, never returning another buffer. Random values come from a
 * xorshift generator. Every address it dereferences is checked against
 * shared memory first: the point is to attack the host, not to fault.
 *
 * A message "attack 2" or "attack 3" before "go" starts the attack in that
 * phase, so that a host whose link a phase-1 lie already broke can
 * restart it and meet the later phases on a live link.
 *
 * If the host sends "flood" instead of "go", it attacks differently: it
 * sends honest messages as fast as the host gives it buffers, forever, so
 * the host always has more to read than one poll takes.
 *
 * HOSTILE_ROUNDS sets the length of the attack (default 3000 rounds of
 * 64 operations, each round followed by a wait of about a millisecond).
 */
#include <string.h>

#include "vcore.h"

#ifndef HOSTILE_ROUNDS
#define HOSTILE_ROUNDS 3000u
#endif
#define OPS_PER_ROUND 64u
#define HDR AMP_RPMSG_HDR_SIZE
#define SHM_END ((uint64_t)AMP_VCORE_SHM_DA + AMP_VCORE_SHM_SIZE)

static struct amp_rpmsg dev;
static struct amp_ept ept;
static struct amp_vring_slot slots[2 * VC_VRING_NUM_MAX];
static uint32_t host_addr = AMP_ADDR_ANY;
static uint32_t echoes;
static bool flood, go;
static int first_phase = 1;

extern char vc_trace_buf[VC_TRACE_SIZE];

/* ==== Randomness ==== */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void) /* xorshift64* */
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545F4914F6CDD1Dull) >> 32);
}

static uint32_t below(uint32_t n)
{
    return n ? rnd() % n : 0;
}

/* A value that breaks assumptions: edges more often than chance would. */
static uint32_t nasty(uint32_t fair)
{
    static const uint32_t edges[] = {0, 1, 15, 16, 17, 511, 512, 513, 0x7FFF, 0xFFFF, 0x10000,
                                     0x7FFFFFFF, 0x80000000u, 0xFFFFFFF0u, 0xFFFFFFFFu};
    switch (below(4)) {
    case 0:
        return edges[below(VC_ARRAY_SIZE(edges))];
    case 1:
        return rnd();
    default:
        return fair;
    }
}

/* ==== The rings, as the host laid them out ==== */

struct ring {
    volatile struct amp_vring_desc *desc;
    volatile struct amp_vring_avail *avail;
    volatile struct amp_vring_used *used;
    uint32_t size;     /* bytes */
    uint16_t last;     /* next avail entry to take */
    uint16_t used_idx; /* what we published */
};

static struct ring ring[2]; /* vring0: we send (host's rx); vring1: host sends */
static uint32_t num, mask;
static uint64_t pool_lo, pool_hi; /* the buffers, as the host's descriptors name them */

static struct {
    uint32_t taken, returned, sent, lies, scribbles, jumps, kicks;
} count;

static bool in_shm(uint64_t addr, uint64_t len)
{
    return addr >= AMP_VCORE_SHM_DA && addr <= SHM_END && len <= SHM_END - addr;
}

static void ring_init(int r, uint64_t da, uint32_t align, uint16_t last, uint16_t used_idx)
{
    uint8_t *base = (uint8_t *)(uintptr_t)da;
    ring[r].desc = (volatile struct amp_vring_desc *)base;
    ring[r].avail = (volatile struct amp_vring_avail *)(base + amp_vring_avail_offset(num));
    ring[r].used = (volatile struct amp_vring_used *)(base + amp_vring_used_offset(num, align));
    ring[r].size = (uint32_t)amp_vring_size(num, align);
    ring[r].last = last;
    ring[r].used_idx = used_idx;
}

/* Take the next buffer the host made available on ring r: its head, or
 * -1. The descriptor is checked only so that we do not fault. */
static int take(int r, uint64_t *addr, uint32_t *len)
{
    struct ring *q = &ring[r];
    if (q->avail->idx == q->last)
        return -1;
    uint16_t head = q->avail->ring[q->last++ & mask];
    if (head >= num)
        return -1;
    uint64_t a = q->desc[head].addr;
    uint32_t l = q->desc[head].len;
    if (!in_shm(a, l) || l < HDR)
        return -1;
    *addr = a;
    *len = l;
    count.taken++;
    return head;
}

/* Publish a used entry on ring r: honest, or one of the lies. */
static void give(int r, uint32_t id, uint32_t len, bool lie)
{
    struct ring *q = &ring[r];
    if (lie) {
        count.lies++;
        switch (below(6)) {
        case 0:
            id = num + below(4); /* out of range */
            break;
        case 1:
            id = 0xFFFFFFFFu;
            break;
        case 2:
            id = below(num); /* maybe not outstanding, maybe a duplicate */
            break;
        case 3:
            len = nasty(len); /* past the buffer, or short of a header */
            break;
        default:
            len = 0xFFFFFFFFu;
        }
    }
    volatile struct amp_vring_used_elem *e = &q->used->ring[q->used_idx & mask];
    e->id = id;
    e->len = len;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    q->used->idx = ++q->used_idx;
    count.returned++;
}

/* Write an RPMsg message into a host buffer; maybe a lying one. */
static uint32_t compose(uint64_t addr, uint32_t room, bool lie)
{
    volatile struct amp_rpmsg_hdr *h = (volatile struct amp_rpmsg_hdr *)(uintptr_t)addr;
    volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)(addr + HDR);
    uint32_t n = below(room - HDR + 1 < 64 ? room - HDR + 1 : 64);
    h->src = ept.addr;
    h->dst = host_addr;
    h->reserved = 0;
    h->len = (uint16_t)n;
    h->flags = 0;
    for (uint32_t i = 0; i < n; i++)
        p[i] = (uint8_t)('a' + i % 26);
    if (!lie)
        return HDR + n;
    count.lies++;
    switch (below(8)) {
    case 0:
        h->len = (uint16_t)nasty(room); /* longer than the buffer */
        break;
    case 1:
        h->dst = nasty(1024 + below(8)); /* nobody there */
        break;
    case 2:
        h->reserved = rnd();
        h->flags = (uint16_t)rnd();
        break;
    default: { /* a name-service message, wrong in some way */
        h->dst = AMP_RPMSG_NS_ADDR;
        uint32_t len = below(3) ? 40 : nasty(40) & 0x3F;
        if (len > room - HDR)
            len = room - HDR;
        h->len = (uint16_t)len;
        for (uint32_t i = 0; i < len; i++)
            p[i] = (uint8_t)('A' + below(26)); /* a name with no NUL */
        if (len >= 40) {
            if (below(2))
                p[below(32)] = 0;
            volatile uint32_t *w = (volatile uint32_t *)(uintptr_t)(addr + HDR + 32);
            w[0] = below(2) ? AMP_ADDR_ANY : nasty(0x400);
            w[1] = below(2) ? 7 : below(3);
        }
        return HDR + len;
    }
    }
    return HDR + n;
}

/* ==== One operation ==== */

static void scribble_buffers(void)
{
    if (pool_hi <= pool_lo)
        return;
    volatile uint32_t *w = (volatile uint32_t *)(uintptr_t)(pool_lo + (below((uint32_t)(pool_hi - pool_lo)) & ~3u));
    *w = nasty(*w);
    count.scribbles++;
}

static void scribble_rings(void)
{
    int r = (int)below(2);
    volatile uint32_t *w = (volatile uint32_t *)((uintptr_t)ring[r].desc + (below(ring[r].size) & ~3u));
    *w = nasty(*w ^ (1u << below(32)));
    count.scribbles++;
}

static void scribble_mine(void)
{
    /* the resource table the host set up, and the trace it reads */
    volatile uint8_t *t = below(2) ? (volatile uint8_t *)vc_fw_vdev() - 24 : (volatile uint8_t *)vc_trace_buf;
    uint32_t size = t == (volatile uint8_t *)vc_trace_buf ? VC_TRACE_SIZE : 140;
    t[below(size)] = (uint8_t)(0x20 + below(0x5F)); /* never a NUL */
    count.scribbles++;
}

static void jump(void)
{
    int r = (int)below(2);
    uint16_t v = (uint16_t)(below(2) ? ring[r].used_idx + num + 1 + below(100) : rnd());
    ring[r].used->idx = v;
    if (below(2))
        ring[r].used_idx = v; /* and carry on from there */
    count.jumps++;
}

static void op(int phase)
{
    uint64_t addr;
    uint32_t len;
    int head;
    switch (below(16)) {
    case 0: case 1: case 2: case 3: /* take what the host sent, give the buffer back */
        if ((head = take(1, &addr, &len)) >= 0)
            give(1, (uint32_t)head, 0, below(8) == 0);
        break;
    case 4: case 5: case 6: /* send the host something */
        if ((head = take(0, &addr, &len)) >= 0) {
            bool lie = below(4) == 0;
            uint32_t n = compose(addr, len, lie);
            give(0, (uint32_t)head, n, lie && below(2));
            count.sent++;
        }
        break;
    case 7: /* an entry for nothing at all. More entries than the host has
             * buffers out marks its ring garbage, rightly: in phase 1 stay
             * within half a ring of where the host said it reads
             * (used_event), and off its tx ring, where few are out */
        if (phase >= 2 || (uint16_t)(ring[0].used_idx - ring[0].avail->ring[num]) < num / 2)
            give(phase >= 2 ? (int)below(2) : 0, below(num + 2), nasty(HDR + 4), true);
        break;
    case 8: case 9: case 10:
        scribble_buffers();
        break;
    case 11:
        scribble_mine();
        break;
    case 12: case 13:
        if (phase >= 2)
            scribble_rings();
        break;
    case 14:
        if (phase >= 3 && below(64) == 0)
            jump();
        break;
    default:
        vc_kick();
        count.kicks++;
    }
}

/* ==== Bring-up: an honest echo service until the host has spoken ==== */

static int echo_cb(struct amp_ept *e, void *data, size_t len, uint32_t src, void *priv)
{
    (void)priv;
    const char *m = data;
    host_addr = src;
    if (len == 2 && !memcmp(m, "go", 2)) {
        go = true;
        return AMP_RX_DONE;
    }
    if (len == 5 && !memcmp(m, "flood", 5))
        flood = go = true;
    if (len == 8 && !memcmp(m, "attack ", 7) && m[7] >= '1' && m[7] <= '3')
        first_phase = m[7] - '0';
    amp_ept_sendto(e, AMP_ADDR_ANY, src, data, len, AMP_WAIT_FOREVER);
    echoes++;
    return AMP_RX_DONE;
}

/* Honest messages, as many as the host takes; what it sends is dropped. */
static _Noreturn void flood_host(void)
{
    static uint8_t msg[64];
    vc_printf("hostile: flooding %u\n", host_addr);
    for (uint32_t n = 0;; n++) {
        for (size_t i = 0; i < sizeof(msg); i++)
            msg[i] = (uint8_t)(n + i);
        int err = amp_ept_sendto(&ept, AMP_ADDR_ANY, host_addr, msg, sizeof(msg), AMP_WAIT_FOREVER);
        if (err < 0 || (n % 16 == 0 && amp_rpmsg_poll(&dev) < 0)) {
            vc_printf("hostile: flood ended (%d)\n", err);
            for (;;)
                vc_wait_kick(AMP_WAIT_FOREVER);
        }
    }
}

int main(void)
{
    vc_printf("hostile: start\n");
    volatile struct amp_rsc_vdev *vdev = vc_fw_vdev();
    int err = vc_rpmsg_start(&dev, vdev, slots, VC_ARRAY_SIZE(slots));
    if (!err)
        err = amp_ept_create(&ept, &dev, "vuart-channel", AMP_ADDR_ANY, AMP_ADDR_ANY, echo_cb, NULL);
    if (err) {
        vc_printf("hostile: rpmsg failed (%d)\n", err);
        return 1;
    }
    while (!go) {
        int n = amp_rpmsg_wait(&dev, AMP_WAIT_FOREVER);
        if (n < 0 && n != -ETIMEDOUT) {
            vc_printf("hostile: link lost before the attack (%d)\n", n);
            return 2;
        }
    }

    if (flood)
        flood_host();

    /* from here on the library is not used: the rings are driven by hand,
     * starting where the library left them */
    num = dev.rx.num;
    mask = num - 1;
    uint32_t align = vdev->vring[0].align;
    ring_init(0, vdev->vring[0].da, align, dev.tx.last_idx, dev.tx.shadow_idx);
    ring_init(1, vdev->vring[1].da, align, dev.rx.last_idx, dev.rx.shadow_idx);
    pool_lo = ring[0].desc[0].addr; /* the host's first rx buffer opens its pool */
    pool_hi = pool_lo + 2ull * num * ring[0].desc[0].len;
    if (!in_shm(pool_lo, pool_hi - pool_lo))
        pool_hi = pool_lo = 0;
    vc_printf("hostile: bound to %u after %u echoes, attacking for %u rounds from phase %d\n",
              host_addr, echoes, HOSTILE_ROUNDS, first_phase);

    for (uint32_t round = 0; round < HOSTILE_ROUNDS; round++) {
        int phase = round < HOSTILE_ROUNDS * 6 / 10 ? 1 : round < HOSTILE_ROUNDS * 9 / 10 ? 2 : 3;
        if (phase < first_phase)
            phase = first_phase;
        for (uint32_t i = 0; i < OPS_PER_ROUND; i++)
            op(phase);
        vc_kick();
        vc_wait_kick(1); /* about a millisecond, or until the host kicks */
    }
    vc_printf("hostile: done: %u taken, %u returned, %u sent, %u lies, %u scribbles, %u jumps, "
              "%u kicks\n",
              count.taken, count.returned, count.sent, count.lies, count.scribbles, count.jumps,
              count.kicks);
    for (;;)
        vc_wait_kick(AMP_WAIT_FOREVER); /* awake, answering nothing */
}
