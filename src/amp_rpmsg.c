/*
 * amp_rpmsg.c - the RPMsg bus: buffers, endpoints, name service.
 *
 * Main invariant: every buffer is in exactly one place, recorded in its
 * vring slot. Host: an rx buffer is with the remote (slot QUEUED), in a
 * callback (RX_CB) or held by the application (RX_HELD); a tx buffer is
 * free (TX_FREE, on our free list), taken by the application (TX_HELD) or
 * with the remote (QUEUED). Remote: every buffer it has is a head taken
 * from an avail ring (slot QUEUED) and is in a callback, held, on the
 * free list (a send buffer given back unsent) or taken for sending, until
 * it goes back on the used ring. So a buffer can be neither leaked nor
 * returned twice, and a pointer handed back by the application is
 * accepted only if its slot says the application has it.
 *
 * The two roles differ only in how a buffer is taken and given back; the
 * small tx_get/tx_put/rx_get/rx_put helpers hold every role branch of the
 * message path.
 */
#include <string.h>

#include "amp/amp_rpmsg.h"
#include "amp_util.h"

#define HDR AMP_RPMSG_HDR_SIZE
#define NO_SLOT 0xFFFFu
#define MAX_MSG 0xFFFFu /* the header's len is 16 bits */

/* slot.user: where a buffer is, beyond the vring's own state */
#define U_NONE 0u    /* with the peer, or in transit inside a call */
#define U_TX_FREE 1u /* on our free list */
#define U_TX_HELD 2u /* the application got it from alloc_tx */
#define U_RX_CB 3u   /* being delivered to a callback */
#define U_RX_HELD 4u /* kept by a callback that returned AMP_RX_HOLD */

_Static_assert(sizeof(struct amp_rpmsg_hdr) == 16, "RPMsg header is 16 bytes");
_Static_assert(sizeof(struct amp_rpmsg_ns_msg) == 40, "NS message is 40 bytes");

/* ==== Helpers ==== */

static inline bool is_host(const struct amp_rpmsg *dev)
{
    return AMP_CFG_HOST && (!AMP_CFG_REMOTE || dev->role == AMP_ROLE_HOST);
}

/* Why a call on a link that is not up fails. */
static inline int link_err(const struct amp_rpmsg *dev)
{
    return dev->state == AMP_LINK_BROKEN ? -EIO : -ENOTCONN;
}

static inline uint8_t *buf_va(const struct amp_rpmsg *dev, uint32_t off)
{
    return dev->rx.shm.va + off;
}

static void notify(struct amp_rpmsg *dev, uint32_t id)
{
    if (dev->port.ops->notify)
        dev->port.ops->notify(dev->port.ctx, id);
}

static struct amp_ept *ept_by_addr(struct amp_rpmsg *dev, uint32_t addr)
{
    for (struct amp_ept *e = dev->epts; e; e = e->next)
        if (e->addr == addr)
            return e;
    return NULL;
}

static bool ept_listed(struct amp_rpmsg *dev, const struct amp_ept *ept)
{
    for (struct amp_ept *e = dev->epts; e; e = e->next)
        if (e == ept)
            return true;
    return false;
}

/* Named endpoint with this name bound to `dest` (AMP_ADDR_ANY: unbound). */
static struct amp_ept *ept_by_name(struct amp_rpmsg *dev, const char *name, uint32_t dest)
{
    for (struct amp_ept *e = dev->epts; e; e = e->next)
        if (e->name[0] && e->dest == dest && strncmp(e->name, name, AMP_RPMSG_NAME_SIZE) == 0)
            return e;
    return NULL;
}

/* ==== Buffers: the only role-specific part of the message path ==== */

static void tx_free_push(struct amp_rpmsg *dev, uint16_t id)
{
    dev->tx.slot[id].user = U_TX_FREE;
    dev->tx.slot[id].next = dev->tx_free;
    dev->tx_free = id;
    dev->st.tx_free++;
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

/* Take a send buffer without waiting: its id, or -EAGAIN / -EIO. */
static int tx_get(struct amp_rpmsg *dev)
{
    struct amp_vring *vr = &dev->tx;
    int id;
    uint32_t off, len;

    if (is_host(dev) && dev->tx_free == NO_SLOT && tx_reclaim(dev) < 0)
        return -EIO;
    if (dev->tx_free != NO_SLOT) {
        id = dev->tx_free;
        dev->tx_free = vr->slot[id].next;
        vr->slot[id].user = U_NONE;
        dev->st.tx_free--;
        return id;
    }
    if (is_host(dev))
        return -EAGAIN;
    while ((id = amp_vring_dev_get_avail(vr, &off, &len)) >= 0) {
        if (len >= HDR)
            return id;
        /* too small to hold a header: hand it straight back, empty */
        dev->st.msg_errors++;
        amp_vring_dev_put_used(vr, (uint16_t)id, 0);
    }
    return id;
}

/* Room for payload in send buffer id. */
static uint32_t tx_cap(const struct amp_rpmsg *dev, uint16_t id)
{
    uint32_t len = dev->tx.slot[id].len;
    if (dev->buf_size && len > dev->buf_size)
        len = dev->buf_size;
    return AMP_MIN(len - HDR, MAX_MSG);
}

/* Send buffer id holding a message of len payload bytes. */
static void tx_put(struct amp_rpmsg *dev, uint16_t id, uint32_t len)
{
    struct amp_vring *vr = &dev->tx;
    bool kick;

    dev->st.tx++;
    if (is_host(dev)) {
        /* the descriptor keeps the whole buffer's length: the header says
         * how much is used, and an unchanged descriptor is not rewritten */
        amp_vring_drv_add(vr, id, vr->slot[id].off, vr->slot[id].len, 0);
        kick = amp_vring_drv_kick_prepare(vr);
    } else {
        amp_vring_dev_put_used(vr, id, HDR + len);
        kick = amp_vring_dev_kick_prepare(vr);
    }
    if (kick)
        notify(dev, dev->tx_notifyid);
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
    dev->rx.slot[id].user = U_NONE;
    if (is_host(dev))
        amp_vring_drv_add(&dev->rx, id, dev->rx.slot[id].off, dev->buf_size,
                          AMP_VRING_DESC_F_WRITE);
    else
        amp_vring_dev_put_used(&dev->rx, id, 0);
    dev->rx_returned = true;
}

static void rx_kick(struct amp_rpmsg *dev)
{
    if (!dev->rx_returned)
        return;
    dev->rx_returned = false;
    bool kick = is_host(dev) ? amp_vring_drv_kick_prepare(&dev->rx)
                             : amp_vring_dev_kick_prepare(&dev->rx);
    if (kick)
        notify(dev, dev->rx_notifyid);
}

/* Ask the peer to tell us when it has work for our rx ring; true if some
 * is already there. */
static bool rx_enable_cb(struct amp_rpmsg *dev)
{
    return is_host(dev) ? amp_vring_drv_enable_cb(&dev->rx) : amp_vring_dev_enable_cb(&dev->rx);
}

static void rx_disable_cb(struct amp_rpmsg *dev)
{
    if (is_host(dev))
        amp_vring_drv_disable_cb(&dev->rx);
    else
        amp_vring_dev_disable_cb(&dev->rx);
}

/* Notifications for returned send buffers are wanted only while someone
 * waits for one (a sender, or an announcement we owe). Returns true if
 * buffers are already there. */
static bool tx_cb_update(struct amp_rpmsg *dev)
{
    struct amp_vring *vr = &dev->tx;
    if (dev->tx_waiters || dev->ns_pending)
        return is_host(dev) ? amp_vring_drv_enable_cb(vr) : amp_vring_dev_enable_cb(vr);
    if (is_host(dev))
        amp_vring_drv_disable_cb(vr);
    else
        amp_vring_dev_disable_cb(vr);
    return false;
}

/* The buffer whose payload is at `payload`, if the application may hand
 * it back in state `user`: its id in ring vr, or -EINVAL. */
static int buf_lookup(struct amp_rpmsg *dev, struct amp_vring *vr, const void *payload, uint8_t user)
{
    uintptr_t p = (uintptr_t)payload, base = (uintptr_t)dev->rx.shm.va + HDR;
    if (!payload || p < base || p - base >= dev->rx.shm.size)
        return -EINVAL;
    uint32_t off = (uint32_t)(p - base);
    int id = -EINVAL;

    if (is_host(dev)) {
        /* host buffers sit at fixed places: rx ring id i is buffer i, tx
         * ring id j is buffer num + j */
        if (off < dev->pool_off || (off - dev->pool_off) % dev->buf_size)
            return -EINVAL;
        uint32_t k = (off - dev->pool_off) / dev->buf_size;
        if (vr == &dev->rx && k < dev->rx.num)
            id = (int)k;
        else if (vr == &dev->tx && k >= dev->rx.num && k - dev->rx.num < dev->ntx)
            id = (int)(k - dev->rx.num);
    } else {
        /* the host chose the addresses: look for the slot, last one first */
        uint16_t hint = dev->tx_hint < vr->num ? dev->tx_hint : 0;
        for (uint32_t n = 0; n < vr->num; n++) {
            uint16_t i = (uint16_t)((hint + n) & (vr->num - 1));
            if (vr->slot[i].state == AMP_SLOT_QUEUED && vr->slot[i].off == off) {
                id = i;
                break;
            }
        }
    }
    if (id < 0 || vr->slot[id].user != user)
        return -EINVAL;
    return id;
}

/* ==== Sending ==== */

static int32_t time_left(struct amp_rpmsg *dev, int32_t timeout, uint32_t start)
{
    if (timeout < 0 || !dev->port.ops->now_ms)
        return timeout;
    uint32_t spent = dev->port.ops->now_ms(dev->port.ctx) - start;
    return spent >= (uint32_t)timeout ? 0 : (int32_t)((uint32_t)timeout - spent);
}

/* Take a send buffer, waiting up to timeout ms. Lock held; the port's
 * wait drops it while we sleep, so anything may change meanwhile. */
static int tx_get_wait(struct amp_rpmsg *dev, int32_t timeout)
{
    const struct amp_port_ops *ops = dev->port.ops;
    int id = tx_get(dev);
    if (id != -EAGAIN || timeout == 0 || !ops->wait)
        return id;

    uint32_t start = ops->now_ms ? ops->now_ms(dev->port.ctx) : 0;
    uint32_t gen = dev->gen;
    dev->tx_waiters++;
    for (;;) {
        tx_cb_update(dev); /* ask to be told when buffers come back ... */
        id = tx_get(dev);  /* ... and look again: one may have raced the request */
        if (id != -EAGAIN)
            break;
        int32_t left = time_left(dev, timeout, start);
        if (left == 0) {
            id = -ETIMEDOUT;
            break;
        }
        int err = ops->wait(dev->port.ctx, left);
        if (dev->gen != gen || dev->state != AMP_LINK_UP) {
            id = -ECONNRESET;
            break;
        }
        if (err == -ETIMEDOUT && !ops->now_ms) { /* no clock: one wait is the whole timeout */
            id = tx_get(dev);
            if (id == -EAGAIN)
                id = -ETIMEDOUT;
            break;
        }
        if (err && err != -ETIMEDOUT) {
            id = err;
            break;
        }
    }
    dev->tx_waiters--;
    if (dev->gen == gen)
        tx_cb_update(dev);
    return id;
}

static void hdr_write(struct amp_rpmsg *dev, uint16_t id, uint32_t src, uint32_t dst, uint32_t len)
{
    volatile struct amp_rpmsg_hdr *h = (volatile struct amp_rpmsg_hdr *)buf_va(dev, dev->tx.slot[id].off);
    h->src = amp_le32(src);
    h->dst = amp_le32(dst);
    h->reserved = 0;
    h->len = amp_le16((uint16_t)len);
    h->flags = 0;
    amp_cache_clean(&dev->port, h, HDR + len);
}

int amp_ept_sendto(struct amp_ept *ept, uint32_t src, uint32_t dst, const void *data, size_t len,
                   int32_t timeout_ms)
{
    struct amp_rpmsg *dev = ept ? ept->dev : NULL;
    if (!dev || (len && !data))
        return -EINVAL;
    amp_lock(&dev->port);
    if (src == AMP_ADDR_ANY)
        src = ept->addr;
    if (dst == AMP_ADDR_ANY)
        dst = ept->dest;
    int ret = dev->state != AMP_LINK_UP ? link_err(dev) : -ENOTCONN;
    if (dst == AMP_ADDR_ANY || dev->state != AMP_LINK_UP)
        goto out;
    ret = -EMSGSIZE;
    if (len > amp_rpmsg_max_payload(dev))
        goto out;
    ret = tx_get_wait(dev, timeout_ms);
    if (ret < 0)
        goto out;
    uint16_t id = (uint16_t)ret;
    if (len > tx_cap(dev, id)) { /* remote: the host gave a smaller buffer */
        tx_free_push(dev, id);
        ret = -EMSGSIZE;
        goto out;
    }
    memcpy(buf_va(dev, dev->tx.slot[id].off) + HDR, data, len);
    hdr_write(dev, id, src, dst, (uint32_t)len);
    tx_put(dev, id, (uint32_t)len);
    ret = (int)len;
out:
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
    if (!dev || !payload || !cap)
        return -EINVAL;
    amp_lock(&dev->port);
    int ret = dev->state == AMP_LINK_UP ? tx_get_wait(dev, timeout_ms) : link_err(dev);
    if (ret >= 0) {
        uint16_t id = (uint16_t)ret;
        dev->tx.slot[id].user = U_TX_HELD;
        dev->tx_hint = id;
        dev->st.tx_held++;
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
    if (!dev)
        return -EINVAL;
    amp_lock(&dev->port);
    if (dst == AMP_ADDR_ANY)
        dst = ept->dest;
    int ret = dev->state != AMP_LINK_UP ? link_err(dev) : -ENOTCONN;
    if (dst == AMP_ADDR_ANY || dev->state != AMP_LINK_UP)
        goto out;
    ret = buf_lookup(dev, &dev->tx, payload, U_TX_HELD);
    if (ret < 0)
        goto out;
    uint16_t id = (uint16_t)ret;
    ret = -EMSGSIZE;
    if (len > tx_cap(dev, id))
        goto out;
    dev->tx.slot[id].user = U_NONE;
    dev->st.tx_held--;
    hdr_write(dev, id, ept->addr, dst, (uint32_t)len);
    tx_put(dev, id, (uint32_t)len);
    ret = (int)len;
out:
    amp_unlock(&dev->port);
    return ret;
}

int amp_rpmsg_release_tx(struct amp_rpmsg *dev, void *payload)
{
    if (!dev)
        return -EINVAL;
    amp_lock(&dev->port);
    int id = dev->state == AMP_LINK_UP ? buf_lookup(dev, &dev->tx, payload, U_TX_HELD) : -EINVAL;
    if (id >= 0) {
        dev->st.tx_held--;
        tx_free_push(dev, (uint16_t)id);
        id = 0;
    }
    amp_unlock(&dev->port);
    return id;
}

int amp_rpmsg_release_rx(struct amp_rpmsg *dev, void *payload)
{
    return dev ? amp_rpmsg_release_rx_gen(dev, payload, dev->gen) : -EINVAL;
}

int amp_rpmsg_release_rx_gen(struct amp_rpmsg *dev, void *payload, uint32_t gen)
{
    if (!dev)
        return -EINVAL;
    amp_lock(&dev->port);
    int id = dev->gen != gen                ? -ESTALE
             : dev->state == AMP_LINK_UP ? buf_lookup(dev, &dev->rx, payload, U_RX_HELD)
                                         : -EINVAL;
    if (id >= 0) {
        dev->st.rx_held--;
        rx_put(dev, (uint16_t)id);
        rx_kick(dev);
        id = 0;
    }
    amp_unlock(&dev->port);
    return id;
}

/* ==== Name service ==== */

/* Send an NS message for ept without waiting: 0, or -EAGAIN. Lock held. */
static int ns_send(struct amp_rpmsg *dev, struct amp_ept *ept, uint32_t flags)
{
    int id = tx_get(dev);
    if (id < 0)
        return id;
    volatile struct amp_rpmsg_ns_msg *m =
        (volatile struct amp_rpmsg_ns_msg *)(buf_va(dev, dev->tx.slot[id].off) + HDR);
    for (uint32_t i = 0; i < AMP_RPMSG_NAME_SIZE; i++)
        m->name[i] = ept->name[i]; /* NUL-padded by amp_ept_create */
    m->addr = amp_le32(ept->addr);
    m->flags = amp_le32(flags);
    hdr_write(dev, (uint16_t)id, ept->addr, AMP_RPMSG_NS_ADDR, sizeof(*m));
    tx_put(dev, (uint16_t)id, sizeof(*m));
    return 0;
}

/* Send the announcements we owe, as far as buffers allow. Lock held. */
static void ns_flush(struct amp_rpmsg *dev)
{
    if (!dev->ns_pending || dev->state != AMP_LINK_UP || !dev->ns)
        return;
    bool left = false;
    for (struct amp_ept *e = dev->epts; e; e = e->next) {
        if (!e->ns_pending)
            continue;
        if (ns_send(dev, e, AMP_RPMSG_NS_CREATE) < 0) {
            left = true;
            break;
        }
        e->ns_pending = false;
        e->announced = true;
    }
    dev->ns_pending = left;
    tx_cb_update(dev);
}

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

/* An NS message from the peer (a local copy). Lock held; it is dropped
 * around user callbacks. */
static void ns_handle(struct amp_rpmsg *dev, const struct amp_rpmsg_ns_msg *m)
{
    char name[AMP_RPMSG_NAME_SIZE];
    amp_name_copy(name, m->name, sizeof(name));
    uint32_t addr = amp_le32(m->addr), flags = amp_le32(m->flags);

    if (!name[0] || addr == AMP_ADDR_ANY || flags > AMP_RPMSG_NS_DESTROY) {
        dev->st.msg_errors++;
        return;
    }
    if (flags == AMP_RPMSG_NS_DESTROY) {
        ns_seen_drop(dev, name, addr);
        struct amp_ept *e = ept_by_name(dev, name, addr);
        if (!e)
            return;
        e->dest = AMP_ADDR_ANY;
        amp_ept_unbind_cb cb = e->unbind_cb;
        if (cb) {
            amp_unlock(&dev->port);
            cb(e);
            amp_lock(&dev->port);
        }
        return;
    }
    struct amp_ept *e = ept_by_name(dev, name, AMP_ADDR_ANY);
    if (e) {
        e->dest = addr; /* bound: the spec's "registered before the announcement" case */
        return;
    }
    if (ept_by_name(dev, name, addr))
        return; /* announced again */
    ns_seen_put(dev, name, addr); /* for an endpoint made later, maybe by ns_cb */
    if (!dev->ns_cb)
        return;
    amp_ns_cb cb = dev->ns_cb;
    void *priv = dev->ns_priv;
    amp_unlock(&dev->port);
    cb(dev, name, addr, priv);
    amp_lock(&dev->port);
}

/* ==== Receiving ==== */

/* Handle one received buffer: 1 if one was there, -EAGAIN, -EIO. Lock
 * held; dropped around the endpoint callback. */
static int rx_one(struct amp_rpmsg *dev)
{
    uint32_t off, len;
    int ret = rx_get(dev, &off, &len);
    if (ret < 0)
        return ret;
    uint16_t id = (uint16_t)ret;
    volatile struct amp_rpmsg_hdr *h = (volatile struct amp_rpmsg_hdr *)buf_va(dev, off);

    if (dev->buf_size && len > dev->buf_size)
        len = dev->buf_size; /* remote: never look past our own cap */
    if (len < HDR) {
        if (len) /* 0 was already counted by the vring, or is an empty return */
            dev->st.msg_errors++;
        rx_put(dev, id);
        return 1;
    }
    amp_cache_inval(&dev->port, h, HDR);
    uint32_t src = amp_le32(h->src), dst = amp_le32(h->dst);
    uint32_t mlen = amp_le16(h->len);
    if (mlen > len - HDR) { /* the header claims more than the buffer holds */
        dev->st.msg_errors++;
        rx_put(dev, id);
        return 1;
    }
    uint8_t *data = buf_va(dev, off) + HDR;
    amp_cache_inval(&dev->port, data, mlen);

    if (dst == AMP_RPMSG_NS_ADDR && dev->ns) {
        struct amp_rpmsg_ns_msg m;
        bool ok = mlen == sizeof(m);
        if (ok)
            memcpy(&m, data, sizeof(m)); /* one read; the peer may rewrite it */
        rx_put(dev, id);
        if (ok)
            ns_handle(dev, &m);
        else
            dev->st.msg_errors++;
        return 1;
    }
    struct amp_ept *ept = ept_by_addr(dev, dst);
    if (!ept) {
        dev->st.dropped++;
        rx_put(dev, id);
        return 1;
    }
    if (ept->dest == AMP_ADDR_ANY)
        ept->dest = src; /* first message binds an unbound endpoint, as OpenAMP does */
    dev->st.rx++;
    dev->rx.slot[id].user = U_RX_CB;
    amp_ept_cb cb = ept->cb;
    void *priv = ept->priv;
    uint32_t gen = dev->gen;
    dev->cb_gen = gen;

    amp_unlock(&dev->port);
    int keep = cb ? cb(ept, data, mlen, src, priv) : AMP_RX_DONE;
    amp_lock(&dev->port);

    if (dev->gen != gen)
        return 1; /* the link went down meanwhile: the buffer is gone */
    if (keep == AMP_RX_HOLD) {
        dev->rx.slot[id].user = U_RX_HELD;
        dev->st.rx_held++;
    } else {
        rx_put(dev, id);
    }
    return 1;
}

int amp_rpmsg_poll(struct amp_rpmsg *dev)
{
    amp_lock(&dev->port);
    int n = 0, ret = 0;
    if (dev->state != AMP_LINK_UP) {
        ret = link_err(dev);
        goto out;
    }
    if (dev->in_poll)
        goto out; /* another thread (or a callback) is polling: keep order */
    dev->in_poll = true;
    uint32_t gen = dev->gen;
    /* about one pass over the ring, so a flooding peer cannot hold us */
    for (uint32_t round = 0; round <= 2u * dev->rx.num; round++) {
        ret = rx_one(dev);
        if (dev->gen != gen)
            break;
        if (ret > 0) {
            n += ret;
            continue;
        }
        if (ret != -EAGAIN)
            break;
        ret = 0;
        rx_kick(dev);
        if (dev->busy_poll) {
            rx_disable_cb(dev);
            break;
        }
        if (!rx_enable_cb(dev))
            break; /* nothing raced in: a notification will come */
    }
    if (dev->gen == gen) {
        rx_kick(dev);
        if (ret == -EIO || dev->rx.broken || dev->tx.broken) {
            dev->state = AMP_LINK_BROKEN;
            ret = -EIO;
        } else {
            ns_flush(dev);
        }
    }
    dev->in_poll = false;
out:
    amp_unlock(&dev->port);
    return ret < 0 ? ret : n;
}

int amp_rpmsg_wait(struct amp_rpmsg *dev, int32_t timeout_ms)
{
    int n = amp_rpmsg_poll(dev);
    if (n != 0)
        return n;
    int err = 0;
    amp_lock(&dev->port);
    if (dev->state != AMP_LINK_UP)
        err = link_err(dev);
    else if (!rx_enable_cb(dev))
        err = dev->port.ops->wait ? dev->port.ops->wait(dev->port.ctx, timeout_ms) : -EAGAIN;
    amp_unlock(&dev->port);
    n = amp_rpmsg_poll(dev);
    return n != 0 ? n : err;
}

/* ==== Endpoints ==== */

static bool addr_free(struct amp_rpmsg *dev, uint32_t addr)
{
    return addr != AMP_RPMSG_NS_ADDR && addr != AMP_ADDR_ANY && !ept_by_addr(dev, addr);
}

int amp_ept_create(struct amp_ept *ept, struct amp_rpmsg *dev, const char *name, uint32_t src,
                   uint32_t dest, amp_ept_cb cb, void *priv)
{
    if (!ept || !dev || src == AMP_RPMSG_NS_ADDR)
        return -EINVAL;
    size_t nlen = 0;
    while (name && nlen < AMP_RPMSG_NAME_SIZE && name[nlen])
        nlen++;
    if (nlen == AMP_RPMSG_NAME_SIZE)
        return -EINVAL; /* no room for the NUL the wire format needs */

    amp_lock(&dev->port);
    int ret = -EINVAL;
    if (ept_listed(dev, ept))
        goto out;
    if (src == AMP_ADDR_ANY) {
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
    if (nlen)
        memcpy(ept->name, name, nlen);
    ept->dev = dev;
    ept->addr = src;
    ept->dest = dest;
    ept->cb = cb;
    ept->priv = priv;
    if (nlen && dest == AMP_ADDR_ANY) {
        /* bind now if the peer announced it already; announce anyway, so
         * the peer's endpoint of that name binds to us too */
        ept->dest = ns_seen_take(dev, ept->name);
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

void amp_ept_destroy(struct amp_ept *ept)
{
    struct amp_rpmsg *dev = ept ? ept->dev : NULL;
    if (!dev)
        return;
    amp_lock(&dev->port);
    if (ept_listed(dev, ept)) {
        if (ept->announced && dev->state == AMP_LINK_UP && dev->ns)
            ns_send(dev, ept, AMP_RPMSG_NS_DESTROY); /* best effort, never blocks */
        for (struct amp_ept **pp = &dev->epts; *pp; pp = &(*pp)->next) {
            if (*pp == ept) {
                *pp = ept->next;
                break;
            }
        }
        ept->dev = NULL;
        ept->dest = AMP_ADDR_ANY;
    }
    amp_unlock(&dev->port);
}

void amp_ept_set_unbind_cb(struct amp_ept *ept, amp_ept_unbind_cb cb)
{
    ept->unbind_cb = cb;
}

bool amp_ept_is_ready(const struct amp_ept *ept)
{
    return ept && ept->dev && ept->dev->state == AMP_LINK_UP && ept->addr != AMP_ADDR_ANY &&
           ept->dest != AMP_ADDR_ANY;
}

/* ==== Device ==== */

void amp_rpmsg_init(struct amp_rpmsg *dev, enum amp_role role, const struct amp_port *port)
{
    memset(dev, 0, sizeof(*dev));
    dev->port = *port;
    dev->role = role;
    dev->state = AMP_LINK_DOWN;
    dev->next_addr = AMP_RPMSG_ADDR_RESERVED;
    dev->tx_free = NO_SLOT;
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
            rx_disable_cb(dev);
        else
            rx_enable_cb(dev);
    }
    amp_unlock(&dev->port);
}

uint32_t amp_rpmsg_max_payload(const struct amp_rpmsg *dev)
{
    uint32_t size = dev->buf_size ? dev->buf_size : AMP_CFG_RPMSG_BUF_SIZE;
    return AMP_MIN(size - HDR, MAX_MSG);
}

void amp_rpmsg_get_stats(struct amp_rpmsg *dev, struct amp_rpmsg_stats *st)
{
    amp_lock(&dev->port);
    if (is_host(dev) && dev->state == AMP_LINK_UP)
        tx_reclaim(dev); /* count consumed send buffers as free */
    *st = dev->st;
    st->ring_errors = dev->rx.errors + dev->tx.errors;
    st->rx_queued = dev->rx.queued;
    st->tx_queued = dev->tx.queued;
    amp_unlock(&dev->port);
}

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

/* Check the parts of cfg both roles use; find the two rings. */
static int cfg_rings(const struct amp_rpmsg_cfg *cfg, uint8_t *ring[2])
{
    size_t size = amp_vring_size(cfg->num, cfg->align);
    if (!size || !cfg->vdev || !cfg->shm.va || cfg->shm.size > UINT32_MAX)
        return -EINVAL;
    if (!cfg->slots || cfg->nslots < 2 * cfg->num)
        return -E2BIG;
    for (int i = 0; i < 2; i++) {
        uint64_t da = cfg->vring_da[i];
        if (da < cfg->shm.da || !amp_range_ok(da - cfg->shm.da, size, cfg->shm.size))
            return -EINVAL;
        ring[i] = cfg->shm.va + (da - cfg->shm.da);
    }
    return 0;
}

static int start_host(struct amp_rpmsg *dev, const struct amp_rpmsg_cfg *cfg)
{
    uint8_t *ring[2];
    int err = cfg_rings(cfg, ring);
    if (err)
        return err;
    uint32_t num = cfg->num, bs = cfg->buf_size ? cfg->buf_size : AMP_CFG_RPMSG_BUF_SIZE;
    uint64_t pool = cfg->pool_da - cfg->shm.da;
    if (bs < HDR || bs > HDR + MAX_MSG || (bs & 3) || cfg->pool_da < cfg->shm.da ||
        !amp_range_ok(pool, cfg->pool_size, cfg->shm.size) || (pool & 7))
        return -EINVAL;
    uint32_t nbufs = cfg->pool_size / bs;
    if (nbufs < num + 1)
        return -ENOMEM;
    size_t rsize = amp_vring_size(num, cfg->align);
    for (int i = 0; i < 2; i++) {
        uint64_t r = (uint64_t)(ring[i] - cfg->shm.va);
        if (r < pool + (uint64_t)nbufs * bs && pool < r + rsize)
            return -EINVAL; /* the pool must not overlap a ring */
    }

    volatile struct amp_rsc_vdev *vdev = cfg->vdev;
    amp_cache_inval(&dev->port, vdev, sizeof(*vdev));
    dev->features = amp_le32(vdev->dfeatures) & cfg->features;
    bool event_idx = dev->features & (1u << AMP_VIRTIO_F_EVENT_IDX);
    amp_vring_drv_init(&dev->rx, ring[0], num, cfg->align, &cfg->shm, cfg->slots, event_idx,
                       &dev->port);
    amp_vring_drv_init(&dev->tx, ring[1], num, cfg->align, &cfg->shm, cfg->slots + num, event_idx,
                       &dev->port);
    dev->buf_size = bs;
    dev->pool_off = (uint32_t)pool;
    dev->ntx = (uint16_t)AMP_MIN(nbufs - num, num);
    dev->st.tx_total = dev->ntx;
    for (uint32_t i = 0; i < num; i++)
        amp_vring_drv_add(&dev->rx, (uint16_t)i, dev->pool_off + i * bs, bs, AMP_VRING_DESC_F_WRITE);
    for (uint32_t j = dev->ntx; j-- > 0;) {
        dev->tx.slot[j].off = dev->pool_off + (num + j) * bs;
        dev->tx.slot[j].len = bs;
        tx_free_push(dev, (uint16_t)j);
    }
    dev->rx_notifyid = cfg->notifyid[0];
    dev->tx_notifyid = cfg->notifyid[1];

    vdev->gfeatures = amp_le32(dev->features);
    /* the remote reads the rings once it sees DRIVER_OK: rings first */
    amp_wmb();
    vdev->status = AMP_VIRTIO_STATUS_ACKNOWLEDGE | AMP_VIRTIO_STATUS_DRIVER |
                   AMP_VIRTIO_STATUS_DRIVER_OK;
    amp_cache_clean(&dev->port, vdev, sizeof(*vdev));
    amp_mb();
    return 0;
}

static int start_remote(struct amp_rpmsg *dev, const struct amp_rpmsg_cfg *cfg, int32_t timeout)
{
    uint8_t *ring[2];
    int err = cfg_rings(cfg, ring);
    if (err)
        return err;
    const struct amp_port_ops *ops = dev->port.ops;
    uint32_t start = ops->now_ms ? ops->now_ms(dev->port.ctx) : 0;
    volatile struct amp_rsc_vdev *vdev = cfg->vdev;

    /* wait for the host's DRIVER_OK; it kicks us after setting it */
    for (;;) {
        amp_cache_inval(&dev->port, &vdev->status, 1);
        if (vdev->status & AMP_VIRTIO_STATUS_DRIVER_OK)
            break;
        int32_t left = time_left(dev, timeout, start);
        if (left == 0)
            return -ETIMEDOUT;
        if (!ops->wait)
            return -EAGAIN;
        err = ops->wait(dev->port.ctx, left);
        if (err == -ETIMEDOUT && !ops->now_ms)
            return err;
        if (err && err != -ETIMEDOUT)
            return err;
    }
    amp_rmb(); /* read the rings only after DRIVER_OK */
    amp_cache_inval(&dev->port, vdev, sizeof(*vdev));
    dev->features = amp_le32(vdev->gfeatures) & cfg->features;
    bool event_idx = dev->features & (1u << AMP_VIRTIO_F_EVENT_IDX);
    amp_vring_dev_init(&dev->rx, ring[1], cfg->num, cfg->align, &cfg->shm, cfg->slots, event_idx,
                       &dev->port);
    amp_vring_dev_init(&dev->tx, ring[0], cfg->num, cfg->align, &cfg->shm, cfg->slots + cfg->num,
                       event_idx, &dev->port);
    dev->buf_size = cfg->buf_size;
    dev->rx_notifyid = cfg->notifyid[1];
    dev->tx_notifyid = cfg->notifyid[0];
    return 0;
}

int amp_rpmsg_start(struct amp_rpmsg *dev, const struct amp_rpmsg_cfg *cfg, int32_t timeout_ms)
{
    if (!dev || !cfg)
        return -EINVAL;
    amp_lock(&dev->port);
    int err = -EBUSY;
    if (dev->state != AMP_LINK_DOWN)
        goto out;
    /* forget the previous link; endpoints stay */
    dev->tx_free = NO_SLOT;
    dev->tx_waiters = 0;
    dev->rx_returned = false;
    uint32_t keep_rx = dev->st.rx, keep_tx = dev->st.tx;
    memset(&dev->st, 0, sizeof(dev->st));
    dev->st.rx = keep_rx;
    dev->st.tx = keep_tx;
    err = is_host(dev) ? start_host(dev, cfg) : start_remote(dev, cfg, timeout_ms);
    if (err)
        goto out;
    dev->ns = dev->features & (1u << AMP_RPMSG_F_NS);
    dev->gen++;
    dev->state = AMP_LINK_UP;
    for (struct amp_ept *e = dev->epts; e; e = e->next) {
        if (e->name[0] && e->dest == AMP_ADDR_ANY) {
            e->ns_pending = true;
            dev->ns_pending = true;
        }
    }
    /* the tx ring notifies us only while someone waits for a buffer */
    tx_cb_update(dev);
    if (dev->busy_poll)
        rx_disable_cb(dev);
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
    ns_seen_clear(dev);
    for (struct amp_ept *e = dev->epts; e; e = e->next) {
        e->unbind_due = e->dest != AMP_ADDR_ANY;
        e->dest = AMP_ADDR_ANY;
        e->announced = false;
        e->ns_pending = false;
    }
    /* run the unbind callbacks unlocked; the list may change meanwhile,
     * so look for the next one from the top each time */
    for (;;) {
        struct amp_ept *e = dev->epts;
        while (e && !e->unbind_due)
            e = e->next;
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
