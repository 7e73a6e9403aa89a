/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * methods-retry.c — io.orchd.Manager.Retry: re-run a finished job's failed,
 * cancelled and skipped nodes (or the named ones) and what depends on them.
 * The work is job_retry()'s; this checks the call, logs who asked, and
 * replies once the retry is durable.
 */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "methods-internal.h"
#include "protocol.h"

static int reply_cannot_retry(ControlCall *call, const Job *j, const char *reason) {
        json_object *p = json_object_new_object();
        char id[24];

        snprintf(id, sizeof(id), "%" PRIu64, j->id);
        if (p) {
                json_object_object_add(p, "id", json_object_new_string(id));
                json_object_object_add(p, "reason", json_object_new_string(reason));
        }
        return control_call_error(call, ORCH_ERROR_CANNOT_RETRY, p);
}

static json_object *node_names(const Job *j, const uint32_t *nodes, size_t n) {
        json_object *p = json_object_new_object(),
                    *a = json_object_new_array_ext((int) MIN(n, (size_t) INT_MAX));

        if (!p || !a || json_object_object_add(p, "nodes", a) < 0) {
                json_object_put(a);
                return json_object_put(p), NULL;
        }
        for (size_t k = 0; k < n; k++)
                if (json_object_array_add(a, json_object_new_string(j->spec->nodes[nodes[k]].id)) < 0)
                        return json_object_put(p), NULL;
        return p;
}

/* Whether a retry without node names would re-run anything. */
static bool has_retryable(const Job *j) {
        size_t c[_NODE_STATE_MAX];

        job_run_count(j->run, c);
        return c[NODE_FAILED] + c[NODE_CANCELLED] + c[NODE_SKIPPED] > 0;
}

int method_retry(ControlCall *call, json_object *params, void *userdata) {
        Methods *ms = userdata;
        _cleanup_free_ uint32_t *named = NULL, *retried = NULL;
        Job *j = methods_lookup_job(ms, call, params);
        uint64_t holder = 0;
        size_t n_named, n_retried;
        json_object *reply;
        char reason[64];
        int r;

        if (!j || methods_refuse_while_loading(ms, call)) /* caps and keys need every job */
                return 0;
        r = methods_parse_nodes(call, j, params, &named, &n_named);
        if (r <= 0)
                return r;
        /* A retried job is unfinished again: the owner's caps apply as to a new one (its file is counted
         * already), so retrying old jobs cannot get round UserMaxJobs= or UserMaxNodes=. */
        if (job_is_settled(j) && (named || has_retryable(j))) {
                _cleanup_free_ char *why = NULL;

                r = manager_admit(ms->manager, j->run->uid, 0, j->spec->n_nodes, &why);
                if (r == -EDQUOT)
                        return methods_reply_refused(ms, call, r);
                if (r < 0)
                        return r;
        }
        r = job_retry(j, named, n_named, &retried, &n_retried, &holder);
        if (r == -EBUSY)
                return reply_cannot_retry(call, j, "not finished");
        if (r == -EADDRINUSE) {
                snprintf(reason, sizeof(reason), "key held by job %" PRIu64, holder);
                return reply_cannot_retry(call, j, reason);
        }
        if (r < 0)
                return r;
        if (n_retried > 0) {
                log_event(LOG_NOTICE, CONTROL_EV(call, j->id, "retry"),
                          "uid %u retried %zu node(s) of job %" PRIu64 ".",
                          (unsigned) control_call_uid(call), n_retried, j->id);
                r = methods_record_action(call, j, HISTORY_RETRY_REQUEST, retried, n_retried);
                if (r < 0)
                        return r;
        }
        reply = node_names(j, retried, n_retried);
        if (!reply)
                return -ENOMEM;
        return methods_reply_job_durable(ms, call, j, reply); /* "retried" means recorded */
}
