/*
 * amp_rpmsg_lean.c - amp_rpmsg.h for a remote with one endpoint, written
 * for size: the device half of the split virtqueue and the RPMsg bus in
 * one file. amp_rpmsg.c compiles it instead of its own body when
 * AMP_CFG_RPMSG_LEAN is 1 (see amp_config.h for what that leaves out);
 * amp_vring.c still gives the ring layout.
 *
 * Main invariant, the same as amp_vring.c's and amp_rpmsg.c's: a value
 * the host writes (an index, a head, a descriptor, a header, an NS
 * message) is read once, into a local, and checked against our own copy
 * of the geometry before use; a violation is counted (ring errors or
 * msg_errors) and the entry dropped, a ring whose index jumps breaks
 * the link for good (AMP_LINK_BROKEN: -EIO until stop and start). Every buffer we hold is recorded in its slot's `user`
 * byte (S_* below; 0: the host has it), so none is returned twice or
 * leaked, and a pointer the application hands back is taken only if its
 * slot says the application has it.
 *
 * One context: no lock, and nothing but the callback runs while a receive
 * callback does. Calls that would wait try once (-EAGAIN); the program
 * sleeps in amp_rpmsg_wait().
 *
 * Where it differs from the full build beyond what it leaves out (see
 * AMP_CFG_RPMSG_LEAN): the link runs with the name service or nothing
 * (gfeatures holding any other bit: -ENOTSUP); a buffer is cut to our cap
 * where it is taken, so a received one goes back with the cut length; a
 * buffer too short for a header or misaligned is counted in msg_errors
 * (an empty one too) and not in poll's count.
 */
#include <string.h>

#include "amp/amp_rpmsg.h"
#include "amp_util.h"

#define HDR AMP_RPMSG_HDR_SIZE
#define MAX_MSG 0xFFFFu /* the header's len is 16 bits */

/* slot.user: who has a buffer we took from an avail ring */
#define S_HOST 0u    /* the host: not ours (never taken, or given back) */
#define S_RX 1u      /* a received message, being handled */
#define S_RX_HELD 2u /* kept by a callback that returned AMP_RX_HOLD */
#define S_TX 3u      /* a send buffer inside a call */
#define S_TX_FREE 4u /* a send buffer on our free list */
#define S_TX_HELD 5u /* the application got it from alloc_tx */

_Static_assert(sizeof(struct amp_rpmsg_hdr) == 16, "RPMsg header is 16 bytes");
_Static_assert(sizeof(struct amp_rpmsg_ns_msg) == 40, "NS message is 40 bytes");
_Static_assert(!AMP_CFG_LOCK, "AMP_CFG_RPMSG_LEAN runs in one context: set AMP_CFG_LOCK to 0");
_Static_assert(!AMP_CFG_CACHE, "AMP_CFG_RPMSG_LEAN does no cache maintenance: set AMP_CFG_CACHE "
                               "to 0 (coherent or uncached shared memory)");

static void ns_flush(struct amp_rpmsg *dev);

/* memcpy as a call: gcc -Os copies a constant 32 or 40 bytes in an inline
 * loop of 16 to 20 bytes, where the call to the memcpy we link anyway
 * takes 8. The empty asm hides the constant. */
static inline void copy(void *dst, const void *src, size_t n)
{
    __asm__("" : "+r"(n));
    memcpy(dst, src, n);
}

static inline int link_err(const struct amp_rpmsg *dev)
{
    return dev->state == AMP_LINK_BROKEN ? -EIO : -ENOTCONN;
}

/* ==== The device half of a split virtqueue ==== */


static void ring_give(struct amp_vring *vr, uint32_t head, uint32_t len);

/* Take the next available buffer from vr: its head, with where it is and
 * how long in its slot (a snapshot: the descriptor is never read again),
 * the length cut to our cap; or -EAGAIN, -EIO. A buffer that cannot hold
 * a header, or whose u32 fields would sit at an odd address (a fault on
 * cores without unaligned access), goes straight back (msg_errors). Looks
 * at no more than num entries a call, so a host that keeps posting bad
 * ones cannot hold us. The caller sets slot.user. */
static int ring_take(struct amp_rpmsg *dev, struct amp_vring *vr)
{
    volatile struct amp_vring_avail *av = vr->avail;
    uint32_t mask = vr->num - 1u;
    for (uint32_t round = 0; round <= mask; round++) {
        uint16_t last = vr->last_idx, idx = amp_le16(av->idx);
        if (idx == last)
            return -EAGAIN;
        if ((uint16_t)(idx - last) > vr->num) {
            vr->errors++;
            dev->state = AMP_LINK_BROKEN; /* every call says -EIO from now on */
            return -EIO;
        }
        amp_rmb(); /* the entry only after the index that covers it */
        uint32_t head = amp_le16(av->ring[last & mask]);
        vr->last_idx = (uint16_t)(last + 1);
        if (head > mask || vr->slot[head].user != S_HOST) {
            vr->errors++; /* out of range, or a head we hold */
            continue;
        }
        volatile struct amp_vring_desc *d = &vr->desc[head];
        /* the address as two words: a high word != 0 is outside the window */
        const volatile uint32_t *da = (const volatile uint32_t *)&d->addr;
        uint32_t off = amp_le32(da[0]) - vr->shm.da, len = amp_le32(d->len); /* mod 2^32 */
        if ((da[1] | (amp_le16(d->flags) & (AMP_VRING_DESC_F_NEXT | AMP_VRING_DESC_F_INDIRECT))) ||
            !amp_range_ok32(off, len, vr->shm.size)) { /* |: both words read, one branch */
            vr->errors++; /* outside the shared window, chained or indirect */
            continue;
        }
        if (dev->buf_size && len > dev->buf_size)
            len = dev->buf_size; /* never read or write past our cap */
        vr->slot[head].off = off;
        vr->slot[head].len = AMP_MIN(len, HDR + MAX_MSG);
        if (len >= HDR && !((uintptr_t)(vr->shm.va + off) & 3))
            return (int)head;
        dev->st.msg_errors++;
        ring_give(vr, head, vr == &dev->rx ? len : 0); /* rx: the whole buffer, as rx_put */
    }
    return -EAGAIN;
}

/* Give buffer `head` back to the host with len bytes written. */
static void ring_give(struct amp_vring *vr, uint32_t head, uint32_t len)
{
    volatile struct amp_vring_used *u = vr->used;
    uint16_t i = vr->shadow_idx;
    vr->slot[head].user = S_HOST;
    u->ring[i & (vr->num - 1u)].id = amp_le32(head);
    u->ring[i & (vr->num - 1u)].len = amp_le32(len);
    amp_wmb(); /* the host reads the entry and the buffer after the index */
    vr->shadow_idx = ++i;
    u->idx = amp_le16(i);
}

/* Notify the host of what we gave back on vr since the last time, if it
 * wants to be (or always_notify). */
static void ring_kick(struct amp_rpmsg *dev, struct amp_vring *vr, uint32_t id)
{
    if (vr->kick_idx == vr->shadow_idx)
        return;
    vr->kick_idx = vr->shadow_idx;
    amp_mb(); /* our index before the host's flags: or neither wakes the other */
    if (vr->always_notify || !(amp_le16(vr->avail->flags) & AMP_VRING_AVAIL_F_NO_INTERRUPT))
        dev->port.ops->notify(dev->port.ctx, id);
}

/* Ask the host to notify us of new buffers on vr (or stop asking). on:
 * true if some are there already (look before sleeping). */
static bool ring_notify_me(struct amp_vring *vr, bool on)
{
    if (vr->cb_enabled != on) {
        vr->cb_enabled = on;
        vr->used->flags = amp_le16(on ? 0 : AMP_VRING_USED_F_NO_NOTIFY);
    }
    amp_mb(); /* our request before the look, or a buffer may slip by */
    return on && amp_le16(vr->avail->idx) != vr->last_idx;
}

/* ==== Buffers ==== */

static inline uint8_t *buf_va(const struct amp_rpmsg *dev, uint32_t off)
{
    return dev->tx.shm.va + off; /* the same window as rx.shm */
}

/* Notifications for new send buffers are wanted only while we wait for
 * one: an announcement owed, or a send that found none. */
static void tx_notify_update(struct amp_rpmsg *dev)
{
    ring_notify_me(&dev->tx, dev->ns_pending | dev->tx_starved); /* |: no branch */
}

/* Send buffers we hold unsent wait in their slots (S_TX_FREE): given
 * back by the application, or too small for the message that took them
 * (a host may post mixed sizes); tx_free counts them. */
static void tx_free_push(struct amp_rpmsg *dev, uint16_t id)
{
    dev->tx.slot[id].user = S_TX_FREE;
    dev->tx_free++;
}

/* The highest of them with room for need payload bytes, or -1. */
static int tx_free_find(const struct amp_vring *vr, uint32_t need)
{
    int id = (int)vr->num;
    while (--id >= 0 && (vr->slot[id].user != S_TX_FREE || vr->slot[id].len - HDR < need))
        ;
    return id;
}

/* Take a send buffer with room for need payload bytes: its id (slot
 * S_TX, len what we may write), or -EAGAIN, -EMSGSIZE (we hold some,
 * every one smaller), -EIO. Those we hold go first (tx_free counts them:
 * no walk while there are none); a buffer from the avail ring too small
 * for this message joins them, so it never stands in the way of a
 * larger one (we hold each head once: num at most). */
static int tx_get(struct amp_rpmsg *dev, uint32_t need)
{
    struct amp_vring *vr = &dev->tx;
    int id = dev->tx_free ? tx_free_find(vr, need) : -1;
    if (id >= 0) {
        dev->tx_free--;
    } else {
        while ((id = ring_take(dev, vr)) >= 0 && vr->slot[id].len - HDR < need)
            tx_free_push(dev, (uint16_t)id);
        if (id == -EAGAIN && dev->tx_free)
            id = -EMSGSIZE;
    }
    __asm__("" : "+r"(id)); /* one copy of what follows, not one per value of id */
    if (dev->tx_starved != (id == -EAGAIN)) {
        dev->tx_starved = id == -EAGAIN; /* amp_rpmsg_wait() also wakes for one */
        tx_notify_update(dev);
    }
    if (id >= 0)
        vr->slot[id].user = S_TX;
    return id;
}

/* The buffer whose payload is at `payload`, if the application has it in
 * state `user`: its id in ring vr, or -EINVAL. The pointer is checked
 * against the window first; the host chose the addresses, so the slots
 * are searched, the last one handed out first. */
static int buf_lookup(struct amp_rpmsg *dev, struct amp_vring *vr, const void *payload,
                      uint8_t user)
{
    uintptr_t p = (uintptr_t)payload, base = (uintptr_t)vr->shm.va + HDR;
    if (dev->state != AMP_LINK_UP || p < base || p - base >= vr->shm.size)
        return -EINVAL;
    uint32_t mask = vr->num - 1u;
    for (uint32_t i = 0; i <= mask; i++)
        if (vr->slot[i].user == user && vr->slot[i].off == (uint32_t)(p - base))
            return (int)i;
    return -EINVAL;
}

/* Give received buffer id back: the whole buffer, as OpenAMP v2026.04's
 * host takes used.len as the capacity of its next message (Linux ignores
 * it). The kick waits for the end of the batch. */
__attribute__((noinline)) static void rx_put(struct amp_rpmsg *dev, uint32_t id)
{
    ring_give(&dev->rx, id, dev->rx.slot[id].len);
}

/* ==== Sending ==== */

/* The one send path: len bytes from src to dst, copied from data, or if
 * nocopy already written at data (a payload from alloc_tx, which stays
 * the caller's on error). Returns len or -errno. */
static int msg_send(struct amp_rpmsg *dev, uint32_t src, uint32_t dst, const void *data,
                    size_t len, bool nocopy)
{
    if (dev->state != AMP_LINK_UP)
        return link_err(dev);
    if (dst == AMP_ADDR_ANY)
        return -ENOTCONN;
    int id;
    if (AMP_CFG_RPMSG_ZEROCOPY && nocopy)
        id = buf_lookup(dev, &dev->tx, data, S_TX_HELD);
    else if (len > MAX_MSG || (dev->buf_size && len > dev->buf_size - HDR))
        return -EMSGSIZE;
    else
        id = tx_get(dev, (uint32_t)len);
    if (id < 0)
        return id;
    struct amp_vring_slot *s = &dev->tx.slot[id];
    if (len > s->len - HDR)
        return -EMSGSIZE; /* nocopy: the buffer from alloc_tx is smaller */
    uint8_t *buf = buf_va(dev, s->off);
    if (!nocopy && len)
        memcpy(buf + HDR, data, len);
    volatile struct amp_rpmsg_hdr *h = (volatile struct amp_rpmsg_hdr *)buf;
    h->src = amp_le32(src);
    h->dst = amp_le32(dst);
    h->reserved = 0;
    h->len = amp_le16((uint16_t)len);
    h->flags = 0;
    dev->st.tx++;
    ring_give(&dev->tx, (uint32_t)id, HDR + (uint32_t)len);
    ring_kick(dev, &dev->tx, dev->tx_notifyid);
    return (int)len;
}

int amp_ept_sendto(struct amp_ept *ept, uint32_t src, uint32_t dst, const void *data, size_t len,
                   int32_t timeout_ms)
{
    (void)timeout_ms; /* no waiting: see the top */
    if (!ept || !ept->dev || (len && !data))
        return -EINVAL;
    return msg_send(ept->dev, src == AMP_ADDR_ANY ? ept->addr : src,
                    dst == AMP_ADDR_ANY ? ept->dest : dst, data, len, false);
}

int amp_ept_send(struct amp_ept *ept, const void *data, size_t len, int32_t timeout_ms)
{
    return amp_ept_sendto(ept, AMP_ADDR_ANY, AMP_ADDR_ANY, data, len, timeout_ms);
}

/* ==== Zero-copy ==== */

int amp_rpmsg_alloc_tx(struct amp_rpmsg *dev, void **payload, uint32_t *cap, int32_t timeout_ms)
{
    (void)timeout_ms;
    if (!AMP_CFG_RPMSG_ZEROCOPY)
        return -ENOTSUP;
    if (!dev || !payload || !cap)
        return -EINVAL;
    int id = dev->state == AMP_LINK_UP ? tx_get(dev, 0) : link_err(dev);
    if (id < 0)
        return id;
    struct amp_vring_slot *s = &dev->tx.slot[id];
    s->user = S_TX_HELD;
    *payload = buf_va(dev, s->off) + HDR;
    *cap = s->len - HDR;
    return 0;
}

int amp_ept_send_nocopy(struct amp_ept *ept, uint32_t dst, void *payload, size_t len)
{
    if (!AMP_CFG_RPMSG_ZEROCOPY)
        return -ENOTSUP;
    if (!ept || !ept->dev)
        return -EINVAL;
    return msg_send(ept->dev, ept->addr, dst == AMP_ADDR_ANY ? ept->dest : dst, payload, len, true);
}

/* Give back a buffer the application holds in state `user` (S_TX_HELD or
 * S_RX_HELD). 0 or -EINVAL. */
static int buf_release(struct amp_rpmsg *dev, void *payload, uint8_t user)
{
    struct amp_vring *vr = user == S_TX_HELD ? &dev->tx : &dev->rx;
    int id = buf_lookup(dev, vr, payload, user);
    if (id < 0)
        return id;
    if (user == S_TX_HELD) {
        tx_free_push(dev, (uint16_t)id);
    } else {
        rx_put(dev, (uint32_t)id);
        ring_kick(dev, vr, dev->rx_notifyid);
    }
    return 0;
}

int amp_rpmsg_release_tx(struct amp_rpmsg *dev, void *payload)
{
    if (!AMP_CFG_RPMSG_ZEROCOPY)
        return -ENOTSUP;
    return dev ? buf_release(dev, payload, S_TX_HELD) : -EINVAL;
}

int amp_rpmsg_release_rx_gen(struct amp_rpmsg *dev, void *payload, uint32_t gen)
{
    if (!AMP_CFG_RPMSG_ZEROCOPY)
        return -ENOTSUP;
    return !dev ? -EINVAL : dev->gen != gen ? -ESTALE : buf_release(dev, payload, S_RX_HELD);
}

int amp_rpmsg_release_rx(struct amp_rpmsg *dev, void *payload)
{
    if (!AMP_CFG_RPMSG_ZEROCOPY)
        return -ENOTSUP;
    return dev ? buf_release(dev, payload, S_RX_HELD) : -EINVAL;
}

/* ==== Name service ==== */

/* Send an NS message for `name` (32 bytes, NUL-padded) without waiting. */
#if AMP_CFG_RPMSG_EPT_DESTROY
__attribute__((noinline)) /* two callers: one copy */
#endif
static int ns_send(struct amp_rpmsg *dev, const char *name, uint32_t addr, uint32_t flags)
{
    struct amp_rpmsg_ns_msg m;
    copy(m.name, name, sizeof(m.name));
    m.addr = amp_le32(addr);
    m.flags = amp_le32(flags);
    return msg_send(dev, addr, AMP_RPMSG_NS_ADDR, &m, sizeof(m), false);
}

/* Send what we owe the host, as far as buffers allow: the queued destroy
 * first (an endpoint made again under the same name must be announced
 * after its predecessor's destroy), then the announcement. */
static void ns_flush(struct amp_rpmsg *dev)
{
    struct amp_ept *e = dev->epts;
    if (!dev->ns_pending || dev->state != AMP_LINK_UP)
        return;
    bool left = false;
#if AMP_CFG_RPMSG_EPT_DESTROY
    if (dev->ns_dead_n) {
        left = ns_send(dev, dev->ns_dead[0].name, dev->ns_dead[0].addr, AMP_RPMSG_NS_DESTROY) < 0;
        dev->ns_dead_n = left;
    }
#endif
    if ((!left & (e != NULL)) && e->ns_pending) { /* &: one branch fewer */
        left = ns_send(dev, e->name, e->addr, AMP_RPMSG_NS_CREATE) < 0;
        e->ns_pending = left;
        e->announced = !left;
    }
    dev->ns_pending = left;
    tx_notify_update(dev);
}

/* An NS message from the host, in our own copy m. */
static void ns_handle(struct amp_rpmsg *dev, struct amp_rpmsg_ns_msg *m)
{
    m->name[AMP_RPMSG_NAME_SIZE - 1] = '\0'; /* the host's name may lack its NUL */
    uint32_t addr = amp_le32(m->addr), flags = amp_le32(m->flags);
    struct amp_ept *e = dev->epts;
    if (!m->name[0] || addr == AMP_ADDR_ANY || flags > AMP_RPMSG_NS_DESTROY) {
        dev->st.msg_errors++;
        return;
    }
    if (e && !strncmp(e->name, m->name, AMP_RPMSG_NAME_SIZE)) { /* "" never matches */
        if (flags == AMP_RPMSG_NS_DESTROY) {
            if (e->dest == addr) {
                e->dest = AMP_ADDR_ANY;
                e->ns_bound = false;
                if (e->unbind_cb)
                    e->unbind_cb(e);
            }
            return;
        }
        if (e->dest == AMP_ADDR_ANY) { /* bound: "registered before the announcement" */
            e->dest = addr;
            e->ns_bound = true;
        }
        if (e->dest == addr)
            return; /* bound now, or announced again */
    }
    if ((flags == AMP_RPMSG_NS_CREATE) & (dev->ns_cb != NULL))
        dev->ns_cb(dev, m->name, addr, dev->ns_priv);
}

/* ==== Receiving ==== */

/* Handle received buffer id (slot len: the length the host vouches for). */
__attribute__((noinline)) static void rx_one(struct amp_rpmsg *dev, uint32_t id)
{
    struct amp_vring_slot *s = &dev->rx.slot[id];
    uint32_t len = s->len, *bad = &dev->st.msg_errors; /* len >= HDR: ring_take */
    volatile struct amp_rpmsg_hdr *h = (volatile struct amp_rpmsg_hdr *)buf_va(dev, s->off);
    s->user = S_RX;
    uint32_t src = amp_le32(h->src), dst = amp_le32(h->dst), mlen = amp_le16(h->len);
    uint8_t *data = (uint8_t *)h + HDR;
    if (mlen > len - HDR) /* the header claims more than the buffer holds */
        goto drop;
    if (AMP_CFG_RPMSG_NS && dst == AMP_RPMSG_NS_ADDR && dev->ns) {
        struct amp_rpmsg_ns_msg m;
        if (mlen != sizeof(m))
            goto drop;
        copy(&m, data, sizeof(m)); /* one read; the host may rewrite it */
        rx_put(dev, id);
        ns_handle(dev, &m);
        return;
    }
    struct amp_ept *e = dev->epts;
    bad = &dev->st.dropped;
    if (!e || e->addr != dst)
        goto drop;
    if (e->dest == AMP_ADDR_ANY)
        e->dest = src; /* the first message binds an unbound endpoint, as OpenAMP does */
    dev->st.rx++;
    uint32_t gen = dev->cb_gen = dev->gen;
    int keep = e->cb ? e->cb(e, data, mlen, src, e->priv) : AMP_RX_DONE;
    if (dev->gen != gen)
        return; /* the link went down meanwhile: the buffer is gone */
    if (AMP_CFG_RPMSG_ZEROCOPY && keep == AMP_RX_HOLD) {
        s->user = S_RX_HELD;
        return;
    }
    bad = NULL;
drop:
    if (bad)
        (*bad)++;
    rx_put(dev, id);
}

int amp_rpmsg_poll(struct amp_rpmsg *dev)
{
    struct amp_vring *vr = &dev->rx;
    if (dev->state != AMP_LINK_UP)
        return link_err(dev);
    if (dev->in_poll)
        return 0; /* called from a callback: keep order */
    dev->in_poll = true;
    uint32_t gen = dev->gen;
    int n = 0, id;
    /* 2 * num + 1 rounds at most (counted down), so a flooding host cannot hold us */
    for (uint32_t round = 2u * vr->num + 1;
         round-- && dev->gen == gen && dev->state == AMP_LINK_UP;) {
        if ((id = ring_take(dev, vr)) >= 0) {
            n++;
            rx_one(dev, (uint32_t)id);
        } else if (id == -EIO || !ring_notify_me(vr, !dev->busy_poll)) {
            break; /* nothing raced our request: a notification will come */
        }
    }
    if (dev->gen == gen) {
        ring_kick(dev, vr, dev->rx_notifyid);
        if (dev->state != AMP_LINK_UP) {
            n = -EIO;
        } else {
            ns_flush(dev);
        }
    }
    dev->in_poll = false;
    return n;
}

int amp_rpmsg_wait(struct amp_rpmsg *dev, int32_t timeout_ms)
{
    int n = amp_rpmsg_poll(dev), err = 0;
    if (n != 0)
        return n;
    if (dev->tx_starved && ring_notify_me(&dev->tx, true)) {
        dev->tx_starved = false; /* one wake per send that found none: it tries again */
        tx_notify_update(dev);
    } else if (dev->in_poll || !ring_notify_me(&dev->rx, true)) {
        /* in_poll: from a callback, where received messages wait for the
         * poll that runs it: sleep until a kick, or it would spin */
        err = dev->port.ops->wait ? dev->port.ops->wait(dev->port.ctx, timeout_ms) : -EAGAIN;
    }
    n = amp_rpmsg_poll(dev);
    return n != 0 ? n : err;
}

/* ==== Endpoints ==== */

/* "" for a NULL name, an object of our own: a literal goes to a merged
 * string section, which a linker map credits to whichever file it met
 * first (test-qemu.sh counted the firmware's strings as ours). */
static const char no_name;

int amp_ept_create(struct amp_ept *ept, struct amp_rpmsg *dev, const char *name, uint32_t src,
                   uint32_t dest, amp_ept_cb cb, void *priv)
{
    size_t nlen = 0;
    if (!ept || !dev || src == AMP_RPMSG_NS_ADDR)
        return -EINVAL;
    if (!name)
        name = &no_name; /* anonymous: one path */
    while (nlen < AMP_RPMSG_NAME_SIZE && name[nlen])
        nlen++;
    if (nlen == AMP_RPMSG_NAME_SIZE)
        return -EINVAL; /* no room for the NUL the wire format needs */
    if (dev->epts)
        return dev->epts == ept ? -EINVAL : -ENOSPC; /* one endpoint */
    memset(ept, 0, sizeof(*ept));
    memcpy(ept->name, name, nlen);
    ept->dev = dev;
    ept->addr = src == AMP_ADDR_ANY ? AMP_RPMSG_ADDR_RESERVED : src;
    ept->dest = ept->dest0 = dest;
    ept->cb = cb;
    ept->priv = priv;
    if (AMP_CFG_RPMSG_NS && dev->ns && nlen && dest == AMP_ADDR_ANY)
        ept->ns_pending = dev->ns_pending = true; /* announced once the link is up */
    dev->epts = ept;
    ns_flush(dev);
    return 0;
}

#if AMP_CFG_RPMSG_EPT_DESTROY
void amp_ept_destroy(struct amp_ept *ept)
{
    struct amp_rpmsg *dev = ept ? ept->dev : NULL;
    if (!dev || dev->epts != ept)
        return;
    if (ept->announced && dev->ns) { /* owed, sent now or when a buffer comes */
        copy(dev->ns_dead[0].name, ept->name, AMP_RPMSG_NAME_SIZE);
        dev->ns_dead[0].addr = ept->addr;
        dev->ns_dead_n = 1;
        dev->ns_pending = true;
    }
    dev->epts = NULL;
    ept->dev = NULL;
    ept->dest = AMP_ADDR_ANY;
    ns_flush(dev);
}
#endif

void amp_rpmsg_quiesce(struct amp_rpmsg *dev, const struct amp_ept *ept)
{
    (void)dev; /* one context: no callback runs on another thread */
    (void)ept;
}

void amp_ept_set_unbind_cb(struct amp_ept *ept, amp_ept_unbind_cb cb)
{
    ept->unbind_cb = cb;
}

bool amp_ept_is_ready(const struct amp_ept *ept)
{
    return ept && ept->dev && ept->dev->state == AMP_LINK_UP && ept->dest != AMP_ADDR_ANY;
}

/* ==== Device ==== */

void amp_rpmsg_init(struct amp_rpmsg *dev, enum amp_role role, const struct amp_port *port)
{
    memset(dev, 0, sizeof(*dev)); /* AMP_LINK_DOWN */
    dev->port = *port;
    dev->role = role;
}

void amp_rpmsg_set_ns_cb(struct amp_rpmsg *dev, amp_ns_cb cb, void *priv)
{
    dev->ns_cb = cb;
    dev->ns_priv = priv;
}

void amp_rpmsg_set_busy_poll(struct amp_rpmsg *dev, bool on)
{
    dev->busy_poll = on;
    if (dev->state == AMP_LINK_UP)
        ring_notify_me(&dev->rx, !on);
}

uint32_t amp_rpmsg_max_payload(const struct amp_rpmsg *dev)
{
    uint32_t size = dev->buf_size;
    if (!size) { /* no cap: the largest send buffer the host gave */
        for (uint32_t i = 0; i < dev->tx.num; i++)
            size = dev->tx.slot[i].len > size ? dev->tx.slot[i].len : size;
        size = size >= HDR ? size : AMP_CFG_RPMSG_BUF_SIZE;
    }
    return AMP_MIN(size - HDR, MAX_MSG);
}

void amp_rpmsg_get_stats(struct amp_rpmsg *dev, struct amp_rpmsg_stats *st)
{
    *st = dev->st;
    st->ring_errors = dev->rx.errors + dev->tx.errors;
    st->rx_held = st->tx_held = st->tx_free = st->rx_queued = st->tx_queued = 0;
    for (uint32_t i = 0; i < dev->rx.num; i++) {
        uint8_t r = dev->rx.slot[i].user, t = dev->tx.slot[i].user;
        st->rx_held += r == S_RX_HELD;
        st->tx_held += t == S_TX_HELD;
        st->tx_free += t == S_TX_FREE;
        st->rx_queued += r != S_HOST;
        st->tx_queued += t != S_HOST;
    }
}

/* Attach ring vr to the one the host laid out at mem, continuing from the
 * used index it left (RPMsg-Lite's master returns its send buffers to
 * itself through vring1's used ring first): 0, or -EIO above num. */
static int ring_attach(struct amp_vring *vr, uint8_t *mem, uint32_t size,
                       const struct amp_rpmsg_cfg *cfg, struct amp_vring_slot *slots)
{
    uint32_t num = cfg->num;
    memset(vr, 0, sizeof(*vr));
    memset(slots, 0, num * sizeof(*slots));
    vr->desc = (volatile struct amp_vring_desc *)mem;
    vr->avail = (volatile struct amp_vring_avail *)(mem + num * sizeof(struct amp_vring_desc));
    /* used: the ring's last part, flags, idx, ring[num], avail_event */
    vr->used = (volatile struct amp_vring_used *)(mem + size - 6 - num * sizeof(*vr->used->ring));
    vr->slot = slots;
    vr->shm = cfg->shm;
    vr->num = (uint16_t)num;
    vr->cb_enabled = true; /* a zeroed ring asks for notifications */
    vr->always_notify = cfg->always_notify;
    uint16_t idx = amp_le16(vr->used->idx);
    vr->shadow_idx = vr->kick_idx = idx;
    return idx > num ? -EIO : 0;
}

int amp_rpmsg_start(struct amp_rpmsg *dev, const struct amp_rpmsg_cfg *cfg, int32_t timeout_ms)
{
    (void)timeout_ms; /* no waiting: -EAGAIN until the host is ready */
    if (!dev || !cfg)
        return -EINVAL;
    if (dev->state != AMP_LINK_DOWN)
        return -EBUSY;
    if (dev->role != AMP_ROLE_REMOTE)
        return -ENOTSUP; /* the lean build is a remote's */
    if (!dev->port.ops)
        return -EINVAL;
    if (!dev->port.ops->notify)
        return -ENOTSUP; /* a required op (amp_port.h) */
    uint32_t size = (uint32_t)amp_vring_size(cfg->num, cfg->align);
    uint8_t *ring[2];
    if (!size || !cfg->shm.va || (cfg->buf_size && cfg->buf_size < HDR) ||
        (AMP_CFG_VRING_PARTS && cfg->parts))
        return -EINVAL;
    if (!cfg->slots || cfg->nslots < 2 * cfg->num)
        return -E2BIG;
    for (int i = 0; i < 2; i++) {
        uint32_t off = cfg->vring_da[i] - cfg->shm.da; /* mod 2^32: see struct amp_shm */
        ring[i] = cfg->shm.va + off;
        if (!amp_range_ok32(off, size, cfg->shm.size) || ((uintptr_t)ring[i] & 15))
            return -EINVAL;
    }
    if (ring[0] < ring[1] + size && ring[1] < ring[0] + size)
        return -EINVAL; /* overlapping rings: we would read our own writes as the host's */

    /* the features: what the host accepted, if offered and supported */
    volatile struct amp_rsc_vdev *vdev = cfg->vdev;
    uint32_t f = cfg->features & (AMP_CFG_RPMSG_NS << AMP_RPMSG_F_NS);
    if (vdev) {
        if (!(vdev->status & AMP_VIRTIO_STATUS_DRIVER_OK))
            return -EAGAIN; /* the host kicks us after setting it */
        amp_rmb(); /* the rings only after DRIVER_OK */
        uint32_t g = amp_le32(vdev->gfeatures);
        if (g & ~(f & amp_le32(vdev->dfeatures)))
            return -ENOTSUP;
        f = g;
    }
    /* remote: rx is vring1, tx vring0 */
    if (ring_attach(&dev->rx, ring[1], size, cfg, cfg->slots) |
        ring_attach(&dev->tx, ring[0], size, cfg, cfg->slots + cfg->num))
        return -EIO;
    dev->rx_notifyid = cfg->notifyid[1];
    dev->tx_notifyid = cfg->notifyid[0];
    dev->buf_size = cfg->buf_size;
    dev->vdev = vdev;
    dev->features = f;
    dev->ns = f >> AMP_RPMSG_F_NS & 1;
    dev->tx_free = 0;
    dev->tx_starved = false;
    dev->st.msg_errors = dev->st.dropped = 0;
    dev->gen++;
    dev->state = AMP_LINK_UP;
    struct amp_ept *e = dev->epts;
    if (e) {
        e->dest = e->dest0; /* a peer address given at creation outlives links */
        /* a named endpoint without one is announced (only if the link runs NS) */
        e->ns_pending = dev->ns_pending = dev->ns && e->name[0] && e->dest0 == AMP_ADDR_ANY;
    }
    tx_notify_update(dev);
    if (dev->busy_poll)
        ring_notify_me(&dev->rx, false);
    ns_flush(dev);
    return 0;
}

void amp_rpmsg_stop(struct amp_rpmsg *dev)
{
    struct amp_ept *e = dev->epts;
    if (dev->state == AMP_LINK_DOWN)
        return;
    dev->state = AMP_LINK_DOWN;
    dev->gen++;
    dev->ns_pending = false;
    dev->ns_dead_n = 0; /* the host forgets the link's endpoints too */
    if (!e)
        return;
    bool was_bound = e->dest != AMP_ADDR_ANY;
    e->dest = AMP_ADDR_ANY;
    e->announced = e->ns_pending = e->ns_bound = false;
    if (was_bound && e->unbind_cb)
        e->unbind_cb(e);
}
