/*
 * amp_config.h - compile-time settings of the amp library.
 *
 * Every setting is an #ifndef default, so a project overrides it with -D or
 * by defining AMP_CONFIG_FILE to a header of its own. Per-instance settings
 * (buffer size and count, vring size) are run-time fields of the config
 * structs, not macros: these are only limits and feature switches.
 */
#ifndef AMP_CONFIG_H
#define AMP_CONFIG_H

#ifdef AMP_CONFIG_FILE
#include AMP_CONFIG_FILE
#endif

/* Largest vring the library accepts. 32768 is the split-ring maximum; a
 * peer's table asking for more is rejected, so this bounds what a hostile
 * table can make us index. */
#ifndef AMP_CFG_VRING_NUM_MAX
#define AMP_CFG_VRING_NUM_MAX (32768u)
#endif

/* Default RPMsg buffer size: 512 bytes (496 of payload) is what Linux's
 * virtio_rpmsg_bus uses, so this talks to Linux out of the box. */
#ifndef AMP_CFG_RPMSG_BUF_SIZE
#define AMP_CFG_RPMSG_BUF_SIZE (512u)
#endif

/* Announcements that matched no endpoint, remembered per device so that
 * an endpoint created later with that name binds at once (36 bytes each).
 * The oldest is forgotten first. 0 turns the cache off. */
#ifndef AMP_CFG_RPMSG_NS_CACHE
#define AMP_CFG_RPMSG_NS_CACHE (4u)
#endif

/* NS destroys that wait for a free send buffer, per device (36 bytes
 * each): amp_ept_destroy() never blocks, so a destroy that finds no
 * buffer is queued and sent when one comes back, like an announcement.
 * Beyond this many, the oldest is forgotten. At least 1. */
#ifndef AMP_CFG_RPMSG_NS_DESTROY_MAX
#define AMP_CFG_RPMSG_NS_DESTROY_MAX (4u)
#endif

/* Largest resource table the host copies and checks, in bytes. The host
 * works on its own copy, never on the remote's. */
#ifndef AMP_CFG_RSC_TABLE_MAX
#define AMP_CFG_RSC_TABLE_MAX (1024u)
#endif

/* Trace buffers the remoteproc layer remembers per remote. */
#ifndef AMP_CFG_RPROC_TRACE_MAX
#define AMP_CFG_RPROC_TRACE_MAX (2u)
#endif

/* ELF limits: a header table longer than this is refused with -E2BIG
 * rather than walked. */
#ifndef AMP_CFG_ELF_PHNUM_MAX
#define AMP_CFG_ELF_PHNUM_MAX (32u)
#endif
#ifndef AMP_CFG_ELF_SHNUM_MAX
#define AMP_CFG_ELF_SHNUM_MAX (4096u)
#endif

/* Build the host (virtio driver) and remote (virtio device) halves. A
 * remote-only firmware sets AMP_CFG_HOST to 0 and the linker drops the
 * driver half; both are plain `if`s, so every variant still compiles. */
#ifndef AMP_CFG_HOST
#define AMP_CFG_HOST (1)
#endif
#ifndef AMP_CFG_REMOTE
#define AMP_CFG_REMOTE (1)
#endif

/* Call the port's lock and unlock ops. A bare-metal remote that calls the
 * library from one context only (no threads, no RPMsg calls from an
 * interrupt handler) sets this to 0 and the calls compile away; the ops
 * are then never used, even if the port has them. One context also means
 * that nothing but the callback runs while a receive callback does: a
 * buffer it delivers is the application's only once the callback returns
 * AMP_RX_HOLD, and amp_rpmsg_release_rx() of it from inside the callback
 * says -EINVAL (with the lock, another thread may release it early). */
#ifndef AMP_CFG_LOCK
#define AMP_CFG_LOCK (1)
#endif

/* Call the port's cache_clean and cache_invalidate ops. A core whose view
 * of the shared memory is coherent with the peer's (no data cache, as on
 * a Cortex-M4, or the window mapped uncached) sets this to 0 and the
 * calls compile away; the ops are then never used, even if present. */
#ifndef AMP_CFG_CACHE
#define AMP_CFG_CACHE (1)
#endif

/* Accept a remote's rings as three separate parts (amp_rpmsg_cfg.parts),
 * as vhost-user gives them (ports/linux/amp_vhost.c). A firmware whose
 * rings come from a resource table sets this to 0 and saves the branch;
 * cfg.parts is then ignored. */
#ifndef AMP_CFG_VRING_PARTS
#define AMP_CFG_VRING_PARTS (1)
#endif

/* Endpoints per device: 0 for no limit (a list), or 1 for firmware with
 * one endpoint, where every walk of the list is a single look and a
 * second amp_ept_create() on the device says -ENOSPC. */
#ifndef AMP_CFG_RPMSG_EPT_MAX
#define AMP_CFG_RPMSG_EPT_MAX (0)
#endif

/* Features a small remote may leave out (each 1 by default). Turning one
 * off drops its code, never a check of what the peer wrote; a call that
 * needs it returns -ENOTSUP, a feature bit it needs is never negotiated.
 *   AMP_CFG_RPMSG_NS        the name service: announcements sent and
 *                           received (VIRTIO_RPMSG_F_NS); without it an
 *                           endpoint binds to the first sender, or to the
 *                           dest it was created with.
 *   AMP_CFG_RPMSG_ZEROCOPY  amp_rpmsg_alloc_tx, amp_ept_send_nocopy, the
 *                           release calls and AMP_RX_HOLD (then the same
 *                           as AMP_RX_DONE).
 *   AMP_CFG_RPMSG_WAIT      sends, alloc_tx and a remote's start wait (with
 *                           a timeout) for a buffer or for the host; without
 *                           it they try once and return -EAGAIN, and the
 *                           program waits in amp_rpmsg_wait().
 *   AMP_CFG_VRING_EVENT_IDX VIRTIO_F_EVENT_IDX; without it the flags words
 *                           say when to notify.
 *   AMP_CFG_RPMSG_EPT_DESTROY amp_ept_destroy() and the queue of NS destroys
 *                           it may owe the peer; without it the function is
 *                           not declared (a firmware whose endpoints live as
 *                           long as the device). */
#ifndef AMP_CFG_RPMSG_NS
#define AMP_CFG_RPMSG_NS (1)
#endif
#ifndef AMP_CFG_RPMSG_ZEROCOPY
#define AMP_CFG_RPMSG_ZEROCOPY (1)
#endif
#ifndef AMP_CFG_RPMSG_WAIT
#define AMP_CFG_RPMSG_WAIT (1)
#endif
#ifndef AMP_CFG_VRING_EVENT_IDX
#define AMP_CFG_VRING_EVENT_IDX (1)
#endif
#ifndef AMP_CFG_RPMSG_EPT_DESTROY
#define AMP_CFG_RPMSG_EPT_DESTROY (1)
#endif

/* The lean remote: amp_rpmsg.c compiles src/amp_rpmsg_lean.c instead of
 * its own body, the remote's RPMsg written for size (tools/footprint.sh
 * "remote"). The same API and every check of what the host writes, with
 * less: the remote role only (a host's amp_rpmsg_start says -ENOTSUP),
 * one endpoint per device (-ENOSPC), one context (no lock: no threads,
 * no calls from interrupt handlers), no waiting (a call that would wait
 * says -EAGAIN; timeouts are ignored: sleep in amp_rpmsg_wait), no
 * event-idx (the link runs with the name service or nothing), no cache
 * maintenance, rings at vring_da only (cfg.parts: -EINVAL), no
 * announcement cache, no tx_poll_ms (facing a peer that gives buffers
 * back without a doorbell, pass amp_rpmsg_wait a timeout of the period to
 * look again). AMP_CFG_LOCK and AMP_CFG_CACHE must be set to 0 with
 * it (a compile error says so otherwise: the memory must be coherent or
 * uncached). The switches that stay: AMP_CFG_RPMSG_NS,
 * AMP_CFG_RPMSG_ZEROCOPY, AMP_CFG_RPMSG_EPT_DESTROY (whose queue of NS
 * destroys is one deep here). */
#ifndef AMP_CFG_RPMSG_LEAN
#define AMP_CFG_RPMSG_LEAN (0)
#endif

#endif /* AMP_CONFIG_H */
