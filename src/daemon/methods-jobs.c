/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * methods-jobs.c — the handlers that answer about or act on jobs: List, Status,
 * Wait, Graph, Stats, Cancel, Pause, Resume and Submit (its answer comes back
 * from the spool's reader: Submission). Retry, Logs, Rejected, Remove and Gc
 * live in methods-NAME.c, Watch in watch.c.
 */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroupfmt.h"
#include "access.h"
#include "graph.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "methods-internal.h"
#include "methods.h"
#include "protocol.h"

/* How many finished jobs a plain "list" shows besides the unfinished ones. */
#define LIST_RECENT_FINISHED 10

int method_status(ControlCall *call, json_object *params, void *userdata) {
        Job *j = methods_lookup_job(userdata, call, params);

        return j ? methods_reply_status(userdata, call, j) : 0;
}

int method_wait(ControlCall *call, json_object *params, void *userdata) {
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

int method_cancel(ControlCall *call, json_object *params, void *userdata) {
        _cleanup_free_ uint32_t *nodes = NULL;
        Job *j = methods_lookup_job(userdata, call, params);
        bool finished;
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
        finished = job_is_finished(j); /* then cancel changes nothing, and nothing is recorded */
        r = job_cancel(j, nodes, n);
        if (r < 0)
                return r;
        r = finished ? 0 : methods_record_action(call, j, HISTORY_CANCEL, nodes, n);
        if (r < 0)
                return r;
        return methods_reply_job_durable(userdata, call, j, NULL); /* "cancelled" means recorded */
}

static bool valid_submit_name(const char *n) {
        return !isempty(n) && strlen(n) <= NAME_MAX && !strchr(n, '/') && n[0] != '.';
}

int methods_reply_refused(Methods *ms, ControlCall *call, int r) {
        Manager *m = ms->manager;

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
                  "uid %u was refused a %s: the owner is at %s=%" PRIu64 " (now %" PRIu64 ").",
                  (unsigned) uid, retry ? "retry" : "submission", usage_limit_to_string(d->limit), d->max,
                  d->current);
        return control_call_error(call, ORCH_ERROR_LIMIT_EXCEEDED, p);
}

/* A submission on its way through the spool's reader: what its answer needs. */
typedef struct Submission {
        Methods *methods;
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
                return methods_reply_refused(sub->methods, call, r);
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
        return methods_reply_job_durable(sub->methods, call, manager_find_job(sub->methods->manager, id), p);
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

int method_submit(ControlCall *call, json_object *params, void *userdata) {
        _cleanup_free_ char *why = NULL;
        Methods *ms = userdata;
        Manager *m = ms->manager;
        uid_t uid = control_call_uid(call);
        json_object *name, *job;
        Submission *sub;
        int r;

        if (!json_object_object_get_ex(params, "name", &name) ||
            !json_object_is_type(name, json_type_string) || !valid_submit_name(json_object_get_string(name)))
                return methods_reply_invalid_parameter(call, "name");
        if (!json_object_object_get_ex(params, "job", &job) || !json_object_is_type(job, json_type_string))
                return methods_reply_invalid_parameter(call, "job");
        if (methods_refuse_while_loading(ms, call)) /* the caps and keys need every job */
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
        *sub = (Submission){ .methods = ms, .call = control_call_ref(call) };
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

int method_stats(ControlCall *call, json_object *params, void *userdata) {
        Methods *ms = userdata;
        Manager *m = ms->manager;
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
        reason = readonly_reason(&m->read_only, why, sizeof(why));
        json_object_object_add(p, "read_only", reason ? json_object_new_string(reason) : NULL);
        json_object_object_add(p, "isolation", json_object_new_string(cgroups_isolation(m->cgroups)));
        if (cgroups_enabled(m->cgroups)) {
                json_object *a = json_object_new_object();

                if (!a || json_object_object_add(p, "accounting", a) < 0) {
                        json_object_put(a), json_object_put(p);
                        return -ENOMEM;
                }
                add_int(a, "attempts", m->acct_attempts);
                add_int(a, "cpu_usec", m->acct_cpu_usec);
                add_int(a, "io_read_bytes", m->acct_io_read_bytes);
                add_int(a, "io_write_bytes", m->acct_io_write_bytes);
        }
        if (cgroups_enabled(m->cgroups)) {
                char names[CGROUPFMT_NAMES_MAX];

                json_object_object_add(p, "cgroup", json_object_new_string(cgroups_base(m->cgroups)));
                json_object_object_add(p, "controllers",
                                       json_object_new_string(cgroupfmt_controller_names(
                                               cgroups_controllers(m->cgroups), names)));
        }
        if (manager_loading(m) > 0) /* the counts are of the jobs loaded so far */
                add_int(p, "loading", manager_loading(m));
        return control_call_reply(call, p);
}

int method_graph(ControlCall *call, json_object *params, void *userdata) {
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

/* Pause's freeze parameter: 1 (freeze), 0 (absent or false), or -1 after an error reply. */
static int pause_freeze_param(ControlCall *call, json_object *params) {
        json_object *v;

        if (!json_object_object_get_ex(params, "freeze", &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_boolean))
                return methods_reply_invalid_parameter(call, "freeze"), -1;
        return json_object_get_boolean(v) ? 1 : 0;
}

static int reply_cannot_freeze(ControlCall *call, const Job *j) {
        json_object *p = json_object_new_object();
        char id[24];

        snprintf(id, sizeof(id), "%" PRIu64, j->id);
        if (p) {
                json_object_object_add(p, "id", json_object_new_string(id));
                json_object_object_add(
                        p, "reason",
                        json_object_new_string("orchd runs nodes in process groups, not cgroups "
                                               "(Isolation=pgroup, or no delegated cgroup2)"));
        }
        return control_call_error(call, ORCH_ERROR_CANNOT_FREEZE, p);
}

int method_pause(ControlCall *call, json_object *params, void *userdata) {
        Methods *ms = userdata;
        Job *j = methods_lookup_job(userdata, call, params);
        int freeze;

        if (!j)
                return 0;
        freeze = pause_freeze_param(call, params);
        if (freeze < 0)
                return 0;
        if (freeze && !cgroups_enabled(ms->manager->cgroups))
                return reply_cannot_freeze(call, j);
        if (freeze && !job_is_finished(j))
                (void) job_freeze(j, true);
        if (job_pause(j) > 0) {
                log_event(LOG_NOTICE, CONTROL_EV(call, j->id, "pause"), "uid %u paused job %" PRIu64 ".",
                          (unsigned) control_call_uid(call), j->id);
                if (methods_record_action(call, j, HISTORY_PAUSE, NULL, 0) < 0)
                        return -ENOMEM;
        }
        return methods_reply_job_durable(userdata, call, j, NULL);
}

int method_resume(ControlCall *call, json_object *params, void *userdata) {
        Job *j = methods_lookup_job(userdata, call, params);

        if (!j)
                return 0;
        if (job_resume(j) > 0) {
                log_event(LOG_NOTICE, CONTROL_EV(call, j->id, "resume"), "uid %u resumed job %" PRIu64 ".",
                          (unsigned) control_call_uid(call), j->id);
                if (methods_record_action(call, j, HISTORY_RESUME, NULL, 0) < 0)
                        return -ENOMEM;
        }
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

int method_list(ControlCall *call, json_object *params, void *userdata) {
        Methods *ms = userdata;
        Manager *m = ms->manager;
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

                if (!methods_may_access(m, call, j, &is_admin))
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
        return methods_reply_view(ms, call, NULL, p);
}
