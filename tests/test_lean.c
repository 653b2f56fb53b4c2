/*
 * test_lean.c - RPMsg with every optional feature compiled out: no name
 * service, no zero-copy, no waiting, no event-idx (AMP_CFG_RPMSG_NS,
 * _ZEROCOPY, _WAIT, AMP_CFG_VRING_EVENT_IDX all 0), both roles, as a
 * small remote builds it. The library's sources are compiled into this
 * test with those settings; the default library stays out of it.
 * test_lean_split runs the same tests with the remote on the lean build
 * (AMP_CFG_RPMSG_LEAN) and the host on the full one (split.h).
 *
 * What must hold: the features are never negotiated, calls that need a
 * missing feature say -ENOTSUP or -EAGAIN rather than waiting, messages
 * still flow, and every value the peer writes is still checked.
 */
#include "cfg_lean.h"
#ifndef SPLIT_CFG /* test_lean_split: the library comes from split_*.c */
#include "../src/amp_vring.c"
#include "../src/amp_rpmsg.c"
#endif

#include "amp_test.h"
#include "loopback.h"

#define ADDR_H 1024u
#define ADDR_R 1025u

/* Is the remote on the lean build (test_lean_split)? It has one endpoint
 * per device (AMP_CFG_RPMSG_LEAN). */
#ifdef SPLIT_CFG
#define REMOTE_LEAN 1
#else
#define REMOTE_LEAN 0
#endif

struct rec {
    int count;
    uint8_t data[64];
    size_t len;
    int ret;               /* what the callback returns */
    struct amp_ept *echo;  /* send it back on this endpoint */
};

static int rec_cb(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    struct rec *r = priv;
    (void)ept;
    (void)src;
    r->count++;
    r->len = len;
    memcpy(r->data, data, len < sizeof(r->data) ? len : sizeof(r->data));
    if (r->echo)
        amp_ept_send(r->echo, data, len, 0);
    return r->ret;
}

static void pump(struct loopback *lb)
{
    for (int i = 0; i < 4; i++) {
        amp_rpmsg_poll(&lb->host);
        amp_rpmsg_poll(&lb->remote);
    }
}

/* Both sides up, an endpoint each at fixed addresses, bound to each other. */
static void setup(struct loopback *lb, uint32_t num, struct amp_ept *he, struct rec *hr,
                  struct amp_ept *re, struct rec *rr)
{
    const uint32_t all = (1u << AMP_RPMSG_F_NS) | (1u << AMP_VIRTIO_F_EVENT_IDX);
    lb_setup(lb, num, all);
    CHECK_EQ(lb_start(lb), 0);
    CHECK_EQ(amp_ept_create(he, &lb->host, "lean", ADDR_H, ADDR_R, rec_cb, hr), 0);
    CHECK_EQ(amp_ept_create(re, &lb->remote, "lean", ADDR_R, ADDR_H, rec_cb, rr), 0);
}

static void test_lean_features_offered_are_never_negotiated(void)
{
    struct loopback lb;
    struct amp_ept he, re;
    struct rec hr = {0}, rr = {0};
    setup(&lb, 16, &he, &hr, &re, &rr);
    CHECK_EQ(lb.host.features, 0);
    CHECK_EQ(lb.remote.features, 0);
    CHECK_EQ(lb.vdev->gfeatures, 0);
    CHECK(!lb.host.ns && !lb.remote.ns);
    CHECK(!lb.host.rx.event_idx && !lb.remote.rx.event_idx);
    lb_teardown(&lb);
}

static void test_lean_remote_start_before_host_says_eagain(void)
{
    struct loopback lb;
    lb_setup(&lb, 16, 0);
    uint32_t waits = lb.rport.waits;
    CHECK_EQ(amp_rpmsg_start(&lb.remote, &lb.rcfg, AMP_WAIT_FOREVER), -EAGAIN);
    CHECK_EQ(lb.rport.waits, waits); /* tried once, never slept */
    CHECK_EQ(amp_rpmsg_start(&lb.host, &lb.hcfg, 0), 0);
    CHECK_EQ(amp_rpmsg_start(&lb.remote, &lb.rcfg, AMP_WAIT_FOREVER), 0);
    lb_teardown(&lb);
}

static void test_lean_echo_round_trips(void)
{
    struct loopback lb;
    struct amp_ept he, re;
    struct rec hr = {0}, rr = {.echo = &re};
    setup(&lb, 16, &he, &hr, &re, &rr);
    for (int i = 0; i < 100; i++) { /* several times round the 16-entry rings */
        char msg[8];
        snprintf(msg, sizeof(msg), "m%d", i);
        CHECK_EQ(amp_ept_send(&he, msg, strlen(msg), 0), (int)strlen(msg));
        pump(&lb);
        CHECK_EQ(hr.count, i + 1);
        CHECK_EQ(hr.len, strlen(msg));
        CHECK_MEM(hr.data, msg, strlen(msg));
    }
    lb_teardown(&lb);
}

static void test_lean_zero_copy_calls_say_enotsup_and_hold_returns_the_buffer(void)
{
    struct loopback lb;
    struct amp_ept he, re;
    struct rec hr = {0}, rr = {.ret = AMP_RX_HOLD};
    setup(&lb, 16, &he, &hr, &re, &rr);
    void *p = NULL;
    uint32_t cap = 0;
    CHECK_EQ(amp_rpmsg_alloc_tx(&lb.remote, &p, &cap, 0), -ENOTSUP);
    CHECK_EQ(amp_ept_send_nocopy(&re, ADDR_H, lb.shm + 65536 + 16, 1), -ENOTSUP);
    CHECK_EQ(amp_rpmsg_release_rx(&lb.remote, lb.shm + 65536 + 16), -ENOTSUP);
    CHECK_EQ(amp_rpmsg_release_tx(&lb.remote, lb.shm + 65536 + 16), -ENOTSUP);
    for (int i = 0; i < 40; i++) { /* more than the ring holds: none may be kept */
        CHECK_EQ(amp_ept_send(&he, "h", 1, 0), 1);
        pump(&lb);
    }
    CHECK_EQ(rr.count, 40);
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(&lb.remote, &st);
    CHECK_EQ(st.rx_held, 0);
    lb_teardown(&lb);
}

static void test_lean_ns_message_is_an_ordinary_drop(void)
{
    struct loopback lb;
    struct amp_ept he, re, named;
    struct rec hr = {0}, rr = {0}, nr = {0};
    setup(&lb, 16, &he, &hr, &re, &rr);
    if (REMOTE_LEAN) { /* one endpoint per device: "svc" takes the place of re */
        CHECK_EQ(amp_ept_create(&named, &lb.remote, "svc", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &nr),
                 -ENOSPC);
        amp_ept_destroy(&re);
    }
    CHECK_EQ(amp_ept_create(&named, &lb.remote, "svc", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &nr), 0);
    struct amp_rpmsg_ns_msg m = {0};
    memcpy(m.name, "svc", 4);
    m.addr = 2000;
    m.flags = AMP_RPMSG_NS_CREATE;
    CHECK_EQ(amp_ept_sendto(&he, AMP_ADDR_ANY, AMP_RPMSG_NS_ADDR, &m, sizeof(m), 0), (int)sizeof(m));
    pump(&lb);
    CHECK_EQ(named.dest, AMP_ADDR_ANY); /* not bound by an announcement */
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(&lb.remote, &st);
    CHECK_EQ(st.dropped, 1);
    CHECK_EQ(lb.host.st.tx, 1); /* and nothing was announced the other way */
    lb_teardown(&lb);
}

static void test_lean_send_without_a_buffer_says_eagain_at_once(void)
{
    struct loopback lb;
    struct amp_ept he, re;
    struct rec hr = {0}, rr = {0};
    setup(&lb, 16, &he, &hr, &re, &rr);
    lb.rport.peer_polls = true; /* a wait would let the host give buffers back */
    int ok = 0, ret;
    while ((ret = amp_ept_send(&re, "r", 1, AMP_WAIT_FOREVER)) == 1)
        ok++;
    CHECK_EQ(ret, -EAGAIN);
    CHECK_EQ(ok, 16);
    CHECK_EQ(lb.rport.waits, 0);
    lb_teardown(&lb);
}

/* The host's buffer, in the remote's rx ring, that the remote reads next. */
static struct amp_rpmsg_hdr *next_rx_hdr(struct loopback *lb)
{
    struct amp_vring *vr = &lb->remote.rx;
    uint16_t id = vr->avail->ring[vr->last_idx & (vr->num - 1)];
    return (struct amp_rpmsg_hdr *)(lb->shm + ((uint32_t)vr->desc[id].addr - LB_DA));
}

static void test_lean_header_longer_than_buffer_is_dropped(void)
{
    struct loopback lb;
    struct amp_ept he, re;
    struct rec hr = {0}, rr = {0};
    setup(&lb, 16, &he, &hr, &re, &rr);
    CHECK_EQ(amp_ept_send(&he, "x", 1, 0), 1);
    next_rx_hdr(&lb)->len = 0xFFFF; /* the host lies about the length */
    amp_rpmsg_poll(&lb.remote);
    CHECK_EQ(rr.count, 0);
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(&lb.remote, &st);
    CHECK_EQ(st.msg_errors, 1);
    lb_teardown(&lb);
}

static void test_lean_avail_index_past_the_ring_breaks_the_link(void)
{
    struct loopback lb;
    struct amp_ept he, re;
    struct rec hr = {0}, rr = {0};
    setup(&lb, 16, &he, &hr, &re, &rr);
    lb.remote.rx.avail->idx = (uint16_t)(lb.remote.rx.avail->idx + 17 + 16);
    CHECK_EQ(amp_rpmsg_poll(&lb.remote), -EIO);
    CHECK_EQ(amp_ept_send(&re, "r", 1, 0), -EIO);
    CHECK_EQ(rr.count, 0);
    lb_teardown(&lb);
}

static void test_lean_descriptor_outside_the_window_is_refused(void)
{
    struct loopback lb;
    struct amp_ept he, re;
    struct rec hr = {0}, rr = {0};
    setup(&lb, 16, &he, &hr, &re, &rr);
    CHECK_EQ(amp_ept_send(&he, "x", 1, 0), 1);
    struct amp_vring *vr = &lb.remote.rx;
    uint16_t id = vr->avail->ring[vr->last_idx & (vr->num - 1)];
    vr->desc[id].addr = LB_DA + LB_SHM_SIZE - 8; /* 512 bytes from 8 before the end */
    amp_rpmsg_poll(&lb.remote);
    CHECK_EQ(rr.count, 0);
    CHECK(lb.remote.rx.errors >= 1);
    lb_teardown(&lb);
}

int main(void)
{
    static const struct amp_test tests[] = {
        TEST(test_lean_features_offered_are_never_negotiated),
        TEST(test_lean_remote_start_before_host_says_eagain),
        TEST(test_lean_echo_round_trips),
        TEST(test_lean_zero_copy_calls_say_enotsup_and_hold_returns_the_buffer),
        TEST(test_lean_ns_message_is_an_ordinary_drop),
        TEST(test_lean_send_without_a_buffer_says_eagain_at_once),
        TEST(test_lean_header_longer_than_buffer_is_dropped),
        TEST(test_lean_avail_index_past_the_ring_breaks_the_link),
        TEST(test_lean_descriptor_outside_the_window_is_refused),
    };
    return amp_test_main(tests, sizeof(tests) / sizeof(tests[0]));
}
