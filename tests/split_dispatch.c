/* split_dispatch.c - the public RPMsg calls, each to the build of its
 * device's role: remote lean, host full (split.h). */
#include "split.h"

#include "amp/amp.h"

static bool lean(const struct amp_rpmsg *dev)
{
    return !dev || dev->role == AMP_ROLE_REMOTE; /* no device: both builds refuse it */
}

static const struct amp_rpmsg *dev_of(const struct amp_ept *ept)
{
    return ept ? ept->dev : NULL;
}

/* Declare full_NAME and lean_NAME, and define amp_NAME as the call of
 * the one that WHO (an expression of the arguments) picks. */
#define CALL(ret, name, params, args, who)                                                         \
    ret full_##name params;                                                                        \
    ret lean_##name params;                                                                        \
    ret amp_##name params                                                                          \
    {                                                                                              \
        return (who ? lean_##name : full_##name) args;                                             \
    }
#define CALL_VOID(name, params, args, who)                                                         \
    void full_##name params;                                                                       \
    void lean_##name params;                                                                       \
    void amp_##name params                                                                         \
    {                                                                                              \
        (who ? lean_##name : full_##name) args;                                                    \
    }

CALL_VOID(rpmsg_init, (struct amp_rpmsg *d, enum amp_role r, const struct amp_port *p), (d, r, p),
          r == AMP_ROLE_REMOTE)
CALL(int, rpmsg_start, (struct amp_rpmsg *d, const struct amp_rpmsg_cfg *c, int32_t t), (d, c, t),
     lean(d))
CALL_VOID(rpmsg_stop, (struct amp_rpmsg *d), (d), lean(d))
CALL(int, rpmsg_poll, (struct amp_rpmsg *d), (d), lean(d))
CALL(int, rpmsg_wait, (struct amp_rpmsg *d, int32_t t), (d, t), lean(d))
CALL_VOID(rpmsg_set_ns_cb, (struct amp_rpmsg *d, amp_ns_cb cb, void *priv), (d, cb, priv), lean(d))
CALL_VOID(rpmsg_set_busy_poll, (struct amp_rpmsg *d, bool on), (d, on), lean(d))
CALL(uint32_t, rpmsg_max_payload, (const struct amp_rpmsg *d), (d), lean(d))
CALL_VOID(rpmsg_get_stats, (struct amp_rpmsg *d, struct amp_rpmsg_stats *st), (d, st), lean(d))
CALL(int, ept_create,
     (struct amp_ept *e, struct amp_rpmsg *d, const char *name, uint32_t src, uint32_t dest,
      amp_ept_cb cb, void *priv),
     (e, d, name, src, dest, cb, priv), lean(d))
#if AMP_CFG_RPMSG_EPT_DESTROY
CALL_VOID(ept_destroy, (struct amp_ept *e), (e), lean(dev_of(e)))
#endif
CALL_VOID(rpmsg_quiesce, (struct amp_rpmsg *d, const struct amp_ept *e), (d, e), lean(d))
CALL_VOID(ept_set_unbind_cb, (struct amp_ept *e, amp_ept_unbind_cb cb), (e, cb), lean(dev_of(e)))
CALL(bool, ept_is_ready, (const struct amp_ept *e), (e), lean(dev_of(e)))
CALL(int, ept_send, (struct amp_ept *e, const void *data, size_t len, int32_t t), (e, data, len, t),
     lean(dev_of(e)))
CALL(int, ept_sendto,
     (struct amp_ept *e, uint32_t src, uint32_t dst, const void *data, size_t len, int32_t t),
     (e, src, dst, data, len, t), lean(dev_of(e)))
CALL(int, rpmsg_alloc_tx, (struct amp_rpmsg *d, void **p, uint32_t *cap, int32_t t), (d, p, cap, t),
     lean(d))
CALL(int, ept_send_nocopy, (struct amp_ept *e, uint32_t dst, void *p, size_t len), (e, dst, p, len),
     lean(dev_of(e)))
CALL(int, rpmsg_release_tx, (struct amp_rpmsg *d, void *p), (d, p), lean(d))
CALL(int, rpmsg_release_rx, (struct amp_rpmsg *d, void *p), (d, p), lean(d))
CALL(int, rpmsg_release_rx_gen, (struct amp_rpmsg *d, void *p, uint32_t gen), (d, p, gen), lean(d))
/* the same code in both builds (amp_rpmsg.c compiles it either way): the lean one's */
CALL(int, rpmsg_cfg_from_vdev, (struct amp_rpmsg_cfg *c, const volatile struct amp_rsc_vdev *v),
     (c, v), true)
CALL(int, rpmsg_cfg_rings,
     (struct amp_rpmsg_cfg *c, const struct amp_shm *shm, uint32_t da, uint32_t stride,
      uint32_t num, uint32_t align),
     (c, shm, da, stride, num, align), true)
