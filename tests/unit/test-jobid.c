/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for jobid.c: exactly the canonical decimal ids 1…UINT64_MAX parse (no zero, sign, leading zero,
 * space, suffix or overflow), and job_id_list() of a real directory lists those names in id order.
 */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobid.h"
#include "macro.h"

static void test_parse(void **state) {
        static const struct {
                const char *s;
                int want;
                uint64_t id;
        } cases[] = {
                { "1", 0, 1 },
                { "42", 0, 42 },
                { "18446744073709551615", 0, UINT64_MAX },
                { "18446744073709551616", -EINVAL, 0 },
                { "99999999999999999999", -EINVAL, 0 },
                { "0", -EINVAL, 0 },
                { "042", -EINVAL, 0 },
                { "", -EINVAL, 0 },
                { "-1", -EINVAL, 0 },
                { "+1", -EINVAL, 0 },
                { " 1", -EINVAL, 0 },
                { "1 ", -EINVAL, 0 },
                { "12a", -EINVAL, 0 },
                { "1.0", -EINVAL, 0 },
                { ".#1", -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t id = 7;
                int r = job_id_parse(cases[i].s, &id);

                if (r != cases[i].want)
                        fail_msg("\"%s\": got %d, want %d", cases[i].s, r, cases[i].want);
                assert_int_equal(id, r == 0 ? cases[i].id : 7); /* untouched on error */
        }
}

static void test_list(void **state) {
        static const char *const names[] = { "10", "9", "100", "1", "010", "x", ".#5", "0" };
        char tmpl[] = "/tmp/test-jobid.XXXXXX";
        _cleanup_free_ uint64_t *ids = NULL;
        size_t n = 99;
        int dir;

        assert_non_null(mkdtemp(tmpl));
        dir = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dir >= 0);
        assert_int_equal(job_id_list(dir, &ids, &n), 0);
        assert_null(ids);
        assert_int_equal(n, 0);

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                assert_int_equal(mkdirat(dir, names[i], 0700), 0);
        assert_int_equal(job_id_list(dir, &ids, &n), 0);
        assert_int_equal(n, 4);
        assert_int_equal(ids[0], 1);
        assert_int_equal(ids[1], 9);
        assert_int_equal(ids[2], 10);
        assert_int_equal(ids[3], 100);

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                assert_int_equal(unlinkat(dir, names[i], AT_REMOVEDIR), 0);
        safe_close(dir);
        assert_int_equal(rmdir(tmpl), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_list),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
