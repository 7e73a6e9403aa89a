/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * spawn-loop N PAR [PROG] — the floor for the independent-node benchmarks: N posix_spawns of PROG
 * (default /bin/true), at most PAR at a time, each reaped as it ends (waitpid on any child), as a
 * scheduler that records nothing, opens no log file and watches no pipe would do. Prints the wall time in
 * microseconds on stdout (one number). Whatever orchd takes beyond this for the same N and PAR is its own
 * cost on this machine at this moment.
 */

#include <errno.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static uint64_t now_us(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000U;
}

int main(int argc, char *argv[]) {
        const char *prog = argc > 3 ? argv[3] : "/bin/true";
        char *args[] = { (char *) prog, NULL };
        long n, par, started = 0, running = 0;
        uint64_t t0;

        if (argc < 3 || (n = atol(argv[1])) <= 0 || (par = atol(argv[2])) <= 0) {
                fprintf(stderr, "usage: %s N PAR [PROG]\n", argv[0]);
                return 64;
        }
        t0 = now_us();
        while (started < n || running > 0) {
                pid_t pid;

                while (started < n && running < par) {
                        int r = posix_spawn(&pid, prog, NULL, NULL, args, environ);

                        if (r != 0) {
                                fprintf(stderr, "posix_spawn %s: %s\n", prog, strerror(r));
                                return 71;
                        }
                        started++, running++;
                }
                if (waitpid(-1, NULL, 0) < 0) {
                        perror("waitpid");
                        return 71;
                }
                running--;
        }
        printf("%llu\n", (unsigned long long) (now_us() - t0));
        return 0;
}
