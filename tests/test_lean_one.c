/*
 * test_lean_one.c - the configurations tools/footprint.sh measures as
 * "remote": one endpoint per device (AMP_CFG_RPMSG_EPT_MAX 1), the name
 * service and zero-copy on, no waiting, no event-idx, no announcement
 * cache, no lock, no cache maintenance; and, built as test_lean_echo
 * (LEAN_ECHO), as "remote-echo": the same without zero-copy and without
 * endpoint destroy (AMP_CFG_RPMSG_ZEROCOPY 0, AMP_CFG_RPMSG_EPT_DESTROY 0).
 * The library's sources are compiled into this test with those settings
 * (both roles, so that an amp host in the same process can face the
 * remote); the default library stays out of it. test_lean_one_split and
 * test_lean_echo_split run the same tests with the remote on the lean
 * build (AMP_CFG_RPMSG_LEAN) and the host on the full one (split.h).
 *
 * What must hold: a second endpoint on a device is refused, the one
 * endpoint is announced, binds to the peer's announcement, echoes copied
 * (and zero-copy), tells the peer when it goes (where it can go), and
 * every value the peer writes (NS messages, destination addresses,
 * header lengths) is still checked.
 */
#include "cfg_lean_one.h"
#ifndef SPLIT_CFG /* test_lean_one_split: the library comes from split_*.c */
#include "../src/amp_vring.c"
#include "../src/amp_rpmsg.c"
#endif

#include "amp_test.h"
#include "loopback.h"

struct rec {
    int count;
    uint8_t data[64];
    size_t len;
    uint32_t src;
    int ret;              /* what the callback returns */
    bool echo;            /* send it back, copied */
    bool zc_reply;        /* reply zero-copy (and hold the message) */
    bool release_self;    /* release the message in its own callback, then hold it */
    int release_ret;      /* what that release said */
    void *held;           /* the payload of the last held message */
    int unbinds;
};

static int rec_cb(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    struct rec *r = priv;
    r->count++;
    r->len = len;
    r->src = src;
    memcpy(r->data, data, len < sizeof(r->data) ? len : sizeof(r->data));
    if (r->echo)
        amp_ept_sendto(ept, AMP_ADDR_ANY, src, data, len, 0);
    if (r->release_self) {
        r->release_ret = amp_rpmsg_release_rx(ept->dev, data);
        r->held = data;
        return AMP_RX_HOLD;
    }
    if (r->zc_reply) {
        void *p = NULL;
        uint32_t cap = 0;
        CHECK_EQ(amp_rpmsg_alloc_tx(ept->dev, &p, &cap, 0), 0);
        CHECK(p && cap >= len);
        if (p && cap >= len && len) {
            memcpy(p, data, len);
            ((char *)p)[0] = 'k';
            CHECK_EQ(amp_ept_send_nocopy(ept, src, p, len), (int)len);
        }
        r->held = data;
        return AMP_RX_HOLD;
    }
    return r->ret;
}

static void unbind_cb(struct amp_ept *ept)
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

/* Both sides up with the name service; an endpoint "svc" each, bound to
 * each other by their announcements. */
static void setup(struct loopback *lb, struct amp_ept *he, struct rec *hr, struct amp_ept *re,
                  struct rec *rr)
{
    lb_setup(lb, 16, 1u << AMP_RPMSG_F_NS);
    CHECK_EQ(amp_ept_create(he, &lb->host, "svc", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, hr), 0);
    CHECK_EQ(amp_ept_create(re, &lb->remote, "svc", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, rr), 0);
    amp_ept_set_unbind_cb(he, unbind_cb);
    amp_ept_set_unbind_cb(re, unbind_cb);
    CHECK_EQ(lb_start(lb), 0);
}

static void test_one_endpoint_per_device(void)
{
    struct loopback lb;
    struct amp_ept he, re, other;
    struct rec hr = {0}, rr = {0}, or = {0};
    setup(&lb, &he, &hr, &re, &rr);
    CHECK_EQ(re.addr, AMP_RPMSG_ADDR_RESERVED); /* ANY: the first dynamic address */
    CHECK_EQ(amp_ept_create(&other, &lb.remote, "two", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &or),
             -ENOSPC);
    CHECK_EQ(amp_ept_create(&other, &lb.remote, NULL, 2000, 1024, rec_cb, &or), -ENOSPC);
    CHECK_EQ(amp_ept_create(&re, &lb.remote, "svc", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &rr),
             -EINVAL); /* already created */
    CHECK_EQ(amp_ept_create(&other, &lb.remote, NULL, AMP_RPMSG_NS_ADDR, 1024, rec_cb, &or),
             -EINVAL);
    CHECK(lb.remote.epts == &re && re.next == NULL);
#if AMP_CFG_RPMSG_EPT_DESTROY
    amp_ept_destroy(&re);
    CHECK(lb.remote.epts == NULL);
    CHECK_EQ(amp_ept_create(&other, &lb.remote, NULL, 2000, he.addr, rec_cb, &or), 0);
    CHECK_EQ(other.addr, 2000);
    CHECK_EQ(amp_ept_send(&other, "x", 1, 0), 1);
    pump(&lb);
    CHECK_EQ(hr.count, 1);
    CHECK_EQ(hr.src, 2000);
#endif
    lb_teardown(&lb);
}

static void test_one_endpoint_is_announced_binds_and_echoes(void)
{
    struct loopback lb;
    struct amp_ept he, re;
    struct rec hr = {0}, rr = {.echo = true};
    setup(&lb, &he, &hr, &re, &rr);
    CHECK(lb.remote.ns && lb.host.ns);
    CHECK_EQ(he.dest, re.addr); /* the remote's announcement reached the host */
    CHECK_EQ(re.dest, he.addr); /* and the host's the remote */
    CHECK(re.ns_bound && re.announced);
    for (int i = 0; i < 40; i++) { /* more than twice round the 16-entry rings */
        char msg[8];
        snprintf(msg, sizeof(msg), "m%d", i);
        CHECK_EQ(amp_ept_send(&he, msg, strlen(msg), 0), (int)strlen(msg));
        pump(&lb);
        CHECK_EQ(rr.count, i + 1);
        CHECK_EQ(hr.count, i + 1);
        CHECK_EQ(hr.len, strlen(msg));
        CHECK_MEM(hr.data, msg, strlen(msg));
    }
    lb_teardown(&lb);
}

#if AMP_CFG_RPMSG_ZEROCOPY
static void test_one_zero_copy_hold_and_reply(void)
{
    struct loopback lb;
    struct amp_ept he, re;
    struct rec hr = {0}, rr = {.zc_reply = true};
    setup(&lb, &he, &hr, &re, &rr);
    for (int i = 0; i < 40; i++) {
        CHECK_EQ(amp_ept_send(&he, "hello", 5, 0), 5);
        pump(&lb);
        CHECK_EQ(hr.count, i + 1);
        CHECK_MEM(hr.data, "kello", 5);
        struct amp_rpmsg_stats st;
        amp_rpmsg_get_stats(&lb.remote, &st);
        CHECK_EQ(st.rx_held, 1);
        CHECK_EQ(amp_rpmsg_release_rx(&lb.remote, rr.held), 0);
        CHECK_EQ(amp_rpmsg_release_rx(&lb.remote, rr.held), -EINVAL); /* not twice */
        amp_rpmsg_get_stats(&lb.remote, &st);
        CHECK_EQ(st.rx_held, 0);
    }
    void *p = NULL;
    uint32_t cap = 0;
    CHECK_EQ(amp_rpmsg_alloc_tx(&lb.remote, &p, &cap, 0), 0);
    CHECK_EQ(amp_rpmsg_release_tx(&lb.remote, p), 0);
    CHECK_EQ(amp_rpmsg_release_tx(&lb.remote, p), -EINVAL);
    CHECK_EQ(amp_rpmsg_release_tx(&lb.remote, (uint8_t *)p + 4), -EINVAL);
    lb_teardown(&lb);
}

/* One context (AMP_CFG_LOCK 0): no other thread can release a buffer
 * while its callback runs, and the callback itself does not hold it yet. */
static void test_one_release_in_its_own_callback_is_refused(void)
{
    struct loopback lb;
    struct amp_ept he, re;
    struct rec hr = {0}, rr = {.release_self = true};
    setup(&lb, &he, &hr, &re, &rr);
    CHECK_EQ(amp_ept_send(&he, "h", 1, 0), 1);
    pump(&lb);
    CHECK_EQ(rr.count, 1);
    CHECK_EQ(rr.release_ret, -EINVAL);
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(&lb.remote, &st);
    CHECK_EQ(st.rx_held, 1); /* held as the callback said */
    CHECK_EQ(amp_rpmsg_release_rx(&lb.remote, rr.held), 0);
    amp_rpmsg_get_stats(&lb.remote, &st);
    CHECK_EQ(st.rx_held, 0);
    lb_teardown(&lb);
}

#endif

#if AMP_CFG_RPMSG_EPT_DESTROY
static void test_one_destroy_tells_the_peer(void)
{
    struct loopback lb;
    struct amp_ept he, re;
    struct rec hr = {0}, rr = {0};
    setup(&lb, &he, &hr, &re, &rr);
    CHECK_EQ(he.dest, re.addr);
    amp_ept_destroy(&re);
    amp_ept_destroy(&re); /* harmless */
    pump(&lb);
    CHECK_EQ(he.dest, AMP_ADDR_ANY);
    CHECK_EQ(hr.unbinds, 1);
    /* a new endpoint of that name is announced and bound again */
    CHECK_EQ(amp_ept_create(&re, &lb.remote, "svc", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_cb, &rr), 0);
    pump(&lb);
    CHECK_EQ(he.dest, re.addr);
    lb_teardown(&lb);
}

#else
/* Compiled out: a function of that name with another type compiles only
 * then (the library's would conflict with it). */
static int amp_ept_destroy(int x)
{
    return x + 1;
}

static void test_echo_destroy_and_zero_copy_are_compiled_out(void)
{
    CHECK_EQ(amp_ept_destroy(1), 2);
    struct loopback lb;
    struct amp_ept he, re;
    struct rec hr = {0}, rr = {.ret = AMP_RX_HOLD}; /* HOLD is DONE without zero-copy */
    setup(&lb, &he, &hr, &re, &rr);
    void *p = NULL;
    uint32_t cap = 0;
    CHECK_EQ(amp_rpmsg_alloc_tx(&lb.remote, &p, &cap, 0), -ENOTSUP);
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
#endif

/* An NS message from the host as it puts it on the wire. */
static void host_ns(struct loopback *lb, struct amp_ept *he, const void *m, size_t len)
{
    CHECK_EQ(amp_ept_sendto(he, AMP_ADDR_ANY, AMP_RPMSG_NS_ADDR, m, len, 0), (int)len);
    pump(lb);
}

/* A send that found no buffer makes amp_rpmsg_wait() wake once for a
 * returned one; the waits after it sleep (they used to return at once
 * while a buffer waited: a spin in the firmware's main loop). */
static void test_one_wait_wakes_once_for_a_returned_buffer(void)
{
    struct loopback lb;
    struct amp_ept he, re;
    struct rec hr = {0}, rr = {0};
    setup(&lb, &he, &hr, &re, &rr);
    int sent = 0;
    while (amp_ept_send(&re, "z", 1, 0) == 1)
        sent++;
    CHECK_EQ(sent, 16); /* every buffer the host posted */
    CHECK_EQ(amp_ept_send(&re, "z", 1, 0), -EAGAIN);
    CHECK_EQ(amp_rpmsg_poll(&lb.host), 16); /* read and posted again */
    CHECK_EQ(hr.count, 16);
    uint32_t w0 = lb.rport.waits;
    CHECK_EQ(amp_rpmsg_wait(&lb.remote, 5), 0);
    CHECK_EQ(lb.rport.waits, w0); /* woken at once: a buffer is there */
    amp_rpmsg_wait(&lb.remote, 5);
    amp_rpmsg_wait(&lb.remote, 5);
    CHECK_EQ(lb.rport.waits, w0 + 2); /* then it sleeps */
    CHECK_EQ(amp_ept_send(&re, "z", 1, 0), 1);
    lb_teardown(&lb);
}

/* amp_rpmsg_wait() from a callback, with messages queued behind it, sleeps
 * (they wait for the poll that runs the callback; it used to return at once
 * and a callback waiting for a send buffer spun). */
static struct lb_port *wait_cb_port;
static uint32_t wait_cb_slept;

static int wait_cb(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    (void)data, (void)len, (void)src;
    struct rec *r = priv;
    if (r->count++ == 0) {
        uint32_t w0 = wait_cb_port->waits;
        amp_rpmsg_wait(ept->dev, 5);
        wait_cb_slept = wait_cb_port->waits - w0;
    }
    return AMP_RX_DONE;
}

static void test_one_wait_in_a_callback_sleeps(void)
{
    struct loopback lb;
    struct amp_ept he, re;
    struct rec hr = {0}, rr = {0};
    setup(&lb, &he, &hr, &re, &rr);
    re.cb = wait_cb;
    wait_cb_port = &lb.rport;
    wait_cb_slept = 0;
    CHECK_EQ(amp_ept_send(&he, "a", 1, 0), 1);
    CHECK_EQ(amp_ept_send(&he, "b", 1, 0), 1); /* queued behind the first */
    CHECK_EQ(amp_rpmsg_poll(&lb.remote), 2);
    CHECK_EQ(rr.count, 2); /* both delivered, in order, after the wait */
    CHECK_EQ(wait_cb_slept, 1);
    lb_teardown(&lb);
}

static void test_one_peer_values_are_checked(void)
{
    struct loopback lb;
    struct amp_ept he, re;
    struct rec hr = {0}, rr = {0};
    setup(&lb, &he, &hr, &re, &rr);
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(&lb.remote, &st);
    uint32_t errors = st.msg_errors;

    struct amp_rpmsg_ns_msg m = {0};
    memcpy(m.name, "svc", 4);
    m.addr = he.addr;
    m.flags = AMP_RPMSG_NS_DESTROY;
    host_ns(&lb, &he, &m, sizeof(m) - 1); /* short: not an NS message */
    CHECK_EQ(re.dest, he.addr);
    m.flags = 7; /* neither create nor destroy */
    host_ns(&lb, &he, &m, sizeof(m));
    CHECK_EQ(re.dest, he.addr);
    memset(m.name, 's', sizeof(m.name)); /* no NUL: ours is cut at 31 */
    m.flags = AMP_RPMSG_NS_DESTROY;
    host_ns(&lb, &he, &m, sizeof(m));
    CHECK_EQ(re.dest, he.addr);
    amp_rpmsg_get_stats(&lb.remote, &st);
    CHECK_EQ(st.msg_errors, errors + 2);

    /* a message for an address that is not the endpoint's is dropped */
    CHECK_EQ(amp_ept_sendto(&he, AMP_ADDR_ANY, re.addr + 1, "x", 1, 0), 1);
    pump(&lb);
    CHECK_EQ(rr.count, 0);
    amp_rpmsg_get_stats(&lb.remote, &st);
    CHECK_EQ(st.dropped, 1);

    /* a header claiming more than the buffer is dropped and counted */
    CHECK_EQ(amp_ept_send(&he, "y", 1, 0), 1);
    struct amp_vring *vr = &lb.remote.rx;
    uint16_t id = vr->avail->ring[vr->last_idx & (vr->num - 1)];
    ((struct amp_rpmsg_hdr *)(lb.shm + ((uint32_t)vr->desc[id].addr - LB_DA)))->len = 0xFFFF;
    amp_rpmsg_poll(&lb.remote);
    CHECK_EQ(rr.count, 0);
    amp_rpmsg_get_stats(&lb.remote, &st);
    CHECK_EQ(st.msg_errors, errors + 3);

    /* a descriptor whose address has a high word is outside every window,
     * even where its low word points inside */
    CHECK_EQ(amp_ept_send(&he, "z", 1, 0), 1);
    id = vr->avail->ring[vr->last_idx & (vr->num - 1)];
    vr->desc[id].addr += 1ull << 32;
    uint32_t ring_errors = vr->errors;
    amp_rpmsg_poll(&lb.remote);
    CHECK_EQ(rr.count, 0);
    CHECK_EQ(vr->errors, ring_errors + 1);

    /* the real destroy unbinds */
    memset(m.name, 0, sizeof(m.name));
    memcpy(m.name, "svc", 4);
    host_ns(&lb, &he, &m, sizeof(m));
    CHECK_EQ(re.dest, AMP_ADDR_ANY);
    CHECK_EQ(rr.unbinds, 1);
    lb_teardown(&lb);
}

int main(void)
{
    static const struct amp_test tests[] = {
        TEST(test_one_endpoint_per_device),
        TEST(test_one_endpoint_is_announced_binds_and_echoes),
#if AMP_CFG_RPMSG_ZEROCOPY
        TEST(test_one_zero_copy_hold_and_reply),
        TEST(test_one_release_in_its_own_callback_is_refused),
#endif
#if AMP_CFG_RPMSG_EPT_DESTROY
        TEST(test_one_destroy_tells_the_peer),
#else
        TEST(test_echo_destroy_and_zero_copy_are_compiled_out),
#endif
        TEST(test_one_peer_values_are_checked),
        TEST(test_one_wait_wakes_once_for_a_returned_buffer),
        TEST(test_one_wait_in_a_callback_sleeps),
    };
    return amp_test_main(tests, sizeof(tests) / sizeof(tests[0]));
}
