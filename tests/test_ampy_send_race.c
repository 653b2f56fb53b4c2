/*
 * test_ampy_send_race.c - the binding core's send on an endpoint that a
 * deinit on another thread takes down while the send is on its way into
 * the library.
 *
 * The openamp modules call ampy_send with their interpreter lock let go,
 * so a deinit() on another thread may run between the send's look at
 * e->open and the library's lock. Here the port's lock() plays that
 * thread: the first time the sender asks for the lock, the whole
 * ampy_ept_deinit runs first, then the send goes on. The library refuses
 * it (-EINVAL: its endpoint is gone); the program must hear what a send
 * after the deinit says, -EBADF ("endpoint was deinitialised"), not
 * EINVAL ("invalid argument"), whichever side of the deinit it lands;
 * and one the device's close (exit) overtakes says -ESHUTDOWN, as after it.
 *
 * The platform is a fake over a loopback pair (loopback.h), with the
 * settings of a platform with threads, as Linux's (with one context the
 * race cannot happen), and the library's own link.
 */
#include "../bind/ampy.c"

#include "amp_test.h"
#include "loopback.h"

static struct loopback lb;
static struct ampy_ept *deinit_on_lock; /* the "other thread's" work, done at the next lock */
static bool close_on_lock;               /* ... or the device's close (exit) */
static int locks;

static void race_lock(void *ctx)
{
    (void)ctx;
    locks++;
    struct ampy_ept *e = deinit_on_lock;
    if (e) {
        deinit_on_lock = NULL;
        ampy_ept_deinit(e); /* takes the lock itself: one thread here, no real mutex */
    }
    if (close_on_lock) {
        close_on_lock = false;
        ampy_dev_close();
    }
}

static void race_unlock(void *ctx)
{
    (void)ctx;
}

static struct amp_port_ops race_ops;

int ampy_plat_open(struct ampy_dev *d)
{
    d->rpmsg = &lb.host;
    return 0;
}

void ampy_plat_close(struct ampy_dev *d)
{
    (void)d;
}

void ampy_plat_lock(struct ampy_dev *d)
{
    (void)d;
}

void ampy_plat_unlock(struct ampy_dev *d)
{
    (void)d;
}

int ampy_plat_fd_open(void)
{
    return -1;
}

void ampy_plat_fd_set(int fd, bool readable)
{
    (void)fd;
    (void)readable;
}

void ampy_plat_fd_close(int fd)
{
    (void)fd;
}

int ampy_plat_wait(struct ampy_dev *d, int32_t timeout_ms)
{
    (void)d;
    (void)timeout_ms;
    return -ETIMEDOUT;
}

void ampy_plat_broadcast(struct ampy_dev *d)
{
    (void)d;
}

enum amp_rproc_state ampy_rproc_state(struct ampy_dev *d)
{
    (void)d;
    return AMP_RPROC_RUNNING;
}

static int rec_nothing(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    (void)ept, (void)data, (void)len, (void)src, (void)priv;
    return AMP_RX_DONE;
}

/* The device, an endpoint e bound to the remote's r, and a message sent. */
static struct ampy_dev *bound_pair(struct ampy_ept *e, struct amp_ept *r)
{
    lb_setup(&lb, 64, (1u << AMP_RPMSG_F_NS) | (1u << AMP_VIRTIO_F_EVENT_IDX));
    race_ops = lb_ops;
    race_ops.lock = race_lock;
    race_ops.unlock = race_unlock;
    lb.host.port.ops = &race_ops; /* (the device keeps a copy of its port) */
    int err = 0;
    struct ampy_dev *d = ampy_dev_get(&err);
    CHECK(d != NULL);
    CHECK_EQ(ampy_ept_init(e, d, "race", AMP_ADDR_ANY, AMP_ADDR_ANY, false, NULL), 0);
    CHECK_EQ(lb_start(&lb), 0);
    CHECK_EQ(amp_ept_create(r, &lb.remote, "race", AMP_ADDR_ANY, AMP_ADDR_ANY, rec_nothing, NULL), 0);
    for (int i = 0; i < 4; i++) {
        amp_rpmsg_poll(&lb.host);
        amp_rpmsg_poll(&lb.remote);
    }
    CHECK(ampy_ept_ready(e));
    CHECK_EQ(ampy_send(e, AMP_ADDR_ANY, AMP_ADDR_ANY, "ok", 2, 0), 2);
    return d;
}

static void test_send_racing_a_deinit_is_ebadf(void)
{
    struct ampy_ept e;
    struct amp_ept r;
    bound_pair(&e, &r);
    int before = locks;
    deinit_on_lock = &e;
    int ret = ampy_send(&e, AMP_ADDR_ANY, AMP_ADDR_ANY, "late", 4, 0);
    CHECK(locks > before); /* the race was run */
    CHECK(!e.open);
    CHECK_EQ(ret, -EBADF); /* was -EINVAL, the library's word */
    /* and a send after the deinit says the same */
    CHECK_EQ(ampy_send(&e, AMP_ADDR_ANY, AMP_ADDR_ANY, "x", 1, 0), -EBADF);
    ampy_dev_close();
    lb_teardown(&lb);
}

/* The device's close (exit) overtakes a send: -ESHUTDOWN, as after it. */
static void test_send_racing_the_close_is_eshutdown(void)
{
    struct ampy_ept e;
    struct amp_ept r;
    bound_pair(&e, &r);
    int before = locks;
    close_on_lock = true;
    int ret = ampy_send(&e, AMP_ADDR_ANY, AMP_ADDR_ANY, "late", 4, 0);
    CHECK(locks > before);
    CHECK(ampy_dev_peek() == NULL);
    CHECK_EQ(ret, -ESHUTDOWN);
    CHECK_EQ(ampy_send(&e, AMP_ADDR_ANY, AMP_ADDR_ANY, "x", 1, 0), -ESHUTDOWN);
    CHECK_EQ(ampy_wait_readable(&e, 0), -ESHUTDOWN);
    lb_teardown(&lb);
}

AMP_TEST_MAIN(TEST(test_send_racing_a_deinit_is_ebadf), TEST(test_send_racing_the_close_is_eshutdown))
