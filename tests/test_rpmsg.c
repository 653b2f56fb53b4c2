/*
 * test_rpmsg.c - RPMsg over virtio, host and remote in one process.
 *
 * Wire vectors are written by hand from the virtio 1.x split-ring layout
 * and the rpmsg_hdr / rpmsg_ns_msg structs of Linux's rpmsg headers, not
 * produced by the code under test.
 */
#include "amp_test.h"
#include "loopback.h"

/* ---- a receiving endpoint that records what it got ---- */

struct rec {
    int count;
    uint32_t src[64];
    size_t len[64];
    uint8_t data[64][512];
    void *ptr[64];
    int ret; /* what the callback returns */
    int unbinds;
    struct amp_ept *reply_on; /* echo back on this endpoint */
};

static int rec_cb(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    struct rec *r = priv;
    (void)ept;
    if (r->count < 64) {
        r->src[r->count] = src;
        r->len[r->count] = len;
        memcpy(r->data[r->count], data, len < 512 ? len : 512);
        r->ptr[r->count] = data;
    }
    r->count++;
    if (r->reply_on)
        amp_ept_send(r->reply_on, data, len, 0);
    return r->ret;
}

static void rec_unbind(struct amp_ept *ept)
{
    ((struct rec *)ept->priv)->unbinds++;
}

static void pump(struct loopback *lb)
{
    for (int i = 0; i < 4; i++) {
        amp_rpmsg_poll(&lb->host);
        amp_rpmsg_poll(&lb->remote);
    }
}

/* ---- layout vectors ---- */

static void test_vring_layout_num64_align32_matches_spec(void)
{
    /* desc 64*16 = 1024; avail 2+2+64*2+2 = 134 -> 1158, aligned to 32 ->
     * 1184; used 2+2+64*8+2 = 518 -> 1702 */
    CHECK_EQ(amp_vring_avail_offset(64), 1024);
    CHECK_EQ(amp_vring_used_offset(64, 32), 1184);
    CHECK_EQ(amp_vring_size(64, 32), 1702);
}

static void test_vring_layout_num256_align4096_matches_spec(void)
{
    /* desc 4096; avail 518 -> 4614 -> 8192; used 2+2+2048+2 -> 10246 */
    CHECK_EQ(amp_vring_avail_offset(256), 4096);
    CHECK_EQ(amp_vring_used_offset(256, 4096), 8192);
    CHECK_EQ(amp_vring_size(256, 4096), 10246);
}

static void test_vring_layout_bad_geometry_is_zero(void)
{
    CHECK_EQ(amp_vring_size(0, 32), 0);
    CHECK_EQ(amp_vring_size(48, 32), 0);
    CHECK_EQ(amp_vring_size(64, 24), 0);
    CHECK_EQ(amp_vring_size(65536, 32), 0);
}

static void test_vring_drv_add_writes_spec_bytes(void)
{
    static _Alignas(4096) uint8_t ring[2048];
    static struct amp_vring_slot slots[64];
    struct amp_vring vr;
    uint8_t buf[1024];
    struct amp_shm shm = {buf, 0x45678000u, sizeof(buf)};
    static const struct amp_port_ops ops = {0};
    struct amp_port port = {&ops, NULL};
    memset(ring, 0xEE, sizeof(ring));
    CHECK_EQ(amp_vring_drv_init(&vr, ring, 64, 32, &shm, slots, false, &port), 0);
    CHECK_EQ(ring[0], 0); /* zeroed */
    CHECK_EQ(amp_vring_drv_add(&vr, 5, 0x100, 0x200, AMP_VRING_DESC_F_WRITE), 0);
    /* desc[5] at 80: addr = da + 0x100 = 0x0000000045678100 LE, len 0x200, flags 2, next 0 */
    static const uint8_t desc5[16] = {0x00, 0x81, 0x67, 0x45, 0x00, 0x00, 0x00, 0x00,
                                      0x00, 0x02, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00};
    CHECK_MEM(ring + 80, desc5, 16);
    /* avail at 1024: flags 0, idx 1, ring[0] = 5 */
    static const uint8_t avail[6] = {0x00, 0x00, 0x01, 0x00, 0x05, 0x00};
    CHECK_MEM(ring + 1024, avail, 6);
    CHECK_EQ(amp_vring_drv_add(&vr, 5, 0x100, 0x200, 0), -EBUSY);
    CHECK_EQ(amp_vring_drv_add(&vr, 64, 0x100, 0x200, 0), -EINVAL);
    CHECK_EQ(amp_vring_drv_add(&vr, 6, 0x300, 0x200, 0), -EINVAL); /* past the window */

    /* the device returns id 5 with 7 bytes: used at 1184: flags, idx, {id, len} */
    ring[1184 + 4] = 5;
    ring[1184 + 8] = 7;
    ring[1184 + 2] = 1;
    uint32_t len = 0;
    CHECK_EQ(amp_vring_drv_get_used(&vr, &len), 5);
    CHECK_EQ(len, 7);
    CHECK_EQ(amp_vring_drv_get_used(&vr, &len), -EAGAIN);
    CHECK_EQ(vr.errors, 0);
}

static void test_rpmsg_header_and_ns_bytes_match_linux(void)
{
    struct loopback lb;
    lb_setup(&lb, 64, 1u << AMP_RPMSG_F_NS);
    CHECK_EQ(lb_start(&lb), 0);
    struct amp_ept h, r;
    struct rec hr = {0}, rr = {0};
    CHECK_EQ(amp_ept_create(&r, &lb.remote, "", 0x500, AMP_ADDR_ANY, rec_cb, &rr), 0);
    CHECK_EQ(amp_ept_create(&h, &lb.host, "", 0x401, 0x500, rec_cb, &hr), 0);
    CHECK_EQ(amp_ept_send(&h, "hi", 2, 0), 2);
    /* the first host send buffer is buffer num (after 64 rx buffers) */
    const uint8_t *b = lb.shm + 65536 + 64 * 512;
    static const uint8_t hdr[18] = {0x01, 0x04, 0, 0, 0x00, 0x05, 0, 0, 0, 0, 0, 0,
                                    0x02, 0x00, 0x00, 0x00, 'h', 'i'};
    CHECK_MEM(b, hdr, sizeof(hdr));
    pump(&lb);
    CHECK_EQ(rr.count, 1);
    CHECK_EQ(rr.src[0], 0x401);
    CHECK_EQ(rr.len[0], 2);
    CHECK_MEM(rr.data[0], "hi", 2);

    /* a named endpoint announces itself: NS message to 53 */
    struct amp_ept n;
    CHECK_EQ(amp_ept_create(&n, &lb.host, "rpmsg-raw", 0x402, AMP_ADDR_ANY, rec_cb, &hr), 0);
    const uint8_t *c = b + 512; /* the next free one: consumed buffers come back only
                                   when the free list runs out */
    static const uint8_t ns[16 + 40] = {
        0x02, 0x04, 0, 0, 0x35, 0, 0, 0, 0, 0, 0, 0, 0x28, 0x00, 0x00, 0x00,
        'r', 'p', 'm', 's', 'g', '-', 'r', 'a', 'w', 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0x02, 0x04, 0, 0, 0, 0, 0, 0};
    CHECK_MEM(c, ns, sizeof(ns));
    amp_ept_destroy(&n);
    const uint8_t *d = c + 512; /* and the one after it */
    CHECK_EQ(d[16 + 40 - 4], 1); /* destroy flag */
    CHECK_MEM(d + 16, "rpmsg-raw", 10);
    lb_teardown(&lb);
}

/* ---- binding ---- */

static void test_rpmsg_announce_binds_both_ways(void)
{
    struct loopback lb;
    lb_setup(&lb, 64, (1u << AMP_RPMSG_F_NS) | (1u << AMP_VIRTIO_F_EVENT_IDX));
    struct amp_ept h, r;
    struct rec hr = {0}, rr = {0};
    /* the host's endpoint exists before the link, as in the spec's example */
    CHECK_EQ(amp_ept_create(&h, &lb.host, "vuart-channel", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &hr), 0);
    CHECK(!amp_ept_is_ready(&h));
    CHECK_EQ(amp_ept_send(&h, "x", 1, 0), -ENOTCONN);
    CHECK_EQ(amp_rpmsg_start(&lb.host, &lb.hcfg, 0), 0);
    CHECK_EQ(amp_rpmsg_start(&lb.remote, &lb.rcfg, 0), 0);
    CHECK_EQ(amp_ept_create(&r, &lb.remote, "vuart-channel", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &rr), 0);
    pump(&lb);
    CHECK(amp_ept_is_ready(&h));
    CHECK(amp_ept_is_ready(&r));
    CHECK_EQ(h.dest, r.addr);
    CHECK_EQ(r.dest, h.addr);
    CHECK(h.addr >= 1024 && r.addr >= 1024);
    CHECK_EQ(amp_ept_send(&h, "ping", 4, 0), 4);
    CHECK_EQ(amp_ept_send(&r, "pong", 4, 0), 4);
    pump(&lb);
    CHECK_EQ(rr.count, 1);
    CHECK_EQ(hr.count, 1);
    CHECK_MEM(hr.data[0], "pong", 4);
    lb_teardown(&lb);
}

struct nsrec {
    int calls;
    char name[32];
    uint32_t addr;
    struct amp_ept ept;
    struct rec rec;
};

static void ns_create_cb(struct amp_rpmsg *dev, const char *name, uint32_t addr, void *priv)
{
    struct nsrec *n = priv;
    n->calls++;
    strncpy(n->name, name, sizeof(n->name) - 1);
    n->addr = addr;
    /* the spec: an endpoint made from the callback gives the remote's address as dest */
    amp_ept_create(&n->ept, dev, name, AMP_ADDR_ANY, addr, rec_cb, &n->rec);
}

static void test_rpmsg_new_service_cb_with_explicit_dest_binds(void)
{
    struct loopback lb;
    lb_setup(&lb, 64, 1u << AMP_RPMSG_F_NS);
    struct nsrec n = {0};
    amp_rpmsg_set_ns_cb(&lb.host, ns_create_cb, &n);
    CHECK_EQ(lb_start(&lb), 0);
    struct amp_ept r;
    struct rec rr = {0};
    CHECK_EQ(amp_ept_create(&r, &lb.remote, "sensor", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &rr), 0);
    pump(&lb);
    CHECK_EQ(n.calls, 1);
    CHECK(strcmp(n.name, "sensor") == 0);
    CHECK_EQ(n.addr, r.addr);
    CHECK(amp_ept_is_ready(&n.ept));
    CHECK(!amp_ept_is_ready(&r)); /* binds on the first message, as with Linux hosts */
    CHECK_EQ(amp_ept_send(&n.ept, "hello", 5, 0), 5);
    pump(&lb);
    CHECK_EQ(rr.count, 1);
    CHECK(amp_ept_is_ready(&r));
    CHECK_EQ(r.dest, n.ept.addr);
    CHECK_EQ(amp_ept_send(&r, "back", 4, 0), 4);
    pump(&lb);
    CHECK_EQ(n.rec.count, 1);
    lb_teardown(&lb);
}

static void test_rpmsg_ns_destroy_unbinds_and_calls_back(void)
{
    struct loopback lb;
    lb_setup(&lb, 64, 1u << AMP_RPMSG_F_NS);
    struct amp_ept h, r;
    struct rec hr = {0}, rr = {0};
    CHECK_EQ(amp_ept_create(&h, &lb.host, "svc", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &hr), 0);
    amp_ept_set_unbind_cb(&h, rec_unbind);
    CHECK_EQ(lb_start(&lb), 0);
    CHECK_EQ(amp_ept_create(&r, &lb.remote, "svc", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &rr), 0);
    pump(&lb);
    CHECK(amp_ept_is_ready(&h));
    amp_ept_destroy(&r);
    amp_ept_destroy(&r); /* twice is harmless */
    pump(&lb);
    CHECK(!amp_ept_is_ready(&h));
    CHECK_EQ(h.dest, AMP_ADDR_ANY);
    CHECK_EQ(hr.unbinds, 1);
    /* a new announcement binds it again */
    CHECK_EQ(amp_ept_create(&r, &lb.remote, "svc", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &rr), 0);
    pump(&lb);
    CHECK(amp_ept_is_ready(&h));
    CHECK_EQ(h.dest, r.addr);
    lb_teardown(&lb);
}

static void test_rpmsg_stop_unbinds_and_restart_rebinds(void)
{
    struct loopback lb;
    lb_setup(&lb, 64, 1u << AMP_RPMSG_F_NS);
    struct amp_ept h, r;
    struct rec hr = {0}, rr = {0};
    CHECK_EQ(amp_ept_create(&h, &lb.host, "svc", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &hr), 0);
    amp_ept_set_unbind_cb(&h, rec_unbind);
    CHECK_EQ(amp_ept_create(&r, &lb.remote, "svc", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &rr), 0);
    for (int cycle = 0; cycle < 5; cycle++) {
        CHECK_EQ(lb_start(&lb), 0);
        CHECK(amp_ept_is_ready(&h));
        CHECK_EQ(amp_ept_send(&h, "x", 1, 0), 1);
        pump(&lb);
        CHECK_EQ(rr.count, cycle + 1);
        amp_rpmsg_stop(&lb.host);
        amp_rpmsg_stop(&lb.remote);
        CHECK(!amp_ept_is_ready(&h));
        CHECK_EQ(hr.unbinds, cycle + 1);
        CHECK_EQ(amp_ept_send(&h, "x", 1, 0), -ENOTCONN);
        memset(lb.shm + 4096, 0, 60000); /* a new remote starts from clean rings */
        lb.vdev->status = 0;
    }
    lb_teardown(&lb);
}

static void test_ept_create_checks_arguments(void)
{
    struct loopback lb;
    lb_setup(&lb, 64, 1u << AMP_RPMSG_F_NS);
    struct amp_ept a, b, c;
    struct rec rr = {0};
    CHECK_EQ(amp_ept_create(&a, &lb.host, "a", 2000, AMP_ADDR_ANY, rec_cb, &rr), 0);
    CHECK_EQ(amp_ept_create(&b, &lb.host, "b", 2000, AMP_ADDR_ANY, rec_cb, &rr), -EADDRINUSE);
    CHECK_EQ(amp_ept_create(&b, &lb.host, "b", AMP_RPMSG_NS_ADDR, AMP_ADDR_ANY, rec_cb, &rr), -EINVAL);
    CHECK_EQ(amp_ept_create(&a, &lb.host, "again", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &rr), -EINVAL);
    CHECK_EQ(amp_ept_create(&b, &lb.host, "0123456789abcdef0123456789abcdef", AMP_ADDR_ANY,
                            AMP_ADDR_ANY, rec_cb, &rr), -EINVAL); /* 32 chars: no room for NUL */
    CHECK_EQ(amp_ept_create(&b, &lb.host, "0123456789abcdef0123456789abcde", AMP_ADDR_ANY,
                            AMP_ADDR_ANY, rec_cb, &rr), 0);
    CHECK_EQ(amp_ept_create(&c, &lb.host, NULL, AMP_ADDR_ANY, AMP_ADDR_ANY, NULL, NULL), 0);
    CHECK(b.addr >= 1024 && c.addr >= 1024 && b.addr != c.addr);
    lb_teardown(&lb);
}

static void test_ept_dynamic_addresses_have_no_small_cap(void)
{
    struct loopback lb;
    lb_setup(&lb, 64, 1u << AMP_RPMSG_F_NS);
    static struct amp_ept e[2000];
    int ok = 0;
    for (int i = 0; i < 2000; i++)
        ok += amp_ept_create(&e[i], &lb.host, NULL, AMP_ADDR_ANY, AMP_ADDR_ANY, NULL, NULL) == 0;
    CHECK_EQ(ok, 2000);
    CHECK_EQ(e[1999].addr, 1024 + 1999);
    amp_ept_destroy(&e[5]);
    struct amp_ept x;
    CHECK_EQ(amp_ept_create(&x, &lb.host, NULL, 1024 + 5, AMP_ADDR_ANY, NULL, NULL), 0);
    lb_teardown(&lb);
}

/* ---- sending ---- */

static void test_send_sizes_zero_and_max_work_oversize_is_emsgsize(void)
{
    struct loopback lb;
    lb_setup(&lb, 64, 1u << AMP_RPMSG_F_NS);
    CHECK_EQ(lb_start(&lb), 0);
    struct amp_ept h, r;
    struct rec hr = {0}, rr = {0};
    CHECK_EQ(amp_ept_create(&r, &lb.remote, NULL, 0x600, 0x601, rec_cb, &rr), 0);
    CHECK_EQ(amp_ept_create(&h, &lb.host, NULL, 0x601, 0x600, rec_cb, &hr), 0);
    uint8_t big[600];
    for (int i = 0; i < 600; i++)
        big[i] = (uint8_t)i;
    CHECK_EQ(amp_rpmsg_max_payload(&lb.host), 496);
    CHECK_EQ(amp_ept_send(&h, big, 0, 0), 0);
    CHECK_EQ(amp_ept_send(&h, big, 496, 0), 496);
    CHECK_EQ(amp_ept_send(&h, big, 497, 0), -EMSGSIZE);
    CHECK_EQ(amp_ept_send(&r, big, 497, 0), -EMSGSIZE);
    pump(&lb);
    CHECK_EQ(rr.count, 2);
    CHECK_EQ(rr.len[0], 0);
    CHECK_EQ(rr.len[1], 496);
    CHECK_MEM(rr.data[1], big, 496);
    /* the remote replies at full size too */
    CHECK_EQ(amp_ept_send(&r, big, 496, 0), 496);
    pump(&lb);
    CHECK_EQ(hr.count, 1);
    CHECK_MEM(hr.data[0], big, 496);
    lb_teardown(&lb);
}

static void test_send_timeout_when_remote_keeps_buffers(void)
{
    struct loopback lb;
    lb_setup(&lb, 16, 1u << AMP_RPMSG_F_NS);
    CHECK_EQ(lb_start(&lb), 0);
    struct amp_ept h;
    CHECK_EQ(amp_ept_create(&h, &lb.host, NULL, AMP_ADDR_ANY, 0x700, NULL, NULL), 0);
    int sent = 0;
    while (amp_ept_send(&h, "z", 1, 0) == 1)
        sent++;
    CHECK_EQ(sent, 16); /* every send buffer is with the remote */
    CHECK_EQ(amp_ept_send(&h, "z", 1, 0), -EAGAIN);
    uint32_t t0 = lb.hport.now;
    CHECK_EQ(amp_ept_send(&h, "z", 1, 25), -ETIMEDOUT);
    CHECK_EQ(lb.hport.now - t0, 25); /* on time by the port's clock */
    /* once the remote consumes them, a blocking send goes through */
    lb.hport.peer_polls = true;
    CHECK_EQ(amp_ept_send(&h, "z", 1, AMP_WAIT_FOREVER), 1);
    lb_teardown(&lb);
}

static void test_send_blocked_sender_is_released_by_stop(void)
{
    struct loopback lb;
    lb_setup(&lb, 16, 1u << AMP_RPMSG_F_NS);
    CHECK_EQ(lb_start(&lb), 0);
    struct amp_ept h;
    CHECK_EQ(amp_ept_create(&h, &lb.host, NULL, AMP_ADDR_ANY, 0x700, NULL, NULL), 0);
    while (amp_ept_send(&h, "z", 1, 0) == 1)
        ;
    /* the remote "dies" while we wait: wait() runs a poll of the host's
     * peer, so stop the host from there */
    lb.hport.peer = &lb.host; /* peer poll of ourselves is refused (in_poll) */
    struct amp_rpmsg *dev = &lb.host;
    amp_rpmsg_stop(dev);
    CHECK_EQ(amp_ept_send(&h, "z", 1, AMP_WAIT_FOREVER), -ENOTCONN);
    lb_teardown(&lb);
}

/* A host may post send buffers of mixed sizes (virtio allows it; Linux,
 * OpenAMP and RPMsg-Lite post one size). A buffer too small for one
 * message must not stand in the way of the larger ones: the remote keeps
 * it for a message it fits, and says -EMSGSIZE only when none of the
 * buffers it holds or finds in the avail ring is large enough. */
static void test_send_small_buffer_first_blocks_no_larger_send(void)
{
    struct loopback lb;
    lb_setup(&lb, 8, 0);
    CHECK_EQ(amp_rpmsg_start(&lb.host, &lb.hcfg, 0), 0);
    /* the host's receive buffer 0 (the remote's first send buffer) is
     * posted with 64 bytes: room for 48 */
    volatile struct amp_vring_desc *d =
        (volatile struct amp_vring_desc *)(lb.shm + (lb.vdev->vring[0].da - LB_DA));
    d[0].len = 64;
    CHECK_EQ(amp_rpmsg_start(&lb.remote, &lb.rcfg, 0), 0);
    struct amp_ept h, r;
    struct rec hr = {0};
    CHECK_EQ(amp_ept_create(&r, &lb.remote, NULL, 0x600, 0x601, NULL, NULL), 0);
    CHECK_EQ(amp_ept_create(&h, &lb.host, NULL, 0x601, 0x600, rec_cb, &hr), 0);
    uint8_t big[200];
    for (int i = 0; i < 200; i++)
        big[i] = (uint8_t)(i * 7);
    CHECK_EQ(amp_ept_send(&r, big, 200, 0), 200);   /* in buffer 1, past the small one */
    CHECK_EQ(amp_ept_send(&r, big, 48, 0), 48);     /* in the small one */
    for (int i = 0; i < 6; i++)
        CHECK_EQ(amp_ept_send(&r, big, 200, 0), 200); /* buffers 2..7 */
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(&lb.remote, &st);
    CHECK_EQ(st.tx_free, 0);
    CHECK_EQ(amp_ept_send(&r, big, 200, 0), -EAGAIN); /* none left at all */
    amp_rpmsg_poll(&lb.host);
    CHECK_EQ(hr.count, 8);
    CHECK_EQ(hr.len[0], 200);
    CHECK_MEM(hr.data[0], big, 200);
    CHECK_EQ(hr.len[1], 48);
    CHECK_MEM(hr.data[1], big, 48);
    CHECK(hr.ptr[1] == lb.shm + 65536 + 16); /* the host's buffer 0 */
    for (int i = 2; i < 8; i++)
        CHECK_EQ(hr.len[i], 200);
    lb_teardown(&lb);
}

/* A buffer too small for a message stays the remote's: -EMSGSIZE while no
 * buffer it can get is large enough, and a message that fits takes it
 * before any larger one. */
static void test_send_emsgsize_only_when_no_buffer_fits(void)
{
    struct loopback lb;
    lb_setup(&lb, 8, 0);
    CHECK_EQ(amp_rpmsg_start(&lb.host, &lb.hcfg, 0), 0);
    volatile struct amp_vring_desc *d =
        (volatile struct amp_vring_desc *)(lb.shm + (lb.vdev->vring[0].da - LB_DA));
    for (int i = 0; i < 8; i++)
        d[i].len = i == 3 ? 512 : 32; /* one large buffer among small ones */
    CHECK_EQ(amp_rpmsg_start(&lb.remote, &lb.rcfg, 0), 0);
    struct amp_ept h, r;
    struct rec hr = {0};
    CHECK_EQ(amp_ept_create(&r, &lb.remote, NULL, 0x600, 0x601, NULL, NULL), 0);
    CHECK_EQ(amp_ept_create(&h, &lb.host, NULL, 0x601, 0x600, rec_cb, &hr), 0);
    uint8_t big[496] = {1, 2, 3};
    CHECK_EQ(amp_ept_send(&r, big, 496, 0), 496);        /* buffer 3 */
    CHECK_EQ(amp_ept_send(&r, big, 17, 0), -EMSGSIZE);   /* seven of 16 bytes left */
    CHECK_EQ(amp_ept_send(&r, big, 17, 100), -EMSGSIZE); /* the same when it may wait */
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(&lb.remote, &st);
    CHECK_EQ(st.tx_free, 7); /* none given back, none lost */
    CHECK_EQ(amp_ept_send(&r, big, 16, 0), 16);
    amp_rpmsg_get_stats(&lb.remote, &st);
    CHECK_EQ(st.tx_free, 6);
    amp_rpmsg_poll(&lb.host); /* the host posts its two buffers again, whole */
    CHECK_EQ(hr.count, 2);
    CHECK_EQ(hr.len[0], 496);
    CHECK_EQ(hr.len[1], 16);
    CHECK_EQ(amp_ept_send(&r, big, 100, 0), 100); /* one of them */
    CHECK_EQ(amp_ept_send(&r, big, 16, 0), 16);   /* a small one, not the other */
    CHECK_EQ(amp_ept_send(&r, big, 100, 0), 100);
    amp_rpmsg_get_stats(&lb.remote, &st);
    CHECK_EQ(st.tx_free, 5);
    lb_teardown(&lb);
}

/* ---- zero-copy ---- */

static void test_zero_copy_send_both_ways(void)
{
    struct loopback lb;
    lb_setup(&lb, 64, 1u << AMP_RPMSG_F_NS);
    CHECK_EQ(lb_start(&lb), 0);
    struct amp_ept h, r;
    struct rec hr = {0}, rr = {0};
    CHECK_EQ(amp_ept_create(&r, &lb.remote, NULL, 0x600, 0x601, rec_cb, &rr), 0);
    CHECK_EQ(amp_ept_create(&h, &lb.host, NULL, 0x601, 0x600, rec_cb, &hr), 0);
    struct amp_rpmsg *side[2] = {&lb.host, &lb.remote};
    struct amp_ept *ep[2] = {&h, &r};
    for (int s = 0; s < 2; s++) {
        void *p = NULL;
        uint32_t cap = 0;
        CHECK_EQ(amp_rpmsg_alloc_tx(side[s], &p, &cap, 0), 0);
        CHECK_EQ(cap, 496);
        memcpy(p, "zero-copy", 9);
        CHECK_EQ(amp_ept_send_nocopy(ep[s], AMP_ADDR_ANY, p, 497), -EMSGSIZE);
        CHECK_EQ(amp_ept_send_nocopy(ep[s], AMP_ADDR_ANY, (uint8_t *)p + 1, 9), -EINVAL);
        CHECK_EQ(amp_ept_send_nocopy(ep[s], AMP_ADDR_ANY, p, 9), 9);
        CHECK_EQ(amp_ept_send_nocopy(ep[s], AMP_ADDR_ANY, p, 9), -EINVAL); /* already sent */
        CHECK_EQ(amp_rpmsg_release_tx(side[s], p), -EINVAL);
        /* taken and given back unsent */
        CHECK_EQ(amp_rpmsg_alloc_tx(side[s], &p, &cap, 0), 0);
        CHECK_EQ(amp_rpmsg_release_tx(side[s], p), 0);
        CHECK_EQ(amp_rpmsg_release_tx(side[s], p), -EINVAL);
        int stack;
        CHECK_EQ(amp_rpmsg_release_tx(side[s], &stack), -EINVAL);
    }
    pump(&lb);
    CHECK_EQ(rr.count, 1);
    CHECK_EQ(hr.count, 1);
    CHECK_MEM(rr.data[0], "zero-copy", 9);
    CHECK_MEM(hr.data[0], "zero-copy", 9);
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(&lb.host, &st);
    CHECK_EQ(st.tx_held, 0);
    amp_rpmsg_get_stats(&lb.remote, &st);
    CHECK_EQ(st.tx_held, 0);
    lb_teardown(&lb);
}

static void test_zero_copy_hold_rx_past_callback(void)
{
    struct loopback lb;
    lb_setup(&lb, 16, 1u << AMP_RPMSG_F_NS);
    CHECK_EQ(lb_start(&lb), 0);
    struct amp_ept h, r;
    struct rec hr = {0}, rr = {0};
    hr.ret = AMP_RX_HOLD;
    rr.ret = AMP_RX_HOLD;
    CHECK_EQ(amp_ept_create(&r, &lb.remote, NULL, 0x600, 0x601, rec_cb, &rr), 0);
    CHECK_EQ(amp_ept_create(&h, &lb.host, NULL, 0x601, 0x600, rec_cb, &hr), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(amp_ept_send(&h, "abc", 3, 0), 3);
        CHECK_EQ(amp_ept_send(&r, "def", 3, 0), 3);
    }
    pump(&lb);
    CHECK_EQ(rr.count, 3);
    CHECK_EQ(hr.count, 3);
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(&lb.host, &st);
    CHECK_EQ(st.rx_held, 3);
    CHECK_EQ(st.rx_queued, 13);
    /* the held data is still there, untouched */
    CHECK_MEM(hr.ptr[2], "def", 3);
    CHECK_MEM(rr.ptr[1], "abc", 3);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(amp_rpmsg_release_rx(&lb.host, hr.ptr[i]), 0);
        CHECK_EQ(amp_rpmsg_release_rx(&lb.host, hr.ptr[i]), -EINVAL);
        CHECK_EQ(amp_rpmsg_release_rx(&lb.remote, rr.ptr[i]), 0);
        CHECK_EQ(amp_rpmsg_release_rx(&lb.remote, rr.ptr[i]), -EINVAL);
    }
    amp_rpmsg_get_stats(&lb.host, &st);
    CHECK_EQ(st.rx_held, 0);
    CHECK_EQ(st.rx_queued, 16);
    pump(&lb);
    amp_rpmsg_get_stats(&lb.host, &st);
    CHECK_EQ(st.tx_free, st.tx_total);
    lb_teardown(&lb);
}

/* ---- notifications ---- */

/* Ping-pong where each side runs only when the other notified it: the
 * host sends one message, the remote echoes it, and the next message goes
 * only after the echo arrived. A single lost notification stalls the
 * exchange, which the bound on rounds catches. */
static void notify_loop(uint32_t features)
{
    struct loopback lb;
    lb_setup(&lb, 16, features);
    CHECK_EQ(lb_start(&lb), 0);
    struct amp_ept h, r;
    struct rec hr = {0}, rr = {0};
    CHECK_EQ(amp_ept_create(&r, &lb.remote, NULL, 0x600, AMP_ADDR_ANY, rec_cb, &rr), 0);
    CHECK_EQ(amp_ept_create(&h, &lb.host, NULL, 0x601, 0x600, rec_cb, &hr), 0);
    rr.reply_on = &r;
    lb.hport.pending = lb.rport.pending = 0;
    int i;
    for (i = 0; i < 1000; i++) {
        if (amp_ept_send(&h, "m", 1, 0) != 1)
            break;
        for (int round = 0; round < 8 && hr.count == i; round++) {
            if (lb.rport.pending) { /* each side runs only when kicked */
                lb.rport.pending = 0;
                amp_rpmsg_poll(&lb.remote);
            }
            if (lb.hport.pending) {
                lb.hport.pending = 0;
                amp_rpmsg_poll(&lb.host);
            }
        }
        if (hr.count != i + 1)
            break;
    }
    CHECK_EQ(i, 1000);
    CHECK_EQ(rr.count, 1000);
    CHECK_EQ(hr.count, 1000);
    CHECK_EQ(lb.host.features & (1u << AMP_VIRTIO_F_EVENT_IDX),
             features & (1u << AMP_VIRTIO_F_EVENT_IDX));
    CHECK_EQ(lb.remote.features, lb.host.features);
    lb_teardown(&lb);
}

static void test_notify_event_idx_on_loses_nothing(void)
{
    notify_loop((1u << AMP_RPMSG_F_NS) | (1u << AMP_VIRTIO_F_EVENT_IDX));
}

static void test_notify_event_idx_off_loses_nothing(void)
{
    notify_loop(1u << AMP_RPMSG_F_NS);
}

static void test_notify_suppressed_while_consumer_busy_polls(void)
{
    for (int ev = 0; ev < 2; ev++) {
        struct loopback lb;
        lb_setup(&lb, 64, (1u << AMP_RPMSG_F_NS) | ((uint32_t)ev << AMP_VIRTIO_F_EVENT_IDX));
        CHECK_EQ(lb_start(&lb), 0);
        struct amp_ept h, r;
        struct rec rr = {0};
        CHECK_EQ(amp_ept_create(&r, &lb.remote, NULL, 0x600, AMP_ADDR_ANY, rec_cb, &rr), 0);
        CHECK_EQ(amp_ept_create(&h, &lb.host, NULL, 0x601, 0x600, NULL, NULL), 0);
        amp_rpmsg_set_busy_poll(&lb.remote, true);
        uint32_t k0 = lb.hport.kicks;
        for (int i = 0; i < 200; i++) {
            CHECK_EQ(amp_ept_send(&h, "m", 1, 0), 1);
            amp_rpmsg_poll(&lb.remote);
            amp_rpmsg_poll(&lb.host);
        }
        CHECK_EQ(rr.count, 200);
        CHECK(lb.hport.kicks - k0 <= 1); /* the remote asked for none */
        lb_teardown(&lb);
    }
}

static void test_remote_start_waits_for_driver_ok(void)
{
    struct loopback lb;
    lb_setup(&lb, 16, 1u << AMP_RPMSG_F_NS);
    CHECK_EQ(amp_rpmsg_start(&lb.remote, &lb.rcfg, 10), -ETIMEDOUT);
    CHECK_EQ(lb.rport.now, 10);
    CHECK_EQ(amp_rpmsg_start(&lb.host, &lb.hcfg, 0), 0);
    CHECK(lb.rport.pending > 0); /* the host kicked after DRIVER_OK */
    CHECK_EQ(lb.vdev->status & AMP_VIRTIO_STATUS_DRIVER_OK, AMP_VIRTIO_STATUS_DRIVER_OK);
    CHECK_EQ(amp_rpmsg_start(&lb.remote, &lb.rcfg, 10), 0);
    CHECK_EQ(amp_rpmsg_start(&lb.remote, &lb.rcfg, 10), -EBUSY);
    lb_teardown(&lb);
}

static void test_start_rejects_bad_config(void)
{
    struct loopback lb;
    lb_setup(&lb, 64, 1u << AMP_RPMSG_F_NS);
    struct amp_rpmsg_cfg c = lb.hcfg;
    c.num = 48;
    CHECK_EQ(amp_rpmsg_start(&lb.host, &c, 0), -EINVAL);
    c = lb.hcfg;
    c.vring_da[1] = LB_DA + LB_SHM_SIZE - 100; /* ring past the window */
    CHECK_EQ(amp_rpmsg_start(&lb.host, &c, 0), -EINVAL);
    c = lb.hcfg;
    c.nslots = 100;
    CHECK_EQ(amp_rpmsg_start(&lb.host, &c, 0), -E2BIG);
    c = lb.hcfg;
    c.pool_size = 64 * 512; /* room for the rx buffers only */
    CHECK_EQ(amp_rpmsg_start(&lb.host, &c, 0), -ENOMEM);
    c = lb.hcfg;
    c.pool_da = LB_DA + 4096; /* on top of vring0 */
    CHECK_EQ(amp_rpmsg_start(&lb.host, &c, 0), -EINVAL);
    c = lb.hcfg;
    c.buf_size = 8;
    CHECK_EQ(amp_rpmsg_start(&lb.host, &c, 0), -EINVAL);
    CHECK_EQ(amp_rpmsg_start(&lb.host, &lb.hcfg, 0), 0);
    lb_teardown(&lb);
}

static void test_buffer_size_is_per_instance(void)
{
    struct loopback lb;
    lb_setup(&lb, 16, 1u << AMP_RPMSG_F_NS);
    lb.hcfg.buf_size = 2048;
    CHECK_EQ(lb_start(&lb), 0);
    CHECK_EQ(amp_rpmsg_max_payload(&lb.host), 2032);
    struct amp_ept h, r;
    struct rec rr = {0};
    CHECK_EQ(amp_ept_create(&r, &lb.remote, NULL, 0x600, AMP_ADDR_ANY, rec_cb, &rr), 0);
    CHECK_EQ(amp_ept_create(&h, &lb.host, NULL, 0x601, 0x600, NULL, NULL), 0);
    static uint8_t big[2032];
    CHECK_EQ(amp_ept_send(&h, big, sizeof(big), 0), 2032);
    pump(&lb);
    CHECK_EQ(rr.count, 1);
    CHECK_EQ(rr.len[0], 2032);
    lb_teardown(&lb);
}

static void test_unknown_destination_is_dropped_and_counted(void)
{
    struct loopback lb;
    lb_setup(&lb, 16, 1u << AMP_RPMSG_F_NS);
    CHECK_EQ(lb_start(&lb), 0);
    struct amp_ept h;
    CHECK_EQ(amp_ept_create(&h, &lb.host, NULL, AMP_ADDR_ANY, 0x999, NULL, NULL), 0);
    CHECK_EQ(amp_ept_send(&h, "lost", 4, 0), 4);
    pump(&lb);
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(&lb.remote, &st);
    CHECK_EQ(st.dropped, 1);
    CHECK_EQ(st.rx, 0);
    amp_rpmsg_get_stats(&lb.host, &st);
    CHECK_EQ(st.tx_free, st.tx_total); /* the buffer came back anyway */
    lb_teardown(&lb);
}

static void test_ept_created_after_announcement_binds_at_once(void)
{
    struct loopback lb;
    lb_setup(&lb, 16, 1u << AMP_RPMSG_F_NS);
    CHECK_EQ(lb_start(&lb), 0);
    struct amp_ept h, r, h2;
    struct rec hr = {0}, rr = {0};
    CHECK_EQ(amp_ept_create(&r, &lb.remote, "late", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &rr), 0);
    pump(&lb); /* the host has no "late" endpoint yet */
    CHECK_EQ(amp_ept_create(&h, &lb.host, "late", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &hr), 0);
    CHECK(amp_ept_is_ready(&h));
    CHECK_EQ(h.dest, r.addr);
    CHECK_EQ(amp_ept_send(&h, "x", 1, 0), 1);
    pump(&lb);
    CHECK_EQ(rr.count, 1);
    CHECK(amp_ept_is_ready(&r));
    /* the announcement was taken: a second endpoint of that name waits */
    CHECK_EQ(amp_ept_create(&h2, &lb.host, "late", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &hr), 0);
    CHECK(!amp_ept_is_ready(&h2));
    /* a destroyed service is forgotten; a stop forgets everything */
    struct amp_ept g;
    CHECK_EQ(amp_ept_create(&g, &lb.remote, "gone", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &rr), 0);
    pump(&lb);
    amp_ept_destroy(&g);
    pump(&lb);
    struct amp_ept g2;
    CHECK_EQ(amp_ept_create(&g2, &lb.host, "gone", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &hr), 0);
    CHECK(!amp_ept_is_ready(&g2));
    lb_teardown(&lb);
}

/* An endpoint made again before the old one of its name goes (Python's
 * `ept = Endpoint(name, cb)` twice: the old object goes after the new one
 * is made) gets the peer's service when the old one is destroyed; it
 * stayed unbound for good, the announcement having come once. */
static void test_ept_made_again_binds_when_the_old_one_goes(void)
{
    struct loopback lb;
    lb_setup(&lb, 16, 1u << AMP_RPMSG_F_NS);
    CHECK_EQ(lb_start(&lb), 0);
    struct amp_ept h, r, again, other;
    struct rec hr = {0}, rr = {0}, ar = {0};
    CHECK_EQ(amp_ept_create(&h, &lb.host, "svc", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &hr), 0);
    CHECK_EQ(amp_ept_create(&r, &lb.remote, "svc", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &rr), 0);
    pump(&lb);
    CHECK(amp_ept_is_ready(&h));
    CHECK_EQ(amp_ept_create(&other, &lb.host, "other", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &ar), 0);
    CHECK_EQ(amp_ept_create(&again, &lb.host, "svc", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &ar), 0);
    pump(&lb);
    CHECK(!amp_ept_is_ready(&again)); /* the service is h's */
    amp_ept_destroy(&h);
    CHECK(amp_ept_is_ready(&again));
    CHECK_EQ(again.dest, r.addr);
    CHECK(!amp_ept_is_ready(&other)); /* another name is not handed the service */
    pump(&lb);
    CHECK_EQ(amp_ept_send(&again, "again", 5, 0), 5);
    pump(&lb);
    CHECK_EQ(rr.count, 1);
    CHECK_EQ(rr.len[0], 5);
    CHECK_EQ(amp_ept_send(&r, "back", 4, 0), 4); /* the remote bound to it by that message */
    pump(&lb);
    CHECK_EQ(ar.count, 1);
    CHECK_EQ(hr.count, 0);
    /* the remote's destroy of the service unbinds the new holder */
    amp_ept_destroy(&r);
    pump(&lb);
    CHECK(!amp_ept_is_ready(&again));
    lb_teardown(&lb);
}

/* Both sides up, host endpoint h at 0x700, remote endpoint r sending to
 * it until every buffer of the host's is with the host: a send found
 * none (tx_starved). */
static void remote_starved(struct loopback *lb, struct amp_ept *h, struct amp_ept *r)
{
    lb_setup(lb, 16, 1u << AMP_RPMSG_F_NS);
    CHECK_EQ(lb_start(lb), 0);
    CHECK_EQ(amp_ept_create(h, &lb->host, NULL, 0x700, AMP_ADDR_ANY, NULL, NULL), 0);
    CHECK_EQ(amp_ept_create(r, &lb->remote, NULL, AMP_ADDR_ANY, 0x700, NULL, NULL), 0);
    int sent = 0;
    while (amp_ept_send(r, "z", 1, 0) == 1)
        sent++;
    CHECK_EQ(sent, 16);
    CHECK(lb->remote.tx_starved);
}

/* A send that found no buffer makes amp_rpmsg_wait() wake once for a
 * returned one, so the program can try again; the waits after it sleep
 * (before, every wait returned at once while buffers waited: a spin). */
static void test_wait_wakes_once_for_a_returned_buffer(void)
{
    struct loopback lb;
    struct amp_ept h, r;
    remote_starved(&lb, &h, &r);
    CHECK(amp_rpmsg_poll(&lb.host) == 16); /* the host reads them and posts them again */
    uint32_t w0 = lb.rport.waits;
    CHECK_EQ(amp_rpmsg_wait(&lb.remote, 5), 0);
    CHECK_EQ(lb.rport.waits, w0); /* woken at once: a buffer is there */
    CHECK(!lb.remote.tx_starved);
    amp_rpmsg_wait(&lb.remote, 5);
    amp_rpmsg_wait(&lb.remote, 5);
    CHECK_EQ(lb.rport.waits, w0 + 2); /* then it sleeps */
    CHECK_EQ(amp_ept_send(&r, "z", 1, 0), 1); /* and the buffer is there */
    lb_teardown(&lb);
}

/* A send that waited and got its buffer owes no wake to amp_rpmsg_wait():
 * the next wait sleeps (it used to return once for nothing). */
static void test_wait_owes_no_wake_after_a_send_that_waited(void)
{
    struct loopback lb;
    struct amp_ept h, r;
    remote_starved(&lb, &h, &r);
    lb.rport.peer_polls = true; /* the host reads while we wait */
    CHECK_EQ(amp_ept_send(&r, "z", 1, 50), 1);
    CHECK(!lb.remote.tx_starved);
    uint32_t w0 = lb.rport.waits;
    amp_rpmsg_wait(&lb.remote, 5);
    CHECK_EQ(lb.rport.waits, w0 + 1); /* it slept */
    lb_teardown(&lb);
}

AMP_TEST_MAIN(TEST(test_ept_created_after_announcement_binds_at_once),
              TEST(test_ept_made_again_binds_when_the_old_one_goes),
              TEST(test_vring_layout_num64_align32_matches_spec),
              TEST(test_vring_layout_num256_align4096_matches_spec),
              TEST(test_vring_layout_bad_geometry_is_zero),
              TEST(test_vring_drv_add_writes_spec_bytes),
              TEST(test_rpmsg_header_and_ns_bytes_match_linux),
              TEST(test_rpmsg_announce_binds_both_ways),
              TEST(test_rpmsg_new_service_cb_with_explicit_dest_binds),
              TEST(test_rpmsg_ns_destroy_unbinds_and_calls_back),
              TEST(test_rpmsg_stop_unbinds_and_restart_rebinds),
              TEST(test_ept_create_checks_arguments),
              TEST(test_ept_dynamic_addresses_have_no_small_cap),
              TEST(test_send_sizes_zero_and_max_work_oversize_is_emsgsize),
              TEST(test_send_timeout_when_remote_keeps_buffers),
              TEST(test_send_blocked_sender_is_released_by_stop),
              TEST(test_send_small_buffer_first_blocks_no_larger_send),
              TEST(test_send_emsgsize_only_when_no_buffer_fits),
              TEST(test_zero_copy_send_both_ways),
              TEST(test_zero_copy_hold_rx_past_callback),
              TEST(test_notify_event_idx_on_loses_nothing),
              TEST(test_notify_event_idx_off_loses_nothing),
              TEST(test_notify_suppressed_while_consumer_busy_polls),
              TEST(test_remote_start_waits_for_driver_ok),
              TEST(test_start_rejects_bad_config),
              TEST(test_buffer_size_is_per_instance),
              TEST(test_unknown_destination_is_dropped_and_counted),
              TEST(test_wait_wakes_once_for_a_returned_buffer),
              TEST(test_wait_owes_no_wake_after_a_send_that_waited))
