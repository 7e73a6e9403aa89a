/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * methods-stop.c — io.orchd.Manager.StopNodes: the old "stop everything" for
 * an administrator before maintenance, whatever KillNodes= says. The call is
 * the stop of a SIGTERM with KillNodes=yes (manager_stop(): TERM, kill_grace,
 * KILL, every attempt recorded as interrupted, then exit 0), so orchd stays
 * stopped until it is started again. Administrators only, as Gc.
 *
 * The reply is the catch: orchd exits once the nodes are drained, and the
 * event loop no longer sends what is queued then. So the call is held until
 * the manager says everything is stopped and durable (ManagerHooks.on_drained,
 * right before the loop exits: the reply never reports a stop that is not
 * recorded), control_free() hands the queued reply to the socket without
 * waiting (a peer that does not read cannot hold the exit), and the caller's
 * connection stays open until the process ends, so a client that reads on
 * after the reply knows when orchd is gone.
 */

#include <stdio.h>
#include <stdlib.h>

#include "methods-internal.h"
#include "protocol.h"

/* A StopNodes call waiting for the stop, with the number of nodes that ran when it came. */
struct StopCall {
        ControlCall *call;
        unsigned nodes;
};

int method_stop_nodes(ControlCall *call, json_object *params, void *userdata) {
        Methods *ms = userdata;
        Manager *m = ms->manager;
        struct StopCall *a;
        uid_t uid = control_call_uid(call);
        char why[80];

        if (methods_refuse_non_admin(ms, call, "stop-nodes",
                                     "only administrators may stop every user's nodes; cancel your own "
                                     "jobs with orchctl cancel"))
                return 0;
        /* A job not loaded yet may have nodes running in a keeper, which this stop would not reach. */
        if (methods_refuse_while_loading(ms, call))
                return 0;
        a = reallocarray(ms->stop_calls, ms->n_stop_calls + 1, sizeof(struct StopCall));
        if (!a)
                return -ENOMEM;
        ms->stop_calls = a;
        /* Held before the stop: with nothing running, the stop drains (and answers) right away. */
        a[ms->n_stop_calls++] = (struct StopCall){ control_call_ref(call), m->n_running };
        log_event(LOG_NOTICE,
                  LOG_EV(.message_id = ORCH_MESSAGE_CONTROL, .action = "stop-nodes", .has_uid = true,
                         .uid = uid),
                  "uid %u asked to stop every running node (%u) and orchd.", (unsigned) uid, m->n_running);
        if (m->stopping) /* a stop is under way (a SIGTERM with KillNodes=yes): the call waits for it */
                return 0;
        snprintf(why, sizeof(why), "uid %u asked to stop the nodes", (unsigned) uid);
        manager_stop(m, true, why);
        return 0;
}

void methods_stop_on_drained(void *userdata) {
        Methods *ms = userdata;

        for (size_t k = 0; k < ms->n_stop_calls; k++) {
                struct StopCall *a = &ms->stop_calls[k];
                json_object *p = json_object_new_object();

                (void) control_call_hold_until_exit(a->call);
                if (p)
                        json_object_object_add(p, "nodes", json_object_new_int64(a->nodes));
                if (!p || control_call_reply(a->call, p) < 0) /* the client then sees the connection end */
                        log_warning("Failed to answer the StopNodes call of uid %u.",
                                    (unsigned) control_call_uid(a->call));
                control_call_unref(a->call);
        }
        ms->stop_calls = mfree(ms->stop_calls);
        ms->n_stop_calls = 0;
}

void methods_stop_free_all(Methods *ms) {
        for (size_t k = 0; k < ms->n_stop_calls; k++)
                control_call_unref(ms->stop_calls[k].call);
        ms->stop_calls = mfree(ms->stop_calls);
        ms->n_stop_calls = 0;
}
