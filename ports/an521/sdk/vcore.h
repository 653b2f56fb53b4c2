/*
 * vcore.h (AN521) - the firmware SDK's API for core 1 of QEMU's
 * mps2-an521, so that firmware written for the Linux virtual core
 * (firmware/sdk/vcore.h: vc_printf, vc_rpmsg_start, vc_fw_vdev, ...)
 * builds for a Cortex-M33 unchanged. Put this directory before any other
 * on the include path; it shares the include guard of the virtual core's
 * header, so the resource-table files of firmware/sdk, compiled through
 * fw_table.c and host_table.c here, see this one.
 *
 *   memory   ISRAM 0x30000000..0x3001FFFF: vectors, trace, code, data,
 *            16 KiB of stack at the top (link.ld); shared memory
 *            0x38000000..0x380FFFFF (amp_an521_layout.h)
 *   UART     CMSDK UART1 (QEMU's second -serial)
 *   doorbell MHU0: IRQ 6 in, CPU0INTR_SET out
 *   clock    SysTick at 1 kHz (the 20 MHz processor clock)
 *   faults   reported to the host in the life-cycle block, then the core
 *            parks in the host's park routine (amp_an521_layout.h); so
 *            does returning from main() and vc_exit()
 *
 * Everything runs on the core's one thread; the interrupts only count.
 */
#ifndef VCORE_H
#define VCORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amp/amp_rpmsg.h"
#include "amp_an521_layout.h"

#define VC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define VC_STACK_SIZE 0x4000u        /* link.ld: the top 16 KiB of ISRAM */
#define VC_TRACE_DA 0x30000400u      /* link.ld: .trace right after the vectors */
#define VC_TRACE_SIZE 1024u
#define VC_VRING_NUM_MAX 256u
/* name service, and event index where the library negotiates it (not
 * with AMP_CFG_VRING_EVENT_IDX 0, nor in the lean build) */
#define VC_RPMSG_FEATURES \
    ((1u << AMP_RPMSG_F_NS) | (AMP_CFG_VRING_EVENT_IDX && !AMP_CFG_RPMSG_LEAN ? 1u << AMP_VIRTIO_F_EVENT_IDX : 0u))

/* The shared memory as the virtual core's firmware names it: a
 * host-provided table at its start, vrings and buffers after. */
#define AMP_VCORE_SHM_DA AMP_AN521_RSC_DA
#define AMP_VCORE_SHM_SIZE (AMP_AN521_SHM_END - AMP_AN521_RSC_DA)
#define AMP_VCORE_RSC_DA AMP_AN521_RSC_DA
#define AMP_VCORE_RSC_SIZE AMP_AN521_RSC_SIZE

int main(void);

/* End the firmware: the host sees a crash record with cause "exit" and
 * this status, and the core parks. */
_Noreturn void vc_exit(int status);
/* A system call, which this core does not have: SVC, reported as a crash. */
long vc_syscall(long nr, long a, long b, long c);

/* UART1. No format attribute: the examples print uint32_t (a long on
 * arm-none-eabi) with %u, which is the same 32-bit argument on this ABI. */
void vc_puts(const char *s);
int vc_printf(const char *fmt, ...);
int vc_vprintf(const char *fmt, va_list ap);
int vc_snprintf(char *buf, size_t size, const char *fmt, ...);

/* Ring the host (MHU0 -> core 0's IRQ 6). */
void vc_kick(void);
/* Sleep in WFI until the host rings or timeout_ms passes (< 0: no
 * limit). 0 or -ETIMEDOUT. */
int vc_wait_kick(int32_t timeout_ms);
/* Milliseconds since this firmware started (SysTick). */
uint32_t vc_now_ms(void);

/* Trace buffer: as firmware/sdk/vcore.h. */
extern char vc_trace_buf[VC_TRACE_SIZE];
void vc_trace_init(volatile char *buf, uint32_t size);
void vc_trace(const char *s);

/* amp in the remote role: as firmware/sdk/vcore.h. */
extern const struct amp_port_ops vc_port_ops;
int vc_rpmsg_start(struct amp_rpmsg *dev, volatile struct amp_rsc_vdev *vdev,
                   struct amp_vring_slot *slots, uint32_t nslots);
_Noreturn void vc_rpmsg_run(struct amp_rpmsg *dev);
int vc_sendto(struct amp_ept *ept, uint32_t dst, const void *data, size_t len);

/* Resource tables: fw_table.c (the image's own) or host_table.c (the
 * host's, at AMP_VCORE_RSC_DA). */
volatile struct amp_rsc_vdev *vc_fw_vdev(void);
volatile struct amp_rsc_vdev *vc_host_vdev(const char **why);

#endif /* VCORE_H */
