/*
 * footprint_host.c - the smallest useful host, to measure what remoteproc,
 * the ELF loader and the resource table cost on a Cortex-M4: load an image
 * through a reader, start it (table checked, vrings placed, RPMsg brought
 * up), read its trace, stop, restart after a crash, attach, shut down.
 * Linked with --gc-sections; tools/footprint.py counts amp_rproc.o,
 * amp_elf.o and amp_rsc.o (the RPMsg the host brings up is the remote's
 * figure's business, and is printed apart).
 */
#include "amp/amp.h"

#include <string.h>

static int reader(void *ctx, uint64_t off, void *buf, size_t len)
{
    memcpy(buf, (const char *)ctx + (size_t)off, len); /* the image in flash */
    return 0;
}

static void *da_to_va(void *ctx, uint64_t da, size_t len, unsigned flags)
{
    (void)ctx;
    (void)flags;
    return da >= 0x10000000u && da + len <= 0x10048000u ? (void *)(uintptr_t)da : 0;
}

static int core(void *ctx, uint64_t entry)
{
    (void)ctx;
    *(volatile uint32_t *)0x58024400u = (uint32_t)entry; /* boot address, then release */
    return 0;
}

static int halt(void *ctx)
{
    (void)ctx;
    *(volatile uint32_t *)0x58024404u = 1;
    return 0;
}

static int notify(void *ctx, uint32_t id)
{
    (void)ctx;
    *(volatile uint32_t *)0x58026400u = id;
    return 0;
}

static const struct amp_port_ops ops = {
    .notify = notify, .da_to_va = da_to_va, .start = core, .stop = halt, .shutdown = halt};
static const struct amp_port port = {&ops, 0};
static struct amp_rpmsg link;
static struct amp_rproc rp;
static struct amp_vring_slot slots[2 * 64];
static char trace[64];

void footprint_main(void);
void footprint_main(void)
{
    struct amp_rproc_cfg cfg = {0};
    cfg.machine = AMP_EM_ARM;
    cfg.shm.va = (uint8_t *)0x38000000u;
    cfg.shm.da = 0x38000000u;
    cfg.shm.size = 0x10000u;
    cfg.rsc_da = AMP_RSC_ADDR_ANY;
    cfg.features = 1u << AMP_RPMSG_F_NS;
    cfg.slots = slots;
    cfg.nslots = 2 * 64;
    amp_rpmsg_init(&link, AMP_ROLE_HOST, &port);
    amp_rproc_init(&rp, &port, &link, &cfg);
    if (amp_rproc_load(&rp, reader, (void *)0x08100000u, 0x20000u) < 0 || amp_rproc_start(&rp) < 0) {
        amp_rproc_shutdown(&rp);
        return;
    }
    amp_rproc_trace_read(&rp, 0, trace, sizeof(trace));
    amp_rproc_crashed(&rp); /* as the port's watchdog handler would */
    amp_rproc_start(&rp);
    amp_rproc_stop(&rp);
    amp_rproc_attach(&rp, 0x10000000u);
    amp_rproc_start(&rp);
    trace[0] = amp_rproc_state_name(rp.state)[0];
    amp_rproc_shutdown(&rp);
}
