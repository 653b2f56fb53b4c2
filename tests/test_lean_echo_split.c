/* test_lean_echo_split.c - test_lean_echo.c with the remote on the lean
 * build (AMP_CFG_RPMSG_LEAN) and the host on the full one (split.h). */
#include "test_lean_echo.c"
