/*
 * linux_rpmsg.c - Linux's own rpmsg (virtio_rpmsg_bus, rpmsg_char,
 * rpmsg_ctrl) against amp's vhost-user device. Runs inside User-Mode Linux
 * (tools/uml/run.sh), built statically on the host; prints a line per
 * check and "linux_rpmsg: N passed, N failed", exits 0 only if all passed.
 *
 *   linux_rpmsg main on|off   against `amp serve --channel rpmsg-raw
 *                             --channel amp-second --once amp-once
 *                             --event-idx on|off`
 *   linux_rpmsg again         against an amp serve that served another
 *                             Linux before: rpmsg-raw announced again, echoes
 *   linux_rpmsg die           against `amp serve --die-after 150`: Linux
 *                             must report the dead backend, not hang
 *   linux_rpmsg bench         round trip and one-way figures, against
 *                             `amp serve --channel rpmsg-raw --sink amp-sink`
 *   linux_rpmsg eventfd       eventfd ping-pong between two host
 *                             processes: the floor for any doorbell
 *
 * Every wait is bounded (poll with a timeout): a hang is a failure, never
 * a stuck test.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* <linux/rpmsg.h>, spelled out: the ioctls of /dev/rpmsg_ctrlN and /dev/rpmsgN */
struct rpmsg_endpoint_info {
    char name[32];
    uint32_t src;
    uint32_t dst;
};
#define RPMSG_CREATE_EPT_IOCTL _IOW(0xb5, 0x1, struct rpmsg_endpoint_info)
#define RPMSG_DESTROY_EPT_IOCTL _IO(0xb5, 0x2)
#define RPMSG_ADDR_ANY 0xFFFFFFFFu

#define MAX_PAYLOAD 496 /* 512-byte buffers minus the 16-byte header */

static int passed, failed;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s - ", ok ? "ok" : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
    if (ok)
        passed++;
    else
        failed++;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int read_attr(const char *dir, const char *attr, char *buf, size_t size)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, attr);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    if (!fgets(buf, (int)size, f))
        buf[0] = 0;
    fclose(f);
    buf[strcspn(buf, "\n")] = 0;
    return 0;
}

/* The /dev node of the rpmsg_char endpoint device named `name` (class
 * rpmsg, rpmsgN), waiting up to ms for it. 1 found, 0 not. */
static int find_eptdev(const char *name, char *dev, size_t size, int ms)
{
    for (int t = 0;; t += 50) {
        DIR *d = opendir("/sys/class/rpmsg");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char dir[300], n[64];
            if (strncmp(e->d_name, "rpmsg", 5) || !strcmp(e->d_name, "rpmsg_ctrl0") ||
                strncmp(e->d_name, "rpmsg_ctrl", 10) == 0)
                continue;
            snprintf(dir, sizeof(dir), "/sys/class/rpmsg/%s", e->d_name);
            if (read_attr(dir, "name", n, sizeof(n)) == 0 && !strcmp(n, name)) {
                snprintf(dev, size, "/dev/%s", e->d_name);
                closedir(d);
                if (access(dev, F_OK) == 0)
                    return 1;
                d = NULL;
                break;
            }
        }
        if (d)
            closedir(d);
        if (t >= ms)
            return 0;
        usleep(50000);
    }
}

/* The address amp gave the channel `name`: dst of its rpmsg bus device. */
static uint32_t channel_addr(const char *name)
{
    DIR *d = opendir("/sys/bus/rpmsg/devices");
    struct dirent *e;
    uint32_t addr = RPMSG_ADDR_ANY;
    while (d && (e = readdir(d))) {
        char dir[300], n[64], a[32];
        snprintf(dir, sizeof(dir), "/sys/bus/rpmsg/devices/%s", e->d_name);
        if (read_attr(dir, "name", n, sizeof(n)) == 0 && !strcmp(n, name) &&
            read_attr(dir, "dst", a, sizeof(a)) == 0)
            addr = (uint32_t)strtoul(a, NULL, 0);
    }
    if (d)
        closedir(d);
    return addr;
}

/* One message within ms: its length, -ETIMEDOUT, or -errno. */
static int recv_msg(int fd, void *buf, size_t size, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, ms);
    if (r == 0)
        return -ETIMEDOUT;
    if (r < 0)
        return -errno;
    ssize_t n = read(fd, buf, size);
    return n < 0 ? -errno : (int)n;
}

/* Message i: its length and bytes, a function of i only. */
static size_t pattern(uint32_t i, uint8_t *buf)
{
    size_t len = i % (MAX_PAYLOAD + 1);
    uint32_t x = i * 2654435761u + 1;
    for (size_t k = 0; k < len; k++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        buf[k] = (uint8_t)x;
    }
    if (len >= 4)
        memcpy(buf, &i, 4); /* the sequence number: order is checked */
    return len;
}

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    while (n--)
        h = (h ^ *p++) * 16777619u;
    return h;
}

/* count echoes, `window` in flight: every one back, intact, in order. */
static int echoes(int fd, uint32_t count, uint32_t window, char *why, size_t wsize)
{
    static uint8_t out[MAX_PAYLOAD + 1], in[4096], want[MAX_PAYLOAD + 1];
    uint32_t sent = 0, got = 0;
    while (got < count) {
        while (sent < count && sent - got < window) {
            size_t len = pattern(sent, out);
            ssize_t n = write(fd, out, len);
            if (n != (ssize_t)len) {
                snprintf(why, wsize, "write %u (%zu bytes): %s", sent, len,
                         n < 0 ? strerror(errno) : "short");
                return -1;
            }
            sent++;
        }
        int n = recv_msg(fd, in, sizeof(in), 5000);
        size_t len = pattern(got, want);
        if (n < 0) {
            snprintf(why, wsize, "echo %u: %s", got, strerror(-n));
            return -1;
        }
        if ((size_t)n != len || fnv1a(in, len) != fnv1a(want, len) || memcmp(in, want, len)) {
            snprintf(why, wsize, "echo %u: %d bytes, checksum 0x%08x, want %zu bytes 0x%08x", got,
                     n, fnv1a(in, (size_t)n), len, fnv1a(want, len));
            return -1;
        }
        got++;
    }
    return 0;
}

static int features_bit(int bit)
{
    char f[128];
    if (read_attr("/sys/bus/virtio/devices/virtio0", "features", f, sizeof(f)) < 0 ||
        strlen(f) <= (size_t)bit)
        return -1;
    return f[bit] == '1';
}

static int test_main(const char *event_idx)
{
    char dev[300], why[256] = "";
    uint8_t buf[4096];

    int want_ei = !strcmp(event_idx, "on");
    check(features_bit(29) == want_ei, "VIRTIO_RING_F_EVENT_IDX negotiated: %s (want %s)",
          features_bit(29) == 1 ? "on" : "off", event_idx);
    check(features_bit(0) == 1, "VIRTIO_RPMSG_F_NS negotiated");

    int found = find_eptdev("rpmsg-raw", dev, sizeof(dev), 10000);
    check(found, "the announcement of \"rpmsg-raw\" created %s", found ? dev : "no /dev/rpmsgN");
    if (!found)
        return 1;
    int fd = open(dev, O_RDWR);
    check(fd >= 0, "open %s", dev);
    if (fd < 0)
        return 1;

    double t0 = now_s();
    int r = echoes(fd, 10000, 16, why, sizeof(why));
    check(r == 0, "10000 checksummed echoes of 0..%d bytes, in order (%.1f s)%s%s", MAX_PAYLOAD,
          now_s() - t0, r ? ": " : "", why);

    memset(buf, 'x', sizeof(buf));
    ssize_t n = write(fd, buf, MAX_PAYLOAD + 1);
    int e = errno;
    check(n < 0 && e == EMSGSIZE, "%d bytes refused by Linux: %s", MAX_PAYLOAD + 1,
          n < 0 ? strerror(e) : "accepted");
    r = echoes(fd, 10, 1, why, sizeof(why));
    check(r == 0, "the channel still echoes after the refusal%s%s", r ? ": " : "", why);

    /* an endpoint of our own, through /dev/rpmsg_ctrl0, to amp's second channel */
    uint32_t second = channel_addr("amp-second");
    check(second != RPMSG_ADDR_ANY, "amp's second channel \"amp-second\" is at 0x%x", second);
    int ctrl = open("/dev/rpmsg_ctrl0", O_RDWR);
    check(ctrl >= 0, "open /dev/rpmsg_ctrl0");
    struct rpmsg_endpoint_info info = {.src = RPMSG_ADDR_ANY, .dst = second};
    strcpy(info.name, "linux-made-ept");
    int ok = ctrl >= 0 && ioctl(ctrl, RPMSG_CREATE_EPT_IOCTL, &info) == 0;
    check(ok, "RPMSG_CREATE_EPT_IOCTL \"linux-made-ept\" -> 0x%x%s%s", second, ok ? "" : ": ",
          ok ? "" : strerror(errno));
    if (ok && find_eptdev("linux-made-ept", dev, sizeof(dev), 5000)) {
        int efd = open(dev, O_RDWR);
        const char *ping = "ping through an endpoint Linux made";
        int got = -1;
        if (efd >= 0 && write(efd, ping, strlen(ping)) == (ssize_t)strlen(ping))
            got = recv_msg(efd, buf, sizeof(buf), 5000);
        check(got == (int)strlen(ping) && !memcmp(buf, ping, strlen(ping)),
              "%s talks to amp-second (%d bytes back)", dev, got);
        if (efd >= 0) {
            ioctl(efd, RPMSG_DESTROY_EPT_IOCTL);
            close(efd);
        }
    } else {
        check(0, "the endpoint device of \"linux-made-ept\" appeared");
    }
    if (ctrl >= 0)
        close(ctrl);

    /* a channel amp destroys (NS destroy) goes away in Linux: its rpmsg
     * device (no driver binds a name other than rpmsg-raw) is removed.
     * Reach it through an endpoint of our own, as above. */
    uint32_t once = RPMSG_ADDR_ANY;
    for (int t = 0; t < 100 && once == RPMSG_ADDR_ANY; t++) {
        once = channel_addr("amp-once");
        if (once == RPMSG_ADDR_ANY)
            usleep(50000);
    }
    check(once != RPMSG_ADDR_ANY, "the announcement of \"amp-once\" made its rpmsg device (0x%x)",
          once);
    ctrl = open("/dev/rpmsg_ctrl0", O_RDWR);
    struct rpmsg_endpoint_info oi = {.src = RPMSG_ADDR_ANY, .dst = once};
    strcpy(oi.name, "to-amp-once");
    if (once != RPMSG_ADDR_ANY && ctrl >= 0 && ioctl(ctrl, RPMSG_CREATE_EPT_IOCTL, &oi) == 0 &&
        find_eptdev("to-amp-once", dev, sizeof(dev), 5000)) {
        int ofd = open(dev, O_RDWR);
        int got = -1;
        if (ofd >= 0 && write(ofd, "bye", 3) == 3)
            got = recv_msg(ofd, buf, sizeof(buf), 5000);
        check(got == 3, "amp-once answered once (%d bytes)", got);
        int gone = 0;
        for (int t = 0; t < 100 && !gone; t++) {
            gone = channel_addr("amp-once") == RPMSG_ADDR_ANY;
            if (!gone)
                usleep(50000);
        }
        check(gone, "amp destroyed \"amp-once\": its rpmsg device is gone in Linux");
        if (ofd >= 0) {
            ioctl(ofd, RPMSG_DESTROY_EPT_IOCTL);
            close(ofd);
        }
    } else {
        check(0, "an endpoint to amp-once: %s", strerror(errno));
    }
    if (ctrl >= 0)
        close(ctrl);
    r = echoes(fd, 100, 4, why, sizeof(why));
    check(r == 0, "rpmsg-raw still echoes at the end%s%s", r ? ": " : "", why);
    close(fd);
    return 0;
}

/* amp serve --die-after 150: 100 echoes, then keep sending; Linux must say the device is
 * gone (an error, or the device node vanishing) within 10 s. */
static int test_die(void)
{
    char dev[300], why[256] = "";
    uint8_t buf[4096];
    int found = find_eptdev("rpmsg-raw", dev, sizeof(dev), 10000);
    check(found, "the announcement of \"rpmsg-raw\" created %s", found ? dev : "nothing");
    if (!found)
        return 1;
    int fd = open(dev, O_RDWR);
    int r = echoes(fd, 100, 1, why, sizeof(why));
    check(r == 0, "100 echoes before the backend dies%s%s", r ? ": " : "", why);
    double t0 = now_s();
    const char *err = NULL;
    while (!err && now_s() - t0 < 10) {
        if (write(fd, "more", 4) < 0) {
            err = strerror(errno);
            break;
        }
        int n = recv_msg(fd, buf, sizeof(buf), 200);
        if (n < 0 && n != -ETIMEDOUT)
            err = strerror(-n);
        else if (n == -ETIMEDOUT && access(dev, F_OK) != 0)
            err = "device node removed";
    }
    check(err != NULL, "Linux reported the dead backend after %.1f s: %s", now_s() - t0,
          err ? err : "nothing (hang)");
    close(fd);
    return 0;
}

/* A second Linux on the same amp serve: announced again, and it echoes. */
static int test_again(void)
{
    char dev[300], why[256] = "";
    int found = find_eptdev("rpmsg-raw", dev, sizeof(dev), 10000);
    check(found, "the announcement of \"rpmsg-raw\" to a new frontend created %s",
          found ? dev : "nothing");
    if (!found)
        return 1;
    int fd = open(dev, O_RDWR);
    int r = echoes(fd, 1000, 16, why, sizeof(why));
    check(r == 0, "1000 echoes%s%s", r ? ": " : "", why);
    close(fd);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int test_bench(void)
{
    char dev[300];
    static uint8_t buf[4096];
    static double rt[5000];
    if (!find_eptdev("rpmsg-raw", dev, sizeof(dev), 10000)) {
        check(0, "no rpmsg-raw device");
        return 1;
    }
    int fd = open(dev, O_RDWR);
    size_t sizes[] = {16, MAX_PAYLOAD};
    for (int s = 0; s < 2; s++) {
        int n = 5000;
        memset(buf, 0x5a, sizes[s]);
        for (int i = 0; i < n + 200; i++) {
            double t = now_s();
            if (write(fd, buf, sizes[s]) < 0 || recv_msg(fd, buf, sizeof(buf), 5000) < 0) {
                check(0, "bench round trip %d", i);
                return 1;
            }
            if (i >= 200)
                rt[i - 200] = now_s() - t; /* after a warm-up */
        }
        qsort(rt, (size_t)n, sizeof(rt[0]), cmp_double);
        printf("bench: round trip %3zu B, Linux user process <-> amp: median %.1f us, "
               "p99 %.1f us (%d round trips)\n",
               sizes[s], rt[n / 2] * 1e6, rt[n * 99 / 100] * 1e6, n);
    }
    /* one way, Linux -> amp: an endpoint of ours to amp's sink channel
     * takes n messages; then one echo on rpmsg-raw, behind them on the same
     * ring, says amp has consumed them all */
    uint32_t sink = channel_addr("amp-sink");
    int ctrl = open("/dev/rpmsg_ctrl0", O_RDWR);
    struct rpmsg_endpoint_info si = {.src = RPMSG_ADDR_ANY, .dst = sink};
    strcpy(si.name, "to-amp-sink");
    if (sink == RPMSG_ADDR_ANY || ctrl < 0 || ioctl(ctrl, RPMSG_CREATE_EPT_IOCTL, &si) < 0 ||
        !find_eptdev("to-amp-sink", dev, sizeof(dev), 5000)) {
        check(0, "an endpoint to amp-sink");
        return 1;
    }
    int sfd = open(dev, O_RDWR);
    int ns = 20000;
    memset(buf, 0x44, MAX_PAYLOAD);
    double ts = now_s();
    for (int i = 0; i < ns; i++)
        if (write(sfd, buf, MAX_PAYLOAD) < 0)
            break;
    int synced = write(fd, "sync", 4) == 4 && recv_msg(fd, buf, sizeof(buf), 10000) == 4;
    double dts = now_s() - ts;
    printf("bench: one way %d B messages, Linux -> amp (sink): %.0f msg/s, %.1f MB/s%s\n",
           MAX_PAYLOAD, ns / dts, ns * (double)MAX_PAYLOAD / dts / 1e6,
           synced ? "" : " (no sync echo)");
    close(sfd);
    close(ctrl);

    /* both ways: Linux writes as fast as the ring takes them; amp echoes,
     * and a reader process drains the echoes so the ring never stalls */
    int n = 20000;
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < n; i++)
            if (recv_msg(fd, buf, sizeof(buf), 10000) < 0)
                _exit(1);
        _exit(0);
    }
    double t = now_s();
    memset(buf, 0x33, MAX_PAYLOAD);
    for (int i = 0; i < n; i++)
        if (write(fd, buf, MAX_PAYLOAD) < 0)
            break;
    int st = 0;
    waitpid(pid, &st, 0);
    double dt = now_s() - t;
    printf("bench: echo stream %d B messages, Linux -> amp -> Linux: %.0f msg/s, %.1f MB/s "
           "each way%s\n",
           MAX_PAYLOAD, n / dt, n * (double)MAX_PAYLOAD / dt / 1e6,
           WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "" : " (reader failed)");
    close(fd);
    return 0;
}

/* Two host processes ring each other's eventfd: one round trip is two
 * wake-ups, the least a doorbell transport can cost. */
static int test_eventfd(void)
{
    int a = eventfd(0, 0), b = eventfd(0, 0), n = 20000;
    uint64_t v = 1;
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < n; i++)
            if (read(a, &v, 8) != 8 || write(b, &v, 8) != 8)
                _exit(1);
        _exit(0);
    }
    double t = now_s();
    for (int i = 0; i < n; i++)
        if (write(a, &v, 8) != 8 || read(b, &v, 8) != 8)
            break;
    double dt = now_s() - t;
    waitpid(pid, NULL, 0);
    printf("bench: eventfd ping-pong between two host processes: %.1f us per round trip\n",
           dt / n * 1e6);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "main") && argc > 2)
        test_main(argv[2]);
    else if (!strcmp(mode, "again"))
        test_again();
    else if (!strcmp(mode, "die"))
        test_die();
    else if (!strcmp(mode, "bench"))
        return test_bench();
    else if (!strcmp(mode, "eventfd"))
        return test_eventfd();
    else {
        fprintf(stderr, "usage: linux_rpmsg main on|off | again | die | bench | eventfd\n");
        return 2;
    }
    printf("linux_rpmsg: %d passed, %d failed\n", passed, failed);
    return failed || !passed ? 1 : 0;
}
