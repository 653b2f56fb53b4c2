/*
 * amp_elf.h - a streaming ELF32/ELF64 firmware loader.
 *
 * The image is read through a callback (offset, length), a header at a
 * time, so a microcontroller can load from a file system without holding
 * the image in RAM. Segment bytes are read straight into the remote's
 * memory, found through the port's da_to_va(AMP_MEM_LOAD).
 *
 * Accepted: little-endian ET_EXEC files of either class. PT_LOAD segments
 * go to p_paddr (the device address); p_memsz beyond p_filesz is zeroed.
 * The resource table is the ".resource_table" section. Every field is
 * checked before use, sizes and offsets as `off > size || len > size - off`
 * so that nothing can overflow.
 *
 * Errors (negative errno), each with a sentence in elf->why (NULL when
 * AMP_CFG_REASONS is 0, see amp_errno.h):
 *   -ENOEXEC  not an ELF we can run: magic, class, byte order, version,
 *             type, machine; or the file is shorter than an ELF header
 *   -E2BIG    more headers or segments than the configured limits
 *   -EINVAL   inconsistent fields: a table or segment outside the file,
 *             filesz > memsz, address overflow, bad section names
 *   -ERANGE   a segment outside loadable memory, or two that overlap
 *   -EIO      the reader failed (or the reader's own negative errno)
 */
#ifndef AMP_ELF_H
#define AMP_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amp_port.h"

#ifndef AMP_CFG_ELF_LOAD_MAX
#define AMP_CFG_ELF_LOAD_MAX (16u) /* PT_LOAD segments remembered */
#endif

#define AMP_EM_ARM 40u
#define AMP_EM_X86_64 62u
#define AMP_EM_AARCH64 183u
#define AMP_EM_RISCV 243u

/* Read exactly len bytes at off into buf: 0, or a negative errno. The
 * loader never asks for bytes past the size it was given. */
typedef int (*amp_elf_read_fn)(void *ctx, uint64_t off, void *buf, size_t len);

struct amp_elf_seg {
    uint64_t da;     /* p_paddr */
    uint64_t memsz;
    uint64_t filesz;
    uint64_t off;    /* p_offset */
    uint32_t flags;  /* p_flags: PF_X 1, PF_W 2, PF_R 4 */
};

struct amp_elf {
    /* set by the caller before amp_elf_parse() */
    amp_elf_read_fn read;
    void *read_ctx;
    uint64_t size;    /* bytes in the file */
    uint16_t machine; /* required e_machine, 0 = any */

    /* filled by amp_elf_parse() */
    bool is64;
    uint16_t e_machine;
    uint64_t entry;
    uint32_t nseg;
    struct amp_elf_seg seg[AMP_CFG_ELF_LOAD_MAX];
    uint64_t rsc_da;   /* the resource table's address (sh_addr) ... */
    uint64_t rsc_off;  /* ... where it is in the file ... */
    uint64_t rsc_size; /* ... and its size; 0: there is none */

    const char *why; /* the reason for the last error, or NULL (always without AMP_CFG_REASONS) */
};

/* Read and check the headers, remember the PT_LOAD segments and find the
 * resource table. Nothing is written anywhere. 0 or -errno. */
int amp_elf_parse(struct amp_elf *elf);

/* Parse, then check every segment against the port's loadable memory and
 * copy it there, zeroing the rest of memsz. 0 or -errno. */
int amp_elf_load(struct amp_elf *elf, const struct amp_port *port);

#endif /* AMP_ELF_H */
