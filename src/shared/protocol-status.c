/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * protocol-status.c — the job and node objects of SPEC §5 (what Status, List, Watch and `orchctl status
 * --json` show), built from a JobSpec and its JobRun; declared in protocol.h with the wire format.
 *
 * Owns the names and JSON types of every member: timestamps as RFC 3339 strings (null when not reached),
 * reasons as their strings, the exit code as a number and the signal as its name (null when none), the
 * duration of a finished node, counts of nodes by state.
 * Invariant: an allocation failure is reported (NULL), never silently turned into a JSON null.
 * Pure: no event loop, no logging, no policy on who may see what (the caller decides).
 */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "json-util.h"
#include "macro.h"
#include "protocol.h"

/* Add v (stolen; NULL stores JSON null) under key. Values are built and checked before they are added so an
 * allocation failure is reported instead of silently becoming a null. */
static int add(json_object *o, const char *key, json_object *v) {
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_string_or_null(json_object *o, const char *key, const char *s) {
        json_object *v = NULL;

        if (s) {
                v = json_object_new_string(s);
                if (!v)
                        return -ENOMEM;
        }
        return add(o, key, v);
}

static int add_int(json_object *o, const char *key, int64_t i) {
        json_object *v = json_object_new_int64(i);

        return v ? add(o, key, v) : -ENOMEM;
}

static int add_timestamp(json_object *o, const char *key, uint64_t usec) {
        char buf[TIMESTAMP_STRING_MAX];

        return add_string_or_null(o, key,
                                  usec > 0 ? protocol_format_timestamp(usec, buf, sizeof(buf)) : NULL);
}

static int add_reason(json_object *o, Reason reason) {
        char buf[REASON_STRING_MAX];

        return add_string_or_null(o, "reason", reason_to_string(reason, buf, sizeof(buf)));
}

json_object *protocol_node_to_json(const NodeRun *n) {
        _cleanup_json_ json_object *o = json_object_new_object();
        char sigbuf[16];
        const char *sig = NULL;
        bool finished = node_state_is_final(n->state) && n->started_at > 0 &&
                n->finished_at >= n->started_at;

        if (!o)
                return NULL;
        if (n->signal > 0) {
                sig = sigabbrev_np(n->signal);
                if (!sig) { /* real-time signals have no abbreviation */
                        snprintf(sigbuf, sizeof(sigbuf), "%d", (int) n->signal);
                        sig = sigbuf;
                }
        }
        if (add_string_or_null(o, "state", node_state_to_string(n->state)) < 0 ||
            add_int(o, "attempts", n->attempt) < 0 ||
            (n->exit_code >= 0 ? add_int(o, "exit_code", n->exit_code) : add(o, "exit_code", NULL)) < 0 ||
            add_string_or_null(o, "signal", sig) < 0 || add_reason(o, n->reason) < 0 ||
            add_timestamp(o, "started_at", n->started_at) < 0 ||
            add_timestamp(o, "finished_at", n->finished_at) < 0)
                return NULL;
        if ((finished ? add_int(o, "duration_ms",
                                (int64_t) ((n->finished_at - n->started_at) / USEC_PER_MSEC)) :
                        add(o, "duration_ms", NULL)) < 0)
                return NULL;
        /* Only when some output was lost, so that the usual reply stays as it was. */
        if (n->log_dropped > 0 &&
            add_int(o, "log_dropped", (int64_t) MIN(n->log_dropped, (uint64_t) INT64_MAX)) < 0)
                return NULL;
        if (n->frozen && add(o, "frozen", json_object_new_boolean(true)) < 0)
                return NULL;
        /* The kernel's accounting of the last ended attempt, each figure only where it is known. */
        if (n->acct) {
                NodeAcctField f[NODE_ACCT_FIELDS];

                node_run_acct_fields(n, f);
                for (size_t i = 0; i < NODE_ACCT_FIELDS; i++)
                        if (f[i].value <= INT64_MAX && add_int(o, f[i].key, (int64_t) f[i].value) < 0)
                                return NULL;
        }
        return TAKE_PTR(o);
}

static int add_nodes(json_object *o, const JobSpec *spec, const JobRun *run) {
        json_object *nodes = json_object_new_object();
        size_t n = MIN(spec->n_nodes, run->n_nodes);

        if (!nodes || add(o, "nodes", nodes) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *v = protocol_node_to_json(&run->nodes[i]);

                if (!v || add(nodes, spec->nodes[i].id, v) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int add_counts(json_object *o, const JobRun *run) {
        size_t counts[_NODE_STATE_MAX] = {};
        json_object *c = json_object_new_object();

        if (!c || add(o, "counts", c) < 0)
                return -ENOMEM;
        job_run_count(run, counts);
        for (NodeState s = 0; s < _NODE_STATE_MAX; s++)
                if (add_int(c, node_state_to_string(s), (int64_t) counts[s]) < 0)
                        return -ENOMEM;
        return 0;
}

json_object *protocol_job_to_json(const JobSpec *spec, const JobRun *run, bool with_nodes) {
        _cleanup_json_ json_object *o = json_object_new_object();
        json_object *owner;
        char id[24];

        if (!o || !spec || !run)
                return NULL;
        snprintf(id, sizeof(id), "%" PRIu64, run->id);

        if (add_string_or_null(o, "id", id) < 0 || add_string_or_null(o, "name", spec->name) < 0 ||
            add_string_or_null(o, "state", job_state_to_string(run->state)) < 0 ||
            add_reason(o, run->reason) < 0)
                return NULL;
        owner = json_object_new_object();
        if (!owner || add(o, "owner", owner) < 0 || add_int(owner, "uid", run->uid) < 0 ||
            add_string_or_null(owner, "user", run->user) < 0 || add_int(o, "priority", spec->priority) < 0 ||
            add_timestamp(o, "submitted_at", run->submitted_at) < 0 ||
            add_timestamp(o, "started_at", run->started_at) < 0 ||
            add_timestamp(o, "finished_at", run->finished_at) < 0 ||
            add_string_or_null(o, "key", spec->key) < 0 || add_string_or_null(o, "source", run->source) < 0)
                return NULL;
        if ((with_nodes ? add_nodes(o, spec, run) : add_counts(o, run)) < 0)
                return NULL;
        return TAKE_PTR(o);
}
