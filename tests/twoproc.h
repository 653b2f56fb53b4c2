/*
 * twoproc.h - a host and a remote in two processes: the loopback layout
 * in a shared-memory file (memfd), one eventfd doorbell each way, and the
 * Linux port on both sides. The parent is the host, the child the remote.
 *
 *     struct twoproc tp;
 *     if (tp_fork(&tp, 64, features, true) == 0) {   // in the child
 *         ... drive tp.lb.remote ...;  _exit(status);
 *     }
 *     ... drive tp.lb.host ...;  int status = tp_join(&tp);
 *
 * After tp_fork() each process has started its own side of the link
 * (amp_rpmsg_start): the host at once, the remote after DRIVER_OK.
 */
#ifndef TWOPROC_H
#define TWOPROC_H

#define _GNU_SOURCE
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "amp_linux.h"
#include "loopback.h"

struct twoproc {
    struct loopback lb;
    int shm_fd;
    int to_remote, to_host;       /* eventfds */
    struct amp_linux_port lp;     /* this process's port */
    struct amp_port port;
    pid_t child;                  /* in the parent */
    bool remote;                  /* true in the child */
};

/* Fork. Returns 0 in the child (the remote), the child's pid in the
 * parent (the host), or -1. `threaded` picks the Linux port's mode for
 * both sides. Both sides' devices are started before it returns. */
static inline pid_t tp_fork(struct twoproc *tp, uint32_t num, uint32_t features, bool threaded)
{
    memset(tp, 0, sizeof(*tp));
    uint8_t *shm = amp_linux_shm_create("amp-test", LB_SHM_SIZE, &tp->shm_fd);
    if (!shm)
        return -1;
    lb_setup_in(&tp->lb, num, features, shm);
    tp->to_remote = eventfd(0, EFD_CLOEXEC);
    tp->to_host = eventfd(0, EFD_CLOEXEC);
    /* the host comes up first, so the remote finds DRIVER_OK at once */
    amp_linux_port_init(&tp->lp, tp->to_remote, tp->to_host, threaded);
    tp->port = amp_linux_port(&tp->lp);
    amp_rpmsg_init(&tp->lb.host, AMP_ROLE_HOST, &tp->port);
    if (amp_rpmsg_start(&tp->lb.host, &tp->lb.hcfg, 0) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    tp->child = pid;
    if (pid == 0) {
        tp->remote = true;
        amp_linux_port_destroy(&tp->lp);
        amp_linux_port_init(&tp->lp, tp->to_host, tp->to_remote, threaded);
        amp_rpmsg_init(&tp->lb.remote, AMP_ROLE_REMOTE, &tp->port);
        if (amp_rpmsg_start(&tp->lb.remote, &tp->lb.rcfg, 10000) < 0)
            _exit(99);
    }
    return pid;
}

/* The device of this process. */
static inline struct amp_rpmsg *tp_dev(struct twoproc *tp)
{
    return tp->remote ? &tp->lb.remote : &tp->lb.host;
}

/* Parent: wait for the child; its exit status, or -1 if it did not exit
 * normally. */
static inline int tp_join(struct twoproc *tp)
{
    int status = 0;
    if (waitpid(tp->child, &status, 0) < 0 || !WIFEXITED(status))
        return -1;
    munmap(tp->lb.shm, LB_SHM_SIZE);
    close(tp->shm_fd);
    close(tp->to_remote);
    close(tp->to_host);
    amp_linux_port_destroy(&tp->lp);
    return WEXITSTATUS(status);
}

#endif /* TWOPROC_H */
