/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the cgroup v2 file parsers and the attempt cgroup name. */

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cgroupfmt.h"

static void test_self_path(void **state) {
        char *p = NULL;

        /* A hybrid host: v1 lines first, the unified one last. */
        assert_int_equal(cgroupfmt_self_path("9:name=systemd:/\n4:memory:/x/y\n0::/\n", &p), 0);
        assert_string_equal(p, "/");
        free(p);
        assert_int_equal(cgroupfmt_self_path("0::/system.slice/orchd.service\n", &p), 0);
        assert_string_equal(p, "/system.slice/orchd.service");
        free(p);
        assert_int_equal(cgroupfmt_self_path("0::/a b", &p), 0); /* no final newline */
        assert_string_equal(p, "/a b");
        free(p);
        assert_int_equal(cgroupfmt_self_path("4:memory:/\n1:cpu:/\n", &p), -ENOENT);
        assert_int_equal(cgroupfmt_self_path("", &p), -ENOENT);
        assert_int_equal(cgroupfmt_self_path("0::relative\n", &p), -EBADMSG);
}

static void test_keyed(void **state) {
        const char *events = "populated 1\nfrozen 0\n";
        const char *cpu =
                "usage_usec 523401\nuser_usec 500000\nsystem_usec 23401\n"
                "core_sched.force_idle_usec 0\n";
        uint64_t v = 7;

        assert_int_equal(cgroupfmt_keyed(events, "populated", &v), 0);
        assert_int_equal(v, 1);
        assert_int_equal(cgroupfmt_keyed(events, "frozen", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(cgroupfmt_keyed(cpu, "usage_usec", &v), 0);
        assert_int_equal(v, 523401);
        assert_int_equal(cgroupfmt_keyed(cpu, "system_usec", &v), 0);
        assert_int_equal(v, 23401);
        /* A key is matched whole: "usage" is no prefix of "usage_usec". */
        assert_int_equal(cgroupfmt_keyed(cpu, "usage", &v), -ENOENT);
        assert_int_equal(cgroupfmt_keyed("oom 0\noom_kill 2", "oom_kill", &v), 0);
        assert_int_equal(v, 2);
        assert_int_equal(cgroupfmt_keyed("oom_kill x\n", "oom_kill", &v), -EBADMSG);
        assert_int_equal(cgroupfmt_keyed("oom_kill 99999999999999999999\n", "oom_kill", &v), -EBADMSG);
        assert_int_equal(cgroupfmt_keyed("oom_kill 1 2\n", "oom_kill", &v), -EBADMSG);
        assert_int_equal(cgroupfmt_keyed("", "populated", &v), -ENOENT);
}

static void test_io_bytes(void **state) {
        uint64_t rd = 1, wr = 1;

        assert_int_equal(cgroupfmt_io_bytes("", &rd, &wr), 0);
        assert_int_equal(rd, 0);
        assert_int_equal(wr, 0);
        assert_int_equal(cgroupfmt_io_bytes("8:0 rbytes=4096 wbytes=100 rios=1 wios=1 dbytes=0 dios=0\n"
                                            "253:1 rbytes=10 wbytes=20 rios=1 wios=1 dbytes=5 dios=1\n",
                                            &rd, &wr),
                         0);
        assert_int_equal(rd, 4106);
        assert_int_equal(wr, 120);
        assert_int_equal(cgroupfmt_io_bytes("8:0 rbytes=18446744073709551615 wbytes=0\n"
                                            "8:1 rbytes=5 wbytes=0\n",
                                            &rd, &wr),
                         0);
        assert_true(rd == UINT64_MAX); /* saturates */
        assert_int_equal(cgroupfmt_io_bytes("8:0 rbytes=x\n", &rd, &wr), -EBADMSG);
}

static void test_controllers(void **state) {
        char buf[CGROUPFMT_NAMES_MAX];

        assert_string_equal(cgroupfmt_controller_names(RESOURCES_ALL, buf), "cpu memory pids io");
        assert_string_equal(cgroupfmt_controller_names(0, buf), "");
        assert_string_equal(cgroupfmt_enable_line(RESOURCES_PIDS | RESOURCES_CPU, buf), "+cpu +pids");
}

static void test_attempt_path(void **state) {
        char buf[64];

        assert_int_equal(cgroupfmt_attempt_path(buf, sizeof(buf), 1001, 42, "build.3.log"), 24);
        assert_string_equal(buf, "user-1001/job-42/build.3");
        assert_true(cgroupfmt_attempt_path(buf, sizeof(buf), 0, 7, "a%b.1.log") > 0);
        assert_string_equal(buf, "user-0/job-7/a%b.1");
        assert_int_equal(cgroupfmt_attempt_path(buf, 10, 0, 7, "a.1.log"), -ENAMETOOLONG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_self_path),    cmocka_unit_test(test_keyed),
                cmocka_unit_test(test_io_bytes),     cmocka_unit_test(test_controllers),
                cmocka_unit_test(test_attempt_path),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
