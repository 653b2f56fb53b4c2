/* cfg_lean.h - the settings of test_lean.c: every optional feature out. */
#define AMP_CFG_RPMSG_NS 0
#define AMP_CFG_RPMSG_ZEROCOPY 0
#define AMP_CFG_RPMSG_WAIT 0
#define AMP_CFG_VRING_EVENT_IDX 0
#ifdef SPLIT_CFG /* test_lean_split: the lean remote runs in one context, without cache ops */
#define AMP_CFG_LOCK 0
#define AMP_CFG_CACHE 0
#endif
