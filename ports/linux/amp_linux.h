/*
 * amp_linux.h - the Linux port: eventfd doorbells and shared-memory files.
 *
 * Two processes (or threads) share a memfd mapping and ring each other
 * through a pair of eventfds. The port comes in two modes:
 *
 *   single-threaded: wait() sleeps in poll() on our doorbell. The one
 *       thread that drives the device calls amp_rpmsg_wait() in a loop.
 *   threaded: the port has a mutex, and wait() is a condition variable.
 *       One thread reads the doorbell and calls amp_rpmsg_poll() followed
 *       by amp_linux_port_wake(); any other thread may send and block.
 */
#ifndef AMP_LINUX_H
#define AMP_LINUX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amp/amp.h"

struct amp_linux_port {
    int kick_fd;   /* eventfd we write: the peer's doorbell */
    int wait_fd;   /* eventfd we read: our doorbell */
    bool threaded; /* mutex + condition variable mode */
    bool closing;  /* amp_linux_port_close(): waiters return -ECONNRESET */
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    uint64_t kicks; /* notifications sent, for statistics */
};

/* Set up a port over two eventfds (not owned: the caller closes them). */
int amp_linux_port_init(struct amp_linux_port *lp, int kick_fd, int wait_fd, bool threaded);
void amp_linux_port_destroy(struct amp_linux_port *lp);

/* The amp_port for amp_rpmsg_init() and friends. */
struct amp_port amp_linux_port(struct amp_linux_port *lp);

/* Ops, for ports that extend this one (the virtual core adds life cycle). */
int amp_linux_notify(void *ctx, uint32_t id);
int amp_linux_wait(void *ctx, int32_t timeout_ms);
uint32_t amp_linux_now_ms(void *ctx);
void amp_linux_lock(void *ctx);
void amp_linux_unlock(void *ctx);

/* Threaded mode: wake every thread sleeping in wait(), e.g. after a poll
 * that may have freed buffers, or when the link went down. */
void amp_linux_port_wake(struct amp_linux_port *lp);

/* Threaded mode: make every present and future wait() fail with
 * -ECONNRESET (shutting down). */
void amp_linux_port_close(struct amp_linux_port *lp);

/* A condition variable on the monotonic clock, and a wait on it for at
 * most timeout_ms (-1: no limit): 0 (maybe spurious), -ETIMEDOUT, -errno. */
int amp_linux_cond_init(pthread_cond_t *cond);
int amp_linux_cond_wait(pthread_cond_t *cond, pthread_mutex_t *mutex, int32_t timeout_ms);

/* Wait until fd (an eventfd) is readable or timeout_ms passes, and clear
 * it. 0, -ETIMEDOUT or -errno. */
int amp_linux_doorbell_wait(int fd, int32_t timeout_ms);

/* pthread_create() with every asynchronous signal blocked in the new
 * thread (the faults stay deliverable: a bug there must still stop the
 * process), so that Ctrl-C's SIGINT reaches a thread of the program, where
 * an interpreter's handler may run or jump. 0 or -errno. */
int amp_linux_thread(pthread_t *thread, void *(*fn)(void *), void *arg);

/* A shared-memory file of `size` bytes (memfd), mapped read-write. Returns
 * the mapping and the descriptor in *fd, or NULL with errno set. */
void *amp_linux_shm_create(const char *name, size_t size, int *fd);

/* Map an existing shared-memory file descriptor. NULL with errno set. */
void *amp_linux_shm_map(int fd, size_t size);

#endif /* AMP_LINUX_H */
