/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for orchd.conf: every key's accepted and rejected values, the file grammar (sections, comments,
 * whitespace, warnings for unknown keys and sections, errors with file:line), lists, and merging the command
 * line over the file. */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <cmocka.h>

#include "conf.h"

static void test_keys(void **state) {
        for (int k = 0; k < _CONF_KEY_MAX; k++)
                assert_int_equal(conf_key_from_string(conf_key_to_string(k)), k);
        assert_int_equal(conf_key_from_string("spool"), -EINVAL); /* case matters, as in systemd */
        assert_int_equal(conf_key_from_string(""), -EINVAL);
        assert_null(conf_key_to_string(_CONF_KEY_MAX));
        assert_false(conf_key_reloadable(CONF_SPOOL));
        assert_false(conf_key_reloadable(CONF_SOCKET));
        assert_false(conf_key_reloadable(CONF_DROP_GROUP));
        assert_true(conf_key_reloadable(CONF_MAX_PARALLEL));
        assert_true(conf_key_reloadable(CONF_ADMIN_GROUP));
        assert_true(conf_key_reloadable(CONF_KILL_NODES)); /* read at the stop */
}

static void test_values(void **state) {
        static const struct {
                ConfKey key;
                const char *value;
                int want;
        } cases[] = {
                { CONF_SPOOL, "/var/spool/orchd", 0 },
                { CONF_SPOOL, "var/spool", -EINVAL },
                { CONF_SPOOL, "", -EINVAL },
                { CONF_SOCKET, "/run/orchd/orchd.sock", 0 },
                { CONF_SOCKET, "orchd.sock", -EINVAL },
                { CONF_MAX_PARALLEL, "1", 0 },
                { CONF_MAX_PARALLEL, "1000000", 0 },
                { CONF_MAX_PARALLEL, "0", -ERANGE },
                { CONF_MAX_PARALLEL, "1000001", -ERANGE },
                { CONF_MAX_PARALLEL, "-1", -EINVAL },
                { CONF_MAX_PARALLEL, "4x", -ERANGE },
                { CONF_MAX_PARALLEL, "", -EINVAL },
                { CONF_LOG_LEVEL, "debug", 0 },
                { CONF_LOG_LEVEL, "error", 0 },
                { CONF_LOG_LEVEL, "7", 0 },
                { CONF_LOG_LEVEL, "8", -EINVAL },
                { CONF_LOG_LEVEL, "loud", -EINVAL },
                { CONF_USER_CPU_WEIGHT, "alice:200 bob:50 1001:10000", 0 },
                { CONF_USER_CPU_WEIGHT, "alice:1", 0 },
                { CONF_USER_CPU_WEIGHT, "", 0 },
                { CONF_USER_CPU_WEIGHT, "alice", -EINVAL },
                { CONF_USER_CPU_WEIGHT, "alice:0", -ERANGE },
                { CONF_USER_CPU_WEIGHT, "alice:10001", -ERANGE },
                { CONF_USER_CPU_WEIGHT, "alice:2x", -EINVAL },
                { CONF_USER_CPU_WEIGHT, "alice=200", -EINVAL },
                { CONF_USER_CPU_WEIGHT, "../x:200", -EINVAL },
                { CONF_MAX_LOG_SIZE, "64M", 0 },
                { CONF_MAX_LOG_SIZE, "4096", 0 },
                { CONF_MAX_LOG_SIZE, "4095", -ERANGE },
                { CONF_MAX_LOG_SIZE, "1T", -EINVAL },
                { CONF_MAX_LOG_SIZE, "64 M", -EINVAL },
                { CONF_MAX_LOG_SIZE, "99999999999999999999", -ERANGE },
                { CONF_MAX_LOG_SIZE, "17179869184G", -ERANGE },
                { CONF_ALLOW_USERS, "alice bob\tcarol", 0 },
                { CONF_ALLOW_USERS, "", 0 },
                { CONF_ALLOW_USERS, "../etc", -EINVAL },
                { CONF_DENY_USERS, "-rf", -EINVAL },
                { CONF_DROP_GROUP, "orchd-submit", 0 },
                { CONF_DROP_GROUP, "two words", -EINVAL },
                { CONF_ADMIN_GROUP, "wheel", 0 },
                { CONF_ADMIN_GROUP, "", -EINVAL },
                { CONF_USER_MAX_JOBS, "1000", 0 },
                { CONF_USER_MAX_JOBS, "0", 0 },
                { CONF_USER_MAX_JOBS, "-1", -EINVAL },
                { CONF_USER_MAX_JOBS, "10k", -ERANGE },
                { CONF_USER_MAX_JOBS, "", -EINVAL },
                { CONF_USER_MAX_NODES, "200000", 0 },
                { CONF_USER_MAX_RUNNING, "4", 0 },
                { CONF_MAX_INTERRUPTED_RERUNS, "3", 0 },
                { CONF_MAX_INTERRUPTED_RERUNS, "0", 0 },
                { CONF_MAX_INTERRUPTED_RERUNS, "-1", -EINVAL },
                { CONF_MAX_INTERRUPTED_RERUNS, "three", -EINVAL },
                { CONF_USER_MAX_BYTES, "1G", 0 },
                { CONF_USER_MAX_BYTES, "0", 0 },
                { CONF_USER_MAX_BYTES, "1 G", -EINVAL },
                { CONF_MIN_FREE_SPACE, "64M", 0 },
                { CONF_MIN_FREE_SPACE, "1%", 0 },
                { CONF_MIN_FREE_SPACE, "64M 1%", 0 },
                { CONF_MIN_FREE_SPACE, "0", 0 },
                { CONF_MIN_FREE_SPACE, "100%", -ERANGE },
                { CONF_MIN_FREE_SPACE, "%", -EINVAL },
                { CONF_MIN_FREE_SPACE, "1.5%", -EINVAL },
                { CONF_MIN_FREE_SPACE, "1%%", -EINVAL },
                { CONF_MIN_FREE_SPACE, "64M 1% 2%", -EINVAL },
                { CONF_MIN_FREE_SPACE, "", -EINVAL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                DaemonConf c = {};
                const char *why = NULL;
                int r = conf_set(&c, cases[i].key, cases[i].value, &why);

                if (r != cases[i].want)
                        fail_msg("%s=%s: got %d, want %d", conf_key_to_string(cases[i].key), cases[i].value,
                                 r, cases[i].want);
                assert_true(r < 0 ? why != NULL : CONF_SET(&c, cases[i].key));
                conf_done(&c);
        }
}

static void test_min_free(void **state) {
        uint64_t bytes;
        unsigned percent;

        assert_int_equal(conf_parse_min_free("64M 1%", &bytes, &percent), 0);
        assert_int_equal(bytes, 64 << 20);
        assert_int_equal(percent, 1);
        assert_int_equal(conf_parse_min_free("5%  2G", &bytes, &percent), 0);
        assert_int_equal(bytes, UINT64_C(2) << 30);
        assert_int_equal(percent, 5);
        assert_int_equal(conf_parse_min_free("0", &bytes, &percent), 0);
        assert_int_equal(bytes, 0);
        assert_int_equal(percent, 0);
}

/* KeepFinished=: an age with a unit and/or a bare count, or infinity. */
static void test_keep_finished(void **state) {
        static const struct {
                const char *in;
                int want_r;
                uint64_t want_age, want_count;
        } cases[] = {
                { "30d 10000", 0, UINT64_C(30) * 86400 * 1000000, 10000 },
                { "10000  30d", 0, UINT64_C(30) * 86400 * 1000000, 10000 },
                { "7d", 0, UINT64_C(7) * 86400 * 1000000, CONF_KEEP_FOREVER },
                { "1h30m", 0, UINT64_C(5400) * 1000000, CONF_KEEP_FOREVER },
                { "250ms", 0, 250000, CONF_KEEP_FOREVER },
                { "0", 0, CONF_KEEP_FOREVER, 0 },
                { "1000", 0, CONF_KEEP_FOREVER, 1000 },
                { "infinity", 0, CONF_KEEP_FOREVER, CONF_KEEP_FOREVER },
                { "", -EINVAL, 0, 0 },
                { "  ", -EINVAL, 0, 0 },
                { "7d 1d", -EINVAL, 0, 0 },
                { "10 20", -EINVAL, 0, 0 },
                { "7x", -EINVAL, 0, 0 },
                { "-5", -EINVAL, 0, 0 },
                { "infinity 7d", -EINVAL, 0, 0 },
                { "12345678901", -ERANGE, 0, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t age = 1, count = 1;
                int r = conf_parse_keep_finished(cases[i].in, &age, &count);

                if (r != cases[i].want_r)
                        fail_msg("KeepFinished=%s: got %d, want %d", cases[i].in, r, cases[i].want_r);
                if (r < 0)
                        continue;
                if (age != cases[i].want_age || count != cases[i].want_count)
                        fail_msg("KeepFinished=%s: got age %" PRIu64 " count %" PRIu64 ", want %" PRIu64
                                 " %" PRIu64,
                                 cases[i].in, age, count, cases[i].want_age, cases[i].want_count);
        }
}

static void test_parse_file(void **state) {
        static const char text[] =
                "# orchd.conf\n"
                "; another comment\n"
                "\n"
                "[Daemon]\n"
                "  Spool = /srv/spool  \n"
                "MaxParallel=8\r\n"
                "LogLevel=debug\n"
                "MaxLogSize=1M\n"
                "AllowUsers=alice bob\n"
                "AllowUsers=carol\n"
                "DenyUsers=mallory\n"
                "DenyUsers=\n"
                "AdminGroup=wheel\n"
                "Frobnicate=yes\n"
                "[Other]\n"
                "MaxParallel=99\n";
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_free_ char *error = NULL;
        DaemonConf c = {};

        assert_int_equal(conf_parse(text, "orchd.conf", &c, &warnings, &error), 0);
        assert_null(error);
        assert_string_equal(c.spool, "/srv/spool");
        assert_int_equal(c.max_parallel, 8);
        assert_int_equal(c.log_level, LOG_DEBUG);
        assert_int_equal(c.max_log_size, 1024 * 1024);
        assert_non_null(c.allow_users);
        assert_string_equal(c.allow_users[0], "alice");
        assert_string_equal(c.allow_users[1], "bob");
        assert_string_equal(c.allow_users[2], "carol"); /* lines add up */
        assert_null(c.allow_users[3]);
        assert_null(c.deny_users); /* an empty assignment empties the list */
        assert_true(CONF_SET(&c, CONF_DENY_USERS));
        assert_string_equal(c.admin_group, "wheel");
        assert_false(CONF_SET(&c, CONF_SOCKET));
        assert_null(c.socket);

        assert_non_null(warnings);
        assert_string_equal(warnings[0], "orchd.conf:14: unknown key Frobnicate=, ignored");
        assert_string_equal(warnings[1], "orchd.conf:15: unknown section [Other], ignored");
        assert_string_equal(warnings[2], "orchd.conf:16: MaxParallel= outside [Daemon], ignored");
        assert_null(warnings[3]);
        conf_done(&c);
}

static void test_parse_errors(void **state) {
        static const struct {
                const char *text, *error;
        } cases[] = {
                { "[Daemon]\nMaxParallel=zero\n",
                  "f.conf:2: invalid MaxParallel=zero: must be a number from 1 to 1000000" },
                { "[Daemon]\nSpool\n", "f.conf:2: expected Key=Value, got 'Spool'" },
                { "[Daemon\n", "f.conf:1: invalid section header '[Daemon'" },
                { "\n\n[Daemon]\nSocket=relative\n",
                  "f.conf:4: invalid Socket=relative: must be an absolute path" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_strv_free_ char **warnings = NULL;
                _cleanup_free_ char *error = NULL;
                DaemonConf c = {};

                assert_int_equal(conf_parse(cases[i].text, "f.conf", &c, &warnings, &error), -EINVAL);
                assert_non_null(error);
                assert_string_equal(error, cases[i].error);
                conf_done(&c);
        }
}

static void test_merge(void **state) {
        DaemonConf file = {}, cli = {};
        const char *why;

        assert_int_equal(conf_set(&file, CONF_SPOOL, "/from/file", &why), 0);
        assert_int_equal(conf_set(&file, CONF_MAX_PARALLEL, "4", &why), 0);
        assert_int_equal(conf_set(&file, CONF_ALLOW_USERS, "alice bob", &why), 0);
        assert_int_equal(conf_set(&cli, CONF_MAX_PARALLEL, "16", &why), 0);
        assert_int_equal(conf_set(&cli, CONF_ALLOW_USERS, "carol", &why), 0);

        assert_int_equal(conf_merge(&file, &cli), 0);
        assert_string_equal(file.spool, "/from/file"); /* not on the command line: kept */
        assert_int_equal(file.max_parallel, 16);       /* the command line wins */
        assert_string_equal(file.allow_users[0], "carol");
        assert_null(file.allow_users[1]); /* a list is replaced, not extended */
        conf_done(&file);
        conf_done(&cli);
        assert_int_equal(file.set, 0);

        /* A key marked set without a value (an unset group kept in force on reload) unsets it. */
        assert_int_equal(conf_set(&file, CONF_DROP_GROUP, "staff", &why), 0);
        cli.set = 1U << CONF_DROP_GROUP;
        assert_int_equal(conf_merge(&file, &cli), 0);
        assert_null(file.drop_group);
        conf_done(&file);
}

/* UserCPUWeight=: lines add up, a later entry wins, merge copies, an error names the line and the key. */
static void test_user_cpu_weight(void **state) {
        static const char text[] =
                "[Daemon]\nUserCPUWeight=alice:200 bob:50\nUserCPUWeight=1001:300 alice:400\n";
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_free_ char *error = NULL;
        DaemonConf c = {}, d = {};

        assert_int_equal(conf_parse(text, "orchd.conf", &c, &warnings, &error), 0);
        assert_null(warnings);
        assert_true(CONF_SET(&c, CONF_USER_CPU_WEIGHT));
        assert_int_equal(c.user_cpu_weights.n, 4);
        assert_int_equal(user_weights_lookup(&c.user_cpu_weights, 1000, "alice"), 400);
        assert_int_equal(user_weights_lookup(&c.user_cpu_weights, 1002, "bob"), 50);
        assert_int_equal(user_weights_lookup(&c.user_cpu_weights, 1001, "carol"), 300);
        assert_int_equal(user_weights_lookup(&c.user_cpu_weights, 1003, "dave"), 100);

        assert_int_equal(conf_merge(&d, &c), 0);
        assert_true(user_weights_equal(&d.user_cpu_weights, &c.user_cpu_weights));
        conf_done(&c);
        assert_int_equal(user_weights_lookup(&d.user_cpu_weights, 1000, "alice"), 400); /* a deep copy */
        conf_done(&d);

        assert_int_equal(conf_parse("[Daemon]\nUserCPUWeight=alice:200\nUserCPUWeight=bob:0\n", "f.conf", &c,
                                    &warnings, &error),
                         -EINVAL);
        assert_string_equal(error,
                            "f.conf:3: invalid UserCPUWeight=bob:0: a weight must be a number from 1 to "
                            "10000 (USER:WEIGHT)");
        conf_done(&c);
}

static void test_size(void **state) {
        uint64_t v;

        assert_int_equal(conf_parse_size("0", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(conf_parse_size("512K", &v), 0);
        assert_int_equal(v, 512 * 1024);
        assert_int_equal(conf_parse_size("2G", &v), 0);
        assert_int_equal(v, UINT64_C(2) << 30);
        assert_int_equal(conf_parse_size("K", &v), -EINVAL);
        assert_int_equal(conf_parse_size("1KB", &v), -EINVAL);
        assert_int_equal(conf_parse_size("1k", &v), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_keys),
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_parse_file),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_merge),
                cmocka_unit_test(test_size),
                cmocka_unit_test(test_min_free),
                cmocka_unit_test(test_keep_finished),
                cmocka_unit_test(test_user_cpu_weight),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
