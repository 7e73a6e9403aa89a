/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * procutil.c — process identity from /proc.
 *
 * Owns nothing. The one rule: never signal a pid without proving it is the
 * process we mean, because a crashed daemon's recorded pids may long since
 * belong to someone else. The start time in /proc/PID/stat (field 22) is
 * fixed for a process's life, so pid + start time names exactly one process
 * per boot. Reads /proc/PID/stat after the last ')' so a command name with
 * spaces or parentheses cannot shift the fields.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "macro.h"
#include "procutil.h"

int proc_start_time(pid_t pid, uint64_t *ret) {
        char path[64], buf[1024], *p, state;
        unsigned long long start;
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return errno == ESRCH ? -ESRCH : -errno;
        buf[n] = '\0';
        p = strrchr(buf, ')');
        /* After ")": state (field 3), then fields 4…21, then starttime (field 22). */
        if (!p ||
            sscanf(p + 1, " %c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
                   &state, &start) != 2)
                return -EBADMSG;
        if (state == 'Z' || state == 'X')
                return -ESRCH;
        *ret = start;
        return 0;
}

int proc_kill_group_if_same(pid_t pid, uint64_t start_time, int wait_msec) {
        _cleanup_close_ int pidfd = -EBADF;
        struct pollfd pfd;
        uint64_t now;
        int r;

        if (pid <= 1)
                return -EINVAL;
        /* Held from before the check, the pidfd names the process we checked, whatever happens to the pid.
         */
        pidfd = pidfd_open(pid, 0);
        if (pidfd < 0 && errno == ESRCH)
                return 0;
        r = proc_start_time(pid, &now);
        if (r == -ESRCH)
                return 0;
        if (r < 0)
                return r;
        if (now != start_time)
                return 0; /* the pid was reused: not ours */
        /* Our nodes lead their own session, so the group id is the pid. */
        if (kill(-pid, SIGKILL) < 0)
                return errno == ESRCH ? 0 : -errno;
        pfd = (struct pollfd){ .fd = pidfd, .events = POLLIN };
        if (pidfd >= 0 && wait_msec > 0) /* readable once it exited (a zombie is gone as far as we care) */
                while (poll(&pfd, 1, wait_msec) < 0 && errno == EINTR)
                        ;
        return 1;
}
