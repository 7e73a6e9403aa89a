/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * orchd-exec — the privilege drop of a node (SPEC §8), as a tiny program of its own.
 *
 *   orchd-exec STATUS_FD UID GID GROUPS CWD PATH ARGV0 [ARG...]
 *
 * orchd (as root) posix_spawn()s this for every node whose owner is not root. It sets the supplementary
 * groups (GROUPS: comma-separated gids, "" for none), then the gid, then the uid, verifies each change and
 * that root cannot be regained, changes to CWD as the owner (so the owner's permissions decide), and
 * execs PATH with ARGV0 ARG... and the environment it was given. Any failure is reported to orchd as the
 * errno (a native int) written on STATUS_FD, and this process exits 127 without running anything; on
 * success STATUS_FD closes at exec (it is close-on-exec) and orchd reads EOF.
 *
 * Why a separate program: orchd is multi-threaded (its journal committer), and glibc's setuid() family
 * must then stop every thread to change them all (the "setxid" broadcast). That cannot work in the
 * vfork()-style child posix_spawn() creates, and a full fork() of a daemon holding 100,000 nodes of
 * state costs milliseconds. This program is single-threaded, so the plain calls are correct, and it is
 * small enough to audit line by line. It is not setuid and refuses to run if it is.
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GROUPS_MAX 65536

static int status_fd = -1;

/* Report errno e to orchd and exit without running anything. */
static _Noreturn void fail(int e) {
        if (status_fd >= 0) {
                ssize_t n = write(status_fd, &e, sizeof(e));
                (void) n; /* nothing more can be done if orchd stopped listening */
        }
        _exit(127);
}

static bool parse_id(const char *s, unsigned long max, unsigned long *ret) {
        char *end;

        if (!s || *s < '0' || *s > '9')
                return false;
        errno = 0;
        *ret = strtoul(s, &end, 10);
        return errno == 0 && *end == '\0' && *ret <= max;
}

static size_t parse_groups(const char *s, gid_t *groups) {
        size_t n = 0;

        while (*s) {
                unsigned long v;
                char buf[16];
                size_t len = strcspn(s, ",");

                if (len == 0 || len >= sizeof(buf) || n == GROUPS_MAX)
                        fail(EINVAL);
                memcpy(buf, s, len);
                buf[len] = '\0';
                if (!parse_id(buf, (gid_t) -2, &v))
                        fail(EINVAL);
                groups[n++] = (gid_t) v;
                s += len + (s[len] == ',');
        }
        return n;
}

static int cmp_gid(const void *a, const void *b) {
        gid_t x = *(const gid_t *) a, y = *(const gid_t *) b;

        return x < y ? -1 : x > y;
}

/* groups is sorted (the kernel keeps them sorted, so getgroups() returns them that way). */
static void drop_privileges(uid_t uid, gid_t gid, gid_t *groups, size_t n_groups) {
        uid_t ru, eu, su;
        gid_t rg, eg, sg;
        static gid_t check[GROUPS_MAX];
        int n;

        if (setgroups(n_groups, groups) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                fail(errno);
        qsort(groups, n_groups, sizeof(gid_t), cmp_gid);

        /* Trust nothing: read every id back. */
        if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
                fail(errno);
        if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
                fail(EPERM);
        n = getgroups(GROUPS_MAX, check);
        if (n > 0)
                qsort(check, (size_t) n, sizeof(gid_t), cmp_gid);
        if (n < 0 || (size_t) n != n_groups || (n > 0 && memcmp(check, groups, n * sizeof(gid_t)) != 0))
                fail(EPERM);
        /* And root must be gone for good. */
        if (uid != 0 && (setresuid(0, 0, 0) == 0 || setresgid(0, 0, 0) == 0))
                fail(EPERM);
}

int main(int argc, char *argv[]) {
        static gid_t groups[GROUPS_MAX];
        unsigned long fd, uid, gid;
        size_t n_groups;

        if (argc < 8 || !parse_id(argv[1], INT_MAX, &fd) || fd < 3)
                _exit(127); /* not started by orchd: no status fd to report on */
        status_fd = (int) fd;
        if (fcntl(status_fd, F_SETFD, FD_CLOEXEC) < 0)
                _exit(127);
        /* A setuid copy of this program would let anyone become anyone. */
        if (getuid() != geteuid() || getgid() != getegid())
                fail(EPERM);
        if (!parse_id(argv[2], (uid_t) -2, &uid) || !parse_id(argv[3], (gid_t) -2, &gid))
                fail(EINVAL);
        n_groups = parse_groups(argv[4], groups);

        drop_privileges((uid_t) uid, (gid_t) gid, groups, n_groups);
        if (chdir(argv[5]) < 0)
                fail(errno);
        execv(argv[6], argv + 7);
        fail(errno);
}
