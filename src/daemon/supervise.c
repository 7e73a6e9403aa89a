/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * supervise.c — one attempt of one node as a supervised child process: the Task's life (spawn, exit,
 * timeout, stop, kill, free). Starting the process is supervise-spawn.c; its output pipes and log file are
 * supervise-output.c; the three share the Task struct of supervise-internal.h.
 *
 * Owns: the child (through an owned pidfd child source), its process group, the timeout and kill-grace
 * timers, and, through the other two files, the read ends of its stdout/stderr pipes with their I/O
 * sources and the log file fd.
 *
 * Invariants: the child is a session and process-group leader, so its pid is also its group id. The group
 * is signalled only while the leader is unreaped (running or a zombie): the zombie keeps the pid allocated,
 * so the group id cannot name anybody else. Nothing but sd-event reaps our children. Output is never held
 * beyond one 64 KiB stack buffer: it is copied to the log file up to the cap and dropped after it, and the
 * pipes keep being read so a chatty child never blocks on a full pipe. (For the journal, logfwd.c keeps at
 * most one unfinished line per stream, LOGFWD_LINE_MAX bytes.)
 *
 * Nodes of other users, and nodes with a umask of their own, start through orchd-exec (exec-client.c): the
 * account check, drop, chdir and PATH search happen there, after posix_spawn() returned, so the loop never
 * waits for PAM; a failed start is the helper's ExecStatus, read when it exits 127. Such a task that must be
 * on record before it runs (TaskParams.record_prefix) is started with everything in place but the exec,
 * which orchd-exec performs only once task_open_gate() wrote the byte on the gate pipe. The daemon's own
 * nodes start through spawnrec.c, whose child writes that record itself right before its execve().
 *
 * With a cgroup (TaskParams.cgroup_fd, supervise-cgroup.c) the child joins it before anything of the node
 * runs, signals reach every process in it (a setsid() grandchild too), and the end is reported only once
 * it is empty. Deliberately not done here: making the cgroup (cgroup.c), privilege dropping, retries and
 * job state. Journald line forwarding is logfwd.c, fed from task_output().
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec-client.h"
#include "fsutil.h"
#include "log.h"
#include "logfwd.h"
#include "macro.h"
#include "spawnrec.h"
#include "time-util.h"
#include "supervise-internal.h"

#define TASK_TIMER_ACCURACY_USEC USEC_PER_MSEC
/* Below the output pipes, which are level with everything else (task_add_pipe_source). */
#define TASK_EXIT_PRIORITY (SD_EVENT_PRIORITY_NORMAL + 10)

/* Arm a one-shot CLOCK_MONOTONIC timer usec from now. The deadline is computed from a fresh clock read and
 * not relative to sd_event_now(): that is the start of the current loop iteration, which may lie well
 * before this call (a spawn after fsyncs, say) and would silently shorten the limit. */
static int task_add_timer(Task *t, sd_event_source **ret, uint64_t usec, sd_event_time_handler_t cb) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        return sd_event_add_time(t->event, ret, CLOCK_MONOTONIC,
                                 usec >= USEC_INFINITY - now ? USEC_INFINITY : now + usec,
                                 TASK_TIMER_ACCURACY_USEC, cb, t);
}

/* Signal the whole process group, or with a cgroup every process in it. The group is a no-op once the exit
 * was handled: from then on the leader may be reaped and its pid, hence the group id, may belong to an
 * unrelated process. The cgroup holds only the node's processes whatever happened to the leader. */
static int task_kill_group(Task *t, int sig) {
        int r;

        assert(t);

        if (t->cgroup_fd >= 0 && t->pid > 0 && !t->cgroup_empty) {
                r = task_cgroup_kill(t, sig);
                if (r == -ENOENT)
                        r = 0; /* removed (orchd does once the END is in): only an empty cgroup can be */
                if (r < 0)
                        log_warning_errno(r, "Failed to send signal %d to the cgroup of process %d: %m", sig,
                                          (int) t->pid);
                if (t->exited)
                        return r;
        }
        if (t->exited || t->pid <= 0)
                return 0;
        if (kill(-t->pid, sig) < 0 && errno != ESRCH)
                return log_warning_errno(errno, "Failed to send signal %d to process group %d: %m", sig,
                                         (int) t->pid);
        return 0;
}

static void task_result_from_siginfo(const Task *t, const siginfo_t *si, TaskResult *ret) {
        *ret = TASK_RESULT_UNMEASURED(.timed_out = t->timed_out, .stopped = t->stopped,
                                      .log_dropped = t->log_dropped, .started_at = t->started_at,
                                      .finished_at = now_usec(CLOCK_REALTIME));

        switch (si->si_code) {
        case CLD_EXITED:
                ret->end = TASK_EXITED;
                ret->exit_code = si->si_status;
                break;
        case CLD_KILLED:
        case CLD_DUMPED:
                ret->end = TASK_SIGNALED;
                ret->signal = si->si_status;
                break;
        default:
                /* WEXITED reports only the three codes above; anything else is a kernel surprise. */
                log_error("Process %d ended with unexpected si_code %d, treating it as killed.",
                          (int) t->pid, si->si_code);
                ret->end = TASK_SIGNALED;
                ret->signal = SIGKILL;
        }
}

/* The helper writes one ExecStatus before it exits 127 instead of starting the node; a node that started
 * closed the pipe at exec. Read at exit, so the loop never waits for the helper's PAM work. */
static void task_result_from_helper(Task *t, TaskResult *ret) {
        ExecStatus st;
        int r;

        if (t->status_fd < 0)
                return;
        r = exec_read_status(t->status_fd, &st);
        t->status_fd = safe_close(t->status_fd);
        if (r == -EAGAIN || r == 0)
                return; /* the node ran: EOF at its exec, or a process it started still holds the pipe */
        if (r < 0 || st.code <= 0 || (st.step == EXEC_STEP_ACCOUNT && st.code >= _EXEC_ACCOUNT_MAX)) {
                ret->start_error = r < 0 ? r : -EIO;
                return;
        }
        if (st.step == EXEC_STEP_ACCOUNT) {
                ret->start_error = -EKEYREJECTED;
                ret->start_account = st.code;
                return;
        }
        ret->start_error = -st.code;
        ret->start_cwd = st.step == EXEC_STEP_CWD;
}

void task_finish(Task *t) {
        TaskResult result = t->pending;

        t->waiting_empty = false;
        if (t->cgroup_fd >= 0) {
                result.finished_at = now_usec(CLOCK_REALTIME);
                task_cgroup_account(t, &result);
        }
        /* Last: the callback may free t. */
        if (t->cb)
                t->cb(t, &result, t->userdata);
}

static int task_on_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Task *t = userdata;
        int populated = 0;

        /* The leader has exited, so everything it wrote is in the pipes: read it before anything else. */
        task_drain_pipes(t);

        /* sd-event reaps the leader only after this callback returns, so it is still a zombie and keeps its
         * pid allocated: the group id cannot have been reused, and this kill reaches exactly what is left of
         * the node's process tree (daemonized grandchildren that stayed in the group; with a cgroup, all
         * of them). A cgroup that is already empty (the usual end: a zombie does not count, and nothing can
         * enter an empty cgroup but by our own spawn) has nothing left to kill: no write to cgroup.kill (the
         * group still gets its kill(), for a process that left the cgroup but not the group). */
        if (t->cgroup_fd >= 0)
                populated = task_cgroup_populated(t);
        t->cgroup_empty = t->cgroup_fd >= 0 && populated == 0;
        (void) task_kill_group(t, SIGKILL);
        t->exited = true;

        for (size_t i = 0; i < TASK_PIPES_MAX; i++)
                task_pipe_close(&t->pipes[i]);
        t->timeout_source = sd_event_source_disable_unref(t->timeout_source);
        t->kill_source = sd_event_source_disable_unref(t->kill_source);

        task_result_from_siginfo(t, si, &t->pending);
        task_result_from_helper(t, &t->pending);
        if (t->pending.end == TASK_EXITED)
                log_debug("Process %d exited with status %d.", (int) t->pid, t->pending.exit_code);
        else
                log_debug("Process %d was killed by signal %d.", (int) t->pid, t->pending.signal);

        /* With a cgroup the attempt ends when the cgroup is empty: the SIGKILLed rest takes a moment. */
        if (populated > 0 && task_cgroup_watch(t) >= 0) { /* it looks again once watched */
                t->waiting_empty = true;
                return 0;
        }
        task_finish(t); /* may free t */
        return 0;
}

static int task_on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Task *t = userdata;

        log_debug("Process group %d did not end within the grace period, sending SIGKILL.", (int) t->pid);
        (void) task_kill_group(t, SIGKILL);
        return 0;
}

/* SIGTERM the group now and SIGKILL it after grace_usec. Only the first request counts. */
static int task_terminate(Task *t, uint64_t grace_usec) {
        int r;

        if (t->terminating || t->exited)
                return 0;
        t->terminating = true;
        /* Once the group is being stopped the timeout has nothing left to do; disarming it also keeps a
         * task_stop() from being reported as a timeout. */
        t->timeout_source = sd_event_source_disable_unref(t->timeout_source);

        r = task_kill_group(t, SIGTERM);
        if (r < 0)
                return r;
        /* A stopped process would not act on SIGTERM before the grace period ends, nor a frozen one. */
        (void) task_kill_group(t, SIGCONT);
        if (t->cgroup_fd >= 0)
                (void) task_freeze(t, false);

        r = task_add_timer(t, &t->kill_source, grace_usec, task_on_kill_timer);
        if (r < 0) {
                /* Without the timer nothing would ever escalate: escalate now rather than never. */
                log_warning_errno(r, "Failed to arm kill timer for process group %d, sending SIGKILL: %m",
                                  (int) t->pid);
                (void) task_kill_group(t, SIGKILL);
                return r;
        }
        return 0;
}

static int task_on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Task *t = userdata;

        log_debug("Process %d reached its timeout, sending SIGTERM to its group.", (int) t->pid);
        t->timed_out = true;
        (void) task_terminate(t, t->kill_grace_usec);
        return 0;
}

/* The value of the first "prefix..." entry of env (prefix includes the '='), as getenv() would. */
/* Watch the started process by pidfd. The pidfd cannot refer to a recycled pid: the child is ours and
 * nothing reaps it before sd-event does, so even if it already exited it is a zombie that keeps the pid. */
static int task_watch_process(Task *t) {
        int r;

        t->pidfd = pidfd_open(t->pid, 0);
        if (t->pidfd < 0 && errno != ENOSYS)
                return -errno;

        if (t->pidfd >= 0) {
                r = sd_event_add_child_pidfd(t->event, &t->child_source, t->pidfd, WEXITED, task_on_exit, t);
                if (r < 0)
                        return r;
                r = sd_event_source_set_child_pidfd_own(t->child_source, true);
                if (r < 0)
                        return r;
                t->pidfd = -EBADF; /* now closed by the source */
        } else {
                /* No pidfd_open() (valgrind 3.19, old kernels): sd-event falls back to waitid() by pid,
                 * which is just as safe here because nobody else reaps. */
                r = sd_event_add_child(t->event, &t->child_source, t->pid, WEXITED, task_on_exit, t);
                if (r < 0)
                        return r;
        }
        r = sd_event_source_set_priority(t->child_source, TASK_EXIT_PRIORITY);
        if (r < 0)
                return r;
        /* Freeing the source SIGKILLs and reaps a leader that has not exited yet. */
        return sd_event_source_set_child_process_own(t->child_source, true);
}

static int task_spawn_and_watch(Task *t, const TaskParams *p) {
        _cleanup_close_ int out_r = -EBADF, out_w = -EBADF, err_r = -EBADF, err_w = -EBADF;
        int fds[2], r;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        out_r = fds[0];
        out_w = fds[1];
        /* Merged: stderr is the same pipe, so the reader sees the bytes in the order they were written. */
        if (!p->merge_output) {
                if (pipe2(fds, O_CLOEXEC) < 0)
                        return -errno;
                err_r = fds[0];
                err_w = fds[1];
        }

        r = task_start_process(t, p, out_w, p->merge_output ? out_w : err_w);
        if (r < 0)
                return r;
        /* Close our copies of the write ends now, or EOF would never come. */
        out_w = safe_close(out_w);
        err_w = safe_close(err_w);

        r = task_watch_process(t);
        if (r < 0)
                return r;
        r = task_add_pipe_source(t, p->merge_output ? TASK_OUTPUT : TASK_STDOUT, TAKE_FD(out_r));
        if (r < 0)
                return r;
        if (!p->merge_output) {
                r = task_add_pipe_source(t, TASK_STDERR, TAKE_FD(err_r));
                if (r < 0)
                        return r;
        }

        if (p->timeout_usec > 0 && p->timeout_usec != USEC_INFINITY) {
                r = task_add_timer(t, &t->timeout_source, p->timeout_usec, task_on_timeout);
                if (r < 0)
                        return r;
        }
        return 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(Task *, task_free);

int task_spawn(sd_event *e, const TaskParams *p, task_exit_cb cb, void *userdata, Task **ret) {
        _cleanup_(task_freep) Task *t = NULL;
        int r;

        assert(e);
        assert(p);
        assert(p->argv && p->argv[0]);
        assert(p->log_name);
        assert(ret);

        t = malloc(sizeof(*t));
        if (!t)
                return -ENOMEM;
        *t = (Task){
                .event = sd_event_ref(e),
                .cb = cb,
                .output_cb = p->output_cb,
                .userdata = userdata,
                .pidfd = -EBADF,
                .log_fd = -EBADF,
                .status_fd = -EBADF,
                .gate_fd = -EBADF,
                .cgroup_fd = -EBADF,
                .cgroup_procs_fd = -EBADF,
                .cgroup_events_fd = -EBADF,
                .log_max_bytes = p->log_max_bytes,
                .log_min_free = p->log_min_free,
                .kill_grace_usec = p->kill_grace_usec,
                .cgroup_controllers = p->cgroup_controllers,
        };
        for (size_t i = 0; i < TASK_PIPES_MAX; i++)
                t->pipes[i] = (TaskPipe){ .task = t, .stream = (TaskStream) i, .fd = -EBADF };

        if (p->cgroup_fd > STDERR_FILENO) {
                r = task_cgroup_open(t, p);
                if (r < 0)
                        return log_debug_errno(r, "Failed to open the cgroup of '%s': %m", p->argv[0]);
        }
        r = task_open_log(t, p);
        if (r < 0)
                return r;
        if (p->journal_node) {
                r = logfwd_new(p->journal_job, p->journal_node, p->journal_attempt, &t->logfwd);
                if (r < 0)
                        return r;
        }

        /* On failure task_free() kills and reaps a process that was already started. */
        r = task_spawn_and_watch(t, p);
        t->cgroup_procs_fd = safe_close(t->cgroup_procs_fd); /* the child has joined, or never will */
        if (r < 0)
                return log_debug_errno(r, "Failed to start '%s': %m", p->argv[0]);
        logfwd_set_pid(t->logfwd, t->pid); /* read only once the loop runs again: after this */

        log_debug("Started '%s' as process %d.", p->argv[0], (int) t->pid);
        *ret = TAKE_PTR(t);
        return 0;
}

bool task_gated(const Task *t) {
        assert(t);

        return t->gate_fd >= 0;
}

int task_open_gate(Task *t) {
        ssize_t n;

        assert(t);

        if (t->gate_fd < 0)
                return 0;
        n = write(t->gate_fd, "", 1);
        t->gate_fd = safe_close(t->gate_fd);
        /* EPIPE: the process already ended (orchd-exec refused the account); its exit says so. */
        return n == 1 || errno == EPIPE ? 0 : -errno;
}

int task_stop(Task *t, uint64_t grace_usec) {
        assert(t);

        if (t->exited)
                return 0;
        t->stopped = true;
        return task_terminate(t, grace_usec);
}

void task_kill(Task *t) {
        assert(t);

        (void) task_kill_group(t, SIGKILL);
}

pid_t task_pid(const Task *t) {
        assert(t);

        return t->pid;
}

Task *task_free(Task *t) {
        if (!t)
                return NULL;

        /* The leader is unreaped here (sd-event reaps it only after task_on_exit, or when the child source
         * is freed below), so the group id is still ours. sd-event's process_own kills and reaps only the
         * leader; the rest of the group needs this kill. */
        (void) task_kill_group(t, SIGKILL);
        t->exited = true;

        if (t->child_source)
                t->child_source = sd_event_source_disable_unref(t->child_source);
        else if (t->pid > 0) {
                /* Half-built: started, but not yet handed to sd-event. Reap it ourselves. */
                (void) kill(t->pid, SIGKILL);
                (void) waitpid(t->pid, NULL, 0);
        }
        t->pidfd = safe_close(t->pidfd);

        t->timeout_source = sd_event_source_disable_unref(t->timeout_source);
        t->kill_source = sd_event_source_disable_unref(t->kill_source);
        for (size_t i = 0; i < TASK_PIPES_MAX; i++)
                task_pipe_close(&t->pipes[i]);
        t->log_fd = safe_close(t->log_fd);
        t->status_fd = safe_close(t->status_fd);
        t->gate_fd = safe_close(t->gate_fd);
        t->cgroup_source = sd_event_source_disable_unref(t->cgroup_source);
        t->cgroup_procs_fd = safe_close(t->cgroup_procs_fd);
        t->cgroup_events_fd = safe_close(t->cgroup_events_fd);
        t->cgroup_fd = safe_close(t->cgroup_fd);
        t->logfwd = logfwd_free(t->logfwd);
        sd_event_unref(t->event);
        free(t);
        return NULL;
}
