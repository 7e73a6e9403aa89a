/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * methods.c — the io.orchd.Manager methods (src/shared/io.orchd.Manager.varlink):
 * the Methods object (the control server with the method table, methods.h),
 * the replies held until what they report is durable, and the checks every
 * handler shares (parameters, the job named and whether the caller may touch
 * it). The handlers live in methods-jobs.c and methods-NAME.c.
 *
 * Each handler validates its parameters, authorizes the caller by the
 * SO_PEERCRED uid that control.c took at accept (never by anything in the
 * message), and answers from or acts on the Manager's jobs. Who may see and
 * act on a job: root, the daemon's own uid, and the job's owner. State
 * changing calls are logged with the caller's uid.
 */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "graph.h"
#include "json-util.h"
#include "jobid.h"
#include "log.h"
#include "macro.h"
#include "methods-internal.h"
#include "methods.h"
#include "protocol.h"

/* A reply built now but held until what it reports is durable (SPEC §4: never report anything that was
 * not made durable). */
struct HeldReply {
        ControlCall *call;
        json_object *parameters;
        uint64_t gen;
};

/* The generation that covers every change made so far, or 0 if everything is durable already. */
static uint64_t pending_gen(Manager *m) {
        if (m->n_dirty > 0 || committer_has_open(m->committer))
                return committer_next_gen(m->committer); /* the next seal takes them */
        if (committer_busy(m->committer))
                return committer_next_gen(m->committer) - 1;
        return 0;
}

/* The generation that covers every change of one job so far, or 0. A reply about one job waits only for
 * that job's records, not for the commits of a busy neighbour. */
static uint64_t job_pending_gen(Manager *m, const Job *j) {
        return job_records_gen(j);
}

/* Reply with parameters (stolen) once generation gen is durable: now if it already is (or gen is 0). */
static int reply_after(Methods *ms, ControlCall *call, json_object *parameters, uint64_t gen) {
        struct HeldReply *h;

        if (gen == 0 || gen <= committer_durable_gen(ms->manager->committer))
                return control_call_reply(call, parameters);
        h = reallocarray(ms->held, ms->n_held + 1, sizeof(struct HeldReply));
        if (!h) {
                json_object_put(parameters);
                return -ENOMEM;
        }
        ms->held = h;
        ms->held[ms->n_held++] = (struct HeldReply){ control_call_ref(call), parameters, gen };
        return 0;
}

/* Reply once everything changed so far is durable (for answers about many jobs). */
int methods_reply_durable(Methods *ms, ControlCall *call, json_object *parameters) {
        return reply_after(ms, call, parameters, pending_gen(ms->manager));
}

/* Reply once everything this job changed so far is durable. */
int methods_reply_job_durable(Methods *ms, ControlCall *call, const Job *j, json_object *parameters) {
        return reply_after(ms, call, parameters, job_pending_gen(ms->manager, j));
}

int methods_reply_view(Methods *ms, ControlCall *call, const Job *j, json_object *parameters) {
        if (ms->manager->read_only.on)
                return control_call_reply(call, parameters);
        return j ? methods_reply_job_durable(ms, call, j, parameters) :
                   methods_reply_durable(ms, call, parameters);
}

/* ManagerHooks.on_durable: generation gen of the journal is durable: send the replies that waited for it. */
static void methods_on_durable(uint64_t gen, void *userdata) {
        Methods *ms = userdata;
        size_t w = 0;

        for (size_t k = 0; k < ms->n_held; k++) {
                struct HeldReply *h = &ms->held[k];

                if (h->gen > gen) {
                        ms->held[w++] = *h;
                        continue;
                }
                (void) control_call_reply(h->call, h->parameters);
                control_call_unref(h->call);
        }
        ms->n_held = w;
        methods_logs_on_durable(ms);
}

/* Drop every held reply, Status slicer and Logs stream without a reply (shutdown). */
static void methods_free_held(Methods *ms) {
        methods_stop_free_all(ms);
        methods_logs_free_all(ms);
        methods_status_free_all(ms);
        for (size_t k = 0; k < ms->n_held; k++) {
                json_object_put(ms->held[k].parameters);
                control_call_unref(ms->held[k].call);
        }
        ms->held = mfree(ms->held);
        ms->n_held = 0;
}

int methods_reply_invalid_parameter(ControlCall *call, const char *name) {
        json_object *p = json_object_new_object();

        if (p)
                json_object_object_add(p, "parameter", json_object_new_string(name));
        return control_call_error(call, VARLINK_ERROR_INVALID_PARAMETER, p);
}

/* Answer InternalError with the errno name, as control.c does for a failed handler. */
static int reply_internal(ControlCall *call, int error) {
        json_object *p = json_object_new_object();

        if (p)
                (void) json_object_object_add(p, "errno",
                                              json_object_new_string(strerrorname_np(-error) ?: "EIO"));
        return control_call_error(call, ORCH_ERROR_INTERNAL, p);
}

bool methods_refuse_while_loading(Methods *ms, ControlCall *call) {
        json_object *p;

        if (manager_loading(ms->manager) == 0)
                return false;
        p = json_object_new_object();
        if (p)
                (void) json_object_object_add(p, "jobs",
                                              json_object_new_int64((int64_t) manager_loading(ms->manager)));
        (void) control_call_error(call, ORCH_ERROR_LOADING, p);
        return true;
}

bool methods_refuse_non_admin(Methods *ms, ControlCall *call, const char *action, const char *reason) {
        Manager *m = ms->manager;
        uid_t uid = control_call_uid(call);
        json_object *p;

        if (access_may_see(uid, false, geteuid(), (uid_t) -1) ||
            (m->conf.admin_group && control_call_in_group(call, access_admin_gid(&m->conf))))
                return false;
        log_event(LOG_NOTICE,
                  LOG_EV(.message_id = ORCH_MESSAGE_CONTROL, .action = action, .reason = "permission-denied",
                         .has_uid = true, .uid = uid),
                  "uid %u was refused %s.", (unsigned) uid, control_call_method(call));
        p = json_object_new_object();
        if (p) {
                json_object_object_add(p, "id", json_object_new_string(""));
                json_object_object_add(p, "reason", json_object_new_string(reason));
        }
        (void) control_call_error(call, ORCH_ERROR_PERMISSION_DENIED, p);
        return true;
}

int methods_reply_with_id(ControlCall *call, const char *error, const char *id, const char *node) {
        json_object *p = json_object_new_object();

        if (p) {
                json_object_object_add(p, "id", json_object_new_string(id));
                if (node)
                        json_object_object_add(p, "node", json_object_new_string(node));
        }
        return control_call_error(call, error, p);
}

int methods_reply_permission_denied(ControlCall *call, const char *why) {
        json_object *p = json_object_new_object();

        if (p) {
                json_object_object_add(p, "id", json_object_new_string(""));
                if (why)
                        json_object_object_add(p, "reason", json_object_new_string(why));
        }
        return control_call_error(call, ORCH_ERROR_PERMISSION_DENIED, p);
}

bool methods_may_access(Manager *m, const ControlCall *call, const Job *j, int *is_admin) {
        uid_t uid = control_call_uid(call);

        if (access_may_see(uid, false, geteuid(), j->run->uid))
                return true;
        if (*is_admin < 0)
                *is_admin = m->conf.admin_group && control_call_in_group(call, access_admin_gid(&m->conf));
        return *is_admin > 0;
}

/* Find the job named by parameters.id, answering the call with the right error if there is none or the
 * caller may not touch it. Returns the job or NULL (then the call is answered). */
Job *methods_lookup_job(Methods *ms, ControlCall *call, json_object *params) {
        Manager *m = ms->manager;
        json_object *v;
        const char *s;
        uint64_t id;
        int r = 0;
        Job *j;

        if (!json_object_object_get_ex(params, "id", &v) || !json_object_is_type(v, json_type_string)) {
                (void) methods_reply_invalid_parameter(call, "id");
                return NULL;
        }
        s = json_object_get_string(v);
        j = job_id_parse(s, &id) >= 0 ? manager_get_job(m, id, &r) : NULL;
        if (r < 0) { /* a shortage while loading it on demand (logged) */
                (void) reply_internal(call, r);
                return NULL;
        }
        if (!j) {
                (void) methods_reply_with_id(call, ORCH_ERROR_NO_SUCH_JOB, s, NULL);
                return NULL;
        }
        if (!methods_may_access(m, call, j, &(int){ -1 })) {
                log_event(LOG_NOTICE,
                          LOG_EV(.message_id = ORCH_MESSAGE_CONTROL, .job = j->id, .action = "access",
                                 .reason = "permission-denied", .has_uid = true,
                                 .uid = control_call_uid(call)),
                          "uid %u was refused %s on job %" PRIu64 ".", (unsigned) control_call_uid(call),
                          control_call_method(call), j->id);
                (void) methods_reply_with_id(call, ORCH_ERROR_PERMISSION_DENIED, s, NULL);
                return NULL;
        }
        return j;
}

static const ControlMethod methods[] = {
        { ORCH_METHOD_LIST, method_list },
        { ORCH_METHOD_STATUS, method_status },
        { ORCH_METHOD_WAIT, method_wait },
        { ORCH_METHOD_CANCEL, method_cancel },
        { ORCH_METHOD_SUBMIT, method_submit, .large = true },
        { ORCH_METHOD_STATS, method_stats },
        { ORCH_METHOD_GRAPH, method_graph },
        { ORCH_METHOD_PAUSE, method_pause },
        { ORCH_METHOD_RESUME, method_resume },
        { ORCH_METHOD_RETRY, method_retry },
        { ORCH_METHOD_LOGS, method_logs },
        { ORCH_METHOD_WATCH, method_watch },
        { ORCH_METHOD_REJECTED, method_rejected },
        { ORCH_METHOD_REMOVE, method_remove },
        { ORCH_METHOD_GC, method_gc },
        { ORCH_METHOD_HISTORY, method_history },
        { ORCH_METHOD_STOP_NODES, method_stop_nodes },
        {},
};

/* /run/orchd may not exist yet when systemd's RuntimeDirectory= is not used: create the socket's parent. */
static void create_parent_dir(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        char *slash;

        if (!dir || !(slash = strrchr(dir, '/')) || slash == dir)
                return;
        *slash = '\0';
        if (mkdir(dir, 0755) < 0 && errno == ENOENT) {
                create_parent_dir(dir);
                (void) mkdir(dir, 0755);
        }
}

/* Who may take the control connections kept in reserve: the same administrators as everywhere else. */
static bool peer_is_admin(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, void *userdata) {
        Manager *m = userdata;

        return access_peer_is_admin(&m->conf, geteuid(), uid, gid, groups, n_groups);
}

int methods_new(Manager *m, Methods **ret) {
        _cleanup_(methods_freep) Methods *ms = NULL;
        int r;

        ms = calloc(1, sizeof(Methods));
        if (!ms)
                return log_oom();
        ms->manager = m;
        create_parent_dir(m->config.socket_path);
        r = control_new(m->event, m->config.socket_path, methods, ms, &ms->control);
        if (r < 0)
                return log_error_errno(r, "Failed to listen on %s: %m", m->config.socket_path);
        control_set_admin_check(ms->control, peer_is_admin, m);
        manager_set_hooks(m,
                          &(ManagerHooks){ .on_durable = methods_on_durable,
                                           .on_drained = methods_stop_on_drained,
                                           .userdata = ms });
        *ret = TAKE_PTR(ms);
        return 0;
}

Methods *methods_free(Methods *ms) {
        if (!ms)
                return NULL;
        if (ms->manager->hooks.userdata == ms)
                manager_set_hooks(ms->manager, NULL);
        methods_free_held(ms);
        ms->control = control_free(ms->control);
        return mfree(ms);
}
