/*
 * test_ampy_events.c - the binding core's event nodes as a one-context
 * microcontroller platform gives them (the STM32H7 build's settings:
 * AMPY_EVENTS 0, AMPY_ONE_CONTEXT): a fixed number of nodes from the
 * platform, an eighth of them at most for announcements, whose names wait
 * in a ring of their own and must come out with the right announcement
 * in queue order, across wrap-around and an endpoint's teardown.
 *
 * The platform here is a fake with a link of its own (struct ampy_link),
 * so messages and announcements are handed in directly.
 */
#define AMPY_EVENTS 0
#define AMPY_ONE_CONTEXT 1
#include "../bind/ampy.c"

#include "amp_test.h"

#define NODES 16u /* so 2 announcements at most */

static struct ampy_node nodes[NODES];
static char names[NODES / 8u][AMP_RPMSG_NAME_SIZE];
static int released;     /* buffers the link got back */
static uint8_t payload[NODES + 4][8];

static int fake_create(struct ampy_dev *d, struct ampy_ept *e, const char *name, uint32_t src,
                       uint32_t dest)
{
    (void)d;
    snprintf(e->ept.name, sizeof(e->ept.name), "%s", name ? name : "");
    e->ept.addr = src;
    e->ept.dest = dest;
    return 0;
}

static void fake_destroy(struct ampy_dev *d, struct ampy_ept *e)
{
    (void)d;
    (void)e;
}

static void fake_release(struct ampy_dev *d, void *data)
{
    (void)d;
    (void)data;
    released++;
}

static int room_calls; /* room_freed calls */

static void fake_room_freed(struct ampy_dev *d)
{
    (void)d;
    room_calls++;
}

static const struct ampy_link fake_link = {
    .ept_create = fake_create,
    .ept_destroy = fake_destroy,
    .release = fake_release,
    .max_payload = 8,
    .room_freed = fake_room_freed,
};

int ampy_plat_open(struct ampy_dev *d)
{
    d->link = &fake_link;
    ampy_set_events(d, nodes, NODES, names);
    return 0;
}

void ampy_plat_close(struct ampy_dev *d)
{
    (void)d;
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
    return AMP_RPROC_OFFLINE;
}

/* An announcement as a link hands it in: a whole name field. */
static void announce(struct ampy_dev *d, const char *name, uint32_t addr)
{
    char field[AMP_RPMSG_NAME_SIZE] = {0};
    snprintf(field, sizeof(field), "%s", name);
    ampy_link_ns(d, field, addr);
}

static struct ampy_dev *open_dev(void)
{
    int err = 0;
    ampy_dev_close();
    released = 0;
    struct ampy_dev *d = ampy_dev_get(&err);
    CHECK(d != NULL);
    return d;
}

/* Pop one event: its kind, and the announced name or the sender. */
static int pop(struct ampy_dev *d, char *name, uint32_t *src)
{
    struct ampy_ev ev;
    memset(&ev, 0x5A, sizeof(ev));
    if (!ampy_pop_event(d, &ev))
        return AMPY_EV_NONE;
    if (ev.kind == AMPY_EV_NS)
        snprintf(name, AMP_RPMSG_NAME_SIZE, "%s", ev.name);
    else
        ampy_release(d, &ev);
    *src = ev.src;
    return ev.kind;
}

static void test_sized_by_the_platform(void)
{
    struct ampy_dev *d = open_dev();
    CHECK_EQ(d->nev, NODES);
    CHECK_EQ(d->ns_max, NODES / 8u);
    CHECK(d->ev == nodes);
}

static void test_names_in_order_across_the_ring(void)
{
    struct ampy_dev *d = open_dev();
    char name[AMP_RPMSG_NAME_SIZE];
    uint32_t src = 0;
    ampy_set_ns(d, true);
    announce(d, "alpha", 101);
    announce(d, "beta", 102);
    announce(d, "gamma", 103); /* a third: over the eighth, dropped */
    CHECK_EQ(d->ns_queued, 2);
    CHECK_EQ(pop(d, name, &src), AMPY_EV_NS);
    CHECK(strcmp(name, "alpha") == 0);
    CHECK_EQ(src, 101);
    announce(d, "delta", 104); /* takes the ring's first slot again */
    CHECK_EQ(pop(d, name, &src), AMPY_EV_NS);
    CHECK(strcmp(name, "beta") == 0);
    CHECK_EQ(src, 102);
    announce(d, "epsilon", 105);
    CHECK_EQ(pop(d, name, &src), AMPY_EV_NS);
    CHECK(strcmp(name, "delta") == 0);
    CHECK_EQ(src, 104);
    CHECK_EQ(pop(d, name, &src), AMPY_EV_NS);
    CHECK(strcmp(name, "epsilon") == 0);
    CHECK_EQ(src, 105);
    CHECK_EQ(pop(d, name, &src), AMPY_EV_NONE);
    CHECK_EQ(d->ns_queued, 0);
}

static void test_every_node_holds_a_message(void)
{
    struct ampy_dev *d = open_dev();
    static struct ampy_ept e;
    uint32_t src = 0;
    char name[AMP_RPMSG_NAME_SIZE];
    CHECK_EQ(ampy_ept_init(&e, d, "cb", 1024, AMP_ADDR_ANY, true, NULL), 0);
    for (unsigned i = 0; i < NODES; i++)
        CHECK_EQ(ampy_link_rx(d, &e, payload[i], 4, 2000 + i), AMP_RX_HOLD);
    /* no node left: the link keeps (and frees) it, and it counts as lost */
    CHECK_EQ(ampy_link_rx(d, &e, payload[NODES], 4, 9999), AMP_RX_DONE);
    CHECK_EQ(d->lost, 1);
    for (unsigned i = 0; i < NODES; i++) {
        CHECK_EQ(pop(d, name, &src), AMPY_EV_MSG);
        CHECK_EQ(src, 2000 + i);
    }
    CHECK_EQ(pop(d, name, &src), AMPY_EV_NONE);
    CHECK_EQ(released, NODES);
    ampy_ept_deinit(&e);
}

/* An endpoint's teardown takes its messages out of the shared queue; the
 * announcements around them keep their order, so their names still
 * match. */
static void test_teardown_keeps_the_names_in_step(void)
{
    struct ampy_dev *d = open_dev();
    static struct ampy_ept e1, e2;
    char name[AMP_RPMSG_NAME_SIZE];
    uint32_t src = 0;
    ampy_set_ns(d, true);
    CHECK_EQ(ampy_ept_init(&e1, d, "one", 1024, AMP_ADDR_ANY, true, NULL), 0);
    CHECK_EQ(ampy_ept_init(&e2, d, "two", 1025, AMP_ADDR_ANY, true, NULL), 0);
    announce(d, "first", 1);
    CHECK_EQ(ampy_link_rx(d, &e1, payload[0], 4, 11), AMP_RX_HOLD);
    announce(d, "second", 2);
    CHECK_EQ(ampy_link_rx(d, &e2, payload[1], 4, 22), AMP_RX_HOLD);
    CHECK_EQ(ampy_link_rx(d, &e1, payload[2], 4, 33), AMP_RX_HOLD);
    ampy_ept_deinit(&e1); /* gives its two buffers back */
    CHECK_EQ(released, 2);
    CHECK_EQ(pop(d, name, &src), AMPY_EV_NS);
    CHECK(strcmp(name, "first") == 0);
    CHECK_EQ(pop(d, name, &src), AMPY_EV_NS);
    CHECK(strcmp(name, "second") == 0);
    CHECK_EQ(src, 2);
    CHECK_EQ(pop(d, name, &src), AMPY_EV_MSG);
    CHECK_EQ(src, 22);
    CHECK_EQ(pop(d, name, &src), AMPY_EV_NONE);
    CHECK_EQ(released, 3);
    ampy_ept_deinit(&e2);
}

/* Reads of an endpoint without a callback give each buffer back once it
 * is fully read (with one context, at once), a partly read one stays
 * held, and teardown gives back what is still queued. */
static void test_reads_give_buffers_back(void)
{
    struct ampy_dev *d = open_dev();
    static struct ampy_ept e;
    uint8_t buf[16];
    CHECK_EQ(ampy_ept_init(&e, d, "rd", 1024, AMP_ADDR_ANY, false, NULL), 0);
    for (unsigned i = 0; i < 4; i++) {
        memcpy(payload[i], "abcd", 4);
        payload[i][0] = (uint8_t)('0' + i);
        CHECK_EQ(ampy_link_rx(d, &e, payload[i], 4, 3000 + i), AMP_RX_HOLD);
    }
    CHECK_EQ(ampy_head_len(&e), 4);
    CHECK_EQ(ampy_read(&e, buf, 6, true), 6); /* one whole, two bytes of the next */
    CHECK(memcmp(buf, "0bcd1b", 6) == 0);
    CHECK_EQ(released, 1);
    CHECK_EQ(ampy_head_len(&e), 2);
    CHECK_EQ(ampy_read(&e, buf, sizeof(buf), false), 2); /* the rest of that one only */
    CHECK(memcmp(buf, "cd", 2) == 0);
    CHECK_EQ(released, 2);
    CHECK_EQ(ampy_read(&e, buf, 3, false), 3);
    CHECK_EQ(released, 2);
    ampy_ept_deinit(&e); /* the partly read one and the last */
    CHECK_EQ(released, 4);
    CHECK_EQ(ampy_head_len(&e), -EAGAIN);
}

/* Closing the device with events queued (a callback calling
 * openamp._shutdown()): its messages go back, its announcements are
 * dropped, and nothing is left pointing into the platform's nodes (on the
 * STM32H7 a GC heap block that is no longer rooted): a dispatch loop that
 * still holds d pops nothing, and writes nothing there. */
static void test_close_leaves_nothing_in_the_nodes(void)
{
    struct ampy_dev *d = open_dev();
    static struct ampy_ept e;
    char name[AMP_RPMSG_NAME_SIZE];
    uint32_t src = 0;
    ampy_set_ns(d, true);
    CHECK_EQ(ampy_ept_init(&e, d, "cb", 1024, AMP_ADDR_ANY, true, NULL), 0);
    announce(d, "first", 1);
    CHECK_EQ(ampy_link_rx(d, &e, payload[0], 4, 11), AMP_RX_HOLD);
    announce(d, "second", 2);
    CHECK_EQ(ampy_link_rx(d, &e, payload[1], 4, 22), AMP_RX_HOLD);
    CHECK_EQ(pop(d, name, &src), AMPY_EV_NS); /* the callback being run closes it */
    ampy_dev_close();
    CHECK_EQ(released, 2);
    CHECK(ampy_dev_peek() == NULL);
    CHECK_EQ(d->events.count, 0);
    CHECK_EQ(d->events.head, AMPY_NIL);
    CHECK_EQ(d->events.tail, AMPY_NIL);
    CHECK_EQ(d->free, AMPY_NIL);
    CHECK(d->ev == NULL);
    CHECK(d->ns_names == NULL);
    CHECK_EQ(d->ns_queued, 0);
    memset(nodes, 0xA5, sizeof(nodes)); /* the heap block, reused */
    memset(names, 0xA5, sizeof(names));
    uint8_t before[sizeof(nodes)];
    memcpy(before, nodes, sizeof(nodes));
    CHECK_EQ(pop(d, name, &src), AMPY_EV_NONE);
    CHECK(memcmp(before, nodes, sizeof(nodes)) == 0);
    announce(d, "late", 3); /* a link's late word: kept nowhere */
    CHECK_EQ(d->events.count, 0);
    CHECK(memcmp(before, nodes, sizeof(nodes)) == 0);
}

/* The link hears of every freed node, released or not: a taken
 * announcement and a message whose buffer the binding keeps (a kept
 * zero-copy slice) free their nodes with no release, and a link that
 * stopped reading while the core was full must read again. Each endpoint
 * counts the nodes its messages hold (ampy_link_room's cap, the kernel
 * backend's fair share), down again on a pop, a read and a teardown. */
static void test_a_freed_node_is_told_to_the_link(void)
{
    struct ampy_dev *d = open_dev();
    static struct ampy_ept e, r;
    struct ampy_ev ev;
    uint8_t buf[8];
    ampy_set_ns(d, true);
    CHECK_EQ(ampy_ept_init(&e, d, "cb", 1024, AMP_ADDR_ANY, true, NULL), 0);
    CHECK_EQ(ampy_ept_init(&r, d, "rd", 1025, AMP_ADDR_ANY, false, NULL), 0);
    for (unsigned i = 0; i < NODES - 2; i++)
        CHECK_EQ(ampy_link_rx(d, &e, payload[i], 4, 2000 + i), AMP_RX_HOLD);
    announce(d, "ns", 7);
    CHECK_EQ(ampy_link_rx(d, &r, payload[NODES - 1], 4, 3000), AMP_RX_HOLD);
    CHECK(!ampy_link_room(d, &r, NODES)); /* full */
    CHECK_EQ(e.nodes, NODES - 2);
    CHECK_EQ(r.nodes, 1);
    room_calls = 0;
    CHECK(ampy_pop_event(d, &ev)); /* a message, its buffer kept: no release */
    CHECK_EQ(ev.kind, AMPY_EV_MSG);
    CHECK_EQ(room_calls, 1);
    CHECK_EQ(released, 0);
    CHECK(ampy_link_room(d, &r, NODES));
    CHECK(ampy_link_room(d, &e, NODES - 2)); /* each endpoint's own count: e's is less now */
    CHECK(!ampy_link_room(d, &e, NODES - 3));
    CHECK(!ampy_link_room(d, &r, 1));
    CHECK_EQ(ampy_link_rx(d, &e, payload[NODES], 4, 2999), AMP_RX_HOLD);
    ampy_release(d, &ev);
    while (ampy_pop_event(d, &ev) && ev.kind == AMPY_EV_MSG) /* to the announcement */
        ampy_release(d, &ev);
    CHECK_EQ(ev.kind, AMPY_EV_NS);
    int before = room_calls;
    CHECK(ampy_read(&r, buf, sizeof(buf), false) == 4); /* a read frees one too */
    CHECK_EQ(room_calls, before + 1);
    CHECK_EQ(r.nodes, 0);
    CHECK_EQ(e.nodes, 1); /* the one queued after the announcement */
    CHECK_EQ(ampy_link_rx(d, &e, payload[0], 4, 1), AMP_RX_HOLD);
    before = room_calls;
    CHECK_EQ(e.nodes, 2);
    ampy_ept_deinit(&e); /* and a teardown */
    CHECK(room_calls > before);
    CHECK_EQ(e.nodes, 0);
    ampy_ept_deinit(&r);
}

int main(void)
{
    static const struct amp_test tests[] = {
        TEST(test_sized_by_the_platform),
        TEST(test_names_in_order_across_the_ring),
        TEST(test_every_node_holds_a_message),
        TEST(test_teardown_keeps_the_names_in_step),
        TEST(test_reads_give_buffers_back),
        TEST(test_close_leaves_nothing_in_the_nodes),
        TEST(test_a_freed_node_is_told_to_the_link),
    };
    int rc = amp_test_main(tests, sizeof(tests) / sizeof(tests[0]));
    ampy_dev_close();
    return rc;
}
