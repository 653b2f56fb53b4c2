/*
 * vcore.h - the SDK for firmware that runs on the Linux virtual core.
 *
 * The core is a process under strict seccomp (ports/linux/amp_vcore_abi.h):
 * three system calls (read, write, exit), a UART on fd 1, a doorbell in
 * each direction with a kick counter in shared memory, and two 1 MiB
 * windows of memory. No clock: see vc_now_ms(). This header
 * wraps those and brings the amp library up in the remote role:
 *
 *     int main(void)
 *     {
 *         volatile struct amp_rsc_vdev *vdev = vc_fw_vdev();
 *         vc_rpmsg_start(&dev, vdev, slots, VC_ARRAY_SIZE(slots));
 *         amp_ept_create(&ept, &dev, "vuart-channel", AMP_ADDR_ANY, AMP_ADDR_ANY, cb, NULL);
 *         vc_rpmsg_run(&dev);
 *     }
 *
 * Everything here runs on the core's one thread; nothing locks.
 */
#ifndef VCORE_H
#define VCORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amp/amp_rpmsg.h"
#include "amp_vcore_abi.h"

#define VC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define VC_STACK_SIZE 0x10000u /* link.ld: the top 64 KiB of RAM */
#define VC_TRACE_DA AMP_VCORE_RAM_DA /* link.ld puts .trace first in RAM */
#define VC_TRACE_SIZE 1024u

/* Largest vring the examples size their slot arrays for: 2 * 256 slots
 * are 6 KiB of RAM, and a host asking for more gets -E2BIG at start. */
#define VC_VRING_NUM_MAX 256u

/* The virtio features the SDK asks for: name service, and event index
 * where the library negotiates it (not with AMP_CFG_VRING_EVENT_IDX 0,
 * nor in the lean build, AMP_CFG_RPMSG_LEAN). */
#define VC_RPMSG_FEATURES \
    ((1u << AMP_RPMSG_F_NS) | (AMP_CFG_VRING_EVENT_IDX && !AMP_CFG_RPMSG_LEAN ? 1u << AMP_VIRTIO_F_EVENT_IDX : 0u))

/* The firmware's own entry, called by crt0; its return value is the exit
 * status. */
int main(void);

/* ==== System calls: the only three there are ==== */

/* Return the kernel's result: a count, or a negative errno. */
long vc_read(int fd, void *buf, size_t len);
long vc_write(int fd, const void *buf, size_t len);
_Noreturn void vc_exit(int status);
/* Any system call, for tests of the sandbox: all others kill the core. */
long vc_syscall(long nr, long a, long b, long c);

/* ==== UART (fd 1) ==== */

void vc_puts(const char *s); /* as it is: no newline added */
void vc_putu(uint64_t v);    /* decimal */
void vc_puthex(uint64_t v);  /* 0x-prefixed hex */

/* A small printf: %s %c %d %i %u %x %p %%, with l, ll and z length
 * modifiers; no widths or precisions. Output goes out in one write per
 * 128 bytes. Returns the number of characters. */
int vc_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vc_vprintf(const char *fmt, va_list ap);
/* The same into buf[size], always NUL-terminated; returns the length the
 * whole text would have had, as snprintf does. */
int vc_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ==== Doorbell and clock ==== */

/* Ring the host's doorbell. */
void vc_kick(void);

/* Wait for the host's doorbell. timeout_ms < 0: sleep in a blocking
 * read of it. Otherwise spin on the mailbox counter in shared memory
 * (AMP_VCORE_MAILBOX_DA) for roughly timeout_ms (counted in pause loops:
 * the core has no clock, see vc_now_ms). Returns 0 when kicked (or
 * spuriously), -ETIMEDOUT, or the read's -errno. */
int vc_wait_kick(int32_t timeout_ms);

/* A pretend millisecond clock: it advances by one per call and by the
 * length of each timed-out wait, so the library's timeouts end, roughly.
 * There is no real clock: strict seccomp disables rdtsc (it faults), so
 * the TSC rate the runner passes is of no use. */
uint32_t vc_now_ms(void);

/* ==== Trace buffer ==== */

/* A linear log that the host can read at any time: text is appended and
 * stays NUL-terminated; once the buffer is full, further text is dropped
 * (the start of a run is what tells most). By default it is the 1 KiB
 * array at VC_TRACE_DA, which sdk/rsc_table.c names in its trace entry;
 * vc_trace_init() moves it elsewhere (and clears it). */
void vc_trace_init(volatile char *buf, uint32_t size);
void vc_trace(const char *s);

/* ==== amp in the remote role ==== */

/* The port: notify rings the doorbell, wait is vc_wait_kick, now_ms is
 * vc_now_ms. No lock (one thread), no cache ops (coherent memory). */
extern const struct amp_port_ops vc_port_ops;

/* Initialise dev as the remote on `vdev` (status and feature words in
 * memory the host sees), wait as long as it takes for the host's
 * DRIVER_OK, then read the vring geometry (the host fills it in before
 * that) and start with VC_RPMSG_FEATURES over the shared window at
 * AMP_VCORE_SHM_DA. slots holds nslots >= 2 * num entries. Returns 0 or
 * the -errno of amp_rpmsg_cfg_from_vdev / amp_rpmsg_start. */
int vc_rpmsg_start(struct amp_rpmsg *dev, volatile struct amp_rsc_vdev *vdev,
                   struct amp_vring_slot *slots, uint32_t nslots);

/* The usual main loop: amp_rpmsg_wait() forever. If the link breaks,
 * print why and exit with status 2. */
_Noreturn void vc_rpmsg_run(struct amp_rpmsg *dev);

/* Send len bytes to dst from ept's address, waiting as long as it takes
 * for a buffer: also from a receive callback, and also with a library
 * that does not wait (the lean build says -EAGAIN; this then sleeps in
 * amp_rpmsg_wait until the host gives buffers back). Returns len or the
 * send's -errno. */
int vc_sendto(struct amp_ept *ept, uint32_t dst, const void *data, size_t len);

/* ==== Resource tables: pick one flow ==== */

/* Firmware-provided: the vdev of the table in sdk/rsc_table.c (an RPMsg
 * vdev, two 64-entry vrings placed by the host, and the trace buffer).
 * Only firmware that links sdk/rsc_table.c has it, and with it a
 * .resource_table section. */
volatile struct amp_rsc_vdev *vc_fw_vdev(void);

/* Host-provided: copy the table the host built at AMP_VCORE_RSC_DA,
 * check the copy (amp_rsc_check), and return its first RPMsg vdev with
 * two vrings - in shared memory, where the host writes status and
 * gfeatures. A trace entry inside shared memory becomes the trace
 * buffer. NULL with the reason in *why if there is no such table. */
volatile struct amp_rsc_vdev *vc_host_vdev(const char **why);

#endif /* VCORE_H */
