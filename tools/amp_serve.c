/*
 * amp_serve.c - `amp serve --vhost-user SOCKET`: amp's remote role as a
 * virtio-rpmsg device for a vhost-user frontend such as User-Mode Linux
 * (ports/linux/amp_vhost.h), announcing each channel and echoing every
 * message. A part of the amp command (tools/amp.c) in a file of its own.
 *
 * Exit status: 0 done, 2 usage, 5 run-time failure (the socket), 130
 * interrupted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "amp_serve.h"
#include "amp_vhost.h"

enum { EX_OK = 0, EX_USAGE = 2, EX_RUN = 5, EX_INTR = 130 };

const char amp_serve_help[] =
    "serve  be a virtio-rpmsg device (amp's remote role) for a vhost-user\n"
    "       frontend such as User-Mode Linux (virtio_uml.device=SOCKET:7): announce\n"
    "       each channel (default \"rpmsg-raw\", which Linux makes a /dev/rpmsgN)\n"
    "       and echo every message. --once NAME: a channel that answers one\n"
    "       message and is then destroyed; --sink NAME: one that takes messages\n"
    "       and answers none; --die-after N: kill itself after N echoes (tests,\n"
    "       figures); --in-band: offer doorbells as messages instead of fds.\n"
    "       Runs until interrupted; frontends may come and go.\n";

static const char *prog = "amp";
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1; /* run() wakes within 200 ms */
}

#define SERVE_CHANNELS_MAX 16

struct serve_chan {
    struct amp_ept ept;
    const char *name;
    int once; /* answer one message, then destroy the channel */
    int sink; /* take messages without answering (one-way figures) */
};

static struct serve {
    struct serve_chan ch[SERVE_CHANNELS_MAX];
    int nch;
    long echoed;
    long die_after; /* > 0: SIGKILL ourselves after that many echoes */
    int quiet;
} sv;

static int serve_echo(struct amp_ept *ept, void *data, size_t len, uint32_t src, void *priv)
{
    struct serve_chan *c = priv;
    if (c->sink)
        return AMP_RX_DONE;
    int err = amp_ept_sendto(ept, AMP_ADDR_ANY, src, data, len, 1000);
    if (err < 0 && !sv.quiet)
        fprintf(stderr, "%s: serve: echo on \"%s\" to 0x%x: %s\n", prog, c->name, src,
                strerror(-err));
    if (c->once) {
        amp_ept_destroy(ept);
        if (!sv.quiet)
            fprintf(stderr, "%s: serve: channel \"%s\" destroyed\n", prog, c->name);
    }
    if (++sv.echoed == sv.die_after)
        kill(getpid(), SIGKILL); /* a backend that dies mid-stream, for tests */
    return AMP_RX_DONE;
}

static void serve_link(struct amp_vhost *vh, bool up, void *priv)
{
    struct amp_vhost_stats st;
    (void)priv;
    amp_vhost_get_stats(vh, &st);
    if (!sv.quiet)
        fprintf(stderr, "%s: serve: frontend %s%s\n", prog,
                up ? "brought the rings up: announcing" : "gone: channels unbound",
                up && st.inband ? " (in-band doorbells)" : "");
}

static void serve_error(struct amp_vhost *vh, const char *why, void *priv)
{
    (void)vh;
    (void)priv;
    fprintf(stderr, "%s: serve: refused: %s\n", prog, why);
}

static int cmd_serve(const char *socket_path, int event_idx, int inband)
{
    struct amp_vhost_cfg cfg = {.event_idx = event_idx, .inband = inband, .on_link = serve_link,
                                .on_error = serve_error};
    struct amp_vhost *vh;
    if (strlen(socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        fprintf(stderr, "%s: serve: %s: too long for a unix socket (at most %zu bytes)\n", prog,
                socket_path, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        return EX_USAGE;
    }
    int err = amp_vhost_open(&vh, socket_path, &cfg);
    if (err) {
        fprintf(stderr, "%s: serve: cannot listen on %s: %s\n", prog, socket_path,
                strerror(-err));
        return EX_RUN;
    }
    for (int i = 0; i < sv.nch; i++) {
        err = amp_ept_create(&sv.ch[i].ept, amp_vhost_rpmsg(vh), sv.ch[i].name, AMP_ADDR_ANY,
                             AMP_ADDR_ANY, serve_echo, &sv.ch[i]);
        if (err) {
            fprintf(stderr, "%s: serve: channel \"%s\": %s\n", prog, sv.ch[i].name,
                    strerror(-err));
            amp_vhost_close(vh);
            return EX_USAGE;
        }
    }
    struct sigaction sa = {.sa_handler = on_sigint};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (!sv.quiet)
        fprintf(stderr, "%s: serve: listening on %s (event-idx %s)\n", prog, socket_path,
                event_idx ? "on" : "off");
    while (!interrupted) {
        err = amp_vhost_run(vh, 200);
        if (err) {
            fprintf(stderr, "%s: serve: %s\n", prog, strerror(-err));
            break;
        }
    }
    amp_vhost_close(vh);
    return err ? EX_RUN : interrupted ? EX_INTR : EX_OK;
}

int amp_serve_main(const char *prog_name, int argc, char **argv)
{
    const char *socket_path = NULL;
    int event_idx = 1, inband = 0;
    prog = prog_name;
    for (int i = 2; i < argc; i++) {
        int more = i + 1 < argc;
        if (!strcmp(argv[i], "--vhost-user") && more)
            socket_path = argv[++i];
        else if ((!strcmp(argv[i], "--channel") || !strcmp(argv[i], "--once") ||
                  !strcmp(argv[i], "--sink")) &&
                 more) {
            if (sv.nch == SERVE_CHANNELS_MAX) {
                fprintf(stderr, "%s: serve: at most %d channels\n", prog, SERVE_CHANNELS_MAX);
                return EX_USAGE;
            }
            sv.ch[sv.nch].once = !strcmp(argv[i], "--once");
            sv.ch[sv.nch].sink = !strcmp(argv[i], "--sink");
            sv.ch[sv.nch++].name = argv[++i];
        } else if (!strcmp(argv[i], "--event-idx") && more) {
            if (strcmp(argv[i + 1], "on") && strcmp(argv[i + 1], "off")) {
                fprintf(stderr, "%s: serve: --event-idx takes on or off, not \"%s\"\n", prog,
                        argv[i + 1]);
                return EX_USAGE;
            }
            event_idx = !strcmp(argv[++i], "on");
        }
        else if (!strcmp(argv[i], "--die-after") && more && atol(argv[i + 1]) > 0)
            sv.die_after = atol(argv[++i]);
        else if (!strcmp(argv[i], "--in-band"))
            inband = 1;
        else if (!strcmp(argv[i], "--quiet"))
            sv.quiet = 1;
        else {
            fprintf(stderr,
                    "%s: serve: unexpected \"%s\"\n"
                    "usage: %s serve --vhost-user SOCKET [--channel NAME]... [--once NAME]...\n"
                    "       [--sink NAME]... [--event-idx on|off] [--in-band] [--die-after N]\n"
                    "       [--quiet]\n%s",
                    prog, argv[i], prog, amp_serve_help);
            return EX_USAGE;
        }
    }
    if (!socket_path) {
        fprintf(stderr, "%s: serve: --vhost-user SOCKET is required\n", prog);
        return EX_USAGE;
    }
    if (sv.nch == 0)
        sv.ch[sv.nch++].name = "rpmsg-raw";
    for (int i = 0; i < sv.nch; i++) {
        if (!sv.ch[i].name[0] || strlen(sv.ch[i].name) >= AMP_RPMSG_NAME_SIZE) {
            fprintf(stderr, "%s: serve: channel name \"%s\" empty or longer than %u bytes\n",
                    prog, sv.ch[i].name, AMP_RPMSG_NAME_SIZE - 1);
            return EX_USAGE;
        }
    }
    return cmd_serve(socket_path, event_idx, inband);
}
