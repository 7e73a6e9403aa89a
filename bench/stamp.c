/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * stamp FILE — write CLOCK_REALTIME in nanoseconds to FILE (created or truncated) as the first thing
 * this process does after exec. The latency benchmark runs it as a node: the difference to the time the
 * dropper took just before rename() is the drop-to-exec latency. A C program, not `date`, so that no
 * shell or fork sits between the exec and the clock read.
 */

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
        struct timespec ts;
        char buf[32], tmp[4096];
        int fd, len;

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        if (argc != 2) {
                fprintf(stderr, "usage: %s FILE\n", argv[0]);
                return 64;
        }
        len = snprintf(buf, sizeof(buf), "%lld%09ld\n", (long long) ts.tv_sec, ts.tv_nsec);
        /* Write under a temp name and rename, so a poller never reads a half-written stamp. */
        if (snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]) >= (int) sizeof(tmp))
                return 64;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, buf, len) != len || close(fd) < 0 || rename(tmp, argv[1]) < 0) {
                perror("stamp");
                return 73;
        }
        return 0;
}
