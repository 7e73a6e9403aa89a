/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the files of the run-time Job share and nobody else sees: per-node
 * control, the durability barrier marker, and the steps one concern takes
 * on behalf of another. The files:
 *   job.c          lifecycle and node state transitions (ends, retries, timers, the job's end)
 *   job-spawn.c    starting nodes: slots granted, the starts file, spawning tasks, the owner's account
 *   job-stop.c     stopping: cancel, fail_fast, job timeout, pause, shutdown; Wait callers
 *   job-journal.c  records and durability: flush, barriers released by durable commits, observers
 *   job-recover.c  restart rules (on_interrupt, orphans of a dead orchd) and manual retry
 */

#include <stdlib.h>

#include "job.h"
#include "keeper-client.h"
#include "supervise.h"
#include "time-util.h"

#define BARRIER_UNFLUSHED UINT64_MAX
#define STARTS_FILE "starts"
#define ENDS_FILE "ends"
/* How long before starting again after a start failed for a cause that may pass by itself: a node whose
 * spawn ran out of fds, a job whose logs directory could not be opened (fds, I/O). */
#define START_RETRY_DELAY_USEC USEC_PER_SEC

struct NodeCtl {
        Job *job;
        uint32_t index;
        uint8_t stop_reason; /* StopReason sent to the running task */
        KeeperTask *task;    /* the running attempt, in the owner's keeper (keeper-client.h) */
        uint16_t logs_taken; /* attempts this start skipped: their logs existed (node_skip_attempt()) */
        sd_event_source *retry_timer;
        /* Entered retry_wait after the job's flushes-th flush: its delay may end before any flush recorded
         * the wait (the committer busy), and then the retry waits for the next one, so that the journal
         * and the history hold the backoff. A count, not the generation: flushes within one open batch
         * share a generation, and the one that records the wait can be the second of them. */
        uint64_t retry_wait_flushes;
        bool retry_wait_unbuilt;
};

/* Node i's control, to be handed out as a callback's userdata. j->ctl is left as calloc() made it until
 * then: for 100,000 nodes, filling it in at once cost the loop about 10 ms of page faults. */
static inline NodeCtl *node_ctl(Job *j, uint32_t i) {
        j->ctl[i].job = j;
        j->ctl[i].index = i;
        return &j->ctl[i];
}

static inline const char *node_id(const Job *j, uint32_t i) {
        return j->spec->nodes[i].id;
}

/* Where node i runs: its cwd, the job's, the owner's home, or "/". */
static inline const char *node_cwd(const Job *j, const NodeSpec *ns) {
        return ns->cwd ?: j->spec->cwd ?: j->home ?: "/";
}

/* How a node's end counts for its dependents' trigger rules: a cancelled node as a failure (its work
 * was not done), a skipped one as neither (or per its dependencies, which the DAG knows). */
static inline DagOutcome outcome_of(NodeState s) {
        return s == NODE_SUCCEEDED                      ? DAG_SUCCEEDED :
                s == NODE_FAILED || s == NODE_CANCELLED ? DAG_FAILED :
                                                          DAG_OTHER;
}

/* Whether node i's end fails the job (unless allow_failure): it failed, or it alone was cancelled (by
 * name): the job then ends by what its other nodes do, that node counting as a failure. Nodes cancelled
 * by a cancel of the whole job, fail_fast or the job timeout do not count: those decide the job's end. */
static inline bool node_counts_failed(const Job *j, uint32_t i) {
        const NodeRun *n = &j->run->nodes[i];

        return n->state == NODE_FAILED ||
                (n->state == NODE_CANCELLED && n->reason.kind == REASON_CANCELLED &&
                 !j->run->cancel_requested);
}

static inline Reason stop_reason_to_reason(const Job *j, StopReason s) {
        switch (s) {
        case STOP_FAIL_FAST:
                return (Reason){ .kind = REASON_FAIL_FAST };
        case STOP_JOB_TIMEOUT:
                return (Reason){ .kind = REASON_JOB_TIMEOUT };
        case STOP_ABORT:
                return (Reason){ .kind = REASON_ABORT, .arg = j->abort_code };
        default:
                return (Reason){ .kind = REASON_CANCELLED };
        }
}

static inline void schedule_soon(Job *j) {
        j->host->ops->schedule_soon(j->host->userdata);
}

static inline int open_job_dir(Job *j) {
        return j->host->ops->open_job_dir(j->host->userdata, j->id);
}

/* ---- job.c ---- */

/* Out of memory while recording state: we can no longer promise durability, so the host fail-stops. */
_noreturn_ void oom_fail_stop(Job *j);
/* Record that node i (or the job's own fields) changed: flushed with the next commit. */
void mark_node_dirty(Job *j, uint32_t i);
/* The retries whose delay ended before a commit recorded their wait: that commit is built now, they go. */
void release_deferred_retries(Job *j);
void mark_job_dirty(Job *j);
/* Record node i's start (begin_attempt(), its pid): it needs no commit of its own; it rides with the job's
 * next urgent change or goes after a short delay (job-journal.c). */
void mark_node_started(Job *j, uint32_t i);
/* Hold the start off the host's dirty list, if nothing urgent is there: arms the delay. */
void job_defer_start(Job *j);
/* A held start goes with the next commit (a reader asks what is durable, the daemon stops). */
void job_undefer_start(Job *j);
/* Append a barrier entry (node, outcome) not yet flushed to one of the job's barrier lists. */
void barrier_push(struct JobPending **list, size_t *n, size_t *cap, Job *j, uint32_t node, uint8_t outcome);
/* Node i takes / gives back a run slot (the host keeps the total). */
void slot_take(Job *j);
void slot_release(Job *j);
/* End node i in state `to`; to_dag: whether the DAG must hear about it (once the end is durable). */
void node_end(Job *j, uint32_t i, NodeState to, Reason reason, bool to_dag);
/* The DAG skipped node i (an upstream failure): dag_skip_cb. */
void node_skipped_cb(void *userdata, uint32_t i);
/* (Re)arm node i's retry timer to fire at retry_at (CLOCK_REALTIME µs), not before. Returns 0 or -errno. */
int arm_retry_timer(Job *j, uint32_t i, uint64_t retry_at);
/* Arm the whole-job timeout if the job has one and has started. */
void arm_job_timeout(Job *j);
/* An attempt of node i failed: retry (retry_wait) or fail per its retry rules. */
void attempt_failed(Job *j, uint32_t i, AttemptOutcome o, Reason reason, int exit_code);
/* Node i did not start (error: -errno, account: the account refusal, EXEC_ACCOUNT_OK if none). */
void node_start_failed(Job *j, uint32_t i, int error, int account);
/* The task of a node ended (task_exit_cb; userdata: its NodeCtl). */
void job_on_task_exit(KeeperTask *t, const TaskResult *result, void *userdata);
/* New output in a running attempt's log (keeper_task_output_cb; userdata: its NodeCtl). */
void job_on_task_output(KeeperTask *t, void *userdata);
/* End the job if every node has ended and none holds a slot. */
void job_check_finished(Job *j);

/* ---- job-spawn.c ---- */

/* Build / drop what only a job being driven needs (env, DAG, per-node control; dropping it releases the
 * job's cgroup directories); spec and run stay. */
int job_build_runtime(Job *j);
void job_release_runtime(Job *j);
/* Close the fds a start opens (the logs directory, the starts and ends files); the next start reopens. */
void job_close_fds(Job *j);
/* The owner's home, credentials and base environment. Returns 0 or -errno. */
int job_build_env(Job *j);
/* Spawn the attempt node i began (begin_attempt()), now or once its start was durable. */
void node_spawn(Job *j, uint32_t i);
/* The keeper found attempt N's log existing (a start lost with a crash): start attempt N+1 instead, and
 * return true, unless too many were skipped. */
bool node_retry_taken_log(Job *j, uint32_t i);
/* Free node i's task (if any) and remove its attempt's cgroup (job-spawn.c); kill: what is left in it is
 * killed first (the attempt's keeper is gone). */
void node_task_release(Job *j, uint32_t i, bool kill);
/* The job has ended and every attempt's end is durable: remove its starts file. */
void starts_remove(Job *j);

/* ---- job-stop.c ---- */

/* Stop every pending (to pending_to) and started node for why; then the job may end. */
void job_stop_all(Job *j, StopReason why, NodeState pending_to);
void job_fire_fail_fast(Job *j);
void job_fire_timeout(Job *j);
/* Node i exited with exit_code, one of its abort_on_exit codes: end it (succeeded for 0, else failed, no
 * retry) and stop the job as fail_fast does (reason abort:N); the job ends in the state the node names. */
void job_abort(Job *j, uint32_t i, int exit_code);
/* Drop node i from the nodes waiting to be spawned. Returns whether it was there. */
bool drop_await_spawn(Job *j, uint32_t node);
/* Answer every Wait caller with the final status. */
void job_answer_waiters(Job *j);

/* ---- job-journal.c ---- */

/* Tell the observers (JobObserverOps). */
void job_notify_output(Job *j, uint32_t node);
void job_notify_end(Job *j);
/* Drop every observer (the job is being freed): each hears detach. */
void job_detach_observers(Job *j);

/* ---- job-recover.c ---- */

/* The daemon stopped while node i ran (it holds a slot, released here): rerun or fail per on_interrupt. */
void node_interrupted(Job *j, uint32_t i);
/* The daemon or node i's keeper (who) died while it ran: node_interrupted(), within MaxInterruptedReruns=.
 */
void node_crash_interrupted(Job *j, uint32_t i, const char *who);
/* Node i's keeper went away before it reported the end of the attempt. If the keeper recorded the end in
 * the job's "ends" file first, that is the end: *res, and false. Otherwise the attempt may run on
 * unsupervised: its process group is killed (its cgroup goes with node_task_release(j, i, true)), so that
 * a rerun never overlaps it, and true: on_interrupt applies. */
bool node_supervisor_lost(Job *j, uint32_t i, TaskResult *res);
/* Apply the restart rules of SPEC §4 to a recovered (or manually retried) job. Returns 0 or -errno. */
int job_recover(Job *j);
