/*
 * amp_rproc.c - life cycle of the remote core: load, resources, start,
 * stop, crash, shutdown.
 *
 * Main invariant: every start begins from a known image and a fresh
 * resource table. The table the host acts on is its own copy in rp->rsc,
 * checked by amp_rsc_check(); the remote's copy is only written (once,
 * before the remote runs) and its vdev status/feature words are then
 * handed to the RPMsg layer, which reads them as single words.
 */
#include <string.h>

#include "amp/amp_rproc.h"
#include "amp_util.h"

/* Without reasons rp->why stays the NULL amp_rproc_init() put there. */
static void set_why(struct amp_rproc *rp, const char *why)
{
    if (AMP_CFG_REASONS)
        rp->why = why;
}

static int fail_(struct amp_rproc *rp, int err, const char *why)
{
    set_why(rp, why);
    return err;
}
/* the sentence is dropped here, at the call, when reasons are off */
#define fail(rp, err, why) fail_(rp, err, AMP_WHY(why))

static void *da_to_va(struct amp_rproc *rp, uint64_t da, size_t len, unsigned flags)
{
    if (!rp->port.ops->da_to_va)
        return NULL;
    return rp->port.ops->da_to_va(rp->port.ctx, da, len, flags);
}

const char *amp_rproc_state_name(enum amp_rproc_state s)
{
    /* one string and where each name starts: no table of pointers */
    static const char names[] = "offline\0ready\0running\0stopped\0crashed\0attached\0unknown";
    static const uint8_t at[] = {0, 8, 14, 22, 30, 38, 47};
    return names + at[(unsigned)s < sizeof(at) - 1 ? (unsigned)s : sizeof(at) - 1];
}

void amp_rproc_init(struct amp_rproc *rp, const struct amp_port *port, struct amp_rpmsg *rpmsg,
                    const struct amp_rproc_cfg *cfg)
{
    memset(rp, 0, sizeof(*rp));
    rp->port = *port;
    rp->rpmsg = rpmsg;
    rp->cfg = *cfg;
    rp->state = AMP_RPROC_OFFLINE;
}

/* (Re)load the image from the reader into the remote's memory. */
static int load_image(struct amp_rproc *rp)
{
    struct amp_elf elf; /* not zeroed: the loader sets every field it fills (amp_elf.h) */
    elf.read = rp->read;
    elf.read_ctx = rp->read_ctx;
    elf.size = rp->size;
    elf.machine = rp->cfg.machine;
    int err = amp_elf_load(&elf, &rp->port);
    if (err)
        return fail(rp, err, elf.why);
    if (!da_to_va(rp, elf.entry, 1, 0))
        return fail(rp, -ERANGE, "the entry point is outside the remote's memory");
    rp->machine = elf.e_machine;
    rp->entry = elf.entry;
    rp->rsc_da = elf.rsc_da;
    rp->rsc_size = elf.rsc_size > UINT32_MAX ? UINT32_MAX : (uint32_t)elf.rsc_size;
    return 0;
}

int amp_rproc_load(struct amp_rproc *rp, amp_elf_read_fn read, void *ctx, uint64_t size)
{
    if (rp->state == AMP_RPROC_RUNNING)
        return fail(rp, -EBUSY, "the remote is running: stop it before loading");
    if (!read)
        return fail(rp, -EINVAL, "no reader");
    rp->read = read;
    rp->read_ctx = ctx;
    rp->size = size;
    rp->have_image = true;
    int err = load_image(rp);
    if (err) {
        rp->have_image = false;
        rp->state = AMP_RPROC_OFFLINE;
        return err;
    }
    rp->state = AMP_RPROC_READY;
    set_why(rp, NULL);
    return 0;
}

int amp_rproc_attach(struct amp_rproc *rp, uint64_t entry)
{
    if (rp->state == AMP_RPROC_RUNNING || rp->state == AMP_RPROC_CRASHED)
        return fail(rp, -EBUSY, "attach needs a remote that is not running: stop it first");
    if (!da_to_va(rp, entry, 1, 0))
        return fail(rp, -ERANGE, "the entry point is outside the remote's memory");
    /* offline, ready, stopped, attached: use whatever is in its memory */
    rp->have_image = false;
    rp->entry = entry;
    rp->rsc_size = 0; /* only a host-provided table can describe it */
    rp->state = AMP_RPROC_ATTACHED;
    set_why(rp, NULL);
    return 0;
}

/* ==== Resources ==== */

/* Bump allocator over the shared window, for vrings the firmware lets the
 * host place. In 32 bits, as the window is (struct amp_shm): an offset
 * that wraps rounding up, or an address past 4 GiB, is no room. */
struct shm_alloc {
    const struct amp_shm *shm;
    uint32_t next; /* offset of the first free byte, <= shm->size */
};

static bool shm_take(struct shm_alloc *a, uint32_t size, uint32_t align, uint32_t *da)
{
    uint32_t off = a->next + (-a->next & (align - 1)); /* align: a power of two */
    if (off < a->next || !amp_range_ok32(off, size, a->shm->size) || off > UINT32_MAX - a->shm->da)
        return false;
    a->next = off + size;
    *da = a->shm->da + off;
    return true;
}

/* Copy the table to rp->rsc: the image's, or one we build. */
static int rsc_fetch(struct amp_rproc *rp)
{
    if (rp->rsc_size) {
        if (rp->rsc_size > sizeof(rp->rsc))
            return fail(rp, -E2BIG, "the resource table is larger than AMP_CFG_RSC_TABLE_MAX");
        const void *va = da_to_va(rp, rp->rsc_da, rp->rsc_size, 0);
        if (!va)
            return fail(rp, -ERANGE, "the resource table is outside the remote's memory");
        if ((uintptr_t)va & 3) /* its status and feature words are 32-bit */
            return fail(rp, -EINVAL, "the resource table is not 4-byte aligned");
        memcpy(rp->rsc, va, rp->rsc_size);
        return 0;
    }
    if (rp->cfg.rsc_da == AMP_RSC_ADDR_ANY)
        return fail(rp, -ENOENT,
                    "no resource table: the image has no .resource_table and the platform provides none");
    size_t n = amp_rsc_build_rpmsg(rp->rsc, sizeof(rp->rsc), &rp->cfg.host_rsc);
    if (n == 0)
        return fail(rp, -E2BIG, "the host-provided table does not fit");
    rp->rsc_da = rp->cfg.rsc_da;
    rp->rsc_size = (uint32_t)n;
    return 0;
}

/* Place the vdev's vrings; fill the RPMsg config. */
static int rsc_vdev(struct amp_rproc *rp, struct amp_rsc_vdev *v, struct shm_alloc *a,
                    struct amp_rpmsg_cfg *rc)
{
    if (v->num_of_vrings < 2)
        return fail(rp, -EINVAL, "the RPMsg vdev needs two vrings");
    if (v->vring[0].num != v->vring[1].num || v->vring[0].align != v->vring[1].align)
        return fail(rp, -EINVAL, "vrings of different sizes are not supported");
    uint32_t num = amp_le32(v->vring[0].num), align = amp_le32(v->vring[0].align);
    uint32_t size = (uint32_t)amp_vring_size(num, align); /* < 2^32: num <= 32768 */
    if (!size)
        return fail(rp, -EINVAL, "bad vring geometry");
    if (!rp->cfg.slots || rp->cfg.nslots < 2 * num)
        return fail(rp, -E2BIG, "the vrings are larger than the host's slot storage");
    /* fixed rings first, so that placed ones go after them */
    for (int i = 0; i < 2; i++) {
        uint32_t da = amp_le32(v->vring[i].da);
        if (da == AMP_RSC_ADDR_ANY)
            continue;
        if (da < a->shm->da || !amp_range_ok32(da - a->shm->da, size, a->shm->size))
            return fail(rp, -ERANGE, "a vring is outside the shared memory window");
        if (da - a->shm->da + size > a->next)
            a->next = da - a->shm->da + size;
    }
    for (int i = 0; i < 2; i++) {
        struct amp_rsc_vring *r = &v->vring[i];
        uint32_t da = amp_le32(r->da);
        if (da == AMP_RSC_ADDR_ANY) {
            if (!shm_take(a, size, align < 64 ? 64 : align, &da))
                return fail(rp, -ENOMEM, "no room for the vrings in the shared window");
            r->da = amp_le32(da);
        }
        if (amp_le32(r->notifyid) == AMP_RSC_ADDR_ANY)
            r->notifyid = amp_le32((uint32_t)i);
        rc->vring_da[i] = da;
        rc->notifyid[i] = amp_le32(r->notifyid);
    }
    v->status = 0;
    v->gfeatures = 0;
    rc->num = num;
    rc->align = align;
    return 0;
}

/* Check our copy, assign what the host must, write it back, and describe
 * the RPMsg link in *rc (rc->vdev NULL: the firmware has none). */
static int rsc_setup(struct amp_rproc *rp, struct amp_rpmsg_cfg *rc)
{
    int err = rsc_fetch(rp);
    if (err)
        return err;
    const char *why = NULL;
    if (amp_rsc_check(rp->rsc, rp->rsc_size, AMP_CFG_REASONS ? &why : NULL))
        return fail(rp, -EINVAL, why);

    struct shm_alloc a = {&rp->cfg.shm, 0};
    bool have_vdev = false;
    uint32_t vdev_off = 0;
    uint32_t type;
    void *e;
    rp->ntrace = 0;
    memset(rc, 0, sizeof(*rc));
    for (uint32_t i = 0; (e = amp_rsc_entry(rp->rsc, i, &type)) != NULL; i++) {
        if (type == AMP_RSC_TRACE) {
            struct amp_rsc_trace *t = e;
            uint32_t da = amp_le32(t->da), len = amp_le32(t->len);
            if (!len || !da_to_va(rp, da, len, 0))
                return fail(rp, -ERANGE, "a trace buffer is outside the remote's memory");
            if (rp->ntrace < AMP_CFG_RPROC_TRACE_MAX) {
                struct amp_rproc_trace *tr = &rp->trace[rp->ntrace++];
                tr->da = da;
                tr->len = len;
                /* our checked copy: the name's NUL is inside (amp_rsc_check) */
                memcpy(tr->name, t->name, sizeof(tr->name));
            }
        } else if (type == AMP_RSC_CARVEOUT) {
            struct amp_rsc_carveout *c = e;
            uint32_t da = amp_le32(c->da);
            uint32_t len = amp_le32(c->len);
            if (da == AMP_RSC_ADDR_ANY) {
                if (!shm_take(&a, len, 4096, &da))
                    return fail(rp, -ENOMEM, "no room for a carveout in the shared window");
                c->da = amp_le32(da);
                c->pa = c->da;
            } else if (!da_to_va(rp, da, len, 0)) {
                return fail(rp, -ERANGE, "a carveout is outside the remote's memory");
            }
        } else if (type == AMP_RSC_VDEV && !have_vdev) {
            struct amp_rsc_vdev *v = e;
            if (amp_le32(v->id) != AMP_VIRTIO_ID_RPMSG)
                continue; /* another virtio device: not ours to drive */
            vdev_off = (uint32_t)((uint8_t *)e - rp->rsc);
            err = rsc_vdev(rp, v, &a, rc);
            if (err)
                return err;
            have_vdev = true;
        }
        /* devmem and vendor entries need nothing from us */
    }

    uint8_t *remote = da_to_va(rp, rp->rsc_da, rp->rsc_size, 0);
    if (!remote)
        return fail(rp, -ERANGE, "the resource table is outside the remote's memory");
    memcpy(remote, rp->rsc, rp->rsc_size);
    amp_cache_clean(&rp->port, remote, rp->rsc_size);
    if (!have_vdev) {
        rc->vdev = NULL;
        return 0;
    }
    /* the buffers take the rest of the window, after the rings */
    uint32_t pool = a.next + (-a.next & 63u); /* wraps only past 2^32 - 64 */
    if (pool < a.next || pool >= rp->cfg.shm.size)
        return fail(rp, -ENOMEM, "no room for buffers after the vrings");
    rc->shm = rp->cfg.shm;
    rc->pool_da = rp->cfg.shm.da + pool;
    rc->pool_size = rp->cfg.shm.size - pool;
    rc->buf_size = rp->cfg.buf_size;
    rc->features = rp->cfg.features;
    rc->slots = rp->cfg.slots;
    rc->nslots = rp->cfg.nslots;
    rc->vdev = (volatile struct amp_rsc_vdev *)(remote + vdev_off);
    return 0;
}

/* ==== Life cycle ==== */

int amp_rproc_start(struct amp_rproc *rp)
{
    const struct amp_port_ops *ops = rp->port.ops;
    switch (rp->state) {
    case AMP_RPROC_RUNNING:
        return fail(rp, -EBUSY, "the remote is already running");
    case AMP_RPROC_OFFLINE:
        return fail(rp, -EINVAL, "nothing to start: load an image or attach first");
    case AMP_RPROC_STOPPED:
    case AMP_RPROC_CRASHED:
        if (rp->have_image) { /* its memory is dirty: start from the file again */
            int err = load_image(rp);
            if (err)
                return err;
        }
        break;
    default:
        break;
    }
    if (!ops->start)
        return fail(rp, -ENOTSUP, "this platform cannot start the remote");

    struct amp_rpmsg_cfg rc;
    int err = rsc_setup(rp, &rc);
    if (err)
        return err;
    /* The core first, as Linux does: a platform that refuses (a core it
     * cannot restart) must not see a link come up. The remote touches the
     * rings only after the DRIVER_OK that amp_rpmsg_start sets. */
    err = ops->start(rp->port.ctx, rp->entry);
    if (err)
        return fail(rp, err, "the platform could not start the remote");
    if (rc.vdev && rp->rpmsg) {
        err = amp_rpmsg_start(rp->rpmsg, &rc, 0);
        if (err) {
            if (ops->stop)
                ops->stop(rp->port.ctx);
            return fail(rp, err, "could not bring up RPMsg on the vdev");
        }
    }
    rp->state = AMP_RPROC_RUNNING;
    set_why(rp, NULL);
    return 0;
}

int amp_rproc_stop(struct amp_rproc *rp)
{
    if (rp->state != AMP_RPROC_RUNNING && rp->state != AMP_RPROC_CRASHED)
        return fail(rp, -EINVAL, "the remote is not running");
    if (!rp->port.ops->stop)
        return fail(rp, -ENOTSUP, "this platform cannot stop the remote");
    int err = rp->port.ops->stop(rp->port.ctx);
    if (err)
        return fail(rp, err, "the platform could not stop the remote");
    if (rp->rpmsg)
        amp_rpmsg_stop(rp->rpmsg);
    rp->state = AMP_RPROC_STOPPED;
    return 0;
}

int amp_rproc_shutdown(struct amp_rproc *rp)
{
    int err = 0;
    if (rp->state == AMP_RPROC_OFFLINE)
        return 0;
    if ((rp->state == AMP_RPROC_RUNNING || rp->state == AMP_RPROC_CRASHED) && rp->port.ops->stop)
        err = rp->port.ops->stop(rp->port.ctx);
    if (rp->rpmsg)
        amp_rpmsg_stop(rp->rpmsg);
    if (rp->port.ops->shutdown) {
        int e = rp->port.ops->shutdown(rp->port.ctx);
        if (!err)
            err = e;
    }
    rp->have_image = false;
    rp->read = NULL;
    rp->read_ctx = NULL;
    rp->ntrace = 0;
    rp->rsc_size = 0;
    rp->state = AMP_RPROC_OFFLINE;
    return err ? fail(rp, err, "the platform could not shut the remote down") : 0;
}

void amp_rproc_crashed(struct amp_rproc *rp)
{
    if (rp->state != AMP_RPROC_RUNNING)
        return;
    set_why(rp, AMP_WHY("the remote crashed"));
    if (rp->rpmsg)
        amp_rpmsg_stop(rp->rpmsg);
    rp->state = AMP_RPROC_CRASHED; /* last: who sees it sees the link down */
}

int amp_rproc_trace_read(struct amp_rproc *rp, uint32_t i, char *buf, size_t n)
{
    if (i >= rp->ntrace || !buf || n == 0)
        return -ENOENT;
    struct amp_rproc_trace *t = &rp->trace[i];
    const volatile char *src = da_to_va(rp, t->da, t->len, 0);
    if (!src)
        return -ENOENT;
    amp_cache_inval(&rp->port, src, t->len);
    size_t k = 0;
    for (; k + 1 < n && k < t->len; k++) {
        char c = src[k]; /* the remote may still be writing: read each byte once */
        if (c == '\0')
            break;
        buf[k] = c;
    }
    buf[k] = '\0';
    return (int)k;
}
