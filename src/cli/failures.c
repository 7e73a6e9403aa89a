/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/failures.c — the failure summary of wait, submit --wait and watch: what failed, the way ninja reports
 * a failed edge ("FAILED: node", its command, the last lines of its output).
 *
 * Owns: collecting, for a finished job that did not succeed, each node that ended failed (not
 * allow_failure: those did not make the job fail; skipped and cancelled nodes did not run or were stopped,
 * their cause is listed or is the user's), with one Logs call each (node, tail, command: the daemon sends
 * only the tail of the last attempt's log and checks access as for orchctl logs); and its two renderings,
 * text and the "failures" JSON member. Invariants: at most FAILURES_MAX nodes and FAILURES_OUTPUT_MAX bytes
 * of output per node are held, whatever the job and its logs.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "json-util.h"
#include "orchctl.h"
#include "state.h"

/* Failed nodes summarised per job; the rest are counted ("... and N more"). */
#define FAILURES_MAX 100
/* Output kept per node: the daemon's tail scan (256 KiB) plus a chunk's worth of slack. */
#define FAILURES_OUTPUT_MAX (320U * 1024U)

unsigned arg_tail_lines = 20;
bool arg_quiet = false;

static json_object *logs_parameters(const char *job, const char *node) {
        json_object *p = id_parameters(job);

        if (p &&
            (json_object_object_add(p, "node", json_object_new_string(node)) < 0 ||
             json_object_object_add(p, "tail", json_object_new_int64(MAX(arg_tail_lines, 1U))) < 0 ||
             json_object_object_add(p, "command", json_object_new_boolean(true)) < 0))
                p = (json_object_put(p), NULL);
        return p;
}

/* The command as the job file gave it: the string of a shell command, else the argv array. */
static json_object *command_json(json_object *final) {
        json_object *argv = reply_member(final, "cmd", json_type_array),
                    *shell = reply_member(final, "shell", json_type_boolean);

        if (!argv)
                return NULL;
        if (shell && json_object_get_boolean(shell) && json_object_array_length(argv) == 3)
                return json_object_get(json_object_array_get_idx(argv, 2));
        return json_object_get(argv);
}

/* One node's Logs stream being read: the output so far (its last FAILURES_OUTPUT_MAX bytes). */
typedef struct Collect {
        json_object *f;
        char *out;
        size_t len;
        int64_t skipped; /* bytes of the attempt's output before out */
} Collect;

/* Append a chunk, keeping the last FAILURES_OUTPUT_MAX bytes (the daemon's tail is smaller: a guard). */
static void collect_data(Collect *col, const char *data, size_t n) {
        if (n >= FAILURES_OUTPUT_MAX) {
                col->skipped += (int64_t) (col->len + n - FAILURES_OUTPUT_MAX);
                data += n - FAILURES_OUTPUT_MAX;
                n = FAILURES_OUTPUT_MAX;
                col->len = 0;
        } else if (col->len + n > FAILURES_OUTPUT_MAX) {
                size_t drop = col->len + n - FAILURES_OUTPUT_MAX;

                memmove(col->out, col->out + drop, col->len - drop);
                col->len -= drop;
                col->skipped += (int64_t) drop;
        }
        memcpy(col->out + col->len, data, n);
        col->len += n;
}

/* The last reply: the command and allow_failure; the output collected. */
static void collect_end(Collect *col, json_object *params) {
        json_object *allow = reply_member(params, "allow_failure", json_type_boolean);

        if (arg_tail_lines == 0) { /* asked for one line to get the command: show none */
                col->skipped += (int64_t) col->len;
                col->len = 0;
        }
        (void) json_object_object_add(col->f, "cmd", command_json(params));
        (void) json_object_object_add(col->f, "output",
                                      json_object_new_string_len(col->out, (int) col->len));
        (void) json_object_object_add(col->f, "output_skipped", json_object_new_int64(col->skipped));
        (void) json_object_object_add(col->f, "allow_failure",
                                      json_object_new_boolean(allow && json_object_get_boolean(allow)));
}

static int collect_on_reply(const VarlinkMessage *m, void *userdata) {
        Collect *col = userdata;
        json_object *data;
        int64_t s;

        if (m->error) { /* recorded, not fatal: the other nodes and the job's line still come */
                (void) json_object_object_add(
                        col->f, "error",
                        json_object_new_string(streq(m->error, ORCH_ERROR_PERMISSION_DENIED) ?
                                                       "permission denied" :
                                                       m->error));
                return 0;
        }
        if (!m->continues) {
                collect_end(col, m->parameters);
                return 0;
        }
        if (get_int(m->parameters, "skipped", &s) && s > 0)
                col->skipped += s;
        data = reply_member(m->parameters, "data", json_type_string);
        if (data)
                collect_data(col, json_object_get_string(data), (size_t) json_object_get_string_len(data));
        return 0;
}

/* Read the Logs stream of one node into f: "output", "output_skipped", "cmd", "allow_failure"; "error"
 * instead when the daemon refused (permission denied: no output, no command). Returns 0, or an exit code
 * after printing why (the connection failed). */
static int collect_node(Client *c, const char *job, const char *node, json_object *f) {
        _cleanup_json_ json_object *p = logs_parameters(job, node);
        _cleanup_free_ char *out = malloc(FAILURES_OUTPUT_MAX);
        Collect col = { .f = f, .out = out };

        if (!p || !out)
                return fail(EX_SOFTWARE, "out of memory");
        return call_more(c, ORCH_METHOD_LOGS, p, collect_on_reply, &col);
}

/* {"node", "state", "reason", "attempt", "exit_code", "signal"} of a node object. NULL on ENOMEM. */
static json_object *failure_new(const char *id, json_object *node) {
        _cleanup_json_ json_object *f = json_object_new_object();
        json_object *v;

        if (!f || json_object_object_add(f, "node", json_object_new_string(id)) < 0)
                return NULL;
        (void) json_object_object_add(f, "state", json_object_new_string(get_string(node, "state") ?: ""));
        (void) json_object_object_add(f, "reason",
                                      json_object_new_string(get_string(node, "reason") ?: "?"));
        (void) json_object_object_add(
                f, "attempt", json_object_object_get_ex(node, "attempts", &v) ? json_object_get(v) : NULL);
        (void) json_object_object_add(f, "exit_code",
                                      json_object_object_get_ex(node, "exit_code", &v) ? json_object_get(v) :
                                                                                         NULL);
        (void) json_object_object_add(
                f, "signal", json_object_object_get_ex(node, "signal", &v) ? json_object_get(v) : NULL);
        return TAKE_PTR(f);
}

/* Collect the failed nodes of nodes (job id) into list, counting those left out in *more. Returns 0 or an
 * exit code after printing why. */
static int collect_nodes(Client *c, const char *id, json_object *nodes, json_object *list, size_t *more) {
        size_t calls = 0;

        json_object_object_foreach(nodes, node_id, node) {
                _cleanup_json_ json_object *f = NULL;
                json_object *allow;
                int r;

                if (node_state_from_string(get_string(node, "state")) != NODE_FAILED)
                        continue;
                if (calls >= FAILURES_MAX) { /* bounded work and output, whatever the job */
                        (*more)++;
                        continue;
                }
                calls++;
                f = failure_new(node_id, node);
                if (!f)
                        return fail(EX_SOFTWARE, "out of memory");
                r = collect_node(c, id, node_id, f);
                if (r != 0)
                        return r;
                allow = reply_member(f, "allow_failure", json_type_boolean);
                if (allow && json_object_get_boolean(allow))
                        continue; /* it did not make the job fail */
                json_object_object_del(f, "allow_failure");
                if (json_object_array_add(list, TAKE_PTR(f)) < 0)
                        return fail(EX_SOFTWARE, "out of memory");
        }
        return 0;
}

int failures_collect(Client *c, json_object *job) {
        _cleanup_json_ json_object *list = json_object_new_array();
        json_object *nodes = reply_member(job, "nodes", json_type_object);
        const char *id = get_string(job, "id");
        size_t more = 0;
        int r;

        if (!list)
                return fail(EX_SOFTWARE, "out of memory");
        if (nodes && id && !streq(get_string(job, "state") ?: "", "succeeded")) {
                r = collect_nodes(c, id, nodes, list, &more);
                if (r != 0)
                        return r;
        }
        if (json_object_object_add(job, "failures", TAKE_PTR(list)) < 0 ||
            (more > 0 &&
             json_object_object_add(job, "failures_omitted", json_object_new_int64((int64_t) more)) < 0))
                return fail(EX_SOFTWARE, "out of memory");
        return 0;
}

/* The command as a shell would take it: each argument as it is when it needs no quoting, else in single
 * quotes ('\'' for a quote), so it can be pasted to rerun the step. NULL on ENOMEM. */
static char *command_text(json_object *cmd) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (json_object_is_type(cmd, json_type_string))
                return strdup(json_object_get_string(cmd));
        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        for (size_t i = 0; i < json_object_array_length(cmd); i++) {
                const char *a = json_object_get_string(json_object_array_get_idx(cmd, i)) ?: "";
                bool plain = *a &&
                        strspn(a,
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                               "_@%+=:,./-") == strlen(a);

                fputs(i > 0 ? " " : "", f);
                if (plain)
                        fputs(a, f);
                else {
                        fputc('\'', f);
                        for (; *a; a++)
                                if (*a == '\'')
                                        fputs("'\\''", f);
                                else
                                        fputc(*a, f);
                        fputc('\'', f);
                }
        }
        if (fclose(f) != 0)
                return mfree(buf);
        return buf;
}

/* One failed node: "FAILED: node (reason)", the command, a note when the output was cut, the output. */
static void print_failure(const char *job, json_object *f) {
        const char *node = get_string(f, "node"), *error = get_string(f, "error");
        json_object *cmd = NULL, *out = reply_member(f, "output", json_type_string);
        int64_t attempt = 0, skipped = 0;
        char extra[64] = "";

        if (get_int(f, "attempt", &attempt) && attempt > 1)
                snprintf(extra, sizeof(extra), ", attempt %" PRId64, attempt);
        printf("%sFAILED:%s %s (%s%s, job %s)\n", arg_color ? "\033[1;31m" : "", arg_color ? "\033[0m" : "",
               strna(escaped(node)), strna(escaped(get_string(f, "reason"))), extra, escaped(job));
        if (error) {
                printf("(command and output not shown: %s)\n", escaped(error));
                return;
        }
        if (json_object_object_get_ex(f, "cmd", &cmd) && cmd) {
                _cleanup_free_ char *text = command_text(cmd);

                /* As the output is shown (orchctl logs): as it is when piped, escaped on a terminal. A
                 * C-style escape would double every backslash of a command meant to be pasted. */
                write_output(text ?: "", text ? strlen(text) : 0);
                putchar('\n');
        }
        if (get_int(f, "output_skipped", &skipped) && skipped > 0 && arg_tail_lines > 0)
                printf("[... last %u lines shown; all of it: orchctl logs %s %s]\n", arg_tail_lines,
                       escaped(job), strna(escaped(node)));
        if (out && json_object_get_string_len(out) > 0) {
                size_t n = (size_t) json_object_get_string_len(out);
                const char *s = json_object_get_string(out);

                write_output(s, n);
                if (s[n - 1] != '\n')
                        putchar('\n');
        }
}

void failures_print(json_object *job) {
        json_object *list = reply_member(job, "failures", json_type_array);
        const char *id = get_string(job, "id") ?: "?";
        int64_t more = 0;

        for (size_t i = 0; list && i < json_object_array_length(list); i++)
                print_failure(id, json_object_array_get_idx(list, i));
        if (get_int(job, "failures_omitted", &more) && more > 0)
                printf("... and %" PRId64 " more failed nodes not shown (orchctl status %s)\n", more,
                       escaped(id));
}
