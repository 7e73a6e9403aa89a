/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * methods.c — the io.orchd.Manager methods (src/shared/io.orchd.Manager.varlink).
 *
 * Owns nothing: each handler validates its parameters, authorizes the caller
 * by the SO_PEERCRED uid that control.c took at accept (never by anything in
 * the message), and answers from or acts on the Manager's jobs. Who may see
 * and act on a job: root, the daemon's own uid, and the job's owner. State
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
#include "log.h"
#include "macro.h"
#include "methods-internal.h"
#include "methods.h"
#include "protocol.h"
#include "watch.h"

/* How many finished jobs a plain "list" shows besides the unfinished ones. */
#define LIST_RECENT_FINISHED 10

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
static int reply_after(Manager *m, ControlCall *call, json_object *parameters, uint64_t gen) {
        struct HeldReply *h;

        if (gen == 0 || gen <= committer_durable_gen(m->committer))
                return control_call_reply(call, parameters);
        h = reallocarray(m->held, m->n_held + 1, sizeof(struct HeldReply));
        if (!h) {
                json_object_put(parameters);
                return -ENOMEM;
        }
        m->held = h;
        m->held[m->n_held++] = (struct HeldReply){ control_call_ref(call), parameters, gen };
        return 0;
}

/* Reply once everything changed so far is durable (for answers about many jobs). */
int methods_reply_durable(Manager *m, ControlCall *call, json_object *parameters) {
        return reply_after(m, call, parameters, pending_gen(m));
}

/* Reply once everything this job changed so far is durable. */
int methods_reply_job_durable(Manager *m, ControlCall *call, const Job *j, json_object *parameters) {
        return reply_after(m, call, parameters, job_pending_gen(m, j));
}

int methods_reply_view(Manager *m, ControlCall *call, const Job *j, json_object *parameters) {
        if (m->read_only.on)
                return control_call_reply(call, parameters);
        return j ? methods_reply_job_durable(m, call, j, parameters) :
                   methods_reply_durable(m, call, parameters);
}

void methods_on_durable(Manager *m, uint64_t gen) {
        size_t w = 0;

        for (size_t k = 0; k < m->n_held; k++) {
                struct HeldReply *h = &m->held[k];

                if (h->gen > gen) {
                        m->held[w++] = *h;
                        continue;
                }
                (void) control_call_reply(h->call, h->parameters);
                control_call_unref(h->call);
        }
        m->n_held = w;
        methods_logs_on_durable(m);
}

void methods_free_held(Manager *m) {
        methods_logs_free_all(m);
        methods_status_free_all(m);
        for (size_t k = 0; k < m->n_held; k++) {
                json_object_put(m->held[k].parameters);
                control_call_unref(m->held[k].call);
        }
        m->held = mfree(m->held);
        m->n_held = 0;
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

bool methods_refuse_while_loading(Manager *m, ControlCall *call) {
        json_object *p;

        if (manager_loading(m) == 0)
                return false;
        p = json_object_new_object();
        if (p)
                (void) json_object_object_add(p, "jobs", json_object_new_int64((int64_t) manager_loading(m)));
        (void) control_call_error(call, ORCH_ERROR_LOADING, p);
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

/* Submit refused for the caller (not for a job): PermissionDenied with no id, and why (NULL: none), which
 * orchctl prints. */
static int methods_reply_permission_denied(ControlCall *call, const char *why) {
        json_object *p = json_object_new_object();

        if (p) {
                json_object_object_add(p, "id", json_object_new_string(""));
                if (why)
                        json_object_object_add(p, "reason", json_object_new_string(why));
        }
        return control_call_error(call, ORCH_ERROR_PERMISSION_DENIED, p);
}

/* *is_admin caches the AdminGroup= lookup for one call: -1 not looked up yet, then 0 or 1. */
static bool may_access(Manager *m, const ControlCall *call, const Job *j, int *is_admin) {
        uid_t uid = control_call_uid(call);

        if (access_may_see(uid, false, geteuid(), j->run->uid))
                return true;
        if (*is_admin < 0)
                *is_admin = m->conf.admin_group && control_call_in_group(call, access_admin_gid(&m->conf));
        return *is_admin > 0;
} /* Find the job named by parameters.id, answering the call with the right error if there is none or the
   * caller may not touch it. Returns the job or NULL (then the call is answered). */
Job *methods_lookup_job(Manager *m, ControlCall *call, json_object *params) {
        json_object *v;
        const char *s;
        char *end;
        uint64_t id;
        int r = 0;
        Job *j;

        if (!json_object_object_get_ex(params, "id", &v) || !json_object_is_type(v, json_type_string)) {
                (void) methods_reply_invalid_parameter(call, "id");
                return NULL;
        }
        s = json_object_get_string(v);
        errno = 0;
        id = strtoull(s, &end, 10);
        j = (errno == 0 && *s >= '1' && *s <= '9' && *end == '\0') ? manager_get_job(m, id, &r) : NULL;
        if (r < 0) { /* a shortage while loading it on demand (logged) */
                (void) reply_internal(call, r);
                return NULL;
        }
        if (!j) {
                (void) methods_reply_with_id(call, ORCH_ERROR_NO_SUCH_JOB, s, NULL);
                return NULL;
        }
        if (!may_access(m, call, j, &(int){ -1 })) {
                log_event(LOG_NOTICE,
                          LOG_EV(.message_id = ORCH_MESSAGE_CONTROL, .job = j->id, .action = "access",
                                 .reason = "permission-denied", .has_uid = true, .uid = control_call_uid(call)),
                          "uid %u was refused %s on job %" PRIu64 ".", (unsigned) control_call_uid(call),
                          control_call_method(call), j->id);
                (void) methods_reply_with_id(call, ORCH_ERROR_PERMISSION_DENIED, s, NULL);
                return NULL;
        }
        return j;
}

static int method_status(ControlCall *call, json_object *params, void *userdata) {
        Job *j = methods_lookup_job(userdata, call, params);

        return j ? methods_reply_status(userdata, call, j) : 0;
}

static int method_wait(ControlCall *call, json_object *params, void *userdata) {
        Job *j = methods_lookup_job(userdata, call, params);

        if (!j)
                return 0;
        if (job_is_settled(j))
                return methods_reply_status(userdata, call, j);
        return job_add_waiter(j, call); /* answered once the job's end is durable */
}

int methods_parse_nodes(ControlCall *call, Job *j, json_object *params, uint32_t **ret, size_t *ret_n) {
        _cleanup_free_ uint32_t *idx = NULL;
        json_object *v;
        size_t n;

        *ret = NULL;
        *ret_n = 0;
        if (!json_object_object_get_ex(params, "nodes", &v) || json_object_is_type(v, json_type_null))
                return 1; /* the whole job */
        if (!json_object_is_type(v, json_type_array))
                return methods_reply_invalid_parameter(call, "nodes"), 0;
        n = json_object_array_length(v);
        idx = calloc(MAX(n, (size_t) 1), sizeof(uint32_t));
        if (!idx)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++) {
                json_object *e = json_object_array_get_idx(v, k);
                ssize_t i;

                if (!json_object_is_type(e, json_type_string))
                        return methods_reply_invalid_parameter(call, "nodes"), 0;
                i = jobspec_find_node(j->spec, json_object_get_string(e));
                if (i < 0) {
                        char id[24];

                        snprintf(id, sizeof(id), "%" PRIu64, j->id);
                        return methods_reply_with_id(call, ORCH_ERROR_NO_SUCH_NODE, id,
                                                     json_object_get_string(e)),
                               0;
                }
                idx[k] = (uint32_t) i;
        }
        *ret = TAKE_PTR(idx);
        *ret_n = n;
        return 1;
}

static int method_cancel(ControlCall *call, json_object *params, void *userdata) {
        _cleanup_free_ uint32_t *nodes = NULL;
        Job *j = methods_lookup_job(userdata, call, params);
        size_t n;
        int r;

        if (!j)
                return 0;
        r = methods_parse_nodes(call, j, params, &nodes, &n);
        if (r <= 0)
                return r;
        if (nodes)
                log_event(LOG_NOTICE, CONTROL_EV(call, j->id, "cancel"),
                          "uid %u cancelled %zu node(s) of job %" PRIu64 ".",
                          (unsigned) control_call_uid(call), n, j->id);
        else
                log_event(LOG_NOTICE, CONTROL_EV(call, j->id, "cancel"), "uid %u cancelled job %" PRIu64 ".",
                          (unsigned) control_call_uid(call), j->id);
        r = job_cancel(j, nodes, n);
        if (r < 0)
                return r;
        return methods_reply_job_durable(userdata, call, j, NULL); /* "cancelled" means recorded */
}

static bool valid_submit_name(const char *n) {
        return !isempty(n) && strlen(n) <= NAME_MAX && !strchr(n, '/') && n[0] != '.';
}

int methods_reply_refused(Manager *m, ControlCall *call, int r) {
        const UsageDenial *d = &m->last_denial;
        uid_t uid = control_call_uid(call);
        bool retry = streq(control_call_method(call), ORCH_METHOD_RETRY);
        json_object *p = json_object_new_object();

        if (!p)
                return -ENOMEM;
        if (r == -ENOSPC) {
                log_event(LOG_NOTICE,
                          LOG_EV(.message_id = ORCH_MESSAGE_CONTROL, .action = "submit",
                                 .reason = "spool-full", .has_uid = true, .uid = uid),
                          "uid %u was refused a submission: %s.", (unsigned) uid,
                          m->read_only.on ? "orchd cannot write to the spool (read-only, see Stats)" :
                                            "the spool is below MinFreeSpace=");
                return control_call_error(call, ORCH_ERROR_SPOOL_FULL, p);
        }
        json_object_object_add(p, "limit", json_object_new_string(usage_limit_to_string(d->limit)));
        json_object_object_add(p, "current",
                               json_object_new_int64((int64_t) MIN(d->current, (uint64_t) INT64_MAX)));
        json_object_object_add(p, "max", json_object_new_int64((int64_t) MIN(d->max, (uint64_t) INT64_MAX)));
        log_event(LOG_NOTICE,
                  LOG_EV(.message_id = ORCH_MESSAGE_CONTROL, .action = retry ? "retry" : "submit",
                         .reason = "limit", .has_uid = true, .uid = uid),
                  "uid %u was refused a %s: the owner is at %s=%" PRIu64 " (now %" PRIu64 ").", (unsigned) uid,
                  retry ? "retry" : "submission", usage_limit_to_string(d->limit), d->max, d->current);
        return control_call_error(call, ORCH_ERROR_LIMIT_EXCEEDED, p);
}

/* A submission on its way through the spool's reader: what its answer needs. */
typedef struct Submission {
        Manager *manager;
        ControlCall *call;
        char *name;
} Submission;

static void submission_free(void *p) {
        Submission *sub = p;

        control_call_unref(sub->call);
        free(sub->name);
        free(sub);
}

static int submission_reply(Submission *sub, int r, uint64_t id, const JobErrors *errors) {
        ControlCall *call = sub->call;
        json_object *p;
        char ids[24];

        if (r == -EINVAL)
                return control_call_error(call, ORCH_ERROR_INVALID_JOB,
                                          jobspec_errors_to_json(errors, sub->name));
        if (r == -EDQUOT || r == -ENOSPC)
                return methods_reply_refused(sub->manager, call, r);
        if (r < 0)
                return r;
        snprintf(ids, sizeof(ids), "%" PRIu64, id);
        log_event(LOG_NOTICE, CONTROL_EV(call, id, "submit"), "uid %u submitted '%s' as job %s.",
                  (unsigned) control_call_uid(call), sub->name, ids);
        p = json_object_new_object();
        if (!p)
                return -ENOMEM;
        json_object_object_add(p, "id", json_object_new_string(ids));
        /* "accepted" means durable */
        return methods_reply_job_durable(sub->manager, call, manager_find_job(sub->manager, id), p);
}

static void submission_done(int r, uint64_t id, const JobErrors *errors, void *userdata) {
        Submission *sub = userdata;
        json_object *p;

        r = submission_reply(sub, r, id, errors);
        if (r < 0) { /* as conn_dispatch answers a failed method */
                log_warning_errno(r, "Control method %s failed: %m", control_call_method(sub->call));
                p = json_object_new_object();
                if (p)
                        json_object_object_add(p, "errno",
                                               json_object_new_string(strerrorname_np(-r) ?: "EIO"));
                (void) control_call_error(sub->call, ORCH_ERROR_INTERNAL, p);
        }
}

static int method_submit(ControlCall *call, json_object *params, void *userdata) {
        _cleanup_free_ char *why = NULL;
        Manager *m = userdata;
        uid_t uid = control_call_uid(call);
        json_object *name, *job;
        Submission *sub;
        int r;

        if (!json_object_object_get_ex(params, "name", &name) ||
            !json_object_is_type(name, json_type_string) || !valid_submit_name(json_object_get_string(name)))
                return methods_reply_invalid_parameter(call, "name");
        if (!json_object_object_get_ex(params, "job", &job) || !json_object_is_type(job, json_type_string))
                return methods_reply_invalid_parameter(call, "job");
        if (methods_refuse_while_loading(m, call)) /* the caps and keys need every job */
                return 0;
        /* The caller is who the job runs as (SPEC §8): the same rules as for the owner of a dropped file. */
        r = manager_may_run(m, uid, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0 && !why) /* the account lookup failed: no answer, so no refusal either */
                return log_warning_errno(r, "Cannot look up the account of uid %u for a submission: %m",
                                         (unsigned) uid);
        if (r < 0) {
                log_event(LOG_NOTICE,
                          LOG_EV(.message_id = ORCH_MESSAGE_CONTROL, .action = "submit",
                                 .reason = "permission-denied", .has_uid = true, .uid = uid),
                          "uid %u was refused a submission: %s%s.", (unsigned) uid,
                          r == -EKEYREJECTED ? "" : "the job ", why);
                return methods_reply_permission_denied(call, r == -EKEYREJECTED ? why : NULL);
        }
        /* Parsed off the loop; answered from submission_done (the call waits, as Wait does). */
        sub = calloc(1, sizeof(Submission));
        if (!sub)
                return -ENOMEM;
        *sub = (Submission){ .manager = m, .call = control_call_ref(call) };
        sub->name = strdup(json_object_get_string(name));
        if (!sub->name) {
                submission_free(sub);
                return -ENOMEM;
        }
        return spool_submit(m->spool, sub->name, json_object_get_string(job),
                            (size_t) json_object_get_string_len(job), uid, control_call_gid(call),
                            submission_done, sub, submission_free);
}

static int add_int(json_object *o, const char *key, uint64_t v) {
        return json_object_object_add(o, key, json_object_new_int64((int64_t) MIN(v, (uint64_t) INT64_MAX)));
}

/* Counters only, no job details: any local user may read them. */
static json_object *stats_counts(Manager *m) {
        size_t jobs[_JOB_STATE_MAX] = {}, nodes[_NODE_STATE_MAX] = {};
        json_object *p = json_object_new_object(), *j = json_object_new_object(),
                    *n = json_object_new_object();

        if (!p || !j || !n) {
                json_object_put(p), json_object_put(j), json_object_put(n);
                return NULL;
        }
        for (size_t k = 0; k < m->n_jobs; k++)
                jobs[m->jobs[k]->run->state]++;
        for (size_t k = 0; k < m->n_active; k++) {
                size_t c[_NODE_STATE_MAX];

                job_run_count(m->active[k]->run, c);
                for (int st = 0; st < _NODE_STATE_MAX; st++)
                        nodes[st] += c[st];
        }
        for (int st = 0; st < _JOB_STATE_MAX; st++)
                add_int(j, job_state_to_string(st), jobs[st]);
        for (int st = NODE_PENDING; st <= NODE_RETRY_WAIT; st++)
                add_int(n, node_state_to_string(st), nodes[st]);
        json_object_object_add(p, "jobs", j);
        json_object_object_add(p, "nodes", n);
        return p;
}

static int method_stats(ControlCall *call, json_object *params, void *userdata) {
        Manager *m = userdata;
        uint64_t accepted, rejected, batches, writes, usec;
        const char *reason;
        char why[256];
        json_object *p = stats_counts(m), *intake = json_object_new_object(),
                    *journal = json_object_new_object();

        if (!p || !intake || !journal) {
                json_object_put(p), json_object_put(intake), json_object_put(journal);
                return -ENOMEM;
        }
        spool_stats(m->spool, &accepted, &rejected);
        committer_stats(m->committer, &batches, &writes, &usec);
        add_int(p, "spawned", m->n_spawned);
        add_int(p, "uptime_ms", (now_usec(CLOCK_MONOTONIC) - m->started_at_usec) / USEC_PER_MSEC);
        add_int(intake, "accepted", accepted);
        add_int(intake, "rejected", rejected);
        add_int(journal, "commits", batches);
        add_int(journal, "files", writes);
        add_int(journal, "write_us", usec);
        json_object_object_add(p, "intake", intake);
        json_object_object_add(p, "journal", journal);
        reason = readonly_reason(m, why, sizeof(why));
        json_object_object_add(p, "read_only", reason ? json_object_new_string(reason) : NULL);
        if (manager_loading(m) > 0) /* the counts are of the jobs loaded so far */
                add_int(p, "loading", manager_loading(m));
        return control_call_reply(call, p);
}

static int method_graph(ControlCall *call, json_object *params, void *userdata) {
        _cleanup_free_ char *dot = NULL;
        Job *j = methods_lookup_job(userdata, call, params);
        json_object *p;
        int r;

        if (!j)
                return 0;
        r = graph_dot(j->spec, j->run, &dot);
        if (r < 0)
                return r;
        p = json_object_new_object();
        if (!p || json_object_object_add(p, "dot", json_object_new_string(dot)) < 0) {
                json_object_put(p);
                return -ENOMEM;
        }
        return methods_reply_view(userdata, call, j, p);
}

static int method_pause(ControlCall *call, json_object *params, void *userdata) {
        Job *j = methods_lookup_job(userdata, call, params);

        if (!j)
                return 0;
        if (job_pause(j) > 0)
                log_event(LOG_NOTICE, CONTROL_EV(call, j->id, "pause"), "uid %u paused job %" PRIu64 ".",
                          (unsigned) control_call_uid(call), j->id);
        return methods_reply_job_durable(userdata, call, j, NULL);
}

static int method_resume(ControlCall *call, json_object *params, void *userdata) {
        Job *j = methods_lookup_job(userdata, call, params);

        if (!j)
                return 0;
        if (job_resume(j) > 0)
                log_event(LOG_NOTICE, CONTROL_EV(call, j->id, "resume"), "uid %u resumed job %" PRIu64 ".",
                          (unsigned) control_call_uid(call), j->id);
        return methods_reply_job_durable(userdata, call, j, NULL);
}

static int list_filter(ControlCall *call, json_object *params, bool *ret_all, int *ret_state) {
        json_object *v;

        *ret_all = false;
        *ret_state = -1;
        if (json_object_object_get_ex(params, "all", &v) && !json_object_is_type(v, json_type_null)) {
                if (!json_object_is_type(v, json_type_boolean))
                        return methods_reply_invalid_parameter(call, "all"), 0;
                *ret_all = json_object_get_boolean(v);
        }
        if (json_object_object_get_ex(params, "state", &v) && !json_object_is_type(v, json_type_null)) {
                if (!json_object_is_type(v, json_type_string) ||
                    job_state_from_string(json_object_get_string(v)) < 0)
                        return methods_reply_invalid_parameter(call, "state"), 0;
                *ret_state = job_state_from_string(json_object_get_string(v));
        }
        return 1;
}

static int method_list(ControlCall *call, json_object *params, void *userdata) {
        Manager *m = userdata;
        json_object *jobs, *p;
        size_t finished_seen = 0;
        int state, r, is_admin = -1;
        bool all;

        r = list_filter(call, params, &all, &state);
        if (r <= 0)
                return r;
        jobs = json_object_new_array();
        if (!jobs)
                return -ENOMEM;
        /* Newest first while selecting (so "the last few finished" is cheap), then print oldest first. */
        for (size_t k = m->n_jobs; k > 0; k--) {
                const Job *j = m->jobs[k - 1];
                json_object *o;

                if (!may_access(m, call, j, &is_admin))
                        continue;
                if (state >= 0 && j->run->state != state)
                        continue;
                if (state < 0 && !all && job_is_finished(j) && finished_seen++ >= LIST_RECENT_FINISHED)
                        continue;
                o = protocol_job_to_json(j->spec, j->run, false);
                if (!o || json_object_array_add(jobs, o) < 0) {
                        json_object_put(o);
                        json_object_put(jobs);
                        return -ENOMEM;
                }
        }
        for (size_t a = 0, n = json_object_array_length(jobs); n > 1 && a < n / 2; a++) {
                json_object *x = json_object_get(json_object_array_get_idx(jobs, a));
                json_object *y = json_object_get(json_object_array_get_idx(jobs, n - 1 - a));

                json_object_array_put_idx(jobs, a, y);
                json_object_array_put_idx(jobs, n - 1 - a, x);
        }
        p = json_object_new_object();
        if (!p) {
                json_object_put(jobs);
                return -ENOMEM;
        }
        json_object_object_add(p, "jobs", jobs);
        if (manager_loading(m) > 0) /* the jobs not loaded yet are missing */
                add_int(p, "loading", manager_loading(m));
        return methods_reply_view(m, call, NULL, p);
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

int methods_attach(Manager *m) {
        int r;

        create_parent_dir(m->config.socket_path);
        r = control_new(m->event, m->config.socket_path, methods, m, &m->control);
        if (r < 0)
                return log_error_errno(r, "Failed to listen on %s: %m", m->config.socket_path);
        control_set_admin_check(m->control, peer_is_admin, m);
        return 0;
}
