/*
 * vc_common.c - what the firmware SDK does the same on every board: the
 * trace buffer, the amp port over vc_kick(), vc_wait_kick() and
 * vc_now_ms(), the RPMsg start, loop and a send that waits. Built with the board's own
 * vcore.h on the include path: firmware/sdk (the Linux virtual core) or
 * ports/an521/sdk (QEMU's mps2-an521).
 *
 * Main invariant: the vring geometry is read only after the host has set
 * DRIVER_OK, and through amp_rpmsg_cfg_from_vdev(), which checks it.
 */
#include <errno.h>
#include <stdatomic.h>

#include <vcore.h> /* <>: the board's, from -I, never this directory's */

/* The trace buffer: .trace is placed at VC_TRACE_DA by the board's link.ld. */
__attribute__((section(".trace"), used)) char vc_trace_buf[VC_TRACE_SIZE];

/* ==== Trace ==== */

static volatile char *trace_buf = vc_trace_buf;
static uint32_t trace_size = VC_TRACE_SIZE, trace_pos; /* trace_buf[trace_pos] is the NUL */

void vc_trace_init(volatile char *buf, uint32_t size)
{
    for (uint32_t i = 0; i < size; i++)
        buf[i] = '\0';
    trace_buf = buf;
    trace_size = size;
    trace_pos = 0;
}

void vc_trace(const char *s)
{
    /* the rest of the buffer is zero, so the text stays terminated */
    while (*s && trace_size && trace_pos < trace_size - 1)
        trace_buf[trace_pos++] = *s++;
}

/* ==== The amp port and RPMsg ==== */

static int port_notify(void *ctx, uint32_t notifyid)
{
    (void)ctx;
    (void)notifyid; /* one doorbell: the host looks at every ring */
    vc_kick();
    return 0;
}

static int port_wait(void *ctx, int32_t timeout_ms)
{
    (void)ctx;
    return vc_wait_kick(timeout_ms);
}

static uint32_t port_now_ms(void *ctx)
{
    (void)ctx;
    return vc_now_ms();
}

const struct amp_port_ops vc_port_ops = {
    .notify = port_notify,
    .wait = port_wait,
    .now_ms = port_now_ms,
};

int vc_rpmsg_start(struct amp_rpmsg *dev, volatile struct amp_rsc_vdev *vdev,
                   struct amp_vring_slot *slots, uint32_t nslots)
{
    const struct amp_port port = {&vc_port_ops, NULL};
    struct amp_rpmsg_cfg cfg = {0};

    amp_rpmsg_init(dev, AMP_ROLE_REMOTE, &port);
    /* our table says "host, choose" for the vrings: the geometry is only
     * final once the host has set DRIVER_OK (it kicks us after that) */
    while (!(vdev->status & AMP_VIRTIO_STATUS_DRIVER_OK)) {
        int err = vc_wait_kick(AMP_WAIT_FOREVER);
        if (err)
            return err;
    }
    atomic_thread_fence(memory_order_acquire); /* geometry after DRIVER_OK */
    int err = amp_rpmsg_cfg_from_vdev(&cfg, vdev);
    if (err)
        return err;
    cfg.shm.va = (uint8_t *)(uintptr_t)AMP_VCORE_SHM_DA;
    cfg.shm.da = AMP_VCORE_SHM_DA;
    cfg.shm.size = AMP_VCORE_SHM_SIZE;
    cfg.features = VC_RPMSG_FEATURES;
    cfg.slots = slots;
    cfg.nslots = nslots;
    return amp_rpmsg_start(dev, &cfg, AMP_WAIT_FOREVER);
}

_Noreturn void vc_rpmsg_run(struct amp_rpmsg *dev)
{
    for (;;) {
        int n = amp_rpmsg_wait(dev, AMP_WAIT_FOREVER);
        if (n < 0 && n != -ETIMEDOUT) {
            vc_printf("vcore: rpmsg link lost (%d)\n", n);
            vc_exit(2);
        }
    }
}

/* A library that waits (AMP_CFG_RPMSG_WAIT) does it inside the send, and
 * never says -EAGAIN with AMP_WAIT_FOREVER; the lean build says it at
 * once, and from a receive callback its amp_rpmsg_wait() only sleeps
 * until the host kicks (it asks for a kick when a send found no buffer),
 * so the loop ends when a buffer comes back or the link goes. */
int vc_sendto(struct amp_ept *ept, uint32_t dst, const void *data, size_t len)
{
    int n;
    while ((n = amp_ept_sendto(ept, AMP_ADDR_ANY, dst, data, len, AMP_WAIT_FOREVER)) == -EAGAIN) {
        int err = amp_rpmsg_wait(ept->dev, AMP_WAIT_FOREVER);
        if (err < 0 && err != -ETIMEDOUT && err != -EAGAIN)
            return err;
    }
    return n;
}
