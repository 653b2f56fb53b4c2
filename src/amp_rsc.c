/*
 * amp_rsc.c - check, walk and build remoteproc resource tables.
 *
 * Main invariant: amp_rsc_check() trusts no field of the table. Every
 * word is read once into a local, and every offset, count and length is
 * compared with the table's size as `off > size || len > size - off`
 * before it is added to anything. amp_rsc_entry() and amp_rsc_find()
 * work on tables it accepted, so they check only the index they are
 * given.
 *
 * Words are read with memcpy, so a table in a byte buffer breaks no
 * aliasing rule; on Cortex-M that is still a single load.
 */
#include <limits.h>
#include <string.h>

#include "amp/amp_rsc.h"
#include "amp_util.h"

#define HDR_SIZE sizeof(struct amp_rsc_table) /* ver, num, reserved[2] */

_Static_assert(sizeof(struct amp_rsc_table) == 16, "table header is 16 bytes");
_Static_assert(sizeof(struct amp_rsc_carveout) == 56, "carveout entry is 56 bytes");
_Static_assert(sizeof(struct amp_rsc_trace) == 48, "trace entry is 48 bytes");
_Static_assert(sizeof(struct amp_rsc_vdev) == 28, "vdev entry is 28 bytes before its vrings");
_Static_assert(sizeof(struct amp_rsc_vring) == 20, "vring is 20 bytes");
_Static_assert(offsetof(struct amp_rsc_carveout, name) == 56 - AMP_RSC_NAME_SIZE &&
                   offsetof(struct amp_rsc_trace, name) == 48 - AMP_RSC_NAME_SIZE,
               "a carveout's and a trace's name end the entry");

/* ==== Helpers ==== */

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return amp_le32(v);
}

/* Little-endian on any host, at any alignment (one store on Cortex-M). */
static void put32(uint8_t *p, uint32_t v)
{
    v = amp_le32(v);
    memcpy(p, &v, sizeof(v));
}

/* (Without reasons *why stays the NULL amp_rsc_check() put there.) */
static int rsc_fail_(const char **why, const char *msg)
{
    if (AMP_CFG_REASONS && why)
        *why = msg;
    return -EINVAL;
}
#define rsc_fail(why, msg) rsc_fail_(why, AMP_WHY(msg)) /* AMP_CFG_REASONS 0: NULL */

/* Is there a NUL in name[AMP_RSC_NAME_SIZE]? */
static bool name_ok(const uint8_t *name)
{
    for (size_t i = 0; i < AMP_RSC_NAME_SIZE; i++)
        if (name[i] == '\0')
            return true;
    return false;
}

/* One entry: `room` bytes from e to the end of the table, room >= 4. */
static int rsc_check_entry(const uint8_t *e, size_t room, const char **why)
{
    uint32_t type = rd32(e);

    switch (type) {
    case AMP_RSC_CARVEOUT:
    case AMP_RSC_DEVMEM:
    case AMP_RSC_TRACE: { /* one check for both: each ends with its name */
        bool tr = type == AMP_RSC_TRACE;
        size_t need = tr ? sizeof(struct amp_rsc_trace) : sizeof(struct amp_rsc_carveout);
        if (room < need)
            return rsc_fail(why, tr ? "trace entry runs past the end of the table"
                                    : "carveout entry runs past the end of the table");
        if (!name_ok(e + need - AMP_RSC_NAME_SIZE))
            return rsc_fail(why, tr ? "trace name is not NUL-terminated"
                                    : "carveout name is not NUL-terminated");
        return 0;
    }
    case AMP_RSC_VDEV: {
        if (room < sizeof(struct amp_rsc_vdev))
            return rsc_fail(why, "vdev entry runs past the end of the table");
        uint32_t cfg = rd32(e + offsetof(struct amp_rsc_vdev, config_len));
        uint8_t nvr = e[offsetof(struct amp_rsc_vdev, num_of_vrings)];
        /* at most 28 + 255 * 20 bytes: cannot overflow */
        size_t end = sizeof(struct amp_rsc_vdev) + nvr * sizeof(struct amp_rsc_vring);
        if (end > room)
            return rsc_fail(why, "vdev vrings run past the end of the table");
        if (cfg > room - end)
            return rsc_fail(why, "vdev config space runs past the end of the table");
        for (const uint8_t *v = e + sizeof(struct amp_rsc_vdev); nvr > 0; nvr--) {
            uint32_t num = rd32(v + offsetof(struct amp_rsc_vring, num));
            uint32_t align = rd32(v + offsetof(struct amp_rsc_vring, align));
            if (!amp_is_pow2(num) || num > AMP_CFG_VRING_NUM_MAX)
                return rsc_fail(why, "vring size is not a power of two up to AMP_CFG_VRING_NUM_MAX");
            if (!amp_is_pow2(align))
                return rsc_fail(why, "vring alignment is not a power of two");
            v += sizeof(struct amp_rsc_vring);
        }
        return 0;
    }
    default:
        /* Types 4..127 are skipped as Linux skips them (older OpenAMP
         * firmware used 4); vendor types are the vendor's business. Either
         * way only the type word is read, and it is inside. */
        if (type < AMP_RSC_VENDOR_START || type <= AMP_RSC_VENDOR_END)
            return 0;
        return rsc_fail(why, "unknown resource type");
    }
}

/* ==== Checking and walking ==== */

int amp_rsc_check(const void *table, size_t size, const char **why)
{
    const uint8_t *t = table;

    if (why)
        *why = NULL;
    if (!t)
        return rsc_fail(why, "no table");
    if ((uintptr_t)t & 3u)
        return rsc_fail(why, "table is not 4-byte aligned");
    if (size < HDR_SIZE)
        return rsc_fail(why, "table is shorter than its header");
    if (rd32(t + offsetof(struct amp_rsc_table, ver)) != 1)
        return rsc_fail(why, "table version is not 1");
    if (rd32(t + offsetof(struct amp_rsc_table, reserved)) != 0 ||
        rd32(t + offsetof(struct amp_rsc_table, reserved) + 4) != 0)
        return rsc_fail(why, "table reserved words are not zero");
    uint32_t num = rd32(t + offsetof(struct amp_rsc_table, num));
    if (num > (size - HDR_SIZE) / sizeof(uint32_t))
        return rsc_fail(why, "entry offsets run past the end of the table");

    size_t first = HDR_SIZE + (size_t)num * sizeof(uint32_t); /* <= size, checked above */
    for (uint32_t i = 0; i < num; i++) {
        uint32_t off = rd32(t + HDR_SIZE + (size_t)i * sizeof(uint32_t));
        if (off & 3u)
            return rsc_fail(why, "entry offset is not 4-byte aligned");
        if (off < first)
            return rsc_fail(why, "entry offset points into the header or offset array");
        if (off > size || size - off < sizeof(uint32_t))
            return rsc_fail(why, "entry offset runs past the end of the table");
        int err = rsc_check_entry(t + off, size - off, why);
        if (err)
            return err;
    }
    return 0;
}

void *amp_rsc_entry(void *table, uint32_t i, uint32_t *type)
{
    uint8_t *t = table;

    if (i >= rd32(t + offsetof(struct amp_rsc_table, num)))
        return NULL;
    uint8_t *e = t + rd32(t + HDR_SIZE + (size_t)i * sizeof(uint32_t));
    if (type)
        *type = rd32(e);
    return e;
}

int amp_rsc_find(const void *table, uint32_t type, uint32_t from)
{
    const uint8_t *t = table;
    uint32_t num = rd32(t + offsetof(struct amp_rsc_table, num));

    for (uint32_t i = from; i < num && i <= (uint32_t)INT_MAX; i++) /* the index must fit the int */
        if (rd32(t + rd32(t + HDR_SIZE + (size_t)i * sizeof(uint32_t))) == type)
            return (int)i;
    return -ENOENT;
}

/* ==== The MicroPython STM32 host table ==== */

/* Byte for byte what extmod/modopenamp.c openamp_rsc_table_init() writes:
 * header, offset[1 or 2], the vdev and its two vrings, then the trace
 * entry when there is one. 140 bytes with the trace, 88 without. */
size_t amp_rsc_build_rpmsg(void *buf, size_t size, const struct amp_rsc_rpmsg_layout *l)
{
    if (!buf || !l)
        return 0;
    uint32_t num = l->trace_len ? 2u : 1u;
    size_t vdev = HDR_SIZE + num * sizeof(uint32_t);
    size_t trace = vdev + sizeof(struct amp_rsc_vdev) + 2 * sizeof(struct amp_rsc_vring);
    size_t total = trace + (l->trace_len ? sizeof(struct amp_rsc_trace) : 0);
    if (size < total)
        return 0;

    uint8_t *p = buf;
    memset(p, 0, total);
    put32(p + offsetof(struct amp_rsc_table, ver), 1);
    put32(p + offsetof(struct amp_rsc_table, num), num);
    put32(p + HDR_SIZE, (uint32_t)vdev);

    uint8_t *d = p + vdev; /* notifyid, gfeatures, config_len, status stay 0 */
    put32(d + offsetof(struct amp_rsc_vdev, type), AMP_RSC_VDEV);
    put32(d + offsetof(struct amp_rsc_vdev, id), AMP_VIRTIO_ID_RPMSG);
    put32(d + offsetof(struct amp_rsc_vdev, dfeatures), l->dfeatures);
    d[offsetof(struct amp_rsc_vdev, num_of_vrings)] = 2;
    for (uint32_t k = 0; k < 2; k++) {
        uint8_t *v = d + sizeof(struct amp_rsc_vdev) + k * sizeof(struct amp_rsc_vring);
        put32(v + offsetof(struct amp_rsc_vring, da), l->vring_da[k]);
        put32(v + offsetof(struct amp_rsc_vring, align), l->align);
        put32(v + offsetof(struct amp_rsc_vring, num), l->num);
        put32(v + offsetof(struct amp_rsc_vring, notifyid), k); /* vring k has notify id k */
    }

    if (l->trace_len) {
        static const char name[] = "trace_buf";
        uint8_t *tr = p + trace;
        put32(p + HDR_SIZE + sizeof(uint32_t), (uint32_t)trace);
        put32(tr + offsetof(struct amp_rsc_trace, type), AMP_RSC_TRACE);
        put32(tr + offsetof(struct amp_rsc_trace, da), l->trace_da);
        put32(tr + offsetof(struct amp_rsc_trace, len), l->trace_len);
        memcpy(tr + offsetof(struct amp_rsc_trace, name), name, sizeof(name));
    }
    return total;
}
