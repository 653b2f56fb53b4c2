/* split_full.c - the full library, its RPMsg calls named full_* (split.h). */
#define SPLIT_AS(x) full_##x
#include "split.h"

#include "../src/amp_vring.c"
#include "../src/amp_rpmsg.c"
