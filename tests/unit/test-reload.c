/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for the reload of orchd.conf (daemon-conf.c, SIGHUP in orchd(8)), without a daemon: a real file
 * in a temporary directory is read, changed and read again with daemon_conf_reload(), which returns the
 * new configuration for the manager to apply. Checked: a changed reloadable key comes back changed (and
 * counted); a key that applies only at the next start keeps the value in force; a flag given on the
 * command line still wins; a bad file leaves the configuration in force untouched and the log names the
 * file, the line and the key.
 */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "daemon-conf.h"
#include "fsutil.h"
#include "log.h"
#include "macro.h"

typedef struct Fixture {
        char dir[64];
        char path[96];
        DaemonConf cur; /* the configuration in force */
} Fixture;

static void write_conf(Fixture *f, const char *text) {
        int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        assert_int_equal(close(fd), 0);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));

        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "/tmp/test-reload.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/orchd.conf", f->dir);
        write_conf(f, "[Daemon]\nSpool=/var/tmp/orchd-test-a\nMaxParallel=2\nKeepFinished=7d 100\n");
        assert_int_equal(daemon_conf_load(f->path, true, NULL, &f->cur), 0);
        assert_int_equal(f->cur.max_parallel, 2);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        conf_done(&f->cur);
        (void) rm_rf_at(AT_FDCWD, f->dir);
        free(f);
        return 0;
}

/* Run daemon_conf_reload() with stderr (the log) captured into *ret_log. */
static int reload_logged(Fixture *f, const DaemonConf *cmdline, DaemonConf *ret, char **ret_log) {
        char log_path[128];
        size_t size;
        int saved, fd, r;

        snprintf(log_path, sizeof(log_path), "%s/log", f->dir);
        fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        assert_true(saved >= 0);
        assert_true(dup2(fd, STDERR_FILENO) >= 0);
        r = daemon_conf_reload(f->path, true, cmdline, &f->cur, ret);
        assert_true(dup2(saved, STDERR_FILENO) >= 0);
        safe_close(saved);
        safe_close(fd);
        assert_int_equal(read_file_at(AT_FDCWD, log_path, 1024 * 1024, ret_log, &size), 0);
        return r;
}

/* The manager's side of a reload, as far as the configuration goes: the new one replaces the old. */
static void apply(Fixture *f, DaemonConf *new) {
        conf_done(&f->cur);
        f->cur = *new;
        *new = (DaemonConf){};
}

static void test_reload_changed(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *log = NULL;
        DaemonConf new = {};
        int r;

        write_conf(f,
                   "[Daemon]\nSpool=/var/tmp/orchd-test-a\nMaxParallel=5\nKeepFinished=1d 10\n"
                   "LogLevel=debug\n");
        r = reload_logged(f, NULL, &new, &log);
        assert_int_equal(r, 3); /* MaxParallel=, KeepFinished=, LogLevel= */
        assert_int_equal(new.max_parallel, 5);
        assert_int_equal(new.keep_count, 10);
        assert_int_equal(new.keep_age_usec, UINT64_C(24) * 3600 * 1000000);
        assert_int_equal(new.log_level, LOG_DEBUG);
        assert_string_equal(new.spool, "/var/tmp/orchd-test-a");
        assert_non_null(strstr(log, "Reload: MaxParallel= changed."));
        assert_int_equal(f->cur.max_parallel, 2); /* applying is the caller's */
        apply(f, &new);

        /* Nothing changed: nothing counted. */
        conf_done(&new);
        free(log);
        log = NULL;
        assert_int_equal(reload_logged(f, NULL, &new, &log), 0);
        assert_int_equal(new.max_parallel, 5);
        conf_done(&new);
}

/* Spool= applies only at the next start: the reload warns and keeps the value in force. */
static void test_reload_restart_only(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *log = NULL;
        DaemonConf new = {};

        write_conf(f, "[Daemon]\nSpool=/var/tmp/orchd-test-b\nMaxParallel=2\nKeepFinished=7d 100\n");
        assert_int_equal(reload_logged(f, NULL, &new, &log), 1);
        assert_string_equal(new.spool, "/var/tmp/orchd-test-a");
        assert_non_null(strstr(log, "Spool= changed, but applies only at the next start"));
        conf_done(&new);
}

/* A flag given on the command line wins over the file on reload too. */
static void test_reload_flag_wins(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *log = NULL;
        DaemonConf cmdline = {}, new = {};
        const char *why;

        assert_int_equal(conf_set(&cmdline, CONF_MAX_PARALLEL, "3", &why), 0);
        write_conf(f, "[Daemon]\nSpool=/var/tmp/orchd-test-a\nMaxParallel=9\nKeepFinished=7d 100\n");
        assert_true(reload_logged(f, &cmdline, &new, &log) >= 0);
        assert_int_equal(new.max_parallel, 3);
        conf_done(&new);
        conf_done(&cmdline);
}

/* UserCPUWeight= applies on reload; a bad weight is an error naming the key, and the old weights stay. */
static void test_reload_user_cpu_weight(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *log = NULL;
        DaemonConf new = {};

        assert_int_equal(daemon_conf_user_cpu_weight(&f->cur, 1000, "alice"), 100); /* the default */
        write_conf(f,
                   "[Daemon]\nSpool=/var/tmp/orchd-test-a\nMaxParallel=2\nKeepFinished=7d 100\n"
                   "UserCPUWeight=alice:200 1002:50\n");
        assert_int_equal(reload_logged(f, NULL, &new, &log), 1);
        assert_non_null(strstr(log, "Reload: UserCPUWeight= changed."));
        apply(f, &new);
        assert_int_equal(daemon_conf_user_cpu_weight(&f->cur, 1000, "alice"), 200);
        assert_int_equal(daemon_conf_user_cpu_weight(&f->cur, 1002, "bob"), 50);
        assert_int_equal(daemon_conf_user_cpu_weight(&f->cur, 1003, NULL), 100);

        free(log);
        log = NULL;
        write_conf(f,
                   "[Daemon]\nSpool=/var/tmp/orchd-test-a\nMaxParallel=2\nKeepFinished=7d 100\n"
                   "UserCPUWeight=alice:20000\n");
        assert_int_equal(reload_logged(f, NULL, &new, &log), -EINVAL);
        assert_non_null(
                strstr(log, "invalid UserCPUWeight=alice:20000: a weight must be a number from 1 to 10000"));
        assert_int_equal(daemon_conf_user_cpu_weight(&f->cur, 1000, "alice"), 200);

        /* At start, the same value is fatal. */
        conf_done(&new);
        assert_int_equal(daemon_conf_load(f->path, true, NULL, &new), -EINVAL);
}

/* A bad file: an error naming the file, the line and the key; the configuration in force stays. */
static void test_reload_bad_file(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *log = NULL, *expect = NULL;
        DaemonConf new = { .max_parallel = 12345 };

        write_conf(f, "[Daemon]\nSpool=/var/tmp/orchd-test-a\n\nMaxParallel=banana\n");
        assert_int_equal(reload_logged(f, NULL, &new, &log), -EINVAL);
        assert_int_equal(new.max_parallel, 12345); /* untouched */
        assert_int_equal(f->cur.max_parallel, 2);
        assert_true(asprintf(&expect, "%s:4:", f->path) > 0);
        assert_non_null(strstr(log, expect));
        assert_non_null(strstr(log, "MaxParallel"));
        assert_non_null(strstr(log, "Keeping the configuration in force"));

        /* A file that went away (it was required): the same. */
        free(log);
        log = NULL;
        assert_int_equal(unlink(f->path), 0);
        assert_true(reload_logged(f, NULL, &new, &log) < 0);
        assert_non_null(strstr(log, f->path));
        assert_int_equal(new.max_parallel, 12345);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_reload_changed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reload_restart_only, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reload_flag_wins, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reload_bad_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reload_user_cpu_weight, setup, teardown),
        };

        log_set_max_level(LOG_INFO);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
