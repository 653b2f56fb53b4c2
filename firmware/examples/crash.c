/*
 * crash.c - a "vuart-channel" echo service that dies on request, to test
 * how the host reports a remote's death. Each command says on the UART
 * what is about to happen, then:
 *   "segv"     writes to address 8             -> SIGSEGV
 *   "exit"     exit(3)                         -> exit status 3
 *   "syscall"  getpid(), not allowed by seccomp -> SIGKILL
 *   "spin"     loops forever, never waiting    -> the host's watchdog
 *   "abort"    ud2                             -> SIGILL
 * A trailing newline or NUL is ignored. Anything else is echoed.
 */
#include <string.h>

#include "vcore.h"

#define SYS_GETPID 39

static struct amp_rpmsg dev;
static struct amp_ept ept;
static struct amp_vring_slot slots[2 * VC_VRING_NUM_MAX];

static bool is(const char *m, size_t len, const char *cmd)
{
    while (len && (m[len - 1] == '\n' || m[len - 1] == '\0'))
        len--;
    return len == strlen(cmd) && memcmp(m, cmd, len) == 0;
}

static int crash_cb(struct amp_ept *e, void *data, size_t len, uint32_t src, void *priv)
{
    const char *m = data;
    (void)priv;
    if (is(m, len, "segv")) {
        vc_puts("crash: segv: writing to address 8\n");
        volatile uintptr_t bad = 8; /* through a variable, or GCC sees the bug */
        *(volatile int *)bad = 1;
    } else if (is(m, len, "exit")) {
        vc_puts("crash: exit(3)\n");
        vc_exit(3);
    } else if (is(m, len, "syscall")) {
        vc_puts("crash: syscall: getpid(), which seccomp forbids\n");
        vc_syscall(SYS_GETPID, 0, 0, 0);
    } else if (is(m, len, "spin")) {
        vc_puts("crash: spin: looping forever\n");
        for (;;)
            __asm__ volatile("" ::: "memory");
    } else if (is(m, len, "abort")) {
        vc_puts("crash: abort: ud2\n");
        __asm__ volatile("ud2");
    }
    amp_ept_sendto(e, AMP_ADDR_ANY, src, data, len, AMP_WAIT_FOREVER);
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
    vc_printf("crash: vuart-channel at address %u\n", ept.addr);
    vc_rpmsg_run(&dev);
}
