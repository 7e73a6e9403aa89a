/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * orchd-gate — the gate of a node that runs as the daemon's own user (root's jobs, every job of a daemon
 * that is not root), the counterpart of orchd-exec's for owners' nodes (exec-proto.h):
 *
 *   orchd-gate PATH ARGV0 [ARG…]
 *
 * orchd posix_spawn()s this with everything of the node already in place (session, signals, stdin, the
 * output pipes, cwd, umask, the node's environment as ours) and the gate's read end on fd 5. It reads one
 * byte there, which orchd writes only once the attempt's pid is recorded where the next start finds it, then
 * execve()s PATH (the daemon resolved it) with the rest as argv. EOF instead of the byte (orchd died before
 * recording the attempt, or gave up on it) exits 127 without running anything: an attempt whose record was
 * lost never runs. A failed execve is one ExecStatus on fd 3 (close-on-exec, so a started node closes it),
 * then exit 127.
 *
 * Why a program of its own: posix_spawn() returns only after the exec, so the daemon could not hold the node
 * there; a fork() of a daemon with 100,000 nodes of state costs milliseconds; orchd-exec links PAM, which
 * this path does not need. It links only libc and runs with the node's ids, never more.
 */

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "exec-proto.h"

static _Noreturn void fail(int code) {
        ExecStatus st = { .step = EXEC_STEP_EXEC, .code = code };
        ssize_t n = write(EXEC_STATUS_FD, &st, sizeof(st));

        (void) n; /* nothing more can be done if orchd stopped listening */
        _exit(127);
}

int main(int argc, char *argv[], char *envp[]) {
        ssize_t n;
        char b;

        if (fcntl(EXEC_STATUS_FD, F_SETFD, FD_CLOEXEC) < 0)
                _exit(127); /* not started by orchd */
        if (argc < 3) {
                ExecStatus st = { .step = EXEC_STEP_SETUP, .code = EINVAL };

                (void) !write(EXEC_STATUS_FD, &st, sizeof(st));
                _exit(127);
        }
        do
                n = read(EXEC_GATE_FD, &b, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1)
                _exit(127);
        /* Only 0, 1, 2 and the close-on-exec status fd reach the node. */
        (void) close_range(EXEC_REQUEST_FD, ~0U, 0);
        execve(argv[1], argv + 2, envp);
        fail(errno);
}
