/*
 * test_lean_echo.c - test_lean_one.c in the configuration tools/footprint.sh
 * measures as "remote-echo": zero-copy and endpoint destroy compiled out.
 */
#define LEAN_ECHO 1
#include "test_lean_one.c"
