/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * orchctl.c — the command-line client (SPEC §5): main().
 *
 * Owns: the global options (arg_*), the table of verbs with their synopsis, help and the options each
 * accepts, argument parsing and dispatch. Each verb (or family of verbs) is in its own cli/VERB.c; what
 * they share (error printing and exit codes, tables and colours, calls to the daemon) is cli/util.c.
 * Invariants of the whole client: every failure prints one "orchctl: …" line naming what was wrong and
 * returns one of the documented exit codes; nothing but results goes to stdout. Deliberately not here:
 * filtering or authorization (the daemon decides what List shows and who may act), and socket handling
 * (client.c). `validate` is local and never talks to the daemon.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "duration.h"
#include "macro.h"
#include "orchctl.h"

#ifndef ORCHD_VERSION
#        define ORCHD_VERSION "unknown"
#endif

enum {
        OPT_ALL = 1U << 0,
        OPT_STATE = 1U << 1,
        OPT_TIMEOUT = 1U << 2,
        OPT_WAIT = 1U << 3,
        OPT_PROMETHEUS = 1U << 4,
        OPT_ATTEMPT = 1U << 5,
        OPT_FOLLOW = 1U << 6,
        OPT_FILE = 1U << 7,
        OPT_QUIET = 1U << 8,
        OPT_TAIL_LINES = 1U << 9,
        OPT_NINJA = 1U << 10, /* -C, -o, --submit */
        OPT_FREEZE = 1U << 11,
        _OPT_LAST = OPT_FREEZE,
};

const char *arg_socket = NULL;
bool arg_json = false;
bool arg_all = false;
const char *arg_state = NULL;
uint64_t arg_timeout = USEC_INFINITY;
const char *arg_timeout_string = NULL;
static unsigned arg_options_seen = 0;
bool arg_color = false;
bool arg_wait = false;
bool arg_prometheus = false;
bool arg_freeze = false;
unsigned arg_attempt = 0;
bool arg_follow = false;
bool arg_file = false;
const char *arg_ninja_dir = NULL;
const char *arg_ninja_output = NULL;
bool arg_ninja_submit = false;

typedef struct Verb {
        const char *name;
        int (*run)(char **args, size_t n_args);
        size_t min_args, max_args; /* SIZE_MAX: no limit */
        unsigned options;
        const char *synopsis;
        const char *help;
} Verb;

/* --- command line --- */

static const Verb verbs[] = {
        { "submit", verb_submit, 1, SIZE_MAX, OPT_WAIT | OPT_TIMEOUT | OPT_QUIET | OPT_TAIL_LINES,
          "submit FILE... [--wait [--timeout D] [--tail-lines N] [--quiet]]",
          "Send job files to orchd, which runs them as you; prints each job's id. Exit status 65\n"
          "if a file is invalid (its errors are printed; it is not kept).\n"
          "  -w --wait            Then wait for the jobs as wait does (progress on a terminal,\n"
          "                       failure summary), with wait's exit status\n"
          "  -t --timeout DURATION  With --wait: give up waiting after DURATION\n"
          "     --tail-lines N    With --wait: output lines per failed node (default 20)\n"
          "  -q --quiet           With --wait: no progress, no failure summary\n" },
        { "list", verb_list, 0, 0, OPT_ALL | OPT_STATE, "list [--all] [--state STATE]",
          "List jobs: unfinished ones plus the last 10 finished, or all with --all.\n"
          "  -a --all            Show every job the daemon still knows\n"
          "     --state STATE    Only jobs in STATE (queued, running, paused, succeeded,\n"
          "                      failed, cancelled)\n" },
        { "status", verb_status, 1, 1, 0, "status JOB", "Show a job and one line per node.\n" },
        { "history", verb_history, 1, 2, 0, "history JOB [NODE]",
          "Show every recorded transition and control action of a job (or of one node), in\n"
          "order: time, node, event, state, attempt, actor (user and uid, or orchd) and reason.\n" },
        { "wait", verb_wait, 1, SIZE_MAX, OPT_TIMEOUT | OPT_QUIET | OPT_TAIL_LINES,
          "wait JOB... [--timeout DURATION] [--tail-lines N] [--quiet]",
          "Block until every JOB has finished, showing watch's progress on stderr when it is a\n"
          "terminal. Then, for each failed node of a job that did not succeed: \"FAILED: NODE\n"
          "(REASON, job ID)\", its command and the last lines of its output, as ninja does;\n"
          "last, one line per job. Exit status 1 if any failed, else 2 if any was cancelled,\n"
          "75 if the timeout expired first.\n"
          "  -t --timeout DURATION  Give up after DURATION (\"30\", \"90s\", \"1h30m\")\n"
          "     --tail-lines N    Output lines per failed node (0-10000, default 20)\n"
          "  -q --quiet           No progress and no failure summary: the lines only\n" },
        { "watch", verb_watch, 1, 1, OPT_QUIET | OPT_TAIL_LINES, "watch JOB [--tail-lines N] [--quiet]",
          "Show a job's progress live until it ends, with wait's exit status. On a terminal:\n"
          "a progress bar and the running nodes with their elapsed times, redrawn in place;\n"
          "otherwise (or with TERM=dumb) a line per node or job state change, then wait's\n"
          "failure summary and the job's final line as wait prints them. With --json: one\n"
          "JSON object per line and event.\n"
          "     --tail-lines N    Output lines per failed node (0-10000, default 20)\n"
          "  -q --quiet           No failure summary\n" },
        { "cancel", verb_cancel, 1, SIZE_MAX, 0, "cancel JOB [NODE...]",
          "Cancel a job, or only the given nodes: running ones get SIGTERM, then SIGKILL\n"
          "after their kill_grace; pending ones are cancelled, but for cleanup nodes\n"
          "(\"when\": \"always\"), which still run: cancel the job again to stop them too.\n" },
        { "logs", verb_logs, 1, 2, OPT_ATTEMPT | OPT_FOLLOW, "logs JOB [NODE] [--attempt N] [-f]",
          "Print a node's output: its latest attempt, or attempt N. Without NODE, every\n"
          "node's output (job file order, attempts ascending), each line prefixed with its\n"
          "node (\"build#2 | \" for attempt 2). Invalid UTF-8 is shown as U+FFFD. With\n"
          "--json, one object per chunk: {\"node\", \"attempt\", \"data\"[, \"end\"]}. Exit status\n"
          "66 if the job, node or attempt does not exist.\n"
          "     --attempt N      Only attempt N (1 is the first)\n"
          "  -f --follow         Keep printing a running attempt's output until it ends;\n"
          "                      without NODE, every node's until the job has finished\n" },
        { "graph", verb_graph, 1, 1, 0, "graph JOB|FILE",
          "Print a job's DAG (a job id) or a job file's (any other argument) as Graphviz DOT,\n"
          "nodes coloured by state, edges styled by trigger rule:\n"
          "  orchctl graph 42 | dot -Tpng > job42.png\n" },
        { "stats", verb_stats, 0, 0, OPT_PROMETHEUS, "stats [--prometheus]",
          "Show daemon counters: jobs by state, nodes of unfinished jobs, processes spawned,\n"
          "uptime, intake and journal commits.\n"
          "     --prometheus     Print them in the Prometheus text format (for node_exporter's\n"
          "                      textfile collector)\n" },
        { "retry", verb_retry, 1, SIZE_MAX, 0, "retry JOB [NODE...]",
          "Re-run a finished job: its failed, cancelled and skipped nodes, or the given nodes,\n"
          "and everything downstream of them; succeeded nodes upstream are kept. Attempt\n"
          "numbers go on. Exit status 75 if the job has not finished yet (or another\n"
          "unfinished job of yours holds its key).\n" },
        { "remove", verb_remove, 1, SIZE_MAX, 0, "remove JOB...",
          "Remove finished jobs now: their state, job file and logs leave the spool (orchd\n"
          "also removes finished jobs by itself, per KeepFinished= in orchd.conf). Yours, or\n"
          "anyone's for root and AdminGroup= members. Exit status 75 if a job has not\n"
          "finished yet (nothing is removed: cancel it first, or wait for it).\n" },
        { "gc", verb_gc, 0, 0, 0, "gc",
          "Apply KeepFinished= now: remove the finished jobs older than its age or beyond its\n"
          "count, and print how many were removed. For root, orchd's user and AdminGroup=\n"
          "members (exit status 77 for others).\n" },
        { "stop-nodes", verb_stop_nodes, 0, 0, 0, "stop-nodes",
          "Stop every running node and then orchd, as a stop with KillNodes=yes does, for\n"
          "maintenance: each node gets SIGTERM, then SIGKILL after its kill_grace, and is\n"
          "recorded as interrupted (on_interrupt applies at the next start). Returns once the\n"
          "nodes are stopped and orchd has exited; it stays stopped until started again\n"
          "(with orchd.socket, a connection starts it: systemctl stop orchd.socket too).\n"
          "Prints how many nodes were stopped. For root, orchd's user and AdminGroup=\n"
          "members (exit status 77 for others).\n" },
        { "rejected", verb_rejected, 0, 1, OPT_FILE, "rejected [NAME] [--file]",
          "Show your rejected job files (rejected/ itself is root's): without NAME, one line\n"
          "per file with when and why; with NAME, the whole error; with --file, the file's\n"
          "bytes as you dropped them, to fix and submit again. Root and AdminGroup= members\n"
          "see everyone's. Exit status 66 if you have no rejected file NAME.\n"
          "     --file           Print the rejected file itself (raw bytes)\n" },
        { "pause", verb_pause, 1, 1, OPT_FREEZE, "pause JOB [--freeze]",
          "Hold a job: no new node starts until resume; running nodes go on.\n"
          "     --freeze         Freeze the running nodes too (their cgroups), until resume;\n"
          "                      exit status 69 under process-group isolation\n" },
        { "resume", verb_resume, 1, 1, 0, "resume JOB", "Release a paused job (and thaw frozen nodes).\n" },
        { "validate", verb_validate, 1, SIZE_MAX, 0, "validate FILE...",
          "Check job files locally, without the daemon. Exit status 65 if any is invalid.\n" },
        { "import-ninja", verb_import_ninja, 0, SIZE_MAX, OPT_NINJA | OPT_WAIT | OPT_TIMEOUT,
          "import-ninja [-C DIR] [-o FILE | --submit [--wait]] [TARGET...]",
          "Make a job of a ninja build (DIR/build.ninja; ninja itself is not needed): one node\n"
          "per build edge with a command, in the build directory, after the edges it needs\n"
          "(through phony edges; implicit and order-only inputs count). Node ids are the\n"
          "edges' first outputs, or \"esc--\" and an escaped form where a path is no valid id\n"
          "(orchctl(1)). TARGETs (default: the manifest's defaults, else every root) choose\n"
          "the edges. Writes the job file to stdout, or to FILE, or submits it.\n"
          "  -C DIR               The build directory (default: the current one)\n"
          "  -o FILE              Write the job file to FILE\n"
          "     --submit         Submit the job and print its id\n"
          "  -w --wait            With --submit: then wait for it, with wait's exit status\n" },
};

static const Verb *find_verb(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, name))
                        return &verbs[i];
        return NULL;
}

static void help(const Verb *v) {
        if (v) {
                printf("Usage: orchctl [OPTIONS] %s\n\n%s", v->synopsis, v->help);
                printf("\nSee orchctl --help for the global options.\n");
                return;
        }
        printf("Usage: orchctl [OPTIONS] COMMAND [ARGS...]\n\n"
               "Control the orchd batch orchestrator.\n\nCommands:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                printf("  %s\n", verbs[i].synopsis);
        printf("\nOptions:\n"
               "  -s --socket PATH    Control socket (default: $ORCHD_SOCKET, else %s)\n"
               "  -j --json           Print JSON instead of a table\n"
               "  -h --help           Show this help, or a command's help after the command\n"
               "     --version        Show the version\n"
               "\nSee orchctl(1) for exit statuses and the JSON output.\n",
               CLIENT_DEFAULT_SOCKET);
}

enum {
        ARG_VERSION = 0x100,
        ARG_STATE,
        ARG_PROMETHEUS,
        ARG_ATTEMPT,
        ARG_FILE,
        ARG_TAIL_LINES,
        ARG_SUBMIT,
        ARG_FREEZE,
};

static const struct option options[] = { { "socket", required_argument, NULL, 's' },
                                         { "json", no_argument, NULL, 'j' },
                                         { "help", no_argument, NULL, 'h' },
                                         { "version", no_argument, NULL, ARG_VERSION },
                                         { "all", no_argument, NULL, 'a' },
                                         { "state", required_argument, NULL, ARG_STATE },
                                         { "timeout", required_argument, NULL, 't' },
                                         { "wait", no_argument, NULL, 'w' },
                                         { "prometheus", no_argument, NULL, ARG_PROMETHEUS },
                                         { "attempt", required_argument, NULL, ARG_ATTEMPT },
                                         { "follow", no_argument, NULL, 'f' },
                                         { "file", no_argument, NULL, ARG_FILE },
                                         { "quiet", no_argument, NULL, 'q' },
                                         { "tail-lines", required_argument, NULL, ARG_TAIL_LINES },
                                         { "submit", no_argument, NULL, ARG_SUBMIT },
                                         { "freeze", no_argument, NULL, ARG_FREEZE },
                                         {} };

/* A decimal number from min to max (no sign, no leading zero unless min is 0). Returns 0, or
 * -EINVAL/-ERANGE. */
static int parse_number(const char *s, unsigned long min, unsigned long max, unsigned *ret) {
        unsigned long v;
        char *end;

        if (!s || *s < (min > 0 ? '1' : '0') || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != '\0' || v < min || v > max)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

/* Parse options anywhere on the line (getopt permutes). Returns -1 to go on, or an exit code. */
static int parse_argv(int argc, char **argv, bool *ret_help) {
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":s:jhat:wfqC:o:", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        arg_socket = optarg;
                        break;
                case 'j':
                        arg_json = true;
                        break;
                case 'h':
                        *ret_help = true;
                        break;
                case ARG_VERSION:
                        printf("orchctl %s\n", ORCHD_VERSION);
                        return EXIT_SUCCESS;
                case 'a':
                        arg_all = true;
                        arg_options_seen |= OPT_ALL;
                        break;
                case ARG_STATE:
                        arg_state = optarg;
                        arg_options_seen |= OPT_STATE;
                        break;
                case 't':
                        r = duration_parse(optarg, &arg_timeout);
                        if (r < 0)
                                return fail(EX_USAGE, "invalid duration '%s' for --timeout", optarg);
                        arg_timeout_string = optarg;
                        arg_options_seen |= OPT_TIMEOUT;
                        break;
                case ARG_PROMETHEUS:
                        arg_prometheus = true;
                        arg_options_seen |= OPT_PROMETHEUS;
                        break;
                case ARG_FREEZE:
                        arg_freeze = true;
                        arg_options_seen |= OPT_FREEZE;
                        break;
                case ARG_ATTEMPT:
                        r = parse_number(optarg, 1, UINT32_MAX, &arg_attempt);
                        if (r < 0)
                                return fail(EX_USAGE,
                                            "invalid attempt number '%s' for --attempt (1, 2, ...)", optarg);
                        arg_options_seen |= OPT_ATTEMPT;
                        break;
                case ARG_FILE:
                        arg_file = true;
                        arg_options_seen |= OPT_FILE;
                        break;
                case 'C':
                        arg_ninja_dir = optarg;
                        arg_options_seen |= OPT_NINJA;
                        break;
                case 'o':
                        arg_ninja_output = optarg;
                        arg_options_seen |= OPT_NINJA;
                        break;
                case ARG_SUBMIT:
                        arg_ninja_submit = true;
                        arg_options_seen |= OPT_NINJA;
                        break;
                case 'f':
                        arg_follow = true;
                        arg_options_seen |= OPT_FOLLOW;
                        break;
                case 'w':
                        arg_wait = true;
                        arg_options_seen |= OPT_WAIT;
                        break;
                case 'q':
                        arg_quiet = true;
                        arg_options_seen |= OPT_QUIET;
                        break;
                case ARG_TAIL_LINES:
                        if (parse_number(optarg, 0, 10000, &arg_tail_lines) < 0)
                                return fail(EX_USAGE,
                                            "invalid line count '%s' for --tail-lines (0 to 10000)", optarg);
                        arg_options_seen |= OPT_TAIL_LINES;
                        break;
                case ':':
                        return fail(EX_USAGE, "option '%s' needs an argument", argv[optind - 1]);
                default:
                        return fail(EX_USAGE, "unknown option '%s' (see orchctl --help)", argv[optind - 1]);
                }
        return -1;
}

static const char *option_name(unsigned opt) {
        return opt == OPT_ALL         ? "--all" :
                opt == OPT_STATE      ? "--state" :
                opt == OPT_WAIT       ? "--wait" :
                opt == OPT_PROMETHEUS ? "--prometheus" :
                opt == OPT_ATTEMPT    ? "--attempt" :
                opt == OPT_FOLLOW     ? "--follow" :
                opt == OPT_FILE       ? "--file" :
                opt == OPT_QUIET      ? "--quiet" :
                opt == OPT_TAIL_LINES ? "--tail-lines" :
                opt == OPT_NINJA      ? "-C, -o or --submit" :
                opt == OPT_FREEZE     ? "--freeze" :
                                        "--timeout";
}

int main(int argc, char **argv) {
        const Verb *v = NULL;
        bool show_help = false;
        const char *no_color = getenv("NO_COLOR"), *term = getenv("TERM");
        size_t n_args;
        int r;

        r = parse_argv(argc, argv, &show_help);
        if (r >= 0)
                return r;
        if (optind < argc) {
                v = find_verb(argv[optind]);
                if (!v)
                        return fail(EX_USAGE, "unknown command '%s' (see orchctl --help)", argv[optind]);
        }
        if (show_help) {
                help(v);
                return EXIT_SUCCESS;
        }
        if (!v)
                return fail(EX_USAGE, "no command given (see orchctl --help)");

        for (unsigned opt = 1; opt <= _OPT_LAST; opt <<= 1)
                if ((arg_options_seen & opt) && !(v->options & opt))
                        return fail(EX_USAGE, "option %s does not apply to '%s'", option_name(opt), v->name);
        n_args = (size_t) (argc - optind - 1);
        if (n_args < v->min_args || n_args > v->max_args)
                return fail(EX_USAGE, "wrong number of arguments; usage: orchctl %s", v->synopsis);

        arg_color = isatty(STDOUT_FILENO) && isempty(no_color) && !(term && streq(term, "dumb"));
        r = v->run(argv + optind + 1, n_args);
        if (fflush(stdout) != 0 && r == EXIT_SUCCESS)
                return fail(EX_SOFTWARE, "cannot write output: %m");
        return r;
}
