/*
 * main.c - the M7 host example. It exists to prove that the host side of
 * the port builds and links with the whole library (remoteproc, resource
 * tables, ELF loader, vrings, RPMsg); it has not run on a board.
 *
 * It attaches to the vUART remote in flash bank 2, starts it with
 * MicroPython's layout, and plays ping-pong on "vuart-channel": each echo
 * is checked and answered with the next ping. The main loop sleeps in
 * amp_rpmsg_wait(), i.e. in the port's WFI until the HSEM1 interrupt sets
 * the pending flag.
 */
#include <string.h>

#include "amp/amp.h"
#include "amp_stm32h7.h"
#include "amp_stm32h7_regs.h"

#define HCLK_HZ 64000000u   /* HSI, the clock after reset: change with your clock tree */
#define M4_IMAGE 0x08180000u /* the vUART remote's vector table (m4_flash.ld) */

static struct amp_stm32h7 h7;
static struct amp_rpmsg dev;
static struct amp_rproc rp;
static struct amp_ept ept;
static struct amp_vring_slot slots[2 * AMP_STM32H7_VRING_NUM];
static volatile uint32_t ms;
static char sent[16];
static size_t sent_len;

/* For a debugger: progress, and why we stopped. */
volatile uint32_t pings, pongs, mismatches;
const char *volatile last_why;

void SysTick_Handler(void)
{
    ms++;
}

void HSEM1_IRQHandler(void)
{
    amp_stm32h7_hsem_irq(&h7);
}

static uint32_t ticks_ms(void)
{
    return ms;
}

__attribute__((noreturn)) static void halt(const char *why)
{
    last_why = why;
    for (;;)
        h7_wfi();
}

/* Send "ping <n>". */
static void send_ping(struct amp_ept *e)
{
    char digits[10], *p = sent;
    uint32_t n = pings;
    int nd = 0;
    memcpy(p, "ping ", 5);
    p += 5;
    do {
        digits[nd++] = (char)('0' + n % 10u);
        n /= 10u;
    } while (n);
    while (nd)
        *p++ = digits[--nd];
    sent_len = (size_t)(p - sent);
    if (amp_ept_send(e, sent, sent_len, 100) == (int)sent_len)
        pings++;
}

static int on_echo(struct amp_ept *e, void *data, size_t len, uint32_t src, void *priv)
{
    (void)src;
    (void)priv;
    if (len == sent_len && memcmp(data, sent, len) == 0)
        pongs++;
    else
        mismatches++;
    send_ping(e);
    return AMP_RX_DONE;
}

int main(void)
{
    H7_REG(H7_SYST_RVR) = HCLK_HZ / 1000u - 1u; /* 1 kHz: also wakes WFI for timeouts */
    H7_REG(H7_SYST_CVR) = 0;
    H7_REG(H7_SYST_CSR) = H7_SYST_CSR_ENABLE_TICKINT_CORE;

    /* SRAM4 uncached, as MicroPython does: no cache ops on the message path */
    if (amp_stm32h7_mpu_uncached(AMP_STM32H7_SRAM4_BASE, AMP_STM32H7_SRAM4_LOG2))
        halt("no MPU region for SRAM4");
    const struct amp_stm32h7_cfg hc = {
        .ticks_ms = ticks_ms,
        .irq_priority = AMP_STM32H7_PRIO(10),
        .mpu_uncached = true,
        .park = AMP_STM32H7_PARK,
    };
    amp_stm32h7_init(&h7, &hc);
    struct amp_port port = amp_stm32h7_port(&h7);

    struct amp_rproc_cfg rc;
    if (amp_stm32h7_rproc_cfg(&rc, AMP_STM32H7_MICROPYTHON, slots, 2 * AMP_STM32H7_VRING_NUM))
        halt("layout");
    amp_rpmsg_init(&dev, AMP_ROLE_HOST, &port);
    amp_ept_create(&ept, &dev, "vuart-channel", AMP_ADDR_ANY, AMP_ADDR_ANY, on_echo, NULL);
    amp_rproc_init(&rp, &port, &dev, &rc);
    /* ask first: amp_rproc_start() builds the table, brings the link up
     * and rings the M4 before the port gets to refuse */
    if (amp_stm32h7_can_start(&h7))
        halt(amp_stm32h7_why(&h7));
    if (amp_rproc_attach(&rp, M4_IMAGE) || amp_rproc_start(&rp)) {
        const char *why = amp_stm32h7_why(&h7); /* the port's reason is the precise one */
        halt(why ? why : rp.why);
    }

    for (;;) {
        int n = amp_rpmsg_wait(&dev, 1000);
        if (n == -EIO)
            halt("the M4 broke the rings");
        /* first ping once the M4 has announced the channel, or again
         * after a ping could not be sent */
        if (amp_ept_is_ready(&ept) && pings == pongs + mismatches)
            send_ping(&ept);
    }
}
