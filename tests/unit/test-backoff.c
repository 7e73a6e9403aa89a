/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for backoff.c: the SPEC defaults, the retry decision (attempts, on_exit list, signals,
 * spawn failures, on_timeout) and the delay (factor, cap, jitter bounds, saturation, out-of-range u).
 */

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "backoff.h"
#include "macro.h"

#define SEC USEC_PER_SEC
#define U_MAX (1.0 - DBL_EPSILON / 2) /* the largest u below 1 */

static void test_defaults(void **state) {
        RetryPolicy p;

        retry_policy_init(&p);
        assert_int_equal(p.attempts, 1);
        assert_int_equal(p.delay_usec, 1 * SEC);
        assert_true(p.factor == 2.0);
        assert_int_equal(p.max_delay_usec, 300 * SEC);
        assert_true(p.jitter == 0.1);
        assert_true(p.on_exit_any);
        assert_true(p.on_timeout);
        assert_true(p.on_oom);
        for (size_t i = 0; i < ELEMENTSOF(p.on_exit); i++)
                assert_int_equal(p.on_exit[i], 0);

        /* One attempt in all: nothing is ever retried. */
        assert_false(retry_should_retry(&p, 1, ATTEMPT_EXIT, 1));
        assert_false(retry_should_retry(&p, 1, ATTEMPT_TIMEOUT, 0));
}

static void test_should_retry(void **state) {
        static const struct {
                unsigned attempts;
                int on_exit[3]; /* 0-terminated; empty = any */
                bool on_timeout;
                unsigned used;
                AttemptOutcome o;
                int code;
                bool want;
        } table[] = {
                /* on_exit any */
                { 3, { 0 }, true, 1, ATTEMPT_EXIT, 1, true },
                { 3, { 0 }, true, 2, ATTEMPT_EXIT, 255, true },
                { 3, { 0 }, true, 3, ATTEMPT_EXIT, 1, false }, /* exhausted */
                { 3, { 0 }, true, 4, ATTEMPT_EXIT, 1, false },
                { 3, { 0 }, true, 1, ATTEMPT_SIGNAL, 9, true },
                { 3, { 0 }, true, 1, ATTEMPT_SPAWN, 2, true },
                { 3, { 0 }, true, 3, ATTEMPT_SPAWN, 2, false },
                { 100, { 0 }, true, 99, ATTEMPT_EXIT, 1, true },
                { 100, { 0 }, true, 100, ATTEMPT_EXIT, 1, false },
                /* on_exit list */
                { 5, { 75, 0 }, true, 1, ATTEMPT_EXIT, 75, true },
                { 5, { 75, 0 }, true, 1, ATTEMPT_EXIT, 74, false },
                { 5, { 75, 0 }, true, 1, ATTEMPT_EXIT, 76, false },
                { 5, { 75, 0 }, true, 5, ATTEMPT_EXIT, 75, false }, /* exhausted */
                { 5, { 1, 255, 0 }, true, 1, ATTEMPT_EXIT, 1, true },
                { 5, { 1, 255, 0 }, true, 1, ATTEMPT_EXIT, 255, true },
                { 5, { 1, 255, 0 }, true, 1, ATTEMPT_EXIT, 128, false },
                { 5, { 1, 255, 0 }, true, 1, ATTEMPT_EXIT, 0, false },
                { 5, { 1, 255, 0 }, true, 1, ATTEMPT_EXIT, 256, false },
                { 5, { 1, 255, 0 }, true, 1, ATTEMPT_EXIT, -1, false },
                { 5, { 75, 0 }, true, 1, ATTEMPT_SIGNAL, 9, false }, /* a list names exit codes only */
                { 5, { 75, 0 }, true, 1, ATTEMPT_SPAWN, 2, false },
                /* on_timeout, independent of on_exit */
                { 5, { 0 }, true, 1, ATTEMPT_TIMEOUT, 0, true },
                { 5, { 0 }, false, 1, ATTEMPT_TIMEOUT, 0, false },
                { 5, { 75, 0 }, true, 1, ATTEMPT_TIMEOUT, 0, true },
                { 5, { 75, 0 }, true, 5, ATTEMPT_TIMEOUT, 0, false },
                { 5, { 0 }, false, 1, ATTEMPT_EXIT, 3, true },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                RetryPolicy p;
                bool got;

                retry_policy_init(&p);
                p.attempts = table[i].attempts;
                p.on_timeout = table[i].on_timeout;
                for (size_t k = 0; k < ELEMENTSOF(table[i].on_exit) && table[i].on_exit[k]; k++)
                        retry_policy_add_exit(&p, table[i].on_exit[k]);
                assert_int_equal(p.on_exit_any, table[i].on_exit[0] == 0);

                got = retry_should_retry(&p, table[i].used, table[i].o, table[i].code);
                if (got != table[i].want)
                        fail_msg("case #%zu (used %u, outcome %d, code %d): got %d, want %d", i,
                                 table[i].used, table[i].o, table[i].code, got, table[i].want);
        }
}

/* on_oom: an OOM kill is judged by its own flag, like a timeout, whatever the exit-code lists say. */
static void test_should_retry_oom(void **state) {
        RetryPolicy p;

        retry_policy_init(&p);
        assert_false(retry_should_retry(&p, 1, ATTEMPT_OOM, -1)); /* one attempt: nothing is retried */
        p.attempts = 3;
        assert_true(retry_should_retry(&p, 1, ATTEMPT_OOM, -1));
        assert_true(retry_should_retry(&p, 2, ATTEMPT_OOM, -1));
        assert_false(retry_should_retry(&p, 3, ATTEMPT_OOM, -1)); /* exhausted */
        p.on_oom = false;
        assert_false(retry_should_retry(&p, 1, ATTEMPT_OOM, -1));
        assert_true(retry_should_retry(&p, 1, ATTEMPT_SIGNAL, 9)); /* only the OOM kill is exempt */
        assert_true(retry_should_retry(&p, 1, ATTEMPT_TIMEOUT, 0));

        /* An on_exit allow-list does not retry signals, but an OOM kill still follows on_oom. */
        retry_policy_init(&p);
        p.attempts = 3;
        retry_policy_add_exit(&p, 75);
        assert_false(retry_should_retry(&p, 1, ATTEMPT_SIGNAL, 9));
        assert_true(retry_should_retry(&p, 1, ATTEMPT_OOM, -1));
        p.on_oom = false;
        assert_false(retry_should_retry(&p, 1, ATTEMPT_OOM, -1));
        /* Likewise a deny-list. */
        retry_policy_init(&p);
        p.attempts = 3;
        p.on_exit_unless = true;
        retry_policy_add_exit(&p, 2);
        p.on_oom = false;
        assert_false(retry_should_retry(&p, 1, ATTEMPT_OOM, -1));
}

/* unless_exit: a deny-list; every other failure (exit codes, signals, spawn failures) is retried. */
static void test_should_retry_unless(void **state) {
        RetryPolicy p;

        retry_policy_init(&p);
        p.attempts = 3;
        p.on_exit_unless = true;
        retry_policy_add_exit(&p, 2);
        retry_policy_add_exit(&p, 64);
        assert_false(retry_should_retry(&p, 1, ATTEMPT_EXIT, 2));
        assert_false(retry_should_retry(&p, 1, ATTEMPT_EXIT, 64));
        assert_true(retry_should_retry(&p, 1, ATTEMPT_EXIT, 1));
        assert_true(retry_should_retry(&p, 2, ATTEMPT_EXIT, 255));
        assert_false(retry_should_retry(&p, 3, ATTEMPT_EXIT, 1)); /* exhausted */
        assert_true(retry_should_retry(&p, 1, ATTEMPT_SIGNAL, 9));
        assert_true(retry_should_retry(&p, 1, ATTEMPT_SPAWN, 2));
        assert_true(retry_should_retry(&p, 1, ATTEMPT_TIMEOUT, 0));

        /* An empty deny-list retries everything, as the default does. */
        retry_policy_init(&p);
        p.attempts = 2;
        p.on_exit_any = false;
        p.on_exit_unless = true;
        assert_true(retry_should_retry(&p, 1, ATTEMPT_EXIT, 7));
}

static void test_add_exit_bitmap(void **state) {
        RetryPolicy p;

        retry_policy_init(&p);
        for (int code = 1; code <= 255; code += 2)
                retry_policy_add_exit(&p, code);
        assert_false(p.on_exit_any);
        p.attempts = 2;
        for (int code = 1; code <= 255; code++)
                if (retry_should_retry(&p, 1, ATTEMPT_EXIT, code) != (code % 2 == 1))
                        fail_msg("exit %d: got %d, want %d", code, !(code % 2 == 1), code % 2 == 1);
}

static void test_delay(void **state) {
        static const struct {
                uint64_t delay, max;
                double factor, jitter;
                unsigned used;
                double u;
                uint64_t want;
        } table[] = {
                /* factor and cap, no jitter */
                { 1 * SEC, 300 * SEC, 2, 0, 1, 0.5, 1 * SEC },
                { 1 * SEC, 300 * SEC, 2, 0, 2, 0.5, 2 * SEC },
                { 1 * SEC, 300 * SEC, 2, 0, 3, 0.5, 4 * SEC },
                { 1 * SEC, 300 * SEC, 2, 0, 9, 0.5, 256 * SEC },
                { 1 * SEC, 300 * SEC, 2, 0, 10, 0.5, 300 * SEC }, /* 512 s capped */
                { 1 * SEC, 300 * SEC, 2, 0, 100, 0.5, 300 * SEC },
                { 1 * SEC, 300 * SEC, 2, 0, UINT32_MAX, 0.5, 300 * SEC },
                { 1 * SEC, 300 * SEC, 2, 0, 0, 0.5, 1 * SEC }, /* used 0 treated as 1 */
                { 2 * SEC, 300 * SEC, 1, 0, 50, 0.5, 2 * SEC },
                { 2 * SEC, UINT64_MAX, 1, 0, UINT32_MAX, 0.5, 2 * SEC },
                { 2 * SEC, 300 * SEC, 1.5, 0, 3, 0.5, 4500000 },
                { 1000, UINT64_MAX, 10, 0, 4, 0.5, 1000000 },
                { 10 * SEC, 5 * SEC, 2, 0, 1, 0.5, 5 * SEC }, /* cap below the first delay */
                { 0, 300 * SEC, 2, 0.5, 100, 0.9, 0 },
                { 0, 300 * SEC, 2, 0, UINT32_MAX, 0.5, 0 },
                /* jitter: ±fraction applied after the cap */
                { 10 * SEC, 300 * SEC, 2, 0.1, 1, 0.0, 9 * SEC },
                { 10 * SEC, 300 * SEC, 2, 0.1, 1, 0.5, 10 * SEC },
                { 10 * SEC, 300 * SEC, 2, 0.1, 10, 0.0, 270 * SEC },
                { 10 * SEC, 300 * SEC, 2, 1.0, 1, 0.0, 0 },
                { 10 * SEC, 300 * SEC, 2, 1.0, 1, 0.75, 15 * SEC },
                /* u outside [0, 1) is clamped */
                { 10 * SEC, 300 * SEC, 2, 0.1, 1, -5.0, 9 * SEC },
                { 10 * SEC, 300 * SEC, 2, 0.1, 1, NAN, 9 * SEC },
                /* saturation */
                { UINT64_MAX, UINT64_MAX, 10, 0, 100, 0.5, UINT64_MAX },
                { UINT64_MAX, UINT64_MAX, 10, 1.0, 100, U_MAX, UINT64_MAX },
                { UINT64_MAX / 2, UINT64_MAX, 10, 0, 3, 0.5, UINT64_MAX },
                { UINT64_MAX, UINT64_MAX, 10, 1.0, 1, 0.0, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                RetryPolicy p;
                uint64_t got;

                retry_policy_init(&p);
                p.delay_usec = table[i].delay;
                p.max_delay_usec = table[i].max;
                p.factor = table[i].factor;
                p.jitter = table[i].jitter;

                got = retry_delay_usec(&p, table[i].used, table[i].u);
                if (got != table[i].want)
                        fail_msg("case #%zu (used %u, u %g): got %" PRIu64 ", want %" PRIu64, i,
                                 table[i].used, table[i].u, got, table[i].want);
        }
}

/* u → 1 and u ≥ 1 stay just below the upper bound; the bound itself is never exceeded. */
static void test_jitter_upper_edge(void **state) {
        RetryPolicy p;
        uint64_t hi = 11 * SEC;

        retry_policy_init(&p);
        p.delay_usec = 10 * SEC;
        p.jitter = 0.1;

        assert_true(retry_delay_usec(&p, 1, U_MAX) <= hi);
        assert_true(retry_delay_usec(&p, 1, U_MAX) >= hi - 1);
        assert_true(retry_delay_usec(&p, 1, 1.0) <= hi);
        assert_true(retry_delay_usec(&p, 1, 1.0) >= hi - 1);
        assert_true(retry_delay_usec(&p, 1, 7.0) <= hi);
        assert_true(retry_delay_usec(&p, 1, INFINITY) <= hi);
}

/* Many samples: every delay within [d·(1-j), d·(1+j)], and both halves of the range are reached. */
static void test_jitter_bounds(void **state) {
        static const double jitters[] = { 0.0, 0.1, 0.5, 1.0 };
        unsigned seed = 12345;

        for (size_t j = 0; j < ELEMENTSOF(jitters); j++)
                for (unsigned used = 1; used <= 12; used++) {
                        RetryPolicy p;
                        double base, lo, hi;
                        bool below = false, above = false;

                        retry_policy_init(&p);
                        p.jitter = jitters[j];
                        base = MIN((double) SEC * (double) (1u << (used - 1)), 300.0 * SEC);
                        lo = base * (1.0 - p.jitter);
                        hi = base * (1.0 + p.jitter);

                        for (int k = 0; k < 2000; k++) {
                                double u = (double) rand_r(&seed) / ((double) RAND_MAX + 1.0);
                                uint64_t got = retry_delay_usec(&p, used, u);

                                if ((double) got < lo - 1 || (double) got > hi)
                                        fail_msg("jitter %g used %u u %g: got %" PRIu64
                                                 ", want [%.0f, %.0f]",
                                                 p.jitter, used, u, got, lo, hi);
                                below = below || (double) got < base;
                                above = above || (double) got > base;
                        }
                        if (p.jitter > 0 && (!below || !above))
                                fail_msg("jitter %g used %u: samples not spread (below %d, above %d)",
                                         p.jitter, used, below, above);
                }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_should_retry),
                cmocka_unit_test(test_should_retry_unless),
                cmocka_unit_test(test_should_retry_oom),
                cmocka_unit_test(test_add_exit_bitmap),
                cmocka_unit_test(test_delay),
                cmocka_unit_test(test_jitter_upper_edge),
                cmocka_unit_test(test_jitter_bounds),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
