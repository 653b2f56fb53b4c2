/*
 * virtual_uart.c - the "vuart-channel" echo service: every message goes
 * back to its sender. The virtual core's hello world.
 *
 * Built twice: virtual_uart.elf brings its own resource table
 * (sdk/rsc_table.c); with VC_HOST_TABLE, virtual_uart_hosttable.elf has
 * none and uses the one the host built at the start of shared memory.
 */
#include "vcore.h"

#ifdef VC_HOST_TABLE
#define NAME "virtual_uart_hosttable"
#else
#define NAME "virtual_uart"
#endif

static struct amp_rpmsg dev;
static struct amp_ept ept;
static struct amp_vring_slot slots[2 * VC_VRING_NUM_MAX];
static uint32_t echoes;

static int echo_cb(struct amp_ept *e, void *data, size_t len, uint32_t src, void *priv)
{
    (void)priv;
    int err = vc_sendto(e, src, data, len);
    if (err < 0)
        vc_printf(NAME ": echo to %u failed (%d)\n", src, err);
    if (++echoes % 100 == 0) {
        char line[48];
        vc_snprintf(line, sizeof(line), NAME ": %u echoes\n", echoes);
        vc_trace(line);
    }
    return AMP_RX_DONE;
}

int main(void)
{
    const char *why = "no table";
    vc_printf(NAME ": start\n");
#ifdef VC_HOST_TABLE
    volatile struct amp_rsc_vdev *vdev = vc_host_vdev(&why);
#else
    volatile struct amp_rsc_vdev *vdev = vc_fw_vdev();
#endif
    if (!vdev) {
        vc_printf(NAME ": unusable resource table: %s\n", why);
        return 1;
    }
    vc_trace(NAME ": start\n");
    int err = vc_rpmsg_start(&dev, vdev, slots, VC_ARRAY_SIZE(slots));
    if (!err)
        err = amp_ept_create(&ept, &dev, "vuart-channel", AMP_ADDR_ANY, AMP_ADDR_ANY, echo_cb, NULL);
    if (err) {
        vc_printf(NAME ": rpmsg failed (%d)\n", err);
        return 1;
    }
    vc_printf(NAME ": vuart-channel at address %u\n", ept.addr);
    vc_rpmsg_run(&dev);
}
