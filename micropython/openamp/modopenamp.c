/*
 * modopenamp.c - the `openamp` module for MicroPython, over the amp
 * library and the binding core shared with the CPython module
 * (bind/ampy.c). Only marshalling lives here.
 *
 * Messages are queued by the platform's service context (a thread on
 * Linux). When something is queued it schedules one dispatch through a
 * static scheduler node (which cannot be refused, unlike the short shared
 * queue of mp_sched_schedule) and signals the thread that made the
 * device, so that a time.sleep(), select.poll() or asyncio wait there
 * wakes up and runs the callbacks.
 *
 * Non-local jumps: no exception may leave library code that holds a lock
 * or has a change half made. Everything the binding calls in the library
 * raises nothing; where the port raises KeyboardInterrupt from inside its
 * SIGINT handler (MICROPY_ASYNC_KBD_INTR: the unix port), each call runs
 * with SIGINT blocked on this thread (NOINTR), so Ctrl-C lands just
 * after it. The dispatch keeps SIGINT blocked except inside a callback,
 * catches everything, gives each buffer back, and re-raises SystemExit
 * and KeyboardInterrupt from a callback once it is consistent (through
 * mp_sched_exception: a scheduled function must not raise); other
 * exceptions are printed and delivery goes on.
 *
 * `data` in a callback is a bytearray copy of the message, as upstream's
 * type (which is a bytearray over the shared buffer: resizing it corrupts
 * the heap, keeping it reads a reused buffer). Endpoint(..., zero_copy=True)
 * passes a read-only memoryview of the shared buffer instead, valid during
 * the callback only (it is emptied after; a slice kept past the callback
 * is not: do not keep one).
 *
 * Differences from the CPython module, because of the language: errors
 * are OSError with the errno (no TimeoutError subclasses); there is no
 * recv_async (asyncio.StreamReader(ept) works through the stream protocol
 * instead).
 */
#include <string.h>
#if defined(__linux__)
#include <pthread.h>
#include <signal.h>
#define WAKE_BY_SIGNAL 1 /* the service context is a thread: interrupt sleeps */
#else
#define WAKE_BY_SIGNAL 0 /* an interrupt: it wakes WFI by itself */
#endif

#include "py/mperrno.h"
#include "py/mphal.h"
#include "py/objexcept.h"
#include "py/objarray.h"
#include "py/objint.h"
#include "py/runtime.h"
#include "py/stream.h"

#include "ampy.h"

#if MICROPY_PY_OPENAMP_AMP

#if MICROPY_PY_OPENAMP
#error "turn MicroPython's own openamp module off (MICROPY_PY_OPENAMP=0) to use amp's"
#endif

#if !MICROPY_ENABLE_FINALISER
#error "the openamp module needs MICROPY_ENABLE_FINALISER"
#endif
#if !MICROPY_ENABLE_SCHEDULER || !MICROPY_SCHEDULER_STATIC_NODES
#error "the openamp module needs MICROPY_ENABLE_SCHEDULER and MICROPY_SCHEDULER_STATIC_NODES"
#endif

#if MICROPY_ASYNC_KBD_INTR && defined(__linux__) /* the unix port: its platform is Linux */
/* SIGINT blocked on this thread from intr_off to intr_restore: a Ctrl-C
 * meanwhile stays pending and jumps when it is unblocked. */
typedef sigset_t intr_state;
static void intr_off(intr_state *old)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    pthread_sigmask(SIG_BLOCK, &s, old);
}

static void intr_restore(const intr_state *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* Take a Ctrl-C that came while SIGINT was blocked, to be raised as
 * KeyboardInterrupt through the scheduler rather than by a jump. For the
 * end of the dispatch, which runs inside MicroPython's scheduler: a jump
 * out of that leaves it locked, and no callback (nor any function given
 * to micropython.schedule) would ever run again. */
static void intr_defer_pending(void)
{
    sigset_t s;
    if (sigpending(&s) != 0 || !sigismember(&s, SIGINT))
        return;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    struct timespec now = {0, 0};
    if (sigtimedwait(&s, NULL, &now) == SIGINT)
        mp_sched_keyboard_interrupt();
}
#else
typedef char intr_state; /* KeyboardInterrupt is only raised where pending events are handled */
static void intr_off(intr_state *old)
{
    (void)old;
}

static void intr_restore(const intr_state *old)
{
    (void)old;
}

static void intr_defer_pending(void)
{
}
#endif

/* Run a call into the library where no Ctrl-C can jump out of it. */
#define NOINTR(...)                                                                                \
    do {                                                                                           \
        intr_state nointr_;                                                                        \
        intr_off(&nointr_);                                                                        \
        __VA_ARGS__;                                                                               \
        intr_restore(&nointr_);                                                                    \
    } while (0)

#define SLICE_MS 100 /* longest uninterruptible wait */
/* A send waits in shorter slices: the buffers it waits for may be held by
 * the remote until this interpreter's own queued callbacks run (they give
 * back the buffers the remote echoed into), and those run only between
 * slices. With 100 ms, an echo flood stalled 100 ms every ring's worth of
 * messages (2-5k msg/s instead of 200-400k). */
#define SEND_SLICE_MS 2

/* 0: no dispatch scheduled or running (dispatch_node is free); 1: one
 * is scheduled, or running and will go round again; 2: running. */
static volatile int dispatch_pending;
static mp_sched_node_t dispatch_node;

/* Device closes (openamp._shutdown()): a callback may close the device
 * under the dispatch loop. */
static uint32_t closes;

#if WAKE_BY_SIGNAL
/* A real-time signal next to the ones MicroPython's unix port uses for
 * its threads (SIGRTMIN + 5 and + 6). */
#ifdef SIGRTMIN
#define WAKE_SIGNAL (SIGRTMIN + 7)
#else
#define WAKE_SIGNAL SIGUSR2
#endif
static pthread_t interp_thread; /* woken by WAKE_SIGNAL */

static void on_wake_signal(int sig)
{
    (void)sig; /* only here to interrupt a sleep with EINTR */
}

static void wake_setup(void)
{
    interp_thread = pthread_self();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_wake_signal; /* no SA_RESTART: sleeps return EINTR */
    sigaction(WAKE_SIGNAL, &sa, NULL);
}

static void wake_interp(void)
{
    pthread_kill(interp_thread, WAKE_SIGNAL);
}
#else
static void wake_setup(void)
{
}

static void wake_interp(void)
{
}
#endif
static mp_obj_t rproc_owner;          /* the RemoteProc that owns the core (not a root: see rproc_del) */

/* ==== Errors ==== */

/* The library's errno (the C library's numbering) as MicroPython's, which
 * may be its own (MICROPY_USE_INTERNAL_ERRNO). */
static int mp_errno(int e)
{
    switch (e) {
    case ENOENT: return MP_ENOENT;
    case EIO: return MP_EIO;
    case E2BIG: return MP_E2BIG;
    case ENOEXEC: return MP_ENOEXEC;
    case EBADF: return MP_EBADF;
    case EAGAIN: return MP_EAGAIN;
    case ENOMEM: return MP_ENOMEM;
    case EBUSY: return MP_EBUSY;
    case EINVAL: return MP_EINVAL;
    case ERANGE: return MP_ERANGE;
    case EMSGSIZE: return 90; /* Linux's numbers: MicroPython has no names for them */
    case ESHUTDOWN: return 108; /* (newlib's is 110, MicroPython's own ETIMEDOUT) */
    case ENOTSUP: return MP_EOPNOTSUPP;
    case EADDRINUSE: return MP_EADDRINUSE;
    case ECONNRESET: return MP_ECONNRESET;
    case ENOTCONN: return MP_ENOTCONN;
    case ETIMEDOUT: return MP_ETIMEDOUT;
    default: return e;
    }
}

/* Raise OSError(errno, message) for a library error (negative errno);
 * without AMPY_REASONS (a small target) OSError(errno): MicroPython
 * prints the errno's name. Sentences are given as WHY("..."), which is
 * NULL there and leaves the sentence out of the binary. */
#define WHY(s) AMPY_WHY(s)
#define RPROC_WHY() (AMPY_REASONS ? ampy_rproc_why(ampy_dev_peek()) : NULL)

#if AMPY_REASONS && MICROPY_PY_ERRNO
/* MicroPython prints an OSError whose errno its errno module has no name
 * for as a tuple: "OSError: (90, 'message larger than one buffer')". Ours
 * are then of a subclass (also called OSError: `except OSError` and
 * e.errno work as ever) that prints as the named ones do, "OSError:
 * [Errno 90] EMSGSIZE: message larger than one buffer". The names: the
 * errnos we raise that MicroPython's default list lacks. */
static const struct {
    uint8_t err;
    char name[10];
} errno_names[] = {{MP_E2BIG, "E2BIG"}, {MP_ENOEXEC, "ENOEXEC"}, {MP_EBUSY, "EBUSY"},
                   {MP_EMFILE, "EMFILE"}, {MP_ERANGE, "ERANGE"}, {90, "EMSGSIZE"}, {108, "ESHUTDOWN"}};

/* The program can make one itself, with any arguments (type(e)(), or
 * args the empty tuple when memory was short): only (errno, message)
 * prints by name, anything else as MicroPython prints an OSError. kind
 * may carry PRINT_EXC_SUBCLASS (an instance of a Python subclass, whose
 * name is printed already). */
static void oserror_print(const mp_print_t *print, mp_obj_t o_in, mp_print_kind_t kind)
{
    mp_obj_exception_t *o = MP_OBJ_TO_PTR(o_in);
    mp_print_kind_t k = kind & ~PRINT_EXC_SUBCLASS;
    if ((k == PRINT_STR || k == PRINT_EXC) && o->args && o->args->len == 2 &&
        mp_obj_is_small_int(o->args->items[0])) {
        mp_int_t n = MP_OBJ_SMALL_INT_VALUE(o->args->items[0]);
        for (size_t i = 0; i < MP_ARRAY_SIZE(errno_names); i++)
            if (errno_names[i].err == n) {
                const char *head = k != PRINT_EXC ? "" : kind & PRINT_EXC_SUBCLASS ? ": " : "OSError: ";
                mp_printf(print, "%s[Errno %d] %s: ", head, (int)n, errno_names[i].name);
                mp_obj_print_helper(print, o->args->items[1], PRINT_STR);
                return;
            }
    }
    mp_obj_exception_print(print, o_in, kind);
}

static MP_DEFINE_CONST_OBJ_TYPE(oserror_type, MP_QSTR_OSError, MP_TYPE_FLAG_NONE, make_new,
                                mp_obj_exception_make_new, print, oserror_print, attr,
                                mp_obj_exception_attr, parent, &mp_type_OSError);
#define OSERROR_TYPE(n) (mp_errno_to_str(n) == MP_QSTRnull ? &oserror_type : &mp_type_OSError)
#else
#define OSERROR_TYPE(n) (&mp_type_OSError)
#endif

MP_NORETURN static void raise_errno(int err, const char *why)
{
    int e = err < 0 ? -err : err;
#if AMPY_REASONS
    mp_obj_t args[2] = {MP_OBJ_NEW_SMALL_INT(mp_errno(e)),
                        mp_obj_new_str_from_cstr(why && *why ? why : ampy_strerror(-e))};
    nlr_raise(mp_obj_exception_make_new(OSERROR_TYPE(args[0]), 2, 0, args));
#else
    (void)why;
    mp_raise_OSError(mp_errno(e));
#endif
}

/* An address argument: 0..0xFFFFFFFF, or -1 for ENDPOINT_ADDR_ANY (its
 * value where an int cannot hold 0xFFFFFFFF, and upstream's on 32-bit). */
static uint32_t get_addr(mp_obj_t o, const char *what)
{
    mp_int_t v = mp_obj_get_int_truncated(o);
    if (mp_obj_is_small_int(o) && v == -1)
        return AMP_ADDR_ANY;
    if (mp_obj_is_int(o) && !mp_obj_is_small_int(o)) { /* a long int: 0xFFFFFFFF on 32-bit ports */
        mp_obj_t max = mp_obj_new_int_from_uint(0xFFFFFFFFu);
        if (mp_obj_int_sign(o) >= 0 && mp_binary_op(MP_BINARY_OP_LESS_EQUAL, o, max) == mp_const_true)
            return (uint32_t)mp_obj_int_get_uint_checked(o);
        v = -2; /* out of range */
    }
    if (v < 0 || (uint64_t)v > 0xFFFFFFFFu)
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%s out of range"), what);
    return (uint32_t)v;
}

static int32_t get_timeout(mp_obj_t o)
{
    mp_int_t v = mp_obj_get_int_truncated(o);
    if (mp_obj_is_int(o) && !mp_obj_is_small_int(o) && /* a long int: wider than a word? */
        (mp_obj_int_sign(o) < 0 ||
         mp_binary_op(MP_BINARY_OP_MORE, o, mp_obj_new_int(INT32_MAX)) == mp_const_true))
        v = -2; /* out of range */
    if (v < -1 || v > INT32_MAX)
        mp_raise_ValueError(MP_ERROR_TEXT("timeout out of range (-1 or 0.. ms)"));
    return (int32_t)v;
}

/* ==== Waking the interpreter ==== */

static void dispatch(mp_sched_node_t *node);

/* Called with the queue lock held, from the service context (and by the
 * dispatch itself). Raises nothing. */
static void wake(void *ctx)
{
    (void)ctx;
    if (__atomic_exchange_n(&dispatch_pending, 1, __ATOMIC_ACQ_REL))
        return; /* scheduled, or running: a running dispatch sees 1 and goes round again */
    mp_sched_schedule_node(&dispatch_node, dispatch); /* free at 0: cannot fail */
    wake_interp();
}

static struct ampy_dev *device(void)
{
    struct ampy_dev *d = ampy_dev_peek();
    if (d)
        return d;
    int err = 0;
    NOINTR(d = ampy_dev_get(&err));
    if (!d)
        raise_errno(err, WHY("cannot set up the remote core's platform"));
    wake_setup();
    NOINTR(ampy_set_wake(d, wake, NULL));
    return d;
}

/* ==== Endpoint ==== */

typedef struct {
    mp_obj_base_t base;
    struct ampy_ept e;
    mp_obj_t callback; /* mp_const_none: messages queue for recv() */
    mp_obj_t name;
    bool zero_copy;    /* callbacks get a memoryview of the buffer, not a copy */
} endpoint_obj_t;

static const mp_obj_type_t endpoint_type;

static endpoint_obj_t *open_ept(mp_obj_t self_in)
{
    endpoint_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (!self->e.open)
        raise_errno(ampy_gone(&self->e), NULL); /* by the program, or at a close */
    return self;
}

static mp_obj_t endpoint_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *all_args)
{
    enum { ARG_name, ARG_callback, ARG_src, ARG_dest, ARG_zero_copy };
    static const mp_arg_t allowed[] = {
        {MP_QSTR_name, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE}},
        {MP_QSTR_callback, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE}},
        {MP_QSTR_src, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE}},
        {MP_QSTR_dest, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE}},
        {MP_QSTR_zero_copy, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false}},
    };
    mp_arg_val_t a[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all_kw_array(n_args, n_kw, all_args, MP_ARRAY_SIZE(allowed), allowed, a);
    size_t nlen;
    const char *name = mp_obj_str_get_data(a[ARG_name].u_obj, &nlen);
    if (!mp_obj_is_str(a[ARG_name].u_obj))
        mp_raise_TypeError(MP_ERROR_TEXT("name must be a str"));
    if (nlen >= AMP_RPMSG_NAME_SIZE || strlen(name) != nlen)
        mp_raise_ValueError(MP_ERROR_TEXT("name must be at most 31 bytes, without NUL"));
    mp_obj_t cb = a[ARG_callback].u_obj;
    if (cb != mp_const_none && !mp_obj_is_callable(cb))
        mp_raise_TypeError(MP_ERROR_TEXT("callback must be callable or None"));
    uint32_t src = a[ARG_src].u_obj == mp_const_none ? AMP_ADDR_ANY : get_addr(a[ARG_src].u_obj, "src");
    uint32_t dest = a[ARG_dest].u_obj == mp_const_none ? AMP_ADDR_ANY : get_addr(a[ARG_dest].u_obj, "dest");
    if (src == AMP_RPMSG_NS_ADDR || dest == AMP_RPMSG_NS_ADDR)
        mp_raise_ValueError(MP_ERROR_TEXT("53 is the name service's address"));
    struct ampy_dev *d = device();

    endpoint_obj_t *self = mp_obj_malloc_with_finaliser(endpoint_obj_t, type);
    memset(&self->e, 0, sizeof(self->e));
    self->callback = cb;
    self->name = a[ARG_name].u_obj;
    self->zero_copy = a[ARG_zero_copy].u_bool;
    int err;
    NOINTR(err = ampy_ept_init(&self->e, d, name, src, dest, cb != mp_const_none, self));
#if !AMPY_ONE_CONTEXT
    if (!err && self->e.fd < -1) { /* the platform has descriptors, but none was left */
        err = self->e.fd;
        NOINTR(ampy_ept_deinit(&self->e));
        raise_errno(err, WHY("no file descriptor for the endpoint: each one holds one (see fileno())"));
    }
#endif
    if (err)
        raise_errno(err, err == -EADDRINUSE ? WHY("src address already in use") : NULL);
    return MP_OBJ_FROM_PTR(self);
}

static mp_obj_t endpoint_deinit(mp_obj_t self_in)
{
    endpoint_obj_t *self = MP_OBJ_TO_PTR(self_in);
    NOINTR(ampy_ept_deinit(&self->e));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(endpoint_deinit_obj, endpoint_deinit);

static mp_obj_t endpoint_exit(size_t n_args, const mp_obj_t *args)
{
    (void)n_args;
    return endpoint_deinit(args[0]);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(endpoint_exit_obj, 4, 4, endpoint_exit);

static mp_obj_t endpoint_is_ready(mp_obj_t self_in)
{
    return mp_obj_new_bool(ampy_ept_ready(&open_ept(self_in)->e));
}
static MP_DEFINE_CONST_FUN_OBJ_1(endpoint_is_ready_obj, endpoint_is_ready);

/* Run op(self, arg, slice) in slices of at most slice_max ms until it says
 * something other than -ETIMEDOUT/-EAGAIN or timeout ms (-1: no limit)
 * have passed; pending events (Ctrl-C, callbacks) run in between. Where
 * the library does not wait (AMP_CFG_RPMSG_WAIT 0) a send says -EAGAIN at
 * once, and the waiting is done here, a millisecond at a time. Returns
 * op's result, a timeout as -ETIMEDOUT (-EAGAIN for timeout 0). */
typedef int (*sliced_op)(endpoint_obj_t *self, const void *arg, int32_t slice_ms);

static int sliced(endpoint_obj_t *self, sliced_op op, const void *arg, int32_t timeout,
                  int32_t slice_max)
{
    mp_uint_t t0 = mp_hal_ticks_ms();
    for (;;) {
        int32_t slice = slice_max;
        if (timeout >= 0) {
            mp_int_t left = timeout - (mp_int_t)(mp_hal_ticks_ms() - t0);
            slice = left <= 0 ? 0 : left < slice_max ? (int32_t)left : slice_max;
        }
        int r;
        MP_THREAD_GIL_EXIT();
        NOINTR(r = op(self, arg, slice));
        MP_THREAD_GIL_ENTER();
        if (r >= 0 || (r != -ETIMEDOUT && r != -EAGAIN))
            return r;
        if (timeout == 0)
            return -EAGAIN;
        if (timeout > 0 && (mp_int_t)(mp_hal_ticks_ms() - t0) >= timeout)
            return -ETIMEDOUT;
        if (!AMP_CFG_RPMSG_WAIT && r == -EAGAIN) /* a library that never waits (a small target's) */
            mp_event_wait_ms(1);                 /* runs pending events too */
        else
            mp_handle_pending(MP_HANDLE_PENDING_CALLBACKS_AND_EXCEPTIONS);
    }
}

struct send_args {
    uint32_t src, dst;
    const void *p;
    size_t len;
};

static int send_op(endpoint_obj_t *self, const void *arg, int32_t slice)
{
    const struct send_args *a = arg;
    return ampy_send(&self->e, a->src, a->dst, a->p, a->len, slice);
}

/* Send one message; raises on failure. */
static int send_one(endpoint_obj_t *self, uint32_t src, uint32_t dst, const void *p, size_t len, int32_t timeout)
{
    struct send_args a = {src, dst, p, len};
    bool bound; /* when the call began: a link that goes down meanwhile is a reset */
    NOINTR(bound = ampy_ept_ready(&self->e));
    int r = sliced(self, send_op, &a, timeout, SEND_SLICE_MS);
    if (r == -ENOTCONN && bound)
        r = -ECONNRESET;
    if (r < 0)
        raise_errno(r, r == -ECONNRESET ? RPROC_WHY() : NULL);
    return r;
}

static mp_obj_t endpoint_send(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args)
{
    enum { ARG_data, ARG_src, ARG_dest, ARG_timeout };
    static const mp_arg_t allowed[] = {
        {MP_QSTR_data, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE}},
        {MP_QSTR_src, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_INT(-1)}},
        {MP_QSTR_dest, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_INT(-1)}},
        {MP_QSTR_timeout, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_INT(-1)}},
    };
    mp_arg_val_t a[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed), allowed, a);
    uint32_t src = get_addr(a[ARG_src].u_obj, "src");
    uint32_t dst = get_addr(a[ARG_dest].u_obj, "dest");
    int32_t timeout = get_timeout(a[ARG_timeout].u_obj);
    if (src == AMP_RPMSG_NS_ADDR || dst == AMP_RPMSG_NS_ADDR)
        mp_raise_ValueError(MP_ERROR_TEXT("53 is the name service's address"));
    endpoint_obj_t *self = open_ept(pos_args[0]);
    mp_buffer_info_t b;
    mp_get_buffer_raise(a[ARG_data].u_obj, &b, MP_BUFFER_READ); /* str too */
    if (b.len > ampy_max_payload(ampy_dev_peek()))
        raise_errno(-EMSGSIZE, WHY("message larger than one buffer"));
    return mp_obj_new_int(send_one(self, src, dst, b.buf, b.len, timeout));
}
static MP_DEFINE_CONST_FUN_OBJ_KW(endpoint_send_obj, 2, endpoint_send);

static int readable_op(endpoint_obj_t *self, const void *arg, int32_t slice)
{
    return ampy_wait_readable_since(&self->e, slice, arg);
}

/* Wait until a message is queued; raises on timeout, and with ECONNRESET
 * when the link went down since *mark (taken when the call began: a
 * remote that crashed, stopped or shut down between two slices counts). */
static void wait_readable(endpoint_obj_t *self, int32_t timeout, const struct ampy_mark *mark)
{
    if (self->callback != mp_const_none)
        mp_raise_ValueError(MP_ERROR_TEXT("this endpoint has a callback; recv/read are for callback=None"));
    int r = sliced(self, readable_op, mark, timeout, SLICE_MS);
    if (r >= 0)
        return;
    /* a loss is reported once to each waiter with a mark (this call), and
     * once to the first look with none (timeout 0: a select user, woken
     * by the descriptor): either way it is news no more after */
    int lost = r == -EAGAIN || r == -ECONNRESET ? ampy_take_lost(&self->e) : 0;
    if (r == -EAGAIN && lost)
        r = lost;
#if AMPY_REASONS
    struct ampy_dev *d = ampy_dev_peek();
    const char *why = r == -ECONNRESET && d ? ampy_rproc_why(d) : "";
    raise_errno(r, r == -ETIMEDOUT    ? "timed out waiting for a message"
                   : r == -EAGAIN     ? "no message queued (timeout=0)"
                   : *why             ? why
                   : r == -ECONNRESET ? "the remote crashed or was stopped"
                                      : NULL);
#else
    raise_errno(r, NULL);
#endif
}

/* Where a receiving call begins (see wait_readable). */
static struct ampy_mark mark_now(endpoint_obj_t *self)
{
    struct ampy_mark m;
    NOINTR(ampy_mark(&self->e, &m));
    return m;
}

/* Wait for a message (see wait_readable; a mark taken now), then read up
 * to n bytes into buf: of that message, or with span across messages
 * (where an empty one is passed over: b"" would read as end of file). A
 * message dropped meanwhile (from a link that went down) is waited past.
 * The one path of recv, read and readinto. */
static size_t wait_read(endpoint_obj_t *self, void *buf, size_t n, bool span, int32_t timeout)
{
    if (span && n == 0)
        return 0; /* read(0), readinto(empty): as a file, nothing waited for */
    struct ampy_mark mark = mark_now(self);
    for (;;) {
        wait_readable(self, timeout, &mark);
        int len;
        size_t got = 0;
        NOINTR({
            len = ampy_head_len(&self->e);
            if (len >= 0)
                got = ampy_read(&self->e, buf, n, span);
        });
        /* and the rest that is queued, while it fits (ampy_read takes at
         * most 16 messages a call) */
        for (size_t k = 1; len >= 0 && span && got > 0 && k > 0 && got < n; got += k)
            NOINTR(k = ampy_read(&self->e, (uint8_t *)buf + got, n - got, true));
        if (len >= 0 && (got > 0 || n == 0 || !span))
            return got;
    }
}

/* A bytes object of what wait_read gives, for up to cap bytes. */
static mp_obj_t wait_read_bytes(endpoint_obj_t *self, size_t cap, bool span, int32_t timeout)
{
    vstr_t v;
    vstr_init_len(&v, cap);
    v.len = wait_read(self, v.buf, cap, span, timeout);
    return mp_obj_new_bytes_from_vstr(&v);
}

static mp_obj_t endpoint_recv(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args)
{
    enum { ARG_n, ARG_timeout };
    static const mp_arg_t allowed[] = {
        {MP_QSTR_n, MP_ARG_INT, {.u_int = -1}},
        {MP_QSTR_timeout, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_INT(-1)}},
    };
    mp_arg_val_t a[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed), allowed, a);
    int32_t timeout = get_timeout(a[ARG_timeout].u_obj);
    mp_int_t n = a[ARG_n].u_int;
    if (n < -1)
        mp_raise_ValueError(MP_ERROR_TEXT("n must be -1 (the whole message) or >= 0"));
    endpoint_obj_t *self = open_ept(pos_args[0]);
    /* no message is larger than one buffer (the library checks) */
    size_t max = ampy_max_payload(ampy_dev_peek());
    return wait_read_bytes(self, n < 0 || (size_t)n > max ? max : (size_t)n, false, timeout);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(endpoint_recv_obj, 1, endpoint_recv);

/* read, readinto, write and the stream protocol (select.poll,
 * asyncio.StreamReader): the CPython module's file-like side, which
 * upstream's module lacks and the spec does not name. A small target may
 * leave it out (0 here): recv() and the callbacks remain. */
#ifndef MICROPY_PY_OPENAMP_AMP_STREAM
#define MICROPY_PY_OPENAMP_AMP_STREAM (1)
#endif

#if MICROPY_PY_OPENAMP_AMP_STREAM
/* read(n=-1): wait for data, then up to n bytes (all queued for -1),
 * across message boundaries; as the CPython module does. */
static mp_obj_t endpoint_read(size_t n_args, const mp_obj_t *args)
{
    endpoint_obj_t *self = open_ept(args[0]);
    mp_int_t n = n_args > 1 ? mp_obj_get_int(args[1]) : -1;
    return wait_read_bytes(self, n >= 0 ? (size_t)n : 65536, true, -1);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(endpoint_read_obj, 1, 2, endpoint_read);

static mp_obj_t endpoint_readinto(mp_obj_t self_in, mp_obj_t buf_in)
{
    endpoint_obj_t *self = open_ept(self_in);
    mp_buffer_info_t b;
    mp_get_buffer_raise(buf_in, &b, MP_BUFFER_WRITE);
    return mp_obj_new_int_from_uint(wait_read(self, b.buf, b.len, true, -1));
}
static MP_DEFINE_CONST_FUN_OBJ_2(endpoint_readinto_obj, endpoint_readinto);

/* write(data): all of it, as several messages when larger than one buffer. */
static mp_obj_t endpoint_write(mp_obj_t self_in, mp_obj_t data)
{
    endpoint_obj_t *self = open_ept(self_in);
    mp_buffer_info_t b;
    mp_get_buffer_raise(data, &b, MP_BUFFER_READ);
    size_t max = ampy_max_payload(ampy_dev_peek()), off = 0;
    while (off < b.len) { /* write(b"") sends nothing */
        size_t k = b.len - off < max ? b.len - off : max;
        send_one(self, AMP_ADDR_ANY, AMP_ADDR_ANY, (uint8_t *)b.buf + off, k, -1);
        off += k;
    }
    return mp_obj_new_int_from_uint(off);
}
static MP_DEFINE_CONST_FUN_OBJ_2(endpoint_write_obj, endpoint_write);
#endif

/* fileno(): a descriptor to wait on, where the platform has them (the
 * unix port); elsewhere ENOTSUP, or left out (MICROPY_PY_OPENAMP_AMP_FILENO
 * 0: a platform that never has one). */
#ifndef MICROPY_PY_OPENAMP_AMP_FILENO
#define MICROPY_PY_OPENAMP_AMP_FILENO (1)
#endif
#if MICROPY_PY_OPENAMP_AMP_FILENO
static mp_obj_t endpoint_fileno(mp_obj_t self_in)
{
    endpoint_obj_t *self = open_ept(self_in);
    if (self->e.fd < 0)
        raise_errno(-ENOTSUP, WHY("this platform has no descriptor to wait on"));
    return MP_OBJ_NEW_SMALL_INT(self->e.fd);
}
static MP_DEFINE_CONST_FUN_OBJ_1(endpoint_fileno_obj, endpoint_fileno);
#endif

#if MICROPY_PY_OPENAMP_AMP_STREAM
/* The stream protocol, for select.poll and asyncio.StreamReader: never
 * blocks (the methods above do the waiting). */
static mp_uint_t endpoint_stream_read(mp_obj_t self_in, void *buf, mp_uint_t size, int *errcode)
{
    endpoint_obj_t *self = MP_OBJ_TO_PTR(self_in);
    int len = ampy_gone(&self->e);
    if (self->e.open)
        NOINTR(len = ampy_head_len(&self->e));
    if (len < 0) {
        *errcode = mp_errno(-len);
        return MP_STREAM_ERROR;
    }
    mp_uint_t got;
    NOINTR(got = ampy_read(&self->e, buf, size, true));
    if (got == 0 && size > 0) { /* only empty messages: not end of file */
        *errcode = MP_EAGAIN;
        return MP_STREAM_ERROR;
    }
    return got;
}

static mp_uint_t endpoint_stream_write(mp_obj_t self_in, const void *buf, mp_uint_t size, int *errcode)
{
    endpoint_obj_t *self = MP_OBJ_TO_PTR(self_in);
    uint32_t max = self->e.open ? ampy_max_payload(ampy_dev_peek()) : 0;
    int r;
    NOINTR(r = ampy_send(&self->e, AMP_ADDR_ANY, AMP_ADDR_ANY, buf, size < max ? size : max, 0));
    if (r < 0) {
        *errcode = mp_errno(-r);
        return MP_STREAM_ERROR;
    }
    return (mp_uint_t)r;
}

static mp_uint_t endpoint_stream_ioctl(mp_obj_t self_in, mp_uint_t request, uintptr_t arg, int *errcode)
{
    endpoint_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (request == MP_STREAM_CLOSE) {
        NOINTR(ampy_ept_deinit(&self->e));
        return 0;
    }
    if (request == MP_STREAM_POLL) {
        mp_uint_t ret = 0;
        if (!self->e.open)
            return MP_STREAM_POLL_NVAL;
        int len = -EAGAIN;
        if (arg & MP_STREAM_POLL_RD)
            NOINTR(len = ampy_head_len(&self->e));
        if (len >= 0)
            ret |= MP_STREAM_POLL_RD;
        if ((arg & MP_STREAM_POLL_WR) && ampy_ept_ready(&self->e))
            ret |= MP_STREAM_POLL_WR;
        return ret;
    }
    *errcode = MP_EINVAL;
    return MP_STREAM_ERROR;
}

static const mp_stream_p_t endpoint_stream_p = {
    .read = endpoint_stream_read,
    .write = endpoint_stream_write,
    .ioctl = endpoint_stream_ioctl,
};
#define ENDPOINT_FLAGS MP_TYPE_FLAG_ITER_IS_STREAM
#define ENDPOINT_STREAM protocol, &endpoint_stream_p,
#else
#define ENDPOINT_FLAGS MP_TYPE_FLAG_NONE
#define ENDPOINT_STREAM
#endif

/* repr(ept) and RemoteProc.trace(), which upstream's module lacks and the
 * spec does not name: a small target may leave them out (0 here; repr is
 * then upstream's `<Endpoint>`). */
#ifndef MICROPY_PY_OPENAMP_AMP_REPR
#define MICROPY_PY_OPENAMP_AMP_REPR (1)
#endif
#ifndef MICROPY_PY_OPENAMP_AMP_TRACE
#define MICROPY_PY_OPENAMP_AMP_TRACE (1)
#endif

#if MICROPY_PY_OPENAMP_AMP_REPR
static void endpoint_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind)
{
    endpoint_obj_t *self = MP_OBJ_TO_PTR(self_in);
    (void)kind;
    mp_printf(print, "<Endpoint "); /* as the CPython module's */
    mp_obj_print_helper(print, self->name, PRINT_REPR);
    bool any = self->e.ept.dest == AMP_ADDR_ANY;
    if (self->e.open)
        mp_printf(print, " src=%u dest=%s%u%s>", (unsigned)self->e.ept.addr, any ? "ANY(" : "",
                  (unsigned)self->e.ept.dest, any ? ")" : "");
    else
        mp_printf(print, " deinitialised>");
}
#define ENDPOINT_PRINT print, endpoint_print,
#else
#define ENDPOINT_PRINT
#endif

/* Endpoint.src, .dest, .name and RemoteProc.state: the CPython module's,
 * which upstream's module lacks and the spec does not name. A small target
 * may leave them out (0 here). */
#ifndef MICROPY_PY_OPENAMP_AMP_ATTRS
#define MICROPY_PY_OPENAMP_AMP_ATTRS (1)
#endif

#if MICROPY_PY_OPENAMP_AMP_ATTRS
static void endpoint_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest)
{
    endpoint_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (dest[0] == MP_OBJ_NULL) {
        if (attr == MP_QSTR_src) {
            dest[0] = mp_obj_new_int_from_uint(self->e.ept.addr);
            return;
        }
        if (attr == MP_QSTR_dest) {
            dest[0] = mp_obj_new_int_from_uint(self->e.ept.dest);
            return;
        }
        if (attr == MP_QSTR_name) {
            dest[0] = self->name;
            return;
        }
    }
    dest[1] = MP_OBJ_SENTINEL; /* go on with the locals dict */
}
#define ENDPOINT_ATTR attr, endpoint_attr,
#else
#define ENDPOINT_ATTR
#endif

static const mp_rom_map_elem_t endpoint_locals_table[] = {
    {MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&endpoint_deinit_obj)},
    {MP_ROM_QSTR(MP_QSTR_deinit), MP_ROM_PTR(&endpoint_deinit_obj)},
    {MP_ROM_QSTR(MP_QSTR_is_ready), MP_ROM_PTR(&endpoint_is_ready_obj)},
    {MP_ROM_QSTR(MP_QSTR_send), MP_ROM_PTR(&endpoint_send_obj)},
    {MP_ROM_QSTR(MP_QSTR_recv), MP_ROM_PTR(&endpoint_recv_obj)},
#if MICROPY_PY_OPENAMP_AMP_STREAM
    {MP_ROM_QSTR(MP_QSTR_read), MP_ROM_PTR(&endpoint_read_obj)},
    {MP_ROM_QSTR(MP_QSTR_readinto), MP_ROM_PTR(&endpoint_readinto_obj)},
    {MP_ROM_QSTR(MP_QSTR_write), MP_ROM_PTR(&endpoint_write_obj)},
#endif
#if MICROPY_PY_OPENAMP_AMP_FILENO
    {MP_ROM_QSTR(MP_QSTR_fileno), MP_ROM_PTR(&endpoint_fileno_obj)},
#endif
    {MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&endpoint_deinit_obj)},
    {MP_ROM_QSTR(MP_QSTR___enter__), MP_ROM_PTR(&mp_identity_obj)},
    {MP_ROM_QSTR(MP_QSTR___exit__), MP_ROM_PTR(&endpoint_exit_obj)},
};
static MP_DEFINE_CONST_DICT(endpoint_locals, endpoint_locals_table);

static MP_DEFINE_CONST_OBJ_TYPE(endpoint_type, MP_QSTR_Endpoint, ENDPOINT_FLAGS,
                                make_new, endpoint_make_new, ENDPOINT_PRINT ENDPOINT_ATTR
                                ENDPOINT_STREAM locals_dict, &endpoint_locals);

/* ==== Delivering events (scheduled on the interpreter) ==== */

static bool stops_the_program(mp_obj_t exc)
{
    const mp_obj_type_t *t = mp_obj_get_type(exc);
    return mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(t), MP_OBJ_FROM_PTR(&mp_type_SystemExit))
#if MICROPY_KBD_EXCEPTION
           || mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(t), MP_OBJ_FROM_PTR(&mp_type_KeyboardInterrupt))
#endif
        ;
}

/* Is s UTF-8 as CPython's decoder judges it? MicroPython's own check
 * lets overlong forms, surrogates and code points past 0x10FFFF through:
 * the two modules would give such a name differently. (Checked against
 * CPython's decoder on every 1- and 2-byte string, the 3- and 4-byte
 * edges and 200,000 random ones, by hand, 2026-12-03.) */
static bool utf8_strict(const uint8_t *s)
{
    for (uint32_t c; (c = *s++) != 0;) {
        if (c < 0x80)
            continue;
        uint32_t n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1; /* continuation bytes */
        if (c < 0xC2 || c > 0xF4) /* not a lead byte, or one of too large a code point */
            return false;
        c &= 0x3Fu >> n;
        for (uint32_t i = 0; i < n; i++, s++) {
            if ((*s & 0xC0) != 0x80) /* (the NUL too) */
                return false;
            c = c << 6 | (*s & 0x3Fu);
        }
        if (c < (n == 3 ? 0x10000u : n == 2 ? 0x800u : 0x80u) || c > 0x10FFFF || c >> 11 == 0x1B)
            return false; /* overlong, too large, a surrogate */
    }
    return true;
}

/* An announced name (NUL-terminated within its field) as a str: as it is
 * if UTF-8, else in ASCII with each byte above 0x7F as \xNN and a
 * backslash as \\, every other byte as it is (two names that are not
 * UTF-8 never read the same; a UTF-8 name, as it is, may read as one),
 * as the CPython module gives it; mp_obj_new_str raised UnicodeError, and
 * the callback never heard of the service. */
static mp_obj_t ns_name(const char *name)
{
    if (!utf8_strict((const uint8_t *)name)) {
        vstr_t v;
        vstr_init(&v, 4 * AMP_RPMSG_NAME_SIZE);
        for (; *name; name++) {
            if (*name == '\\')
                vstr_add_str(&v, "\\\\");
            else if ((uint8_t)*name < 0x80)
                vstr_add_byte(&v, (byte)*name);
            else
                vstr_printf(&v, "\\x%02x", (uint8_t)*name);
        }
        return mp_obj_new_str_from_vstr(&v);
    }
    return mp_obj_new_str_from_cstr(name);
}

/* The zero-copy view being delivered: emptied once its callback is done. */
static mp_obj_t current_view = MP_OBJ_NULL;

/* Deliver one event (called with SIGINT blocked, *outer the mask to let
 * a callback run with): builds the arguments and calls the callback under
 * one nlr frame, so nothing - an allocation failure, the callback's own
 * exception, a Ctrl-C - escapes. Returns a SystemExit/KeyboardInterrupt
 * to raise once the dispatch is consistent, or MP_OBJ_NULL. */
static mp_obj_t deliver(const struct ampy_ev *ev, const intr_state *outer)
{
    mp_obj_t stop = MP_OBJ_NULL;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t fn, data;
        if (ev->kind == AMPY_EV_MSG) {
            endpoint_obj_t *self = ev->ept->obj;
            fn = self->callback;
            if (self->zero_copy)
                data = current_view = mp_obj_new_memoryview('B', ev->len, ev->data);
            else
                data = mp_obj_new_bytearray(ev->len, ev->data);
        } else {
            fn = MP_STATE_PORT(openamp_ns_callback);
            data = ns_name(ev->name);
        }
        mp_obj_t src = mp_obj_new_int_from_uint(ev->src);
        if (fn != MP_OBJ_NULL && fn != mp_const_none) {
            intr_restore(outer); /* a Ctrl-C lands in here, or in the callback */
            mp_call_function_2(fn, src, data);
            intr_off(NULL);
        }
        nlr_pop();
    } else {
        intr_off(NULL); /* the port's SIGINT handler unblocks it before it jumps */
        mp_obj_t exc = MP_OBJ_FROM_PTR(nlr.ret_val);
        if (stops_the_program(exc)) {
            stop = exc;
        } else {
            mp_printf(MICROPY_ERROR_PRINTER, "openamp: exception in callback\n");
            mp_obj_print_exception(MICROPY_ERROR_PRINTER, exc);
        }
    }
    if (current_view != MP_OBJ_NULL) /* a kept `data` now reads empty, not a reused buffer */
        ((mp_obj_array_t *)MP_OBJ_TO_PTR(current_view))->len = 0;
    current_view = MP_OBJ_NULL;
    return stop;
}

/* The scheduled dispatch: runs every queued callback. It must not raise
 * (the scheduler would stay locked), so a SystemExit or KeyboardInterrupt
 * from a callback stops the round, leaves later events queued for the
 * next one, and is raised by the interpreter right after. */
static void dispatch(mp_sched_node_t *node)
{
    (void)node;
    intr_state outer;
    intr_off(&outer);
    struct ampy_dev *d;
    struct ampy_ev ev;
    mp_obj_t stop = MP_OBJ_NULL;
    int running = 2;
again:
    __atomic_store_n(&dispatch_pending, 2, __ATOMIC_RELEASE); /* running: wake() only marks 1 */
    /* the device is looked up each round: a callback may have closed it
     * (its nodes may be gone with it: a GC heap block on the STM32H7) */
    while (stop == MP_OBJ_NULL && (d = ampy_dev_peek()) && ampy_pop_event(d, &ev)) {
        uint32_t c = closes;
        stop = deliver(&ev, &outer);
        if (ev.kind == AMPY_EV_MSG && closes == c) /* else its buffer went with the device */
            ampy_release(d, &ev);
    }
    if (stop != MP_OBJ_NULL) {
        __atomic_store_n(&dispatch_pending, 0, __ATOMIC_RELEASE);
        wake(NULL); /* what is still queued: in a later round */
        mp_sched_exception(stop);
    } else if (!__atomic_compare_exchange_n(&dispatch_pending, &running, 0, false, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
        /* an event came in meanwhile (wake() set 1): go round again here,
         * rather than schedule a run whose wake-up signal may be lost
         * while this thread is not asleep yet */
        running = 2;
        goto again;
    }
    intr_defer_pending(); /* we are inside the scheduler: no jump out of here */
    intr_restore(&outer);
}

/* ==== RemoteProc ==== */

typedef struct {
    mp_obj_base_t base;
    bool loaded;
} rproc_obj_t;

static rproc_obj_t *owned(mp_obj_t self_in)
{
    rproc_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (!self->loaded || rproc_owner != self_in)
        raise_errno(-EINVAL, WHY("this RemoteProc was shut down or replaced"));
    return self;
}

static void rproc_check(int err)
{
    if (err)
        raise_errno(err, RPROC_WHY());
}

static mp_obj_t rproc_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args)
{
    mp_arg_check_num(n_args, n_kw, 1, 1, false);
    struct ampy_dev *d = device();
    rproc_obj_t *self = mp_obj_malloc_with_finaliser(rproc_obj_t, type);
    self->loaded = false;
    int err;
    if (mp_obj_is_int(args[0])) {
        mp_int_t entry = mp_obj_get_int_truncated(args[0]);
        if (mp_obj_is_small_int(args[0]) && entry < 0)
            mp_raise_ValueError(MP_ERROR_TEXT("entry address must be >= 0"));
        /* as RemoteProc(path): a running remote must be stopped first */
        NOINTR({
            if (ampy_rproc_state(d) == AMP_RPROC_CRASHED)
                ampy_rproc_stop(d);
            err = ampy_rproc_attach(d, (uint64_t)(mp_uint_t)entry);
        });
    } else if (mp_obj_is_str(args[0])) {
        const char *path = mp_obj_str_get_str(args[0]);
        NOINTR({
            if (ampy_rproc_state(d) != AMP_RPROC_RUNNING)
                ampy_rproc_shutdown(d);
            err = ampy_rproc_load(d, path);
        });
    } else {
        mp_raise_TypeError(MP_ERROR_TEXT("entry must be a firmware path or an entry address"));
    }
    rproc_check(err);
    self->loaded = true;
    rproc_owner = MP_OBJ_FROM_PTR(self);
    return MP_OBJ_FROM_PTR(self);
}

static mp_obj_t rproc_start(mp_obj_t self_in)
{
    owned(self_in);
    int err;
    NOINTR(err = ampy_rproc_start(ampy_dev_peek()));
    rproc_check(err);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(rproc_start_obj, rproc_start);

static mp_obj_t rproc_stop(mp_obj_t self_in)
{
    owned(self_in);
    int err;
    NOINTR(err = ampy_rproc_stop(ampy_dev_peek()));
    rproc_check(err);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(rproc_stop_obj, rproc_stop);

/* shutdown() and the finaliser. */
static mp_obj_t rproc_shutdown(mp_obj_t self_in)
{
    rproc_obj_t *self = MP_OBJ_TO_PTR(self_in);
    struct ampy_dev *d = ampy_dev_peek();
    if (self->loaded && rproc_owner == self_in) {
        if (d) /* (closed: at a soft reset, the device may go first) */
            NOINTR(ampy_rproc_shutdown(d));
        rproc_owner = MP_OBJ_NULL;
    }
    self->loaded = false;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(rproc_shutdown_obj, rproc_shutdown);

#if MICROPY_PY_OPENAMP_AMP_TRACE
static mp_obj_t rproc_trace(size_t n_args, const mp_obj_t *args)
{
    owned(args[0]);
    mp_obj_t i_o = n_args > 1 ? args[1] : MP_OBJ_NEW_SMALL_INT(0);
    mp_int_t i = mp_obj_get_int_truncated(i_o);
    if ((mp_obj_is_int(i_o) && !mp_obj_is_small_int(i_o)) || i < 0 || (uint64_t)i >= UINT32_MAX)
        i = UINT32_MAX - 1; /* negative or huge: beyond any table (ENOENT), never wrapped */
    vstr_t v;
    vstr_init_len(&v, 4096);
    int n;
    NOINTR(n = ampy_rproc_trace(ampy_dev_peek(), (uint32_t)i, v.buf, v.len));
    if (n < 0) {
        vstr_clear(&v);
        raise_errno(n, WHY("no such trace buffer"));
    }
    v.len = (size_t)n;
    return mp_obj_new_str_from_vstr(&v);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(rproc_trace_obj, 1, 2, rproc_trace);
#endif

#if MICROPY_PY_OPENAMP_AMP_ATTRS
static void rproc_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest)
{
    rproc_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (dest[0] == MP_OBJ_NULL && attr == MP_QSTR_state) {
        struct ampy_dev *d = ampy_dev_peek();
        enum amp_rproc_state s = AMP_RPROC_OFFLINE;
        if (self->loaded && rproc_owner == self_in && d)
            NOINTR(s = ampy_rproc_state(d));
        dest[0] = mp_obj_new_str_from_cstr(amp_rproc_state_name(s));
        return;
    }
    dest[1] = MP_OBJ_SENTINEL;
}
#define RPROC_ATTR attr, rproc_attr,
#else
#define RPROC_ATTR
#endif

static const mp_rom_map_elem_t rproc_locals_table[] = {
    {MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&rproc_shutdown_obj)},
    {MP_ROM_QSTR(MP_QSTR_start), MP_ROM_PTR(&rproc_start_obj)},
    {MP_ROM_QSTR(MP_QSTR_stop), MP_ROM_PTR(&rproc_stop_obj)},
    {MP_ROM_QSTR(MP_QSTR_shutdown), MP_ROM_PTR(&rproc_shutdown_obj)},
#if MICROPY_PY_OPENAMP_AMP_TRACE
    {MP_ROM_QSTR(MP_QSTR_trace), MP_ROM_PTR(&rproc_trace_obj)},
#endif
};
static MP_DEFINE_CONST_DICT(rproc_locals, rproc_locals_table);

static MP_DEFINE_CONST_OBJ_TYPE(rproc_type, MP_QSTR_RemoteProc, MP_TYPE_FLAG_NONE, make_new, rproc_make_new,
                                RPROC_ATTR locals_dict, &rproc_locals);

/* ==== Module ==== */

static mp_obj_t mod_new_service_callback(mp_obj_t cb)
{
    if (cb != mp_const_none && !mp_obj_is_callable(cb)) /* ValueError: as upstream */
        mp_raise_ValueError(MP_ERROR_TEXT("ns_callback must be callable or None"));
    struct ampy_dev *d = device();
    MP_STATE_PORT(openamp_ns_callback) = cb == mp_const_none ? MP_OBJ_NULL : cb;
    NOINTR(ampy_set_ns(d, cb != mp_const_none));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(mod_new_service_callback_obj, mod_new_service_callback);

static mp_obj_t mod_shutdown(void)
{
    closes++;
    NOINTR(ampy_dev_close());
    rproc_owner = MP_OBJ_NULL;
    MP_STATE_PORT(openamp_ns_callback) = MP_OBJ_NULL;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(mod_shutdown_obj, mod_shutdown);

/* _stats(): the counters, for tests (amptest.quiescent) and debugging; a
 * small target may leave it out (MICROPY_PY_OPENAMP_AMP_STATS 0). */
#ifndef MICROPY_PY_OPENAMP_AMP_STATS
#define MICROPY_PY_OPENAMP_AMP_STATS (1)
#endif
#if MICROPY_PY_OPENAMP_AMP_STATS
static mp_obj_t mod_stats(void)
{
    struct ampy_dev *d = ampy_dev_peek();
    mp_obj_t dict = mp_obj_new_dict(0);
    if (!d)
        return dict;
    struct amp_rpmsg_stats st;
    NOINTR(amp_rpmsg_get_stats(d->rpmsg, &st));
    const struct {
        qstr key;
        uint32_t val;
    } f[] = {{MP_QSTR_rx, st.rx},         {MP_QSTR_tx, st.tx},
             {MP_QSTR_ring_errors, st.ring_errors}, {MP_QSTR_msg_errors, st.msg_errors},
             {MP_QSTR_dropped, st.dropped}, {MP_QSTR_rx_held, st.rx_held},
             {MP_QSTR_tx_held, st.tx_held}, {MP_QSTR_tx_free, st.tx_free},
             {MP_QSTR_tx_total, st.tx_total}, {MP_QSTR_rx_queued, st.rx_queued},
             {MP_QSTR_tx_queued, st.tx_queued}, {MP_QSTR_lost, d->lost}};
    for (size_t i = 0; i < MP_ARRAY_SIZE(f); i++)
        mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(f[i].key), mp_obj_new_int_from_uint(f[i].val));
    return dict;
}
static MP_DEFINE_CONST_FUN_OBJ_0(mod_stats_obj, mod_stats);
#endif

/* ENDPOINT_ADDR_ANY is 0xFFFFFFFF. A small int holds it on 64-bit ports;
 * on 32-bit ones it is made on demand as a long int (where there are
 * none it is -1, upstream's value there; every address argument takes -1). */
#if MICROPY_OBJ_REPR != MICROPY_OBJ_REPR_D && UINTPTR_MAX > 0xFFFFFFFFu
#define ADDR_ANY_ROM MP_ROM_INT(AMP_ADDR_ANY)
#elif MICROPY_LONGINT_IMPL != MICROPY_LONGINT_IMPL_NONE && MICROPY_MODULE_GETATTR
#define ADDR_ANY_GETATTR 1
static mp_obj_t mod_getattr(mp_obj_t attr)
{
    if (mp_obj_str_get_qstr(attr) == MP_QSTR_ENDPOINT_ADDR_ANY)
        return mp_obj_new_int_from_uint(AMP_ADDR_ANY);
    return MP_OBJ_NULL; /* AttributeError */
}
static MP_DEFINE_CONST_FUN_OBJ_1(mod_getattr_obj, mod_getattr);
#else
#define ADDR_ANY_ROM MP_ROM_INT(-1)
#endif

static const mp_rom_map_elem_t openamp_globals_table[] = {
    {MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_openamp)},
#ifdef ADDR_ANY_GETATTR
    {MP_ROM_QSTR(MP_QSTR___getattr__), MP_ROM_PTR(&mod_getattr_obj)},
#else
    {MP_ROM_QSTR(MP_QSTR_ENDPOINT_ADDR_ANY), ADDR_ANY_ROM},
#endif
    {MP_ROM_QSTR(MP_QSTR_new_service_callback), MP_ROM_PTR(&mod_new_service_callback_obj)},
    {MP_ROM_QSTR(MP_QSTR_Endpoint), MP_ROM_PTR(&endpoint_type)},
    {MP_ROM_QSTR(MP_QSTR_RemoteProc), MP_ROM_PTR(&rproc_type)},
    {MP_ROM_QSTR(MP_QSTR__shutdown), MP_ROM_PTR(&mod_shutdown_obj)},
#if MICROPY_PY_OPENAMP_AMP_STATS
    {MP_ROM_QSTR(MP_QSTR__stats), MP_ROM_PTR(&mod_stats_obj)},
#endif
};
static MP_DEFINE_CONST_DICT(openamp_globals, openamp_globals_table);

const mp_obj_module_t openamp_amp_module = {
    .base = {&mp_type_module},
    .globals = (mp_obj_dict_t *)&openamp_globals,
};

MP_REGISTER_ROOT_POINTER(mp_obj_t openamp_ns_callback);
MP_REGISTER_MODULE(MP_QSTR_openamp, openamp_amp_module);

#endif /* MICROPY_PY_OPENAMP_AMP */
