/*
 * split.h - one test binary, two builds of RPMsg: the host on the full
 * library, the remote on the lean one (AMP_CFG_RPMSG_LEAN), so the
 * loopback tests written for one build face the lean remote with the
 * full host, unchanged.
 *
 * A test_*_split binary is three translation units besides its test body,
 * each compiled with the same AMP_CFG_* settings (the header SPLIT_CFG
 * names), so that every struct has one layout:
 *   split_full.c      amp_vring.c and amp_rpmsg.c, the amp_rpmsg_* and
 *                     amp_ept_* functions renamed full_*;
 *   split_lean.c      amp_rpmsg.c with AMP_CFG_RPMSG_LEAN 1, renamed lean_*
 *                     (the ring layout functions come from split_full.c);
 *   split_dispatch.c  the public names, each calling the build of its
 *                     device's role: a remote's the lean one, a host's the
 *                     full one (an endpoint's device; a call without a
 *                     device goes to the lean build: both must refuse it).
 * Included with SPLIT_AS(x) defined (split_full.c, split_lean.c), before
 * the library's sources: renames the public names to SPLIT_AS(name).
 */
#ifndef SPLIT_H
#define SPLIT_H

#include SPLIT_CFG

#ifdef SPLIT_AS
#define amp_rpmsg_init SPLIT_AS(rpmsg_init)
#define amp_rpmsg_start SPLIT_AS(rpmsg_start)
#define amp_rpmsg_stop SPLIT_AS(rpmsg_stop)
#define amp_rpmsg_cfg_from_vdev SPLIT_AS(rpmsg_cfg_from_vdev)
#define amp_rpmsg_cfg_rings SPLIT_AS(rpmsg_cfg_rings)
#define amp_rpmsg_poll SPLIT_AS(rpmsg_poll)
#define amp_rpmsg_wait SPLIT_AS(rpmsg_wait)
#define amp_rpmsg_set_ns_cb SPLIT_AS(rpmsg_set_ns_cb)
#define amp_rpmsg_set_busy_poll SPLIT_AS(rpmsg_set_busy_poll)
#define amp_rpmsg_max_payload SPLIT_AS(rpmsg_max_payload)
#define amp_rpmsg_get_stats SPLIT_AS(rpmsg_get_stats)
#define amp_ept_create SPLIT_AS(ept_create)
#define amp_ept_destroy SPLIT_AS(ept_destroy)
#define amp_rpmsg_quiesce SPLIT_AS(rpmsg_quiesce)
#define amp_ept_set_unbind_cb SPLIT_AS(ept_set_unbind_cb)
#define amp_ept_is_ready SPLIT_AS(ept_is_ready)
#define amp_ept_send SPLIT_AS(ept_send)
#define amp_ept_sendto SPLIT_AS(ept_sendto)
#define amp_rpmsg_alloc_tx SPLIT_AS(rpmsg_alloc_tx)
#define amp_ept_send_nocopy SPLIT_AS(ept_send_nocopy)
#define amp_rpmsg_release_tx SPLIT_AS(rpmsg_release_tx)
#define amp_rpmsg_release_rx SPLIT_AS(rpmsg_release_rx)
#define amp_rpmsg_release_rx_gen SPLIT_AS(rpmsg_release_rx_gen)
#endif

#endif /* SPLIT_H */
