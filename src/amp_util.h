/*
 * amp_util.h - private helpers shared by the library's files: byte order,
 * memory barriers, cache maintenance and the optional port lock.
 */
#ifndef AMP_UTIL_H
#define AMP_UTIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amp/amp_port.h"

/* Everything on the wire is little-endian. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define amp_le16(x) __builtin_bswap16(x)
#define amp_le32(x) __builtin_bswap32(x)
#define amp_le64(x) __builtin_bswap64(x)
#else
#define amp_le16(x) ((uint16_t)(x))
#define amp_le32(x) ((uint32_t)(x))
#define amp_le64(x) ((uint64_t)(x))
#endif

/* Barriers between our accesses to shared memory and the peer's. The
 * shared fields are volatile, so each access happens exactly once and in
 * program order for the compiler; these order them for the CPU. */
#define amp_rmb() atomic_thread_fence(memory_order_acquire) /* reads after an index read */
#define amp_wmb() atomic_thread_fence(memory_order_release) /* writes before an index write */
#define amp_mb() atomic_thread_fence(memory_order_seq_cst)  /* our write before our read */

#define AMP_MIN(a, b) ((a) < (b) ? (a) : (b))

static inline bool amp_is_pow2(uint32_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

/* Is [off, off+len) inside [0, size)? Written so that nothing overflows. */
static inline bool amp_range_ok(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

/* The same in 32 bits, for the message path: shared windows, buffers and
 * device addresses are 32-bit, and 64-bit compares double the code on a
 * 32-bit core. */
static inline bool amp_range_ok32(uint32_t off, uint32_t len, uint32_t size)
{
    return off <= size && len <= size - off;
}

/* A hint: we are about to read the line at p. Never needed for
 * correctness (a non-coherent port still invalidates before reading). */
static inline void amp_prefetch(const volatile void *p)
{
#if defined(__GNUC__)
    __builtin_prefetch((const void *)p);
#else
    (void)p;
#endif
}

/* Cache maintenance through the port (AMP_CFG_CACHE) and the port lock
 * (AMP_CFG_LOCK). Plain `if`s, so both variants always compile. */
static inline void amp_cache_clean(const struct amp_port *p, const volatile void *a, size_t n)
{
    if (AMP_CFG_CACHE && p->ops->cache_clean)
        p->ops->cache_clean(p->ctx, a, n);
}

static inline void amp_cache_inval(const struct amp_port *p, const volatile void *a, size_t n)
{
    if (AMP_CFG_CACHE && p->ops->cache_invalidate)
        p->ops->cache_invalidate(p->ctx, a, n);
}

static inline void amp_lock(const struct amp_port *p)
{
    if (AMP_CFG_LOCK && p->ops->lock)
        p->ops->lock(p->ctx);
}

static inline void amp_unlock(const struct amp_port *p)
{
    if (AMP_CFG_LOCK && p->ops->unlock)
        p->ops->unlock(p->ctx);
}

/* Copy a name of at most `size` bytes from shared or untrusted memory into
 * dst[size], always NUL-terminated; the source may lack the NUL. */
static inline void amp_name_copy(char *dst, const volatile char *src, size_t size)
{
    size_t i = 0;
    for (; i + 1 < size; i++) {
        char c = src[i]; /* read once: the peer may change it under us */
        if (c == '\0')
            break;
        dst[i] = c;
    }
    for (; i < size; i++)
        dst[i] = '\0';
}

#endif /* AMP_UTIL_H */
