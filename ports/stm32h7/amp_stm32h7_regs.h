/*
 * amp_stm32h7_regs.h - the STM32H745/747/755/757 registers the amp port
 * touches, from both cores, as named constants. No HAL, no CMSIS.
 *
 * Every constant names its source: an RM0399 Rev 4 section, or a line of
 * ST's CMSIS device header (cmsis_device_h7 @13ba9da, stm32h747xx.h) or of
 * Arm's CMSIS-Core (core_cm7.h / core_cm4.h, CMSIS_5 @51f8f89), as
 * collected in FACTS.md. Every access is a volatile 32-bit
 * load or store: the HSEM ignores byte and half-word accesses and answers
 * them with a bus error (RM0399 §11.4).
 */
#ifndef AMP_STM32H7_REGS_H
#define AMP_STM32H7_REGS_H

#include <stdint.h>

#define H7_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* ==== HSEM, hardware semaphores (RM0399 ch. 11) ==== */

/* One base for both cores: D3_AHB1PERIPH_BASE + 0x6400 (CMSIS L2337). */
#define H7_HSEM_BASE 0x58026400u
#define H7_HSEM_R(n) (H7_HSEM_BASE + 0x000u + 4u * (n))   /* §11.4.1: 2-step lock, release */
#define H7_HSEM_RLR(n) (H7_HSEM_BASE + 0x080u + 4u * (n)) /* §11.4.2: a read takes it */
#define H7_HSEM_C1IER (H7_HSEM_BASE + 0x100u)  /* §11.4.3: line 1 (CPU1 = M7) enable */
#define H7_HSEM_C1ICR (H7_HSEM_BASE + 0x104u)  /* §11.4.4: write 1 to clear */
#define H7_HSEM_C1MISR (H7_HSEM_BASE + 0x10Cu) /* §11.4.6: status after the mask */
#define H7_HSEM_C2IER (H7_HSEM_BASE + 0x110u)  /* §11.4.3, Table 96: line 2 (CPU2 = M4) */
#define H7_HSEM_C2ICR (H7_HSEM_BASE + 0x114u)  /* §11.4.4 */
#define H7_HSEM_C2MISR (H7_HSEM_BASE + 0x11Cu) /* §11.4.6 */
#define H7_HSEM_LOCK (1u << 31)                /* §11.4.1/11.4.2: R/RLR LOCK */
#define H7_HSEM_COREID_POS 8u                  /* §11.4.1: COREID[3:0] at bits 11:8 */
#define H7_HSEM_COREID_M7 3u                   /* §11.3.8 Table 95 (CMSIS HSEM_CPU1_COREID) */
#define H7_HSEM_COREID_M4 1u                   /* §11.3.8 Table 95 (CMSIS HSEM_CPU2_COREID) */
#define H7_HSEM_BIT(n) (1u << (n))             /* CnIER/CnICR/CnMISR: one bit per semaphore */

/* ==== RCC (RM0399 ch. 9) ==== */

/* D3_AHB1PERIPH_BASE + 0x4400 (CMSIS L2328). The ENR registers below are
 * "same address" registers: each core reaches its own bank, C1 for the M7,
 * C2 for the M4 (§9.7.1). */
#define H7_RCC_BASE 0x58024400u
#define H7_RCC_GCR (H7_RCC_BASE + 0x0A0u)       /* §9.7.36 global control */
#define H7_RCC_GCR_BOOT_C2 (1u << 3)            /* §9.7.36: "allows CPU2 to boot", set-only */
#define H7_RCC_AHB2ENR (H7_RCC_BASE + 0x0DCu)   /* §9.7.41 */
#define H7_RCC_AHB2ENR_SRAM1EN (1u << 29)       /* CMSIS RCC_AHB2ENR_SRAM1EN_Pos 29 */
#define H7_RCC_AHB2ENR_SRAM2EN (1u << 30)       /* CMSIS RCC_AHB2ENR_SRAM2EN_Pos 30 */
#define H7_RCC_AHB2ENR_SRAM3EN (1u << 31)       /* CMSIS RCC_AHB2ENR_SRAM3EN_Pos 31 */
#define H7_RCC_AHB4ENR (H7_RCC_BASE + 0x0E0u)   /* §9.7.42 */
#define H7_RCC_AHB4ENR_HSEMEN (1u << 25)        /* §9.7.42; CMSIS L19110 */
#define H7_RCC_APB4ENR (H7_RCC_BASE + 0x0F4u)   /* CMSIS RCC_TypeDef APB4ENR */
#define H7_RCC_APB4ENR_SYSCFGEN (1u << 1)       /* CMSIS L19277 */

/* ==== SYSCFG (RM0399 ch. 13): live copies of the option bytes ==== */

/* D3_APB1PERIPH_BASE + 0x400 (CMSIS L2433). */
#define H7_SYSCFG_BASE 0x58000400u
#define H7_SYSCFG_UR3 (H7_SYSCFG_BASE + 0x30Cu) /* §13.3.16 */
/* M4 boot address 0 (BOOT0 pin low), in units of 64 KiB. CMSIS/HAL/LL put
 * it in UR3[31:16] (SYSCFG_UR3_BCM4_ADD0, CMSIS L22987-22993) and ST's
 * HAL_SYSCFG_CM4BootAddConfig() writes there; the RM0399 Rev 4 register
 * drawing shows [15:0]. We follow ST's code: see README "Boot address". */
#define H7_SYSCFG_UR3_BCM4_ADD0_POS 16u
#define H7_SYSCFG_UR3_BCM4_ADD0_MASK (0xFFFFu << 16)

/* ==== FLASH option status (RM0399 ch. 4) ==== */

/* D1_AHB1PERIPH_BASE + 0x2000 (CMSIS L2272). */
#define H7_FLASH_BASE 0x52002000u
#define H7_FLASH_OPTSR_CUR (H7_FLASH_BASE + 0x01Cu) /* CMSIS FLASH_TypeDef OPTSR_CUR */
#define H7_FLASH_OPTSR_BCM4 (1u << 22)              /* CMSIS L14183: M4 boots by itself */

/* ==== Cortex-M private peripherals (each core has its own) ==== */

/* SCB (core_cm7.h SCB_Type L476-515; ARMv7-M ARM B3.2). */
#define H7_SCB_AIRCR 0xE000ED0Cu                  /* B3.2.6 */
#define H7_SCB_AIRCR_VECTKEY (0x05FAu << 16)      /* write key */
#define H7_SCB_AIRCR_PRIGROUP_MASK (7u << 8)      /* keep it on write */
#define H7_SCB_AIRCR_SYSRESETREQ (1u << 2)        /* system reset: both cores (RM0399 §9.4.2) */
#define H7_SCB_VTOR 0xE000ED08u                   /* B3.2.5; TBLOFF bits 29:7 */
#define H7_SCB_CCR 0xE000ED14u                    /* core_cm7.h L614-618 */
#define H7_SCB_CCR_DC (1u << 16)                  /* M7: data cache enabled? */
#define H7_SCB_CPACR 0xE000ED88u                  /* B3.2.20 */
#define H7_SCB_CPACR_CP10_CP11 (0xFu << 20)       /* full access to the FPU */
#define H7_SCB_DCIMVAC 0xE000EF5Cu                /* M7: invalidate line to PoC */
#define H7_SCB_DCCMVAC 0xE000EF68u                /* M7: clean line to PoC */
#define H7_SCB_DCCIMVAC 0xE000EF70u               /* M7: clean + invalidate line */
#define H7_DCACHE_LINE 32u                        /* cachel1_armv7.h L45-46 */

/* MPU (core_cm7.h L1507-1531; ARMv7-M ARM B3.5). */
#define H7_MPU_TYPE 0xE000ED90u
#define H7_MPU_TYPE_DREGION(v) (((v) >> 8) & 0xFFu)
#define H7_MPU_CTRL 0xE000ED94u
#define H7_MPU_CTRL_ENABLE (1u << 0)
#define H7_MPU_CTRL_PRIVDEFENA (1u << 2) /* privileged code keeps the default map */
#define H7_MPU_RNR 0xE000ED98u
#define H7_MPU_RBAR 0xE000ED9Cu
#define H7_MPU_RASR 0xE000EDA0u
#define H7_MPU_RASR_XN (1u << 28)
#define H7_MPU_RASR_AP_FULL (3u << 24)
#define H7_MPU_RASR_TEX(x) ((uint32_t)(x) << 19)
#define H7_MPU_RASR_S (1u << 18)
#define H7_MPU_RASR_SIZE(log2) ((uint32_t)((log2) - 1u) << 1) /* region = 2^(SIZE+1) bytes */
#define H7_MPU_RASR_ENABLE (1u << 0)

/* SysTick (ARMv7-M ARM B3.3.2). */
#define H7_SYST_CSR 0xE000E010u
#define H7_SYST_CSR_ENABLE_TICKINT_CORE 0x7u /* ENABLE | TICKINT | CLKSOURCE = core clock */
#define H7_SYST_RVR 0xE000E014u
#define H7_SYST_CVR 0xE000E018u

/* NVIC (core_cm7.h L440-452; ARMv7-M ARM B3.4). Priorities are bytes in
 * 32-bit words; we change them with a 32-bit read-modify-write. */
#define H7_NVIC_ISER(n) (0xE000E100u + 4u * (n))
#define H7_NVIC_ICER(n) (0xE000E180u + 4u * (n))
#define H7_NVIC_ICPR(n) (0xE000E280u + 4u * (n))
#define H7_NVIC_IPR(n) (0xE000E400u + 4u * (n))
#define H7_NVIC_PRIO_BITS 4u /* __NVIC_PRIO_BITS, h747 L227/L236 */

/* IRQ numbers (stm32h747xx.h / stm32h755xx.h L182-183). */
#define H7_HSEM1_IRQN 125u /* line 1, served by the M7 */
#define H7_HSEM2_IRQN 126u /* line 2, served by the M4 */

/* ==== Instructions ==== */

#ifdef AMP_STM32H7_HOST_TEST
/* A host build of the port for tests of its pure logic (memory map
 * checks): no instruction may ever be reached there. */
#define H7_INSN(arm) __builtin_trap()
#define H7_INSN_IN(arm, out) (__builtin_trap(), (out) = 0)
#define H7_INSN_OUT(arm, in) ((void)(in), __builtin_trap())
#else
#define H7_INSN(arm) __asm volatile(arm ::: "memory")
#define H7_INSN_IN(arm, out) __asm volatile(arm : "=r"(out)::"memory")
#define H7_INSN_OUT(arm, in) __asm volatile(arm ::"r"(in) : "memory")
#endif

static inline void h7_dsb(void)
{
    H7_INSN("dsb 0xF");
}

static inline void h7_isb(void)
{
    H7_INSN("isb 0xF");
}

static inline void h7_wfi(void)
{
    H7_INSN("wfi");
}

/* Mask interrupts; returns the previous PRIMASK for h7_irq_restore(). */
static inline uint32_t h7_irq_save(void)
{
    uint32_t pm;
    H7_INSN_IN("mrs %0, primask\n\tcpsid i", pm);
    return pm;
}

static inline void h7_irq_restore(uint32_t pm)
{
    H7_INSN_OUT("msr primask, %0", pm);
}

static inline void h7_irq_enable(void)
{
    H7_INSN("cpsie i");
}

static inline void h7_irq_disable(void)
{
    H7_INSN("cpsid i");
}

/* ==== NVIC helpers (both cores) ==== */

static inline void h7_nvic_enable(uint32_t irq)
{
    H7_REG(H7_NVIC_ISER(irq / 32u)) = 1u << (irq % 32u);
}

/* Disable, and wait until no handler can still be entered for it. */
static inline void h7_nvic_disable(uint32_t irq)
{
    H7_REG(H7_NVIC_ICER(irq / 32u)) = 1u << (irq % 32u);
    h7_dsb();
    h7_isb();
}

static inline void h7_nvic_clear_pending(uint32_t irq)
{
    H7_REG(H7_NVIC_ICPR(irq / 32u)) = 1u << (irq % 32u);
}

/* prio: the 8-bit priority field (only the top H7_NVIC_PRIO_BITS count). */
static inline void h7_nvic_set_priority(uint32_t irq, uint8_t prio)
{
    uint32_t shift = 8u * (irq % 4u);
    uint32_t v = H7_REG(H7_NVIC_IPR(irq / 4u));
    H7_REG(H7_NVIC_IPR(irq / 4u)) = (v & ~(0xFFu << shift)) | ((uint32_t)prio << shift);
}

/* Set bits in a clock-enable register, then read it back: the clock is
 * running only after the write has reached the RCC. */
static inline void h7_rcc_enable(uint32_t reg, uint32_t bits)
{
    H7_REG(reg) |= bits;
    (void)H7_REG(reg);
    h7_dsb();
}

#endif /* AMP_STM32H7_REGS_H */
