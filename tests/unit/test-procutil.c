/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for procutil.c with real processes: start times are stable and distinguish processes, a
 * recorded (pid, start time) kills its whole group, a wrong start time or an ended process is left
 * alone, and names with spaces and parentheses do not confuse the parser.
 */

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "procutil.h"

/* A child in its own session with a grandchild in the same group; both pause. Returns the leader. */
static pid_t spawn_group(pid_t *ret_grandchild) {
        int fds[2];
        pid_t leader, gc;

        assert_int_equal(pipe(fds), 0);
        leader = fork();
        assert_true(leader >= 0);
        if (leader == 0) {
                (void) setsid();
                (void) prctl(PR_SET_NAME, "a (b) c", 0, 0, 0); /* hostile comm */
                gc = fork();
                if (gc == 0) {
                        for (;;)
                                pause();
                }
                (void) !write(fds[1], &gc, sizeof(gc));
                for (;;)
                        pause();
        }
        assert_int_equal(read(fds[0], ret_grandchild, sizeof(pid_t)), (ssize_t) sizeof(pid_t));
        close(fds[0]);
        close(fds[1]);
        return leader;
}

static bool alive(pid_t pid) {
        uint64_t t;

        return proc_start_time(pid, &t) == 0;
}

static void test_start_time(void **state) {
        uint64_t a, b, c;
        pid_t gc, leader = spawn_group(&gc);

        assert_int_equal(proc_start_time(getpid(), &a), 0);
        assert_int_equal(proc_start_time(getpid(), &b), 0);
        assert_true(a == b);
        assert_int_equal(proc_start_time(leader, &c), 0); /* parses despite "a (b) c" */
        assert_true(c >= a);
        assert_int_equal(proc_start_time(99999999, &c), -ESRCH);
        kill(-leader, SIGKILL);
        (void) waitpid(leader, NULL, 0);
}

static void test_kill_group(void **state) {
        uint64_t start;
        pid_t gc, leader = spawn_group(&gc);

        assert_int_equal(proc_start_time(leader, &start), 0);
        assert_int_equal(proc_kill_group_if_same(leader, start + 1, 1000), 0); /* not the same process */
        assert_true(alive(leader) && alive(gc));
        assert_int_equal(proc_kill_group_if_same(leader, start, 5000), 1);
        /* It waited for the leader to die: reaping it need not wait. */
        assert_int_equal(waitpid(leader, NULL, WNOHANG), leader);
        /* The grandchild was in the group too; it is reparented, so poll until it is gone or a zombie. */
        for (int i = 0; i < 200 && alive(gc); i++)
                usleep(5000);
        assert_false(alive(gc));
        assert_int_equal(proc_kill_group_if_same(leader, start, 1000), 0); /* gone: nothing to do */
        assert_int_equal(proc_kill_group_if_same(1, 0, 1000), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_start_time),
                cmocka_unit_test(test_kill_group),
        };

        /* Reap the grandchild ourselves so it does not linger as a zombie of PID 1 (which may not reap). */
        (void) prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
