/*
 * linux_signals.c - the host's own threads never take an asynchronous
 * signal: each blocks them (so Ctrl-C's SIGINT always reaches a thread of
 * the program, where an interpreter's handler may jump), a signal sent to
 * such a thread directly is harmless, and the host goes on echoing.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "amp_host.h"
#include "amp_test.h"

#define FW(name) AMP_FIRMWARE_DIR "/" name

static atomic_int echoes;
static atomic_int sigints;
static atomic_long sigint_tid; /* the thread that ran the last handler */

static void on_sigint(int sig)
{
    (void)sig;
    atomic_store(&sigint_tid, (long)syscall(SYS_gettid));
    atomic_fetch_add(&sigints, 1);
}

static int on_echo(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    (void)ept, (void)data, (void)len, (void)src, (void)priv;
    atomic_fetch_add(&echoes, 1);
    return AMP_RX_DONE;
}

static bool wait_for(atomic_int *v, int at_least, int ms)
{
    for (int i = 0; i < ms * 5 && atomic_load(v) < at_least; i++)
        usleep(200);
    return atomic_load(v) >= at_least;
}

/* The blocked-signal mask of thread tid, from /proc. */
static unsigned long long blocked_mask(long tid)
{
    char path[64], line[256];
    unsigned long long m = 0;
    snprintf(path, sizeof(path), "/proc/self/task/%ld/status", tid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "SigBlk:", 7))
            m = strtoull(line + 7, NULL, 16);
    if (f)
        fclose(f);
    return m;
}

/* The process's threads other than the caller: up to n ids. */
static int other_threads(long *tids, int n)
{
    long self = (long)syscall(SYS_gettid);
    int k = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    while (d && (de = readdir(d)) && k < n) {
        long t = strtol(de->d_name, NULL, 10);
        if (t > 0 && t != self)
            tids[k++] = t;
    }
    if (d)
        closedir(d);
    return k;
}

static bool echo(struct amp_ept *ept)
{
    int before = atomic_load(&echoes);
    for (int i = 0; i < 10000 && !amp_ept_is_ready(ept); i++)
        usleep(200);
    return amp_ept_send(ept, "ping", 4, 2000) == 4 && wait_for(&echoes, before + 1, 2000);
}

static void test_host_threads_block_async_signals_and_survive_them(void)
{
    static struct amp_host h;
    struct amp_ept ept;
    struct sigaction sa = {.sa_handler = on_sigint}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    struct amp_host_cfg cfg = {.uart_fd = devnull, .cpu = -1};
    CHECK_EQ(amp_host_open(&h, &cfg), 0);
    close(devnull);
    CHECK_EQ(amp_ept_create(&ept, &h.rpmsg, "vuart-channel", AMP_ADDR_ANY, AMP_ADDR_ANY, on_echo, NULL), 0);
    CHECK_EQ(amp_host_load(&h, FW("virtual_uart.elf")), 0);
    CHECK_EQ(amp_host_start(&h), 0);
    CHECK(echo(&ept));

    long tids[16];
    int n = other_threads(tids, 16);
    CHECK(n >= 1); /* the service thread */
    const unsigned long long want = (1ull << (SIGINT - 1)) | (1ull << (SIGTERM - 1)) |
                                    (1ull << (SIGQUIT - 1)) | (1ull << (SIGHUP - 1)) |
                                    (1ull << (SIGUSR1 - 1)) | (1ull << (SIGALRM - 1));
    for (int i = 0; i < n; i++) {
        unsigned long long m = blocked_mask(tids[i]);
        if ((m & want) != want)
            printf("  thread %ld blocks %#llx, not all of %#llx\n", tids[i], m, want);
        CHECK_EQ(m & want, want);
        CHECK_EQ(m & (1ull << (SIGSEGV - 1)), 0); /* faults stay deliverable */
    }

    /* SIGINT sent to a host thread itself: stays pending there, no handler runs */
    for (int i = 0; i < n; i++)
        CHECK_EQ(syscall(SYS_tgkill, getpid(), tids[i], SIGINT), 0);
    usleep(20000);
    CHECK_EQ(atomic_load(&sigints), 0);
    CHECK(echo(&ept));

    /* the terminal's Ctrl-C reaches the virtual core too (same process
     * group): it must not die of it */
    CHECK(h.vc.pid > 0);
    CHECK_EQ(kill(h.vc.pid, SIGINT), 0);
    CHECK_EQ(kill(h.vc.pid, SIGQUIT), 0);
    usleep(50000);
    CHECK_EQ(amp_host_state(&h), AMP_RPROC_RUNNING);
    CHECK(echo(&ept));

    /* SIGINT to the process: always this thread's handler */
    long self = (long)syscall(SYS_gettid);
    for (int i = 1; i <= 50; i++) {
        CHECK_EQ(kill(getpid(), SIGINT), 0);
        CHECK(wait_for(&sigints, i, 1000));
        CHECK_EQ(atomic_load(&sigint_tid), self);
    }
    CHECK(echo(&ept));
    amp_ept_destroy(&ept);
    amp_host_close(&h);
    sigaction(SIGINT, &old, NULL);
}

AMP_TEST_MAIN(TEST(test_host_threads_block_async_signals_and_survive_them))
