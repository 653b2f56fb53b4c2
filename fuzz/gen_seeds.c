/*
 * gen_seeds.c - seed inputs for the fuzz targets, made from our own
 * firmware and tables:
 *
 *   rsc/     the MicroPython STM32 host table (amp_rsc_build_rpmsg) in a
 *            few geometries; the .resource_table of every firmware image
 *            (found with amp_elf_parse); a table with one entry of every
 *            kind (carveout, devmem, trace, vdev with config space, vendor)
 *   elf/     every firmware image as built, the same re-packed compactly
 *            (its PT_LOAD segments and its table only, ELF64 and ELF32),
 *            and each table above wrapped in a one-segment image
 *   host/    ring scripts (fuzz_ring.h): a conversation with a well-behaved
 *   remote/  peer - name service both ways, messages, echoes, zero-copy,
 *            held buffers, restarts - and a few with a misbehaving one
 *
 *     gen_seeds OUTDIR FIRMWARE_DIR
 *
 * A missing firmware directory only means fewer seeds.
 */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "fuzz_ring.h"

static const char *outdir;
static unsigned written;

static void save(const char *target, const char *name, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", outdir, target);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) {
        fprintf(stderr, "gen_seeds: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    fclose(f);
    written++;
}

/* ==== ELF images ==== */

struct seg {
    uint64_t da;
    const uint8_t *bytes;
    uint64_t filesz, memsz;
    uint32_t flags;
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* An ET_EXEC image of either class: the segments back to back after the
 * program headers, then .shstrtab, then the section headers (null,
 * .shstrtab, .resource_table at rsc_da if rsc_size). Returns its size. */
static size_t elf_write(uint8_t *img, size_t cap, bool is64, uint16_t machine, uint64_t entry,
                        const struct seg *seg, unsigned nseg, uint64_t rsc_da, uint64_t rsc_size)
{
    const size_t eh = is64 ? 64 : 52, ph = is64 ? 56 : 32, sh = is64 ? 64 : 40;
    size_t off = eh + nseg * ph, total = off;
    for (unsigned i = 0; i < nseg; i++)
        total += (size_t)seg[i].filesz;
    size_t str = total, shoff = (str + sizeof(fz_shstrtab) + 7) & ~(size_t)7;
    total = shoff + 3 * sh;
    if (total > cap)
        return 0;
    memset(img, 0, total);
    memcpy(img, "\177ELF", 4);
    img[4] = is64 ? 2 : 1;
    img[5] = img[6] = 1;
    put16(img + 16, 2);
    put16(img + 18, machine);
    fz_put32(img + 20, 1);
    uint8_t *q;
    if (is64) {
        fz_put64(img + 24, entry);
        fz_put64(img + 32, eh);
        fz_put64(img + 40, shoff);
        q = img + 52;
    } else {
        fz_put32(img + 24, (uint32_t)entry);
        fz_put32(img + 28, (uint32_t)eh);
        fz_put32(img + 32, (uint32_t)shoff);
        q = img + 40;
    }
    put16(q, (uint16_t)eh);
    put16(q + 2, (uint16_t)ph);
    put16(q + 4, (uint16_t)nseg);
    put16(q + 6, (uint16_t)sh);
    put16(q + 8, 3);
    put16(q + 10, 1);

    uint64_t rsc_off = 0;
    for (unsigned i = 0; i < nseg; i++) {
        uint8_t *p = img + eh + i * ph;
        const struct seg *s = &seg[i];
        fz_put32(p, 1);
        if (is64) {
            fz_put32(p + 4, s->flags);
            fz_put64(p + 8, off);
            fz_put64(p + 16, s->da);
            fz_put64(p + 24, s->da);
            fz_put64(p + 32, s->filesz);
            fz_put64(p + 40, s->memsz);
            fz_put64(p + 48, 16);
        } else {
            fz_put32(p + 4, (uint32_t)off);
            fz_put32(p + 8, (uint32_t)s->da);
            fz_put32(p + 12, (uint32_t)s->da);
            fz_put32(p + 16, (uint32_t)s->filesz);
            fz_put32(p + 20, (uint32_t)s->memsz);
            fz_put32(p + 24, s->flags);
            fz_put32(p + 28, 16);
        }
        memcpy(img + off, s->bytes, (size_t)s->filesz);
        if (rsc_size && rsc_da >= s->da && rsc_da + rsc_size <= s->da + s->filesz)
            rsc_off = off + (rsc_da - s->da);
        off += (size_t)s->filesz;
    }
    memcpy(img + str, fz_shstrtab, sizeof(fz_shstrtab));
    uint8_t *s1 = img + shoff + sh, *s2 = img + shoff + 2 * sh;
    fz_put32(s1, 1);
    fz_put32(s1 + 4, 3);
    fz_put32(s2, 11);
    fz_put32(s2 + 4, 1);
    if (is64) {
        fz_put64(s1 + 24, str);
        fz_put64(s1 + 32, sizeof(fz_shstrtab));
        fz_put64(s2 + 16, rsc_da);
        fz_put64(s2 + 24, rsc_off);
        fz_put64(s2 + 32, rsc_size);
    } else {
        fz_put32(s1 + 16, (uint32_t)str);
        fz_put32(s1 + 20, sizeof(fz_shstrtab));
        fz_put32(s2 + 12, (uint32_t)rsc_da);
        fz_put32(s2 + 16, (uint32_t)rsc_off);
        fz_put32(s2 + 20, (uint32_t)rsc_size);
    }
    return total;
}

/* ==== Tables ==== */

static void table_seeds(void)
{
    static uint8_t t[1024];
    static uint8_t img[8192];
    struct amp_rsc_rpmsg_layout l = {
        .dfeatures = (1u << AMP_RPMSG_F_NS) | (1u << AMP_VIRTIO_F_EVENT_IDX),
        .vring_da = {FZ_SHM_DA + 0x1000, FZ_SHM_DA},
        .num = 64,
        .align = 32,
        .trace_da = FZ_RAM_DA,
        .trace_len = 0x400,
    };
    size_t n = amp_rsc_build_rpmsg(t, sizeof(t), &l);
    save("rsc", "micropython_trace", t, n);
    save("elf", "micropython_trace.elf", img, fz_elf_wrap(img, t, n, FZ_RAM_DA + 0x400, FZ_RAM_DA));
    l.trace_len = 0;
    l.vring_da[0] = l.vring_da[1] = AMP_RSC_ADDR_ANY;
    l.num = 4;
    l.align = 16;
    n = amp_rsc_build_rpmsg(t, sizeof(t), &l);
    save("rsc", "micropython_small_any", t, n);
    save("elf", "micropython_small_any.elf", img, fz_elf_wrap(img, t, n, FZ_RAM_DA + 0x100, FZ_RAM_DA));

    /* one entry of every kind */
    memset(t, 0, sizeof(t));
    const uint32_t nent = 5;
    uint32_t off = 16 + 4 * nent;
    fz_put32(t, 1);
    fz_put32(t + 4, nent);
    uint8_t *e = t + off; /* carveout: the host places it */
    fz_put32(t + 16, off);
    fz_put32(e, AMP_RSC_CARVEOUT);
    fz_put32(e + 4, AMP_RSC_ADDR_ANY);
    fz_put32(e + 8, AMP_RSC_ADDR_ANY);
    fz_put32(e + 12, 0x1000);
    memcpy(e + 24, "carveout", 9);
    off += 56;
    e = t + off; /* devmem */
    fz_put32(t + 20, off);
    fz_put32(e, AMP_RSC_DEVMEM);
    fz_put32(e + 4, FZ_SHM_DA + 0x8000);
    fz_put32(e + 8, FZ_SHM_DA + 0x8000);
    fz_put32(e + 12, 0x100);
    memcpy(e + 24, "devmem", 7);
    off += 56;
    e = t + off; /* trace */
    fz_put32(t + 24, off);
    fz_put32(e, AMP_RSC_TRACE);
    fz_put32(e + 4, FZ_RAM_DA);
    fz_put32(e + 8, 0x100);
    memcpy(e + 16, "trace0", 7);
    off += 48;
    e = t + off; /* vdev: two vrings the host places, 8 bytes of config */
    fz_put32(t + 28, off);
    fz_put32(e, AMP_RSC_VDEV);
    fz_put32(e + 4, AMP_VIRTIO_ID_RPMSG);
    fz_put32(e + 12, (1u << AMP_RPMSG_F_NS) | (1u << AMP_VIRTIO_F_EVENT_IDX));
    fz_put32(e + 20, 8);
    e[25] = 2;
    for (int k = 0; k < 2; k++) {
        uint8_t *v = e + 28 + 20 * k;
        fz_put32(v, AMP_RSC_ADDR_ANY);
        fz_put32(v + 4, 16);
        fz_put32(v + 8, 8);
        fz_put32(v + 12, AMP_RSC_ADDR_ANY);
    }
    off += 28 + 40 + 8;
    e = t + off; /* vendor */
    fz_put32(t + 32, off);
    fz_put32(e, AMP_RSC_VENDOR_START);
    off += 16;
    save("rsc", "every_kind", t, off);
    save("elf", "every_kind.elf", img, fz_elf_wrap(img, t, off, FZ_RAM_DA + 0x800, FZ_RAM_DA));
}

/* ==== Firmware images ==== */

static int file_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    const uint8_t *img = ctx;
    memcpy(buf, img + off, len);
    return 0;
}

static void firmware_seeds(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "gen_seeds: %s: %s (no firmware seeds)\n", dir, strerror(errno));
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".elf") != 0)
            continue;
        char path[1024], name[300];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        static uint8_t file[1 << 20];
        size_t n = fread(file, 1, sizeof(file), f);
        fclose(f);
        if (n <= 256 * 1024) {
            snprintf(name, sizeof(name), "fw_%s", de->d_name);
            save("elf", name, file, n);
        }
        struct amp_elf elf;
        memset(&elf, 0, sizeof(elf));
        elf.read = file_read;
        elf.read_ctx = file;
        elf.size = n;
        if (amp_elf_parse(&elf) != 0) {
            fprintf(stderr, "gen_seeds: %s: %s\n", path, elf.why);
            continue;
        }
        if (elf.rsc_size && elf.rsc_size <= 4096) {
            snprintf(name, sizeof(name), "fw_%.*s.rsc", (int)(len - 4), de->d_name);
            save("rsc", name, file + elf.rsc_off, (size_t)elf.rsc_size);
        }
        /* compact: the segments and the table, nothing else */
        struct seg seg[AMP_CFG_ELF_LOAD_MAX];
        for (uint32_t i = 0; i < elf.nseg; i++)
            seg[i] = (struct seg){elf.seg[i].da, file + elf.seg[i].off, elf.seg[i].filesz,
                                  elf.seg[i].memsz, elf.seg[i].flags};
        static uint8_t img[256 * 1024];
        for (int is64 = 0; is64 < 2; is64++) {
            size_t m = elf_write(img, sizeof(img), is64, AMP_EM_X86_64, elf.entry, seg, elf.nseg,
                                 elf.rsc_da, elf.rsc_size);
            snprintf(name, sizeof(name), "compact%d_%s", is64 ? 64 : 32, de->d_name);
            if (m)
                save("elf", name, img, m);
        }
    }
    closedir(d);
}

/* ==== Ring scripts ==== */

struct script {
    uint8_t b[4096];
    size_t n;
};

static void emit(struct script *s, const uint8_t *p, size_t n)
{
    if (s->n + n <= sizeof(s->b)) {
        memcpy(s->b + s->n, p, n);
        s->n += n;
    }
}
#define EMIT(s, ...) emit((s), (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))

/* The peer announces "vuart-channel" at 0x400 and sends "hello" to our
 * endpoint 0 in its buffer k. */
static void peer_hello(struct script *s, uint8_t k)
{
    EMIT(s, FZ_PEER_MSG, k, FZ_ADDR_EPT0, FZ_ADDR_PEER, 0, 5, 'h', 'e', 'l', 'l', 'o', 0);
}

static void conversation(struct script *s, bool host)
{
    const uint8_t tx_ring = host ? 1 : 0; /* where our sends go */
    EMIT(s, FZ_EPT_CREATE, 0, 3, FZ_ADDR_ANY, FZ_ADDR_ANY); /* "vuart-channel": announced */
    EMIT(s, FZ_PEER_CONSUME, tx_ring, 0);
    EMIT(s, FZ_PEER_NS, 0, 1, FZ_ADDR_PEER, 0, 0, FZ_ADDR_PEER, 0); /* the peer's: we bind */
    EMIT(s, FZ_POLL);
    peer_hello(s, 1);
    EMIT(s, FZ_POLL);
    EMIT(s, FZ_SEND, 0, 5, 0, FZ_ADDR_ANY, 0);
    EMIT(s, FZ_PEER_CONSUME, tx_ring, 0);
    if (!host)
        EMIT(s, FZ_PEER_CONSUME, 1, 0); /* the remote gave the rx buffers back */
    EMIT(s, FZ_ALLOC_TX, 0);
    EMIT(s, FZ_SEND_NOCOPY, 0, 0, 3, 0, FZ_ADDR_ANY);
    EMIT(s, FZ_ALLOC_TX, 0);
    EMIT(s, FZ_RELEASE_TX, 0);
    EMIT(s, FZ_PEER_CONSUME, tx_ring, 0);
    EMIT(s, FZ_CB_MODE, FZ_CB_HOLD);
    peer_hello(s, 2);
    EMIT(s, FZ_POLL);
    EMIT(s, FZ_RELEASE_RX, 0, 0);
    EMIT(s, FZ_CB_MODE, FZ_CB_REPLY);
    peer_hello(s, 3);
    EMIT(s, FZ_WAIT, 1);
    EMIT(s, FZ_PEER_CONSUME, tx_ring, 0);
    EMIT(s, FZ_PEER_NS, 4, 1, FZ_ADDR_PEER, 1, 0, FZ_ADDR_PEER, 0); /* destroy: unbind */
    EMIT(s, FZ_POLL);
    EMIT(s, FZ_STOP);
    EMIT(s, FZ_START);
    EMIT(s, FZ_PEER_CONSUME, tx_ring, 0);
    EMIT(s, FZ_PEER_NS, 0, 1, FZ_ADDR_PEER, 0, 0, FZ_ADDR_PEER, 0);
    EMIT(s, FZ_CB_MODE, FZ_CB_CREATE);
    EMIT(s, FZ_PEER_NS, 1, 0, 7, 0, 0x10, 0, 0, 0, FZ_ADDR_PEER, 0); /* "rpmsg-raw" at 0x1000 */
    EMIT(s, FZ_POLL);
    EMIT(s, FZ_EPT_DESTROY, 0);
    EMIT(s, FZ_SEND, 1, 8, 0, FZ_ADDR_ANY, 0);
}

static void ring_seeds(bool host)
{
    const char *t = host ? "host" : "remote";
    struct script s;
    /* 8 entries, align 16, 128-byte buffers, NS + event index, 8 tx buffers */
    s.n = 0;
    EMIT(&s, 3, 4, 3, 3, 7, 0);
    conversation(&s, host);
    save(t, "conversation", s.b, s.n);

    /* no event index, 256-byte buffers (with a 64-byte cap on the remote) */
    s.n = 0;
    EMIT(&s, 2, 6, host ? 4 : 0x84, 1, host ? 1 : 0, FZ_CB_WAIT_HELPS);
    conversation(&s, host);
    for (int i = 0; i < 8; i++)
        EMIT(&s, FZ_SEND, 1, 40, 0, FZ_ADDR_PEER, 3);
    save(t, "conversation_noevent", s.b, s.n);

    /* callbacks that destroy, poll, release and stop from inside */
    s.n = 0;
    EMIT(&s, 1, 2, 2, 3, 3, FZ_CB_HOLD | FZ_CB_POLL);
    conversation(&s, host);
    EMIT(&s, FZ_EPT_CREATE, 2, 2, FZ_ADDR_ANY, FZ_ADDR_PEER);
    EMIT(&s, FZ_CB_MODE, FZ_CB_RELEASE | FZ_CB_HOLD);
    EMIT(&s, FZ_PEER_MSG, 0, 3, FZ_ADDR_PEER, 0, 1, 'a', 0);
    EMIT(&s, FZ_PEER_MSG, 1, 3, FZ_ADDR_PEER, 0, 1, 'b', 0);
    EMIT(&s, FZ_POLL);
    EMIT(&s, FZ_CB_MODE, FZ_CB_DESTROY | FZ_CB_STOP);
    EMIT(&s, FZ_PEER_MSG, 0, 3, FZ_ADDR_PEER, 0, 1, 'c', 0);
    EMIT(&s, FZ_POLL);
    EMIT(&s, FZ_START);
    save(t, "callbacks", s.b, s.n);

    /* a peer that lies: ids, lengths, headers, NS, indices */
    s.n = 0;
    EMIT(&s, 3, 4, 3, 3, 7, 0);
    EMIT(&s, FZ_EPT_CREATE, 0, 3, FZ_ADDR_ANY, FZ_ADDR_ANY);
    EMIT(&s, FZ_PEER_PUSH, 0, 0x80, 0xff, 0xff, 0xff, 0xff, 5, host ? FZ_POLL : 4, 0);
    EMIT(&s, FZ_PEER_PUSH, 0, 9, 4, 0, 0);
    EMIT(&s, FZ_PEER_MSG, 0, FZ_ADDR_EPT0, FZ_ADDR_PEER, 0x80, 0xff, 0xff, 2, 'h', 'i', 0);
    EMIT(&s, FZ_PEER_NS, 1, 0x80, 'n', 'o', '-', 'n', 'u', 'l', '.', '.', '.', '.', '.', '.', '.',
         '.', '.', '.', '.', '.', '.', '.', '.', '.', '.', '.', '.', '.', '.', '.', '.', '.', '.',
         '.', FZ_ADDR_PEER, 0, 39, FZ_ADDR_PEER, 0);
    EMIT(&s, FZ_PEER_NS, 2, 1, FZ_ADDR_ANY, 0x80, 7, 0, 0, 0, 0, FZ_ADDR_PEER, 0);
    EMIT(&s, FZ_POLL);
    EMIT(&s, FZ_PEER_IDX, 0, 0x80, 0x00, 0x80);
    EMIT(&s, FZ_POLL);
    EMIT(&s, FZ_SEND, 0, 5, 0, FZ_ADDR_ANY, 0);
    EMIT(&s, FZ_STOP);
    EMIT(&s, FZ_START);
    EMIT(&s, FZ_PEER_WRITE, 0x80, 0, 16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    EMIT(&s, FZ_POLL);
    save(t, "liar", s.b, s.n);

    if (!host) { /* the host's geometry itself is bad, or both rings are one */
        s.n = 0;
        EMIT(&s, 0x83, 0x84, 3, 3, 1, 0);
        conversation(&s, host);
        save(t, "aliased_rings", s.b, s.n);
        s.n = 0;
        EMIT(&s, 0x83, 0x85, 3, 3, 0, 0);
        EMIT(&s, FZ_PEER_WRITE, 0x24, 0, 4, 8, 0, 0, 0); /* vring0 num := 8 */
        EMIT(&s, FZ_START);
        conversation(&s, host);
        save(t, "bad_geometry", s.b, s.n);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: gen_seeds OUTDIR FIRMWARE_DIR\n");
        return 2;
    }
    outdir = argv[1];
    mkdir(outdir, 0755);
    table_seeds();
    firmware_seeds(argv[2]);
    ring_seeds(true);
    ring_seeds(false);
    printf("gen_seeds: %u seeds in %s\n", written, outdir);
    return 0;
}
