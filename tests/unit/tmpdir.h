/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A fresh private directory per test case (include after <cmocka.h>): created with mkdtemp under /tmp,
 * opened as an O_DIRECTORY fd. The caller removes it in its teardown. */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#define TEST_TMPDIR_MAX 64

/* Create /tmp/NAME.XXXXXX into path (TEST_TMPDIR_MAX bytes) and return its fd; fails the test on error. */
static inline int test_tmpdir(char path[static TEST_TMPDIR_MAX], const char *name) {
        int fd;

        assert_true(snprintf(path, TEST_TMPDIR_MAX, "/tmp/%s.XXXXXX", name) < TEST_TMPDIR_MAX);
        assert_non_null(mkdtemp(path));
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        return fd;
}
