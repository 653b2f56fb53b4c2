/*
 * linux_guard.c - the bound on doorbell fds (ports/linux/amp_guard.c), on
 * its own: an eventfd read or write never waits, whatever the file's
 * O_NONBLOCK says (the frontend shares it), both ways a read can be made
 * (RWF_NOWAIT, or the timer of a kernel before 5.12); and the timer each
 * thread keeps works in any thread, with the signal blocked, in a child of
 * fork(), and goes with its thread. linux_vhost.c tests the same through a
 * frontend.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "amp_guard.h"
#include "amp_test.h"
#include "amp_vhost.h"

#define FULL 0xfffffffffffffffeull /* an eventfd's largest count: a write of 1 waits */

static atomic_llong deadline; /* CLOCK_MONOTONIC s at which the test hangs, or 0 */
static const char *volatile watched; /* the test it is */

/* A hang (an operation that waits for good) ends the whole binary,
 * naming the test, whatever the signal mask (a thread of its own). */
static void *watchdog(void *arg)
{
    (void)arg;
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long long d = atomic_load(&deadline);
        if (d && ts.tv_sec > d) {
            fprintf(stderr, "FAIL: %s hangs\n", watched);
            _exit(1);
        }
        usleep(100000);
    }
    return NULL;
}

/* The test called what starts (it must end within 10 s) or ends (NULL). */
static void watch(const char *what)
{
    static pthread_t t;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (what)
        watched = what;
    atomic_store(&deadline, what ? ts.tv_sec + 10 : 0);
    if (what && !t)
        CHECK_EQ(pthread_create(&t, NULL, watchdog, NULL), 0);
}

/* An eventfd holding count, blocking (the frontend cleared O_NONBLOCK). */
static int blocking_eventfd(uint64_t count)
{
    int fd = eventfd(0, 0);
    if (count)
        CHECK_EQ(write(fd, &count, 8), 8);
    return fd;
}

/* What amp_guard_io did with one 8-byte operation: its result, or
 * -errno. */
static long long io(int fd, bool wr, uint64_t *v)
{
    ssize_t n = amp_guard_io(fd, false, wr, v, 8);
    return n < 0 ? -errno : n;
}

/* Each operation that would wait is cut short (EINTR), the others do
 * what they would; for reads made either way. */
static void check_every_operation(void)
{
    for (int timer = 0; timer < 2; timer++) {
        amp_guard_bound_reads(timer);
        uint64_t v = 0, one = 1;
        int fd = blocking_eventfd(0);
        CHECK_EQ(io(fd, false, &v), -EINTR); /* emptied under us */
        CHECK_EQ(io(fd, true, &one), 8);
        CHECK_EQ(io(fd, false, &v), 8);
        CHECK_EQ(v, 1);
        v = FULL;
        CHECK_EQ(write(fd, &v, 8), 8);
        CHECK_EQ(io(fd, true, &one), -EINTR); /* kept full */
        CHECK_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0); /* as we set it */
        CHECK_EQ(io(fd, true, &one), -EAGAIN);
        CHECK_EQ(io(fd, false, &v), 8);
        CHECK_EQ(v, FULL);
        CHECK_EQ(io(fd, false, &v), -EAGAIN);
        close(fd);
    }
    amp_guard_bound_reads(false);
}

static void test_guard_doorbell_operations_never_wait(void)
{
    watch(__func__);
    amp_guard_use(+1);
    check_every_operation();
    amp_guard_use(-1);
    watch(NULL);
}

static void test_guard_doorbell_bound_holds_with_its_signal_blocked(void)
{
    /* a caller that blocks every signal: the bound unblocks its own for
     * the operation, and gives the mask back as it was */
    watch(__func__);
    amp_guard_use(+1);
    sigset_t all, before, after;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &before);
    check_every_operation();
    pthread_sigmask(SIG_SETMASK, NULL, &after);
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    CHECK(sigismember(&after, AMP_VHOST_SIGNAL));
    amp_guard_use(-1);
    watch(NULL);
}

/* Our process's POSIX timers (/proc/self/timers, one "ID:" line each). */
static int timers(void)
{
    FILE *f = fopen("/proc/self/timers", "r");
    CHECK(f != NULL);
    if (!f)
        return -1;
    char line[128];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        n += strncmp(line, "ID:", 3) == 0;
    fclose(f);
    return n;
}

static void *thread_writes(void *arg)
{
    int fd = *(int *)arg;
    uint64_t one = 1;
    for (int i = 0; i < 10; i++)
        if (io(fd, true, &one) != 8)
            return arg;
    return NULL;
}

static void test_guard_timer_made_once_per_thread_and_deleted_at_its_exit(void)
{
    watch(__func__);
    amp_guard_use(+1);
    int fd = eventfd(0, EFD_NONBLOCK);
    uint64_t one = 1;
    CHECK_EQ(io(fd, true, &one), 8); /* this thread's timer exists from here */
    int mine = timers();
    for (int i = 0; i < 100; i++)
        CHECK_EQ(io(fd, true, &one), 8);
    CHECK_EQ(timers(), mine); /* made once */
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, thread_writes, &fd), 0);
    for (int i = 0; i < 8; i++) {
        void *r = &r;
        pthread_join(t[i], &r);
        CHECK(r == NULL);
    }
    CHECK_EQ(timers(), mine); /* each thread's went with it */
    close(fd);
    amp_guard_use(-1);
    watch(NULL);
}

static void test_guard_child_of_fork_makes_its_own_timer(void)
{
    /* the parent's timer is not the child's: a child that used its id
     * would arm nothing (or a timer of its own), and wait */
    watch(__func__);
    amp_guard_use(+1);
    int fd = eventfd(0, EFD_NONBLOCK);
    uint64_t one = 1;
    CHECK_EQ(io(fd, true, &one), 8);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(5); /* a bound that does not hold ends the child */
        int full = blocking_eventfd(FULL);
        _exit(io(fd, true, &one) == 8 && io(full, true, &one) == -EINTR ? 0 : 1);
    }
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(io(fd, true, &one), 8); /* and the parent's still works */
    close(fd);
    amp_guard_use(-1);
    watch(NULL);
}

AMP_TEST_MAIN(TEST(test_guard_doorbell_operations_never_wait),
              TEST(test_guard_doorbell_bound_holds_with_its_signal_blocked),
              TEST(test_guard_timer_made_once_per_thread_and_deleted_at_its_exit),
              TEST(test_guard_child_of_fork_makes_its_own_timer))
