/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Task: one attempt of one node as a supervised child process. Spawns it in
 * a new session (so its process group is the node's process tree), tracks it
 * by pidfd through an owned sd-event child source, copies its stdout/stderr
 * (one pipe for both by default, so their order is kept; two on request)
 * to a size-capped log file without ever blocking the loop or buffering
 * unboundedly, enforces the per-attempt timeout (SIGTERM to the group, then
 * SIGKILL after the grace period), and reports how it ended. Freeing a Task
 * can never leak a process: the group is SIGKILLed and the child reaped.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

typedef struct Task Task;

typedef enum TaskEnd {
        TASK_EXITED,   /* exit_code is set (0 = success) */
        TASK_SIGNALED, /* signal is set */
} TaskEnd;

typedef struct TaskResult {
        TaskEnd end;
        int exit_code;        /* TASK_EXITED */
        int signal;           /* TASK_SIGNALED */
        bool timed_out;       /* the per-attempt timeout fired (the end is then our signal, normally) */
        bool stopped;         /* task_stop() was called before the process ended */
        bool supervisor_lost; /* no end came: its keeper went away first, and it may run on unwatched */
        uint64_t log_dropped; /* output bytes lost from the log because writing it failed (ENOSPC) */
        uint64_t started_at;  /* CLOCK_REALTIME µs */
        uint64_t finished_at; /* CLOCK_REALTIME µs */
        /* Started through the helper, the node may still have failed to start (the helper then exits 127
         * without running anything): start_error is the failed step's -errno, 0 when the node ran. */
        int start_error;
        int start_account; /* the ExecAccount (exec-proto.h) refused; start_error is -EKEYREJECTED then */
        bool start_cwd;    /* the failed step was changing to the working directory */
        /* From the attempt's cgroup when it ended (TaskParams.cgroup_fd); UINT64_MAX = unknown (no cgroup,
         * or the kernel has no such file: a controller that is not enabled). */
        uint64_t cpu_usec;        /* cpu.stat usage_usec */
        uint64_t cpu_user_usec;   /* cpu.stat user_usec */
        uint64_t cpu_system_usec; /* cpu.stat system_usec */
        uint64_t memory_peak;     /* memory.peak, bytes */
        uint64_t pids_peak;       /* pids.peak */
        uint64_t io_read_bytes;   /* io.stat rbytes, all devices */
        uint64_t io_write_bytes;  /* io.stat wbytes, all devices */
        uint64_t oom_kills;       /* memory.events oom_kill */
} TaskResult;

/* A result of end (TASK_EXITED with exit_code, TASK_SIGNALED with signal) whose kernel figures are unknown
 * (UINT64_MAX), as before any is read or where none can be (an attempt that never ran, a dead keeper's). */
#define TASK_RESULT_UNMEASURED(...)                   \
        ((TaskResult){ .cpu_usec = UINT64_MAX,        \
                       .cpu_user_usec = UINT64_MAX,   \
                       .cpu_system_usec = UINT64_MAX, \
                       .memory_peak = UINT64_MAX,     \
                       .pids_peak = UINT64_MAX,       \
                       .io_read_bytes = UINT64_MAX,   \
                       .io_write_bytes = UINT64_MAX,  \
                       .oom_kills = UINT64_MAX,       \
                       __VA_ARGS__ })

/* Called once when the main process has ended, after its remaining output was read and whatever was
 * left in its process group was SIGKILLed; with a cgroup, once the cgroup is empty too (what was left in it
 * SIGKILLed by cgroup.kill when the main process ended). The callback may task_free(t). */
typedef void (*task_exit_cb)(Task *t, const TaskResult *result, void *userdata);

/* Who a node runs as when that is not the daemon's own user (orchd as root, SPEC §8): the attempt is started
 * through TaskParams.helper (orchd-exec), which resolves the account as it is now (uid must still be user;
 * its primary gid and supplementary groups as initgroups() sets them), checks it (PAM), drops to those ids
 * and verifies the drop, then looks up argv[0] and changes directory as the owner. */
typedef struct TaskCred {
        uid_t uid;
        const char *user; /* the owner's login name when the job was accepted */
} TaskCred;

/* The umask of a node that sets none, and the one task_spawn() expects the daemon to have (orchd.c sets it),
 * so that only other values need the helper when there is no cred. */
#define TASK_DEFAULT_UMASK 0022

/* Called after output was appended to the log file (readers of the file may follow it). Must not free t. */
typedef void (*task_output_cb)(Task *t, void *userdata);

typedef struct TaskParams {
        char *const *argv;      /* argv[0] without '/' is looked up in the PATH of env (not the daemon's) */
        char *const *env;       /* the complete environment */
        const char *cwd;        /* working directory; NULL = "/" */
        int log_dir_fd;         /* directory of the log file */
        const char *log_name;   /* created there, mode 0640; task_spawn() fails -EEXIST if it exists */
        uint64_t log_max_bytes; /* cap; past it one truncation marker line is written, the rest dropped */
        uint64_t log_min_free; /* the log is cut the same way once its filesystem has less free; 0 = never */
        uint64_t log_min_inodes;   /* no log file while its filesystem has fewer free inodes; 0 = never */
        uint64_t timeout_usec;     /* 0 = none */
        uint64_t kill_grace_usec;  /* SIGTERM → SIGKILL delay for timeout and task_stop() */
        const TaskCred *cred;      /* NULL: run as the daemon's user */
        mode_t umask;              /* the node's; other than TASK_DEFAULT_UMASK without cred needs helper */
        const char *helper;        /* orchd-exec (exec-proto.h); needed with cred or a umask of its own */
        const char *pam_confdir;   /* NULL: PAM's default (/etc/pam.d) for the helper's account check */
        const char *record_prefix; /* set: on record in record_fd before the exec (see task_spawn()) */
        int record_fd;             /* O_WRONLY|O_APPEND|O_CLOEXEC; only with record_prefix */
        task_output_cb output_cb;  /* NULL = none; gets the exit callback's userdata */
        const char *journal_node;  /* output lines go to the journal as ORCH_JOB/ORCH_NODE/ORCH_ATTEMPT of */
        uint64_t journal_job;      /* these (logfwd.h); NULL node = not at all */
        unsigned journal_attempt;
        bool merge_output; /* stdout and stderr share one pipe: their order is kept (ORCH_STREAM=output) */
        /* The attempt's cgroup (O_DIRECTORY, borrowed: the task keeps a copy), created empty by the caller;
         * the child joins it before anything of the node runs. Kill and stop then reach every process in
         * it, the end waits for it to be empty, and the result carries its accounting. <= 2 (0 when the
         * field is left out): none, process groups only. */
        int cgroup_fd;
        /* The controllers (resources.h mask) enabled in that cgroup, as its parent's subtree_control says
         * (cgroups_controllers()): only their accounting files are read at the end; an absent one's figures
         * stay UINT64_MAX. */
        unsigned cgroup_controllers;
} TaskParams;

/* Start an attempt. The child: new session, signal mask empty, all dispositions default, stdin /dev/null,
 * stdout/stderr pipes to the daemon, no other fds, cwd, env and umask as given, and with cred the owner's
 * ids and login limits. Returns 0 with *ret, or -errno when the process could not be started (exec failure
 * included: ENOENT, EACCES, …), in which case nothing is left behind but the (empty) log file. Through the
 * helper (cred, or a umask of its own) the account check, drop, chdir and exec happen after this returns,
 * without blocking the loop: their failure is the exit callback's start_error (the helper exits 127 and
 * nothing ran, never as anyone else). With TaskParams.record_prefix the attempt is on record before it can
 * run: started directly, the child appends "PREFIX PID PID_START\n" to record_fd itself right before its
 * exec (spawnrec.h), and a failed write is this function's -errno; through the helper it is started gated
 * (task_gated()): the exec waits for task_open_gate(), which the caller calls once it wrote the record.
 * With merge_output, stdout and stderr are one pipe (both fds of the child are its write end). */
int task_spawn(sd_event *e, const TaskParams *p, task_exit_cb cb, void *userdata, Task **ret);

/* For a single-threaded host (orchd-keeper): start the helper's work (TaskParams.helper's command line and
 * fds, exec-proto.h) by calling main_fn in a fork()ed child instead of exec'ing the helper, saving an exec
 * per node. main_fn must never return. NULL (the default) exec's the helper. */
void task_set_helper_main(int (*main_fn)(int argc, char *argv[]));

/* Whether the task waits for task_open_gate() (started through the helper with a record_prefix), the
 * caller having to write its record first. */
bool task_gated(const Task *t);

/* Let a gated attempt run: it was started with everything in place but its exec, and waits for this (after
 * the caller recorded its pid). A task whose TaskParams had no gate, or whose gate is open, is left alone.
 * Freeing the task first, or the daemon dying, closes the gate unopened: the process exits 127 having run
 * nothing. Returns 0 or -errno (the gate is closed either way). */
int task_open_gate(Task *t);

/* Freeze (cgroup.freeze 1) or thaw the task's cgroup. Returns at once (the kernel freezes the processes
 * asynchronously), 0, -EOPNOTSUPP without a cgroup, or -errno. */
int task_freeze(Task *t, bool freeze);

/* Whether the task's cgroup is frozen (cgroup.events "frozen 1"). False without a cgroup. */
bool task_frozen(const Task *t);

/* Ask the task to end: SIGTERM to its process group now, SIGKILL after grace_usec. Idempotent;
 * the exit callback still fires. Returns 0 or -errno. */
int task_stop(Task *t, uint64_t grace_usec);

/* SIGKILL the whole process group (or cgroup) now (fail-stop and shutdown paths). The exit callback still
 * fires. */
void task_kill(Task *t);

pid_t task_pid(const Task *t);

/* Free: SIGKILLs the process group if still running, reaps the child, closes everything; the exit callback
 * is not called. Accepts NULL, returns NULL. Safe from inside the exit callback. */
Task *task_free(Task *t);
