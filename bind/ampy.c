/*
 * ampy.c - the binding core shared by the CPython and MicroPython modules.
 *
 * Main invariant: every receive buffer the library handed us (AMP_RX_HOLD)
 * is referenced by exactly one queued event until the interpreter takes
 * it, and is given back exactly once: by ampy_release after delivery, by
 * ampy_read once fully read, or when its endpoint is deinitialised. A
 * link that goes down takes its buffers with it: every event carries the
 * link generation it arrived in, stale ones are dropped unread, and the
 * library refuses a stale release (amp_rpmsg_release_rx_gen), so a restart
 * can never have us free a newer message's buffer.
 */
#include <string.h>

#include "ampy.h"

static struct ampy_dev the_dev;
static bool the_dev_open;
static bool the_dev_forked; /* we are a fork() child of the device's process */
static bool the_dev_abandoned; /* given up at exit: ampy_dev_abandon */
char ampy_open_why[AMPY_OPEN_WHY_LEN];
#if AMPY_EVENTS /* unless the platform gives its own */
static struct ampy_node the_ev[AMPY_EVENTS];
static char the_ns_names[AMPY_EVENTS / 8u + 1u][AMP_RPMSG_NAME_SIZE];
#endif

/* Does d carry its endpoints over a link of the platform's own? */
#define LINK(d) (AMPY_LINKS && (d)->link)

/* The link generation: the amp library's, or 0 for a link whose payloads
 * outlive it (they are copies). In a receive callback, of its message. */
static uint32_t gen_now(struct ampy_dev *d, bool in_cb)
{
    return !d->rpmsg ? 0 : in_cb ? d->rpmsg->cb_gen : d->rpmsg->gen;
}

/* ==== Event nodes and queues (queue lock held) ==== */

/* Nodes were freed: tell a link that may be waiting for one (queue lock
 * not held). */
static void room_freed(struct ampy_dev *d)
{
    if (LINK(d) && d->link->room_freed)
        d->link->room_freed(d);
}

static uint16_t ev_alloc(struct ampy_dev *d)
{
    uint16_t i = d->free;
    if (i != AMPY_NIL) {
        d->free = d->ev[i].next;
        d->ev[i].next = AMPY_NIL;
    }
    return i;
}

static void ev_free(struct ampy_dev *d, uint16_t i)
{
#if AMPY_LINKS
    if (d->ev[i].kind == AMPY_EV_MSG) /* its endpoint is open: deinit frees its nodes */
        d->ev[i].ept->nodes--;
#endif
    d->ev[i].kind = AMPY_EV_NONE;
    d->ev[i].next = d->free;
    d->free = i;
}

void ampy_set_events(struct ampy_dev *d, struct ampy_node *ev, uint16_t n,
                     char (*names)[AMP_RPMSG_NAME_SIZE])
{
    d->ev = ev;
    d->nev = n;
    d->ns_max = names ? n / 8u : 0;
    d->ns_names = names;
    d->ns_head = 0;
    d->free = AMPY_NIL;
    while (n-- > 0) {
#if AMPY_LINKS
        ev[n].kind = AMPY_EV_NONE; /* ev_free looks at it: no message yet */
#endif
        ev_free(d, n);
    }
}

static void q_init(struct ampy_queue *q)
{
    q->head = q->tail = AMPY_NIL;
    q->count = 0;
}

static void q_push(struct ampy_dev *d, struct ampy_queue *q, uint16_t i)
{
    d->ev[i].next = AMPY_NIL;
    if (q->tail == AMPY_NIL)
        q->head = i;
    else
        d->ev[q->tail].next = i;
    q->tail = i;
    q->count++;
}

static uint16_t q_pop(struct ampy_dev *d, struct ampy_queue *q)
{
    uint16_t i = q->head;
    if (i != AMPY_NIL) {
        q->head = d->ev[i].next;
        if (q->head == AMPY_NIL)
            q->tail = AMPY_NIL;
        q->count--;
    }
    return i;
}

/* ==== The service context: the library's callbacks ==== */

static int on_rx(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    struct ampy_ept *e = (struct ampy_ept *)ept;
    struct ampy_dev *d = priv;
    int ret = AMP_RX_HOLD;
    ampy_plat_lock(d);
    uint16_t i = e->open ? ev_alloc(d) : AMPY_NIL;
    if (i == AMPY_NIL) {
        d->lost += e->open;
        ret = AMP_RX_DONE; /* nowhere to keep it: the library frees it */
    } else {
        struct ampy_node *ev = &d->ev[i];
        ev->kind = AMPY_EV_MSG;
        ev->ept = e;
        ev->data = data;
        ev->len = (uint32_t)len;
        ev->src = src;
        ev->gen = gen_now(d, true);
#if AMPY_LINKS
        e->nodes++;
#endif
        if (e->has_cb) {
            q_push(d, &d->events, i);
            if (d->wake)
                d->wake(d->wake_ctx);
        } else {
            q_push(d, &e->q, i);
            if (e->q.count == 1)
                ampy_plat_fd_set(e->fd, true);
        }
        ampy_plat_broadcast(d);
    }
    ampy_plat_unlock(d);
    return ret;
}

/* The link of a receive endpoint went down: its descriptor turns readable
 * until a recv reports the loss (queue lock held). */
static void flag_lost(struct ampy_ept *e)
{
    if (e->open && !e->has_cb && !e->lost) {
        e->lost = true;
        if (e->q.count == 0)
            ampy_plat_fd_set(e->fd, true);
    }
}

/* The peer destroyed the service or the link went down: a blocked
 * receiver must not wait for messages that cannot come. */
void ampy_link_down(struct ampy_dev *d, struct ampy_ept *e)
{
    ampy_plat_lock(d);
    e->resets++;
    flag_lost(e);
    ampy_plat_broadcast(d);
    ampy_plat_unlock(d);
}

static void on_unbind(struct amp_ept *ept)
{
    ampy_link_down(ept->priv, (struct ampy_ept *)ept);
}

static void on_ns(struct amp_rpmsg *dev, const char *name, uint32_t addr, void *priv)
{
    struct ampy_dev *d = priv;
    (void)dev;
    ampy_plat_lock(d);
    uint16_t i = AMPY_NIL;
    if (d->ns_wanted && d->ns_queued < d->ns_max)
        i = ev_alloc(d);
    if (i != AMPY_NIL) {
        struct ampy_node *ev = &d->ev[i];
        ev->kind = AMPY_EV_NS;
        ev->src = addr;
        memcpy(d->ns_names[(d->ns_head + d->ns_queued) % d->ns_max], name, AMP_RPMSG_NAME_SIZE);
        d->ns_queued++;
        q_push(d, &d->events, i);
        if (d->wake)
            d->wake(d->wake_ctx);
        ampy_plat_broadcast(d);
    }
    ampy_plat_unlock(d);
}

/* ==== Device ==== */

struct ampy_dev *ampy_dev_peek(void)
{
    return the_dev_open ? &the_dev : NULL;
}

struct ampy_dev *ampy_dev_get(int *err)
{
    if (the_dev_open)
        return &the_dev;
    if (the_dev_forked || the_dev_abandoned) {
        *err = the_dev_forked ? -EPERM : -ESHUTDOWN;
        return NULL;
    }
    struct ampy_dev *d = &the_dev;
    memset(d, 0, sizeof(*d));
#if AMPY_EVENTS
    ampy_set_events(d, the_ev, AMPY_EVENTS, the_ns_names);
#else
    d->free = AMPY_NIL;
#endif
    q_init(&d->events);
    ampy_open_why[0] = '\0';
    int e = ampy_plat_open(d);
    if (e) {
        *err = e;
        return NULL;
    }
    if (!LINK(d))
        amp_rpmsg_set_ns_cb(d->rpmsg, on_ns, d);
    the_dev_open = true;
    return d;
}

void ampy_set_wake(struct ampy_dev *d, void (*wake)(void *ctx), void *ctx)
{
    ampy_plat_lock(d);
    d->wake = wake;
    d->wake_ctx = ctx;
    ampy_plat_unlock(d);
}

void ampy_set_ns(struct ampy_dev *d, bool on)
{
    ampy_plat_lock(d);
    d->ns_wanted = on;
    ampy_plat_unlock(d);
    if (on && LINK(d) && d->link->ns_replay)
        d->link->ns_replay(d);
}

int ampy_wait_event(struct ampy_dev *d, int32_t timeout_ms)
{
    int err = 0;
    ampy_plat_lock(d);
    while (!d->closing && d->events.count == 0 && !err)
        err = ampy_plat_wait(d, timeout_ms);
    if (d->closing)
        err = -ESHUTDOWN;
    ampy_plat_unlock(d);
    return err;
}

/* Is this message from a link that has gone down since? (A racy read of
 * gen only delays the verdict: ampy_release is exact.) */
static bool stale(struct ampy_dev *d, const struct ampy_node *ev)
{
    return ev->kind == AMPY_EV_MSG && ev->gen != gen_now(d, false);
}

bool ampy_pop_event(struct ampy_dev *d, struct ampy_ev *ev)
{
    uint16_t i;
    bool freed = false;
    ampy_plat_lock(d);
    while ((i = q_pop(d, &d->events)) != AMPY_NIL) {
        const struct ampy_node *n = &d->ev[i];
        bool old = stale(d, n);
        ev->next = AMPY_NIL;
        ev->kind = n->kind;
        ev->ept = n->ept;
        ev->data = n->data;
        ev->len = n->len;
        ev->src = n->src;
        ev->gen = n->gen;
        if (n->kind == AMPY_EV_NS) { /* announcements leave in queue order: the ring's head */
            memcpy(ev->name, d->ns_names[d->ns_head], sizeof(ev->name));
            d->ns_head = (uint16_t)((d->ns_head + 1u) % d->ns_max);
            d->ns_queued--;
        }
        ev_free(d, i);
        freed = true;
        if (!old)
            break;
        d->lost++;
    }
    ampy_plat_unlock(d);
    if (freed)
        room_freed(d);
    return i != AMPY_NIL;
}

static void give_back(struct ampy_dev *d, void *data, uint32_t gen)
{
    if (LINK(d))
        d->link->release(d, data);
    else
        amp_rpmsg_release_rx_gen(d->rpmsg, data, gen);
}

void ampy_release(struct ampy_dev *d, const struct ampy_ev *ev)
{
    give_back(d, ev->data, ev->gen);
}

/* ==== Links other than the amp library's ==== */

int ampy_link_rx(struct ampy_dev *d, struct ampy_ept *e, void *data, size_t len, uint32_t src)
{
    return on_rx(&e->ept, data, len, src, d);
}

#if AMPY_LINKS
bool ampy_link_room(struct ampy_dev *d, const struct ampy_ept *e, uint16_t cap)
{
    ampy_plat_lock(d);
    bool room = d->free != AMPY_NIL && e->nodes < cap;
    ampy_plat_unlock(d);
    return room;
}
#endif

void ampy_link_ns(struct ampy_dev *d, const char *name, uint32_t addr)
{
    on_ns(NULL, name, addr, d);
}

uint32_t ampy_max_payload(struct ampy_dev *d)
{
    return LINK(d) ? d->link->max_payload : amp_rpmsg_max_payload(d->rpmsg);
}

void ampy_get_stats(struct ampy_dev *d, struct amp_rpmsg_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!LINK(d))
        amp_rpmsg_get_stats(d->rpmsg, st);
    else if (d->link->stats)
        d->link->stats(d, st);
}

void ampy_dev_forked(void)
{
    /* Only this thread exists now, and the queue lock may have been held
     * by one that does not: touch nothing shared, take no lock. Every
     * endpoint reads as deinitialised, the device as absent; the shared
     * memory stays mapped (a kept memoryview must not fault) but unused. */
    the_dev_forked = true;
    if (!the_dev_open)
        return;
    for (struct ampy_ept *e = the_dev.epts; e; e = e->next)
        e->open = false;
    the_dev_open = false;
}

/* The first half of a close: wake every waiter for good and take every
 * endpoint down. */
static void dev_quit(struct ampy_dev *d)
{
    ampy_plat_lock(d);
    d->closing = true;
    ampy_plat_broadcast(d);
    ampy_plat_unlock(d);
    while (d->epts) {
        ampy_plat_lock(d);
        d->epts->shut = true; /* before it goes: a call that meets its deinit says so */
        ampy_plat_unlock(d);
        ampy_ept_deinit(d->epts);
    }
}

void ampy_dev_abandon(void)
{
    if (!the_dev_open)
        return;
    dev_quit(&the_dev);
    the_dev_abandoned = true;
    the_dev_open = false;
}

void ampy_dev_close(void)
{
    if (!the_dev_open)
        return;
    struct ampy_dev *d = &the_dev;
    dev_quit(d);
    ampy_plat_close(d);
    /* What is still queued (announcements: every message went with its
     * endpoint) is dropped, and nothing points into the nodes any more:
     * a platform's may have gone with it (a GC heap block). A caller that
     * kept d from before finds empty queues. */
    q_init(&d->events);
    d->ns_queued = 0;
    d->ns_head = 0;
    d->ns_max = 0;
    d->ns_names = NULL;
    d->ev = NULL;
    d->nev = 0;
    d->free = AMPY_NIL;
    the_dev_open = false;
}

/* ==== Endpoints ==== */

int ampy_ept_init(struct ampy_ept *e, struct ampy_dev *d, const char *name, uint32_t src,
                  uint32_t dest, bool has_cb, void *obj)
{
    memset(e, 0, sizeof(*e));
    e->obj = obj;
    e->has_cb = has_cb;
    q_init(&e->q);
    e->fd = ampy_plat_fd_open();
    e->lost_gen = d->rpmsg ? __atomic_load_n(&d->rpmsg->gen, __ATOMIC_ACQUIRE) : 0;
    int err = LINK(d) ? d->link->ept_create(d, e, name, src, dest)
                      : amp_ept_create(&e->ept, d->rpmsg, name, src, dest, on_rx, d);
    if (!LINK(d))
        amp_ept_set_unbind_cb(&e->ept, on_unbind);
    if (err) {
        ampy_plat_fd_close(e->fd);
        e->fd = -1;
        return err;
    }
    ampy_plat_lock(d);
    e->open = true;
    e->next = d->epts;
    d->epts = e;
    ampy_plat_unlock(d);
    return 0;
}

#if AMPY_ONE_CONTEXT
/* Give back every message of e in queue q and keep the rest, in order. */
static void drop_msgs(struct ampy_dev *d, struct ampy_queue *q, const struct ampy_ept *e)
{
    struct ampy_queue keep;
    uint16_t i;
    q_init(&keep);
    while ((i = q_pop(d, q)) != AMPY_NIL) {
        if (d->ev[i].kind == AMPY_EV_MSG && d->ev[i].ept == e) {
            give_back(d, d->ev[i].data, d->ev[i].gen);
            ev_free(d, i);
        } else {
            q_push(d, &keep, i);
        }
    }
    *q = keep;
}
#endif

void ampy_ept_deinit(struct ampy_ept *e)
{
    struct ampy_dev *d = ampy_dev_peek();
    if (!e->open || !d)
        return;
    if (LINK(d)) {
        d->link->ept_destroy(d, e); /* no new messages, none half-delivered */
    } else {
        amp_ept_destroy(&e->ept); /* no new messages from here on ... */
        amp_rpmsg_quiesce(d->rpmsg, &e->ept); /* ... and none half-delivered */
    }

    /* unlink, and collect its queued buffers to give back unlocked */
    ampy_plat_lock(d);
    e->open = false;
    for (struct ampy_ept **pp = &d->epts; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    ampy_plat_broadcast(d); /* a reader sleeping on it returns -EBADF */
    ampy_plat_unlock(d);
#if AMPY_ONE_CONTEXT
    /* nothing else runs: each buffer goes back as it is found; its own
     * queue holds only its messages */
    drop_msgs(d, &e->q, e);
    drop_msgs(d, &d->events, e); /* and its messages still waiting for a callback */
#else
    struct ampy_node back[16]; /* a batch, on the stack */
    bool more = true;
    while (more) {
        size_t n = 0;
        ampy_plat_lock(d);
        uint16_t i;
        while (n < 16 && (i = q_pop(d, &e->q)) != AMPY_NIL) {
            back[n++] = d->ev[i];
            ev_free(d, i);
        }
        /* and its messages still waiting for a callback */
        struct ampy_queue keep;
        q_init(&keep);
        while (n < 16 && (i = q_pop(d, &d->events)) != AMPY_NIL) {
            if (d->ev[i].kind == AMPY_EV_MSG && d->ev[i].ept == e) {
                back[n++] = d->ev[i];
                ev_free(d, i);
            } else {
                q_push(d, &keep, i);
            }
        }
        while ((i = q_pop(d, &d->events)) != AMPY_NIL)
            q_push(d, &keep, i);
        d->events = keep;
        more = n == 16;
        ampy_plat_unlock(d);
        for (size_t k = 0; k < n; k++)
            give_back(d, back[k].data, back[k].gen);
    }
#endif
    room_freed(d);
    ampy_plat_fd_close(e->fd);
    e->fd = -1;
}

bool ampy_ept_ready(struct ampy_ept *e)
{
    struct ampy_dev *d = ampy_dev_peek();
    if (d && LINK(d))
        return e->open && d->link->ept_ready(d, e);
    return e->open && amp_ept_is_ready(&e->ept);
}

int ampy_send(struct ampy_ept *e, uint32_t src, uint32_t dst, const void *data, size_t len,
              int32_t timeout_ms)
{
    struct ampy_dev *d = ampy_dev_peek();
    if (!e->open || !d)
        return ampy_gone(e);
    int ret = LINK(d) ? d->link->send(d, e, src, dst, data, len, timeout_ms)
                      : amp_ept_sendto(&e->ept, src, dst, data, len, timeout_ms);
    /* A deinit on another thread may have overtaken the send (the
     * library's one -EINVAL here, data never being NULL: the endpoint went
     * before its lock), or a close (its link went down meanwhile): the
     * send says what one after it says, whichever side of it it landed.
     * (With one context nothing runs meanwhile.) */
    if (!AMPY_ONE_CONTEXT && ret < 0 && (!e->open || e->shut || (ret == -EINVAL && !LINK(d))))
        ret = ampy_gone(e);
    if (ret == -ENOTCONN && ampy_rproc_state(d) == AMP_RPROC_CRASHED)
        ret = -ECONNRESET;
    return ret;
}

void ampy_mark(struct ampy_ept *e, struct ampy_mark *m)
{
    struct ampy_dev *d = ampy_dev_peek();
    m->gen = d && d->rpmsg ? __atomic_load_n(&d->rpmsg->gen, __ATOMIC_ACQUIRE) : 0;
    m->resets = __atomic_load_n(&e->resets, __ATOMIC_ACQUIRE);
}

/* Has the link gone down since the mark? (Queue lock held.) A racy read
 * of the link's state only delays the verdict to the next wake-up. */
static bool link_lost(struct ampy_dev *d, struct ampy_ept *e, const struct ampy_mark *m)
{
    struct amp_rpmsg *r = d->rpmsg; /* NULL on a link of the platform's own */
    return e->resets != m->resets ||
           (r && __atomic_load_n(&r->gen, __ATOMIC_ACQUIRE) != m->gen &&
            __atomic_load_n(&r->state, __ATOMIC_ACQUIRE) != AMP_LINK_UP);
}

void ampy_wake_all(struct ampy_dev *d)
{
    ampy_plat_lock(d);
    /* only a link that went down since the endpoint last looked: a stop
     * or a shutdown of a remote that never came up takes nothing away */
    struct amp_rpmsg *r = d->rpmsg;
    uint32_t gen = r ? __atomic_load_n(&r->gen, __ATOMIC_ACQUIRE) : 0;
    bool down = r && __atomic_load_n(&r->state, __ATOMIC_ACQUIRE) != AMP_LINK_UP;
    for (struct ampy_ept *e = d->epts; e; e = e->next) {
        if (down && e->lost_gen != gen)
            flag_lost(e);
        e->lost_gen = gen;
    }
    ampy_plat_broadcast(d);
    ampy_plat_unlock(d);
}

int ampy_take_lost(struct ampy_ept *e)
{
    struct ampy_dev *d = ampy_dev_peek();
    if (!d)
        return 0;
    bool back = ampy_ept_ready(e); /* (before the queue lock: a link's op may lock) */
    ampy_plat_lock(d);
    bool lost = e->lost && e->q.count == 0;
    if (lost) {
        e->lost = false;
        ampy_plat_fd_set(e->fd, false);
    }
    ampy_plat_unlock(d);
    return lost && !back ? -ECONNRESET : 0;
}

int ampy_wait_readable(struct ampy_ept *e, int32_t timeout_ms)
{
    struct ampy_mark m;
    ampy_mark(e, &m);
    return ampy_wait_readable_since(e, timeout_ms, &m);
}

int ampy_wait_readable_since(struct ampy_ept *e, int32_t timeout_ms, const struct ampy_mark *m)
{
    struct ampy_dev *d = ampy_dev_peek();
    if (!d)
        return ampy_gone(e);
    int err = 0;
    bool woken = false;
    ampy_plat_lock(d);
    while (e->open && !d->closing && e->q.count == 0 && !err) {
        if (link_lost(d, e, m))
            err = -ECONNRESET;
        else if (timeout_ms == 0)
            err = -EAGAIN;
        else if (woken) /* for another endpoint: waiting again would restart the timeout */
            err = -ETIMEDOUT;
        else {
            err = ampy_plat_wait(d, timeout_ms);
            woken = true;
        }
    }
    if (!e->open || d->closing)
        err = e->open ? -ESHUTDOWN : ampy_gone(e);
    else if (e->q.count)
        err = 0;
    ampy_plat_unlock(d);
    return err;
}

int ampy_head_len(struct ampy_ept *e)
{
    struct ampy_dev *d = ampy_dev_peek();
    if (!d)
        return -EBADF;
    bool freed = false;
    ampy_plat_lock(d);
    while (e->q.head != AMPY_NIL && stale(d, &d->ev[e->q.head])) {
        e->q_off = 0;
        ev_free(d, q_pop(d, &e->q));
        d->lost++;
        freed = true;
    }
    int n = e->q.head == AMPY_NIL ? -EAGAIN : (int)(d->ev[e->q.head].len - e->q_off);
    if (e->q.count == 0 && !e->lost)
        ampy_plat_fd_set(e->fd, false);
    ampy_plat_unlock(d);
    if (freed)
        room_freed(d);
    return n;
}

size_t ampy_read(struct ampy_ept *e, void *buf, size_t n, bool span)
{
    struct ampy_dev *d = ampy_dev_peek();
    size_t got = 0;
#if !AMPY_ONE_CONTEXT /* (with one context each goes back at once) */
    struct ampy_node back[16]; /* given back once unlocked */
#endif
    size_t nback = 0;
    bool freed = false;
    if (!d)
        return 0;
    ampy_plat_lock(d);
    while (e->q.head != AMPY_NIL && nback < 16) {
        struct ampy_node *ev = &d->ev[e->q.head];
        if (stale(d, ev)) { /* its link is gone: drop it unread */
            e->q_off = 0;
            ev_free(d, q_pop(d, &e->q));
            d->lost++;
            freed = true;
            continue;
        }
        size_t k = ev->len - e->q_off;
        if (k > n - got)
            k = n - got;
        memcpy((uint8_t *)buf + got, (uint8_t *)ev->data + e->q_off, k);
        got += k;
        e->q_off += (uint32_t)k;
        if (e->q_off < ev->len)
            break; /* the caller's buffer is full */
#if AMPY_ONE_CONTEXT
        give_back(d, ev->data, ev->gen);
#else
        back[nback++] = *ev;
#endif
        e->q_off = 0;
        ev_free(d, q_pop(d, &e->q));
        freed = true;
        if (!span || got == n)
            break;
    }
    if (e->q.count == 0 && !e->lost)
        ampy_plat_fd_set(e->fd, false);
    ampy_plat_unlock(d);
#if !AMPY_ONE_CONTEXT
    for (size_t k = 0; k < nback; k++)
        give_back(d, back[k].data, back[k].gen);
#endif
    if (freed)
        room_freed(d);
    return got;
}

#if AMPY_REASONS
/* A table, not a switch: the switch's jump table spans the errno
 * numbers (512 bytes on a Cortex-M). */
static const struct {
    int err;
    const char *why;
} why_table[] = {
    {ENOTCONN, "endpoint not ready: the remote has not announced it yet"},
    {ETIMEDOUT, "timed out waiting for a free buffer"},
    {EAGAIN, "no buffer free (timeout=0)"},
    {EMSGSIZE, "message larger than one buffer"},
    {ECONNRESET, "the remote crashed or was stopped"},
    {EIO, "the remote broke the shared rings"},
    {EBADF, "endpoint was deinitialised"},
    {EADDRINUSE, "source address already in use"},
    {EINVAL, "invalid argument"},
    {ENOENT, "firmware file not found"},
    {ENOEXEC, "not a valid firmware image"},
    {EBUSY, "the remote is running"},
    {ESHUTDOWN, "the device was shut down (at exit)"},
    {ENOMEM, "out of memory"},
#if defined(__linux__) /* the Linux platforms' words */
    {EPERM, "the device belongs to the parent process: a fork() child cannot use it"},
    {EACCES, "permission denied (see the README, \"Linux SoCs\", for a udev rule)"},
    {ENODEV, "no such remote processor"},
#endif
};

const char *ampy_strerror(int err)
{
    for (size_t i = 0; i < sizeof(why_table) / sizeof(why_table[0]); i++)
        if (why_table[i].err == -err)
            return why_table[i].why;
    return "error";
}
#else
const char *ampy_strerror(int err)
{
    (void)err;
    return NULL;
}
#endif
