/* test_lean_one_split.c - test_lean_one.c with the remote on the lean
 * build (AMP_CFG_RPMSG_LEAN) and the host on the full one (split.h). */
#include "test_lean_one.c"
