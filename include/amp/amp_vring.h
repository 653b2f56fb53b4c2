/*
 * amp_vring.h - virtio 1.x split virtqueues ("legacy" layout, as Linux
 * remoteproc lays them out), in both roles.
 *
 * The driver (the host) owns the buffers: it posts them on the avail ring
 * and reclaims them from the used ring. The device (the remote) takes
 * buffers from the avail ring and returns them on the used ring.
 *
 * Layout in shared memory for `num` entries (a power of two) and `align`:
 *
 *     desc[num]         16 bytes each: addr u64, len u32, flags u16, next u16
 *     avail             flags u16, idx u16, ring[num] u16, used_event u16
 *     (pad to align)
 *     used              flags u16, idx u16, ring[num] {id u32, len u32},
 *                       avail_event u16
 *
 * Main invariant: nothing the peer writes is used before it is checked
 * against our own copy of the geometry (never the shared one). Per entry,
 * a bad head id, a descriptor outside the shared window (an address above
 * 4 GiB included), a chained or indirect descriptor, an id that is not
 * outstanding or a used length larger than what was posted is counted in
 * `errors` and dropped. An index that moves by more than `num` means the
 * ring itself is garbage: the queue is marked broken and every call
 * returns -EIO until it is set up again.
 */
#ifndef AMP_VRING_H
#define AMP_VRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amp_port.h"

#define AMP_VRING_DESC_F_NEXT 1u     /* chained: not used by RPMsg, refused */
#define AMP_VRING_DESC_F_WRITE 2u    /* device-writable buffer */
#define AMP_VRING_DESC_F_INDIRECT 4u /* indirect table: refused */

#define AMP_VRING_AVAIL_F_NO_INTERRUPT 1u /* driver: "don't interrupt me" */
#define AMP_VRING_USED_F_NO_NOTIFY 1u     /* device: "don't kick me" */

#define AMP_VIRTIO_F_EVENT_IDX 29 /* VIRTIO_RING_F_EVENT_IDX, a bit number */

/* Wire structures (little-endian). */
struct amp_vring_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct amp_vring_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[]; /* num entries, then used_event */
};

struct amp_vring_used_elem {
    uint32_t id;
    uint32_t len;
};

struct amp_vring_used {
    uint16_t flags;
    uint16_t idx;
    struct amp_vring_used_elem ring[]; /* num entries, then avail_event */
};

/* Bytes from the start of the ring to the avail and used parts, and the
 * whole size. All return 0 if num or align is not a power of two or num is
 * larger than AMP_CFG_VRING_NUM_MAX. */
size_t amp_vring_avail_offset(uint32_t num);
size_t amp_vring_used_offset(uint32_t num, uint32_t align);
size_t amp_vring_size(uint32_t num, uint32_t align);

/* The window of shared memory that buffers must lie in: `size` bytes seen
 * locally at `va` and by the peer at device address `da`. Device addresses
 * are 32-bit, as in the resource table; an address is in the window when
 * (addr - da) mod 2^32 < size, so an access through the window never
 * leaves [va, va + size) whatever da is. */
struct amp_shm {
    uint8_t *va;
    uint32_t da;
    uint32_t size;
};

/* Our record of one descriptor id, in memory the caller provides (num
 * per ring). Never shared. */
struct amp_vring_slot {
    uint32_t off;  /* buffer offset in the shm window */
    uint32_t len;  /* buffer length as posted (driver) or validated (device);
                    * the layer above may lower it, never raise it */
    uint16_t next; /* free-list link, for the layer above */
    uint8_t state; /* AMP_SLOT_*: who has the buffer */
    uint8_t user;  /* free for the layer above */
};

#define AMP_SLOT_FREE 0u  /* ours, not in the ring */
#define AMP_SLOT_QUEUED 1u /* driver: posted, peer owns it; device: taken */

/* Small fields first: Thumb's 16-bit loads reach a byte only in the first
 * 32 bytes of a struct and a halfword in the first 64; then slot and shm,
 * which the RPMsg layer reads through its device (struct amp_rpmsg). */
struct amp_vring {
    bool broken;                            /* ring indices are garbage: -EIO from now on */
    bool event_idx;                         /* was VIRTIO_RING_F_EVENT_IDX negotiated? */
    bool cb_enabled;                        /* do we currently ask the peer to notify us? */
    bool always_notify;                     /* notify after every batch, whatever the peer's
                                             * flags or event index say (set by the user) */
    uint16_t num;                           /* our copy: never re-read */
    uint16_t shadow_idx;                    /* driver: avail idx we published; device: used */
    uint16_t last_idx;                      /* driver: next used to read; device: next avail */
    uint16_t peer_idx;                      /* the peer's index as last read and checked */
    uint16_t kick_idx;                      /* shadow_idx at the last kick decision */
    uint16_t queued;                        /* ids in state QUEUED */
    struct amp_vring_slot *slot;            /* our per-id state, num entries */
    struct amp_shm shm;                     /* where buffers may be */
    volatile struct amp_vring_desc *desc;   /* written by the driver */
    volatile struct amp_vring_avail *avail; /* written by the driver */
    volatile struct amp_vring_used *used;   /* written by the device */
    volatile uint16_t *used_event;          /* in avail: written by the driver (these two
                                             * NULL without AMP_CFG_VRING_EVENT_IDX) */
    volatile uint16_t *avail_event;         /* in used: written by the device */
    const struct amp_port *port;            /* for cache maintenance */
    uint32_t errors;                        /* violations by the peer, counted and dropped */
};

/* --- Driver role (host) --- */

/* Lay out a ring of `num` entries at `mem` (amp_vring_size() bytes, in the
 * shm window or not) and zero it. `slots` holds num entries. Returns 0 or
 * -EINVAL for a bad geometry. */
int amp_vring_drv_init(struct amp_vring *vr, void *mem, uint32_t num, uint32_t align,
                       const struct amp_shm *shm, struct amp_vring_slot *slots, bool event_idx,
                       const struct amp_port *port);

/* Post buffer `id`: `len` bytes at offset `off` of the shm window, with
 * descriptor flags (AMP_VRING_DESC_F_WRITE for buffers the device fills).
 * The avail index is published at once. Returns 0, -EBUSY if the id is
 * already posted, -EINVAL for an id or range we did not set up, -EIO. */
int amp_vring_drv_add(struct amp_vring *vr, uint16_t id, uint32_t off, uint32_t len,
                      uint16_t flags);

/* Take the next used buffer. Returns its id and the length the device
 * wrote in *len, -EAGAIN if there is none, -EIO if the ring is broken. A
 * used length larger than the posted one is counted and reported as 0. */
int amp_vring_drv_get_used(struct amp_vring *vr, uint32_t *len);

/* After adding: does the device want a notification? */
bool amp_vring_drv_kick_prepare(struct amp_vring *vr);

/* Ask for / stop asking for a notification when buffers are used. enable
 * returns true if used buffers are already waiting (process them before
 * sleeping, or a notification may never come). */
bool amp_vring_drv_enable_cb(struct amp_vring *vr);
void amp_vring_drv_disable_cb(struct amp_vring *vr);

/* --- Device role (remote) --- */

/* Attach to a ring the driver laid out at `mem`. Nothing is read yet. */
int amp_vring_dev_init(struct amp_vring *vr, void *mem, uint32_t num, uint32_t align,
                       const struct amp_shm *shm, struct amp_vring_slot *slots, bool event_idx,
                       const struct amp_port *port);

/* Where the three parts of a ring are, when each has an address of its
 * own (vhost-user): desc[num] (16-byte aligned), avail (2) and used (4),
 * each as many bytes as the layout above gives it. */
struct amp_vring_parts {
    void *desc;
    void *avail;
    void *used;
};

/* Attach to a ring given part by part; the caller has checked that each
 * part lies in memory it may touch. 0, or -EINVAL for a bad geometry or
 * a misaligned part. Nothing is read yet. */
int amp_vring_dev_init_parts(struct amp_vring *vr, const struct amp_vring_parts *parts,
                             uint32_t num, const struct amp_shm *shm,
                             struct amp_vring_slot *slots, bool event_idx,
                             const struct amp_port *port);

/* Take the next available buffer. Returns its head id, with its offset in
 * the shm window and length in *off and *len (both checked, and kept in
 * the slot); -EAGAIN if there is none; -EIO if the ring is broken. */
int amp_vring_dev_get_avail(struct amp_vring *vr, uint32_t *off, uint32_t *len);

/* Return buffer `head` with `len` bytes written. -EINVAL if we do not hold
 * that head or len is larger than the buffer. */
int amp_vring_dev_put_used(struct amp_vring *vr, uint16_t head, uint32_t len);

/* Once the driver has laid the ring out (DRIVER_OK): continue from the
 * used index it left, as the driver may have returned up to num buffers
 * to itself through the used ring before we came (RPMsg-Lite's master
 * does). 0, or -EIO (and the ring is broken) if used->idx is above num. */
int amp_vring_dev_continue(struct amp_vring *vr);

/* After returning buffers: does the driver want a notification? */
bool amp_vring_dev_kick_prepare(struct amp_vring *vr);

/* Ask for / stop asking for a notification when buffers become available.
 * enable returns true if some already are. */
bool amp_vring_dev_enable_cb(struct amp_vring *vr);
void amp_vring_dev_disable_cb(struct amp_vring *vr);

/* The event-index rule from the virtio spec: notify if `event` lies in
 * [old, new) of the 16-bit index space. */
static inline bool amp_vring_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

#endif /* AMP_VRING_H */
