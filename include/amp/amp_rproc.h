/*
 * amp_rproc.h - life cycle of the remote core (host side).
 *
 *            load                start
 *   OFFLINE ------> READY ------------------> RUNNING
 *      |  attach(entry)            ^   |  |      |
 *      +---------> ATTACHED -------+   |  |      | port reports death
 *                                      |  stop   v
 *          start (reloads the image) <-+- STOPPED  CRASHED --start--> RUNNING
 *
 *   shutdown: from any state back to OFFLINE, releasing everything.
 *
 * Starting always begins from a clean image: after a stop or a crash the
 * firmware is loaded again (an attached image, which we cannot reload, is
 * simply restarted), its resource table is processed again and the RPMsg
 * link is rebuilt, so restarting works any number of times. Endpoints
 * live in the amp_rpmsg device, not here: they are unbound when the remote
 * goes away and bound again by its next announcements.
 *
 * Two ways to get the resource table:
 *   - firmware-provided: the image has a .resource_table section. After
 *     loading, the host copies it, checks it, gives vrings whose da is
 *     AMP_RSC_ADDR_ANY an address in the shared window, and writes the
 *     result back into the remote's copy;
 *   - host-provided: the image has none, and cfg.rsc_da names a fixed
 *     shared address: the host builds the table there from cfg.host_rsc
 *     (MicroPython's STM32 layout) before the remote runs.
 */
#ifndef AMP_RPROC_H
#define AMP_RPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amp_elf.h"
#include "amp_port.h"
#include "amp_rpmsg.h"
#include "amp_rsc.h"

enum amp_rproc_state {
    AMP_RPROC_OFFLINE = 0, /* nothing loaded */
    AMP_RPROC_READY,       /* image loaded, not started */
    AMP_RPROC_RUNNING,
    AMP_RPROC_STOPPED,
    AMP_RPROC_CRASHED,
    AMP_RPROC_ATTACHED, /* image already in memory at a given entry */
};

struct amp_rproc_cfg {
    uint16_t machine;   /* e_machine images must have, 0 = any */
    struct amp_shm shm; /* shared window: vrings the host places, then buffers */
    uint64_t rsc_da;    /* host-provided table address, AMP_RSC_ADDR_ANY = none */
    struct amp_rsc_rpmsg_layout host_rsc; /* what that table holds */
    uint32_t buf_size;  /* RPMsg buffer size, 0 = 512 */
    uint32_t features;  /* features the host accepts */
    struct amp_vring_slot *slots; /* storage for the RPMsg device: 2 * num */
    uint32_t nslots;
};

struct amp_rproc_trace {
    uint64_t da;
    uint32_t len;
    char name[AMP_RSC_NAME_SIZE];
};

struct amp_rproc {
    struct amp_port port;
    struct amp_rpmsg *rpmsg;      /* brought up on the table's vdev */
    struct amp_rproc_cfg cfg;
    enum amp_rproc_state state;
    bool have_image;              /* read/read_ctx/size can reload it */
    amp_elf_read_fn read;
    void *read_ctx;
    uint64_t size;
    uint16_t machine;             /* e_machine of the loaded image */
    uint64_t entry;
    uint64_t rsc_da;              /* where the remote's table is, if any */
    uint32_t rsc_size;
    _Alignas(8) uint8_t rsc[AMP_CFG_RSC_TABLE_MAX]; /* our copy */
    uint32_t ntrace;
    struct amp_rproc_trace trace[AMP_CFG_RPROC_TRACE_MAX];
    const char *why;              /* reason for the last error; NULL without AMP_CFG_REASONS */
};

void amp_rproc_init(struct amp_rproc *rp, const struct amp_port *port, struct amp_rpmsg *rpmsg,
                    const struct amp_rproc_cfg *cfg);

/* Load an image (OFFLINE, READY, STOPPED or CRASHED -> READY). The reader
 * stays in use for reloads until shutdown. 0, -EBUSY while running, a
 * loader error (see amp_elf.h), or -ERANGE: the entry point is in no
 * memory the port maps (da_to_va). */
int amp_rproc_load(struct amp_rproc *rp, amp_elf_read_fn read, void *ctx, uint64_t size);

/* Take an image already in memory (OFFLINE -> ATTACHED). -ERANGE: entry
 * is in no memory the port maps; -EBUSY: running or crashed. */
int amp_rproc_attach(struct amp_rproc *rp, uint64_t entry);

/* Set up resources and the RPMsg link, then start the core. From READY,
 * ATTACHED, STOPPED or CRASHED. -EBUSY if running, -EINVAL if offline,
 * -ENOENT if there is no resource table at all, or what the loader,
 * resource checks or port said. */
int amp_rproc_start(struct amp_rproc *rp);

/* Halt the core (RUNNING or CRASHED -> STOPPED); the link goes down and
 * endpoints unbind. -EINVAL from other states. */
int amp_rproc_stop(struct amp_rproc *rp);

/* Stop if needed, release power and memory, forget the image: OFFLINE.
 * Harmless to call again; this is what a finaliser calls. */
int amp_rproc_shutdown(struct amp_rproc *rp);

/* The port saw the remote die (RUNNING -> CRASHED): the link goes down
 * and endpoints unbind. Safe to call from the port's event context. */
void amp_rproc_crashed(struct amp_rproc *rp);

/* Copy trace buffer i (up to its first NUL, at most n - 1 bytes) into
 * buf, NUL-terminated. Returns the bytes copied, or -ENOENT. */
int amp_rproc_trace_read(struct amp_rproc *rp, uint32_t i, char *buf, size_t n);

const char *amp_rproc_state_name(enum amp_rproc_state s);

#endif /* AMP_RPROC_H */
