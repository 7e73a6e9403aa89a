/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spool-lock.c — the lock that keeps a second orchd off a spool in use.
 *
 * Two daemons on one spool would each recover the other's jobs, kill their
 * process groups and claim the same files. The first to lock SPOOL/orchd.lock
 * holds it until it exits (the kernel drops a flock with the last fd, so a
 * crash never leaves a stale lock behind); the file is never removed, since
 * removing a lock file races with the next daemon opening it. The pid in it
 * is for people and for the refusal message only: the lock, not the pid,
 * decides. Nothing is written before the lock is ours, so a refused daemon
 * changes nothing. Does not log and does not decide what a refusal means.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "macro.h"
#include "spool-lock.h"

/* The pid written in the lock file, or 0 if there is none (yet) or it is not a number. */
static pid_t read_holder(int fd) {
        char buf[24];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        char *end;
        long v;

        if (n <= 0)
                return 0;
        buf[n] = '\0';
        errno = 0;
        v = strtol(buf, &end, 10);
        if (errno != 0 || end == buf || (*end != '\n' && *end != '\0') || v <= 0 || v > INT32_MAX)
                return 0;
        return (pid_t) v;
}

int spool_lock(int spool_fd, pid_t *ret_holder) {
        _cleanup_close_ int fd = -EBADF;
        char buf[24];
        struct stat st;
        int n, r;

        *ret_holder = 0;
        fd = openat(spool_fd, SPOOL_LOCK_FILE,
                    O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                r = -errno;
                if (r == -EWOULDBLOCK)
                        *ret_holder = read_holder(fd);
                return r;
        }
        /* Ours now: replace the previous holder's pid. It is only information, so a full disk is no reason
         * not to start (a daemon that cannot write still serves status), and it is not fsynced: after a
         * crash the lock is gone anyway. */
        n = snprintf(buf, sizeof(buf), "%d\n", (int) getpid());
        if (ftruncate(fd, 0) >= 0)
                (void) loop_write(fd, buf, (size_t) n);
        return TAKE_FD(fd);
}
