/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Starting a program whose start is on record before it runs: a vfork()-style spawn whose child, after
 * setting up the process (what posix_spawn()'s attributes and file actions did for supervise.c) and right
 * before its execve(), appends "PREFIX PID PID_START\n" to a file the caller opened (the job's "starts",
 * job.c). PID is its own (getpid()) and PID_START field 22 of /proc/self/stat, so procutil.h's
 * proc_start_time() of the process gives the same number. The line is one write() with O_APPEND: a reader
 * finds it whole or torn, never mixed with another. If that write fails the program is never exec'd.
 *
 * Into a cgroup the child is cloned (clone3(2), CLONE_INTO_CGROUP), as vfork() would (clonevfork.h), or
 * fork-like (a copy of the parent's memory) where that has no trampoline. Joining by a write to
 * cgroup.procs instead makes the kernel wait for an RCU grace period (some 8 ms per start on an idle 2-vCPU
 * machine); that is the way of kernels before 5.7. Without a cgroup the child is vfork()'s. A vfork()-like
 * child runs in the parent's memory until its execve(). Every signal is blocked in the parent around the
 * clone (a handler of the daemon never runs in the child) and all dispositions are reset to default in the
 * child before the mask is emptied. The child calls only async-signal-safe functions: no malloc, no stdio,
 * no locks. No logging, no event loop.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* An fd the program gets at a number of its own: from (kept open by the caller) becomes to. */
typedef struct SpawnFd {
        int from, to;
} SpawnFd;

typedef struct SpawnParams {
        const char *path;  /* the program, resolved by the caller (no PATH search here) */
        char *const *argv; /* argv[0] first, NULL-terminated */
        char *const *env;  /* the complete environment; NULL = empty */
        const char *cwd;   /* NULL = "/" */
        int stdout_fd;     /* become the child's 1 and 2; both above 2. stdin is /dev/null */
        int stderr_fd;
        int record_fd;             /* opened O_WRONLY|O_APPEND|O_CLOEXEC, above 2; -1: no record */
        const char *record_prefix; /* e.g. "12 3 " (node, attempt): at most SPAWN_PREFIX_MAX bytes */
        int cgroup_fd;       /* > 2: a cgroup2 directory the child is created in (clone3(2)); else none */
        int cgroup_procs_fd; /* that cgroup's cgroup.procs (O_WRONLY), joined first thing where clone3()
                              * cannot create it there (a kernel before 5.7); ignored without cgroup_fd */
        const SpawnFd *fds;  /* more fds for the program, each from above every to (and above 2); NULL */
        size_t n_fds;
} SpawnParams;

#define SPAWN_PREFIX_MAX 64U

/* Start p->path (in the cgroup of cgroup_fd from its creation on, or joined before any other step) as a
 * new session leader (its pid is its process group) with signal mask empty, all dispositions default, stdin
 * /dev/null, stdout and stderr the given fds, the fds of p->fds, no other (everything else is close-on-exec
 * by then), cwd
 * and env as given, the caller's umask, and its record written before the exec. Returns 0 with *ret_pid once
 * the program runs, or -errno if any step failed (the child then exited 127 without exec'ing; it has been
 * reaped, so its pid names nothing). A failed record write is -errno of that write (-EIO for a short one).
 */
int spawn_recorded(const SpawnParams *p, pid_t *ret_pid);

/* The record line spawn_recorded() writes for pid, formatted the same way, in buf (at least
 * SPAWN_LINE_MAX bytes). Returns its length, or -EINVAL if prefix is too long. For callers that write the
 * line themselves (a gated start). */
#define SPAWN_LINE_MAX (SPAWN_PREFIX_MAX + 2U * 21U + 2U)
int spawn_format_record(char *buf, const char *prefix, pid_t pid, uint64_t pid_start);
