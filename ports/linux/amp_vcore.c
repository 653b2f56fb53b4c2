/*
 * amp_vcore.c - the Linux virtual core (host side).
 *
 * Main invariant: at most one core process runs at a time; it is started
 * only by vcore_start and reaped either by vcore_stop (which kills it) or
 * by amp_vcore_reap (when it died on its own), both under the caller's
 * life-cycle lock, so a death is reported exactly once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "amp_vcore.h"

extern char **environ;

/* The runner, linked in by amp_vcore_blob.S. */
extern const unsigned char amp_vcore_runner_start[];
extern const unsigned char amp_vcore_runner_end[];

#define MEM_SIZE ((size_t)AMP_VCORE_RAM_SIZE + AMP_VCORE_SHM_SIZE)

/* ==== Memory ==== */

static void *vcore_da_to_va(void *ctx, uint64_t da, size_t len, unsigned flags)
{
    struct amp_vcore *vc = ctx;
    if (da >= AMP_VCORE_RAM_DA && da - AMP_VCORE_RAM_DA <= AMP_VCORE_RAM_SIZE &&
        len <= AMP_VCORE_RAM_SIZE - (da - AMP_VCORE_RAM_DA))
        return vc->mem + (da - AMP_VCORE_RAM_DA);
    if (flags & AMP_MEM_LOAD)
        return NULL; /* images go to RAM only; SHM belongs to the link */
    if (da >= AMP_VCORE_SHM_DA && da - AMP_VCORE_SHM_DA <= AMP_VCORE_SHM_SIZE &&
        len <= AMP_VCORE_SHM_SIZE - (da - AMP_VCORE_SHM_DA))
        return vc->mem + AMP_VCORE_RAM_SIZE + (da - AMP_VCORE_SHM_DA);
    return NULL;
}

/* ==== The mailbox ==== */

static int vcore_notify(void *ctx, uint32_t id)
{
    struct amp_vcore *vc = ctx;
    /* the counter first: a firmware spinning on it must not miss the kick */
    __atomic_fetch_add(vc->mailbox, 1, __ATOMIC_RELEASE);
    return amp_linux_notify(&vc->lp, id);
}

/* ==== The core process ==== */

/* A descriptor for the runner executable: the built-in copy in a memfd,
 * numbered above 10 so that the spawn's dup2 onto 1, 3, 4 and 5 cannot
 * replace it before the exec looks it up through /proc/self/fd. */
static int runner_fd(struct amp_vcore *vc)
{
    if (vc->runner_fd >= 0)
        return vc->runner_fd;
    size_t n = (size_t)(amp_vcore_runner_end - amp_vcore_runner_start);
    int fd = memfd_create("amp-vcore-run", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    int hi = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    if (hi < 0)
        return -errno;
    if (write(hi, amp_vcore_runner_start, n) != (ssize_t)n) {
        close(hi);
        return -EIO;
    }
    vc->runner_fd = hi;
    return hi;
}

/* "0x" and v in hex, without printf's %llx (an embedding interpreter may
 * bring a printf of its own that lacks it). */
static char *hex(char *p, uint64_t v)
{
    char tmp[17];
    int n = 0;
    do
        tmp[n++] = "0123456789abcdef"[v & 15];
    while ((v >>= 4) != 0);
    *p++ = '0';
    *p++ = 'x';
    while (n)
        *p++ = tmp[--n];
    *p = '\0';
    return p;
}

/* DA:SIZE:OFFSET for the runner */
static void region(char *p, uint64_t da, uint64_t size, uint64_t off)
{
    p = hex(p, da);
    *p++ = ':';
    p = hex(p, size);
    *p++ = ':';
    hex(p, off);
}

/* Spawn the runner with the memory at fd 3, the doorbells at 4 and 5 and
 * the UART at 1. Every source descriptor is first copied above 10, so no
 * dup2 of the spawn can overwrite one that a later dup2 still reads. The
 * core gets a session of its own: a terminal's Ctrl-C (SIGINT to the
 * foreground process group), Ctrl-\ and Ctrl-Z are the host's to handle,
 * never the core's; it still dies with its host (PDEATHSIG). */
static int vcore_start(void *ctx, uint64_t entry)
{
    struct amp_vcore *vc = ctx;
    if (vc->pid > 0)
        return -EBUSY;
    char path[64];
    const char *runner = vc->cfg.runner ? vc->cfg.runner : getenv("AMP_VCORE_RUNNER");
    if (!runner) {
        int rfd = runner_fd(vc);
        if (rfd < 0)
            return rfd;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", rfd);
        runner = path;
    }
    char a_entry[24], a_ram[64], a_shm[64];
    hex(a_entry, entry);
    region(a_ram, AMP_VCORE_RAM_DA, AMP_VCORE_RAM_SIZE, 0);
    region(a_shm, AMP_VCORE_SHM_DA, AMP_VCORE_SHM_SIZE, AMP_VCORE_RAM_SIZE);
    char *argv[] = {"amp-vcore-run", a_entry, a_ram, a_shm, NULL};

    int src[4] = {vc->mem_fd, vc->to_remote, vc->to_host, vc->cfg.uart_fd};
    int hi[4] = {-1, -1, -1, -1};
    int err = 0;
    for (int i = 0; i < 4 && !err; i++)
        if (src[i] >= 0 && (hi[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 10)) < 0)
            err = -errno;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    if (!err) {
        posix_spawn_file_actions_adddup2(&fa, hi[0], 3);
        posix_spawn_file_actions_adddup2(&fa, hi[1], 4);
        posix_spawn_file_actions_adddup2(&fa, hi[2], 5);
        if (hi[3] >= 0)
            posix_spawn_file_actions_adddup2(&fa, hi[3], 1);
        pid_t pid;
        err = -posix_spawn(&pid, runner, &fa, &attr, argv, environ);
        if (!err) {
            int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
            if (pfd < 0) {
                err = -errno;
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
            } else {
                vc->pid = pid;
                vc->pidfd = pfd;
                vc->starts++;
                if (vc->cfg.cpu >= 0) {
                    cpu_set_t set;
                    CPU_ZERO(&set);
                    CPU_SET(vc->cfg.cpu, &set);
                    sched_setaffinity(pid, sizeof(set), &set);
                }
            }
        }
    }
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    for (int i = 0; i < 4; i++)
        if (hi[i] >= 0)
            close(hi[i]);
    return err;
}

static int vcore_stop(void *ctx)
{
    struct amp_vcore *vc = ctx;
    if (vc->pid <= 0)
        return 0;
    kill(vc->pid, SIGKILL);
    while (waitpid(vc->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    vc->pid = 0;
    close(vc->pidfd);
    vc->pidfd = -1;
    return 0;
}

static int vcore_shutdown(void *ctx)
{
    struct amp_vcore *vc = ctx;
    vcore_stop(vc);
    memset(vc->mem, 0, MEM_SIZE); /* power off: nothing survives */
    return 0;
}

int amp_vcore_reap(struct amp_vcore *vc, int *status)
{
    if (vc->pid <= 0)
        return 0;
    int st = 0;
    pid_t r = waitpid(vc->pid, &st, WNOHANG);
    if (r != vc->pid)
        return 0;
    vc->pid = 0;
    close(vc->pidfd);
    vc->pidfd = -1;
    *status = st;
    return 1;
}

const char *amp_vcore_status_str(int status, char *buf, size_t n)
{
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        snprintf(buf, n, "killed by signal %d (%s)%s", sig, strsignal(sig),
                 sig == SIGKILL ? ": a forbidden system call, or stopped" : "");
    } else if (WIFEXITED(status)) {
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(status));
    } else {
        snprintf(buf, n, "ended (wait status 0x%x)", status);
    }
    return buf;
}

/* ==== Setup ==== */

static const struct amp_port_ops vcore_ops = {
    .notify = vcore_notify,
    .wait = amp_linux_wait,
    .now_ms = amp_linux_now_ms,
    .lock = amp_linux_lock,
    .unlock = amp_linux_unlock,
    .da_to_va = vcore_da_to_va,
    .start = vcore_start,
    .stop = vcore_stop,
    .shutdown = vcore_shutdown,
};

struct amp_port amp_vcore_port(struct amp_vcore *vc)
{
    return (struct amp_port){&vcore_ops, vc};
}

int amp_vcore_open(struct amp_vcore *vc, const struct amp_vcore_cfg *cfg)
{
    memset(vc, 0, sizeof(*vc));
    vc->cfg = *cfg;
    vc->mem_fd = vc->to_remote = vc->to_host = vc->runner_fd = vc->pidfd = -1;
    int err = 0;
    /* our own copy of the UART descriptor: the caller may close theirs */
    if (cfg->uart_fd >= 0 && (vc->cfg.uart_fd = fcntl(cfg->uart_fd, F_DUPFD_CLOEXEC, 3)) < 0)
        return -errno;
    vc->mem = amp_linux_shm_create("amp-vcore-mem", MEM_SIZE, &vc->mem_fd);
    if (!vc->mem)
        err = -errno;
    if (!err && ((vc->to_remote = eventfd(0, EFD_CLOEXEC)) < 0 ||
                 (vc->to_host = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0))
        err = -errno;
    if (!err)
        err = amp_linux_port_init(&vc->lp, vc->to_remote, vc->to_host, true);
    if (err) {
        amp_vcore_close(vc);
        return err;
    }
    vc->mailbox = (volatile uint32_t *)vcore_da_to_va(vc, AMP_VCORE_MAILBOX_DA, 4, 0);
    return 0;
}

void amp_vcore_close(struct amp_vcore *vc)
{
    vcore_stop(vc);
    if (vc->mem) {
        /* keep_mem: zeros replace the memory in one step (MAP_FIXED), so a
         * view read on another thread meanwhile never faults */
        int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
        if (!vc->keep_mem || mmap(vc->mem, MEM_SIZE, PROT_READ, flags, -1, 0) == MAP_FAILED)
            munmap(vc->mem, MEM_SIZE);
    }
    int *fds[] = {&vc->mem_fd, &vc->to_remote, &vc->to_host, &vc->runner_fd, &vc->cfg.uart_fd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
    if (vc->lp.threaded)
        amp_linux_port_destroy(&vc->lp);
    vc->mem = NULL;
}

int amp_linux_open_image(const char *path, uint64_t *size)
{
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    struct stat sb;
    if (fd < 0)
        return -errno;
    int err = fstat(fd, &sb) < 0 ? -errno : !S_ISREG(sb.st_mode) ? -EINVAL : 0;
    if (err) {
        close(fd);
        return err;
    }
    *size = (uint64_t)sb.st_size;
    return fd;
}

int amp_linux_file_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    int fd = (int)(intptr_t)ctx;
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}
