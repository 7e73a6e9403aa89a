/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for spawnrec.c with real processes: the record is in the file before the program runs (the
 * program itself looks for its own line), it carries the start time procutil reads (even under a command
 * name with spaces and parentheses), a record that cannot be written means the program never runs, exec
 * failures are returned and leave no child, and the record's format. Where a cgroup2 can be made (root),
 * the program runs in the cgroup given from its exec on, set up as without one.
 */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <mntent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "procutil.h"
#include "spawnrec.h"

#define PREFIX "12 3 "

typedef struct Fixture {
        char dir[TEST_TMPDIR_MAX];
        char record[TEST_TMPDIR_MAX + 16];
        int dir_fd;
        int record_fd;
        int null_fd;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        f->dir_fd = test_tmpdir(f->dir, "test-spawnrec");
        snprintf(f->record, sizeof(f->record), "%s/starts", f->dir);
        f->record_fd = open(f->record, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        assert_true(f->record_fd > STDERR_FILENO);
        f->null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        assert_true(f->null_fd > STDERR_FILENO);
        *state = f;
        return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static int teardown(void **state) {
        Fixture *f = *state;

        close(f->null_fd);
        close(f->record_fd);
        close(f->dir_fd);
        (void) nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(f);
        return 0;
}

static SpawnParams params(Fixture *f, const char *path, char *const *argv) {
        return (SpawnParams){
                .path = path,
                .argv = argv,
                .cwd = f->dir,
                .stdout_fd = f->null_fd,
                .stderr_fd = f->null_fd,
                .record_fd = f->record_fd,
                .record_prefix = PREFIX,
        };
}

static int wait_exit(pid_t pid) {
        int status;

        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

/* The one line of the record file, NUL-terminated without its newline. */
static void read_record(Fixture *f, char *buf, size_t size) {
        ssize_t n;
        int fd = open(f->record, O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        n = read(fd, buf, size - 1);
        close(fd);
        assert_true(n > 0 && buf[n - 1] == '\n');
        buf[n - 1] = '\0';
        assert_null(strchr(buf, '\n'));
}

/* The program finds its own line, with its pid and the start time of /proc/self/stat, in the file. */
static void test_recorded_before_exec(void **state) {
        Fixture *f = *state;
        char script[256];
        char *argv[] = { (char *) "sh", (char *) "-c", script, NULL };
        SpawnParams p = params(f, "/bin/sh", argv);
        pid_t pid = 0;

        snprintf(script, sizeof(script),
                 "set -e; l=\"%s$$ $(cut -d' ' -f22 /proc/$$/stat)\"; "
                 "[ \"$(cat '%s')\" = \"$l\" ] || exit 3",
                 PREFIX, f->record);
        assert_int_equal(spawn_recorded(&p, &pid), 0);
        assert_true(pid > 0);
        assert_int_equal(wait_exit(pid), 0);
}

/* The start time recorded is the one procutil reads, under a command name that would fool a naive parser
 * (the child has the caller's name until its exec). */
static void test_start_time_matches(void **state) {
        Fixture *f = *state;
        char *argv[] = { (char *) "sleep", (char *) "1000", NULL };
        SpawnParams p = params(f, "/bin/sleep", argv);
        char line[256], want[256], name[17] = "";
        uint64_t start;
        pid_t pid = 0;

        assert_int_equal(prctl(PR_GET_NAME, name, 0, 0, 0), 0);
        assert_int_equal(prctl(PR_SET_NAME, "x) 1 2 (y", 0, 0, 0), 0);
        assert_int_equal(spawn_recorded(&p, &pid), 0);
        assert_int_equal(prctl(PR_SET_NAME, name, 0, 0, 0), 0);
        assert_int_equal(proc_start_time(pid, &start), 0);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);

        read_record(f, line, sizeof(line));
        snprintf(want, sizeof(want), PREFIX "%d %" PRIu64, (int) pid, start);
        assert_string_equal(line, want);
}

/* A record that cannot be written (a full disk: /dev/full) means the program never runs. */
static void test_unrecorded_never_runs(void **state) {
        Fixture *f = *state;
        char *argv[] = { (char *) "touch", (char *) "ran", NULL };
        SpawnParams p = params(f, "/usr/bin/touch", argv);
        pid_t pid = 0;

        p.record_fd = open("/dev/full", O_WRONLY | O_APPEND | O_CLOEXEC);
        assert_true(p.record_fd > STDERR_FILENO);
        assert_int_equal(spawn_recorded(&p, &pid), -ENOSPC);
        close(p.record_fd);
        assert_int_equal(pid, 0);
        assert_int_equal(faccessat(f->dir_fd, "ran", F_OK, 0), -1);
        assert_int_equal(errno, ENOENT);
        assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* reaped already: no child left */
        assert_int_equal(errno, ECHILD);

        /* The same program runs once its record can be written. */
        p.record_fd = f->record_fd;
        assert_int_equal(spawn_recorded(&p, &pid), 0);
        assert_int_equal(wait_exit(pid), 0);
        assert_int_equal(faccessat(f->dir_fd, "ran", F_OK, 0), 0);
}

/* A failed chdir or exec is the call's error, with the child reaped. A chdir fails before the record; an
 * exec after it (the record names a process that ran nothing, which recovery finds gone). Without a record
 * nothing is written. */
static void test_failures(void **state) {
        Fixture *f = *state;
        char *argv[] = { (char *) "true", NULL };
        SpawnParams p = params(f, "/bin/true", argv);
        struct stat st;
        pid_t pid = 0;

        p.cwd = "/nonexistent";
        assert_int_equal(spawn_recorded(&p, &pid), -ENOENT);
        assert_int_equal(fstat(f->record_fd, &st), 0);
        assert_int_equal(st.st_size, 0);
        p.cwd = f->dir;
        p.path = "/nonexistent/true";
        assert_int_equal(spawn_recorded(&p, &pid), -ENOENT);
        p.path = f->dir; /* a directory */
        assert_int_equal(spawn_recorded(&p, &pid), -EACCES);
        assert_int_equal(pid, 0);
        assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);

        p.path = "/bin/true";
        assert_int_equal(ftruncate(f->record_fd, 0), 0);
        p.record_fd = -1;
        assert_int_equal(spawn_recorded(&p, &pid), 0);
        assert_int_equal(wait_exit(pid), 0);
        assert_int_equal(fstat(f->record_fd, &st), 0);
        assert_int_equal(st.st_size, 0);

        p.record_fd = STDERR_FILENO; /* fds 0-2 are the child's own */
        assert_int_equal(spawn_recorded(&p, &pid), -EINVAL);
}

/* The program is a session leader without the caller's fds, with an empty signal mask and no signal ignored,
 * though the caller blocked and ignored some. The mask and dispositions are read by the program exec'd
 * directly (a shell blocks signals of its own around its forks). */
/* ---- into a cgroup ---- */

/* A fresh cgroup2 directory in dir (its path in path, its fds in *ret_fd and *ret_procs), or false where
 * none can be made (no cgroup2, not root). */
static bool cgroup_make(char *path, size_t size, int *ret_fd, int *ret_procs) {
        struct mntent *m;
        bool found = false;
        FILE *f = setmntent("/proc/self/mounts", "re");

        if (!f)
                return false;
        while (!found && (m = getmntent(f)))
                if (strcmp(m->mnt_type, "cgroup2") == 0) {
                        snprintf(path, size, "%s/orchd-spawnrec-%d", m->mnt_dir, (int) getpid());
                        found = true;
                }
        endmntent(f);
        if (!found || mkdir(path, 0755) < 0)
                return false;
        *ret_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        *ret_procs = openat(*ret_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
        assert_true(*ret_fd > STDERR_FILENO && *ret_procs > STDERR_FILENO);
        return true;
}

/* The program's /proc/self/cgroup line of cgroup2 ("0::/PATH") names the cgroup made for it, and it is
 * a session leader with an empty signal mask as without a cgroup. */
static void test_into_cgroup(void **state) {
        Fixture *f = *state;
        char path[PATH_MAX], want[PATH_MAX + 8], script[PATH_MAX + 256], line[256];
        char *argv[] = { (char *) "sh", (char *) "-c", script, NULL };
        SpawnParams p = params(f, "/bin/sh", argv);
        const char *base;
        pid_t pid = 0;

        if (!cgroup_make(path, sizeof(path), &p.cgroup_fd, &p.cgroup_procs_fd)) {
                skip();
                return;
        }
        base = strrchr(path, '/');
        snprintf(want, sizeof(want), "0::*%s", base);
        snprintf(script, sizeof(script),
                 "case \"$(grep '^0::' /proc/self/cgroup)\" in %s) ;; *) exit 3 ;; esac; "
                 "[ \"$(cut -d' ' -f6 /proc/$$/stat)\" = $$ ] || exit 4; "
                 "grep -q '^SigBlk:[[:space:]]*0*$' /proc/self/status || exit 5; "
                 "[ ! -e /proc/$$/fd/%d ] || exit 6",
                 want, p.cgroup_fd);
        assert_int_equal(spawn_recorded(&p, &pid), 0);
        assert_int_equal(wait_exit(pid), 0);
        /* Its record, as without a cgroup. */
        read_record(f, line, sizeof(line));
        snprintf(want, sizeof(want), "%s%d ", PREFIX, (int) pid);
        assert_true(strncmp(line, want, strlen(want)) == 0);
        close(p.cgroup_procs_fd);
        close(p.cgroup_fd);
        assert_int_equal(rmdir(path), 0);
}

static void test_child_state(void **state) {
        Fixture *f = *state;
        char script[512];
        char *sh_argv[] = { (char *) "sh", (char *) "-c", script, NULL };
        char *blk_argv[] = { (char *) "grep", (char *) "-q", (char *) "^SigBlk:[[:space:]]*0*$",
                             (char *) "/proc/self/status", NULL };
        char *ign_argv[] = { (char *) "grep", (char *) "-q", (char *) "^SigIgn:[[:space:]]*0*$",
                             (char *) "/proc/self/status", NULL };
        struct sigaction ign = { .sa_handler = SIG_IGN }, old_pipe, old_usr1;
        SpawnParams p;
        sigset_t block, old;
        pid_t pid = 0;

        /* Session id (field 6) is its pid; the caller's fds are not there. */
        snprintf(script, sizeof(script),
                 "[ \"$(cut -d' ' -f6 /proc/$$/stat)\" = $$ ] || exit 3; "
                 "[ -e /proc/$$/fd/2 ] && [ ! -e /proc/$$/fd/%d ] && [ ! -e /proc/$$/fd/%d ] || exit 5",
                 f->record_fd, f->null_fd);
        p = params(f, "/bin/sh", sh_argv);
        assert_int_equal(spawn_recorded(&p, &pid), 0);
        assert_int_equal(wait_exit(pid), 0);

        (void) sigemptyset(&block);
        (void) sigaddset(&block, SIGTERM);
        assert_int_equal(sigprocmask(SIG_BLOCK, &block, &old), 0);
        assert_int_equal(sigaction(SIGPIPE, &ign, &old_pipe), 0);
        assert_int_equal(sigaction(SIGUSR1, &ign, &old_usr1), 0);
        p = params(f, "/bin/grep", blk_argv);
        assert_int_equal(spawn_recorded(&p, &pid), 0);
        assert_int_equal(wait_exit(pid), 0);
        p = params(f, "/bin/grep", ign_argv);
        assert_int_equal(spawn_recorded(&p, &pid), 0);
        assert_int_equal(wait_exit(pid), 0);
        assert_int_equal(sigaction(SIGUSR1, &old_usr1, NULL), 0);
        assert_int_equal(sigaction(SIGPIPE, &old_pipe, NULL), 0);
        assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
}

static void test_format(void **state) {
        char buf[SPAWN_LINE_MAX], long_prefix[SPAWN_PREFIX_MAX + 2];

        assert_int_equal(spawn_format_record(buf, "0 1 ", 1, 0), (int) strlen("0 1 1 0\n"));
        assert_string_equal(buf, "0 1 1 0\n");
        assert_int_equal(spawn_format_record(buf, PREFIX, 4194304, UINT64_MAX),
                         (int) strlen(PREFIX "4194304 18446744073709551615\n"));
        assert_string_equal(buf, PREFIX "4194304 18446744073709551615\n");
        memset(long_prefix, 'x', sizeof(long_prefix) - 1);
        long_prefix[sizeof(long_prefix) - 1] = '\0';
        assert_int_equal(spawn_format_record(buf, long_prefix, 1, 0), -EINVAL);
        assert_int_equal(spawn_format_record(buf, PREFIX, 0, 0), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_recorded_before_exec, setup, teardown),
                cmocka_unit_test_setup_teardown(test_start_time_matches, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unrecorded_never_runs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
                cmocka_unit_test_setup_teardown(test_child_state, setup, teardown),
                cmocka_unit_test_setup_teardown(test_into_cgroup, setup, teardown),
                cmocka_unit_test(test_format),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
