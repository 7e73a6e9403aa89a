/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * job-spawn.c — starting a job's nodes.
 *
 * Owns: taking the slots the host grants (job_start_ready()), the attempt's
 * start (begin_attempt()), the job's logs directory fd and its "starts" file,
 * spawning the task through supervise.c as the job's owner, the owner's
 * account and base environment, and the runtime a started job needs (its DAG
 * and per-node control, job_build_runtime()/job_release_runtime(), which
 * releases its cgroup directories too).
 * Invariants:
 *   - no node execs before its attempt and pid are in the job's "starts" file
 *     (written by the child itself before its exec, or before the gate opens:
 *     supervise.h), so the next start finds every process a crash left behind;
 *   - a node with on_interrupt=fail is spawned only once its start is durable
 *     (it waits in await_spawn, released by job-journal.c); others start at
 *     once, even before the job's acceptance is durable (spool-accept.c
 *     completes it at the next start if a crash came first);
 *   - attempt numbers and logs are never reused;
 *   - fds follow running nodes: the logs and starts fds are open only while
 *     the job holds a slot.
 * The one file the job writes itself is "starts" (unsynced appends).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "daemon-conf.h"
#include "exec-proto.h"
#include "fsutil.h"
#include "job-internal.h"
#include "jobprep.h"
#include "log.h"
#include "macro.h"
#include "nodeenv.h"
#include "nodeid.h"
#include "procutil.h"
#include "protocol.h"
#include "pwcache.h"
#include "spawnrec.h"

/* Attempt numbers skipped in one start because NODE.N.log exists (attempts lost with a crash). */
#define LOG_TAKEN_MAX 1000U

/* ---- the owner -------------------------------------------------------------------------------- */

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
int job_build_env(Job *j) {
        const struct passwd *pw = pwcache_getpwuid(j->run->uid);
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

static int job_open_logs(Job *j);

void job_close_fds(Job *j) {
        j->logs_fd = safe_close(j->logs_fd);
        j->starts_fd = safe_close(j->starts_fd);
        j->ends_fd = safe_close(j->ends_fd);
}

/* ---- the starts file -------------------------------------------------------------------------- */

/* The job's starts file, opened for appending at its first start. Returns the fd (owned by j) or -errno. */
static int starts_open(Job *j) {
        if (j->starts_fd < 0) {
                _cleanup_close_ int dir_fd = open_job_dir(j);

                if (dir_fd < 0)
                        return dir_fd;
                j->starts_fd = openat(dir_fd, STARTS_FILE,
                                      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
                if (j->starts_fd < 0)
                        return -errno;
        }
        return j->starts_fd;
}

/* The job's ends file, where each attempt's keeper records its end first (supervise-wire.h). Returns the
 * fd (owned by j) or -errno. */
static int ends_open(Job *j) {
        if (j->ends_fd < 0) {
                _cleanup_close_ int dir_fd = open_job_dir(j);

                if (dir_fd < 0)
                        return dir_fd;
                j->ends_fd = openat(dir_fd, ENDS_FILE,
                                    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
                if (j->ends_fd < 0)
                        return -errno;
        }
        return j->ends_fd;
}

/* "NODE ATTEMPT ", the start of node i's record for its current attempt (spawnrec.h). */
static void starts_prefix(const Job *j, uint32_t i, char prefix[static SPAWN_PREFIX_MAX]) {
        snprintf(prefix, SPAWN_PREFIX_MAX, "%" PRIu32 " %u ", i, (unsigned) j->run->nodes[i].attempt);
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
        starts_prefix(j, i, prefix);
        len = spawn_format_record(line, prefix, n->pid, n->pid_start);
        if (len < 0)
                return len;
        k = write(fd, line, (size_t) len);
        if (k < 0)
                return -errno;
        return k == len ? 0 : -EIO; /* a torn line is ignored when read back: treat it as not written */
}

/* The job has ended and every attempt's end is durable: its starts file has nothing left to find. */
void starts_remove(Job *j) {
        _cleanup_close_ int dir_fd = open_job_dir(j);

        if (dir_fd >= 0) {
                (void) unlinkat(dir_fd, STARTS_FILE, 0);
                (void) unlinkat(dir_fd, ENDS_FILE, 0);
        }
}

/* ---- spawning --------------------------------------------------------------------------------- */

/* New output in a running attempt's log: wake whoever follows it (orchctl logs -f). */
void job_on_task_output(KeeperTask *t, void *userdata) {
        NodeCtl *c = userdata;

        job_notify_output(c->job, c->index);
}

/* Write node i's resources limits into its attempt's fresh cgroup (resources_writes()). The job was
 * accepted because every controller they need is there (spool-intake.c): a failure here is the kernel's
 * (an invalid value it refuses), and the attempt does not start unlimited. Returns 0 or -errno (logged). */
static int node_apply_resources(Job *j, uint32_t i, int cgroup_fd) {
        const NodeSpec *ns = &j->spec->nodes[i];
        CgroupWrite w[RESOURCES_WRITES_MAX];
        size_t n;
        int r;

        if (!ns->resources)
                return 0;
        n = resources_writes(ns->resources, w);
        for (size_t k = 0; k < n; k++) {
                r = cgroups_write(cgroup_fd, w[k].file, w[k].value);
                if (r < 0)
                        return log_warning_errno(
                                r, "Job %" PRIu64 " node %s: cannot write %s to %s of its cgroup: %m", j->id,
                                ns->id, w[k].value, w[k].file);
        }
        return 0;
}

static void node_on_started(Job *j, uint32_t i);

static void job_on_task_started(KeeperTask *t, void *userdata) {
        NodeCtl *c = userdata;

        node_on_started(c->job, c->index);
}

/* Spawn attempt n->attempt of node i, on record in the starts file before it execs: written by its keeper
 * or by the child itself (spawnrec.h), or, through orchd-exec, gated until node_on_started() wrote it.
 * Returns 0 with ctl[i].task started, 1 with it starting (its keeper answers: node_on_started(), or
 * job_on_task_exit() with start_error), -EEXIST if its log file exists, or -errno. */
static int node_task_spawn(Job *j, uint32_t i) {
        const NodeSpec *ns = &j->spec->nodes[i];
        NodeRun *n = &j->run->nodes[i];
        _cleanup_free_ char **env = NULL; /* borrows the strings of base_env and ns->env */
        char log_name[NODEID_LOG_NAME_SIZE], prefix[SPAWN_PREFIX_MAX];
        _cleanup_close_ int cgroup_fd = -EBADF;
        uint64_t min_free, min_inodes;
        int r, starts_fd, ends_fd;

        /* Opened for the pass (job_start_ready()), but a node of the same pass that failed to start left
         * no node running, and slot_release() closed the job's fds. */
        r = job_open_logs(j);
        if (r < 0)
                return r;
        starts_fd = starts_open(j);
        if (starts_fd < 0)
                return starts_fd;
        ends_fd = ends_open(j);
        if (ends_fd < 0)
                return ends_fd;
        starts_prefix(j, i, prefix);

        r = nodeenv_node(j->base_env, ns->env, j->id, j->spec->name, ns->id, n->attempt, &env);
        if (r < 0)
                oom_fail_stop(j);
        (void) nodeid_log_name(ns->id, n->attempt, log_name);
        j->host->ops->log_floor(j->host->userdata, &min_free, &min_inodes);
        if (cgroups_enabled(j->host->cgroups)) {
                cgroup_fd = cgroups_attempt_open(
                        j->host->cgroups, j->run->uid, j->id, log_name,
                        daemon_conf_user_cpu_weight(j->host->conf, j->run->uid, j->run->user));
                if (cgroup_fd < 0)
                        return log_warning_errno(cgroup_fd,
                                                 "Job %" PRIu64
                                                 " node %s: cannot create the cgroup "
                                                 "of attempt %u: %m",
                                                 j->id, ns->id, (unsigned) n->attempt);
                r = node_apply_resources(j, i, cgroup_fd);
                if (r < 0) {
                        cgroups_attempt_remove(j->host->cgroups, j->run->uid, j->id, log_name, false);
                        return r;
                }
        }

        TaskParams p = {
                .argv = ns->argv,
                .env = env,
                .cwd = node_cwd(j, ns),
                .log_dir_fd = j->logs_fd,
                .log_name = log_name,
                .log_max_bytes = j->host->conf->max_log_size,
                .log_min_free = min_free,
                .log_min_inodes = min_inodes,
                .timeout_usec = ns->timeout_usec,
                .kill_grace_usec = ns->kill_grace_usec,
                .cred = j->use_cred ? &j->cred : NULL,
                .umask = (mode_t) (ns->umask >= 0              ? ns->umask :
                                           j->spec->umask >= 0 ? j->spec->umask :
                                                                 TASK_DEFAULT_UMASK),
                .helper = j->host->exec_helper,
                .pam_confdir = j->host->pam_confdir,
                .record_prefix = prefix,
                .record_fd = starts_fd,
                .merge_output = !ns->output_separate,
                .journal_node = ns->id,
                .journal_job = j->id,
                .journal_attempt = n->attempt,
                .cgroup_fd = cgroup_fd,
                .cgroup_controllers = cgroups_controllers(j->host->cgroups),
        };
        KeeperKey key = { .job = j->id, .node = i, .attempt = n->attempt };

        r = keeper_task_spawn(j->host->keepers, j->host->event, j->run->uid, &key, &p, ends_fd,
                              job_on_task_exit, job_on_task_output, job_on_task_started, node_ctl(j, i),
                              &j->ctl[i].task);
        if (r < 0 && cgroup_fd >= 0)
                cgroups_attempt_remove(j->host->cgroups, j->run->uid, j->id, log_name, false);
        else if (r > 0)
                log_debug("Job %" PRIu64 " node %s: attempt %u sent to its keeper.", j->id, ns->id,
                          (unsigned) n->attempt);
        return r;
}

void node_task_release(Job *j, uint32_t i, bool kill) {
        char log_name[NODEID_LOG_NAME_SIZE];

        if (!j->ctl[i].task)
                return;
        j->ctl[i].task = keeper_task_free(j->ctl[i].task);
        if (cgroups_enabled(j->host->cgroups)) {
                (void) nodeid_log_name(j->spec->nodes[i].id, j->run->nodes[i].attempt, log_name);
                cgroups_attempt_remove(j->host->cgroups, j->run->uid, j->id, log_name, kill);
        }
}

/* NODE.N.log exists: attempt N started before a crash that lost its record (the machine's, since "starts"
 * outlives orchd). Its number and its log stay its own: returns whether attempt N+1 may be tried. */
static bool node_skip_attempt(Job *j, uint32_t i) {
        NodeRun *n = &j->run->nodes[i];

        if (j->ctl[i].logs_taken >= LOG_TAKEN_MAX || n->attempt == UINT16_MAX)
                return false;
        n->attempt++;
        if (n->interrupted < UINT16_MAX)
                n->interrupted++; /* not counted against retry.attempts */
        j->ctl[i].logs_taken++;
        return true;
}

/* Spawn node i's attempt n->attempt, or the first after it whose log does not exist. */
static void node_spawn_attempt(Job *j, uint32_t i) {
        int r;

        while ((r = node_task_spawn(j, i)) == -EEXIST && node_skip_attempt(j, i))
                ;
        if (r < 0)
                node_start_failed(j, i, r, EXEC_ACCOUNT_OK);
        else if (r == 0)
                node_on_started(j, i);
}

bool node_retry_taken_log(Job *j, uint32_t i) {
        if (!node_skip_attempt(j, i))
                return false;
        node_spawn_attempt(j, i);
        return true;
}

void node_spawn(Job *j, uint32_t i) {
        const NodeSpec *ns = &j->spec->nodes[i];

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
        j->ctl[i].logs_taken = 0;
        node_spawn_attempt(j, i);
}

/* Node i's attempt runs (its pid known): recorded with the node, announced. */
static void node_on_started(Job *j, uint32_t i) {
        const NodeSpec *ns = &j->spec->nodes[i];
        NodeRun *n = &j->run->nodes[i];
        int r;

        if (j->ctl[i].logs_taken > 0)
                log_notice("Job %" PRIu64
                           " node %s: the logs of %u earlier attempt(s) exist though their starts "
                           "were not recorded (lost with a crash); this is attempt %u.",
                           j->id, ns->id, (unsigned) j->ctl[i].logs_taken, (unsigned) n->attempt);
        if (j->host->ops->spawned)
                j->host->ops->spawned(j->host->userdata);
        /* Recorded with the node, so that a restart after a crash can kill this group if it outlived us. */
        n->pid = keeper_task_pid(j->ctl[i].task);
        if (proc_start_time(n->pid, &n->pid_start) < 0)
                n->pid = 0, n->pid_start = 0; /* already gone (a refused account): nothing to kill later */
        mark_node_started(j, i);
        /* Started directly, the child wrote its record before its exec. Through orchd-exec the gate opens
         * only once the next start can find the process: in the starts file now, in the journal with the
         * next commit. */
        r = 0;
        if (keeper_task_gated(j->ctl[i].task) && n->pid > 0) {
                r = starts_record(j, i);
                if (r >= 0)
                        r = keeper_task_open_gate(j->ctl[i].task);
        } else if (keeper_task_gated(j->ctl[i].task))
                /* Gone already (orchd-exec refused the account: its exit says so), or not identifiable: it
                 * must not run unrecorded. */
                keeper_task_kill(j->ctl[i].task);
        if (r < 0) {
                log_warning_errno(r, "Job %" PRIu64 " node %s: cannot record the start of attempt %u: %m",
                                  j->id, ns->id, (unsigned) n->attempt);
                node_task_release(j, i, false); /* it never ran */
                n->pid = 0, n->pid_start = 0;
                node_start_failed(j, i, r, EXEC_ACCOUNT_OK);
                return;
        }
        log_event(LOG_INFO,
                  LOG_EV(.message_id = ORCH_MESSAGE_NODE_STARTED, .job = j->id, .node = ns->id,
                         .attempt = n->attempt, .state = node_state_to_string(n->state)),
                  "Job %" PRIu64 " node %s attempt %u started as pid %d.", j->id, ns->id, n->attempt,
                  (int) keeper_task_pid(j->ctl[i].task));
}

static void job_set_running(Job *j) {
        if (j->run->state != JOB_QUEUED)
                return;
        job_run_set_state(j->run, JOB_RUNNING);
        j->run->started_at = now_realtime_usec();
        j->job_dirty = true; /* listed by begin_attempt() with its first node's start */
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
        /* The last attempt's reason went with its retry_wait: a running node has none. */
        n->reason = (Reason){};
        slot_take(j);
        job_set_running(j);

        /* A node that must never run twice starts only once "attempt N started" is durable: after a
         * crash, recovery then knows it may have run. Others start now, their start held for the commit
         * of the next end (job_defer_start(): the starts file tells a restart), even before the job's
         * acceptance is durable: a crash then completes the acceptance, as the starts file in jobs/.#ID
         * says nodes ran (spool_complete_unpublished()), instead of taking the file again. */
        if (j->spec->nodes[i].on_interrupt == ON_INTERRUPT_FAIL) {
                mark_node_dirty(j, i);
                barrier_push(&j->await_spawn, &j->n_await_spawn, &j->cap_await_spawn, j, i, 0);
        } else {
                mark_node_started(j, i);
                node_spawn(j, i);
        }
}

/* ---- handing out slots ------------------------------------------------------------------------ */

static bool job_may_start(const Job *j) {
        return j->dag && j->host->ops->may_start(j->host->userdata) && j->run->state != JOB_PAUSED &&
                j->skip_gen == 0 && /* after a stop only kept nodes (cleanup, handlers) are left to start */
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
        dir_fd = r = open_job_dir(j);
        if (r >= 0)
                r = open_dir_at(dir_fd, "logs", 0750);
        if (r >= 0) {
                j->logs_fd = r;
                return 0;
        }
        /* Tried again in a second even if no node ends (nothing else may): an I/O error may pass too. */
        j->host->ops->schedule_later(j->host->userdata, START_RETRY_DELAY_USEC);
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

/* ---- runtime ------------------------------------------------------------------------------------ */

/* Drop what only a running job needs; spec and run stay for status queries. */
void job_release_runtime(Job *j) {
        if (j->ctl) {
                for (uint32_t i = 0; i < j->spec->n_nodes; i++) {
                        node_task_release(j, i, false);
                        j->ctl[i].retry_timer = sd_event_source_disable_unref(j->ctl[i].retry_timer);
                }
                j->ctl = mfree(j->ctl);
                cgroups_job_release(j->host->cgroups, j->run->uid, j->id); /* after its attempts' */
        }
        j->dag = dag_free(j->dag);
        j->timeout_source = sd_event_source_disable_unref(j->timeout_source);
        j->defer_source = sd_event_source_disable_unref(j->defer_source); /* it points at j */
        j->retry_ready = mfree(j->retry_ready);
        j->n_retry_ready = j->cap_retry_ready = 0;
        j->retry_deferred = mfree(j->retry_deferred);
        j->n_retry_deferred = j->cap_retry_deferred = 0;
        j->pending = mfree(j->pending);
        j->n_pending = j->cap_pending = 0;
        j->await_spawn = mfree(j->await_spawn);
        j->n_await_spawn = j->cap_await_spawn = 0;
        job_close_fds(j);
}

/* What driving the job needs besides spec and run: its environment, DAG and per-node control (the logs
 * directory follows at the first start, job_open_logs()). Undone by job_release_runtime(). */
int job_build_runtime(Job *j) {
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
