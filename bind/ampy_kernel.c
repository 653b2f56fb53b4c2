/*
 * ampy_kernel.c - endpoints over the running kernel's rpmsg: the channels
 * the remote announced (/sys/bus/rpmsg/devices/<virtioN.NAME.SRC.DST>,
 * files name, src, dst) and the character devices that carry them.
 *
 * How an Endpoint(name) finds its channel:
 *   - a channel the rpmsg_chrdev driver already serves (the kernel binds
 *     it to "rpmsg-raw" channels) has its device at <channel>/rpmsg/rpmsgN:
 *     we open /dev/rpmsgN, and take its addresses;
 *   - any other name: we ask the channel's /dev/rpmsg_ctrlN for an
 *     endpoint device (RPMSG_CREATE_EPT_IOCTL: name, our src, the
 *     channel's dst) and open the /dev/rpmsgN it makes.
 * We chose the ioctl over rebinding the channel to rpmsg_chrdev through
 * driver_override: it needs only read-write access to two device nodes (a
 * udev rule can grant that to a group; driver_override and bind are
 * root's), honours Endpoint(src=...), and leaves the system as it was
 * when we are done (the driver_override would outlive us and take the
 * channel from a kernel driver written for it). The price: the kernel
 * does not tie that device to the channel, so we watch the channel
 * ourselves and destroy the device when it goes.
 *
 * Notification: the kernel's uevents (NETLINK_KOBJECT_UEVENT) tell us of
 * every rpmsg device added or removed (sysfs has no inotify for new
 * directories); each one makes us rescan /sys/bus/rpmsg/devices. A
 * channel that appears binds the endpoints waiting for its name, or is
 * announced to the new-service callback; one that goes away unbinds its
 * endpoint (ECONNRESET from then on, ENOTCONN if we stopped the remote).
 * Nothing is bound on a device being removed (dev_live: its virtio device
 * lost its driver or DRIVER_OK), nor on a channel still listed after the
 * kernel took our device on it away (kchan.dead): it comes back, if ever,
 * announced anew. k->why says what an ECONNRESET must: which channels
 * went away; a bind the program did not ask for never overwrites it.
 *
 * Main invariant: one service thread reads every endpoint device, and
 * only with k->lock held and the endpoint still on k->epts; sends write
 * with it held too. ept_destroy takes the lock to unlink, so once it
 * returns nothing reads, writes or delivers for that endpoint. Each message is read whole (one read(2) returns one
 * message, cut to the buffer: ours holds any the kernel sends) into a
 * malloc'd copy, which the binding core holds until link release frees it.
 * Lock order: k->lock, then the core's queue lock (inside ampy_link_rx).
 *
 * Backpressure, not loss, and fair: a message is read only when the core
 * has an event node to keep it in, its endpoint holds fewer than its share
 * of the nodes (share(): one endpoint left unread never holds the others
 * back), and a copy buffer is at hand (k->spare, should malloc fail). When
 * an endpoint is at its share (or the core is full), the thread raises
 * k->starved and stops reading and polling that endpoint's device: what
 * the remote sends it waits in rpmsg_char's queue, in order, as for any
 * slow reader of /dev/rpmsgN, while the other devices are read on. When
 * the core frees a node (k_room_freed: an event taken, read or dropped),
 * k->starved is lowered and the thread wakes to look again at which
 * endpoints may read. The wake-up hangs on the node, not on the message's
 * copy: a taken announcement, or a zero-copy message whose slices the
 * program keeps, frees its node with no k_release. Nothing else takes a
 * node between room() and ampy_link_rx: the other taker, k_ns_replay on
 * the program's thread, holds k->lock as drain does.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/rpmsg.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "amp_linux.h"
#include "ampy_kernel.h"

/* virtio_rpmsg_bus (Linux 6.12): 512-byte buffers (MAX_RPMSG_BUF_SIZE),
 * a 16-byte header; it refuses anything longer with EMSGSIZE */
#define KMAX_PAYLOAD 496u
#define KREAD_BUF 4096      /* a read(2) cuts a message to the buffer: be generous */
#define KCHANS 64           /* channels we track */
#define KPOLL 128           /* endpoint devices the service thread watches */
#define AUTO_SRC 0x1000u    /* our addresses: far above the kernel's own (1024 up) ... */
#define AUTO_SRC_END 0x10000000u /* ... and below any a remote might announce at */

struct kchan {              /* a channel the remote announced */
    char dev[128];          /* its directory in /sys/bus/rpmsg/devices */
    char name[AMP_RPMSG_NAME_SIZE];
    uint32_t dst;           /* the remote's address */
    bool mark;              /* rescan: still there */
    bool dead;              /* the kernel took our device on it away: bind
                             * again only once it is announced anew */
};

struct kept {               /* an endpoint of ours */
    struct ampy_ept *e;
    int fd;                 /* its /dev/rpmsgN, -1 while unbound */
    bool own_dev;           /* made on rpmsg_ctrl: destroy it when done */
    int ctrl_no;            /* that rpmsg_ctrl's number */
    bool src_given, dest_given;
    bool reset;             /* its channel went away while bound */
    int bind_err;           /* why the last bind failed (0: nothing to bind to yet) */
    char chan[128];         /* the channel it is bound to */
    char why[256];          /* why binding again after a reset failed ("": it did not) */
    struct kept *next;
};

struct ampy_kernel {
    struct ampy_dev *d;
    pthread_mutex_t lock;   /* guards all below, and reading any endpoint device */
    pthread_t thread;       /* running from k_open on */
    int uevent_fd;          /* the kernel's uevents, -1 if we cannot have them */
    int wake_fd;            /* eventfd: the endpoint set changed, room, or stop */
    bool stop;
    bool starved;           /* (atomic) the core was full: read nothing until k_room_freed */
    bool short_mem;         /* no spare: read nothing for a while */
    void *spare;            /* a KREAD_BUF copy buffer for when malloc fails */
    struct kept *epts;
    struct kchan chans[KCHANS];
    int nchans;
    struct amp_rpmsg_stats st; /* rx, tx, rx_held */
    uint32_t next_auto;     /* where the next automatic address is looked for */
    struct ampy_krproc rproc;
    char why[768];
};

/* ==== Paths and small helpers ==== */

const char *ampy_kernel_root(void)
{
    const char *r = getenv("AMP_KERNEL_ROOT");
    return r ? r : "";
}

int ampy_kernel_path(char *buf, size_t n, const char *fmt, ...)
{
    int l = snprintf(buf, n, "%s", ampy_kernel_root());
    va_list ap;
    va_start(ap, fmt);
    int m = l >= 0 && (size_t)l < n ? vsnprintf(buf + l, n - (size_t)l, fmt, ap) : -1;
    va_end(ap);
    return m < 0 || (size_t)(l + m) >= n ? -ENAMETOOLONG : 0;
}

struct ampy_krproc *ampy_kernel_rproc(struct ampy_kernel *k)
{
    return &k->rproc;
}

void ampy_kernel_why(struct ampy_kernel *k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->why, sizeof(k->why), fmt, ap);
    va_end(ap);
}

int ampy_kernel_read_line(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t r = read(fd, buf, n - 1);
    int err = errno;
    close(fd);
    if (r < 0)
        return -err;
    buf[r] = 0;
    buf[strcspn(buf, "\n")] = 0;
    return (int)strlen(buf);
}

static int read_attr(const char *dir, const char *attr, char *buf, size_t n)
{
    char p[PATH_MAX];
    int l = snprintf(p, sizeof(p), "%s/%s", dir, attr);
    return l < 0 || (size_t)l >= sizeof(p) ? -ENAMETOOLONG : ampy_kernel_read_line(p, buf, n);
}

/* An address attribute: "0x400" (channels) or "1024" / "-1" (endpoint
 * devices). false if it is neither. */
static bool read_addr(const char *dir, const char *attr, uint32_t *out)
{
    char v[24], *end;
    if (read_attr(dir, attr, v, sizeof(v)) < 0 || !v[0])
        return false;
    long long x = strtoll(v, &end, 0);
    if (*end || x < -1 || x > 0xFFFFFFFFLL)
        return false;
    *out = (uint32_t)x;
    return true;
}

/* The device number N of a "<prefix>N" entry of dir, or -1. */
static int find_numbered(const char *dir, const char *prefix)
{
    DIR *dp = opendir(dir);
    int n = -1;
    size_t pl = strlen(prefix);
    if (!dp)
        return -1;
    for (struct dirent *de; (de = readdir(dp));) {
        char *end;
        if (!strncmp(de->d_name, prefix, pl) && de->d_name[pl] >= '0' && de->d_name[pl] <= '9') {
            long v = strtol(de->d_name + pl, &end, 10);
            if (!*end && v >= 0 && v < INT_MAX) {
                n = (int)v;
                break;
            }
        }
    }
    closedir(dp);
    return n;
}

static int open_dev(const char *name)
{
    char p[PATH_MAX];
    ampy_kernel_path(p, sizeof(p), "/dev/%s", name);
    int fd = open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* Is the virtio device under an rpmsg device still working? dir is a
 * real sysfs path, `up` levels below it (a channel: 1; an rpmsg_ctrlN
 * directory: 3). When it goes, the kernel takes its status file and its
 * driver link away, then virtio_rpmsg_bus's remove resets it (status 0: no
 * DRIVER_OK) and removes the rpmsg devices, rpmsg_ctrl first: an endpoint
 * device asked for from then on lands on a device being removed (Linux
 * 6.12 panicked on it; see tools/uml/rpmsg_ctrl-*.patch). A parent not
 * named virtioN (another rpmsg bus) counts as working. */
static bool dev_live(const char *dir, int up)
{
    char p[PATH_MAX], v[24], *end;
    if (!realpath(dir, p))
        return false; /* gone already */
    for (int i = 0; i < up; i++) {
        char *slash = strrchr(p, '/');
        if (!slash || slash == p)
            return true;
        *slash = 0;
    }
    const char *base = strrchr(p, '/') + 1;
    if (strncmp(base, "virtio", 6) || base[6] < '0' || base[6] > '9' ||
        base[6 + strspn(base + 6, "0123456789")])
        return true;
    size_t l = strlen(p);
    if (l + 8 > sizeof(p))
        return false;
    memcpy(p + l, "/driver", 8);
    bool driven = access(p, F_OK) == 0;
    p[l] = 0;
    if (!driven || read_attr(p, "status", v, sizeof(v)) <= 0)
        return false;
    unsigned long st = strtoul(v, &end, 0);
    return !*end && (st & 0x4) && !(st & 0x80); /* VIRTIO_CONFIG_S_DRIVER_OK, _FAILED */
}

/* ==== The choice of backend ==== */

static const char *forced;

static bool any_entry(const char *dir, const char *prefix)
{
    char p[PATH_MAX];
    ampy_kernel_path(p, sizeof(p), "%s", dir);
    return find_numbered(p, prefix) >= 0;
}

static const char *choose(void)
{
    const char *v = forced ? forced : getenv("AMP_PLATFORM");
    if (v && *v)
        return !strcmp(v, "kernel") ? "kernel" : !strcmp(v, "virtual") ? "virtual" : NULL;
    return any_entry("/sys/class/remoteproc", "remoteproc") || any_entry("/dev", "rpmsg_ctrl")
               ? "kernel"
               : "virtual";
}

static int force(const char *name)
{
    if (name && strcmp(name, "kernel") && strcmp(name, "virtual"))
        return -EINVAL;
    forced = !name ? NULL : !strcmp(name, "kernel") ? "kernel" : "virtual";
    return 0;
}

/* ==== Channels and binding (k->lock held) ==== */

static struct kept *find_kept(struct ampy_kernel *k, const struct ampy_ept *e)
{
    for (struct kept *ke = k->epts; ke; ke = ke->next)
        if (ke->e == e)
            return ke;
    return NULL;
}

static bool claims(const struct kept *ke, const struct kchan *ch)
{
    return !strcmp(ke->e->ept.name, ch->name) && (!ke->dest_given || ke->e->ept.dest == ch->dst);
}

static bool chan_taken(struct ampy_kernel *k, const struct kchan *ch)
{
    for (struct kept *ke = k->epts; ke; ke = ke->next)
        if (ke->fd >= 0 && !strcmp(ke->chan, ch->dev))
            return true;
    return false;
}

/* Is address a in use: by one of ours, or visible in sysfs? */
static bool addr_used(struct ampy_kernel *k, uint32_t a)
{
    for (struct kept *ke = k->epts; ke; ke = ke->next)
        if (ke->e->ept.addr == a)
            return true;
    static const char *const dirs[] = {"/sys/bus/rpmsg/devices", "/sys/class/rpmsg"};
    for (int i = 0; i < 2; i++) {
        char p[PATH_MAX];
        ampy_kernel_path(p, sizeof(p), "%s", dirs[i]);
        DIR *dp = opendir(p);
        if (!dp)
            continue;
        bool used = false;
        for (struct dirent *de; !used && (de = readdir(dp));) {
            char sub[PATH_MAX + 256];
            uint32_t v;
            snprintf(sub, sizeof(sub), "%s/%s", p, de->d_name);
            used = de->d_name[0] != '.' && read_addr(sub, "src", &v) && v == a;
        }
        closedir(dp);
        if (used)
            return true;
    }
    return false;
}

/* The next free address from `from` on. Automatic addresses go round
 * (k->next_auto) rather than lowest-free: a late reply to an endpoint just
 * deinitialised must not reach the next one made. */
static uint32_t pick_addr(struct ampy_kernel *k, uint32_t from)
{
    uint32_t a = from < AUTO_SRC || from >= AUTO_SRC_END ? AUTO_SRC : from;
    for (uint32_t n = 0; n < 4096 && addr_used(k, a); n++)
        a = a + 1 < AUTO_SRC_END ? a + 1 : AUTO_SRC;
    k->next_auto = a + 1 < AUTO_SRC_END ? a + 1 : AUTO_SRC;
    return a;
}

/* The rpmsg_ctrl directory (.../rpmsg/rpmsg_ctrlN) for a channel: its
 * sibling "*.rpmsg_ctrl.*" device under the same virtio device. */
static int find_ctrl(const char *chan_dir, char *ctrl_dir, size_t n, int *ctrl_no)
{
    char real[PATH_MAX];
    if (!realpath(chan_dir, real))
        return -ENODEV;
    char *slash = strrchr(real, '/');
    if (!slash)
        return -ENODEV;
    *slash = 0;
    DIR *dp = opendir(real);
    if (!dp)
        return -ENODEV;
    int err = -ENODEV;
    for (struct dirent *de; err && (de = readdir(dp));) {
        if (!strstr(de->d_name, ".rpmsg_ctrl."))
            continue;
        char sub[PATH_MAX + 300];
        snprintf(sub, sizeof(sub), "%s/%s/rpmsg", real, de->d_name);
        int no = find_numbered(sub, "rpmsg_ctrl");
        if (no >= 0 && snprintf(ctrl_dir, n, "%s/rpmsg_ctrl%d", sub, no) < (int)n) {
            *ctrl_no = no;
            err = 0;
        }
    }
    closedir(dp);
    return err;
}

/* Open an endpoint device under ctrl_dir made for (name, src, dst) that
 * nobody has open (one of ours from a run that died counts). fd or -errno. */
static int open_made(const char *ctrl_dir, const char *name, uint32_t src, uint32_t dst)
{
    DIR *dp = opendir(ctrl_dir);
    int fd = -ENOENT;
    if (!dp)
        return -ENODEV;
    for (struct dirent *de; fd < 0 && fd != -EINVAL && (de = readdir(dp));) {
        char sub[PATH_MAX + 256], n[AMP_RPMSG_NAME_SIZE + 8];
        uint32_t s, t;
        char *end;
        if (strncmp(de->d_name, "rpmsg", 5) || de->d_name[5] < '0' || de->d_name[5] > '9')
            continue;
        strtol(de->d_name + 5, &end, 10);
        if (*end)
            continue;
        snprintf(sub, sizeof(sub), "%s/%s", ctrl_dir, de->d_name);
        if (read_attr(sub, "name", n, sizeof(n)) < 0 || strcmp(n, name) || !read_addr(sub, "src", &s) ||
            !read_addr(sub, "dst", &t) || s != src || t != dst)
            continue;
        int r = open_dev(de->d_name);
        if (r >= 0 || r == -EINVAL || r == -EACCES || r == -EPERM)
            fd = r; /* EBUSY: someone has it open, look on */
    }
    closedir(dp);
    return fd;
}

/* The first rpmsg_ctrl device, for an endpoint given its dest and no
 * channel: its directory and number. */
static int first_ctrl(char *ctrl_dir, size_t n, int *ctrl_no)
{
    char p[PATH_MAX], real[PATH_MAX];
    ampy_kernel_path(p, sizeof(p), "/dev");
    int no = find_numbered(p, "rpmsg_ctrl");
    if (no < 0)
        return -ENODEV;
    ampy_kernel_path(p, sizeof(p), "/sys/class/rpmsg/rpmsg_ctrl%d", no);
    if (!realpath(p, real) || snprintf(ctrl_dir, n, "%s", real) >= (int)n)
        return -ENODEV;
    *ctrl_no = no;
    return 0;
}

/* An endpoint device for (ke's name, its src, dst) on an rpmsg_ctrl: the
 * channel's (chan_dir), or the first one (NULL). */
static int bind_ctrl(struct ampy_kernel *k, struct kept *ke, uint32_t dst, const char *chan_dir)
{
    char ctrl_dir[PATH_MAX];
    const char *name = ke->e->ept.name;
    int ctrl_no;
    if ((chan_dir ? find_ctrl(chan_dir, ctrl_dir, sizeof(ctrl_dir), &ctrl_no)
                  : first_ctrl(ctrl_dir, sizeof(ctrl_dir), &ctrl_no)) < 0) {
        ampy_kernel_why(k, "no rpmsg_ctrl device%s%s (is CONFIG_RPMSG_CTRL set?)",
                        chan_dir ? " next to " : "", chan_dir ? chan_dir : "");
        return -ENODEV;
    }
    for (int tries = 0; tries < 8; tries++) {
        uint32_t src = ke->e->ept.addr;
        int fd = open_made(ctrl_dir, name, src, dst);
        if (fd == -ENOENT) { /* none yet: have rpmsg_ctrl make one */
            char cname[32];
            snprintf(cname, sizeof(cname), "rpmsg_ctrl%d", ctrl_no);
            if (!dev_live(ctrl_dir, 3)) { /* no device on one being removed */
                ampy_kernel_why(k, "the device of /dev/%s is being removed", cname);
                return -ENODEV;
            }
            int c = open_dev(cname);
            if (c < 0) {
                ampy_kernel_why(k, "cannot open /dev/%s: %s%s", cname, strerror(-c),
                                c == -EACCES ? " (see the README, \"Linux SoCs\", for a udev rule)" : "");
                return c;
            }
            struct rpmsg_endpoint_info info;
            memset(&info, 0, sizeof(info));
            snprintf(info.name, sizeof(info.name), "%s", name);
            info.src = src;
            info.dst = dst;
            int r = ioctl(c, RPMSG_CREATE_EPT_IOCTL, &info);
            int err = -errno;
            close(c);
            if (r < 0) {
                ampy_kernel_why(k, "RPMSG_CREATE_EPT_IOCTL on /dev/%s: %s", cname, strerror(-err));
                return err;
            }
            fd = open_made(ctrl_dir, name, src, dst);
        }
        if (fd == -EINVAL && !ke->src_given) { /* the kernel has that address: another */
            ke->e->ept.addr = pick_addr(k, src + 1);
            continue;
        }
        if (fd == -EINVAL) {
            ampy_kernel_why(k, "address %u is in use in the kernel", (unsigned)src);
            return -EADDRINUSE;
        }
        if (fd < 0) {
            ampy_kernel_why(k, "cannot open the endpoint device for '%s': %s", name, strerror(-fd));
            return fd;
        }
        ke->fd = fd;
        ke->own_dev = true;
        ke->ctrl_no = ctrl_no;
        return 0;
    }
    return -EADDRINUSE;
}

/* Bind ke to a channel that it claims and nobody has: 0, -EAGAIN (none
 * yet), or -errno. */
static int try_bind(struct ampy_kernel *k, struct kept *ke)
{
    for (int i = 0; i < k->nchans; i++) {
        struct kchan *ch = &k->chans[i];
        if (!claims(ke, ch) || ch->dead)
            continue;
        char dir[PATH_MAX], sub[PATH_MAX + 16];
        ampy_kernel_path(dir, sizeof(dir), "/sys/bus/rpmsg/devices/%s", ch->dev);
        if (!dev_live(dir, 1))
            continue; /* being removed: it goes, and comes back announced anew */
        snprintf(sub, sizeof(sub), "%s/rpmsg", dir);
        int n = find_numbered(sub, "rpmsg");
        bool raw = !strcmp(ch->name, "rpmsg-raw");
        int err;
        if (n >= 0 && !ke->src_given && !chan_taken(k, ch)) { /* rpmsg_chrdev serves it: its device */
            char dn[32];
            uint32_t src;
            snprintf(dn, sizeof(dn), "rpmsg%d", n);
            int fd = open_dev(dn);
            err = fd < 0 ? fd : read_addr(dir, "src", &src) ? 0 : -EIO;
            if (!err) {
                ke->fd = fd;
                ke->own_dev = false;
                ke->e->ept.addr = src;
            } else {
                if (fd >= 0)
                    close(fd);
                ampy_kernel_why(k, "cannot open /dev/%s: %s", dn, strerror(-err));
            }
        } else if (raw && !ke->src_given && n < 0) {
            continue; /* rpmsg_chrdev's device for it is on its way */
        } else {
            err = bind_ctrl(k, ke, ch->dst, dir);
        }
        if (err) {
            ke->bind_err = err;
            return err;
        }
        snprintf(ke->chan, sizeof(ke->chan), "%s", ch->dev);
        ke->e->ept.dest = ch->dst;
        ke->reset = false;
        ke->bind_err = 0;
        ke->why[0] = 0;
        return 0;
    }
    if (ke->dest_given && !ke->reset) { /* no channel by that name: the address is enough */
        int err = bind_ctrl(k, ke, ke->e->ept.dest, NULL);
        ke->bind_err = err == -ENODEV ? 0 : err;
        return err;
    }
    return -EAGAIN;
}

static void tell_gone(struct ampy_kernel *k, const struct kept *ke);

static void unbind(struct ampy_kernel *k, struct kept *ke, bool reset)
{
    if (ke->fd < 0)
        return;
    char p[PATH_MAX];
    ampy_kernel_path(p, sizeof(p), "/sys/class/rpmsg/rpmsg_ctrl%d", ke->ctrl_no);
    /* Destroy the device we made, unless its rpmsg_ctrl is gone or going:
     * then the kernel destroys it (a whole virtio device going removes
     * rpmsg_ctrl first), and racing its teardown with DESTROY_EPT crashed
     * UML 6.12. */
    if (ke->own_dev && access(p, F_OK) == 0 && dev_live(p, 3))
        ioctl(ke->fd, RPMSG_DESTROY_EPT_IOCTL); /* ENODEV if the kernel already did */
    close(ke->fd);
    ke->fd = -1;
    ke->chan[0] = 0;
    ke->reset = reset;
    ke->why[0] = 0;
    if (reset)
        tell_gone(k, ke);
    if (!ke->dest_given)
        ke->e->ept.dest = AMP_ADDR_ANY;
}

static void drain(struct ampy_kernel *k, struct kept *ke);

/* The words of an ECONNRESET (k->why): the channels that went away, ke's
 * first (a waiter woken by the loss reads k->why later, and it may be
 * another endpoint's), then why binding ke again failed, if it did. */
static void tell_gone(struct ampy_kernel *k, const struct kept *ke)
{
    char names[512];
    int n = 0, l = snprintf(names, sizeof(names), "'%s'", ke->e->ept.name);
    for (const struct kept *o = k->epts; o && l < (int)sizeof(names) - 40; o = o->next) {
        bool seen = !o->reset || o->fd >= 0 || !strcmp(o->e->ept.name, ke->e->ept.name);
        for (const struct kept *p = k->epts; p != o && !seen; p = p->next)
            seen = p->reset && p->fd < 0 && !strcmp(p->e->ept.name, o->e->ept.name);
        if (!seen) {
            l += snprintf(names + l, sizeof(names) - (size_t)l, ", '%s'", o->e->ept.name);
            n++;
        }
    }
    ampy_kernel_why(k, "the channel%s %s went away: the remote destroyed %s, stopped or crashed%s%s%s",
                    n ? "s" : "", names, n ? "them" : "it", ke->why[0] ? " (binding to it again failed: " : "",
                    ke->why, ke->why[0] ? ")" : "");
}

/* ke's channel or endpoint device went away under us: a crash, a stop,
 * the remote destroying it. Its waiters are told (ampy_link_down). A
 * channel still listed when the kernel took our device away is on its
 * way out (rpmsg_ctrl goes before the channels): it is not bound again. */
static void went_away(struct ampy_kernel *k, struct kept *ke)
{
    for (int i = 0; i < k->nchans; i++)
        if (!strcmp(k->chans[i].dev, ke->chan))
            k->chans[i].dead = true;
    unbind(k, ke, !k->rproc.stopping);
    ampy_link_down(k->d, ke->e);
}

/* Re-read /sys/bus/rpmsg/devices: bind, unbind, announce. */
static void rescan(struct ampy_kernel *k, bool announce)
{
    char p[PATH_MAX];
    int fresh[KCHANS], nfresh = 0;
    ampy_kernel_path(p, sizeof(p), "/sys/bus/rpmsg/devices");
    for (int i = 0; i < k->nchans; i++)
        k->chans[i].mark = false;
    DIR *dp = opendir(p);
    for (struct dirent *de; dp && (de = readdir(dp));) {
        char sub[PATH_MAX + 256], name[AMP_RPMSG_NAME_SIZE + 8];
        uint32_t dst;
        if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(k->chans[0].dev))
            continue;
        snprintf(sub, sizeof(sub), "%s/%s", p, de->d_name);
        if (read_attr(sub, "name", name, sizeof(name)) < 0 || strlen(name) >= AMP_RPMSG_NAME_SIZE ||
            !name[0] || !strcmp(name, "rpmsg_ctrl") || !strcmp(name, "rpmsg_ns") ||
            !read_addr(sub, "dst", &dst) || dst == AMP_ADDR_ANY)
            continue;
        int i;
        for (i = 0; i < k->nchans && strcmp(k->chans[i].dev, de->d_name); i++)
            ;
        if (i == k->nchans) {
            if (k->nchans == KCHANS)
                continue;
            struct kchan *ch = &k->chans[k->nchans++];
            snprintf(ch->dev, sizeof(ch->dev), "%s", de->d_name);
            snprintf(ch->name, sizeof(ch->name), "%s", name);
            ch->dst = dst;
            ch->dead = false;
            fresh[nfresh++] = i;
        }
        k->chans[i].mark = true;
    }
    if (dp)
        closedir(dp);
    for (int i = k->nchans; i-- > 0;) {
        if (k->chans[i].mark)
            continue;
        for (struct kept *ke = k->epts; ke; ke = ke->next)
            if (ke->fd >= 0 && !strcmp(ke->chan, k->chans[i].dev)) {
                drain(k, ke); /* what came before the channel went is still news */
                went_away(k, ke);
            }
        for (int j = 0; j < nfresh; j++) /* (a vanished channel is never fresh) */
            if (fresh[j] == k->nchans - 1)
                fresh[j] = i;
        k->chans[i] = k->chans[--k->nchans];
    }
    /* A bind the program did not ask for is not its news: a failure is
     * kept with the endpoint (said after "went away" by a send), and
     * k->why stays what an ECONNRESET must say. */
    char saved[sizeof(k->why)];
    memcpy(saved, k->why, sizeof(saved));
    for (struct kept *ke = k->epts; ke; ke = ke->next) {
        if (ke->fd >= 0)
            continue;
        int err = try_bind(k, ke);
        if (err && err != -EAGAIN && ke->reset)
            snprintf(ke->why, sizeof(ke->why), "%.*s", (int)sizeof(ke->why) - 1, k->why);
        memcpy(k->why, saved, sizeof(saved));
    }
    for (int j = 0; announce && j < nfresh; j++) {
        const struct kchan *ch = &k->chans[fresh[j]];
        bool wanted = false;
        for (struct kept *ke = k->epts; ke && !wanted; ke = ke->next)
            wanted = claims(ke, ch);
        if (!wanted)
            ampy_link_ns(k->d, ch->name, ch->dst);
    }
}

/* ==== The service thread ==== */

/* The most event nodes one endpoint may hold: the nodes messages may take
 * (all but the eighth announcements may hold) divided among our endpoints
 * (bound or not: one whose channel went keeps what came before). The
 * shares add up to no more than that, so an endpoint never waits for a
 * node another one holds, however many are left unread, and announcements
 * always find one; a fixed cap (a quarter of the pool, say) would let four
 * unread endpoints stall a fifth. The price: one busy endpoint among idle
 * ones keeps fewer in the core and more in the kernel, which costs it
 * nothing but the wait for the thread. When an endpoint is made, the
 * others' shares shrink: one above its new share reads nothing until its
 * program takes it below, and till then the new one has what is left. At
 * least 1: with more endpoints than nodes (525 on CPython, more than the
 * thread polls) fairness gives way, backpressure does not. k->lock held. */
static uint16_t share(struct ampy_kernel *k)
{
    unsigned n = 0, msgs = (unsigned)k->d->nev - k->d->ns_max;
    for (struct kept *ke = k->epts; ke; ke = ke->next)
        n++;
    msgs /= n ? n : 1;
    return (uint16_t)(msgs ? msgs : 1);
}

/* May we read a message for ke (cap: share(k)): will the core keep it,
 * within ke's share, and will its copy have memory? starved is raised
 * before the core is asked again, so a node freed meanwhile is either seen
 * here or wakes us from k_room_freed (which runs after the node's free,
 * made under the core's lock, and looks at starved). It stays raised when
 * the second answer is yes: another endpoint may be held back, and a
 * wake-up too many costs one look. k->lock held: no k_ns_replay takes the
 * node before ampy_link_rx does. */
static bool room(struct ampy_kernel *k, struct kept *ke, uint16_t cap)
{
    if (!k->spare && !(k->spare = malloc(KREAD_BUF))) {
        k->short_mem = true;
        return false;
    }
    if (ampy_link_room(k->d, ke->e, cap))
        return true;
    __atomic_store_n(&k->starved, true, __ATOMIC_SEQ_CST);
    return ampy_link_room(k->d, ke->e, cap);
}

/* Read what waits on ke's device and hand it to the core, as long as
 * there is room for it (else it stays in the kernel, in order). */
static void drain(struct ampy_kernel *k, struct kept *ke)
{
    static char buf[KREAD_BUF]; /* only the service thread reads */
    uint16_t cap = share(k);
    for (int n = 0; n < 32 && ke->fd >= 0 && room(k, ke, cap); n++) {
        ssize_t r = read(ke->fd, buf, sizeof(buf));
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            went_away(k, ke); /* EPIPE: the kernel took the endpoint away */
            return;
        }
        void *copy = malloc(r ? (size_t)r : 1);
        if (!copy) { /* the spare, made before the read */
            copy = k->spare;
            k->spare = NULL;
        }
        memcpy(copy, buf, (size_t)r);
        k->st.rx++;
        if (ampy_link_rx(k->d, ke->e, copy, (size_t)r, ke->e->ept.dest) == AMP_RX_HOLD)
            __atomic_add_fetch(&k->st.rx_held, 1, __ATOMIC_RELAXED);
        else
            free(copy);
    }
}

/* Uevents waiting: true if one is about an rpmsg device. Only the kernel's
 * count (sender port 0); the text is not trusted beyond that match. */
static bool read_uevents(struct ampy_kernel *k)
{
    bool rpmsg = false;
    char buf[4096];
    for (;;) {
        struct sockaddr_nl sa;
        struct iovec iov = {buf, sizeof(buf) - 1};
        struct msghdr mh = {.msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1};
        ssize_t r = recvmsg(k->uevent_fd, &mh, MSG_DONTWAIT);
        if (r < 0)
            return rpmsg || errno == ENOBUFS; /* ENOBUFS: we missed some, rescan */
        if (sa.nl_pid != 0 || r == 0)
            continue;
        for (ssize_t i = 0; i < r;) { /* NUL-separated KEY=value lines */
            buf[r] = 0;
            if (!strcmp(buf + i, "SUBSYSTEM=rpmsg"))
                rpmsg = true;
            i += (ssize_t)strlen(buf + i) + 1;
        }
    }
}

static void *service(void *arg)
{
    struct ampy_kernel *k = arg;
    struct pollfd pf[2 + KPOLL];
    for (;;) {
        nfds_t n = 0;
        pthread_mutex_lock(&k->lock);
        bool stop = k->stop;
        /* an endpoint at its share (any, when the core is full), or all
         * when short of memory: leave their messages in the kernel and do
         * not poll for them; k_room_freed wakes us, or we retry the memory */
        bool short_mem = k->short_mem;
        k->short_mem = false;
        uint16_t cap = share(k);
        pf[n++] = (struct pollfd){k->wake_fd, POLLIN, 0};
        pf[n++] = (struct pollfd){k->uevent_fd, POLLIN, 0}; /* -1: ignored by poll */
        for (struct kept *ke = k->epts; ke && !short_mem && n < 2 + KPOLL; ke = ke->next)
            if (ke->fd >= 0 && room(k, ke, cap))
                pf[n++] = (struct pollfd){ke->fd, POLLIN, 0};
        int timeout = short_mem || k->short_mem ? 100 : -1;
        pthread_mutex_unlock(&k->lock);
        if (stop)
            break;
        if (poll(pf, n, timeout) < 0)
            continue; /* EINTR */
        uint64_t v;
        if (pf[0].revents && read(k->wake_fd, &v, sizeof(v)) < 0) { /* EAGAIN: already read */
        }
        bool changed = pf[1].revents && read_uevents(k);
        pthread_mutex_lock(&k->lock);
        for (nfds_t i = 2; i < n && !k->stop; i++) { /* messages first: they came first */
            if (!pf[i].revents)
                continue;
            for (struct kept *ke = k->epts; ke; ke = ke->next) /* still ours? (fds get reused) */
                if (ke->fd == pf[i].fd) {
                    drain(k, ke);
                    break;
                }
        }
        if (changed && !k->stop)
            rescan(k, true);
        pthread_mutex_unlock(&k->lock);
    }
    return NULL;
}

static void wake(struct ampy_kernel *k)
{
    uint64_t one = 1;
    if (write(k->wake_fd, &one, sizeof(one)) < 0) { /* cannot fail: the counter is small */
    }
}

/* ==== The link (struct ampy_link) ==== */

static struct ampy_kernel *K(struct ampy_dev *d);

static int k_ept_create(struct ampy_dev *d, struct ampy_ept *e, const char *name, uint32_t src,
                        uint32_t dest)
{
    struct ampy_kernel *k = K(d);
    if (!name || !name[0]) {
        ampy_kernel_why(k, "an endpoint on Linux needs the name of a channel");
        return -EINVAL;
    }
    struct kept *ke = calloc(1, sizeof(*ke));
    if (!ke)
        return -ENOMEM;
    ke->e = e;
    ke->fd = -1;
    ke->src_given = src != AMP_ADDR_ANY;
    ke->dest_given = dest != AMP_ADDR_ANY;
    snprintf(e->ept.name, sizeof(e->ept.name), "%s", name);
    e->ept.dest = dest;
    pthread_mutex_lock(&k->lock);
    for (struct kept *o = k->epts; o; o = o->next)
        if (ke->src_given && o->e->ept.addr == src) {
            pthread_mutex_unlock(&k->lock);
            free(ke);
            return -EADDRINUSE;
        }
    e->ept.addr = ke->src_given ? src : pick_addr(k, k->next_auto);
    ke->next = k->epts;
    k->epts = ke;
    int err = try_bind(k, ke);
    if (err == -EACCES || err == -EPERM) { /* no waiting can fix that: say so now */
        k->epts = ke->next;
        free(ke);
    }
    pthread_mutex_unlock(&k->lock);
    if (err == -EACCES || err == -EPERM)
        return err;
    wake(k);
    return 0;
}

static void k_ept_destroy(struct ampy_dev *d, struct ampy_ept *e)
{
    struct ampy_kernel *k = K(d);
    pthread_mutex_lock(&k->lock);
    for (struct kept **pp = &k->epts; *pp; pp = &(*pp)->next)
        if ((*pp)->e == e) {
            struct kept *ke = *pp;
            *pp = ke->next;
            unbind(k, ke, false);
            free(ke);
            break;
        }
    pthread_mutex_unlock(&k->lock);
    wake(k);
}

static bool k_ept_ready(struct ampy_dev *d, struct ampy_ept *e)
{
    struct ampy_kernel *k = K(d);
    pthread_mutex_lock(&k->lock);
    struct kept *ke = find_kept(k, e);
    bool ready = ke && ke->fd >= 0;
    pthread_mutex_unlock(&k->lock);
    return ready;
}

/* A write's EIO is virtio_ring's: the queue is broken. The transport
 * breaks it when the device goes (virtio_uml: the remote's socket
 * closed), or the kernel found bad entries the remote wrote. Once the
 * device is being removed (dev_live) it is the former: the channel goes.
 * Before that we cannot tell, and EIO stays. */
static bool going(const struct kept *ke)
{
    char p[PATH_MAX];
    if (ke->own_dev)
        ampy_kernel_path(p, sizeof(p), "/sys/class/rpmsg/rpmsg_ctrl%d", ke->ctrl_no);
    else
        ampy_kernel_path(p, sizeof(p), "/sys/bus/rpmsg/devices/%s", ke->chan);
    return !dev_live(p, ke->own_dev ? 3 : 1);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Each write(2) is made with k->lock held, so a deinit never pulls the
 * device from under one; waiting for room (POLLOUT) is done without it,
 * on a duplicate of the descriptor. */
static int k_send(struct ampy_dev *d, struct ampy_ept *e, uint32_t src, uint32_t dst, const void *data,
                  size_t len, int32_t timeout_ms)
{
    struct ampy_kernel *k = K(d);
    double t0 = now_ms();
    for (;;) {
        int err, fd = -1;
        pthread_mutex_lock(&k->lock);
        struct kept *ke = find_kept(k, e);
        if (!ke) {
            err = -EBADF;
        } else if (ke->fd < 0) {
            err = ke->reset ? -ECONNRESET : ke->bind_err == -EADDRINUSE ? -EADDRINUSE : -ENOTCONN;
            if (ke->reset)
                tell_gone(k, ke);
        } else if ((src != AMP_ADDR_ANY && src != e->ept.addr) ||
                   (dst != AMP_ADDR_ANY && dst != e->ept.dest)) {
            err = -EINVAL; /* a char device sends only from its address to its channel */
        } else {
            ssize_t w = write(ke->fd, data, len);
            err = w >= 0 ? (int)len : -errno;
            if (err == -EPIPE) { /* the kernel took the endpoint away */
                went_away(k, ke);
                err = ke->reset ? -ECONNRESET : -ENOTCONN;
            } else if (err == -EIO && going(ke)) { /* its device breaks as it goes */
                err = k->rproc.stopping ? -ENOTCONN : -ECONNRESET;
                if (err == -ECONNRESET)
                    tell_gone(k, ke); /* (the kernel's EPIPE unbinds it) */
            } else if (err == -EAGAIN && timeout_ms != 0) {
                fd = fcntl(ke->fd, F_DUPFD_CLOEXEC, 0); /* ours while we wait */
            } else if (err >= 0) {
                k->st.tx++;
            }
        }
        pthread_mutex_unlock(&k->lock);
        if (err == -ECONNRESET || err == -ENOTCONN)
            wake(k); /* the service thread drops the descriptor */
        if (err != -EAGAIN && err != -EINTR)
            return err;
        if (err == -EAGAIN && timeout_ms == 0)
            return err;
        double left = timeout_ms < 0 ? 1000 : timeout_ms - (now_ms() - t0);
        if (left > 0 && fd >= 0) {
            struct pollfd pf = {fd, POLLOUT, 0};
            poll(&pf, 1, (int)left + 1);
        }
        if (fd >= 0)
            close(fd);
        if (timeout_ms > 0 && now_ms() - t0 >= timeout_ms)
            return -ETIMEDOUT;
    }
}

static void k_release(struct ampy_dev *d, void *data)
{
    struct ampy_kernel *k = K(d);
    __atomic_sub_fetch(&k->st.rx_held, 1, __ATOMIC_RELAXED);
    free(data);
}

static void k_room_freed(struct ampy_dev *d)
{
    struct ampy_kernel *k = K(d);
    if (k && __atomic_load_n(&k->starved, __ATOMIC_SEQ_CST) &&
        __atomic_exchange_n(&k->starved, false, __ATOMIC_SEQ_CST))
        wake(k); /* a node is free: read again */
}

/* (k->lock held throughout: the service thread never finds the node its
 * room() saw taken by an announcement from here.) */
static void k_ns_replay(struct ampy_dev *d)
{
    struct ampy_kernel *k = K(d);
    pthread_mutex_lock(&k->lock);
    for (int i = 0; i < k->nchans; i++) {
        bool wanted = false;
        for (struct kept *ke = k->epts; ke && !wanted; ke = ke->next)
            wanted = claims(ke, &k->chans[i]);
        if (!wanted)
            ampy_link_ns(d, k->chans[i].name, k->chans[i].dst);
    }
    pthread_mutex_unlock(&k->lock);
}

static void k_stats(struct ampy_dev *d, struct amp_rpmsg_stats *st)
{
    struct ampy_kernel *k = K(d);
    st->rx = __atomic_load_n(&k->st.rx, __ATOMIC_RELAXED);
    pthread_mutex_lock(&k->lock);
    st->tx = k->st.tx;
    pthread_mutex_unlock(&k->lock);
    st->rx_held = __atomic_load_n(&k->st.rx_held, __ATOMIC_RELAXED);
    st->dropped = k->st.dropped;
}

static const struct ampy_link kernel_link = {
    .ept_create = k_ept_create,
    .ept_destroy = k_ept_destroy,
    .ept_ready = k_ept_ready,
    .send = k_send,
    .release = k_release,
    .max_payload = KMAX_PAYLOAD,
    .ns_replay = k_ns_replay,
    .stats = k_stats,
    .room_freed = k_room_freed,
};

/* ==== Open and close ==== */

static struct ampy_kernel *the_k; /* one device, as in the core */

static struct ampy_kernel *K(struct ampy_dev *d)
{
    (void)d;
    return the_k;
}

static int k_open(struct ampy_dev *d, struct ampy_kernel **out)
{
    struct ampy_kernel *k = calloc(1, sizeof(*k));
    if (!k)
        return -ENOMEM;
    k->d = d;
    pthread_mutex_init(&k->lock, NULL);
    k->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    k->uevent_fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
    if (k->uevent_fd >= 0) {
        struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = 1}; /* the kernel's group */
        if (bind(k->uevent_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            close(k->uevent_fd);
            k->uevent_fd = -1;
        }
    }
    if (k->wake_fd < 0) {
        int err = -errno;
        if (k->uevent_fd >= 0)
            close(k->uevent_fd);
        pthread_mutex_destroy(&k->lock);
        free(k);
        return err;
    }
    the_k = k;
    d->link = &kernel_link;
    pthread_mutex_lock(&k->lock);
    rescan(k, false);
    pthread_mutex_unlock(&k->lock);
    if (amp_linux_thread(&k->thread, service, k)) { /* signals blocked: they go to the program */
        close(k->wake_fd);
        if (k->uevent_fd >= 0)
            close(k->uevent_fd);
        pthread_mutex_destroy(&k->lock);
        free(k);
        the_k = NULL;
        d->link = NULL;
        return -EAGAIN;
    }
    *out = k;
    return 0;
}

static void k_close(struct ampy_kernel *k)
{
    pthread_mutex_lock(&k->lock);
    k->stop = true;
    while (k->epts) { /* the core deinitialised them all; this is belt and braces */
        struct kept *ke = k->epts;
        k->epts = ke->next;
        unbind(k, ke, false);
        free(ke);
    }
    pthread_mutex_unlock(&k->lock);
    wake(k);
    pthread_join(k->thread, NULL);
    close(k->wake_fd);
    if (k->uevent_fd >= 0)
        close(k->uevent_fd);
    pthread_mutex_destroy(&k->lock);
    if (the_k == k)
        the_k = NULL;
    free(k->spare);
    free(k);
}

static const char *k_why(struct ampy_kernel *k)
{
    return k->why;
}

static int k_attach(struct ampy_kernel *k)
{
    return ampy_krproc_attach(k);
}

const struct ampy_kernel_ops ampy_kernel_ops = {
    .choose = choose,
    .force = force,
    .open = k_open,
    .close = k_close,
    .rproc_select = ampy_krproc_select,
    .rproc_load = ampy_krproc_load,
    .rproc_attach = k_attach,
    .rproc_start = ampy_krproc_start,
    .rproc_stop = ampy_krproc_stop,
    .rproc_shutdown = ampy_krproc_shutdown,
    .rproc_state = ampy_krproc_state,
    .rproc_state_name = ampy_krproc_state_name,
    .rproc_trace = ampy_krproc_trace,
    .why = k_why,
};
