/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * supervise-spawn.c — starting a task's process with spawnrec.c (in the attempt's cgroup from its
 * creation, recorded before its exec when asked): the daemon's own nodes directly, other users' nodes and
 * nodes with a umask of their own through orchd-exec (exec-client.c), gated until task_open_gate() when
 * asked.
 *
 * Owns: the search of the executable (as execvp() would, with the node's PATH and cwd, so a missing
 * program fails the start here and not in the child), orchd-exec's fds and arguments, and the gate pipe.
 * Deliberately not here: watching the process (supervise.c) and its output (supervise-output.c).
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec-client.h"
#include "fsutil.h"
#include "log.h"
#include "macro.h"
#include "spawnrec.h"
#include "supervise-internal.h"
#include "time-util.h"

#define TASK_DEFAULT_PATH "/bin:/usr/bin" /* what execvp() searches when PATH is unset */

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

/* Start the node itself (the daemon's own user, its umask): spawnrec.h, recorded before its exec if asked.
 */
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
                .cgroup_fd = t->cgroup_fd,
                .cgroup_procs_fd = t->cgroup_procs_fd,
        };
        t->started_at = now_usec(CLOCK_REALTIME);
        return spawn_recorded(&sp, &t->pid);
}

static int (*helper_main)(int argc, char *argv[]);

void task_set_helper_main(int (*main_fn)(int argc, char *argv[])) {
        helper_main = main_fn;
}

/* The child of task_start_helper() in-process (the unit tests' helper_main): what spawn_recorded() does for
 * the exec'd helper (new session, signals reset, its fixed fds), then the helper's logic itself, which joins
 * the cgroup at EXEC_CGROUP_FD first. Every fd given is above EXEC_CGROUP_FD, so no dup2 overwrites another.
 */
static _Noreturn void task_helper_child(char **hargv, int out_fd, int err_fd, int status_fd, int request_fd,
                                        int gate_fd, int cgroup_fd) {
        sigset_t empty;
        int null_fd, argc = 0;

        (void) setsid();
        for (int sig = 1; sig < NSIG; sig++)
                (void) signal(sig, SIG_DFL);
        (void) sigemptyset(&empty);
        (void) sigprocmask(SIG_SETMASK, &empty, NULL);
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
            dup2(err_fd, STDERR_FILENO) < 0 || dup2(status_fd, EXEC_STATUS_FD) < 0 ||
            dup2(request_fd, EXEC_REQUEST_FD) < 0 || (gate_fd >= 0 && dup2(gate_fd, EXEC_GATE_FD) < 0) ||
            (cgroup_fd >= 0 && dup2(cgroup_fd, EXEC_CGROUP_FD) < 0) || chdir("/") < 0)
                _exit(127);
        /* Not exec'd, so no O_CLOEXEC helps: a stray fd at EXEC_GATE_FD would read as a gate. */
        if (gate_fd < 0)
                (void) close(EXEC_GATE_FD);
        (void) close_range(cgroup_fd >= 0 ? EXEC_CGROUP_FD + 1 : EXEC_GATE_FD + 1, ~0U, 0);
        while (hargv[argc])
                argc++;
        (void) helper_main(argc, hargv);
        _exit(127);
}

/* Start orchd-exec for the node, gated if it must be recorded (its pid is known only once it runs). */
static int task_start_helper(Task *t, const TaskParams *p, int out_fd, int err_fd) {
        static char *const empty_env[] = { NULL };
        _cleanup_close_ int status_r = -EBADF, status_w = -EBADF, request_fd = -EBADF, gate_r = -EBADF,
                            cgroup_w = -EBADF;
        _cleanup_strv_free_ char **hargv = NULL;
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
        if (helper_main) {
                if (t->cgroup_procs_fd >= 0) {
                        cgroup_w = fcntl(t->cgroup_procs_fd, F_DUPFD_CLOEXEC, EXEC_CGROUP_FD + 1);
                        if (cgroup_w < 0)
                                return -errno;
                }
                t->started_at = now_usec(CLOCK_REALTIME);
                t->pid = fork();
                if (t->pid < 0)
                        return -errno;
                if (t->pid == 0)
                        task_helper_child(hargv, out_fd, err_fd, status_w, request_fd, gate_r, cgroup_w);
                t->status_fd = TAKE_FD(status_r);
                return 0;
        }
        /* In the attempt's cgroup from its creation (spawnrec.h), so the helper needs no EXEC_CGROUP_FD;
         * the environment is empty: the loader of a root process must find no LD_*. */
        const SpawnFd fds[] = {
                { status_w, EXEC_STATUS_FD },
                { request_fd, EXEC_REQUEST_FD },
                { gate_r, EXEC_GATE_FD },
        };
        SpawnParams sp = {
                .path = p->helper,
                .argv = hargv,
                .env = empty_env,
                .cwd = "/", /* it changes directory itself, as the owner */
                .stdout_fd = out_fd,
                .stderr_fd = err_fd,
                .record_fd = -EBADF,
                .cgroup_fd = t->cgroup_fd,
                .cgroup_procs_fd = t->cgroup_procs_fd,
                .fds = fds,
                .n_fds = gate_r >= 0 ? 3 : 2,
        };
        t->started_at = now_usec(CLOCK_REALTIME);
        r = spawn_recorded(&sp, &t->pid);
        /* The helper's report, if any, is read when it exits (task_result_from_helper). */
        if (r >= 0)
                t->status_fd = TAKE_FD(status_r);
        return r;
}

/* Start the process with stdout/stderr on the given pipe write ends. Returns 0 with t->pid, or -errno. */
int task_start_process(Task *t, const TaskParams *p, int out_fd, int err_fd) {
        if (p->cred || p->umask != TASK_DEFAULT_UMASK)
                return task_start_helper(t, p, out_fd, err_fd);
        return task_start_plain(t, p, out_fd, err_fd);
}
