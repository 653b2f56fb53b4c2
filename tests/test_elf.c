/*
 * test_elf.c - the streaming ELF loader against images written here.
 *
 * A tiny writer builds ELF32 and ELF64 executables in memory (ELF header,
 * program headers, segment bytes, .shstrtab, section headers last, as
 * GNU ld lays them out), a reader serves them and counts what it is asked
 * for, and a fake port maps a RAM array at a device address. Each hostile
 * field is then poked into a good image. Layouts: the System V gABI,
 * ch. 4 (ELF header, sections) and ch. 5 (program headers).
 */
#include "amp/amp_elf.h"
#include "amp_test.h"

/* ==== The image writer ==== */

#define IMG_MAX (256u * 1024u)
#define RAM_SIZE (192u * 1024u)
#define RAM_DA32 0x10000000u
#define RAM_DA64 0x480000000ull /* above 4 GiB: only a 64-bit address reaches it */
#define SEG_MAX 20u

#define PT_LOAD 1u
#define PT_NOTE 4u
#define SHT_PROGBITS 1u
#define SHT_STRTAB 3u
#define SHT_NOBITS 8u

/* .shstrtab: ".resource_table" last, so a shorter sh_size can cut its NUL */
static const char strtab[] = "\0.text\0.data\0.shstrtab\0.resource_table";
#define NAME_TEXT 1u
#define NAME_DATA 7u
#define NAME_SHSTRTAB 13u
#define NAME_RSC 23u
#define STRTAB_SIZE sizeof(strtab) /* 39, with the last NUL */

/* sections the writer emits */
enum { SH_NULL, SH_TEXT, SH_RSC, SH_DATA, SH_STRTAB, SH_COUNT };
#define RSC_IN_SEG0 0x20u /* the resource table sits in segment 0 ... */
#define RSC_SIZE 0x40u    /* ... and is this long */

struct seg_spec {
    uint32_t type;
    uint64_t da;
    uint64_t filesz, memsz;
};

static struct img {
    uint8_t b[IMG_MAX];
    size_t len;
    bool is64;
    size_t phoff, shoff, stroff;
    size_t seg_off[SEG_MAX]; /* where each segment's bytes are */
    struct seg_spec seg[SEG_MAX];
    unsigned nseg;
} im;

/* Segment bytes: a pattern that does not repeat every 256 bytes, so a
 * chunk landing in the wrong place shows. */
static uint8_t pat(unsigned seg, size_t k)
{
    return (uint8_t)((k * 131u + seg * 17u + (k >> 8) * 7u) ^ 0x5Cu);
}

static void w16(size_t off, uint64_t v)
{
    for (unsigned i = 0; i < 2; i++)
        im.b[off + i] = (uint8_t)(v >> (8 * i));
}

static void w32(size_t off, uint64_t v)
{
    for (unsigned i = 0; i < 4; i++)
        im.b[off + i] = (uint8_t)(v >> (8 * i));
}

static void w64(size_t off, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++)
        im.b[off + i] = (uint8_t)(v >> (8 * i));
}

/* an address, offset or size: 4 bytes in ELF32, 8 in ELF64 */
static void ww(size_t off, uint64_t v)
{
    if (im.is64)
        w64(off, v);
    else
        w32(off, v);
}

static size_t wsz(void)
{
    return im.is64 ? 8 : 4;
}

/* ELF header fields */
enum { E_TYPE, E_MACHINE, E_VERSION, E_ENTRY, E_PHOFF, E_SHOFF, E_EHSIZE, E_PHENTSIZE, E_PHNUM,
       E_SHENTSIZE, E_SHNUM, E_SHSTRNDX };

static void set_eh(int f, uint64_t v)
{
    size_t w = wsz();
    switch (f) {
    case E_TYPE: w16(16, v); break;
    case E_MACHINE: w16(18, v); break;
    case E_VERSION: w32(20, v); break;
    case E_ENTRY: ww(24, v); break;
    case E_PHOFF: ww(24 + w, v); break;
    case E_SHOFF: ww(24 + 2 * w, v); break;
    case E_EHSIZE: w16(28 + 3 * w, v); break;
    case E_PHENTSIZE: w16(30 + 3 * w, v); break;
    case E_PHNUM: w16(32 + 3 * w, v); break;
    case E_SHENTSIZE: w16(34 + 3 * w, v); break;
    case E_SHNUM: w16(36 + 3 * w, v); break;
    case E_SHSTRNDX: w16(38 + 3 * w, v); break;
    }
}

/* program header fields */
enum { P_TYPE, P_OFFSET, P_PADDR, P_FILESZ, P_MEMSZ, P_FLAGS, P_VADDR };

static void set_ph(unsigned i, int f, uint64_t v)
{
    size_t p = im.phoff + i * (im.is64 ? 56u : 32u);
    static const size_t o32[] = {0, 4, 12, 16, 20, 24, 8}, o64[] = {0, 8, 24, 32, 40, 4, 16};
    if (f == P_TYPE || f == P_FLAGS)
        w32(p + (im.is64 ? o64 : o32)[f], v);
    else
        ww(p + (im.is64 ? o64 : o32)[f], v);
}

/* section header fields */
enum { S_NAME, S_TYPE, S_ADDR, S_OFFSET, S_SIZE };

static void set_sh(unsigned i, int f, uint64_t v)
{
    size_t s = im.shoff + i * (im.is64 ? 64u : 40u), w = wsz();
    switch (f) {
    case S_NAME: w32(s, v); break;
    case S_TYPE: w32(s + 4, v); break;
    case S_ADDR: ww(s + 8 + w, v); break;
    case S_OFFSET: ww(s + 8 + 2 * w, v); break;
    case S_SIZE: ww(s + 8 + 3 * w, v); break;
    }
}

static size_t align_up(size_t x, size_t a)
{
    return (x + a - 1) & ~(a - 1);
}

/* Write a whole executable. Segment 0 must hold at least
 * RSC_IN_SEG0 + RSC_SIZE file bytes: the resource table is there. */
static void build(bool is64, uint16_t machine, uint64_t entry, const struct seg_spec *segs,
                  unsigned n)
{
    memset(&im, 0, sizeof(im));
    im.is64 = is64;
    im.nseg = n;
    memcpy(im.seg, segs, n * sizeof(*segs));
    size_t ehsize = is64 ? 64 : 52, phent = is64 ? 56 : 32, shent = is64 ? 64 : 40;

    memcpy(im.b, "\177ELF", 4);
    im.b[4] = is64 ? 2 : 1; /* EI_CLASS */
    im.b[5] = 1;            /* EI_DATA: little-endian */
    im.b[6] = 1;            /* EI_VERSION */
    im.phoff = ehsize;
    size_t off = align_up(im.phoff + n * phent, 16);
    for (unsigned i = 0; i < n; i++) {
        im.seg_off[i] = off;
        for (size_t k = 0; k < segs[i].filesz; k++)
            im.b[off + k] = pat(i, k);
        off = align_up(off + segs[i].filesz, 4);
    }
    im.stroff = off;
    memcpy(im.b + off, strtab, STRTAB_SIZE);
    im.shoff = align_up(off + STRTAB_SIZE, 8);
    im.len = im.shoff + SH_COUNT * shent;

    set_eh(E_TYPE, 2); /* ET_EXEC */
    set_eh(E_MACHINE, machine);
    set_eh(E_VERSION, 1);
    set_eh(E_ENTRY, entry);
    set_eh(E_PHOFF, im.phoff);
    set_eh(E_SHOFF, im.shoff);
    set_eh(E_EHSIZE, ehsize);
    set_eh(E_PHENTSIZE, phent);
    set_eh(E_PHNUM, n);
    set_eh(E_SHENTSIZE, shent);
    set_eh(E_SHNUM, SH_COUNT);
    set_eh(E_SHSTRNDX, SH_STRTAB);

    for (unsigned i = 0; i < n; i++) {
        set_ph(i, P_TYPE, segs[i].type);
        set_ph(i, P_OFFSET, im.seg_off[i]);
        set_ph(i, P_PADDR, segs[i].da);
        set_ph(i, P_VADDR, segs[i].da); /* as a linker writes it; the loader goes by p_paddr */
        set_ph(i, P_FILESZ, segs[i].filesz);
        set_ph(i, P_MEMSZ, segs[i].memsz);
        set_ph(i, P_FLAGS, i == 0 ? 5 : 6); /* R+X, R+W */
    }

    set_sh(SH_TEXT, S_NAME, NAME_TEXT);
    set_sh(SH_TEXT, S_TYPE, SHT_PROGBITS);
    set_sh(SH_TEXT, S_ADDR, segs[0].da);
    set_sh(SH_TEXT, S_OFFSET, im.seg_off[0]);
    set_sh(SH_TEXT, S_SIZE, segs[0].filesz);
    set_sh(SH_RSC, S_NAME, NAME_RSC);
    set_sh(SH_RSC, S_TYPE, SHT_PROGBITS);
    set_sh(SH_RSC, S_ADDR, segs[0].da + RSC_IN_SEG0);
    set_sh(SH_RSC, S_OFFSET, im.seg_off[0] + RSC_IN_SEG0);
    set_sh(SH_RSC, S_SIZE, RSC_SIZE);
    set_sh(SH_DATA, S_NAME, NAME_DATA);
    set_sh(SH_DATA, S_TYPE, SHT_NOBITS); /* only a name: nothing else refers to it */
    set_sh(SH_STRTAB, S_NAME, NAME_SHSTRTAB);
    set_sh(SH_STRTAB, S_TYPE, SHT_STRTAB);
    set_sh(SH_STRTAB, S_OFFSET, im.stroff);
    set_sh(SH_STRTAB, S_SIZE, STRTAB_SIZE);
}

/* ==== Reader and fake port ==== */

struct reader {
    const uint8_t *b;
    uint64_t size;       /* what the loader was told */
    unsigned calls;
    uint64_t total;      /* bytes handed out */
    size_t largest;      /* the largest single request */
    unsigned past_end;   /* requests past `size`: must stay 0 */
    unsigned fail_call;  /* fail this call (1-based), 0: never */
    int fail_ret;
};

static int mem_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    struct reader *r = ctx;
    r->calls++;
    if (r->fail_call && r->calls == r->fail_call)
        return r->fail_ret;
    if (off > r->size || len > r->size - off) {
        r->past_end++;
        return -EIO;
    }
    memcpy(buf, r->b + off, len);
    r->total += len;
    if (len > r->largest)
        r->largest = len;
    return 0;
}

static uint8_t ram[RAM_SIZE];
static uint8_t pristine[RAM_SIZE]; /* 0xAA everywhere: what untouched RAM holds */
static uint64_t ram_da = RAM_DA32;
static unsigned map_calls, cleaned;

static void *fake_da_to_va(void *ctx, uint64_t da, size_t len, unsigned flags)
{
    (void)ctx;
    map_calls++;
    if (!(flags & AMP_MEM_LOAD) || da < ram_da || da - ram_da > RAM_SIZE ||
        len > RAM_SIZE - (da - ram_da))
        return NULL;
    return ram + (da - ram_da);
}

static void fake_clean(void *ctx, const volatile void *p, size_t len)
{
    (void)ctx;
    (void)p;
    cleaned += (unsigned)len;
}

static const struct amp_port_ops fake_ops = {
    .da_to_va = fake_da_to_va,
    .cache_clean = fake_clean,
};
static const struct amp_port fake_port = {&fake_ops, NULL};

static void ram_reset(void)
{
    memset(pristine, 0xAA, sizeof(pristine));
    memcpy(ram, pristine, sizeof(ram));
    map_calls = 0;
    cleaned = 0;
}

static bool ram_untouched(void)
{
    return memcmp(ram, pristine, sizeof(ram)) == 0;
}

/* Parse or load the first `size` bytes of the image. Checks what holds
 * for every call: no read past the end, and a reason exactly on error. */
static int run_port(struct amp_elf *elf, struct reader *r, size_t size, uint16_t machine,
                    const struct amp_port *port)
{
    memset(r, 0, sizeof(*r));
    r->b = im.b;
    r->size = size;
    memset(elf, 0x5A, sizeof(*elf)); /* parse must set every output */
    elf->read = mem_read;
    elf->read_ctx = r;
    elf->size = size;
    elf->machine = machine;
    ram_reset();
    int err = port ? amp_elf_load(elf, port) : amp_elf_parse(elf);
    CHECK_EQ(r->past_end, 0);
    if (err)
        CHECK(elf->why != NULL);
    else
        CHECK(elf->why == NULL);
    /* the loader's own last line of defence: a field check should fire first */
    CHECK(!elf->why || !strstr(elf->why, "read past the end"));
    return err;
}

static int run(struct amp_elf *elf, struct reader *r, size_t size, uint16_t machine)
{
    return run_port(elf, r, size, machine, &fake_port);
}

/* Loading the whole image fails with `err` and a reason that mentions
 * `word` (NULL: any reason), and RAM is as it was. */
static void expect_fail_why(int err, uint16_t machine, const char *word)
{
    struct amp_elf elf;
    struct reader r;
    int got = run(&elf, &r, im.len, machine);
    if (got != err || (word && elf.why && !strstr(elf.why, word)))
        fprintf(stderr, "  expected %d, got %d (%s)\n", err, got, elf.why ? elf.why : "-");
    CHECK_EQ(got, err);
    if (word)
        CHECK(elf.why && strstr(elf.why, word));
    CHECK(ram_untouched());
}

static void expect_fail(int err, uint16_t machine)
{
    expect_fail_why(err, machine, NULL);
}

/* The standard image: a text segment holding the resource table, a data
 * segment with bss, a note (skipped) and an empty PT_LOAD outside RAM
 * (skipped: no memory). */
#define TEXT_OFF 0x100u
#define TEXT_SIZE 0x180u
#define DATA_OFF 0x1000u
#define DATA_FILE 0x40u
#define DATA_MEM 0x200u

static void std_image(bool is64, uint16_t machine)
{
    ram_da = is64 ? RAM_DA64 : RAM_DA32;
    const struct seg_spec segs[] = {
        {PT_LOAD, ram_da + TEXT_OFF, TEXT_SIZE, TEXT_SIZE},
        {PT_LOAD, ram_da + DATA_OFF, DATA_FILE, DATA_MEM},
        {PT_NOTE, 0, 0x10, 0},
        {PT_LOAD, 0x90000000u, 0, 0},
    };
    build(is64, machine, ram_da + TEXT_OFF + 1, segs, 4);
}

/* ==== Good images ==== */

static void check_std_loaded(const struct amp_elf *elf, bool is64, uint16_t machine)
{
    CHECK(elf->is64 == is64);
    CHECK_EQ(elf->e_machine, machine);
    CHECK(elf->entry == ram_da + TEXT_OFF + 1);
    CHECK_EQ(elf->nseg, 2);
    CHECK(elf->seg[0].da == ram_da + TEXT_OFF);
    CHECK_EQ(elf->seg[0].memsz, TEXT_SIZE);
    CHECK_EQ(elf->seg[0].filesz, TEXT_SIZE);
    CHECK_EQ(elf->seg[0].off, im.seg_off[0]);
    CHECK_EQ(elf->seg[0].flags, 5);
    CHECK(elf->seg[1].da == ram_da + DATA_OFF);
    CHECK_EQ(elf->seg[1].memsz, DATA_MEM);
    CHECK_EQ(elf->seg[1].filesz, DATA_FILE);
    CHECK_EQ(elf->seg[1].flags, 6);
    CHECK(elf->rsc_da == ram_da + TEXT_OFF + RSC_IN_SEG0);
    CHECK_EQ(elf->rsc_off, im.seg_off[0] + RSC_IN_SEG0);
    CHECK_EQ(elf->rsc_size, RSC_SIZE);

    /* the bytes, the bss, and nothing around them */
    bool text_ok = true, data_ok = true, bss_ok = true;
    for (size_t k = 0; k < TEXT_SIZE; k++)
        text_ok &= ram[TEXT_OFF + k] == pat(0, k);
    for (size_t k = 0; k < DATA_FILE; k++)
        data_ok &= ram[DATA_OFF + k] == pat(1, k);
    for (size_t k = DATA_FILE; k < DATA_MEM; k++)
        bss_ok &= ram[DATA_OFF + k] == 0;
    CHECK(text_ok);
    CHECK(data_ok);
    CHECK(bss_ok);
    CHECK_MEM(ram, pristine, TEXT_OFF);
    CHECK_MEM(ram + TEXT_OFF + TEXT_SIZE, pristine, DATA_OFF - TEXT_OFF - TEXT_SIZE);
    CHECK_MEM(ram + DATA_OFF + DATA_MEM, pristine, RAM_SIZE - DATA_OFF - DATA_MEM);
    CHECK_EQ(cleaned, TEXT_SIZE + DATA_MEM); /* each segment cleaned for the remote */
}

static void test_elf_elf32_arm_loads(void)
{
    struct amp_elf elf;
    struct reader r;
    std_image(false, AMP_EM_ARM);
    CHECK_EQ(run(&elf, &r, im.len, AMP_EM_ARM), 0);
    check_std_loaded(&elf, false, AMP_EM_ARM);
    CHECK_EQ(map_calls, 2); /* the note and the empty PT_LOAD are not mapped */
    CHECK(r.total <= im.len + 256); /* headers once, names, segments once */
}

static void test_elf_elf64_x86_64_loads(void)
{
    struct amp_elf elf;
    struct reader r;
    std_image(true, AMP_EM_X86_64);
    CHECK_EQ(run(&elf, &r, im.len, AMP_EM_X86_64), 0);
    check_std_loaded(&elf, true, AMP_EM_X86_64);
    CHECK(elf.rsc_da > 0xFFFFFFFFu); /* a 64-bit address survived */
}

static void test_elf_vaddr_ignored_loads_at_paddr(void)
{
    struct amp_elf elf;
    struct reader r;
    std_image(false, AMP_EM_ARM);
    set_ph(0, P_VADDR, 0x08000000u); /* e.g. a flash alias: not where we load */
    set_ph(1, P_VADDR, 0x20000000u);
    CHECK_EQ(run(&elf, &r, im.len, AMP_EM_ARM), 0);
    check_std_loaded(&elf, false, AMP_EM_ARM);
}

static void test_elf_any_machine_loads(void)
{
    struct amp_elf elf;
    struct reader r;
    std_image(false, AMP_EM_RISCV);
    CHECK_EQ(run(&elf, &r, im.len, 0), 0);
    check_std_loaded(&elf, false, AMP_EM_RISCV);
}

static void test_elf_parse_writes_nothing(void)
{
    struct amp_elf elf;
    struct reader r;
    std_image(false, AMP_EM_ARM);
    CHECK_EQ(run_port(&elf, &r, im.len, AMP_EM_ARM, NULL), 0);
    CHECK_EQ(elf.nseg, 2);
    CHECK_EQ(elf.rsc_size, RSC_SIZE);
    CHECK_EQ(map_calls, 0);
    CHECK(ram_untouched());
}

/* ==== Identification ==== */

static void test_elf_machine_mismatch_noexec(void)
{
    std_image(false, AMP_EM_ARM);
    expect_fail(-ENOEXEC, AMP_EM_RISCV);
    std_image(true, AMP_EM_X86_64);
    expect_fail(-ENOEXEC, AMP_EM_AARCH64);
}

static void test_elf_bad_ident_noexec(void)
{
    static const struct {
        size_t at;
        uint8_t v;
    } bad[] = {{0, 0x7e}, {1, 'e'}, {2, 'l'}, {3, 'f'}, {4, 0}, {4, 3}, {5, 0}, {5, 2}, {6, 0},
               {6, 2}};
    for (int cls = 0; cls < 2; cls++)
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            std_image(cls, AMP_EM_ARM);
            im.b[bad[i].at] = bad[i].v;
            expect_fail(-ENOEXEC, 0);
        }
}

static void test_elf_not_executable_noexec(void)
{
    static const uint16_t types[] = {0, 1, 3, 4, 0xFE00};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        std_image(false, AMP_EM_ARM);
        set_eh(E_TYPE, types[i]);
        expect_fail(-ENOEXEC, 0);
    }
    std_image(true, AMP_EM_X86_64);
    set_eh(E_VERSION, 0);
    expect_fail(-ENOEXEC, 0);
    set_eh(E_VERSION, 2);
    expect_fail(-ENOEXEC, 0);
}

static void test_elf_header_sizes_wrong_einval(void)
{
    std_image(false, AMP_EM_ARM);
    set_eh(E_EHSIZE, 51);
    expect_fail(-EINVAL, 0);
    std_image(true, AMP_EM_ARM);
    set_eh(E_PHENTSIZE, 32); /* an ELF32 size in an ELF64 file */
    expect_fail(-EINVAL, 0);
    std_image(false, AMP_EM_ARM);
    set_eh(E_SHENTSIZE, 64);
    expect_fail(-EINVAL, 0);
}

static void test_elf_no_reader_einval(void)
{
    struct amp_elf elf;
    memset(&elf, 0, sizeof(elf));
    elf.size = 100;
    CHECK_EQ(amp_elf_parse(&elf), -EINVAL);
    CHECK(elf.why != NULL);
}

/* ==== Truncation ==== */

/* Every cut of the file fails and touches no RAM. The section headers end
 * the file, so every cut loses a table the loader checks: below the ELF
 * header that is -ENOEXEC, above it -EINVAL. */
static void truncate_all(bool is64)
{
    struct amp_elf elf;
    struct reader r;
    size_t ehsize = is64 ? 64 : 52;
    unsigned wrong = 0, touched = 0;
    std_image(is64, AMP_EM_ARM);
    for (size_t cut = 0; cut < im.len; cut++) {
        int err = run(&elf, &r, cut, AMP_EM_ARM);
        int want = cut < ehsize ? -ENOEXEC : -EINVAL;
        if (err != want && wrong++ < 5)
            fprintf(stderr, "  cut at %zu: %d (%s)\n", cut, err, elf.why ? elf.why : "-");
        if (!ram_untouched())
            touched++;
    }
    CHECK_EQ(wrong, 0);
    CHECK_EQ(touched, 0);
    CHECK_EQ(run(&elf, &r, im.len, AMP_EM_ARM), 0);
}

static void test_elf_elf32_truncated_at_every_byte_fails(void)
{
    truncate_all(false);
}

static void test_elf_elf64_truncated_at_every_byte_fails(void)
{
    truncate_all(true);
}

/* ==== Program headers ==== */

static void test_elf_phnum_huge_e2big(void)
{
    std_image(false, AMP_EM_ARM);
    set_eh(E_PHNUM, 0xFFFF); /* PN_XNUM: extended numbering, not for us */
    expect_fail(-E2BIG, 0);
    std_image(true, AMP_EM_ARM);
    set_eh(E_PHNUM, AMP_CFG_ELF_PHNUM_MAX + 1);
    expect_fail(-E2BIG, 0);
}

static void test_elf_phdrs_past_end_einval(void)
{
    std_image(false, AMP_EM_ARM);
    set_eh(E_PHOFF, im.len - 32 + 4);
    expect_fail(-EINVAL, 0);
    std_image(true, AMP_EM_ARM);
    set_eh(E_PHOFF, 0xFFFFFFFFFFFFFFF0ull);
    expect_fail(-EINVAL, 0);
}

static void test_elf_filesz_over_memsz_einval(void)
{
    std_image(false, AMP_EM_ARM);
    set_ph(1, P_FILESZ, DATA_MEM + 1);
    expect_fail(-EINVAL, 0);
    std_image(true, AMP_EM_ARM);
    set_ph(0, P_MEMSZ, TEXT_SIZE - 1);
    expect_fail(-EINVAL, 0);
}

static void test_elf_offset_overflow_einval(void)
{
    std_image(true, AMP_EM_ARM);
    set_ph(1, P_OFFSET, 0xFFFFFFFFFFFFFFF0ull);
    set_ph(1, P_FILESZ, 0x20);
    expect_fail(-EINVAL, 0);
    std_image(false, AMP_EM_ARM);
    set_ph(1, P_OFFSET, 0xFFFFFFF0u);
    set_ph(1, P_FILESZ, 0x20);
    expect_fail(-EINVAL, 0);
    std_image(false, AMP_EM_ARM);
    set_ph(1, P_OFFSET, im.len - DATA_FILE + 1); /* one byte past the end */
    expect_fail(-EINVAL, 0);
}

static void test_elf_paddr_overflow_einval(void)
{
    std_image(true, AMP_EM_ARM);
    set_ph(1, P_PADDR, 0xFFFFFFFFFFFFF000ull);
    set_ph(1, P_MEMSZ, 0x2000);
    expect_fail(-EINVAL, 0);
    std_image(false, AMP_EM_ARM); /* ELF32 wraps at 4 GiB */
    set_ph(1, P_PADDR, 0xFFFFF000u);
    set_ph(1, P_MEMSZ, 0x2000);
    expect_fail(-EINVAL, 0);
}

static void test_elf_segment_outside_ram_erange(void)
{
    std_image(false, AMP_EM_ARM);
    set_ph(1, P_PADDR, 0x20000000u); /* segment 0 is fine: it must not be written */
    expect_fail(-ERANGE, 0);
    std_image(false, AMP_EM_ARM);
    set_ph(1, P_PADDR, RAM_DA32 + RAM_SIZE - DATA_MEM + 1); /* straddles the end */
    expect_fail(-ERANGE, 0);
    std_image(false, AMP_EM_ARM);
    set_ph(0, P_PADDR, RAM_DA32 - 0x10);
    expect_fail(-ERANGE, 0);
}

static void test_elf_overlapping_segments_erange(void)
{
    /* segment 1 moved and resized against segment 0 = [0x100, 0x280) */
    static const struct {
        uint64_t at, memsz, filesz;
    } bad[] = {
        {TEXT_OFF, DATA_MEM, DATA_FILE},                     /* same start */
        {TEXT_OFF + TEXT_SIZE - 1, DATA_MEM, DATA_FILE},     /* on its last byte */
        {0, TEXT_OFF + 1, DATA_FILE},                        /* onto its first byte */
        {TEXT_OFF + 0x10, 0x20, 0x10},                       /* inside it */
        {0, TEXT_OFF + TEXT_SIZE + 0x10, DATA_FILE},         /* around it */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        std_image(i & 1, AMP_EM_ARM);
        set_ph(1, P_PADDR, ram_da + bad[i].at);
        set_ph(1, P_MEMSZ, bad[i].memsz);
        set_ph(1, P_FILESZ, bad[i].filesz);
        expect_fail(-ERANGE, 0);
    }
    /* touching is not overlapping, on either side */
    struct amp_elf elf;
    struct reader r;
    std_image(false, AMP_EM_ARM);
    set_ph(1, P_PADDR, RAM_DA32 + TEXT_OFF + TEXT_SIZE);
    CHECK_EQ(run(&elf, &r, im.len, 0), 0);
    std_image(false, AMP_EM_ARM);
    set_ph(1, P_PADDR, RAM_DA32);
    set_ph(1, P_MEMSZ, TEXT_OFF);
    CHECK_EQ(run(&elf, &r, im.len, 0), 0);
    CHECK_EQ(ram[TEXT_OFF - 1], 0);
    CHECK_EQ(ram[TEXT_OFF], pat(0, 0));
}

static void test_elf_too_many_segments_e2big(void)
{
    struct seg_spec segs[AMP_CFG_ELF_LOAD_MAX + 1];
    struct amp_elf elf;
    struct reader r;
    ram_da = RAM_DA32;
    for (unsigned i = 0; i < AMP_CFG_ELF_LOAD_MAX + 1; i++)
        segs[i] = (struct seg_spec){PT_LOAD, RAM_DA32 + i * 0x100u, 0x60, 0x80};
    build(false, AMP_EM_ARM, RAM_DA32, segs, AMP_CFG_ELF_LOAD_MAX + 1);
    expect_fail(-E2BIG, 0);
    build(false, AMP_EM_ARM, RAM_DA32, segs, AMP_CFG_ELF_LOAD_MAX);
    CHECK_EQ(run(&elf, &r, im.len, 0), 0);
    CHECK_EQ(elf.nseg, AMP_CFG_ELF_LOAD_MAX);
    CHECK_EQ(ram[(AMP_CFG_ELF_LOAD_MAX - 1) * 0x100u + 0x5F], pat(AMP_CFG_ELF_LOAD_MAX - 1, 0x5F));
    CHECK_EQ(ram[(AMP_CFG_ELF_LOAD_MAX - 1) * 0x100u + 0x60], 0);
}

static void test_elf_no_da_to_va_enotsup(void)
{
    static const struct amp_port_ops no_ops = {.notify = NULL};
    static const struct amp_port no_port = {&no_ops, NULL};
    struct amp_elf elf;
    struct reader r;
    std_image(false, AMP_EM_ARM);
    CHECK_EQ(run_port(&elf, &r, im.len, 0, &no_port), -ENOTSUP);
    CHECK(ram_untouched());
}

/* ==== Sections ==== */

static void test_elf_bad_sh_name_einval(void)
{
    static const uint64_t names[] = {STRTAB_SIZE, STRTAB_SIZE + 1, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        std_image(i & 1, AMP_EM_ARM);
        set_sh(SH_DATA, S_NAME, names[i]);
        expect_fail(-EINVAL, 0);
    }
}

static void test_elf_shstrndx_out_of_range_einval(void)
{
    std_image(false, AMP_EM_ARM);
    set_eh(E_SHSTRNDX, SH_COUNT);
    expect_fail_why(-EINVAL, 0, "index");
    std_image(true, AMP_EM_ARM);
    set_eh(E_SHSTRNDX, 0xFFFF); /* SHN_XINDEX */
    expect_fail_why(-EINVAL, 0, "index");
}

static void test_elf_section_table_past_end_einval(void)
{
    std_image(false, AMP_EM_ARM);
    set_eh(E_SHOFF, im.len - 10);
    expect_fail(-EINVAL, 0);
    std_image(true, AMP_EM_ARM);
    set_eh(E_SHOFF, 0xFFFFFFFFFFFFFFC0ull);
    expect_fail(-EINVAL, 0);
    std_image(true, AMP_EM_ARM);
    set_eh(E_SHNUM, SH_COUNT + 1);
    expect_fail(-EINVAL, 0);
}

static void test_elf_section_counts_wrong_fail(void)
{
    std_image(false, AMP_EM_ARM);
    set_eh(E_SHNUM, AMP_CFG_ELF_SHNUM_MAX + 1);
    expect_fail(-E2BIG, 0);
    std_image(false, AMP_EM_ARM);
    set_eh(E_SHNUM, 0); /* extended numbering: the count is in section 0 */
    expect_fail(-EINVAL, 0);
}

static void test_elf_strtab_past_end_einval(void)
{
    std_image(false, AMP_EM_ARM);
    set_sh(SH_STRTAB, S_SIZE, im.len - im.stroff + 1);
    expect_fail(-EINVAL, 0);
    std_image(true, AMP_EM_ARM);
    set_sh(SH_STRTAB, S_OFFSET, 0xFFFFFFFFFFFFFFF0ull);
    expect_fail(-EINVAL, 0);
}

static void test_elf_rsc_bad_einval(void)
{
    std_image(false, AMP_EM_ARM);
    set_sh(SH_RSC, S_TYPE, SHT_NOBITS);
    expect_fail(-EINVAL, 0);
    std_image(false, AMP_EM_ARM);
    set_sh(SH_RSC, S_SIZE, 0);
    expect_fail(-EINVAL, 0);
    std_image(false, AMP_EM_ARM);
    set_sh(SH_RSC, S_SIZE, im.len - (im.seg_off[0] + RSC_IN_SEG0) + 1);
    expect_fail(-EINVAL, 0);
    std_image(true, AMP_EM_ARM);
    set_sh(SH_RSC, S_OFFSET, 0xFFFFFFFFFFFFFFF0ull);
    expect_fail(-EINVAL, 0);
    std_image(true, AMP_EM_ARM);
    set_sh(SH_TEXT, S_NAME, NAME_RSC); /* two of them: which one? */
    expect_fail(-EINVAL, 0);
}

static void test_elf_rsc_missing_loads(void)
{
    struct amp_elf elf;
    struct reader r;
    std_image(false, AMP_EM_ARM);
    set_sh(SH_RSC, S_NAME, NAME_TEXT);
    CHECK_EQ(run(&elf, &r, im.len, 0), 0);
    CHECK_EQ(elf.rsc_size, 0);
    CHECK_EQ(elf.nseg, 2);

    std_image(false, AMP_EM_ARM);
    set_sh(SH_RSC, S_NAME, NAME_RSC + 1); /* "resource_table" */
    CHECK_EQ(run(&elf, &r, im.len, 0), 0);
    CHECK_EQ(elf.rsc_size, 0);

    std_image(true, AMP_EM_ARM);
    set_eh(E_SHSTRNDX, 0); /* SHN_UNDEF: no names */
    CHECK_EQ(run(&elf, &r, im.len, 0), 0);
    CHECK_EQ(elf.rsc_size, 0);

    std_image(true, AMP_EM_ARM);
    set_eh(E_SHNUM, 0); /* no sections at all */
    set_eh(E_SHOFF, 0);
    CHECK_EQ(run(&elf, &r, im.len, 0), 0);
    CHECK_EQ(elf.rsc_size, 0);
    CHECK_EQ(elf.nseg, 2);
}

/* The name must end inside the string table: cut the table's size so that
 * ".resource_table" loses its NUL and it is just another name. */
static void test_elf_rsc_name_unterminated_not_found(void)
{
    struct amp_elf elf;
    struct reader r;
    std_image(false, AMP_EM_ARM);
    set_sh(SH_STRTAB, S_SIZE, STRTAB_SIZE - 1);
    CHECK_EQ(run(&elf, &r, im.len, 0), 0);
    CHECK_EQ(elf.rsc_size, 0);
    set_sh(SH_STRTAB, S_SIZE, STRTAB_SIZE);
    CHECK_EQ(run(&elf, &r, im.len, 0), 0);
    CHECK_EQ(elf.rsc_size, RSC_SIZE);
}

/* ==== The reader ==== */

/* Whichever read fails, its error comes back with "read failed". */
static void test_elf_reader_error_returned(void)
{
    struct amp_elf elf;
    struct reader r;
    std_image(true, AMP_EM_ARM);
    CHECK_EQ(run(&elf, &r, im.len, 0), 0);
    unsigned calls = r.calls, wrong = 0;
    CHECK(calls > 10);
    for (unsigned n = 1; n <= calls; n++) {
        memset(&r, 0, sizeof(r));
        r.b = im.b;
        r.size = im.len;
        r.fail_call = n;
        r.fail_ret = n & 1 ? -ENOSPC : 7; /* a positive return is a broken reader: -EIO */
        elf.read = mem_read;
        elf.read_ctx = &r;
        elf.size = im.len;
        elf.machine = 0;
        int err = amp_elf_load(&elf, &fake_port);
        if (err != (n & 1 ? -ENOSPC : -EIO) || !elf.why || strcmp(elf.why, "read failed") != 0)
            wrong++;
    }
    CHECK_EQ(wrong, 0);
}

/* A segment larger than a chunk goes through the reader in bounded pieces,
 * straight into RAM, and each byte of the file is read about once. */
static void test_elf_large_segment_streamed_in_chunks(void)
{
    struct amp_elf elf;
    struct reader r;
    ram_da = RAM_DA32;
    const struct seg_spec segs[] = {
        {PT_LOAD, RAM_DA32, 40u * 1024u, 40u * 1024u},
        {PT_LOAD, RAM_DA32 + 48u * 1024u, 140u * 1024u, 144u * 1024u},
    };
    build(false, AMP_EM_ARM, RAM_DA32, segs, 2);
    CHECK_EQ(run(&elf, &r, im.len, 0), 0);
    CHECK_EQ(r.largest, 64u * 1024u);
    CHECK(r.total >= (40u + 140u) * 1024u);
    CHECK(r.total <= im.len + 512u);
    CHECK(r.calls < 40u);
    bool ok = true;
    for (size_t k = 0; k < segs[0].filesz; k++)
        ok &= ram[k] == pat(0, k);
    for (size_t k = 0; k < segs[1].filesz; k++)
        ok &= ram[48u * 1024u + k] == pat(1, k);
    CHECK(ok);
    CHECK_EQ(ram[48u * 1024u + 140u * 1024u], 0);
    CHECK_EQ(ram[RAM_SIZE - 1], 0);
    CHECK_EQ(ram[40u * 1024u], 0xAA);
}

AMP_TEST_MAIN(TEST(test_elf_elf32_arm_loads),
              TEST(test_elf_elf64_x86_64_loads),
              TEST(test_elf_vaddr_ignored_loads_at_paddr),
              TEST(test_elf_any_machine_loads),
              TEST(test_elf_parse_writes_nothing),
              TEST(test_elf_machine_mismatch_noexec),
              TEST(test_elf_bad_ident_noexec),
              TEST(test_elf_not_executable_noexec),
              TEST(test_elf_header_sizes_wrong_einval),
              TEST(test_elf_no_reader_einval),
              TEST(test_elf_elf32_truncated_at_every_byte_fails),
              TEST(test_elf_elf64_truncated_at_every_byte_fails),
              TEST(test_elf_phnum_huge_e2big),
              TEST(test_elf_phdrs_past_end_einval),
              TEST(test_elf_filesz_over_memsz_einval),
              TEST(test_elf_offset_overflow_einval),
              TEST(test_elf_paddr_overflow_einval),
              TEST(test_elf_segment_outside_ram_erange),
              TEST(test_elf_overlapping_segments_erange),
              TEST(test_elf_too_many_segments_e2big),
              TEST(test_elf_no_da_to_va_enotsup),
              TEST(test_elf_bad_sh_name_einval),
              TEST(test_elf_shstrndx_out_of_range_einval),
              TEST(test_elf_section_table_past_end_einval),
              TEST(test_elf_section_counts_wrong_fail),
              TEST(test_elf_strtab_past_end_einval),
              TEST(test_elf_rsc_bad_einval),
              TEST(test_elf_rsc_missing_loads),
              TEST(test_elf_rsc_name_unterminated_not_found),
              TEST(test_elf_reader_error_returned),
              TEST(test_elf_large_segment_streamed_in_chunks))
