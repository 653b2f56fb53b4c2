/*
 * amp_vring.c - split virtqueues, driver and device roles.
 *
 * Main invariant: a value read from the ring is used only after it has
 * been checked against our own state (num, the slot table, the shm window)
 * and it is read exactly once, into a local. The driver never reads the
 * descriptor table back as truth; the device snapshots a descriptor into
 * its slot when it takes the head and uses only that snapshot.
 *
 * Index arithmetic is 16-bit and wraps, as in the virtio spec: "how many
 * entries are new" is (uint16_t)(peer_idx - last_idx). Device addresses
 * are 32-bit (struct amp_shm): a descriptor address with a non-zero high
 * word is outside every window.
 *
 * Notification suppression is the same protocol seen from either end, so
 * one helper per step serves both roles; the role (`drv`, a constant in
 * each caller) only picks which words are ours (driver: avail->flags and
 * used_event) and which are the peer's.
 */
#include <string.h>

#include "amp/amp_vring.h"
#include "amp_util.h"

/* ==== Layout ==== */

/* The whole size, with every check: the offsets below are derived from
 * it (the lean remote links only this one). */
size_t amp_vring_size(uint32_t num, uint32_t align)
{
    if (!amp_is_pow2(num) || num > AMP_CFG_VRING_NUM_MAX || num > 32768u || !amp_is_pow2(align) ||
        align < 4)
        return 0; /* used[] holds 32-bit words: an alignment below 4 misplaces them */
    /* desc[num], then avail: flags, idx, ring[num], used_event; to align */
    size_t used = ((size_t)num * (sizeof(struct amp_vring_desc) + sizeof(uint16_t)) +
                   sizeof(uint16_t) * 3 + align - 1) & ~((size_t)align - 1);
    /* used: flags, idx, ring[num], avail_event */
    return used + sizeof(uint16_t) * 3 + sizeof(struct amp_vring_used_elem) * (size_t)num;
}

size_t amp_vring_used_offset(uint32_t num, uint32_t align)
{
    size_t size = amp_vring_size(num, align);
    return size ? size - sizeof(uint16_t) * 3 - sizeof(struct amp_vring_used_elem) * (size_t)num
                : 0;
}

size_t amp_vring_avail_offset(uint32_t num)
{
    return amp_vring_size(num, 4) ? (size_t)num * sizeof(struct amp_vring_desc) : 0;
}

/* ==== Helpers ==== */

static int vring_break(struct amp_vring *vr)
{
    vr->broken = true;
    vr->errors++;
    return -EIO;
}

/* Is there an entry at last_idx? Fetches the peer's index (avail->idx for
 * the device, used->idx for the driver) when we have consumed everything
 * we saw last time. 0 if there is one, -EAGAIN, or -EIO when the index
 * moved by more than the peer can have (`limit`): the ring is garbage.
 * `next` is the entry we will read first: while there is none, its line
 * is prefetched, so that a poller spinning here gets the entry the peer
 * writes together with the index rather than one miss after the other
 * (the entry has a line of its own for all but the first few ids). */
static int vring_peer_idx(struct amp_vring *vr, volatile uint16_t *idx, uint32_t limit,
                          const volatile void *next)
{
    if (vr->peer_idx != vr->last_idx)
        return 0;
    amp_cache_inval(vr->port, idx, sizeof(*idx));
    uint16_t peer = amp_le16(*idx);
    if (peer == vr->last_idx) {
        amp_prefetch(next);
        return -EAGAIN;
    }
    if ((uint16_t)(peer - vr->last_idx) > limit)
        return vring_break(vr);
    vr->peer_idx = peer;
    amp_rmb(); /* read the entries only after the index that covers them */
    return 0;
}

/* The flags word the driver writes (avail->flags) or the device's. */
static inline volatile uint16_t *flags_of(const struct amp_vring *vr, bool drv)
{
    return drv ? &vr->avail->flags : &vr->used->flags;
}

/* The event word the driver writes (used_event) or the device's. */
static inline volatile uint16_t *event_of(const struct amp_vring *vr, bool drv)
{
    return drv ? vr->used_event : vr->avail_event;
}

/* The flag with which the driver declines notifications, or the device. */
#define NO_KICK(drv) ((drv) ? AMP_VRING_AVAIL_F_NO_INTERRUPT : AMP_VRING_USED_F_NO_NOTIFY)

/* After publishing entries: does the peer want a notification? */
static inline bool vring_kick_prepare(struct amp_vring *vr, bool drv)
{
    uint16_t old = vr->kick_idx, cur = vr->shadow_idx;
    vr->kick_idx = cur;
    if (vr->broken || old == cur)
        return false;
    if (vr->always_notify)
        return true; /* a peer that declines notifications but needs them */
    /* our index store must be visible before we read the peer's wishes,
     * or both sides may decide not to wake the other */
    amp_mb();
    if (AMP_CFG_VRING_EVENT_IDX && vr->event_idx) {
        volatile uint16_t *event = event_of(vr, !drv);
        amp_cache_inval(vr->port, event, sizeof(*event));
        return amp_vring_need_event(amp_le16(*event), cur, old);
    }
    volatile uint16_t *flags = flags_of(vr, !drv);
    amp_cache_inval(vr->port, flags, sizeof(*flags));
    return !(amp_le16(*flags) & NO_KICK(!drv));
}

/* Ask the peer for a notification at its next entry: through our event
 * word or, without event-idx, by clearing our flags word. True if entries
 * are already there (the peer's index moved past ours). */
static inline bool vring_enable_cb(struct amp_vring *vr, bool drv)
{
    if (vr->broken)
        return false;
    if (AMP_CFG_VRING_EVENT_IDX && vr->event_idx) {
        volatile uint16_t *event = event_of(vr, drv);
        *event = amp_le16(vr->last_idx); /* wake me at the next entry */
        amp_cache_clean(vr->port, event, sizeof(*event));
    } else if (!vr->cb_enabled) {
        volatile uint16_t *flags = flags_of(vr, drv);
        *flags = 0;
        amp_cache_clean(vr->port, flags, sizeof(*flags));
    }
    vr->cb_enabled = true;
    /* our request must be visible before we look for work that raced it */
    amp_mb();
    if (vr->peer_idx != vr->last_idx)
        return true;
    volatile uint16_t *idx = drv ? &vr->used->idx : &vr->avail->idx;
    amp_cache_inval(vr->port, idx, sizeof(*idx));
    return amp_le16(*idx) != vr->last_idx;
}

/* Stop asking: an event index we have passed, or the no-kick flag. */
static inline void vring_disable_cb(struct amp_vring *vr, bool drv)
{
    if (!vr->cb_enabled || vr->broken)
        return;
    vr->cb_enabled = false;
    volatile uint16_t *w = flags_of(vr, drv);
    uint16_t v = NO_KICK(drv);
    if (AMP_CFG_VRING_EVENT_IDX && vr->event_idx) {
        /* an index we have passed: the peer's window reaches it again
         * only after 65536 more entries, i.e. practically never */
        w = event_of(vr, drv);
        v = (uint16_t)(vr->last_idx - 1);
    }
    *w = amp_le16(v);
    amp_cache_clean(vr->port, w, sizeof(*w));
}

/* ==== Both roles ==== */

/* Point vr at the three parts (checked by the caller) and reset our
 * state; nothing in the ring is read. */
static inline void vring_set_parts(struct amp_vring *vr, void *desc, void *avail, void *used,
                                   uint32_t num, const struct amp_shm *shm,
                                   struct amp_vring_slot *slots, bool event_idx,
                                   const struct amp_port *port)
{
    memset(vr, 0, sizeof(*vr));
    memset(slots, 0, (size_t)num * sizeof(*slots));
    vr->desc = desc;
    vr->avail = avail;
    vr->used = used;
    if (AMP_CFG_VRING_EVENT_IDX) { /* else never read */
        vr->used_event = &vr->avail->ring[num];
        vr->avail_event = (volatile uint16_t *)&vr->used->ring[num];
    }
    vr->slot = slots;
    vr->shm = *shm;
    vr->port = port;
    vr->num = (uint16_t)num; /* num <= 32768 */
    vr->event_idx = AMP_CFG_VRING_EVENT_IDX && event_idx;
    vr->cb_enabled = true; /* a zeroed ring asks for notifications */
}

/* The device attaches to the ring as the driver laid it out; the driver
 * attaches the same way and then zeroes the ring (amp_vring_drv_init). */
int amp_vring_dev_init(struct amp_vring *vr, void *mem, uint32_t num, uint32_t align,
                       const struct amp_shm *shm, struct amp_vring_slot *slots, bool event_idx,
                       const struct amp_port *port)
{
    size_t used_off = amp_vring_used_offset(num, align); /* 0: bad geometry */
    uint8_t *base = mem;

    if (used_off == 0 || !base || ((uintptr_t)base & 15) || !slots || !shm || !port || !port->ops)
        return -EINVAL;
    vring_set_parts(vr, base, base + num * sizeof(struct amp_vring_desc), base + used_off, num,
                    shm, slots, event_idx, port);
    return 0;
}

/* The three parts at addresses of their own (vhost-user gives them so). */
int amp_vring_dev_init_parts(struct amp_vring *vr, const struct amp_vring_parts *parts,
                             uint32_t num, const struct amp_shm *shm,
                             struct amp_vring_slot *slots, bool event_idx,
                             const struct amp_port *port)
{
    /* num checked as for a ring of its own (amp_vring_size); the virtio
     * spec's alignments: desc 16, avail 2, used 4 */
    if (!parts || amp_vring_size(num, 4) == 0 || !parts->desc || !parts->avail ||
        !parts->used || ((uintptr_t)parts->desc & 15) || ((uintptr_t)parts->avail & 1) ||
        ((uintptr_t)parts->used & 3) || !slots || !shm || !port || !port->ops)
        return -EINVAL;
    /* Parts that overlap are garbage: with used over avail, every buffer
     * we return would look like a new one to take, for ever. */
    uintptr_t d = (uintptr_t)parts->desc, a = (uintptr_t)parts->avail,
              u = (uintptr_t)parts->used;
    size_t dl = (size_t)num * sizeof(struct amp_vring_desc), al = 6 + 2 * (size_t)num,
           ul = 6 + 8 * (size_t)num; /* each with its event word */
    if ((d < a + al && a < d + dl) || (d < u + ul && u < d + dl) || (a < u + ul && u < a + al))
        return -EINVAL;
    vring_set_parts(vr, parts->desc, parts->avail, parts->used, num, shm, slots, event_idx, port);
    return 0;
}

/* ==== Driver role ==== */

int amp_vring_drv_init(struct amp_vring *vr, void *mem, uint32_t num, uint32_t align,
                       const struct amp_shm *shm, struct amp_vring_slot *slots, bool event_idx,
                       const struct amp_port *port)
{
    int err = amp_vring_dev_init(vr, mem, num, align, shm, slots, event_idx, port);
    if (err)
        return err;
    size_t size = amp_vring_size(num, align);
    memset(mem, 0, size);
    amp_cache_clean(port, mem, size);
    return 0;
}

int amp_vring_drv_add(struct amp_vring *vr, uint16_t id, uint32_t off, uint32_t len,
                      uint16_t flags)
{
    if (vr->broken)
        return -EIO;
    if (id >= vr->num || !amp_range_ok32(off, len, vr->shm.size) ||
        (flags & (AMP_VRING_DESC_F_NEXT | AMP_VRING_DESC_F_INDIRECT)))
        return -EINVAL;
    struct amp_vring_slot *s = &vr->slot[id];
    if (s->state != AMP_SLOT_FREE)
        return -EBUSY;

    /* Descriptors are ours: rewrite one only when it differs, so the
     * common case (a buffer posted again as it was) costs the device no
     * cache miss. A device that scribbles on desc[] only hurts itself. */
    volatile struct amp_vring_desc *d = &vr->desc[id];
    uint64_t addr = amp_le64((uint64_t)(uint32_t)(vr->shm.da + off));
    if (d->addr != addr || d->len != amp_le32(len) || d->flags != amp_le16(flags)) {
        d->addr = addr;
        d->len = amp_le32(len);
        d->flags = amp_le16(flags);
        d->next = 0;
        amp_cache_clean(vr->port, d, sizeof(*d));
    }
    s->off = off;
    s->len = len;
    s->state = AMP_SLOT_QUEUED;
    vr->queued++;

    volatile uint16_t *entry = &vr->avail->ring[vr->shadow_idx & (vr->num - 1)];
    *entry = amp_le16(id);
    amp_cache_clean(vr->port, entry, sizeof(*entry));
    /* the device reads desc[] and ring[] after avail->idx: publish them first */
    amp_wmb();
    vr->shadow_idx++;
    vr->avail->idx = amp_le16(vr->shadow_idx);
    amp_cache_clean(vr->port, &vr->avail->idx, sizeof(vr->avail->idx));
    return 0;
}

int amp_vring_drv_get_used(struct amp_vring *vr, uint32_t *len)
{
    if (vr->broken)
        return -EIO;
    /* Bounded, so a device that keeps publishing garbage cannot keep us
     * here: every round consumes one entry. */
    for (uint32_t round = 0; round <= vr->num; round++) {
        volatile struct amp_vring_used_elem *e = &vr->used->ring[vr->last_idx & (vr->num - 1)];
        /* at most `queued` buffers can come back */
        int err = vring_peer_idx(vr, &vr->used->idx, vr->queued, e);
        if (err)
            return err;
        amp_cache_inval(vr->port, e, sizeof(*e));
        uint32_t id = amp_le32(e->id);
        uint32_t ulen = amp_le32(e->len);
        vr->last_idx++;

        if (id >= vr->num || vr->slot[id].state != AMP_SLOT_QUEUED) {
            vr->errors++; /* out of range, or not a buffer the device has */
            continue;
        }
        struct amp_vring_slot *s = &vr->slot[id];
        s->state = AMP_SLOT_FREE;
        vr->queued--;
        if (ulen > s->len) {
            vr->errors++; /* claims more than the buffer holds */
            ulen = 0;
        }
        *len = ulen;
        return (int)id;
    }
    return -EAGAIN;
}

bool amp_vring_drv_kick_prepare(struct amp_vring *vr)
{
    return vring_kick_prepare(vr, true);
}

bool amp_vring_drv_enable_cb(struct amp_vring *vr)
{
    return vring_enable_cb(vr, true);
}

void amp_vring_drv_disable_cb(struct amp_vring *vr)
{
    vring_disable_cb(vr, true);
}

/* ==== Device role ==== */

/* The device takes the ring as the driver left it. A driver may have
 * returned buffers to itself through the used ring before we came (the
 * RPMsg-Lite v5.4.0 master puts its send buffers on vring1's used ring,
 * used.idx = their count), and peers continue from the shared used index:
 * so do we, or our first entries would overwrite ones the driver has
 * consumed and the index would go backwards. More than num such entries
 * is garbage. The avail side starts at 0: a fresh ring. */
int amp_vring_dev_continue(struct amp_vring *vr)
{
    amp_cache_inval(vr->port, &vr->used->idx, sizeof(vr->used->idx));
    uint16_t idx = amp_le16(vr->used->idx);
    if (idx > vr->num)
        return vring_break(vr);
    vr->shadow_idx = vr->kick_idx = idx;
    return 0;
}

int amp_vring_dev_get_avail(struct amp_vring *vr, uint32_t *off, uint32_t *len)
{
    if (vr->broken)
        return -EIO;
    for (uint32_t round = 0; round <= vr->num; round++) {
        volatile uint16_t *entry = &vr->avail->ring[vr->last_idx & (vr->num - 1)];
        int err = vring_peer_idx(vr, &vr->avail->idx, vr->num, entry);
        if (err)
            return err;
        amp_cache_inval(vr->port, entry, sizeof(*entry));
        uint32_t head = amp_le16(*entry);
        vr->last_idx++;

        if (head >= vr->num || vr->slot[head].state != AMP_SLOT_FREE) {
            vr->errors++; /* out of range, or a head we already hold */
            continue;
        }
        volatile struct amp_vring_desc *d = &vr->desc[head];
        amp_cache_inval(vr->port, d, sizeof(*d));
        /* the address as its two little-endian words, low first: a 64-bit
         * value would take a register pair on a 32-bit core */
        const volatile uint32_t *da = (const volatile uint32_t *)&d->addr;
        uint32_t dlo = amp_le32(da[0]), dhi = amp_le32(da[1]);
        uint32_t dlen = amp_le32(d->len);
        uint32_t doff = dlo - vr->shm.da; /* mod 2^32: see struct amp_shm */
        if ((amp_le16(d->flags) & (AMP_VRING_DESC_F_NEXT | AMP_VRING_DESC_F_INDIRECT)) || dhi ||
            !amp_range_ok32(doff, dlen, vr->shm.size)) {
            vr->errors++; /* chained, indirect, or outside the shared window */
            continue;
        }
        struct amp_vring_slot *s = &vr->slot[head];
        s->off = doff;
        s->len = dlen;
        s->state = AMP_SLOT_QUEUED;
        vr->queued++;
        *off = doff;
        *len = dlen;
        return (int)head;
    }
    return -EAGAIN;
}

int amp_vring_dev_put_used(struct amp_vring *vr, uint16_t head, uint32_t len)
{
    if (vr->broken)
        return -EIO;
    if (head >= vr->num || vr->slot[head].state != AMP_SLOT_QUEUED || len > vr->slot[head].len)
        return -EINVAL;
    vr->slot[head].state = AMP_SLOT_FREE;
    vr->queued--;

    volatile struct amp_vring_used_elem *e = &vr->used->ring[vr->shadow_idx & (vr->num - 1)];
    e->id = amp_le32(head);
    e->len = amp_le32(len);
    amp_cache_clean(vr->port, e, sizeof(*e));
    /* the driver reads ring[] and the buffer after used->idx: publish them first */
    amp_wmb();
    vr->shadow_idx++;
    vr->used->idx = amp_le16(vr->shadow_idx);
    amp_cache_clean(vr->port, &vr->used->idx, sizeof(vr->used->idx));
    return 0;
}

bool amp_vring_dev_kick_prepare(struct amp_vring *vr)
{
    return vring_kick_prepare(vr, false);
}

bool amp_vring_dev_enable_cb(struct amp_vring *vr)
{
    return vring_enable_cb(vr, false);
}

void amp_vring_dev_disable_cb(struct amp_vring *vr)
{
    vring_disable_cb(vr, false);
}
