/*
 * names.c - a remote whose service names are bytes, not text: it announces
 * four echo services, "amp-\xff\xfe-raw" (not UTF-8: a peer may put any
 * bytes before the NUL), "amp-\xc0\xaf" (not UTF-8 either, but it looks
 * it to a lenient decoder: an overlong '/'), "amp-\\\xff" (a backslash,
 * then a byte that is not UTF-8: the host must escape the backslash too)
 * and "amp-café" (UTF-8), each echoing every message back to its sender.
 * For the host's handling of announced names
 * (python/tests/test_hostile_user.py).
 */
#include "vcore.h"

static struct amp_rpmsg dev;
static struct amp_ept raw, overlong, slash, text;
static struct amp_vring_slot slots[2 * VC_VRING_NUM_MAX];

static int echo_cb(struct amp_ept *e, void *data, size_t len, uint32_t src, void *priv)
{
    (void)priv;
    vc_sendto(e, src, data, len);
    return AMP_RX_DONE;
}

int main(void)
{
    vc_printf("names: start\n");
    vc_trace("names: start\n");
    int err = vc_rpmsg_start(&dev, vc_fw_vdev(), slots, VC_ARRAY_SIZE(slots));
    if (!err)
        err = amp_ept_create(&raw, &dev, "amp-\xff\xfe-raw", AMP_ADDR_ANY, AMP_ADDR_ANY, echo_cb, NULL);
    if (!err)
        err = amp_ept_create(&overlong, &dev, "amp-\xc0\xaf", AMP_ADDR_ANY, AMP_ADDR_ANY, echo_cb, NULL);
    if (!err)
        err = amp_ept_create(&slash, &dev, "amp-\\\xff", AMP_ADDR_ANY, AMP_ADDR_ANY, echo_cb, NULL);
    if (!err)
        err = amp_ept_create(&text, &dev, "amp-caf\xc3\xa9", AMP_ADDR_ANY, AMP_ADDR_ANY, echo_cb, NULL);
    if (err) {
        vc_printf("names: rpmsg failed (%d)\n", err);
        return 1;
    }
    vc_printf("names: services at addresses %u, %u, %u and %u\n", raw.addr, overlong.addr, slash.addr,
              text.addr);
    vc_rpmsg_run(&dev);
}
