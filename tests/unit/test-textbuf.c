/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for textbuf.c: appends land in order with room for a NUL, growth keeps what was written, and a
 * request that cannot be met makes every later append a no-op (the encoders check oom once, at the end).
 * The request used is one whose size would overflow: refused before any allocation, so the test is the
 * same under ASan (which aborts on absurd allocations instead of returning NULL).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "textbuf.h"

static void test_appends(void **state) {
        TextBuf b = {};
        char want[64 * 1024];
        size_t n = 0;

        /* Many small pieces across several doublings. */
        for (unsigned i = 0; n + 16 < sizeof(want); i++) {
                char piece[16];
                int k = snprintf(piece, sizeof(piece), "%u,", i);

                textbuf_put(&b, piece, (size_t) k);
                memcpy(want + n, piece, (size_t) k);
                n += (size_t) k;
                assert_true(b.len + 1 <= b.size); /* always room for the NUL */
        }
        textbuf_puts(&b, "end");
        memcpy(want + n, "end", 3);
        n += 3;
        assert_false(b.oom);
        assert_int_equal(b.len, n);
        assert_memory_equal(b.data, want, n);
        free(b.data);
}

static void test_empty_put(void **state) {
        TextBuf b = {};

        textbuf_put(&b, "", 0);
        assert_non_null(b.data); /* room for the NUL even with nothing in it */
        assert_int_equal(b.len, 0);
        assert_true(b.size >= 1);
        free(b.data);
}

static void test_oom_sticks(void **state) {
        TextBuf b = {};

        textbuf_puts(&b, "kept");
        assert_false(textbuf_reserve(&b, SIZE_MAX - 2)); /* len + n + 1 would wrap around */
        assert_true(b.oom);
        textbuf_puts(&b, "lost");
        assert_int_equal(b.len, 4); /* nothing appended after the failure, what was there is intact */
        assert_memory_equal(b.data, "kept", 4);
        assert_false(textbuf_reserve(&b, 1));
        free(b.data);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_appends),
                cmocka_unit_test(test_empty_put),
                cmocka_unit_test(test_oom_sticks),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
