/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the per-user accounting: the admission caps and the fair share of run slots. */

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "usage.h"

#define ALICE 1001
#define BOB 1002
#define CAROL 1003

static void test_counts(void **state) {
        Usage u = {};
        const UserUsage *e;

        assert_null(usage_get(&u, ALICE));
        assert_int_equal(usage_add_job(&u, ALICE, 100, 5, true), 0);
        assert_int_equal(usage_add_job(&u, ALICE, 50, 3, false), 0); /* recovered, finished */
        assert_int_equal(usage_add_job(&u, BOB, 7, 1, true), 0);
        e = usage_get(&u, ALICE);
        assert_non_null(e);
        assert_int_equal(e->n[USAGE_JOBS], 1);
        assert_int_equal(e->n[USAGE_NODES], 5);
        assert_int_equal(e->n[USAGE_BYTES], 150); /* finished jobs' files still count */

        /* Finish, then retry: the job and its nodes come back; bytes never moved. */
        assert_int_equal(usage_job_finished(&u, ALICE, 5, true), 0);
        e = usage_get(&u, ALICE);
        assert_int_equal(e->n[USAGE_JOBS], 0);
        assert_int_equal(e->n[USAGE_NODES], 0);
        assert_int_equal(e->n[USAGE_BYTES], 150);
        assert_int_equal(usage_job_finished(&u, ALICE, 5, false), 0);
        assert_int_equal(usage_get(&u, ALICE)->n[USAGE_JOBS], 1);

        /* Removal of a finished job frees its bytes; a slip never wraps below zero. */
        usage_remove_job(&u, ALICE, 50, 3, false);
        assert_int_equal(usage_get(&u, ALICE)->n[USAGE_BYTES], 100);
        usage_remove_job(&u, ALICE, 1000, 1000, true);
        e = usage_get(&u, ALICE);
        assert_int_equal(e->n[USAGE_BYTES], 0);
        assert_int_equal(e->n[USAGE_JOBS], 0);
        assert_int_equal(e->n[USAGE_NODES], 0);
        assert_int_equal(usage_get(&u, BOB)->n[USAGE_JOBS], 1);
        usage_done(&u);
}

static void test_many_users_sorted(void **state) {
        Usage u = {};

        /* Insert in a scrambled order; lookups must find each. */
        for (unsigned k = 0; k < 100; k++)
                assert_int_equal(usage_add_job(&u, (uid_t) ((k * 37) % 100 + 1000), k, 1, true), 0);
        for (unsigned k = 0; k < 100; k++) {
                const UserUsage *e = usage_get(&u, (uid_t) ((k * 37) % 100 + 1000));

                assert_non_null(e);
                assert_int_equal(e->n[USAGE_BYTES], k);
        }
        for (size_t i = 1; i < u.n_users; i++)
                assert_true(u.users[i - 1].uid < u.users[i].uid);
        usage_done(&u);
}

static const struct {
        const char *what;
        uint64_t jobs, bytes, nodes; /* alice's figures */
        uint64_t max_jobs, max_bytes, max_nodes;
        bool exempt;
        uint64_t new_bytes, new_nodes;
        int want;
        UsageLimit want_limit;
        uint64_t want_current;
} admit_cases[] = {
        { "under every cap", 2, 100, 10, 3, 1000, 100, false, 10, 10, 0, 0, 0 },
        { "at UserMaxJobs", 3, 100, 10, 3, 1000, 100, false, 10, 10, -EDQUOT, USAGE_JOBS, 3 },
        { "bytes would exceed", 0, 990, 0, 3, 1000, 100, false, 11, 1, -EDQUOT, USAGE_BYTES, 990 },
        { "bytes exactly reach the cap", 0, 990, 0, 3, 1000, 100, false, 10, 1, 0, 0, 0 },
        { "nodes would exceed", 0, 0, 95, 3, 1000, 100, false, 1, 6, -EDQUOT, USAGE_NODES, 95 },
        { "a single job over the node cap", 0, 0, 0, 3, 1000, 100, false, 1, 101, -EDQUOT, USAGE_NODES, 0 },
        { "no caps at all", 5000, UINT64_MAX - 1, 1, 0, 0, 0, false, 1, UINT64_MAX, 0, 0, 0 },
        { "huge figures do not overflow", 0, UINT64_MAX - 5, 0, 0, UINT64_MAX - 1, 0, false, 10, 1, -EDQUOT,
          USAGE_BYTES, UINT64_MAX - 5 },
        { "exempt over everything", 3, 5000, 500, 3, 1000, 100, true, 10, 10, 0, 0, 0 },
};

static void test_admit(void **state) {
        for (size_t i = 0; i < sizeof(admit_cases) / sizeof(admit_cases[0]); i++) {
                const typeof(admit_cases[0]) *c = &admit_cases[i];
                UsageLimits l = { .max = { [USAGE_JOBS] = c->max_jobs,
                                           [USAGE_BYTES] = c->max_bytes,
                                           [USAGE_NODES] = c->max_nodes } };
                UsageDenial d = {};
                Usage u = {};
                int r;

                assert_int_equal(usage_add_job(&u, ALICE, c->bytes, c->nodes, false), 0);
                for (uint64_t k = 0; k < c->jobs; k++)
                        assert_int_equal(usage_job_finished(&u, ALICE, 0, false), 0);
                usage_get(&u, ALICE); /* present */
                ((UserUsage *) usage_get(&u, ALICE))->n[USAGE_NODES] = c->nodes;
                r = usage_admit(&u, &l, ALICE, c->exempt, c->new_bytes, c->new_nodes, &d);
                if (r != c->want)
                        fail_msg("%s: got %d, want %d", c->what, r, c->want);
                if (r < 0 && (d.limit != c->want_limit || d.current != c->want_current))
                        fail_msg("%s: got limit %s current %llu, want %s %llu", c->what,
                                 usage_limit_to_string(d.limit), (unsigned long long) d.current,
                                 usage_limit_to_string(c->want_limit), (unsigned long long) c->want_current);
                /* Someone else's figures never count. */
                assert_int_equal(usage_admit(&u, &l, BOB, false, 1, 1, &d), 0);
                usage_done(&u);
        }
}

static void test_denial_text(void **state) {
        UsageDenial d = { .limit = USAGE_JOBS, .current = 1000, .max = 1000 };
        char *s = usage_denial_format(&d, "alice");

        assert_string_equal(
                s,
                "user alice has 1000 unfinished jobs, the limit UserMaxJobs= is 1000; wait for some "
                "to finish");
        free(s);
        d = (UsageDenial){ .limit = USAGE_BYTES, .current = 1536, .max = UINT64_C(1) << 30 };
        s = usage_denial_format(&d, "bob");
        assert_non_null(
                strstr(s, "user bob has 1.5 KiB of job files in the spool (finished jobs included)"));
        assert_non_null(strstr(s, "UserMaxBytes= is 1.0 GiB"));
        free(s);
        d = (UsageDenial){ .limit = USAGE_NODES, .current = 7, .max = 10 };
        s = usage_denial_format(&d, "carol");
        assert_non_null(
                strstr(s, "user carol has 7 nodes in unfinished jobs, the limit UserMaxNodes= is 10"));
        free(s);
        assert_string_equal(usage_limit_to_string(USAGE_RUNNING), "UserMaxRunning");
        assert_null(usage_limit_to_string(_USAGE_LIMIT_MAX));
}

/* One scheduling pass over "jobs" (uid, ready nodes) in priority order, as the manager runs it: returns the
 * slots each job got. */
typedef struct PassJob {
        uid_t uid;
        unsigned running, ready, got;
} PassJob;

static void run_pass(Usage *u, PassJob *jobs, size_t n, unsigned max_parallel, uint64_t max_running) {
        unsigned slots = max_parallel;

        for (size_t i = 0; i < n; i++)
                slots -= jobs[i].running;
        usage_pass_begin(u, max_parallel, max_running);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(usage_pass_note(u, jobs[i].uid, jobs[i].running, jobs[i].ready > 0), 0);
        (void) usage_pass_ready(u);
        for (UsageRound round = 0; round < _USAGE_ROUND_MAX; round++)
                for (size_t i = 0; i < n && slots > 0; i++) {
                        unsigned allow = usage_slots_for(u, jobs[i].uid, slots, round);
                        unsigned take = allow < jobs[i].ready ? allow : jobs[i].ready;

                        jobs[i].ready -= take;
                        jobs[i].got += take;
                        jobs[i].running += take;
                        slots -= take;
                        usage_took(u, jobs[i].uid, take);
                }
}

static void test_fair_share(void **state) {
        Usage u = {};

        /* Alone, a user takes every slot (no slot idles while work waits). */
        {
                PassJob j[] = { { ALICE, 0, 100, 0 } };

                run_pass(&u, j, 1, 4, 0);
                assert_int_equal(j[0].got, 4);
        }
        /* Alice's big job came first and holds both slots; Bob is waiting. When one frees, Bob gets it even
         * though Alice's job is first in priority order. */
        {
                PassJob j[] = { { ALICE, 1, 100, 0 }, { BOB, 0, 5, 0 } };

                run_pass(&u, j, 2, 2, 0);
                assert_int_equal(j[0].got, 0);
                assert_int_equal(j[1].got, 1);
        }
        /* Both at their share: the freed slot goes by priority (to Alice, first). */
        {
                PassJob j[] = { { ALICE, 1, 100, 0 }, { BOB, 1, 5, 0 } };

                run_pass(&u, j, 2, 3, 0);
                assert_int_equal(j[0].got, 1);
                assert_int_equal(j[1].got, 0);
        }
        /* Three users, four slots, nothing running: everybody gets one before anybody gets two. */
        {
                PassJob j[] = { { ALICE, 0, 100, 0 }, { BOB, 0, 100, 0 }, { CAROL, 0, 100, 0 } };

                run_pass(&u, j, 3, 4, 0);
                assert_int_equal(j[0].got, 2);
                assert_int_equal(j[1].got, 1);
                assert_int_equal(j[2].got, 1);
        }
        /* More users than slots: the first below their share get one each. */
        {
                PassJob j[] = { { ALICE, 0, 100, 0 }, { BOB, 0, 100, 0 }, { CAROL, 0, 100, 0 } };

                run_pass(&u, j, 3, 2, 0);
                assert_int_equal(j[0].got + j[1].got + j[2].got, 2);
                assert_true(j[0].got <= 1 && j[1].got <= 1 && j[2].got <= 1);
        }
        /* A user with running work but nothing ready counts as active; the other gets its share and the
         * rest, since nobody else wants a slot. */
        {
                PassJob j[] = { { ALICE, 2, 0, 0 }, { BOB, 0, 100, 0 } };

                run_pass(&u, j, 2, 8, 0);
                assert_int_equal(j[1].got, 6);
        }
        /* Two jobs of one user count as one user. */
        {
                PassJob j[] = { { ALICE, 0, 100, 0 }, { ALICE, 0, 100, 0 }, { BOB, 0, 100, 0 } };

                run_pass(&u, j, 3, 4, 0);
                assert_int_equal(j[0].got + j[1].got, 2);
                assert_int_equal(j[2].got, 2);
        }
        usage_done(&u);
}

static void test_max_running(void **state) {
        Usage u = {};

        /* UserMaxRunning= caps a user even alone; an exempt user is not capped. */
        {
                PassJob j[] = { { ALICE, 0, 100, 0 }, { BOB, 0, 100, 0 } };

                assert_int_equal(usage_set_exempt(&u, BOB, true), 0);
                run_pass(&u, j, 1, 10, 3);
                assert_int_equal(j[0].got, 3);
                run_pass(&u, j + 1, 1, 10, 3);
                assert_int_equal(j[1].got, 10);
        }
        {
                PassJob j[] = { { ALICE, 3, 100, 0 } };

                run_pass(&u, j, 1, 10, 3);
                assert_int_equal(j[0].got, 0);
        }
        usage_done(&u);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_counts),     cmocka_unit_test(test_many_users_sorted),
                cmocka_unit_test(test_admit),      cmocka_unit_test(test_denial_text),
                cmocka_unit_test(test_fair_share), cmocka_unit_test(test_max_running),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
