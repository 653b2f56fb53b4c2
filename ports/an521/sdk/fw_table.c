/*
 * fw_table.c - the virtual core's firmware-provided resource table
 * (firmware/sdk/rsc_table.c), built for core 1. Our vcore.h comes first;
 * the one next to rsc_table.c has the same guard and is skipped.
 */
#include "vcore.h"

#include "../../../firmware/sdk/rsc_table.c"
