/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spawnrec.c — start a program that is on record before it runs (spawnrec.h).
 *
 * Owns nothing past the call: the error pipe and the child's setup live and die inside spawn_recorded().
 *
 * Why not posix_spawn(): it returns only after the exec, so nothing of ours can run in the child between its
 * setup and its execve(); the record needs the child's own pid there. Why not fork(): copying the page
 * tables of a daemon with 100,000 nodes of state costs milliseconds per node. vfork() shares the memory and
 * suspends the calling thread until the child exec'd or exited, which is what glibc's posix_spawn() does
 * internally.
 *
 * Invariants of the child (it runs on our stack, in our memory, with our thread's TLS):
 *   - only async-signal-safe calls (raw system call wrappers), no malloc, no stdio, no locks, no return from
 *     the function that called vfork(): it ends in execve() or _exit();
 *   - it writes nothing of the parent's memory but errno (the parent looks at errno only after fresh calls)
 *     and its own stack frames below ours;
 *   - no handler of the parent can run in it: every signal is blocked around the vfork() in the parent, and
 *     the child sets every disposition to SIG_DFL before it empties its mask.
 * A failed step is one int (the errno) on a close-on-exec pipe, then _exit(127); a started program closes
 * the pipe at its exec, so the parent reads EOF. The pipe, not the shared memory, also works where vfork()
 * is a fork() (valgrind).
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clonevfork.h"
#include "spawnrec.h"

/* Decimal digits of v at the end of buf (which holds 21 bytes); returns where they start. */
static char *format_u64(char buf[static 21], uint64_t v) {
        char *p = buf + 20;

        *p = '\0';
        do
                *--p = (char) ('0' + v % 10);
        while ((v /= 10) > 0);
        return p;
}

static size_t append(char *buf, size_t len, const char *s) {
        size_t n = strlen(s);

        memcpy(buf + len, s, n);
        return len + n;
}

int spawn_format_record(char *buf, const char *prefix, pid_t pid, uint64_t pid_start) {
        char num[21];
        size_t len;

        if (strlen(prefix) > SPAWN_PREFIX_MAX || pid <= 0)
                return -EINVAL;
        len = append(buf, 0, prefix);
        len = append(buf, len, format_u64(num, (uint64_t) pid));
        buf[len++] = ' ';
        len = append(buf, len, format_u64(num, pid_start));
        buf[len++] = '\n';
        buf[len] = '\0';
        return (int) len;
}

/* Field 22 of /proc/self/stat: the start time in clock ticks since boot, as proc_start_time() reads it.
 * The command name (field 2, in parentheses) may hold spaces and ')': fields are counted from the last ')'.
 * Returns 0 or -errno. */
static int child_start_time(uint64_t *ret) {
        char buf[1024];
        const char *p = NULL;
        uint64_t v = 0;
        ssize_t n;
        int fd, spaces = 0;

        fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        (void) close(fd);
        if (n < 0)
                return -errno;
        for (ssize_t k = 0; k < n; k++)
                if (buf[k] == ')')
                        p = buf + k;
        if (!p)
                return -EBADMSG;
        /* ") S PPID …": field 3 follows the first space after ')', field 22 the twentieth. */
        for (p++; p < buf + n && spaces < 20; p++)
                spaces += *p == ' ';
        if (spaces < 20 || p >= buf + n || *p < '0' || *p > '9')
                return -EBADMSG;
        for (; p < buf + n && *p >= '0' && *p <= '9'; p++)
                v = v * 10 + (uint64_t) (*p - '0');
        *ret = v;
        return 0;
}

/* Append the record in one write. A short write is a torn line the reader ignores: not recorded. */
static int child_record(const SpawnParams *p) {
        char line[SPAWN_LINE_MAX];
        uint64_t start = 0;
        ssize_t k;
        int len, r;

        r = child_start_time(&start);
        if (r < 0)
                return r;
        len = spawn_format_record(line, p->record_prefix, getpid(), start);
        if (len < 0)
                return len;
        do
                k = write(p->record_fd, line, (size_t) len);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return -errno;
        return k == len ? 0 : -EIO;
}

/* dup2() that also clears close-on-exec when from == to (dup2 would leave the flag). */
static int child_dup(int from, int to) {
        if (from == to)
                return fcntl(to, F_SETFD, 0) < 0 ? -errno : 0;
        return dup2(from, to) < 0 ? -errno : 0;
}

/* Everything between vfork() and execve(). Returns only on failure, with -errno. Not inlined: its locals
 * live in frames below the caller's, never in the frame vfork() returns twice into. */
static __attribute__((noinline)) int child_run(const SpawnParams *p, bool join_cgroup) {
        static char *const empty_env[] = { NULL };
        /* The kernel's struct sigaction all zero, whatever its layout: SIG_DFL, no flags, empty mask. */
        const unsigned long dfl[8] = { 0 };
        sigset_t empty;
        int fd, r;

        /* Default dispositions first: once the mask is emptied below, a signal can only do its default. By
         * the system call, since glibc's sigaction() refuses its internal signals (32, 33), which a parent
         * started by posix_spawn() may have ignored (make does). SIGKILL and SIGSTOP fail, as expected. */
        static_assert(SIG_DFL == 0, "an all-zero struct sigaction is SIG_DFL");
        /* Into the attempt's cgroup first, unless cloned there: whatever this process becomes is in it from
         * its exec on, and a kill of the cgroup reaches it even before that. "0" is the writer itself. */
        if (join_cgroup && write(p->cgroup_procs_fd, "0", 1) < 0)
                return -errno;
        for (int sig = 1; sig < _NSIG; sig++)
                (void) syscall(SYS_rt_sigaction, sig, dfl, NULL, _NSIG / 8);
        if (setsid() < 0)
                return -errno;

        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = child_dup(fd, STDIN_FILENO);
        if (fd != STDIN_FILENO)
                (void) close(fd);
        if (r < 0)
                return r;
        r = child_dup(p->stdout_fd, STDOUT_FILENO);
        if (r >= 0)
                r = child_dup(p->stderr_fd, STDERR_FILENO);
        if (r < 0)
                return r;
        if (chdir(p->cwd ?: "/") < 0)
                return -errno;
        /* Belt and braces: even an fd some library opened without O_CLOEXEC does not reach the program (the
         * record fd and the error pipe must stay open until the exec, hence not a close). Kernels before
         * 5.11 lack the flag: everything of ours is close-on-exec anyway. */
        (void) close_range(STDERR_FILENO + 1, ~0U, CLOSE_RANGE_CLOEXEC);
        for (size_t i = 0; i < p->n_fds; i++) { /* after it: a dup2() copy is not close-on-exec */
                r = child_dup(p->fds[i].from, p->fds[i].to);
                if (r < 0)
                        return r;
        }

        if (p->record_fd >= 0) {
                r = child_record(p);
                if (r < 0)
                        return r;
        }
        (void) sigemptyset(&empty);
        (void) sigprocmask(SIG_SETMASK, &empty, NULL);
        execve(p->path, p->argv, p->env ?: empty_env);
        return -errno;
}

/* Set the calling thread's signal mask with the system call itself: glibc's sigfillset() and
 * pthread_sigmask() leave out its internal signals (SIGCANCEL, SIGSETXID), whose handlers must not run in
 * the child either. What glibc's own posix_spawn() does. Returns 0 or -errno. */
static int mask_all(sigset_t *ret_old) {
        sigset_t all;

        memset(&all, 0xff, sizeof(all));
        return syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, ret_old, _NSIG / 8) < 0 ? -errno : 0;
}

static void mask_restore(const sigset_t *old) {
        (void) syscall(SYS_rt_sigprocmask, SIG_SETMASK, old, NULL, _NSIG / 8);
}

/* Wait for the child's report: EOF once it exec'd (or died before it could say anything), else its errno. */
static int read_report(int fd) {
        int err = 0;
        ssize_t n;

        do
                n = read(fd, &err, sizeof(err));
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (n == 0)
                return 0;
        return n == sizeof(err) && err > 0 ? -err : -EIO;
}

/* Whether clone3() may create children in a cgroup here: false once a kernel said it cannot (before 5.7). */
static bool clone_into_cgroup_works = true;

/* A child in the cgroup of cgroup_fd from its creation, fork-like: it has its own copy of our memory, so
 * returning from the system call into C is safe (vfork()'s child must not return from a function). Where
 * clonevfork.h has no trampoline. Returns as fork() does; -1 with errno ENOSYS or E2BIG (then
 * clone_into_cgroup_works is false) where the kernel cannot. */
static pid_t clone_into_cgroup(int cgroup_fd) {
        struct clone_args a = {
                .flags = CLONE_INTO_CGROUP,
                .exit_signal = SIGCHLD,
                .cgroup = (uint64_t) cgroup_fd,
        };
        pid_t pid = (pid_t) syscall(SYS_clone3, &a, sizeof(a));

        if (pid < 0 && (errno == ENOSYS || errno == E2BIG))
                clone_into_cgroup_works = false;
        return pid;
}

/* The child: set up, exec, or report the failed step's errno on report_fd and exit. */
static _Noreturn void child_main(const SpawnParams *p, bool join_cgroup, int report_fd) {
        int err = -child_run(p, join_cgroup);

        (void) !write(report_fd, &err, sizeof(err));
        _exit(127);
}

typedef struct ChildArgs {
        const SpawnParams *p;
        int report_fd;
} ChildArgs;

/* clone_vfork_into_cgroup()'s child, on a stack of its own. */
static int child_entry(void *arg) {
        const ChildArgs *a = arg;

        child_main(a->p, false, a->report_fd);
}

static __attribute__((noinline)) pid_t spawn_vfork(const SpawnParams *p, int report_fd) {
        pid_t pid = vfork();

        if (pid == 0)
                child_main(p, p->cgroup_fd > STDERR_FILENO, report_fd);
        return pid;
}

/* The child, in p's cgroup from its creation where the kernel can: as fork(), -1 with errno. */
static pid_t spawn_child(const SpawnParams *p, int report_fd) {
        if (p->cgroup_fd > STDERR_FILENO && clone_into_cgroup_works) {
                ChildArgs a = { .p = p, .report_fd = report_fd };
                pid_t pid = clone_vfork_into_cgroup(p->cgroup_fd, child_entry, &a);

                if (pid != -ENOSYS) {
                        errno = pid < 0 ? -pid : 0;
                        return pid < 0 ? -1 : pid;
                }
                pid = clone_into_cgroup(p->cgroup_fd);

                if (pid == 0)
                        child_main(p, false, report_fd);
                if (pid > 0 || clone_into_cgroup_works)
                        return pid;
        }
        return spawn_vfork(p, report_fd);
}

/* The highest fd number p->fds give the program (2 without any). */
static int fds_top(const SpawnParams *p) {
        int top = STDERR_FILENO;

        for (size_t i = 0; i < p->n_fds; i++)
                if (p->fds[i].to > top)
                        top = p->fds[i].to;
        return top;
}

/* A close-on-exec pipe whose write end (the child's report) is above top, so no SpawnFd overwrites it.
 * Returns 0 or -errno. */
static int report_pipe(int fds[2], int top) {
        int w;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        if (fds[1] > top)
                return 0;
        w = fcntl(fds[1], F_DUPFD_CLOEXEC, top + 1);
        (void) close(fds[1]);
        fds[1] = w;
        if (w >= 0)
                return 0;
        w = -errno;
        (void) close(fds[0]);
        return w;
}

int spawn_recorded(const SpawnParams *p, pid_t *ret_pid) {
        bool cgroup = p && p->cgroup_fd > STDERR_FILENO;
        sigset_t old;
        int fds[2], top, r;
        pid_t pid;

        if (!p || !p->path || !p->argv || !p->argv[0] || p->stdout_fd <= STDERR_FILENO ||
            p->stderr_fd <= STDERR_FILENO || (p->record_fd >= 0 && p->record_fd <= STDERR_FILENO) ||
            (p->record_fd >= 0 && (!p->record_prefix || strlen(p->record_prefix) > SPAWN_PREFIX_MAX)) ||
            (cgroup && !clone_into_cgroup_works && p->cgroup_procs_fd <= STDERR_FILENO) ||
            (p->n_fds > 0 && !p->fds))
                return -EINVAL;
        top = fds_top(p);
        for (size_t i = 0; i < p->n_fds; i++)
                if (p->fds[i].from <= top || p->fds[i].to <= STDERR_FILENO)
                        return -EINVAL;
        if (p->record_fd >= 0 && p->record_fd <= top) /* written after the dup2()s */
                return -EINVAL;
        r = report_pipe(fds, top);
        if (r < 0)
                return r;

        r = mask_all(&old);
        if (r < 0) {
                (void) close(fds[0]);
                (void) close(fds[1]);
                return r;
        }
        pid = spawn_child(p, fds[1]);
        r = pid < 0 ? -errno : 0;
        mask_restore(&old);
        (void) close(fds[1]);
        if (r == 0)
                r = read_report(fds[0]);
        (void) close(fds[0]);
        if (r < 0) {
                if (pid > 0)
                        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                                ;
                return r;
        }
        *ret_pid = pid;
        return 0;
}
