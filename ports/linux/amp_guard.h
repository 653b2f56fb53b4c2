/*
 * amp_guard.h - the vhost-user backend's guards against its frontend
 * (ports/linux/amp_guard.c): memory that shrinks under our mapping, and
 * doorbell fds the frontend makes blocking. Private to ports/linux.
 */
#ifndef AMP_GUARD_H
#define AMP_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define AMP_GUARD_MAX 64u /* regions mapped at once, process-wide: 8 full memory tables */

/* A backend opens (+1) or closes (-1): the first installs the handlers
 * (SIGBUS, AMP_VHOST_SIGNAL), the last puts the previous ones back. */
void amp_guard_use(int delta);

/* List our mapping [p, p + len): its entry, or -ENOSPC. */
int amp_guard_add(void *p, size_t len);

/* Withdraw entry i, before its mapping is unmapped. */
void amp_guard_del(unsigned i);

/* Did a SIGBUS put zero pages over entry i (the frontend shrank its file)? */
bool amp_guard_faulted(unsigned i);

/* One read or write on a doorbell fd (sock: a socket, else an eventfd)
 * that cannot wait: what read/write return; errno EAGAIN: nothing to
 * read, or a full eventfd; EINTR: it would have waited (the frontend
 * cleared O_NONBLOCK); ENOMEM: no timer for the bound (not tried). */
ssize_t amp_guard_io(int fd, bool sock, bool wr, void *buf, size_t len);

/* Run eventfd reads under the timer too (on): what a kernel before 5.12
 * (no RWF_NOWAIT for eventfds) gets, which tests choose this way. */
void amp_guard_bound_reads(bool on);

#endif /* AMP_GUARD_H */
