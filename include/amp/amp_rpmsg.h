/*
 * amp_rpmsg.h - the RPMsg bus over two virtqueues, with endpoints and the
 * name service, in both roles. Wire-compatible with Linux's
 * virtio_rpmsg_bus, OpenAMP and RPMsg-Lite.
 *
 * Wire format (little-endian): every message starts with a 16-byte header
 * (src u32, dst u32, reserved u32, len u16, flags u16) followed by len
 * bytes of payload. vring0 carries remote->host, vring1 host->remote. The
 * host owns every buffer: it fills vring0 with empty buffers at start and
 * sends from its own pool on vring1. The name service listens at address
 * 53 and takes 40-byte messages (name[32], addr u32, flags u32: 0 create,
 * 1 destroy).
 *
 * Threading: every call takes the port lock (if the port has one and
 * AMP_CFG_LOCK is on), so one poller thread and any number of sender
 * threads may share a device. Callbacks run with the lock released and
 * may send, create and destroy endpoints; they must not destroy their own
 * endpoint's device.
 */
#ifndef AMP_RPMSG_H
#define AMP_RPMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amp_port.h"
#include "amp_rsc.h"
#include "amp_vring.h"

#define AMP_ADDR_ANY 0xFFFFFFFFu
#define AMP_RPMSG_NS_ADDR 53u
#define AMP_RPMSG_ADDR_RESERVED 1024u /* below: fixed services; dynamic ones start here */
#define AMP_RPMSG_NAME_SIZE 32u
#define AMP_RPMSG_HDR_SIZE 16u
#define AMP_RPMSG_F_NS 0 /* VIRTIO_RPMSG_F_NS, a feature bit number */
#define AMP_RPMSG_NS_CREATE 0u
#define AMP_RPMSG_NS_DESTROY 1u

/* Callback return values: release the buffer, or keep it until
 * amp_rpmsg_release_rx() (zero-copy receive). */
#define AMP_RX_DONE 0
#define AMP_RX_HOLD 1

struct amp_rpmsg_hdr {
    uint32_t src;
    uint32_t dst;
    uint32_t reserved;
    uint16_t len;
    uint16_t flags;
};

struct amp_rpmsg_ns_msg {
    char name[AMP_RPMSG_NAME_SIZE];
    uint32_t addr;
    uint32_t flags;
};

/* The features amp's ports accept when the user names none: the name
 * service. Not EVENT_IDX: see struct amp_rpmsg_cfg. */
#define AMP_RPMSG_FEATURES_DEFAULT (1u << AMP_RPMSG_F_NS)

enum amp_role { AMP_ROLE_HOST = 1, AMP_ROLE_REMOTE = 2 };

struct amp_rpmsg;
struct amp_ept;

/* A message for `ept` from `src`: len payload bytes at data, valid until
 * the callback returns AMP_RX_DONE or, after AMP_RX_HOLD, until
 * amp_rpmsg_release_rx(). */
typedef int (*amp_ept_cb)(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv);
/* The peer destroyed the service, or the link went down: dest is ANY again. */
typedef void (*amp_ept_unbind_cb)(struct amp_ept *ept);
/* The peer announced `name` at `addr` and no local endpoint waits for it. */
typedef void (*amp_ns_cb)(struct amp_rpmsg *dev, const char *name, uint32_t addr, void *priv);

/* The name last: Thumb's 16-bit loads reach a byte only in the first 32
 * bytes of a struct (see struct amp_vring). */
struct amp_ept {
    struct amp_rpmsg *dev;          /* NULL when not created */
    struct amp_ept *next;           /* the device's list (guarded by the lock) */
    bool ns_pending;                /* an announcement is owed to the peer */
    bool announced;                 /* the peer has been told about us */
    bool unbind_due;                /* amp_rpmsg_stop: unbind callback still to run */
    bool ns_bound;                  /* dest came from the peer's announcement */
    uint32_t addr;                  /* our address */
    uint32_t dest;                  /* the peer's, AMP_ADDR_ANY until bound */
    uint32_t dest0;                 /* dest given at creation: bound again at each link up */
    amp_ept_cb cb;
    amp_ept_unbind_cb unbind_cb;
    void *priv;
    char name[AMP_RPMSG_NAME_SIZE]; /* "" = anonymous: never announced */
};

/* How to bring a device up, in either role. Three ways to fill it:
 *
 * - A resource table in shared memory, ours or a foreign one (Linux,
 *   OpenAMP): amp_rpmsg_cfg_from_vdev() takes the rings' geometry from its
 *   vdev entry, and vdev's status and feature words carry the handshake.
 * - Rings at fixed addresses without a table (RPMsg-Lite's layout):
 *   amp_rpmsg_cfg_rings() below. vdev is NULL: no handshake, both sides
 *   run with `features` as agreed out of band.
 * - By hand: every field below (the host's remoteproc layer does this).
 *
 * Then set features, slots/nslots, buf_size and, for the host, the pool.
 *
 * Features: the host accepts what the vdev's dfeatures offer and
 * `features` allows. The remote runs with what the host wrote in
 * gfeatures, and refuses to start (-ENOTSUP) if that holds a bit its
 * table did not offer or `features` lacks. EVENT_IDX (1u <<
 * AMP_VIRTIO_F_EVENT_IDX) is worth offering only to peers that run it:
 * Linux does; OpenAMP v2026.04 does not (its host never stores the
 * negotiated features, its remote never re-arms its event index), so a
 * link to it with EVENT_IDX loses notifications. amp's ports leave it out
 * of their defaults; turn it on where the peer is Linux or amp. */
struct amp_rpmsg_cfg {
    struct amp_shm shm;          /* window holding the vrings and buffers */
    uint32_t vring_da[2];        /* vring0 (remote->host), vring1 (host->remote); device
                                  * addresses are 32-bit, see struct amp_shm */
    uint32_t num;                /* entries per vring, a power of two */
    uint32_t align;              /* vring alignment, a power of two */
    const struct amp_vring_parts *parts; /* remote: vring0 and vring1 part by part, each
                                  * part checked by the caller (vhost-user); vring_da
                                  * is then unused. NULL: at vring_da */
    uint32_t notifyid[2];        /* what notify() gets for each vring */
    uint32_t buf_size;           /* host: size of each buffer (0: 512). remote: cap (0: none,
                                  * the host's buffers decide) */
    uint32_t pool_da;            /* host: where the buffers go ... */
    uint32_t pool_size;          /* ... and how many bytes they may take */
    uint32_t features;           /* features this side supports (see amp_rpmsg_start) */
    volatile struct amp_rsc_vdev *vdev; /* status and feature words, shared; NULL: none,
                                         * see amp_rpmsg_cfg_rings() */
    struct amp_vring_slot *slots;       /* 2 * num entries of our own memory */
    uint32_t nslots;
    bool always_notify;          /* notify the peer after every batch even when its ring
                                  * flags decline it: the setting for RPMsg-Lite (v5.4.0)
                                  * masters, which set VRING_AVAIL_F_NO_INTERRUPT on both
                                  * rings and never clear it. Costs a notification per
                                  * batch with other peers; correct with all of them. */
    uint32_t tx_poll_ms;         /* while a call waits for a send buffer, look again every
                                  * tx_poll_ms (0: only when notified): for peers that give
                                  * buffers back without a notification, as RPMsg-Lite
                                  * v5.4.0 built without RL_ALLOW_CONSUMED_BUFFERS_
                                  * NOTIFICATION (its default) does. Needs the port's clock,
                                  * except in amp_rpmsg_wait() after a send that found no
                                  * buffer, which then sleeps no longer than this. */
};

/* rx, tx, msg_errors, dropped and tx_total are counted as things happen;
 * the rest are read off the rings and slots by amp_rpmsg_get_stats(). */
struct amp_rpmsg_stats {
    uint32_t rx;           /* messages delivered to endpoints */
    uint32_t tx;           /* messages sent */
    uint32_t ring_errors;  /* peer violations caught by the vrings */
    uint32_t msg_errors;   /* bad headers, lengths and NS messages */
    uint32_t dropped;      /* messages for no endpoint */
    uint32_t rx_held;      /* receive buffers held by the application */
    uint32_t tx_held;      /* send buffers taken and not yet sent */
    uint32_t tx_free;      /* send buffers on our free list */
    uint32_t tx_total;     /* host: send buffers in the pool */
    uint32_t rx_queued;    /* host: rx buffers with the remote; remote: taken by us */
    uint32_t tx_queued;    /* host: sent, not yet consumed; remote: taken by us */
};

/* Small fields first (see struct amp_vring), then what the message path
 * reads, then the rings, tx first: a word load or store reaches only the
 * first 128 bytes of a struct in 16 bits, and tx.slot and tx.shm are what
 * the message path reads of the rings through dev (both rings have the
 * same window). */
struct amp_rpmsg {
    uint8_t state;             /* AMP_LINK_*: down, up, broken */
    bool ns;                   /* VIRTIO_RPMSG_F_NS negotiated? */
    bool busy_poll;            /* don't ask the peer for rx notifications */
    bool ns_pending;           /* some endpoint owes an announcement */
    bool in_poll;              /* a poll is delivering messages: keep order */
    bool rx_returned;          /* rx buffers given back since the last kick */
    bool tx_starved;           /* a send found no buffer: wait() also wakes for one */
    uint8_t ns_dead_n;         /* NS destroys owed (ns_dead below; 0 without destroy) */
    uint16_t tx_free;          /* head of the free list, 0xFFFF = empty */
    uint16_t tx_hint;          /* remote: last id handed out by alloc_tx */
    uint16_t tx_waiters;       /* senders sleeping for a free buffer */
    uint16_t ntx;              /* host: send buffers (ids of the tx ring) */
    enum amp_role role;
    struct amp_port port;
    uint32_t gen;              /* bumped when the link goes up or down */
    uint32_t cb_gen;           /* in a receive callback: gen of its message */
    uint32_t buf_size;         /* host: every buffer; remote: cap (0: none) */
    uint32_t pool_off;         /* host: buffer i at shm.va + pool_off + i * buf_size */
    uint32_t rx_notifyid;      /* notify id of our rx ring (we return buffers) */
    uint32_t tx_notifyid;      /* and of our tx ring (we send) */
    uint32_t features;         /* negotiated */
    struct amp_ept *epts;
    struct amp_rpmsg_stats st; /* the counted part; see struct amp_rpmsg_stats */
    struct amp_vring tx;       /* host: vring1; remote: vring0 */
    struct amp_vring rx;       /* host: vring0; remote: vring1 */
    const struct amp_ept *cb_ept; /* whose callback runs now (lock dropped) */
    volatile struct amp_rsc_vdev *vdev; /* status and feature words, shared */
    uint32_t next_addr;        /* where the search for a free address starts */
    amp_ns_cb ns_cb;
    void *ns_priv;
    /* rarely read: after the rings */
    uint32_t tx_poll_ms;       /* from the cfg: slice of a wait for a send buffer, 0: none */
#if AMP_CFG_RPMSG_EPT_DESTROY
    struct {
        char name[AMP_RPMSG_NAME_SIZE];
        uint32_t addr;
    } ns_dead[AMP_CFG_RPMSG_NS_DESTROY_MAX]; /* NS destroys owed, a stack */
#endif
#if AMP_CFG_RPMSG_NS_CACHE
    struct {
        char name[AMP_RPMSG_NAME_SIZE]; /* "" = empty slot */
        uint32_t addr;
    } ns_seen[AMP_CFG_RPMSG_NS_CACHE]; /* announcements no endpoint took */
    uint8_t ns_seen_next;              /* slot to overwrite next */
#endif
};

#define AMP_LINK_DOWN 0u
#define AMP_LINK_UP 1u
#define AMP_LINK_BROKEN 2u

/* --- Device --- */

/* Make an idle device. Endpoints can be created at once; they are
 * announced and bound when the link comes up. */
void amp_rpmsg_init(struct amp_rpmsg *dev, enum amp_role role, const struct amp_port *port);

/* Bring the link up. Host: lay out and zero the vrings, fill vring0,
 * write gfeatures and DRIVER_OK (if there is a vdev), kick the remote.
 * Remote: wait up to timeout_ms for DRIVER_OK (event-driven through port
 * wait; without a vdev, not at all: start it once the host's rings are
 * laid out, e.g. after the host's first kick), then attach, continuing
 * from the used index the host left (amp_vring_dev_continue). Both then
 * announce their named endpoints. Returns 0, -EINVAL for a bad cfg (a
 * ring outside the window or not 16-byte aligned, a buffer size or cap
 * below 16 bytes), -ENOMEM if the pool is too small for the rings,
 * -E2BIG if nslots is short, -EBUSY if already up, -ETIMEDOUT, -ENOTSUP
 * (remote: the host's gfeatures hold a feature the table did not offer
 * or cfg->features lacks: make the two agree), -EIO (remote: the host's
 * ring holds a used index above num). */
int amp_rpmsg_start(struct amp_rpmsg *dev, const struct amp_rpmsg_cfg *cfg, int32_t timeout_ms);

/* Take the link down (remote stopped or crashed): every endpoint is
 * unbound (dest = ANY, its unbind callback runs) and kept; buffers held
 * by the application become invalid. Senders blocked in the port's wait
 * must then be woken by the port; they return -ECONNRESET. */
void amp_rpmsg_stop(struct amp_rpmsg *dev);

/* Fill cfg from a vdev entry in shared memory, in either role (a remote
 * with its own table, a host with a remote's table already in place):
 * copies the rings' addresses, notify ids and geometry once, checks them
 * and points cfg->vdev at the entry. The caller sets shm, features, slots
 * (and for a host the pool and buf_size). 0 or -EINVAL. */
int amp_rpmsg_cfg_from_vdev(struct amp_rpmsg_cfg *cfg, const volatile struct amp_rsc_vdev *vdev);

/* Without a resource table: fill cfg for vring0 at ring_da, vring1 at
 * ring_da + stride (0: amp_vring_size(num, align)), the pool from ring_da
 * + 2 * stride to the end of the window shm, notify ids 0 and 1, vdev
 * NULL, and tx_poll_ms 1 (RPMsg-Lite, in both roles, returns buffers
 * without a doorbell unless built with RL_ALLOW_CONSUMED_BUFFERS_
 * NOTIFICATION=1; set 0 for a peer that notifies). This is RPMsg-Lite
 * v5.4.0's layout: ring_da its shared memory base, stride its VRING_SIZE,
 * num its RL_BUFFER_COUNT, align its VRING_ALIGN; its buffers are
 * RL_BUFFER_PAYLOAD_SIZE + 16 bytes (set buf_size to that on an amp
 * host). Facing its master, an amp remote also sets always_notify. The
 * caller sets features (RPMsg-Lite: NS), slots and buf_size. 0, or
 * -EINVAL if the rings overlap or do not fit. */
int amp_rpmsg_cfg_rings(struct amp_rpmsg_cfg *cfg, const struct amp_shm *shm, uint32_t ring_da,
                        uint32_t stride, uint32_t num, uint32_t align);

/* Process what the peer sent: deliver messages, handle the name service,
 * send owed announcements. Returns the number of messages handled, or
 * -ENOTCONN (link down), -EIO (broken by the peer). One call handles at
 * most about two rings' worth, so a flooding peer cannot hold it: while
 * it returns more than 0, call it again before sleeping — what it left
 * was notified already, and no new notification will come for it
 * (amp_rpmsg_wait returns after such a poll, so a loop of waits is
 * right). */
int amp_rpmsg_poll(struct amp_rpmsg *dev);

/* Poll, and if nothing came, sleep in the port's wait until something
 * does or timeout_ms passes. Returns messages handled, -ETIMEDOUT, or as
 * amp_rpmsg_poll. The usual main loop of a remote is this call. After a
 * send that found no buffer (-EAGAIN) it also returns, once, when the peer
 * gives one back (0 then): try the send again after any return. From a
 * receive callback it polls nothing (the messages behind wait for the
 * poll that runs the callback) and sleeps until a kick. */
int amp_rpmsg_wait(struct amp_rpmsg *dev, int32_t timeout_ms);

/* Called for announcements that match no local endpoint. */
void amp_rpmsg_set_ns_cb(struct amp_rpmsg *dev, amp_ns_cb cb, void *priv);

/* Busy-poll mode: tell the peer not to notify us of received messages
 * (we spin on amp_rpmsg_poll instead); and a call that waits for a send
 * buffer spins too (the port's wait with 0 ms, if the port has a clock),
 * as not every peer notifies when it returns one. */
void amp_rpmsg_set_busy_poll(struct amp_rpmsg *dev, bool on);

/* Largest payload one message can carry: buf_size - 16, buf_size being
 * the host's buffer size or the remote's cap. A remote without a cap
 * goes by the largest send buffer the host gave it on this link
 * (AMP_CFG_RPMSG_BUF_SIZE before the first one) and sends what fits a
 * buffer it can get (see amp_ept_send's -EMSGSIZE). */
uint32_t amp_rpmsg_max_payload(const struct amp_rpmsg *dev);

void amp_rpmsg_get_stats(struct amp_rpmsg *dev, struct amp_rpmsg_stats *st);

/* --- Endpoints --- */

/* Create `ept` on dev. name may be NULL or "" (anonymous), otherwise
 * shorter than 32 bytes. src AMP_ADDR_ANY: allocate one (1024 and up).
 * dest AMP_ADDR_ANY: bind to the peer's service of that name, now if it
 * was announced already (and no endpoint took it), else when it is; such
 * an endpoint announces itself once the link is up. Any other dest is
 * the peer's address for good: bound again whenever a new link comes up
 * (after a stop or a crash). Returns 0,
 * -EINVAL (bad name, src 53, ept already in use), -EADDRINUSE, -ENOSPC
 * (AMP_CFG_RPMSG_EPT_MAX 1: the device has its one endpoint already). */
int amp_ept_create(struct amp_ept *ept, struct amp_rpmsg *dev, const char *name, uint32_t src,
                   uint32_t dest, amp_ept_cb cb, void *priv);

/* Tell the peer (NS destroy) if it was announced, and remove. Never
 * blocks: with no free send buffer the destroy is queued and sent when
 * one comes back (AMP_CFG_RPMSG_NS_DESTROY_MAX). Calling it again is
 * harmless; so is calling it from the endpoint's own callback.
 * If the endpoint was bound to a service the peer announced, the service
 * is remembered again for the next endpoint of that name. Not there with
 * AMP_CFG_RPMSG_EPT_DESTROY 0 (endpoints live as long as the device). */
#if AMP_CFG_RPMSG_EPT_DESTROY
void amp_ept_destroy(struct amp_ept *ept);
#endif

/* Wait until no callback of ept (destroyed or not) runs on another
 * thread: call it after amp_ept_destroy() from a thread that does not
 * poll, before freeing or reusing ept's memory. Not from ept's own
 * callback, which would wait for itself. */
void amp_rpmsg_quiesce(struct amp_rpmsg *dev, const struct amp_ept *ept);

void amp_ept_set_unbind_cb(struct amp_ept *ept, amp_ept_unbind_cb cb);

/* Bound both ways: we have an address and know the peer's. */
bool amp_ept_is_ready(const struct amp_ept *ept);

/* Copy len bytes into a buffer and send them to the bound peer. timeout_ms
 * bounds the wait for a free buffer (0: don't wait). Returns len, or
 * -ENOTCONN (not bound / link down), -EMSGSIZE (nothing sent: len is over
 * 65,535, over the host's buffer size or the remote's cap less the 16-byte
 * header, or, on a remote, over every send buffer it can get now: those it
 * holds unsent and those the host has posted; a host posting mixed sizes
 * may give a larger one later), -EAGAIN (timeout 0, no buffer at all),
 * -ETIMEDOUT, -ECONNRESET (the link went down while waiting), -EIO
 * (broken by the peer). A remote uses the buffers it holds first, and
 * keeps one too small for a message for a later one it fits, so a small
 * buffer never stands in the way of a larger copy send. len 0 is a
 * valid message. */
int amp_ept_send(struct amp_ept *ept, const void *data, size_t len, int32_t timeout_ms);

/* The same with explicit addresses; AMP_ADDR_ANY means the endpoint's own. */
int amp_ept_sendto(struct amp_ept *ept, uint32_t src, uint32_t dst, const void *data, size_t len,
                   int32_t timeout_ms);

/* --- Zero-copy --- */

/* Get a send buffer: *payload points at its payload, *cap is how many
 * bytes fit. Errors as amp_ept_send. It is the first one to be had,
 * whatever its size: with a host that posts buffers of mixed sizes, a
 * buffer too small for the message should be released and the message
 * sent by copy (amp_ept_send takes one that fits). */
int amp_rpmsg_alloc_tx(struct amp_rpmsg *dev, void **payload, uint32_t *cap, int32_t timeout_ms);

/* Send len bytes already written at payload (from alloc_tx) to dst
 * (AMP_ADDR_ANY: the bound peer). On success the buffer is gone; on error
 * the caller still owns it. Returns len or -errno (-EINVAL: not a buffer
 * from alloc_tx). */
int amp_ept_send_nocopy(struct amp_ept *ept, uint32_t dst, void *payload, size_t len);

/* Give back an unsent buffer from alloc_tx. 0 or -EINVAL. */
int amp_rpmsg_release_tx(struct amp_rpmsg *dev, void *payload);

/* Give back a receive buffer kept with AMP_RX_HOLD. 0 or -EINVAL. */
int amp_rpmsg_release_rx(struct amp_rpmsg *dev, void *payload);

/* The same, for a buffer held in link generation `gen` (dev->cb_gen as
 * the callback saw it): -ESTALE, and nothing released, if the link has
 * gone down since (the buffer went with it; the same address may belong
 * to a newer message now). For holders that may outlive a restart. */
int amp_rpmsg_release_rx_gen(struct amp_rpmsg *dev, void *payload, uint32_t gen);

#endif /* AMP_RPMSG_H */
