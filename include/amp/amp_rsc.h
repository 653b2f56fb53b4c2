/*
 * amp_rsc.h - the Linux remoteproc resource table.
 *
 * A table is a header, an array of byte offsets, and entries that each
 * start with a u32 type. All fields are little-endian. The wire structs
 * below carry that type word first, so an entry pointer is an offset into
 * the table.
 *
 * The host never works on the remote's copy: it copies the table into its
 * own memory, checks it with amp_rsc_check(), edits the copy and writes it
 * back. Only status and gfeatures are read from the shared copy later,
 * and those are single words.
 */
#ifndef AMP_RSC_H
#define AMP_RSC_H

#include <stddef.h>
#include <stdint.h>

#include "amp_port.h"

#define AMP_RSC_CARVEOUT 0u
#define AMP_RSC_DEVMEM 1u
#define AMP_RSC_TRACE 2u
#define AMP_RSC_VDEV 3u
#define AMP_RSC_VENDOR_START 128u
#define AMP_RSC_VENDOR_END 512u

#define AMP_RSC_ADDR_ANY 0xFFFFFFFFu /* "host, choose this for me" */
#define AMP_RSC_NAME_SIZE 32u

#define AMP_VIRTIO_ID_RPMSG 7u

/* virtio device status bits (the vdev's status byte) */
#define AMP_VIRTIO_STATUS_ACKNOWLEDGE 0x01u
#define AMP_VIRTIO_STATUS_DRIVER 0x02u
#define AMP_VIRTIO_STATUS_DRIVER_OK 0x04u
#define AMP_VIRTIO_STATUS_FEATURES_OK 0x08u
#define AMP_VIRTIO_STATUS_NEEDS_RESET 0x40u
#define AMP_VIRTIO_STATUS_FAILED 0x80u

struct amp_rsc_table {
    uint32_t ver; /* 1 */
    uint32_t num;
    uint32_t reserved[2];
    uint32_t offset[]; /* num entries */
};

struct amp_rsc_carveout { /* also AMP_RSC_DEVMEM */
    uint32_t type;
    uint32_t da;
    uint32_t pa;
    uint32_t len;
    uint32_t flags;
    uint32_t reserved;
    char name[AMP_RSC_NAME_SIZE];
};

struct amp_rsc_trace {
    uint32_t type;
    uint32_t da;
    uint32_t len;
    uint32_t reserved;
    char name[AMP_RSC_NAME_SIZE];
};

struct amp_rsc_vring {
    uint32_t da;
    uint32_t align;
    uint32_t num;
    uint32_t notifyid;
    uint32_t pa; /* reserved in older tables */
};

struct amp_rsc_vdev {
    uint32_t type;
    uint32_t id; /* AMP_VIRTIO_ID_RPMSG */
    uint32_t notifyid;
    uint32_t dfeatures; /* offered by the device (remote) */
    uint32_t gfeatures; /* accepted by the driver (host) */
    uint32_t config_len;
    uint8_t status;
    uint8_t num_of_vrings;
    uint8_t reserved[2];
    struct amp_rsc_vring vring[]; /* then config_len bytes of config */
};

/* Check every offset, count and length of the table at `table` (size
 * bytes, 4-byte aligned, a local copy): version 1, reserved words zero,
 * offsets aligned and inside, each entry inside with room for its fixed
 * part, a vdev's vrings and config space inside, names NUL-terminated,
 * vring num a power of two. Types 4..127 (unknown, or older: OpenAMP
 * once used 4) and vendor types 128..512 are accepted and left to the
 * caller to skip; types above 512 are refused. Returns 0 or -EINVAL, with
 * a reason in *why when why is not NULL. */
int amp_rsc_check(const void *table, size_t size, const char **why);

/* Entry i of a checked table, with its type in *type; NULL if i is past
 * the end. */
void *amp_rsc_entry(void *table, uint32_t i, uint32_t *type);

/* Index of the first entry of `type` at or after index `from`, or -ENOENT. */
int amp_rsc_find(const void *table, uint32_t type, uint32_t from);

/* Layout of the host-provided table that MicroPython's STM32 port builds
 * (one RPMsg vdev with two vrings, optionally one trace entry), so that
 * remote firmware written for it keeps working. */
struct amp_rsc_rpmsg_layout {
    uint32_t dfeatures;   /* e.g. 1 << AMP_RPMSG_F_NS */
    uint32_t vring_da[2]; /* vring0 (remote->host), vring1 (host->remote) */
    uint32_t num;
    uint32_t align;
    uint32_t trace_da; /* trace_len 0: no trace entry */
    uint32_t trace_len;
};

/* Write that table into buf. Returns its size in bytes, or 0 if it does
 * not fit in `size`. Entry 0 is the vdev, entry 1 the trace. */
size_t amp_rsc_build_rpmsg(void *buf, size_t size, const struct amp_rsc_rpmsg_layout *l);

#endif /* AMP_RSC_H */
