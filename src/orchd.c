/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * orchd.c — main(): options, signal mask, the Manager, readiness, exit code.
 *
 * Runs in the foreground (no self-daemonizing, no pid file): systemd or a
 * shell supervises it. Everything else lives in the Manager.
 */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "journald.h"
#include "log.h"
#include "macro.h"
#include "manager.h"

#define DEFAULT_SPOOL LOCALSTATEDIR "/spool/orchd"
#define DEFAULT_LOG_MAX_BYTES (64U * 1024U * 1024U)

static char *arg_spool = NULL;
static char *arg_socket = NULL;
static unsigned arg_max_parallel = 0;

static void help(void) {
        printf("Usage: orchd [OPTION…]\n\n"
               "Run DAG jobs dropped into a spool directory, durably.\n\n"
               "  -d, --spool DIR         spool directory (default %s)\n"
               "  -s, --socket PATH       control socket (default $RUNTIME_DIRECTORY/orchd.sock,\n"
               "                          else /run/orchd/orchd.sock as root, else SPOOL/orchd.sock)\n"
               "  -j, --max-parallel N    nodes running at once across all jobs (default: CPUs)\n"
               "  -l, --log-level LEVEL   err, warning, notice, info (default) or debug\n"
               "  -h, --help              show this help\n"
               "      --version           show the version\n\n"
               "Signals: SIGTERM/SIGINT stop running nodes and exit (they run again or fail per\n"
               "on_interrupt at the next start); SIGHUP rescans SPOOL/new.\n"
               "See orchd(8).\n",
               DEFAULT_SPOOL);
}

static int parse_unsigned(const char *s, unsigned *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v == 0 || v > 1000000)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

/* Returns 1 to go on, 0 to exit successfully, < 0 on a usage error (already reported). */
static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100 };
        static const struct option options[] = {
                { "spool", required_argument, NULL, 'd' },
                { "socket", required_argument, NULL, 's' },
                { "max-parallel", required_argument, NULL, 'j' },
                { "log-level", required_argument, NULL, 'l' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "d:s:j:l:h", options, NULL)) >= 0)
                switch (c) {
                case 'd':
                        arg_spool = optarg;
                        break;
                case 's':
                        arg_socket = optarg;
                        break;
                case 'j':
                        if (parse_unsigned(optarg, &arg_max_parallel) < 0) {
                                fprintf(stderr, "orchd: --max-parallel needs a number ≥ 1, got '%s'\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case 'l':
                        r = log_level_from_string(optarg);
                        if (r < 0) {
                                fprintf(stderr, "orchd: unknown log level '%s'\n", optarg);
                                return -EINVAL;
                        }
                        log_set_max_level(r);
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("orchd %s\n", ORCHD_VERSION);
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "orchd: unexpected argument '%s' (see --help)\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

/* SPEC §1: $RUNTIME_DIRECTORY/orchd.sock under systemd, else /run/orchd/orchd.sock as root, else in the spool. */
static char *default_socket(const char *spool) {
        const char *rt = getenv("RUNTIME_DIRECTORY");
        char *p = NULL;

        if (rt && rt[0] == '/' && !strchr(rt, ':'))
                return asprintf(&p, "%s/orchd.sock", rt) < 0 ? NULL : p;
        if (geteuid() == 0)
                return strdup("/run/orchd/orchd.sock");
        return asprintf(&p, "%s/orchd.sock", spool) < 0 ? NULL : p;
}

int main(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_free_ char *socket = NULL;
        ManagerConfig config = {};
        sigset_t mask;
        long cpus;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 64 : EXIT_SUCCESS;

        /* sd-event needs these blocked before it can watch children and signals. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m"), EXIT_FAILURE;
        /* A client that hangs up mid-reply must not kill us; writes report EPIPE instead. */
        (void) signal(SIGPIPE, SIG_IGN);
        journald_setup();

        cpus = sysconf(_SC_NPROCESSORS_ONLN);
        config.spool_path = arg_spool ?: (char *) DEFAULT_SPOOL;
        socket = arg_socket ? strdup(arg_socket) : default_socket(config.spool_path);
        if (!socket)
                return log_oom(), EXIT_FAILURE;
        config.socket_path = socket;
        config.max_parallel = arg_max_parallel ?: (unsigned) MAX(cpus, 1L);
        config.log_max_bytes = DEFAULT_LOG_MAX_BYTES;
        job_limits_init(&config.limits);

        r = manager_new(&config, &m);
        if (r < 0)
                return EXIT_FAILURE;
        log_event(LOG_INFO, LOG_EV(.message_id = ORCH_MESSAGE_DAEMON_READY),
                  "orchd %s ready: spool %s, socket %s, %u parallel.", ORCHD_VERSION, config.spool_path,
                  config.socket_path, config.max_parallel);
        (void) sd_notify(false, "READY=1\nSTATUS=Running jobs");
        r = manager_run(m);
        (void) sd_notify(false, "STOPPING=1");
        return r;
}
