/*
 * amp_elf.c - stream an ELF32/ELF64 firmware image into the remote's memory.
 *
 * Main invariant: nothing from the file is used before it is checked, and
 * the reader is never asked for a byte past elf->size. Headers are read one
 * at a time into small locals, every field once. Offsets and sizes are
 * checked against the file (in_file) or the name table as amp_range_ok(off, len,
 * size) before they are added to anything, and address ranges against the
 * class's address space, so no sum below can wrap.
 *
 * amp_elf_load() maps every segment before it writes the first byte, so a
 * file that fails its checks leaves memory as it was. (A reader that fails
 * half way through a segment cannot be undone.)
 *
 * Errors: -ENOEXEC for a file we would not run (identification, type,
 * machine, version, or shorter than the ELF header); -EINVAL for fields
 * that contradict each other or the file size; -E2BIG past our limits;
 * -ERANGE for memory; the reader's own error otherwise.
 */
#include <string.h>

#include "amp/amp_elf.h"
#include "amp_util.h"

#define EI_NIDENT 16u
#define EHDR_SIZE(is64) ((is64) ? 64u : 52u)
#define PHDR_SIZE(is64) ((is64) ? 56u : 32u)
#define SHDR_SIZE(is64) ((is64) ? 64u : 40u)

#define ET_EXEC 2u
#define PT_LOAD 1u
#define SHT_NOBITS 8u

/* Segment bytes go from the reader to memory in requests of at most this
 * much, so a reader with a bounded transfer size (a file system, a DMA)
 * works and one call cannot block for a whole image. */
#define ELF_CHUNK (64u * 1024u)

/* 16 bytes with its NUL: the longest name we ever need to read */
static const char rsc_name[] = ".resource_table";

/* ==== Helpers ==== */

static uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return amp_le16(v);
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return amp_le32(v);
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return amp_le64(v);
}

/* An address, offset or size: 4 bytes in ELF32, 8 in ELF64. Not inlined:
 * a dozen copies of both cases cost more than the calls. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static uint64_t rdw(const struct amp_elf *elf, const uint8_t *p)
{
    return elf->is64 ? rd64(p) : rd32(p);
}

/* Is [off, off+len) inside the file? One copy of the 64-bit compare. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static bool in_file(const struct amp_elf *elf, uint64_t off, uint64_t len)
{
    return amp_range_ok(off, len, elf->size);
}

static int elf_fail_(struct amp_elf *elf, int err, const char *why)
{
    if (AMP_CFG_REASONS)
        elf->why = why;
    return err;
}
/* the sentence is dropped here, at the call, when reasons are off */
#define elf_fail(elf, err, why) elf_fail_(elf, err, AMP_WHY(why))

static int elf_read(struct amp_elf *elf, uint64_t off, void *buf, size_t len)
{
    if (!in_file(elf, off, len)) /* callers check first: this is our mistake */
        return elf_fail(elf, -EINVAL, "read past the end of the file");
    int err = elf->read(elf->read_ctx, off, buf, len);
    if (err)
        return elf_fail(elf, err < 0 ? err : -EIO, "read failed");
    return 0;
}

/* ==== Program headers ==== */

/* Remember the PT_LOAD segments with memory, each inside the file, not
 * wrapping the address space and not overlapping another. */
static int elf_segments(struct amp_elf *elf, uint64_t phoff, uint16_t entsize, uint16_t phnum)
{
    const bool is64 = elf->is64;
    const uint64_t top = is64 ? UINT64_MAX : UINT32_MAX; /* last device address */
    uint8_t p[PHDR_SIZE(true)];

    if (phnum > AMP_CFG_ELF_PHNUM_MAX)
        return elf_fail(elf, -E2BIG, "more program headers than AMP_CFG_ELF_PHNUM_MAX");
    if (phnum == 0)
        return 0;
    if (entsize != PHDR_SIZE(is64))
        return elf_fail(elf, -EINVAL, "program header size does not match the ELF class");
    if (!in_file(elf, phoff, (uint64_t)phnum * entsize))
        return elf_fail(elf, -EINVAL, "program header table runs past the end of the file");

    for (uint32_t i = 0; i < phnum; i++) {
        int err = elf_read(elf, phoff + (uint64_t)i * entsize, p, entsize);
        if (err)
            return err;
        struct amp_elf_seg s;
        uint32_t type = rd32(p);
        if (is64) {
            s.flags = rd32(p + 4);
            s.off = rd64(p + 8);
            s.da = rd64(p + 24);
            s.filesz = rd64(p + 32);
            s.memsz = rd64(p + 40);
        } else {
            s.off = rd32(p + 4);
            s.da = rd32(p + 12);
            s.filesz = rd32(p + 16);
            s.memsz = rd32(p + 20);
            s.flags = rd32(p + 24);
        }
        if (type != PT_LOAD || s.memsz == 0)
            continue;
        if (s.filesz > s.memsz)
            return elf_fail(elf, -EINVAL, "segment file size is larger than its memory size");
        if (!in_file(elf, s.off, s.filesz))
            return elf_fail(elf, -EINVAL, "segment runs past the end of the file");
        if (s.memsz > top - s.da)
            return elf_fail(elf, -EINVAL, "segment address range wraps around");
        if (elf->nseg == AMP_CFG_ELF_LOAD_MAX)
            return elf_fail(elf, -E2BIG, "more loadable segments than AMP_CFG_ELF_LOAD_MAX");
        for (uint32_t j = 0; j < elf->nseg; j++) {
            const struct amp_elf_seg *t = &elf->seg[j];
            if (s.da < t->da + t->memsz && t->da < s.da + s.memsz) /* no wrap: checked above */
                return elf_fail(elf, -ERANGE, "two loadable segments overlap");
        }
        elf->seg[elf->nseg++] = s;
    }
    return 0;
}

/* ==== Section headers ==== */

/* Find ".resource_table". Only the fields up to sh_size are read. */
static int elf_sections(struct amp_elf *elf, uint64_t shoff, uint16_t entsize, uint16_t shnum,
                        uint16_t strndx)
{
    const size_t w = elf->is64 ? 8u : 4u;
    const size_t part = 8u + 4u * w; /* sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size */
    uint8_t s[8u + 4u * 8u];
    char name[sizeof(rsc_name)];
    int err;

    if (shnum == 0) {
        if (shoff != 0) /* the count is in section 0: not for firmware */
            return elf_fail(elf, -EINVAL, "extended section numbering is not supported");
        return 0;
    }
    if (entsize != SHDR_SIZE(elf->is64))
        return elf_fail(elf, -EINVAL, "section header size does not match the ELF class");
    if (shnum > AMP_CFG_ELF_SHNUM_MAX)
        return elf_fail(elf, -E2BIG, "more section headers than AMP_CFG_ELF_SHNUM_MAX");
    if (!in_file(elf, shoff, (uint64_t)shnum * entsize))
        return elf_fail(elf, -EINVAL, "section header table runs past the end of the file");
    if (strndx == 0) /* SHN_UNDEF: no names, so no resource table */
        return 0;
    if (strndx >= shnum)
        return elf_fail(elf, -EINVAL, "section name table index is out of range");

    if ((err = elf_read(elf, shoff + (uint64_t)strndx * entsize, s, part)))
        return err;
    uint64_t stroff = rdw(elf, s + 8 + 2 * w), strsize = rdw(elf, s + 8 + 3 * w);
    if (!in_file(elf, stroff, strsize))
        return elf_fail(elf, -EINVAL, "section name table runs past the end of the file");

    for (uint32_t i = 1; i < shnum; i++) { /* section 0 is the null section */
        if ((err = elf_read(elf, shoff + (uint64_t)i * entsize, s, part)))
            return err;
        uint32_t nm = rd32(s);
        if (nm >= strsize)
            return elf_fail(elf, -EINVAL, "section name is outside the section name table");
        /* ours only if all 16 bytes, NUL included, are inside the table */
        size_t n = (size_t)AMP_MIN(strsize - nm, (uint64_t)sizeof(name));
        if ((err = elf_read(elf, stroff + nm, name, n)))
            return err;
        if (n < sizeof(name) || memcmp(name, rsc_name, sizeof(name)) != 0)
            continue;
        /* ours: the rest of its header */
        uint32_t type = rd32(s + 4);
        uint64_t addr = rdw(elf, s + 8 + w), off = rdw(elf, s + 8 + 2 * w);
        uint64_t size = rdw(elf, s + 8 + 3 * w);
        if (type == SHT_NOBITS)
            return elf_fail(elf, -EINVAL, "resource table has no contents in the file (SHT_NOBITS)");
        if (size == 0)
            return elf_fail(elf, -EINVAL, "resource table is empty");
        if (!in_file(elf, off, size))
            return elf_fail(elf, -EINVAL, "resource table runs past the end of the file");
        if (elf->rsc_size != 0)
            return elf_fail(elf, -EINVAL, "more than one resource table");
        elf->rsc_da = addr;
        elf->rsc_off = off;
        elf->rsc_size = size;
    }
    return 0;
}

/* ==== Parse and load ==== */

int amp_elf_parse(struct amp_elf *elf)
{
    uint8_t h[EHDR_SIZE(true)];
    int err;

    elf->why = NULL;
    elf->is64 = false;
    elf->e_machine = 0;
    elf->entry = 0;
    elf->nseg = 0;
    elf->rsc_da = elf->rsc_off = elf->rsc_size = 0;
    if (!elf->read)
        return elf_fail(elf, -EINVAL, "no reader");
    if (elf->size < EI_NIDENT)
        return elf_fail(elf, -ENOEXEC, "file is shorter than the ELF identification");
    if ((err = elf_read(elf, 0, h, EI_NIDENT)))
        return err;
    if (rd32(h) != 0x464C457Fu) /* "\177ELF" */
        return elf_fail(elf, -ENOEXEC, "not an ELF file (bad magic)");
    if (h[4] != 1 && h[4] != 2)
        return elf_fail(elf, -ENOEXEC, "ELF class is neither 32 nor 64 bits");
    if (h[5] != 1)
        return elf_fail(elf, -ENOEXEC, "ELF file is not little-endian");
    if (h[6] != 1)
        return elf_fail(elf, -ENOEXEC, "ELF identification version is not 1");

    elf->is64 = h[4] == 2;
    const size_t w = elf->is64 ? 8u : 4u;
    const size_t hsize = EHDR_SIZE(elf->is64);
    if (elf->size < hsize)
        return elf_fail(elf, -ENOEXEC, "file is shorter than the ELF header");
    if ((err = elf_read(elf, EI_NIDENT, h + EI_NIDENT, hsize - EI_NIDENT)))
        return err;
    uint16_t type = rd16(h + 16), machine = rd16(h + 18);
    uint32_t version = rd32(h + 20);
    if (type != ET_EXEC)
        return elf_fail(elf, -ENOEXEC, "ELF file is not an executable (ET_EXEC)");
    elf->e_machine = machine;
    if (elf->machine != 0 && machine != elf->machine)
        return elf_fail(elf, -ENOEXEC, "ELF file is for another machine");
    if (version != 1)
        return elf_fail(elf, -ENOEXEC, "ELF version is not 1");

    /* e_entry, e_phoff, e_shoff are words; e_ehsize and on follow e_flags */
    elf->entry = rdw(elf, h + 24);
    uint64_t phoff = rdw(elf, h + 24 + w), shoff = rdw(elf, h + 24 + 2 * w);
    const uint8_t *q = h + 28 + 3 * w;
    if (rd16(q) < hsize)
        return elf_fail(elf, -EINVAL, "ELF header size field is too small");
    if ((err = elf_segments(elf, phoff, rd16(q + 2), rd16(q + 4))))
        return err;
    return elf_sections(elf, shoff, rd16(q + 6), rd16(q + 8), rd16(q + 10));
}

int amp_elf_load(struct amp_elf *elf, const struct amp_port *port)
{
    void *va[AMP_CFG_ELF_LOAD_MAX];
    int err = amp_elf_parse(elf);

    if (err)
        return err;
    if (!port || !port->ops)
        return elf_fail(elf, -EINVAL, "no port");
    if (!port->ops->da_to_va)
        return elf_fail(elf, -ENOTSUP, "the port cannot map device addresses (no da_to_va)");

    /* map every segment before writing any: a bad file leaves memory alone */
    for (uint32_t i = 0; i < elf->nseg; i++) {
        const struct amp_elf_seg *s = &elf->seg[i];
        if (s->memsz != (size_t)s->memsz)
            return elf_fail(elf, -E2BIG, "segment is larger than our address space");
        va[i] = port->ops->da_to_va(port->ctx, s->da, (size_t)s->memsz, AMP_MEM_LOAD);
        if (!va[i])
            return elf_fail(elf, -ERANGE, "segment is outside loadable memory");
    }

    for (uint32_t i = 0; i < elf->nseg; i++) {
        const struct amp_elf_seg *s = &elf->seg[i];
        uint8_t *dst = va[i];
        size_t filesz = (size_t)s->filesz; /* <= memsz, which fits */
        for (size_t done = 0; done < filesz;) {
            size_t n = AMP_MIN(filesz - done, (size_t)ELF_CHUNK);
            if ((err = elf_read(elf, s->off + done, dst + done, n)))
                return err;
            done += n;
        }
        memset(dst + filesz, 0, (size_t)s->memsz - filesz);
        amp_cache_clean(port, dst, (size_t)s->memsz); /* the remote fetches it past our cache */
    }
    return 0;
}
