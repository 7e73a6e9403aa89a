/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * spawn-floor DIR STAMP STAMPDIR N — the floor for bench/latency.sh: the least any inotify-driven
 * spooler can do. Watches DIR for IN_MOVED_TO and, for each file, posix_spawns "STAMP STAMPDIR/K"
 * (K = 1, 2, …) and reaps it, N times. No parsing, no durability, no supervision: whatever orchd's
 * latency exceeds this by is orchd's own cost on this machine at this moment.
 */

#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char *argv[]) {
        char buf[4096] __attribute__((aligned(8)));
        int fd, n, done = 0;

        if (argc != 5) {
                fprintf(stderr, "usage: %s DIR STAMP STAMPDIR N\n", argv[0]);
                return 64;
        }
        n = atoi(argv[4]);
        fd = inotify_init1(IN_CLOEXEC);
        if (fd < 0 || inotify_add_watch(fd, argv[1], IN_MOVED_TO) < 0) {
                perror("inotify");
                return 71;
        }
        /* Tell the driver we are watching. */
        printf("ready\n");
        fflush(stdout);
        while (done < n) {
                ssize_t l = read(fd, buf, sizeof(buf));

                if (l < 0) {
                        perror("read");
                        return 74;
                }
                for (ssize_t off = 0; off < l && done < n;) {
                        struct inotify_event *ev = (struct inotify_event *) (buf + off);
                        char path[PATH_MAX];
                        char *args[] = { argv[2], path, NULL };
                        pid_t pid;

                        off += sizeof(*ev) + ev->len;
                        snprintf(path, sizeof(path), "%s/%d", argv[3], ++done);
                        if ((errno = posix_spawn(&pid, argv[2], NULL, NULL, args, environ)) != 0) {
                                perror("posix_spawn");
                                return 71;
                        }
                        (void) waitpid(pid, NULL, 0);
                }
        }
        return 0;
}
