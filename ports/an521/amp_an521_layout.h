/*
 * amp_an521_layout.h - what both cores of QEMU's mps2-an521 agree on: the
 * memory map, the doorbells, and the life-cycle block of the park
 * protocol. Plain constants and one struct, no library types, so core-1
 * firmware can include it on its own.
 *
 * The board (QEMU 7.2 hw/arm/mps2-tz.c, armsse.c; ARM AN521, SSE-200 TRM):
 * two Cortex-M33, both in the Secure world (the SAU is off, every MPC
 * block is Secure at reset), sharing all memory. No caches are modelled.
 * Core 0 has no FPU, core 1 has one. We use the Secure aliases only.
 *
 *   0x10000000  SSRAM1, 4 MiB    core 0: the host (QEMU -kernel loads it here)
 *   0x30000000  ISRAM, 128 KiB   core 1: firmware image and stack (loadable)
 *   0x38000000  SSRAM2, 2 MiB    shared:
 *     0x38000000    resource table built by the host (MicroPython layout), 1 KiB
 *     0x38000400    the shared window: vrings, then the host's buffers
 *     0x3800FF80    trace buffer of the MicroPython layout, 128 bytes
 *     0x38100000    end of the window
 *     0x38100000    life-cycle block (below), 256 bytes: outside every
 *                   range the loader or a resource table may name
 *   0x38200000  SSRAM3, 2 MiB    core 1: more loadable memory for big images
 *   0x80000000  PSRAM, 16 MiB    not used by amp (free for the host)
 *
 * The first lines of SSRAM2 are MicroPython's STM32 layout at the same
 * addresses (table 0x38000000, vrings 0x38000400 and 0x38001400, 64
 * entries), so firmware written for it finds everything where it expects.
 *
 * Doorbells: the SSE-200's two MHUs. MHUn raises IRQ 6+n on the core
 * whose CPUxINTR_SET register is written; each core clears its own.
 *   MHU0 bit 0   "look at the vrings", both directions
 *   MHU1 bit 0   to core 1: "park now" (the stop request);
 *                to core 0: "the life-cycle block changed" (parked, crashed)
 */
#ifndef AMP_AN521_LAYOUT_H
#define AMP_AN521_LAYOUT_H

#include <stdint.h>

/* ==== Memory ==== */

#define AMP_AN521_HOST_DA 0x10000000u /* SSRAM1 */
#define AMP_AN521_HOST_SIZE 0x00400000u
#define AMP_AN521_ISRAM_DA 0x30000000u /* core 1's RAM */
#define AMP_AN521_ISRAM_SIZE 0x00020000u
#define AMP_AN521_SSRAM2_DA 0x38000000u /* shared */
#define AMP_AN521_SSRAM2_SIZE 0x00200000u
#define AMP_AN521_SSRAM3_DA 0x38200000u /* core 1's, for big images */
#define AMP_AN521_SSRAM3_SIZE 0x00200000u

#define AMP_AN521_RSC_DA 0x38000000u  /* host-provided table (METAL_RSC_ADDR) */
#define AMP_AN521_RSC_SIZE 0x400u     /* METAL_RSC_SIZE */
#define AMP_AN521_SHM_DA 0x38000400u  /* the shared window (METAL_SHM_ADDR) */
#define AMP_AN521_SHM_END 0x38100000u
#define AMP_AN521_MP_SHM_END 0x3800FF80u  /* MicroPython layout: window ends at its trace */
#define AMP_AN521_MP_TRACE_DA 0x3800FF80u
#define AMP_AN521_MP_TRACE_LEN 128u
#define AMP_AN521_MP_VRING0_DA 0x38001400u /* remote->host: VRING_TX_ADDR */
#define AMP_AN521_MP_VRING1_DA 0x38000400u /* host->remote: VRING_RX_ADDR */
#define AMP_AN521_MP_VRING_NUM 64u
#define AMP_AN521_MP_VRING_ALIGN 32u
#define AMP_AN521_LIFE_DA 0x38100000u

/* ==== Registers (Secure aliases) ==== */

#define AMP_AN521_REG(a) (*(volatile uint32_t *)(uintptr_t)(a))

#define AMP_AN521_MHU0 0x50003000u
#define AMP_AN521_MHU1 0x50004000u
#define AMP_AN521_MHU_CPU0_STAT 0x00u /* doorbells pending for core 0 */
#define AMP_AN521_MHU_CPU0_SET 0x04u
#define AMP_AN521_MHU_CPU0_CLR 0x08u
#define AMP_AN521_MHU_CPU1_STAT 0x10u /* ... for core 1 */
#define AMP_AN521_MHU_CPU1_SET 0x14u
#define AMP_AN521_MHU_CPU1_CLR 0x18u
#define AMP_AN521_MHU0_IRQ 6u /* NVIC line on both cores */
#define AMP_AN521_MHU1_IRQ 7u

#define AMP_AN521_INITSVTOR1 0x50021114u /* core 1's vector table at release */
#define AMP_AN521_CPUWAIT 0x50021118u    /* bit 1: core 1 held (set at power-on) */
#define AMP_AN521_CPU_IDENTITY 0x5001F000u /* 0 on core 0, 1 on core 1 */

#define AMP_AN521_UART0 0x50200000u /* CMSDK UART: QEMU's first -serial (the host's) */
#define AMP_AN521_UART1 0x50201000u /* the second -serial (core 1's firmware) */

/* ==== The park protocol ====
 *
 * QEMU implements no register that halts core 1 once it runs (CPUWAIT
 * again, RESET_MASK, the power controller and SWRESET do not), so a stop
 * is cooperative, and the code that does it is the host's:
 *
 *   host start   writes the address of its park routine into the loaded
 *                image's vector for IRQ 7 and into park_entry, then
 *                releases core 1 (CPUWAIT) or, if parked, sets restart_vtor
 *   host stop    rings MHU1 -> core 1 takes IRQ 7 = the park routine,
 *                which runs from host memory on a host-owned stack: masks
 *                interrupts, clears core 1's NVIC, SysTick, MPU and MHU
 *                bits, writes parked = PARKED, rings MHU1 to core 0, and
 *                spins until restart_vtor is set
 *   host start   reloads the image (core 1 is not touching it), sets
 *                restart_vtor; the park routine unwinds every active
 *                exception and enters the new reset vector in Thread
 *                mode with VTOR and MSP from the new table, as a reset does
 *   crash        the firmware's fault handler fills the crash record,
 *                increments crash_seq, and branches to park_entry
 *
 * So firmware must: enable IRQ 7 and leave its vector alone, not keep
 * interrupts masked for long (PRIMASK delays a stop; the host gives up
 * after a timeout), not move VTOR, and end in park_entry when it dies.
 * It may use all of its memory: the park routine uses none of it.
 *
 * Trust: the block is in memory core 1 can write. The host believes
 * `parked` only as far as it must (a lying firmware could claim to be
 * parked and keep running; nothing on this board can stop that).
 */
struct amp_an521_life {
    uint32_t magic;        /* host: AMP_AN521_LIFE_MAGIC once the fields below are valid */
    uint32_t park_entry;   /* host: the park routine (Thumb address) */
    uint32_t parked;       /* park routine: AMP_AN521_PARKED while parked, 0 when not */
    uint32_t restart_vtor; /* host: leave the park for this vector table (0: stay) */
    uint32_t boots;        /* firmware: +1 at every reset (SDK startup) */
    uint32_t crash_seq;    /* firmware: +1 per crash record, written last */
    uint32_t cause;        /* firmware: AMP_AN521_CRASH_* */
    uint32_t pc;           /* firmware: where it died (stacked pc) */
    uint32_t lr;
    uint32_t psr;
    uint32_t cfsr;         /* Configurable Fault Status (0xE000ED28) */
    uint32_t hfsr;         /* HardFault Status (0xE000ED2C) */
    uint32_t far;          /* BFAR or MMFAR when valid, else 0 */
    uint32_t status;       /* exit status for AMP_AN521_CRASH_EXIT */
    uint32_t reserved[50]; /* 256 bytes in all */
};

#define AMP_AN521_LIFE ((volatile struct amp_an521_life *)(uintptr_t)AMP_AN521_LIFE_DA)
#define AMP_AN521_LIFE_MAGIC 0x6566696Cu /* "life" */
#define AMP_AN521_PARKED 0x6B726170u     /* "park" */

enum amp_an521_crash {
    AMP_AN521_CRASH_NONE = 0,
    AMP_AN521_CRASH_HARDFAULT = 3, /* the exception number */
    AMP_AN521_CRASH_MEMMANAGE = 4,
    AMP_AN521_CRASH_BUSFAULT = 5,
    AMP_AN521_CRASH_USAGEFAULT = 6,
    AMP_AN521_CRASH_SECUREFAULT = 7,
    AMP_AN521_CRASH_OTHER = 8,     /* an exception the firmware had no handler for */
    AMP_AN521_CRASH_EXIT = 0x100,  /* main() returned or vc_exit(): status says what */
};

_Static_assert(sizeof(struct amp_an521_life) == 256, "the life-cycle block is 256 bytes");

#endif /* AMP_AN521_LAYOUT_H */
