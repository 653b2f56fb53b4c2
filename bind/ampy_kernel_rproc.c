/*
 * ampy_kernel_rproc.c - RemoteProc on Linux: the kernel's remoteproc
 * driver loads and runs the remote; we speak its sysfs protocol.
 *
 *   /sys/class/remoteprocN/
 *     name       the driver's name for the processor ("m4", ...)
 *     state      reads offline|suspended|running|crashed|attached|detached|
 *                invalid; takes "start" and "stop" (the kernel acts before
 *                the write returns, and the write fails if it cannot)
 *     firmware   the image's name in the firmware search path; writable
 *                only while offline (EBUSY otherwise)
 *   /sys/module/firmware_class/parameters/path   an extra search directory
 *   /lib/firmware                                the default one
 *   /sys/kernel/debug/remoteproc/remoteprocN/traceI   trace buffers (debugfs)
 *
 * Main invariant: we never replace a file we did not put there. An image
 * given by path goes into <search dir>/amp/<basename> (the kernel accepts
 * names with a directory), unless it already is in the search path, and
 * shutdown removes only that copy. Every failure leaves a sentence naming
 * the file and the cause (why()).
 *
 * Sysfs values are read once into a local, bounded, NUL-terminated and
 * compared against the names above; anything else is "invalid".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "amp_vcore.h"
#include "ampy_kernel.h"

#define CLASS "/sys/class/remoteproc"

/* ==== Helpers ==== */

/* Write a value as one write(2), as sysfs wants it. 0 or -errno. */
static int write_str(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC); /* as the shell's ">" (and for models) */
    if (fd < 0)
        return -errno;
    size_t len = strlen(s);
    ssize_t w = write(fd, s, len);
    int err = w < 0 ? errno : (size_t)w != len ? EIO : 0;
    if (close(fd) < 0 && !err)
        err = errno;
    return -err;
}

static const char *hint(int err)
{
    if (err == -EACCES || err == -EPERM)
        return " (only root may, unless a udev rule grants it: see the README, \"Linux SoCs\")";
    if (err == -EROFS)
        return " (the file system is read-only)";
    return "";
}

/* The failure of `what` on `path`, worded; returns err. */
static int fail(struct ampy_kernel *k, int err, const char *what, const char *path)
{
    ampy_kernel_why(k, "%s %s: %s%s", what, path, strerror(-err), hint(err));
    return err;
}

static const char *const state_names[] = {"offline", "suspended", "running", "crashed",
                                          "attached", "detached",  "invalid"};

/* ==== Which processor ==== */

/* remoteprocN entries of the class directory, smallest N first. */
static int list_procs(unsigned *ids, int max)
{
    char dir[PATH_MAX];
    ampy_kernel_path(dir, sizeof(dir), CLASS);
    DIR *dp = opendir(dir);
    if (!dp)
        return -errno;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp)) && n < max) {
        unsigned id;
        char tail;
        if (sscanf(de->d_name, "remoteproc%u%c", &id, &tail) == 1)
            ids[n++] = id;
    }
    closedir(dp);
    for (int i = 1; i < n; i++) /* insertion sort: a handful at most */
        for (int j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            unsigned t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    return n;
}

int ampy_krproc_select(struct ampy_kernel *k, const char *name, int index)
{
    struct ampy_krproc *r = ampy_kernel_rproc(k);
    unsigned ids[64];
    char dir[PATH_MAX], pname[64], seen[256] = "";
    int n = list_procs(ids, 64);
    ampy_kernel_path(dir, sizeof(dir), CLASS);
    if (n <= 0) {
        ampy_kernel_why(k, "no remote processor in %s%s", dir,
                        n == -ENOENT ? " (this kernel has no remoteproc driver loaded)" : "");
        return -ENODEV;
    }
    for (int i = 0; i < n; i++) {
        char p[PATH_MAX];
        ampy_kernel_path(p, sizeof(p), CLASS "/remoteproc%u/name", ids[i]);
        if (ampy_kernel_read_line(p, pname, sizeof(pname)) < 0)
            pname[0] = 0;
        size_t used = strlen(seen);
        snprintf(seen + used, sizeof(seen) - used, "%sremoteproc%u '%s'", i ? ", " : "", ids[i],
                 pname);
        char id[32];
        snprintf(id, sizeof(id), "remoteproc%u", ids[i]);
        bool match = (index < 0 || (unsigned)index == ids[i]) &&
                     (!name || !strcmp(name, pname) || !strcmp(name, id));
        if (match) {
            char chosen[PATH_MAX];
            ampy_kernel_path(chosen, sizeof(chosen), CLASS "/%s", id);
            if (strcmp(chosen, r->dir)) { /* another processor: forget the old one's state */
                r->fw_copy[0] = 0;
                r->stopping = false;
            }
            if (snprintf(r->dir, sizeof(r->dir), "%s", chosen) >= (int)sizeof(r->dir))
                return -ENAMETOOLONG;
            return 0;
        }
    }
    if (index >= 0 && name)
        ampy_kernel_why(k, "no remote processor remoteproc%d named '%s' in %s (there are: %s)", index,
                        name, dir, seen);
    else if (index >= 0)
        ampy_kernel_why(k, "no remote processor remoteproc%d in %s (there are: %s)", index, dir, seen);
    else
        ampy_kernel_why(k, "no remote processor named '%s' in %s (there are: %s)", name, dir, seen);
    return -ENODEV;
}

static int need_proc(struct ampy_kernel *k)
{
    struct ampy_krproc *r = ampy_kernel_rproc(k);
    return r->dir[0] ? 0 : ampy_krproc_select(k, NULL, -1);
}

/* ==== State ==== */

/* Read state into r->state; its index in state_names (6: not a name we
 * know), or -errno. */
static int read_state(struct ampy_kernel *k)
{
    struct ampy_krproc *r = ampy_kernel_rproc(k);
    char p[PATH_MAX + 16], s[24];
    snprintf(p, sizeof(p), "%s/state", r->dir);
    int err = ampy_kernel_read_line(p, s, sizeof(s));
    if (err < 0) {
        snprintf(r->state, sizeof(r->state), "unknown");
        return fail(k, err, "cannot read", p);
    }
    for (int i = 0; i < 7; i++)
        if (!strcmp(s, state_names[i])) {
            snprintf(r->state, sizeof(r->state), "%s", s);
            return i;
        }
    snprintf(r->state, sizeof(r->state), "invalid");
    return 6;
}

enum { OFFLINE, SUSPENDED, RUNNING, CRASHED, ATTACHED, DETACHED, INVALID };

static int write_state(struct ampy_kernel *k, const char *cmd)
{
    struct ampy_krproc *r = ampy_kernel_rproc(k);
    char p[PATH_MAX + 16];
    snprintf(p, sizeof(p), "%s/state", r->dir);
    int err = write_str(p, cmd);
    if (err) {
        char what[64];
        snprintf(what, sizeof(what), "the kernel refused \"%s\" on", cmd);
        if (err == -EACCES || err == -EPERM || err == -EROFS || err == -ENOENT)
            snprintf(what, sizeof(what), "cannot write \"%s\" to", cmd);
        return fail(k, err, what, p);
    }
    return 0;
}

enum amp_rproc_state ampy_krproc_state(struct ampy_kernel *k)
{
    if (!ampy_kernel_rproc(k)->dir[0])
        return AMP_RPROC_OFFLINE;
    switch (read_state(k)) {
    case RUNNING: return AMP_RPROC_RUNNING;
    case CRASHED: return AMP_RPROC_CRASHED;
    case ATTACHED: return AMP_RPROC_ATTACHED;
    case SUSPENDED:
    case DETACHED: return AMP_RPROC_STOPPED;
    default: return AMP_RPROC_OFFLINE;
    }
}

const char *ampy_krproc_state_name(struct ampy_kernel *k)
{
    struct ampy_krproc *r = ampy_kernel_rproc(k);
    if (!r->dir[0])
        return "offline";
    read_state(k);
    return r->state;
}

/* ==== Loading ==== */

/* The directories the kernel searches, in its order: firmware_class.path
 * (if set), then /lib/firmware/updates and /lib/firmware. */
static int search_dirs(char dirs[3][PATH_MAX])
{
    char p[PATH_MAX], v[256];
    int n = 0;
    ampy_kernel_path(p, sizeof(p), "/sys/module/firmware_class/parameters/path");
    if (ampy_kernel_read_line(p, v, sizeof(v)) > 0 && v[0] == '/')
        ampy_kernel_path(dirs[n++], PATH_MAX, "%s", v);
    ampy_kernel_path(dirs[n++], PATH_MAX, "/lib/firmware/updates");
    ampy_kernel_path(dirs[n++], PATH_MAX, "/lib/firmware");
    return n;
}

/* Copy src to dst through a temporary file and a rename (the kernel never
 * sees half an image). 0 or -errno, with why set. */
static int copy_file(struct ampy_kernel *k, int in, const char *dst)
{
    char tmp[PATH_MAX + 32];
    if (snprintf(tmp, sizeof(tmp), "%s.amp-%d.tmp", dst, (int)getpid()) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0)
        return fail(k, -errno, "cannot create", tmp);
    char buf[65536];
    ssize_t r;
    int err = 0;
    while ((r = read(in, buf, sizeof(buf))) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            err = fail(k, -errno, "cannot read the image for", dst);
            break;
        }
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                err = fail(k, w < 0 ? -errno : -EIO, "cannot write", tmp);
                break;
            }
            off += w;
        }
        if (err)
            break;
    }
    if (close(out) < 0 && !err)
        err = fail(k, -errno, "cannot write", tmp);
    if (!err && rename(tmp, dst) < 0)
        err = fail(k, -errno, "cannot create", dst);
    if (err)
        unlink(tmp);
    return err;
}

int ampy_krproc_load(struct ampy_kernel *k, const char *path)
{
    struct ampy_krproc *r = ampy_kernel_rproc(k);
    int err = need_proc(k);
    if (err)
        return err;
    uint64_t size; /* the file as the virtual core opens it: a FIFO or a device never blocks */
    int in = amp_linux_open_image(path, &size);
    if (in == -EINVAL) {
        ampy_kernel_why(k, "%s is not a regular file", path);
        return in;
    }
    if (in < 0)
        return fail(k, in, "cannot open firmware file", path);
    unsigned char magic[4];
    if (read(in, magic, 4) != 4 || memcmp(magic, "\177ELF", 4)) {
        close(in);
        ampy_kernel_why(k, "%s is not an ELF image", path);
        return -ENOEXEC;
    }
    int st = read_state(k);
    if (st < 0 || st != OFFLINE) {
        close(in);
        if (st < 0)
            return st;
        ampy_kernel_why(k, "%s is %s: stop it before loading new firmware", r->dir, r->state);
        return -EBUSY;
    }

    /* already in the search path? then name it from there */
    char dirs[3][PATH_MAX], real[PATH_MAX], name[PATH_MAX] = "";
    int nd = search_dirs(dirs);
    if (realpath(path, real)) {
        for (int i = 0; i < nd && !name[0]; i++) {
            char rd[PATH_MAX];
            size_t l;
            if (realpath(dirs[i], rd) && (l = strlen(rd)) && !strncmp(real, rd, l) && real[l] == '/')
                snprintf(name, sizeof(name), "%s", real + l + 1);
        }
    }
    if (!name[0]) { /* no: copy it into our own corner of firmware_class.path or /lib/firmware */
        const char *dir = nd == 3 ? dirs[0] : dirs[nd - 1];
        struct stat sb;
        if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
            close(in);
            ampy_kernel_why(k,
                            "the firmware directory %s does not exist: the kernel loads remote "
                            "firmware from there (or from firmware_class.path)",
                            dir);
            return -ENOENT;
        }
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        char sub[PATH_MAX], dst[PATH_MAX + 64];
        if (snprintf(sub, sizeof(sub), "%s/amp", dir) >= (int)sizeof(sub)) {
            close(in);
            return -ENAMETOOLONG;
        }
        if (mkdir(sub, 0755) < 0 && errno != EEXIST) {
            close(in);
            return fail(k, -errno, "cannot create", sub);
        }
        snprintf(dst, sizeof(dst), "%s/%s", sub, base);
        lseek(in, 0, SEEK_SET);
        err = copy_file(k, in, dst);
        if (err) {
            close(in);
            return err;
        }
        if (snprintf(r->fw_copy, sizeof(r->fw_copy), "%s", dst) >= (int)sizeof(r->fw_copy))
            r->fw_copy[0] = 0; /* (cannot happen: both are PATH_MAX) */
        snprintf(name, sizeof(name), "amp/%s", base);
    }
    close(in);
    char p[PATH_MAX + 16];
    snprintf(p, sizeof(p), "%s/firmware", r->dir);
    err = write_str(p, name);
    if (err && r->fw_copy[0]) { /* the kernel will not look for it: take it back */
        unlink(r->fw_copy);
        r->fw_copy[0] = 0;
    }
    if (err)
        return fail(k, err, err == -EBUSY ? "the kernel refused the firmware name (running?) in"
                                          : "cannot write the firmware name to",
                    p);
    r->stopping = false;
    return 0;
}

int ampy_krproc_attach(struct ampy_kernel *k)
{
    struct ampy_krproc *r = ampy_kernel_rproc(k);
    int err = need_proc(k);
    if (err)
        return err;
    int st = read_state(k);
    if (st < 0)
        return st;
    if (st == RUNNING || st == ATTACHED) {
        r->stopping = false;
        return 0;
    }
    ampy_kernel_why(k,
                    "%s is %s: RemoteProc(address) attaches only to a processor the kernel already "
                    "runs (give a firmware path to load one)",
                    r->dir, r->state);
    return -EINVAL;
}

/* ==== Life cycle ==== */

int ampy_krproc_start(struct ampy_kernel *k)
{
    struct ampy_krproc *r = ampy_kernel_rproc(k);
    int st = read_state(k);
    if (st < 0)
        return st;
    if (st == RUNNING || st == ATTACHED) {
        ampy_kernel_why(k, "%s is already %s", r->dir, r->state);
        return -EBUSY;
    }
    if (st == CRASHED) { /* a restart: the kernel starts only from offline */
        r->stopping = true;
        int err = write_state(k, "stop");
        if (err)
            return err;
    }
    r->stopping = false;
    return write_state(k, "start");
}

int ampy_krproc_stop(struct ampy_kernel *k)
{
    struct ampy_krproc *r = ampy_kernel_rproc(k);
    int st = read_state(k);
    if (st < 0)
        return st;
    if (st != RUNNING && st != ATTACHED && st != CRASHED) {
        ampy_kernel_why(k, "%s is not running (%s)", r->dir, r->state);
        return -EINVAL;
    }
    r->stopping = true;
    return write_state(k, "stop");
}

int ampy_krproc_shutdown(struct ampy_kernel *k)
{
    struct ampy_krproc *r = ampy_kernel_rproc(k);
    int err = 0;
    if (r->dir[0]) {
        int st = read_state(k);
        if (st == RUNNING || st == ATTACHED || st == CRASHED) {
            r->stopping = true;
            err = write_state(k, "stop");
        }
    }
    if (r->fw_copy[0]) {
        unlink(r->fw_copy);
        r->fw_copy[0] = 0;
    }
    return err < 0 ? err : 0;
}

int ampy_krproc_trace(struct ampy_kernel *k, uint32_t i, char *buf, size_t n)
{
    struct ampy_krproc *r = ampy_kernel_rproc(k);
    const char *id = strrchr(r->dir, '/');
    char dbg[PATH_MAX], p[PATH_MAX + 32];
    if (!id)
        return -ENOENT;
    ampy_kernel_path(dbg, sizeof(dbg), "/sys/kernel/debug/remoteproc");
    if (access(dbg, F_OK) < 0) {
        ampy_kernel_why(k, "no trace buffers: debugfs is not mounted at /sys/kernel/debug%s",
                        errno == EACCES ? " or not readable (root only)" : "");
        return -ENOENT;
    }
    snprintf(p, sizeof(p), "%s%s/trace%u", dbg, id, i);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(k, -errno, "no trace buffer", p);
    size_t got = 0;
    ssize_t rd;
    while (got < n && (rd = read(fd, buf + got, n - got)) != 0) {
        if (rd < 0) {
            if (errno == EINTR)
                continue;
            int err = -errno;
            close(fd);
            return fail(k, err, "cannot read", p);
        }
        got += (size_t)rd;
    }
    close(fd);
    return (int)got;
}
