/*
 * test_rpmsg_destroy_race.c - an endpoint destroyed by another thread while
 * a send on it is on its way into the library.
 *
 * amp_rpmsg.h promises that every call takes the port lock, so that sender
 * threads may share a device; the openamp module's deinit() runs on one
 * thread while send() runs on another, its interpreter lock let go. Here
 * the port's lock() plays the other thread: the first time the sender asks
 * for the lock, the destroy runs to its end first (as it would if the
 * sender were preempted just before taking the lock), then the sender
 * goes on. The send must then fail cleanly, not read the destroyed
 * endpoint's device (found by the openamp module's thread stress test
 * under AddressSanitizer: SEGV in msg_send).
 *
 * Fails (SIGSEGV) until amp_ept_sendto() and amp_ept_send_nocopy() check,
 * with the lock held, that ept->dev is still the device they locked: they
 * read it before the lock and again (NULL by then) after it.
 *
 * The second test destroys the endpoint while its send waits for a buffer
 * (the wait lets the lock go): the send must not go out from the
 * destroyed endpoint once a buffer comes (it did: the addresses were
 * taken before the wait), and the buffer must not be lost.
 */
#include <errno.h>

#include "amp_test.h"
#include "loopback.h"

static struct amp_ept *destroy_on_lock; /* the "other thread's" work, done at the next lock */
static int locks;

static void race_lock(void *ctx)
{
    (void)ctx;
    locks++;
    struct amp_ept *e = destroy_on_lock;
    if (e) {
        destroy_on_lock = NULL;
        amp_ept_destroy(e); /* takes the lock itself: one thread here, no real mutex */
    }
}

static void race_unlock(void *ctx)
{
    (void)ctx;
}

static struct amp_port_ops race_ops;

static int rec_nothing(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    (void)ept, (void)data, (void)len, (void)src, (void)priv;
    return 0;
}

static void test_send_racing_a_destroy_fails_cleanly(void)
{
    struct loopback lb;
    lb_setup(&lb, 64, (1u << AMP_RPMSG_F_NS) | (1u << AMP_VIRTIO_F_EVENT_IDX));
    race_ops = lb_ops;
    race_ops.lock = race_lock;
    race_ops.unlock = race_unlock;
    lb.host.port.ops = &race_ops; /* (the device keeps a copy of its port) */
    struct amp_ept h, r;
    CHECK_EQ(amp_ept_create(&h, &lb.host, "race", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_nothing, NULL), 0);
    CHECK_EQ(lb_start(&lb), 0);
    CHECK_EQ(amp_ept_create(&r, &lb.remote, "race", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_nothing, NULL), 0);
    for (int i = 0; i < 4; i++) {
        amp_rpmsg_poll(&lb.host);
        amp_rpmsg_poll(&lb.remote);
    }
    CHECK(amp_ept_is_ready(&h));
    CHECK_EQ(amp_ept_sendto(&h, AMP_ADDR_ANY, AMP_ADDR_ANY, "ok", 2, 0), 2);

    int before = locks;
    destroy_on_lock = &h;
    int ret = amp_ept_sendto(&h, AMP_ADDR_ANY, AMP_ADDR_ANY, "late", 4, 0);
    CHECK(locks > before); /* the race was run */
    CHECK(ret < 0);        /* the endpoint went before the send had the lock */
    CHECK(h.dev == NULL);
    /* and a send after the destroy fails the same way */
    CHECK(amp_ept_sendto(&h, AMP_ADDR_ANY, AMP_ADDR_ANY, "x", 1, 0) < 0);
    lb_teardown(&lb);
}

static struct amp_ept *destroy_on_wait;
static uint32_t received;

static int race_wait(void *ctx, int32_t timeout_ms)
{
    struct amp_ept *e = destroy_on_wait;
    if (e) {
        destroy_on_wait = NULL;
        amp_ept_destroy(e); /* the other thread, while the sender sleeps */
    }
    return lb_ops.wait(ctx, timeout_ms); /* polls the remote: buffers come back */
}

static int rec_count(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    (void)ept, (void)data, (void)len, (void)src, (void)priv;
    received++;
    return 0;
}

static void test_destroy_while_a_send_waits_sends_nothing(void)
{
    struct loopback lb;
    lb_setup(&lb, 8, 1u << AMP_RPMSG_F_NS);
    race_ops = lb_ops;
    race_ops.wait = race_wait;
    lb.host.port.ops = &race_ops;
    lb.hport.peer_polls = true;
    struct amp_ept h, r;
    CHECK_EQ(amp_ept_create(&h, &lb.host, "wait", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_nothing, NULL), 0);
    CHECK_EQ(lb_start(&lb), 0);
    CHECK_EQ(amp_ept_create(&r, &lb.remote, "wait", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_count, NULL), 0);
    for (int i = 0; i < 4; i++) {
        amp_rpmsg_poll(&lb.host);
        amp_rpmsg_poll(&lb.remote);
    }
    CHECK(amp_ept_is_ready(&h));
    int sent = 0;
    while (amp_ept_sendto(&h, AMP_ADDR_ANY, AMP_ADDR_ANY, "fill", 4, 0) == 4)
        sent++; /* every send buffer with the remote, unread */
    CHECK(sent > 0);
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(&lb.host, &st);
    uint32_t tx_before = st.tx;

    destroy_on_wait = &h;
    int ret = amp_ept_sendto(&h, AMP_ADDR_ANY, AMP_ADDR_ANY, "late", 4, 1000);
    CHECK(destroy_on_wait == NULL); /* the send waited, and the race was run */
    CHECK_EQ(ret, -EINVAL);         /* as a send after the destroy */
    amp_rpmsg_get_stats(&lb.host, &st);
    CHECK_EQ(st.tx, tx_before); /* nothing went out from the destroyed endpoint */
    for (int i = 0; i < 4; i++) {
        amp_rpmsg_poll(&lb.host);
        amp_rpmsg_poll(&lb.remote);
    }
    CHECK_EQ(received, (uint32_t)sent); /* the fill, not "late" */
    /* the buffer it took is not lost: another endpoint can fill them all again */
    struct amp_ept h2;
    CHECK_EQ(amp_ept_create(&h2, &lb.host, NULL, AMP_ADDR_ANY, r.addr, rec_nothing, NULL), 0);
    int again = 0;
    while (amp_ept_sendto(&h2, AMP_ADDR_ANY, AMP_ADDR_ANY, "more", 4, 0) == 4)
        again++;
    CHECK_EQ(again, sent);
    lb_teardown(&lb);
}

AMP_TEST_MAIN(TEST(test_send_racing_a_destroy_fails_cleanly),
              TEST(test_destroy_while_a_send_waits_sends_nothing))
