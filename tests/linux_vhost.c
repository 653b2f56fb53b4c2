/*
 * linux_vhost.c - amp's vhost-user device against a fake frontend of our
 * own: a socket, a memfd as the frontend's memory, eventfds as doorbells,
 * and the virtio driver's side of the rings written here by hand. The
 * backend runs amp_vhost_run() on a thread of its own.
 *
 * The rings are laid out part by part at unrelated addresses (as
 * vhost-user allows), unlike the legacy layout Linux happens to use.
 * The real frontend, Linux 6.12's virtio_uml, is tested by make test-linux.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <linux/fuse.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "amp_guard.h"
#include "amp_test.h"
#include "amp_vhost.h"

#define NUM 16u
#define MEM_SIZE 0x20000u
#define GPA 0x10000ull
#define UVA 0x7f1234560000ull
/* offsets in the memory: each part somewhere of its own */
static const uint32_t DESC[2] = {0x1000, 0x7000}, AVAIL[2] = {0x3002, 0x9000},
                      USED[2] = {0x5004, 0xb000};
#define BUF0 0x10000u /* vq0 (device -> driver) buffers, 512 bytes each */
#define BUF1 0x18000u /* vq1 (driver -> device) buffers */

struct fe {
    int sock;
    int mem_fd;
    uint8_t *mem;
    int kick[2], call[2];
    int backend_req; /* our end of the backend's channel: closing it means "gone" */
    uint16_t used_seen[2], avail_idx[2];
};

static struct amp_vhost *vh;
static bool cfg_inband; /* backend_open offers in-band notifications */
static volatile bool stop;
static char sock_path[108];
static int errors_seen;

static void on_error(struct amp_vhost *v, const char *why, void *priv)
{
    (void)v, (void)priv;
    errors_seen++;
    if (getenv("AMP_TEST_VERBOSE"))
        fprintf(stderr, "vhost: refused: %s\n", why);
}

static int echo(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    (void)priv;
    amp_ept_sendto(ept, AMP_ADDR_ANY, src, data, len, 1000);
    return AMP_RX_DONE;
}

static void *backend(void *arg)
{
    (void)arg;
    while (!stop)
        amp_vhost_run(vh, 20);
    return NULL;
}

static struct amp_ept ept;
static pthread_t thread;

/* The backend with its echo endpoint, not running yet. */
static void backend_open(void)
{
    snprintf(sock_path, sizeof(sock_path), "/tmp/amp-vhost-test.%d", (int)getpid());
    struct amp_vhost_cfg cfg = {.event_idx = true, .inband = cfg_inband, .on_error = on_error};
    CHECK_EQ(amp_vhost_open(&vh, sock_path, &cfg), 0);
    CHECK_EQ(amp_ept_create(&ept, amp_vhost_rpmsg(vh), "rpmsg-raw", AMP_ADDR_ANY, AMP_ADDR_ANY,
                            echo, NULL),
             0);
}

static void backend_start(void)
{
    backend_open();
    stop = false;
    pthread_create(&thread, NULL, backend, NULL);
}

static void backend_stop(struct amp_vhost_stats *st)
{
    stop = true;
    pthread_join(thread, NULL);
    amp_vhost_get_stats(vh, st);
    amp_ept_destroy(&ept);
    amp_vhost_close(vh);
    CHECK(access(sock_path, F_OK) != 0); /* the socket file is gone */
}

/* ==== The frontend ==== */

static int fe_send(struct fe *f, uint32_t req, uint32_t flags, const void *p, uint32_t size,
                   const int *fds, int nfds)
{
    uint8_t buf[12 + 512];
    uint32_t h[3] = {req, flags ? flags : 1u, size};
    memcpy(buf, h, 12);
    if (size)
        memcpy(buf + 12, p, size);
    struct iovec iov = {buf, 12 + size};
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int) * 8)];
    } ctl;
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds) {
        m.msg_control = ctl.b;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    return sendmsg(f->sock, &m, MSG_NOSIGNAL) == (ssize_t)(12 + size) ? 0 : -errno;
}

/* A reply's u64, or -1 (none within 2 s). */
static long long fe_reply(struct fe *f, uint32_t req)
{
    struct pollfd p = {.fd = f->sock, .events = POLLIN};
    uint8_t buf[12 + 8];
    if (poll(&p, 1, 2000) != 1 || recv(f->sock, buf, sizeof(buf), MSG_WAITALL) != sizeof(buf))
        return -1;
    uint32_t h[3];
    uint64_t v;
    memcpy(h, buf, 12);
    memcpy(&v, buf + 12, 8);
    return h[0] == req && h[1] == (1u | 4u) && h[2] == 8 ? (long long)v : -1;
}

/* A request with REPLY_ACK: the status the backend gives (0 ok, 1 error). */
static long long fe_ack(struct fe *f, uint32_t req, const void *p, uint32_t size, const int *fds,
                        int nfds)
{
    if (fe_send(f, req, 1u | 8u, p, size, fds, nfds))
        return -1;
    return fe_reply(f, req);
}

static long long fe_state(struct fe *f, uint32_t req, uint32_t idx, uint32_t num)
{
    uint32_t s[2] = {idx, num};
    return fe_ack(f, req, s, 8, NULL, 0);
}

static long long fe_u64(struct fe *f, uint32_t req, uint64_t v, const int *fds, int nfds)
{
    return fe_ack(f, req, &v, 8, fds, nfds);
}

static void fe_connect(struct fe *f)
{
    memset(f, 0, sizeof(*f));
    f->backend_req = -1; /* until fe_setup: fe_close must not close fd 0 */
    f->sock = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, sock_path);
    CHECK_EQ(connect(f->sock, (struct sockaddr *)&a, sizeof(a)), 0);
    f->mem_fd = memfd_create("frontend", MFD_CLOEXEC);
    CHECK_EQ(ftruncate(f->mem_fd, MEM_SIZE), 0);
    f->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->mem_fd, 0);
    for (int i = 0; i < 2; i++) {
        f->kick[i] = eventfd(0, EFD_NONBLOCK);
        f->call[i] = eventfd(0, EFD_NONBLOCK);
    }
}

static void fe_close(struct fe *f)
{
    close(f->sock);
    close(f->backend_req);
    close(f->mem_fd);
    munmap(f->mem, MEM_SIZE);
    for (int i = 0; i < 2; i++) {
        close(f->kick[i]);
        close(f->call[i]);
    }
}

/* Negotiate, give the memory and both rings, as virtio_uml does; with
 * inband_vq0, in-band notifications, and vq0's kicks as messages. */
static void fe_setup_opts(struct fe *f, bool inband_vq0)
{
    uint64_t proto = inband_vq0 ? 0x4028 : 0x28;
    CHECK_EQ(fe_send(f, 3, 0, NULL, 0, NULL, 0), 0); /* SET_OWNER */
    CHECK_EQ(fe_send(f, 1, 0, NULL, 0, NULL, 0), 0); /* GET_FEATURES */
    long long feat = fe_reply(f, 1);
    CHECK(feat > 0 && (feat & (1ll << 32)) && (feat & (1ll << 30)) && (feat & 1));
    CHECK_EQ(fe_send(f, 15, 0, NULL, 0, NULL, 0), 0); /* GET_PROTOCOL_FEATURES */
    CHECK_EQ(fe_reply(f, 15), (long long)proto);
    CHECK_EQ(fe_send(f, 16, 0, &proto, 8, NULL, 0), 0); /* REPLY_ACK on from here */
    int sp[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
    CHECK_EQ(fe_ack(f, 21, NULL, 0, &sp[1], 1), 0); /* SET_BACKEND_REQ_FD */
    close(sp[1]);
    f->backend_req = sp[0];
    CHECK_EQ(fe_u64(f, 2, (uint64_t)feat, NULL, 0), 0);
    uint8_t mt[8 + 64] = {1};
    uint64_t r[4] = {GPA, MEM_SIZE, UVA, 0};
    memcpy(mt + 8, r, sizeof(r));
    CHECK_EQ(fe_ack(f, 5, mt, sizeof(mt), &f->mem_fd, 1), 0);
    for (uint32_t q = 0; q < 2; q++) {
        CHECK_EQ(fe_state(f, 8, q, NUM), 0);
        CHECK_EQ(fe_state(f, 10, q, 0), 0);
        uint8_t a[40] = {0};
        uint64_t addrs[4] = {UVA + DESC[q], UVA + USED[q], UVA + AVAIL[q], ~0ull};
        memcpy(a, &q, 4);
        memcpy(a + 8, addrs, sizeof(addrs));
        CHECK_EQ(fe_ack(f, 9, a, 40, NULL, 0), 0);
        CHECK_EQ(fe_u64(f, 13, q, &f->call[q], 1), 0);
    }
    for (uint32_t q = 0; q < 2; q++) {
        if (q == 0 && inband_vq0)
            CHECK_EQ(fe_u64(f, 12, q | 0x100u, NULL, 0), 0); /* no fd: in-band */
        else
            CHECK_EQ(fe_u64(f, 12, q, &f->kick[q], 1), 0);
        CHECK_EQ(fe_state(f, 18, q, 1), 0);
    }
}

static void fe_setup(struct fe *f)
{
    fe_setup_opts(f, false);
}

static void fe_kick(struct fe *f, int q)
{
    uint64_t one = 1;
    CHECK_EQ(write(f->kick[q], &one, 8), 8);
}

/* Post buffer `id` of ring q: device-writable on vq0, a message on vq1. */
static void fe_post(struct fe *f, int q, uint16_t id, uint32_t len)
{
    uint8_t *d = f->mem + DESC[q] + 16u * id;
    uint64_t addr = GPA + (q ? BUF1 : BUF0) + 512u * id;
    uint16_t flags = q ? 0 : 2;
    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    uint8_t *av = f->mem + AVAIL[q];
    memcpy(av + 4 + 2 * (f->avail_idx[q] % NUM), &id, 2);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    f->avail_idx[q]++;
    memcpy(av + 2, &f->avail_idx[q], 2);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* The next used entry of ring q within 2 s: its id and length. */
static int fe_used(struct fe *f, int q, uint32_t *len)
{
    uint8_t *u = f->mem + USED[q];
    for (int t = 0; t < 200; t++) {
        uint16_t idx;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        memcpy(&idx, u + 2, 2);
        if (idx != f->used_seen[q]) {
            uint32_t e[2];
            memcpy(e, u + 4 + 8 * (f->used_seen[q] % NUM), 8);
            f->used_seen[q]++;
            *len = e[1];
            return (int)e[0];
        }
        struct pollfd p = {.fd = f->call[q], .events = POLLIN};
        if (poll(&p, 1, 10) == 1) {
            uint64_t v;
            CHECK_EQ(read(f->call[q], &v, 8), 8);
        }
    }
    return -1;
}

/* Wait for the announcement of rpmsg-raw on vq0: the address it names. */
static uint32_t fe_announced(struct fe *f)
{
    for (uint16_t i = 0; i < 8; i++)
        fe_post(f, 0, i, 512);
    fe_kick(f, 0);
    uint32_t len;
    int id = fe_used(f, 0, &len);
    CHECK(id >= 0 && id < 8);
    CHECK_EQ(len, 16 + 40);
    if (id < 0)
        return 0;
    uint8_t *m = f->mem + BUF0 + 512u * (uint32_t)id;
    uint32_t dst, addr;
    memcpy(&dst, m + 4, 4);
    memcpy(&addr, m + 16 + 32, 4);
    CHECK_EQ(dst, 53);
    CHECK(!strcmp((char *)m + 16, "rpmsg-raw"));
    return addr;
}

/* Send `text` to addr on vq1 (buffer `id`) and check the echo on vq0. */
static void fe_echo(struct fe *f, uint32_t addr, uint16_t id, const char *text)
{
    uint8_t *m = f->mem + BUF1 + 512u * id;
    uint32_t hdr[4] = {0x500, addr, 0, (uint32_t)strlen(text)};
    memcpy(m, hdr, 16);
    memcpy(m + 16, text, strlen(text));
    fe_post(f, 1, id, 16 + (uint32_t)strlen(text));
    fe_kick(f, 1);
    uint32_t len;
    CHECK_EQ(fe_used(f, 1, &len), id); /* our buffer back */
    int rid = fe_used(f, 0, &len);
    CHECK(rid >= 0);
    CHECK_EQ(len, 16 + strlen(text));
    if (rid >= 0) {
        uint8_t *r = f->mem + BUF0 + 512u * (uint32_t)rid;
        uint32_t src, dst;
        memcpy(&src, r, 4);
        memcpy(&dst, r + 4, 4);
        CHECK_EQ(src, addr);
        CHECK_EQ(dst, 0x500);
        CHECK_MEM(r + 16, text, strlen(text));
    }
}

/* ==== Tests ==== */

static void test_vhost_announces_and_echoes_on_separate_ring_parts(void)
{
    struct fe f;
    struct amp_vhost_stats st;
    backend_start();
    fe_connect(&f);
    fe_setup(&f);
    uint32_t addr = fe_announced(&f);
    CHECK(addr >= 1024);
    fe_echo(&f, addr, 0, "hello through vhost-user");
    fe_echo(&f, addr, 1, "and again");
    fe_close(&f);
    backend_stop(&st);
    CHECK_EQ(st.links, 1);
    CHECK_EQ(st.msg_errors, 0);
}

static void test_vhost_refuses_malformed_messages_and_carries_on(void)
{
    struct fe f;
    struct amp_vhost_stats st;
    backend_start();
    fe_connect(&f);
    fe_setup(&f);
    uint32_t addr = fe_announced(&f);
    errors_seen = 0;
    CHECK_EQ(fe_state(&f, 8, 0, 3), 1);    /* num not a power of two */
    CHECK_EQ(fe_state(&f, 8, 5, 16), 1);   /* no such ring */
    CHECK_EQ(fe_state(&f, 10, 0, 7), 1);   /* a base we cannot resume from */
    CHECK_EQ(fe_u64(&f, 2, 1ull << 40, NULL, 0), 1); /* a feature not offered */
    CHECK_EQ(fe_ack(&f, 99, NULL, 0, NULL, 0), 1);    /* unknown request */
    CHECK_EQ(fe_ack(&f, 3, NULL, 0, &f.mem_fd, 1), 1); /* an fd where none belongs */
    uint8_t mt[8 + 32] = {1};
    uint64_t r[4] = {GPA, MEM_SIZE * 4ull, UVA, 0}; /* larger than its file */
    memcpy(mt + 8, r, sizeof(r));
    CHECK_EQ(fe_ack(&f, 5, mt, sizeof(mt), &f.mem_fd, 1), 1);
    CHECK_EQ(fe_ack(&f, 9, mt, 7, NULL, 0), 1); /* a payload of the wrong size */
    CHECK_EQ(errors_seen, 8);
    /* the bad memory table took the old one down; a good one brings the
     * rings up again. Stop vq1 and move its used ring outside the memory */
    uint64_t rr[4] = {GPA, MEM_SIZE, UVA, 0};
    memcpy(mt + 8, rr, sizeof(rr));
    CHECK_EQ(fe_ack(&f, 5, mt, sizeof(mt), &f.mem_fd, 1), 0);
    CHECK(amp_vhost_link_up(vh));
    CHECK_EQ(fe_state(&f, 18, 1, 0), 0);
    CHECK(!amp_vhost_link_up(vh));
    uint8_t a[40] = {1};
    uint64_t addrs[4] = {UVA + DESC[1], UVA + MEM_SIZE - 8, UVA + AVAIL[1], 0};
    memcpy(a + 8, addrs, sizeof(addrs));
    CHECK_EQ(fe_ack(&f, 9, a, 40, NULL, 0), 0);
    CHECK_EQ(fe_state(&f, 18, 1, 1), 0); /* checked when the rings start */
    CHECK(!amp_vhost_link_up(vh));
    CHECK_EQ(errors_seen, 9); /* "a ring part outside the memory table" */
    /* and with it right, the channel works again */
    addrs[1] = UVA + USED[1];
    memcpy(a + 8, addrs, sizeof(addrs));
    memset(f.mem, 0, MEM_SIZE);
    memset(f.used_seen, 0, sizeof(f.used_seen));
    memset(f.avail_idx, 0, sizeof(f.avail_idx));
    CHECK_EQ(fe_ack(&f, 9, a, 40, NULL, 0), 0);
    CHECK_EQ(fe_announced(&f), addr);
    fe_echo(&f, addr, 0, "still here");
    fe_close(&f);
    backend_stop(&st);
    CHECK_EQ(st.msg_errors, 9);
}

static void test_vhost_accepts_a_new_frontend_after_one_goes_away(void)
{
    struct fe f;
    struct amp_vhost_stats st;
    backend_start();
    for (int round = 0; round < 3; round++) {
        fe_connect(&f);
        fe_setup(&f);
        uint32_t addr = fe_announced(&f);
        fe_echo(&f, addr, 0, round == 0 ? "first" : "next");
        if (round == 1) { /* a header announcing a huge payload: dropped */
            uint32_t h[3] = {1, 1, 1u << 20};
            CHECK_EQ(send(f.sock, h, 12, MSG_NOSIGNAL), 12);
            struct pollfd p = {.fd = f.sock, .events = POLLIN};
            char c;
            CHECK(poll(&p, 1, 2000) == 1 && recv(f.sock, &c, 1, 0) == 0);
        }
        fe_close(&f); /* gone without a word */
        for (int t = 0; t < 200 && amp_vhost_connected(vh); t++)
            usleep(10000);
    }
    backend_stop(&st);
    CHECK_EQ(st.connections, 3);
    CHECK_EQ(st.links, 3);
}

static volatile sig_atomic_t ticks;

/* A periodic timer's handler. If run() ever ignored the signals, the
 * 30th tick connects to the socket, so that poll() returns anyway. */
static void on_tick(int sig)
{
    (void)sig;
    if (++ticks == 30) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        memcpy(a.sun_path, sock_path, sizeof(a.sun_path) - 1);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        connect(fd, (struct sockaddr *)&a, sizeof(a));
    }
}

static void test_vhost_run_without_timeout_returns_on_a_signal(void)
{
    /* a caller's Ctrl-C flag must be seen: run(-1) returns 0 on a signal */
    snprintf(sock_path, sizeof(sock_path), "/tmp/amp-vhost-test.%d", (int)getpid());
    CHECK_EQ(amp_vhost_open(&vh, sock_path, NULL), 0);
    struct sigaction sa = {.sa_handler = on_tick}, old; /* no SA_RESTART */
    CHECK_EQ(sigaction(SIGALRM, &sa, &old), 0);
    struct itimerval every = {{0, 100000}, {0, 100000}}, none = {{0, 0}, {0, 0}};
    ticks = 0;
    CHECK_EQ(setitimer(ITIMER_REAL, &every, NULL), 0);
    int r = amp_vhost_run(vh, -1);
    int seen = ticks;
    setitimer(ITIMER_REAL, &none, NULL);
    sigaction(SIGALRM, &old, NULL);
    CHECK_EQ(r, 0);
    CHECK(seen >= 1 && seen < 30);
    CHECK(!amp_vhost_connected(vh));
    amp_vhost_close(vh);
}

/* Signals a waiting sender every 100 ms; after 30 the frontend goes away,
 * which ends the wait anyway (with -ECONNRESET, not the -EINTR expected). */
static pthread_t sender;
static struct fe *stalled_fe;
static void *interrupter(void *arg)
{
    (void)arg;
    for (int i = 0; i < 30 && !stop; i++) {
        usleep(100000);
        if (!stop)
            pthread_kill(sender, SIGALRM);
    }
    if (!stop)
        fe_close(stalled_fe);
    return NULL;
}

static void test_vhost_send_waiting_without_timeout_ends_on_a_signal(void)
{
    /* no buffer on the frontend's receive ring: a send with no timeout
     * waits for one, and a signal (a caller's Ctrl-C) must end that wait */
    struct fe f;
    struct amp_vhost_stats st;
    backend_start();
    fe_connect(&f);
    fe_setup(&f);
    for (int t = 0; t < 300 && amp_vhost_rpmsg(vh)->state != AMP_LINK_UP; t++)
        usleep(10000);
    CHECK_EQ(amp_vhost_rpmsg(vh)->state, AMP_LINK_UP);
    struct sigaction sa = {.sa_handler = on_tick}, old; /* no SA_RESTART */
    CHECK_EQ(sigaction(SIGALRM, &sa, &old), 0);
    ticks = 0;
    sender = pthread_self();
    stalled_fe = &f;
    pthread_t t;
    pthread_create(&t, NULL, interrupter, NULL);
    int r = amp_ept_sendto(&ept, AMP_ADDR_ANY, 1024, "x", 1, AMP_WAIT_FOREVER);
    stop = true;
    pthread_join(t, NULL);
    sigaction(SIGALRM, &old, NULL);
    CHECK_EQ(r, -EINTR);
    CHECK(ticks >= 1 && ticks < 30);
    fe_close(&f);
    backend_stop(&st);
}

/* Did the backend close the frontend's connection (within 2 s)? Replies
 * still on their way are read past. */
static bool fe_dropped(struct fe *f)
{
    struct pollfd p = {.fd = f->sock, .events = POLLIN};
    char buf[64];
    for (int t = 0; t < 20 && poll(&p, 1, 2000) == 1; t++) {
        ssize_t n = recv(f->sock, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
    }
    return false;
}

static void wait_disconnected(void)
{
    for (int t = 0; t < 200 && amp_vhost_connected(vh); t++)
        usleep(10000);
    CHECK(!amp_vhost_connected(vh));
}

static void test_vhost_frontend_shrinking_its_memory_is_dropped_not_fatal(void)
{
    /* the frontend truncates the memory file it gave us, then posts a
     * message whose buffer was in the part cut off: reading it faults
     * (SIGBUS), which must cost the frontend its connection, not us our
     * process */
    struct fe f;
    struct amp_vhost_stats st;
    backend_start();
    fe_connect(&f);
    fe_setup(&f);
    uint32_t addr = fe_announced(&f);
    fe_echo(&f, addr, 0, "before");
    CHECK_EQ(ftruncate(f.mem_fd, BUF1), 0); /* the rings stay, vq1's buffers go */
    fe_post(&f, 1, 1, 16 + 8);
    fe_kick(&f, 1);
    CHECK(fe_dropped(&f));
    wait_disconnected();
    fe_close(&f);
    /* the next frontend is served as if nothing had happened */
    fe_connect(&f);
    fe_setup(&f);
    CHECK_EQ(fe_announced(&f), addr);
    fe_echo(&f, addr, 0, "after");
    fe_close(&f);
    backend_stop(&st);
    CHECK_EQ(st.mem_faults, 1);
    CHECK_EQ(st.connections, 2);
    CHECK_EQ(st.links, 2);
}

static void test_vhost_send_into_shrunk_memory_is_dropped_not_fatal(void)
{
    /* the same fault met by a send of the application's own, outside
     * run(): the send fails, and the next run() drops the frontend */
    struct fe f;
    struct amp_vhost_stats st;
    backend_start();
    fe_connect(&f);
    fe_setup(&f);
    uint32_t addr = fe_announced(&f); /* 7 buffers left on vq0 */
    stop = true;
    pthread_join(thread, NULL);
    CHECK_EQ(ftruncate(f.mem_fd, 0), 0);
    CHECK(amp_ept_sendto(&ept, AMP_ADDR_ANY, 0x500, "lost", 4, 0) < 0);
    CHECK_EQ(amp_vhost_run(vh, 0), 0);
    CHECK(!amp_vhost_connected(vh));
    CHECK(fe_dropped(&f));
    fe_close(&f);
    stop = false;
    pthread_create(&thread, NULL, backend, NULL);
    fe_connect(&f);
    fe_setup(&f);
    CHECK_EQ(fe_announced(&f), addr);
    fe_echo(&f, addr, 0, "after");
    fe_close(&f);
    backend_stop(&st);
    CHECK_EQ(st.mem_faults, 1);
    CHECK_EQ(st.links, 2);
}

static void exit_42(int sig)
{
    (void)sig;
    _exit(42);
}

/* In a child with a backend open: fault on a mapping of its own (a file
 * it truncates), not a frontend's. Its wait status. */
static int fault_own_mapping(bool own_handler)
{
    pid_t pid = fork();
    if (pid == 0) {
        setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
        dup2(open("/dev/null", O_WRONLY), 2); /* a sanitizer's report of the fault */
        if (own_handler)
            signal(SIGBUS, exit_42);
        struct amp_vhost *v;
        int fd = memfd_create("own", 0);
        if (amp_vhost_open(&v, NULL, NULL) || fd < 0 || ftruncate(fd, 4096))
            _exit(3);
        volatile uint8_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED || ftruncate(fd, 0))
            _exit(3);
        m[0] = 1;
        _exit(0); /* the fault was swallowed */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static void test_vhost_sigbus_outside_frontend_memory_is_not_ours(void)
{
    /* with the default disposition the child dies of it (under ASan, its
     * handler reports it and exits 1); with a handler of its own, that
     * handler runs */
    struct sigaction before, after;
    CHECK_EQ(sigaction(SIGBUS, NULL, &before), 0);
    int s = fault_own_mapping(false);
    if (before.sa_handler == SIG_DFL)
        CHECK(WIFSIGNALED(s) && WTERMSIG(s) == SIGBUS);
    else
        CHECK(WIFSIGNALED(s) || (WIFEXITED(s) && WEXITSTATUS(s) != 0 && WEXITSTATUS(s) != 3));
    s = fault_own_mapping(true);
    CHECK(WIFEXITED(s) && WEXITSTATUS(s) == 42);
    /* the last backend closed gives the disposition back */
    struct amp_vhost *v;
    CHECK_EQ(amp_vhost_open(&v, NULL, NULL), 0);
    amp_vhost_close(v);
    CHECK_EQ(sigaction(SIGBUS, NULL, &after), 0);
    /* (the kernel reports SA_RESTORER, 0x04000000, once glibc has set it) */
    CHECK(after.sa_handler == before.sa_handler &&
          (after.sa_flags & ~0x04000000) == (before.sa_flags & ~0x04000000));
}

/* In a child: SIGBUS's disposition set to handler with flags, a backend
 * opened (ours goes over it), then a SIGBUS that is not ours: how 0, a
 * fault on a mapping of its own; 1, raise(); 2, a machine check reported
 * after the fact (BUS_MCEERR_AO: not a fault, nothing recurs). Its wait
 * status. */
static int child_sigbus(void (*handler)(int), int flags, int how)
{
    pid_t pid = fork();
    if (pid == 0) {
        setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
        dup2(open("/dev/null", O_WRONLY), 2);
        struct sigaction sa = {.sa_handler = handler, .sa_flags = flags};
        sigemptyset(&sa.sa_mask);
        struct amp_vhost *v;
        int fd = memfd_create("own", 0);
        if (sigaction(SIGBUS, &sa, NULL) || amp_vhost_open(&v, NULL, NULL) || fd < 0 ||
            ftruncate(fd, 4096))
            _exit(3);
        volatile uint8_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED || ftruncate(fd, 0))
            _exit(3);
        if (how == 0)
            m[0] = 1;
        else if (how == 1)
            raise(SIGBUS);
        else {
            siginfo_t si = {.si_signo = SIGBUS, .si_code = BUS_MCEERR_AO};
            syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGBUS, &si);
        }
        _exit(0); /* the signal was ignored, or swallowed */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static bool died_of_sigbus(int status)
{
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS;
}

static void test_vhost_sigbus_chains_to_default_and_ignore_whatever_their_flags(void)
{
    /* SIG_DFL and SIG_IGN recorded with SA_SIGINFO (sigaction allows it):
     * no function to call, the default action or nothing */
    CHECK(died_of_sigbus(child_sigbus(SIG_DFL, SA_SIGINFO, 0)));
    CHECK(died_of_sigbus(child_sigbus(SIG_DFL, SA_SIGINFO | SA_RESETHAND, 0)));
    CHECK(died_of_sigbus(child_sigbus(SIG_DFL, SA_SIGINFO, 1)));
    int s = child_sigbus(SIG_IGN, SA_SIGINFO, 1);
    CHECK(WIFEXITED(s) && WEXITSTATUS(s) == 0);
    CHECK(died_of_sigbus(child_sigbus(SIG_IGN, SA_SIGINFO, 0))); /* a fault is not ignored */
    /* a machine check reported after the fact does not recur: the
     * default action must be taken, not the signal swallowed */
    CHECK(died_of_sigbus(child_sigbus(SIG_DFL, 0, 2)));
    s = child_sigbus(SIG_IGN, 0, 2);
    CHECK(WIFEXITED(s) && WEXITSTATUS(s) == 0);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next frontend gets the rings, the announcement and an echo. */
static void fe_next_is_served(void)
{
    struct fe f;
    stop = false;
    pthread_create(&thread, NULL, backend, NULL);
    fe_connect(&f);
    fe_setup(&f);
    uint32_t addr = fe_announced(&f);
    fe_echo(&f, addr, 0, "served after a hostile one");
    fe_close(&f);
}

/* Sends the rest of a message a byte every 200 ms until the socket closes. */
static void *dripper(void *arg)
{
    struct fe *f = arg;
    for (int i = 0; i < 40; i++) {
        usleep(200000);
        if (send(f->sock, "", 1, MSG_NOSIGNAL) != 1)
            break;
    }
    return NULL;
}

static void test_vhost_frontend_stalling_mid_message_is_dropped_in_time(void)
{
    /* a frontend that sends part of a message and then waits must not
     * hold run() beyond its timeout plus AMP_VHOST_MSG_WAIT_MS: first 5
     * bytes of a header, then a whole header whose 40 bytes of payload
     * trickle in a byte every 200 ms */
    struct fe f;
    struct amp_vhost_stats st;
    backend_open();
    for (int round = 0; round < 2; round++) {
        fe_connect(&f);
        for (int t = 0; t < 50 && !amp_vhost_connected(vh); t++)
            amp_vhost_run(vh, 100);
        CHECK(amp_vhost_connected(vh));
        uint32_t h[3] = {9, 1, 40}; /* SET_VRING_ADDR */
        pthread_t drip;
        if (round == 0)
            CHECK_EQ(send(f.sock, h, 5, MSG_NOSIGNAL), 5);
        else {
            CHECK_EQ(send(f.sock, h, 12, MSG_NOSIGNAL), 12);
            pthread_create(&drip, NULL, dripper, &f);
        }
        int64_t t0 = now_ms();
        CHECK_EQ(amp_vhost_run(vh, 100), 0);
        int64_t took = now_ms() - t0;
        if (getenv("AMP_TEST_VERBOSE"))
            fprintf(stderr, "round %d: run() took %lld ms\n", round, (long long)took);
        CHECK(took >= AMP_VHOST_MSG_WAIT_MS - 50 && took < 100 + AMP_VHOST_MSG_WAIT_MS + 1500);
        CHECK(!amp_vhost_connected(vh));
        CHECK(fe_dropped(&f));
        if (round == 1)
            pthread_join(drip, NULL);
        fe_close(&f);
    }
    fe_next_is_served();
    backend_stop(&st);
    CHECK_EQ(st.connections, 3);
    CHECK_EQ(st.msg_errors, 2); /* one per stalled message */
    CHECK_EQ(st.links, 1);
}

/* Stop the backend thread: it must return within ms. A thread stuck in a
 * system call cannot be taken back, so a hang ends the whole test binary
 * at once (not at ctest's timeout) with a word on what hung. */
static void backend_must_return(int ms, const char *what)
{
    stop = true;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    if (pthread_timedjoin_np(thread, NULL, &ts) != 0) {
        fprintf(stderr, "FAIL: the backend thread hangs (%s)\n", what);
        _exit(1);
    }
}

/* Did the backend close the connection (within 2 s), however much we left
 * unread on it? */
static bool fe_closed(struct fe *f)
{
    char buf[4096];
    for (int64_t t0 = now_ms(); now_ms() - t0 < 2000;) {
        struct pollfd p = {.fd = f->sock, .events = POLLIN};
        if (poll(&p, 1, 100) != 1)
            continue;
        ssize_t n = recv(f->sock, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
    }
    return false;
}

/* The backend dropped frontend f (its thread returns within 3 s, or the
 * test ends naming `what`), serves the next one, and counted one error. */
static void fe_dropped_next_served(struct fe *f, const char *what, struct amp_vhost_stats *st)
{
    CHECK(fe_closed(f));
    backend_must_return(3000, what);
    CHECK(!amp_vhost_connected(vh));
    fe_close(f);
    fe_next_is_served();
    backend_stop(st);
    CHECK_EQ(st->connections, 2);
    CHECK_EQ(st->msg_errors, 1);
}

static void test_vhost_frontend_not_reading_replies_is_dropped(void)
{
    /* a frontend that sends requests and never reads the replies: our
     * socket buffer fills, and a reply that cannot be sent at once drops
     * it (a send that waited would wait forever) */
    struct fe f;
    struct amp_vhost_stats st;
    backend_start();
    fe_connect(&f);
    uint32_t h[3] = {1, 1, 0}; /* GET_FEATURES */
    int sent = 0;
    for (int64_t t0 = now_ms(); now_ms() - t0 < 3000;) {
        ssize_t n = send(f.sock, h, 12, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n == 12)
            sent++;
        else if (n < 0 && errno != EAGAIN)
            break; /* dropped */
        else
            usleep(1000);
    }
    CHECK(sent > 100);
    fe_dropped_next_served(&f, "a reply the frontend does not read", &st);
    CHECK_EQ(st.links, 1);
}

static void test_vhost_frontend_keeping_a_blocking_call_fd_full_is_dropped(void)
{
    /* the frontend clears O_NONBLOCK on the call eventfd (it shares the
     * open file description with us) and fills its counter: a write of
     * ours would wait until it reads, forever */
    struct fe f;
    struct amp_vhost_stats st;
    backend_start();
    fe_connect(&f);
    fe_setup(&f);
    CHECK_EQ(fcntl(f.call[0], F_SETFL, 0), 0);
    uint64_t full = 0xfffffffffffffffeull;
    CHECK_EQ(write(f.call[0], &full, 8), 8);
    for (uint16_t i = 0; i < 8; i++)
        fe_post(&f, 0, i, 512);
    fe_kick(&f, 0); /* we announce, then ring vq0 */
    fe_dropped_next_served(&f, "a write to a call eventfd kept full", &st);
}

static void test_vhost_frontend_emptying_a_blocking_kick_fd_is_dropped(void)
{
    /* the frontend clears O_NONBLOCK on a kick eventfd and reads it empty
     * between our poll and our read. Done here without a race: one
     * eventfd as both rings' kick fd, so that poll reports both, and
     * reading the first empties the second */
    struct fe f;
    struct amp_vhost_stats st;
    backend_start();
    fe_connect(&f);
    close(f.kick[1]);
    f.kick[1] = dup(f.kick[0]);
    fe_setup(&f);
    uint32_t addr = fe_announced(&f); /* (kicks both rings' doorbells) */
    CHECK(addr >= 1024);
    CHECK_EQ(fcntl(f.kick[0], F_SETFL, 0), 0);
    fe_kick(&f, 0);
    fe_dropped_next_served(&f, "a read of a kick eventfd emptied under us", &st);
}

static void test_vhost_frontend_emptying_a_blocking_kick_fd_is_dropped_under_the_timer(void)
{
    /* the same where eventfd reads have no RWF_NOWAIT (Linux before 5.12)
     * and run under the timer, like writes */
    amp_guard_bound_reads(true);
    test_vhost_frontend_emptying_a_blocking_kick_fd_is_dropped();
    amp_guard_bound_reads(false);
}

static void test_vhost_refuses_doorbells_other_than_eventfds_and_sockets(void)
{
    /* a pipe (whose reads and writes the frontend can make wait, and a
     * write to which raises SIGPIPE once it closes its end) or a file is
     * refused as a doorbell, or as the backend's channel; the doorbell it
     * was to replace stays */
    struct fe f;
    struct amp_vhost_stats st;
    backend_start();
    fe_connect(&f);
    fe_setup(&f);
    uint32_t addr = fe_announced(&f);
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(fe_u64(&f, 12, 1, &p[0], 1), 1); /* SET_VRING_KICK */
    CHECK_EQ(fe_u64(&f, 13, 0, &p[1], 1), 1); /* SET_VRING_CALL */
    CHECK_EQ(fe_u64(&f, 12, 0, &f.mem_fd, 1), 1);
    CHECK_EQ(fe_ack(&f, 21, NULL, 0, &p[0], 1), 1); /* nor as the backend's channel */
    CHECK_EQ(fcntl(p[0], F_SETFL, 0), 0);
    char b[64] = {0};
    CHECK_EQ(write(p[1], b, 64), 64);
    close(p[0]); /* a write to p[1] would raise SIGPIPE */
    close(p[1]);
    fe_echo(&f, addr, 0, "still on the eventfds");
    fe_close(&f);
    backend_must_return(3000, "a pipe as a doorbell");
    amp_vhost_get_stats(vh, &st);
    CHECK_EQ(st.msg_errors, 4);
    fe_next_is_served();
    backend_stop(&st);
}

/* amp_vhost_mount_check on fdinfo and mountinfo text of our own. */
static int mount_check(const char *fdinfo, const char *mountinfo, char *type, size_t len)
{
    FILE *fi = fmemopen((void *)fdinfo, strlen(fdinfo), "r");
    FILE *mi = fmemopen((void *)mountinfo, strlen(mountinfo), "r");
    int r = amp_vhost_mount_check(fi, mi, type, len);
    fclose(fi);
    fclose(mi);
    return r;
}

static void test_vhost_mount_check_refuses_fuse_and_mounts_it_cannot_see(void)
{
    static char mi[16384];
    char type[16];
    const char *fi = "pos:\t0\nflags:\t0100002\nmnt_id:\t42\nino:\t7\n";
    /* id 4 and 420 are not 42; a long path; optional fields; escaped
     * spaces, and a "-" inside a path, before the separator */
    int n = snprintf(mi, sizeof(mi), "4 1 0:5 / /a rw - ext4 /dev/a rw\n"
                                     "420 1 0:6 / /b rw - ext4 /dev/b rw\n"
                                     "43 1 0:7 / /");
    memset(mi + n, 'x', 9000);
    n += 9000;
    n += snprintf(mi + n, sizeof(mi) - (size_t)n,
                  " rw - ext4 /dev/c rw\n"
                  "42 27 0:50 /x\\040-\\040y /mnt/my\\040files rw,nosuid shared:7 master:2 - "
                  "fuse.sshfs me@host:/ rw,user_id=0\n");
    CHECK_EQ(mount_check(fi, mi, type, sizeof(type)), -EPERM);
    CHECK(!strcmp(type, "fuse.sshfs"));
    const char *kinds[][2] = {{"fuse", "1"},     {"fuseblk", "1"}, {"fuse.x", "1"},
                              {"ext4", "0"},     {"tmpfs", "0"},   {"fusectl", "0"},
                              {"nfs4", "0"},     {"9p", "0"}};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        char line[128];
        snprintf(line, sizeof(line), "1 0 0:1 / / rw\n42 1 0:2 / /m rw - %s src rw\n",
                 kinds[k][0]);
        CHECK_EQ(mount_check(fi, line, type, sizeof(type)), kinds[k][1][0] == '1' ? -EPERM : 0);
        CHECK(!strcmp(type, kinds[k][0]));
    }
    /* cut short to len, still judged on the whole name */
    CHECK_EQ(mount_check(fi, "42 1 0:2 / /m rw - fuse.a-very-long-name s rw\n", type, 8), -EPERM);
    CHECK(!strcmp(type, "fuse.a-"));
    /* no such mount, no separator, no or a garbled mnt_id: refused */
    const char *none[][2] = {{fi, "4 1 0:5 / /a rw - ext4 /dev/a rw\n"},
                             {fi, "42 1 0:5 / /a rw ext4 /dev/a rw\n"},
                             {fi, ""},
                             {"pos:\t0\nflags:\t02\n", "42 1 0:5 / /a rw - ext4 a rw\n"},
                             {"mnt_id:\tx42\n", "42 1 0:5 / /a rw - ext4 a rw\n"},
                             {"mnt_id:\t-42\n", "-42 1 0:5 / /a rw - ext4 a rw\n"}};
    for (size_t k = 0; k < sizeof(none) / sizeof(none[0]); k++) {
        CHECK_EQ(mount_check(none[k][0], none[k][1], type, sizeof(type)), -EPERM);
        CHECK(!strncmp(type, "a mount not in", 14));
    }
    /* and the real thing: a file in /proc is on a proc mount */
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    char path[40];
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
    FILE *f1 = fopen(path, "r"), *f2 = fopen("/proc/self/mountinfo", "r");
    CHECK(f1 && f2);
    if (f1 && f2)
        CHECK_EQ(amp_vhost_mount_check(f1, f2, type, sizeof(type)), 0);
    CHECK(!strcmp(type, "proc"));
    fclose(f1);
    fclose(f2);
    close(fd);
}

/* The frontend's memory in a file of `dir` (O_TMPFILE, as virtio_uml
 * makes it) instead of a memfd: served. */
static void frontend_memory_in(const char *dir)
{
    struct fe f;
    struct amp_vhost_stats st;
    backend_start();
    fe_connect(&f);
    munmap(f.mem, MEM_SIZE);
    close(f.mem_fd);
    f.mem_fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    CHECK(f.mem_fd >= 0);
    CHECK_EQ(ftruncate(f.mem_fd, MEM_SIZE), 0);
    f.mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f.mem_fd, 0);
    CHECK(f.mem != MAP_FAILED);
    fe_setup(&f);
    uint32_t addr = fe_announced(&f);
    fe_echo(&f, addr, 0, dir);
    fe_close(&f);
    backend_stop(&st);
    CHECK_EQ(st.msg_errors, 0);
}

static void test_vhost_serves_memory_in_a_tmpfs_or_disk_file(void)
{
    frontend_memory_in("/dev/shm"); /* tmpfs: told by its seals */
    frontend_memory_in(".");        /* the build directory, on disk here: by its mount */
}

static void test_vhost_drops_a_frontend_whose_memory_is_on_a_mount_it_cannot_see(void)
{
    /* a pipe stands for FUSE in another mount namespace: no seals, and its
     * mount (pipefs) is not in our table. Refused before fstat or mmap,
     * and the frontend dropped; the next one is served */
    struct fe f;
    struct amp_vhost_stats st;
    backend_start();
    fe_connect(&f);
    fe_setup(&f);
    int p[2];
    CHECK_EQ(pipe(p), 0);
    uint8_t mt[8 + 32] = {1};
    uint64_t r[4] = {GPA, MEM_SIZE, UVA, 0};
    memcpy(mt + 8, r, sizeof(r));
    errors_seen = 0;
    CHECK_EQ(fe_ack(&f, 5, mt, sizeof(mt), &p[0], 1), 1);
    CHECK(fe_closed(&f));
    CHECK_EQ(errors_seen, 2); /* the message, and the drop */
    close(p[0]);
    close(p[1]);
    fe_close(&f);
    backend_must_return(3000, "a pipe as memory");
    fe_next_is_served();
    backend_stop(&st);
    CHECK_EQ(st.msg_errors, 2);
}

/* ==== A filesystem that never answers (FUSE: needs root and /dev/fuse) ==== */

static char fuse_dir[32] = "/tmp/amp-fuse.XXXXXX";
static pid_t fuse_pid = -1;

/* Serve one file, "mem" (1 MiB), on dev: answer what opening it takes
 * (INIT, LOOKUP, OPEN) and nothing else, ever: a GETATTR (fstat), READ (a
 * page fault) or FLUSH (close) waits for as long as we live. */
static void fuse_never_answers(int dev)
{
    static uint8_t buf[1 << 17];
    for (;;) {
        ssize_t n = read(dev, buf, sizeof(buf));
        if (n < 0 && errno != EINTR)
            _exit(0); /* unmounted */
        struct fuse_in_header *h = (struct fuse_in_header *)buf;
        union {
            struct fuse_init_out init;
            struct fuse_entry_out entry;
            struct fuse_open_out open;
        } o;
        memset(&o, 0, sizeof(o));
        size_t len = 0;
        if (n < (ssize_t)sizeof(*h))
            continue;
        if (h->opcode == FUSE_INIT) {
            o.init.major = 7;
            o.init.minor = 31;
            o.init.max_write = 4096;
            len = sizeof(o.init);
        } else if (h->opcode == FUSE_LOOKUP) {
            o.entry.nodeid = o.entry.attr.ino = 2;
            o.entry.attr.mode = S_IFREG | 0600;
            o.entry.attr.nlink = 1;
            o.entry.attr.size = 1 << 20;
            len = sizeof(o.entry);
        } else if (h->opcode == FUSE_OPEN) {
            len = sizeof(o.open);
        } else {
            continue;
        }
        struct fuse_out_header oh = {(uint32_t)(sizeof(oh) + len), 0, h->unique};
        struct iovec v[2] = {{&oh, sizeof(oh)}, {&o, len}};
        if (writev(dev, v, 2) < 0)
            _exit(0);
    }
}

/* Mount it (its daemon a child of ours, which dies with us): 0, or -1. */
static int fuse_start(void)
{
    int ready[2];
    if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0 || !mkdtemp(fuse_dir) ||
        pipe(ready) != 0)
        return -1;
    fuse_pid = fork();
    if (fuse_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(ready[0]);
        int dev = open("/dev/fuse", O_RDWR | O_CLOEXEC);
        char opts[96];
        snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", dev);
        if (dev < 0 || mount("amp-test", fuse_dir, "fuse.amp-test", MS_NOSUID | MS_NODEV, opts))
            _exit(1);
        if (write(ready[1], "", 1) != 1)
            _exit(1);
        close(ready[1]);
        fuse_never_answers(dev);
    }
    close(ready[1]);
    char c;
    int ok = fuse_pid > 0 && read(ready[0], &c, 1) == 1;
    close(ready[0]);
    if (!ok) {
        if (fuse_pid > 0)
            waitpid(fuse_pid, NULL, 0);
        rmdir(fuse_dir);
    }
    return ok ? 0 : -1;
}

static void fuse_stop(void)
{
    kill(fuse_pid, SIGKILL); /* every request waiting on it ends */
    waitpid(fuse_pid, NULL, 0);
    umount2(fuse_dir, MNT_DETACH);
    rmdir(fuse_dir);
}

static void test_vhost_drops_a_frontend_whose_memory_is_on_fuse_without_waiting(void)
{
    /* nothing the backend does with it (fstat, mmap, a page fault, close)
     * may wait for the daemon, which answers none */
    struct fe f;
    struct amp_vhost_stats st;
    char path[48];
    snprintf(path, sizeof(path), "%s/mem", fuse_dir);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    CHECK(fd >= 0);
    backend_start();
    fe_connect(&f);
    fe_setup(&f);
    uint8_t mt[8 + 32] = {1};
    uint64_t r[4] = {GPA, MEM_SIZE, UVA, 0};
    memcpy(mt + 8, r, sizeof(r));
    errors_seen = 0;
    CHECK_EQ(fe_ack(&f, 5, mt, sizeof(mt), &fd, 1), 1);
    CHECK(fe_closed(&f));
    CHECK_EQ(errors_seen, 2); /* the message, and the drop */
    fe_close(&f);
    backend_must_return(3000, "memory on FUSE");
    fe_next_is_served();
    backend_stop(&st);
    CHECK_EQ(st.msg_errors, 2);
    fuse_stop();
    close(fd);
}

/* In a child: AMP_VHOST_SIGNAL's disposition set to handler, a backend
 * opened, the signal raised. Its wait status. */
static int child_raises_bound_signal(void (*handler)(int))
{
    pid_t pid = fork();
    if (pid == 0) {
        struct amp_vhost *v;
        signal(AMP_VHOST_SIGNAL, handler);
        if (amp_vhost_open(&v, NULL, NULL))
            _exit(3);
        raise(AMP_VHOST_SIGNAL);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static void test_vhost_bound_signal_not_ours_goes_where_it_went(void)
{
    /* the handler that cuts doorbell waits short passes every signal of
     * its number that is not its timer's on, and is gone after close */
    int s = child_raises_bound_signal(exit_42);
    CHECK(WIFEXITED(s) && WEXITSTATUS(s) == 42);
    s = child_raises_bound_signal(SIG_DFL);
    CHECK(WIFSIGNALED(s) && WTERMSIG(s) == AMP_VHOST_SIGNAL);
    s = child_raises_bound_signal(SIG_IGN);
    CHECK(WIFEXITED(s) && WEXITSTATUS(s) == 0);
    struct sigaction before, during, after;
    struct amp_vhost *v;
    CHECK_EQ(sigaction(AMP_VHOST_SIGNAL, NULL, &before), 0);
    CHECK_EQ(amp_vhost_open(&v, NULL, NULL), 0);
    CHECK_EQ(sigaction(AMP_VHOST_SIGNAL, NULL, &during), 0);
    CHECK((during.sa_flags & SA_SIGINFO) && !(during.sa_flags & SA_RESTART));
    amp_vhost_close(v);
    CHECK_EQ(sigaction(AMP_VHOST_SIGNAL, NULL, &after), 0);
    CHECK(after.sa_handler == before.sa_handler);
}

static void test_vhost_inband_kick_taken_by_a_waiting_send_is_not_a_stall(void)
{
    /* vq0 kicked in-band, vq1 by its eventfd, both ready when run() polls:
     * the vq1 message's echo finds no buffer on vq0 and waits, and that
     * wait takes the in-band kick poll() saw on the socket. run() must not
     * then wait for a message that is no longer there, nor drop the
     * frontend for a stall */
    struct fe f;
    struct amp_vhost_stats st;
    cfg_inband = true;
    backend_start();
    cfg_inband = false;
    fe_connect(&f);
    fe_setup_opts(&f, true);
    fe_post(&f, 0, 0, 512); /* one buffer: the announcement takes it */
    CHECK_EQ(fe_send(&f, 35, 0, (uint32_t[2]){0, 0}, 8, NULL, 0), 0); /* VRING_KICK vq0 */
    uint32_t len;
    CHECK_EQ(fe_used(&f, 0, &len), 0);
    backend_must_return(3000, "the set-up");
    uint8_t *m = f.mem + BUF1;
    uint32_t hdr[4] = {0x500, 1024, 0, 4};
    memcpy(m, hdr, 16);
    memcpy(m + 16, "echo", 4);
    fe_post(&f, 1, 0, 20);
    fe_kick(&f, 1);
    CHECK_EQ(fe_send(&f, 35, 0, (uint32_t[2]){0, 0}, 8, NULL, 0), 0);
    usleep(100000);
    amp_vhost_get_stats(vh, &st);
    uint32_t errors = st.msg_errors;
    CHECK_EQ(amp_vhost_run(vh, 0), 0);
    amp_vhost_get_stats(vh, &st);
    CHECK(amp_vhost_connected(vh));
    CHECK(amp_vhost_link_up(vh));
    CHECK_EQ(st.msg_errors, errors);
    CHECK_EQ(st.inband, true);
    fe_close(&f);
    stop = false;
    pthread_create(&thread, NULL, backend, NULL);
    backend_stop(&st);
}

int main(void)
{
    static const struct amp_test tests[] = {
        TEST(test_vhost_announces_and_echoes_on_separate_ring_parts),
        TEST(test_vhost_refuses_malformed_messages_and_carries_on),
        TEST(test_vhost_accepts_a_new_frontend_after_one_goes_away),
        TEST(test_vhost_run_without_timeout_returns_on_a_signal),
        TEST(test_vhost_send_waiting_without_timeout_ends_on_a_signal),
        TEST(test_vhost_frontend_shrinking_its_memory_is_dropped_not_fatal),
        TEST(test_vhost_send_into_shrunk_memory_is_dropped_not_fatal),
        TEST(test_vhost_sigbus_outside_frontend_memory_is_not_ours),
        TEST(test_vhost_sigbus_chains_to_default_and_ignore_whatever_their_flags),
        TEST(test_vhost_frontend_stalling_mid_message_is_dropped_in_time),
        TEST(test_vhost_frontend_not_reading_replies_is_dropped),
        TEST(test_vhost_frontend_keeping_a_blocking_call_fd_full_is_dropped),
        TEST(test_vhost_frontend_emptying_a_blocking_kick_fd_is_dropped),
        TEST(test_vhost_frontend_emptying_a_blocking_kick_fd_is_dropped_under_the_timer),
        TEST(test_vhost_refuses_doorbells_other_than_eventfds_and_sockets),
        TEST(test_vhost_bound_signal_not_ours_goes_where_it_went),
        TEST(test_vhost_inband_kick_taken_by_a_waiting_send_is_not_a_stall),
        TEST(test_vhost_mount_check_refuses_fuse_and_mounts_it_cannot_see),
        TEST(test_vhost_serves_memory_in_a_tmpfs_or_disk_file),
        TEST(test_vhost_drops_a_frontend_whose_memory_is_on_a_mount_it_cannot_see),
    };
    struct amp_test all[sizeof(tests) / sizeof(tests[0]) + 1];
    size_t n = sizeof(tests) / sizeof(tests[0]);
    memcpy(all, tests, sizeof(tests));
    if (fuse_start() == 0)
        all[n++] = (struct amp_test)TEST(
            test_vhost_drops_a_frontend_whose_memory_is_on_fuse_without_waiting);
    else /* not counted */
        printf("not run: the FUSE test (needs root, /dev/fuse and mount)\n");
    return amp_test_main(all, n);
}
