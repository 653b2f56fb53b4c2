/*
 * fuzz_rsc.c - the resource-table checker, and the host's processing of a
 * firmware's table.
 *
 * Input: a resource table, as a firmware image carries it in its
 * .resource_table section.
 *
 *   1. amp_rsc_check() on a heap copy of exactly the input's size. A
 *      table it accepts is walked again here, independently of amp_rsc.c:
 *      every entry, vring array and config space inside the table, names
 *      NUL-terminated, vring geometry sane, no type above 512; and
 *      amp_rsc_entry()/amp_rsc_find() agree with a plain scan. A table it
 *      refuses comes with a reason. A misaligned copy is refused.
 *   2. The table wrapped in an ELF image and run through amp_rproc with a
 *      fake core (fz_rproc_run): load, start (vrings and carveouts placed,
 *      RPMsg brought up on the vdev), trace read, stop, restart, crash,
 *      restart, shutdown.
 */
#include "fuzz_common.h"

#define MAX_INPUT 4096u

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool has_nul(const uint8_t *name)
{
    return memchr(name, 0, AMP_RSC_NAME_SIZE) != NULL;
}

static bool pow2(uint32_t x)
{
    return x && !(x & (x - 1));
}

/* Every byte of [p, p+n) is readable (AddressSanitizer says so if not). */
FZ_NOCOV static void touch(const uint8_t *p, size_t n)
{
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum ^= p[i];
    (void)sum;
}

/* Walk a table amp_rsc_check() accepted, trusting nothing it did. */
static void walk(uint8_t *t, size_t size)
{
    FUZZ_ASSERT(size >= 16 && rd32(t) == 1 && rd32(t + 8) == 0 && rd32(t + 12) == 0);
    uint32_t num = rd32(t + 4);
    FUZZ_ASSERT(num <= (size - 16) / 4);
    size_t first = 16 + (size_t)num * 4;
    uint32_t first_of[4] = {UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX};

    for (uint32_t i = 0; i < num; i++) {
        uint32_t off = rd32(t + 16 + 4 * (size_t)i), type = 0;
        uint8_t *e = amp_rsc_entry(t, i, &type);
        FUZZ_ASSERT(e == t + off);
        FUZZ_ASSERT(off % 4 == 0 && off >= first && off <= size - 4);
        FUZZ_ASSERT(type == rd32(e));
        size_t room = size - off, need;
        switch (type) {
        case AMP_RSC_CARVEOUT:
        case AMP_RSC_DEVMEM:
            need = sizeof(struct amp_rsc_carveout);
            FUZZ_ASSERT(room >= need && has_nul(e + offsetof(struct amp_rsc_carveout, name)));
            break;
        case AMP_RSC_TRACE:
            need = sizeof(struct amp_rsc_trace);
            FUZZ_ASSERT(room >= need && has_nul(e + offsetof(struct amp_rsc_trace, name)));
            break;
        case AMP_RSC_VDEV: {
            FUZZ_ASSERT(room >= sizeof(struct amp_rsc_vdev));
            uint8_t nvr = e[offsetof(struct amp_rsc_vdev, num_of_vrings)];
            uint32_t cfg = rd32(e + offsetof(struct amp_rsc_vdev, config_len));
            need = sizeof(struct amp_rsc_vdev) + (size_t)nvr * sizeof(struct amp_rsc_vring);
            FUZZ_ASSERT(need <= room && cfg <= room - need);
            for (uint8_t k = 0; k < nvr; k++) {
                const uint8_t *v = e + sizeof(struct amp_rsc_vdev) + k * sizeof(struct amp_rsc_vring);
                uint32_t vnum = rd32(v + offsetof(struct amp_rsc_vring, num));
                FUZZ_ASSERT(pow2(vnum) && vnum <= AMP_CFG_VRING_NUM_MAX);
                FUZZ_ASSERT(pow2(rd32(v + offsetof(struct amp_rsc_vring, align))));
            }
            need += cfg;
            break;
        }
        default:
            FUZZ_ASSERT(type <= AMP_RSC_VENDOR_END); /* 4..127 skipped, vendor types */
            need = 4;
        }
        touch(e, need);
        if (type < 4 && first_of[type] == UINT32_MAX)
            first_of[type] = i;
    }
    FUZZ_ASSERT(amp_rsc_entry(t, num, NULL) == NULL);
    for (uint32_t type = 0; type < 4; type++) {
        int want = first_of[type] == UINT32_MAX ? -ENOENT : (int)first_of[type];
        FUZZ_ASSERT(amp_rsc_find(t, type, 0) == want);
        if (want >= 0)
            FUZZ_ASSERT(amp_rsc_find(t, type, (uint32_t)want + 1) == -ENOENT ||
                        amp_rsc_find(t, type, (uint32_t)want + 1) > want);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return -1;

    /* 1. the checker, on a copy of exactly `size` bytes */
    uint8_t *t = malloc(size ? size : 1);
    memcpy(t, data, size);
    const char *why = "unset";
    int err = amp_rsc_check(t, size, &why);
    FUZZ_ASSERT(err == 0 || err == -EINVAL);
    FUZZ_ASSERT(err ? why != NULL : why == NULL);
    if (err == 0)
        walk(t, size);
    FUZZ_ASSERT(memcmp(t, data, size) == 0); /* checking writes nothing */
    free(t);

    uint8_t *odd = malloc(size + 1);
    memcpy(odd + 1, data, size);
    FUZZ_ASSERT(amp_rsc_check(odd + 1, size, NULL) == -EINVAL);
    free(odd);

    /* 2. the host's life cycle of an image carrying this table */
    uint8_t *img = malloc(fz_elf_wrap_size(size));
    size_t n = fz_elf_wrap(img, data, size, FZ_RAM_DA + 0x100, FZ_RAM_DA);
    struct fz_reader r = {.img = img, .size = n};
    fz_rproc_run(&r);
    free(img);
    return 0;
}
