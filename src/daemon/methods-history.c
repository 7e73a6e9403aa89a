/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * methods-history.c — io.orchd.Manager.History: a job's audit trail (history.h) as recorded in its
 * journal, and the recording of the control actions the other handlers perform, with their caller.
 *
 * Invariants: a trail shows only what is durable (the reply waits for the job's records, as Status
 * does); who may read it is who may read the job's Status (methods_lookup_job()).
 */

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "methods-internal.h"
#include "protocol.h"
#include "pwcache.h"

int methods_record_action(ControlCall *call, Job *j, HistoryKind kind, const uint32_t *nodes, size_t n) {
        uid_t uid = control_call_uid(call);
        const struct passwd *pw = pwcache_getpwuid(uid); /* as Rejected does: the name as it is now, kept */
        _cleanup_free_ char *user = pw ? strdup(pw->pw_name) : NULL;
        int r = 0;

        if (!nodes)
                r = job_record_action(j, kind, HISTORY_JOB, uid, user);
        for (size_t k = 0; nodes && k < n && r >= 0; k++)
                r = job_record_action(j, kind, nodes[k], uid, user);
        if (r < 0)
                log_warning_errno(r, "Job %" PRIu64 ": cannot record %s by uid %u in its history: %m", j->id,
                                  history_kind_to_string(kind), (unsigned) uid);
        return r == -ENOMEM ? r : 0; /* the action itself happened */
}

static json_object *event_to_json(const Job *j, const History *h, size_t k) {
        const HistoryEvent *e = &h->events[k];
        char reason[REASON_STRING_MAX], at[TIMESTAMP_STRING_MAX];
        const char *r = reason_to_string(e->reason, reason, sizeof(reason));
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        if (json_object_object_add(o, "number", json_object_new_int64((int64_t) (h->first + k))) < 0 ||
            json_object_object_add(
                    o, "at", json_object_new_string(protocol_format_timestamp(e->at, at, sizeof(at)))) < 0 ||
            json_object_object_add(o, "node",
                                   e->node == HISTORY_JOB ?
                                           NULL :
                                           json_object_new_string(j->spec->nodes[e->node].id)) < 0 ||
            json_object_object_add(o, "event", json_object_new_string(history_kind_to_string(e->kind))) <
                    0 ||
            json_object_object_add(o, "state",
                                   json_object_new_string(e->node == HISTORY_JOB ?
                                                                  job_state_to_string(e->state) :
                                                                  node_state_to_string(e->state))) < 0 ||
            json_object_object_add(o, "reason", r ? json_object_new_string(r) : NULL) < 0 ||
            json_object_object_add(o, "attempt", json_object_new_int(e->attempt)) < 0 ||
            json_object_object_add(o, "uid", e->by_user ? json_object_new_int64(e->uid) : NULL) < 0 ||
            json_object_object_add(o, "user",
                                   e->by_user ? json_object_new_string(e->user ?: "") :
                                                json_object_new_string("orchd")) < 0)
                return json_object_put(o), NULL;
        return o;
}

static json_object *history_to_json(const Job *j, const History *h, ssize_t node) {
        json_object *p = json_object_new_object(), *a = json_object_new_array();
        char id[24];

        if (!p || !a || json_object_object_add(p, "events", a) < 0) {
                json_object_put(a);
                return json_object_put(p), NULL;
        }
        snprintf(id, sizeof(id), "%" PRIu64, j->id);
        if (json_object_object_add(p, "id", json_object_new_string(id)) < 0 ||
            json_object_object_add(p, "partial", json_object_new_boolean(h->partial)) < 0 ||
            json_object_object_add(p, "dropped", json_object_new_int64((int64_t) h->first)) < 0)
                return json_object_put(p), NULL;
        for (size_t k = 0; k < h->n; k++) {
                json_object *o;

                if (node >= 0 && h->events[k].node != (uint32_t) node)
                        continue;
                o = event_to_json(j, h, k);
                if (!o || json_object_array_add(a, o) < 0)
                        return json_object_put(o), json_object_put(p), NULL;
        }
        return p;
}

int method_history(ControlCall *call, json_object *params, void *userdata) {
        _cleanup_(history_freep) History *owned = NULL;
        _cleanup_free_ char *err = NULL;
        Job *j = methods_lookup_job(userdata, call, params);
        const History *h;
        ssize_t node = -1;
        json_object *v, *p;
        int r;

        if (!j)
                return 0;
        if (json_object_object_get_ex(params, "node", &v) && !json_object_is_type(v, json_type_null)) {
                char id[24];

                if (!json_object_is_type(v, json_type_string))
                        return methods_reply_invalid_parameter(call, "node");
                node = jobspec_find_node(j->spec, json_object_get_string(v));
                snprintf(id, sizeof(id), "%" PRIu64, j->id);
                if (node < 0)
                        return methods_reply_with_id(call, ORCH_ERROR_NO_SUCH_NODE, id,
                                                     json_object_get_string(v));
        }
        r = job_get_history(j, &h, &owned, &err);
        if (r < 0)
                return log_warning_errno(r, "Job %" PRIu64 ": cannot read its history: %s", j->id,
                                         err ?: strerror(-r));
        p = history_to_json(j, h, node);
        if (!p)
                return -ENOMEM;
        return methods_reply_view(userdata, call, j, p); /* what it shows is durable when it goes */
}
