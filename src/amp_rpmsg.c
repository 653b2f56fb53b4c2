/*
 * amp_rpmsg.c - the RPMsg bus: buffers, endpoints, name service.
 *
 * Main invariant: every buffer is in exactly one place, recorded in its
 * vring slot. Host: an rx buffer is with the remote (slot QUEUED), in a
 * callback (RX_CB) or held by the application (RX_HELD); a tx buffer is
 * free (TX_FREE, on our free list), taken by the application (TX_HELD) or
 * with the remote (QUEUED). Remote: every buffer it has is a head taken
 * from an avail ring (slot QUEUED) and is in a callback, held, on the
 * free list (a send buffer given back unsent, or too small for the
 * message that took it) or taken for sending, until it goes back on the
 * used ring. So a buffer can be neither leaked nor returned twice, and
 * a pointer handed back by the application is accepted only if its slot
 * says the application has it. The counts of held and free buffers are
 * read off the slots when asked for, so they cannot drift from them.
 *
 * What the peer wrote in a buffer is checked before use and read once:
 * the header's length against the buffer (and our cap), an NS message's
 * length, and its name, which we NUL-terminate in our own copy. What we
 * wrote in a buffer we gave away is never read back: the peer may write
 * into it (OpenAMP's remote writes into the headers it was given to
 * read), so each send writes the whole header again, and what we know of
 * a buffer (where, how long) lives in its slot, not in the ring.
 *
 * The two roles differ only in how a buffer is taken and given back; the
 * small helpers under "Buffers" hold every role branch of the message
 * path. Every message, copied, zero-copy or an announcement, leaves
 * through one function, msg_send().
 */
#include <string.h>

#include "amp/amp_rpmsg.h"
#include "amp_util.h"

#if AMP_CFG_RPMSG_LEAN
#include "amp_rpmsg_lean.c" /* a remote with one endpoint, written for size */
#else

#define HDR AMP_RPMSG_HDR_SIZE
#define NO_SLOT 0xFFFFu
#define MAX_MSG 0xFFFFu /* the header's len is 16 bits */

/* slot.user: where a buffer is, beyond the vring's own state */
#define U_NONE 0u    /* with the peer, or in transit inside a call */
#define U_TX_FREE 1u /* on our free list */
#define U_TX_HELD 2u /* the application got it from alloc_tx */
#define U_RX_CB 3u   /* being delivered to a callback */
#define U_RX_HELD 4u /* kept by a callback that returned AMP_RX_HOLD */
#define U_RX_EARLY 5u /* released by another thread before its callback returned */

_Static_assert(sizeof(struct amp_rpmsg_hdr) == 16, "RPMsg header is 16 bytes");
_Static_assert(sizeof(struct amp_rpmsg_ns_msg) == 40, "NS message is 40 bytes");
_Static_assert(AMP_CFG_RPMSG_EPT_MAX == 0 || AMP_CFG_RPMSG_EPT_MAX == 1, "AMP_CFG_RPMSG_EPT_MAX: 0 or 1");
_Static_assert(AMP_CFG_RPMSG_NS_DESTROY_MAX >= 1 && AMP_CFG_RPMSG_NS_DESTROY_MAX <= 255,
               "AMP_CFG_RPMSG_NS_DESTROY_MAX: 1..255");

static int ns_send(struct amp_rpmsg *dev, const char *name, uint32_t addr, uint32_t flags);
static void ns_flush(struct amp_rpmsg *dev);

/* ==== Helpers ==== */

/* The endpoint after e on the device's list. With AMP_CFG_RPMSG_EPT_MAX
 * 1 there is never one, and every walk of the list is a single look. */
#define EPT_NEXT(e) (AMP_CFG_RPMSG_EPT_MAX == 1 ? NULL : (e)->next)

static inline bool is_host(const struct amp_rpmsg *dev)
{
    return AMP_CFG_HOST && (!AMP_CFG_REMOTE || dev->role == AMP_ROLE_HOST);
}

/* Does this link run the name service? */
static inline bool ns_on(const struct amp_rpmsg *dev)
{
    return AMP_CFG_RPMSG_NS && dev->ns;
}

/* Why a call on a link that is not up fails. */
static inline int link_err(const struct amp_rpmsg *dev)
{
    return dev->state == AMP_LINK_BROKEN ? -EIO : -ENOTCONN;
}

static inline uint8_t *buf_va(const struct amp_rpmsg *dev, uint32_t off)
{
    return dev->tx.shm.va + off; /* the same window as rx.shm */
}

static void notify(struct amp_rpmsg *dev, uint32_t id)
{
    if (dev->port.ops->notify)
        dev->port.ops->notify(dev->port.ctx, id);
}

/* The port's clock, 0 without one. */
static uint32_t clock_ms(const struct amp_rpmsg *dev)
{
    return dev->port.ops->now_ms ? dev->port.ops->now_ms(dev->port.ctx) : 0;
}

static struct amp_ept *ept_by_addr(struct amp_rpmsg *dev, uint32_t addr)
{
    for (struct amp_ept *e = dev->epts; e; e = EPT_NEXT(e))
        if (e->addr == addr)
            return e;
    return NULL;
}

/* ==== Buffers: the only role-specific part of the message path ==== */

static inline bool vr_enable_cb(const struct amp_rpmsg *dev, struct amp_vring *vr)
{
    return is_host(dev) ? amp_vring_drv_enable_cb(vr) : amp_vring_dev_enable_cb(vr);
}

static inline void vr_disable_cb(const struct amp_rpmsg *dev, struct amp_vring *vr)
{
    if (is_host(dev))
        amp_vring_drv_disable_cb(vr);
    else
        amp_vring_dev_disable_cb(vr);
}

/* Notify the peer about ring vr (notify id `id`) if it wants to be. */
static inline void vr_kick(struct amp_rpmsg *dev, struct amp_vring *vr, uint32_t id)
{
    if (is_host(dev) ? amp_vring_drv_kick_prepare(vr) : amp_vring_dev_kick_prepare(vr))
        notify(dev, id);
}

static void tx_free_push(struct amp_rpmsg *dev, uint16_t id)
{
    dev->tx.slot[id].user = U_TX_FREE;
    dev->tx.slot[id].next = dev->tx_free;
    dev->tx_free = id;
}

/* Host: put the send buffers the remote has consumed back on the free
 * list. 0 or -EIO. Called only when the free list is empty (and for the
 * stats): used->idx is a line the remote writes for every message, so
 * reading it on every send costs a cache miss per message, and per batch
 * it costs one. */
static int tx_reclaim(struct amp_rpmsg *dev)
{
    uint32_t len;
    int id;
    while ((id = amp_vring_drv_get_used(&dev->tx, &len)) >= 0)
        tx_free_push(dev, (uint16_t)id);
    return id == -EIO ? id : 0;
}

/* Room for payload in send buffer id. The slot's length is what we may
 * write: the host's buffer size, or for the remote what tx_get() left of
 * the host's buffer after our cap. */
static uint32_t tx_cap(const struct amp_rpmsg *dev, uint16_t id)
{
    return dev->tx.slot[id].len - HDR;
}

/* Take a send buffer with room for need payload bytes, without waiting:
 * its id; or -EAGAIN (none to be had), -EMSGSIZE (remote: buffers to be
 * had, every one smaller), -EIO (the ring is broken: nothing sent on it
 * would arrive). The free list goes first, first fit; the host's buffers
 * are of one size, checked against need before we get here. A remote
 * takes from the avail ring until one fits: a host may post mixed sizes,
 * and one too small for this message waits on the free list for one it
 * fits, so it never stands in the way of a larger buffer. */
static int tx_get(struct amp_rpmsg *dev, uint32_t need)
{
    struct amp_vring *vr = &dev->tx;
    uint32_t off, len;
    int id;

    if (vr->broken || (is_host(dev) && dev->tx_free == NO_SLOT && tx_reclaim(dev) < 0))
        return -EIO;
    for (uint16_t *p = &dev->tx_free; *p != NO_SLOT; p = &vr->slot[*p].next) {
        id = *p;
        if (tx_cap(dev, (uint16_t)id) >= need) {
            *p = vr->slot[id].next;
            vr->slot[id].user = U_NONE;
            return id;
        }
    }
    if (is_host(dev))
        return -EAGAIN;
    /* at most num + 1 buffers a call: we hold each head once, and a peer
     * that keeps posting bad ones (or a ring whose used part aliases its
     * avail part) cannot hold us here */
    for (uint32_t n = 0; n <= vr->num; n++) {
        if ((id = amp_vring_dev_get_avail(vr, &off, &len)) < 0)
            return id == -EAGAIN && dev->tx_free != NO_SLOT ? -EMSGSIZE : id;
        /* the header's u32 fields need a 4-byte aligned buffer: at an odd
         * address they fault on cores without unaligned access (M0) */
        if (len < HDR || ((uintptr_t)buf_va(dev, off) & 3)) {
            /* too small to hold a header, or misaligned: hand it straight back */
            dev->st.msg_errors++;
            amp_vring_dev_put_used(vr, (uint16_t)id, 0);
            continue;
        }
        /* never write more than our cap, or than a header can say */
        if (dev->buf_size && len > dev->buf_size)
            len = dev->buf_size;
        vr->slot[id].len = AMP_MIN(len, HDR + MAX_MSG);
        if (tx_cap(dev, (uint16_t)id) >= need)
            return id;
        tx_free_push(dev, (uint16_t)id);
    }
    return -EAGAIN;
}

/* Send buffer id holding a message of len payload bytes. */
static void tx_put(struct amp_rpmsg *dev, uint16_t id, uint32_t len)
{
    struct amp_vring *vr = &dev->tx;
    dev->st.tx++;
    if (is_host(dev)) {
        /* the descriptor keeps the whole buffer's length: the header says
         * how much is used, and an unchanged descriptor is not rewritten */
        amp_vring_drv_add(vr, id, vr->slot[id].off, vr->slot[id].len, 0);
    } else {
        amp_vring_dev_put_used(vr, id, HDR + len);
    }
    vr_kick(dev, vr, dev->tx_notifyid);
}

/* Next received buffer: its id, with its offset and the length the peer
 * vouches for; or -EAGAIN / -EIO. */
static int rx_get(struct amp_rpmsg *dev, uint32_t *off, uint32_t *len)
{
    if (is_host(dev)) {
        int id = amp_vring_drv_get_used(&dev->rx, len);
        if (id >= 0)
            *off = dev->rx.slot[id].off;
        return id;
    }
    return amp_vring_dev_get_avail(&dev->rx, off, len);
}

/* Give a received buffer back; the kick waits for the end of the batch. */
static void rx_put(struct amp_rpmsg *dev, uint16_t id)
{
    if (AMP_CFG_LOCK || AMP_CFG_RPMSG_ZEROCOPY) /* else it never left U_NONE */
        dev->rx.slot[id].user = U_NONE;
    if (is_host(dev))
        amp_vring_drv_add(&dev->rx, id, dev->rx.slot[id].off, dev->buf_size,
                          AMP_VRING_DESC_F_WRITE);
    else /* the whole buffer: OpenAMP v2026.04's host takes used.len as the
          * capacity of the buffer it sends in next (Linux ignores it) */
        amp_vring_dev_put_used(&dev->rx, id, dev->rx.slot[id].len);
    dev->rx_returned = true;
}

static void rx_kick(struct amp_rpmsg *dev)
{
    if (!dev->rx_returned)
        return;
    dev->rx_returned = false;
    vr_kick(dev, &dev->rx, dev->rx_notifyid);
}

/* Notifications for returned send buffers are wanted only while someone
 * waits for one: a sender, an announcement we owe, or a program that
 * found none free and will sleep in amp_rpmsg_wait(). */
static void tx_cb_update(struct amp_rpmsg *dev)
{
    if ((AMP_CFG_RPMSG_WAIT && dev->tx_waiters) || dev->ns_pending || dev->tx_starved)
        vr_enable_cb(dev, &dev->tx);
    else
        vr_disable_cb(dev, &dev->tx);
}

/* The buffer whose payload is at `payload`, if the application may hand
 * it back in state `user`: its id in ring vr, or -EINVAL. The pointer is
 * the application's: it is checked against the window before anything. */
static int buf_lookup(struct amp_rpmsg *dev, struct amp_vring *vr, const void *payload,
                      uint8_t user)
{
    uintptr_t p = (uintptr_t)payload, base = (uintptr_t)dev->tx.shm.va + HDR;
    if (!payload || p < base || p - base >= dev->tx.shm.size)
        return -EINVAL;
    uint32_t off = (uint32_t)(p - base);

    if (is_host(dev)) {
        /* host buffers sit at fixed places: rx ring id i is buffer i, tx
         * ring id j is buffer num + j */
        if (off < dev->pool_off || (off - dev->pool_off) % dev->buf_size)
            return -EINVAL;
        uint32_t k = (off - dev->pool_off) / dev->buf_size;
        int id = -EINVAL;
        if (vr == &dev->rx && k < dev->rx.num)
            id = (int)k;
        else if (vr == &dev->tx && k >= dev->rx.num && k - dev->rx.num < dev->ntx)
            id = (int)(k - dev->rx.num);
        return id >= 0 && vr->slot[id].user == user ? id : -EINVAL;
    }
    /* the host chose the addresses: look for the slot, last one first; a
     * slot the application has is one we took (QUEUED) */
    uint32_t mask = vr->num - 1u;
    for (uint32_t n = 0; n <= mask; n++) {
        uint32_t i = (dev->tx_hint + n) & mask;
        if (vr->slot[i].user == user && vr->slot[i].off == off)
            return (int)i;
    }
    return -EINVAL;
}

/* ==== Sending ==== */

static int32_t time_left(struct amp_rpmsg *dev, int32_t timeout, uint32_t start)
{
    if (timeout < 0 || !dev->port.ops->now_ms)
        return timeout;
    uint32_t spent = clock_ms(dev) - start;
    return spent >= (uint32_t)timeout ? 0 : (int32_t)((uint32_t)timeout - spent);
}

/* Call try(dev, arg) until it says something other than -EAGAIN, sleeping
 * in the port's wait in between (a busy-polling device spins instead, and
 * tx_poll_ms cuts the sleep into slices), for at most timeout ms. Lock
 * held; the wait drops it, so anything may change meanwhile. Returns what
 * try() said, -ETIMEDOUT, -EAGAIN (the port cannot wait), -ECONNRESET (the link went
 * up, down or broken meanwhile) or the port's error. Without a clock, a
 * wait that times out takes the whole timeout: try() gets one more look. */
static int wait_for(struct amp_rpmsg *dev, int (*try)(struct amp_rpmsg *, uint32_t), uint32_t arg,
                    int32_t timeout)
{
    const struct amp_port_ops *ops = dev->port.ops;
    uint32_t start = clock_ms(dev), gen = dev->gen;
    uint8_t state = dev->state;
    for (;;) {
        int ret = try(dev, arg);
        if (ret != -EAGAIN)
            return ret;
        int32_t left = time_left(dev, timeout, start);
        if (left == 0)
            return -ETIMEDOUT;
        if (!ops->wait)
            return -EAGAIN;
        /* Some peers never notify a returned buffer (RPMsg-Lite v5.4.0
         * without consumed-buffer notification): busy-poll spins (waits
         * 0 ms, the lock dropped) rather than sleep for a notification, and
         * tx_poll_ms looks again that often. Only with a clock, which ends
         * the wait as a whole. */
        uint32_t slice = dev->busy_poll ? 0 : dev->tx_poll_ms ? dev->tx_poll_ms : (uint32_t)left;
        if (!ops->now_ms || slice > (uint32_t)left) /* AMP_WAIT_FOREVER is huge as unsigned */
            slice = (uint32_t)left;
        int err = ops->wait(dev->port.ctx, (int32_t)slice);
        if (dev->gen != gen || dev->state != state)
            return -ECONNRESET;
        if (err == -ETIMEDOUT && !ops->now_ms)
            timeout = 0;
        else if (err && err != -ETIMEDOUT)
            return err;
    }
}

/* wait_for() step of a sender: ask to be told when buffers come back,
 * then look again, as one may have raced the request. */
static int tx_try(struct amp_rpmsg *dev, uint32_t need)
{
    tx_cb_update(dev);
    return tx_get(dev, need);
}

/* Take a send buffer with room for need payload bytes, waiting up to
 * timeout ms. Lock held. */
static int tx_get_wait(struct amp_rpmsg *dev, uint32_t need, int32_t timeout)
{
    int id = tx_get(dev, need);
    if (dev->tx_starved != (id == -EAGAIN)) {
        /* none free: amp_rpmsg_wait() also wakes for a returned one */
        dev->tx_starved = id == -EAGAIN;
        tx_cb_update(dev);
    }
    if (!AMP_CFG_RPMSG_WAIT || id != -EAGAIN || timeout == 0 || !dev->port.ops->wait)
        return id;
    uint32_t gen = dev->gen;
    dev->tx_waiters++;
    id = wait_for(dev, tx_try, need, timeout);
    if (dev->gen == gen) { /* a new link starts with no waiters */
        dev->tx_waiters--;
        if (id >= 0)
            dev->tx_starved = false; /* it got one: no wake owed for it */
        tx_cb_update(dev);
    }
    return id;
}

/* The one send path. Sends len bytes from src to dst: copied from data
 * into a buffer taken here, waiting up to timeout ms for one; or, if
 * nocopy, already written at data, a payload from alloc_tx. Returns len or
 * -errno; on error a buffer from alloc_tx stays the caller's. Lock held.
 * ept: the endpoint sending (NULL: the bus itself), destroyed by another
 * thread if ept->dev is no longer dev after a wait (-EINVAL, as after). */
static int msg_send(struct amp_rpmsg *dev, const struct amp_ept *ept, uint32_t src,
                    uint32_t dst, const void *data, size_t len, int32_t timeout, bool nocopy)
{
    if (dev->state != AMP_LINK_UP)
        return link_err(dev);
    if (dst == AMP_ADDR_ANY)
        return -ENOTCONN;
    /* a message put on a broken ring would be lost; tx_get() looks too,
     * as the ring may break while we wait for a buffer */
    if (dev->tx.broken)
        return -EIO;
    int id;
    if (AMP_CFG_RPMSG_ZEROCOPY && nocopy)
        id = buf_lookup(dev, &dev->tx, data, U_TX_HELD);
    else if (len > MAX_MSG || (dev->buf_size && len > dev->buf_size - HDR))
        return -EMSGSIZE; /* without a cap, the buffers we can get decide (tx_get) */
    else if ((id = tx_get_wait(dev, (uint32_t)len, timeout)) >= 0 && ept && ept->dev != dev) {
        tx_free_push(dev, (uint16_t)id); /* destroyed while we waited (the lock let go) */
        return -EINVAL;
    }
    if (id < 0)
        return id;
    if (len > tx_cap(dev, (uint16_t)id))
        return -EMSGSIZE; /* nocopy: the buffer from alloc_tx is smaller */
    uint8_t *buf = buf_va(dev, dev->tx.slot[id].off);
    if (nocopy)
        dev->tx.slot[id].user = U_NONE;
    else if (len)
        memcpy(buf + HDR, data, len);
    volatile struct amp_rpmsg_hdr *h = (volatile struct amp_rpmsg_hdr *)buf;
    h->src = amp_le32(src);
    h->dst = amp_le32(dst);
    h->reserved = 0;
    h->len = amp_le16((uint16_t)len);
    h->flags = 0;
    amp_cache_clean(&dev->port, h, HDR + len);
    tx_put(dev, (uint16_t)id, (uint32_t)len);
    return (int)len;
}

/* msg_send from ept; AMP_ADDR_ANY: the endpoint's own address / its bound
 * peer. Lock held. */
/* Lock held on dev, read from ept->dev before the lock was taken: another
 * thread may have destroyed ept meanwhile (-EINVAL, as after). */
static int ept_send(struct amp_rpmsg *dev, struct amp_ept *ept, uint32_t src, uint32_t dst,
                    const void *data, size_t len, int32_t timeout, bool nocopy)
{
    if (ept->dev != dev)
        return -EINVAL;
    return msg_send(dev, ept, src == AMP_ADDR_ANY ? ept->addr : src,
                    dst == AMP_ADDR_ANY ? ept->dest : dst, data, len, timeout, nocopy);
}

int amp_ept_sendto(struct amp_ept *ept, uint32_t src, uint32_t dst, const void *data, size_t len,
                   int32_t timeout_ms)
{
    struct amp_rpmsg *dev = ept ? ept->dev : NULL;
    if (!dev || (len && !data))
        return -EINVAL;
    amp_lock(&dev->port);
    int ret = ept_send(dev, ept, src, dst, data, len, timeout_ms, false);
    amp_unlock(&dev->port);
    return ret;
}

int amp_ept_send(struct amp_ept *ept, const void *data, size_t len, int32_t timeout_ms)
{
    return amp_ept_sendto(ept, AMP_ADDR_ANY, AMP_ADDR_ANY, data, len, timeout_ms);
}

/* ==== Zero-copy ==== */

int amp_rpmsg_alloc_tx(struct amp_rpmsg *dev, void **payload, uint32_t *cap, int32_t timeout_ms)
{
    if (!AMP_CFG_RPMSG_ZEROCOPY)
        return -ENOTSUP;
    if (!dev || !payload || !cap)
        return -EINVAL;
    amp_lock(&dev->port);
    int ret = dev->state == AMP_LINK_UP ? tx_get_wait(dev, 0, timeout_ms) : link_err(dev);
    if (ret >= 0) {
        uint16_t id = (uint16_t)ret;
        dev->tx.slot[id].user = U_TX_HELD;
        dev->tx_hint = id;
        *payload = buf_va(dev, dev->tx.slot[id].off) + HDR;
        *cap = tx_cap(dev, id);
        ret = 0;
    }
    amp_unlock(&dev->port);
    return ret;
}

int amp_ept_send_nocopy(struct amp_ept *ept, uint32_t dst, void *payload, size_t len)
{
    struct amp_rpmsg *dev = ept ? ept->dev : NULL;
    if (!AMP_CFG_RPMSG_ZEROCOPY)
        return -ENOTSUP;
    if (!dev)
        return -EINVAL;
    amp_lock(&dev->port);
    int ret = ept_send(dev, ept, AMP_ADDR_ANY, dst, payload, len, 0, true);
    amp_unlock(&dev->port);
    return ret;
}

/* Give back a buffer the application holds in state `user` (U_TX_HELD or
 * U_RX_HELD), taken in link generation *gen (NULL: the current one). 0,
 * -ESTALE or -EINVAL. */
static int buf_release(struct amp_rpmsg *dev, void *payload, uint8_t user, const uint32_t *gen)
{
    if (!AMP_CFG_RPMSG_ZEROCOPY)
        return -ENOTSUP;
    if (!dev)
        return -EINVAL;
    amp_lock(&dev->port);
    struct amp_vring *vr = user == U_TX_HELD ? &dev->tx : &dev->rx;
    int id = gen && dev->gen != *gen        ? -ESTALE
             : dev->state == AMP_LINK_UP ? buf_lookup(dev, vr, payload, user)
                                         : -EINVAL;
    if (AMP_CFG_LOCK && id == -EINVAL && user == U_RX_HELD && dev->state == AMP_LINK_UP &&
        (id = buf_lookup(dev, vr, payload, U_RX_CB)) >= 0) {
        /* its callback handed it to another thread, which was quicker
         * than the callback's return: rx_one() gives it back then (no
         * other thread without AMP_CFG_LOCK: the buffer is not held yet) */
        vr->slot[id].user = U_RX_EARLY;
        id = -1;
    }
    if (id >= 0) {
        if (user == U_TX_HELD) {
            tx_free_push(dev, (uint16_t)id);
        } else {
            rx_put(dev, (uint16_t)id);
            rx_kick(dev);
        }
        id = 0;
    }
    amp_unlock(&dev->port);
    return id == -1 ? 0 : id;
}

int amp_rpmsg_release_tx(struct amp_rpmsg *dev, void *payload)
{
    return buf_release(dev, payload, U_TX_HELD, NULL);
}

int amp_rpmsg_release_rx(struct amp_rpmsg *dev, void *payload)
{
    return buf_release(dev, payload, U_RX_HELD, NULL);
}

int amp_rpmsg_release_rx_gen(struct amp_rpmsg *dev, void *payload, uint32_t gen)
{
    return buf_release(dev, payload, U_RX_HELD, &gen);
}

/* ==== Name service ==== */

/* Send an NS message for `name` (NUL-padded to 32 bytes) at addr without
 * waiting: 0, or -errno. Lock held. */
static int ns_send(struct amp_rpmsg *dev, const char *name, uint32_t addr, uint32_t flags)
{
    struct amp_rpmsg_ns_msg m;
    memcpy(m.name, name, sizeof(m.name));
    m.addr = amp_le32(addr);
    m.flags = amp_le32(flags);
    int ret = msg_send(dev, NULL, addr, AMP_RPMSG_NS_ADDR, &m, sizeof(m), 0, false);
    return ret < 0 ? ret : 0;
}

/* Send the NS messages we owe, as far as buffers allow: the queued
 * destroys first (an endpoint made again under the same name and address
 * must be announced after its predecessor's destroy), then the
 * announcements. Among the destroys order does not matter: an address is
 * destroyed again only after it was announced again, so after its first
 * destroy went out. Lock held. */
static void ns_flush(struct amp_rpmsg *dev)
{
    if (!ns_on(dev) || !dev->ns_pending || dev->state != AMP_LINK_UP)
        return;
    bool left = false;
#if AMP_CFG_RPMSG_EPT_DESTROY
    for (uint8_t n; (n = dev->ns_dead_n) != 0; dev->ns_dead_n--) {
        if (ns_send(dev, dev->ns_dead[n - 1].name, dev->ns_dead[n - 1].addr,
                    AMP_RPMSG_NS_DESTROY) < 0) {
            left = true; /* and no announcement before it */
            break;
        }
    }
#endif
    for (struct amp_ept *e = left ? NULL : dev->epts; e; e = EPT_NEXT(e)) {
        if (!e->ns_pending)
            continue;
        if (ns_send(dev, e->name, e->addr, AMP_RPMSG_NS_CREATE) < 0) {
            left = true;
            break;
        }
        e->ns_pending = false;
        e->announced = true;
    }
    dev->ns_pending = left;
    tx_cb_update(dev);
}

#if AMP_CFG_RPMSG_EPT_DESTROY
/* Owe the peer an NS destroy of ept (lock held): queued and sent by
 * ns_flush, now if a buffer is free, else when one comes back, like an
 * announcement. A full queue forgets its latest entry (more than
 * AMP_CFG_RPMSG_NS_DESTROY_MAX destroys waiting while the peer returns no
 * buffer). */
static void ns_destroy(struct amp_rpmsg *dev, const struct amp_ept *ept)
{
    uint8_t n = dev->ns_dead_n;
    if (n == AMP_CFG_RPMSG_NS_DESTROY_MAX)
        n--;
    memcpy(dev->ns_dead[n].name, ept->name, AMP_RPMSG_NAME_SIZE);
    dev->ns_dead[n].addr = ept->addr;
    dev->ns_dead_n = (uint8_t)(n + 1);
    dev->ns_pending = true;
    ns_flush(dev); /* what it cannot send waits for a returned buffer */
}
#endif

/* ---- announcements no endpoint took, so a later endpoint can bind ---- */

static int ns_seen_find(struct amp_rpmsg *dev, const char *name)
{
#if AMP_CFG_RPMSG_NS_CACHE
    for (unsigned i = 0; i < AMP_CFG_RPMSG_NS_CACHE; i++)
        if (dev->ns_seen[i].name[0] && !strncmp(dev->ns_seen[i].name, name, AMP_RPMSG_NAME_SIZE))
            return (int)i;
#else
    (void)dev;
    (void)name;
#endif
    return -1;
}

static void ns_seen_put(struct amp_rpmsg *dev, const char *name, uint32_t addr)
{
#if AMP_CFG_RPMSG_NS_CACHE
    int i = ns_seen_find(dev, name);
    if (i < 0) {
        i = dev->ns_seen_next;
        dev->ns_seen_next = (uint8_t)((dev->ns_seen_next + 1) % AMP_CFG_RPMSG_NS_CACHE);
    }
    memcpy(dev->ns_seen[i].name, name, AMP_RPMSG_NAME_SIZE);
    dev->ns_seen[i].addr = addr;
#else
    (void)dev;
    (void)name;
    (void)addr;
#endif
}

/* Take the remembered announcement of `name`, if any: its address, or
 * AMP_ADDR_ANY. */
static uint32_t ns_seen_take(struct amp_rpmsg *dev, const char *name)
{
    int i = name[0] ? ns_seen_find(dev, name) : -1;
    if (i < 0)
        return AMP_ADDR_ANY;
#if AMP_CFG_RPMSG_NS_CACHE
    dev->ns_seen[i].name[0] = '\0';
    return dev->ns_seen[i].addr;
#else
    return AMP_ADDR_ANY;
#endif
}

/* The peer destroyed `name` at `addr`: forget it if that is what we hold. */
static void ns_seen_drop(struct amp_rpmsg *dev, const char *name, uint32_t addr)
{
#if AMP_CFG_RPMSG_NS_CACHE
    int i = ns_seen_find(dev, name);
    if (i >= 0 && dev->ns_seen[i].addr == addr)
        dev->ns_seen[i].name[0] = '\0';
#else
    (void)dev;
    (void)name;
    (void)addr;
#endif
}

static void ns_seen_clear(struct amp_rpmsg *dev)
{
#if AMP_CFG_RPMSG_NS_CACHE
    memset(dev->ns_seen, 0, sizeof(dev->ns_seen));
#else
    (void)dev;
#endif
}

#if AMP_CFG_RPMSG_EPT_DESTROY
/* The peer's service `name` at addr, bound to an endpoint that goes: to
 * the first endpoint of that name still waiting for it (made again before
 * the old one went), else remembered for one made later. */
static void ns_pass_on(struct amp_rpmsg *dev, const char *name, uint32_t addr)
{
    for (struct amp_ept *e = dev->epts; e; e = EPT_NEXT(e))
        if (e->dest == AMP_ADDR_ANY && !strncmp(e->name, name, AMP_RPMSG_NAME_SIZE)) {
            e->dest = addr;
            e->ns_bound = true;
            return;
        }
    ns_seen_put(dev, name, addr);
}
#endif

/* An NS message from the peer, in our own copy m (the peer cannot change
 * it any more). Lock held; it is dropped around user callbacks. */
static void ns_handle(struct amp_rpmsg *dev, struct amp_rpmsg_ns_msg *m)
{
    m->name[AMP_RPMSG_NAME_SIZE - 1] = '\0'; /* the peer's name may lack its NUL */
    const char *name = m->name;
    uint32_t addr = amp_le32(m->addr), flags = amp_le32(m->flags);

    if (!name[0] || addr == AMP_ADDR_ANY || flags > AMP_RPMSG_NS_DESTROY) {
        dev->st.msg_errors++;
        return;
    }
    /* the first endpoint of that name bound to addr, and the first unbound
     * (name is not "", so anonymous endpoints never match) */
    struct amp_ept *bound = NULL, *unbound = NULL;
    for (struct amp_ept *e = dev->epts; e; e = EPT_NEXT(e)) {
        if (strncmp(e->name, name, AMP_RPMSG_NAME_SIZE))
            continue;
        if (e->dest == addr && !bound)
            bound = e;
        if (e->dest == AMP_ADDR_ANY && !unbound)
            unbound = e;
    }
    if (flags == AMP_RPMSG_NS_DESTROY) {
        ns_seen_drop(dev, name, addr);
        if (!bound)
            return;
        bound->dest = AMP_ADDR_ANY;
        bound->ns_bound = false;
        amp_ept_unbind_cb cb = bound->unbind_cb;
        if (cb) {
            amp_unlock(&dev->port);
            cb(bound);
            amp_lock(&dev->port);
        }
        return;
    }
    if (unbound) {
        unbound->dest = addr; /* bound: the spec's "registered before the announcement" case */
        unbound->ns_bound = true;
        return;
    }
    if (bound)
        return; /* announced again */
    ns_seen_put(dev, name, addr); /* for an endpoint made later, maybe by ns_cb */
    amp_ns_cb cb = dev->ns_cb;
    if (!cb)
        return;
    void *priv = dev->ns_priv;
    amp_unlock(&dev->port);
    cb(dev, name, addr, priv);
    amp_lock(&dev->port);
}

/* ==== Receiving ==== */

/* Handle one received buffer: 1 if one was there, -EAGAIN, -EIO. Lock
 * held; dropped around the endpoint callback. Not inlined into its one
 * caller: the poll loop's registers and rx_one's together spill more than
 * the call costs (a remote's poll: 36 bytes less). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int rx_one(struct amp_rpmsg *dev)
{
    uint32_t off, len;
    int ret = rx_get(dev, &off, &len);
    if (ret < 0)
        return ret;
    uint16_t id = (uint16_t)ret;
    uint32_t *bad = &dev->st.msg_errors; /* what a drop counts as */
    volatile struct amp_rpmsg_hdr *h = (volatile struct amp_rpmsg_hdr *)buf_va(dev, off);

    if (dev->buf_size && len > dev->buf_size)
        len = dev->buf_size; /* remote: never look past our own cap */
    if (len < HDR) {
        if (!len) /* 0 was already counted by the vring, or is an empty return */
            bad = NULL;
        goto drop;
    }
    if ((uintptr_t)h & 3) /* u32 fields at an odd address: a fault on some cores */
        goto drop;
    amp_cache_inval(&dev->port, h, HDR);
    uint32_t src = amp_le32(h->src), dst = amp_le32(h->dst);
    uint32_t mlen = amp_le16(h->len);
    if (mlen > len - HDR) /* the header claims more than the buffer holds */
        goto drop;
    uint8_t *data = buf_va(dev, off) + HDR;
    amp_cache_inval(&dev->port, data, mlen);

    if (dst == AMP_RPMSG_NS_ADDR && ns_on(dev)) {
        struct amp_rpmsg_ns_msg m;
        if (mlen != sizeof(m))
            goto drop;
        memcpy(&m, data, sizeof(m)); /* one read; the peer may rewrite it */
        rx_put(dev, id);
        ns_handle(dev, &m);
        return 1;
    }
    struct amp_ept *ept = ept_by_addr(dev, dst);
    bad = &dev->st.dropped;
    if (!ept)
        goto drop;
    if (ept->dest == AMP_ADDR_ANY)
        ept->dest = src; /* first message binds an unbound endpoint, as OpenAMP does */
    dev->st.rx++;
    if (AMP_CFG_LOCK) /* only another thread's early release looks for it */
        dev->rx.slot[id].user = U_RX_CB;
    amp_ept_cb cb = ept->cb;
    void *priv = ept->priv;
    uint32_t gen = dev->gen;
    dev->cb_gen = gen;
    if (AMP_CFG_LOCK) /* without, no other thread can wait for it */
        dev->cb_ept = ept;

    amp_unlock(&dev->port);
    int keep = cb ? cb(ept, data, mlen, src, priv) : AMP_RX_DONE;
    amp_lock(&dev->port);

    if (AMP_CFG_LOCK)
        dev->cb_ept = NULL; /* amp_rpmsg_quiesce() waits for this */
    if (dev->gen != gen)
        return 1; /* the link went down meanwhile: the buffer is gone */
    if (AMP_CFG_RPMSG_ZEROCOPY && keep == AMP_RX_HOLD &&
        (!AMP_CFG_LOCK || dev->rx.slot[id].user != U_RX_EARLY)) {
        dev->rx.slot[id].user = U_RX_HELD;
        return 1;
    }
    bad = NULL;
drop:
    if (bad)
        (*bad)++;
    rx_put(dev, id);
    return 1;
}

int amp_rpmsg_poll(struct amp_rpmsg *dev)
{
    amp_lock(&dev->port);
    int n = 0;
    if (dev->state != AMP_LINK_UP) {
        n = link_err(dev);
        goto out;
    }
    if (dev->in_poll)
        goto out; /* another thread (or a callback) is polling: keep order */
    dev->in_poll = true;
    uint32_t gen = dev->gen;
    /* about one pass over the ring, so a flooding peer cannot hold us */
    for (uint32_t round = 0; round <= 2u * dev->rx.num; round++) {
        int ret = rx_one(dev);
        if (dev->gen != gen)
            break;
        if (ret > 0) {
            n++;
            continue;
        }
        if (ret != -EAGAIN)
            break; /* -EIO: the ring is broken, see below */
        rx_kick(dev);
        if (dev->busy_poll) {
            vr_disable_cb(dev, &dev->rx);
            break;
        }
        if (!vr_enable_cb(dev, &dev->rx))
            break; /* nothing raced in: a notification will come */
    }
    if (dev->gen == gen) {
        rx_kick(dev);
        if (dev->rx.broken || dev->tx.broken) {
            dev->state = AMP_LINK_BROKEN;
            n = -EIO;
        } else {
            ns_flush(dev);
        }
    }
    dev->in_poll = false;
out:
    amp_unlock(&dev->port);
    return n;
}

int amp_rpmsg_wait(struct amp_rpmsg *dev, int32_t timeout_ms)
{
    int n = amp_rpmsg_poll(dev);
    if (n != 0)
        return n;
    int err = 0;
    amp_lock(&dev->port);
    if (dev->state != AMP_LINK_UP) {
        err = link_err(dev);
    } else if (dev->tx_starved && vr_enable_cb(dev, &dev->tx)) {
        /* one wake per send that found no buffer: the program tries again,
         * or the next wait sleeps (else it would spin while buffers wait) */
        dev->tx_starved = false;
        tx_cb_update(dev);
    } else if (dev->in_poll || !vr_enable_cb(dev, &dev->rx)) {
        /* in_poll: called from a callback (or while another thread polls),
         * so received messages wait for that poll, not for us: sleep until
         * a kick, or it would spin while they wait. A send that found no
         * buffer, facing a peer that gives them back without a doorbell
         * (tx_poll_ms), looks again that often: return 0 then. */
        bool poll_tx = dev->tx_starved && dev->tx_poll_ms &&
                       (timeout_ms < 0 || (uint32_t)timeout_ms > dev->tx_poll_ms);
        err = dev->port.ops->wait ? dev->port.ops->wait(dev->port.ctx,
                                                        poll_tx ? (int32_t)dev->tx_poll_ms
                                                                : timeout_ms)
                                  : -EAGAIN;
        if (poll_tx && err == -ETIMEDOUT)
            err = 0;
    }
    amp_unlock(&dev->port);
    n = amp_rpmsg_poll(dev);
    return n != 0 ? n : err;
}

/* ==== Endpoints ==== */

static bool addr_free(struct amp_rpmsg *dev, uint32_t addr)
{
    return addr != AMP_RPMSG_NS_ADDR && addr != AMP_ADDR_ANY && !ept_by_addr(dev, addr);
}

static bool ept_listed(struct amp_rpmsg *dev, const struct amp_ept *ept)
{
    for (struct amp_ept *e = dev->epts; e; e = EPT_NEXT(e))
        if (e == ept)
            return true;
    return false;
}

int amp_ept_create(struct amp_ept *ept, struct amp_rpmsg *dev, const char *name, uint32_t src,
                   uint32_t dest, amp_ept_cb cb, void *priv)
{
    if (!ept || !dev || src == AMP_RPMSG_NS_ADDR)
        return -EINVAL;
    size_t nlen = 0;
    if (!name)
        name = ""; /* anonymous */
    while (nlen < AMP_RPMSG_NAME_SIZE && name[nlen])
        nlen++;
    if (nlen == AMP_RPMSG_NAME_SIZE)
        return -EINVAL; /* no room for the NUL the wire format needs */

    amp_lock(&dev->port);
    int ret = -EINVAL;
    if (AMP_CFG_RPMSG_EPT_MAX == 1) {
        /* the one endpoint: every address but 53 (refused above) is free */
        if (dev->epts) {
            ret = dev->epts == ept ? -EINVAL : -ENOSPC;
            goto out;
        }
        if (src == AMP_ADDR_ANY)
            src = AMP_RPMSG_ADDR_RESERVED;
    } else if (ept_listed(dev, ept)) {
        goto out;
    } else if (src == AMP_ADDR_ANY) {
        /* dynamic addresses: from 1024 up, wrapping, skipping used ones;
         * the loop ends because there are fewer endpoints than addresses */
        do {
            src = dev->next_addr++;
            if (dev->next_addr >= AMP_ADDR_ANY)
                dev->next_addr = AMP_RPMSG_ADDR_RESERVED;
        } while (!addr_free(dev, src));
    } else if (!addr_free(dev, src)) {
        ret = -EADDRINUSE;
        goto out;
    }
    memset(ept, 0, sizeof(*ept));
    memcpy(ept->name, name, nlen);
    ept->dev = dev;
    ept->addr = src;
    ept->dest = dest;
    ept->dest0 = dest;
    ept->cb = cb;
    ept->priv = priv;
    if (AMP_CFG_RPMSG_NS && nlen && dest == AMP_ADDR_ANY) {
        /* bind now if the peer announced it already; announce anyway, so
         * the peer's endpoint of that name binds to us too */
        ept->dest = ns_seen_take(dev, ept->name);
        ept->ns_bound = ept->dest != AMP_ADDR_ANY;
        ept->ns_pending = true;
        dev->ns_pending = true;
    }
    ept->next = dev->epts;
    dev->epts = ept;
    ns_flush(dev);
    ret = 0;
out:
    amp_unlock(&dev->port);
    return ret;
}

#if AMP_CFG_RPMSG_EPT_DESTROY
void amp_ept_destroy(struct amp_ept *ept)
{
    struct amp_rpmsg *dev = ept ? ept->dev : NULL;
    if (!dev)
        return;
    amp_lock(&dev->port);
    struct amp_ept **pp = &dev->epts;
    while (AMP_CFG_RPMSG_EPT_MAX != 1 && *pp && *pp != ept)
        pp = &(*pp)->next;
    if (*pp == ept) {
        if (ept->announced && ns_on(dev)) /* stop clears announced */
            ns_destroy(dev, ept); /* never blocks; queued if no buffer is free */
        *pp = EPT_NEXT(ept);
        if (ept->ns_bound && ept->dest != AMP_ADDR_ANY && dev->state == AMP_LINK_UP)
            ns_pass_on(dev, ept->name, ept->dest); /* the peer's service is still there */
        ept->dev = NULL;
        ept->dest = AMP_ADDR_ANY;
    }
    amp_unlock(&dev->port);
}
#endif

void amp_rpmsg_quiesce(struct amp_rpmsg *dev, const struct amp_ept *ept)
{
    amp_lock(&dev->port);
    /* a poller thread is in ept's callback: let it come out (the wait
     * drops the lock; without one there is no other thread) */
    while (dev->cb_ept == ept && dev->port.ops->wait)
        dev->port.ops->wait(dev->port.ctx, 1);
    amp_unlock(&dev->port);
}

void amp_ept_set_unbind_cb(struct amp_ept *ept, amp_ept_unbind_cb cb)
{
    ept->unbind_cb = cb;
}

bool amp_ept_is_ready(const struct amp_ept *ept)
{
    /* without the lock: ept->dev read once, as a destroy on another
     * thread may clear it between two reads */
    const struct amp_rpmsg *dev = ept ? *(struct amp_rpmsg *const volatile *)&ept->dev : NULL;
    return dev && dev->state == AMP_LINK_UP && ept->addr != AMP_ADDR_ANY &&
           ept->dest != AMP_ADDR_ANY;
}

/* ==== Device ==== */

void amp_rpmsg_init(struct amp_rpmsg *dev, enum amp_role role, const struct amp_port *port)
{
    memset(dev, 0, sizeof(*dev)); /* AMP_LINK_DOWN */
    dev->port = *port;
    dev->role = role;
    dev->next_addr = AMP_RPMSG_ADDR_RESERVED;
}

void amp_rpmsg_set_ns_cb(struct amp_rpmsg *dev, amp_ns_cb cb, void *priv)
{
    amp_lock(&dev->port);
    dev->ns_cb = cb;
    dev->ns_priv = priv;
    amp_unlock(&dev->port);
}

void amp_rpmsg_set_busy_poll(struct amp_rpmsg *dev, bool on)
{
    amp_lock(&dev->port);
    dev->busy_poll = on;
    if (dev->state == AMP_LINK_UP) {
        if (on)
            vr_disable_cb(dev, &dev->rx);
        else
            vr_enable_cb(dev, &dev->rx);
    }
    amp_unlock(&dev->port);
}

uint32_t amp_rpmsg_max_payload(const struct amp_rpmsg *dev)
{
    uint32_t size = dev->buf_size;
    if (!size) { /* a remote without a cap: the largest send buffer the host gave */
        for (uint32_t i = 0; i < dev->tx.num; i++)
            size = dev->tx.slot[i].len > size ? dev->tx.slot[i].len : size;
        size = size >= HDR ? size : AMP_CFG_RPMSG_BUF_SIZE;
    }
    return AMP_MIN(size - HDR, MAX_MSG);
}

/* How many of ring vr's slots are in state `user`. */
static uint32_t slots_in(const struct amp_vring *vr, uint8_t user)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < vr->num; i++)
        n += vr->slot[i].user == user;
    return n;
}

void amp_rpmsg_get_stats(struct amp_rpmsg *dev, struct amp_rpmsg_stats *st)
{
    amp_lock(&dev->port);
    if (is_host(dev) && dev->state == AMP_LINK_UP)
        tx_reclaim(dev); /* count consumed send buffers as free */
    *st = dev->st;
    st->ring_errors = dev->rx.errors + dev->tx.errors;
    st->rx_held = slots_in(&dev->rx, U_RX_HELD);
    st->tx_held = slots_in(&dev->tx, U_TX_HELD);
    st->tx_free = slots_in(&dev->tx, U_TX_FREE);
    st->rx_queued = dev->rx.queued;
    st->tx_queued = dev->tx.queued;
    amp_unlock(&dev->port);
}

/* Check the parts of cfg both roles use; find the two rings. A buffer
 * size (the host's, or the remote's cap) must leave room for a header. */
static int cfg_rings(const struct amp_rpmsg_cfg *cfg, uint8_t *ring[2])
{
    size_t size = amp_vring_size(cfg->num, cfg->align);
    if (!size || !cfg->shm.va || (cfg->buf_size && cfg->buf_size < HDR))
        return -EINVAL;
    if (!cfg->slots || cfg->nslots < 2 * cfg->num)
        return -E2BIG;
    if (AMP_CFG_VRING_PARTS && cfg->parts)
        return 0; /* rings outside the window, checked by the caller */
    for (int i = 0; i < 2; i++) {
        uint32_t off = cfg->vring_da[i] - cfg->shm.da; /* mod 2^32: see struct amp_shm */
        if (!amp_range_ok32(off, (uint32_t)size, cfg->shm.size))
            return -EINVAL;
        ring[i] = cfg->shm.va + off;
    }
    if (ring[0] < ring[1] + size && ring[1] < ring[0] + size)
        return -EINVAL; /* overlapping rings: we would read our own writes as the peer's */
    return 0;
}

/* Host: check the buffer pool against the window and the rings. */
static int host_pool(struct amp_rpmsg *dev, const struct amp_rpmsg_cfg *cfg, uint8_t *ring[2])
{
    uint32_t num = cfg->num, bs = cfg->buf_size ? cfg->buf_size : AMP_CFG_RPMSG_BUF_SIZE;
    uint32_t pool = cfg->pool_da - cfg->shm.da; /* mod 2^32, as the rings */
    if (bs > HDR + MAX_MSG || (bs & 3) || /* bs >= HDR: see cfg_rings */
        !amp_range_ok32(pool, cfg->pool_size, cfg->shm.size) || (pool & 7))
        return -EINVAL;
    uint32_t nbufs = cfg->pool_size / bs;
    if (nbufs < num + 1)
        return -ENOMEM;
    /* in 32 bits: the pool and the rings are inside the window (above,
     * cfg_rings), so no end below passes shm.size */
    uint32_t rsize = (uint32_t)amp_vring_size(num, cfg->align), end = pool + nbufs * bs;
    for (int i = 0; i < 2; i++) {
        uint32_t r = (uint32_t)(ring[i] - cfg->shm.va);
        if (r < end && pool < r + rsize)
            return -EINVAL; /* the pool must not overlap a ring */
    }
    dev->buf_size = bs;
    dev->pool_off = pool;
    dev->ntx = (uint16_t)AMP_MIN(nbufs - num, num);
    return 0;
}

/* Host: post every rx buffer, put every tx buffer on the free list, then
 * tell the remote the rings are ready. */
static void host_fill(struct amp_rpmsg *dev, volatile struct amp_rsc_vdev *vdev)
{
    uint32_t num = dev->rx.num, bs = dev->buf_size;
    dev->st.tx_total = dev->ntx;
    for (uint32_t i = 0; i < num; i++)
        amp_vring_drv_add(&dev->rx, (uint16_t)i, dev->pool_off + i * bs, bs,
                          AMP_VRING_DESC_F_WRITE);
    for (uint32_t j = dev->ntx; j-- > 0;) {
        dev->tx.slot[j].off = dev->pool_off + (num + j) * bs;
        dev->tx.slot[j].len = bs;
        tx_free_push(dev, (uint16_t)j);
    }
    if (vdev) { /* without one, the remote learns it from our kick */
        vdev->gfeatures = amp_le32(dev->features);
        /* the remote reads the rings once it sees DRIVER_OK: rings first */
        amp_wmb();
        vdev->status = AMP_VIRTIO_STATUS_ACKNOWLEDGE | AMP_VIRTIO_STATUS_DRIVER |
                       AMP_VIRTIO_STATUS_DRIVER_OK;
        amp_cache_clean(&dev->port, vdev, sizeof(*vdev));
    }
    amp_mb();
}

/* wait_for() step of a starting remote: has the host set DRIVER_OK in
 * dev->vdev? (It kicks us after setting it.) Without a vdev there is no
 * handshake: the caller starts us once the host is up. */
static int driver_ok(struct amp_rpmsg *dev, uint32_t unused)
{
    (void)unused;
    volatile struct amp_rsc_vdev *vdev = dev->vdev;
    if (!vdev)
        return 0;
    amp_cache_inval(&dev->port, &vdev->status, 1);
    if (!(vdev->status & AMP_VIRTIO_STATUS_DRIVER_OK))
        return -EAGAIN;
    amp_rmb(); /* read the rings only after DRIVER_OK */
    return 0;
}

/* The features of the link. The host accepts what the remote's dfeatures
 * offer and it supports. The remote runs with what the host's gfeatures
 * say, which must be offered (dfeatures) and supported (cfg->features):
 * a remote running without a feature its host runs with loses
 * notifications (EVENT_IDX) or messages (NS), so it refuses to start,
 * -ENOTSUP. Without a vdev both sides run with cfg->features, agreed out
 * of band. */
static int link_features(struct amp_rpmsg *dev, const struct amp_rpmsg_cfg *cfg)
{
    volatile struct amp_rsc_vdev *vdev = cfg->vdev;
    uint32_t f = cfg->features;
    if (!AMP_CFG_RPMSG_NS) /* compiled out: not supported */
        f &= ~(1u << AMP_RPMSG_F_NS);
    if (!AMP_CFG_VRING_EVENT_IDX)
        f &= ~(1u << AMP_VIRTIO_F_EVENT_IDX);
    if (vdev) {
        amp_cache_inval(&dev->port, vdev, sizeof(*vdev));
        f &= amp_le32(vdev->dfeatures);
        uint32_t g = amp_le32(vdev->gfeatures);
        if (!is_host(dev) && (g & ~f))
            return -ENOTSUP;
        f = is_host(dev) ? f : g;
    }
    dev->features = f;
    return 0;
}

/* Set up both rings. Each side's rx ring is the other's tx ring. 0,
 * -EINVAL for a ring the vring layer refuses (not 16-byte aligned), -EIO
 * for a ring the host left in a state no driver can have (see
 * amp_vring_dev_init). */
static int link_setup(struct amp_rpmsg *dev, const struct amp_rpmsg_cfg *cfg, uint8_t *ring[2])
{
    bool host = is_host(dev);
    int r = host ? 0 : 1; /* our rx ring: vring0 for the host, vring1 for the remote */
    bool event_idx = dev->features & (1u << AMP_VIRTIO_F_EVENT_IDX);
    int (*init)(struct amp_vring *, void *, uint32_t, uint32_t, const struct amp_shm *,
                struct amp_vring_slot *, bool, const struct amp_port *) =
        host ? amp_vring_drv_init : amp_vring_dev_init;
    int err = 0;
    for (int i = 0; i < 2; i++) { /* rx, then tx */
        if (AMP_CFG_VRING_PARTS && cfg->parts)
            err |= amp_vring_dev_init_parts(i ? &dev->tx : &dev->rx, &cfg->parts[r ^ i],
                                            cfg->num, &cfg->shm, cfg->slots + i * cfg->num,
                                            event_idx, &dev->port); /* remote only */
        else
            err |= init(i ? &dev->tx : &dev->rx, ring[r ^ i], cfg->num, cfg->align, &cfg->shm,
                        cfg->slots + i * cfg->num, event_idx, &dev->port);
    }
    dev->rx_notifyid = cfg->notifyid[r];
    dev->tx_notifyid = cfg->notifyid[r ^ 1];
    if (!host)
        dev->buf_size = cfg->buf_size; /* the host's were checked by host_pool */

    dev->rx.always_notify = dev->tx.always_notify = cfg->always_notify;
    dev->tx_poll_ms = cfg->tx_poll_ms;
    if (err)
        return -EINVAL;
    /* the remote continues from the used indexes the host left */
    if (!host && (amp_vring_dev_continue(&dev->rx) || amp_vring_dev_continue(&dev->tx)))
        return -EIO;
    return 0;
}

int amp_rpmsg_start(struct amp_rpmsg *dev, const struct amp_rpmsg_cfg *cfg, int32_t timeout_ms)
{
    if (!dev || !cfg)
        return -EINVAL;
    amp_lock(&dev->port);
    uint8_t *ring[2];
    int err = -EBUSY;
    if (dev->state != AMP_LINK_DOWN)
        goto out;
    /* forget the previous link; endpoints and the rx/tx counts stay */
    dev->tx_free = NO_SLOT;
    dev->tx_waiters = 0;
    dev->tx_starved = false;
    dev->rx_returned = false;
    dev->st.msg_errors = 0;
    dev->st.dropped = 0;
    dev->vdev = cfg->vdev;
    err = AMP_CFG_VRING_PARTS && cfg->parts && is_host(dev) ? -EINVAL : cfg_rings(cfg, ring);
    if (!err)
        err = is_host(dev)         ? host_pool(dev, cfg, ring)
              : AMP_CFG_RPMSG_WAIT ? wait_for(dev, driver_ok, 0, timeout_ms)
                                   : driver_ok(dev, 0);

    if (!err)
        err = link_features(dev, cfg);
    if (!err)
        err = link_setup(dev, cfg, ring);
    if (err)
        goto out;
    if (is_host(dev))
        host_fill(dev, cfg->vdev);
    dev->ns = dev->features & (1u << AMP_RPMSG_F_NS);
    dev->gen++;
    dev->state = AMP_LINK_UP;
    for (struct amp_ept *e = dev->epts; e; e = EPT_NEXT(e)) {
        if (e->dest0 != AMP_ADDR_ANY) {
            e->dest = e->dest0; /* a peer address given at creation outlives links */
        } else if (AMP_CFG_RPMSG_NS && e->name[0] && e->dest == AMP_ADDR_ANY) {
            e->ns_pending = true;
            dev->ns_pending = true;
        }
    }
    /* the tx ring notifies us only while someone waits for a buffer */
    tx_cb_update(dev);
    if (dev->busy_poll)
        vr_disable_cb(dev, &dev->rx);
    ns_flush(dev);
    if (is_host(dev))
        notify(dev, dev->rx_notifyid); /* wake a remote waiting for DRIVER_OK */
out:
    amp_unlock(&dev->port);
    return err;
}

void amp_rpmsg_stop(struct amp_rpmsg *dev)
{
    amp_lock(&dev->port);
    if (dev->state == AMP_LINK_DOWN) {
        amp_unlock(&dev->port);
        return;
    }
    dev->state = AMP_LINK_DOWN;
    dev->gen++;
    dev->ns_pending = false;
#if AMP_CFG_RPMSG_EPT_DESTROY
    dev->ns_dead_n = 0; /* the peer forgets the link's endpoints too */
#endif
    ns_seen_clear(dev);
    for (struct amp_ept *e = dev->epts; e; e = EPT_NEXT(e)) {
        e->unbind_due = e->dest != AMP_ADDR_ANY;
        e->dest = AMP_ADDR_ANY;
        e->announced = false;
        e->ns_pending = false;
        e->ns_bound = false;
    }
    /* run the unbind callbacks unlocked; the list may change meanwhile,
     * so look for the next one from the top each time */
    for (;;) {
        struct amp_ept *e = dev->epts;
        while (e && !e->unbind_due)
            e = EPT_NEXT(e);
        if (!e)
            break;
        e->unbind_due = false;
        amp_ept_unbind_cb cb = e->unbind_cb;
        if (cb) {
            amp_unlock(&dev->port);
            cb(e);
            amp_lock(&dev->port);
        }
    }
    amp_unlock(&dev->port);
}

#endif /* AMP_CFG_RPMSG_LEAN */

/* ==== Filling a cfg (both builds) ==== */

int amp_rpmsg_cfg_from_vdev(struct amp_rpmsg_cfg *cfg, const volatile struct amp_rsc_vdev *vdev)
{
    if (!cfg || !vdev || vdev->num_of_vrings < 2)
        return -EINVAL;
    for (int i = 0; i < 2; i++) {
        cfg->vring_da[i] = amp_le32(vdev->vring[i].da);
        cfg->notifyid[i] = amp_le32(vdev->vring[i].notifyid);
    }
    uint32_t num = amp_le32(vdev->vring[0].num), align = amp_le32(vdev->vring[0].align);
    if (num != amp_le32(vdev->vring[1].num) || align != amp_le32(vdev->vring[1].align))
        return -EINVAL; /* both directions use one geometry */
    cfg->num = num;
    cfg->align = align;
    cfg->vdev = (volatile struct amp_rsc_vdev *)vdev;
    return amp_vring_size(num, align) ? 0 : -EINVAL;
}

int amp_rpmsg_cfg_rings(struct amp_rpmsg_cfg *cfg, const struct amp_shm *shm, uint32_t ring_da,
                        uint32_t stride, uint32_t num, uint32_t align)
{
    size_t size = amp_vring_size(num, align);
    if (!cfg || !shm || !size)
        return -EINVAL;
    if (!stride)
        stride = (uint32_t)size;
    uint32_t off = ring_da - shm->da; /* mod 2^32: see struct amp_shm */
    if (stride < size || stride > UINT32_MAX / 2 || !amp_range_ok32(off, 2 * stride, shm->size))
        return -EINVAL; /* rings that overlap, or do not fit in the window */
    cfg->shm = *shm;
    cfg->vring_da[0] = ring_da;
    cfg->vring_da[1] = ring_da + stride;
    cfg->num = num;
    cfg->align = align;
    cfg->notifyid[0] = 0;
    cfg->notifyid[1] = 1;
    cfg->pool_da = ring_da + 2 * stride;
    cfg->pool_size = shm->size - off - 2 * stride;
    cfg->vdev = NULL;
    cfg->tx_poll_ms = 1; /* RPMsg-Lite returns buffers without a doorbell by default */
    return 0;
}
