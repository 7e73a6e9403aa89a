/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * job-stop.c — stopping a job's nodes, and the callers waiting for its end.
 *
 * Owns: cancel (of the job or of nodes), fail_fast, the job timeout's stop
 * (and which pending nodes each leaves to run: stop_keeps()),
 * pause/resume, the shutdown stop (nodes end as interrupted), the fail-stop
 * kill, and the Wait callers (answered once the job's end is durable).
 * Invariants: a pending node that is stopped ends at once (the DAG itself
 * finished it, so it is not handed to the DAG again); a running task gets
 * TERM then KILL after its grace and ends as what stopped it, once;
 * a stop never starts anything.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "job-internal.h"
#include "log.h"
#include "macro.h"
#include "statusenc.h"

typedef struct StopCtx {
        Job *job;
        NodeState to;
        Reason reason;
        size_t n;
} StopCtx;

static void stop_pending_cb(void *userdata, uint32_t i) {
        StopCtx *ctx = userdata;

        node_end(ctx->job, i, ctx->to, ctx->reason, false);
        ctx->n++;
}

/* A kept node whose dependencies all ended through the stop, and whose rule is not met. */
static void stop_rule_skip_cb(void *userdata, uint32_t i) {
        StopCtx *ctx = userdata;

        node_skipped_cb(ctx->job, i);
}

/* Which pending nodes a stop leaves to run once their dependencies end: cleanup ("always") nodes run
 * after fail_fast, a job timeout and a first cancel of the job, as finally blocks, GitHub Actions'
 * if: always() steps and DAGMan's FINAL node do; failure handlers run after fail_fast too. A second
 * cancel of the job stops everything. */
static unsigned stop_keeps(const Job *j, StopReason why) {
        switch (why) {
        case STOP_FAIL_FAST:
                return 1u << TRIGGER_ALWAYS | 1u << TRIGGER_FAILURE;
        case STOP_JOB_TIMEOUT:
        case STOP_ABORT: /* DAGMan runs its FINAL node after ABORT-DAG-ON too */
                return 1u << TRIGGER_ALWAYS;
        case STOP_CANCEL:
                return j->cancel_forced ? 0 : 1u << TRIGGER_ALWAYS;
        default:
                return 0;
        }
}

static void remove_from(uint32_t *list, size_t *n, uint32_t node) {
        for (size_t k = 0; k < *n; k++)
                if (list[k] == node) {
                        memmove(list + k, list + k + 1, (--*n - k) * sizeof(uint32_t));
                        return;
                }
}

bool drop_await_spawn(Job *j, uint32_t node) {
        for (size_t k = 0; k < j->n_await_spawn; k++)
                if (j->await_spawn[k].node == node) {
                        memmove(j->await_spawn + k, j->await_spawn + k + 1,
                                (--j->n_await_spawn - k) * sizeof(struct JobPending));
                        return true;
                }
        return false;
}

/* Stop one started node: a running task gets TERM (then KILL after its grace); a node in retry_wait or
 * still waiting to be spawned ends at once. */
static void stop_node(Job *j, uint32_t i, StopReason why) {
        NodeCtl *c = &j->ctl[i];
        NodeRun *n = &j->run->nodes[i];

        if (n->state == NODE_RETRY_WAIT) {
                c->retry_timer = sd_event_source_disable_unref(c->retry_timer);
                remove_from(j->retry_ready, &j->n_retry_ready, i);
                remove_from(j->retry_deferred, &j->n_retry_deferred, i);
                node_end(j, i, NODE_CANCELLED, stop_reason_to_reason(j, why), true);
        } else if (n->state == NODE_RUNNING && !c->task) {
                if (drop_await_spawn(j, i))
                        node_end(j, i, NODE_CANCELLED, stop_reason_to_reason(j, why), true);
        } else if (n->state == NODE_RUNNING && c->stop_reason == STOP_NONE) {
                c->stop_reason = why;
                (void) keeper_task_stop(c->task, j->spec->nodes[i].kill_grace_usec);
        }
}

void job_stop_all(Job *j, StopReason why, NodeState pending_to) {
        StopCtx ctx = { .job = j, .to = pending_to, .reason = stop_reason_to_reason(j, why) };

        if (!j->dag)
                return;
        dag_finish_pending(j->dag, stop_keeps(j, why), stop_pending_cb, stop_rule_skip_cb, &ctx);
        if (ctx.n > 0)
                log_info("Job %" PRIu64 ": %zu pending node(s) %s.", j->id, ctx.n,
                         node_state_to_string(pending_to));
        for (uint32_t i = 0; i < j->spec->n_nodes; i++)
                stop_node(j, i, why);
        j->n_retry_ready = 0;
        j->n_retry_deferred = 0;
        job_check_finished(j);
}

void job_fire_fail_fast(Job *j) {
        if (j->fail_fast_fired)
                return;
        j->fail_fast_fired = true;
        log_notice("Job %" PRIu64 ": a node failed and fail_fast is set, stopping the rest.", j->id);
        job_stop_all(j, STOP_FAIL_FAST, NODE_SKIPPED);
}

void job_abort(Job *j, uint32_t i, int exit_code) {
        bool first = !j->aborted;

        if (first) { /* before node_end: a failure that aborts does not fire fail_fast */
                j->aborted = true;
                j->abort_node = i;
                j->abort_code = (uint8_t) exit_code;
        }
        node_end(j, i, exit_code == 0 ? NODE_SUCCEEDED : NODE_FAILED,
                 exit_code == 0 ? (Reason){} : (Reason){ .kind = REASON_EXIT, .arg = exit_code }, true);
        if (!first)
                return;
        log_notice(
                "Job %" PRIu64 ": node %s exited %d, one of its abort_on_exit codes: ending the job (%s).",
                j->id, node_id(j, i), exit_code, job_state_to_string(j->spec->nodes[i].abort_on_exit.state));
        job_stop_all(j, STOP_ABORT, NODE_SKIPPED);
}

void job_fire_timeout(Job *j) {
        if (job_is_finished(j))
                return;
        j->timed_out = true;
        job_stop_all(j, STOP_JOB_TIMEOUT, NODE_CANCELLED);
}

int job_cancel(Job *j, const uint32_t *nodes, size_t n_nodes) {
        if (job_is_finished(j))
                return 0;
        if (!nodes) {
                if (!j->run->cancel_requested) {
                        j->run->cancel_requested = true;
                        mark_job_dirty(j);
                } else
                        j->cancel_forced = true; /* a second cancel: the cleanup nodes too */
                job_stop_all(j, STOP_CANCEL, NODE_CANCELLED);
                return 0;
        }
        for (size_t k = 0; k < n_nodes; k++) {
                uint32_t i = nodes[k];

                if (j->run->nodes[i].state == NODE_PENDING)
                        node_end(j, i, NODE_CANCELLED, (Reason){ .kind = REASON_CANCELLED }, true);
                else
                        stop_node(j, i, STOP_CANCEL);
        }
        return 0;
}

int job_pause(Job *j) {
        if (job_is_finished(j) || j->run->state == JOB_PAUSED)
                return 0;
        job_run_set_state(j->run, JOB_PAUSED);
        mark_job_dirty(j);
        log_info("Job %" PRIu64 " paused; %u running node(s) go on.", j->id, j->n_running);
        return 1;
}

int job_freeze(Job *j, bool freeze) {
        int n = 0;

        if (!cgroups_enabled(j->host->cgroups))
                return -EOPNOTSUPP;
        for (uint32_t i = 0; j->ctl && i < j->spec->n_nodes; i++) {
                NodeRun *node = &j->run->nodes[i];

                if (!j->ctl[i].task || node->frozen == freeze)
                        continue;
                if (keeper_task_freeze(j->ctl[i].task, freeze) < 0)
                        continue;
                node->frozen = freeze;
                mark_node_dirty(j, i);
                n++;
        }
        if (n > 0)
                log_info("Job %" PRIu64 ": %s %d running node(s).", j->id, freeze ? "froze" : "thawed", n);
        return n;
}

int job_resume(Job *j) {
        if (cgroups_enabled(j->host->cgroups))
                (void) job_freeze(j, false);
        if (j->run->state != JOB_PAUSED)
                return 0;
        job_run_set_state(j->run, j->run->paused_from);
        mark_job_dirty(j);
        schedule_soon(j);
        log_info("Job %" PRIu64 " resumed.", j->id);
        return 1;
}

void job_shutdown(Job *j) {
        if (!j->ctl)
                return;
        for (uint32_t i = 0; i < j->spec->n_nodes; i++) {
                NodeCtl *c = &j->ctl[i];

                if (j->run->nodes[i].state != NODE_RUNNING)
                        continue;
                if (!c->task) {
                        /* Never spawned (waiting for its start to be durable): back to pending, uncounted.
                         */
                        if (drop_await_spawn(j, i)) {
                                slot_release(j);
                                node_run_requeue_interrupted(&j->run->nodes[i]);
                                mark_node_dirty(j, i);
                        }
                } else if (c->stop_reason == STOP_NONE) {
                        c->stop_reason = STOP_SHUTDOWN;
                        (void) keeper_task_stop(c->task, j->spec->nodes[i].kill_grace_usec);
                }
                /* Already being stopped (cancel, fail_fast, job timeout): it ends as that, not interrupted.
                 */
        }
}

void job_detach(Job *j) {
        job_undefer_start(j); /* the last commit holds every start */
        if (!j->ctl)
                return;
        for (uint32_t i = 0; i < j->spec->n_nodes; i++) {
                NodeCtl *c = &j->ctl[i];

                if (j->run->nodes[i].state != NODE_RUNNING)
                        continue;
                if (c->task)
                        c->task = keeper_task_detach(c->task); /* it runs on, recorded as running */
                else if (drop_await_spawn(j, i)) {
                        /* Never spawned (waiting for its start to be durable): back to pending, uncounted.
                         */
                        slot_release(j);
                        node_run_requeue_interrupted(&j->run->nodes[i]);
                        mark_node_dirty(j, i);
                }
        }
}

void job_kill_all(Job *j) {
        if (!j->ctl)
                return;
        for (uint32_t i = 0; i < j->spec->n_nodes; i++)
                if (j->ctl[i].task)
                        keeper_task_kill(j->ctl[i].task);
}

/* ---- Wait callers ------------------------------------------------------------------------------ */

json_object *job_status_reply(const Job *j) {
        return statusenc_job_reply(j->spec, j->run); /* no tree of the whole job: see statusenc.h */
}

void job_answer_waiters(Job *j) {
        for (size_t k = 0; k < j->n_waiters; k++) {
                json_object *p = job_status_reply(j);

                if (p)
                        (void) control_call_reply(j->waiters[k], p);
                else
                        (void) control_call_error(j->waiters[k], "io.orchd.Manager.InternalError", NULL);
                control_call_unref(j->waiters[k]);
        }
        j->waiters = mfree(j->waiters);
        j->n_waiters = 0;
}

/* A Wait caller hung up: forget it now, not when the job ends (which may be never for a paused job), so
 * clients that come and go cannot pile up calls. */
static void job_waiter_gone(ControlCall *call, void *userdata) {
        Job *j = userdata;

        for (size_t k = 0; k < j->n_waiters; k++)
                if (j->waiters[k] == call) {
                        memmove(j->waiters + k, j->waiters + k + 1,
                                (--j->n_waiters - k) * sizeof(ControlCall *));
                        log_debug("A Wait caller of job %" PRIu64 " went away; %zu left.", j->id,
                                  j->n_waiters);
                        control_call_unref(call);
                        return;
                }
}

int job_add_waiter(Job *j, ControlCall *call) {
        ControlCall **w = reallocarray(j->waiters, j->n_waiters + 1, sizeof(ControlCall *));

        if (!w)
                return -ENOMEM;
        j->waiters = w;
        j->waiters[j->n_waiters++] = control_call_ref(call);
        control_call_set_disconnect_callback(call, job_waiter_gone, j);
        return 0;
}
