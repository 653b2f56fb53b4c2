/*
 * board_uart.c - the console of MicroPython's qemu port on mps2-an521: the
 * CMSDK APB UART0 of the AN521, at 0x50200000 (its Secure alias; QEMU's
 * first -serial). The functions of ports/qemu/uart.h.
 */
#include <stddef.h>
#include <stdint.h>

#include "uart.h"

#define UART0 0x50200000u
#define REG(off) (*(volatile uint32_t *)(uintptr_t)(UART0 + (off)))
#define DATA REG(0x00)
#define STATE REG(0x04) /* bit 0 TX full, bit 1 RX full */
#define CTRL REG(0x08)  /* bit 0 TX enable, bit 1 RX enable */
#define BAUDDIV REG(0x10)

void uart_init(void) {
    BAUDDIV = 16;
    CTRL = 3;
}

int uart_rx_chr(void) {
    return (STATE & 2u) ? (int)(DATA & 0xFFu) : UART_RX_NO_CHAR;
}

int uart_rx_any(void) {
    return (STATE & 2u) != 0;
}

void uart_tx_strn(const char *buf, size_t len) {
    for (size_t i = 0; i < len; i++) {
        while (STATE & 1u) {
        }
        DATA = (uint8_t)buf[i];
    }
}
