/*
 * guard_bench.c - amp-guard-bench: what the bound on vhost doorbells
 * (ports/linux/amp_guard.c) costs per eventfd operation, next to the same
 * operation without it.
 *
 * Main invariant: every figure is the median over RUNS runs of one loop
 * of N pairs (a write of 1, then a read) on one non-blocking eventfd in
 * one thread, so that each pair finds the eventfd as the last left it;
 * a pair does through amp_guard_io only the operation the figure names,
 * the other one plainly, and the figure is that pair's time less the
 * plain pair's (measured in the same run).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "amp_guard.h"

#define N 100000
#define RUNS 9

static int fd;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One operation, guarded or not; false if it did not move 8 bytes. */
static bool op(bool guarded, bool wr)
{
    uint64_t v = 1;
    ssize_t n = guarded ? amp_guard_io(fd, false, wr, &v, 8) : wr ? write(fd, &v, 8) : read(fd, &v, 8);
    return n == 8;
}

/* ns per pair, guarding the write (gw) and/or the read (gr); -1: failed. */
static double loop(bool gw, bool gr)
{
    double t0 = now_ns();
    for (int i = 0; i < N; i++)
        if (!op(gw, true) || !op(gr, false))
            return -1;
    return (now_ns() - t0) / N;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    static const struct {
        const char *name;
        bool gw, gr, timer_reads;
    } fig[] = {
        {"write, guarded", true, false, false},
        {"read, guarded (RWF_NOWAIT)", false, true, false},
        {"read, guarded (timer, as before Linux 5.12)", false, true, true},
    };
    enum { F = sizeof(fig) / sizeof(fig[0]) };
    double plain[RUNS], extra[F][RUNS];
    fd = eventfd(0, EFD_NONBLOCK);
    amp_guard_use(+1);
    for (int r = 0; r < RUNS; r++) {
        plain[r] = loop(false, false);
        for (int f = 0; f < F; f++) {
            amp_guard_bound_reads(fig[f].timer_reads);
            double t = loop(fig[f].gw, fig[f].gr);
            if (t < 0 || plain[r] < 0) {
                fprintf(stderr, "amp-guard-bench: an operation failed (%s)\n", fig[f].name);
                return 1;
            }
            extra[f][r] = t - plain[r];
        }
        amp_guard_bound_reads(false);
    }
    amp_guard_use(-1);
    qsort(plain, RUNS, sizeof(plain[0]), cmp);
    printf("eventfd write + read, plain: %.3f us per pair (median of %d runs of %d; runs %.3f..%.3f)\n",
           plain[RUNS / 2] / 1000, RUNS, N, plain[0] / 1000, plain[RUNS - 1] / 1000);
    for (int f = 0; f < F; f++) {
        qsort(extra[f], RUNS, sizeof(extra[f][0]), cmp);
        printf("%-44s +%.3f us per operation (runs %+.3f..%+.3f)\n", fig[f].name,
               extra[f][RUNS / 2] / 1000, extra[f][0] / 1000, extra[f][RUNS - 1] / 1000);
    }
    return 0;
}
