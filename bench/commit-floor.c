/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * commit-floor DIR N — the cost of one durable small-file commit on DIR's file system.
 *
 * Repeats N times what a crash-safe daemon must do at least once per recorded state change: write a
 * small temp file, fsync it, rename it over the state file, fsync the directory. Prints the mean in
 * microseconds per commit on stdout (one number), so a benchmark can add it to a tool that keeps no
 * durable state (ninja) to get the floor for one that does.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static int commit_once(int dir_fd, const char *buf, size_t len) {
        int fd = openat(dir_fd, ".#state.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);

        if (fd < 0)
                return -errno;
        if (write(fd, buf, len) != (ssize_t) len || fsync(fd) < 0) {
                int r = errno > 0 ? -errno : -EIO;
                (void) close(fd);
                return r;
        }
        if (close(fd) < 0)
                return -errno;
        if (renameat(dir_fd, ".#state.tmp", dir_fd, "state.json") < 0)
                return -errno;
        return fsync(dir_fd) < 0 ? -errno : 0;
}

int main(int argc, char *argv[]) {
        char buf[256];
        uint64_t t0;
        long n;
        int dir_fd, len;

        if (argc != 3 || (n = strtol(argv[2], NULL, 10)) <= 0) {
                fprintf(stderr, "usage: %s DIR N\n", argv[0]);
                return 64;
        }
        dir_fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0) {
                fprintf(stderr, "commit-floor: %s: %s\n", argv[1], strerror(errno));
                return 66;
        }

        t0 = now_ns();
        for (long i = 0; i < n; i++) {
                int r;

                len = snprintf(buf, sizeof(buf),
                               "{\"version\":1,\"seq\":%ld,\"node\":\"n%ld\",\"state\":\"succeeded\"}\n", i,
                               i);
                r = commit_once(dir_fd, buf, (size_t) len);
                if (r < 0) {
                        fprintf(stderr, "commit-floor: commit %ld: %s\n", i, strerror(-r));
                        return 74;
                }
        }
        printf("%.1f\n", (double) (now_ns() - t0) / 1000.0 / (double) n);
        (void) unlinkat(dir_fd, "state.json", 0);
        return 0;
}
