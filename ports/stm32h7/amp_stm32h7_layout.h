/*
 * amp_stm32h7_layout.h - the shared-memory map both cores agree on, and
 * the cooperative-stop ("park") block. Plain constants, no library types,
 * so remote firmware can include it on its own.
 *
 * SRAM4 (D3 domain, 0x38000000, 64 KiB; CMSIS L2231 D3_SRAM_BASE) is seen
 * at the same address by both cores and stays clocked while either CPU
 * runs (RM0399 §9.5.11), so everything shared lives there:
 *
 *   0x38000000  resource table (host-provided layout), 1 KiB reserved
 *   0x380003E0  park block, 32 bytes (the last line of that KiB)
 *   0x38000400  vring1 (host->remote)  \  the shared window:
 *   0x38001400  vring0 (remote->host)   } vrings, then the host's
 *   ...         RPMsg buffers          /  512-byte buffers
 *   0x3800FF80  trace buffer, 128 bytes, written by the remote
 *
 * The first four lines are MicroPython's STM32 layout (mpmetalport.h,
 * extmod/modopenamp.c): M4 firmware written for it works unchanged.
 */
#ifndef AMP_STM32H7_LAYOUT_H
#define AMP_STM32H7_LAYOUT_H

#include <stdint.h>

#define AMP_STM32H7_SRAM4_BASE 0x38000000u
#define AMP_STM32H7_SRAM4_SIZE 0x10000u
#define AMP_STM32H7_SRAM4_LOG2 16u /* for amp_stm32h7_mpu_uncached() */

#define AMP_STM32H7_RSC_DA 0x38000000u  /* METAL_RSC_ADDR */
#define AMP_STM32H7_RSC_SIZE 0x400u     /* METAL_RSC_SIZE */
#define AMP_STM32H7_PARK_DA 0x380003E0u /* ours: MicroPython zeroes it with the table */
#define AMP_STM32H7_SHM_DA 0x38000400u  /* METAL_SHM_ADDR */
#define AMP_STM32H7_SHM_END 0x38010000u /* end of SRAM4 */
#define AMP_STM32H7_TRACE_DA 0x3800FF80u
#define AMP_STM32H7_TRACE_LEN 128u
#define AMP_STM32H7_VRING0_DA 0x38001400u /* remote->host: VRING_TX_ADDR */
#define AMP_STM32H7_VRING1_DA 0x38000400u /* host->remote: VRING_RX_ADDR */
#define AMP_STM32H7_VRING_NUM 64u         /* VRING_NUM_BUFFS */
#define AMP_STM32H7_VRING_ALIGN 32u       /* VRING_ALIGNMENT: one D-cache line */

/* The M4's memory on the MicroPython STM32H747 boards (ARDUINO_GIGA,
 * ARDUINO_PORTENTA_H7, ARDUINO_NICLA_VISION, ARDUINO_OPTA,
 * STM32H747I_DISCO: their stm32h747*.ld at MicroPython 1c3c201149):
 *
 *   flash  0x08180000, 512 KiB: FLASH_CM4 on every board. MicroPython's
 *          own M7 firmware is 0x08040000-0x0817FFFF (FLASH_TEXT): an M4
 *          image at 0x08100000, bank 2's start, would overwrite it.
 *   SRAM   SRAM1 (0x30000000, 128 KiB) is MicroPython's GC heap on GIGA
 *          and DISCO (.gc.blocks.table); SRAM2-3 is free on every board
 *          (SRAM1-3 on Portenta, Nicla Vision and Opta). The examples use
 *          SRAM2-3, 160 KiB, through the M4's alias at 0x10020000.
 */
#define AMP_STM32H7_M4_FLASH_DA 0x08180000u
#define AMP_STM32H7_M4_FLASH_SIZE 0x80000u
#define AMP_STM32H7_M4_RAM_DA 0x10020000u   /* SRAM2, M4 alias of 0x30020000 */
#define AMP_STM32H7_M4_RAM_SIZE 0x28000u    /* SRAM2-3 */
#define AMP_STM32H7_MP_FIRMWARE_BANK2 0x08100000u /* MicroPython's M7 firmware, to FLASH_CM4 */
#define AMP_STM32H7_MP_GC_SRAM1 0x30000000u /* GIGA, DISCO: the GC heap's first area */
#define AMP_STM32H7_MP_GC_SRAM1_SIZE 0x20000u
#define AMP_STM32H7_SRAM123_BASE 0x30000000u
#define AMP_STM32H7_SRAM123_END 0x30048000u

/* HSEM doorbells (mpmetalport.h METAL_HSEM_REMOTE_ID / _MASTER_ID; the
 * same in Arduino's mbox_hsem.h and ST's OpenAMP_PingPong). A doorbell is
 * a fast take + release of the semaphore: the release raises the other
 * core's HSEM interrupt (RM0399 §11.3.5, §11.3.7). */
#define AMP_STM32H7_HSEM_TO_M4 0u /* M7 rings, M4 listens (C2IER bit 0) */
#define AMP_STM32H7_HSEM_TO_M7 1u /* M4 rings, M7 listens (C1IER bit 1) */

/* Cooperative stop. The silicon cannot halt or reset the M4 alone
 * (RM0399 §9.4, §9.7.36), so a host that wants the M4 quiet asks it:
 *
 *   M4 at boot:   remote = READY            ("I honour park requests")
 *   M7 stop():    host = REQUEST, doorbell
 *   M4:           masks its interrupts, remote = PARKED, doorbell, then
 *                 sleeps forever without touching memory
 *
 * A parked M4 cannot be started again: BOOT_C2 is set-only until a system
 * reset. The host zeroes both words before it releases the M4. */
struct amp_stm32h7_park {
    uint32_t host;        /* written by the M7: 0 or AMP_STM32H7_PARK_REQUEST */
    uint32_t remote;      /* written by the M4: 0, _READY, then _PARKED */
    uint32_t reserved[6]; /* one 32-byte cache line, nobody else's data */
};

#define AMP_STM32H7_PARK_REQUEST 0x6B726170u /* "park" */
#define AMP_STM32H7_PARK_READY 0x79646572u   /* "redy" */
#define AMP_STM32H7_PARK_PARKED 0x656E6F64u  /* "done" */

#define AMP_STM32H7_PARK ((volatile struct amp_stm32h7_park *)(uintptr_t)AMP_STM32H7_PARK_DA)

_Static_assert(sizeof(struct amp_stm32h7_park) == 32, "the park block is one cache line");
_Static_assert(AMP_STM32H7_PARK_DA % 32u == 0, "the park block is line-aligned");
_Static_assert(AMP_STM32H7_PARK_DA + 32u <= AMP_STM32H7_SHM_DA, "the park block is before the window");

#endif /* AMP_STM32H7_LAYOUT_H */
