/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * orchd.c — main(): options, configuration, signal mask, the Manager, exit code.
 *
 * Runs in the foreground (no self-daemonizing, no pid file): systemd or a
 * shell supervises it. Every orchd.conf key is also a flag; flags are kept
 * apart from the file's values so that a SIGHUP reload re-reads the file and
 * still lets the flags win. Everything else lives in the Manager.
 */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "daemon-conf.h"
#include "exec-proto.h"
#include "journald.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "methods.h"
#include "spool.h"

static DaemonConf arg_cmdline = {};
static const char *arg_config = NULL;

static void help(void) {
        printf("Usage: orchd [OPTION…]\n\n"
               "Run DAG jobs dropped into a spool directory, durably.\n\n"
               "  -c, --config FILE       configuration file (default %s; missing is fine)\n"
               "  -d, --spool DIR         spool directory (default %s)\n"
               "  -s, --socket PATH       control socket (default $RUNTIME_DIRECTORY/orchd.sock,\n"
               "                          else /run/orchd/orchd.sock as root, else SPOOL/orchd.sock)\n"
               "  -j, --max-parallel N    nodes running at once across all jobs (default: CPUs)\n"
               "  -l, --log-level LEVEL   err, warning, notice, info (default) or debug\n"
               "      --max-log-size SIZE output kept per attempt log (default 64M; K, M, G)\n"
               "      --allow-users LIST  only these users may run jobs (space-separated)\n"
               "      --deny-users LIST   these users may not run jobs\n"
               "      --drop-group GROUP  group allowed to drop files into new/ (mode 1730)\n"
               "      --admin-group GROUP members see and control every job\n"
               "      --user-max-jobs N   unfinished jobs per user (default 1000; 0: no limit)\n"
               "      --user-max-bytes SIZE  job file bytes per user in the spool (default 1G)\n"
               "      --user-max-nodes N  nodes per user over unfinished jobs (default 200000)\n"
               "      --user-max-running N  running nodes per user (default 0: the fair share only)\n"
               "      --min-free-space SIZE|N%%  refuse new jobs below this much free space on the\n"
               "                          spool's filesystem (default \"64M 1%%\", the larger; 0: off)\n"
               "      --max-interrupted-reruns N  reruns in a row of a node orchd died under; then\n"
               "                          it fails with reason interrupted (default 3; 0: no limit)\n"
               "      --keep-finished AGE|N  remove finished jobs older than AGE or beyond the N\n"
               "                          most recent (default \"30d 10000\"; infinity: keep all)\n"
               "      --isolation auto|pgroup  a cgroup per node where one can be had (default),\n"
               "                          or process groups only\n"
               "      --user-cpu-weight LIST  cpu.weight of users' cgroups, USER:WEIGHT entries\n"
               "                          (1…10000; default 100 for every user: equal shares)\n"
               "      --kill-nodes yes|no whether SIGTERM stops the running nodes (default no: they\n"
               "                          run on in orchd-keeper and the next orchd adopts them)\n"
               "  -h, --help              show this help\n"
               "      --version           show the version\n\n"
               "Flags override the configuration file ([Daemon] section, same names in\n"
               "CamelCase: MaxParallel=…), also when SIGHUP reloads it.\n"
               "Signals: SIGTERM/SIGINT exit, leaving running nodes to their orchd-keeper for the\n"
               "next orchd (with KillNodes=yes they are stopped and run again or fail per\n"
               "on_interrupt); SIGHUP reloads the configuration and rescans\n"
               "SPOOL/new.\n"
               "One orchd per spool: another one already running there (it locks SPOOL/orchd.lock)\n"
               "makes this one exit with status 75, touching nothing.\n"
               "See orchd(8) and orchd.conf(5).\n",
               DEFAULT_CONFIG_FILE, DEFAULT_SPOOL);
}

/* Every flag that sets an orchd.conf key: its long name, its short one (or 0), and the key. */
static const struct {
        const char *name;
        int short_name;
        ConfKey key;
} conf_flags[] = {
        { "spool", 'd', CONF_SPOOL },
        { "socket", 's', CONF_SOCKET },
        { "max-parallel", 'j', CONF_MAX_PARALLEL },
        { "log-level", 'l', CONF_LOG_LEVEL },
        { "max-log-size", 0, CONF_MAX_LOG_SIZE },
        { "allow-users", 0, CONF_ALLOW_USERS },
        { "deny-users", 0, CONF_DENY_USERS },
        { "drop-group", 0, CONF_DROP_GROUP },
        { "admin-group", 0, CONF_ADMIN_GROUP },
        { "user-max-jobs", 0, CONF_USER_MAX_JOBS },
        { "user-max-bytes", 0, CONF_USER_MAX_BYTES },
        { "user-max-nodes", 0, CONF_USER_MAX_NODES },
        { "user-max-running", 0, CONF_USER_MAX_RUNNING },
        { "min-free-space", 0, CONF_MIN_FREE_SPACE },
        { "max-interrupted-reruns", 0, CONF_MAX_INTERRUPTED_RERUNS },
        { "keep-finished", 0, CONF_KEEP_FINISHED },
        { "isolation", 0, CONF_ISOLATION },
        { "user-cpu-weight", 0, CONF_USER_CPU_WEIGHT },
        { "kill-nodes", 0, CONF_KILL_NODES },
};

/* getopt's value for a flag without a short name: ARG_CONF + its index in conf_flags. */
#define ARG_CONF 0x200
#define ARG_VERSION 0x100

static int set_flag(size_t i, const char *value) {
        const char *why = NULL;
        int r = conf_set(&arg_cmdline, conf_flags[i].key, value, &why);

        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                fprintf(stderr, "orchd: invalid --%s '%s': %s\n", conf_flags[i].name, value, why);
                return r;
        }
        return 0;
}

/* The conf_flags index of getopt's value c, or -1. */
static ssize_t conf_flag_of(int c) {
        for (size_t i = 0; i < ELEMENTSOF(conf_flags); i++)
                if (c == (conf_flags[i].short_name ?: ARG_CONF + (int) i))
                        return (ssize_t) i;
        return -1;
}

/* Returns 1 to go on, 0 to exit successfully, < 0 on a usage error (already reported). */
static int parse_argv(int argc, char *argv[]) {
        struct option options[ELEMENTSOF(conf_flags) + 4] = {
                { "config", required_argument, NULL, 'c' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
        };
        int c, r = 0;
        ssize_t i;

        for (size_t k = 0; k < ELEMENTSOF(conf_flags); k++)
                options[3 + k] = (struct option){ conf_flags[k].name, required_argument, NULL,
                                                  conf_flags[k].short_name ?: ARG_CONF + (int) k };
        while (r >= 0 && (c = getopt_long(argc, argv, "c:d:s:j:l:h", options, NULL)) >= 0) {
                i = conf_flag_of(c);
                if (i >= 0) {
                        r = set_flag((size_t) i, optarg);
                        continue;
                }
                switch (c) {
                case 'c':
                        arg_config = optarg;
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
        }
        if (r < 0)
                return r;
        if (optind < argc) {
                fprintf(stderr, "orchd: unexpected argument '%s' (see --help)\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

static int block_signals(void) {
        sigset_t mask;

        /* sd-event needs these blocked before it can watch children and signals. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");
        /* A client that hangs up mid-reply must not kill us; writes report EPIPE instead. */
        (void) signal(SIGPIPE, SIG_IGN);
        return 0;
}

/* Wire the layers: the manager (jobs, spool, loop), then the methods above it with the control server,
 * then start taking jobs. Returns 0, -EALREADY (another orchd holds the spool) or -errno (logged). */
static int daemon_new(const ManagerConfig *config, Manager **ret_m, Methods **ret_ms) {
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_(methods_freep) Methods *ms = NULL;
        int r;

        r = manager_new(config, &m);
        if (r >= 0)
                r = methods_new(m, &ms);
        if (r >= 0)
                r = manager_start(m);
        if (r < 0)
                return r;
        *ret_ms = TAKE_PTR(ms);
        *ret_m = TAKE_PTR(m);
        return 0;
}

int main(int argc, char *argv[]) {
        /* Freed in reverse: the methods (held replies, the socket) before the manager they use. */
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_(methods_freep) Methods *ms = NULL;
        DaemonConf conf = {};
        ManagerConfig config;
        char spool_id[SPOOL_ID_SIZE];
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 64 : EXIT_SUCCESS;
        /* A flag's log level applies to reading the file too. */
        if (CONF_SET(&arg_cmdline, CONF_LOG_LEVEL))
                log_set_max_level(arg_cmdline.log_level);
        r = daemon_conf_load(arg_config ?: DEFAULT_CONFIG_FILE, arg_config != NULL, &arg_cmdline, &conf);
        if (r < 0)
                return r == -ENOMEM ? EXIT_FAILURE : 78; /* EX_CONFIG */
        log_set_max_level(conf.log_level);
        if (block_signals() < 0)
                return EXIT_FAILURE;
        /* Before the first entry is sent: every entry carries ORCH_SPOOL (a new spool gets it in spool.c).
         */
        if (spool_read_id(conf.spool, spool_id) >= 0)
                journald_set_spool_id(spool_id);
        journald_setup();

        config = (ManagerConfig){
                .spool_path = conf.spool,
                .socket_path = conf.socket,
                .conf = &conf,
                .config_path = arg_config ?: DEFAULT_CONFIG_FILE,
                .config_required = arg_config != NULL,
                .cmdline = &arg_cmdline,
                /* Tests run the helper of the build tree; a packaged orchd the installed one. */
                .exec_helper = getenv("ORCHD_EXEC_HELPER") ?: ORCHD_EXEC_PATH,
                .keeper_path = getenv("ORCHD_KEEPER") ?: ORCHD_KEEPER_PATH,
                /* Tests name their own PAM service file. Our environment is root's, never a job's. */
                .pam_confdir = getenv("ORCHD_PAM_CONFDIR"),
        };
        /* Nodes get 022 unless their job sets a umask; every file of ours has an explicit mode, which 022
         * leaves alone (the unit sets UMask=0022 too). */
        (void) umask(TASK_DEFAULT_UMASK);
        if (geteuid() == 0 && access(config.exec_helper, X_OK) < 0)
                log_warning_errno(errno,
                                  "Cannot run %s, so jobs of users other than root will fail to start: %m",
                                  config.exec_helper);
        if (access(config.keeper_path, X_OK) < 0)
                log_warning_errno(errno, "Cannot run %s, so no node will start (they wait until it can): %m",
                                  config.keeper_path);
        if (geteuid() == 0 && !config.pam_confdir && access("/etc/pam.d/" EXEC_PAM_SERVICE, F_OK) < 0 &&
            access("/usr/lib/pam.d/" EXEC_PAM_SERVICE, F_OK) < 0)
                log_warning("No PAM service file /etc/pam.d/" EXEC_PAM_SERVICE
                            ", so jobs of users other "
                            "than root will be refused (account:error): install contrib/pam.d/orchd, see "
                            "orchd(8).");
        jobspec_limits_init(&config.limits);

        r = daemon_new(&config, &m, &ms);
        if (r >= 0)
                log_event(LOG_INFO, LOG_EV(.message_id = ORCH_MESSAGE_DAEMON_READY),
                          "orchd %s ready: spool %s, socket %s, %u parallel.", ORCHD_VERSION,
                          config.spool_path, config.socket_path, conf.max_parallel);
        conf_done(&conf);
        if (r == -EALREADY)
                return 75; /* EX_TEMPFAIL: another orchd runs on this spool */
        if (r < 0)
                return EXIT_FAILURE;
        return manager_run(m);
}
