/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/watch.c — orchctl watch JOB: live progress until the job ends.
 *
 * Owns: the Watch stream (io.orchd.Manager.Watch with "more") and its
 * rendering. Three renderings of one stream:
 *   - lines (stdout not a terminal, or TERM=dumb): on start the job and every
 *     node that is not pending, then a line per node state change and per
 *     job state change, then the final line exactly as `wait` prints it;
 *   - --json: one compact JSON object per line and event ("status", "node",
 *     "job", "end"; orchctl(1) documents them);
 *   - live (a terminal): a block with the job, a progress bar and the most
 *     recent running nodes with their elapsed times, redrawn in place at most
 *     LIVE_REDRAWS_PER_SEC times per second and once a second without news;
 *     failures are printed above it as they happen; the final bar and line
 *     stay on screen, then the failure summary (cli/failures.c).
 * The live block alone, on stderr and erased at the end, is also what wait
 * and submit --wait show on a terminal (watch_progress()).
 * Exit status as wait: 0 succeeded, 1 failed, 2 cancelled, 66 no such job.
 * Deliberately not here: the text of bars and events (progress.c, pure).
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <sysexits.h>
#include <unistd.h>

#include "duration.h"
#include "json-util.h"
#include "orchctl.h"
#include "progress.h"
#include "state.h"

#define LIVE_REDRAWS_PER_SEC 5
#define LIVE_MIN_INTERVAL_USEC (USEC_PER_SEC / LIVE_REDRAWS_PER_SEC)
#define LIVE_TICK_USEC USEC_PER_SEC /* elapsed times move on even without news */
#define ID_WIDTH_MAX 32

typedef struct Watch {
        Client *client;
        const char *id;
        json_object *job;   /* the first reply's job; its nodes are kept up to date */
        json_object *nodes; /* borrowed from job: node id → latest node object */
        size_t counts[_NODE_STATE_MAX];
        int id_width;
        bool live;
        bool progress;      /* watch_progress(): the live block only, nothing else printed */
        FILE *out;          /* where the live block goes: stdout, or stderr for progress */
        unsigned drawn;     /* lines of the live block now on screen */
        uint64_t last_draw; /* CLOCK_MONOTONIC µs */
        bool dirty;         /* news since the last draw */
        json_object *final; /* progress: the job as the last reply gives it */
} Watch;

/* ---- lines ------------------------------------------------------------------------------------ */

static uint64_t realtime_now(void) {
        struct timespec t;

        assert_se(clock_gettime(CLOCK_REALTIME, &t) >= 0);
        return (uint64_t) t.tv_sec * USEC_PER_SEC + (uint64_t) t.tv_nsec / NSEC_PER_USEC;
}

/* The local time of an RFC 3339 timestamp, or of now when there is none. */
static const char *event_time(const char *ts, char *buf, size_t size) {
        char now[TIMESTAMP_STRING_MAX];

        return format_local_time(ts ?: protocol_format_timestamp(realtime_now(), now, sizeof(now)), false,
                                 buf, size);
}

/* When a node reached its state: its start while running, its end once finished, else now. */
static const char *node_time(json_object *node, char *buf, size_t size) {
        NodeState s = node_state_from_string(get_string(node, "state"));
        const char *ts = s == NODE_RUNNING ? get_string(node, "started_at") :
                node_state_is_final(s)     ? get_string(node, "finished_at") :
                                             NULL;

        return event_time(ts, buf, size);
}

/* ", cpu 0.61s, memory 12.0M" for an ended attempt the kernel accounted (cgroup isolation), else "". */
static const char *node_acct(json_object *node, char *buf, size_t size) {
        int64_t cpu, mem;
        size_t len = 0;

        buf[0] = '\0';
        if (!node_state_is_final(node_state_from_string(get_string(node, "state"))))
                return buf;
        if (get_int(node, "cpu_usec", &cpu))
                len += (size_t) snprintf(buf, size, " (cpu %.2fs", (double) cpu / 1e6);
        if (len > 0 && len < size && get_int(node, "memory_peak", &mem))
                len += (size_t) snprintf(buf + len, size - len, ", memory %.1fM",
                                         (double) mem / (double) (1LL << 20));
        if (len > 0 && len < size)
                snprintf(buf + len, size - len, ")");
        return buf;
}

static void print_node_line(const Watch *w, const char *id, json_object *node) {
        const char *color = state_color(get_string(node, "state"));
        char when[64], what[PROGRESS_LINE_MAX], acct[64];

        printf("%s  %-*s %s%s%s%s\n", node_time(node, when, sizeof(when)), w->id_width, escaped(id),
               color ?: "", escaped(progress_node_event(node, what, sizeof(what))), color ? "\033[0m" : "",
               node_acct(node, acct, sizeof(acct)));
}

static void print_job_line(const Watch *w, json_object *job) {
        const char *state = get_string(job, "state"), *reason = get_string(job, "reason");
        char when[64];

        printf("%s  job %s (%s) %s%s%s%s\n", event_time(NULL, when, sizeof(when)), escaped(w->id),
               strna(escaped(get_string(w->job, "name"))), strna(escaped(state)), reason ? " (" : "",
               reason ? escaped(reason) : "", reason ? ")" : "");
}

/* One compact JSON line {"event": event, ...members of o}. */
static int print_json_event(const char *event, json_object *o) {
        _cleanup_json_ json_object *e = json_object_new_object();

        if (!e || json_object_object_add(e, "event", json_object_new_string(event)) < 0)
                return fail(EX_SOFTWARE, "out of memory");
        json_object_object_foreach(o, k, v)
                if (json_object_object_add(e, k, json_object_get(v)) < 0)
                        return fail(EX_SOFTWARE, "out of memory");
        puts(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

/* ---- the live block --------------------------------------------------------------------------- */

static void terminal_size(FILE *f, unsigned *ret_rows, unsigned *ret_cols) {
        struct winsize ws = {};

        if (ioctl(fileno(f), TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0 || ws.ws_col == 0)
                ws = (struct winsize){ .ws_row = 24, .ws_col = 80 };
        *ret_rows = ws.ws_row;
        *ret_cols = ws.ws_col;
}

static void live_erase(Watch *w) {
        for (; w->drawn > 0; w->drawn--)
                fputs("\033[1A\033[2K", w->out); /* up one line, clear it */
}

/* A line of the block, cut to the terminal width so it never wraps (a wrapped line would break the count
 * of lines to erase). */
static void live_line(Watch *w, unsigned cols, const char *text) {
        char buf[PROGRESS_LINE_MAX];

        fprintf(w->out, "%s\n", progress_fit(escaped(text), cols - 1, buf, sizeof(buf)));
        w->drawn++;
}

typedef struct Running {
        const char *id;
        json_object *node;
        const char *started_at; /* RFC 3339 UTC sorts as text */
} Running;

static int running_newest_first(const void *a, const void *b) {
        const Running *x = a, *y = b;

        return -strcmp(x->started_at ?: "", y->started_at ?: "");
}

/* The most recent running nodes that fit in max_lines (the last line says how many more there are). */
static void live_running(Watch *w, unsigned cols, unsigned max_lines) {
        size_t n = 0, shown;
        _cleanup_free_ Running *list = calloc(MAX(w->counts[NODE_RUNNING], (size_t) 1), sizeof(Running));
        char line[PROGRESS_LINE_MAX], dur[DURATION_STRING_MAX];

        if (!list || max_lines == 0)
                return;
        json_object_object_foreach(w->nodes, id, node)
                if (n < w->counts[NODE_RUNNING] &&
                    node_state_from_string(get_string(node, "state")) == NODE_RUNNING)
                        list[n++] = (Running){ id, node, get_string(node, "started_at") };
        qsort(list, n, sizeof(Running), running_newest_first);
        shown = n <= max_lines ? n : max_lines - 1;
        for (size_t k = 0; k < shown; k++) {
                snprintf(line, sizeof(line), "  %-*s %s", w->id_width, list[k].id,
                         node_duration(list[k].node, dur, sizeof(dur)));
                live_line(w, cols, line);
        }
        if (shown < n) {
                snprintf(line, sizeof(line), "  ... and %zu more running", n - shown);
                live_line(w, cols, line);
        }
}

/* How long the job has run, to its end or to now, in whole seconds; "-" before it started. */
static const char *job_elapsed(json_object *job, char *buf, size_t size) {
        const char *started = get_string(job, "started_at"), *finished = get_string(job, "finished_at");
        uint64_t start, end;

        if (!started || protocol_parse_timestamp(started, &start) < 0)
                return "-";
        if (!finished || protocol_parse_timestamp(finished, &end) < 0)
                end = realtime_now();
        return duration_format(end > start ? (end - start) / USEC_PER_SEC * USEC_PER_SEC : 0, buf, size);
}

static void live_draw(Watch *w, bool running) {
        char line[PROGRESS_LINE_MAX], bar[PROGRESS_LINE_MAX], dur[DURATION_STRING_MAX];
        unsigned rows, cols;

        terminal_size(w->out, &rows, &cols);
        live_erase(w);
        snprintf(line, sizeof(line), "Job %s (%s): %s, %s", w->id, strna(get_string(w->job, "name")),
                 strna(get_string(w->job, "state")), job_elapsed(w->job, dur, sizeof(dur)));
        live_line(w, cols, line);
        live_line(w, cols, progress_bar(w->counts, cols - 1, bar, sizeof(bar)));
        if (running)
                live_running(w, cols, rows > 4 ? MIN(rows - 4, 20U) : 0);
        fflush(w->out);
        w->last_draw = client_now();
        w->dirty = false;
}

static uint64_t live_deadline(const Watch *w) {
        return w->last_draw + (w->dirty ? LIVE_MIN_INTERVAL_USEC : LIVE_TICK_USEC);
}

/* ---- the stream ------------------------------------------------------------------------------- */

/* Record a node's new state (the object is stolen into the map). Returns whether its state or attempt
 * changed: a commit may rewrite a node's record for other reasons (the pid of a started attempt). */
static bool watch_set_node(Watch *w, const char *id, json_object *node) {
        json_object *old = NULL;
        int64_t was_attempt = -1, attempt = -1;
        NodeState was = _NODE_STATE_INVALID, s = node_state_from_string(get_string(node, "state"));

        if (json_object_object_get_ex(w->nodes, id, &old)) {
                was = node_state_from_string(get_string(old, "state"));
                (void) get_int(old, "attempts", &was_attempt);
        }
        (void) get_int(node, "attempts", &attempt);
        if (was >= 0 && w->counts[was] > 0)
                w->counts[was]--;
        if (s >= 0)
                w->counts[s]++;
        if (json_object_object_add(w->nodes, id, node) < 0)
                json_object_put(node);
        return s != was || attempt != was_attempt;
}

static int watch_first(Watch *w, json_object *params) {
        json_object *job = reply_member(params, "job", json_type_object), *nodes;

        nodes = job ? reply_member(job, "nodes", json_type_object) : NULL;
        if (!nodes)
                return fail(EX_SOFTWARE, "invalid reply from orchd: no \"job\" with \"nodes\"");
        w->job = json_object_get(job);
        w->nodes = nodes;
        json_object_object_foreach(nodes, id, node) {
                NodeState s = node_state_from_string(get_string(node, "state"));

                if (s >= 0)
                        w->counts[s]++;
                w->id_width = MAX(w->id_width, (int) MIN(strlen(id), (size_t) ID_WIDTH_MAX));
        }
        if (arg_json && !w->progress)
                return print_json_event("status", params);
        if (w->live)
                return 0;
        print_job_line(w, job);
        json_object_object_foreach(nodes, id2, node2)
                if (node_state_from_string(get_string(node2, "state")) != NODE_PENDING)
                        print_node_line(w, id2, node2);
        return 0;
}

static int watch_node_change(Watch *w, json_object *change) {
        const char *id = get_string(change, "id");
        NodeState s = node_state_from_string(get_string(change, "state"));

        if (!id || s < 0)
                return fail(EX_SOFTWARE, "invalid reply from orchd: a change without node id or state");
        if (!watch_set_node(w, id, json_object_get(change)))
                return 0;
        if (arg_json && !w->progress)
                return print_json_event("node", change);
        if (!w->live)
                print_node_line(w, id, change);
        else if (!w->progress && (s == NODE_FAILED || s == NODE_RETRY_WAIT)) {
                live_erase(w); /* failures stay above the block */
                print_node_line(w, id, change);
        }
        return 0;
}

static int watch_changes(Watch *w, json_object *params) {
        json_object *changes = reply_member(params, "changes", json_type_array), *job;
        _cleanup_free_ char *was = NULL;
        int r = 0;

        if (!changes)
                return fail(EX_SOFTWARE, "invalid reply from orchd: no \"changes\" array");
        for (size_t k = 0; k < json_object_array_length(changes) && r == 0; k++)
                r = watch_node_change(w, json_object_array_get_idx(changes, k));
        job = reply_member(params, "job_change", json_type_object);
        if (r != 0 || !job)
                return r;
        if (arg_json && !w->progress)
                return print_json_event("job", job);
        was = strdup(get_string(w->job, "state") ?: "");
        json_object_object_foreach(job, k, v)
                (void) json_object_object_add(w->job, k, json_object_get(v));
        /* A line per state change (not for a reason or time alone); the end has its own line, as wait
         * prints it, once the final reply comes. */
        if (!w->live && was && !streq(was, get_string(job, "state") ?: "") &&
            !job_state_is_final(job_state_from_string(get_string(job, "state"))))
                print_job_line(w, job);
        w->dirty = true;
        return 0;
}

static int watch_final(Watch *w, json_object *params) {
        _cleanup_json_ json_object *jobs = json_object_new_array();
        json_object *job = reply_member(params, "job", json_type_object);

        if (!job)
                return fail(EX_SOFTWARE, "invalid reply from orchd: no \"job\" object");
        if (!jobs || json_object_array_add(jobs, json_object_get(job)) < 0)
                return fail(EX_SOFTWARE, "out of memory");
        if (w->progress) {
                live_erase(w);
                fflush(w->out);
                w->final = json_object_get(job);
                return 0;
        }
        if (!arg_quiet) {
                int r = failures_collect(w->client, job);

                if (r != 0)
                        return r;
        }
        if (arg_json) {
                /* Beside the job, which stays Status's object. */
                for (size_t k = 0; k < 2; k++) {
                        const char *key = k == 0 ? "failures" : "failures_omitted";
                        json_object *v;

                        if (!json_object_object_get_ex(job, key, &v))
                                continue;
                        if (json_object_object_add(params, key, json_object_get(v)) < 0)
                                return fail(EX_SOFTWARE, "out of memory");
                        json_object_object_del(job, key);
                }
                if (print_json_event("end", params) != 0)
                        return EX_SOFTWARE;
        } else {
                if (w->live && w->job) {
                        json_object_put(w->job);
                        w->job = json_object_get(job);
                        w->nodes = reply_member(job, "nodes", json_type_object);
                        memset(w->counts, 0, sizeof(w->counts));
                        json_object_object_foreach(w->nodes, id, node) {
                                NodeState s = node_state_from_string(get_string(node, "state"));

                                (void) id;
                                if (s >= 0)
                                        w->counts[s]++;
                        }
                        live_draw(w, false); /* the final bar stays on screen */
                }
                failures_print(job);
                wait_print(jobs);
        }
        return wait_exit_code(jobs);
}

/* Read the stream until the job's end (or deadline: -ETIMEDOUT), redrawing the live block as it goes. */
static int watch_run(Watch *w, uint64_t deadline) {
        for (;;) {
                _cleanup_(varlink_message_done) VarlinkMessage m = {};
                int r;

                r = client_read_reply(w->client,
                                      w->live && w->job ? MIN(live_deadline(w), deadline) : deadline, &m);
                if (r == -ETIMEDOUT && client_now() < deadline) {
                        live_draw(w, true);
                        continue;
                }
                if (r == -ETIMEDOUT) {
                        live_erase(w);
                        fflush(w->out);
                        return r;
                }
                if (r < 0)
                        return transport_error(r);
                if (m.error)
                        return reply_error(&m, w->id);
                if (!m.continues)
                        return watch_final(w, m.parameters);
                r = w->job ? watch_changes(w, m.parameters) : watch_first(w, m.parameters);
                if (r != 0)
                        return r;
                w->dirty = true;
                if (!w->live)
                        fflush(stdout); /* a line per event, as it happens, also into a pipe */
                else if (client_now() >= live_deadline(w))
                        live_draw(w, true);
        }
}

int verb_watch(char **args, size_t n_args) {
        _cleanup_json_ json_object *p = id_parameters(args[0]);
        const char *term = getenv("TERM");
        Watch w = { .id = args[0], .out = stdout };
        int r;

        if (!p)
                return fail(EX_SOFTWARE, "out of memory");
        w.live = !arg_json && isatty(STDOUT_FILENO) && !(term && streq(term, "dumb"));
        if (w.live)
                setvbuf(stdout, NULL, _IOFBF, 1 << 16); /* one write per redraw: no flicker */
        r = connect_daemon(&w.client);
        if (r != 0)
                return r;
        r = client_send(w.client, ORCH_METHOD_WATCH, p, true);
        r = r < 0 ? transport_error(r) : watch_run(&w, USEC_INFINITY);
        json_object_put(w.job);
        client_free(w.client);
        return r;
}

int watch_progress(Client *c, const char *id, uint64_t deadline, json_object **ret_job) {
        _cleanup_json_ json_object *p = id_parameters(id);
        Watch w = { .client = c, .id = id, .live = true, .progress = true, .out = stderr };
        int r;

        if (!p)
                return fail(EX_SOFTWARE, "out of memory");
        r = client_send(c, ORCH_METHOD_WATCH, p, true);
        r = r < 0 ? transport_error(r) : watch_run(&w, deadline);
        json_object_put(w.job);
        if (r == 0)
                *ret_job = w.final;
        else
                json_object_put(w.final);
        return r;
}
