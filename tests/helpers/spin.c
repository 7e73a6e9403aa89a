/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * spin DIR N — a stubborn process tree for the timeout and cancel tests.
 *
 * Ignores SIGTERM, forks N children (which inherit the ignored SIGTERM), and every process of the tree
 * writes its pid to DIR/<pid> and then sleeps forever in pause(). Only SIGKILL ends it, so a test that
 * finds every recorded pid gone after a timeout proves the daemon escalated to SIGKILL and signalled the
 * whole process group, not just the process it spawned.
 *
 * Each pid file is written under a temporary name and renamed, so a test that counts the files in DIR
 * never sees a half-written one. The children stay in the parent's process group and session on purpose:
 * escaping them is not what this helper tests.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_pid_file(const char *dir) {
        char tmp[4096], final[4096], buf[32];
        pid_t pid = getpid();
        int fd, n;

        if (snprintf(tmp, sizeof(tmp), "%s/.%d.tmp", dir, (int) pid) >= (int) sizeof(tmp) ||
            snprintf(final, sizeof(final), "%s/%d", dir, (int) pid) >= (int) sizeof(final))
                return -ENAMETOOLONG;
        n = snprintf(buf, sizeof(buf), "%d\n", (int) pid);

        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        if (write(fd, buf, n) != n) {
                int r = errno > 0 ? -errno : -EIO;
                (void) close(fd);
                return r;
        }
        if (close(fd) < 0)
                return -errno;
        if (rename(tmp, final) < 0)
                return -errno;
        return 0;
}

int main(int argc, char *argv[]) {
        struct sigaction sa = { .sa_handler = SIG_IGN };
        char *end;
        long n;
        int r;

        if (argc != 3) {
                fprintf(stderr, "usage: %s DIR N\n", argv[0]);
                return 64;
        }
        errno = 0;
        n = strtol(argv[2], &end, 10);
        if (errno != 0 || *end != '\0' || n < 0 || n > 1000) {
                fprintf(stderr, "spin: N must be 0…1000, got '%s'\n", argv[2]);
                return 64;
        }

        /* Ignore SIGTERM before forking so no child ever runs with the default disposition. */
        if (sigaction(SIGTERM, &sa, NULL) < 0) {
                fprintf(stderr, "spin: sigaction: %s\n", strerror(errno));
                return 71;
        }

        for (long i = 0; i < n; i++) {
                pid_t pid = fork();

                if (pid < 0) {
                        fprintf(stderr, "spin: fork: %s\n", strerror(errno));
                        return 71;
                }
                if (pid == 0)
                        break; /* a child forks nothing further: the tree is the parent plus N children */
        }

        r = write_pid_file(argv[1]);
        if (r < 0) {
                fprintf(stderr, "spin: writing pid file in %s: %s\n", argv[1], strerror(-r));
                return 73;
        }
        printf("spin: pid %d ready\n", (int) getpid());
        fflush(stdout);

        for (;;)
                pause();
}
