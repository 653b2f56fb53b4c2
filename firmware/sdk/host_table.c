/*
 * host_table.c - find the RPMsg vdev in a resource table that the host
 * built in shared memory (the "host-provided" flow, for firmware without
 * a .resource_table section).
 *
 * The table is the host's and the host may rewrite it at any time, so it
 * is copied once into our memory and only the copy is checked and walked.
 * What we hand back points into shared memory at the same offset as in
 * the copy: the status and feature words must be the ones the host sees.
 */
#include "vcore.h"

/* Is [da, da+len) inside shared memory? Nothing overflows. */
static bool in_shm(uint32_t da, uint32_t len)
{
    return da >= AMP_VCORE_SHM_DA && da - AMP_VCORE_SHM_DA <= AMP_VCORE_SHM_SIZE &&
           len <= AMP_VCORE_SHM_SIZE - (da - AMP_VCORE_SHM_DA);
}

volatile struct amp_rsc_vdev *vc_host_vdev(const char **why)
{
    static uint32_t copy[AMP_VCORE_RSC_SIZE / 4]; /* 4-byte aligned, as amp_rsc_check wants */
    const volatile uint32_t *shared = (const volatile uint32_t *)(uintptr_t)AMP_VCORE_RSC_DA;
    const char *dummy;

    if (!why)
        why = &dummy;
    for (size_t i = 0; i < VC_ARRAY_SIZE(copy); i++)
        copy[i] = shared[i];
    if (amp_rsc_check(copy, sizeof(copy), why) != 0)
        return NULL;

    struct amp_rsc_vdev *vdev = NULL;
    for (int i = 0; (i = amp_rsc_find(copy, AMP_RSC_VDEV, (uint32_t)i)) >= 0; i++) {
        struct amp_rsc_vdev *v = amp_rsc_entry(copy, (uint32_t)i, NULL);
        if (v->id == AMP_VIRTIO_ID_RPMSG && v->num_of_vrings >= 2) {
            vdev = v;
            break;
        }
    }
    if (!vdev) {
        *why = "no RPMsg vdev with two vrings in the host's table";
        return NULL;
    }

    int t = amp_rsc_find(copy, AMP_RSC_TRACE, 0);
    if (t >= 0) {
        struct amp_rsc_trace *tr = amp_rsc_entry(copy, (uint32_t)t, NULL);
        if (in_shm(tr->da, tr->len)) /* never let the host aim us at our own RAM */
            vc_trace_init((volatile char *)(uintptr_t)tr->da, tr->len);
    }
    size_t off = (size_t)((uint8_t *)vdev - (uint8_t *)copy);
    return (volatile struct amp_rsc_vdev *)(uintptr_t)(AMP_VCORE_RSC_DA + off);
}
