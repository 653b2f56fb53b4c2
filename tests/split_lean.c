/* split_lean.c - the lean remote's RPMsg (AMP_CFG_RPMSG_LEAN), its calls
 * named lean_* (split.h). */
#define AMP_CFG_RPMSG_LEAN 1
#define SPLIT_AS(x) lean_##x
#include "split.h"

#include "../src/amp_rpmsg.c"
