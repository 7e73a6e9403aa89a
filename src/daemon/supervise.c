/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * supervise.c — one attempt of one node as a supervised child process.
 *
 * Owns: the child (through an owned pidfd child source), its process group, the read ends of its
 * stdout/stderr pipes with their I/O sources, the timeout and kill-grace timers, and the log file fd.
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
 * Deliberately not done here: cgroups (a process that leaves the group with setsid() escapes the kill),
 * privilege dropping, retries and job state. Journald line forwarding is logfwd.c, fed from task_output().
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
#include "supervise.h"

#define TASK_READ_BUFFER_SIZE (64U * 1024U)
/* Reads per pipe when draining at exit. Bounded because a process that escaped the group may still hold
 * the write end and keep writing; a default-sized pipe (64 KiB) empties in one read. */
#define TASK_DRAIN_READS_MAX 64U
#define TASK_DEFAULT_PATH "/bin:/usr/bin" /* what execvp() searches when PATH is unset */
#define TASK_TIMER_ACCURACY_USEC USEC_PER_MSEC
/* Below the output pipes, which are level with everything else (task_add_pipe_source). */
#define TASK_EXIT_PRIORITY (SD_EVENT_PRIORITY_NORMAL + 10)

typedef enum TaskStream {
        TASK_STDOUT,
        TASK_STDERR,
        _TASK_STREAM_MAX,
} TaskStream;
static_assert((int) TASK_STDOUT == (int) LOGFWD_STDOUT && (int) TASK_STDERR == (int) LOGFWD_STDERR, "streams");

typedef struct TaskPipe {
        Task *task; /* back-pointer, not owned */
        TaskStream stream;
        int fd; /* read end, non-blocking; -EBADF once closed */
        sd_event_source *source;
} TaskPipe;

struct Task {
        sd_event *event;
        task_exit_cb cb;
        task_output_cb output_cb;
        void *userdata;

        pid_t pid;   /* also the process group id (POSIX_SPAWN_SETSID); 0 before the spawn */
        bool exited; /* exit handled: the leader is being reaped, never signal its group again */
        int pidfd;   /* only until the child source owns it */
        sd_event_source *child_source;
        sd_event_source *timeout_source;
        sd_event_source *kill_source;
        TaskPipe pipes[_TASK_STREAM_MAX];

        int log_fd;
        uint64_t log_max_bytes;
        uint64_t log_bytes; /* output bytes written to the log so far, never above log_max_bytes */
        uint64_t log_min_free;
        uint64_t log_checked_at; /* log_bytes when the filesystem's free space was last looked at */
        bool log_truncated;
        bool log_broken; /* a write failed: reported once, output is dropped (and counted) from then on */
        uint64_t log_dropped; /* output bytes that were meant for the log but could not be written */
        LogFwd *logfwd;       /* lines to the journal; NULL = not forwarded */

        uint64_t kill_grace_usec;
        bool terminating; /* SIGTERM sent and kill timer armed, by the timeout or task_stop() */
        bool timed_out;
        bool stopped;
        uint64_t started_at;
        int status_fd; /* read end of the helper's status pipe (non-blocking), read at exit; -EBADF if none */
        int gate_fd;   /* write end of the gate (exec-proto.h) until task_open_gate(); -EBADF if none */
};

/* Arm a one-shot CLOCK_MONOTONIC timer usec from now. The deadline is computed from a fresh clock read and
 * not relative to sd_event_now(): that is the start of the current loop iteration, which may lie well
 * before this call (a spawn after fsyncs, say) and would silently shorten the limit. */
static int task_add_timer(Task *t, sd_event_source **ret, uint64_t usec, sd_event_time_handler_t cb) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        return sd_event_add_time(t->event, ret, CLOCK_MONOTONIC,
                                 usec >= USEC_INFINITY - now ? USEC_INFINITY : now + usec,
                                 TASK_TIMER_ACCURACY_USEC, cb, t);
}

/* Signal the whole process group. A no-op once the exit was handled: from then on the leader may be
 * reaped and its pid, hence the group id, may belong to an unrelated process. */
static int task_kill_group(Task *t, int sig) {
        assert(t);

        if (t->exited || t->pid <= 0)
                return 0;
        if (kill(-t->pid, sig) < 0 && errno != ESRCH)
                return log_warning_errno(errno, "Failed to send signal %d to process group %d: %m", sig,
                                         (int) t->pid);
        return 0;
}

/* Write n bytes of output to the log. Once a write failed (ENOSPC: the filesystem is full), every byte that
 * should have gone there is counted instead (log_dropped, reported with the node's end), exactly: a short
 * write counts only what it left out. */
static void task_log_write(Task *t, const void *buf, size_t n) {
        const char *p = buf;

        while (n > 0 && !t->log_broken) {
                ssize_t k = write(t->log_fd, p, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        /* Losing log output is not a reason to fail the node; say so once and go on reading. */
                        log_warning_errno(k < 0 ? errno : EIO,
                                          "Failed to write output of process %d to its log, dropping it (the "
                                          "bytes lost are counted in the node's log_dropped): %m",
                                          (int) t->pid);
                        t->log_broken = true;
                        break;
                }
                p += k;
                n -= (size_t) k;
        }
        t->log_dropped += n;
}

/* How much a task writes to its log between two looks at the free space of the log's filesystem: one read
 * buffer, so that many nodes writing at once overshoot the reserve by at most one buffer each (an
 * fstatvfs() costs about a microsecond, a 64 KiB write far more). */
#define TASK_LOG_SPACE_CHECK_BYTES TASK_READ_BUFFER_SIZE

/* Whether the log's filesystem has less free space than log_min_free. Looked at before the first write and
 * then once per TASK_LOG_SPACE_CHECK_BYTES. */
static bool task_log_short_of_space(Task *t) {
        struct statvfs sv;

        if (t->log_min_free == 0 || t->log_bytes < t->log_checked_at)
                return false;
        t->log_checked_at = t->log_bytes + TASK_LOG_SPACE_CHECK_BYTES;
        if (fstatvfs(t->log_fd, &sv) < 0)
                return false; /* cannot tell: the writes themselves will find out */
        return (uint64_t) sv.f_bavail * sv.f_frsize < t->log_min_free;
}

/* Write one marker line saying where the log ends (and why, unless it is the size cap), and drop all further
 * output. */
static void task_log_cut(Task *t, const char *why) {
        uint64_t dropped = t->log_dropped;
        char marker[160];
        int m;

        m = snprintf(marker, sizeof(marker), "\n[orchd: output truncated after %" PRIu64 " bytes%s%s]\n",
                     t->log_bytes, why ? ": " : "", why ?: "");
        task_log_write(t, marker, (size_t) MIN(m, (int) sizeof(marker) - 1));
        t->log_dropped = dropped; /* the marker is not output: never counted as lost */
        t->log_truncated = true;
}

/* Every chunk of child output passes through here, exactly once and in the order read from each pipe.
 * The journal gets every line, the log file is capped: by size, and by the free space of its filesystem,
 * so that node output (written by orchd, charged to nobody's quota) cannot take the room the journal of
 * every job needs to record its ends. */
static void task_output(Task *t, TaskStream stream, const char *buf, size_t n) {
        uint64_t room;
        size_t k;

        assert(t);
        assert(stream < _TASK_STREAM_MAX);

        logfwd_output(t->logfwd, (LogFwdStream) stream, buf, n);

        if (t->log_truncated)
                return; /* keep draining the pipe, but drop everything past the cap */
        if (task_log_short_of_space(t)) {
                task_log_cut(t, "the spool's filesystem is short of free space");
                return;
        }

        room = t->log_max_bytes - t->log_bytes;
        k = (uint64_t) n < room ? n : (size_t) room;
        task_log_write(t, buf, k);
        t->log_bytes += k;
        if (k < n)
                task_log_cut(t, NULL);
}

static void task_pipe_close(TaskPipe *p) {
        if (p->fd >= 0)
                logfwd_end(p->task->logfwd, (LogFwdStream) p->stream); /* the unfinished last line */
        p->source = sd_event_source_disable_unref(p->source);
        p->fd = safe_close(p->fd);
}

/* Read one chunk. Returns 1 when data was consumed, 0 when the pipe is (now) closed, -EAGAIN when empty. */
static int task_pipe_read(TaskPipe *p) {
        char buf[TASK_READ_BUFFER_SIZE];
        ssize_t n;

        if (p->fd < 0)
                return 0;
        do
                n = read(p->fd, buf, sizeof(buf));
        while (n < 0 && errno == EINTR);
        if (n < 0 && errno == EAGAIN)
                return -EAGAIN;
        if (n < 0)
                log_warning_errno(errno, "Failed to read output of process %d, closing pipe: %m",
                                  (int) p->task->pid);
        if (n <= 0) {
                task_pipe_close(p); /* EOF: every writer, including grandchildren, has closed it */
                return 0;
        }
        task_output(p->task, p->stream, buf, (size_t) n);
        if (p->task->output_cb)
                p->task->output_cb(p->task, p->task->userdata);
        return 1;
}

static int task_on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        TaskPipe *p = userdata;

        /* One chunk per wake-up, so a flood of output cannot starve the other sources. */
        (void) task_pipe_read(p);
        return 0;
}

static void task_drain_pipes(Task *t) {
        for (size_t i = 0; i < _TASK_STREAM_MAX; i++)
                for (unsigned n = 0; n < TASK_DRAIN_READS_MAX; n++)
                        if (task_pipe_read(&t->pipes[i]) <= 0)
                                break;
}

static void task_result_from_siginfo(const Task *t, const siginfo_t *si, TaskResult *ret) {
        *ret = (TaskResult){
                .timed_out = t->timed_out,
                .stopped = t->stopped,
                .log_dropped = t->log_dropped,
                .started_at = t->started_at,
                .finished_at = now_usec(CLOCK_REALTIME),
        };

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

static int task_on_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Task *t = userdata;
        TaskResult result;

        /* The leader has exited, so everything it wrote is in the pipes: read it before anything else. */
        task_drain_pipes(t);

        /* sd-event reaps the leader only after this callback returns, so it is still a zombie and keeps its
         * pid allocated: the group id cannot have been reused, and this kill reaches exactly what is left of
         * the node's process tree (daemonized grandchildren that stayed in the group). */
        (void) task_kill_group(t, SIGKILL);
        t->exited = true;

        for (size_t i = 0; i < _TASK_STREAM_MAX; i++)
                task_pipe_close(&t->pipes[i]);
        t->timeout_source = sd_event_source_disable_unref(t->timeout_source);
        t->kill_source = sd_event_source_disable_unref(t->kill_source);

        task_result_from_siginfo(t, si, &result);
        task_result_from_helper(t, &result);
        if (result.end == TASK_EXITED)
                log_debug("Process %d exited with status %d.", (int) t->pid, result.exit_code);
        else
                log_debug("Process %d was killed by signal %d.", (int) t->pid, result.signal);

        /* Last: the callback may free t. */
        if (t->cb)
                t->cb(t, &result, t->userdata);
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
        /* A stopped process would not act on SIGTERM before the grace period ends. */
        (void) task_kill_group(t, SIGCONT);

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
static bool env_find(char *const *l, const char *prefix, const char **ret_value) {
        size_t n = strlen(prefix);

        for (; l && *l; l++)
                if (strneq(*l, prefix, n)) {
                        *ret_value = *l + n;
                        return true;
                }
        return false;
}

static int check_executable(const char *path) {
        struct stat st;

        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EACCES; /* what execve() says about a directory */
        if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0)
                return -errno;
        return 0;
}

static int check_directory(const char *path) {
        struct stat st;

        if (stat(path, &st) < 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* Resolve argv[0] like execvp(), but with the PATH of the child's environment, and with relative names and
 * relative PATH entries (an empty one means ".") taken relative to the child's working directory, where the
 * child would resolve them; the daemon's own cwd and PATH play no part. Returns 0 with *ret, -ENOENT, or
 * -EACCES when a candidate existed but was not an executable regular file. */
static int task_find_executable(const char *name, char *const *env, const char *cwd, char **ret) {
        const char *path = TASK_DEFAULT_PATH, *p, *end;
        bool seen_eacces = false;

        if (isempty(name))
                return -ENOENT;
        if (strchr(name, '/')) {
                _cleanup_free_ char *candidate = NULL;
                int r;

                /* A relative name is relative to the child's cwd, like everything else here. */
                if (name[0] == '/')
                        candidate = strdup(name);
                else if (asprintf(&candidate, "%s/%s", cwd ?: "/", name) < 0)
                        candidate = NULL;
                if (!candidate)
                        return -ENOMEM;
                r = check_executable(candidate);
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(candidate);
                return 0;
        }

        (void) env_find(env, "PATH=", &path);
        for (p = path;; p = end + 1) {
                _cleanup_free_ char *candidate = NULL;
                int n, r;

                end = strchrnul(p, ':');
                n = (int) (end - p);
                if (n > 0 && p[0] == '/')
                        r = asprintf(&candidate, "%.*s/%s", n, p, name);
                else
                        r = asprintf(&candidate, "%s/%.*s/%s", cwd ?: "/", n > 0 ? n : 1, n > 0 ? p : ".",
                                     name);
                if (r < 0)
                        return -ENOMEM;

                r = check_executable(candidate);
                if (r == 0) {
                        *ret = TAKE_PTR(candidate);
                        return 0;
                }
                if (r == -EACCES)
                        seen_eacces = true;
                if (*end == '\0')
                        break;
        }
        return seen_eacces ? -EACCES : -ENOENT;
}

static int task_setup_attr(posix_spawnattr_t *attr) {
        sigset_t empty, all;
        int r;

        (void) sigemptyset(&empty);
        (void) sigemptyset(&all);
        /* glibc's sigaddset() refuses its internal signals 32 and 33, so failures are ignored.
         * XXX: glibc 2.36's posix_spawn() leaves exactly those two SIG_IGN in the child (SigIgn
         * 0x180000000). They lie below SIGRTMIN for any glibc program, which installs its own handlers
         * when it needs them; only a fork()+execve() path could reset them. */
        for (int sig = 1; sig < NSIG; sig++)
                (void) sigaddset(&all, sig);

        r = posix_spawnattr_setflags(attr,
                                     POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
        if (r == 0)
                r = posix_spawnattr_setsigmask(attr, &empty);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(attr, &all);
        return -r;
}

/* The child is orchd-exec: request_fd, status_fd and gate_fd (>= 0: gated) become EXEC_REQUEST_FD,
 * EXEC_STATUS_FD and EXEC_GATE_FD, and it changes directory itself (as the owner). All must be above those
 * numbers already, or one dup2 could overwrite another, and a dup2 onto itself would keep O_CLOEXEC. */
static int task_setup_file_actions(posix_spawn_file_actions_t *fa, int out_fd, int err_fd, int status_fd,
                                   int request_fd, int gate_fd) {
        int r;

        assert(status_fd > EXEC_GATE_FD && request_fd > EXEC_GATE_FD &&
               (gate_fd < 0 || gate_fd > EXEC_GATE_FD));
        r = posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        /* dup2 onto 1 and 2 clears O_CLOEXEC on the copies, so only they survive the exec. */
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(fa, out_fd, STDOUT_FILENO);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(fa, err_fd, STDERR_FILENO);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(fa, status_fd, EXEC_STATUS_FD);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(fa, request_fd, EXEC_REQUEST_FD);
        if (r == 0 && gate_fd >= 0)
                r = posix_spawn_file_actions_adddup2(fa, gate_fd, EXEC_GATE_FD);
        if (r == 0)
                r = posix_spawn_file_actions_addchdir_np(fa, "/");
        /* Belt and braces: even an fd some library opened without O_CLOEXEC does not reach the child. */
        if (r == 0)
                r = posix_spawn_file_actions_addclosefrom_np(
                        fa, gate_fd >= 0 ? EXEC_GATE_FD + 1 : EXEC_REQUEST_FD + 1);
        return -r;
}

/* The daemon-side checks of the path without the helper (the node runs as the daemon's own user, so what it
 * may stat the node may too): a clear message for the usual mistakes, and the program's path. The child's
 * own chdir and execve() stay the authority for everything else (ENOEXEC, E2BIG, …, spawnrec.h). */
static int task_check_plain(const TaskParams *p, char **ret_path) {
        int r;

        if (p->cwd) {
                r = check_directory(p->cwd);
                if (r < 0) /* say which: the caller's message names only the program */
                        return log_warning_errno(r, "Working directory %s of '%s' is not usable: %m", p->cwd,
                                                 p->argv[0]);
        }
        return task_find_executable(p->argv[0], p->env, p->cwd, ret_path);
}

/* The gate (exec-proto.h): its read end for the child, above the fixed fds; the write end stays in t. */
static int task_gate_pipe(Task *t, int *ret_read) {
        int fds[2], r;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        t->gate_fd = fds[1];
        r = exec_fd_above_fixed(fds[0]);
        if (r < 0)
                return r;
        *ret_read = r;
        return 0;
}

/* Start the node itself (the daemon's own user, its umask): spawnrec.h, recorded before its exec if asked. */
static int task_start_plain(Task *t, const TaskParams *p, int out_fd, int err_fd) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = task_check_plain(p, &path);
        if (r < 0)
                return r;
        SpawnParams sp = {
                .path = path,
                .argv = p->argv,
                .env = p->env,
                .cwd = p->cwd,
                .stdout_fd = out_fd,
                .stderr_fd = err_fd,
                .record_fd = p->record_prefix ? p->record_fd : -EBADF,
                .record_prefix = p->record_prefix,
        };
        t->started_at = now_usec(CLOCK_REALTIME);
        return spawn_recorded(&sp, &t->pid);
}

/* Start orchd-exec for the node, gated if it must be recorded (its pid is known only once it runs). */
static int task_start_helper(Task *t, const TaskParams *p, int out_fd, int err_fd) {
        static char *const empty_env[] = { NULL };
        _cleanup_close_ int status_r = -EBADF, status_w = -EBADF, request_fd = -EBADF, gate_r = -EBADF;
        _cleanup_strv_free_ char **hargv = NULL;
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        int r;

        /* Everything about the node is looked up by the helper, as the owner. */
        if (!p->helper)
                return -EINVAL; /* the caller must name orchd-exec for these (supervise.h) */
        r = exec_status_pipe(&status_r, &status_w);
        if (r < 0)
                return r;
        r = exec_request_new(p->cwd, p->argv, p->env, &request_fd);
        if (r < 0)
                return r;
        hargv = p->cred ?
                exec_argv_new(p->helper, true, p->cred->uid, p->cred->user, p->umask, p->pam_confdir) :
                exec_argv_new(p->helper, false, 0, NULL, p->umask, NULL);
        if (!hargv)
                return -ENOMEM;
        if (p->record_prefix) {
                r = task_gate_pipe(t, &gate_r);
                if (r < 0)
                        return r;
        }

        r = -posix_spawnattr_init(&attr);
        if (r < 0)
                return r;
        r = -posix_spawn_file_actions_init(&fa);
        if (r < 0) {
                (void) posix_spawnattr_destroy(&attr);
                return r;
        }
        r = task_setup_attr(&attr);
        if (r >= 0)
                r = task_setup_file_actions(&fa, out_fd, err_fd, status_w, request_fd, gate_r);
        if (r >= 0) {
                t->started_at = now_usec(CLOCK_REALTIME);
                /* The helper gets an empty environment: the loader of a root process must find no LD_*. */
                r = -posix_spawn(&t->pid, p->helper, &fa, &attr, hargv, empty_env);
        }
        (void) posix_spawn_file_actions_destroy(&fa);
        (void) posix_spawnattr_destroy(&attr);

        /* The helper's report, if any, is read when it exits (task_result_from_helper). */
        if (r >= 0)
                t->status_fd = TAKE_FD(status_r);
        return r;
}

/* Start the process with stdout/stderr on the given pipe write ends. Returns 0 with t->pid, or -errno. */
static int task_start_process(Task *t, const TaskParams *p, int out_fd, int err_fd) {
        if (p->cred || p->umask != TASK_DEFAULT_UMASK)
                return task_start_helper(t, p, out_fd, err_fd);
        return task_start_plain(t, p, out_fd, err_fd);
}

static int task_add_pipe_source(Task *t, TaskStream stream, int fd) {
        TaskPipe *p = &t->pipes[stream];
        int r;

        p->fd = fd;
        /* Only the read end is non-blocking: the flag lives on the open file description, and the child
         * must get ordinary blocking writes. */
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
                return -errno;
        r = sd_event_add_io(t->event, &p->source, fd, EPOLLIN, task_on_output, p);
        if (r < 0)
                return r;
        /* Level with the control socket, so that a node flooding its pipe (a readable pipe is pending at
         * every iteration) takes turns with clients instead of starving them; still above the child source
         * (task_watch_process), as in importd: the last output is read before the exit is handled. */
        return sd_event_source_set_priority(p->source, SD_EVENT_PRIORITY_NORMAL);
}

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

/* The free inodes of the log directory's filesystem; UINT64_MAX if it does not count them or cannot tell. */
static uint64_t task_log_dir_free_inodes(int dir_fd) {
        struct statvfs sv;

        if (fstatvfs(dir_fd, &sv) < 0 || sv.f_files == 0)
                return UINT64_MAX; /* the open itself will find out */
        return sv.f_favail;
}

static int task_open_log(Task *t, const TaskParams *p) {
        static bool said_inodes; /* once per shortage, not per attempt (again after twice min was free) */
        uint64_t free = p->log_min_inodes > 0 ? task_log_dir_free_inodes(p->log_dir_fd) : UINT64_MAX;

        /* Every attempt takes an inode for its log; the journal must keep the ones that record the ends. */
        if (free < p->log_min_inodes) {
                if (!said_inodes)
                        log_notice("Fewer than %" PRIu64
                                   " free inodes in the spool: attempts started now "
                                   "get no log file, their output goes to the journal only.",
                                   p->log_min_inodes);
                said_inodes = true;
                t->log_truncated = true; /* nothing is written to the (absent) file */
                return 0;
        }
        if (free / 2 >= p->log_min_inodes)
                said_inodes = false;
        /* Never truncate: a log that exists belongs to an attempt of its own (the caller picks another). */
        t->log_fd = openat(p->log_dir_fd, p->log_name,
                           O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (t->log_fd < 0 && errno == EEXIST)
                return -EEXIST;
        if (t->log_fd < 0)
                return log_warning_errno(errno, "Failed to open log file '%s': %m", p->log_name);
        return 0;
}

static int task_spawn_and_watch(Task *t, const TaskParams *p) {
        _cleanup_close_ int out_r = -EBADF, out_w = -EBADF, err_r = -EBADF, err_w = -EBADF;
        int fds[2], r;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        out_r = fds[0];
        out_w = fds[1];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        err_r = fds[0];
        err_w = fds[1];

        r = task_start_process(t, p, out_w, err_w);
        if (r < 0)
                return r;
        /* Close our copies of the write ends now, or EOF would never come. */
        out_w = safe_close(out_w);
        err_w = safe_close(err_w);

        r = task_watch_process(t);
        if (r < 0)
                return r;
        r = task_add_pipe_source(t, TASK_STDOUT, TAKE_FD(out_r));
        if (r < 0)
                return r;
        r = task_add_pipe_source(t, TASK_STDERR, TAKE_FD(err_r));
        if (r < 0)
                return r;

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
                .log_max_bytes = p->log_max_bytes,
                .log_min_free = p->log_min_free,
                .kill_grace_usec = p->kill_grace_usec,
        };
        for (size_t i = 0; i < _TASK_STREAM_MAX; i++)
                t->pipes[i] = (TaskPipe){ .task = t, .stream = (TaskStream) i, .fd = -EBADF };

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
        if (r < 0)
                return log_debug_errno(r, "Failed to start '%s': %m", p->argv[0]);

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
        for (size_t i = 0; i < _TASK_STREAM_MAX; i++)
                task_pipe_close(&t->pipes[i]);
        t->log_fd = safe_close(t->log_fd);
        t->status_fd = safe_close(t->status_fd);
        t->gate_fd = safe_close(t->gate_fd);
        t->logfwd = logfwd_free(t->logfwd);
        sd_event_unref(t->event);
        free(t);
        return NULL;
}
