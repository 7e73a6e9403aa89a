/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * drop SRC DST — rename SRC to DST (a complete job file from tmp/ into new/) and print CLOCK_REALTIME in
 * nanoseconds read just before the rename(). The latency benchmark subtracts this from the time the
 * node's first instruction recorded (bench/stamp). A C helper, so that no shell overhead sits between
 * the clock read and the rename.
 */

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <errno.h>

int main(int argc, char *argv[]) {
        struct timespec ts;

        if (argc != 3) {
                fprintf(stderr, "usage: %s SRC DST\n", argv[0]);
                return 64;
        }
        (void) clock_gettime(CLOCK_REALTIME, &ts);
        if (rename(argv[1], argv[2]) < 0) {
                fprintf(stderr, "drop: rename %s → %s: %s\n", argv[1], argv[2], strerror(errno));
                return 73;
        }
        printf("%lld%09ld\n", (long long) ts.tv_sec, ts.tv_nsec);
        return 0;
}
