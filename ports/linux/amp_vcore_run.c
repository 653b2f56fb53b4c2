/*
 * amp_vcore_run.c - the Linux virtual core's runner: map the core's
 * memory, put the doorbells where the firmware expects them, lock the
 * process into strict seccomp and jump to the firmware. Never returns.
 *
 *     amp-vcore-run ENTRY DA:SIZE:OFFSET [DA:SIZE:OFFSET...]
 *
 * ENTRY is 0x-hex or decimal; a region is three hex
 * numbers (0x optional): map SIZE bytes of the memory file at OFFSET to
 * address DA. Descriptors, as the host hands them over and as the
 * firmware gets them (amp_vcore_abi.h):
 *
 *     host                           firmware
 *     0  anything                    closed
 *     1  UART                        1  UART
 *     2  runner diagnostics          closed, last
 *     3  memory file (memfd)         closed, once everything is mapped
 *     4  doorbell in (host -> core)  3
 *     5  doorbell out (core -> host) 4
 *     6 and up                       closed
 *
 * Main invariant: nothing runs after the seccomp call but the jump; from
 * there only read, write, exit and rt_sigreturn exist, and glibc (whose
 * exit() is exit_group) must not be entered again. Strict mode also sets
 * the kernel's TIF_NOTSC, so rdtsc faults: the core has no clock.
 *
 * Exit status 127: bad arguments or a failed setup step (with a message
 * on fd 2); 126: strict seccomp unavailable (fd 2 is closed by then). Any
 * other death belongs to the firmware. A firmware entry point that
 * returns lands on ud2 (SIGILL), which the host reports as a crash.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FAIL 127
#define MAX_REGIONS 16 /* the ABI has two; room to grow, no allocation */

struct region {
    uint64_t da, size, off;
};

static _Noreturn void die(const char *what, const char *arg)
{
    fprintf(stderr, "amp-vcore-run: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
    exit(FAIL);
}

/* Parse one number: hex if it starts with 0x (or if hex is set), else
 * decimal. Unlike bare strtoull: no sign, no blanks, no octal, no
 * overflow, digits required. Returns the character after it or NULL. */
static const char *num(const char *s, int hex, uint64_t *v)
{
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        hex = 1;
    }
    const char *digits = hex ? "0123456789abcdefABCDEF" : "0123456789";
    if (!*s || !strchr(digits, *s))
        return NULL; /* also refuses "-1", " 1", "+1" */
    char *end;
    errno = 0;
    *v = strtoull(s, &end, hex ? 16 : 10);
    return errno ? NULL : end;
}

static void parse_region(const char *arg, struct region *r)
{
    const char *p = num(arg, 1, &r->da);
    if (p && *p == ':')
        p = num(p + 1, 1, &r->size);
    else
        p = NULL;
    if (p && *p == ':')
        p = num(p + 1, 1, &r->off);
    else
        p = NULL;
    long page = sysconf(_SC_PAGESIZE);
    if (!p || *p)
        die("bad region, want DA:SIZE:OFFSET in hex", arg);
    if (!r->da || !r->size || (r->da | r->size | r->off) % (uint64_t)page ||
        r->size > UINT64_MAX - r->da || r->off > (uint64_t)INT64_MAX - r->size)
        die("region is empty, not page-aligned or wraps", arg);
}

/* Close every descriptor from lo up. */
static void close_from(unsigned lo)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, lo, ~0u, 0u) == 0)
        return;
#endif
    struct rlimit rl; /* kernels before 5.9: the slow way */
    rlim_t max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? rl.rlim_cur : 65536;
    for (unsigned fd = lo; fd < max; fd++)
        close((int)fd);
}

int main(int argc, char **argv)
{
    struct region reg[MAX_REGIONS];
    uint64_t entry;
    const char *p;
    int n = argc - 2;

    /* ---- 1. arguments, all checked before anything is touched ---- */
    if (n < 1 || n > MAX_REGIONS)
        die("usage: amp-vcore-run ENTRY DA:SIZE:OFFSET... (1 to 16 regions)", NULL);
    if (!(p = num(argv[1], 0, &entry)) || *p)
        die("bad ENTRY", argv[1]);
    int entry_ok = 0;
    for (int i = 0; i < n; i++) {
        parse_region(argv[2 + i], &reg[i]);
        for (int j = 0; j < i; j++)
            if (reg[i].da < reg[j].da + reg[j].size && reg[j].da < reg[i].da + reg[i].size)
                die("regions overlap", argv[2 + i]);
        entry_ok |= entry >= reg[i].da && entry - reg[i].da < reg[i].size;
    }
    if (!entry_ok)
        die("ENTRY is outside every region", argv[1]);

    /* ---- 2. die with the host; it may be gone already ---- */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        die("PR_SET_PDEATHSIG", strerror(errno));
    if (getppid() == 1)
        die("the host is gone", NULL);

    /* ---- 3. memory, while fd 3 is still the memory file ---- */
    struct stat st;
    if (fstat(3, &st) != 0)
        die("fd 3 (memory file)", strerror(errno));
    for (int i = 0; i < n; i++) {
        if (reg[i].off + reg[i].size > (uint64_t)st.st_size)
            die("region runs past the end of the memory file", argv[2 + i]);
        void *want = (void *)(uintptr_t)reg[i].da;
        void *got = mmap(want, reg[i].size, PROT_READ | PROT_WRITE | PROT_EXEC,
                         MAP_SHARED | MAP_FIXED_NOREPLACE, 3, (off_t)reg[i].off);
        if (got == MAP_FAILED)
            die(errno == EEXIST ? "region address is already in use" : strerror(errno), argv[2 + i]);
        if (got != want) /* kernels before 4.17 take the flag as a mere hint */
            die("kernel did not map the region at DA (no MAP_FIXED_NOREPLACE?)", argv[2 + i]);
    }

    /* ---- 4. descriptors, shifted down by one: each dup2 target was
     * freed by the step before it (3 by close, then 4 by the dup2 that
     * copied it to 3), so no descriptor still needed is clobbered. A
     * dup2 onto 3 before the mmaps would have replaced the memory. ---- */
    if (close(3) != 0 || dup2(4, 3) != 3 || dup2(5, 4) != 4)
        die("doorbells: fds 4 and 5 must be open", strerror(errno));
    close_from(5);
    close(0);

    /* ---- 5. no core files, no blocked signals inherited from the host:
     * a fault must kill at once. The terminal's Ctrl-C and Ctrl-\ go to
     * the whole foreground process group: they are the host program's,
     * not a reason for its remote core to die. ---- */
    struct rlimit nocore = {0, 0};
    sigset_t none;
    sigemptyset(&none);
    if (setrlimit(RLIMIT_CORE, &nocore) != 0 || sigprocmask(SIG_SETMASK, &none, NULL) != 0 ||
        signal(SIGINT, SIG_IGN) == SIG_ERR || signal(SIGQUIT, SIG_IGN) == SIG_ERR)
        die("rlimit/sigmask", strerror(errno));

    /* ---- 6. the sandbox; fd 2 goes last, after the last message ---- */
    close(2);
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0)
        _exit(126); /* not sandboxed: exit_group is still allowed */

    /* ---- 7. enter the firmware: rdi = 0 (reserved), the stack
     * 16-byte aligned at the call as the SysV ABI wants (crt0 moves to
     * its own stack). A return hits ud2. ---- */
    __asm__ volatile("and $-16, %%rsp\n\t"
                     "call *%[entry]\n\t"
                     "ud2"
                     :
                     : "D"(0), [entry] "r"(entry)
                     : "memory");
    __builtin_unreachable();
}
