/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for linesplit.c. Table-driven: each input is fed whole, byte by byte and split at every
 * position into two chunks, and must give the same pieces every time; a piece is rendered as its bytes
 * (NUL shown as "\0") followed by "|N", "|M" or "|E" for its line break.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "linesplit.h"
#include "macro.h"

typedef struct Out {
        char text[512];
        size_t len;
        size_t longest;
} Out;

static void out_add(Out *o, const char *s, size_t n) {
        assert_true(o->len + n < sizeof(o->text));
        memcpy(o->text + o->len, s, n);
        o->len += n;
        o->text[o->len] = '\0';
}

static void collect(const char *line, size_t n, LineBreak brk, void *userdata) {
        static const char *const marks[_LINE_BREAK_MAX] = { "|N ", "|M ", "|E " };
        Out *o = userdata;

        for (size_t i = 0; i < n; i++)
                if (line[i] == '\0')
                        out_add(o, "\\0", 2);
                else
                        out_add(o, &line[i], 1);
        out_add(o, marks[brk], 3);
        o->longest = MAX(o->longest, n);
}

/* Feed input as the chunks that start at the given offsets (ascending, first 0), then finish. */
static void run_split(size_t max, const char *in, size_t n, const size_t *cuts, size_t n_cuts, Out *o) {
        LineSplit s = { .max = max };

        *o = (Out){};
        for (size_t c = 0; c < n_cuts; c++) {
                size_t from = cuts[c], to = c + 1 < n_cuts ? cuts[c + 1] : n;

                assert_int_equal(linesplit_feed(&s, in + from, to - from, collect, o), 0);
                assert_true(s.len <= max);
        }
        linesplit_finish(&s, collect, o);
        assert_null(s.buf);
        assert_true(o->longest <= max);
}

static void check_all_splits(size_t max, const char *in, size_t n, const char *want) {
        size_t cuts[256];
        Out o;

        cuts[0] = 0;
        run_split(max, in, n, cuts, 1, &o);
        if (!streq(o.text, want))
                fail_msg("max %zu, whole: got '%s', want '%s'", max, o.text, want);

        for (size_t i = 0; i < n; i++)
                cuts[i] = i;
        run_split(max, in, n, cuts, n, &o);
        if (!streq(o.text, want))
                fail_msg("max %zu, byte by byte: got '%s', want '%s'", max, o.text, want);

        for (size_t at = 1; at < n; at++) {
                cuts[1] = at;
                run_split(max, in, n, cuts, 2, &o);
                if (!streq(o.text, want))
                        fail_msg("max %zu, split at %zu: got '%s', want '%s'", max, at, o.text, want);
        }
}

#define S(lit) lit, sizeof(lit) - 1

static void test_table(void **state) {
        static const struct {
                size_t max;
                const char *in;
                size_t n;
                const char *want;
        } table[] = {
                { 8, S(""), "" },
                { 8, S("\n"), "|N " },
                { 8, S("\n\n"), "|N |N " },
                { 8, S("a\nbc\n"), "a|N bc|N " },
                { 8, S("a\nbc"), "a|N bc|E " }, /* last line without newline */
                { 8, S("abc"), "abc|E " },
                { 4, S("abcd\n"), "abcd|N " }, /* exactly max: one whole line */
                { 4, S("abcd"), "abcd|E " },
                { 4, S("abcde\n"), "abcd|M e|N " },       /* one past max */
                { 4, S("abcdefgh\n"), "abcd|M efgh|N " }, /* twice max: no empty piece */
                { 4, S("abcdefghi"), "abcd|M efgh|M i|E " },
                { 4, S("abcdefgh"), "abcd|M efgh|E " },
                { 4, S("ab\nabcdefghij\nx"), "ab|N abcd|M efgh|M ij|N x|E " },
                { 4, S("a\0b\n"), "a\\0b|N " }, /* NUL is data */
                { 4, S("\0\0\0\0\0\n"), "\\0\\0\\0\\0|M \\0|N " },
                { 8, S("\xff\xfe\xc3(\n"), "\xff\xfe\xc3(|N " }, /* invalid UTF-8 passes unchanged */
                { 1, S("ab\n\nc"), "a|M b|N |N c|E " },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                check_all_splits(table[i].max, table[i].in, table[i].n, table[i].want);
}

static void count(const char *line, size_t n, LineBreak brk, void *userdata) {
        (*(size_t *) userdata)++;
}

static void test_long_stream_stays_bounded(void **state) {
        LineSplit s = { .max = 1000 };
        char chunk[4096];
        size_t pieces = 0;

        memset(chunk, 'x', sizeof(chunk));
        /* 1 MiB without a newline: pieces of exactly max, never more held than max. */
        for (int i = 0; i < 256; i++) {
                assert_int_equal(linesplit_feed(&s, chunk, sizeof(chunk), count, &pieces), 0);
                assert_true(s.len <= s.max && s.cap <= s.max);
        }
        assert_int_equal(pieces, 256 * 4096 / 1000);
        linesplit_finish(&s, count, &pieces);
        assert_int_equal(pieces, 256 * 4096 / 1000 + 1);
        assert_null(s.buf);
}

static void test_reset(void **state) {
        LineSplit s = { .max = 64 };
        size_t n = 0;

        assert_int_equal(linesplit_feed(&s, S("half a line"), count, &n), 0);
        assert_int_equal(n, 0);
        assert_non_null(s.buf);
        linesplit_reset(&s);
        assert_null(s.buf);
        linesplit_finish(&s, count, &n);
        assert_int_equal(n, 0); /* the forgotten line is not passed on */
}

static void test_line_break_names(void **state) {
        assert_string_equal(line_break_to_string(LINE_BREAK_NEWLINE), "newline");
        assert_string_equal(line_break_to_string(LINE_BREAK_MAX), "line-max");
        assert_string_equal(line_break_to_string(LINE_BREAK_EOF), "eof");
        assert_null(line_break_to_string(_LINE_BREAK_MAX));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_long_stream_stays_bounded),
                cmocka_unit_test(test_reset),
                cmocka_unit_test(test_line_break_names),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
