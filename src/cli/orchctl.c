/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * orchctl.c — the command-line client (SPEC §5).
 *
 * Owns: argument parsing, the mapping of daemon errors to exit codes, and
 * the human (aligned columns, colour only on a TTY without NO_COLOR) and JSON
 * (pretty, two-space indent, exactly the daemon's objects) renderings.
 * Invariants: every failure prints one "orchctl: …" line naming what was
 * wrong and returns one of the documented exit codes; nothing but results
 * goes to stdout. Deliberately not here: filtering or authorization (the
 * daemon decides what List shows and who may act), and socket handling
 * (client.c). `validate` is local and never talks to the daemon.
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "orchctl.h"
#include "graph.h"
#include "duration.h"
#include "jobspec.h"
#include "json-util.h"
#include "jsonpretty.h"
#include "macro.h"
#include "protocol.h"
#include "state.h"

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
        _OPT_LAST = OPT_FILE,
};

const char *arg_socket = NULL;
bool arg_json = false;
static bool arg_all = false;
static const char *arg_state = NULL;
static uint64_t arg_timeout = USEC_INFINITY;
static const char *arg_timeout_string = NULL;
static unsigned arg_options_seen = 0;
bool arg_color = false;
static bool arg_wait = false;
static bool arg_prometheus = false;
unsigned arg_attempt = 0;
bool arg_follow = false;
bool arg_file = false;

typedef struct Verb {
        const char *name;
        int (*run)(char **args, size_t n_args);
        size_t min_args, max_args; /* SIZE_MAX: no limit */
        unsigned options;
        const char *synopsis;
        const char *help;
} Verb;

/* --- list --- */

static int list_print(json_object *jobs) {
        Table t = { .n_columns = 6 };
        size_t n = json_object_array_length(jobs);
        int r = 0;

        if (n == 0) {
                puts("No jobs.");
                return EXIT_SUCCESS;
        }
        for (const char *const *h =
                     (const char *const[]){ "ID", "NAME", "STATE", "NODES", "SUBMITTED", "REASON", NULL };
             *h && r >= 0; h++)
                r = table_add(&t, *h, NULL);
        for (size_t i = 0; i < n && r >= 0; i++) {
                json_object *j = json_object_array_get_idx(jobs, i), *counts;
                const char *state = get_string(j, "state");
                char progress[48] = "-", when[64];

                counts = reply_member(j, "counts", json_type_object);
                if (counts)
                        format_progress(counts, progress, sizeof(progress));
                if (table_add(&t, get_string(j, "id"), NULL) < 0 ||
                    table_add(&t, get_string(j, "name"), NULL) < 0 ||
                    table_add(&t, state, state_color(state)) < 0 || table_add(&t, progress, NULL) < 0 ||
                    table_add(&t, format_local_time(get_string(j, "submitted_at"), false, when, sizeof(when)),
                              NULL) < 0)
                        r = -ENOMEM;
                else
                        r = table_add(&t, get_string(j, "reason") ?: "", NULL);
        }
        if (r >= 0)
                table_print(&t);
        table_done(&t);
        return r < 0 ? fail(EX_SOFTWARE, "out of memory") : EXIT_SUCCESS;
}

static int verb_list(char **args, size_t n_args) {
        _cleanup_json_ json_object *p = json_object_new_object(), *reply = NULL;
        json_object *jobs;
        int64_t left = 0;
        int r;

        if (!p)
                return fail(EX_SOFTWARE, "out of memory");
        if (arg_state && job_state_from_string(arg_state) < 0)
                return fail(EX_USAGE,
                            "invalid job state '%s' (queued, running, paused, succeeded, failed, "
                            "cancelled)",
                            arg_state);
        if ((arg_all && json_object_object_add(p, "all", json_object_new_boolean(true)) < 0) ||
            (arg_state && json_object_object_add(p, "state", json_object_new_string(arg_state)) < 0))
                return fail(EX_SOFTWARE, "out of memory");

        r = call_once(ORCH_METHOD_LIST, p, NULL, &reply);
        if (r != 0)
                return r;
        jobs = reply_member(reply, "jobs", json_type_array);
        if (!jobs)
                return fail(EX_SOFTWARE, "invalid reply from orchd: no \"jobs\" array");
        if (get_int(reply, "loading", &left) && left > 0)
                fprintf(stderr,
                        "orchctl: orchd is still loading %" PRId64
                        " of the jobs it found at start; they are "
                        "missing from this list (orchctl status JOB shows any of them)\n",
                        left);
        return arg_json ? print_json(jobs) : list_print(jobs);
}

/* --- status --- */

static void status_header_line(const char *label, const char *value, const char *color) {
        if (!value)
                return;
        printf("%12s: %s%s%s\n", label, color ?: "", escaped(value), color ? "\033[0m" : "");
}

static int status_nodes(json_object *nodes) {
        Table t = { .n_columns = 6 };
        int r = 0;

        for (const char *const *h =
                     (const char *const[]){ "NODE", "STATE", "ATTEMPTS", "EXIT", "DURATION", "REASON", NULL };
             *h && r >= 0; h++)
                r = table_add(&t, *h, NULL);
        json_object_object_foreach(nodes, id, node) {
                const char *state = get_string(node, "state"), *sig = get_string(node, "signal");
                char attempts[24] = "-", exit_code[24] = "-", duration[DURATION_STRING_MAX];
                int64_t i;

                if (r < 0)
                        break;
                if (get_int(node, "attempts", &i))
                        snprintf(attempts, sizeof(attempts), "%" PRId64, i);
                if (get_int(node, "exit_code", &i))
                        snprintf(exit_code, sizeof(exit_code), "%" PRId64, i);
                else if (sig)
                        snprintf(exit_code, sizeof(exit_code), "SIG%s", sig);
                if (table_add(&t, id, NULL) < 0 || table_add(&t, state, state_color(state)) < 0 ||
                    table_add(&t, attempts, NULL) < 0 || table_add(&t, exit_code, NULL) < 0 ||
                    table_add(&t, node_duration(node, duration, sizeof(duration)), NULL) < 0)
                        r = -ENOMEM;
                else
                        r = table_add(&t, get_string(node, "reason") ?: "", NULL);
        }
        if (r >= 0)
                table_print(&t);
        table_done(&t);
        if (r >= 0) {
                json_object_object_foreach(nodes, lid, lnode) {
                        int64_t lost;

                        if (get_int(lnode, "log_dropped", &lost) && lost > 0)
                                printf("Node %s: %" PRId64
                                       " bytes of output of its last attempt were lost from "
                                       "its log (the spool's filesystem was full).\n",
                                       lid, lost);
                }
        }
        return r < 0 ? fail(EX_SOFTWARE, "out of memory") : EXIT_SUCCESS;
}

static int status_print(json_object *job) {
        json_object *owner = reply_member(job, "owner", json_type_object), *nodes;
        const char *state = get_string(job, "state"), *user = owner ? get_string(owner, "user") : NULL;
        char buf[64], who[160], prio[24], progress[48];
        int64_t uid = -1, priority = 0;
        size_t counts[_NODE_STATE_MAX] = {}, n_nodes = 0;

        if (owner)
                (void) get_int(owner, "uid", &uid);
        snprintf(who, sizeof(who), "%s (uid %" PRId64 ")", user ?: "?", uid);
        (void) get_int(job, "priority", &priority);
        snprintf(prio, sizeof(prio), "%" PRId64, priority);

        nodes = reply_member(job, "nodes", json_type_object);
        if (!nodes)
                return fail(EX_SOFTWARE, "invalid reply from orchd: job without \"nodes\"");
        json_object_object_foreach(nodes, id, node) {
                NodeState s = node_state_from_string(get_string(node, "state"));

                (void) id;
                if (s >= 0)
                        counts[s]++;
                n_nodes++;
        }
        snprintf(progress, sizeof(progress), "%zu total, %zu running, %zu succeeded, %zu failed", n_nodes,
                 counts[NODE_RUNNING], counts[NODE_SUCCEEDED], counts[NODE_FAILED]);

        printf("%s%s %s%s\n", arg_color ? "\033[1m" : "", strna(escaped(get_string(job, "id"))),
               strna(escaped(get_string(job, "name"))), arg_color ? "\033[0m" : "");
        status_header_line("State", state, state_color(state));
        status_header_line("Reason", get_string(job, "reason"), NULL);
        status_header_line("Owner", who, NULL);
        status_header_line("Priority", prio, NULL);
        status_header_line("Key", get_string(job, "key"), NULL);
        status_header_line("Source", get_string(job, "source"), NULL);
        status_header_line("Submitted",
                           format_local_time(get_string(job, "submitted_at"), true, buf, sizeof(buf)), NULL);
        status_header_line("Started",
                           format_local_time(get_string(job, "started_at"), true, buf, sizeof(buf)), NULL);
        status_header_line("Finished",
                           format_local_time(get_string(job, "finished_at"), true, buf, sizeof(buf)), NULL);
        status_header_line("Nodes", progress, NULL);
        putchar('\n');
        return status_nodes(nodes);
}

/* --json: orchd's reply re-indented as it came, when it is {"parameters":{"job":…}}: a json-c tree of a
 * 100,000-node job took seconds to build, only to be printed again. Returns -EAGAIN for any other reply,
 * which the caller takes the common way. */
static int status_json_text(Client *c) {
        static const char head[] = "{\"parameters\":{\"job\":";
        _cleanup_free_ char *out = NULL;
        const char *msg;
        size_t len, out_len, used;

        if (client_read_text(c, USEC_INFINITY, &msg, &len) < 0 || len < strlen(head) ||
            !strneq(msg, head, strlen(head)) ||
            json_pretty(msg + strlen(head), len - strlen(head), &out, &out_len, &used) < 0 ||
            len - strlen(head) - used != 2 || !strneq(msg + len - 2, "}}", 2))
                return -EAGAIN;
        if (fwrite(out, 1, out_len, stdout) != out_len || putchar('\n') == EOF)
                return fail(EX_IOERR, "cannot write the status: %m");
        return EXIT_SUCCESS;
}

static int verb_status(char **args, size_t n_args) {
        _cleanup_json_ json_object *p = id_parameters(args[0]), *reply = NULL;
        json_object *job;
        int r;

        if (!p)
                return fail(EX_SOFTWARE, "out of memory");
        if (arg_json) {
                Client *c = NULL;

                r = connect_daemon(&c);
                if (r != 0)
                        return r;
                r = client_send(c, ORCH_METHOD_STATUS, p, false) < 0 ? -EAGAIN : status_json_text(c);
                client_free(c);
                if (r != -EAGAIN)
                        return r;
        }
        r = call_once(ORCH_METHOD_STATUS, p, args[0], &reply);
        if (r != 0)
                return r;
        job = reply_member(reply, "job", json_type_object);
        if (!job)
                return fail(EX_SOFTWARE, "invalid reply from orchd: no \"job\" object");
        return arg_json ? print_json(job) : status_print(job);
}

/* --- wait --- */

void wait_print(json_object *jobs) {
        for (size_t i = 0; i < json_object_array_length(jobs); i++) {
                json_object *j = json_object_array_get_idx(jobs, i);
                const char *state = get_string(j, "state"), *reason = get_string(j, "reason"),
                           *color = state_color(state);

                printf("%s %s %s%s%s%s%s%s\n", strna(escaped(get_string(j, "id"))),
                       strna(escaped(get_string(j, "name"))), color ?: "", strna(escaped(state)),
                       color ? "\033[0m" : "", reason ? " (" : "", reason ? escaped(reason) : "",
                       reason ? ")" : "");
        }
}

/* Wait for each job in turn on one connection: the total time is that of the slowest job either way, and a
 * single deadline covers them all. */
static int verb_wait(char **args, size_t n_args) {
        _cleanup_json_ json_object *results = json_object_new_array();
        uint64_t deadline = client_deadline(arg_timeout);
        Client *c = NULL;
        int r = 0;

        if (!results)
                return fail(EX_SOFTWARE, "out of memory");
        r = connect_daemon(&c);
        if (r != 0)
                return r;

        /* Check every id first, so a typo in the last one is reported now, not after the others end. */
        for (size_t pass = 0; pass < 2 && r == 0; pass++)
                for (size_t i = 0; i < n_args && r == 0; i++) {
                        _cleanup_json_ json_object *p = id_parameters(args[i]), *reply = NULL;
                        json_object *job;

                        if (!p) {
                                r = fail(EX_SOFTWARE, "out of memory");
                                break;
                        }
                        r = call(c, pass == 0 ? ORCH_METHOD_STATUS : ORCH_METHOD_WAIT, p, deadline, args[i],
                                 &reply);
                        if (r == -ETIMEDOUT)
                                r = fail(EX_TEMPFAIL, "timed out after %s waiting for job '%s'",
                                         arg_timeout_string, args[i]);
                        if (r != 0 || pass == 0)
                                continue;
                        job = reply_member(reply, "job", json_type_object);
                        if (!job)
                                r = fail(EX_SOFTWARE, "invalid reply from orchd: no \"job\" object");
                        else if (json_object_array_add(results, json_object_get(job)) < 0)
                                r = fail(EX_SOFTWARE, "out of memory");
                }
        client_free(c);
        if (r != 0)
                return r;

        if (arg_json)
                r = print_json(results);
        else
                wait_print(results);
        return r != 0 ? r : wait_exit_code(results);
}

/* --- cancel --- */

static int verb_cancel(char **args, size_t n_args) {
        _cleanup_json_ json_object *p = job_nodes_parameters(args, n_args), *reply = NULL;

        if (!p)
                return fail(EX_SOFTWARE, "out of memory");
        return call_once(ORCH_METHOD_CANCEL, p, args[0], &reply);
}

static int verb_pause(char **args, size_t n_args) {
        _cleanup_json_ json_object *p = id_parameters(args[0]), *reply = NULL;

        if (!p)
                return fail(EX_SOFTWARE, "out of memory");
        return call_once(ORCH_METHOD_PAUSE, p, args[0], &reply);
}

static int verb_resume(char **args, size_t n_args) {
        _cleanup_json_ json_object *p = id_parameters(args[0]), *reply = NULL;

        if (!p)
                return fail(EX_SOFTWARE, "out of memory");
        return call_once(ORCH_METHOD_RESUME, p, args[0], &reply);
}

/* --- remove, gc --- */

static int verb_remove(char **args, size_t n_args) {
        int r = 0;

        /* One call per job, in order; the first failure stops (like rm would not, but a typo should not
         * be followed by more removals the user did not look at). */
        for (size_t k = 0; k < n_args && r == 0; k++) {
                _cleanup_json_ json_object *p = id_parameters(args[k]), *reply = NULL;

                if (!p)
                        return fail(EX_SOFTWARE, "out of memory");
                r = call_once(ORCH_METHOD_REMOVE, p, args[k], &reply);
        }
        return r;
}

static int verb_gc(char **args, size_t n_args) {
        _cleanup_json_ json_object *reply = NULL;
        int64_t removed = 0, kept = 0;
        int r;

        r = call_once(ORCH_METHOD_GC, NULL, NULL, &reply);
        if (r != 0)
                return r;
        if (arg_json)
                return print_json(reply);
        (void) get_int(reply, "removed", &removed);
        (void) get_int(reply, "kept", &kept);
        printf("Removed %" PRId64 " finished job%s; %" PRId64 " job%s left.\n", removed,
               removed == 1 ? "" : "s", kept, kept == 1 ? "" : "s");
        return 0;
}

/* --- validate --- */

/* Read a whole file, at most limit+1 bytes (parse_file reports the size error), and tell its real size:
 * st_size for a regular file, 0 (unknown) for anything else. Returns 0 or -errno. */
static int read_file(const char *path, size_t limit, char **ret, size_t *ret_size, uint64_t *ret_file_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, alloc = 0;
        struct stat st;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        for (;;) {
                ssize_t n;

                /* Keep room for the NUL: a full buffer must grow, not read 0 bytes and look like EOF. */
                if (size + 1 >= alloc) {
                        char *p;

                        alloc = MIN(MAX(alloc * 2, (size_t) 65536), limit + 2);
                        p = realloc(buf, alloc);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                }
                n = read(fd, buf + size, alloc - 1 - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > limit)
                        break;
        }
        buf[size] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        *ret_file_size = S_ISREG(st.st_mode) ? MAX((uint64_t) st.st_size, (uint64_t) size) : 0;
        return 0;
}

/* A file over the size limit, as jobspec_parse() would word it, but with the file's real size (0: unknown,
 * as for a pipe): read_file() stops at limit+1 bytes, which is all jobspec_parse() would know of. Returns 0
 * or -ENOMEM. */
static int too_large_errors(uint64_t file_size, size_t limit, JobErrors **ret) {
        _cleanup_(jobspec_errors_freep) JobErrors *e = calloc(1, sizeof(JobErrors));
        JobError *err;
        int r;

        if (!e || !(e->errors = calloc(1, sizeof(JobError))))
                return -ENOMEM;
        e->n_errors = 1;
        err = &e->errors[0];
        err->path = strdup("");
        if (file_size > 0)
                r = asprintf(&err->message,
                             "file is too large: %" PRIu64 " bytes (%.1f MiB), the limit is %zu (%.1f MiB)",
                             file_size, file_size / 1048576.0, limit, limit / 1048576.0);
        else
                r = asprintf(&err->message,
                             "file is too large: more than %zu bytes, the limit is %zu (%.1f MiB)", limit,
                             limit, limit / 1048576.0);
        if (r < 0)
                err->message = NULL;
        if (r < 0 || !err->path)
                return -ENOMEM;
        *ret = TAKE_PTR(e);
        return 0;
}

/* jobspec_parse() for a file read by read_file(), named after its file name. Returns as jobspec_parse(). */
static int parse_file(const char *path, const char *buf, size_t size, uint64_t file_size,
                      const JobLimits *limits, JobSpec **ret, JobErrors **reterr) {
        _cleanup_free_ char *name = NULL;
        int r;

        if (size > limits->max_file_size) {
                r = too_large_errors(file_size, limits->max_file_size, reterr);
                return r < 0 ? r : -EINVAL;
        }
        name = jobspec_name_from_filename(path);
        if (!name)
                return -ENOMEM;
        return jobspec_parse(buf, size, limits, name, ret, reterr);
}

/* Validate one file. Returns 0 (valid), EX_DATAERR (invalid) or EX_NOINPUT (unreadable); appends its
 * JSON result to results in --json mode. */
static int validate_one(const char *path, const JobLimits *limits, json_object *results) {
        _cleanup_free_ char *buf = NULL, *text = NULL;
        JobSpec *spec = NULL;
        JobErrors *errors = NULL;
        json_object *o;
        uint64_t file_size = 0;
        size_t size = 0;
        int r, ret;

        r = read_file(path, limits->max_file_size, &buf, &size, &file_size);
        if (r < 0) {
                fail(EX_NOINPUT, "cannot read '%s': %s", path, strerror(-r));
                if (results) {
                        JobError e = { .path = (char *) "", .message = (char *) strerror(-r) };
                        JobErrors l = { .errors = &e, .n_errors = 1 };

                        o = jobspec_errors_to_json(&l, path);
                        if (o &&
                            (json_object_object_add(o, "valid", json_object_new_boolean(false)) < 0 ||
                             json_object_array_add(results, o) < 0))
                                json_object_put(o);
                }
                return EX_NOINPUT;
        }

        r = parse_file(path, buf, size, file_size, limits, &spec, &errors);
        if (r == -ENOMEM)
                return fail(EX_SOFTWARE, "out of memory");
        ret = r < 0 ? EX_DATAERR : EXIT_SUCCESS;

        if (results) {
                o = jobspec_errors_to_json(r < 0 ? errors : NULL, path);
                if (!o || json_object_object_add(o, "valid", json_object_new_boolean(r >= 0)) < 0 ||
                    json_object_array_add(results, o) < 0) {
                        json_object_put(o);
                        ret = fail(EX_SOFTWARE, "out of memory");
                }
        } else if (r < 0) {
                text = jobspec_errors_format(errors, path);
                if (text)
                        print_text_escaped(stderr, text);
                else
                        fputs("out of memory\n", stderr);
        } else
                printf("%s: valid, %zu node%s\n", escaped(path), spec->n_nodes, spec->n_nodes == 1 ? "" : "s");

        jobspec_free(spec);
        jobspec_errors_free(errors);
        return ret;
}

static int verb_validate(char **args, size_t n_args) {
        _cleanup_json_ json_object *results = arg_json ? json_object_new_array() : NULL;
        JobLimits limits;
        int ret = EXIT_SUCCESS;

        if (arg_json && !results)
                return fail(EX_SOFTWARE, "out of memory");
        jobspec_limits_init(&limits);
        for (size_t i = 0; i < n_args; i++) {
                int r = validate_one(args[i], &limits, results);

                /* Worst first: internal error, then unreadable, then invalid. */
                if (r == EX_SOFTWARE || (r == EX_NOINPUT && ret != EX_SOFTWARE) || (r != 0 && ret == 0))
                        ret = r;
        }
        if (results && print_json(results) != 0)
                return EX_SOFTWARE;
        return ret;
}

/* --- submit --- */

/* Print the errors of an InvalidJob reply like jobspec_errors_format() does for validate. */
static void print_submit_errors(const char *path, json_object *params) {
        json_object *errors = reply_member(params, "errors", json_type_array);
        size_t n = errors ? json_object_array_length(errors) : 0;

        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(errors, i), *line = NULL, *col = NULL;
                const char *jpath = get_string(e, "path"), *msg = get_string(e, "message");

                (void) json_object_object_get_ex(e, "line", &line);
                (void) json_object_object_get_ex(e, "column", &col);
                if (json_object_get_int(line) > 0)
                        fprintf(stderr, "%s:%d:%d: %s\n", escaped(path), json_object_get_int(line),
                                json_object_get_int(col), strna(escaped(msg)));
                else if (!isempty(jpath))
                        fprintf(stderr, "%s: %s: %s\n", escaped(path), escaped(jpath), strna(escaped(msg)));
                else
                        fprintf(stderr, "%s: %s\n", escaped(path), strna(escaped(msg)));
        }
}

/* Print the error of a file over the size limit as validate does. Returns EX_DATAERR, or EX_SOFTWARE. */
static int report_too_large(const char *path, uint64_t file_size, size_t limit) {
        _cleanup_(jobspec_errors_freep) JobErrors *errors = NULL;
        _cleanup_free_ char *text = NULL;

        if (too_large_errors(file_size, limit, &errors) < 0 || !(text = jobspec_errors_format(errors, path)))
                return fail(EX_SOFTWARE, "out of memory");
        print_text_escaped(stderr, text);
        return EX_DATAERR;
}

/* Submit one file. Returns 0 with *ret_id (owned), EX_DATAERR after printing its errors, or another exit
 * code after printing why. */
static int submit_one(Client *c, const char *path, const JobLimits *limits, char **ret_id) {
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        _cleanup_json_ json_object *p = json_object_new_object();
        _cleanup_free_ char *buf = NULL;
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path, *id;
        uint64_t file_size = 0;
        size_t size = 0;
        int r;

        r = read_file(path, limits->max_file_size, &buf, &size, &file_size);
        if (r < 0)
                return fail(EX_NOINPUT, "cannot read '%s': %s", path, strerror(-r));
        if (size > limits->max_file_size) /* said here: orchd would only know of the bytes we send */
                return report_too_large(path, file_size, limits->max_file_size);
        if (!p || json_object_object_add(p, "name", json_object_new_string(base)) < 0 ||
            json_object_object_add(p, "job", json_object_new_string_len(buf, (int) size)) < 0)
                return fail(EX_SOFTWARE, "out of memory");
        r = client_call(c, ORCH_METHOD_SUBMIT, p, USEC_INFINITY, &m);
        if (r < 0)
                return transport_error(r);
        if (m.error && streq(m.error, ORCH_ERROR_INVALID_JOB)) {
                print_submit_errors(path, m.parameters);
                return EX_DATAERR;
        }
        if (m.error && streq(m.error, ORCH_ERROR_PERMISSION_DENIED)) { /* about the caller, not a job */
                const char *why = get_string(m.parameters, "reason");

                if (why)
                        return fail(EX_NOPERM, "%s: permission denied: %s", path, why);
                return fail(EX_NOPERM, "%s: permission denied: orchd does not take jobs from uid %u", path,
                            (unsigned) getuid());
        }
        if (m.error)
                return reply_error(&m, NULL);
        id = get_string(m.parameters, "id");
        if (isempty(id))
                return fail(EX_SOFTWARE, "invalid reply from orchd: no job id");
        *ret_id = strdup(id);
        return *ret_id ? 0 : fail(EX_SOFTWARE, "out of memory");
}

static int verb_submit(char **args, size_t n_args) {
        _cleanup_strv_free_ char **ids = calloc(n_args + 1, sizeof(char *));
        _cleanup_json_ json_object *results = json_object_new_array();
        size_t n_ids = 0;
        JobLimits limits;
        Client *c = NULL;
        int ret = 0, r;

        if (!ids || !results)
                return fail(EX_SOFTWARE, "out of memory");
        jobspec_limits_init(&limits);
        r = connect_daemon(&c);
        if (r != 0)
                return r;
        for (size_t i = 0; i < n_args; i++) {
                char *id = NULL;

                r = submit_one(c, args[i], &limits, &id);
                if (r != 0 && r != EX_DATAERR && r != EX_NOINPUT) {
                        ret = r; /* the daemon or the connection failed: stop here */
                        break;
                }
                if (r != 0) {
                        ret = ret ?: r;
                        continue;
                }
                ids[n_ids++] = id;
                if (arg_json) {
                        json_object *o = json_object_new_object();

                        if (o) {
                                json_object_object_add(o, "file", json_object_new_string(args[i]));
                                json_object_object_add(o, "id", json_object_new_string(id));
                                json_object_array_add(results, o);
                        }
                } else
                        printf("%s\n", id);
        }
        client_free(c);
        if (arg_json && !arg_wait && print_json(results) != 0)
                return EX_SOFTWARE;
        if (ret != 0 || !arg_wait || n_ids == 0)
                return ret;
        (void) fflush(stdout);
        return verb_wait(ids, n_ids);
}

/* --- graph --- */

/* A job id is all digits; anything else names a job file. */
static bool is_job_id(const char *s) {
        return s[0] >= '1' && s[0] <= '9' && strspn(s, "0123456789") == strlen(s);
}

static int graph_file(const char *path) {
        _cleanup_(jobspec_freep) JobSpec *spec = NULL;
        _cleanup_(jobspec_errors_freep) JobErrors *errors = NULL;
        _cleanup_free_ char *buf = NULL, *dot = NULL, *text = NULL;
        JobLimits limits;
        uint64_t file_size = 0;
        size_t size = 0;
        int r;

        jobspec_limits_init(&limits);
        r = read_file(path, limits.max_file_size, &buf, &size, &file_size);
        if (r < 0)
                return fail(EX_NOINPUT, "cannot read '%s': %s", path, strerror(-r));
        r = parse_file(path, buf, size, file_size, &limits, &spec, &errors);
        if (r == -EINVAL) {
                text = jobspec_errors_format(errors, path);
                print_text_escaped(stderr, strna(text));
                return EX_DATAERR;
        }
        if (r < 0 || graph_dot(spec, NULL, &dot) < 0)
                return fail(EX_SOFTWARE, "out of memory");
        fputs(dot, stdout);
        return 0;
}

static int verb_graph(char **args, size_t n_args) {
        _cleanup_json_ json_object *p = NULL, *reply = NULL;
        const char *dot;
        int r;

        if (!is_job_id(args[0]))
                return graph_file(args[0]);
        p = id_parameters(args[0]);
        if (!p)
                return fail(EX_SOFTWARE, "out of memory");
        r = call_once(ORCH_METHOD_GRAPH, p, args[0], &reply);
        if (r != 0)
                return r;
        dot = get_string(reply, "dot");
        if (!dot)
                return fail(EX_SOFTWARE, "invalid reply from orchd: no \"dot\" text");
        fputs(dot, stdout);
        return 0;
}

/* --- stats --- */

static int64_t stat_int(json_object *o, const char *a, const char *b) {
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, a, &v))
                return 0;
        if (b && !json_object_object_get_ex(v, b, &v))
                return 0;
        return json_object_get_int64(v);
}

/* "3 queued, 1 running, …" over every key of a counts object, in the daemon's order. */
static void print_counts(json_object *counts, const char *suffix) {
        bool first = true;

        json_object_object_foreach(counts, k, v) {
                printf("%s%" PRId64 " %s", first ? "" : ", ", json_object_get_int64(v), k);
                first = false;
        }
        printf("%s\n", suffix);
}

static void stats_print(json_object *r) {
        int64_t up = stat_int(r, "uptime_ms", NULL) / 1000, commits = stat_int(r, "journal", "commits");
        json_object *jobs = reply_member(r, "jobs", json_type_object),
                    *nodes = reply_member(r, "nodes", json_type_object);
        json_object *ro = reply_member(r, "read_only", json_type_string);

        /* First, so that nobody misses why nothing runs. */
        if (ro)
                printf("READ-ONLY: %s\n", json_object_get_string(ro));
        if (stat_int(r, "loading", NULL) > 0)
                printf("LOADING: %" PRId64
                       " jobs found at start are not loaded yet (not counted below); "
                       "no job is taken until they are (unfinished ones are, and run)\n",
                       stat_int(r, "loading", NULL));
        printf("  Uptime: %" PRId64 "d %02" PRId64 ":%02" PRId64 ":%02" PRId64 "\n", up / 86400,
               up / 3600 % 24, up / 60 % 60, up % 60);
        printf("    Jobs: ");
        if (jobs)
                print_counts(jobs, "");
        printf("   Nodes: ");
        if (nodes)
                print_counts(nodes, " (of unfinished jobs)");
        printf(" Spawned: %" PRId64 " processes\n", stat_int(r, "spawned", NULL));
        printf("  Intake: %" PRId64 " accepted, %" PRId64 " rejected\n", stat_int(r, "intake", "accepted"),
               stat_int(r, "intake", "rejected"));
        printf(" Journal: %" PRId64 " commits, %" PRId64 " files, %.2f ms per commit\n", commits,
               stat_int(r, "journal", "files"),
               commits > 0 ? (double) stat_int(r, "journal", "write_us") / 1000.0 / (double) commits : 0.0);
}

/* The Prometheus text exposition format, for node_exporter's textfile collector. */
static void stats_prometheus(json_object *r) {
        json_object *jobs = reply_member(r, "jobs", json_type_object),
                    *nodes = reply_member(r, "nodes", json_type_object);

        printf("# HELP orchd_jobs Jobs the daemon knows, by state.\n# TYPE orchd_jobs gauge\n");
        if (jobs) {
                json_object_object_foreach(jobs, k, v)
                        printf("orchd_jobs{state=\"%s\"} %" PRId64 "\n", k, json_object_get_int64(v));
        }
        printf("# HELP orchd_nodes Nodes of unfinished jobs, by state.\n# TYPE orchd_nodes gauge\n");
        if (nodes) {
                json_object_object_foreach(nodes, k, v)
                        printf("orchd_nodes{state=\"%s\"} %" PRId64 "\n", k, json_object_get_int64(v));
        }
        printf("# HELP orchd_loading_jobs Jobs found at start not loaded yet (not in orchd_jobs).\n"
               "# TYPE orchd_loading_jobs gauge\norchd_loading_jobs %" PRId64 "\n",
               stat_int(r, "loading", NULL));
        printf("# HELP orchd_spawned_total Node processes started.\n# TYPE orchd_spawned_total counter\n"
               "orchd_spawned_total %" PRId64 "\n",
               stat_int(r, "spawned", NULL));
        printf("# HELP orchd_uptime_seconds Time since the daemon started.\n# TYPE orchd_uptime_seconds gauge\n"
               "orchd_uptime_seconds %.3f\n",
               (double) stat_int(r, "uptime_ms", NULL) / 1000.0);
        printf("# HELP orchd_intake_total Job files taken, by result.\n# TYPE orchd_intake_total counter\n"
               "orchd_intake_total{result=\"accepted\"} %" PRId64
               "\norchd_intake_total{result=\"rejected\"} %" PRId64 "\n",
               stat_int(r, "intake", "accepted"), stat_int(r, "intake", "rejected"));
        printf("# HELP orchd_journal_commits_total Durable group commits.\n# TYPE orchd_journal_commits_total counter\n"
               "orchd_journal_commits_total %" PRId64 "\n",
               stat_int(r, "journal", "commits"));
        printf("# HELP orchd_journal_files_total Journal files written.\n# TYPE orchd_journal_files_total counter\n"
               "orchd_journal_files_total %" PRId64 "\n",
               stat_int(r, "journal", "files"));
        printf("# HELP orchd_journal_write_seconds_total Time spent making commits durable.\n"
               "# TYPE orchd_journal_write_seconds_total counter\n"
               "orchd_journal_write_seconds_total %.6f\n",
               (double) stat_int(r, "journal", "write_us") / 1e6);
        printf("# HELP orchd_read_only 1 while orchd cannot write its state (no room, or no fds): nothing starts.\n"
               "# TYPE orchd_read_only gauge\norchd_read_only %d\n",
               reply_member(r, "read_only", json_type_string) ? 1 : 0);
}

static int verb_stats(char **args, size_t n_args) {
        _cleanup_json_ json_object *reply = NULL;
        int r;

        r = call_once(ORCH_METHOD_STATS, NULL, NULL, &reply);
        if (r != 0)
                return r;
        if (arg_json)
                return print_json(reply);
        if (arg_prometheus)
                stats_prometheus(reply);
        else
                stats_print(reply);
        return 0;
}

/* --- command line --- */

static const Verb verbs[] = {
        { "submit", verb_submit, 1, SIZE_MAX, OPT_WAIT | OPT_TIMEOUT, "submit FILE... [--wait [--timeout D]]",
          "Send job files to orchd, which runs them as you; prints each job's id. Exit status 65\n"
          "if a file is invalid (its errors are printed; it is not kept).\n"
          "  -w --wait            Then wait for the jobs, with wait's exit status\n"
          "  -t --timeout DURATION  With --wait: give up waiting after DURATION\n" },
        { "list", verb_list, 0, 0, OPT_ALL | OPT_STATE, "list [--all] [--state STATE]",
          "List jobs: unfinished ones plus the last 10 finished, or all with --all.\n"
          "  -a --all            Show every job the daemon still knows\n"
          "     --state STATE    Only jobs in STATE (queued, running, paused, succeeded,\n"
          "                      failed, cancelled)\n" },
        { "status", verb_status, 1, 1, 0, "status JOB", "Show a job and one line per node.\n" },
        { "wait", verb_wait, 1, SIZE_MAX, OPT_TIMEOUT, "wait JOB... [--timeout DURATION]",
          "Block until every JOB has finished. Exit status 1 if any failed, else 2 if any\n"
          "was cancelled, 75 if the timeout expired first.\n"
          "  -t --timeout DURATION  Give up after DURATION (\"30\", \"90s\", \"1h30m\")\n" },
        { "watch", verb_watch, 1, 1, 0, "watch JOB",
          "Show a job's progress live until it ends, with wait's exit status. On a terminal:\n"
          "a progress bar and the running nodes with their elapsed times, redrawn in place;\n"
          "otherwise (or with TERM=dumb) a line per node or job state change, then the job's\n"
          "final line as wait prints it. With --json: one JSON object per line and event.\n" },
        { "cancel", verb_cancel, 1, SIZE_MAX, 0, "cancel JOB [NODE...]",
          "Cancel a job, or only the given nodes: running ones get SIGTERM, then SIGKILL\n"
          "after their kill_grace; pending ones are cancelled.\n" },
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
        { "rejected", verb_rejected, 0, 1, OPT_FILE, "rejected [NAME] [--file]",
          "Show your rejected job files (rejected/ itself is root's): without NAME, one line\n"
          "per file with when and why; with NAME, the whole error; with --file, the file's\n"
          "bytes as you dropped them, to fix and submit again. Root and AdminGroup= members\n"
          "see everyone's. Exit status 66 if you have no rejected file NAME.\n"
          "     --file           Print the rejected file itself (raw bytes)\n" },
        { "pause", verb_pause, 1, 1, 0, "pause JOB",
          "Hold a job: no new node starts until resume; running nodes go on.\n" },
        { "resume", verb_resume, 1, 1, 0, "resume JOB", "Release a paused job.\n" },
        { "validate", verb_validate, 1, SIZE_MAX, 0, "validate FILE...",
          "Check job files locally, without the daemon. Exit status 65 if any is invalid.\n" },
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
                                         {} };

static int parse_attempt(const char *s, unsigned *ret) {
        unsigned long v;
        char *end;

        if (!s || *s < '1' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != '\0' || v > UINT32_MAX)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

/* Parse options anywhere on the line (getopt permutes). Returns -1 to go on, or an exit code. */
static int parse_argv(int argc, char **argv, bool *ret_help) {
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":s:jhat:wf", options, NULL)) >= 0)
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
                case ARG_ATTEMPT:
                        r = parse_attempt(optarg, &arg_attempt);
                        if (r < 0)
                                return fail(EX_USAGE,
                                            "invalid attempt number '%s' for --attempt (1, 2, ...)", optarg);
                        arg_options_seen |= OPT_ATTEMPT;
                        break;
                case ARG_FILE:
                        arg_file = true;
                        arg_options_seen |= OPT_FILE;
                        break;
                case 'f':
                        arg_follow = true;
                        arg_options_seen |= OPT_FOLLOW;
                        break;
                case 'w':
                        arg_wait = true;
                        arg_options_seen |= OPT_WAIT;
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
