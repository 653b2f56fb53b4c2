/*
 * footprint_remote.c - the smallest useful remote, to measure what the
 * library costs on a Cortex-M4: device-role vrings, RPMsg, the name
 * service and zero-copy in both directions (FOOTPRINT_ECHO_ONLY: a copy
 * echo, nothing else). Linked with --gc-sections;
 * tools/footprint.py counts only the library's own sections.
 */
#include "amp/amp.h"

static int notify(void *ctx, uint32_t id)
{
    (void)ctx;
    *(volatile uint32_t *)0x58026400u = id; /* a doorbell register */
    return 0;
}

static int wait_irq(void *ctx, int32_t timeout_ms)
{
    (void)ctx;
    (void)timeout_ms;
    __asm volatile("wfi");
    return 0;
}

static const struct amp_port_ops ops = {.notify = notify, .wait = wait_irq};
static const struct amp_port port = {&ops, 0};
static struct amp_rpmsg dev;
static struct amp_ept ept;
static struct amp_vring_slot slots[2 * 64];

static int on_message(struct amp_ept *e, void *data, size_t len, uint32_t src, void *priv)
{
    (void)priv;
#ifndef FOOTPRINT_ECHO_ONLY
    if (len && ((char *)data)[0] == 'h') { /* hold it, send a zero-copy reply, give it back */
        void *p;
        uint32_t cap;
        if (amp_rpmsg_alloc_tx(e->dev, &p, &cap, AMP_WAIT_FOREVER) == 0) {
            ((char *)p)[0] = 'k';
            if (amp_ept_send_nocopy(e, src, p, 1) < 0)
                amp_rpmsg_release_tx(e->dev, p);
        }
        return AMP_RX_HOLD;
    }
#endif
    amp_ept_sendto(e, AMP_ADDR_ANY, src, data, len, AMP_WAIT_FOREVER);
    return AMP_RX_DONE;
}

void footprint_main(void);
void footprint_main(void)
{
    struct amp_rpmsg_cfg cfg = {0};
    amp_rpmsg_init(&dev, AMP_ROLE_REMOTE, &port);
    if (amp_rpmsg_cfg_from_vdev(&cfg, (struct amp_rsc_vdev *)0x38000018u) < 0)
        return;
    cfg.shm.va = (uint8_t *)0x38000400u;
    cfg.shm.da = 0x38000400u;
    cfg.shm.size = 0xFC00u;
    cfg.features = 1u << AMP_RPMSG_F_NS;
    cfg.slots = slots;
    cfg.nslots = 2 * 64;
    int err; /* without AMP_CFG_RPMSG_WAIT, start says -EAGAIN until the host is ready */
    while ((err = amp_rpmsg_start(&dev, &cfg, AMP_WAIT_FOREVER)) == -EAGAIN)
        wait_irq(0, AMP_WAIT_FOREVER); /* the host kicks us after DRIVER_OK */
    if (err < 0)
        return;
    amp_ept_create(&ept, &dev, "vuart-channel", AMP_ADDR_ANY, AMP_ADDR_ANY, on_message, 0);
    for (;;) {
        amp_rpmsg_wait(&dev, AMP_WAIT_FOREVER);
#ifndef FOOTPRINT_ECHO_ONLY
        if (ept.priv) { /* never: keeps release_rx (and destroy) linked */
            amp_rpmsg_release_rx(&dev, ept.priv);
#ifndef FOOTPRINT_NO_DESTROY
            amp_ept_destroy(&ept);
#endif
        }
#endif
    }
}
