/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for supervise.c. Not pure: these run real children under a real sd-event loop, in a mkdtemp
 * directory, and check what the child saw (env, cwd, fds, signal mask) through the log file it wrote.
 * The test process makes itself a child subreaper so that group members orphaned by a kill are reparented
 * to it and can be reaped (waitid P_PGID), which is what makes "the whole group is gone" observable even
 * where PID 1 does not reap zombies. Every exit callback frees its Task, so ASan checks that path too.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "macro.h"
#include "supervise.h"

#define LOG_NAME "node.1.log"
#define RECORD_NAME "starts"
#define RECORD_PREFIX "7 1 "
#define GLIBC_INTERNAL_SIGNALS ((1ULL << (32 - 1)) | (1ULL << (33 - 1)))
#define MSEC(n) ((uint64_t) (n) *USEC_PER_MSEC)
#define RUN_DEADLINE_USEC (20 * USEC_PER_SEC)

static char *const default_env[] = { (char *) "PATH=/usr/bin:/bin", NULL };

typedef struct Fixture {
        char dir[TEST_TMPDIR_MAX];
        int dir_fd;
        sd_event *event;
        const char *helper; /* set: nodes start through orchd-exec "self" with umask 077 (setup_helper) */
        int record_fd; /* >= 0: nodes are recorded in f->dir/RECORD_NAME before their exec (TaskParams) */
} Fixture;

typedef struct Run {
        bool done;
        TaskResult result;
        Task *task;
        pid_t pid;
        void (*action)(Task *t); /* called from a timer 100 ms after the start, if set, */
        const char *armed;       /* and once the log holds this text, if set (the child is ready for it) */
        struct Fixture *f;
} Run;

static uint64_t now_usec(clockid_t clock) {
        struct timespec ts;

        assert_int_equal(clock_gettime(clock, &ts), 0);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        f->dir_fd = test_tmpdir(f->dir, "test-supervise");
        f->record_fd = -EBADF;
        assert_int_equal(sd_event_new(&f->event), 0);
        *state = f;
        return 0;
}

/* The same cases through the helper: what the owner path does, minus the drop (tests run as any user). */
static int setup_helper(void **state) {
        const char *helper = getenv("ORCHD_EXEC_HELPER");
        Fixture *f;

        if (!helper) {
                print_message("ORCHD_EXEC_HELPER is not set: the helper variants need orchd-exec\n");
                return -1;
        }
        setup(state);
        f = *state;
        f->helper = helper;
        return 0;
}

/* The same cases on record before the exec (setup_record): written by the child itself, or through the
 * helper (setup_helper_record) held at the gate until run_task() wrote it and opened the gate. */
static int setup_record(void **state) {
        Fixture *f;

        setup(state);
        f = *state;
        f->record_fd = openat(f->dir_fd, RECORD_NAME, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        assert_true(f->record_fd > STDERR_FILENO);
        return 0;
}

static int setup_helper_record(void **state) {
        if (setup_record(state) < 0)
                return -1;
        ((Fixture *) *state)->helper = getenv("ORCHD_EXEC_HELPER");
        if (!((Fixture *) *state)->helper) {
                print_message("ORCHD_EXEC_HELPER is not set: the helper variants need orchd-exec\n");
                return -1;
        }
        return 0;
}

/* A gated process is still the program that holds it (orchd-exec), never the node. */
static void assert_held(Fixture *f, pid_t pid) {
        char link[64], exe[PATH_MAX], want[PATH_MAX];
        ssize_t n;

        snprintf(link, sizeof(link), "/proc/%d/exe", (int) pid);
        n = readlink(link, exe, sizeof(exe) - 1);
        assert_true(n > 0);
        exe[n] = '\0';
        assert_non_null(realpath(f->helper, want));
        assert_string_equal(exe, want);
}

/* The child recorded itself before its exec: the record file's line is RECORD_PREFIX, its pid and its start
 * time. */
static void assert_recorded(Fixture *f, pid_t pid) {
        char buf[4096], want[64];
        ssize_t n;
        int fd;

        fd = openat(f->dir_fd, RECORD_NAME, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        assert_true(n > 0 && buf[n - 1] == '\n');
        buf[n - 1] = '\0';
        assert_null(strchr(buf, '\n'));
        snprintf(want, sizeof(want), RECORD_PREFIX "%d ", (int) pid);
        assert_true(strncmp(buf, want, strlen(want)) == 0);
}

static int teardown(void **state) {
        Fixture *f = *state;

        sd_event_unref(f->event);
        safe_close(f->record_fd);
        safe_close(f->dir_fd);
        (void) nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(f);
        return 0;
}

static void on_exit_free(Task *t, const TaskResult *result, void *userdata) {
        Run *run = userdata;

        assert_false(run->done); /* called once */
        assert_ptr_equal(t, run->task);
        run->done = true;
        run->result = *result;
        run->task = task_free(t); /* the contract: freeing from inside the callback is fine */
}

static char *read_log(struct Fixture *f, size_t *ret_len);

/* The action waits for the child to say it is ready (a shell that has not run its trap yet would die of
 * the TERM the test means it to ignore: a loaded machine can take that long). Polled, from the log. */
static int on_action_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Run *run = userdata;

        if (!run->task)
                return 0;
        if (run->armed) {
                _cleanup_free_ char *log = read_log(run->f, NULL);

                if (!strstr(log, run->armed)) {
                        assert_int_equal(sd_event_source_set_time_relative(s, 5 * USEC_PER_MSEC), 0);
                        assert_int_equal(sd_event_source_set_enabled(s, SD_EVENT_ONESHOT), 0);
                        return 0;
                }
        }
        run->action(run->task);
        return 0;
}

static void loop_until(Fixture *f, const bool *done, uint64_t max_usec) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + max_usec;

        while (!*done && now_usec(CLOCK_MONOTONIC) < deadline)
                assert_true(sd_event_run(f->event, 100 * USEC_PER_MSEC) >= 0);
}

/* Spawn and run the loop until the exit callback has fired. Returns task_spawn()'s result, or the helper's
 * start_error: either way the node did not run. */
static int run_task(Fixture *f, const TaskParams *p, Run *run) {
        _cleanup_(sd_event_source_unrefp) sd_event_source *timer = NULL;
        int r;

        (void) unlinkat(f->dir_fd, LOG_NAME, 0); /* task_spawn() never reuses a log */
        if (f->record_fd >= 0)
                assert_int_equal(ftruncate(f->record_fd, 0), 0); /* one line per run: assert_recorded() */
        r = task_spawn(f->event, p, on_exit_free, run, &run->task);
        if (r < 0)
                return r;
        run->pid = task_pid(run->task);
        assert_true(run->pid > 0);
        if (f->record_fd >= 0 && task_gated(run->task)) {
                assert_non_null(f->helper);
                assert_held(f, run->pid);
                assert_true(dprintf(f->record_fd, RECORD_PREFIX "%d 0\n", (int) run->pid) > 0);
                assert_int_equal(task_open_gate(run->task), 0);
        } else if (f->record_fd >= 0)
                assert_recorded(f, run->pid);
        if (run->action)
                /* Absolute, from a fresh clock read: sd_event_now() may lag behind the spawn. */
                assert_int_equal(sd_event_add_time(f->event, &timer, CLOCK_MONOTONIC,
                                                   now_usec(CLOCK_MONOTONIC) + 100 * USEC_PER_MSEC, 1,
                                                   on_action_timer, run),
                                 0);
        loop_until(f, &run->done, RUN_DEADLINE_USEC);
        if (!run->done)
                fail_msg("task %d did not end within the deadline", (int) run->pid);
        assert_null(run->task);
        if (run->result.start_error < 0) {
                /* Only through the helper or the gate, which exit 127 instead of running anything. */
                assert_non_null(f->helper);
                assert_int_equal(run->result.end, TASK_EXITED);
                assert_int_equal(run->result.exit_code, 127);
                return run->result.start_error;
        }
        return 0;
}

static TaskParams params(Fixture *f, char *const *argv) {
        return (TaskParams){
                .argv = argv,
                .env = default_env,
                .cwd = NULL,
                .log_dir_fd = f->dir_fd,
                .log_name = LOG_NAME,
                .log_max_bytes = 1024 * 1024,
                .timeout_usec = 0,
                .kill_grace_usec = 5 * USEC_PER_SEC,
                .umask = f->helper ? 0077 : TASK_DEFAULT_UMASK,
                .helper = f->helper,
                .record_prefix = f->record_fd >= 0 ? RECORD_PREFIX : NULL,
                .record_fd = f->record_fd,
        };
}

/* The log file's contents, NUL-terminated; *ret_len is its size. */
static char *read_log(Fixture *f, size_t *ret_len) {
        struct stat st;
        char *buf;
        int fd;

        fd = openat(f->dir_fd, LOG_NAME, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        buf = malloc(st.st_size + 1);
        assert_non_null(buf);
        assert_int_equal(read(fd, buf, st.st_size), st.st_size);
        buf[st.st_size] = '\0';
        close(fd);
        if (ret_len)
                *ret_len = st.st_size;
        return buf;
}

static void assert_log_equals(Fixture *f, const char *want) {
        _cleanup_free_ char *got = read_log(f, NULL);

        if (!streq(got, want))
                fail_msg("log: got \"%s\", want \"%s\"", got, want);
}

static void write_file_mode(Fixture *f, const char *name, const char *content, mode_t mode) {
        int fd = openat(f->dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, strlen(content)), (ssize_t) strlen(content));
        assert_int_equal(fchmod(fd, mode), 0);
        close(fd);
}

/* Reap what is left of group pgid (adopted through the subreaper bit) until the group is empty. */
static bool wait_group_gone(pid_t pgid) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + 60 * USEC_PER_SEC;

        while (now_usec(CLOCK_MONOTONIC) < deadline) {
                siginfo_t si = {};

                while (waitid(P_PGID, pgid, &si, WEXITED | WNOHANG) == 0 && si.si_pid > 0)
                        si.si_pid = 0;
                if (kill(-pgid, 0) < 0 && errno == ESRCH)
                        return true;
                (void) usleep(10 * 1000);
        }
        return false;
}

static size_t count_open_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        size_t n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

/* ---- exit status and spawn errors ------------------------------------------------------------------ */

static void test_exit_status(void **state) {
        static const struct {
                const char *argv[4];
                int want_r;
                TaskEnd want_end;
                int want_value; /* exit code or signal */
        } cases[] = {
                { { "/bin/true" }, 0, TASK_EXITED, 0 },
                { { "/bin/false" }, 0, TASK_EXITED, 1 },
                { { "true" }, 0, TASK_EXITED, 0 }, /* PATH lookup */
                { { "sh", "-c", "exit 7" }, 0, TASK_EXITED, 7 },
                { { "sh", "-c", "kill -KILL $$" }, 0, TASK_SIGNALED, SIGKILL },
                { { "sh", "-c", "kill -SEGV $$" }, 0, TASK_SIGNALED, SIGSEGV },
                { { "no-such-command-for-orchd" }, -ENOENT },
                { { "/nonexistent/bin/true" }, -ENOENT },
                { { "" }, -ENOENT },
                { { "/tmp" }, -EACCES }, /* a directory */
        };
        Fixture *f = *state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                TaskParams p = params(f, (char *const *) cases[i].argv);
                Run run = {};
                uint64_t before = now_usec(CLOCK_REALTIME), after;
                int r;

                r = run_task(f, &p, &run);
                after = now_usec(CLOCK_REALTIME);
                if (r != cases[i].want_r)
                        fail_msg("%s: got r=%d, want %d", cases[i].argv[0], r, cases[i].want_r);
                if (r < 0) {
                        assert_log_equals(f, ""); /* the empty log file is all that is left */
                        continue;
                }
                if (run.result.end != cases[i].want_end)
                        fail_msg("%s: got end %d, want %d", cases[i].argv[0], run.result.end,
                                 cases[i].want_end);
                int got = run.result.end == TASK_EXITED ? run.result.exit_code : run.result.signal;
                if (got != cases[i].want_value)
                        fail_msg("%s: got %d, want %d", cases[i].argv[0], got, cases[i].want_value);
                assert_false(run.result.timed_out);
                assert_false(run.result.stopped);
                assert_true(before <= run.result.started_at);
                assert_true(run.result.started_at <= run.result.finished_at);
                assert_true(run.result.finished_at <= after);
        }
}

static void test_path_lookup(void **state) {
        Fixture *f = *state;
        char path_dir[128], path_dir_then_bin[160], abs_noexec[128];
        char *argv_abs[] = { abs_noexec, NULL };
        char *argv_noexec[] = { (char *) "noexec", NULL };
        char *argv_true[] = { (char *) "true", NULL };
        char *argv_hello[] = { (char *) "hello", NULL };
        char *argv_rel[] = { (char *) "./bin/hello", NULL };
        char *argv_garbage[] = { (char *) "garbage", NULL };
        struct {
                char *const *argv;
                const char *path;
                bool in_dir; /* cwd = the test directory */
                int want_r;
                const char *want_log;
        } cases[] = {
                { argv_abs, "/usr/bin:/bin", false, -EACCES, "" },
                { argv_noexec, path_dir, false, -EACCES, "" },
                { argv_noexec, "/nonexistent", false, -ENOENT, "" },
                /* A non-executable "true" earlier in PATH is skipped, as execvp() does. */
                { argv_true, path_dir_then_bin, false, 0, "" },
                /* Relative and empty entries resolve against the child's cwd, not the daemon's. */
                { argv_hello, "bin", true, 0, "hello\n" },
                { argv_hello, "/nonexistent::bin", true, 0, "hello\n" },
                { argv_hello, "bin", false, -ENOENT, "" },
                { argv_noexec, "/nonexistent:", true, -EACCES, "" },
                /* A name with a slash skips PATH; a relative one is relative to the child's cwd. */
                { argv_rel, "/nonexistent", true, 0, "hello\n" },
                { argv_rel, "/usr/bin:/bin", false, -ENOENT, "" },
                /* An executable the kernel cannot run ends the search: execve()'s ENOEXEC, no shell. */
                { argv_garbage, path_dir_then_bin, false, -ENOEXEC, "" },
        };

        snprintf(path_dir, sizeof(path_dir), "%s", f->dir);
        snprintf(path_dir_then_bin, sizeof(path_dir_then_bin), "%s:/usr/bin:/bin", f->dir);
        snprintf(abs_noexec, sizeof(abs_noexec), "%s/noexec", f->dir);
        write_file_mode(f, "noexec", "#!/bin/sh\necho noexec\n", 0644);
        write_file_mode(f, "true", "#!/bin/sh\nexit 3\n", 0644);
        write_file_mode(f, "garbage",
                        "\x7f"
                        "ELF but not really\n",
                        0755);
        assert_int_equal(mkdirat(f->dir_fd, "bin", 0755), 0);
        write_file_mode(f, "bin/hello", "#!/bin/sh\necho hello\n", 0755);

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *path_var = NULL;
                Run run = {};
                int r;

                assert_true(asprintf(&path_var, "PATH=%s", cases[i].path) > 0);
                char *env[] = { path_var, NULL };
                TaskParams p = params(f, cases[i].argv);
                p.env = env;
                p.cwd = cases[i].in_dir ? f->dir : NULL;

                r = run_task(f, &p, &run);
                if (r != cases[i].want_r)
                        fail_msg("case %zu (%s, PATH=%s): got r=%d, want %d", i, cases[i].argv[0],
                                 cases[i].path, r, cases[i].want_r);
                if (r == 0 && (run.result.end != TASK_EXITED || run.result.exit_code != 0))
                        fail_msg("case %zu: got end %d code %d, want exit 0", i, run.result.end,
                                 run.result.exit_code);
                assert_log_equals(f, cases[i].want_log);
        }
}

static void test_missing_cwd(void **state) {
        Fixture *f = *state;
        char *argv[] = { (char *) "/bin/true", NULL };
        TaskParams p = params(f, argv);
        Run run = {};

        p.cwd = "/nonexistent/dir";
        assert_int_equal(run_task(f, &p, &run), -ENOENT);
        /* Without the helper the spawn itself fails; through it the exit says which step failed. */
        assert_int_equal(run.done, !!f->helper);
        assert_int_equal(run.result.start_cwd, !!f->helper);
        assert_log_equals(f, "");

        run = (Run){};
        p.cwd = "/dev/null";
        assert_int_equal(run_task(f, &p, &run), -ENOTDIR);
        assert_int_equal(run.done, !!f->helper);
        assert_int_equal(run.result.start_cwd, !!f->helper);

        /* A program that is not there is not a cwd failure. */
        run = (Run){};
        p.cwd = f->dir;
        p.argv = (char *[]){ (char *) "/nonexistent/program", NULL };
        assert_int_equal(run_task(f, &p, &run), -ENOENT);
        assert_false(run.result.start_cwd);
}

/* ---- output --------------------------------------------------------------------------------------- */

static void test_output_cap(void **state) {
        static const struct {
                uint64_t bytes, cap;
                bool want_marker;
        } cases[] = {
                { 100, 1000, false },
                { 1000, 1000, false },
                { 1001, 1000, true },
                { 10, 0, true },
                { 0, 0, false },
                { 1024 * 1024, 64 * 1024, true },
                { 16 * 1024 * 1024, 64 * 1024, true },
        };
        Fixture *f = *state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char count[32], marker[96];
                char *argv[] = { (char *) "head", (char *) "-c", count, (char *) "/dev/zero", NULL };
                TaskParams p = params(f, argv);
                _cleanup_free_ char *log = NULL;
                struct rusage before, after;
                size_t len, want_len, keep;
                Run run = {};

                snprintf(count, sizeof(count), "%" PRIu64, cases[i].bytes);
                snprintf(marker, sizeof(marker), "\n[orchd: output truncated after %" PRIu64 " bytes]\n",
                         cases[i].cap);
                p.log_max_bytes = cases[i].cap;

                assert_int_equal(getrusage(RUSAGE_SELF, &before), 0);
                assert_int_equal(run_task(f, &p, &run), 0);
                assert_int_equal(getrusage(RUSAGE_SELF, &after), 0);
                assert_int_equal(run.result.exit_code, 0);

                log = read_log(f, &len);
                keep = MIN(cases[i].bytes, cases[i].cap);
                want_len = keep + (cases[i].want_marker ? strlen(marker) : 0);
                if (len != want_len)
                        fail_msg("%" PRIu64 " bytes, cap %" PRIu64 ": got log size %zu, want %zu",
                                 cases[i].bytes, cases[i].cap, len, want_len);
                for (size_t k = 0; k < keep; k++)
                        if (log[k] != 0)
                                fail_msg("byte %zu: got %d, want 0", k, log[k]);
                if (cases[i].want_marker && !streq(log + keep, marker))
                        fail_msg("got tail \"%s\", want \"%s\"", log + keep, marker);
                /* Nothing is buffered: the peak RSS must not grow by anything like the output size. */
                long grown_kib = after.ru_maxrss - before.ru_maxrss;
                if (grown_kib > 4096)
                        fail_msg("peak RSS grew by %ld KiB, want < 4096", grown_kib);
        }
}

static void test_output_interleaved(void **state) {
        Fixture *f = *state;
        static const char script[] = "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done; echo end";
        char *argv[] = { (char *) "sh", (char *) "-c", (char *) script, NULL };
        TaskParams p = params(f, argv);
        _cleanup_free_ char *log = NULL;
        const char *prev_out = NULL, *prev_err = NULL;
        Run run = {};

        assert_int_equal(run_task(f, &p, &run), 0);
        log = read_log(f, NULL);
        for (int i = 1; i <= 5; i++) {
                char out[16], err[16];
                const char *o, *e;

                snprintf(out, sizeof(out), "out%d\n", i);
                snprintf(err, sizeof(err), "err%d\n", i);
                o = strstr(log, out);
                e = strstr(log, err);
                if (!o || !e)
                        fail_msg("got log \"%s\", want out%d and err%d in it", log, i);
                /* Each stream keeps its own order; the two pipes are not ordered against each other. */
                assert_true(!prev_out || o > prev_out);
                assert_true(!prev_err || e > prev_err);
                prev_out = o;
                prev_err = e;
        }
        assert_non_null(strstr(log, "end\n"));
        assert_int_equal(strlen(log), 5 * 10 + 4);
}

/* merge_output: one pipe for both streams, so the log has them in exactly the order written, and a child
 * that writes to both sees the same pipe on 1 and 2. */
static void test_output_merged(void **state) {
        Fixture *f = *state;
        static const char script[] =
                "i=1; while [ $i -le 300 ]; do echo out$i; echo err$i >&2; i=$((i + 1)); "
                "done; readlink /proc/$$/fd/1 /proc/$$/fd/2 | uniq | wc -l";
        char *argv[] = { (char *) "sh", (char *) "-c", (char *) script, NULL };
        TaskParams p = params(f, argv);
        _cleanup_free_ char *log = NULL, *want = NULL;
        size_t n = 0;
        Run run = {};

        p.merge_output = true;
        assert_int_equal(run_task(f, &p, &run), 0);
        want = malloc(300 * 16 + 8);
        assert_non_null(want);
        for (int i = 1; i <= 300; i++)
                n += (size_t) sprintf(want + n, "out%d\nerr%d\n", i, i);
        strcpy(want + n, "1\n");
        log = read_log(f, NULL);
        assert_string_equal(log, want);
}

/* ---- what the child sees -------------------------------------------------------------------------- */

static void test_child_environment(void **state) {
        Fixture *f = *state;
        char *env[] = { (char *) "PATH=/usr/bin:/bin", (char *) "A=1", (char *) "B=two words",
                        (char *) "EMPTY=", NULL };
        char *argv_env[] = { (char *) "env", NULL };
        char *argv_pwd[] = { (char *) "/bin/pwd", (char *) "-P", NULL };
        char want[128];
        Run run = {};
        TaskParams p;

        p = params(f, argv_env);
        p.env = env;
        assert_int_equal(run_task(f, &p, &run), 0);
        assert_log_equals(f, "PATH=/usr/bin:/bin\nA=1\nB=two words\nEMPTY=\n");

        run = (Run){};
        p = params(f, argv_env);
        p.env = (char *[]){ NULL };
        p.argv = (char *[]){ (char *) "/usr/bin/env", NULL };
        assert_int_equal(run_task(f, &p, &run), 0);
        assert_log_equals(f, "");

        run = (Run){};
        p = params(f, argv_pwd);
        p.cwd = f->dir;
        assert_int_equal(run_task(f, &p, &run), 0);
        snprintf(want, sizeof(want), "%s\n", f->dir);
        assert_log_equals(f, want);

        run = (Run){};
        p = params(f, argv_pwd);
        assert_int_equal(run_task(f, &p, &run), 0);
        assert_log_equals(f, "/\n");

        /* Empty arguments and odd bytes survive the trip (through the helper: its request). */
        run = (Run){};
        p = params(f,
                   (char *[]){ (char *) "/bin/sh", (char *) "-c", (char *) "printf '[%s]' \"$@\"",
                               (char *) "sh", (char *) "", (char *) "a b", (char *) "\t\x01=", NULL });
        assert_int_equal(run_task(f, &p, &run), 0);
        assert_log_equals(f, "[][a b][\t\x01=]");
}

static void test_child_umask(void **state) {
        Fixture *f = *state;
        char *argv[] = { (char *) "sh", (char *) "-c", (char *) "umask", NULL };
        TaskParams p = params(f, argv);
        Run run = {};

        assert_int_equal(run_task(f, &p, &run), 0);
        assert_log_equals(f, f->helper ? "0077\n" : "0022\n");
}

static void test_child_fds(void **state) {
        Fixture *f = *state;
        /* ls's own directory fd is 3; anything else would be a leak. */
        char *argv[] = { (char *) "sh", (char *) "-c", (char *) "readlink /proc/self/fd/0; ls /proc/self/fd",
                         NULL };
        TaskParams p = params(f, argv);
        Run run = {};
        int leak;

        /* An fd without O_CLOEXEC in the daemon must still not reach the child. */
        leak = open("/dev/null", O_RDONLY);
        assert_true(leak >= 3);
        assert_int_equal(run_task(f, &p, &run), 0);
        close(leak);
        assert_log_equals(f, "/dev/null\n0\n1\n2\n3\n");
}

/* Parse "SigBlk:\t<hex>\nSigIgn:\t<hex>\n". */
static void parse_sig_masks(const char *log, unsigned long long *ret_blk, unsigned long long *ret_ign) {
        if (sscanf(log, "SigBlk:\t%llx\nSigIgn:\t%llx\n", ret_blk, ret_ign) != 2)
                fail_msg("got \"%s\", want SigBlk and SigIgn lines", log);
}

static void test_child_signals(void **state) {
        Fixture *f = *state;
        char *argv[] = { (char *) "grep", (char *) "-E", (char *) "^Sig(Blk|Ign)",
                         (char *) "/proc/self/status", NULL };
        TaskParams p = params(f, argv);
        struct sigaction sa_ign = { .sa_handler = SIG_IGN }, old_usr2, old_pipe;
        _cleanup_free_ char *log = NULL;
        unsigned long long blk, ign;
        sigset_t more, old_mask;
        Run run = {};

        /* SIGCHLD is blocked already; block and ignore more, the child must see none of it. */
        sigemptyset(&more);
        sigaddset(&more, SIGUSR1);
        sigaddset(&more, SIGTERM);
        assert_int_equal(sigprocmask(SIG_BLOCK, &more, &old_mask), 0);
        assert_int_equal(sigaction(SIGUSR2, &sa_ign, &old_usr2), 0);
        assert_int_equal(sigaction(SIGPIPE, &sa_ign, &old_pipe), 0);

        assert_int_equal(run_task(f, &p, &run), 0);

        assert_int_equal(sigprocmask(SIG_SETMASK, &old_mask, NULL), 0);
        assert_int_equal(sigaction(SIGUSR2, &old_usr2, NULL), 0);
        assert_int_equal(sigaction(SIGPIPE, &old_pipe, NULL), 0);
        log = read_log(f, NULL);
        parse_sig_masks(log, &blk, &ign);
        if (blk != 0)
                fail_msg("got SigBlk %llx, want 0", blk);
        /* glibc's posix_spawn() leaves its internal signals 32 and 33 ignored (see supervise.c); every
         * other disposition must be the default. */
        if ((ign & ~GLIBC_INTERNAL_SIGNALS) != 0)
                fail_msg("got SigIgn %llx, want 0 outside %llx", ign, GLIBC_INTERNAL_SIGNALS);
}

/* ---- timeout, stop, kill, free ---------------------------------------------------------------------- */

static const char *const ignore_term_tree = "trap '' TERM; echo armed; sleep 100 & sleep 100";

static void do_stop(Task *t) {
        assert_int_equal(task_stop(t, 300 * USEC_PER_MSEC), 0);
        assert_int_equal(task_stop(t, 0), 0); /* idempotent: the first grace period stands */
}

/* A stop whose grace outlasts a timeout due meanwhile. */
static void do_stop_long(Task *t) {
        assert_int_equal(task_stop(t, 3 * USEC_PER_SEC), 0);
}

static void do_kill(Task *t) {
        task_kill(t);
}

static void test_timeout_stop_kill(void **state) {
        static const struct {
                const char *script;
                uint64_t timeout_usec;
                void (*action)(Task *t);
                int want_signal;
                bool want_timed_out, want_stopped;
                uint64_t min_usec; /* lower bound of the run time */
        } cases[] = {
                /* TERM ignored by the whole tree: timeout 1 s (its shell has set its trap by then, even on a
                 * loaded machine), then SIGKILL after the 300 ms grace. */
                { ignore_term_tree, MSEC(1000), NULL, SIGKILL, true, false, MSEC(1300) },
                { "sleep 100", MSEC(200), NULL, SIGTERM, true, false, MSEC(200) },
                /* task_stop() well before a long timeout: reported as stopped, not timed out. */
                { "sleep 100", 10 * USEC_PER_SEC, do_stop, SIGTERM, false, true, MSEC(100) },
                { ignore_term_tree, 0, do_stop, SIGKILL, false, true, MSEC(400) },
                /* The timeout (1.5 s) falls into the grace period of a stop (3 s from the stop, once the
                 * trap is set): still a stop, not a timeout. */
                { ignore_term_tree, MSEC(1500), do_stop_long, SIGKILL, false, true, MSEC(3100) },
                { ignore_term_tree, 0, do_kill, SIGKILL, false, false, MSEC(100) },
        };
        Fixture *f = *state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *argv[] = { (char *) "sh", (char *) "-c", (char *) cases[i].script, NULL };
                TaskParams p = params(f, argv);
                Run run = { .action = cases[i].action, .f = f };
                uint64_t took;

                if (cases[i].script == ignore_term_tree)
                        run.armed = "armed";
                p.timeout_usec = cases[i].timeout_usec;
                p.kill_grace_usec = 300 * USEC_PER_MSEC;
                assert_int_equal(run_task(f, &p, &run), 0);

                took = run.result.finished_at - run.result.started_at;
                if (run.result.end != TASK_SIGNALED || run.result.signal != cases[i].want_signal)
                        fail_msg("case %zu: got end %d signal %d, want signal %d", i, run.result.end,
                                 run.result.signal, cases[i].want_signal);
                if (run.result.timed_out != cases[i].want_timed_out ||
                    run.result.stopped != cases[i].want_stopped)
                        fail_msg("%zu: got timed_out %d stopped %d, want %d %d", i, run.result.timed_out,
                                 run.result.stopped, cases[i].want_timed_out, cases[i].want_stopped);
                /* The upper bound only catches a kill that never came (the sleeps run 100 s); it is loose so
                 * that a loaded machine cannot fail it. */
                if (took < cases[i].min_usec || took > 60 * USEC_PER_SEC)
                        fail_msg("case %zu: took %" PRIu64 " µs, want >= %" PRIu64 " and < 60 s", i, took,
                                 cases[i].min_usec);
                if (!wait_group_gone(run.pid))
                        fail_msg("case %zu: process group %d still has members", i, (int) run.pid);
        }
}

static void test_leftovers_killed(void **state) {
        Fixture *f = *state;
        /* The background sleep keeps the pipes open, so the exit, not EOF, ends the output. */
        char *argv[] = { (char *) "sh", (char *) "-c", (char *) "echo hi; sleep 100 & echo bye >&2; exit 3",
                         NULL };
        TaskParams p = params(f, argv);
        _cleanup_free_ char *log = NULL;
        Run run = {};

        assert_int_equal(run_task(f, &p, &run), 0);
        if (run.result.end != TASK_EXITED || run.result.exit_code != 3)
                fail_msg("got end %d code %d, want exit 3", run.result.end, run.result.exit_code);
        log = read_log(f, NULL);
        if (!streq(log, "hi\nbye\n") && !streq(log, "bye\nhi\n"))
                fail_msg("got log \"%s\", want hi and bye", log);
        if (!wait_group_gone(run.pid))
                fail_msg("process group %d still has members after the leader exited", (int) run.pid);
}

static void test_free_running(void **state) {
        Fixture *f = *state;
        char *argv[] = { (char *) "sh", (char *) "-c", (char *) ignore_term_tree, NULL };
        TaskParams p = params(f, argv);
        bool never = false;
        Run run = {};
        pid_t pid;

        assert_int_equal(task_spawn(f->event, &p, on_exit_free, &run, &run.task), 0);
        pid = task_pid(run.task);
        loop_until(f, &never, 200 * USEC_PER_MSEC); /* let the background sleep start */
        assert_int_equal(kill(-pid, 0), 0);

        run.task = task_free(run.task);
        /* The leader was killed and reaped synchronously, the rest of the group was SIGKILLed. */
        assert_int_equal(kill(pid, 0), -1);
        assert_int_equal(errno, ESRCH);
        assert_true(wait_group_gone(pid));

        loop_until(f, &never, 100 * USEC_PER_MSEC);
        assert_false(run.done); /* freeing does not call back */
        assert_null(task_free(NULL));
}

/* A log file that exists is never opened again: the spawn fails -EEXIST and the file is untouched. */
static void test_log_never_reused(void **state) {
        Fixture *f = *state;
        char *argv[] = { (char *) "/bin/true", NULL };
        TaskParams p = params(f, argv);
        Task *t = NULL;
        int fd;

        fd = openat(f->dir_fd, LOG_NAME, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "earlier\n", 8), 8);
        close(fd);
        assert_int_equal(task_spawn(f->event, &p, on_exit_free, NULL, &t), -EEXIST);
        assert_null(t);
        assert_log_equals(f, "earlier\n");
}

static void test_many_spawns_no_leak(void **state) {
        Fixture *f = *state;
        char *argv[] = { (char *) "/bin/true", NULL };
        TaskParams p = params(f, argv);
        size_t before, after;

        before = count_open_fds();
        for (int i = 0; i < 500; i++) {
                Run run = {};

                assert_int_equal(run_task(f, &p, &run), 0);
                assert_int_equal(run.result.exit_code, 0);
        }
        after = count_open_fds();
        if (before != after)
                fail_msg("open fds: got %zu after 500 spawns, want %zu", after, before);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_exit_status, setup, teardown),
                cmocka_unit_test_setup_teardown(test_path_lookup, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_cwd, setup, teardown),
                cmocka_unit_test_setup_teardown(test_output_cap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_output_interleaved, setup, teardown),
                cmocka_unit_test_setup_teardown(test_output_merged, setup, teardown),
                cmocka_unit_test_setup_teardown(test_output_merged, setup_helper, teardown),
                cmocka_unit_test_setup_teardown(test_child_environment, setup, teardown),
                cmocka_unit_test_setup_teardown(test_child_fds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_child_signals, setup, teardown),
                cmocka_unit_test_setup_teardown(test_timeout_stop_kill, setup, teardown),
                cmocka_unit_test_setup_teardown(test_leftovers_killed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_free_running, setup, teardown),
                cmocka_unit_test_setup_teardown(test_many_spawns_no_leak, setup, teardown),
                cmocka_unit_test_setup_teardown(test_child_umask, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exit_status, setup_helper, teardown),
                cmocka_unit_test_setup_teardown(test_path_lookup, setup_helper, teardown),
                cmocka_unit_test_setup_teardown(test_missing_cwd, setup_helper, teardown),
                cmocka_unit_test_setup_teardown(test_child_environment, setup_helper, teardown),
                cmocka_unit_test_setup_teardown(test_child_fds, setup_helper, teardown),
                cmocka_unit_test_setup_teardown(test_child_umask, setup_helper, teardown),
                cmocka_unit_test_setup_teardown(test_log_never_reused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exit_status, setup_record, teardown),
                cmocka_unit_test_setup_teardown(test_path_lookup, setup_record, teardown),
                cmocka_unit_test_setup_teardown(test_missing_cwd, setup_record, teardown),
                cmocka_unit_test_setup_teardown(test_child_environment, setup_record, teardown),
                cmocka_unit_test_setup_teardown(test_child_fds, setup_record, teardown),
                cmocka_unit_test_setup_teardown(test_child_signals, setup_record, teardown),
                cmocka_unit_test_setup_teardown(test_child_umask, setup_record, teardown),
                cmocka_unit_test_setup_teardown(test_many_spawns_no_leak, setup_record, teardown),
                cmocka_unit_test_setup_teardown(test_exit_status, setup_helper_record, teardown),
                cmocka_unit_test_setup_teardown(test_child_environment, setup_helper_record, teardown),
                cmocka_unit_test_setup_teardown(test_child_fds, setup_helper_record, teardown),
        };
        sigset_t mask;

        /* As in the daemon: sd-event child sources require SIGCHLD blocked. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return 1;
        /* Adopt orphaned group members so the tests can reap them and see the group empty. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                return 1;
        /* What orchd does at start, and what task_spawn() expects of its process. */
        (void) umask(TASK_DEFAULT_UMASK);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
