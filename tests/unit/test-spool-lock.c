/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for spool-lock.c in a mkdtemp spool: the first lock wins and records its pid; a second one
 * (another open file description, as another daemon would have) is refused with the holder's pid and
 * changes nothing; closing the holder's fd frees the lock; a lock file that is a directory, a FIFO or a
 * symlink is refused.
 */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsutil.h"
#include "macro.h"
#include "spool-lock.h"

static char dir[] = "/tmp/test-spool-lock.XXXXXX";

static int open_dir(void) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        assert_true(fd >= 0);
        return fd;
}

static void read_lock_file(char *buf, size_t size, struct stat *st) {
        _cleanup_close_ int d = open_dir(), fd = -EBADF;
        ssize_t n;

        fd = openat(d, SPOOL_LOCK_FILE, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        n = read(fd, buf, size - 1);
        assert_true(n >= 0);
        buf[n] = '\0';
        assert_int_equal(fstat(fd, st), 0);
}

static void test_lock(void **state) {
        _cleanup_close_ int d1 = open_dir(), d2 = open_dir();
        char want[24], before[24], after[24];
        struct stat st_before, st_after;
        pid_t holder = -1;
        int fd, again;

        fd = spool_lock(d1, &holder);
        assert_true(fd >= 0);
        assert_int_equal(holder, 0);
        snprintf(want, sizeof(want), "%d\n", (int) getpid());
        read_lock_file(before, sizeof(before), &st_before);
        assert_string_equal(before, want);

        again = spool_lock(d2, &holder);
        assert_int_equal(again, -EWOULDBLOCK);
        assert_int_equal(holder, getpid());
        read_lock_file(after, sizeof(after), &st_after);
        assert_string_equal(after, before);
        assert_int_equal(st_after.st_mtim.tv_sec, st_before.st_mtim.tv_sec);
        assert_int_equal(st_after.st_mtim.tv_nsec, st_before.st_mtim.tv_nsec);
        assert_int_equal(st_after.st_ctim.tv_sec, st_before.st_ctim.tv_sec);
        assert_int_equal(st_after.st_ctim.tv_nsec, st_before.st_ctim.tv_nsec);

        /* The lock goes with the holder's fd (with the holder), and the next one takes it. */
        safe_close(fd);
        fd = spool_lock(d2, &holder);
        assert_true(fd >= 0);
        safe_close(fd);
}

static void test_not_a_file(void **state) {
        _cleanup_close_ int d = open_dir();
        pid_t holder;

        assert_int_equal(unlinkat(d, SPOOL_LOCK_FILE, 0), 0);
        assert_int_equal(mkdirat(d, SPOOL_LOCK_FILE, 0755), 0);
        assert_int_equal(spool_lock(d, &holder), -EISDIR);
        assert_int_equal(unlinkat(d, SPOOL_LOCK_FILE, AT_REMOVEDIR), 0);

        assert_int_equal(mkfifoat(d, SPOOL_LOCK_FILE, 0644), 0);
        assert_int_equal(spool_lock(d, &holder), -EBADFD); /* opened (O_NONBLOCK), never locked */
        assert_int_equal(unlinkat(d, SPOOL_LOCK_FILE, 0), 0);

        assert_int_equal(symlinkat("/etc/passwd", d, SPOOL_LOCK_FILE), 0);
        assert_int_equal(spool_lock(d, &holder), -ELOOP);
        assert_int_equal(unlinkat(d, SPOOL_LOCK_FILE, 0), 0);
}

static int setup(void **state) {
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
        (void) rm_rf_at(AT_FDCWD, dir);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lock),
                cmocka_unit_test(test_not_a_file),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
