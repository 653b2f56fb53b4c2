/*
 * host_table.c - the virtual core's host-provided table lookup
 * (firmware/sdk/host_table.c), built for core 1: see fw_table.c.
 */
#include "vcore.h"

#include "../../../firmware/sdk/host_table.c"
