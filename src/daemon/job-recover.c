/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * job-recover.c — a job after orchd stopped or died under it, and manual retry.
 *
 * Owns: the on_interrupt rules of SPEC §4 (rerun, or fail; reruns after a
 * crash capped by MaxInterruptedReruns=), the orphans a dead orchd left
 * behind (killed by pid and start time, from the journal and the starts
 * file, before anything reruns), rebuilding the DAG from the recorded ends,
 * and the manual retry of a settled job (SPEC §5).
 * Invariants: two attempts of one node never overlap (an orphan is killed
 * before the node runs again); nothing starts until what recovery changed
 * is durable (skip_gen); a reused pid is never killed.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "job-internal.h"
#include "log.h"
#include "macro.h"
#include "nodeid.h"
#include "procutil.h"
#include "supervise-wire.h"

#define STARTS_MAX_BYTES (256U * 1024U * 1024U)

/* on_interrupt: the daemon stopped (or crashed) while node i ran. The node holds a slot, released here. */
void node_interrupted(Job *j, uint32_t i) {
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

/* The daemon (recovery) or the node's keeper died while node i ran. Rerun like any interruption, but only
 * MaxInterruptedReruns= times in a row (crash_reruns, in the node's record, survives the restarts), so a
 * node that takes the daemon or its keeper down with it cannot loop for ever. A clean stop (SIGTERM)
 * neither counts nor resets. who: "orchd" or "its keeper". */
void node_crash_interrupted(Job *j, uint32_t i, const char *who) {
        NodeRun *n = &j->run->nodes[i];
        uint64_t max = j->host->conf->max_interrupted_reruns;

        if (j->spec->nodes[i].on_interrupt == ON_INTERRUPT_RERUN && max > 0 && n->crash_reruns >= max) {
                /* node_end() logs the end itself; this says why. */
                log_warning("Job %" PRIu64
                            " node %s was running when %s died, %u times in a row; "
                            "not running it again (MaxInterruptedReruns=%" PRIu64 ").",
                            j->id, node_id(j, i), who, (unsigned) n->crash_reruns + 1, max);
                node_end(j, i, NODE_FAILED, (Reason){ .kind = REASON_INTERRUPTED }, true);
                return;
        }
        if (j->spec->nodes[i].on_interrupt == ON_INTERRUPT_RERUN && n->crash_reruns < UINT16_MAX)
                n->crash_reruns++;
        node_interrupted(j, i);
}

/* ---- orphans of the previous orchd ------------------------------------------------------------ */

/* How long killing an orphan waits for it to die (SIGKILL: a few ms, unless it sleeps in the kernel), so
 * that its rerun does not start beside it. */
#define ORPHAN_EXIT_WAIT_MSEC 2000

/* Kill the process group of attempt `attempt` of node i if pid still names the process that started at
 * pid_start (so a reused pid is never hit). */
static void kill_orphan_group(Job *j, uint32_t i, unsigned attempt, pid_t pid, uint64_t pid_start) {
        int r;

        if (pid <= 0)
                return;
        r = proc_kill_group_if_same(pid, pid_start, ORPHAN_EXIT_WAIT_MSEC);
        if (r > 0)
                log_event(
                        LOG_NOTICE,
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
static bool starts_parse(const char *line, uint32_t *node, unsigned *attempt, pid_t *pid,
                         uint64_t *pid_start) {
        int p, end = 0;

        if (sscanf(line, "%" SCNu32 " %u %d %" SCNu64 "%n", node, attempt, &p, pid_start, &end) != 4 ||
            line[end] != '\n')
                return false;
        *pid = p;
        return true;
}

/* The realtime of a process start given in clock ticks since boot (procutil.h); 0 if unknown. */
static uint64_t start_realtime(uint64_t pid_start) {
        struct timespec ts;
        long hz = sysconf(_SC_CLK_TCK);
        uint64_t boot, since;

        if (hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
                return 0;
        boot = (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000U;
        since = pid_start / (uint64_t) hz * USEC_PER_SEC +
                pid_start % (uint64_t) hz * USEC_PER_SEC / (uint64_t) hz;
        return since > boot ? 0 : now_realtime_usec() - (boot - since);
}

/* The next attempt of a node the journal has pending (or waiting to retry) is in the starts file: its start
 * was held for the commit of an end (job_defer_start()) that orchd did not live to make. The starts record
 * stands for it: the node is running again as attempt `attempt`, so job_recover() adopts it from its keeper,
 * takes its recorded end, or applies on_interrupt (killing what is left by pid and start time) exactly as
 * for a start that was committed. Returns whether it did so. */
static bool starts_adopt(Job *j, uint32_t i, unsigned attempt, pid_t pid, uint64_t pid_start) {
        NodeRun *n = &j->run->nodes[i];

        if (!j->host->keepers || attempt != (unsigned) n->attempt + 1 || pid <= 0 ||
            (n->state != NODE_PENDING && n->state != NODE_RETRY_WAIT) ||
            (j->run->state != JOB_QUEUED && j->run->state != JOB_RUNNING && j->run->state != JOB_PAUSED) ||
            j->run->cancel_requested)
                return false;
        node_run_set_state(n, NODE_RUNNING);
        n->attempt = (uint16_t) attempt;
        n->pid = pid;
        n->pid_start = pid_start;
        n->started_at = start_realtime(pid_start) ?: now_realtime_usec();
        n->finished_at = 0;
        n->retry_at = 0;
        n->exit_code = -1;
        n->signal = 0;
        n->reason = (Reason){};
        mark_node_dirty(j, i);
        if (j->run->state == JOB_QUEUED) { /* its first start was held too */
                job_run_set_state(j->run, JOB_RUNNING);
                j->run->started_at = n->started_at;
                mark_job_dirty(j);
        }
        log_info("Job %" PRIu64
                 " node %s: attempt %u was started before orchd stopped, its start not yet "
                 "in the journal; taking it from the starts file.",
                 j->id, node_id(j, i), attempt);
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

        dir_fd = r = open_job_dir(j);
        if (r >= 0)
                r = read_file_at(dir_fd, STARTS_FILE, STARTS_MAX_BYTES, &buf, &size);
        if (r == -ENOENT)
                return;
        if (r < 0) {
                log_warning_errno(
                        r,
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
                } else if (starts_adopt(j, i, attempt, pid, pid_start)) {
                        continue;
                } else if (attempt > n->attempt) {
                        kill_orphan_group(j, i, attempt, pid, pid_start);
                        n->interrupted = (uint16_t) MIN((unsigned) n->interrupted + (attempt - n->attempt),
                                                        (unsigned) UINT16_MAX);
                        n->attempt = (uint16_t) attempt;
                        mark_node_dirty(j, i);
                }
        }
}

/* ---- attempts that outlived orchd ------------------------------------------------------------- */

/* The end of attempt `attempt` of node i in the job's ends file (written by its keeper before it reported
 * it), if there. buf: the file, read once per recovery. */
static bool ends_find(Job *j, const char *buf, size_t size, uint32_t i, unsigned attempt, TaskResult *ret) {
        for (const char *line = buf, *nl; buf && (nl = memchr(line, '\n', size - (size_t) (line - buf)));
             line = nl + 1) {
                char copy[1024];
                uint32_t node;
                unsigned a;

                if ((size_t) (nl - line) >= sizeof(copy))
                        continue;
                memcpy(copy, line, (size_t) (nl - line));
                copy[nl - line] = '\0';
                if (task_end_parse(copy, &node, &a, ret) >= 0 && node == i && a == attempt)
                        return true;
        }
        return false;
}

/* The adopted attempt's cgroup is not a leftover: the sweep at start leaves it (its keeper holds it). */
static void node_keep_cgroup(Job *j, uint32_t i) {
        char log_name[NODEID_LOG_NAME_SIZE];
        int r;

        (void) nodeid_log_name(j->spec->nodes[i].id, j->run->nodes[i].attempt, log_name);
        r = cgroups_keep(j->host->cgroups, j->run->uid, j->id, log_name);
        if (r < 0)
                log_warning_errno(r, "Job %" PRIu64 " node %s: cannot spare the cgroup of its attempt: %m",
                                  j->id, node_id(j, i));
}

/* Node i was running when orchd stopped: its attempt may have ended meanwhile (recorded in "ends": the end
 * is handed to the job on the first iteration, as if it had just happened), or run on in its keeper
 * (adopted). Returns true when so; false: it is gone without a record, on_interrupt applies. */
static bool node_readopt(Job *j, uint32_t i, const char *ends, size_t ends_size) {
        NodeRun *n = &j->run->nodes[i];
        KeeperKey key = { .job = j->id, .node = i, .attempt = n->attempt };
        TaskResult res;
        pid_t pid;
        int r;

        if (ends_find(j, ends, ends_size, i, n->attempt, &res)) {
                r = keeper_task_new_ended(j->host->event, &key, &res, job_on_task_exit, node_ctl(j, i),
                                          &j->ctl[i].task);
                if (r < 0)
                        return false;
                log_info("Job %" PRIu64 " node %s attempt %u ended while orchd was down; taking its end.",
                         j->id, node_id(j, i), n->attempt);
        } else {
                r = keeper_task_adopt(j->host->keepers, j->run->uid, &key, job_on_task_exit,
                                      job_on_task_output, node_ctl(j, i), &j->ctl[i].task, &pid, &n->frozen);
                if (r < 0)
                        return false;
                log_info("Job %" PRIu64 " node %s attempt %u runs on in its keeper (pid %d): adopted.",
                         j->id, node_id(j, i), n->attempt, (int) pid);
                node_keep_cgroup(j, i);
        }
        slot_take(j);
        return true;
}

/* ---- a keeper lost while orchd runs ----------------------------------------------------------- */

/* The pid and start time of attempt `attempt` of node i in the starts file (its child wrote them before
 * it exec'd), for an attempt whose keeper died before it could report them. Returns whether found. */
static bool starts_find(int dir_fd, uint32_t i, unsigned attempt, pid_t *ret_pid, uint64_t *ret_start) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;

        if (dir_fd < 0 || read_file_at(dir_fd, STARTS_FILE, STARTS_MAX_BYTES, &buf, &size) < 0)
                return false;
        for (char *line = buf, *nl; (nl = memchr(line, '\n', size - (size_t) (line - buf))); line = nl + 1) {
                uint64_t start;
                uint32_t node;
                unsigned a;
                pid_t pid;

                if (starts_parse(line, &node, &a, &pid, &start) && node == i && a == attempt && pid > 0) {
                        *ret_pid = pid;
                        *ret_start = start;
                        return true;
                }
        }
        return false;
}

bool node_supervisor_lost(Job *j, uint32_t i, TaskResult *res) {
        NodeRun *n = &j->run->nodes[i];
        _cleanup_close_ int dir_fd = open_job_dir(j);
        _cleanup_free_ char *ends = NULL;
        size_t size = 0;
        TaskResult recorded;

        if (dir_fd >= 0 && read_file_at(dir_fd, ENDS_FILE, STARTS_MAX_BYTES, &ends, &size) >= 0 &&
            ends_find(j, ends, size, i, n->attempt, &recorded)) {
                log_info("Job %" PRIu64
                         " node %s attempt %u: its keeper went away after recording its end; "
                         "taking that end.",
                         j->id, node_id(j, i), n->attempt);
                *res = recorded;
                return false;
        }
        /* Its keeper died before it said STARTED (or it said so, unread): the child's own record knows. */
        if (n->pid <= 0 && starts_find(dir_fd, i, n->attempt, &n->pid, &n->pid_start))
                log_debug("Job %" PRIu64 " node %s attempt %u: its pid %d taken from the starts file.",
                          j->id, node_id(j, i), n->attempt, (int) n->pid);
        /* By pid and start time, so a reused pid is never hit. With a cgroup, node_task_release() then
         * kills what is left in it (setsid'd escapees too) and waits for it to empty: no wait here. */
        if (n->pid > 0)
                (void) proc_kill_group_if_same(
                        n->pid, n->pid_start, cgroups_enabled(j->host->cgroups) ? 0 : ORPHAN_EXIT_WAIT_MSEC);
        log_event(LOG_WARNING,
                  LOG_EV(.message_id = ORCH_MESSAGE_RECOVERY, .job = j->id, .node = node_id(j, i),
                         .attempt = n->attempt, .reason = "keeper-lost"),
                  "Job %" PRIu64
                  " node %s attempt %u: its keeper went away without recording its end; what "
                  "is left of the attempt is killed, and on_interrupt applies.",
                  j->id, node_id(j, i), n->attempt);
        return true;
}

/* ---- restart rules ---------------------------------------------------------------------------- */

/* Apply what a restart means to each node (SPEC §4): running ones by on_interrupt, retry_wait ones get
 * their timers back; then the DAG is rebuilt from what has ended. */
/* Whether node i's recorded end is one of its abort_on_exit codes: the end that aborted the job. */
static bool node_end_aborts(const Job *j, uint32_t i) {
        const NodeRun *nr = &j->run->nodes[i];

        return (nr->state == NODE_SUCCEEDED ||
                (nr->state == NODE_FAILED && nr->reason.kind == REASON_EXIT)) &&
                abort_on_exit_matches(&j->spec->nodes[i].abort_on_exit, nr->exit_code);
}

int job_recover(Job *j) {
        size_t n = j->spec->n_nodes;
        _cleanup_free_ int8_t *outcome = calloc(n, sizeof(int8_t));
        _cleanup_free_ bool *active = calloc(n, sizeof(bool));
        bool any_failed = false;

        _cleanup_free_ char *ends = NULL;
        size_t ends_size = 0;

        if (n > 0 && (!outcome || !active))
                return -ENOMEM;
        starts_replay(j);
        if (j->host->keepers) {
                _cleanup_close_ int dir_fd = open_job_dir(j);

                if (dir_fd < 0 || read_file_at(dir_fd, ENDS_FILE, STARTS_MAX_BYTES, &ends, &ends_size) < 0)
                        ends = mfree(ends);
        }
        for (uint32_t i = 0; i < n; i++) {
                NodeRun *nr = &j->run->nodes[i];

                if (nr->state == NODE_RUNNING && j->host->keepers && node_readopt(j, i, ends, ends_size))
                        active[i] = true;
                else if (nr->state == NODE_RUNNING) {
                        kill_orphan(j, i);
                        slot_take(j); /* node_crash_interrupted() releases it */
                        node_crash_interrupted(j, i, "orchd");
                }
                if (nr->state == NODE_RETRY_WAIT) {
                        int r = arm_retry_timer(j, i, nr->retry_at);

                        if (r < 0)
                                return r;
                        active[i] = true;
                }
                if (!node_state_is_final(nr->state))
                        outcome[i] = -1;
                else if (nr->state == NODE_SKIPPED && nr->reason.kind == REASON_UPSTREAM)
                        outcome[i] = DAG_RULE_SKIPPED; /* counts as its dependencies made it */
                else
                        outcome[i] = (int8_t) outcome_of(nr->state);
                any_failed = any_failed || (node_counts_failed(j, i) && !j->spec->nodes[i].allow_failure);
                /* The abort decision is durable as the end it came from: a crash after it cannot resume
                 * the job. */
                if (!j->aborted && node_end_aborts(j, i)) {
                        j->aborted = true;
                        j->abort_node = i;
                        j->abort_code = (uint8_t) nr->exit_code;
                }
        }
        /* The restored DAG already knows every recorded end, including ones made just now. */
        j->n_pending = 0;
        dag_restore(j->dag, outcome, active, node_skipped_cb, j);
        /* Nothing starts until what recovery changed is durable. */
        j->skip_gen = BARRIER_UNFLUSHED;
        mark_job_dirty(j);

        arm_job_timeout(j);
        if (j->run->cancel_requested)
                job_stop_all(j, STOP_CANCEL, NODE_CANCELLED);
        else if (j->aborted)
                job_stop_all(j, STOP_ABORT, NODE_SKIPPED);
        else if (j->spec->fail_fast && any_failed)
                job_fire_fail_fast(j);
        job_check_finished(j);
        return 0;
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
        /* The node whose end aborted the job runs again too: left as it is, its recorded end would abort
         * the retried job at once (job_recover() re-derives the abort from it). */
        for (uint32_t i = 0; i < n; i++)
                if (!mark[i] && node_end_aborts(j, i))
                        mark[i] = true, queue[tail++] = i;
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
                *ret_holder = j->host->ops->key_holder(j->host->userdata, j->spec->key, j->run->uid);
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

        r = j->host->ops->retried(j->host->userdata, j);
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
        j->cancel_forced = false;
        j->aborted = false;
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
