/*
 * ampy_linux.h - what the Linux platform (ampy_linux.c) offers a binding
 * beyond ampy.h: running the callbacks on the thread that drains the
 * rings, rather than handing every batch to a thread of the binding's.
 *
 * On the virtual core, messages are queued by the host's service thread
 * (amp_host.h). A binding that sets a deliver function has it called on
 * that thread after each round of its work, with no lock held: it may run
 * the queued callbacks there and then. A callback that would sleep on
 * something only that thread does (a free send buffer, a message) pumps
 * instead: ampy_linux_pump does one round of the thread's work. The
 * kernel backend has no such thread: there the binding keeps its own.
 */
#ifndef AMPY_LINUX_H
#define AMPY_LINUX_H

#include <stdbool.h>
#include <stdint.h>

#include "ampy.h"

/* Run deliver(d) on the service thread after each round of its work.
 * false: this backend has no service thread of its own (the kernel's). */
bool ampy_linux_set_deliver(struct ampy_dev *d, void (*deliver)(struct ampy_dev *d));

/* On the service thread (from a callback): one round of its work, sleeping
 * at most timeout_ms for something to do. 0, -ESHUTDOWN (closing), or
 * -EPERM on another thread (or another backend). */
int ampy_linux_pump(struct ampy_dev *d, int32_t timeout_ms);

/* Life-cycle calls (ampy_rproc_*) on the virtual core wait for the
 * service thread, which a callback may hold up for long: every 100 ms of
 * the wait, fn() (with no lock held) may say to give up. Only a call the
 * thread has not begun is given up; it returns -EINTR, having done
 * nothing. NULL: wait to the end. */
void ampy_linux_set_interrupted(struct ampy_dev *d, bool (*fn)(void));

/* Give the device up at exit while a callback still runs and may never
 * return (the service thread, or the binding's own thread, is inside it):
 * kill the virtual core now, without waiting for that thread (it would
 * die with the process anyway), then ampy_dev_abandon(). The kernel
 * backend's remote is left as closing would leave it (running). */
void ampy_linux_abandon(struct ampy_dev *d);

/* The binding still has views of the virtual core's memory (zero-copy
 * messages the program kept): when the device closes, leave that range
 * mapped, read-only and zeroed, so that they read zeros instead of
 * faulting. Its address space (2 MiB) is not given back. */
void ampy_linux_keep_memory(struct ampy_dev *d);

#endif /* AMPY_LINUX_H */
