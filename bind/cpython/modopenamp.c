/*
 * modopenamp.c - the `openamp` module for CPython (as openamp._openamp;
 * the package adds asyncio helpers). Only marshalling lives here: queues,
 * the device and the remote are bind/ampy.c and the platform.
 *
 * Threads: messages are queued by the platform's service thread. On the
 * virtual core that same thread then takes the GIL, once per batch, and
 * runs the callbacks (ampy_linux.h); on the kernel backend a dispatcher
 * thread of ours does. Either way they run while the main thread sleeps,
 * blocks or spins, one thread at a time, in order. A callback that would
 * wait on the service thread pumps its work instead (sliced()). Blocking
 * calls release the GIL and wake up every 100 ms to let Ctrl-C through;
 * a send that finds a buffer free keeps the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <pthread.h>
#include <structmember.h>

#include "amp_linux.h"
#include "ampy.h"
#include "ampy_kernel.h"
#include "ampy_linux.h"

#define SLICE_MS 100 /* longest uninterruptible wait */
/* A send from a callback waits at most this long for a free buffer: the
 * remote may be waiting for buffers that events queued behind this very
 * callback hold, and every other callback waits meanwhile. */
#define CB_SEND_MAX_MS 500
/* At exit, _shutdown waits this long for a callback that is running to
 * return; then it gives it up, and its thread, for the process to end. */
#define EXIT_WAIT_MS 2000

static PyObject *ns_callback;   /* the new-service callback, or NULL */
static pthread_t dispatcher;    /* the kernel backend's: runs the callbacks */
static bool dispatcher_running;
static bool service_delivers;   /* the virtual core's service thread runs them */
static __thread bool delivering;  /* this thread is running callbacks */
static __thread bool on_service;  /* ... and it is the service thread */
static PyObject *rproc_owner;   /* borrowed: the RemoteProc that loaded the image */
static __thread bool may_interrupt; /* this thread's life-cycle call may be given up */
static int cb_running;          /* threads inside deliver_all (atomic) */

/* ==== Errors ==== */

static PyObject *raise_errno(int err, const char *why)
{
    int e = err < 0 ? -err : err;
    PyObject *args = Py_BuildValue("(is)", e, why && *why ? why : ampy_strerror(err));
    if (args) {
        PyErr_SetObject(PyExc_OSError, args); /* OSError(ETIMEDOUT) becomes TimeoutError, etc. */
        Py_DECREF(args);
    }
    return NULL;
}

static struct ampy_dev *device(void)
{
    int err = 0;
    struct ampy_dev *d = ampy_dev_get(&err);
    const char *be = ampy_plat_backend();
    if (!d)
        raise_errno(err, *ampy_open_why            ? ampy_open_why
                         : err == -EPERM           ? NULL
                         : !be                     ? "AMP_PLATFORM must be 'kernel' or 'virtual'"
                         : !strcmp(be, "kernel")   ? "cannot set up the kernel's rpmsg"
                                                   : "cannot set up the virtual core");
    return d;
}

/* An address argument: -1 means "default", else 0 .. 0xFFFFFFFF. */
static int get_addr(PyObject *o, uint32_t *out, bool minus_one_ok, const char *what)
{
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int", what);
        return -1;
    }
    int over;
    long long v = PyLong_AsLongLongAndOverflow(o, &over);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (!over && v == -1 && minus_one_ok) {
        *out = AMP_ADDR_ANY;
        return 0;
    }
    if (over || v < 0 || v > 0xFFFFFFFFLL) { /* (over: wider than 64 bits) */
        PyErr_Format(PyExc_ValueError, "%s out of range: %R (0 to 0xFFFFFFFF)", what, o);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int get_timeout(PyObject *o, int32_t *out)
{
    if (!PyLong_Check(o)) {
        PyErr_SetString(PyExc_TypeError, "timeout must be an int (milliseconds, -1: forever)");
        return -1;
    }
    int over;
    long long v = PyLong_AsLongLongAndOverflow(o, &over);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (over || v < -1 || v > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "timeout out of range: %R (-1 or 0 to %d ms)", o, INT32_MAX);
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ==== The message buffer given to callbacks ==== */

/* Exports the shared buffer of one message. The memoryview handed to the
 * callback is released when it returns; if the callback kept a slice, the
 * buffer goes back to the remote only when the last one is gone. */
typedef struct {
    PyObject_HEAD
    struct ampy_ev ev;
    Py_ssize_t exports;
    bool done; /* the callback returned: give the buffer back at 0 exports */
} RxBufObject;

static int rx_kept; /* RxBufs that hold a message (atomic: _shutdown reads it without the GIL) */

static void rxbuf_give_back(RxBufObject *self)
{
    struct ampy_dev *d = ampy_dev_peek();
    if (self->ev.data) {
        __atomic_sub_fetch(&rx_kept, 1, __ATOMIC_SEQ_CST);
        if (d)
            ampy_release(d, &self->ev);
    }
    self->ev.data = NULL;
}

static int rxbuf_getbuffer(PyObject *o, Py_buffer *view, int flags)
{
    RxBufObject *self = (RxBufObject *)o;
    if (!self->ev.data || self->done) {
        PyErr_SetString(PyExc_BufferError, "the message buffer was given back to the remote");
        return -1;
    }
    if (PyBuffer_FillInfo(view, o, self->ev.data, self->ev.len, 1, flags) < 0)
        return -1;
    self->exports++;
    return 0;
}

static void rxbuf_releasebuffer(PyObject *o, Py_buffer *view)
{
    RxBufObject *self = (RxBufObject *)o;
    (void)view;
    if (--self->exports == 0 && self->done)
        rxbuf_give_back(self);
}

static void rxbuf_dealloc(PyObject *o)
{
    rxbuf_give_back((RxBufObject *)o);
    Py_TYPE(o)->tp_free(o);
}

static PyBufferProcs rxbuf_as_buffer = {rxbuf_getbuffer, rxbuf_releasebuffer};

static PyTypeObject RxBufType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "openamp._RxBuffer",
    .tp_basicsize = sizeof(RxBufObject),
    .tp_dealloc = rxbuf_dealloc,
    .tp_as_buffer = &rxbuf_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
};

/* ==== Endpoint ==== */

typedef struct {
    PyObject_HEAD
    struct ampy_ept e;
    PyObject *callback; /* NULL: messages queue for recv() */
    PyObject *name;
    PyObject *weakrefs;
    bool zero_copy; /* callbacks get a memoryview of the buffer, not a bytearray copy */
    uint32_t calls; /* threads inside sliced() on it, the GIL let go (changed with the GIL) */
} EndpointObject;

static PyTypeObject EndpointType;
static struct ampy_dev *device_running(void);

static bool check_open(EndpointObject *self)
{
    if (self->e.open)
        return true;
    raise_errno(ampy_gone(&self->e), NULL); /* by the program, or at exit */
    return false;
}

static int endpoint_init(EndpointObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "callback", "src", "dest", "zero_copy", NULL};
    PyObject *name, *cb = Py_None, *src_o = NULL, *dest_o = NULL;
    int zero_copy = 0;
    uint32_t src = AMP_ADDR_ANY, dest = AMP_ADDR_ANY;
    if (self->e.open) {
        PyErr_SetString(PyExc_RuntimeError, "Endpoint already initialised");
        return -1;
    }
    if (self->calls) { /* deinit() let them go; they have yet to return */
        PyErr_SetString(PyExc_RuntimeError,
                        "Endpoint still in use: a call on another thread has yet to return");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "U|OOO$p:Endpoint", kwlist, &name, &cb, &src_o, &dest_o,
                                     &zero_copy))
        return -1;
    Py_ssize_t nlen;
    const char *cname = PyUnicode_AsUTF8AndSize(name, &nlen);
    if (!cname)
        return -1;
    if (nlen >= AMP_RPMSG_NAME_SIZE || (Py_ssize_t)strlen(cname) != nlen) {
        PyErr_Format(PyExc_ValueError, "name must be at most %d bytes of UTF-8 without NUL",
                     AMP_RPMSG_NAME_SIZE - 1);
        return -1;
    }
    if (cb != Py_None && !PyCallable_Check(cb)) {
        PyErr_SetString(PyExc_TypeError, "callback must be callable or None");
        return -1;
    }
    if ((src_o && get_addr(src_o, &src, true, "src") < 0) || /* -1: ANY, as upstream on 32-bit */
        (dest_o && get_addr(dest_o, &dest, true, "dest") < 0))
        return -1;
    if (src == AMP_RPMSG_NS_ADDR || dest == AMP_RPMSG_NS_ADDR) {
        PyErr_Format(PyExc_ValueError, "%s 53 is the name service's address",
                     src == AMP_RPMSG_NS_ADDR ? "src" : "dest");
        return -1;
    }
    struct ampy_dev *d = device_running();
    if (!d)
        return -1;
    Py_XSETREF(self->callback, cb == Py_None ? NULL : Py_NewRef(cb));
    Py_XSETREF(self->name, Py_NewRef(name));
    self->zero_copy = zero_copy;
    int err = ampy_ept_init(&self->e, d, cname, src, dest, self->callback != NULL, self);
    if (!err && self->e.fd < 0) { /* (Linux: every endpoint has one) */
        err = self->e.fd < -1 ? self->e.fd : -EMFILE;
        ampy_ept_deinit(&self->e);
        raise_errno(err, "no file descriptor for the endpoint: each one holds one (see fileno())");
        return -1;
    }
    if (err) {
        raise_errno(err, err == -EADDRINUSE ? "src address already in use"
                         : d->link ? ampy_rproc_why(d) /* the platform's words: which file */
                                   : NULL);
        return -1;
    }
    return 0;
}

static PyObject *endpoint_deinit(EndpointObject *self, PyObject *unused)
{
    (void)unused;
    ampy_ept_deinit(&self->e);
    Py_RETURN_NONE;
}

static void endpoint_dealloc(EndpointObject *self)
{
    PyObject_GC_UnTrack(self);
    if (self->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)self);
    ampy_ept_deinit(&self->e);
    Py_CLEAR(self->callback);
    Py_CLEAR(self->name);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int endpoint_traverse(EndpointObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->callback);
    return 0;
}

static int endpoint_clear(EndpointObject *self)
{
    Py_CLEAR(self->callback);
    return 0;
}

static PyObject *endpoint_is_ready(EndpointObject *self, PyObject *unused)
{
    (void)unused;
    if (!check_open(self))
        return NULL;
    return PyBool_FromLong(ampy_ept_ready(&self->e));
}

/* Run op(self, arg, slice) in slices of at most SLICE_MS with the GIL
 * released, until it says something other than -ETIMEDOUT/-EAGAIN or
 * timeout ms (-1: no limit) have passed, looking for Ctrl-C in between.
 * Returns op's result (a timeout as -ETIMEDOUT, or -EAGAIN for timeout 0),
 * or INT_MIN with a Python exception set. */
typedef int (*sliced_op)(EndpointObject *self, const void *arg, int32_t slice_ms);

static int sliced_(EndpointObject *self, sliced_op op, const void *arg, int32_t timeout)
{
    double t0 = now_ms();
    for (;;) {
        int32_t slice = SLICE_MS;
        if (timeout >= 0) {
            double left = timeout - (now_ms() - t0);
            slice = left <= 0 ? 0 : left < SLICE_MS ? (int32_t)left : SLICE_MS;
        }
        int r;
        Py_BEGIN_ALLOW_THREADS
        if (on_service) {
            /* only this thread would wake us: look, and do its work (poll
             * the rings, see a death) until there is something to see */
            struct ampy_dev *d = ampy_dev_peek();
            r = op(self, arg, 0);
            if ((r == -EAGAIN || r == -ETIMEDOUT) && slice > 0)
                r = d && ampy_linux_pump(d, slice) == 0 ? op(self, arg, 0) : -ESHUTDOWN;
        } else {
            r = op(self, arg, slice);
        }
        Py_END_ALLOW_THREADS
        if (r >= 0 || (r != -ETIMEDOUT && r != -EAGAIN))
            return r;
        if (timeout == 0)
            return -EAGAIN;
        if (timeout > 0 && now_ms() - t0 >= timeout)
            return -ETIMEDOUT;
        if (PyErr_CheckSignals() < 0)
            return INT_MIN;
    }
}

/* sliced_, counted: __init__ may not remake the endpoint under a call */
static int sliced(EndpointObject *self, sliced_op op, const void *arg, int32_t timeout)
{
    self->calls++;
    int r = sliced_(self, op, arg, timeout);
    self->calls--;
    return r;
}

struct send_args {
    uint32_t src, dst;
    const void *p;
    size_t len;
};

static int send_op(EndpointObject *self, const void *arg, int32_t slice)
{
    const struct send_args *a = arg;
    return ampy_send(&self->e, a->src, a->dst, a->p, a->len, slice);
}

static bool in_callback(void)
{
    return delivering;
}

/* Send one message: its length, or -1 with an exception set. With
 * short_ok, running out of time is no exception but -2. */
static Py_ssize_t send_one_ex(EndpointObject *self, uint32_t src, uint32_t dst, const void *p,
                              size_t len, int32_t timeout, bool short_ok)
{
    struct send_args a = {src, dst, p, len};
    bool capped = in_callback() && (timeout < 0 || timeout > CB_SEND_MAX_MS);
    /* On the virtual core a free buffer is the usual case: take it without
     * giving up the GIL (which would hand it to the delivering thread for
     * every message). The kernel backend's messages wait for a dispatcher
     * that needs the GIL, in a queue that drops what overflows: there
     * every send lets it go, so that the dispatcher keeps up. */
    int r = -EAGAIN;
    bool bound; /* when the call began: a link that goes down meanwhile is a reset */
    if (service_delivers) {
        r = ampy_send(&self->e, src, dst, p, len, 0);
        bound = r >= 0 || r == -EAGAIN; /* (-EAGAIN: bound, no buffer free) */
    } else {
        bound = ampy_ept_ready(&self->e);
    }
    if (r == -EAGAIN && (timeout != 0 || !service_delivers))
        r = sliced(self, send_op, &a, capped ? CB_SEND_MAX_MS : timeout);
    if (r == -ENOTCONN && bound)
        r = -ECONNRESET;
    if (r >= 0 || r == INT_MIN)
        return r >= 0 ? r : -1;
    if (short_ok && (r == -ETIMEDOUT || r == -EAGAIN))
        return -2;
    raise_errno(r, r == -ECONNRESET && ampy_dev_peek() ? ampy_rproc_why(ampy_dev_peek())
                   : r == -ETIMEDOUT && capped
                       ? "no free buffer within 500 ms: a callback may not wait longer (the "
                         "remote may need the buffers that messages queued behind it hold)"
                       : NULL);
    return -1;
}

static Py_ssize_t send_one(EndpointObject *self, uint32_t src, uint32_t dst, const void *p,
                           size_t len, int32_t timeout)
{
    return send_one_ex(self, src, dst, p, len, timeout, false);
}

static PyObject *endpoint_send(EndpointObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"data", "src", "dest", "timeout", NULL};
    PyObject *data, *src_o = NULL, *dest_o = NULL, *to_o = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOO:send", kwlist, &data, &src_o, &dest_o, &to_o))
        return NULL;
    uint32_t src = AMP_ADDR_ANY, dst = AMP_ADDR_ANY;
    int32_t timeout = -1;
    if ((src_o && get_addr(src_o, &src, true, "src") < 0) ||
        (dest_o && get_addr(dest_o, &dst, true, "dest") < 0) || (to_o && get_timeout(to_o, &timeout) < 0))
        return NULL;
    if (src == AMP_RPMSG_NS_ADDR || dst == AMP_RPMSG_NS_ADDR) {
        PyErr_Format(PyExc_ValueError, "%s 53 is the name service's address",
                     src == AMP_RPMSG_NS_ADDR ? "src" : "dest");
        return NULL;
    }
    if (!check_open(self))
        return NULL;
    Py_buffer b;
    PyObject *bytes = NULL;
    if (PyUnicode_Check(data)) {
        bytes = PyUnicode_AsUTF8String(data);
        if (!bytes)
            return NULL;
        data = bytes;
    }
    if (PyObject_GetBuffer(data, &b, PyBUF_SIMPLE) < 0) {
        Py_XDECREF(bytes);
        return NULL;
    }
    Py_ssize_t r;
    uint32_t max = ampy_max_payload(ampy_dev_peek());
    if ((size_t)b.len > max) {
        char why[96];
        snprintf(why, sizeof(why), "message of %zd bytes is larger than one buffer (%u bytes)", b.len,
                 max);
        raise_errno(-EMSGSIZE, why);
        r = -1;
    } else {
        r = send_one(self, src, dst, b.buf, (size_t)b.len, timeout);
    }
    PyBuffer_Release(&b);
    Py_XDECREF(bytes);
    return r < 0 ? NULL : PyLong_FromSsize_t(r);
}

static int readable_op(EndpointObject *self, const void *arg, int32_t slice)
{
    return ampy_wait_readable_since(&self->e, slice, arg);
}

/* Wait until a message is queued: 0, or -1 with an exception set. A link
 * that went down since *mark (taken when the call began) raises
 * ConnectionResetError. */
static int wait_readable(EndpointObject *self, int32_t timeout, const struct ampy_mark *mark)
{
    if (self->callback) {
        PyErr_SetString(PyExc_ValueError,
                        "this endpoint has a callback; recv/read are for callback=None endpoints");
        return -1;
    }
    int r = sliced(self, readable_op, mark, timeout);
    if (r >= 0 || r == INT_MIN)
        return r >= 0 ? 0 : -1;
    /* A loss is reported once to each waiter with a mark (this call), and
     * once to the first look with none (timeout 0: a select/asyncio user,
     * woken by the descriptor): either way it is news no more after. */
    int lost = r == -EAGAIN || r == -ECONNRESET ? ampy_take_lost(&self->e) : 0;
    bool probe = r == -EAGAIN && lost;
    if (probe)
        r = lost;
    struct ampy_dev *d = ampy_dev_peek();
    raise_errno(r, r == -ETIMEDOUT  ? "timed out waiting for a message"
                  : r == -EAGAIN    ? "no message queued (timeout=0)"
                  : r == -ECONNRESET && d && *ampy_rproc_why(d) ? ampy_rproc_why(d)
                  : r == -ECONNRESET && probe ? "the remote crashed or was stopped"
                  : r == -ECONNRESET ? "the remote crashed or was stopped while we waited"
                                     : NULL);
    return -1;
}

static PyObject *endpoint_recv(EndpointObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"n", "timeout", NULL};
    Py_ssize_t n = -1;
    PyObject *to_o = NULL;
    int32_t timeout = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|nO:recv", kwlist, &n, &to_o))
        return NULL;
    if ((to_o && get_timeout(to_o, &timeout) < 0) || !check_open(self))
        return NULL;
    if (n < -1) {
        PyErr_SetString(PyExc_ValueError, "n must be -1 (the whole message) or >= 0");
        return NULL;
    }
    struct ampy_mark mark;
    ampy_mark(&self->e, &mark);
    for (;;) {
        if (wait_readable(self, timeout, &mark) < 0)
            return NULL;
        int len = ampy_head_len(&self->e);
        if (len < 0)
            continue; /* dropped: it was from a link that went down */
        Py_ssize_t want = n < 0 || n > len ? len : n;
        PyObject *out = PyBytes_FromStringAndSize(NULL, want);
        if (!out)
            return NULL;
        size_t got = ampy_read(&self->e, PyBytes_AS_STRING(out), (size_t)want, false);
        if ((Py_ssize_t)got != want)
            _PyBytes_Resize(&out, (Py_ssize_t)got);
        return out;
    }
}

/* After a first ampy_read into buf: the rest of what is queued, while buf
 * has room (ampy_read takes at most 16 messages a call). */
static size_t read_on(EndpointObject *self, char *buf, size_t got, size_t cap)
{
    size_t k;
    while (got < cap && (k = ampy_read(&self->e, buf + got, cap - got, true)) > 0)
        got += k;
    return got;
}

/* Stream protocol: read(n=-1) waits for data, then returns up to n bytes
 * (all that is queued for n=-1), across message boundaries. */
static PyObject *endpoint_read(EndpointObject *self, PyObject *args)
{
    Py_ssize_t n = -1;
    if (!PyArg_ParseTuple(args, "|n:read", &n) || !check_open(self))
        return NULL;
    if (n == 0) /* as a file: nothing asked, nothing waited for */
        return PyBytes_FromStringAndSize(NULL, 0);
    struct ampy_mark mark;
    ampy_mark(&self->e, &mark);
    if (wait_readable(self, -1, &mark) < 0)
        return NULL;
    Py_ssize_t cap = n >= 0 ? n : 65536;
    PyObject *out = PyBytes_FromStringAndSize(NULL, cap);
    if (!out)
        return NULL;
    size_t got;
    /* empty messages carry no bytes: b"" from a stream means end of file */
    while ((got = ampy_read(&self->e, PyBytes_AS_STRING(out), (size_t)cap, true)) == 0 && cap > 0) {
        if (wait_readable(self, -1, &mark) < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    got = read_on(self, PyBytes_AS_STRING(out), got, (size_t)cap);
    while (n < 0 && got == (size_t)cap && ampy_head_len(&self->e) >= 0) { /* -1: all of it */
        if (_PyBytes_Resize(&out, cap *= 2) < 0)
            return NULL;
        got = read_on(self, PyBytes_AS_STRING(out), got, (size_t)cap);
    }
    _PyBytes_Resize(&out, (Py_ssize_t)got);
    return out;
}

static PyObject *endpoint_readinto(EndpointObject *self, PyObject *args)
{
    Py_buffer b;
    if (!PyArg_ParseTuple(args, "w*:readinto", &b))
        return NULL;
    if (!check_open(self) || b.len == 0) { /* readinto(empty): 0 at once, as a file */
        PyBuffer_Release(&b);
        return PyErr_Occurred() ? NULL : PyLong_FromLong(0);
    }
    struct ampy_mark mark;
    ampy_mark(&self->e, &mark);
    if (wait_readable(self, -1, &mark) < 0) {
        PyBuffer_Release(&b);
        return NULL;
    }
    size_t got;
    while ((got = ampy_read(&self->e, b.buf, (size_t)b.len, true)) == 0 && b.len > 0) {
        if (wait_readable(self, -1, &mark) < 0) { /* only empty messages: wait for bytes */
            PyBuffer_Release(&b);
            return NULL;
        }
    }
    got = read_on(self, b.buf, got, (size_t)b.len);
    PyBuffer_Release(&b);
    return PyLong_FromSize_t(got);
}

/* Stream protocol: write(data, timeout=-1) sends all of it, as several
 * messages when it is larger than one buffer, waiting for buffers up to
 * timeout ms in all. If the time runs out after some of it went: the
 * bytes sent (a short write); before any: TimeoutError. */
static PyObject *endpoint_write(EndpointObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"data", "timeout", NULL};
    Py_buffer b;
    PyObject *to_o = NULL;
    int32_t timeout = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|O:write", kwlist, &b, &to_o))
        return NULL;
    if ((to_o && get_timeout(to_o, &timeout) < 0) || !check_open(self)) {
        PyBuffer_Release(&b);
        return NULL;
    }
    size_t max = ampy_max_payload(ampy_dev_peek()), off = 0;
    double t0 = now_ms();
    while (off < (size_t)b.len) { /* write(b"") sends nothing */
        size_t k = (size_t)b.len - off < max ? (size_t)b.len - off : max;
        int32_t left = timeout;
        if (timeout > 0) {
            double l = timeout - (now_ms() - t0);
            left = l <= 0 ? 0 : (int32_t)l;
        }
        Py_ssize_t r = send_one_ex(self, AMP_ADDR_ANY, AMP_ADDR_ANY, (uint8_t *)b.buf + off, k, left,
                                   off > 0);
        if (r == -2)
            break; /* out of time after some: a short write */
        if (r < 0) {
            PyBuffer_Release(&b);
            return NULL;
        }
        off += k;
    }
    PyBuffer_Release(&b);
    return PyLong_FromSize_t(off);
}

static PyObject *endpoint_fileno(EndpointObject *self, PyObject *unused)
{
    (void)unused;
    if (!check_open(self))
        return NULL;
    if (self->e.fd < 0)
        return raise_errno(-ENOTSUP, "this platform has no descriptor to wait on");
    return PyLong_FromLong(self->e.fd);
}

static PyObject *endpoint_enter(EndpointObject *self, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(self);
}

static PyObject *endpoint_exit(EndpointObject *self, PyObject *args)
{
    (void)args;
    ampy_ept_deinit(&self->e);
    Py_RETURN_FALSE;
}

static PyObject *endpoint_get_src(EndpointObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLong(self->e.ept.addr);
}

static PyObject *endpoint_get_dest(EndpointObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLong(self->e.ept.dest);
}

static PyObject *endpoint_repr(EndpointObject *self)
{
    if (!self->e.open)
        return PyUnicode_FromFormat("<Endpoint %R deinitialised>", self->name ? self->name : Py_None);
    return PyUnicode_FromFormat("<Endpoint %R src=%lu dest=%s%lu%s (%s)>", self->name,
                                (unsigned long)self->e.ept.addr,
                                self->e.ept.dest == AMP_ADDR_ANY ? "ANY(" : "",
                                (unsigned long)self->e.ept.dest, self->e.ept.dest == AMP_ADDR_ANY ? ")" : "",
                                ampy_plat_backend());
}

static PyMethodDef endpoint_methods[] = {
    {"deinit", (PyCFunction)endpoint_deinit, METH_NOARGS, "Destroy the endpoint."},
    {"is_ready", (PyCFunction)endpoint_is_ready, METH_NOARGS, "Bound both ways?"},
    {"send", (PyCFunction)(void (*)(void))endpoint_send, METH_VARARGS | METH_KEYWORDS,
     "send(data, src=-1, dest=-1, timeout=-1) -> bytes sent"},
    {"recv", (PyCFunction)(void (*)(void))endpoint_recv, METH_VARARGS | METH_KEYWORDS,
     "recv(n=-1, timeout=-1) -> the next message (or its first n bytes)"},
    {"read", (PyCFunction)endpoint_read, METH_VARARGS, "read(n=-1) -> bytes (stream)"},
    {"readinto", (PyCFunction)endpoint_readinto, METH_VARARGS, "readinto(buf) -> n (stream)"},
    {"write", (PyCFunction)(void (*)(void))endpoint_write, METH_VARARGS | METH_KEYWORDS,
     "write(data, timeout=-1) -> n (stream; fewer than len(data) if the time ran out)"},
    {"fileno", (PyCFunction)endpoint_fileno, METH_NOARGS,
     "A descriptor readable while messages wait, and once the link went down (recv(timeout=0) "
     "then raises ConnectionResetError, once)."},
    {"__enter__", (PyCFunction)endpoint_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)endpoint_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef endpoint_getset[] = {
    {"src", (getter)endpoint_get_src, NULL, "Our address.", NULL},
    {"dest", (getter)endpoint_get_dest, NULL, "The peer's address (ENDPOINT_ADDR_ANY: unbound).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef endpoint_members[] = {
    {"name", T_OBJECT, offsetof(EndpointObject, name), READONLY, "The endpoint's name."},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(EndpointObject, weakrefs), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject EndpointType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "openamp.Endpoint",
    .tp_doc = "Endpoint(name, callback=None, src=ENDPOINT_ADDR_ANY, dest=ENDPOINT_ADDR_ANY, *, zero_copy=False)",
    .tp_basicsize = sizeof(EndpointObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)endpoint_init,
    .tp_dealloc = (destructor)endpoint_dealloc,
    .tp_traverse = (traverseproc)endpoint_traverse,
    .tp_clear = (inquiry)endpoint_clear,
    .tp_repr = (reprfunc)endpoint_repr,
    .tp_methods = endpoint_methods,
    .tp_getset = endpoint_getset,
    .tp_members = endpoint_members,
    .tp_weaklistoffset = offsetof(EndpointObject, weakrefs),
};

/* ==== Delivering events (GIL held) ==== */

/* cb(src, data): the callback's result, or NULL with an exception set. */
static PyObject *call_cb(PyObject *cb, uint32_t src, PyObject *data)
{
    PyObject *args[2] = {PyLong_FromUnsignedLong(src), data};
    if (!args[0])
        return NULL;
    PyObject *res = PyObject_Vectorcall(cb, args, 2, NULL);
    Py_DECREF(args[0]);
    return res;
}

static void deliver_msg(const struct ampy_ev *ev)
{
    EndpointObject *self = ev->ept->obj;
    PyObject *cb = self->callback;
    if (cb && !self->zero_copy) { /* a bytearray copy, upstream's type; the buffer goes back now */
        PyObject *data = PyByteArray_FromStringAndSize(ev->data, (Py_ssize_t)ev->len);
        struct ampy_dev *d = ampy_dev_peek();
        if (d)
            ampy_release(d, ev);
        Py_INCREF(cb);
        PyObject *res = data ? call_cb(cb, ev->src, data) : NULL;
        if (!res)
            PyErr_WriteUnraisable(cb);
        Py_XDECREF(res);
        Py_XDECREF(data);
        Py_DECREF(cb);
        return;
    }
    RxBufObject *rb = cb ? PyObject_New(RxBufObject, &RxBufType) : NULL;
    if (!rb) { /* (no callback: cleared by the collector while this waited) */
        struct ampy_dev *d = ampy_dev_peek();
        if (d)
            ampy_release(d, ev);
        Py_XDECREF(rb);
        PyErr_Clear();
        return;
    }
    rb->ev = *ev;
    __atomic_add_fetch(&rx_kept, 1, __ATOMIC_SEQ_CST);
    rb->exports = 0;
    rb->done = false;
    Py_INCREF(self);
    Py_INCREF(cb);
    PyObject *mv = PyMemoryView_FromObject((PyObject *)rb);
    PyObject *res = mv ? call_cb(cb, ev->src, mv) : NULL;
    if (!res)
        PyErr_WriteUnraisable(cb);
    Py_XDECREF(res);
    rb->done = true;
    if (mv) {
        /* a kept `data` now raises; slices keep the buffer until they go */
        PyObject *r = PyObject_CallMethod(mv, "release", NULL);
        if (!r)
            PyErr_Clear();
        Py_XDECREF(r);
        Py_DECREF(mv);
    }
    if (rb->exports == 0)
        rxbuf_give_back(rb);
    Py_DECREF(rb);
    Py_DECREF(cb);
    Py_DECREF(self);
}

/* An announced name (NUL-terminated within its field) as a str: as it is
 * if UTF-8, else in ASCII with each byte above 0x7F as \xNN and a
 * backslash as \\, every other byte as it is (two names that are not
 * UTF-8 never read the same; a UTF-8 name, as it is, may read as one),
 * as the MicroPython module gives it. A peer may announce any bytes: the
 * program still sees the service, and reaches it by its address. (At
 * most 4 characters a byte, for the 31 bytes of a name.) */
static PyObject *ns_name(const char *name)
{
    size_t n = strlen(name);
    PyObject *s = PyUnicode_DecodeUTF8(name, (Py_ssize_t)n, NULL);
    if (s || !PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
        return s;
    PyErr_Clear();
    char esc[4 * AMP_RPMSG_NAME_SIZE];
    size_t k = 0;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        if (*c == '\\') {
            esc[k++] = '\\';
            esc[k++] = '\\';
        } else if (*c < 0x80)
            esc[k++] = (char)*c;
        else
            k += (size_t)snprintf(esc + k, sizeof(esc) - k, "\\x%02x", *c);
    }
    return PyUnicode_FromStringAndSize(esc, (Py_ssize_t)k);
}

static void deliver_ns(const struct ampy_ev *ev)
{
    PyObject *cb = ns_callback;
    if (!cb)
        return;
    Py_INCREF(cb);
    PyObject *name = ns_name(ev->name);
    PyObject *res = name ? PyObject_CallFunction(cb, "kO", (unsigned long)ev->src, name) : NULL;
    if (!res)
        PyErr_WriteUnraisable(cb);
    Py_XDECREF(res);
    Py_XDECREF(name);
    Py_DECREF(cb);
}

/* Run every queued event's callback, in order. A callback that forks
 * leaves the child on this thread: there the device is gone (peek), and
 * the parent's events are the parent's. */
static void deliver_all(struct ampy_dev *d)
{
    struct ampy_ev ev;
    bool outer = !delivering;
    delivering = true;
    __atomic_add_fetch(&cb_running, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&d->closing, __ATOMIC_SEQ_CST) && ampy_dev_peek() == d &&
           ampy_pop_event(d, &ev)) {
        if (ev.kind == AMPY_EV_MSG)
            deliver_msg(&ev);
        else
            deliver_ns(&ev);
    }
    __atomic_sub_fetch(&cb_running, 1, __ATOMIC_SEQ_CST);
    delivering = !outer;
}

/* A delivering thread's Python thread state: made at its first batch and
 * kept (PyGILState_Ensure/Release per batch would make and free one each
 * time), so a batch costs one GIL take. */
static __thread PyThreadState *my_ts;
static __thread PyGILState_STATE my_gil;

static void gil_take(void)
{
    if (my_ts) {
        PyEval_RestoreThread(my_ts);
    } else {
        my_gil = PyGILState_Ensure();
        my_ts = PyThreadState_Get();
    }
}

/* The virtual core's service thread, after each round of its work: the
 * callbacks of what it queued, with one GIL take for all of them. */
static void deliver_on_service(struct ampy_dev *d)
{
    if (d->closing) {
        /* _shutdown set it, and waits for this thread (its GIL let go):
         * the service thread's last rounds deliver nothing, so its thread
         * state goes now, here. Not from the main thread after the join:
         * from 3.12 PyThreadState_Delete forgets the calling thread's own
         * GIL state, and the main thread's next PyGILState_Ensure hangs. */
        if (my_ts) {
            PyEval_RestoreThread(my_ts);
            PyGILState_Release(my_gil); /* frees the thread state */
            my_ts = NULL;
        }
        return;
    }
    if (!__atomic_load_n(&d->events.count, __ATOMIC_RELAXED))
        return; /* (only this thread queues: nothing can be on its way) */
    on_service = true;
    gil_take();
    deliver_all(d);
    PyEval_SaveThread();
}

/* The kernel backend's dispatcher thread. */
static void *dispatch_thread(void *arg)
{
    struct ampy_dev *d = arg;
    while (ampy_dev_peek() == d && ampy_wait_event(d, -1) != -ESHUTDOWN) {
        gil_take();
        deliver_all(d);
        PyEval_SaveThread();
    }
    if (my_ts) {
        PyEval_RestoreThread(my_ts);
        PyGILState_Release(my_gil); /* frees the thread state */
    }
    return NULL;
}

/* A life-cycle call's caller, every 100 ms while the service thread has
 * not begun the call (a callback that blocks holds it up): give it up if a
 * signal handler raised (Ctrl-C's KeyboardInterrupt). The exception stays
 * set for the caller, who looks with PyErr_Occurred once the call returns
 * (-EINTR, or its own result if the thread began it meanwhile). */
static bool call_interrupted(void)
{
    if (!may_interrupt)
        return false;
    PyGILState_STATE g = PyGILState_Ensure(); /* (this thread's own state) */
    bool yes = PyErr_Occurred() || PyErr_CheckSignals() < 0;
    PyGILState_Release(g);
    return yes;
}

/* Who runs the callbacks: the service thread, else a dispatcher. */
static int start_delivery(struct ampy_dev *d)
{
    if (service_delivers || dispatcher_running)
        return 0;
    ampy_linux_set_interrupted(d, call_interrupted);
    if (ampy_linux_set_deliver(d, deliver_on_service)) {
        service_delivers = true;
        return 0;
    }
    if (amp_linux_thread(&dispatcher, dispatch_thread, d)) { /* Ctrl-C goes to Python's thread */
        PyErr_SetString(PyExc_RuntimeError, "cannot start the dispatcher thread");
        return -1;
    }
    dispatcher_running = true;
    return 0;
}

static struct ampy_dev *device_running(void)
{
    struct ampy_dev *d = device();
    if (d && start_delivery(d) < 0)
        return NULL;
    return d;
}

/* ==== RemoteProc ==== */

typedef struct {
    PyObject_HEAD
    bool loaded; /* this object owns the remote's image */
} RemoteProcObject;

static int rproc_check(RemoteProcObject *self)
{
    if (self->loaded && rproc_owner == (PyObject *)self)
        return 0;
    raise_errno(-EINVAL, "this RemoteProc was shut down or replaced");
    return -1;
}

static PyObject *rproc_fail(int err)
{
    struct ampy_dev *d = ampy_dev_peek();
    return raise_errno(err, d ? ampy_rproc_why(d) : NULL);
}

static int rproc_init(RemoteProcObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"entry", "name", "index", NULL};
    PyObject *entry;
    const char *name = NULL;
    int index = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$zi:RemoteProc", kwlist, &entry, &name, &index))
        return -1;
    struct ampy_dev *d = device_running();
    if (!d)
        return -1;
    int err = ampy_rproc_select(d, name, index); /* which processor (Linux may have several) */
    if (err) {
        raise_errno(err, d->link ? ampy_rproc_why(d)
                                 : "no such processor: the virtual core is the only one (name "
                                   "'virtual', index 0)");
        return -1;
    }
    if (PyLong_Check(entry)) {
        PyObject *zero = PyLong_FromLong(0);
        int neg = zero ? PyObject_RichCompareBool(entry, zero, Py_LT) : -1;
        Py_XDECREF(zero);
        if (neg != 0) {
            if (neg > 0)
                PyErr_SetString(PyExc_ValueError, "entry address must be >= 0");
            return -1;
        }
        unsigned long long a = PyLong_AsUnsignedLongLong(entry);
        if (a == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear(); /* wider than 64 bits: in no memory map */
            raise_errno(-ERANGE, "the entry point is outside the remote's memory");
            return -1;
        }
        /* as RemoteProc(path): a running remote must be stopped first */
        may_interrupt = true;
        Py_BEGIN_ALLOW_THREADS
        enum amp_rproc_state st = ampy_rproc_state(d);
        err = 0;
        if (!d->link && st == AMP_RPROC_CRASHED) /* (Linux's: attach, never stop) */
            err = ampy_rproc_stop(d);
        err = err == -EINTR ? err : ampy_rproc_attach(d, a);
        Py_END_ALLOW_THREADS
        may_interrupt = false;
    } else {
        PyObject *path = NULL;
        if (!PyUnicode_FSConverter(entry, &path)) {
            PyErr_SetString(PyExc_TypeError, "entry must be a firmware path or an entry address");
            return -1;
        }
        may_interrupt = true;
        Py_BEGIN_ALLOW_THREADS
        err = 0;
        if (ampy_rproc_state(d) != AMP_RPROC_RUNNING)
            err = ampy_rproc_shutdown(d);
        err = err == -EINTR ? err : ampy_rproc_load(d, PyBytes_AS_STRING(path));
        Py_END_ALLOW_THREADS
        may_interrupt = false;
        Py_DECREF(path);
    }
    if (PyErr_Occurred()) /* interrupted (given up, or done meanwhile) */
        return -1;
    if (err) {
        rproc_fail(err);
        return -1;
    }
    self->loaded = true;
    rproc_owner = (PyObject *)self;
    return 0;
}

/* The device, or NULL with an exception: only a fork() child has a
 * RemoteProc whose device is gone. */
static struct ampy_dev *rproc_dev(void)
{
    struct ampy_dev *d = ampy_dev_peek();
    if (!d)
        raise_errno(-EPERM, NULL);
    return d;
}

static PyObject *rproc_op(RemoteProcObject *self, int (*op)(struct ampy_dev *))
{
    struct ampy_dev *d;
    if (rproc_check(self) < 0 || !(d = rproc_dev()))
        return NULL;
    int err;
    may_interrupt = true;
    Py_BEGIN_ALLOW_THREADS
    err = op(d);
    Py_END_ALLOW_THREADS
    may_interrupt = false;
    if (PyErr_Occurred()) /* interrupted (given up, or done meanwhile) */
        return NULL;
    if (err)
        return rproc_fail(err);
    Py_RETURN_NONE;
}

static PyObject *rproc_start(RemoteProcObject *self, PyObject *u)
{
    (void)u;
    return rproc_op(self, ampy_rproc_start);
}

static PyObject *rproc_stop(RemoteProcObject *self, PyObject *u)
{
    (void)u;
    return rproc_op(self, ampy_rproc_stop);
}

/* Shut the remote down; interruptible: Ctrl-C may give the call up
 * before the service thread begins it (NULL, the object unchanged). */
static PyObject *rproc_shutdown_(RemoteProcObject *self, bool interruptible)
{
    struct ampy_dev *d = ampy_dev_peek();
    if (self->loaded && rproc_owner == (PyObject *)self && d) {
        int err;
        may_interrupt = interruptible;
        Py_BEGIN_ALLOW_THREADS
        err = ampy_rproc_shutdown(d);
        Py_END_ALLOW_THREADS
        may_interrupt = false;
        if (err == -EINTR && PyErr_Occurred())
            return NULL;
        rproc_owner = NULL;
    }
    self->loaded = false;
    if (interruptible && PyErr_Occurred()) /* (interrupted once the thread had begun: done) */
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *rproc_shutdown(RemoteProcObject *self, PyObject *u)
{
    (void)u;
    return rproc_shutdown_(self, true);
}

static void rproc_dealloc(RemoteProcObject *self)
{
    PyObject *r = rproc_shutdown_(self, false); /* the finaliser is shutdown */
    Py_XDECREF(r);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *rproc_get_state(RemoteProcObject *self, void *c)
{
    (void)c;
    struct ampy_dev *d = ampy_dev_peek();
    if (!self->loaded || rproc_owner != (PyObject *)self || !d)
        return PyUnicode_FromString("offline");
    return PyUnicode_FromString(ampy_rproc_state_name(d));
}

static PyObject *rproc_trace(RemoteProcObject *self, PyObject *args)
{
    PyObject *i_o = NULL;
    uint32_t i = 0;
    struct ampy_dev *d;
    if (!PyArg_ParseTuple(args, "|O:trace", &i_o))
        return NULL;
    if (i_o && !PyLong_Check(i_o)) {
        PyErr_SetString(PyExc_TypeError, "trace index must be an int");
        return NULL;
    }
    if (i_o) {
        unsigned long long v = PyLong_AsUnsignedLongLong(i_o);
        if (v == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            v = (unsigned long long)-1; /* negative or huge: no such buffer */
        }
        i = v > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)v; /* beyond any table */
    }
    if (rproc_check(self) < 0 || !(d = rproc_dev()))
        return NULL;
    enum { TRACE_MAX = 65536 };
    char *buf = PyMem_RawMalloc(TRACE_MAX); /* (the GIL is let go: not a static one) */
    if (!buf)
        return PyErr_NoMemory();
    int n;
    may_interrupt = true;
    Py_BEGIN_ALLOW_THREADS /* the service thread copies it, and may want the GIL meanwhile */
    n = ampy_rproc_trace(d, i, buf, TRACE_MAX);
    Py_END_ALLOW_THREADS
    may_interrupt = false;
    d = ampy_dev_peek(); /* another thread may have shut the device down meanwhile */
    PyObject *r = PyErr_Occurred() ? NULL /* interrupted */
                : n < 0 ? raise_errno(n, d && d->link ? ampy_rproc_why(d) : "no such trace buffer")
                        : PyUnicode_DecodeUTF8(buf, n, "replace");
    PyMem_RawFree(buf);
    return r;
}

static PyObject *rproc_repr(RemoteProcObject *self)
{
    PyObject *st = rproc_get_state(self, NULL);
    PyObject *r = st ? PyUnicode_FromFormat("<RemoteProc %U (%s)>", st, ampy_plat_backend()) : NULL;
    Py_XDECREF(st);
    return r;
}

static PyMethodDef rproc_methods[] = {
    {"start", (PyCFunction)rproc_start, METH_NOARGS, "Start the remote processor."},
    {"stop", (PyCFunction)rproc_stop, METH_NOARGS, "Stop the remote processor."},
    {"shutdown", (PyCFunction)rproc_shutdown, METH_NOARGS, "Stop it and release everything."},
    {"trace", (PyCFunction)rproc_trace, METH_VARARGS, "trace(i=0) -> the firmware's trace buffer i"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef rproc_getset[] = {
    {"state", (getter)rproc_get_state, NULL,
     "'offline', 'ready', 'running', 'stopped', 'crashed' or 'attached'", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject RemoteProcType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "openamp.RemoteProc",
    .tp_doc = "RemoteProc(entry): a firmware path, or the entry address of an image in memory",
    .tp_basicsize = sizeof(RemoteProcObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)rproc_init,
    .tp_dealloc = (destructor)rproc_dealloc,
    .tp_repr = (reprfunc)rproc_repr,
    .tp_methods = rproc_methods,
    .tp_getset = rproc_getset,
};

/* ==== Module ==== */

static PyObject *mod_new_service_callback(PyObject *m, PyObject *cb)
{
    (void)m;
    if (cb != Py_None && !PyCallable_Check(cb)) {
        PyErr_SetString(PyExc_ValueError, "ns_callback must be callable or None"); /* as upstream */
        return NULL;
    }
    struct ampy_dev *d = device_running();
    if (!d)
        return NULL;
    Py_XSETREF(ns_callback, cb == Py_None ? NULL : Py_NewRef(cb));
    ampy_set_ns(d, ns_callback != NULL);
    Py_RETURN_NONE;
}

/* Has every running callback returned within ms? (No new one begins once
 * the device is closing.) Called without the GIL, which they may need. */
static bool callbacks_returned(int32_t ms)
{
    for (int32_t t = 0; __atomic_load_n(&cb_running, __ATOMIC_SEQ_CST); t += 10) {
        if (t >= ms)
            return false;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return true;
}

/* Close the device before the interpreter goes away: the threads that run
 * callbacks (the service thread, a dispatcher) must not touch Python after
 * finalisation. A callback still running EXIT_WAIT_MS after the device
 * began closing (blocked for ever, say on an Event nobody sets) is given
 * up: the remote is stopped (the virtual core killed) and the device left
 * as it is, nothing freed, the thread not joined. That thread needs the
 * GIL to go on, and from finalisation on CPython never gives it one (as
 * for a daemon thread): it never touches Python, nor the device, again. */
static PyObject *mod_shutdown(PyObject *m, PyObject *u)
{
    (void)m;
    (void)u;
    if (!ampy_dev_peek())
        Py_RETURN_NONE;
    if (delivering) { /* it would wait for this very thread to end */
        PyErr_SetString(PyExc_RuntimeError, "the device cannot be shut down from a callback");
        return NULL;
    }
    bool stuck;
    Py_BEGIN_ALLOW_THREADS
    struct ampy_dev *d = ampy_dev_peek();
    ampy_plat_lock(d);
    __atomic_store_n(&d->closing, true, __ATOMIC_SEQ_CST);
    ampy_plat_broadcast(d);
    ampy_plat_unlock(d);
    stuck = !callbacks_returned(EXIT_WAIT_MS);
    if (stuck) {
        ampy_linux_abandon(d);
    } else {
        if (dispatcher_running)
            pthread_join(dispatcher, NULL);
        if (__atomic_load_n(&rx_kept, __ATOMIC_SEQ_CST)) /* zero-copy slices kept: zeros from now on */
            ampy_linux_keep_memory(d);
        ampy_dev_close(); /* and the service thread with it */
    }
    Py_END_ALLOW_THREADS
    dispatcher_running = false;
    service_delivers = false; /* (its thread state went before it: deliver_on_service) */
    rproc_owner = NULL;
    Py_CLEAR(ns_callback);
    if (stuck)
        PySys_WriteStderr("openamp: a callback did not return within %d s of exit; exiting "
                          "without it (the remote was stopped)\n",
                          EXIT_WAIT_MS / 1000);
    Py_RETURN_NONE;
}

static PyObject *mod_stats(PyObject *m, PyObject *u)
{
    (void)m;
    (void)u;
    struct ampy_dev *d = ampy_dev_peek();
    if (!d)
        return PyDict_New();
    struct amp_rpmsg_stats st;
    ampy_get_stats(d, &st);
    return Py_BuildValue("{sIsIsIsIsIsIsIsIsIsIsIsI}", "rx", st.rx, "tx", st.tx, "ring_errors",
                         st.ring_errors, "msg_errors", st.msg_errors, "dropped", st.dropped, "rx_held",
                         st.rx_held, "tx_held", st.tx_held, "tx_free", st.tx_free, "tx_total",
                         st.tx_total, "rx_queued", st.rx_queued, "tx_queued", st.tx_queued, "lost",
                         d->lost);
}

/* The backend: the one in use, else the one the settings and the machine
 * ask for (None: AMP_PLATFORM has another value). */
static PyObject *mod_backend(PyObject *m, PyObject *u)
{
    (void)m;
    (void)u;
    const char *be = ampy_plat_backend();
    if (!be)
        Py_RETURN_NONE;
    return PyUnicode_FromString(be);
}

static PyObject *mod_set_backend(PyObject *m, PyObject *arg)
{
    (void)m;
    const char *name = arg == Py_None ? NULL : PyUnicode_AsUTF8(arg);
    if (arg != Py_None && !name)
        return NULL;
    if (ampy_dev_peek()) {
        PyErr_SetString(PyExc_RuntimeError, "the backend is chosen at first use: set it before that");
        return NULL;
    }
    if (ampy_kernel_ops.force(name) < 0) {
        PyErr_Format(PyExc_ValueError, "backend must be 'kernel', 'virtual' or None, not %R", arg);
        return NULL;
    }
    return mod_backend(m, NULL);
}

static PyMethodDef mod_methods[] = {
    {"new_service_callback", mod_new_service_callback, METH_O,
     "new_service_callback(ns_callback): called as ns_callback(addr, name) for new services"},
    {"_shutdown", mod_shutdown, METH_NOARGS, "Close the device (run at exit)."},
    {"_stats", mod_stats, METH_NOARGS, "Counters of the RPMsg device."},
    {"_backend", mod_backend, METH_NOARGS, "The backend: 'virtual' or 'kernel'."},
    {"_set_backend", mod_set_backend, METH_O, "Choose the backend before first use (None: automatic)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "openamp._openamp", "OpenAMP-compatible RPMsg and remoteproc", -1, mod_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__openamp(void)
{
    if (PyType_Ready(&RxBufType) < 0 || PyType_Ready(&EndpointType) < 0 ||
        PyType_Ready(&RemoteProcType) < 0)
        return NULL;
    ampy_linux_kernel = &ampy_kernel_ops; /* Linux's remoteproc and rpmsg, when chosen */
    PyObject *m = PyModule_Create(&moddef);
    if (!m)
        return NULL;
    if (PyModule_AddObjectRef(m, "Endpoint", (PyObject *)&EndpointType) < 0 ||
        PyModule_AddObjectRef(m, "RemoteProc", (PyObject *)&RemoteProcType) < 0 ||
        PyModule_AddObject(m, "ENDPOINT_ADDR_ANY", PyLong_FromUnsignedLong(AMP_ADDR_ANY)) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
