/*
 * fuzz_common.h - what the fuzz targets share: an input cursor, the
 * invariant check, an ELF writer (to wrap a resource table in an image),
 * and a fake remote-core port with RAM and shared memory in heap blocks of
 * their exact size, so AddressSanitizer sees a byte past either end.
 *
 * Main invariant of every target: the input is the other core (or its
 * image); whatever it holds, the library under test must neither touch
 * memory outside what it was given nor break a promise of its header.
 * A broken promise is FUZZ_ASSERT, which aborts: libFuzzer keeps the input.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amp/amp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* For the harness's own checking loops: no coverage feedback (their
 * branches say nothing about the library, and tracing every compare of a
 * byte-by-byte diff costs most of the time), and never inlined into a
 * function that has it. */
#define FZ_NOCOV __attribute__((no_sanitize("coverage"), noinline))

#define FUZZ_ASSERT(c)                                                                   \
    do {                                                                                 \
        if (!(c)) {                                                                      \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #c);    \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* ==== Input cursor: past the end, every read is zero ==== */

struct fz_in {
    const uint8_t *p;
    size_t n;
};

static inline uint8_t fz_u8(struct fz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint16_t fz_u16(struct fz_in *in)
{
    uint16_t lo = fz_u8(in);
    return (uint16_t)(lo | (uint16_t)fz_u8(in) << 8);
}

static inline uint32_t fz_u32(struct fz_in *in)
{
    uint32_t lo = fz_u16(in);
    return lo | (uint32_t)fz_u16(in) << 16;
}

static inline uint64_t fz_u64(struct fz_in *in)
{
    uint64_t lo = fz_u32(in);
    return lo | (uint64_t)fz_u32(in) << 32;
}

/* Up to n bytes into dst; returns how many there were. */
static inline size_t fz_bytes(struct fz_in *in, void *dst, size_t n)
{
    if (n > in->n)
        n = in->n;
    memcpy(dst, in->p, n);
    in->p += n;
    in->n -= n;
    return n;
}

static inline void fz_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void fz_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ==== ELF64 writer: one PT_LOAD holding `table` at `da`, and a
 * .resource_table section naming it. Returns the image size; img must
 * hold fz_elf_wrap_size(len) bytes. ==== */

#define FZ_ELF_TABLE_OFF 256u
static const char fz_shstrtab[] = "\0.shstrtab\0.resource_table";

static inline size_t fz_elf_wrap_size(size_t len)
{
    size_t str = FZ_ELF_TABLE_OFF + len;
    size_t sh = (str + sizeof(fz_shstrtab) + 7) & ~(size_t)7;
    return sh + 3 * 64;
}

static inline size_t fz_elf_wrap(uint8_t *img, const void *table, size_t len, uint64_t da,
                                 uint64_t entry)
{
    size_t str = FZ_ELF_TABLE_OFF + len;
    size_t sh = (str + sizeof(fz_shstrtab) + 7) & ~(size_t)7;
    size_t total = sh + 3 * 64;
    memset(img, 0, total);
    memcpy(img, "\177ELF\2\1\1", 7);
    img[16] = 2;  /* ET_EXEC */
    img[18] = 62; /* EM_X86_64 */
    img[20] = 1;  /* e_version */
    fz_put64(img + 24, entry);
    fz_put64(img + 32, 64); /* e_phoff */
    fz_put64(img + 40, sh); /* e_shoff */
    img[52] = 64;           /* e_ehsize */
    img[54] = 56;           /* e_phentsize */
    img[56] = 1;            /* e_phnum */
    img[58] = 64;           /* e_shentsize */
    img[60] = 3;            /* e_shnum */
    img[62] = 1;            /* e_shstrndx */

    uint8_t *ph = img + 64;
    fz_put32(ph, 1);      /* PT_LOAD */
    fz_put32(ph + 4, 6);  /* RW */
    fz_put64(ph + 8, FZ_ELF_TABLE_OFF);
    fz_put64(ph + 16, da);
    fz_put64(ph + 24, da);
    fz_put64(ph + 32, len);
    fz_put64(ph + 40, len ? len : 1);

    memcpy(img + FZ_ELF_TABLE_OFF, table, len);
    memcpy(img + str, fz_shstrtab, sizeof(fz_shstrtab));

    uint8_t *s1 = img + sh + 64; /* .shstrtab */
    fz_put32(s1, 1);
    fz_put32(s1 + 4, 3); /* SHT_STRTAB */
    fz_put64(s1 + 24, str);
    fz_put64(s1 + 32, sizeof(fz_shstrtab));
    uint8_t *s2 = img + sh + 128; /* .resource_table */
    fz_put32(s2, 11);
    fz_put32(s2 + 4, 1); /* SHT_PROGBITS */
    fz_put64(s2 + 16, da);
    fz_put64(s2 + 24, FZ_ELF_TABLE_OFF);
    fz_put64(s2 + 32, len);
    return total;
}

/* ==== A reader over a byte array ==== */

struct fz_reader {
    const uint8_t *img;
    size_t size;
    uint32_t reads;   /* calls so far */
    uint32_t fail_at; /* fail the call with this number (1-based), 0 = never */
    int fail_err;     /* ... returning this */
};

static inline int fz_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    struct fz_reader *r = ctx;
    /* amp_elf.h: "the loader never asks for bytes past the size it was given" */
    FUZZ_ASSERT(off <= r->size && len <= r->size - off);
    r->reads++;
    if (r->fail_at && r->reads == r->fail_at)
        return r->fail_err;
    memcpy(buf, r->img + off, len);
    return 0;
}

/* ==== A fake remote core: RAM (loadable) and SHM (shared window) ==== */

#define FZ_RAM_DA 0x10000000u
#define FZ_RAM_SIZE 0x10000u
#define FZ_SHM_DA 0x20000000u
#define FZ_SHM_SIZE 0x10000u

struct fz_core {
    uint8_t *ram, *shm; /* malloc'd, exactly *_SIZE bytes */
    uint32_t notifies, starts, stops, shutdowns;
    bool running;
};

FZ_NOCOV static inline bool fz_in_block(const void *p, size_t len, const uint8_t *base, size_t size)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)base;
    return a >= b && a - b <= size && len <= size - (a - b);
}

static inline bool fz_core_has(const struct fz_core *c, const volatile void *p, size_t len)
{
    return fz_in_block((const void *)p, len, c->ram, FZ_RAM_SIZE) ||
           fz_in_block((const void *)p, len, c->shm, FZ_SHM_SIZE);
}

static inline void *fz_core_da_to_va(void *ctx, uint64_t da, size_t len, unsigned flags)
{
    struct fz_core *c = ctx;
    if (da >= FZ_RAM_DA && da - FZ_RAM_DA <= FZ_RAM_SIZE && len <= FZ_RAM_SIZE - (da - FZ_RAM_DA))
        return c->ram + (da - FZ_RAM_DA);
    if (flags & AMP_MEM_LOAD)
        return NULL;
    if (da >= FZ_SHM_DA && da - FZ_SHM_DA <= FZ_SHM_SIZE && len <= FZ_SHM_SIZE - (da - FZ_SHM_DA))
        return c->shm + (da - FZ_SHM_DA);
    return NULL;
}

static inline int fz_core_notify(void *ctx, uint32_t id)
{
    (void)id;
    ((struct fz_core *)ctx)->notifies++;
    return 0;
}

/* The library may clean or invalidate only memory it shares with the core. */
static inline void fz_core_cache(void *ctx, const volatile void *p, size_t len)
{
    FUZZ_ASSERT(fz_core_has(ctx, p, len));
}

static inline int fz_core_start(void *ctx, uint64_t entry)
{
    struct fz_core *c = ctx;
    (void)entry;
    FUZZ_ASSERT(!c->running);
    c->running = true;
    c->starts++;
    return 0;
}

static inline int fz_core_stop(void *ctx)
{
    struct fz_core *c = ctx;
    c->running = false;
    c->stops++;
    return 0;
}

static inline int fz_core_shutdown(void *ctx)
{
    struct fz_core *c = ctx;
    c->running = false;
    c->shutdowns++;
    return 0;
}

static const struct amp_port_ops fz_core_ops = {
    .notify = fz_core_notify,
    .cache_clean = fz_core_cache,
    .cache_invalidate = fz_core_cache,
    .da_to_va = fz_core_da_to_va,
    .start = fz_core_start,
    .stop = fz_core_stop,
    .shutdown = fz_core_shutdown,
};

static inline void fz_core_open(struct fz_core *c)
{
    memset(c, 0, sizeof(*c));
    c->ram = malloc(FZ_RAM_SIZE);
    c->shm = malloc(FZ_SHM_SIZE);
    FUZZ_ASSERT(c->ram && c->shm);
    memset(c->ram, 0xA5, FZ_RAM_SIZE);
    memset(c->shm, 0, FZ_SHM_SIZE);
}

static inline void fz_core_close(struct fz_core *c)
{
    free(c->ram);
    free(c->shm);
}

/* ==== Alignment ==== */

/* UBSan does not check the alignment of volatile accesses, and every
 * access to shared memory is volatile: check it here. A ring's parts are
 * reached through struct pointers whose fields are up to 8 bytes wide; on
 * a core without unaligned access (Cortex-M0, or Device memory) a
 * misaligned one faults. */
static inline bool fz_ring_aligned(const struct amp_vring *vr)
{
    return ((uintptr_t)vr->desc & 7) == 0 && ((uintptr_t)vr->avail & 1) == 0 &&
           ((uintptr_t)vr->used & 3) == 0;
}

/* ==== The host's life cycle of an image, through amp_rproc ==== */

/* Load the image `r` serves, start it, look at what the host set up,
 * then stop, restart, crash, restart and shut down, checking each
 * promise of amp_rproc.h on the way. The image is untrusted: any step
 * may fail, but with a reason, and a restart must do what the first
 * start did (the image is reloaded every time). */
static inline void fz_rproc_run(struct fz_reader *r)
{
    static struct amp_vring_slot slots[2 * 256];
    struct fz_core core;
    fz_core_open(&core);
    struct amp_port port = {&fz_core_ops, &core};
    struct amp_rpmsg dev;
    struct amp_rproc rp;
    struct amp_rproc_cfg cfg = {
        .machine = AMP_EM_X86_64,
        .shm = {core.shm, FZ_SHM_DA, FZ_SHM_SIZE},
        .rsc_da = AMP_RSC_ADDR_ANY,
        .features = (1u << AMP_RPMSG_F_NS) | (1u << AMP_VIRTIO_F_EVENT_IDX),
        .slots = slots,
        .nslots = 2 * 256,
    };
    amp_rpmsg_init(&dev, AMP_ROLE_HOST, &port);
    amp_rproc_init(&rp, &port, &dev, &cfg);

    int err = amp_rproc_load(&rp, fz_read, r, r->size);
    FUZZ_ASSERT(err <= 0);
    if (err) {
        FUZZ_ASSERT(rp.why && rp.state == AMP_RPROC_OFFLINE);
        goto out;
    }
    FUZZ_ASSERT(rp.state == AMP_RPROC_READY);
    int first = amp_rproc_start(&rp);
    FUZZ_ASSERT(first <= 0);
    if (first) {
        FUZZ_ASSERT(rp.why && rp.state == AMP_RPROC_READY && !core.running);
        FUZZ_ASSERT(dev.state == AMP_LINK_DOWN);
        goto out;
    }
    FUZZ_ASSERT(rp.state == AMP_RPROC_RUNNING && core.running);
    FUZZ_ASSERT(rp.ntrace <= AMP_CFG_RPROC_TRACE_MAX);
    if (dev.state == AMP_LINK_UP) {
        struct amp_rpmsg_stats st;
        amp_rpmsg_get_stats(&dev, &st);
        FUZZ_ASSERT(st.rx_queued == dev.rx.num && st.tx_total > 0 && st.tx_free == st.tx_total);
        FUZZ_ASSERT(((uintptr_t)dev.vdev & 3) == 0); /* its status and feature words */
        for (int k = 0; k < 2; k++) {
            const struct amp_vring *vr = k ? &dev.tx : &dev.rx;
            FUZZ_ASSERT(fz_ring_aligned(vr));
            FUZZ_ASSERT(fz_in_block((const void *)vr->desc, 16u * vr->num, core.shm, FZ_SHM_SIZE));
            FUZZ_ASSERT(fz_in_block((const void *)vr->used, 6u + 8u * vr->num, core.shm, FZ_SHM_SIZE));
        }
        FUZZ_ASSERT(amp_rpmsg_poll(&dev) == 0); /* the core has not written anything */
    }
    for (uint32_t i = 0; i < rp.ntrace + 1; i++) {
        char buf[64];
        int n = amp_rproc_trace_read(&rp, i, buf, sizeof(buf));
        FUZZ_ASSERT(n == -ENOENT || (n >= 0 && n < (int)sizeof(buf) && buf[n] == '\0'));
        FUZZ_ASSERT(i < rp.ntrace || n == -ENOENT);
    }
    uint8_t state = dev.state;
    FUZZ_ASSERT(amp_rproc_stop(&rp) == 0 && rp.state == AMP_RPROC_STOPPED && !core.running);
    FUZZ_ASSERT(dev.state == AMP_LINK_DOWN);
    /* the image is reloaded: the same table, so the same outcome */
    FUZZ_ASSERT(amp_rproc_start(&rp) == 0 && rp.state == AMP_RPROC_RUNNING);
    FUZZ_ASSERT(dev.state == state);
    amp_rproc_crashed(&rp);
    FUZZ_ASSERT(rp.state == AMP_RPROC_CRASHED && dev.state == AMP_LINK_DOWN);
    core.running = false; /* the port saw it die */
    FUZZ_ASSERT(amp_rproc_start(&rp) == 0 && dev.state == state);
out:
    FUZZ_ASSERT(amp_rproc_shutdown(&rp) == 0 && rp.state == AMP_RPROC_OFFLINE);
    FUZZ_ASSERT(amp_rproc_start(&rp) == -EINVAL);
    FUZZ_ASSERT(dev.state == AMP_LINK_DOWN && !core.running);
    fz_core_close(&core);
}

#endif /* FUZZ_COMMON_H */
