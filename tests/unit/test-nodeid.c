/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for nodeid.c: which ids are valid (paths without empty, "." or ".." components, up to 240 bytes),
 * and that log names are one file name (no '/'), distinct for distinct ids, unchanged for ids without '/'
 * (older spools), and within NAME_MAX for the longest id and the largest attempt.
 */

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "macro.h"
#include "nodeid.h"

static void test_valid(void **state) {
        const char *good[] = { "a",         "build", "ok.id_1-2", "src/foo.c.o", "CMakeFiles/x.dir/a.c.o",
                               "a/.hidden", "a/...", "0/1/2",     "a-/b_" };
        const char *bad[] = { "",     "-a",    ".a",     "_a",          "/a",  "a/",
                              "a//b", "a/./b", "a/../b", "a/..",        "a/.", "../../etc/x",
                              "a b",  "a%b",   "a\\b",   "caf\xc3\xa9", "a\nb" };
        char id[NODEID_MAX + 2];

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                assert_true(nodeid_valid(good[i]));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_false(nodeid_valid(bad[i]));
        memset(id, 'a', sizeof(id) - 1);
        id[NODEID_MAX] = '\0';
        assert_true(nodeid_valid(id));
        id[NODEID_MAX] = 'a';
        id[NODEID_MAX + 1] = '\0';
        assert_false(nodeid_valid(id)); /* 241 bytes */
}

static void test_log_name(void **state) {
        char a[NODEID_LOG_NAME_SIZE], b[NODEID_LOG_NAME_SIZE], id[NODEID_MAX + 1];
        size_t n;

        nodeid_log_name("build", 2, a);
        assert_string_equal(a, "build.2.log"); /* the name older versions gave it */
        nodeid_log_name("src/a.c.o", 1, a);
        assert_string_equal(a, "src%a.c.o.1.log");
        nodeid_log_name("src.a.c.o", 1, b); /* '/' is not turned into a byte an id may hold */
        assert_string_not_equal(a, b);

        for (size_t i = 0; i < NODEID_MAX; i++)
                id[i] = i % 2 ? '/' : 'x';
        id[NODEID_MAX - 1] = 'x';
        id[NODEID_MAX] = '\0';
        assert_true(nodeid_valid(id));
        n = nodeid_log_name(id, UINT32_MAX, a);
        assert_int_equal(n, strlen(a));
        assert_true(n <= NAME_MAX);
        assert_int_equal(n, 255);
        assert_null(strchr(a, '/'));
}

static void test_from_path(void **state) {
        /* every pair of these would collide under a careless mapping */
        const char *paths[] = { "src/a.c.o", "a b", "a_20b",  "esc--a_20b", "esc--a__20b",
                                "a__b",      "a_b", "../x",   "_x",         "/usr/lib/x",
                                "a//b",      "x",   "esc--x", "a+b",        "a_2bb" };
        const char *want[] = {
                "src/a.c.o",     "esc--a_20b", "a_20b",       "esc--esc--a__20b", "esc--esc--a____20b",
                "a__b",          "a_b",        "esc--.._2fx", "esc--__x",         "esc--_2fusr_2flib_2fx",
                "esc--a_2f_2fb", "x",          "esc--esc--x", "esc--a_2bb",       "a_2bb"
        };
        char *ids[ELEMENTSOF(paths)], *id, longp[NODEID_MAX + 1];

        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                assert_int_equal(nodeid_from_path(paths[i], &ids[i]), 0);
                assert_string_equal(ids[i], want[i]);
                assert_true(nodeid_valid(ids[i]));
                for (size_t k = 0; k < i; k++)
                        assert_string_not_equal(ids[i], ids[k]);
        }
        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                free(ids[i]);
        memset(longp, 'a', NODEID_MAX);
        longp[NODEID_MAX] = '\0';
        assert_int_equal(nodeid_from_path(longp, &id), 0); /* valid: itself */
        free(id);
        longp[0] = '/';
        assert_int_equal(nodeid_from_path(longp, &id), -ENAMETOOLONG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid),
                cmocka_unit_test(test_log_name),
                cmocka_unit_test(test_from_path),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
