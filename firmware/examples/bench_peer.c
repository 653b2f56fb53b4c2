/*
 * bench_peer.c - the far end of the RPMsg benchmarks, endpoint "amp-bench".
 *
 * The first byte of each message says what to do:
 *   'E'  echo the message back to its sender
 *   'S'  sink: count it (messages and payload bytes), no reply
 *   'Q'  reply 16 bytes: u64 messages, u64 bytes sunk since the last 'Q'
 *        (little-endian), and start counting again
 *   'P'  busy-poll: the main loop spins on amp_rpmsg_poll and the host
 *        is asked not to kick us for messages; no reply
 *   'W'  back to waiting on the doorbell; no reply
 * Anything else is ignored. Send 'Q' after 'P' or 'W' to know the switch
 * has happened.
 */
#include "vcore.h"

static struct amp_rpmsg dev;
static struct amp_ept ept;
static struct amp_vring_slot slots[2 * VC_VRING_NUM_MAX];
static uint64_t sunk_msgs, sunk_bytes;
static bool busy;

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int bench_cb(struct amp_ept *e, void *data, size_t len, uint32_t src, void *priv)
{
    const uint8_t *m = data;
    uint8_t reply[16];
    (void)priv;
    switch (len ? m[0] : 0) {
    case 'E':
        amp_ept_sendto(e, AMP_ADDR_ANY, src, data, len, AMP_WAIT_FOREVER);
        break;
    case 'S':
        sunk_msgs++;
        sunk_bytes += len;
        break;
    case 'Q':
        put_le64(reply, sunk_msgs);
        put_le64(reply + 8, sunk_bytes);
        sunk_msgs = sunk_bytes = 0;
        amp_ept_sendto(e, AMP_ADDR_ANY, src, reply, sizeof(reply), AMP_WAIT_FOREVER);
        break;
    case 'P':
    case 'W':
        busy = m[0] == 'P';
        amp_rpmsg_set_busy_poll(e->dev, busy);
        break;
    }
    return AMP_RX_DONE;
}

int main(void)
{
    vc_printf("bench_peer: start\n");
    vc_trace("bench_peer: start\n");
    int err = vc_rpmsg_start(&dev, vc_fw_vdev(), slots, VC_ARRAY_SIZE(slots));
    if (!err)
        err = amp_ept_create(&ept, &dev, "amp-bench", AMP_ADDR_ANY, AMP_ADDR_ANY, bench_cb, NULL);
    if (err) {
        vc_printf("bench_peer: rpmsg failed (%d)\n", err);
        return 1;
    }
    vc_printf("bench_peer: amp-bench at address %u\n", ept.addr);
    for (;;) {
        int n = busy ? amp_rpmsg_poll(&dev) : amp_rpmsg_wait(&dev, AMP_WAIT_FOREVER);
        if (n < 0 && n != -ETIMEDOUT) {
            vc_printf("bench_peer: rpmsg link lost (%d)\n", n);
            return 2;
        }
    }
}
