/*
 * amp.c - the amp command-line tool.
 *
 *   amp info FIRMWARE.elf             segments, entry, decoded resource table
 *   amp run FIRMWARE.elf [options]    run it on the virtual core, with one
 *                                     RPMsg channel bridged to stdin/stdout
 *   amp serve --vhost-user SOCKET     a virtio-rpmsg device for User-Mode
 *                                     Linux, echoing (see amp_vhost.h)
 *
 * Exit status: 0 done, 2 usage, 3 the image cannot be read or is not
 * valid, 4 the remote crashed, 5 other run-time failure, 130 interrupted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "amp_host.h"
#include "amp_serve.h"

enum { EX_OK = 0, EX_USAGE = 2, EX_IMAGE = 3, EX_CRASH = 4, EX_RUN = 5, EX_INTR = 130 };

static const char *prog = "amp";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s info FIRMWARE.elf\n"
            "       %s run FIRMWARE.elf [--channel NAME] [--linger MS] [--quiet]\n"
            "       %s serve --vhost-user SOCKET [--channel NAME]... [--event-idx on|off]\n"
            "\n"
            "info   show the image's segments, entry point and resource table, and\n"
            "       whether run would take it (exit 3 and the reason if not)\n"
            "run    load and start the image on the Linux virtual core; lines read on\n"
            "       stdin are sent on the channel (default \"vuart-channel\"), messages\n"
            "       received are written to stdout, the firmware's UART goes to stderr.\n"
            "       A line longer than one message's payload (496 bytes by default) goes\n"
            "       as several messages of at most that size; the newline is not sent.\n"
            "       At end of input, wait --linger ms (0 to 3600000, default 500) for\n"
            "       replies, then stop.\n"
            "       Ctrl-C stops the remote cleanly. Exit status: 0 done, 2 usage, 3 bad\n"
            "       image, 4 the remote crashed, 5 other failure (e.g. the channel was\n"
            "       not announced within 10 s), 130 interrupted.\n"
            "%s",
            prog, prog, prog, amp_serve_help);
}

/* ==== info ==== */

static const char *machine_name(uint16_t m)
{
    switch (m) {
    case AMP_EM_ARM: return "ARM";
    case AMP_EM_X86_64: return "x86-64";
    case AMP_EM_AARCH64: return "AArch64";
    case AMP_EM_RISCV: return "RISC-V";
    default: return "other";
    }
}

static void print_features(uint32_t f)
{
    printf("0x%08x", f);
    if (f & (1u << AMP_RPMSG_F_NS))
        printf(" NS");
    if (f & (1u << AMP_VIRTIO_F_EVENT_IDX))
        printf(" EVENT_IDX");
}

static void print_rsc(uint8_t *t, uint32_t size)
{
    uint32_t type;
    void *e;
    struct amp_rsc_table *h = (struct amp_rsc_table *)t;
    printf("resource table: version %u, %u entries, %u bytes\n", h->ver, h->num, size);
    for (uint32_t i = 0; (e = amp_rsc_entry(t, i, &type)) != NULL; i++) {
        printf("  [%u] at +%u: ", i, h->offset[i]);
        if (type == AMP_RSC_CARVEOUT || type == AMP_RSC_DEVMEM) {
            struct amp_rsc_carveout *c = e;
            printf("%s \"%s\" da 0x%08x pa 0x%08x len 0x%x flags 0x%x\n",
                   type == AMP_RSC_CARVEOUT ? "carveout" : "devmem", c->name, c->da, c->pa, c->len,
                   c->flags);
        } else if (type == AMP_RSC_TRACE) {
            struct amp_rsc_trace *tr = e;
            printf("trace \"%s\" da 0x%08x len %u\n", tr->name, tr->da, tr->len);
        } else if (type == AMP_RSC_VDEV) {
            struct amp_rsc_vdev *v = e;
            printf("vdev id %u%s notifyid %u\n      dfeatures ", v->id,
                   v->id == AMP_VIRTIO_ID_RPMSG ? " (rpmsg)" : "", v->notifyid);
            print_features(v->dfeatures);
            printf("\n      gfeatures ");
            print_features(v->gfeatures);
            printf("\n      status 0x%02x, config %u bytes, %u vrings\n", v->status, v->config_len,
                   v->num_of_vrings);
            for (uint32_t k = 0; k < v->num_of_vrings; k++) {
                struct amp_rsc_vring *r = &v->vring[k];
                printf("      vring%u: da ", k);
                if (r->da == AMP_RSC_ADDR_ANY)
                    printf("ANY (host chooses)");
                else
                    printf("0x%08x", r->da);
                printf(", num %u, align %u, notifyid %d\n", r->num, r->align, (int)r->notifyid);
            }
        } else {
            printf("vendor type %u\n", type);
        }
    }
}

/* What `amp run` would refuse that the listing above does not show: the
 * load itself (machine, segments, entry point, table placement), done for
 * real into a virtual core that never starts, then the vrings against the
 * host's shared window and slot storage, as the start would check them.
 * NULL if it would run, else why not. */
static const char *run_refusal(const char *path, const uint8_t *t, char *why, size_t n)
{
    static struct amp_host h;
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    struct amp_host_cfg cfg = {.uart_fd = devnull, .cpu = -1};
    int err = amp_host_open(&h, &cfg);
    if (devnull >= 0)
        close(devnull);
    if (err) {
        snprintf(why, n, "cannot set up the virtual core: %s", strerror(-err));
        return why;
    }
    const char *ret = NULL;
    if (amp_host_load(&h, path) < 0) {
        snprintf(why, n, "%s", amp_host_why(&h));
        ret = why;
    }
    const struct amp_shm *w = &h.rproc.cfg.shm;
    uint32_t type;
    void *e;
    for (uint32_t i = 0; !ret && t && (e = amp_rsc_entry((void *)t, i, &type)) != NULL; i++) {
        struct amp_rsc_vdev *v = e;
        if (type != AMP_RSC_VDEV || v->id != AMP_VIRTIO_ID_RPMSG)
            continue;
        ret = why;
        if (v->num_of_vrings < 2 || v->vring[0].num != v->vring[1].num ||
            v->vring[0].align != v->vring[1].align || !amp_vring_size(v->vring[0].num, v->vring[0].align))
            snprintf(why, n, "the RPMsg vdev needs two vrings of one valid geometry");
        else if (v->vring[0].num > AMP_HOST_NUM_MAX)
            snprintf(why, n, "vrings of %u entries: the host takes at most %u", v->vring[0].num,
                     AMP_HOST_NUM_MAX);
        else
            ret = NULL;
        size_t vsize = ret ? 0 : amp_vring_size(v->vring[0].num, v->vring[0].align);
        for (int k = 0; !ret && k < 2; k++) {
            uint64_t da = v->vring[k].da;
            bool inside = da >= w->da && da - w->da <= w->size && vsize <= w->size - (da - w->da);
            if (da != AMP_RSC_ADDR_ANY && !inside) {
                snprintf(why, n, "vring%d at 0x%llx is outside the shared window 0x%x-0x%x", k,
                         (unsigned long long)da, w->da, w->da + w->size - 1);
                ret = why;
            }
        }
    }
    amp_host_close(&h);
    return ret;
}

static int cmd_info(const char *path)
{
    uint64_t size;
    int fd = amp_linux_open_image(path, &size);
    if (fd < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, fd == -EINVAL ? "not a regular file" : strerror(-fd));
        return EX_IMAGE;
    }
    struct amp_elf elf = {.read = amp_linux_file_read, .read_ctx = (void *)(intptr_t)fd, .size = size};
    int err = amp_elf_parse(&elf);
    if (err) {
        fprintf(stderr, "%s: %s: %s (%s)\n", prog, path, elf.why ? elf.why : "invalid", strerror(-err));
        close(fd);
        return EX_IMAGE;
    }
    printf("%s: ELF%d %s, entry 0x%llx\n", path, elf.is64 ? 64 : 32, machine_name(elf.e_machine),
           (unsigned long long)elf.entry);
    printf("load segments:\n");
    for (uint32_t i = 0; i < elf.nseg; i++) {
        struct amp_elf_seg *s = &elf.seg[i];
        printf("  [%u] da 0x%08llx memsz 0x%06llx filesz 0x%06llx %c%c%c\n", i,
               (unsigned long long)s->da, (unsigned long long)s->memsz,
               (unsigned long long)s->filesz, s->flags & 4 ? 'r' : '-', s->flags & 2 ? 'w' : '-',
               s->flags & 1 ? 'x' : '-');
    }
    int ret = EX_OK;
    const uint8_t *table = NULL;
    if (!elf.rsc_size) {
        printf("resource table: none (the host must provide one)\n");
    } else if (elf.rsc_size > AMP_CFG_RSC_TABLE_MAX) {
        fprintf(stderr, "%s: %s: the resource table is %llu bytes, more than %u\n", prog, path,
                (unsigned long long)elf.rsc_size, AMP_CFG_RSC_TABLE_MAX);
        ret = EX_IMAGE;
    } else {
        static _Alignas(8) uint8_t t[AMP_CFG_RSC_TABLE_MAX];
        const char *why = NULL;
        printf("resource table section at da 0x%llx\n", (unsigned long long)elf.rsc_da);
        if (amp_linux_file_read(elf.read_ctx, elf.rsc_off, t, elf.rsc_size) < 0 ||
            amp_rsc_check(t, elf.rsc_size, &why) < 0) {
            fprintf(stderr, "%s: %s: bad resource table: %s\n", prog, path, why ? why : "unreadable");
            ret = EX_IMAGE;
        } else {
            print_rsc(t, (uint32_t)elf.rsc_size);
            table = t;
        }
    }
    close(fd);
    char why[200];
    const char *no = ret == EX_OK ? run_refusal(path, table, why, sizeof(why)) : NULL;
    if (no) {
        fprintf(stderr, "%s: %s: amp run would refuse it: %s\n", prog, path, no);
        ret = EX_IMAGE;
    } else if (ret == EX_OK) {
        printf("virtual core: loads and can start (amp run)\n");
    }
    return ret;
}

/* ==== run ==== */

static volatile sig_atomic_t interrupted;
static int wake_pipe[2] = {-1, -1};

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
    if (write(wake_pipe[1], "", 1) < 0) { /* the main loop also wakes every 50 ms */
    }
}

struct run {
    struct amp_host host;
    struct amp_ept ept;
    const char *channel;
    volatile int crashed;
    volatile int eof;
    volatile int unbound; /* the channel never bound: give up */
    volatile long received;
};

#define BIND_TIMEOUT_MS 10000 /* how long a line waits for the channel to bind */

static void wake_main(void)
{
    if (write(wake_pipe[1], "", 1) < 0) { /* the main loop also wakes every 50 ms */
    }
}

static int on_message(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    struct run *r = priv;
    (void)ept;
    (void)src;
    fwrite(data, 1, len, stdout);
    if (len == 0 || ((char *)data)[len - 1] != '\n')
        fputc('\n', stdout);
    fflush(stdout);
    r->received++;
    return AMP_RX_DONE;
}

static void on_crash(struct amp_host *h, void *priv)
{
    struct run *r = priv;
    fprintf(stderr, "%s: %s\n", prog, amp_host_why(h));
    r->crashed = 1;
    wake_main();
}

/* The next message from stdin: the rest of the current line, or its next
 * max bytes if it is longer (the newline is not sent; a line of exactly
 * max bytes is one message). Bytes read, or -1 at end of input. Memory
 * stays bounded whatever comes in: /dev/zero, a line of gigabytes. */
static ssize_t read_message(char *buf, size_t max)
{
    size_t n = 0;
    int c = EOF;
    while (n < max && (c = getc_unlocked(stdin)) != EOF && c != '\n')
        buf[n++] = (char)c;
    if (n == max && (c = getc_unlocked(stdin)) != '\n' && c != EOF)
        ungetc(c, stdin); /* the line goes on: the next message */
    return n == 0 && c == EOF ? -1 : (ssize_t)n;
}

/* stdin -> channel, a message per line (longer lines in several), each
 * send waiting for the channel to be bound and for a free buffer. */
static void *stdin_thread(void *arg)
{
    struct run *r = arg;
    static char line[65536];
    size_t max = amp_rpmsg_max_payload(&r->host.rpmsg);
    if (max > sizeof(line))
        max = sizeof(line);
    ssize_t n;
    while (!interrupted && !r->crashed && (n = read_message(line, max)) >= 0) {
        for (int ms = 0; !amp_ept_is_ready(&r->ept) && !interrupted && !r->crashed; ms++) {
            if (ms == BIND_TIMEOUT_MS) {
                fprintf(stderr, "%s: the firmware did not announce \"%s\" within %d s\n", prog,
                        r->channel, BIND_TIMEOUT_MS / 1000);
                r->unbound = 1;
                wake_main();
                return NULL;
            }
            usleep(1000);
        }
        int err = amp_ept_send(&r->ept, line, (size_t)n, 5000);
        if (err < 0 && !r->crashed && !interrupted)
            fprintf(stderr, "%s: send: %s\n", prog, strerror(-err));
    }
    r->eof = 1;
    wake_main();
    return NULL;
}

static void print_traces(struct amp_host *h)
{
    static char buf[65536];
    for (uint32_t i = 0; amp_host_trace(h, i, buf, sizeof(buf)) >= 0; i++)
        if (buf[0])
            fprintf(stderr, "%s: trace%u:\n%s%s", prog, i, buf,
                    buf[strlen(buf) - 1] == '\n' ? "" : "\n");
}

static int cmd_run(const char *path, const char *channel, int linger_ms, int quiet)
{
    static struct run r;
    if (pipe2(wake_pipe, O_CLOEXEC) < 0)
        return EX_RUN;
    int devnull = quiet ? open("/dev/null", O_WRONLY | O_CLOEXEC) : -1;
    struct amp_host_cfg cfg = {.uart_fd = quiet ? devnull : STDERR_FILENO, .cpu = -1,
                               .on_crash = on_crash, .priv = &r};
    int err = amp_host_open(&r.host, &cfg);
    if (err) {
        fprintf(stderr, "%s: cannot set up the virtual core: %s\n", prog, strerror(-err));
        return EX_RUN;
    }
    amp_ept_create(&r.ept, &r.host.rpmsg, channel, AMP_ADDR_ANY, AMP_ADDR_ANY, on_message, &r);
    if (amp_host_load(&r.host, path) < 0) {
        fprintf(stderr, "%s: %s\n", prog, amp_host_why(&r.host));
        amp_host_close(&r.host);
        return EX_IMAGE;
    }
    if (amp_host_start(&r.host) < 0) {
        fprintf(stderr, "%s: %s: cannot start: %s\n", prog, path, amp_host_why(&r.host));
        amp_host_close(&r.host);
        return EX_IMAGE;
    }
    struct sigaction sa = {.sa_handler = on_sigint};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (!quiet)
        fprintf(stderr, "%s: %s running; channel \"%s\"\n", prog, path, channel);

    r.channel = channel;
    pthread_t reader;
    pthread_create(&reader, NULL, stdin_thread, &r);
    pthread_detach(reader); /* it may sit in getline() until we exit */
    int idle = 0;
    while (!interrupted && !r.crashed && !r.unbound) {
        long before = r.received;
        struct pollfd p = {.fd = wake_pipe[0], .events = POLLIN};
        if (poll(&p, 1, 50) > 0) {
            char c;
            if (read(wake_pipe[0], &c, 1) < 0)
                break;
        }
        if (!r.eof)
            continue;
        idle = r.received != before ? 0 : idle + 50; /* roughly: each round is <= 50 ms */
        if (idle >= linger_ms)
            break;
    }

    int ret = r.crashed ? EX_CRASH : interrupted ? EX_INTR : r.unbound ? EX_RUN : EX_OK;
    if (!quiet || r.crashed)
        print_traces(&r.host);
    amp_host_close(&r.host);
    if (devnull >= 0)
        close(devnull);
    if (!quiet && ret == EX_INTR)
        fprintf(stderr, "%s: interrupted: remote stopped\n", prog);
    return ret;
}

#define LINGER_MAX_MS 3600000 /* an hour */

/* A usage error: say what was wrong, then how to call us. */
static int bad_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (%s --help for usage)\n", prog);
    return EX_USAGE;
}

/* --linger MS: digits only, 0 to LINGER_MAX_MS. */
static bool parse_ms(const char *s, int *ms)
{
    long v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || (v = v * 10 + (*s - '0')) > LINGER_MAX_MS)
            return false;
    }
    *ms = (int)v;
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EX_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return EX_OK;
        }
    }
    if (!strcmp(argv[1], "info")) {
        if (argc != 3)
            return bad_usage("info takes one firmware file%s", "");
        return cmd_info(argv[2]);
    }
    if (!strcmp(argv[1], "run")) {
        if (argc < 3 || argv[2][0] == '-')
            return bad_usage("run: the firmware file comes first%s", "");
        const char *channel = "vuart-channel";
        int linger = 500, quiet = 0;
        for (int i = 3; i < argc; i++) {
            const char *opt = argv[i];
            if ((!strcmp(opt, "--channel") || !strcmp(opt, "--linger")) && i + 1 >= argc)
                return bad_usage("%s needs a value", opt);
            if (!strcmp(opt, "--channel"))
                channel = argv[++i];
            else if (!strcmp(opt, "--linger")) {
                if (!parse_ms(argv[++i], &linger))
                    return bad_usage("--linger %s: want milliseconds, 0 to 3600000", argv[i]);
            } else if (!strcmp(opt, "--quiet"))
                quiet = 1;
            else
                return bad_usage("run: unknown option %s", opt);
        }
        if (!*channel)
            return bad_usage("--channel%s: the name is empty", "");
        if (strlen(channel) >= AMP_RPMSG_NAME_SIZE) {
            fprintf(stderr, "%s: --channel %s: longer than %u bytes\n", prog, channel,
                    AMP_RPMSG_NAME_SIZE - 1);
            return EX_USAGE;
        }
        return cmd_run(argv[2], channel, linger, quiet);
    }
    if (!strcmp(argv[1], "serve"))
        return amp_serve_main(prog, argc, argv);
    return bad_usage("unknown command %s", argv[1]);
}
