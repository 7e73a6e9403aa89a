/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for durations: the string grammar (accepted and rejected forms), seconds as numbers, range
 * errors, and format → parse round trips. */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "duration.h"
#include "macro.h"

#define MS USEC_PER_MSEC
#define S USEC_PER_SEC
#define M (60 * S)
#define H (60 * M)
#define D (24 * H)

static void test_parse(void **state) {
        static const struct {
                const char *in;
                int want_r;
                uint64_t want;
        } cases[] = {
                { "0", 0, 0 },
                { "30", 0, 30 * S },
                { "0.5", 0, 500 * MS },
                { "1.000001", 0, S + 1 },
                { "1.0000009", 0, S }, /* below 1 µs is truncated */
                { "250ms", 0, 250 * MS },
                { "1.5ms", 0, 1500 },
                { "1s", 0, S },
                { "1.5s", 0, 1500 * MS },
                { "1m30s", 0, 90 * S },
                { "2h", 0, 2 * H },
                { "1d", 0, D },
                { "1d2h3m4s5ms", 0, D + 2 * H + 3 * M + 4 * S + 5 * MS },
                { "0.5h", 0, 30 * M },
                { "90m", 0, 90 * M },
                { "0s", 0, 0 },
                { "007s", 0, 7 * S },
                { "", -EINVAL, 0 },
                { "1x", -EINVAL, 0 },
                { "-1s", -EINVAL, 0 },
                { "+1s", -EINVAL, 0 },
                { "1m 30s", -EINVAL, 0 },
                { " 1s", -EINVAL, 0 },
                { "1s ", -EINVAL, 0 },
                { "s", -EINVAL, 0 },
                { "1", 0, S },
                { "1m30", -EINVAL, 0 },
                { "30s1m", -EINVAL, 0 }, /* ascending units */
                { "1m1m", -EINVAL, 0 },  /* repeated unit */
                { ".5s", -EINVAL, 0 },
                { "5.s", -EINVAL, 0 },
                { "1.2.3s", -EINVAL, 0 },
                { "1us", -EINVAL, 0 },
                { "1S", -EINVAL, 0 },
                { "1e3s", -EINVAL, 0 },
                { "inf", -EINVAL, 0 },
                { "213503982d", 0, UINT64_C(213503982) * D },
                { "213503983d", -ERANGE, 0 },
                { "99999999999999999999999s", -ERANGE, 0 },
                { "213503982d8h1m49s", 0, UINT64_C(18446744073709) * S },
                { "213503982d8h2m", -ERANGE, 0 },
                { "18446744073709", 0, UINT64_C(18446744073709) * S },
                { "18446744073710", -ERANGE, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t got = UINT64_C(0xdeadbeef);
                int r = duration_parse(cases[i].in, &got);

                if (r != cases[i].want_r || (r == 0 && got != cases[i].want)) {
                        print_error("\"%s\": got r=%d %" PRIu64 ", want r=%d %" PRIu64 "\n", cases[i].in, r,
                                    got, cases[i].want_r, cases[i].want);
                        fail();
                }
                if (r < 0 && got != UINT64_C(0xdeadbeef)) {
                        print_error("\"%s\": output written on failure\n", cases[i].in);
                        fail();
                }
        }
}

static void test_from_seconds(void **state) {
        static const struct {
                double in;
                int want_r;
                uint64_t want;
        } cases[] = {
                { 0, 0, 0 },
                { 30, 0, 30 * S },
                { 0.5, 0, 500 * MS },
                { 0.1, 0, 100 * MS },
                { 1e-7, 0, 0 },
                { 1.0000005, 0, S + 1 }, /* rounds to nearest µs */
                { 1e13, 0, UINT64_C(10000000000000) * S },
                { -1, -ERANGE, 0 },
                { 1e14, -ERANGE, 0 },
                { INFINITY, -ERANGE, 0 },
                { NAN, -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t got = 0;
                int r = duration_from_seconds(cases[i].in, &got);

                if (r != cases[i].want_r || (r == 0 && got != cases[i].want)) {
                        print_error("%g: got r=%d %" PRIu64 ", want r=%d %" PRIu64 "\n", cases[i].in, r, got,
                                    cases[i].want_r, cases[i].want);
                        fail();
                }
        }
}

static void test_format(void **state) {
        static const struct {
                uint64_t in;
                const char *want;
        } cases[] = {
                { 0, "0" },
                { 250 * MS, "250ms" },
                { 90 * S, "1m30s" },
                { 2 * H, "2h" },
                { D + 2 * H + 3 * M + 4 * S + 5 * MS, "1d2h3m4s5ms" },
                { 1500 * MS, "1s500ms" },
                { 1, "0.000001s" },
                { S + 500, "1.0005s" },
                { 90 * S + 1500, "1m30.0015s" },
                { UINT64_MAX - 1, "213503982d8h1m49.551614s" } /* fits DURATION_STRING_MAX */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char buf[DURATION_STRING_MAX];
                uint64_t back;

                duration_format(cases[i].in, buf, sizeof buf);
                if (!streq(buf, cases[i].want)) {
                        print_error("%" PRIu64 ": got %s, want %s\n", cases[i].in, buf, cases[i].want);
                        fail();
                }
                /* Whatever we print must parse back to the same value. */
                assert_int_equal(duration_parse(buf, &back), 0);
                assert_true(back == cases[i].in);
        }
}

static void test_format_small_buffer(void **state) {
        char buf[4];

        duration_format(D + 2 * H + 3 * M, buf, sizeof buf);
        assert_int_equal(strlen(buf), 3); /* truncated, but terminated */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_from_seconds),
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_format_small_buffer),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
