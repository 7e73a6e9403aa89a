/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for unfinished.c on a real directory: markers are made and removed idempotently, listed in id
 * order however they were made, and names that are not job ids are left out.
 */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsutil.h"
#include "macro.h"
#include "unfinished.h"

static void test_mark_and_list(void **state) {
        char tmpl[] = "/tmp/test-unfinished.XXXXXX";
        _cleanup_free_ uint64_t *ids = NULL;
        struct stat st;
        size_t n = 99;
        int jobs, dir;

        assert_non_null(mkdtemp(tmpl));
        jobs = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(jobs >= 0);
        dir = unfinished_open(jobs);
        assert_true(dir >= 0);
        assert_int_equal(fstat(dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);

        assert_int_equal(unfinished_list(dir, &ids, &n), 0);
        assert_null(ids);
        assert_int_equal(n, 0);

        assert_int_equal(unfinished_mark(dir, 100, true), 0);
        assert_int_equal(unfinished_mark(dir, 9, true), 0);
        assert_int_equal(unfinished_mark(dir, 9, true), 0); /* again: still one */
        assert_int_equal(unfinished_mark(dir, 42, true), 0);
        assert_int_equal(unfinished_mark(dir, 42, false), 0);
        assert_int_equal(unfinished_mark(dir, 42, false), 0); /* gone already: fine */
        assert_int_equal(unfinished_mark(dir, 18446744073709551615ULL, true), 0);
        /* Not ids: a leading zero, a dot file, a name with letters. */
        for (const char *const *p = (const char *const[]){ "007", ".tmp", "12a", NULL }; *p; p++) {
                int fd = openat(dir, *p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

                assert_true(fd >= 0);
                close(fd);
        }

        assert_int_equal(unfinished_list(dir, &ids, &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(ids[0], 9);
        assert_int_equal(ids[1], 100);
        assert_true(ids[2] == 18446744073709551615ULL);

        /* Opening it again finds the same markers. */
        close(dir);
        dir = unfinished_open(jobs);
        assert_true(dir >= 0);
        ids = mfree(ids);
        assert_int_equal(unfinished_list(dir, &ids, &n), 0);
        assert_int_equal(n, 3);
        close(dir);
        close(jobs);
        assert_int_equal(rm_rf_at(AT_FDCWD, tmpl), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mark_and_list),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
