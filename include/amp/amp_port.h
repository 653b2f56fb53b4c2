/*
 * amp_port.h - what a platform gives the amp library.
 *
 * The library never calls the OS. Everything that differs per platform is
 * one const table of function pointers, struct amp_port_ops, handed over at
 * init together with a context pointer. A NULL op means "this platform does
 * not do that": optional ops are skipped, required ones make the calling
 * function return -ENOTSUP. There are no globals, so a test can run two
 * fake ports (a host and a remote) in one process.
 *
 * Errors everywhere in amp are negative errno values. Toolchains without an
 * <errno.h> (a bare -nostdlib build) get Linux's numbers from amp_errno.h.
 */
#ifndef AMP_PORT_H
#define AMP_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "amp_config.h"
#include "amp_errno.h"

/* Timeouts are milliseconds: 0 = try once, AMP_WAIT_FOREVER = block. */
#define AMP_WAIT_FOREVER (-1)

/* Flags for da_to_va(). */
#define AMP_MEM_LOAD (1u << 0) /* the loader will write an image here */

struct amp_port_ops {
    /* Ring the peer's doorbell for the virtqueue with this notify id.
     * Any context; must not block. Required for both roles. */
    int (*notify)(void *ctx, uint32_t notifyid);

    /* Sleep until the peer rings our doorbell or timeout_ms passes
     * (AMP_WAIT_FOREVER: no limit). Returns 0 when woken (spurious wake-ups
     * are fine), -ETIMEDOUT when the time ran out, another -errno to make
     * the waiting call give up (e.g. -ECONNRESET when the link went down).
     * Called with the port lock held when there is one: release it while
     * asleep and take it again before returning, as a condition variable
     * does. NULL: calls that would have to block return -EAGAIN. */
    int (*wait)(void *ctx, int32_t timeout_ms);

    /* A millisecond clock (any origin, may wrap), so that a wait woken early
     * continues with the time left. NULL: each wait gets the full timeout. */
    uint32_t (*now_ms)(void *ctx);

    /* Optional lock that serialises the library's calls on one device,
     * e.g. a mutex when a poller thread and sender threads share it, or
     * an IRQ mask. Callbacks run with the lock released. */
    void (*lock)(void *ctx);
    void (*unlock)(void *ctx);

    /* Cache maintenance for shared memory that is not coherent with the
     * peer (e.g. Cortex-M7 D-cache). clean = write our lines out before
     * the peer reads; invalidate = drop stale lines before we read what
     * the peer wrote. NULL when the memory is coherent or uncached. */
    void (*cache_clean)(void *ctx, const volatile void *p, size_t len);
    void (*cache_invalidate)(void *ctx, const volatile void *p, size_t len);

    /* Translate the remote's device address range [da, da+len) to a local
     * pointer, or NULL when it is not mapped (or, with AMP_MEM_LOAD, not
     * memory the loader may write). Used by the loader and the resource
     * table code, never on the message path. Host only. */
    void *(*da_to_va)(void *ctx, uint64_t da, size_t len, unsigned flags);

    /* Life cycle of the remote core. Host only. start runs the loaded
     * image from `entry`; stop halts the core (its memory stays);
     * shutdown also releases power, clocks and memory. */
    int (*start)(void *ctx, uint64_t entry);
    int (*stop)(void *ctx);
    int (*shutdown)(void *ctx);
};

/* A port is its ops plus the context they get. */
struct amp_port {
    const struct amp_port_ops *ops;
    void *ctx;
};

#endif /* AMP_PORT_H */
