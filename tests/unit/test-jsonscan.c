/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the tree-less JSON scanner: value kinds, literals, strings with every escape and every
 * surrogate error, integers at and past their limits, objects nested by the caller, every truncation of a
 * document, trailing data, and reuse of the scratch buffer. Each input is copied into a heap buffer of
 * exactly its size (no NUL), so ASan and valgrind catch any read past the end. */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jsonscan.h"
#include "macro.h"

#define NO_ERROR ((const char *) NULL)

/* A copy of text[0…len) with nothing after it; len 0 means strlen(text). */
static char *exact_copy(const char *text, size_t *len) {
        char *p;

        if (*len == 0)
                *len = strlen(text);
        p = malloc(*len ?: 1);
        assert_non_null(p);
        memcpy(p, text, *len);
        return p;
}

/* Compare the recorded error with want (NO_ERROR: none), and its offset. */
static void check_error(const char *input, const JsonScan *s, const char *want, size_t want_offset) {
        if (!want) {
                if (s->error)
                        fail_msg("%s: error got \"%s\", want none", input, s->error);
                return;
        }
        if (!s->error || !streq(s->error, want))
                fail_msg("%s: error got \"%s\", want \"%s\"", input, s->error ?: "(none)", want);
        if (s->error_offset != want_offset)
                fail_msg("%s: error offset got %zu, want %zu", input, s->error_offset, want_offset);
        if (json_scan_truncated(s) != (*want == '\0'))
                fail_msg("%s: truncated got %d, want %d", input, json_scan_truncated(s), *want == '\0');
}

/* ---- kinds ------------------------------------------------------------------------------------------ */

static void test_next_kind(void **state) {
        static const struct {
                const char *input;
                JsonScanKind want;
                size_t want_offset; /* whitespace skipped, nothing else consumed */
        } cases[] = {
                { "-1", JSON_SCAN_NUMBER, 0 },    { "7", JSON_SCAN_NUMBER, 0 },
                { "\"x\"", JSON_SCAN_STRING, 0 }, { " \t\r\n{}", JSON_SCAN_OBJECT, 4 },
                { "[1]", JSON_SCAN_ARRAY, 0 },    { "true", JSON_SCAN_BOOLEAN, 0 },
                { "f", JSON_SCAN_BOOLEAN, 0 },    { "null", JSON_SCAN_NULL, 0 },
                { "", JSON_SCAN_NONE, 0 },        { "   ", JSON_SCAN_NONE, 3 },
                { "+1", JSON_SCAN_NONE, 0 },      { ".5", JSON_SCAN_NONE, 0 },
                { "}", JSON_SCAN_NONE, 0 },       { "\v1", JSON_SCAN_NONE, 0 }, /* \v is not JSON space */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t len = 0;
                _cleanup_free_ char *text = exact_copy(cases[i].input, &len);
                JsonScan s = {};
                JsonScanKind k;

                json_scan_start(&s, text, len);
                k = json_scan_next_kind(&s);
                if (k != cases[i].want)
                        fail_msg("case %zu: kind got %d, want %d", i, k, cases[i].want);
                if (json_scan_offset(&s) != cases[i].want_offset)
                        fail_msg("case %zu: offset got %zu, want %zu", i, json_scan_offset(&s),
                                 cases[i].want_offset);
                json_scan_done(&s);
        }
}

static void test_literal(void **state) {
        static const struct {
                const char *input, *word;
                int want_r;
                size_t want_offset;
                const char *want_error;
        } cases[] = {
                { "null", "null", 1, 4, NO_ERROR },
                { " true,", "true", 1, 5, NO_ERROR },
                { "false}", "false", 1, 5, NO_ERROR },
                { "false", "true", 0, 0, NO_ERROR },
                { "  1", "null", 0, 2, NO_ERROR },
                { "True", "true", 0, 0, NO_ERROR },
                { "", "null", 0, 0, NO_ERROR },
                { "nul", "null", -EBADMSG, 3, "" }, /* cut off: truncation */
                { "n", "null", -EBADMSG, 1, "" },
                { "fals", "false", -EBADMSG, 4, "" },
                { "nil", "null", -EBADMSG, 0, "invalid literal" },
                { "nulL", "null", -EBADMSG, 0, "invalid literal" },
                { "trUe", "true", -EBADMSG, 0, "invalid literal" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t len = 0;
                _cleanup_free_ char *text = exact_copy(cases[i].input, &len);
                JsonScan s = {};
                int r;

                json_scan_start(&s, text, len);
                r = json_scan_literal(&s, cases[i].word);
                if (r != cases[i].want_r)
                        fail_msg("%s: r got %d, want %d", cases[i].input, r, cases[i].want_r);
                check_error(cases[i].input, &s, cases[i].want_error, cases[i].want_offset);
                if (r >= 0 && json_scan_offset(&s) != cases[i].want_offset)
                        fail_msg("%s: offset got %zu, want %zu", cases[i].input, json_scan_offset(&s),
                                 cases[i].want_offset);
                json_scan_done(&s);
        }
}

/* ---- strings ---------------------------------------------------------------------------------------- */

typedef struct StringCase {
        const char *input;
        int want_r;
        const char *want; /* decoded, compared over want_len bytes */
        size_t want_len;
        size_t want_offset; /* cursor after the string, or the error offset */
        const char *want_error;
} StringCase;

static const StringCase string_cases[] = {
        { "\"abc\"", 0, "abc", 3, 5, NO_ERROR },
        { " \n\"\"", 0, "", 0, 4, NO_ERROR },
        { "\"a\\\"b\\\\c\\/d\"x", 0, "a\"b\\c/d", 7, 12, NO_ERROR },
        { "\"\\b\\f\\n\\r\\t\"", 0, "\b\f\n\r\t", 5, 12, NO_ERROR },
        { "\"\\u0041\\u00e9\\u20AC\"", 0, "A\xc3\xa9\xe2\x82\xac", 6, 20, NO_ERROR },
        { "\"\\u07FF\\u0800\\uFFFF\"", 0, "\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf", 8, 20, NO_ERROR },
        { "\"\\ud83d\\ude00\"", 0, "\xf0\x9f\x98\x80", 4, 14, NO_ERROR }, /* U+1F600 */
        { "\"\\uD800\\uDC00\"", 0, "\xf0\x90\x80\x80", 4, 14, NO_ERROR }, /* U+10000 */
        { "\"\\uDBFF\\uDFFF\"", 0, "\xf4\x8f\xbf\xbf", 4, 14, NO_ERROR }, /* U+10FFFF */
        { "\"a\\u0000b\"", 0, "a\0b", 3, 10, NO_ERROR },                  /* NUL kept, len says so */
        { "\"\xff\xfe\x80\"", 0, "\xff\xfe\x80", 3, 5, NO_ERROR },        /* not UTF-8: passed */
        { "\"\x7f\"", 0, "\x7f", 1, 3, NO_ERROR },                        /* DEL is no control */
        { "\"\\ude00\"", -EBADMSG, NULL, 0, 7, "lone low surrogate" },
        { "\"\\uDFFF\"", -EBADMSG, NULL, 0, 7, "lone low surrogate" },
        { "\"\\uDC00\"", -EBADMSG, NULL, 0, 7, "lone low surrogate" },
        { "\"\\uD800\\uE000\"", -EBADMSG, NULL, 0, 13, "high surrogate without low surrogate" },
        { "\"\\uD800\\uDBFF\"", -EBADMSG, NULL, 0, 13, "high surrogate without low surrogate" },
        { "\"\\uD7FF\\uE000\"", 0, "\xed\x9f\xbf\xee\x80\x80", 6, 14, NO_ERROR }, /* not surrogates */
        { "\"\\ud83d\"", -EBADMSG, NULL, 0, 7, "high surrogate without low surrogate" },
        { "\"\\ud83dx\"", -EBADMSG, NULL, 0, 7, "high surrogate without low surrogate" },
        { "\"\\ud83d\\n\"", -EBADMSG, NULL, 0, 7, "high surrogate without low surrogate" },
        { "\"\\ud83d\\u0041\"", -EBADMSG, NULL, 0, 13, "high surrogate without low surrogate" },
        { "\"\\ud83d\\ud83d\"", -EBADMSG, NULL, 0, 13, "high surrogate without low surrogate" },
        { "\"\\ud83d\\uZZZZ\"", -EBADMSG, NULL, 0, 9, "invalid \\u escape" },
        { "\"\\ud83d\\u", -EBADMSG, NULL, 0, 9, "" },
        { "\"\\ud83d", -EBADMSG, NULL, 0, 7, "" },
        { "\"\\u12G4\"", -EBADMSG, NULL, 0, 5, "invalid \\u escape" },
        { "\"\\u12\"", -EBADMSG, NULL, 0, 5, "invalid \\u escape" },
        { "\"\\u12", -EBADMSG, NULL, 0, 5, "" },
        { "\"\\x\"", -EBADMSG, NULL, 0, 2, "invalid escape" },
        { "\"\\U0041\"", -EBADMSG, NULL, 0, 2, "invalid escape" },
        { "\"\\", -EBADMSG, NULL, 0, 2, "" },
        { "\"a\tb\"", -EBADMSG, NULL, 0, 2, "control character in string" },
        { "\"a\nb\"", -EBADMSG, NULL, 0, 2, "control character in string" },
        { "\"\x1f\"", -EBADMSG, NULL, 0, 1, "control character in string" },
        { "\"abc", -EBADMSG, NULL, 0, 4, "" },
        { "", -EBADMSG, NULL, 0, 0, "" },
        { "  ", -EBADMSG, NULL, 0, 2, "" },
        { "abc", -EBADMSG, NULL, 0, 0, "expected a string" },
        { " 'a'", -EBADMSG, NULL, 0, 1, "expected a string" },
};

static void test_string(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(string_cases); i++) {
                const StringCase *c = &string_cases[i];
                size_t len = 0, got_len = 0;
                _cleanup_free_ char *text = exact_copy(c->input, &len);
                const char *got = NULL;
                JsonScan s = {};
                int r;

                json_scan_start(&s, text, len);
                r = json_scan_string(&s, &got, &got_len);
                if (r != c->want_r)
                        fail_msg("case %zu: r got %d, want %d", i, r, c->want_r);
                check_error(c->input, &s, c->want_error, c->want_offset);
                if (r == 0) {
                        if (got_len != c->want_len || memcmp(got, c->want, got_len) != 0 || got[got_len])
                                fail_msg("case %zu: got \"%.*s\" (%zu bytes), want \"%s\" (%zu bytes)", i,
                                         (int) got_len, got, got_len, c->want, c->want_len);
                        if (json_scan_offset(&s) != c->want_offset)
                                fail_msg("case %zu: offset got %zu, want %zu", i, json_scan_offset(&s),
                                         c->want_offset);
                }
                json_scan_done(&s);
        }
}

/* Long strings grow the scratch buffer; starting on a new text keeps it, json_scan_done() frees it. */
static void test_string_scratch(void **state) {
        const size_t n = 5000;
        _cleanup_free_ char *text = malloc(n + 2), *want = malloc(n);
        const char *got;
        JsonScan s = {};
        size_t got_len;
        char *before;

        assert_non_null(text);
        assert_non_null(want);
        /* Escapes throughout, so each lands at a different place relative to a buffer boundary. */
        text[0] = '"';
        for (size_t i = 0, o = 1; i < n / 6; i++, o += 6) {
                memcpy(text + o, "\\u00e9", 6);
                memcpy(want + 2 * i, "\xc3\xa9", 2);
        }
        text[n / 6 * 6 + 1] = '"';

        json_scan_start(&s, text, n / 6 * 6 + 2);
        assert_int_equal(json_scan_string(&s, &got, &got_len), 0);
        assert_int_equal(got_len, n / 6 * 2);
        assert_memory_equal(got, want, got_len);
        assert_int_equal(got[got_len], '\0');
        assert_true(s.lx.scratch_size > got_len);
        before = s.lx.scratch;

        json_scan_start(&s, "\"hi\"", 4);
        assert_ptr_equal(s.lx.scratch, before);
        assert_int_equal(json_scan_string(&s, &got, &got_len), 0);
        assert_string_equal(got, "hi");

        json_scan_done(&s);
        assert_null(s.lx.scratch);
        assert_int_equal(s.lx.scratch_size, 0);
        json_scan_start(&s, "\"again\"", 7);
        assert_int_equal(json_scan_string(&s, &got, &got_len), 0);
        assert_string_equal(got, "again");
        json_scan_done(&s);
}

/* ---- integers --------------------------------------------------------------------------------------- */

static void test_uint(void **state) {
        static const struct {
                const char *input;
                int want_r;
                uint64_t want;
                const char *want_token; /* NULL: not checked (syntax errors) */
                size_t want_offset;     /* cursor afterwards, or the error offset */
                const char *want_error;
        } cases[] = {
                { "0", 0, 0, "0", 1, NO_ERROR },
                { " 42 ", 0, 42, "42", 3, NO_ERROR },
                { "-0", 0, 0, "-0", 2, NO_ERROR },
                { "12}", 0, 12, "12", 2, NO_ERROR },
                { "0x", 0, 0, "0", 1, NO_ERROR }, /* the caller judges what follows */
                { "9223372036854775807", 0, INT64_MAX, "9223372036854775807", 19, NO_ERROR },
                { "18446744073709551615", 0, UINT64_MAX, "18446744073709551615", 20, NO_ERROR },
                { "18446744073709551616", -ERANGE, 0, "18446744073709551616", 20, NO_ERROR },
                { "18446744073709551620", -ERANGE, 0, "18446744073709551620", 20, NO_ERROR },
                { "99999999999999999999", -ERANGE, 0, "99999999999999999999", 20, NO_ERROR },
                { "123456789012345678901234567890,", -ERANGE, 0, "123456789012345678901234567890", 30,
                  NO_ERROR },
                { "-1", -ERANGE, 0, "-1", 2, NO_ERROR },
                { "-18446744073709551615", -ERANGE, 0, "-18446744073709551615", 21, NO_ERROR },
                { "1.5", -EDOM, 0, "1", 1, NO_ERROR },
                { "0.0", -EDOM, 0, "0", 1, NO_ERROR },
                { "1e3", -EDOM, 0, "1", 1, NO_ERROR },
                { "1E3", -EDOM, 0, "1", 1, NO_ERROR },
                { "-2.", -EDOM, 0, "-2", 2, NO_ERROR },
                { "99999999999999999999e1", -EDOM, 0, "99999999999999999999", 20, NO_ERROR },
                { "01", -EBADMSG, 0, NULL, 0, "leading zero" },
                { "00", -EBADMSG, 0, NULL, 0, "leading zero" },
                { " -01", -EBADMSG, 0, NULL, 2, "leading zero" },
                { "-x", -EBADMSG, 0, NULL, 1, "expected a digit" },
                { "- 1", -EBADMSG, 0, NULL, 1, "expected a digit" },
                { "x", -EBADMSG, 0, NULL, 0, "expected a digit" },
                { "-", -EBADMSG, 0, NULL, 1, "" },
                { "", -EBADMSG, 0, NULL, 0, "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t len = 0;
                _cleanup_free_ char *text = exact_copy(cases[i].input, &len);
                const char *in = cases[i].input;
                JsonScan s = {};
                uint64_t v = 7777;
                int r;

                json_scan_start(&s, text, len);
                r = json_scan_uint(&s, &v);
                if (r != cases[i].want_r)
                        fail_msg("%s: r got %d, want %d", in, r, cases[i].want_r);
                check_error(in, &s, cases[i].want_error, cases[i].want_offset);
                if (r == 0 && v != cases[i].want)
                        fail_msg("%s: value got %" PRIu64 ", want %" PRIu64, in, v, cases[i].want);
                if (r != 0 && v != 7777)
                        fail_msg("%s: value written on failure: %" PRIu64, in, v);
                if (cases[i].want_token &&
                    (s.token_len != strlen(cases[i].want_token) ||
                     memcmp(s.token, cases[i].want_token, s.token_len) != 0))
                        fail_msg("%s: token got \"%.*s\", want \"%s\"", in, (int) s.token_len, s.token,
                                 cases[i].want_token);
                if (r != -EBADMSG && json_scan_offset(&s) != cases[i].want_offset)
                        fail_msg("%s: offset got %zu, want %zu", in, json_scan_offset(&s),
                                 cases[i].want_offset);
                json_scan_done(&s);
        }
}

/* ---- objects, nesting, truncation ------------------------------------------------------------------- */

/* A caller of the kind journal.c is: walk any document of objects, strings, integers and literals and
 * render it compactly (keys bare) into out, so a test can see exactly what the scanner delivered. */
static int walk(JsonScan *s, char *out, size_t size, size_t *o);

static int emit(char *out, size_t size, size_t *o, const char *str, size_t n) {
        if (*o + n >= size)
                return -ENOBUFS;
        memcpy(out + *o, str, n);
        *o += n;
        out[*o] = '\0';
        return 0;
}

static int walk_object(JsonScan *s, char *out, size_t size, size_t *o) {
        unsigned state = 0;
        const char *key;
        int r;

        r = emit(out, size, o, "{", 1);
        for (bool first = true; r >= 0 && (r = json_scan_member(s, &state, &key)) > 0; first = false) {
                r = first ? 0 : emit(out, size, o, ",", 1);
                if (r >= 0)
                        r = emit(out, size, o, key, strlen(key));
                if (r >= 0)
                        r = emit(out, size, o, ":", 1);
                if (r >= 0)
                        r = walk(s, out, size, o);
        }
        return r < 0 ? r : emit(out, size, o, "}", 1);
}

static int walk(JsonScan *s, char *out, size_t size, size_t *o) {
        char num[24];
        const char *str;
        uint64_t v;
        size_t n;
        int r;

        switch (json_scan_next_kind(s)) {
        case JSON_SCAN_OBJECT:
                assert_int_equal(json_scan_begin_object(s), 1);
                return walk_object(s, out, size, o);
        case JSON_SCAN_STRING:
                r = json_scan_string(s, &str, &n);
                if (r < 0)
                        return r;
                r = emit(out, size, o, "\"", 1);
                if (r >= 0)
                        r = emit(out, size, o, str, n);
                return r < 0 ? r : emit(out, size, o, "\"", 1);
        case JSON_SCAN_NUMBER:
                r = json_scan_uint(s, &v);
                if (r < 0)
                        return r;
                (void) snprintf(num, sizeof(num), "%" PRIu64, v);
                return emit(out, size, o, num, strlen(num));
        case JSON_SCAN_BOOLEAN:
                r = json_scan_literal(s, "true");
                if (r != 0)
                        return r < 0 ? r : emit(out, size, o, "T", 1);
                r = json_scan_literal(s, "false");
                return r < 0 ? r : emit(out, size, o, "F", 1);
        case JSON_SCAN_NULL:
                r = json_scan_literal(s, "null");
                return r < 0 ? r : emit(out, size, o, "N", 1);
        case JSON_SCAN_ARRAY:
                return -EOPNOTSUPP; /* recognised, never read */
        case JSON_SCAN_NONE:
                return json_scan_fail(s, "expected a value");
        }
        return -EINVAL;
}

/* Walk the whole text: -EEXIST if anything but whitespace follows the value. */
static int walk_document(const char *text, size_t len, JsonScan *s, char *out, size_t size) {
        size_t o = 0;
        int r;

        out[0] = '\0';
        json_scan_start(s, text, len);
        r = walk(s, out, size, &o);
        if (r < 0)
                return r;
        return json_scan_peek(s) >= 0 ? -EEXIST : 0;
}

static void test_object(void **state) {
        static const struct {
                const char *input;
                int want_r;
                const char *want;   /* rendering on success */
                size_t want_offset; /* error offset, or where trailing data starts */
                const char *want_error;
        } cases[] = {
                { "{}", 0, "{}", 0, NO_ERROR },
                { " { } \n", 0, "{}", 0, NO_ERROR },
                { "{\"a\":1}", 0, "{a:1}", 0, NO_ERROR },
                { " { \"a\" : 1 , \"b\" : { \"c\" : \"x\" , \"d\" : null } , \"e\" : true, \"f\":false } ",
                  0, "{a:1,b:{c:\"x\",d:N},e:T,f:F}", 0, NO_ERROR },
                { "{\"\":{\"\":{}}}", 0, "{:{:{}}}", 0, NO_ERROR },
                { "{\"k\\u00e9\":\"\\ud83d\\ude00\"}", 0, "{k\xc3\xa9:\"\xf0\x9f\x98\x80\"}", 0, NO_ERROR },
                { "{\"a\":1,\"a\":2}", 0, "{a:1,a:2}", 0, NO_ERROR }, /* duplicates are the caller's */
                { "{,}", -EBADMSG, NULL, 1, "expected a string" },
                { "{\"a\":1,}", -EBADMSG, NULL, 7, "expected a string" },
                { "{1:2}", -EBADMSG, NULL, 1, "expected a string" },
                { "{\"a\" 1}", -EBADMSG, NULL, 5, "expected ':'" },
                { "{\"a\":1 \"b\":2}", -EBADMSG, NULL, 7, "expected ',' or '}'" },
                { "{\"a\":1]", -EBADMSG, NULL, 6, "expected ',' or '}'" },
                { "{\"a\":}", -EBADMSG, NULL, 5, "expected a value" },
                { "{\"a\":nul}", -EBADMSG, NULL, 5, "invalid literal" },
                { "{\"a\":[1]}", -EOPNOTSUPP, NULL, 0, NO_ERROR },
                { "{\"a\\u0000b\":1}", -EILSEQ, NULL, 0, NO_ERROR },
                { "{\"a\":1", -EBADMSG, NULL, 6, "" },
                { "{\"a\":{\"b\":{}}", -EBADMSG, NULL, 13, "" },
                { "{} x", -EEXIST, NULL, 3, NO_ERROR },
                { "{}{}", -EEXIST, NULL, 2, NO_ERROR },
                { "{\"a\":1}\n\n,", -EEXIST, NULL, 9, NO_ERROR },
                { "{\"a\":1}\0", -EEXIST, NULL, 7, NO_ERROR }, /* see the length below */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                /* The last case carries a NUL byte after the object; strlen would hide it. */
                size_t len = i == ELEMENTSOF(cases) - 1 ? strlen(cases[i].input) + 1 : 0;
                _cleanup_free_ char *text = exact_copy(cases[i].input, &len);
                const char *in = cases[i].input;
                JsonScan s = {};
                char out[256];
                int r;

                r = walk_document(text, len, &s, out, sizeof(out));
                if (r != cases[i].want_r)
                        fail_msg("%s: r got %d, want %d", in, r, cases[i].want_r);
                check_error(in, &s, cases[i].want_error, cases[i].want_offset);
                if (r == 0 && !streq(out, cases[i].want))
                        fail_msg("%s: got %s, want %s", in, out, cases[i].want);
                if (r == -EEXIST && json_scan_offset(&s) != cases[i].want_offset)
                        fail_msg("%s: trailing data got at %zu, want %zu", in, json_scan_offset(&s),
                                 cases[i].want_offset);
                json_scan_done(&s);
        }
}

/* Nesting is the caller's recursion, so the scanner keeps no depth of its own: 200 levels in, 200 out. */
static void test_deep_nesting(void **state) {
        enum { DEPTH = 200 };
        char text[DEPTH * 6 + 8], want[DEPTH * 4 + 8], out[sizeof(want)];
        size_t n = 0, w = 0;
        JsonScan s = {};

        for (int i = 0; i < DEPTH; i++) {
                memcpy(text + n, "{\"k\":", 5);
                n += 5;
                memcpy(want + w, "{k:", 3);
                w += 3;
        }
        text[n++] = '1';
        want[w++] = '1';
        memset(text + n, '}', DEPTH);
        memset(want + w, '}', DEPTH);
        n += DEPTH;
        w += DEPTH;
        want[w] = '\0';

        assert_int_equal(walk_document(text, n, &s, out, sizeof(out)), 0);
        assert_string_equal(out, want);

        /* One closing brace short: the end of the text is where the error is. */
        assert_int_equal(walk_document(text, n - 1, &s, out, sizeof(out)), -EBADMSG);
        assert_true(json_scan_truncated(&s));
        assert_int_equal(s.error_offset, n - 1);
        json_scan_done(&s);
}

/* Every proper prefix of a valid document is truncation, reported at its very end, never a read past it.
 * One exception, kept as journal.c has always reported it: a cut between the '\' and the 'u' of a low
 * surrogate is "high surrogate without low surrogate" at the backslash. */
static void test_truncation(void **state) {
        static const char doc[] =
                "{ \"version\": 1, \"s\": \"a\\\"\\u00e9\\ud83d\\ude00\\n\", \"n\": null,"
                " \"t\": true, \"f\": false, \"big\": 18446744073709551615,"
                " \"o\": {\"x\": -0, \"y\": {}} }";
        const size_t n = sizeof(doc) - 1, lone_backslash = (size_t) (strstr(doc, "\\ude00") - doc) + 1;
        JsonScan s = {};
        char out[256];

        assert_int_equal(walk_document(doc, n, &s, out, sizeof(out)), 0);
        for (size_t len = 0; len < n; len++) {
                _cleanup_free_ char *text = malloc(len ?: 1);
                int r;

                assert_non_null(text);
                memcpy(text, doc, len);
                r = walk_document(text, len, &s, out, sizeof(out));
                if (r != -EBADMSG)
                        fail_msg("prefix of %zu bytes: r got %d, want %d", len, r, -EBADMSG);
                if (len == lone_backslash) {
                        check_error("lone backslash", &s, "high surrogate without low surrogate", len - 1);
                        continue;
                }
                if (!json_scan_truncated(&s) || s.error_offset != len)
                        fail_msg("prefix of %zu bytes: error \"%s\" at %zu, want truncation at %zu", len,
                                 s.error, s.error_offset, len);
        }
        json_scan_done(&s);
}

/* json_scan_start() forgets the previous error; a syntax error inside the text is not truncation. */
static void test_error_state(void **state) {
        JsonScan s = {};

        json_scan_start(&s, "x", 1);
        assert_false(json_scan_truncated(&s));
        assert_int_equal(json_scan_fail(&s, "boom"), -EBADMSG);
        assert_string_equal(s.error, "boom");
        assert_false(json_scan_truncated(&s));

        json_scan_start(&s, "  ", 2);
        assert_null(s.error);
        assert_int_equal(json_scan_peek(&s), -1);
        assert_int_equal(json_scan_fail(&s, "boom"), -EBADMSG);
        assert_string_equal(s.error, "");
        assert_true(json_scan_truncated(&s));
        assert_int_equal(s.error_offset, 2);
        json_scan_done(&s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_next_kind),    cmocka_unit_test(test_literal),
                cmocka_unit_test(test_string),       cmocka_unit_test(test_string_scratch),
                cmocka_unit_test(test_uint),         cmocka_unit_test(test_object),
                cmocka_unit_test(test_deep_nesting), cmocka_unit_test(test_truncation),
                cmocka_unit_test(test_error_state),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
