/*
 * board_sleep.c - time.sleep() that runs MicroPython's scheduled work:
 * the qemu port's mp_hal_delay_ms() spins without it, so openamp's
 * callbacks would wait for the sleep to end. The board links with
 * --wrap=mp_hal_delay_ms, which sends every caller outside mphalport.c
 * here. WFI sleeps until the next interrupt (SysTick, a doorbell).
 */
#include "py/mphal.h"
#include "py/runtime.h"

void __wrap_mp_hal_delay_ms(mp_uint_t ms);

void __wrap_mp_hal_delay_ms(mp_uint_t ms) {
    mp_uint_t start = mp_hal_ticks_ms();
    do {
        mp_event_handle_nowait(); /* callbacks, and a pending KeyboardInterrupt */
        if (mp_hal_ticks_ms() - start >= ms) {
            break;
        }
        __asm__ volatile ("wfi");
    } while (mp_hal_ticks_ms() - start < ms);
}
