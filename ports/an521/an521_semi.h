/*
 * an521_semi.h - ARM semihosting for QEMU's mps2-an521 (QEMU
 * -semihosting-config enable=on,target=native): files of the PC's file
 * system, the command line, QEMU's exit status. Used by the host runtime
 * and by MicroPython's an521 platform to load firmware by path.
 */
#ifndef AN521_SEMI_H
#define AN521_SEMI_H

#include <stddef.h>
#include <stdint.h>

/* The command line (arg=... of -semihosting-config, space-separated) in
 * argv[0..max-1]; returns argc, or -1 without semihosting. */
int an521_args(char **argv, int max);

/* End QEMU with this exit status (SYS_EXIT_EXTENDED). */
_Noreturn void an521_exit(int status);

/* A file of the PC's file system, read-only, for amp_rproc_load():
 * an521_file_open fills f and returns 0, or -ENOENT; an521_file_read is
 * an amp_elf_read_fn (ctx = f). */
struct an521_file {
    int fd;
    uint32_t size;
};
int an521_file_open(struct an521_file *f, const char *path);
int an521_file_read(void *ctx, uint64_t off, void *buf, size_t len);
void an521_file_close(struct an521_file *f);

#endif /* AN521_SEMI_H */
