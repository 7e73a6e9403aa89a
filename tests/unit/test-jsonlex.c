/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the JSON lexer under jsonparse.c and jsonscan.c: strings (every escape, surrogate pairs and
 * each way they go wrong, control bytes, UTF-8 checked or not, in place or copied), integers at the uint64
 * limit, fractions and exponents, literals cut short or misspelled, each fault with both of its offsets;
 * and that the tree parser and the scanner accept exactly the strings the lexer accepts for them. Each
 * input is copied into a heap buffer of exactly its size (no NUL), so ASan catches any read past the end. */

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jsonlex.h"
#include "jsonparse.h"
#include "jsonscan.h"
#include "macro.h"

#define OK (-1) /* want_fault for a token that lexes */

/* A lexer over a heap copy of text[0…len) with nothing after it; len 0 means strlen(text). */
static JsonLex lex_of(const char *text, size_t len) {
        char *p;

        if (len == 0)
                len = strlen(text);
        p = malloc(len ?: 1);
        assert_non_null(p);
        memcpy(p, text, len);
        return (JsonLex){ .buf = p, .size = len };
}

static void lex_free(JsonLex *lx) {
        free((char *) lx->buf);
        json_lex_done(lx);
}

static void check_fault(const char *in, const JsonLex *lx, int r, int want_fault, size_t start, size_t at) {
        if (want_fault == OK) {
                if (r < 0)
                        fail_msg("%s: got %d (fault %d at %zu), want success", in, r, lx->error.fault,
                                 lx->error.at);
                return;
        }
        if (r != -EBADMSG)
                fail_msg("%s: got %d, want -EBADMSG", in, r);
        if ((int) lx->error.fault != want_fault || lx->error.start != start || lx->error.at != at)
                fail_msg("%s: got fault %d start %zu at %zu, want %d start %zu at %zu", in, lx->error.fault,
                         lx->error.start, lx->error.at, want_fault, start, at);
}

/* ---- strings --------------------------------------------------------------------------------------------
 */

static const struct StringCase {
        const char *in;
        unsigned flags;
        int want_fault;
        const char *want; /* decoded (OK) */
        size_t want_len;  /* 0: strlen(want) */
        size_t start, at; /* the fault's offsets */
        uint32_t cp;
} string_cases[] = {
        { "\"\"", 0, OK, "", 0, 0, 0, 0 },
        { "\"plain\"", 0, OK, "plain", 0, 0, 0, 0 },
        { "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", 0, OK, "\"\\/\b\f\n\r\t", 0, 0, 0, 0 },
        { "\"a\\u0041\\u00e9\\u20AC\"", 0, OK, "aA\xC3\xA9\xE2\x82\xAC", 0, 0, 0, 0 },
        { "\"\\ud83d\\ude00\"", 0, OK, "\xF0\x9F\x98\x80", 0, 0, 0, 0 },
        { "\"\\udbff\\udfff\"", 0, OK, "\xF4\x8F\xBF\xBF", 0, 0, 0, 0 },
        { "\"a\\u0000b\"", 0, OK, "a\0b", 3, 0, 0, 0 },
        { "\"\xC3\xA9\x7F\"", JSON_LEX_CHECK_UTF8, OK, "\xC3\xA9\x7F", 0, 0, 0, 0 },
        { "\"\xFF\xC0\x80\"", 0, OK, "\xFF\xC0\x80", 0, 0, 0, 0 }, /* not checked: kept as is */
        { "\"\xFF\"", JSON_LEX_CHECK_UTF8, JSON_LEX_BAD_UTF8, NULL, 0, 0, 1, 0 },
        { "\"ab\xED\xA0\x80\"", JSON_LEX_CHECK_UTF8, JSON_LEX_BAD_UTF8, NULL, 0, 0, 3, 0 },
        { "\"\xE2\x82\"", JSON_LEX_CHECK_UTF8, JSON_LEX_BAD_UTF8, NULL, 0, 0, 1, 0 },
        { "\"abc", 0, JSON_LEX_UNTERMINATED, NULL, 0, 0, 4, 0 },
        { "\"", 0, JSON_LEX_UNTERMINATED, NULL, 0, 0, 1, 0 },
        { "\"ab\\", 0, JSON_LEX_EOF_ESCAPE, NULL, 0, 3, 4, 0 },
        { "\"a\tb\"", 0, JSON_LEX_CONTROL, NULL, 0, 0, 2, 0 },
        { "\"a\nb\"", JSON_LEX_CHECK_UTF8, JSON_LEX_CONTROL, NULL, 0, 0, 2, 0 },
        { "\"x\\x\"", 0, JSON_LEX_BAD_ESCAPE, NULL, 0, 2, 3, 0 },
        { "\"\\", 0, JSON_LEX_EOF_ESCAPE, NULL, 0, 1, 2, 0 },
        { "\"\\u12G4\"", 0, JSON_LEX_BAD_HEX, NULL, 0, 1, 5, 0 },
        { "\"\\u12", 0, JSON_LEX_BAD_HEX, NULL, 0, 1, 5, 0 },
        { "\"\\udc00\"", 0, JSON_LEX_LONE_LOW, NULL, 0, 1, 7, 0xDC00 },
        { "\"\\ud800\"", 0, JSON_LEX_LONE_HIGH, NULL, 0, 1, 7, 0xD800 },
        { "\"\\ud800", 0, JSON_LEX_LONE_HIGH, NULL, 0, 1, 7, 0xD800 },
        { "\"\\ud800\\n\"", 0, JSON_LEX_LONE_HIGH, NULL, 0, 1, 7, 0xD800 },
        { "\"\\ud800\\u0041\"", 0, JSON_LEX_LONE_HIGH, NULL, 0, 1, 13, 0xD800 },
        { "\"\\ud800\\ud800\"", 0, JSON_LEX_LONE_HIGH, NULL, 0, 1, 13, 0xD800 },
        { "\"\\ud800\\u00Z0\"", 0, JSON_LEX_LONE_HIGH_BAD_HEX, NULL, 0, 1, 11, 0xD800 },
        { "\"\\udbff\\u", 0, JSON_LEX_LONE_HIGH_BAD_HEX, NULL, 0, 1, 9, 0xDBFF },
};

static void test_string(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(string_cases); i++) {
                const struct StringCase *c = &string_cases[i];
                JsonLex lx = lex_of(c->in, 0);
                const char *got = NULL;
                size_t got_len = 0, want_len;
                int r;

                r = json_lex_string(&lx, c->flags, &got, &got_len);
                check_fault(c->in, &lx, r, c->want_fault, c->start, c->at);
                if (c->want_fault == OK) {
                        want_len = c->want_len ?: strlen(c->want);
                        if (got_len != want_len || memcmp(got, c->want, want_len) != 0)
                                fail_msg("%s: got \"%.*s\"", c->in, (int) got_len, got);
                        assert_int_equal(lx.pos, lx.size); /* after the closing quote */
                } else if (c->want_fault == JSON_LEX_LONE_LOW || c->want_fault == JSON_LEX_LONE_HIGH ||
                           c->want_fault == JSON_LEX_LONE_HIGH_BAD_HEX)
                        assert_int_equal(lx.error.cp, c->cp);
                lex_free(&lx);
        }
}

/* Without escapes the string is returned in place, unless a copy is asked for; with one, in scratch. */
static void test_string_in_place(void **state) {
        JsonLex lx = lex_of("\"abc\" \"a\\nb\"", 0);
        const char *got;
        size_t len;

        assert_int_equal(json_lex_string(&lx, 0, &got, &len), 0);
        assert_ptr_equal(got, lx.buf + 1);
        assert_int_equal(len, 3);
        assert_null(lx.scratch);

        lx.pos = 0;
        assert_int_equal(json_lex_string(&lx, JSON_LEX_COPY, &got, &len), 0);
        assert_ptr_equal(got, lx.scratch);
        assert_string_equal(got, "abc");

        assert_int_equal(json_lex_skip_ws(&lx), '"');
        assert_int_equal(json_lex_string(&lx, 0, &got, &len), 0);
        assert_ptr_equal(got, lx.scratch);
        assert_string_equal(got, "a\nb");
        assert_int_equal(json_lex_skip_ws(&lx), -1);
        lex_free(&lx);
        assert_null(lx.scratch);
        assert_int_equal(lx.scratch_size, 0);
}

/* ---- numbers --------------------------------------------------------------------------------------------
 */

static void test_integer(void **state) {
        static const struct {
                const char *in;
                int want_fault;
                bool negative, overflow;
                uint64_t magnitude;
                size_t end_or_start, at; /* OK: where the cursor stops; else the fault's offsets */
        } cases[] = {
                { "0", OK, false, false, 0, 1, 0 },
                { "-0", OK, true, false, 0, 2, 0 },
                { "42,", OK, false, false, 42, 2, 0 },
                { "18446744073709551615", OK, false, false, UINT64_MAX, 20, 0 },
                { "18446744073709551616", OK, false, true, 0, 20, 0 },
                { "-9223372036854775808", OK, true, false, UINT64_C(9223372036854775808), 20, 0 },
                { "99999999999999999999999}", OK, false, true, 0, 23, 0 },
                { "1.5", OK, false, false, 1, 1, 0 },
                { "0e3", OK, false, false, 0, 1, 0 },
                { "-", JSON_LEX_NO_DIGIT, false, false, 0, 0, 1 },
                { "-x", JSON_LEX_NO_DIGIT, false, false, 0, 0, 1 },
                { "x", JSON_LEX_NO_DIGIT, false, false, 0, 0, 0 },
                { "01", JSON_LEX_LEADING_ZERO, false, false, 0, 0, 0 },
                { "-007", JSON_LEX_LEADING_ZERO, false, false, 0, 0, 1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                JsonLex lx = lex_of(cases[i].in, 0);
                JsonLexInteger v = {};
                int r = json_lex_integer(&lx, &v);

                check_fault(cases[i].in, &lx, r, cases[i].want_fault, cases[i].end_or_start, cases[i].at);
                if (cases[i].want_fault == OK) {
                        assert_int_equal(lx.pos, cases[i].end_or_start);
                        assert_int_equal(v.negative, cases[i].negative);
                        assert_int_equal(v.overflow, cases[i].overflow);
                        if (!v.overflow)
                                assert_int_equal(v.magnitude, cases[i].magnitude);
                }
                lex_free(&lx);
        }
}

static void test_fraction(void **state) {
        static const struct {
                const char *in; /* the cursor starts after the integer part "1" */
                int want;       /* 1, 0, or a fault */
                size_t end_or_at;
        } cases[] = {
                { "1", 0, 1 },
                { "1,", 0, 1 },
                { "1.25", 1, 4 },
                { "1e9", 1, 3 },
                { "1E+09]", 1, 5 },
                { "1.5e-3", 1, 6 },
                { "1.", JSON_LEX_NO_FRACTION_DIGIT, 2 },
                { "1.e3", JSON_LEX_NO_FRACTION_DIGIT, 2 },
                { "1e", JSON_LEX_NO_EXPONENT_DIGIT, 2 },
                { "1e+", JSON_LEX_NO_EXPONENT_DIGIT, 3 },
                { "1.5E-x", JSON_LEX_NO_EXPONENT_DIGIT, 5 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                JsonLex lx = lex_of(cases[i].in, 0);
                int r;

                lx.pos = 1;
                r = json_lex_fraction(&lx);
                if (cases[i].want == 0 || cases[i].want == 1) {
                        assert_int_equal(r, cases[i].want);
                        assert_int_equal(lx.pos, cases[i].end_or_at);
                } else
                        check_fault(cases[i].in, &lx, r, cases[i].want, 1, cases[i].end_or_at);
                lex_free(&lx);
        }
}

/* ---- literals -------------------------------------------------------------------------------------------
 */

static void test_literal(void **state) {
        static const struct {
                const char *in, *word;
                int want; /* 1, 0, or a fault */
                size_t at;
        } cases[] = {
                { "true", "true", 1, 4 },
                { "null]", "null", 1, 4 },
                { "false", "true", 0, 0 },
                { "", "null", 0, 0 },
                { "tru", "true", JSON_LEX_TRUNCATED_LITERAL, 3 },
                { "nul", "null", JSON_LEX_TRUNCATED_LITERAL, 3 },
                { "trve", "true", JSON_LEX_BAD_LITERAL, 0 },
                { "fa", "false", JSON_LEX_TRUNCATED_LITERAL, 2 },
                { "fx", "false", JSON_LEX_BAD_LITERAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                JsonLex lx = lex_of(cases[i].in, strlen(cases[i].in));
                int r = json_lex_literal(&lx, cases[i].word);

                if (cases[i].want == 0 || cases[i].want == 1) {
                        assert_int_equal(r, cases[i].want);
                        assert_int_equal(lx.pos, cases[i].at);
                } else
                        check_fault(cases[i].in, &lx, r, cases[i].want, 0, cases[i].at);
                lex_free(&lx);
        }
}

/* ---- the two readers agree with the lexer ---------------------------------------------------------------
 */

/* Every string case as a document: the parser accepts it exactly when the lexer does with UTF-8 checked,
 * the scanner exactly when it does without. */
static void test_readers_agree(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(string_cases); i++) {
                const char *in = string_cases[i].in;
                JsonLex lx = lex_of(in, 0);
                json_object *o = NULL;
                JsonParseError pe = {};
                JsonScan s = {};
                const char *got, *lexed;
                size_t got_len, lexed_len;
                int want_parse, want_scan, r;

                want_parse = json_lex_string(&lx, JSON_LEX_CHECK_UTF8, &lexed, &lexed_len) >= 0;
                lx.pos = 0;
                want_scan = json_lex_string(&lx, 0, &lexed, &lexed_len) >= 0;

                r = json_parse_strict(lx.buf, lx.size, NULL, &o, &pe);
                if ((r >= 0) != want_parse)
                        fail_msg("%s: parser got %d, lexer %d", in, r, want_parse);
                if (r >= 0)
                        assert_memory_equal(json_object_get_string(o), lexed, lexed_len);
                json_object_put(o);
                json_parse_error_done(&pe);

                json_scan_start(&s, lx.buf, lx.size);
                r = json_scan_string(&s, &got, &got_len);
                if ((r >= 0) != want_scan)
                        fail_msg("%s: scanner got %d, lexer %d", in, r, want_scan);
                if (r >= 0) {
                        assert_int_equal(got_len, lexed_len);
                        assert_memory_equal(got, lexed, lexed_len);
                }
                json_scan_done(&s);
                lex_free(&lx);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_string),  cmocka_unit_test(test_string_in_place),
                cmocka_unit_test(test_integer), cmocka_unit_test(test_fraction),
                cmocka_unit_test(test_literal), cmocka_unit_test(test_readers_agree),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
