/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/logs.c — `orchctl logs JOB [NODE] [--attempt N] [-f]` (SPEC §5).
 *
 * Owns: the Logs stream of one call and its three renderings. With NODE, the
 * output exactly as the daemon sends it (the node's bytes, invalid UTF-8
 * shown as U+FFFD; on a terminal escaped by write_output()); with --json, each chunk as one JSON object per
 * line; otherwise every line prefixed with its node (and attempt, if not the first), padded to the longest
 * prefix, like `build  | line`. Chunks are pieces of a byte stream, not lines: a line split across chunks
 * (or interleaved with other nodes' chunks) is held per node until its newline, bounded by LOGS_LINE_MAX,
 * and whatever is left is printed at the end.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "json-util.h"
#include "orchctl.h"

/* A line longer than this (without a newline yet) is printed in pieces rather than held without bound. */
#define LOGS_LINE_MAX (64U * 1024U)

/* The unfinished last line of one node's output so far. */
typedef struct Partial {
        char *node;
        int64_t attempt;
        char *buf;
        size_t len;
} Partial;

/* Only attempts still in progress have a Partial, so the list stays short even for a huge job. */
typedef struct Prefixer {
        Partial *partials;
        size_t n;
        size_t last; /* index of the partial the previous chunk went to, SIZE_MAX if none */
        int width;   /* of the widest prefix known at the start */
} Prefixer;

static void prefixer_done(Prefixer *p) {
        for (size_t i = 0; i < p->n; i++) {
                free(p->partials[i].node);
                free(p->partials[i].buf);
        }
        free(p->partials);
}

static void print_prefixed(const Prefixer *p, const Partial *part, const char *a, size_t a_len,
                           const char *b, size_t b_len) {
        char label[128];

        if (part->attempt > 1)
                snprintf(label, sizeof(label), "%s#%" PRId64, part->node, part->attempt);
        else
                snprintf(label, sizeof(label), "%s", part->node);
        printf("%-*s | ", p->width, label);
        write_output(a, a_len);
        write_output(b, b_len);
        putchar('\n');
}

static void partial_flush(const Prefixer *p, Partial *part) {
        if (part->len == 0)
                return;
        print_prefixed(p, part, part->buf, part->len, "", 0);
        part->len = 0;
}

/* An attempt's output is complete: print its last line, newline or not, and forget it. */
static void prefixer_close(Prefixer *p, size_t i) {
        partial_flush(p, &p->partials[i]);
        free(p->partials[i].node);
        free(p->partials[i].buf);
        p->partials[i] = p->partials[--p->n];
        p->last = SIZE_MAX;
}

static Partial *prefixer_find(Prefixer *p, const char *node) {
        size_t start = p->last < p->n ? p->last : 0; /* mostly the same node as last time */
        Partial *q;

        for (size_t k = 0; k < p->n; k++) {
                size_t i = (start + k) % p->n;

                if (streq(p->partials[i].node, node)) {
                        p->last = i;
                        return &p->partials[i];
                }
        }
        q = reallocarray(p->partials, p->n + 1, sizeof(Partial));
        if (!q)
                return NULL;
        p->partials = q;
        q = &p->partials[p->n];
        *q = (Partial){ .node = strdup(node), .buf = malloc(LOGS_LINE_MAX) };
        if (!q->node || !q->buf) {
                free(q->node);
                free(q->buf);
                return NULL;
        }
        p->last = p->n++;
        return q;
}

/* Print the complete lines of a chunk with their prefix and keep the unfinished rest; end: the chunk
 * completes its attempt. Returns 0 or -ENOMEM. */
static int prefixer_add(Prefixer *p, const char *node, int64_t attempt, const char *data, size_t len,
                        bool end) {
        Partial *part;

        /* Without --follow the daemon sends one attempt after the other, so one it left is complete, even a
         * running one (as far as it got). Following, nodes interleave: only "end" completes an attempt. */
        if (!arg_follow && p->last < p->n && !streq(p->partials[p->last].node, node))
                prefixer_close(p, p->last);
        part = prefixer_find(p, node);
        if (!part)
                return -ENOMEM;
        if (part->attempt != attempt) {
                partial_flush(p, part); /* an attempt's last line without a newline still ends there */
                part->attempt = attempt;
        }
        while (len > 0) {
                const char *nl = memchr(data, '\n', len);
                size_t n = nl ? (size_t) (nl - data) : len;

                if (!nl && part->len + n < LOGS_LINE_MAX) {
                        memcpy(part->buf + part->len, data, n);
                        part->len += n;
                        break;
                }
                if (!nl) /* too long to hold: print what fits as a line of its own */
                        n = LOGS_LINE_MAX - part->len;
                print_prefixed(p, part, part->buf, part->len, data, n);
                part->len = 0;
                n += nl ? 1 : 0;
                data += n;
                len -= n;
        }
        if (end)
                prefixer_close(p, (size_t) (part - p->partials));
        return 0;
}

/* The prefix width: the longest "NODE" or "NODE#ATTEMPT" among the job's nodes, from its status. */
static int prefix_width(Client *c, const char *job, int *ret) {
        _cleanup_json_ json_object *p = id_parameters(job), *reply = NULL;
        json_object *nodes;
        int r, width = 0;

        if (!p)
                return fail(EX_SOFTWARE, "out of memory");
        r = call(c, ORCH_METHOD_STATUS, p, USEC_INFINITY, job, &reply);
        if (r != 0)
                return r;
        nodes = reply_member(reply_member(reply, "job", json_type_object), "nodes", json_type_object);
        if (!nodes)
                return fail(EX_SOFTWARE, "invalid reply from orchd: job without \"nodes\"");
        json_object_object_foreach(nodes, id, node) {
                int64_t attempts = 0;
                int w;

                (void) get_int(node, "attempts", &attempts);
                if (arg_attempt > 0)
                        attempts = arg_attempt;
                w = (int) strlen(id) + (attempts > 1 ? snprintf(NULL, 0, "#%" PRId64, attempts) : 0);
                width = MAX(width, w);
        }
        *ret = width;
        return 0;
}

static json_object *logs_parameters(char **args, size_t n_args) {
        json_object *p = id_parameters(args[0]);

        if (p && n_args > 1 && json_object_object_add(p, "node", json_object_new_string(args[1])) < 0)
                p = (json_object_put(p), NULL);
        if (p && arg_attempt > 0 &&
            json_object_object_add(p, "attempt", json_object_new_int64(arg_attempt)) < 0)
                p = (json_object_put(p), NULL);
        if (p && arg_follow && json_object_object_add(p, "follow", json_object_new_boolean(true)) < 0)
                p = (json_object_put(p), NULL);
        return p;
}

static int logs_error(const VarlinkMessage *m, const char *job) {
        int64_t attempt;

        if (!streq(m->error, ORCH_ERROR_NO_SUCH_ATTEMPT))
                return reply_error(m, job);
        if (get_int(m->parameters, "attempt", &attempt))
                return fail(EX_NOINPUT, "node '%s' of job '%s' has no attempt %" PRId64,
                            strna(get_string(m->parameters, "node")), job, attempt);
        return fail(EX_NOINPUT, "node '%s' of job '%s' has not run (no attempt yet)",
                    strna(get_string(m->parameters, "node")), job);
}

/* Print one chunk in the chosen form. Returns 0 or an exit code. */
static int logs_print(json_object *chunk, bool raw, Prefixer *prefixer) {
        json_object *data = reply_member(chunk, "data", json_type_string),
                    *end = reply_member(chunk, "end", json_type_boolean);
        const char *node = get_string(chunk, "node");
        int64_t attempt = 0;

        if (!data || !node || !get_int(chunk, "attempt", &attempt))
                return fail(EX_SOFTWARE, "invalid reply from orchd: a chunk without node, attempt or data");
        if (arg_json) {
                const char *line = json_object_to_json_string_ext(
                        chunk, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
                if (!line)
                        return fail(EX_SOFTWARE, "out of memory");
                puts(line);
        } else if (raw)
                write_output(json_object_get_string(data), (size_t) json_object_get_string_len(data));
        else if (prefixer_add(prefixer, node, attempt, json_object_get_string(data),
                              (size_t) json_object_get_string_len(data),
                              end && json_object_get_boolean(end)) < 0)
                return fail(EX_SOFTWARE, "out of memory");
        /* Following: show it now, not when a buffer fills. */
        if (fflush(stdout) != 0)
                return fail(EX_SOFTWARE,
                            "cannot write output: %m"); /* as main() says it for other commands */
        return 0;
}

typedef struct LogsStream {
        const char *job;
        bool raw; /* one node: its bytes as they are */
        Prefixer *prefixer;
} LogsStream;

static int logs_on_reply(const VarlinkMessage *m, void *userdata) {
        LogsStream *ls = userdata;

        if (m->error)
                return logs_error(m, ls->job);
        return m->continues ? logs_print(m->parameters, ls->raw, ls->prefixer) : 0;
}

static int logs_stream(Client *c, char **args, size_t n_args, Prefixer *prefixer) {
        _cleanup_json_ json_object *p = logs_parameters(args, n_args);
        LogsStream ls = { .job = args[0], .raw = n_args > 1, .prefixer = prefixer };

        if (!p)
                return fail(EX_SOFTWARE, "out of memory");
        return call_more(c, ORCH_METHOD_LOGS, p, logs_on_reply, &ls);
}

int verb_logs(char **args, size_t n_args) {
        Prefixer prefixer = { .last = SIZE_MAX };
        Client *c = NULL;
        int r;

        r = connect_daemon(&c);
        if (r != 0)
                return r;
        if (n_args == 1 && !arg_json)
                r = prefix_width(c, args[0], &prefixer.width);
        if (r == 0)
                r = logs_stream(c, args, n_args, &prefixer);
        for (size_t i = 0; i < prefixer.n; i++)
                partial_flush(&prefixer, &prefixer.partials[i]);
        prefixer_done(&prefixer);
        client_free(c);
        return r;
}
