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
            "info   show the image's segments, entry point and resource table\n"
            "run    load and start the image on the Linux virtual core; lines read on\n"
            "       stdin are sent on the channel (default \"vuart-channel\"), messages\n"
            "       received are written to stdout, the firmware's UART goes to stderr.\n"
            "       At end of input, wait --linger ms (default 500) for replies, then stop.\n"
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

static int cmd_info(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return EX_IMAGE;
    }
    struct amp_elf elf = {.read = amp_linux_file_read,
                          .read_ctx = (void *)(intptr_t)fd,
                          .size = (uint64_t)sb.st_size};
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
        }
    }
    close(fd);
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

/* stdin -> channel, a message per line (longer lines in several), each
 * send waiting for the channel to be bound and for a free buffer. */
static void *stdin_thread(void *arg)
{
    struct run *r = arg;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    size_t max = amp_rpmsg_max_payload(&r->host.rpmsg);
    while (!interrupted && !r->crashed && (n = getline(&line, &cap, stdin)) >= 0) {
        if (n > 0 && line[n - 1] == '\n')
            n--;
        for (int ms = 0; !amp_ept_is_ready(&r->ept) && !interrupted && !r->crashed; ms++) {
            if (ms == BIND_TIMEOUT_MS) {
                fprintf(stderr, "%s: the firmware did not announce \"%s\" within %d s\n", prog,
                        r->channel, BIND_TIMEOUT_MS / 1000);
                r->unbound = 1;
                wake_main();
                free(line);
                return NULL;
            }
            usleep(1000);
        }
        size_t off = 0;
        do {
            size_t chunk = (size_t)n - off < max ? (size_t)n - off : max;
            int err = amp_ept_send(&r->ept, line + off, chunk, 5000);
            if (err < 0) {
                if (!r->crashed && !interrupted)
                    fprintf(stderr, "%s: send: %s\n", prog, strerror(-err));
                break;
            }
            off += chunk;
        } while (off < (size_t)n);
    }
    free(line);
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

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EX_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        return EX_OK;
    }
    if (!strcmp(argv[1], "info") && argc == 3)
        return cmd_info(argv[2]);
    if (!strcmp(argv[1], "run") && argc >= 3) {
        const char *channel = "vuart-channel";
        int linger = 500, quiet = 0;
        for (int i = 3; i < argc; i++) {
            if (!strcmp(argv[i], "--channel") && i + 1 < argc)
                channel = argv[++i];
            else if (!strcmp(argv[i], "--linger") && i + 1 < argc)
                linger = atoi(argv[++i]);
            else if (!strcmp(argv[i], "--quiet"))
                quiet = 1;
            else {
                usage(stderr);
                return EX_USAGE;
            }
        }
        if (strlen(channel) >= AMP_RPMSG_NAME_SIZE) {
            fprintf(stderr, "%s: channel name longer than %u bytes\n", prog, AMP_RPMSG_NAME_SIZE - 1);
            return EX_USAGE;
        }
        return cmd_run(argv[2], channel, linger, quiet);
    }
    if (!strcmp(argv[1], "serve"))
        return amp_serve_main(prog, argc, argv);
    usage(stderr);
    return EX_USAGE;
}
