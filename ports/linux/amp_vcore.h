/*
 * amp_vcore.h - the Linux virtual core: a remote core simulated by a
 * sandboxed process, so the whole stack runs on a plain PC.
 *
 * The remote's memory (RAM and SHM of amp_vcore_abi.h) is one memfd that
 * the host maps anywhere and the core maps at the firmware's addresses.
 * Starting execs a small runner (amp-vcore-run) that maps the memory,
 * keeps only its mailbox and UART, enters strict seccomp and jumps to the
 * entry point. Stopping kills it. Its death is seen through a pidfd.
 *
 * struct amp_vcore starts with its amp_linux_port, so one context pointer
 * serves the transport ops (threaded Linux port) and the life-cycle ops.
 */
#ifndef AMP_VCORE_H
#define AMP_VCORE_H

#include <sys/types.h>

#include "amp_linux.h"
#include "amp_vcore_abi.h"

struct amp_vcore_cfg {
    int uart_fd;        /* where the firmware's UART output goes (we keep a copy); -1: our stdout */
    int cpu;            /* pin the core to this CPU; -1: don't */
    const char *runner; /* runner executable; NULL: $AMP_VCORE_RUNNER, else built in */
};

struct amp_vcore {
    struct amp_linux_port lp; /* first: the port context is the vcore */
    struct amp_vcore_cfg cfg;
    int mem_fd;               /* RAM at offset 0, SHM after it */
    uint8_t *mem;
    int to_remote, to_host;   /* eventfds: the mailbox */
    int runner_fd;            /* the built-in runner, in a memfd */
    volatile uint32_t *mailbox; /* kick counter in SHM (amp_vcore_abi.h) */
    pid_t pid;                /* the running core, 0 if none */
    int pidfd;                /* readable when it dies, -1 if none */
    uint32_t starts;          /* cores started, for statistics */
    bool keep_mem;            /* close leaves zeros, read-only, where the memory was
                               * (a program still has views of it), in one step */
};

/* Create the memory and the mailbox. 0 or -errno. */
int amp_vcore_open(struct amp_vcore *vc, const struct amp_vcore_cfg *cfg);

/* Kill the core if running and release everything (the memory's address
 * range too, unless keep_mem). */
void amp_vcore_close(struct amp_vcore *vc);

/* The port: threaded transport plus da_to_va, start, stop, shutdown. */
struct amp_port amp_vcore_port(struct amp_vcore *vc);

/* If the core has died, reap it: returns 1 and its wait status in
 * *status; 0 if it is alive or there is none. */
int amp_vcore_reap(struct amp_vcore *vc, int *status);

/* Describe a wait status in words ("killed by signal 11 (Segmentation
 * fault)", "exited with status 3") into buf. */
const char *amp_vcore_status_str(int status, char *buf, size_t n);

/* Open a firmware image for amp_linux_file_read: a regular file only,
 * refused (-EINVAL) before anything could block on a FIFO or a device.
 * The descriptor (close-on-exec), or -errno; *size gets its length. */
int amp_linux_open_image(const char *path, uint64_t *size);

/* A reader for amp_elf/amp_rproc over a file descriptor (ctx = fd cast
 * with (void *)(intptr_t)fd). */
int amp_linux_file_read(void *ctx, uint64_t off, void *buf, size_t len);

#endif /* AMP_VCORE_H */
