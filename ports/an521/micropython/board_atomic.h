/*
 * board_atomic.h - atomic sections for MicroPython on the AN521 board,
 * included into every C file (-include, mpconfigboard.mk). The qemu port
 * has no interrupt that touches MicroPython's state, so it leaves
 * MICROPY_BEGIN_ATOMIC_SECTION empty; openamp's MHU interrupts schedule a
 * poll (mp_sched_schedule_node), which races the scheduler's list without
 * them (seen: a HardFault calling a NULL callback). PRIMASK it is.
 */
#ifndef AN521_BOARD_ATOMIC_H
#define AN521_BOARD_ATOMIC_H

#include <stdint.h>

static inline uint32_t an521_atomic_begin(void) {
    uint32_t s;
    __asm__ volatile ("mrs %0, primask\n\tcpsid i" : "=r" (s) : : "memory");
    return s;
}

static inline void an521_atomic_end(uint32_t s) {
    __asm__ volatile ("msr primask, %0" : : "r" (s) : "memory");
}

#define MICROPY_BEGIN_ATOMIC_SECTION() an521_atomic_begin()
#define MICROPY_END_ATOMIC_SECTION(state) an521_atomic_end(state)

#endif // AN521_BOARD_ATOMIC_H
