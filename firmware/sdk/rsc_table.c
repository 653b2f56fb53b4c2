/*
 * rsc_table.c - the resource table of firmware that brings its own
 * (the "firmware-provided" flow, as Linux remoteproc expects it).
 *
 * Link this file into a firmware to give it a .resource_table section:
 * one RPMsg vdev with two vrings whose addresses the host chooses
 * (AMP_RSC_ADDR_ANY) and a trace entry naming the SDK's trace buffer.
 * The host copies the table out of the loaded image, fills in the vring
 * addresses, writes it back before starting the core, and later sets
 * status and gfeatures in place - so this is shared memory, read only
 * through volatile pointers.
 */
#include "vcore.h"

#define NUM_VRINGS 2
#define VRING_NUM 64u  /* entries per vring */
#define VRING_ALIGN 16u

#ifdef __clang__ /* it warns about the extension by default */
#pragma clang diagnostic ignored "-Wgnu-variable-sized-type-not-at-end"
#endif

struct vc_rsc_table {
    uint32_t ver;
    uint32_t num;
    uint32_t reserved[2];
    uint32_t offset[2];
    struct amp_rsc_vdev vdev; /* its vring[] are the next member (a GNU C extension) */
    struct amp_rsc_vring vring[NUM_VRINGS];
    struct amp_rsc_trace trace;
};

_Static_assert(offsetof(struct vc_rsc_table, vring) ==
                   offsetof(struct vc_rsc_table, vdev) + sizeof(struct amp_rsc_vdev),
               "vdev.vring[] must be the vring member");
_Static_assert(offsetof(struct vc_rsc_table, trace) % 4 == 0, "entries are 4-byte aligned");

__attribute__((section(".resource_table"), used, aligned(8))) struct vc_rsc_table vc_rsc_table = {
    .ver = 1,
    .num = 2,
    .offset = {offsetof(struct vc_rsc_table, vdev), offsetof(struct vc_rsc_table, trace)},
    .vdev = {
        .type = AMP_RSC_VDEV,
        .id = AMP_VIRTIO_ID_RPMSG,
        .notifyid = 0,
        .dfeatures = VC_RPMSG_FEATURES,
        .config_len = 0,
        .num_of_vrings = NUM_VRINGS,
    },
    .vring = {
        {.da = AMP_RSC_ADDR_ANY, .align = VRING_ALIGN, .num = VRING_NUM, .notifyid = 0},
        {.da = AMP_RSC_ADDR_ANY, .align = VRING_ALIGN, .num = VRING_NUM, .notifyid = 1},
    },
    /* a constant address: C cannot put a symbol's address in a u32 */
    .trace = {.type = AMP_RSC_TRACE, .da = VC_TRACE_DA, .len = VC_TRACE_SIZE, .name = "trace"},
};

volatile struct amp_rsc_vdev *vc_fw_vdev(void)
{
    return &vc_rsc_table.vdev;
}
