/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * job.c — the run-time Job: its lifecycle and the state transitions of its nodes.
 *
 * Owns: the Job object (construction, activation, free), the change records
 * of every transition (dirty lists, barriers), the slot accounting with the
 * host, node ends (success, failure, skip propagation), retry timers with
 * backoff, the whole-job timeout, and the job's own end.
 * Invariants:
 *   - every state change goes through node_run_set_state()/job_run_set_state(),
 *     which abort on an illegal transition (SPEC §4);
 *   - a node's end reaches the DAG (and so its dependents) only once the
 *     journal record of that end is durable (a barrier with a generation,
 *     released in job-journal.c);
 *   - n_running counts nodes holding a run slot (spawned, or waiting to be),
 *     and the host hears of every change of it (slots_changed).
 * Does not decide which job gets a slot (the host does), and never writes
 * journal files itself: it builds records that the host's committer writes.
 * The other concerns are in job-spawn.c, job-stop.c, job-journal.c and
 * job-recover.c (job-internal.h lists them).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "duration.h"
#include "exec-proto.h"
#include "fsutil.h"
#include "job-internal.h"
#include "jobprep.h"
#include "log.h"
#include "macro.h"
#include "nodeenv.h"
#include "protocol.h"

/* ---- records of changes ----------------------------------------------------------------------- */

static int grow(void **p, size_t *cap, size_t need, size_t size) {
        size_t n;
        void *q;

        if (need <= *cap)
                return 0;
        n = MAX(need, MAX(*cap * 2, (size_t) 8));
        q = reallocarray(*p, n, size);
        if (!q)
                return -ENOMEM;
        *p = q;
        *cap = n;
        return 0;
}

/* Out of memory while recording state means we can no longer promise durability: fail-stop. */
_noreturn_ void oom_fail_stop(Job *j) {
        j->host->ops->fail_stop(j->host->userdata, -ENOMEM, "recording job state");
        abort(); /* the host's fail_stop does not return */
}

static void mark_dirty(Job *j) {
        j->start_deferred = false; /* urgent: whatever start was held goes along */
        if (j->in_dirty_list)
                return;
        j->in_dirty_list = true;
        j->host->ops->mark_dirty(j->host->userdata, j);
}

void mark_node_dirty(Job *j, uint32_t i) {
        if (grow((void **) &j->dirty, &j->cap_dirty, j->n_dirty + 1, sizeof(uint32_t)) < 0)
                oom_fail_stop(j);
        j->dirty[j->n_dirty++] = i;
        mark_dirty(j);
}

void mark_node_started(Job *j, uint32_t i) {
        if (grow((void **) &j->dirty, &j->cap_dirty, j->n_dirty + 1, sizeof(uint32_t)) < 0)
                oom_fail_stop(j);
        j->dirty[j->n_dirty++] = i;
        if (!j->in_dirty_list)
                job_defer_start(j);
}

void job_undefer_start(Job *j) {
        if (j->start_deferred)
                mark_dirty(j);
}

void mark_job_dirty(Job *j) {
        j->job_dirty = true;
        mark_dirty(j);
}

void barrier_push(struct JobPending **list, size_t *n, size_t *cap, Job *j, uint32_t node, uint8_t outcome) {
        if (grow((void **) list, cap, *n + 1, sizeof(struct JobPending)) < 0)
                oom_fail_stop(j);
        (*list)[(*n)++] = (struct JobPending){ .node = node, .outcome = outcome, .gen = BARRIER_UNFLUSHED };
}

/* ---- slots ------------------------------------------------------------------------------------ */

void slot_take(Job *j) {
        j->n_running++;
        j->host->ops->slots_changed(j->host->userdata, j, +1);
}

void slot_release(Job *j) {
        assert(j->n_running > 0);
        j->n_running--;
        j->host->ops->slots_changed(j->host->userdata, j, -1);
        if (j->n_running == 0) {
                /* fds follow running nodes, not jobs: a job whose nodes ended but whose end is not yet
                 * durable (a slow disk) must not keep them. The next start opens them again. */
                job_close_fds(j);
        }
        schedule_soon(j);
}

/* ---- node ends -------------------------------------------------------------------------------- */

/* A node's end reaches the DAG once it is durable (job_on_durable()), so that no dependent starts before
 * that end is on disk: after a crash the node would run again after its dependent. A node without
 * dependents starts nothing: it reaches the DAG at once, so that the end of a job whose last node it is
 * rides in the same commit as the node's (job_on_task_exit()), one commit instead of two. */
static void node_to_dag(Job *j, uint32_t i, uint8_t outcome) {
        size_t n_dependents;
        int r;

        (void) dag_dependents(j->dag, i, &n_dependents);
        if (n_dependents > 0 || !dag_is_started(j->dag)) { /* a recovery's ends wait for its restore */
                barrier_push(&j->pending, &j->n_pending, &j->cap_pending, j, i, outcome);
                return;
        }
        r = dag_complete(j->dag, i, outcome, node_skipped_cb, j);
        if (r < 0 && r != -EALREADY)
                log_error_errno(r, "Job %" PRIu64 ": DAG refused completion of node %s: %m", j->id,
                                node_id(j, i));
}

/* End node i in state `to`. to_dag: whether the DAG must hear about it (false when the DAG itself already
 * finished the node, as dag_finish_pending() does). */
void node_end(Job *j, uint32_t i, NodeState to, Reason reason, bool to_dag) {
        NodeRun *n = &j->run->nodes[i];
        char rbuf[REASON_STRING_MAX];
        NodeState from = n->state;

        node_run_set_state(n, to);
        n->reason = reason;
        n->finished_at = now_realtime_usec();
        n->retry_at = 0;
        if (from == NODE_RUNNING)
                slot_release(j);
        mark_node_dirty(j, i);
        if (to_dag)
                node_to_dag(j, i, outcome_of(to));

        /* Nodes that never ran (skipped, or cancelled while pending) can be 100,000 at once: one line each
         * only at debug level; job_stop_all() logs the count. */
        if (to == NODE_SUCCEEDED)
                log_event(
                        LOG_INFO,
                        LOG_EV(.message_id = ORCH_MESSAGE_NODE_FINISHED, .job = j->id, .node = node_id(j, i),
                               .attempt = n->attempt, .state = node_state_to_string(to)),
                        "Job %" PRIu64 " node %s succeeded (attempt %u).", j->id, node_id(j, i), n->attempt);
        else
                log_event(from == NODE_PENDING ? LOG_DEBUG : LOG_INFO,
                          LOG_EV(.message_id = ORCH_MESSAGE_NODE_FINISHED, .job = j->id,
                                 .node = node_id(j, i), .attempt = n->attempt,
                                 .state = node_state_to_string(to),
                                 .reason = reason_to_string(reason, rbuf, sizeof(rbuf))),
                          "Job %" PRIu64 " node %s %s: %s.", j->id, node_id(j, i), node_state_to_string(to),
                          strna(reason_to_string(reason, rbuf, sizeof(rbuf))));

        if (node_counts_failed(j, i) && !j->spec->nodes[i].allow_failure) {
                if (j->run->reason.kind == REASON_NONE) {
                        j->run->reason = reason; /* the job's reason is its first failure */
                        mark_job_dirty(j);
                }
                if (j->spec->fail_fast && !j->aborted) /* an abort decides the stop itself */
                        job_fire_fail_fast(j);
        }
}

void node_skipped_cb(void *userdata, uint32_t i) {
        Job *j = userdata;

        node_end(j, i, NODE_SKIPPED, (Reason){ .kind = REASON_UPSTREAM }, false);
        /* Dependents the DAG made ready in the same propagation must not start before this is durable. */
        j->skip_gen = BARRIER_UNFLUSHED;
}

/* ---- timers ----------------------------------------------------------------------------------- */

/* Node i (pending or waiting to retry) starts at the next pass, ahead of the DAG's ready nodes. */
static void retry_ready_push(Job *j, uint32_t i) {
        if (grow((void **) &j->retry_ready, &j->cap_retry_ready, j->n_retry_ready + 1, sizeof(uint32_t)) < 0)
                oom_fail_stop(j);
        j->retry_ready[j->n_retry_ready++] = i;
        schedule_soon(j);
}

static int retry_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        NodeCtl *c = userdata;
        Job *j = c->job;

        c->retry_timer = sd_event_source_disable_unref(c->retry_timer);
        if (c->retry_wait_unbuilt && j->flushes == c->retry_wait_flushes) {
                /* No commit has recorded the wait yet: the retry follows the next one (job_flush()). */
                if (grow((void **) &j->retry_deferred, &j->cap_retry_deferred, j->n_retry_deferred + 1,
                         sizeof(uint32_t)) < 0)
                        oom_fail_stop(j);
                j->retry_deferred[j->n_retry_deferred++] = c->index;
                return 0;
        }
        c->retry_wait_unbuilt = false;
        retry_ready_push(j, c->index);
        return 0;
}

void release_deferred_retries(Job *j) {
        if (j->n_retry_deferred == 0)
                return;
        if (grow((void **) &j->retry_ready, &j->cap_retry_ready, j->n_retry_ready + j->n_retry_deferred,
                 sizeof(uint32_t)) < 0)
                oom_fail_stop(j);
        for (size_t k = 0; k < j->n_retry_deferred; k++) {
                j->ctl[j->retry_deferred[k]].retry_wait_unbuilt = false;
                j->retry_ready[j->n_retry_ready++] = j->retry_deferred[k];
        }
        j->n_retry_deferred = 0;
        schedule_soon(j);
}

int arm_retry_timer(Job *j, uint32_t i, uint64_t retry_at) {
        NodeCtl *c = node_ctl(j, i);
        uint64_t now;

        /* From the loop's time, as sd-event counts a relative timer: from a later clock read the node could
         * start before the retry_at it shows, by as long as this iteration ran so far. */
        if (sd_event_now(j->host->event, CLOCK_REALTIME, &now) < 0)
                now = now_realtime_usec();
        c->retry_timer = sd_event_source_disable_unref(c->retry_timer);
        return sd_event_add_time_relative(j->host->event, &c->retry_timer, CLOCK_MONOTONIC,
                                          retry_at > now ? retry_at - now : 0, USEC_PER_MSEC, retry_on_timer,
                                          c);
}

static int job_on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Job *j = userdata;

        j->timeout_source = sd_event_source_disable_unref(j->timeout_source);
        log_notice("Job %" PRIu64 " reached its timeout, stopping it.", j->id);
        job_fire_timeout(j);
        return 0;
}

void arm_job_timeout(Job *j) {
        uint64_t now = now_realtime_usec(), deadline, left;
        int r;

        if (j->spec->timeout_usec == 0 || j->run->started_at == 0 || j->timeout_source)
                return;
        deadline = j->run->started_at + j->spec->timeout_usec;
        left = deadline > now ? deadline - now : 0;
        r = sd_event_add_time_relative(j->host->event, &j->timeout_source, CLOCK_MONOTONIC, left,
                                       USEC_PER_MSEC, job_on_timeout, j);
        if (r < 0)
                log_error_errno(r, "Job %" PRIu64 ": failed to arm its timeout: %m", j->id);
}

/* ---- attempts --------------------------------------------------------------------------------- */

static double random_unit(void) {
        uint64_t v;

        if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
                v = (uint64_t) now_realtime_usec() * UINT64_C(6364136223846793005);
        return (double) (v >> 11) / (double) (UINT64_C(1) << 53);
}

/* Node i, whose attempt ended (or never started), waits delay in retry_wait, then runs again; its slot is
 * free meanwhile. */
static void node_wait_retry(Job *j, uint32_t i, Reason reason, uint64_t delay) {
        NodeRun *n = &j->run->nodes[i];
        int r;

        node_run_set_state(n, NODE_RETRY_WAIT);
        n->reason = reason;
        n->retry_at = now_realtime_usec() + delay;
        slot_release(j);
        mark_node_dirty(j, i);
        node_ctl(j, i)->retry_wait_flushes = j->flushes;
        node_ctl(j, i)->retry_wait_unbuilt = true;
        r = arm_retry_timer(j, i, n->retry_at);
        if (r < 0) {
                log_error_errno(r, "Job %" PRIu64 " node %s: cannot arm retry timer: %m", j->id,
                                node_id(j, i));
                node_end(j, i, NODE_FAILED, reason, true);
        }
}

void attempt_failed(Job *j, uint32_t i, AttemptOutcome o, Reason reason, int exit_code) {
        const NodeSpec *ns = &j->spec->nodes[i];
        NodeRun *n = &j->run->nodes[i];
        unsigned used = node_run_counted_attempts(n);
        char rbuf[REASON_STRING_MAX], dbuf[DURATION_STRING_MAX];
        uint64_t delay;

        if (!retry_should_retry(&ns->retry, used, o, exit_code)) {
                node_end(j, i, NODE_FAILED, reason, true);
                return;
        }

        delay = retry_delay_usec(&ns->retry, used, random_unit());
        log_event(LOG_INFO,
                  LOG_EV(.message_id = ORCH_MESSAGE_NODE_RETRYING, .job = j->id, .node = ns->id,
                         .attempt = n->attempt, .state = node_state_to_string(NODE_RETRY_WAIT),
                         .reason = reason_to_string(reason, rbuf, sizeof(rbuf))),
                  "Job %" PRIu64 " node %s attempt %u failed (%s), retrying in %s.", j->id, ns->id,
                  n->attempt, reason_to_string(reason, rbuf, sizeof(rbuf)),
                  duration_format(delay, dbuf, sizeof(dbuf)));
        node_wait_retry(j, i, reason, delay);
}

/* Node i could not start for want of orchd's fds (EMFILE, ENFILE) or of its owner's keeper (EHOSTDOWN):
 * orchd's trouble, not the node's. The attempt never ran: not counted against retry.attempts (as if
 * interrupted), the node waits in retry_wait a while, then starts again, however often that takes. */
static void attempt_not_started(Job *j, uint32_t i, int error) {
        NodeRun *n = &j->run->nodes[i];

        log_warning_errno(
                error, "Job %" PRIu64 " node %s: cannot start attempt %u: %s; trying again in %u s.", j->id,
                node_id(j, i), (unsigned) n->attempt,
                error == -EHOSTDOWN ? "no orchd-keeper for its owner (the error above says why)" :
                                      "out of file descriptors (raise LimitNOFILE= or lower MaxParallel=)",
                (unsigned) (START_RETRY_DELAY_USEC / USEC_PER_SEC));
        if (n->interrupted < UINT16_MAX)
                n->interrupted++;
        node_wait_retry(j, i, (Reason){ .kind = REASON_SPAWN, .arg = -error }, START_RETRY_DELAY_USEC);
}

/* Node i did not start (error < 0, -errno): its owner's account was refused (account), or spawn:ERRNO. */
void node_start_failed(Job *j, uint32_t i, int error, int account) {
        const NodeSpec *ns = &j->spec->nodes[i];

        if (account != EXEC_ACCOUNT_OK) {
                log_warning("Job %" PRIu64
                            " node %s: the account of its owner (uid %u) may not run jobs "
                            "now (account:%s); not running it.",
                            j->id, ns->id, (unsigned) j->run->uid,
                            strna(account_refusal_to_string(account)));
                attempt_failed(j, i, ATTEMPT_SPAWN, (Reason){ .kind = REASON_ACCOUNT, .arg = account }, -1);
                return;
        }
        if (error == -EEXIST && node_retry_taken_log(j, i))
                return; /* its keeper found the attempt's log: the next attempt is starting */
        if (fd_shortage(error) || error == -EHOSTDOWN) {
                attempt_not_started(j, i, error);
                return;
        }
        log_warning_errno(error, "Job %" PRIu64 " node %s: cannot start '%s': %m", j->id, ns->id,
                          ns->argv[0]);
        attempt_failed(j, i, ATTEMPT_SPAWN, (Reason){ .kind = REASON_SPAWN, .arg = -error }, -1);
}

/* The kernel's figures of the attempt that ended, recorded with its end (journal.c). */
static void node_set_accounting(NodeRun *n, const TaskResult *res) {
        n->acct = res->cpu_usec != UINT64_MAX;
        n->cpu_usec = res->cpu_usec;
        n->memory_peak = res->memory_peak;
        n->pids_peak = res->pids_peak;
        n->io_read_bytes = res->io_read_bytes;
        n->io_write_bytes = res->io_write_bytes;
}

void job_on_task_exit(KeeperTask *t, const TaskResult *result, void *userdata) {
        TaskResult copy = *result; /* the result lives in the Task we free below */
        const TaskResult *res = &copy;
        NodeCtl *c = userdata;
        Job *j = c->job;
        uint32_t i = c->index;
        NodeRun *n = &j->run->nodes[i];
        StopReason stop = c->stop_reason;
        bool lost = copy.supervisor_lost && node_supervisor_lost(j, i, &copy);

        node_task_release(j, i, lost);
        c->stop_reason = STOP_NONE;
        node_set_accounting(n, res);
        n->frozen = false;
        if (n->acct && j->host->ops->accounted)
                j->host->ops->accounted(j->host->userdata, n);
        n->pid = 0;
        n->pid_start = 0;
        n->exit_code = res->end == TASK_EXITED && res->start_error == 0 ? res->exit_code : -1;
        n->signal = res->end == TASK_SIGNALED ? res->signal : 0;
        n->log_dropped = res->log_dropped;
        if (res->log_dropped > 0)
                log_warning(
                        "Job %" PRIu64 " node %s attempt %u: %" PRIu64
                        " bytes of output could not be written "
                        "to its log (the spool's filesystem was full); status reports them as log_dropped.",
                        j->id, node_id(j, i), n->attempt, res->log_dropped);

        if (res->start_error < 0 && res->start_cwd) /* say which: the reason names only the errno */
                log_warning_errno(res->start_error, "Working directory %s of '%s' is not usable: %m",
                                  node_cwd(j, &j->spec->nodes[i]), j->spec->nodes[i].argv[0]);
        if (stop == STOP_SHUTDOWN)
                node_interrupted(j, i);
        else if (stop != STOP_NONE)
                node_end(j, i, NODE_CANCELLED, stop_reason_to_reason(j, stop), true);
        else if (lost) {
                node_crash_interrupted(j, i, "its keeper");
                if (n->state == NODE_PENDING) /* the DAG had handed it out already: it reruns as a retry */
                        retry_ready_push(j, i);
        } else if (res->start_error < 0) /* its keeper or orchd-exec could not run it */
                node_start_failed(j, i, res->start_error, res->start_account);
        else if (res->timed_out)
                attempt_failed(j, i, ATTEMPT_TIMEOUT, (Reason){ .kind = REASON_TIMEOUT }, -1);
        else if (res->oom_kills != UINT64_MAX && res->oom_kills > 0 &&
                 !(res->end == TASK_EXITED && res->exit_code == 0))
                /* The OOM killer struck in the attempt's cgroup and it did not succeed: that is why. */
                attempt_failed(j, i, ATTEMPT_OOM, (Reason){ .kind = REASON_OOM }, -1);
        else if (res->end == TASK_EXITED &&
                 abort_on_exit_matches(&j->spec->nodes[i].abort_on_exit, res->exit_code))
                job_abort(j, i, res->exit_code); /* before retry, as DAGMan's ABORT-DAG-ON */
        else if (res->end == TASK_EXITED && res->exit_code == 0)
                node_end(j, i, NODE_SUCCEEDED, (Reason){}, true);
        else if (res->end == TASK_EXITED)
                attempt_failed(j, i, ATTEMPT_EXIT, (Reason){ .kind = REASON_EXIT, .arg = res->exit_code },
                               res->exit_code);
        else
                attempt_failed(j, i, ATTEMPT_SIGNAL, (Reason){ .kind = REASON_SIGNAL, .arg = res->signal },
                               -1);
        job_check_finished(j); /* its last node, without dependents: the job ends in the same commit */
}

/* ---- the end of a job ------------------------------------------------------------------------- */

bool job_is_finished(const Job *j) {
        return job_state_is_final(j->run->state);
}

bool job_is_settled(const Job *j) {
        return job_is_finished(j) && !j->dag && j->final_gen == 0;
}

static JobState job_final_state(Job *j, Reason *ret_reason) {
        if (j->timed_out) {
                *ret_reason = (Reason){ .kind = REASON_TIMEOUT };
                return JOB_FAILED;
        }
        if (j->run->cancel_requested) {
                *ret_reason = (Reason){ .kind = REASON_CANCELLED };
                return JOB_CANCELLED;
        }
        if (j->aborted) {
                const AbortOnExit *a = &j->spec->nodes[j->abort_node].abort_on_exit;

                *ret_reason = a->state == JOB_FAILED ?
                        (Reason){ .kind = REASON_ABORT, .arg = j->abort_code } :
                        (Reason){};
                return a->state;
        }
        /* A job ends cancelled only when it was cancelled: a node cancelled by name fails it like a
         * failed node (allow_failure aside), its reason "cancelled". */
        for (uint32_t i = 0; i < j->spec->n_nodes; i++)
                if (node_counts_failed(j, i) && !j->spec->nodes[i].allow_failure) {
                        *ret_reason = j->run->reason.kind != REASON_NONE ? j->run->reason :
                                                                           j->run->nodes[i].reason;
                        return JOB_FAILED;
                }
        *ret_reason = (Reason){};
        return JOB_SUCCEEDED;
}

void job_check_finished(Job *j) {
        char rbuf[REASON_STRING_MAX];
        Reason reason;
        JobState s;

        if (job_is_finished(j) || !j->dag || !dag_is_finished(j->dag) || j->n_running > 0)
                return;
        s = job_final_state(j, &reason);
        job_run_set_state(j->run, s);
        j->run->reason = reason;
        j->run->finished_at = now_realtime_usec();
        j->timeout_source = sd_event_source_disable_unref(j->timeout_source);
        j->final_gen = BARRIER_UNFLUSHED;
        mark_job_dirty(j);
        if (j->host->ops->finished)
                j->host->ops->finished(j->host->userdata, j);
        log_event(LOG_NOTICE,
                  LOG_EV(.message_id = ORCH_MESSAGE_JOB_FINISHED, .job = j->id, .job_name = j->spec->name,
                         .state = job_state_to_string(s),
                         .reason = reason_to_string(reason, rbuf, sizeof(rbuf))),
                  "Job %" PRIu64 " (%s) %s%s%s.", j->id, j->spec->name, job_state_to_string(s),
                  reason.kind != REASON_NONE ? ": " : "",
                  reason_to_string(reason, rbuf, sizeof(rbuf)) ?: "");
}

/* ---- construction ----------------------------------------------------------------------------- */

int job_new(const JobHost *host, JobSpec *spec, JobRun *run, JobPrep *prep_in, Job **ret) {
        _cleanup_(jobprep_freep) JobPrep *prep = prep_in;
        _cleanup_(job_freep) Job *j = NULL;
        int r;

        j = calloc(1, sizeof(*j));
        if (!j) {
                jobspec_free(spec);
                job_run_free(run);
                return -ENOMEM;
        }
        *j = (Job){ .host = host,
                    .id = run->id,
                    .spec = spec,
                    .run = run,
                    .logs_fd = -EBADF,
                    .starts_fd = -EBADF,
                    .ends_fd = -EBADF };

        /* A finished job keeps only spec and run, for status queries (and a manual retry). */
        if (!job_is_finished(j)) {
                if (prep) { /* built ahead, off the loop: the env base borrows spec's strings, which j now
                               owns */
                        j->dag = TAKE_PTR(prep->dag);
                        j->base_env = TAKE_PTR(prep->env);
                        r = job_build_env(j); /* the owner's home and credentials */
                        if (r < 0)
                                return r;
                }
                r = job_build_runtime(j);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(j);
        return 0;
}

/* Whether the job's directory has a starts file. */
static bool job_has_starts(Job *j) {
        _cleanup_close_ int dir_fd = open_job_dir(j);

        return dir_fd >= 0 && faccessat(dir_fd, STARTS_FILE, F_OK, AT_SYMLINK_NOFOLLOW) >= 0;
}

int job_activate(Job *j) {
        const JobRun *run = j->run;

        if (!j->dag)
                return 0;
        if (run->state == JOB_QUEUED && run->started_at == 0 && !run->cancel_requested) {
                bool fresh = true;

                for (uint32_t i = 0; i < j->spec->n_nodes && fresh; i++)
                        fresh = run->nodes[i].state == NODE_PENDING && run->nodes[i].attempt == 0;
                /* A job that looks untouched but has a starts file had nodes started whose starts were
                 * held for a commit orchd did not live to make (job_defer_start()): recovery finds them. */
                if (fresh && job_has_starts(j))
                        fresh = false;
                if (fresh) {
                        dag_start(j->dag);
                        schedule_soon(j);
                        return 0;
                }
        }
        return job_recover(j);
}

Job *job_free(Job *j) {
        if (!j)
                return NULL;
        for (size_t k = 0; k < j->n_waiters; k++) {
                control_call_set_disconnect_callback(j->waiters[k], NULL, NULL); /* j is going away */
                control_call_unref(j->waiters[k]);
        }
        free(j->waiters);
        job_detach_observers(j);
        job_release_runtime(j);
        free(j->dirty);
        history_free(j->history);
        nodeenv_base_free(j->base_env);
        free(j->home);
        jobspec_free(j->spec);
        job_run_free(j->run);
        return mfree(j);
}
