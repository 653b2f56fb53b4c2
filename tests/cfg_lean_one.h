/* cfg_lean_one.h - the settings of test_lean_one.c (tools/footprint.sh's
 * "remote") and, with LEAN_ECHO, of test_lean_echo.c ("remote-echo"). */
#define AMP_CFG_RPMSG_EPT_MAX 1
#define AMP_CFG_RPMSG_WAIT 0
#define AMP_CFG_VRING_EVENT_IDX 0
#define AMP_CFG_RPMSG_NS_CACHE 0
#define AMP_CFG_LOCK 0
#define AMP_CFG_CACHE 0
#define AMP_CFG_VRING_PARTS 0
#ifdef LEAN_ECHO
#define AMP_CFG_RPMSG_ZEROCOPY 0
#define AMP_CFG_RPMSG_EPT_DESTROY 0
#endif
