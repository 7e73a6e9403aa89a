/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * spawn-cgroup N PAR CGDIR LOGDIR — the isolation floor: what spawn-loop does (N runs of /bin/true, at
 * most PAR at a time, each reaped as it ends), plus what orchd must do for every attempt however it is
 * built: a cgroup of its own (made in CGDIR, a cgroup2 directory; the child cloned straight into it by
 * clone3(CLONE_INTO_CGROUP), as orchd-keeper does; its cpu.stat read once it ended; then removed) and a
 * log file of its own (made in LOGDIR, the child's stdout and stderr). It records nothing durably, watches
 * no pipe and has no second process in the path. Prints the wall time in microseconds on stdout (one
 * number). Built with ../src/shared/clonevfork.c (x86-64; elsewhere clone3 is not available there and this
 * exits 69).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clonevfork.h"

#define MAX_PAR 64

extern char **environ;

typedef struct Slot {
        pid_t pid;
        long id;
} Slot;

static uint64_t now_us(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000U;
}

static int child(void *arg) {
        int log_fd = *(int *) arg;
        char *args[] = { (char *) "/bin/true", NULL };

        if (dup2(log_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0)
                _exit(126);
        execve(args[0], args, environ);
        _exit(127);
}

/* Start run id in cgroup CGDIR/sID with its output in LOGDIR/sID.log. Returns the pid or -1. */
static pid_t start(int cg_fd, int log_dir_fd, long id) {
        char name[32], log_name[40];
        int fd, log_fd;
        pid_t pid;

        snprintf(name, sizeof(name), "s%ld", id);
        snprintf(log_name, sizeof(log_name), "s%ld.log", id);
        if (mkdirat(cg_fd, name, 0755) < 0)
                return perror("mkdir cgroup"), -1;
        fd = openat(cg_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        log_fd = openat(log_dir_fd, log_name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
        if (fd < 0 || log_fd < 0)
                return perror("open"), -1;
        pid = clone_vfork_into_cgroup(fd, child, &log_fd);
        (void) close(fd);
        (void) close(log_fd);
        if (pid < 0) {
                fprintf(stderr, "clone3: %s\n", strerror(-pid));
                exit(pid == -ENOSYS ? 69 : 71);
        }
        return pid;
}

/* The ended run id: its accounting read, its cgroup removed. Returns 0 or -1. */
static int finish(int cg_fd, long id) {
        char name[32], path[48], buf[512];
        int fd;

        snprintf(name, sizeof(name), "s%ld", id);
        snprintf(path, sizeof(path), "%s/cpu.stat", name);
        fd = openat(cg_fd, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, buf, sizeof(buf)) < 0)
                return perror("cpu.stat"), -1;
        (void) close(fd);
        if (unlinkat(cg_fd, name, AT_REMOVEDIR) < 0)
                return perror("rmdir cgroup"), -1;
        return 0;
}

int main(int argc, char *argv[]) {
        Slot slots[MAX_PAR] = {};
        long n, par, started = 0, running = 0;
        int cg_fd, log_dir_fd;
        uint64_t t0;

        if (argc != 5 || (n = atol(argv[1])) <= 0 || (par = atol(argv[2])) <= 0 || par > MAX_PAR) {
                fprintf(stderr, "usage: %s N PAR CGDIR LOGDIR\n", argv[0]);
                return 64;
        }
        cg_fd = open(argv[3], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        log_dir_fd = open(argv[4], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cg_fd < 0 || log_dir_fd < 0)
                return perror("open"), 66;
        t0 = now_us();
        while (started < n || running > 0) {
                pid_t pid;

                for (long s = 0; s < par && started < n; s++)
                        if (slots[s].pid == 0) {
                                slots[s] = (Slot){ .pid = start(cg_fd, log_dir_fd, started), .id = started };
                                if (slots[s].pid < 0)
                                        return 71;
                                started++, running++;
                        }
                pid = waitpid(-1, NULL, 0);
                if (pid < 0)
                        return perror("waitpid"), 71;
                for (long s = 0; s < par; s++)
                        if (slots[s].pid == pid) {
                                if (finish(cg_fd, slots[s].id) < 0)
                                        return 71;
                                slots[s].pid = 0;
                                running--;
                        }
        }
        printf("%llu\n", (unsigned long long) (now_us() - t0));
        return 0;
}
