/*
 * test_rsc.c - resource tables: the MicroPython host table byte for byte,
 * a Linux-style firmware table walked entry by entry, and a corpus of
 * hostile tables that must each be refused with a reason.
 *
 * Layouts: Linux include/linux/remoteproc.h (struct resource_table,
 * fw_rsc_carveout, fw_rsc_trace, fw_rsc_vdev, fw_rsc_vdev_vring);
 * MicroPython extmod/modopenamp.h (openamp_rsc_table_t) and
 * extmod/modopenamp.c (openamp_rsc_table_init).
 */
#include <stdalign.h>

#include "amp/amp_rsc.h"
#include "amp_test.h"

/* ==== Helpers ==== */

#define TBL_MAX 512

struct tbl {
    alignas(8) uint8_t b[TBL_MAX];
    size_t size; /* bytes that belong to the table */
};

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Offsets of the Linux-style table built by linux_table(). */
#define L_NUM 3u
#define L_CARVEOUT 28u                /* 16 + 3 * 4 */
#define L_TRACE (L_CARVEOUT + 56u)    /* 84 */
#define L_VDEV (L_TRACE + 48u)        /* 132 */
#define L_VRING0 (L_VDEV + 28u)       /* 160 */
#define L_VRING1 (L_VRING0 + 20u)     /* 180 */
#define L_CONFIG (L_VRING1 + 20u)     /* 200 */
#define L_CONFIG_LEN 6u
#define L_NEEDED (L_CONFIG + L_CONFIG_LEN) /* 206: the last byte any entry owns */
#define L_SIZE 208u                   /* padded to a word, as a linker would */

/* A table as a Linux firmware carries it: a carveout for its code, a trace
 * buffer and an rpmsg vdev with six bytes of config space, last. */
static void linux_table(struct tbl *t)
{
    uint8_t *b = t->b;
    memset(b, 0xEE, sizeof(t->b)); /* bytes past the table are not ours */
    memset(b, 0, L_SIZE);
    put32(b + 0, 1);
    put32(b + 4, L_NUM);
    put32(b + 16, L_CARVEOUT);
    put32(b + 20, L_TRACE);
    put32(b + 24, L_VDEV);

    put32(b + L_CARVEOUT + 0, AMP_RSC_CARVEOUT);
    put32(b + L_CARVEOUT + 4, 0x10000000); /* da */
    put32(b + L_CARVEOUT + 8, AMP_RSC_ADDR_ANY);
    put32(b + L_CARVEOUT + 12, 0x20000);
    memcpy(b + L_CARVEOUT + 24, "text", 5);

    put32(b + L_TRACE + 0, AMP_RSC_TRACE);
    put32(b + L_TRACE + 4, 0x10030000);
    put32(b + L_TRACE + 8, 0x1000);
    memcpy(b + L_TRACE + 16, "trace0", 7);

    put32(b + L_VDEV + 0, AMP_RSC_VDEV);
    put32(b + L_VDEV + 4, AMP_VIRTIO_ID_RPMSG);
    put32(b + L_VDEV + 8, 2);  /* notifyid */
    put32(b + L_VDEV + 12, 1); /* dfeatures: NS */
    put32(b + L_VDEV + 20, L_CONFIG_LEN);
    b[L_VDEV + 25] = 2; /* num_of_vrings */
    put32(b + L_VRING0 + 0, AMP_RSC_ADDR_ANY);
    put32(b + L_VRING0 + 4, 4096);
    put32(b + L_VRING0 + 8, 256);
    put32(b + L_VRING0 + 12, 0);
    put32(b + L_VRING1 + 0, AMP_RSC_ADDR_ANY);
    put32(b + L_VRING1 + 4, 4096);
    put32(b + L_VRING1 + 8, 256);
    put32(b + L_VRING1 + 12, 1);
    memcpy(b + L_CONFIG, "\x01\x02\x03\x04\x05\x06", L_CONFIG_LEN);
    t->size = L_SIZE;
}

/* Refused with -EINVAL and a reason that mentions `word`. */
static void expect_bad(const struct tbl *t, const char *word)
{
    const char *why = NULL;
    CHECK_EQ(amp_rsc_check(t->b, t->size, &why), -EINVAL);
    CHECK(why != NULL);
    if (why && !strstr(why, word)) {
        fprintf(stderr, "  why \"%s\" does not mention \"%s\"\n", why, word);
        CHECK(strstr(why, word) != NULL);
    }
    CHECK_EQ(amp_rsc_check(t->b, t->size, NULL), -EINVAL); /* why is optional */
}

static void expect_good(const struct tbl *t)
{
    const char *why = "not cleared";
    CHECK_EQ(amp_rsc_check(t->b, t->size, &why), 0);
    CHECK(why == NULL);
}

/* ==== The MicroPython host table ==== */

/* openamp_rsc_table_t with the trace entry, SHM at 0x38000400:
 * VRING_RX_ADDR (vring1) = SHM, VRING_TX_ADDR (vring0) = SHM + 0x1000,
 * 64 buffers aligned to 32, dfeatures 1 << VIRTIO_RPMSG_F_NS, a
 * 128-byte trace buffer at 0x24000000. Written by hand from the layout. */
static const uint8_t mp_table[140] = {
    /* 0: ver 1, num 2, reserved 0 0 */
    0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    /* 16: offset[0] = 24 (vdev), offset[1] = 92 (trace) */
    0x18, 0x00, 0x00, 0x00, 0x5c, 0x00, 0x00, 0x00,
    /* 24: vdev: type 3, id 7, notifyid 0, dfeatures 1, gfeatures 0, config_len 0 */
    0x03, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    /* 48: status 0, num_of_vrings 2, reserved 0 0 */
    0x00, 0x02, 0x00, 0x00,
    /* 52: vring0: da 0x38001400, align 32, num 64, notifyid 0, pa 0 */
    0x00, 0x14, 0x00, 0x38, 0x20, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
    /* 72: vring1: da 0x38000400, align 32, num 64, notifyid 1, pa 0 */
    0x00, 0x04, 0x00, 0x38, 0x20, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
    /* 92: trace: type 2, da 0x24000000, len 128, reserved 0 */
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x24, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    /* 108: name[32] = "trace_buf" */
    't', 'r', 'a', 'c', 'e', '_', 'b', 'u', 'f', 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    /* 140: end */
};

/* The same without the trace entry (MICROPY_PY_OPENAMP_TRACE_BUF_ENABLE 0):
 * offset[] has one element, so everything moves up by 4. */
static const uint8_t mp_table_notrace[88] = {
    /* 0: ver 1, num 1, reserved 0 0 */
    0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    /* 16: offset[0] = 20 */
    0x14, 0x00, 0x00, 0x00,
    /* 20: vdev: type 3, id 7, notifyid 0, dfeatures 1, gfeatures 0, config_len 0 */
    0x03, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    /* 44: status 0, num_of_vrings 2, reserved 0 0 */
    0x00, 0x02, 0x00, 0x00,
    /* 48: vring0 */
    0x00, 0x14, 0x00, 0x38, 0x20, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
    /* 68: vring1 */
    0x00, 0x04, 0x00, 0x38, 0x20, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
    /* 88: end */
};

static const struct amp_rsc_rpmsg_layout mp_layout = {
    .dfeatures = 1u << 0,
    .vring_da = {0x38001400u, 0x38000400u},
    .num = 64,
    .align = 32,
    .trace_da = 0x24000000u,
    .trace_len = 128,
};

static void test_rsc_build_micropython_layout_matches_bytes(void)
{
    struct tbl t;
    memset(t.b, 0xAA, sizeof(t.b)); /* garbage it must overwrite */
    size_t n = amp_rsc_build_rpmsg(t.b, sizeof(t.b), &mp_layout);
    CHECK_EQ(n, sizeof(mp_table));
    CHECK_MEM(t.b, mp_table, sizeof(mp_table));
    CHECK_EQ(t.b[sizeof(mp_table)], 0xAA); /* nothing written past the end */
    const char *why = NULL;
    CHECK_EQ(amp_rsc_check(t.b, n, &why), 0);
    CHECK(why == NULL);

    uint32_t type = 99;
    CHECK(amp_rsc_entry(t.b, 0, &type) == t.b + 24);
    CHECK_EQ(type, AMP_RSC_VDEV);
    CHECK(amp_rsc_entry(t.b, 1, &type) == t.b + 92);
    CHECK_EQ(type, AMP_RSC_TRACE);
    CHECK(amp_rsc_entry(t.b, 2, &type) == NULL);
}

static void test_rsc_build_micropython_without_trace_matches_bytes(void)
{
    struct tbl t;
    struct amp_rsc_rpmsg_layout l = mp_layout;
    l.trace_len = 0;
    memset(t.b, 0xAA, sizeof(t.b));
    size_t n = amp_rsc_build_rpmsg(t.b, sizeof(t.b), &l);
    CHECK_EQ(n, sizeof(mp_table_notrace));
    CHECK_MEM(t.b, mp_table_notrace, sizeof(mp_table_notrace));
    CHECK_EQ(t.b[sizeof(mp_table_notrace)], 0xAA);
    CHECK_EQ(amp_rsc_check(t.b, n, NULL), 0);
    CHECK_EQ(amp_rsc_find(t.b, AMP_RSC_TRACE, 0), -ENOENT);
    CHECK_EQ(amp_rsc_find(t.b, AMP_RSC_VDEV, 0), 0);
}

static void test_rsc_build_small_buffer_writes_nothing(void)
{
    struct tbl t;
    struct amp_rsc_rpmsg_layout l = mp_layout;
    memset(t.b, 0xAA, sizeof(t.b));
    CHECK_EQ(amp_rsc_build_rpmsg(t.b, sizeof(mp_table) - 1, &l), 0);
    CHECK_EQ(amp_rsc_build_rpmsg(t.b, 0, &l), 0);
    l.trace_len = 0;
    CHECK_EQ(amp_rsc_build_rpmsg(t.b, sizeof(mp_table_notrace) - 1, &l), 0);
    CHECK_EQ(amp_rsc_build_rpmsg(t.b, sizeof(mp_table_notrace), &l), sizeof(mp_table_notrace));
    CHECK_EQ(amp_rsc_build_rpmsg(NULL, 4096, &l), 0);
    CHECK_EQ(amp_rsc_build_rpmsg(t.b, sizeof(t.b), NULL), 0);
    for (size_t i = sizeof(mp_table_notrace); i < sizeof(t.b); i++)
        if (t.b[i] != 0xAA) {
            CHECK_EQ(t.b[i], 0xAA);
            break;
        }
    CHECK_EQ(t.b[0], 0x01);
}

/* ==== Good tables ==== */

static void test_rsc_linux_table_walks_entries(void)
{
    struct tbl t;
    linux_table(&t);
    expect_good(&t);

    uint32_t type = 99;
    uint8_t *e = amp_rsc_entry(t.b, 0, &type);
    CHECK(e == t.b + L_CARVEOUT);
    CHECK_EQ(type, AMP_RSC_CARVEOUT);
    const struct amp_rsc_carveout *c = (const void *)e;
    CHECK_EQ(c->da, 0x10000000u);
    CHECK_EQ(c->len, 0x20000u);
    CHECK(strcmp(c->name, "text") == 0);

    e = amp_rsc_entry(t.b, 1, &type);
    CHECK(e == t.b + L_TRACE);
    CHECK_EQ(type, AMP_RSC_TRACE);

    e = amp_rsc_entry(t.b, 2, NULL); /* type is optional */
    CHECK(e == t.b + L_VDEV);
    const struct amp_rsc_vdev *v = (const void *)e;
    CHECK_EQ(v->id, AMP_VIRTIO_ID_RPMSG);
    CHECK_EQ(v->num_of_vrings, 2);
    CHECK_EQ(v->vring[1].notifyid, 1);
    CHECK_MEM((const uint8_t *)&v->vring[2], "\x01\x02\x03\x04\x05\x06", L_CONFIG_LEN);

    CHECK(amp_rsc_entry(t.b, 3, &type) == NULL);
    CHECK(amp_rsc_entry(t.b, 0xFFFFFFFFu, &type) == NULL);

    CHECK_EQ(amp_rsc_find(t.b, AMP_RSC_CARVEOUT, 0), 0);
    CHECK_EQ(amp_rsc_find(t.b, AMP_RSC_TRACE, 0), 1);
    CHECK_EQ(amp_rsc_find(t.b, AMP_RSC_VDEV, 0), 2);
    CHECK_EQ(amp_rsc_find(t.b, AMP_RSC_VDEV, 2), 2);
    CHECK_EQ(amp_rsc_find(t.b, AMP_RSC_CARVEOUT, 1), -ENOENT);
    CHECK_EQ(amp_rsc_find(t.b, AMP_RSC_DEVMEM, 0), -ENOENT);
    CHECK_EQ(amp_rsc_find(t.b, AMP_RSC_VDEV, 3), -ENOENT);
    CHECK_EQ(amp_rsc_find(t.b, AMP_RSC_VDEV, 0xFFFFFFFFu), -ENOENT);
}

static void test_rsc_second_entry_of_type_found_from_index(void)
{
    struct tbl t;
    linux_table(&t);
    put32(t.b + L_CARVEOUT, AMP_RSC_TRACE); /* now two trace entries, 0 and 1 */
    expect_good(&t);
    CHECK_EQ(amp_rsc_find(t.b, AMP_RSC_TRACE, 0), 0);
    CHECK_EQ(amp_rsc_find(t.b, AMP_RSC_TRACE, 1), 1);
    CHECK_EQ(amp_rsc_find(t.b, AMP_RSC_TRACE, 2), -ENOENT);
}

static void test_rsc_empty_table_accepted(void)
{
    struct tbl t;
    memset(t.b, 0, sizeof(t.b));
    put32(t.b, 1);
    t.size = 16;
    expect_good(&t);
    CHECK(amp_rsc_entry(t.b, 0, NULL) == NULL);
    CHECK_EQ(amp_rsc_find(t.b, AMP_RSC_VDEV, 0), -ENOENT);
}

static void test_rsc_devmem_and_vendor_types_accepted(void)
{
    struct tbl t;
    static const uint32_t ok[] = {AMP_RSC_DEVMEM, 128, 200, 512};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        linux_table(&t);
        put32(t.b + L_CARVEOUT, ok[i]);
        expect_good(&t);
        CHECK_EQ(amp_rsc_find(t.b, ok[i], 0), 0);
    }
    /* a vendor entry needs only its type word inside the table */
    memset(t.b, 0, sizeof(t.b));
    put32(t.b + 0, 1);
    put32(t.b + 4, 1);
    put32(t.b + 16, 20);
    put32(t.b + 20, 200);
    t.size = 24;
    expect_good(&t);
}

static void test_rsc_vdev_without_vrings_accepted(void)
{
    struct tbl t;
    linux_table(&t);
    t.b[L_VDEV + 25] = 0;
    put32(t.b + L_VDEV + 20, 0);
    t.size = L_VDEV + 28; /* nothing after the fixed part */
    expect_good(&t);
}

/* config_len may take exactly the room left, and not a byte more */
static void test_rsc_config_len_to_last_byte_accepted(void)
{
    struct tbl t;
    linux_table(&t);
    put32(t.b + L_VDEV + 20, L_SIZE - L_CONFIG);
    expect_good(&t);
    put32(t.b + L_VDEV + 20, L_SIZE - L_CONFIG + 1);
    expect_bad(&t, "config");
}

/* ==== Truncation ==== */

/* Cut a valid table at every length. Every entry must lie inside, so a cut
 * is accepted exactly when it keeps the last byte any entry owns
 * (L_NEEDED): the two bytes of padding after the config space may go. */
static void test_rsc_truncated_at_every_byte_rejected(void)
{
    struct tbl t;
    int accepted = 0;
    linux_table(&t);
    for (size_t cut = 0; cut < L_SIZE; cut++) {
        /* a heap copy of exactly `cut` bytes: a sanitizer build catches
         * any read past the size we pass */
        uint8_t *copy = malloc(cut ? cut : 1);
        const char *why = NULL;
        memcpy(copy, t.b, cut);
        int err = amp_rsc_check(copy, cut, &why);
        free(copy);
        if (cut >= L_NEEDED) {
            CHECK_EQ(err, 0);
            accepted++;
        } else {
            if (err != -EINVAL)
                fprintf(stderr, "  cut at %zu: %d\n", cut, err);
            CHECK_EQ(err, -EINVAL);
            CHECK(why != NULL);
        }
    }
    CHECK_EQ(accepted, L_SIZE - L_NEEDED);
    CHECK_EQ(amp_rsc_check(t.b, L_SIZE, NULL), 0);
}

/* Each cut of the MicroPython table (no padding) is refused. */
static void test_rsc_micropython_truncated_rejected(void)
{
    struct tbl t;
    memcpy(t.b, mp_table, sizeof(mp_table));
    for (size_t cut = 0; cut < sizeof(mp_table); cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, t.b, cut);
        CHECK_EQ(amp_rsc_check(copy, cut, NULL), -EINVAL);
        free(copy);
    }
}

/* ==== Hostile tables ==== */

static void test_rsc_bad_version_rejected(void)
{
    struct tbl t;
    linux_table(&t);
    put32(t.b, 2);
    expect_bad(&t, "version");
    put32(t.b, 0);
    expect_bad(&t, "version");
    put32(t.b, 0x01000000); /* a big-endian 1 */
    expect_bad(&t, "version");
}

static void test_rsc_nonzero_reserved_rejected(void)
{
    struct tbl t;
    linux_table(&t);
    put32(t.b + 8, 1);
    expect_bad(&t, "reserved");
    linux_table(&t);
    put32(t.b + 12, 0x80000000u);
    expect_bad(&t, "reserved");
}

static void test_rsc_num_overflow_rejected(void)
{
    static const uint32_t nums[] = {0x40000000u, 0xFFFFFFFFu, 0x3FFFFFFCu, 0x80000000u, 49};
    struct tbl t;
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        linux_table(&t);
        put32(t.b + 4, nums[i]);
        expect_bad(&t, "offsets run past");
    }
    /* 48 offsets fill all 16 + 192 = 208 bytes: they fit, but now every
     * entry offset points into the offset array */
    linux_table(&t);
    put32(t.b + 4, 48);
    expect_bad(&t, "header or offset array");
}

static void test_rsc_table_too_short_rejected(void)
{
    struct tbl t;
    linux_table(&t);
    for (t.size = 0; t.size < 16; t.size++)
        expect_bad(&t, "shorter");
}

static void test_rsc_misaligned_table_rejected(void)
{
    struct tbl t;
    const char *why = NULL;
    linux_table(&t);
    memmove(t.b + 2, t.b, L_SIZE);
    CHECK_EQ(amp_rsc_check(t.b + 2, L_SIZE, &why), -EINVAL);
    CHECK(why && strstr(why, "aligned"));
    why = NULL;
    CHECK_EQ(amp_rsc_check(NULL, L_SIZE, &why), -EINVAL);
    CHECK(why != NULL);
}

static void test_rsc_offset_past_end_rejected(void)
{
    static const uint32_t offs[] = {L_SIZE, L_SIZE + 4, 0xFFFFFFFCu, 0x80000000u, 256};
    struct tbl t;
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        linux_table(&t);
        put32(t.b + 24, offs[i]);
        expect_bad(&t, "past the end");
    }
    /* the type word fits but a carveout's fixed part does not */
    linux_table(&t);
    put32(t.b + 24, L_SIZE - 4);
    put32(t.b + L_SIZE - 4, AMP_RSC_CARVEOUT);
    expect_bad(&t, "carveout entry runs past");
}

static void test_rsc_offset_inside_header_rejected(void)
{
    static const uint32_t offs[] = {0, 4, 8, 12, 16, 24};
    struct tbl t;
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        linux_table(&t);
        put32(t.b + 16, offs[i]);
        expect_bad(&t, "header or offset array");
    }
}

static void test_rsc_misaligned_offset_rejected(void)
{
    static const uint32_t offs[] = {L_CARVEOUT + 1, L_CARVEOUT + 2, L_CARVEOUT + 3, 0xFFFFFFFFu};
    struct tbl t;
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        linux_table(&t);
        put32(t.b + 16, offs[i]);
        expect_bad(&t, "aligned");
    }
}

static void test_rsc_entry_truncated_rejected(void)
{
    struct tbl t;
    /* each entry type, cut one byte before its fixed part ends */
    linux_table(&t);
    t.size = L_TRACE + 48 - 1;
    put32(t.b + 24, L_TRACE); /* vdev offset -> the trace, now the last entry */
    put32(t.b + 20, L_CARVEOUT);
    expect_bad(&t, "trace entry runs past");

    linux_table(&t);
    t.size = L_VDEV + 28 - 4; /* type word inside, fixed part not */
    expect_bad(&t, "vdev entry runs past");
}

static void test_rsc_vdev_vrings_past_end_rejected(void)
{
    struct tbl t;
    linux_table(&t);
    t.b[L_VDEV + 25] = 3; /* 28 + 60 = 88 > 76 bytes of room */
    expect_bad(&t, "vrings run past");
    t.b[L_VDEV + 25] = 255;
    expect_bad(&t, "vrings run past");
}

static void test_rsc_config_len_past_end_rejected(void)
{
    static const uint32_t lens[] = {9, 0x100, 0xFFFFFFF0u, 0xFFFFFFFFu, 0x80000000u};
    struct tbl t;
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        linux_table(&t);
        put32(t.b + L_VDEV + 20, lens[i]);
        expect_bad(&t, "config space runs past");
    }
}

static void test_rsc_vring_num_not_power_of_two_rejected(void)
{
    static const uint32_t nums[] = {0, 3, 63, 100, 0xFFFFFFFFu, 65536, 0x80000000u};
    struct tbl t;
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        linux_table(&t);
        put32(t.b + L_VRING1 + 8, nums[i]);
        expect_bad(&t, "vring size");
    }
    linux_table(&t);
    put32(t.b + L_VRING0 + 8, AMP_CFG_VRING_NUM_MAX);
    expect_good(&t);
    put32(t.b + L_VRING0 + 8, 1);
    expect_good(&t);
}

static void test_rsc_vring_align_not_power_of_two_rejected(void)
{
    static const uint32_t aligns[] = {0, 24, 4095, 0xFFFFFFFFu};
    struct tbl t;
    for (size_t i = 0; i < sizeof(aligns) / sizeof(aligns[0]); i++) {
        linux_table(&t);
        put32(t.b + L_VRING0 + 4, aligns[i]);
        expect_bad(&t, "alignment");
    }
}

static void test_rsc_unterminated_names_rejected(void)
{
    struct tbl t;
    linux_table(&t);
    memset(t.b + L_CARVEOUT + 24, 'A', AMP_RSC_NAME_SIZE);
    expect_bad(&t, "carveout name");
    put32(t.b + L_CARVEOUT, AMP_RSC_DEVMEM);
    expect_bad(&t, "carveout name");

    linux_table(&t);
    memset(t.b + L_TRACE + 16, 'B', AMP_RSC_NAME_SIZE);
    expect_bad(&t, "trace name");
    t.b[L_TRACE + 16 + AMP_RSC_NAME_SIZE - 1] = '\0'; /* 31 characters and a NUL */
    expect_good(&t);
}

/* Types past the vendor range are garbage. 4..127 are not: see
 * tests/test_peers.c. */
static void test_rsc_unknown_type_rejected(void)
{
    static const uint32_t bad[] = {513, 0x10000u, 0xFFFFFFFFu};
    struct tbl t;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        linux_table(&t);
        put32(t.b + L_TRACE, bad[i]);
        expect_bad(&t, "unknown");
    }
}

/* A reject in the last vring of the last entry is found. */
static void test_rsc_last_entry_checked_rejected(void)
{
    struct tbl t;
    linux_table(&t);
    put32(t.b + L_VRING1 + 4, 3);
    expect_bad(&t, "alignment");
    CHECK_EQ(get32(t.b + L_VRING0 + 4), 4096);
}

AMP_TEST_MAIN(TEST(test_rsc_build_micropython_layout_matches_bytes),
              TEST(test_rsc_build_micropython_without_trace_matches_bytes),
              TEST(test_rsc_build_small_buffer_writes_nothing),
              TEST(test_rsc_linux_table_walks_entries),
              TEST(test_rsc_second_entry_of_type_found_from_index),
              TEST(test_rsc_empty_table_accepted),
              TEST(test_rsc_devmem_and_vendor_types_accepted),
              TEST(test_rsc_vdev_without_vrings_accepted),
              TEST(test_rsc_config_len_to_last_byte_accepted),
              TEST(test_rsc_truncated_at_every_byte_rejected),
              TEST(test_rsc_micropython_truncated_rejected),
              TEST(test_rsc_bad_version_rejected),
              TEST(test_rsc_nonzero_reserved_rejected),
              TEST(test_rsc_num_overflow_rejected),
              TEST(test_rsc_table_too_short_rejected),
              TEST(test_rsc_misaligned_table_rejected),
              TEST(test_rsc_offset_past_end_rejected),
              TEST(test_rsc_offset_inside_header_rejected),
              TEST(test_rsc_misaligned_offset_rejected),
              TEST(test_rsc_entry_truncated_rejected),
              TEST(test_rsc_vdev_vrings_past_end_rejected),
              TEST(test_rsc_config_len_past_end_rejected),
              TEST(test_rsc_vring_num_not_power_of_two_rejected),
              TEST(test_rsc_vring_align_not_power_of_two_rejected),
              TEST(test_rsc_unterminated_names_rejected),
              TEST(test_rsc_unknown_type_rejected),
              TEST(test_rsc_last_entry_checked_rejected))
