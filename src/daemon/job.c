/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * job.c — the run-time Job: drives one job's DAG of supervised tasks.
 *
 * Owns: the job's Dag, its Tasks and retry/timeout timers (through NodeCtl),
 * its dirty-record lists and durability barriers, and its waiters.
 * Invariants:
 *   - every state change goes through node_run_set_state()/job_run_set_state(),
 *     which abort on an illegal transition (SPEC §4);
 *   - a node's end reaches the DAG (and so its dependents) only once the
 *     journal record of that end is durable (JobPending with a generation);
 *   - a node with on_interrupt=fail is spawned only once its start is durable;
 *   - no node execs before its attempt and pid are in the job's "starts" file (written by the child itself
 *     before its exec, or before the gate opens: supervise.h), so the next start finds every process a
 *     crash left behind; no node of a job whose acceptance may not be durable yet is spawned at all;
 *     attempt numbers and logs are never reused;
 *   - n_running counts nodes holding a run slot (spawned, or waiting to be).
 * Does not decide which job gets a slot (the manager does), and never writes
 * journal files itself: it builds records and hands them to the manager's
 * committer. The one file it writes is the job's "starts" (unsynced appends).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "duration.h"
#include "exec-proto.h"
#include "fsutil.h"
#include "jobprep.h"
#include "journal.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "nodeenv.h"
#include "procutil.h"
#include "protocol.h"
#include "job.h"
#include "spawnrec.h"
#include "statusenc.h"
#include "supervise.h"
#include "watch.h"

#define BARRIER_UNFLUSHED UINT64_MAX
#define SNAPSHOT_MIN_BYTES (64U * 1024U)
#define STARTS_FILE "starts"
#define STARTS_MAX_BYTES (256U * 1024U * 1024U)
/* Attempt numbers skipped in one start because NODE.N.log exists (attempts lost with a crash). */
#define LOG_TAKEN_MAX 1000U
/* How long a node or job waits after orchd ran out of fds starting it (or, for a job, any error opening
 * its logs directory). */
#define FD_SHORTAGE_DELAY_USEC USEC_PER_SEC

struct NodeCtl {
        Job *job;
        uint32_t index;
        uint8_t stop_reason; /* StopReason sent to the running task */
        Task *task;
        sd_event_source *retry_timer;
};

static void job_check_finished(Job *j);

/* Node i's control, to be handed out as a callback's userdata. j->ctl is left as calloc() made it until
 * then: for 100,000 nodes, filling it in at once cost the loop about 10 ms of page faults. */
static NodeCtl *node_ctl(Job *j, uint32_t i) {
        j->ctl[i].job = j;
        j->ctl[i].index = i;
        return &j->ctl[i];
}

/* ---- small growable arrays ------------------------------------------------------------------ */

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
static void oom_fail_stop(Job *j) {
        manager_fail_stop(j->manager, -ENOMEM, "recording job state");
}

static void mark_node_dirty(Job *j, uint32_t i) {
        if (grow((void **) &j->dirty, &j->cap_dirty, j->n_dirty + 1, sizeof(uint32_t)) < 0)
                oom_fail_stop(j);
        j->dirty[j->n_dirty++] = i;
        manager_mark_dirty(j->manager, j);
}

static void mark_job_dirty(Job *j) {
        j->job_dirty = true;
        manager_mark_dirty(j->manager, j);
}

static void barrier_push(struct JobPending **list, size_t *n, size_t *cap, Job *j, uint32_t node,
                         uint8_t outcome) {
        if (grow((void **) list, cap, *n + 1, sizeof(struct JobPending)) < 0)
                oom_fail_stop(j);
        (*list)[(*n)++] = (struct JobPending){ .node = node, .outcome = outcome, .gen = BARRIER_UNFLUSHED };
}

static const char *node_id(const Job *j, uint32_t i) {
        return j->spec->nodes[i].id;
}

/* ---- slots ------------------------------------------------------------------------------------ */

static void slot_take(Job *j) {
        j->n_running++;
        j->manager->n_running++;
}

static void slot_release(Job *j) {
        assert(j->n_running > 0 && j->manager->n_running > 0);
        j->n_running--;
        j->manager->n_running--;
        if (j->n_running == 0) {
                /* fds follow running nodes, not jobs: a job whose nodes ended but whose end is not yet
                 * durable (a slow disk) must not keep them. The next start opens them again. */
                j->logs_fd = safe_close(j->logs_fd);
                j->starts_fd = safe_close(j->starts_fd);
        }
        manager_schedule_soon(j->manager);
}

/* ---- node ends -------------------------------------------------------------------------------- */

static DagOutcome outcome_of(NodeState s) {
        return s == NODE_SUCCEEDED ? DAG_SUCCEEDED : s == NODE_FAILED ? DAG_FAILED : DAG_OTHER;
}

static void job_fire_fail_fast(Job *j);

/* End node i in state `to`. to_dag: whether the DAG must hear about it (false when the DAG itself already
 * finished the node, as dag_finish_pending() does). */
static void node_end(Job *j, uint32_t i, NodeState to, Reason reason, bool to_dag) {
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
                barrier_push(&j->pending, &j->n_pending, &j->cap_pending, j, i, outcome_of(to));

        /* Nodes that never ran (skipped, or cancelled while pending) can be 100,000 at once: one line each
         * only at debug level; job_stop_all() logs the count. */
        if (to == NODE_SUCCEEDED)
                log_event(LOG_INFO,
                          LOG_EV(.message_id = ORCH_MESSAGE_NODE_FINISHED, .job = j->id, .node = node_id(j, i),
                                 .attempt = n->attempt, .state = node_state_to_string(to)),
                          "Job %" PRIu64 " node %s succeeded (attempt %u).", j->id, node_id(j, i), n->attempt);
        else
                log_event(from == NODE_PENDING ? LOG_DEBUG : LOG_INFO,
                          LOG_EV(.message_id = ORCH_MESSAGE_NODE_FINISHED, .job = j->id, .node = node_id(j, i),
                                 .attempt = n->attempt, .state = node_state_to_string(to),
                                 .reason = reason_to_string(reason, rbuf, sizeof(rbuf))),
                          "Job %" PRIu64 " node %s %s: %s.", j->id, node_id(j, i), node_state_to_string(to),
                          strna(reason_to_string(reason, rbuf, sizeof(rbuf))));

        if (to == NODE_FAILED && !j->spec->nodes[i].allow_failure) {
                if (j->run->reason.kind == REASON_NONE) {
                        j->run->reason = reason; /* the job's reason is its first failure */
                        mark_job_dirty(j);
                }
                if (j->spec->fail_fast)
                        job_fire_fail_fast(j);
        }
}

static void skip_cb(void *userdata, uint32_t i) {
        Job *j = userdata;

        node_end(j, i, NODE_SKIPPED, (Reason){ .kind = REASON_UPSTREAM }, false);
        /* Dependents the DAG made ready in the same propagation must not start before this is durable. */
        j->skip_gen = BARRIER_UNFLUSHED;
}

/* ---- timers ----------------------------------------------------------------------------------- */

static int retry_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        NodeCtl *c = userdata;
        Job *j = c->job;

        c->retry_timer = sd_event_source_disable_unref(c->retry_timer);
        if (grow((void **) &j->retry_ready, &j->cap_retry_ready, j->n_retry_ready + 1, sizeof(uint32_t)) < 0)
                oom_fail_stop(j);
        j->retry_ready[j->n_retry_ready++] = c->index;
        manager_schedule_soon(j->manager);
        return 0;
}

static int arm_retry_timer(Job *j, uint32_t i, uint64_t delay) {
        NodeCtl *c = node_ctl(j, i);

        c->retry_timer = sd_event_source_disable_unref(c->retry_timer);
        return sd_event_add_time_relative(j->manager->event, &c->retry_timer, CLOCK_MONOTONIC, delay,
                                          USEC_PER_MSEC, retry_on_timer, c);
}

static void job_fire_timeout(Job *j);

static int job_on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Job *j = userdata;

        j->timeout_source = sd_event_source_disable_unref(j->timeout_source);
        log_notice("Job %" PRIu64 " reached its timeout, stopping it.", j->id);
        job_fire_timeout(j);
        return 0;
}

static void arm_job_timeout(Job *j) {
        uint64_t now = now_realtime_usec(), deadline, left;
        int r;

        if (j->spec->timeout_usec == 0 || j->run->started_at == 0 || j->timeout_source)
                return;
        deadline = j->run->started_at + j->spec->timeout_usec;
        left = deadline > now ? deadline - now : 0;
        r = sd_event_add_time_relative(j->manager->event, &j->timeout_source, CLOCK_MONOTONIC, left,
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
        r = arm_retry_timer(j, i, delay);
        if (r < 0) {
                log_error_errno(r, "Job %" PRIu64 " node %s: cannot arm retry timer: %m", j->id,
                                node_id(j, i));
                node_end(j, i, NODE_FAILED, reason, true);
        }
}

static void attempt_failed(Job *j, uint32_t i, AttemptOutcome o, Reason reason, int exit_code) {
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
                  "Job %" PRIu64 " node %s attempt %u failed (%s), retrying in %s.", j->id, ns->id, n->attempt,
                  reason_to_string(reason, rbuf, sizeof(rbuf)), duration_format(delay, dbuf, sizeof(dbuf)));
        node_wait_retry(j, i, reason, delay);
}

/* Node i could not start for want of the daemon's own fds (EMFILE, ENFILE): orchd's shortage, not the
 * node's failure. The attempt never ran: like an interrupted one it is not counted against retry.attempts,
 * and the node waits in retry_wait for a while, then starts again, however often that takes. */
static void attempt_short_of_fds(Job *j, uint32_t i, int error) {
        NodeRun *n = &j->run->nodes[i];

        log_warning_errno(error,
                          "Job %" PRIu64
                          " node %s: cannot start attempt %u: %m (out of file descriptors: raise "
                          "LimitNOFILE= or lower MaxParallel=); trying again in %u s.",
                          j->id, node_id(j, i), (unsigned) n->attempt,
                          (unsigned) (FD_SHORTAGE_DELAY_USEC / USEC_PER_SEC));
        if (n->interrupted < UINT16_MAX)
                n->interrupted++;
        node_wait_retry(j, i, (Reason){ .kind = REASON_SPAWN, .arg = -error }, FD_SHORTAGE_DELAY_USEC);
}

/* on_interrupt: the daemon stopped (or crashed) while node i ran. The node holds a slot, released here. */
static void node_interrupted(Job *j, uint32_t i) {
        NodeRun *n = &j->run->nodes[i];

        if (j->spec->nodes[i].on_interrupt == ON_INTERRUPT_FAIL) {
                node_end(j, i, NODE_FAILED, (Reason){ .kind = REASON_INTERRUPTED }, true);
                return;
        }
        slot_release(j);
        node_run_requeue_interrupted(n);
        mark_node_dirty(j, i);
        log_event(LOG_INFO,
                  LOG_EV(.message_id = ORCH_MESSAGE_NODE_RETRYING, .job = j->id, .node = node_id(j, i),
                         .attempt = n->attempt, .state = node_state_to_string(n->state),
                         .reason = "interrupted"),
                  "Job %" PRIu64 " node %s was interrupted; it will run again.", j->id, node_id(j, i));
}

/* Recovery: the daemon died while node i ran. Rerun like any interruption, but only MaxInterruptedReruns=
 * times in a row (crash_reruns, in the node's record, survives the restarts), so a node that takes the
 * daemon down with it cannot loop for ever. A clean stop (SIGTERM) neither counts nor resets. */
static void node_crash_interrupted(Job *j, uint32_t i) {
        NodeRun *n = &j->run->nodes[i];
        uint64_t max = j->manager->conf.max_interrupted_reruns;

        if (j->spec->nodes[i].on_interrupt == ON_INTERRUPT_RERUN && max > 0 && n->crash_reruns >= max) {
                /* node_end() logs the end itself; this says why. */
                log_warning("Job %" PRIu64
                            " node %s was running when orchd died, %u times in a row; "
                            "not running it again (MaxInterruptedReruns=%" PRIu64 ").",
                            j->id, node_id(j, i), (unsigned) n->crash_reruns + 1, max);
                node_end(j, i, NODE_FAILED, (Reason){ .kind = REASON_INTERRUPTED }, true);
                return;
        }
        if (j->spec->nodes[i].on_interrupt == ON_INTERRUPT_RERUN && n->crash_reruns < UINT16_MAX)
                n->crash_reruns++;
        node_interrupted(j, i);
}

/* Where node i runs: its cwd, the job's, the owner's home, or "/". */
static const char *node_cwd(const Job *j, const NodeSpec *ns) {
        return ns->cwd ?: j->spec->cwd ?: j->home ?: "/";
}

/* Node i did not start (error < 0, -errno): its owner's account was refused (account), or spawn:ERRNO. */
static void node_start_failed(Job *j, uint32_t i, int error, int account) {
        const NodeSpec *ns = &j->spec->nodes[i];

        if (account != EXEC_ACCOUNT_OK) {
                log_warning("Job %" PRIu64
                            " node %s: the account of its owner (uid %u) may not run jobs "
                            "now (account:%s); not running it.",
                            j->id, ns->id, (unsigned) j->run->uid, strna(account_refusal_to_string(account)));
                attempt_failed(j, i, ATTEMPT_SPAWN, (Reason){ .kind = REASON_ACCOUNT, .arg = account }, -1);
                return;
        }
        if (fd_shortage(error)) {
                attempt_short_of_fds(j, i, error);
                return;
        }
        log_warning_errno(error, "Job %" PRIu64 " node %s: cannot start '%s': %m", j->id, ns->id, ns->argv[0]);
        attempt_failed(j, i, ATTEMPT_SPAWN, (Reason){ .kind = REASON_SPAWN, .arg = -error }, -1);
}

static Reason stop_reason_to_reason(StopReason s) {
        switch (s) {
        case STOP_FAIL_FAST:
                return (Reason){ .kind = REASON_FAIL_FAST };
        case STOP_JOB_TIMEOUT:
                return (Reason){ .kind = REASON_JOB_TIMEOUT };
        default:
                return (Reason){ .kind = REASON_CANCELLED };
        }
}

static void job_on_task_exit(Task *t, const TaskResult *result, void *userdata) {
        const TaskResult copy = *result, *res = &copy; /* the result lives in the Task we free below */
        NodeCtl *c = userdata;
        Job *j = c->job;
        uint32_t i = c->index;
        NodeRun *n = &j->run->nodes[i];
        StopReason stop = c->stop_reason;

        c->task = task_free(c->task);
        c->stop_reason = STOP_NONE;
        n->pid = 0;
        n->pid_start = 0;
        n->exit_code = res->end == TASK_EXITED && res->start_error == 0 ? res->exit_code : -1;
        n->signal = res->end == TASK_SIGNALED ? res->signal : 0;
        n->log_dropped = res->log_dropped;
        if (res->log_dropped > 0)
                log_warning("Job %" PRIu64 " node %s attempt %u: %" PRIu64
                            " bytes of output could not be written "
                            "to its log (the spool's filesystem was full); status reports them as log_dropped.",
                            j->id, node_id(j, i), n->attempt, res->log_dropped);

        if (res->start_error < 0 && res->start_cwd) /* say which: the reason names only the errno */
                log_warning_errno(res->start_error, "Working directory %s of '%s' is not usable: %m",
                                  node_cwd(j, &j->spec->nodes[i]), j->spec->nodes[i].argv[0]);
        if (stop == STOP_SHUTDOWN)
                node_interrupted(j, i);
        else if (stop != STOP_NONE)
                node_end(j, i, NODE_CANCELLED, stop_reason_to_reason(stop), true);
        else if (res->start_error < 0) /* through orchd-exec, which exited before running anything */
                node_start_failed(j, i, res->start_error, res->start_account);
        else if (res->timed_out)
                attempt_failed(j, i, ATTEMPT_TIMEOUT, (Reason){ .kind = REASON_TIMEOUT }, -1);
        else if (res->end == TASK_EXITED && res->exit_code == 0)
                node_end(j, i, NODE_SUCCEEDED, (Reason){}, true);
        else if (res->end == TASK_EXITED)
                attempt_failed(j, i, ATTEMPT_EXIT, (Reason){ .kind = REASON_EXIT, .arg = res->exit_code },
                               res->exit_code);
        else
                attempt_failed(j, i, ATTEMPT_SIGNAL, (Reason){ .kind = REASON_SIGNAL, .arg = res->signal },
                               -1);
}

/* ---- spawning --------------------------------------------------------------------------------- */

/* New output in a running attempt's log: wake whoever follows it (orchctl logs -f). */
static void job_on_task_output(Task *t, void *userdata) {
        NodeCtl *c = userdata;

        manager_node_output(c->job->manager, c->job, c->index);
}

/* The job's starts file, opened for appending at its first start. Returns the fd (owned by j) or -errno. */
static int starts_open(Job *j) {
        if (j->starts_fd < 0) {
                _cleanup_close_ int dir_fd = manager_open_job_dir(j->manager, j->id);

                if (dir_fd < 0)
                        return dir_fd;
                j->starts_fd = openat(dir_fd, STARTS_FILE,
                                      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
                if (j->starts_fd < 0)
                        return -errno;
        }
        return j->starts_fd;
}

/* Spawn attempt n->attempt of node i, on record in the starts file before it execs: written by the child
 * itself (spawnrec.h), or, through orchd-exec, gated until node_spawn() wrote it. Returns 0 with
 * ctl[i].task, -EEXIST if its log file exists, or -errno. */
static int node_task_spawn(Job *j, uint32_t i) {
        const NodeSpec *ns = &j->spec->nodes[i];
        NodeRun *n = &j->run->nodes[i];
        _cleanup_free_ char **env = NULL; /* borrows the strings of base_env and ns->env */
        char log_name[128], prefix[SPAWN_PREFIX_MAX];
        uint64_t floor;
        int r, starts_fd;

        starts_fd = starts_open(j);
        if (starts_fd < 0)
                return starts_fd;
        snprintf(prefix, sizeof(prefix), "%" PRIu32 " %u ", i, (unsigned) n->attempt);

        r = nodeenv_node(j->base_env, ns->env, j->id, j->spec->name, ns->id, n->attempt, &env);
        if (r < 0)
                oom_fail_stop(j);
        snprintf(log_name, sizeof(log_name), "%s.%u.log", ns->id, n->attempt);
        /* Half the MinFreeSpace= floor (bytes, inodes) stays for what every job must record: its ends. */
        floor = spool_floor_bytes(j->manager->spool);

        TaskParams p = {
                .argv = ns->argv,
                .env = env,
                .cwd = node_cwd(j, ns),
                .log_dir_fd = j->logs_fd,
                .log_name = log_name,
                .log_max_bytes = j->manager->config.log_max_bytes,
                .log_min_free = floor / 2,
                .log_min_inodes = floor > 0 ? SPOOL_MIN_FREE_INODES / 2 : 0,
                .timeout_usec = ns->timeout_usec,
                .kill_grace_usec = ns->kill_grace_usec,
                .cred = j->use_cred ? &j->cred : NULL,
                .umask = (mode_t) (ns->umask >= 0              ? ns->umask :
                                           j->spec->umask >= 0 ? j->spec->umask :
                                                                 TASK_DEFAULT_UMASK),
                .helper = j->manager->config.exec_helper,
                .pam_confdir = j->manager->config.pam_confdir,
                .record_prefix = prefix,
                .record_fd = starts_fd,
                .output_cb = job_on_task_output,
                .journal_node = ns->id,
                .journal_job = j->id,
                .journal_attempt = n->attempt,
        };
        return task_spawn(j->manager->event, &p, job_on_task_exit, node_ctl(j, i), &j->ctl[i].task);
}

/* Append "NODE ATTEMPT PID PID_START" for node i's attempt to the job's starts file, in one write. Not
 * synced: the record only has to outlive orchd, not the machine, because a process that could be left behind
 * cannot outlive the machine either; once write() returned, every later read on this boot sees it. */
static int starts_record(Job *j, uint32_t i) {
        const NodeRun *n = &j->run->nodes[i];
        char line[SPAWN_LINE_MAX], prefix[SPAWN_PREFIX_MAX];
        ssize_t k;
        int len, fd;

        fd = starts_open(j);
        if (fd < 0)
                return fd;
        snprintf(prefix, sizeof(prefix), "%" PRIu32 " %u ", i, (unsigned) n->attempt);
        len = spawn_format_record(line, prefix, n->pid, n->pid_start);
        if (len < 0)
                return len;
        k = write(fd, line, (size_t) len);
        if (k < 0)
                return -errno;
        return k == len ? 0 : -EIO; /* a torn line is ignored when read back: treat it as not written */
}

/* The job has ended and every attempt's end is durable: its starts file has nothing left to find. */
static void starts_remove(Job *j) {
        _cleanup_close_ int dir_fd = manager_open_job_dir(j->manager, j->id);

        if (dir_fd >= 0)
                (void) unlinkat(dir_fd, STARTS_FILE, 0);
}

static void node_spawn(Job *j, uint32_t i) {
        const NodeSpec *ns = &j->spec->nodes[i];
        NodeRun *n = &j->run->nodes[i];
        unsigned skipped = 0;
        int r;

        if (j->cred_error < 0) {
                log_warning_errno(j->cred_error,
                                  "Job %" PRIu64
                                  " node %s: no account name was recorded for "
                                  "owner uid %u; not running it.",
                                  j->id, ns->id, (unsigned) j->run->uid);
                attempt_failed(j, i, ATTEMPT_SPAWN,
                               (Reason){ .kind = REASON_ACCOUNT, .arg = EXEC_ACCOUNT_UNKNOWN }, -1);
                return;
        }
        /* NODE.N.log exists: attempt N started before a crash that lost its record (the machine's, since
         * "starts" outlives orchd). Its number and its log stay its own; this attempt takes the next. */
        while ((r = node_task_spawn(j, i)) == -EEXIST && skipped < LOG_TAKEN_MAX && n->attempt < UINT16_MAX) {
                n->attempt++;
                if (n->interrupted < UINT16_MAX)
                        n->interrupted++; /* not counted against retry.attempts */
                skipped++;
        }
        if (skipped > 0)
                log_notice("Job %" PRIu64
                           " node %s: the logs of %u earlier attempt(s) exist though their starts "
                           "were not recorded (lost with a crash); this is attempt %u.",
                           j->id, ns->id, skipped, (unsigned) n->attempt);
        if (r < 0) {
                node_start_failed(j, i, r, EXEC_ACCOUNT_OK);
                return;
        }
        j->manager->n_spawned++;
        /* Recorded with the node, so that a restart after a crash can kill this group if it outlived us. */
        n->pid = task_pid(j->ctl[i].task);
        if (proc_start_time(n->pid, &n->pid_start) < 0)
                n->pid = 0, n->pid_start = 0; /* already gone (a refused account): nothing to kill later */
        mark_node_dirty(j, i);
        /* Started directly, the child wrote its record before its exec. Through orchd-exec the gate opens
         * only once the next start can find the process: in the starts file now, in the journal with the
         * next commit. */
        r = 0;
        if (task_gated(j->ctl[i].task) && n->pid > 0) {
                r = starts_record(j, i);
                if (r >= 0)
                        r = task_open_gate(j->ctl[i].task);
        } else if (task_gated(j->ctl[i].task))
                /* Gone already (orchd-exec refused the account: its exit says so), or not identifiable: it
                 * must not run unrecorded. */
                task_kill(j->ctl[i].task);
        if (r < 0) {
                log_warning_errno(r, "Job %" PRIu64 " node %s: cannot record the start of attempt %u: %m",
                                  j->id, ns->id, (unsigned) n->attempt);
                j->ctl[i].task = task_free(j->ctl[i].task); /* it never ran */
                n->pid = 0, n->pid_start = 0;
                node_start_failed(j, i, r, EXEC_ACCOUNT_OK);
                return;
        }
        log_event(LOG_INFO,
                  LOG_EV(.message_id = ORCH_MESSAGE_NODE_STARTED, .job = j->id, .node = ns->id,
                         .attempt = n->attempt, .state = node_state_to_string(n->state)),
                  "Job %" PRIu64 " node %s attempt %u started as pid %d.", j->id, ns->id, n->attempt,
                  (int) task_pid(j->ctl[i].task));
}

static void job_set_running(Job *j) {
        if (j->run->state != JOB_QUEUED)
                return;
        job_run_set_state(j->run, JOB_RUNNING);
        j->run->started_at = now_realtime_usec();
        mark_job_dirty(j);
        arm_job_timeout(j);
        log_event(LOG_INFO,
                  LOG_EV(.message_id = ORCH_MESSAGE_JOB_STARTED, .job = j->id, .job_name = j->spec->name,
                         .state = job_state_to_string(j->run->state)),
                  "Job %" PRIu64 " (%s) started.", j->id, j->spec->name);
}

static void begin_attempt(Job *j, uint32_t i) {
        NodeRun *n = &j->run->nodes[i];

        node_run_set_state(n, NODE_RUNNING);
        n->attempt++;
        n->started_at = now_realtime_usec();
        n->finished_at = 0;
        n->retry_at = 0;
        n->exit_code = -1;
        n->signal = 0;
        slot_take(j);
        job_set_running(j);
        mark_node_dirty(j, i);

        /* A node that must never run twice starts only once "attempt N started" is durable: after a
         * crash, recovery then knows it may have run. Others start now; a crash reruns them anyway. Until
         * its acceptance is durable a job's directory (and the starts record in it) may vanish with a
         * crash, the file being taken again as a new job: its nodes start with that commit. */
        if (j->spec->nodes[i].on_interrupt == ON_INTERRUPT_FAIL || j->hold_gen != 0)
                barrier_push(&j->await_spawn, &j->n_await_spawn, &j->cap_await_spawn, j, i, 0);
        else
                node_spawn(j, i);
}

static bool job_may_start(const Job *j) {
        return j->dag && !j->manager->stopping && j->run->state != JOB_PAUSED && !j->run->cancel_requested &&
                !j->timed_out && !j->fail_fast_fired && j->skip_gen == 0 &&
                !job_state_is_final(j->run->state) &&
                (j->spec->max_parallel == 0 || j->n_running < j->spec->max_parallel);
}

bool job_wants_slot(const Job *j) {
        return job_may_start(j) && (j->n_retry_ready > 0 || dag_n_ready(j->dag) > 0);
}

static bool next_ready(Job *j, uint32_t *ret) {
        if (j->n_retry_ready > 0) {
                *ret = j->retry_ready[0];
                memmove(j->retry_ready, j->retry_ready + 1, --j->n_retry_ready * sizeof(uint32_t));
                return true;
        }
        return dag_pop_ready(j->dag, ret) > 0;
}

/* The logs directory is opened at a start, not at acceptance, and closed when no node runs: a queued or
 * idle job holds no fd. Out of fds (EMFILE/ENFILE) is a shortage, not a failure of the job: it waits, and
 * the next pass (a node ending frees fds and asks for one, or a timer) tries again. Returns 0 or -errno. */
static int job_open_logs(Job *j) {
        _cleanup_close_ int dir_fd = -EBADF;
        int r;

        if (j->logs_fd >= 0)
                return 0;
        dir_fd = r = manager_open_job_dir(j->manager, j->id);
        if (r >= 0)
                r = open_dir_at(dir_fd, "logs", 0750);
        if (r >= 0) {
                j->logs_fd = r;
                return 0;
        }
        /* Tried again in a second even if no node ends (nothing else may): an I/O error may pass too. */
        manager_schedule_later(j->manager, FD_SHORTAGE_DELAY_USEC);
        return log_warning_errno(
                r, "Job %" PRIu64 ": cannot open its logs directory, not starting nodes now (%s): %m", j->id,
                fd_shortage(r) ? "out of file descriptors: raise LimitNOFILE= or lower "
                                 "MaxParallel=; it is tried again as nodes end, or in a second" :
                                 "jobs/ID/logs; tried again in a second");
}

unsigned job_start_ready(Job *j, unsigned *slots) {
        unsigned started = 0;
        uint32_t i;

        if (*slots > 0 && job_wants_slot(j) && job_open_logs(j) < 0)
                return 0;
        while (*slots > 0 && job_may_start(j) && next_ready(j, &i)) {
                NodeState s = j->run->nodes[i].state;

                if (s != NODE_PENDING && s != NODE_RETRY_WAIT)
                        continue; /* cancelled while it waited in the queue */
                (*slots)--;
                started++;
                begin_attempt(j, i);
        }
        return started;
}

/* ---- stopping: cancel, fail_fast, job timeout, shutdown ----------------------------------------- */

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

static void remove_from(uint32_t *list, size_t *n, uint32_t node) {
        for (size_t k = 0; k < *n; k++)
                if (list[k] == node) {
                        memmove(list + k, list + k + 1, (--*n - k) * sizeof(uint32_t));
                        return;
                }
}

static bool drop_await_spawn(Job *j, uint32_t node) {
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
                node_end(j, i, NODE_CANCELLED, stop_reason_to_reason(why), true);
        } else if (n->state == NODE_RUNNING && !c->task) {
                if (drop_await_spawn(j, i))
                        node_end(j, i, NODE_CANCELLED, stop_reason_to_reason(why), true);
        } else if (n->state == NODE_RUNNING && c->stop_reason == STOP_NONE) {
                c->stop_reason = why;
                (void) task_stop(c->task, j->spec->nodes[i].kill_grace_usec);
        }
}

static void job_stop_all(Job *j, StopReason why, NodeState pending_to) {
        StopCtx ctx = { .job = j, .to = pending_to, .reason = stop_reason_to_reason(why) };

        if (!j->dag)
                return;
        dag_finish_pending(j->dag, stop_pending_cb, &ctx);
        if (ctx.n > 0)
                log_info("Job %" PRIu64 ": %zu pending node(s) %s.", j->id, ctx.n,
                         node_state_to_string(pending_to));
        for (uint32_t i = 0; i < j->spec->n_nodes; i++)
                stop_node(j, i, why);
        j->n_retry_ready = 0;
        job_check_finished(j);
}

static void job_fire_fail_fast(Job *j) {
        if (j->fail_fast_fired)
                return;
        j->fail_fast_fired = true;
        log_notice("Job %" PRIu64 ": a node failed and fail_fast is set, stopping the rest.", j->id);
        job_stop_all(j, STOP_FAIL_FAST, NODE_SKIPPED);
}

static void job_fire_timeout(Job *j) {
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
                }
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

int job_resume(Job *j) {
        if (j->run->state != JOB_PAUSED)
                return 0;
        job_run_set_state(j->run, j->run->paused_from);
        mark_job_dirty(j);
        manager_schedule_soon(j->manager);
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
                        /* Never spawned (waiting for its start to be durable): back to pending, uncounted. */
                        if (drop_await_spawn(j, i)) {
                                slot_release(j);
                                node_run_requeue_interrupted(&j->run->nodes[i]);
                                mark_node_dirty(j, i);
                        }
                } else if (c->stop_reason == STOP_NONE) {
                        c->stop_reason = STOP_SHUTDOWN;
                        (void) task_stop(c->task, j->spec->nodes[i].kill_grace_usec);
                }
                /* Already being stopped (cancel, fail_fast, job timeout): it ends as that, not interrupted. */
        }
}

void job_kill_all(Job *j) {
        if (!j->ctl)
                return;
        for (uint32_t i = 0; i < j->spec->n_nodes; i++)
                if (j->ctl[i].task)
                        task_kill(j->ctl[i].task);
}

/* ---- the end of a job ------------------------------------------------------------------------- */

bool job_is_finished(const Job *j) {
        return job_state_is_final(j->run->state);
}

bool job_is_settled(const Job *j) {
        return job_is_finished(j) && !j->dag && j->final_gen == 0;
}

static JobState job_final_state(Job *j, Reason *ret_reason) {
        size_t counts[_NODE_STATE_MAX];

        if (j->timed_out) {
                *ret_reason = (Reason){ .kind = REASON_TIMEOUT };
                return JOB_FAILED;
        }
        if (j->run->cancel_requested) {
                *ret_reason = (Reason){ .kind = REASON_CANCELLED };
                return JOB_CANCELLED;
        }
        for (uint32_t i = 0; i < j->spec->n_nodes; i++)
                if (j->run->nodes[i].state == NODE_FAILED && !j->spec->nodes[i].allow_failure) {
                        *ret_reason = j->run->reason.kind != REASON_NONE ? j->run->reason :
                                                                           j->run->nodes[i].reason;
                        return JOB_FAILED;
                }
        job_run_count(j->run, counts);
        if (counts[NODE_CANCELLED] > 0) {
                *ret_reason = (Reason){ .kind = REASON_CANCELLED };
                return JOB_CANCELLED;
        }
        *ret_reason = (Reason){};
        return JOB_SUCCEEDED;
}

static void job_check_finished(Job *j) {
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
        log_event(LOG_NOTICE,
                  LOG_EV(.message_id = ORCH_MESSAGE_JOB_FINISHED, .job = j->id, .job_name = j->spec->name,
                         .state = job_state_to_string(s),
                         .reason = reason_to_string(reason, rbuf, sizeof(rbuf))),
                  "Job %" PRIu64 " (%s) %s%s%s.", j->id, j->spec->name, job_state_to_string(s),
                  reason.kind != REASON_NONE ? ": " : "", reason_to_string(reason, rbuf, sizeof(rbuf)) ?: "");
}

json_object *job_status_reply(const Job *j) {
        return statusenc_job_reply(j->spec, j->run); /* no tree of the whole job: see statusenc.h */
}

static void job_answer_waiters(Job *j) {
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

/* Drop what only a running job needs; spec and run stay for status queries. */
static void job_release_runtime(Job *j) {
        if (j->ctl) {
                for (uint32_t i = 0; i < j->spec->n_nodes; i++) {
                        j->ctl[i].task = task_free(j->ctl[i].task);
                        j->ctl[i].retry_timer = sd_event_source_disable_unref(j->ctl[i].retry_timer);
                }
                j->ctl = mfree(j->ctl);
        }
        j->dag = dag_free(j->dag);
        j->timeout_source = sd_event_source_disable_unref(j->timeout_source);
        j->retry_ready = mfree(j->retry_ready);
        j->n_retry_ready = j->cap_retry_ready = 0;
        j->pending = mfree(j->pending);
        j->n_pending = j->cap_pending = 0;
        j->await_spawn = mfree(j->await_spawn);
        j->n_await_spawn = j->cap_await_spawn = 0;
        j->logs_fd = safe_close(j->logs_fd);
        j->starts_fd = safe_close(j->starts_fd);
}

/* ---- journal ---------------------------------------------------------------------------------- */

static void assign_gen(struct JobPending *list, size_t n, uint64_t gen) {
        for (size_t k = 0; k < n; k++)
                if (list[k].gen == BARRIER_UNFLUSHED)
                        list[k].gen = gen;
}

int job_flush(Job *j, uint64_t gen_next) {
        char dir[24];
        bool snapshot;
        char *buf;
        size_t len;
        int r;

        j->in_dirty_list = false;
        if (j->n_dirty == 0 && !j->job_dirty)
                return 0;
        /* By name, not an open fd: a commit of many jobs must not need an fd each. When it is written, an
         * accepted job is jobs/ID, not jobs/.#ID: its publishing comes first in the committer. */
        snprintf(dir, sizeof(dir), "%" PRIu64, j->id);

        /* Compact when the journal files outgrow the snapshot (amortized O(1) per change), and at the end
         * so a finished job loads from one file. */
        snapshot = job_is_finished(j) ||
                j->journal_bytes > MAX((size_t) SNAPSHOT_MIN_BYTES, j->snapshot_bytes);
        j->seq++;
        if (snapshot)
                buf = journal_build_snapshot(j->spec, j->run, j->seq, &len);
        else
                buf = journal_build_segment(j->spec, j->run, j->seq, j->job_dirty, j->dirty, j->n_dirty, &len);
        if (!buf)
                return -ENOMEM;
        r = committer_add(j->manager->committer, spool_jobs_fd(j->manager->spool), dir,
                          snapshot ? COMMIT_SNAPSHOT : COMMIT_SEGMENT, j->seq, buf, len);
        if (r < 0)
                return r;
        if (snapshot) {
                j->snapshot_bytes = len;
                j->journal_bytes = 0;
        } else
                j->journal_bytes += len;
        if (j->watch)
                watch_job_flush(j, gen_next);
        j->n_dirty = 0;
        j->job_dirty = false;

        j->flushed_gen = gen_next;
        assign_gen(j->pending, j->n_pending, gen_next);
        assign_gen(j->await_spawn, j->n_await_spawn, gen_next);
        if (j->skip_gen == BARRIER_UNFLUSHED)
                j->skip_gen = gen_next;
        if (j->final_gen == BARRIER_UNFLUSHED)
                j->final_gen = gen_next;
        return 0;
}

static bool durable(uint64_t barrier, uint64_t gen) {
        return barrier != BARRIER_UNFLUSHED && barrier <= gen;
}

static void release_spawns(Job *j, uint64_t gen) {
        size_t k = 0, w = 0;

        for (; k < j->n_await_spawn; k++) {
                struct JobPending *p = &j->await_spawn[k];

                if (!durable(p->gen, gen)) {
                        j->await_spawn[w++] = *p;
                        continue;
                }
                if (j->run->nodes[p->node].state != NODE_RUNNING)
                        continue;
                if (!j->ctl[p->node].task)
                        node_spawn(j, p->node);
        }
        j->n_await_spawn = w;
}

static void release_completions(Job *j, uint64_t gen) {
        size_t k = 0;

        /* In order: entries are appended as nodes end and flushed in that order, so a prefix is durable. */
        while (k < j->n_pending && durable(j->pending[k].gen, gen)) {
                int r = dag_complete(j->dag, j->pending[k].node, j->pending[k].outcome, skip_cb, j);

                if (r < 0 && r != -EALREADY)
                        log_error_errno(r, "Job %" PRIu64 ": DAG refused completion of node %s: %m", j->id,
                                        node_id(j, j->pending[k].node));
                k++;
        }
        if (k == 0)
                return;
        memmove(j->pending, j->pending + k, (j->n_pending - k) * sizeof(struct JobPending));
        j->n_pending -= k;
}

void job_on_durable(Job *j, uint64_t gen) {
        if (j->watch)
                watch_job_durable(j, gen);
        if (j->hold_gen != 0 && durable(j->hold_gen, gen))
                j->hold_gen = 0; /* the acceptance is durable: jobs/ID stays (before release_spawns) */
        if (j->dag) {
                release_spawns(j, gen);
                release_completions(j, gen);
                if (durable(j->skip_gen, gen))
                        j->skip_gen = 0;
                job_check_finished(j);
        }
        if (j->final_gen != 0 && durable(j->final_gen, gen)) {
                j->final_gen = 0;
                /* Every attempt's end is durable: nothing of the job can be left running. */
                starts_remove(j);
                job_answer_waiters(j);
                watch_job_end(j);
                job_release_runtime(j);
                manager_job_settled(j->manager, j);
                if (j->spec->n_nodes >= BIG_JOB_NODES)
                        manager_trim_soon(j->manager);
        }
        manager_schedule_soon(j->manager);
}

/* ---- construction and recovery ---------------------------------------------------------------- */

/* orchd as root runs each node as the job's owner (SPEC §8): the account named when the job was accepted
 * (run->user, in the journal), which orchd-exec resolves at every node start (its uid must still be that
 * name; gid and supplementary groups are the account's at that moment). Root-owned jobs, and every job of a
 * daemon that is not root (it only accepts its own user's), run as the daemon. */
static void job_build_cred(Job *j) {
        if (geteuid() != 0 || j->run->uid == 0)
                return;
        j->use_cred = true;
        if (!j->run->user) {
                j->cred_error = -ESRCH; /* no name was recorded: never run as a bare uid */
                return;
        }
        j->cred = (TaskCred){ .uid = j->run->uid, .user = j->run->user };
}

/* The owner's account is looked up once per job: getpwuid() reads /etc/passwd (or NSS), too slow to repeat
 * for every attempt of a 100,000-node job. The base environment may have been built ahead (JobPrep). */
static int job_build_env(Job *j) {
        struct passwd *pw = getpwuid(j->run->uid);
        NodeEnvOwner owner = {};

        job_build_cred(j);
        if (pw) {
                owner = (NodeEnvOwner){ .home = pw->pw_dir, .user = pw->pw_name, .shell = pw->pw_shell };
                if (pw->pw_dir && pw->pw_dir[0] == '/') {
                        j->home = strdup(pw->pw_dir);
                        if (!j->home)
                                return -ENOMEM;
                }
        }
        if (j->base_env)
                return 0;
        return nodeenv_base_new(&owner, getenv("LANG"), j->spec->env, &j->base_env);
}

/* Kill the process group of attempt `attempt` of node i if pid still names the process that started at
 * pid_start (so a reused pid is never hit). */
static void kill_orphan_group(Job *j, uint32_t i, unsigned attempt, pid_t pid, uint64_t pid_start) {
        int r;

        if (pid <= 0)
                return;
        r = proc_kill_group_if_same(pid, pid_start);
        if (r > 0)
                log_event(LOG_NOTICE,
                          LOG_EV(.message_id = ORCH_MESSAGE_RECOVERY, .job = j->id, .node = node_id(j, i),
                                 .attempt = attempt, .reason = "orphan-killed"),
                          "Job %" PRIu64
                          " node %s: killed process group %d (attempt %u) left running by the previous orchd.",
                          j->id, node_id(j, i), (int) pid, attempt);
        else if (r < 0)
                log_warning_errno(
                        r, "Job %" PRIu64 " node %s: cannot check process %d of the previous orchd: %m",
                        j->id, node_id(j, i), (int) pid);
}

/* A node recorded as running when the daemon died may still be running: its process group was in a
 * session of its own and outlived us. Kill it before it is rerun (or failed), so two attempts of one node
 * never overlap. */
static void kill_orphan(Job *j, uint32_t i) {
        NodeRun *n = &j->run->nodes[i];

        kill_orphan_group(j, i, n->attempt, n->pid, n->pid_start);
        n->pid = 0;
        n->pid_start = 0;
}

/* One line of the starts file; false for a torn or foreign line. */
static bool starts_parse(const char *line, uint32_t *node, unsigned *attempt, pid_t *pid, uint64_t *pid_start) {
        int p, end = 0;

        if (sscanf(line, "%" SCNu32 " %u %d %" SCNu64 "%n", node, attempt, &p, pid_start, &end) != 4 ||
            line[end] != '\n')
                return false;
        *pid = p;
        return true;
}

/* Every attempt that may have exec'd is in the starts file (node_spawn), the journal knows those whose
 * record became durable. For the others: kill what is left of them and take their attempt numbers, which
 * count as interrupted. A running node whose journal record lacks the pid gets it from here. */
static void starts_replay(Job *j) {
        _cleanup_close_ int dir_fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        int r;

        dir_fd = r = manager_open_job_dir(j->manager, j->id);
        if (r >= 0)
                r = read_file_at(dir_fd, STARTS_FILE, STARTS_MAX_BYTES, &buf, &size);
        if (r == -ENOENT)
                return;
        if (r < 0) {
                log_warning_errno(r,
                                  "Job %" PRIu64 ": cannot read its file " STARTS_FILE
                                  ", so processes of attempts whose start was not in the journal yet are not "
                                  "looked for: %m",
                                  j->id);
                return;
        }
        for (char *line = buf, *nl; (nl = memchr(line, '\n', size - (size_t) (line - buf))); line = nl + 1) {
                uint64_t pid_start;
                unsigned attempt;
                uint32_t i;
                pid_t pid;
                NodeRun *n;

                if (!starts_parse(line, &i, &attempt, &pid, &pid_start) || i >= j->spec->n_nodes ||
                    attempt > UINT16_MAX)
                        continue;
                n = &j->run->nodes[i];
                if (attempt == n->attempt && n->state == NODE_RUNNING && n->pid <= 0) {
                        n->pid = pid; /* the journal has the attempt, not yet its pid */
                        n->pid_start = pid_start;
                } else if (attempt > n->attempt) {
                        kill_orphan_group(j, i, attempt, pid, pid_start);
                        n->interrupted = (uint16_t) MIN((unsigned) n->interrupted + (attempt - n->attempt),
                                                        (unsigned) UINT16_MAX);
                        n->attempt = (uint16_t) attempt;
                        mark_node_dirty(j, i);
                }
        }
}

/* Apply what a restart means to each node (SPEC §4): running ones by on_interrupt, retry_wait ones get
 * their timers back; then the DAG is rebuilt from what has ended. */
static int job_recover(Job *j) {
        size_t n = j->spec->n_nodes;
        _cleanup_free_ int8_t *outcome = calloc(n, sizeof(int8_t));
        _cleanup_free_ bool *active = calloc(n, sizeof(bool));
        uint64_t now = now_realtime_usec();
        bool any_failed = false;

        if (n > 0 && (!outcome || !active))
                return -ENOMEM;
        starts_replay(j);
        for (uint32_t i = 0; i < n; i++) {
                NodeRun *nr = &j->run->nodes[i];

                if (nr->state == NODE_RUNNING) {
                        kill_orphan(j, i);
                        slot_take(j); /* node_crash_interrupted() releases it */
                        node_crash_interrupted(j, i);
                }
                if (nr->state == NODE_RETRY_WAIT) {
                        int r = arm_retry_timer(j, i, nr->retry_at > now ? nr->retry_at - now : 0);

                        if (r < 0)
                                return r;
                        active[i] = true;
                }
                outcome[i] = node_state_is_final(nr->state) ? (int8_t) outcome_of(nr->state) : -1;
                any_failed = any_failed || (nr->state == NODE_FAILED && !j->spec->nodes[i].allow_failure);
        }
        /* The restored DAG already knows every recorded end, including ones made just now. */
        j->n_pending = 0;
        dag_restore(j->dag, outcome, active, skip_cb, j);
        /* Nothing starts until what recovery changed is durable. */
        j->skip_gen = BARRIER_UNFLUSHED;
        mark_job_dirty(j);

        arm_job_timeout(j);
        if (j->run->cancel_requested)
                job_stop_all(j, STOP_CANCEL, NODE_CANCELLED);
        else if (j->spec->fail_fast && any_failed)
                job_fire_fail_fast(j);
        job_check_finished(j);
        return 0;
}

/* What driving the job needs besides spec and run: its environment, DAG and per-node control (the logs
 * directory follows at the first start, job_open_logs()). Undone by job_release_runtime(). */
static int job_build_runtime(Job *j) {
        int r;

        if (!j->base_env) {
                r = job_build_env(j);
                if (r < 0)
                        return r;
        }
        if (!j->dag) {
                r = jobprep_build_dag(j->spec, &j->dag);
                if (r < 0)
                        return r;
        }
        j->ctl = calloc(MAX(j->spec->n_nodes, (size_t) 1), sizeof(NodeCtl)); /* see node_ctl() */
        if (!j->ctl)
                return -ENOMEM;
        return 0;
}

int job_new(Manager *m, JobSpec *spec, JobRun *run, JobPrep *prep_in, Job **ret) {
        _cleanup_(jobprep_freep) JobPrep *prep = prep_in;
        _cleanup_(job_freep) Job *j = NULL;
        int r;

        j = calloc(1, sizeof(*j));
        if (!j) {
                jobspec_free(spec);
                job_run_free(run);
                return -ENOMEM;
        }
        *j = (Job){
                .manager = m, .id = run->id, .spec = spec, .run = run, .logs_fd = -EBADF, .starts_fd = -EBADF
        };

        /* A finished job keeps only spec and run, for status queries (and a manual retry). */
        if (!job_is_finished(j)) {
                if (prep) { /* built ahead, off the loop: the env base borrows spec's strings, which j now owns */
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

int job_activate(Job *j) {
        const JobRun *run = j->run;

        if (!j->dag)
                return 0;
        if (run->state == JOB_QUEUED && run->started_at == 0 && !run->cancel_requested) {
                bool fresh = true;

                for (uint32_t i = 0; i < j->spec->n_nodes && fresh; i++)
                        fresh = run->nodes[i].state == NODE_PENDING && run->nodes[i].attempt == 0;
                if (fresh) {
                        /* Perhaps just accepted, the acceptance in the committer's open batch: the first
                         * nodes wait for it to be durable (begin_attempt). */
                        j->hold_gen = committer_next_gen(j->manager->committer);
                        dag_start(j->dag);
                        manager_schedule_soon(j->manager);
                        return 0;
                }
        }
        return job_recover(j);
}

/* ---- manual retry ----------------------------------------------------------------------------- */

/* Mark the seeds and everything downstream of them (breadth first over the DAG's dependents); return the
 * marked node indices in spec order. */
static int retry_select(Job *j, const uint32_t *seeds, size_t n_seeds, uint32_t **ret, size_t *ret_n) {
        size_t n = j->spec->n_nodes, head = 0, tail = 0, k = 0;
        _cleanup_free_ bool *mark = calloc(MAX(n, (size_t) 1), sizeof(bool));
        _cleanup_free_ uint32_t *queue = calloc(MAX(n, (size_t) 1), sizeof(uint32_t));

        if (!mark || !queue)
                return -ENOMEM;
        for (size_t s = 0; s < n_seeds; s++)
                if (!mark[seeds[s]])
                        mark[seeds[s]] = true, queue[tail++] = seeds[s];
        while (head < tail) {
                size_t n_deps;
                const uint32_t *deps = dag_dependents(j->dag, queue[head++], &n_deps);

                for (size_t d = 0; d < n_deps; d++)
                        if (!mark[deps[d]])
                                mark[deps[d]] = true, queue[tail++] = deps[d];
        }
        for (uint32_t i = 0; i < n; i++)
                if (mark[i])
                        queue[k++] = i;
        *ret = TAKE_PTR(queue);
        *ret_n = k;
        return 0;
}

/* Without names: every node that did not succeed. */
static int retry_default_seeds(Job *j, uint32_t **ret, size_t *ret_n) {
        uint32_t *seeds = calloc(MAX(j->spec->n_nodes, (size_t) 1), sizeof(uint32_t));
        size_t k = 0;

        if (!seeds)
                return -ENOMEM;
        for (uint32_t i = 0; i < j->spec->n_nodes; i++)
                if (j->run->nodes[i].state != NODE_SUCCEEDED)
                        seeds[k++] = i;
        *ret = seeds;
        *ret_n = k;
        return 0;
}

int job_retry(Job *j, const uint32_t *nodes, size_t n_nodes, uint32_t **ret_nodes, size_t *ret_n,
              uint64_t *ret_holder) {
        _cleanup_free_ uint32_t *seeds = NULL, *sel = NULL;
        size_t n_sel = 0;
        int r;

        *ret_nodes = NULL;
        *ret_n = 0;
        if (!job_is_settled(j))
                return -EBUSY;
        if (j->spec->key) {
                *ret_holder = manager_key_holder(j->manager, j->spec->key, j->run->uid);
                if (*ret_holder != 0)
                        return -EADDRINUSE;
        }
        r = job_build_runtime(j); /* the DAG tells what is downstream */
        if (r >= 0 && !nodes) {
                r = retry_default_seeds(j, &seeds, &n_nodes);
                nodes = seeds;
        }
        if (r >= 0)
                r = retry_select(j, nodes, n_nodes, &sel, &n_sel);
        if (r < 0 || n_sel == 0) {
                job_release_runtime(j);
                return r < 0 ? r : 0;
        }

        r = manager_job_retried(j->manager, j);
        if (r < 0) {
                job_release_runtime(j);
                return r;
        }
        for (size_t k = 0; k < n_sel; k++) {
                node_run_reset_for_retry(&j->run->nodes[sel[k]]);
                mark_node_dirty(j, sel[k]);
        }
        job_run_reset_for_retry(j->run);
        j->timed_out = false;
        j->fail_fast_fired = false;
        mark_job_dirty(j);
        log_info("Job %" PRIu64 " (%s): retrying %zu node(s).", j->id, j->spec->name, n_sel);

        /* From here on it is a restart from the records: the DAG learns which nodes ended. */
        r = job_recover(j);
        if (r < 0)
                return r;
        *ret_nodes = TAKE_PTR(sel);
        *ret_n = n_sel;
        return 0;
}

Job *job_free(Job *j) {
        if (!j)
                return NULL;
        for (size_t k = 0; k < j->n_waiters; k++) {
                control_call_set_disconnect_callback(j->waiters[k], NULL, NULL); /* j is going away */
                control_call_unref(j->waiters[k]);
        }
        free(j->waiters);
        j->watch = watch_free(j->watch);
        job_release_runtime(j);
        free(j->dirty);
        nodeenv_base_free(j->base_env);
        free(j->home);
        jobspec_free(j->spec);
        job_run_free(j->run);
        return mfree(j);
}
