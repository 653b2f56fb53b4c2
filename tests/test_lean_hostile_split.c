/* test_lean_hostile_split.c - test_lean_hostile.c with the remote on the
 * lean build (AMP_CFG_RPMSG_LEAN), split.h. */
#include "test_lean_hostile.c"
