/*
 * ampy_kernel.h - the binding core's second backend on Linux: the remote
 * processor and its channels as the running kernel drives them, through
 * remoteproc's sysfs files and rpmsg's character devices (ampy_kernel.c:
 * the choice and the endpoints; ampy_kernel_rproc.c: the processor).
 *
 * The Linux platform (ampy_linux.c) keeps the queue lock and descriptors
 * and hands every device and remote-processor call to these ops when the
 * kernel backend is chosen; a binding that links the backend in sets
 * ampy_linux_kernel. Errors are negative errno values, with a sentence
 * naming the file and the cause in why().
 *
 * Settings:
 *   AMP_PLATFORM     "kernel" or "virtual"; unset: kernel when the machine
 *                    has a processor in /sys/class/remoteproc or a
 *                    /dev/rpmsg_ctrl* device, else virtual
 *   AMP_KERNEL_ROOT  tests only: a directory standing for "/" (a model of
 *                    sysfs, /dev and /lib/firmware)
 */
#ifndef AMPY_KERNEL_H
#define AMPY_KERNEL_H

#include "ampy.h"

struct ampy_kernel;

struct ampy_kernel_ops {
    /* The backend the settings and the machine ask for: "kernel",
     * "virtual", or NULL (AMP_PLATFORM has another value). */
    const char *(*choose)(void);
    /* Force a backend (NULL: back to the settings). 0 or -EINVAL. */
    int (*force)(const char *name);
    /* Set up endpoints on the kernel's rpmsg (sets d->link): 0 or -errno. */
    int (*open)(struct ampy_dev *d, struct ampy_kernel **k);
    void (*close)(struct ampy_kernel *k);
    /* The remote processor, as the ampy_rproc_* calls of ampy.h. */
    int (*rproc_select)(struct ampy_kernel *k, const char *name, int index);
    int (*rproc_load)(struct ampy_kernel *k, const char *path);
    int (*rproc_attach)(struct ampy_kernel *k);
    int (*rproc_start)(struct ampy_kernel *k);
    int (*rproc_stop)(struct ampy_kernel *k);
    int (*rproc_shutdown)(struct ampy_kernel *k);
    enum amp_rproc_state (*rproc_state)(struct ampy_kernel *k);
    const char *(*rproc_state_name)(struct ampy_kernel *k);
    int (*rproc_trace)(struct ampy_kernel *k, uint32_t i, char *buf, size_t n);
    const char *(*why)(struct ampy_kernel *k);
};

extern const struct ampy_kernel_ops ampy_kernel_ops;

/* Set by a binding that links the kernel backend in (NULL: virtual only). */
extern const struct ampy_kernel_ops *ampy_linux_kernel;

/* ==== Shared by the two files (not for the platform) ==== */

struct ampy_krproc {
    char dir[4096];       /* the chosen .../remoteprocN, "" = not chosen yet */
    char fw_copy[4352];   /* the image we put in the search path, "" = none */
    bool stopping;        /* we wrote "stop": channels going away are not a crash */
    char state[24];       /* last state read */
};

/* The model root for tests ("" = the real one), and a path under it. */
const char *ampy_kernel_root(void);
int ampy_kernel_path(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Read a small sysfs file: its first line, NUL-terminated. Bytes or -errno. */
int ampy_kernel_read_line(const char *path, char *buf, size_t n);

/* The rproc half's state in k, and where its sentences go. */
struct ampy_krproc *ampy_kernel_rproc(struct ampy_kernel *k);
void ampy_kernel_why(struct ampy_kernel *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int ampy_krproc_select(struct ampy_kernel *k, const char *name, int index);
int ampy_krproc_load(struct ampy_kernel *k, const char *path);
int ampy_krproc_attach(struct ampy_kernel *k);
int ampy_krproc_start(struct ampy_kernel *k);
int ampy_krproc_stop(struct ampy_kernel *k);
int ampy_krproc_shutdown(struct ampy_kernel *k);
enum amp_rproc_state ampy_krproc_state(struct ampy_kernel *k);
const char *ampy_krproc_state_name(struct ampy_kernel *k);
int ampy_krproc_trace(struct ampy_kernel *k, uint32_t i, char *buf, size_t n);

#endif /* AMPY_KERNEL_H */
