/*
 * ampy.h - what the CPython and MicroPython `openamp` modules share: the
 * lazily created default device, endpoint receive queues, and the queue of
 * events (messages for callbacks, announcements) the interpreter delivers.
 *
 * Messages arrive on a service context that must not run Python (a thread
 * on Linux, an interrupt on a microcontroller). There they are queued with
 * their shared buffer held (zero-copy), and the interpreter later either
 * delivers them to the endpoint's callback (ampy_wait_event/ampy_pop_event)
 * or hands them out through ampy_recv. Each delivered buffer goes back to
 * the remote with ampy_release. Nothing here knows about Python objects:
 * `obj` is the binding's pointer, carried along.
 *
 * Locking: one mutex (the platform's) guards the queues; the binding calls
 * everything with its interpreter lock held except the two blocking waits
 * (ampy_wait_event, ampy_wait_readable), which it calls with it released.
 *
 * Errors are negative errno values; ampy_strerror() words them.
 */
#ifndef AMPY_H
#define AMPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amp/amp.h"

/* Event nodes: queued messages and announcements at most. A platform
 * sizes its own from its rings (ampy_set_events); else the device has
 * AMPY_EVENTS static ones (0: none, the platform gives them). An eighth
 * of them at most hold announcements, which may not crowd out messages. */
#ifndef AMPY_EVENTS
#define AMPY_EVENTS 600u
#endif

/* Room for ampy_open_why (a platform with fixed settings needs 1). */
#ifndef AMPY_OPEN_WHY_LEN
#define AMPY_OPEN_WHY_LEN 160u
#endif

/* Links other than the amp library's (struct ampy_link, below): only a
 * platform that has one (Linux's kernel backend) needs their code. */
#ifndef AMPY_LINKS
#define AMPY_LINKS 1
#endif

enum ampy_ev_kind { AMPY_EV_NONE = 0, AMPY_EV_MSG, AMPY_EV_NS };

struct ampy_ept;

/* An event as the queues keep it (24 bytes on a 32-bit core): an
 * announcement's name waits apart, in the device's ring of names. */
struct ampy_node {
    uint16_t next;          /* queue link */
    uint8_t kind;           /* enum ampy_ev_kind */
    struct ampy_ept *ept;   /* MSG: its endpoint */
    void *data;             /* MSG: payload, in shared memory, held */
    uint32_t len;           /* MSG: payload bytes */
    uint32_t src;           /* MSG: sender; NS: announced address */
    uint32_t gen;           /* MSG: link generation it arrived in */
};

/* An event as ampy_pop_event hands it out. */
struct ampy_ev {
    uint16_t next;          /* (unused) */
    uint8_t kind;           /* enum ampy_ev_kind */
    struct ampy_ept *ept;   /* MSG: its endpoint */
    void *data;             /* MSG: payload, in shared memory, held */
    uint32_t len;           /* MSG: payload bytes */
    uint32_t src;           /* MSG: sender; NS: announced address */
    uint32_t gen;           /* MSG: link generation it arrived in */
    char name[AMP_RPMSG_NAME_SIZE]; /* NS: announced name */
};

struct ampy_queue {
    uint16_t head, tail; /* AMPY_NIL when empty */
    uint32_t count;
};

struct ampy_ept {
    struct amp_ept ept;     /* first: the core's endpoint */
    void *obj;              /* the binding's object */
    bool has_cb;            /* messages go to the event queue, not q */
    bool open;              /* false after ampy_ept_deinit */
    bool shut;              /* ... made by the device's close (ampy_gone) */
    struct ampy_queue q;    /* messages for recv/read */
    uint32_t q_off;         /* bytes of q's head message already read */
    int fd;                 /* readable while q is not empty or lost; < 0: none (ampy_plat_fd_open) */
    uint32_t resets;        /* unbinds seen (link down, service destroyed) */
    bool lost;              /* the link went down and no recv has said so yet (ampy_take_lost) */
    uint32_t lost_gen;      /* the link generation ampy_wake_all last looked at */
#if AMPY_LINKS
    uint16_t nodes;         /* event nodes holding its messages (a link's fair share) */
#endif
    struct ampy_ept *next;  /* all open endpoints */
};

struct ampy_link;

struct ampy_dev {
    struct amp_rpmsg *rpmsg; /* set by the platform (NULL when link is set) */
    const struct ampy_link *link; /* set by the platform: NULL = the amp library (rpmsg) */
    void *plat;              /* the platform's state */
    struct ampy_node *ev;    /* the event nodes: nev of them */
    uint16_t nev;
    uint16_t free;           /* free list of ev[] */
    uint16_t ns_max;         /* announcements queued at most: nev / 8 */
    uint16_t ns_head;        /* the oldest queued announcement's name */
    char (*ns_names)[AMP_RPMSG_NAME_SIZE]; /* ns_max names, a ring in queue order */
    struct ampy_queue events; /* for the interpreter: callback messages, announcements */
    uint32_t ns_queued;
    bool ns_wanted;          /* the program set a new-service callback */
    bool closing;
    struct ampy_ept *epts;
    uint32_t lost;           /* events dropped: queue full */
    void (*wake)(void *ctx); /* the binding: an event was queued */
    void *wake_ctx;
};

#define AMPY_NIL 0xFFFFu

/* ==== Links: where endpoints live ====
 *
 * By default endpoints are the amp library's, on d->rpmsg. A platform can
 * carry them over something else (Linux's rpmsg char devices): it sets
 * d->link in ampy_plat_open, and the core calls these instead. Its service
 * context hands messages in with ampy_link_rx and announcements with
 * ampy_link_ns (with none of the core's locks held). A NULL op: -ENOTSUP. */
struct ampy_link {
    /* Create e->ept's counterpart: fill e->ept.name/addr/dest. 0 or -errno. */
    int (*ept_create)(struct ampy_dev *d, struct ampy_ept *e, const char *name, uint32_t src,
                      uint32_t dest);
    /* Destroy it; on return no ampy_link_rx for e runs or will run. */
    void (*ept_destroy)(struct ampy_dev *d, struct ampy_ept *e);
    bool (*ept_ready)(struct ampy_dev *d, struct ampy_ept *e);
    /* As ampy_send; may sleep up to timeout_ms for room. */
    int (*send)(struct ampy_dev *d, struct ampy_ept *e, uint32_t src, uint32_t dst, const void *data,
                size_t len, int32_t timeout_ms);
    /* A payload ampy_link_rx was told to keep is no longer needed. */
    void (*release)(struct ampy_dev *d, void *data);
    uint32_t max_payload;
    /* The program now wants announcements: report channels already there. */
    void (*ns_replay)(struct ampy_dev *d);
    void (*stats)(struct ampy_dev *d, struct amp_rpmsg_stats *st);
    /* Event nodes were freed (a pop, a read, a deinit; with no core lock
     * held): a link that stopped reading for want of one reads again. Not
     * tied to release: a node is freed when its event is taken, and some
     * are taken with no release (announcements, kept zero-copy slices). */
    void (*room_freed)(struct ampy_dev *d);
};

/* A message for e from the link's service context: AMP_RX_HOLD (the core
 * keeps data until link->release) or AMP_RX_DONE (the link frees it). */
int ampy_link_rx(struct ampy_dev *d, struct ampy_ept *e, void *data, size_t len, uint32_t src);

/* Would ampy_link_rx find an event node for a message for e now, with e
 * holding fewer than cap? Only the link takes nodes (ampy_link_rx,
 * ampy_link_ns): a link that asks before each read, under a lock of its
 * own that every ampy_link_rx/ampy_link_ns call holds too, never reads
 * what it cannot keep. When the answer is no, its room_freed op is called
 * once a node is free again (any node: e's, or the pool's). */
bool ampy_link_room(struct ampy_dev *d, const struct ampy_ept *e, uint16_t cap);

/* e's channel went away (the remote destroyed it, stopped or crashed):
 * its waiters learn of it as from a library link that went down (a
 * blocked recv ends with -ECONNRESET, the descriptor turns readable). */
void ampy_link_down(struct ampy_dev *d, struct ampy_ept *e);

/* A channel the remote announced, from the link's service context; name
 * is a whole AMP_RPMSG_NAME_SIZE field, NUL-terminated within it. */
void ampy_link_ns(struct ampy_dev *d, const char *name, uint32_t addr);

/* The largest message one send takes. */
uint32_t ampy_max_payload(struct ampy_dev *d);

/* The device's counters (the link's, or the amp library's). */
void ampy_get_stats(struct ampy_dev *d, struct amp_rpmsg_stats *st);

/* ==== Device ==== */

/* The default device, created at first use (the platform's memory map and
 * service context are set up then). NULL with *err set on failure, and
 * ampy_open_why says why in words if the errno does not (a platform's
 * ampy_plat_open fills it, e.g. naming a bad setting), else "". */
struct ampy_dev *ampy_dev_get(int *err);
extern char ampy_open_why[AMPY_OPEN_WHY_LEN];

/* Give the device n (< 0xFFFF) event nodes at ev and n / 8 names at
 * names, instead of the static AMPY_EVENTS: from ampy_plat_open, before
 * anything can arrive. */
void ampy_set_events(struct ampy_dev *d, struct ampy_node *ev, uint16_t n,
                     char (*names)[AMP_RPMSG_NAME_SIZE]);

/* The device if it exists, else NULL (no side effects). */
struct ampy_dev *ampy_dev_peek(void);

/* Tell the binding when an event is queued (called with the queue lock
 * held, from the service context: only signal something). */
void ampy_set_wake(struct ampy_dev *d, void (*wake)(void *ctx), void *ctx);

/* Queue announcements for the program's new-service callback (on) or
 * ignore them (off; an endpoint made later still binds by name). */
void ampy_set_ns(struct ampy_dev *d, bool on);

/* Sleep until an event is queued (or timeout_ms passes, or the device is
 * closing): 0, -ETIMEDOUT, -ESHUTDOWN. Call without the interpreter lock. */
int ampy_wait_event(struct ampy_dev *d, int32_t timeout_ms);

/* Take the next event, if any (copied to *ev). For AMPY_EV_MSG the payload
 * stays valid until ampy_release(d, ev). Messages from a link that has
 * gone down since are dropped, not returned. */
bool ampy_pop_event(struct ampy_dev *d, struct ampy_ev *ev);

/* Give a delivered message's buffer back to the remote (a no-op if the
 * link went down meanwhile: the buffer went with it). */
void ampy_release(struct ampy_dev *d, const struct ampy_ev *ev);

/* The process forked and we are the child: the device, its remote and its
 * endpoints stay the parent's. Makes them inert here without touching
 * them: endpoints read as deinitialised (-EBADF), ampy_dev_peek() is NULL,
 * ampy_dev_get() fails with -EPERM, closing does nothing. Call it from
 * the platform's fork hook, in the child. */
void ampy_dev_forked(void);

/* Shut the device down (the remote, the service context, everything).
 * Queued events are dropped and the device's queues are left empty, with
 * no pointer into the event nodes the platform gave: a caller still
 * holding the device (a dispatch loop whose callback closed it) pops
 * nothing, but should look again with ampy_dev_peek(). */
void ampy_dev_close(void);

/* Give the device up without closing it: a thread that may never come
 * back (a callback blocked for ever at exit) could still be inside it, so
 * nothing is freed and no thread joined. Every endpoint is deinitialised
 * (the link delivers nothing more to memory the binding may free), the
 * device reads as absent (ampy_dev_peek() is NULL) and cannot be made
 * again (ampy_dev_get fails with -ESHUTDOWN). The platform stops the
 * remote first if it can (ampy_linux_abandon). */
void ampy_dev_abandon(void);

/* ==== Endpoints ==== */

/* Create an endpoint: name (NULL or "" anonymous), src and dest as in
 * amp_ept_create; has_cb picks the event queue (a callback) or the
 * endpoint's own queue (recv). 0 or -errno. */
int ampy_ept_init(struct ampy_ept *e, struct ampy_dev *d, const char *name, uint32_t src,
                  uint32_t dest, bool has_cb, void *obj);

/* Destroy: tell the remote, drop queued messages. Harmless twice. */
void ampy_ept_deinit(struct ampy_ept *e);

bool ampy_ept_ready(struct ampy_ept *e);

/* Why a call on a deinitialised endpoint fails: -EBADF, or -ESHUTDOWN if
 * the device's close (exit, _shutdown) took it down. */
static inline int ampy_gone(const struct ampy_ept *e)
{
    return e->shut ? -ESHUTDOWN : -EBADF;
}

/* Send (copying). src/dst AMP_ADDR_ANY: the endpoint's own. Returns len or
 * -errno; a send on an unbound endpoint of a crashed remote is -ECONNRESET,
 * and one on an endpoint deinitialised (before or during the call, by
 * another thread) ampy_gone(e). */
int ampy_send(struct ampy_ept *e, uint32_t src, uint32_t dst, const void *data, size_t len,
              int32_t timeout_ms);

/* Where a wait for a message began: a link that goes down after it (a
 * crash, stop() or shutdown(), the peer destroying the service) ends the
 * wait with -ECONNRESET, however many slices the binding cuts it into. */
struct ampy_mark {
    uint32_t gen;    /* the link's generation */
    uint32_t resets; /* the endpoint's unbinds */
};
void ampy_mark(struct ampy_ept *e, struct ampy_mark *m);

/* Sleep until the endpoint has a message queued: 0, -ETIMEDOUT, -EAGAIN
 * (timeout 0), ampy_gone(e) (deinitialised meanwhile), -ESHUTDOWN (the
 * device is closing), -ECONNRESET
 * (the link went down since the mark, nothing queued). -ETIMEDOUT also
 * comes early, after one wake-up that was for something else: the caller
 * keeps the clock and waits again with the time left (the bindings' slices
 * do). Call without the interpreter lock. ampy_wait_readable marks on
 * entry. */
int ampy_wait_readable_since(struct ampy_ept *e, int32_t timeout_ms, const struct ampy_mark *m);
int ampy_wait_readable(struct ampy_ept *e, int32_t timeout_ms);

/* The remote stopped or died: wake every waiter to look again, and make
 * every receive endpoint's descriptor readable (its loss is news for a
 * select/poll/asyncio user too, who has no mark: ampy_take_lost). */
void ampy_wake_all(struct ampy_dev *d);

/* For a receive that found nothing queued without waiting (timeout 0: a
 * probe after the descriptor turned readable): -ECONNRESET once after the
 * link went down, else 0. Either way the loss is then reported, and the
 * descriptor quiet until a message comes. A loss the link has recovered
 * from meanwhile (the endpoint is ready again) is no longer news: 0. */
int ampy_take_lost(struct ampy_ept *e);

/* Bytes left in the first queued message (0 for an empty message), or
 * -EAGAIN if nothing is queued. */
int ampy_head_len(struct ampy_ept *e);

/* Copy up to n bytes from the queue without waiting: from the first
 * message only (span false), or across every queued one (span true).
 * Fully read messages go back to the remote. Returns bytes copied. */
size_t ampy_read(struct ampy_ept *e, void *buf, size_t n, bool span);

/* ==== Remote processor (implemented by the platform) ==== */

int ampy_rproc_load(struct ampy_dev *d, const char *path);
int ampy_rproc_attach(struct ampy_dev *d, uint64_t entry);
int ampy_rproc_start(struct ampy_dev *d);
int ampy_rproc_stop(struct ampy_dev *d);
int ampy_rproc_shutdown(struct ampy_dev *d);
enum amp_rproc_state ampy_rproc_state(struct ampy_dev *d);
/* The state as the platform names it (Linux's remoteproc has more states
 * than enum amp_rproc_state: "suspended", "detached", ...). */
const char *ampy_rproc_state_name(struct ampy_dev *d);
/* Pick the processor later calls act on: by name (NULL: any) or index
 * (-1: any); the default is the only one, or the first. 0 or -ENODEV. */
int ampy_rproc_select(struct ampy_dev *d, const char *name, int index);
/* Copy trace buffer i: bytes copied, or -ENOENT. */
int ampy_rproc_trace(struct ampy_dev *d, uint32_t i, char *buf, size_t n);
/* Words for the last remoteproc failure, or "". */
const char *ampy_rproc_why(struct ampy_dev *d);

/* ==== Platform hooks (one platform file is linked in) ==== */

int ampy_plat_open(struct ampy_dev *d);
void ampy_plat_close(struct ampy_dev *d);
void ampy_plat_lock(struct ampy_dev *d);
void ampy_plat_unlock(struct ampy_dev *d);
/* Condition wait on the queue lock (held): 0 (maybe spurious) or -ETIMEDOUT. */
int ampy_plat_wait(struct ampy_dev *d, int32_t timeout_ms);
void ampy_plat_broadcast(struct ampy_dev *d);
/* A descriptor that is readable while `readable` was last set true; -1 if
 * the platform has none, below -1 the -errno of a failure to make one (the
 * process may be out of descriptors: the binding refuses the endpoint). */
int ampy_plat_fd_open(void);
void ampy_plat_fd_set(int fd, bool readable);
void ampy_plat_fd_close(int fd);

/* A platform whose calls all come from one context (its interrupt only
 * schedules work, as on the microcontrollers) and that has no descriptors
 * sets AMPY_ONE_CONTEXT to 1: the lock and descriptor hooks above compile
 * away, and the platform does not define them. */
#ifndef AMPY_ONE_CONTEXT
#define AMPY_ONE_CONTEXT 0
#endif
#if AMPY_ONE_CONTEXT
#define ampy_plat_lock(d) ((void)(d))
#define ampy_plat_unlock(d) ((void)(d))
#define ampy_plat_fd_open() (-1)
#define ampy_plat_fd_set(fd, readable) ((void)(fd), (void)(readable))
#define ampy_plat_fd_close(fd) ((void)(fd))
#endif

/* Which backend the platform uses ("virtual", "kernel"), decided by the
 * settings and the machine, before the device exists (see the platform). */
const char *ampy_plat_backend(void);

/* Reason sentences: a small target sets AMPY_REASONS to 0 and its errors
 * are the errno alone (MicroPython prints its name); AMPY_WHY(s) is then
 * NULL, and the sentence is not in the binary. */
#ifndef AMPY_REASONS
#define AMPY_REASONS 1
#endif
#define AMPY_WHY(s) (AMPY_REASONS ? (s) : NULL)

/* A sentence for an errno from this layer (NULL without AMPY_REASONS). */
const char *ampy_strerror(int err);

#endif /* AMPY_H */
