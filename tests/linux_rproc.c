/*
 * linux_rproc.c - remoteproc end to end on the Linux virtual core, with
 * the example firmware: both resource-table flows, the life cycle and its
 * illegal transitions, 100 restarts, crashes, attach, trace buffers.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "amp_host.h"
#include "amp_test.h"

#define FW(name) AMP_FIRMWARE_DIR "/" name

struct echo {
    atomic_int count;
    atomic_int unbinds;
    char last[64];
    atomic_int crashes;
    struct timespec crash_seen;
};

static int on_echo(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    struct echo *e = priv;
    (void)ept;
    (void)src;
    size_t n = len < sizeof(e->last) - 1 ? len : sizeof(e->last) - 1;
    memcpy(e->last, data, n);
    e->last[n] = '\0';
    atomic_fetch_add(&e->count, 1);
    return AMP_RX_DONE;
}

static void on_unbind(struct amp_ept *ept)
{
    atomic_fetch_add(&((struct echo *)ept->priv)->unbinds, 1);
}

static void on_crash(struct amp_host *h, void *priv)
{
    struct echo *e = priv;
    (void)h;
    clock_gettime(CLOCK_MONOTONIC, &e->crash_seen);
    atomic_fetch_add(&e->crashes, 1);
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Wait up to ms for cond to hold; true if it did. */
#define WAIT_FOR(cond, ms)                                                   \
    ({                                                                       \
        struct timespec t0_;                                                 \
        clock_gettime(CLOCK_MONOTONIC, &t0_);                                \
        while (!(cond) && ms_since(&t0_) < (ms))                             \
            usleep(200);                                                     \
        (bool)(cond);                                                        \
    })

static int open_host(struct amp_host *h, struct echo *e)
{
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    struct amp_host_cfg cfg = {.uart_fd = devnull, .cpu = -1, .on_crash = on_crash, .priv = e};
    int err = amp_host_open(h, &cfg);
    close(devnull); /* the core got its own copy */
    return err;
}

/* Send "ping N" and wait for the echo. */
static bool echo_once(struct amp_ept *ept, struct echo *e, int n)
{
    char msg[32];
    int len = snprintf(msg, sizeof(msg), "ping %d", n);
    int before = atomic_load(&e->count);
    if (!WAIT_FOR(amp_ept_is_ready(ept), 2000))
        return false;
    if (amp_ept_send(ept, msg, (size_t)len, 2000) != len)
        return false;
    return WAIT_FOR(atomic_load(&e->count) > before, 2000) && !strcmp(e->last, msg);
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

static void flow(const char *fw)
{
    static struct amp_host h;
    struct echo e = {0};
    struct amp_ept ept;
    CHECK_EQ(open_host(&h, &e), 0);
    /* the spec's order: the endpoint exists before the remote does */
    CHECK_EQ(amp_ept_create(&ept, &h.rpmsg, "vuart-channel", AMP_ADDR_ANY, AMP_ADDR_ANY, on_echo, &e), 0);
    CHECK_EQ(amp_host_load(&h, fw), 0);
    CHECK_EQ(amp_host_state(&h), AMP_RPROC_READY);
    CHECK_EQ(amp_host_start(&h), 0);
    CHECK_EQ(amp_host_state(&h), AMP_RPROC_RUNNING);
    for (int i = 0; i < 10; i++)
        CHECK(echo_once(&ept, &e, i));
    char trace[256];
    CHECK(amp_host_trace(&h, 0, trace, sizeof(trace)) > 0);
    CHECK(strstr(trace, "start") != NULL);
    amp_host_close(&h);
}

static void test_rproc_firmware_table_flow_echoes(void)
{
    flow(FW("virtual_uart.elf"));
}

static void test_rproc_host_table_flow_echoes(void)
{
    flow(FW("virtual_uart_hosttable.elf"));
}

static void test_rproc_100_restarts_bind_and_echo_without_leaks(void)
{
    static struct amp_host h;
    struct echo e = {0};
    struct amp_ept ept;
    int fds = open_fds();
    CHECK_EQ(open_host(&h, &e), 0);
    CHECK_EQ(amp_ept_create(&ept, &h.rpmsg, "vuart-channel", AMP_ADDR_ANY, AMP_ADDR_ANY, on_echo, &e), 0);
    amp_ept_set_unbind_cb(&ept, on_unbind);
    CHECK_EQ(amp_host_load(&h, FW("virtual_uart.elf")), 0);
    int ok = 0;
    for (int cycle = 0; cycle < 100; cycle++) {
        if (amp_host_start(&h) != 0)
            break;
        ok += echo_once(&ept, &e, cycle);
        if (amp_host_stop(&h) != 0 || amp_ept_is_ready(&ept))
            break;
    }
    CHECK_EQ(ok, 100);
    CHECK_EQ(atomic_load(&e.unbinds), 100);
    CHECK_EQ(amp_host_state(&h), AMP_RPROC_STOPPED);
    CHECK_EQ(h.vc.starts, 100);
    struct amp_rpmsg_stats st;
    amp_rpmsg_get_stats(&h.rpmsg, &st);
    CHECK_EQ(st.ring_errors + st.msg_errors, 0);
    amp_host_close(&h);
    CHECK_EQ(open_fds(), fds); /* every memfd, eventfd, pidfd given back */
}

static void test_rproc_illegal_transitions_are_refused(void)
{
    static struct amp_host h;
    struct echo e = {0};
    CHECK_EQ(open_host(&h, &e), 0);
    CHECK_EQ(amp_host_start(&h), -EINVAL); /* nothing loaded */
    CHECK_EQ(amp_host_stop(&h), -EINVAL);
    CHECK_EQ(amp_host_load(&h, FW("virtual_uart.elf")), 0);
    CHECK_EQ(amp_host_stop(&h), -EINVAL); /* loaded, not running */
    CHECK_EQ(amp_host_attach(&h, 0x10001000), 0); /* loaded, not running: use what is in memory */
    CHECK_EQ(amp_host_state(&h), AMP_RPROC_ATTACHED);
    CHECK_EQ(amp_host_start(&h), 0);
    CHECK_EQ(amp_host_start(&h), -EBUSY);
    CHECK_EQ(amp_host_load(&h, FW("virtual_uart.elf")), -EBUSY);
    CHECK_EQ(amp_host_attach(&h, 0x10001000), -EBUSY);
    CHECK_EQ(amp_host_stop(&h), 0);
    CHECK_EQ(amp_host_stop(&h), -EINVAL);
    CHECK_EQ(amp_host_shutdown(&h), 0);
    CHECK_EQ(amp_host_shutdown(&h), 0); /* harmless twice */
    CHECK_EQ(amp_host_state(&h), AMP_RPROC_OFFLINE);
    CHECK_EQ(amp_host_start(&h), -EINVAL);
    amp_host_close(&h);
}

static void test_rproc_bad_images_give_clean_errors(void)
{
    static struct amp_host h;
    struct echo e = {0};
    CHECK_EQ(open_host(&h, &e), 0);
    CHECK_EQ(amp_host_load(&h, FW("no-such-firmware.elf")), -ENOENT);
    CHECK(strstr(amp_host_why(&h), "no-such-firmware.elf") != NULL);
    CHECK_EQ(amp_host_load(&h, "/proc/self/status"), -ENOEXEC);
    CHECK(strstr(amp_host_why(&h), "ELF") != NULL);
    CHECK_EQ(amp_host_load(&h, AMP_FIRMWARE_DIR), -EINVAL); /* a directory */
    CHECK_EQ(amp_host_state(&h), AMP_RPROC_OFFLINE);
    amp_host_close(&h);
}

static void test_rproc_crash_unbinds_and_restart_rebinds(void)
{
    static struct amp_host h;
    struct echo e = {0};
    struct amp_ept ept;
    CHECK_EQ(open_host(&h, &e), 0);
    CHECK_EQ(amp_ept_create(&ept, &h.rpmsg, "vuart-channel", AMP_ADDR_ANY, AMP_ADDR_ANY, on_echo, &e), 0);
    amp_ept_set_unbind_cb(&ept, on_unbind);
    static const char *const ways[] = {"segv", "exit", "syscall", "abort"};
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(amp_host_load(&h, FW("crash.elf")), 0);
        CHECK_EQ(amp_host_start(&h), 0);
        CHECK(echo_once(&ept, &e, i));
        int crashes = atomic_load(&e.crashes);
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        CHECK(amp_ept_send(&ept, ways[i], strlen(ways[i]), 1000) > 0);
        CHECK(WAIT_FOR(atomic_load(&e.crashes) > crashes, 1000));
        /* seen within 50 ms of the doomed message (the send itself included) */
        double latency = (double)(e.crash_seen.tv_sec - t0.tv_sec) * 1e3 +
                         (double)(e.crash_seen.tv_nsec - t0.tv_nsec) / 1e6;
        CHECK(latency < 50.0);
        CHECK_EQ(amp_host_state(&h), AMP_RPROC_CRASHED);
        CHECK(!amp_ept_is_ready(&ept));
        CHECK_EQ(atomic_load(&e.unbinds), 2 * i + 1); /* each earlier round: a crash and a stop */
        CHECK(strstr(amp_host_why(&h), "crashed") != NULL);
        CHECK_EQ(amp_ept_send(&ept, "x", 1, 0), -ENOTCONN);
        /* good firmware binds the kept endpoint again */
        CHECK_EQ(amp_host_load(&h, FW("virtual_uart.elf")), 0);
        CHECK_EQ(amp_host_start(&h), 0);
        CHECK(echo_once(&ept, &e, 100 + i));
        CHECK_EQ(amp_host_stop(&h), 0);
    }
    /* a crashed remote restarts from its image too */
    CHECK_EQ(amp_host_load(&h, FW("crash.elf")), 0);
    CHECK_EQ(amp_host_start(&h), 0);
    CHECK(echo_once(&ept, &e, 200));
    kill(h.vc.pid, SIGKILL);
    CHECK(WAIT_FOR(amp_host_state(&h) == AMP_RPROC_CRASHED, 1000));
    CHECK_EQ(amp_host_start(&h), 0);
    CHECK(echo_once(&ept, &e, 201));
    amp_host_close(&h);
}

static void test_rproc_attach_runs_an_image_already_in_memory(void)
{
    static struct amp_host h;
    struct echo e = {0};
    struct amp_ept ept;
    CHECK_EQ(open_host(&h, &e), 0);
    CHECK_EQ(amp_ept_create(&ept, &h.rpmsg, "vuart-channel", AMP_ADDR_ANY, AMP_ADDR_ANY, on_echo, &e), 0);
    /* put an image in the core's memory behind remoteproc's back, as a
     * boot loader would, then attach to its entry point */
    int fd = open(FW("virtual_uart_hosttable.elf"), O_RDONLY | O_CLOEXEC);
    struct amp_elf elf = {.read = amp_linux_file_read, .read_ctx = (void *)(intptr_t)fd,
                          .size = (uint64_t)lseek(fd, 0, SEEK_END)};
    CHECK_EQ(amp_elf_load(&elf, &h.port), 0);
    close(fd);
    CHECK_EQ(amp_host_attach(&h, elf.entry), 0);
    CHECK_EQ(amp_host_state(&h), AMP_RPROC_ATTACHED);
    CHECK_EQ(amp_host_start(&h), 0);
    CHECK(echo_once(&ept, &e, 1));
    CHECK_EQ(amp_host_stop(&h), 0);
    CHECK_EQ(amp_host_start(&h), 0); /* restarted in place: no image to reload */
    CHECK(echo_once(&ept, &e, 2));
    amp_host_close(&h);
}

static void test_rproc_endpoint_created_after_start_binds(void)
{
    static struct amp_host h;
    struct echo e = {0};
    struct amp_ept ept;
    CHECK_EQ(open_host(&h, &e), 0);
    CHECK_EQ(amp_host_load(&h, FW("virtual_uart.elf")), 0);
    CHECK_EQ(amp_host_start(&h), 0);
    usleep(100 * 1000); /* the remote has announced by now */
    CHECK_EQ(amp_ept_create(&ept, &h.rpmsg, "vuart-channel", AMP_ADDR_ANY, AMP_ADDR_ANY, on_echo, &e), 0);
    CHECK(echo_once(&ept, &e, 1));
    amp_host_close(&h);
}

AMP_TEST_MAIN(TEST(test_rproc_firmware_table_flow_echoes), TEST(test_rproc_host_table_flow_echoes),
              TEST(test_rproc_100_restarts_bind_and_echo_without_leaks),
              TEST(test_rproc_illegal_transitions_are_refused),
              TEST(test_rproc_bad_images_give_clean_errors),
              TEST(test_rproc_crash_unbinds_and_restart_rebinds),
              TEST(test_rproc_attach_runs_an_image_already_in_memory),
              TEST(test_rproc_endpoint_created_after_start_binds))
