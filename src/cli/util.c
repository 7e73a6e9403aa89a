/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "duration.h"
#include "escape.h"
#include "json-util.h"
#include "orchctl.h"
#include "state.h"
int fail(int code, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&msg, fmt, ap);
        va_end(ap);
        /* Messages quote what the daemon sent (ids, reasons): one escaped line, whatever they hold. */
        fprintf(stderr, "orchctl: %s\n", k < 0 ? "out of memory" : escaped(msg));
        return code;
}

/* --- output helpers --- */

int print_json(json_object *o) {
        const char *s = json_object_to_json_string_ext(
                o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);

        if (!s)
                return fail(EX_SOFTWARE, "out of memory");
        puts(s);
        return EXIT_SUCCESS;
}

const char *escaped(const char *s) {
        static char *ring[8];
        static size_t next;
        char *e;

        if (!s)
                return NULL;
        e = cescape(s);
        if (!e)
                return "";
        free(ring[next]);
        ring[next] = e;
        next = (next + 1) % ELEMENTSOF(ring);

        return e;
}

void print_text_escaped(FILE *f, const char *text) {
        while (text && *text) {
                const char *nl = strchr(text, '\n');
                size_t n = nl ? (size_t) (nl - text) : strlen(text);
                _cleanup_free_ char *e = malloc(CESCAPE_MAX(n));

                if (!e)
                        return;
                (void) cescape_buf(text, n, e, CESCAPE_MAX(n));
                fprintf(f, "%s\n", e);
                text += n + (nl ? 1 : 0);
        }
}

const char *state_color(const char *state) {
        if (!arg_color || !state)
                return NULL;
        if (streq(state, "succeeded"))
                return "\033[0;32m";
        if (streq(state, "failed"))
                return "\033[0;31m";
        if (streq(state, "running") || streq(state, "retry_wait"))
                return "\033[0;33m";
        if (streq(state, "paused"))
                return "\033[0;35m";
        if (streq(state, "cancelled") || streq(state, "skipped"))
                return "\033[0;90m";
        return NULL;
}

void table_done(Table *t) {
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t->colors);
}

int table_add(Table *t, const char *text, const char *color) {
        if (t->n_cells == t->alloc) {
                size_t a = MAX(t->alloc * 2, (size_t) 32);
                char **c = reallocarray(t->cells, a, sizeof(char *));
                const char **k;

                if (!c)
                        return -ENOMEM;
                t->cells = c;
                k = reallocarray(t->colors, a, sizeof(char *));
                if (!k)
                        return -ENOMEM;
                t->colors = k;
                t->alloc = a;
        }
        /* Cells are job data more often than not: escaped here, so no table can print a raw control. */
        t->cells[t->n_cells] = cescape(text ?: "");
        if (!t->cells[t->n_cells])
                return -ENOMEM;
        t->colors[t->n_cells++] = color;
        return 0;
}

void table_print(const Table *t) {
        size_t width[16] = {};

        assert(t->n_columns <= ELEMENTSOF(width));
        /* XXX: widths count bytes, so a non-ASCII name misaligns its row slightly. */
        for (size_t i = 0; i < t->n_cells; i++)
                width[i % t->n_columns] = MAX(width[i % t->n_columns], strlen(t->cells[i]));
        for (size_t i = 0; i < t->n_cells; i++) {
                size_t col = i % t->n_columns;
                const char *color = i < t->n_columns && arg_color ? "\033[1m" : t->colors[i];
                bool last = true;

                /* No padding after the last non-empty cell of a row: no trailing blanks. */
                for (size_t j = i + 1; j < i + t->n_columns - col; j++)
                        last = last && isempty(t->cells[j]);
                printf("%s%s%s", color ?: "", t->cells[i], color ? "\033[0m" : "");
                if (last) {
                        putchar('\n');
                        i += t->n_columns - col - 1;
                } else
                        printf("%*s", (int) (width[col] - strlen(t->cells[i]) + 2), "");
        }
}

const char *get_string(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

bool get_int(json_object *o, const char *key, int64_t *ret) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return false;
        *ret = json_object_get_int64(v);
        return true;
}

/* An RFC 3339 timestamp of the daemon in local time ("2026-11-26 10:30:00"), or "-". */
const char *format_local_time(const char *ts, bool with_zone, char *buf, size_t size) {
        uint64_t usec;
        time_t sec;
        struct tm tm;

        if (!ts || protocol_parse_timestamp(ts, &usec) < 0)
                return "-";
        sec = (time_t) (usec / USEC_PER_SEC);
        if (!localtime_r(&sec, &tm) ||
            strftime(buf, size, with_zone ? "%Y-%m-%d %H:%M:%S %Z" : "%Y-%m-%d %H:%M:%S", &tm) == 0)
                return "-";
        return buf;
}

/* "finished/total" nodes from a counts object. */
void format_progress(json_object *counts, char *buf, size_t size) {
        int64_t total = 0, done = 0;

        json_object_object_foreach(counts, state, v) {
                int64_t n = json_object_get_int64(v);

                total += n;
                if (node_state_is_final(node_state_from_string(state)))
                        done += n;
        }
        snprintf(buf, size, "%" PRId64 "/%" PRId64, done, total);
}

/* --- talking to the daemon --- */

int connect_daemon(Client **ret) {
        const char *path = client_socket_path(arg_socket);
        int r;

        r = client_connect(path, ret);
        if (r < 0)
                return fail(EX_UNAVAILABLE, "cannot connect to orchd at '%s': %s", path, strerror(-r));
        return 0;
}

int transport_error(int r) {
        const char *path = client_socket_path(arg_socket);

        if (r == -ECONNRESET || r == -EPIPE)
                return fail(EX_UNAVAILABLE, "connection to orchd at '%s' closed unexpectedly", path);
        if (r == -EBADMSG)
                return fail(EX_SOFTWARE, "invalid reply from orchd at '%s'", path);
        return fail(EX_SOFTWARE, "talking to orchd at '%s' failed: %s", path, strerror(-r));
}

/* Print a daemon error reply and return its exit code. */
int reply_error(const VarlinkMessage *m, const char *job) {
        const char *id = get_string(m->parameters, "id") ?: job ?: "?";
        const char *e = m->error;

        if (streq(e, ORCH_ERROR_NO_SUCH_JOB))
                return fail(EX_NOINPUT, "no such job '%s'", id);
        if (streq(e, ORCH_ERROR_NO_SUCH_NODE))
                return fail(EX_NOINPUT, "job '%s' has no node '%s'", id,
                            strna(get_string(m->parameters, "node")));
        if (streq(e, ORCH_ERROR_PERMISSION_DENIED) && isempty(id) && get_string(m->parameters, "reason"))
                return fail(EX_NOPERM, "permission denied: %s", get_string(m->parameters, "reason"));
        if (streq(e, ORCH_ERROR_PERMISSION_DENIED))
                return fail(EX_NOPERM, "permission denied: job '%s' belongs to another user", id);
        if (streq(e, VARLINK_ERROR_INVALID_PARAMETER))
                return fail(EX_USAGE, "orchd rejected the value of '%s'",
                            strna(get_string(m->parameters, "parameter")));
        if (streq(e, VARLINK_ERROR_METHOD_NOT_FOUND) || streq(e, VARLINK_ERROR_INTERFACE_NOT_FOUND) ||
            streq(e, VARLINK_ERROR_METHOD_NOT_IMPLEMENTED))
                return fail(EX_SOFTWARE, "orchd does not support this request (%s); is it an older version?",
                            e);
        if (streq(e, ORCH_ERROR_CANNOT_REMOVE))
                return fail(EX_TEMPFAIL,
                            "cannot remove job '%s': it has %s (cancel it first, or wait for it)", id,
                            strna(get_string(m->parameters, "reason")));
        if (streq(e, ORCH_ERROR_CANNOT_FREEZE))
                return fail(EX_UNAVAILABLE, "cannot freeze job '%s': %s; pause it without --freeze", id,
                            strna(get_string(m->parameters, "reason")));
        if (streq(e, ORCH_ERROR_CANNOT_RETRY))
                return fail(EX_TEMPFAIL, "cannot retry job '%s': %s", id,
                            strna(get_string(m->parameters, "reason")));
        if (streq(e, ORCH_ERROR_TOO_MANY_CONNECTIONS)) {
                int64_t limit = 0;

                (void) get_int(m->parameters, "limit", &limit);
                return fail(EX_UNAVAILABLE,
                            "orchd turned the connection away: %s has %" PRId64 " connections open",
                            streq(strna(get_string(m->parameters, "scope")), "total") ? "the daemon" :
                                                                                        "your user",
                            limit);
        }
        if (streq(e, ORCH_ERROR_NO_SUCH_REJECTED_FILE))
                return fail(EX_NOINPUT, "you have no rejected file '%s' (orchctl rejected lists them)",
                            strna(get_string(m->parameters, "name")));
        if (streq(e, ORCH_ERROR_REJECTED_FILE_TOO_LARGE)) {
                int64_t size = 0, limit = 0;

                (void) get_int(m->parameters, "size", &size);
                (void) get_int(m->parameters, "limit", &limit);
                return fail(EX_DATAERR,
                            "rejected file '%s' is %" PRId64 " bytes, over the %" PRId64
                            " a reply may carry; ask root to copy it from the spool's rejected/",
                            strna(get_string(m->parameters, "name")), size, limit);
        }
        if (streq(e, ORCH_ERROR_LIMIT_EXCEEDED)) {
                int64_t cur = 0, max = 0;
                const char *l = strna(get_string(m->parameters, "limit"));

                (void) get_int(m->parameters, "current", &cur);
                (void) get_int(m->parameters, "max", &max);
                return fail(EX_TEMPFAIL,
                            "orchd refused the job: you have %" PRId64 " %s, the limit %s= is %" PRId64
                            "; try again once some of your jobs have finished",
                            cur,
                            streq(l, "UserMaxJobs") ?
                                    "unfinished jobs" :
                                    streq(l, "UserMaxBytes") ?
                                    "bytes of job files in the spool (finished jobs included)" :
                                    streq(l, "UserMaxNodes") ?
                                    "nodes in unfinished jobs (this job would exceed it)" :
                                    "of it",
                            l, max);
        }
        if (streq(e, ORCH_ERROR_LOADING)) {
                int64_t left = 0;

                (void) get_int(m->parameters, "jobs", &left);
                return fail(EX_TEMPFAIL,
                            "orchd is still loading the jobs it found at start (%" PRId64
                            " left) and takes no new work until then; try again in a few seconds",
                            left);
        }
        if (streq(e, ORCH_ERROR_SPOOL_FULL))
                return fail(EX_TEMPFAIL,
                            "orchd refused the job for now: its spool is short of free space "
                            "(MinFreeSpace=); try again later");
        if (streq(e, ORCH_ERROR_INTERNAL))
                return fail(EX_SOFTWARE, "internal error in orchd: %s",
                            strna(get_string(m->parameters, "errno")));
        if (streq(e, ORCH_ERROR_PROTOCOL))
                return fail(EX_SOFTWARE, "orchd rejected the request: %s",
                            strna(get_string(m->parameters, "reason")));
        return fail(EX_SOFTWARE, "orchd replied with error %s", e);
}

/* One call. Returns 0 with *ret_parameters (owned), or an exit code after printing why. On timeout
 * (deadline reached) returns -ETIMEDOUT without printing. */
int call(Client *c, const char *method, json_object *parameters, uint64_t deadline, const char *job,
         json_object **ret_parameters) {
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        int r;

        r = client_call(c, method, parameters, deadline, &m);
        if (r == -ETIMEDOUT)
                return r;
        if (r < 0)
                return transport_error(r);
        if (m.error)
                return reply_error(&m, job);
        *ret_parameters = TAKE_PTR(m.parameters);
        return 0;
}

int call_more(Client *c, const char *method, json_object *parameters,
              int (*on_reply)(const VarlinkMessage *m, void *userdata), void *userdata) {
        int r;

        r = client_send(c, method, parameters, true);
        if (r < 0)
                return transport_error(r);
        for (;;) {
                _cleanup_(varlink_message_done) VarlinkMessage m = {};

                r = client_read_reply(c, USEC_INFINITY, &m);
                if (r < 0)
                        return transport_error(r);
                r = on_reply(&m, userdata);
                if (r != 0 || m.error || !m.continues)
                        return r;
        }
}

/* Connect and make one call. */
int call_once(const char *method, json_object *parameters, const char *job, json_object **ret) {
        Client *c = NULL;
        int r;

        r = connect_daemon(&c);
        if (r != 0)
                return r;
        r = call(c, method, parameters, USEC_INFINITY, job, ret);
        client_free(c);
        return r;
}

json_object *id_parameters(const char *id) {
        json_object *p = json_object_new_object();

        if (p && json_object_object_add(p, "id", json_object_new_string(id)) < 0)
                p = (json_object_put(p), NULL);
        return p;
}

json_object *job_nodes_parameters(char **args, size_t n_args) {
        _cleanup_json_ json_object *p = id_parameters(args[0]);
        json_object *nodes;

        if (!p || n_args < 2)
                return TAKE_PTR(p);
        nodes = json_object_new_array();
        if (!nodes || json_object_object_add(p, "nodes", nodes) < 0)
                return NULL;
        for (size_t i = 1; i < n_args; i++)
                if (json_object_array_add(nodes, json_object_new_string(args[i])) < 0)
                        return NULL;
        return TAKE_PTR(p);
}

/* Take a member of a reply: the object under key, which must have the given type. */
json_object *reply_member(json_object *reply, const char *key, json_type type) {
        json_object *v;

        if (!json_object_object_get_ex(reply, key, &v) || !json_object_is_type(v, type))
                return NULL;
        return v;
}

/* Duration of a node: finished ones from duration_ms, running ones since their start. */
const char *node_duration(json_object *node, char *buf, size_t size) {
        const char *state = get_string(node, "state"), *started = get_string(node, "started_at");
        int64_t ms;
        uint64_t start;
        struct timespec now;

        if (get_int(node, "duration_ms", &ms) && ms >= 0)
                return duration_format((uint64_t) ms * USEC_PER_MSEC, buf, size);
        if (state && streq(state, "running") && protocol_parse_timestamp(started, &start) >= 0 &&
            clock_gettime(CLOCK_REALTIME, &now) >= 0) {
                uint64_t n = (uint64_t) now.tv_sec * USEC_PER_SEC + (uint64_t) now.tv_nsec / NSEC_PER_USEC;

                /* Whole seconds: the clock of a running node need not show milliseconds. */
                return duration_format(n > start ? (n - start) / USEC_PER_SEC * USEC_PER_SEC : 0, buf, size);
        }
        return "-";
}

int wait_exit_code(json_object *jobs) {
        bool failed = false, cancelled = false;

        for (size_t i = 0; i < json_object_array_length(jobs); i++) {
                const char *s = get_string(json_object_array_get_idx(jobs, i), "state");

                failed = failed || (s && streq(s, "failed"));
                cancelled = cancelled || (s && streq(s, "cancelled"));
        }
        /* A failure is the stronger news: it wins over a cancellation. */
        return failed ? EXIT_JOB_FAILED : cancelled ? EXIT_JOB_CANCELLED : EXIT_SUCCESS;
}

/* On a terminal, only the text, tabs, newlines and colours of node output pass: the escape sequences a node
 * can print (a title change, cursor moves, a CR overwriting a line) would otherwise act on the terminal of
 * whoever reads the log, root's included. Piped or redirected, the bytes are as the node wrote them. */
void write_output(const char *buf, size_t n) {
        static int tty = -1;
        char esc[CESCAPE_MAX(4096)];

        if (tty < 0)
                tty = isatty(STDOUT_FILENO);
        if (!tty) {
                fwrite(buf, 1, n, stdout);
                return;
        }
        for (size_t i = 0; i < n; i += 4096) {
                size_t k = MIN(n - i, (size_t) 4096);

                /* A colour sequence cut between two pieces is escaped, harmlessly. */
                fwrite(esc, 1, terminal_escape_buf(buf + i, k, esc, sizeof(esc)), stdout);
        }
}
