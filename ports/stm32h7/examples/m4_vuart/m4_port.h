/*
 * m4_port.h - the remote's port on the Cortex-M4 of an STM32H745/747/755.
 *
 * notify = take + release HSEM 1 (raises the M7's HSEM1 interrupt);
 * wait = WFI until our HSEM2 interrupt has seen HSEM 0 released by the
 * M7. No cache ops (the M4 has no data cache), no clock, no lock: the
 * interrupt only sets a flag, and the library runs in main().
 */
#ifndef M4_PORT_H
#define M4_PORT_H

#include "amp/amp.h"

/* Clear a stale HSEM 0 flag, then enable C2IER bit 0 and HSEM2_IRQn.
 * Called by the startup code before main(). */
void m4_hsem_init(void);

/* The port for amp_rpmsg_init(). */
struct amp_port m4_port(void);

/* Announce in the park block that we honour park requests. */
void m4_park_ready(void);

#endif /* M4_PORT_H */
