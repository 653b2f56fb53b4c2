/* test_lean_split.c - test_lean.c with the remote on the lean build
 * (AMP_CFG_RPMSG_LEAN) and the host on the full one (split.h). */
#include "test_lean.c"
