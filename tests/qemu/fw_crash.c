/*
 * fw_crash.c - a "vuart-channel" echo service for core 1 of the AN521
 * that dies on request, to test how the host learns of a remote's death
 * and restarts it. Each command says on the UART what is about to
 * happen, then:
 *   "udf"      an undefined instruction      -> UsageFault
 *   "hard"     the same with UsageFault off  -> HardFault (escalated)
 *   "bus"      a write to 0xF0000000         -> BusFault or HardFault
 *   "svc"      a system call (vc_syscall)    -> SVC, which nobody handles
 *   "nested"   udf inside PendSV             -> HardFault (PendSV has UsageFault's
 *              priority), with two active exceptions that
 *              the park routine must unwind
 *   "exit"     vc_exit(3)                    -> crash record "exit", status 3
 *   "spin"     loops forever, interrupts on  -> a stop still parks it
 *   "mask"     loops forever, interrupts off -> a stop times out
 *   "stats"    replies 12 bytes: the ring errors, message errors and
 *              dropped messages our amp counted (u32 each, little-endian),
 *              so the host can see its lies caught
 *   "hold"     keeps this message's buffer (AMP_RX_HOLD), replies "held"
 *   "release"  gives the held buffer back, replies "released" (or the error)
 * The virtual core's crash.c commands work too, with their nearest
 * Cortex-M meaning: "segv" is "bus", "abort" is "udf", "syscall" is "svc".
 * A trailing newline or NUL is ignored. Anything else is echoed.
 */
#include <string.h>

#include "vcore.h"

#define SCB_ICSR 0xE000ED04u
#define SCB_VTOR 0xE000ED08u
#define SCB_SHCSR 0xE000ED24u

static struct amp_rpmsg dev;
static struct amp_ept ept;
static struct amp_vring_slot slots[2 * VC_VRING_NUM_MAX];
static uint32_t ram_vectors[16 + 32] __attribute__((aligned(512)));
static void *held;

static bool is(const char *m, size_t len, const char *cmd)
{
    while (len && (m[len - 1] == '\n' || m[len - 1] == '\0'))
        len--;
    return len == strlen(cmd) && memcmp(m, cmd, len) == 0;
}

static void pendsv_udf(void)
{
    __asm__ volatile("udf #1");
}

static int crash_cb(struct amp_ept *e, void *data, size_t len, uint32_t src, void *priv)
{
    const char *m = data;
    (void)priv;
    if (is(m, len, "udf") || is(m, len, "abort")) {
        vc_puts("crash: udf\n");
        __asm__ volatile("udf #0");
    } else if (is(m, len, "hard")) {
        vc_puts("crash: udf with UsageFault disabled\n");
        AMP_AN521_REG(SCB_SHCSR) &= ~(1u << 18);
        __asm__ volatile("udf #0");
    } else if (is(m, len, "bus") || is(m, len, "segv")) {
        vc_puts("crash: write to 0xF0000000\n");
        *(volatile uint32_t *)0xF0000000u = 1;
    } else if (is(m, len, "svc") || is(m, len, "syscall")) {
        vc_puts("crash: svc\n");
        vc_syscall(39, 0, 0, 0);
    } else if (is(m, len, "nested")) {
        /* our vectors, copied with the host's park vector, but PendSV faults */
        vc_puts("crash: UsageFault in PendSV\n");
        const uint32_t *v = (const uint32_t *)(uintptr_t)AMP_AN521_REG(SCB_VTOR);
        for (size_t i = 0; i < VC_ARRAY_SIZE(ram_vectors); i++)
            ram_vectors[i] = v[i];
        ram_vectors[14] = (uint32_t)(uintptr_t)pendsv_udf;
        AMP_AN521_REG(SCB_VTOR) = (uint32_t)(uintptr_t)ram_vectors;
        __asm__ volatile("dsb\n\tisb" ::: "memory");
        AMP_AN521_REG(SCB_ICSR) = 1u << 28; /* PENDSVSET */
        __asm__ volatile("dsb\n\tisb" ::: "memory");
    } else if (is(m, len, "exit")) {
        vc_puts("crash: exit(3)\n");
        vc_exit(3);
    } else if (is(m, len, "spin")) {
        vc_puts("crash: spin\n");
        for (;;)
            __asm__ volatile("" ::: "memory");
    } else if (is(m, len, "stats")) {
        struct amp_rpmsg_stats st;
        amp_rpmsg_get_stats(e->dev, &st);
        uint32_t reply[3] = {st.ring_errors, st.msg_errors, st.dropped}; /* the core is little-endian */
        vc_sendto(e, src, reply, sizeof(reply));
        return AMP_RX_DONE;
    } else if (is(m, len, "hold") && !held) {
        held = data;
        vc_sendto(e, src, "held", 4);
        return AMP_RX_HOLD;
    } else if (is(m, len, "release") && held) {
        int err = amp_rpmsg_release_rx(e->dev, held);
        held = NULL;
        if (err)
            vc_sendto(e, src, &err, sizeof(err));
        else
            vc_sendto(e, src, "released", 8);
        return AMP_RX_DONE;
    } else if (is(m, len, "mask")) {
        vc_puts("crash: spin with interrupts masked\n");
        __asm__ volatile("cpsid i" ::: "memory");
        for (;;)
            __asm__ volatile("" ::: "memory");
    }
    vc_sendto(e, src, data, len);
    return AMP_RX_DONE;
}

int main(void)
{
    vc_puts("crash: start\n");
    vc_trace("crash: start\n");
    int err = vc_rpmsg_start(&dev, vc_fw_vdev(), slots, VC_ARRAY_SIZE(slots));
    if (!err)
        err = amp_ept_create(&ept, &dev, "vuart-channel", AMP_ADDR_ANY, AMP_ADDR_ANY, crash_cb, NULL);
    if (err) {
        vc_printf("crash: rpmsg failed (%d)\n", err);
        return 1;
    }
    vc_rpmsg_run(&dev);
}
