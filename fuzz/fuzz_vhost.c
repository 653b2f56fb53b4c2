/*
 * fuzz_vhost.c - the vhost-user frontend as the adversary: its messages
 * (any bytes, any number of file descriptors), the memory table and ring
 * addresses it gives, and what it writes into the rings and buffers.
 *
 * The input is a script of steps (one byte each, then its arguments):
 *   0  a raw message: length, bytes, how many memory fds come with it
 *   1  a set-up message built from fuzzed values (features, a memory
 *      table, a ring's num/addr/base/kick/call/enable, an in-band kick)
 *   2  bytes written into the frontend's memory at a fuzzed offset
 *   3  a doorbell: the frontend kicks ring 0 or 1
 *   4  amp sends on its endpoint (to its peer, or a fuzzed address)
 *
 * Invariants (FUZZ_ASSERT): no access outside our mappings (ASan), no
 * descriptor leaked (the lowest free fd is the same after close as before),
 * and a message refused never changes the error count by other than one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "amp_vhost.h"
#include "fuzz_common.h"

#define MEM_SIZE 0x10000u
#define MEM_GPA 0x100000ull
#define MEM_UVA 0x7f0000000000ull

static int mem_fd = -1;
static uint8_t *mem;

/* FUZZ_VHOST_VERBOSE=1: say what happens (to check that a seed gets far) */
static int verbose = -1;

static void on_link(struct amp_vhost *vh, bool up, void *priv)
{
    (void)vh, (void)priv;
    if (verbose)
        fprintf(stderr, "vhost: link %s\n", up ? "up" : "down");
}

static void on_error(struct amp_vhost *vh, const char *why, void *priv)
{
    (void)vh, (void)priv;
    if (verbose)
        fprintf(stderr, "vhost: refused: %s\n", why);
}

static int echo(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    (void)priv;
    int r = amp_ept_sendto(ept, AMP_ADDR_ANY, src, data, len, 0);
    if (verbose)
        fprintf(stderr, "vhost: %zu bytes from 0x%x, echo: %d\n", len, src, r);
    return AMP_RX_DONE;
}

static int lowest_free_fd(void)
{
    int fd = dup(0);
    FUZZ_ASSERT(fd >= 0);
    close(fd);
    return fd;
}

/* Send hdr + payload with nfds fds (dups of the memory file, or eventfds). */
static int msg(struct amp_vhost *vh, uint32_t req, uint32_t flags, const void *p, uint32_t size,
               int nfds, bool eventfds, int reply_fd)
{
    uint8_t buf[12 + 600];
    int fds[8];
    if (size > 600)
        size = 600;
    if (nfds > 8)
        nfds = 8;
    fz_put32(buf, req);
    fz_put32(buf + 4, flags);
    fz_put32(buf + 8, size);
    memcpy(buf + 12, p, size);
    for (int i = 0; i < nfds; i++) {
        fds[i] = eventfds ? eventfd(0, EFD_NONBLOCK) : dup(mem_fd);
        FUZZ_ASSERT(fds[i] >= 0);
    }
    uint32_t before = 0, after = 0;
    struct amp_vhost_stats st;
    amp_vhost_get_stats(vh, &st);
    before = st.msg_errors;
    int err = amp_vhost_handle(vh, buf, 12 + size, fds, nfds, reply_fd);
    amp_vhost_get_stats(vh, &st);
    after = st.msg_errors;
    /* a refused message is counted once; an accepted one may still count
     * rings the layer above refused (at most one per message) */
    FUZZ_ASSERT(after - before <= 1);
    FUZZ_ASSERT(!err || err == -EPIPE || after == before + 1); /* -EPIPE: reply not sent */
    return err;
}

static void setup_msg(struct amp_vhost *vh, struct fz_in *in, int reply_fd)
{
    uint8_t p[80] = {0};
    uint32_t flags = 1 | (fz_u8(in) & 1 ? 8u : 0u); /* version 1, maybe NEED_REPLY */
    uint32_t q = fz_u8(in) & 3;                     /* mostly 0 and 1, sometimes bad */
    switch (fz_u8(in) % 9) {
    case 0: /* features: mostly what we offer */
        fz_put64(p, fz_u8(in) & 1 ? fz_u64(in) : (1ull << 32) | (1ull << 30) | 1 | (1ull << 29));
        msg(vh, 2, flags, p, 8, 0, false, reply_fd);
        uint8_t pf = fz_u8(in);
        fz_put64(p, pf & 1 ? fz_u64(in) : pf & 2 ? 0x4028 : 0x28); /* 0x4000: in-band */
        msg(vh, 16, flags, p, 8, 0, false, reply_fd);
        break;
    case 1: { /* memory table, one region, mostly the real one */
        bool real = fz_u8(in) & 1;
        fz_put32(p, 1);
        fz_put64(p + 8, real ? MEM_GPA : fz_u64(in));
        fz_put64(p + 16, real ? MEM_SIZE : fz_u64(in));
        fz_put64(p + 24, real ? MEM_UVA : fz_u64(in));
        fz_put64(p + 32, real ? 0 : fz_u64(in));
        msg(vh, 5, flags, p, 72, 1, false, reply_fd); /* virtio_uml's size: room for 2 */
        break;
    }
    case 2:
        fz_put32(p, q);
        fz_put32(p + 4, fz_u8(in) & 1 ? fz_u32(in) : 16);
        msg(vh, 8, flags, p, 8, 0, false, reply_fd);
        break;
    case 3: /* ring addresses: offsets into the memory, 16-byte steps */
        fz_put32(p, q);
        for (int i = 0; i < 3; i++) {
            uint16_t off = fz_u16(in);
            fz_put64(p + 8 + 8 * i, MEM_UVA + (uint64_t)(off % (MEM_SIZE / 16 + 8)) * 16 +
                                        (fz_u8(in) & 7));
        }
        msg(vh, 9, flags, p, 40, 0, false, reply_fd);
        break;
    case 4:
    case 5: /* kick, call */
        fz_put64(p, q | (fz_u8(in) & 0x80 ? 0x100 : 0));
        msg(vh, 12 + (fz_u8(in) & 1), flags, p, 8, p[1] & 1 ? 0 : 1, true, reply_fd);
        break;
    case 6:
        fz_put32(p, q);
        fz_put32(p + 4, fz_u8(in) & 1);
        msg(vh, 18, flags, p, 8, 0, false, reply_fd);
        break;
    case 7:
        fz_put32(p, q);
        msg(vh, 11, flags, p, 8, 0, false, reply_fd); /* GET_VRING_BASE: stops */
        break;
    default: {
        uint8_t k = fz_u8(in) % 3;
        if (k < 2) {
            msg(vh, k ? 3 : 4, flags, p, 0, 0, false, reply_fd); /* (RESET_)OWNER */
        } else {
            fz_put32(p, q);
            msg(vh, 35, flags, p, 8, 0, false, reply_fd); /* in-band kick */
        }
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (mem_fd < 0) {
        mem_fd = memfd_create("fuzz-guest", MFD_CLOEXEC);
        FUZZ_ASSERT(mem_fd >= 0 && ftruncate(mem_fd, MEM_SIZE) == 0);
        mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mem_fd, 0);
        FUZZ_ASSERT(mem != MAP_FAILED);
    }
    memset(mem, 0, MEM_SIZE);
    int fd0 = lowest_free_fd();
    int sv[2];
    FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);

    struct fz_in in = {data, size};
    if (verbose < 0)
        verbose = getenv("FUZZ_VHOST_VERBOSE") != NULL;
    uint8_t opts = fz_u8(&in);
    struct amp_vhost_cfg cfg = {.event_idx = opts & 1, .inband = opts & 2, .on_link = on_link,
                                .on_error = on_error};
    struct amp_vhost *vh;
    FUZZ_ASSERT(amp_vhost_open(&vh, NULL, &cfg) == 0);
    struct amp_ept ept;
    FUZZ_ASSERT(amp_ept_create(&ept, amp_vhost_rpmsg(vh), "rpmsg-raw", AMP_ADDR_ANY,
                               AMP_ADDR_ANY, echo, NULL) == 0);

    for (int steps = 0; in.n && steps < 256; steps++) {
        uint8_t buf[600];
        switch (fz_u8(&in) % 5) {
        case 0: {
            uint32_t len = fz_u16(&in) % sizeof(buf);
            len = (uint32_t)fz_bytes(&in, buf, len);
            int nfds = fz_u8(&in) % 4;
            int fds[4];
            for (int i = 0; i < nfds; i++)
                fds[i] = dup(mem_fd);
            amp_vhost_handle(vh, buf, len, fds, nfds, sv[0]);
            break;
        }
        case 1:
            setup_msg(vh, &in, sv[0]);
            break;
        case 2: {
            uint32_t off = fz_u16(&in) % MEM_SIZE;
            uint32_t len = fz_u8(&in);
            if (len > MEM_SIZE - off)
                len = MEM_SIZE - off;
            fz_bytes(&in, mem + off, len);
            break;
        }
        case 3:
            amp_vhost_kick(vh, fz_u8(&in) & 1);
            break;
        default: {
            uint32_t len = fz_u16(&in) % 600;
            memset(buf, 0x5a, sizeof(buf));
            if (fz_u8(&in) & 1)
                amp_ept_send(&ept, buf, len, 0);
            else
                amp_ept_sendto(&ept, AMP_ADDR_ANY, fz_u32(&in), buf, len, 0);
            break;
        }
        }
        char sink[4096];
        while (read(sv[1], sink, sizeof(sink)) > 0) { /* replies: not checked here */
        }
    }
    amp_ept_destroy(&ept);
    amp_vhost_close(vh);
    close(sv[0]);
    close(sv[1]);
    FUZZ_ASSERT(lowest_free_fd() == fd0); /* every fd we handed over was kept or closed */
    return 0;
}
