/*
 * linux_process.c - the host as a user's process meets the world: a
 * terminal's Ctrl-C (SIGINT to the whole process group), a FIFO or a device
 * as the image path, an image whose entry point is outside the core's
 * memory, an endpoint with an explicit dest across a restart.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "amp_host.h"
#include "amp_test.h"

#define FW(name) AMP_FIRMWARE_DIR "/" name

static atomic_int echoes;
static atomic_int sigints;

static int on_echo(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    (void)ept, (void)data, (void)len, (void)src, (void)priv;
    atomic_fetch_add(&echoes, 1);
    return AMP_RX_DONE;
}

static void on_sigint(int sig)
{
    (void)sig;
    atomic_fetch_add(&sigints, 1);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static bool wait_for(atomic_int *v, int want, int ms)
{
    double t0 = now_ms();
    while (atomic_load(v) < want && now_ms() - t0 < ms)
        usleep(500);
    return atomic_load(v) >= want;
}

static bool wait_ready(struct amp_ept *ept, int ms)
{
    double t0 = now_ms();
    while (!amp_ept_is_ready(ept) && now_ms() - t0 < ms)
        usleep(500);
    return amp_ept_is_ready(ept);
}

static int open_host(struct amp_host *h)
{
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    struct amp_host_cfg cfg = {.uart_fd = devnull, .cpu = -1};
    int err = amp_host_open(h, &cfg);
    close(devnull);
    return err;
}

/* A terminal sends SIGINT to every process of its foreground process
 * group: the host handles it, the core must never see it. */
static void test_sigint_to_the_process_group_spares_the_core(void)
{
    static struct amp_host h;
    struct amp_ept ept;
    CHECK_EQ(setpgid(0, 0) == 0 || getpgrp() == getpid(), 1); /* our own group: ctest's stays out */
    struct sigaction sa = {.sa_handler = on_sigint}, old;
    sigaction(SIGINT, &sa, &old);
    CHECK_EQ(open_host(&h), 0);
    CHECK_EQ(amp_ept_create(&ept, &h.rpmsg, "vuart-channel", AMP_ADDR_ANY, AMP_ADDR_ANY, on_echo, NULL), 0);
    CHECK_EQ(amp_host_load(&h, FW("virtual_uart.elf")), 0);
    CHECK_EQ(amp_host_start(&h), 0);
    CHECK(wait_ready(&ept, 5000));
    CHECK_EQ(kill(0, SIGINT), 0); /* Ctrl-C */
    CHECK(wait_for(&sigints, 1, 2000));
    usleep(200 * 1000); /* a core that got it is dead by now */
    CHECK_EQ(amp_host_state(&h), AMP_RPROC_RUNNING);
    int before = atomic_load(&echoes);
    CHECK_EQ(amp_ept_send(&ept, "still", 5, 2000), 5);
    CHECK(wait_for(&echoes, before + 1, 2000));
    amp_host_close(&h);
    sigaction(SIGINT, &old, NULL);
}

/* Opening a FIFO for reading waits for a writer: never open one. */
static void test_fifo_and_device_images_are_refused_at_once(void)
{
    static struct amp_host h;
    char dir[] = "/tmp/amp-fifo-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char fifo[64];
    snprintf(fifo, sizeof(fifo), "%s/fw.elf", dir);
    CHECK_EQ(mkfifo(fifo, 0600), 0);
    CHECK_EQ(open_host(&h), 0);
    double t0 = now_ms();
    CHECK_EQ(amp_host_load(&h, fifo), -EINVAL);
    CHECK(strstr(amp_host_why(&h), "not a regular file") != NULL);
    CHECK_EQ(amp_host_load(&h, "/dev/zero"), -EINVAL);
    CHECK_EQ(amp_host_load(&h, dir), -EINVAL);
    CHECK(now_ms() - t0 < 1000);
    uint64_t size;
    CHECK_EQ(amp_linux_open_image(fifo, &size), -EINVAL);
    CHECK_EQ(amp_linux_open_image("/no/such/file", &size), -ENOENT);
    int fd = amp_linux_open_image(FW("virtual_uart.elf"), &size);
    CHECK(fd >= 0 && size > 0);
    if (fd >= 0)
        close(fd);
    amp_host_close(&h);
    unlink(fifo);
    rmdir(dir);
}

AMP_TEST_MAIN(TEST(test_sigint_to_the_process_group_spares_the_core),
              TEST(test_fifo_and_device_images_are_refused_at_once))
