/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * statusenc.c — the Status reply of a job, encoded without a json-c tree.
 *
 * Owns: nothing beyond the buffer it returns. A 100,000-node job as a json-c tree is some 800,000 objects
 * built, serialized and freed per call (1.8 s for `orchctl status --json`, all of it on the event loop);
 * appending the text directly costs one pass over the nodes. Invariant: the text is byte for byte what
 * json-c makes of protocol_job_to_json(spec, run, true) with JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE (same members in the same order, json-c's string escapes: \b \f \n \r \t
 * \" \\ and \u00xx for the other control characters, nothing else), which test-statusenc checks against
 * json-c itself. Adding a member to the status object means adding it in both places.
 * Pure: no event loop, no logging.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json-util.h"
#include "macro.h"
#include "protocol.h"
#include "statusenc.h"
#include "textbuf.h"
#include "time-util.h"

typedef struct Text {
        TextBuf b;
        time_t ts_sec; /* the last timestamp's second and its "YYYY-MM-DDTHH:MM:SS", reused */
        char ts_text[TIMESTAMP_STRING_MAX];
} Text;

#define PUT_LITERAL(t, s) textbuf_put(&(t)->b, "" s, sizeof(s) - 1)

/* A JSON string as json-c writes it (json_escape_str with JSON_C_TO_STRING_NOSLASHESCAPE). */
static void put_string(Text *t, const char *s) {
        static const char hex[] = "0123456789abcdef";
        size_t start = 0, i;

        PUT_LITERAL(t, "\"");
        for (i = 0; s[i]; i++) {
                unsigned char c = (unsigned char) s[i];
                char esc[7];
                size_t n = 2;

                if (c >= ' ' && c != '"' && c != '\\')
                        continue;
                textbuf_put(&t->b, s + start, i - start);
                start = i + 1;
                esc[0] = '\\';
                switch (c) {
                case '\b':
                        esc[1] = 'b';
                        break;
                case '\n':
                        esc[1] = 'n';
                        break;
                case '\r':
                        esc[1] = 'r';
                        break;
                case '\t':
                        esc[1] = 't';
                        break;
                case '\f':
                        esc[1] = 'f';
                        break;
                case '"':
                        esc[1] = '"';
                        break;
                case '\\':
                        esc[1] = '\\';
                        break;
                default:
                        memcpy(esc + 1, "u00", 3);
                        esc[4] = hex[c >> 4];
                        esc[5] = hex[c & 0xf];
                        n = 6;
                }
                textbuf_put(&t->b, esc, n);
        }
        textbuf_put(&t->b, s + start, i - start);
        PUT_LITERAL(t, "\"");
}

static void put_string_or_null(Text *t, const char *s) {
        if (s)
                put_string(t, s);
        else
                PUT_LITERAL(t, "null");
}

static void put_int(Text *t, int64_t v) {
        char b[24];

        textbuf_put(&t->b, b, (size_t) snprintf(b, sizeof(b), "%" PRId64, v));
}

/* protocol_format_timestamp(), with gmtime_r and strftime only when the second changes: the nodes of a
 * big job mostly start and end within a few seconds of each other. */
static void put_timestamp(Text *t, uint64_t usec) {
        time_t sec = (time_t) (usec / USEC_PER_SEC);
        char b[TIMESTAMP_STRING_MAX + 8];
        size_t n;

        if (usec == 0) {
                PUT_LITERAL(t, "null");
                return;
        }
        if (sec != t->ts_sec || t->ts_text[0] == '\0') {
                protocol_format_timestamp(usec, t->ts_text, sizeof(t->ts_text));
                t->ts_sec = sec;
        }
        /* ts_text ends in ".mmmZ" (or is "invalid", then kept whole): replace the milliseconds. */
        n = strlen(t->ts_text);
        if (n > 5 && t->ts_text[n - 1] == 'Z')
                n = (size_t) snprintf(b, sizeof(b), "\"%.*s.%03uZ\"", (int) (n - 5), t->ts_text,
                                      (unsigned) (usec / USEC_PER_MSEC % 1000));
        else
                n = (size_t) snprintf(b, sizeof(b), "\"%s\"", t->ts_text);
        textbuf_put(&t->b, b, n);
}

static void put_reason(Text *t, Reason reason) {
        char b[REASON_STRING_MAX];

        put_string_or_null(t, reason_to_string(reason, b, sizeof(b)));
}

/* The kernel's accounting, as protocol_node_to_json() adds it. */
static void put_node_acct(Text *t, const NodeRun *n) {
        NodeAcctField f[NODE_ACCT_FIELDS];

        if (!n->acct)
                return;
        node_run_acct_fields(n, f);
        for (size_t i = 0; i < NODE_ACCT_FIELDS; i++)
                if (f[i].value <= INT64_MAX) {
                        textbuf_puts(&t->b, ",\"");
                        textbuf_puts(&t->b, f[i].key);
                        textbuf_puts(&t->b, "\":");
                        put_int(t, (int64_t) f[i].value);
                }
}

static void put_node(Text *t, const NodeRun *n) {
        bool finished = node_state_is_final(n->state) && n->started_at > 0 &&
                n->finished_at >= n->started_at;
        const char *sig = NULL;
        char sigbuf[16];

        if (n->signal > 0) {
                sig = sigabbrev_np(n->signal);
                if (!sig) {
                        snprintf(sigbuf, sizeof(sigbuf), "%d", (int) n->signal);
                        sig = sigbuf;
                }
        }
        PUT_LITERAL(t, "{\"state\":");
        put_string_or_null(t, node_state_to_string(n->state));
        PUT_LITERAL(t, ",\"attempts\":");
        put_int(t, n->attempt);
        PUT_LITERAL(t, ",\"exit_code\":");
        if (n->exit_code >= 0)
                put_int(t, n->exit_code);
        else
                PUT_LITERAL(t, "null");
        PUT_LITERAL(t, ",\"signal\":");
        put_string_or_null(t, sig);
        PUT_LITERAL(t, ",\"reason\":");
        put_reason(t, n->reason);
        PUT_LITERAL(t, ",\"started_at\":");
        put_timestamp(t, n->started_at);
        PUT_LITERAL(t, ",\"finished_at\":");
        put_timestamp(t, n->finished_at);
        PUT_LITERAL(t, ",\"duration_ms\":");
        if (finished)
                put_int(t, (int64_t) ((n->finished_at - n->started_at) / USEC_PER_MSEC));
        else
                PUT_LITERAL(t, "null");
        if (n->log_dropped > 0) { /* only when some output was lost, as protocol_node_to_json() */
                PUT_LITERAL(t, ",\"log_dropped\":");
                put_int(t, (int64_t) MIN(n->log_dropped, (uint64_t) INT64_MAX));
        }
        if (n->frozen)
                PUT_LITERAL(t, ",\"frozen\":true");
        put_node_acct(t, n);
        PUT_LITERAL(t, "}");
}

/* protocol_job_to_json(spec, run, true), up to and with the opening of its nodes. */
static void put_job_head(Text *t, const JobSpec *spec, const JobRun *run) {
        char id[24];

        snprintf(id, sizeof(id), "%" PRIu64, run->id);
        PUT_LITERAL(t, "{\"id\":");
        put_string(t, id);
        PUT_LITERAL(t, ",\"name\":");
        put_string_or_null(t, spec->name);
        PUT_LITERAL(t, ",\"state\":");
        put_string_or_null(t, job_state_to_string(run->state));
        PUT_LITERAL(t, ",\"reason\":");
        put_reason(t, run->reason);
        PUT_LITERAL(t, ",\"owner\":{\"uid\":");
        put_int(t, run->uid);
        PUT_LITERAL(t, ",\"user\":");
        put_string_or_null(t, run->user);
        PUT_LITERAL(t, "},\"priority\":");
        put_int(t, spec->priority);
        PUT_LITERAL(t, ",\"submitted_at\":");
        put_timestamp(t, run->submitted_at);
        PUT_LITERAL(t, ",\"started_at\":");
        put_timestamp(t, run->started_at);
        PUT_LITERAL(t, ",\"finished_at\":");
        put_timestamp(t, run->finished_at);
        PUT_LITERAL(t, ",\"key\":");
        put_string_or_null(t, spec->key);
        PUT_LITERAL(t, ",\"source\":");
        put_string_or_null(t, run->source);
        PUT_LITERAL(t, ",\"nodes\":{");
}

/* Nodes [from, to) of the job's nodes object. */
static void put_nodes(Text *t, const JobSpec *spec, const NodeRun *nodes, size_t from, size_t to) {
        for (size_t i = from; i < to && !t->b.oom; i++) {
                if (i > 0)
                        PUT_LITERAL(t, ",");
                put_string(t, spec->nodes[i].id);
                PUT_LITERAL(t, ":");
                put_node(t, &nodes[i]);
        }
}

static void put_job(Text *t, const JobSpec *spec, const JobRun *run) {
        put_job_head(t, spec, run);
        put_nodes(t, spec, run->nodes, 0, MIN(spec->n_nodes, run->n_nodes));
        PUT_LITERAL(t, "}}");
}

/* The text of {"job": …} (wrap) or of the job alone, built in one buffer. */
static int encode(const JobSpec *spec, const JobRun *run, bool wrap, char **ret, size_t *ret_len) {
        Text t = {};

        if (!spec || !run)
                return -EINVAL;
        /* About 140 bytes a pending node, some 200 once it ran: most jobs need no second allocation. */
        if (!textbuf_reserve(&t.b, 512 + MIN(spec->n_nodes, run->n_nodes) * 160))
                return -ENOMEM;
        if (wrap)
                PUT_LITERAL(&t, "{\"job\":");
        put_job(&t, spec, run);
        if (wrap)
                PUT_LITERAL(&t, "}");
        if (t.b.oom) {
                free(t.b.data);
                return -ENOMEM;
        }
        t.b.data[t.b.len] = '\0';
        *ret = t.b.data;
        *ret_len = t.b.len;
        return 0;
}

int statusenc_job(const JobSpec *spec, const JobRun *run, char **ret, size_t *ret_len) {
        return encode(spec, run, false, ret, ret_len);
}

json_object *statusenc_job_reply(const JobSpec *spec, const JobRun *run) {
        char *text;
        size_t len;

        if (encode(spec, run, true, &text, &len) < 0)
                return NULL;
        return protocol_raw_object(text, len);
}

struct StatusEnc {
        Text text;
        NodeRun *nodes; /* the nodes as they were at statusenc_begin() */
        size_t n, next;
};

size_t statusenc_size_hint(const JobSpec *spec) {
        return 512 +
                spec->n_nodes * 160; /* as encode() reserves: about 140 bytes a pending node, 200 once run */
}

int statusenc_begin(const JobSpec *spec, const JobRun *run, StatusEnc **ret) {
        StatusEnc *e;

        if (!spec || !run)
                return -EINVAL;
        e = calloc(1, sizeof(StatusEnc));
        if (!e)
                return -ENOMEM;
        e->n = MIN(spec->n_nodes, run->n_nodes);
        e->nodes = e->n > 0 ? malloc(e->n * sizeof(NodeRun)) : NULL;
        if ((e->n > 0 && !e->nodes) || !textbuf_reserve(&e->text.b, 512 + e->n * 160)) {
                statusenc_free(e);
                return -ENOMEM;
        }
        if (e->n > 0)
                memcpy(e->nodes, run->nodes, e->n * sizeof(NodeRun));
        PUT_LITERAL(&e->text, "{\"job\":");
        put_job_head(&e->text, spec, run);
        if (e->text.b.oom) {
                statusenc_free(e);
                return -ENOMEM;
        }
        *ret = e;
        return 0;
}

int statusenc_step(StatusEnc *e, const JobSpec *spec, size_t max) {
        size_t to = e->next + MIN(max, e->n - e->next);

        put_nodes(&e->text, spec, e->nodes, e->next, to);
        e->next = to;
        if (e->text.b.oom)
                return -ENOMEM;
        return e->next == e->n;
}

json_object *statusenc_finish(StatusEnc *e) {
        json_object *o = NULL;

        assert(e->next == e->n);
        PUT_LITERAL(&e->text, "}}}"); /* the nodes, the job, the reply */
        if (!e->text.b.oom) {
                e->text.b.data[e->text.b.len] = '\0';
                o = protocol_raw_object(TAKE_PTR(e->text.b.data), e->text.b.len);
        }
        statusenc_free(e);
        return o;
}

StatusEnc *statusenc_free(StatusEnc *e) {
        if (!e)
                return NULL;
        free(e->text.b.data);
        free(e->nodes);
        return mfree(e);
}
