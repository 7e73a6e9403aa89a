/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * exec-client.c — orchd's side of the orchd-exec contract (exec-proto.h).
 *
 * Owns nothing beyond a call: each function hands its fds and strings to the caller or closes them. The
 * node's argv, environment and cwd travel in a memfd (never on the helper's command line, which /proc shows
 * to everyone, and never in its environment, which the loader of a root process would act on); the helper's
 * own environment is always empty. The synchronous account check reaps its child by pid, which is safe
 * because nothing in orchd waits for children it does not own (sd-event knows only the pidfds of nodes).
 *
 * Deliberately not here: starting and supervising nodes (supervise.c), logging.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec-client.h"
#include "fsutil.h"
#include "macro.h"
#include "time-util.h"

int exec_fd_above_fixed(int fd) {
        int moved;

        if (fd > EXEC_CGROUP_FD)
                return fd;
        moved = fcntl(fd, F_DUPFD_CLOEXEC, EXEC_CGROUP_FD + 1);
        if (moved < 0)
                moved = -errno;
        safe_close(fd);
        return moved;
}

int exec_status_pipe(int *ret_read, int *ret_write) {
        int fds[2];

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        /* Only the read end: anything that inherited the write end must never block a reader. */
        if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
                safe_close(fds[0]);
                safe_close(fds[1]);
                return -errno;
        }
        fds[1] = exec_fd_above_fixed(fds[1]);
        if (fds[1] < 0) {
                safe_close(fds[0]);
                return fds[1];
        }
        *ret_read = fds[0];
        *ret_write = fds[1];
        return 0;
}

/* Append a NUL-terminated string to buf at *pos (buf NULL: only count). */
static void put_string(char *buf, size_t *pos, const char *s) {
        size_t n = strlen(s) + 1;

        if (buf)
                memcpy(buf + *pos, s, n);
        *pos += n;
}

/* "CWD\0N_ARGV\0N_ENV\0" ARGV… ENV…, each string NUL-terminated (exec-proto.h); buf NULL: only count. */
static size_t request_format(const char *cwd, char *const *argv, char *const *env, char *buf) {
        size_t pos = 0, n_argv = 0, n_env = 0;
        char num[24];

        while (argv[n_argv])
                n_argv++;
        while (env && env[n_env])
                n_env++;
        put_string(buf, &pos, cwd ?: "/");
        snprintf(num, sizeof(num), "%zu", n_argv);
        put_string(buf, &pos, num);
        snprintf(num, sizeof(num), "%zu", n_env);
        put_string(buf, &pos, num);
        for (size_t i = 0; i < n_argv; i++)
                put_string(buf, &pos, argv[i]);
        for (size_t i = 0; i < n_env; i++)
                put_string(buf, &pos, env[i]);
        return pos;
}

int exec_request_new(const char *cwd, char *const *argv, char *const *env, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t size = request_format(cwd, argv, env, NULL);
        int r;

        if (size > EXEC_REQUEST_MAX)
                return -E2BIG;
        buf = malloc(size);
        if (!buf)
                return -ENOMEM;
        (void) request_format(cwd, argv, env, buf);
        fd = memfd_create("orchd-exec-request", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = loop_write(fd, buf, size);
        if (r < 0)
                return r;
        r = exec_fd_above_fixed(TAKE_FD(fd));
        if (r < 0)
                return r;
        *ret_fd = r;
        return 0;
}

char **exec_argv_new(const char *helper, bool run_as_owner, uid_t uid, const char *user, mode_t umask,
                     const char *pam_confdir) {
        _cleanup_strv_free_ char **a = calloc(7, sizeof(char *));

        if (!a || !(a[0] = strdup(helper)))
                return NULL;
        if (!run_as_owner) {
                if (!(a[1] = strdup("self")) || asprintf(&a[2], "%04o", (unsigned) umask) < 0)
                        return NULL;
                return TAKE_PTR(a);
        }
        if (!(a[1] = strdup("run")) || asprintf(&a[2], "%u", (unsigned) uid) < 0 || !(a[3] = strdup(user)) ||
            asprintf(&a[4], "%04o", (unsigned) umask) < 0 || !(a[5] = strdup(pam_confdir ?: "")))
                return NULL;
        return TAKE_PTR(a);
}

int exec_read_status(int status_fd, ExecStatus *ret) {
        ssize_t n;

        do
                n = read(status_fd, ret, sizeof(*ret));
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (n == 0)
                return 0;
        return n == sizeof(*ret) ? 1 : -EIO;
}

static int spawn_check_account(const char *helper, char *const *argv, int status_w, pid_t *ret_pid) {
        static char *const empty_env[] = { NULL };
        posix_spawn_file_actions_t fa;
        int r;

        r = -posix_spawn_file_actions_init(&fa);
        if (r < 0)
                return r;
        /* Quiet: a PAM module's chatter on stderr must not land in orchd's log as lines of its own. */
        r = -posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (r >= 0)
                r = -posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        if (r >= 0)
                r = -posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        if (r >= 0)
                r = -posix_spawn_file_actions_adddup2(&fa, status_w, EXEC_STATUS_FD);
        if (r >= 0)
                r = -posix_spawn_file_actions_addclosefrom_np(&fa, EXEC_STATUS_FD + 1);
        if (r >= 0)
                r = -posix_spawn(ret_pid, helper, &fa, NULL, argv, empty_env);
        (void) posix_spawn_file_actions_destroy(&fa);
        return r;
}

int exec_check_account(const char *helper, const char *pam_confdir, uid_t uid, uint64_t timeout_usec,
                       int *ret_account) {
        _cleanup_close_ int status_r = -EBADF, status_w = -EBADF;
        char uid_s[16],
                *argv[] = { (char *) helper, (char *) "check-account", uid_s, (char *) (pam_confdir ?: ""),
                            NULL };
        struct pollfd pfd;
        ExecStatus st;
        pid_t pid;
        int r;

        snprintf(uid_s, sizeof(uid_s), "%u", (unsigned) uid);
        r = exec_status_pipe(&status_r, &status_w);
        if (r < 0)
                return r;
        r = spawn_check_account(helper, argv, status_w, &pid);
        if (r < 0)
                return r;
        status_w = safe_close(status_w);

        /* PAM may ask a directory service: bounded, and the helper is killed if it does not answer. */
        pfd = (struct pollfd){ .fd = status_r, .events = POLLIN };
        r = poll(&pfd, 1, (int) MIN(timeout_usec / USEC_PER_MSEC, (uint64_t) INT_MAX));
        if (r == 0)
                r = -ETIMEDOUT;
        else if (r > 0)
                r = exec_read_status(status_r, &st);
        else
                r = -errno;
        if (r <= 0)
                (void) kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        if (r <= 0)
                return r == 0 ? -EIO : r;
        if (st.step != EXEC_STEP_ACCOUNT || st.code < EXEC_ACCOUNT_OK || st.code >= _EXEC_ACCOUNT_MAX)
                return st.step == EXEC_STEP_SETUP && st.code > 0 ? -st.code : -EIO;
        *ret_account = st.code;
        return 0;
}
