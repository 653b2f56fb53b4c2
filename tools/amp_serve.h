/*
 * amp_serve.h - the serve subcommand of the amp command (tools/amp_serve.c).
 */
#ifndef AMP_SERVE_H
#define AMP_SERVE_H

/* Its lines of `amp --help`. */
extern const char amp_serve_help[];

/* `amp serve ARGS...` (argv[1] is "serve"); returns the exit status. */
int amp_serve_main(const char *prog, int argc, char **argv);

#endif /* AMP_SERVE_H */
