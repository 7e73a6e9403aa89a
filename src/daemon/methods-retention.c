/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * methods-retention.c — io.orchd.Manager.Remove and io.orchd.Manager.Gc: take
 * finished jobs out of the spool now (retention.c does the work). Remove is
 * for the job's owner and administrators, as Cancel and Retry are; Gc applies
 * KeepFinished= to everyone's jobs, so only administrators (root, the daemon's
 * user, AdminGroup=) may call it. Both reply once the removal is durable.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "access.h"
#include "methods-internal.h"
#include "protocol.h"
#include "retention.h"

int method_remove(ControlCall *call, json_object *params, void *userdata) {
        Methods *ms = userdata;
        Manager *m = ms->manager;
        Job *j = methods_lookup_job(ms, call, params);
        json_object *p;
        uint64_t id;
        char sid[24];
        int r;

        if (!j)
                return 0;
        id = j->id;
        snprintf(sid, sizeof(sid), "%" PRIu64, id);
        r = retention_remove_job(&m->retention, j);
        if (r == -EBUSY) {
                p = json_object_new_object();
                if (p) {
                        json_object_object_add(p, "id", json_object_new_string(sid));
                        json_object_object_add(p, "reason", json_object_new_string("not finished"));
                }
                return control_call_error(call, ORCH_ERROR_CANNOT_REMOVE, p);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to remove job %s: %m", sid);
        log_event(LOG_NOTICE, CONTROL_EV(call, id, "remove"), "uid %u removed job %" PRIu64 ".",
                  (unsigned) control_call_uid(call), id);
        p = json_object_new_object();
        if (!p)
                return -ENOMEM;
        return methods_reply_durable(ms, call, p); /* "removed" means the rename is durable */
}

int method_gc(ControlCall *call, json_object *params, void *userdata) {
        Methods *ms = userdata;
        Manager *m = ms->manager;
        uid_t uid = control_call_uid(call);
        json_object *p;
        int r;

        if (methods_refuse_non_admin(ms, call, "gc",
                                     "only administrators may collect every user's finished jobs; "
                                     "remove your own with orchctl remove"))
                return 0;
        if (methods_refuse_while_loading(ms, call)) /* KeepFinished= counts and ages every job */
                return 0;
        r = retention_gc(&m->retention);
        if (r < 0)
                return r;
        log_event(LOG_NOTICE,
                  LOG_EV(.message_id = ORCH_MESSAGE_CONTROL, .action = "gc", .has_uid = true, .uid = uid),
                  "uid %u collected finished jobs: %d removed.", (unsigned) uid, r);
        p = json_object_new_object();
        if (!p)
                return -ENOMEM;
        json_object_object_add(p, "removed", json_object_new_int64(r));
        json_object_object_add(p, "kept", json_object_new_int64((int64_t) m->n_jobs));
        return methods_reply_durable(ms, call, p);
}
