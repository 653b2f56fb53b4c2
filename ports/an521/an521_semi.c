/*
 * an521_semi.c - ARM semihosting on QEMU (an521_semi.h): the PC's files,
 * the command line and QEMU's exit status. Every call is one BKPT 0xAB
 * with its argument block on our stack; QEMU reads and writes that block
 * and the buffers it names, so both stay valid for the call.
 */
#include <errno.h>
#include <stdint.h>

#include "an521_semi.h"

#define SYS_OPEN 0x01u
#define SYS_CLOSE 0x02u
#define SYS_READ 0x06u
#define SYS_SEEK 0x0Au
#define SYS_FLEN 0x0Cu
#define SYS_GET_CMDLINE 0x15u
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

static int32_t semi(uint32_t op, void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (int32_t)r0;
}

_Noreturn void an521_exit(int status)
{
    uint32_t a[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    for (;;)
        semi(SYS_EXIT_EXTENDED, a);
}

int an521_args(char **argv, int max)
{
    static char line[1024];
    uint32_t a[2] = {(uint32_t)(uintptr_t)line, sizeof(line) - 1u};
    if (semi(SYS_GET_CMDLINE, a) != 0)
        return -1;
    line[a[1] < sizeof(line) ? a[1] : sizeof(line) - 1u] = '\0';
    int argc = 0;
    for (char *p = line; *p && argc < max;) {
        while (*p == ' ')
            *p++ = '\0';
        if (!*p)
            break;
        argv[argc++] = p;
        while (*p && *p != ' ')
            p++;
    }
    return argc;
}

int an521_file_open(struct an521_file *f, const char *path)
{
    size_t len = 0;
    while (path[len])
        len++;
    uint32_t a[3] = {(uint32_t)(uintptr_t)path, 1 /* "rb" */, (uint32_t)len};
    f->fd = semi(SYS_OPEN, a);
    if (f->fd < 0)
        return -ENOENT;
    uint32_t b[1] = {(uint32_t)f->fd};
    int32_t size = semi(SYS_FLEN, b);
    if (size < 0) {
        an521_file_close(f);
        return -EIO;
    }
    f->size = (uint32_t)size;
    return 0;
}

int an521_file_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    struct an521_file *f = ctx;
    if (f->fd < 0 || off > f->size || len > f->size - off)
        return -EIO;
    uint32_t s[2] = {(uint32_t)f->fd, (uint32_t)off};
    if (semi(SYS_SEEK, s) != 0)
        return -EIO;
    uint32_t r[3] = {(uint32_t)f->fd, (uint32_t)(uintptr_t)buf, (uint32_t)len};
    return semi(SYS_READ, r) == 0 ? 0 : -EIO; /* SYS_READ returns the bytes NOT read */
}

void an521_file_close(struct an521_file *f)
{
    if (f->fd >= 0) {
        uint32_t a[1] = {(uint32_t)f->fd};
        semi(SYS_CLOSE, a);
    }
    f->fd = -1;
}
