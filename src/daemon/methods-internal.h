/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the io.orchd.Manager method handlers share (methods.c): the Methods
 * object, parameter and authorization checks that answer the call themselves
 * on failure, and replies held until what they report is durable. The
 * handlers live in methods-jobs.c, methods-NAME.c and watch.c and are listed
 * in methods.c's table (their userdata is the Methods).
 */

#include <stdint.h>

#include <json-c/json.h>

#include "control.h"
#include "log.h"
#include "manager.h"
#include "methods.h"
#include "job.h"

struct Methods {
        Manager *manager; /* borrowed: outlives us */
        Control *control;
        struct HeldReply *held; /* replies waiting for durability (methods.c) */
        size_t n_held;
        struct Slicer *slicers;        /* Status replies being encoded in slices (methods-status.c) */
        struct LogReader *log_readers; /* Logs streams (methods-logs.c) */
        struct StopCall *stop_calls;   /* StopNodes calls answered once the nodes are drained */
        size_t n_stop_calls;
};

/* Reply with parameters (stolen) once everything changed so far is durable (answers about many jobs). */
int methods_reply_durable(Methods *ms, ControlCall *call, json_object *parameters);
/* Reply with parameters (stolen) once everything job j changed so far is durable. */
int methods_reply_job_durable(Methods *ms, ControlCall *call, const Job *j, json_object *parameters);
/* A query's reply: as methods_reply_job_durable() (j NULL: methods_reply_durable()), but at once in
 * read-only mode (readonly.h), where what waits for durability may wait long; Stats says the daemon is
 * read-only. Returns 0 or -errno. */
int methods_reply_view(Methods *ms, ControlCall *call, const Job *j, json_object *parameters);

/* Answer org.varlink.service.InvalidParameter {"parameter": name}. */
int methods_reply_invalid_parameter(ControlCall *call, const char *name);
/* Answer error with {"id": id} and, if node is set, {"node": node}. */
int methods_reply_with_id(ControlCall *call, const char *error, const char *id, const char *node);
/* While start-up recovery still loads jobs (manager_loading()), answer Loading and return true; else false.
 */
bool methods_refuse_while_loading(Methods *ms, ControlCall *call);

/* The job named by parameters.id if the caller may see and act on it (root, the daemon's uid, the owner);
 * else answers the call (InvalidParameter, NoSuchJob, PermissionDenied, logged) and returns NULL. */
Job *methods_lookup_job(Methods *ms, ControlCall *call, json_object *params);

/* parameters.nodes as node indices of j: returns 1 with *ret = NULL for "no nodes member" (the whole
 * job), 1 with the indices, 0 if the call was answered with an error (InvalidParameter, NoSuchNode), or
 * -errno. */
int methods_parse_nodes(ControlCall *call, Job *j, json_object *params, uint32_t **ret, size_t *ret_n);

/* The journal fields (log.h) of a control action act ("cancel", …) on job id, with the caller's uid. */
#define CONTROL_EV(call, id, act)                                                                 \
        LOG_EV(.message_id = ORCH_MESSAGE_CONTROL, .job = (id), .action = (act), .has_uid = true, \
               .uid = control_call_uid(call))

/* Answer a call that would put a job in the spool now but cannot: r = -EDQUOT, a per-user cap (LimitExceeded
 * with the figures of m->last_denial), or -ENOSPC, the spool below MinFreeSpace= (SpoolFull). Both are
 * temporary for the caller. Logged with the caller's uid. */
int methods_reply_refused(Methods *ms, ControlCall *call, int r);

/* Submit refused for the caller (not for a job): PermissionDenied with no id, and why (NULL: none), which
 * orchctl prints. */
int methods_reply_permission_denied(ControlCall *call, const char *why);

/* Whether the caller may see and act on j: root, the daemon's uid, the owner, or AdminGroup=. *is_admin
 * caches the AdminGroup= lookup for one call: -1 not looked up yet, then 0 or 1. */
bool methods_may_access(Manager *m, const ControlCall *call, const Job *j, int *is_admin);

/* Unless the caller is an administrator (root, the daemon's uid, AdminGroup=): answer PermissionDenied with
 * reason (what only administrators may do, and what the caller may do instead), log the refusal of action
 * ("gc") and return true; else false. */
bool methods_refuse_non_admin(Methods *ms, ControlCall *call, const char *action, const char *reason);

/* The handlers of methods-jobs.c: io.orchd.Manager.List, Status, Wait, Graph, Stats, Cancel, Pause, Resume
 * and Submit (parameters and replies: src/shared/io.orchd.Manager.varlink). */
int method_list(ControlCall *call, json_object *params, void *userdata);
int method_status(ControlCall *call, json_object *params, void *userdata);
int method_wait(ControlCall *call, json_object *params, void *userdata);
int method_graph(ControlCall *call, json_object *params, void *userdata);
int method_stats(ControlCall *call, json_object *params, void *userdata);
int method_cancel(ControlCall *call, json_object *params, void *userdata);
int method_pause(ControlCall *call, json_object *params, void *userdata);
int method_resume(ControlCall *call, json_object *params, void *userdata);
int method_submit(ControlCall *call, json_object *params, void *userdata);

/* Method handlers that live in their own files. */
int method_retry(ControlCall *call, json_object *params, void *userdata);

/* io.orchd.Manager.History (methods-history.c): a job's audit trail. Parameters: id, node (optional). */
int method_history(ControlCall *call, json_object *params, void *userdata);
/* Record control action kind by the caller in j's history: on the job (nodes NULL) or on each node.
 * A failure is logged; returns -ENOMEM, else 0. */
int methods_record_action(ControlCall *call, Job *j, HistoryKind kind, const uint32_t *nodes, size_t n);

/* io.orchd.Manager.Rejected (methods-rejected.c): the caller's rejected job files. */
int method_rejected(ControlCall *call, json_object *params, void *userdata);

/* io.orchd.Manager.Remove and io.orchd.Manager.Gc (methods-retention.c). */
int method_remove(ControlCall *call, json_object *params, void *userdata);
int method_gc(ControlCall *call, json_object *params, void *userdata);

/* io.orchd.Manager.StopNodes (methods-stop.c): stop every running node as KillNodes=yes does, then exit. */
int method_stop_nodes(ControlCall *call, json_object *params, void *userdata);
/* ManagerHooks.on_drained: answer the StopNodes calls (the nodes are stopped and recorded). */
void methods_stop_on_drained(void *userdata);
/* Drop the StopNodes calls not answered yet (shutdown). */
void methods_stop_free_all(Methods *ms);

/* io.orchd.Manager.Watch (watch.c). */
int method_watch(ControlCall *call, json_object *parameters, void *userdata);

/* io.orchd.Manager.Logs (methods-logs.c). */
int method_logs(ControlCall *call, json_object *parameters, void *userdata);
/* Something became durable: Logs streams waiting for an attempt to start or end look again. */
void methods_logs_on_durable(Methods *ms);
/* Drop every Logs stream without a reply (shutdown). */
void methods_logs_free_all(Methods *ms);

/* Answer a Status (or a settled job's Wait) with job j as it is now (methods_reply_view()); a big job's
 * reply is encoded in slices between other work (methods-status.c). Returns 0 or -errno. */
int methods_reply_status(Methods *ms, ControlCall *call, const Job *j);
/* Drop the replies still being encoded (shutdown). */
void methods_status_free_all(Methods *ms);
