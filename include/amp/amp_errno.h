/*
 * amp_errno.h - error numbers for amp.
 *
 * amp returns negative errno values. Where the toolchain has <errno.h>
 * (glibc, newlib, picolibc) those are used, so callers compare with the
 * platform's own constants. A bare toolchain without one gets the Linux
 * numbers for the few codes amp uses.
 */
#ifndef AMP_ERRNO_H
#define AMP_ERRNO_H

#if defined(__has_include)
#if __has_include(<errno.h>)
#include <errno.h>
#endif
#endif

#ifndef ENOENT
#define ENOENT 2
#endif
#ifndef EIO
#define EIO 5
#endif
#ifndef E2BIG
#define E2BIG 7
#endif
#ifndef ENOEXEC
#define ENOEXEC 8
#endif
#ifndef EAGAIN
#define EAGAIN 11
#endif
#ifndef ENOMEM
#define ENOMEM 12
#endif
#ifndef EBUSY
#define EBUSY 16
#endif
#ifndef EEXIST
#define EEXIST 17
#endif
#ifndef EINVAL
#define EINVAL 22
#endif
#ifndef ENOSPC
#define ENOSPC 28
#endif
#ifndef ERANGE
#define ERANGE 34
#endif
#ifndef EMSGSIZE
#define EMSGSIZE 90
#endif
#ifndef ENOTSUP
#define ENOTSUP 95
#endif
#ifndef EADDRINUSE
#define EADDRINUSE 98
#endif
#ifndef ECONNRESET
#define ECONNRESET 104
#endif
#ifndef ENOTCONN
#define ENOTCONN 107
#endif
#ifndef ESHUTDOWN
#define ESHUTDOWN 108
#endif
#ifndef ETIMEDOUT
#define ETIMEDOUT 110
#endif
#ifndef ESTALE
#define ESTALE 116
#endif

/* Reasons. Besides its errno, every failed check of the loader, the
 * resource table and the life cycle leaves a sentence naming what was
 * wrong (elf->why, rp->why, amp_rsc_check's *why): what a user on Linux
 * or in Python wants to read. They cost about 3 KB of constants and code
 * on a Cortex-M, so a small target may set AMP_CFG_REASONS to 0: every
 * check stays, the errno alone tells the caller what happened, and the
 * why fields stay NULL. */
#ifndef AMP_CFG_REASONS
#define AMP_CFG_REASONS (1)
#endif

/* A reason sentence, or NULL when they are compiled out. */
#define AMP_WHY(s) (AMP_CFG_REASONS ? (s) : (const char *)0)

#endif /* AMP_ERRNO_H */
