/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/*
 * The Task object shared by supervise.c (the life of the process: exit, timeout, stop, free),
 * supervise-spawn.c (starting it) and supervise-output.c (its output pipes and log file). Not for
 * anything outside the supervise module: the rest of the daemon sees only supervise.h.
 */

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "logfwd.h"
#include "supervise.h"

/* What a pipe carries: stdout, stderr, or (TaskParams.merge_output) both on one pipe, in the order the
 * node wrote them. */
typedef enum TaskStream {
        TASK_STDOUT,
        TASK_STDERR,
        TASK_OUTPUT,
        _TASK_STREAM_MAX,
} TaskStream;
static_assert((int) TASK_STDOUT == (int) LOGFWD_STDOUT && (int) TASK_STDERR == (int) LOGFWD_STDERR &&
                      (int) TASK_OUTPUT == (int) LOGFWD_OUTPUT,
              "streams");

/* The pipes of a task: stdout's (or the merged one) first, then stderr's (unused when merged). */
#define TASK_PIPES_MAX 2

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
        TaskPipe pipes[TASK_PIPES_MAX];

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
        int status_fd; /* read end of the helper's status pipe (non-blocking), read at exit; -EBADF if none
                        */
        int gate_fd;   /* write end of the gate (exec-proto.h) until task_open_gate(); -EBADF if none */

        int cgroup_fd;        /* the attempt's cgroup (our copy), -EBADF: process groups only */
        int cgroup_procs_fd;  /* its cgroup.procs, O_WRONLY, for the child to join; closed after the spawn */
        int cgroup_events_fd; /* its cgroup.events, watched for "populated 0" after the main process exited
                               */
        unsigned cgroup_controllers; /* TaskParams.cgroup_controllers: which accounting files exist */
        bool cgroup_empty; /* seen empty after the main process ended: nothing can enter it again, so
                            * there is nothing left to kill */
        sd_event_source *cgroup_source;
        TaskResult pending; /* the main process's end, held until the cgroup is empty */
        bool waiting_empty; /* the main process ended; its cgroup is not empty yet */
};

/* supervise-spawn.c: start the process of p with stdout/stderr on out_fd/err_fd (the same fd when merged),
 * directly (posix_spawn) or through orchd-exec for another user or umask; sets t->pid (and
 * status_fd/gate_fd). Returns 0 or -errno. */
int task_start_process(Task *t, const TaskParams *p, int out_fd, int err_fd);

/* supervise-cgroup.c: open the attempt's cgroup files (TaskParams.cgroup_fd > 2). Returns 0 or -errno. */
int task_cgroup_open(Task *t, const TaskParams *p);

/* supervise-cgroup.c: signal every process of the cgroup (SIGKILL through cgroup.kill). Returns 0 or -errno.
 */
int task_cgroup_kill(Task *t, int sig);

/* supervise-cgroup.c: whether the cgroup still holds processes (cgroup.events): 1, 0 or -errno. */
int task_cgroup_populated(Task *t);

/* supervise-cgroup.c: watch cgroup.events and call task_finish() once the cgroup is empty. Returns 0 or
 * -errno (then the caller finishes now). */
int task_cgroup_watch(Task *t);

/* supervise-cgroup.c: the cgroup's accounting into r, whose figures come UINT64_MAX (unknown) and stay so
 * for a controller the cgroup does not have. */
void task_cgroup_account(Task *t, TaskResult *r);

/* supervise.c: report the end held in t->pending (the callback may free t). */
void task_finish(Task *t);

/* supervise-output.c: open the attempt's log file (none when the spool is short of inodes). Returns 0,
 * -EEXIST if the log exists (the caller picks another name), or -errno (logged). */
int task_open_log(Task *t, const TaskParams *p);

/* supervise-output.c: make fd (a pipe's read end, taken) the source of stream's output, in pipes[0]
 * (TASK_STDOUT, TASK_OUTPUT) or pipes[1] (TASK_STDERR). Returns 0 or -errno. */
int task_add_pipe_source(Task *t, TaskStream stream, int fd);

/* supervise-output.c: read what is left in the pipes at exit (a bounded number of reads). */
void task_drain_pipes(Task *t);

/* supervise-output.c: close a pipe and its source, ending its last unfinished journal line. */
void task_pipe_close(TaskPipe *p);
