/*
 * loopback.h - a host and a remote RPMsg device in one process, for tests.
 *
 * Both sides see the same shared window (malloc'd, so AddressSanitizer
 * guards its edges). The fake port counts notifications, keeps a fake
 * millisecond clock and implements wait() cooperatively: waiting on one
 * side runs one poll of the other side (when `peer_polls` is set), then
 * advances the clock by 1 ms. So blocking paths are deterministic and a
 * lost notification shows up as a test that times out on the fake clock.
 */
#ifndef LOOPBACK_H
#define LOOPBACK_H

#include <stdlib.h>
#include <string.h>

#include "amp/amp.h"

#define LB_DA 0x20000000u
#define LB_SHM_SIZE (512u * 1024u)

struct lb_port {
    struct amp_rpmsg *peer; /* polled from wait() when peer_polls */
    bool peer_polls;
    uint32_t now;           /* fake clock, ms */
    uint32_t kicks;         /* notifications sent to the peer */
    uint32_t waits;
    struct lb_port *other;  /* the peer's port: kicks land in other->pending */
    uint32_t pending;       /* notifications received */
};

static int lb_notify(void *ctx, uint32_t id)
{
    struct lb_port *p = ctx;
    (void)id;
    p->kicks++;
    if (p->other)
        p->other->pending++;
    return 0;
}

static int lb_wait(void *ctx, int32_t timeout_ms)
{
    struct lb_port *p = ctx;
    p->waits++;
    if (p->peer_polls && p->peer)
        amp_rpmsg_poll(p->peer);
    (void)timeout_ms; /* the library counts the time on our clock */
    p->now++;
    p->pending = 0;
    return 0;
}

static uint32_t lb_now(void *ctx)
{
    return ((struct lb_port *)ctx)->now;
}

static const struct amp_port_ops lb_ops = {
    .notify = lb_notify,
    .wait = lb_wait,
    .now_ms = lb_now,
};

struct loopback {
    uint8_t *shm;
    bool own_shm;
    struct amp_shm win;
    struct amp_rsc_vdev *vdev;
    struct lb_port hport, rport;
    struct amp_port hp, rp;
    struct amp_rpmsg host, remote;
    struct amp_rpmsg_cfg hcfg, rcfg;
    struct amp_vring_slot hslots[2 * 256], rslots[2 * 256];
};

/* Layout in the window: vdev at 0, vring0 at 4 KiB, vring1 after it,
 * buffer pool at 64 KiB. `shm` is LB_SHM_SIZE bytes (NULL: allocate). */
static inline void lb_setup_in(struct loopback *lb, uint32_t num, uint32_t features, uint8_t *shm)
{
    memset(lb, 0, sizeof(*lb));
    lb->shm = shm ? shm : aligned_alloc(4096, LB_SHM_SIZE);
    lb->own_shm = !shm;
    memset(lb->shm, 0, LB_SHM_SIZE);
    lb->win.va = lb->shm;
    lb->win.da = LB_DA;
    lb->win.size = LB_SHM_SIZE;
    lb->vdev = (struct amp_rsc_vdev *)lb->shm;
    lb->vdev->type = AMP_RSC_VDEV;
    lb->vdev->id = AMP_VIRTIO_ID_RPMSG;
    lb->vdev->dfeatures = features;
    lb->vdev->num_of_vrings = 2;
    uint32_t rsize = (uint32_t)amp_vring_size(num, 64);
    uint32_t r0 = 4096, r1 = (r0 + rsize + 4095) & ~4095u;
    uint32_t vda[2] = {LB_DA + r0, LB_DA + r1};
    for (int i = 0; i < 2; i++) {
        lb->vdev->vring[i].da = vda[i];
        lb->vdev->vring[i].align = 64;
        lb->vdev->vring[i].num = num;
        lb->vdev->vring[i].notifyid = (uint32_t)i;
    }
    lb->hport.other = &lb->rport;
    lb->rport.other = &lb->hport;
    lb->hport.peer = &lb->remote;
    lb->rport.peer = &lb->host;
    lb->hp = (struct amp_port){&lb_ops, &lb->hport};
    lb->rp = (struct amp_port){&lb_ops, &lb->rport};
    amp_rpmsg_init(&lb->host, AMP_ROLE_HOST, &lb->hp);
    amp_rpmsg_init(&lb->remote, AMP_ROLE_REMOTE, &lb->rp);

    struct amp_rpmsg_cfg *h = &lb->hcfg;
    h->shm = lb->win;
    h->vring_da[0] = vda[0];
    h->vring_da[1] = vda[1];
    h->num = num;
    h->align = 64;
    h->notifyid[0] = 0;
    h->notifyid[1] = 1;
    h->pool_da = LB_DA + 65536;
    h->pool_size = LB_SHM_SIZE - 65536;
    h->features = (1u << AMP_RPMSG_F_NS) | (1u << AMP_VIRTIO_F_EVENT_IDX);
    h->vdev = lb->vdev;
    h->slots = lb->hslots;
    h->nslots = 2 * 256;

    struct amp_rpmsg_cfg *r = &lb->rcfg;
    amp_rpmsg_cfg_from_vdev(r, lb->vdev);
    r->shm = lb->win;
    r->features = (1u << AMP_RPMSG_F_NS) | (1u << AMP_VIRTIO_F_EVENT_IDX);
    r->slots = lb->rslots;
    r->nslots = 2 * 256;
}

static inline void lb_setup(struct loopback *lb, uint32_t num, uint32_t features)
{
    lb_setup_in(lb, num, features, NULL);
}

/* Bring the link up on both sides and exchange the announcements. */
static inline int lb_start(struct loopback *lb)
{
    int err = amp_rpmsg_start(&lb->host, &lb->hcfg, 0);
    if (err)
        return err;
    err = amp_rpmsg_start(&lb->remote, &lb->rcfg, 0);
    if (err)
        return err;
    for (int i = 0; i < 4; i++) {
        amp_rpmsg_poll(&lb->host);
        amp_rpmsg_poll(&lb->remote);
    }
    return 0;
}

static inline void lb_teardown(struct loopback *lb)
{
    if (lb->own_shm)
        free(lb->shm);
    lb->shm = NULL;
}

#endif /* LOOPBACK_H */
