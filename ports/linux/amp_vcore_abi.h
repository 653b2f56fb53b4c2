/*
 * amp_vcore_abi.h - what firmware for the Linux virtual core can rely on.
 *
 * The virtual core is a sandboxed process that runs a firmware ELF built
 * for x86-64 (-ffreestanding -nostdlib -static -fno-pie). It sees:
 *
 *   memory   RAM 0x10000000..0x100FFFFF  code, data, stack (loadable)
 *            SHM 0x20000000..0x200FFFFF  shared with the host: a host-made
 *                                        resource table at 0x20000000 (if
 *                                        any), then vrings and buffers
 *   mailbox  fd 3: doorbell from the host; read() 8 bytes blocks until
 *                  the host kicks and returns how many kicks there were
 *            fd 4: doorbell to the host; write() the 8-byte value 1
 *            a kick counter at AMP_VCORE_MAILBOX_DA (u32, in SHM) that
 *            the host increments before each kick, so that a wait with a
 *            timeout can spin on it instead of blocking in read(); (an
 *            eventfd cannot be reopened non-blocking: /proc/self/fd/N of
 *            an eventfd gives ENXIO)
 *   UART     fd 1: write() text, the host prints it
 *   clock    none: strict seccomp sets the kernel's TIF_NOTSC, so rdtsc
 *            faults (and the vDSO's clocks use it). Timed waits in the
 *            SDK are approximate.
 *   entry    called with rdi = 0 (reserved) on the runner's stack
 *
 * and nothing else: the process runs under strict seccomp, so only the
 * read (0), write (1) and exit (60) system calls work (exit_group does
 * not). Any other system call, a fault, or returning from the entry point
 * kills the core, which the host reports as a crash. Stopping the core is
 * SIGKILL. Memory is reloaded from the ELF at every start.
 */
#ifndef AMP_VCORE_ABI_H
#define AMP_VCORE_ABI_H

#define AMP_VCORE_RAM_DA 0x10000000u
#define AMP_VCORE_RAM_SIZE 0x00100000u
#define AMP_VCORE_SHM_DA 0x20000000u
#define AMP_VCORE_SHM_SIZE 0x00100000u

/* A host-provided resource table lives at the start of SHM, the mailbox
 * counter just before 1 KiB; the host places vrings and buffers after. */
#define AMP_VCORE_RSC_DA AMP_VCORE_SHM_DA
#define AMP_VCORE_RSC_SIZE 0x3F0u
#define AMP_VCORE_MAILBOX_DA (AMP_VCORE_SHM_DA + 0x3F0u)
#define AMP_VCORE_SHM_FREE_DA (AMP_VCORE_SHM_DA + 0x400u)

#define AMP_VCORE_FD_UART 1
#define AMP_VCORE_FD_DOORBELL_IN 3
#define AMP_VCORE_FD_DOORBELL_OUT 4

#define AMP_VCORE_SYS_READ 0
#define AMP_VCORE_SYS_WRITE 1
#define AMP_VCORE_SYS_EXIT 60

#endif /* AMP_VCORE_ABI_H */
