/*
 * fuzz_elf.c - the streaming ELF loader, and the host's life cycle of a
 * whole firmware image.
 *
 * Input: a firmware ELF file.
 *
 *   1. amp_elf_load() through a reader over the input (which checks that
 *      no byte past the file is asked for) into a fake core whose RAM is a
 *      heap block of exactly its size, filled with a pattern first. On
 *      success every segment's bytes are where its p_paddr says, the rest
 *      of memsz is zero, and no byte of RAM outside the segments changed.
 *      On a failed check RAM is untouched ("a file that fails its checks
 *      leaves memory as it was"). Every error has a reason.
 *   2. The load again with a reader that fails at one call (picked from
 *      the input): the reader's own error must come back.
 *   3. The image through amp_rproc (fz_rproc_run): its resource table
 *      copied, checked, edited, written back; RPMsg brought up on it;
 *      stop, restart, crash, restart, shutdown.
 */
#include "fuzz_common.h"

#define MAX_INPUT (256u * 1024u)
#define READER_ERR (-EBADMSG) /* a code the loader never makes up itself */

FZ_NOCOV static uint32_t hash(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static bool err_known(int err)
{
    return err == -ENOEXEC || err == -E2BIG || err == -EINVAL || err == -ERANGE || err == -EIO ||
           err == READER_ERR;
}

/* Check what a successful load did to RAM; `before` is RAM as it was. */
FZ_NOCOV static void check_loaded(const struct amp_elf *elf, const struct fz_core *c, const uint8_t *before,
                         const uint8_t *file, size_t size)
{
    static uint8_t covered[FZ_RAM_SIZE];
    memset(covered, 0, sizeof(covered));
    FUZZ_ASSERT(elf->nseg <= AMP_CFG_ELF_LOAD_MAX);
    for (uint32_t i = 0; i < elf->nseg; i++) {
        const struct amp_elf_seg *s = &elf->seg[i];
        FUZZ_ASSERT(s->filesz <= s->memsz && s->memsz > 0);
        FUZZ_ASSERT(s->off <= size && s->filesz <= size - s->off);
        FUZZ_ASSERT(s->da >= FZ_RAM_DA && s->da - FZ_RAM_DA <= FZ_RAM_SIZE &&
                    s->memsz <= FZ_RAM_SIZE - (s->da - FZ_RAM_DA));
        const uint8_t *m = c->ram + (s->da - FZ_RAM_DA);
        FUZZ_ASSERT(memcmp(m, file + s->off, (size_t)s->filesz) == 0);
        for (uint64_t k = s->filesz; k < s->memsz; k++)
            FUZZ_ASSERT(m[k] == 0);
        for (uint64_t k = 0; k < s->memsz; k++) {
            FUZZ_ASSERT(!covered[s->da - FZ_RAM_DA + k]); /* segments do not overlap */
            covered[s->da - FZ_RAM_DA + k] = 1;
        }
    }
    for (size_t k = 0; k < FZ_RAM_SIZE; k++)
        FUZZ_ASSERT(covered[k] || c->ram[k] == before[k]);
    if (elf->rsc_size)
        FUZZ_ASSERT(elf->rsc_off <= size && elf->rsc_size <= size - elf->rsc_off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t before[FZ_RAM_SIZE];
    if (size > MAX_INPUT)
        return -1;
    uint8_t *file = malloc(size ? size : 1); /* exact size: the reader must stay inside */
    memcpy(file, data, size);

    /* 1. a plain load */
    struct fz_core core;
    fz_core_open(&core);
    memcpy(before, core.ram, FZ_RAM_SIZE);
    struct amp_port port = {&fz_core_ops, &core};
    struct fz_reader r = {.img = file, .size = size};
    struct amp_elf elf;
    memset(&elf, 0, sizeof(elf));
    elf.read = fz_read;
    elf.read_ctx = &r;
    elf.size = size;
    elf.machine = (size & 1) ? AMP_EM_X86_64 : 0;
    int err = amp_elf_load(&elf, &port);
    FUZZ_ASSERT(err == 0 || (err_known(err) && err != READER_ERR && elf.why));
    if (err == 0)
        check_loaded(&elf, &core, before, file, size);
    else
        FUZZ_ASSERT(memcmp(core.ram, before, FZ_RAM_SIZE) == 0);
    uint32_t reads = r.reads;

    /* 2. the same with a reader that fails once */
    if (reads > 0) {
        struct fz_reader rf = {.img = file, .size = size, .fail_at = 1 + hash(data, size) % reads,
                               .fail_err = READER_ERR};
        struct amp_elf e2;
        memset(&e2, 0, sizeof(e2));
        e2.read = fz_read;
        e2.read_ctx = &rf;
        e2.size = size;
        e2.machine = elf.machine;
        int err2 = amp_elf_load(&e2, &port);
        FUZZ_ASSERT(err2 == READER_ERR && e2.why);
    }
    fz_core_close(&core);

    /* 3. the host's life cycle of this image */
    struct fz_reader r3 = {.img = file, .size = size};
    fz_rproc_run(&r3);
    free(file);
    return 0;
}
