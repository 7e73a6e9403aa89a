/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the strict JSON parser: accepted documents, every class of syntax error with its line,
 * column, path and message, duplicate keys, limits, and the number/string decoding. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "json-util.h"
#include "jsonparse.h"
#include "macro.h"

typedef struct BadCase {
        const char *input;
        size_t len; /* 0: strlen(input) */
        unsigned line, column;
        const char *path;
        const char *message;
} BadCase;

static const BadCase bad_cases[] = {
        { "", 0, 1, 1, "", "empty document, expected a JSON value" },
        { "  \n ", 0, 2, 2, "", "empty document, expected a JSON value" },
        { "{} x", 0, 1, 4, "", "unexpected data after the JSON value" },
        { "{}{}", 0, 1, 3, "", "unexpected data after the JSON value" },
        { "{\"a\":1,}", 0, 1, 8, "", "trailing comma before '}'" },
        { "[1,]", 0, 1, 4, "", "trailing comma before ']'" },
        { "{\"a\":1 \"b\":2}", 0, 1, 8, "",
          "unexpected character '\"', expected ',' or '}' after object member" },
        { "{\"a\" 1}", 0, 1, 6, "a", "unexpected character '1', expected ':' after object key" },
        { "{\"a\":}", 0, 1, 6, "a", "unexpected character '}', expected a value" },
        { "{\"a\":1", 0, 1, 7, "", "unexpected end of input, expected ',' or '}' after object member" },
        { "[1 2]", 0, 1, 4, "", "unexpected character '2', expected ',' or ']' after array element" },
        { "{1:2}", 0, 1, 2, "", "unexpected character '1', expected a string key or '}'" },
        { "{'a':1}", 0, 1, 2, "", "unexpected character ''', expected a string key or '}'" },
        { "// c\n{}", 0, 1, 1, "", "unexpected character '/', expected a value" },
        { "{\"a\":1}/*x*/", 0, 1, 8, "", "unexpected data after the JSON value" },
        { "NaN", 0, 1, 1, "", "unexpected character 'N', expected a value" },
        { "[Infinity]", 0, 1, 2, "[0]", "unexpected character 'I', expected a value" },
        { "[-Infinity]", 0, 1, 3, "[0]", "expected a digit after '-'" },
        { "01", 0, 1, 1, "", "leading zeros are not allowed in numbers" },
        { "[-012]", 0, 1, 2, "[0]", "leading zeros are not allowed in numbers" },
        { "1.", 0, 1, 3, "", "expected a digit after the decimal point" },
        { ".5", 0, 1, 1, "", "unexpected character '.', expected a value" },
        { "1e", 0, 1, 3, "", "expected a digit in the exponent" },
        { "+1", 0, 1, 1, "", "unexpected character '+', expected a value" },
        { "1e400", 0, 1, 1, "", "number 1e400 is out of range" },
        { "tru", 0, 1, 1, "", "invalid literal, expected true, false or null" },
        { "True", 0, 1, 1, "", "unexpected character 'T', expected a value" },
        { "\"abc", 0, 1, 1, "", "unterminated string" },
        { "{\"k\":\n  \"abc", 0, 2, 3, "k", "unterminated string" },
        { "\"a\tb\"", 0, 1, 3, "", "control character 0x09 in string (must be escaped)" },
        { "\"a\nb\"", 0, 1, 3, "", "control character 0x0A in string (must be escaped)" },
        { "\"\\x\"", 0, 1, 2, "", "invalid escape sequence in string" },
        { "\"\\u12G4\"", 0, 1, 2, "", "invalid \\u escape, expected 4 hex digits" },
        { "\"\\u12\"", 0, 1, 2, "", "invalid \\u escape, expected 4 hex digits" },
        { "\"\\uD83D\"", 0, 1, 2, "", "unpaired high surrogate \\uD83D in string" },
        { "\"\\uD83D\\u0041\"", 0, 1, 2, "", "unpaired high surrogate \\uD83D in string" },
        { "\"\\uDE00\"", 0, 1, 2, "", "unpaired low surrogate \\uDE00 in string" },
        { "\"\xC3\"", 0, 1, 2, "", "invalid UTF-8 in string" },             /* truncated sequence */
        { "\"\xC0\xAF\"", 0, 1, 2, "", "invalid UTF-8 in string" },         /* overlong '/' */
        { "\"\xE0\x80\xAF\"", 0, 1, 2, "", "invalid UTF-8 in string" },     /* overlong, 3 bytes */
        { "\"\xED\xA0\x80\"", 0, 1, 2, "", "invalid UTF-8 in string" },     /* UTF-16 surrogate */
        { "\"\xF4\x90\x80\x80\"", 0, 1, 2, "", "invalid UTF-8 in string" }, /* > U+10FFFF */
        { "\"\xFF\"", 0, 1, 2, "", "invalid UTF-8 in string" },
        { "[\xFF]", 0, 1, 2, "[0]", "invalid UTF-8" },
        { "\xEF\xBB\xBF{}", 0, 1, 1, "", "UTF-8 byte order mark is not allowed" },
        { "{\"a\\u0000b\":1}", 0, 1, 2, "", "object key contains U+0000" },
        { "[1,\0]", 5, 1, 4, "[1]", "unexpected byte 0x00, expected a value" },
        { "{\"a\":1,\"a\":2}", 0, 1, 8, "a", "duplicate key \"a\"" },
        { "{\"nodes\": {\n  \"build\": {},\n  \"build\": {}\n}}", 0, 3, 3, "nodes.build",
          "duplicate key \"build\"" },
        { "{\"x y\":{\"k\":1,\"k\":1}}", 0, 1, 15, "[\"x y\"].k", "duplicate key \"k\"" },
        { "[[{\"a\":[1,{\"b\":[0,1,}]}]]", 0, 1, 21, "[0][0].a[1].b[2]",
          "unexpected character '}', expected a value" },
};

static void test_syntax_errors(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(bad_cases); i++) {
                const BadCase *c = &bad_cases[i];
                json_object *o = NULL;
                JsonParseError e = {};
                int r;

                r = json_parse_strict(c->input, c->len ?: strlen(c->input), NULL, &o, &e);
                if (r != -EINVAL) {
                        print_error("case %zu %s: got r=%d, want -EINVAL\n", i, c->input, r);
                        fail();
                }
                if (!streq(e.message, c->message) || !streq(e.path, c->path) || e.line != c->line ||
                    e.column != c->column) {
                        print_error("case %zu %s:\n  got  %u:%u [%s] %s\n  want %u:%u [%s] %s\n", i,
                                    c->input, e.line, e.column, e.path, e.message, c->line, c->column,
                                    c->path, c->message);
                        fail();
                }
                assert_null(o);
                json_parse_error_done(&e);
        }
}

typedef struct GoodCase {
        const char *input;
        const char *canonical; /* json-c plain serialization */
} GoodCase;

static const GoodCase good_cases[] = {
        { "{}", "{ }" },
        { " [ ] ", "[ ]" },
        { "\t\r\n0\n", "0" },
        { "-0", "0" },
        { "true", "true" },
        { "null", "null" },
        { "{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}", "{ \"a\": [ 1, 2, { \"b\": null } ], \"c\": \"d\" }" },
        { "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"" },
        { "\"\\u00e9\\u20AC\\uD83D\\uDE00\"", "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"" },
        { "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF\"",
          "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF\"" },
        { "9223372036854775807", "9223372036854775807" },
        { "-9223372036854775808", "-9223372036854775808" },
        { "1.5e3", "1500.0" },
        { "1E-2", "0.01" },
};

static void test_accepted(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(good_cases); i++) {
                json_object *o = NULL;
                JsonParseError e = {};
                const char *s;
                int r;

                r = json_parse_strict(good_cases[i].input, strlen(good_cases[i].input), NULL, &o, &e);
                if (r != 0) {
                        print_error("case %zu %s: got r=%d (%s), want 0\n", i, good_cases[i].input, r,
                                    strna(e.message));
                        fail();
                }
                s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_SPACED);
                if (!streq(s, good_cases[i].canonical)) {
                        print_error("case %zu: got %s, want %s\n", i, s, good_cases[i].canonical);
                        fail();
                }
                json_object_put(o);
        }
}

static void test_number_types(void **state) {
        static const struct {
                const char *in;
                json_type type;
                int64_t i;
                double d;
        } cases[] = {
                { "42", json_type_int, 42, 0 },
                { "-7", json_type_int, -7, 0 },
                { "9223372036854775807", json_type_int, INT64_MAX, 0 },
                { "-9223372036854775808", json_type_int, INT64_MIN, 0 },
                { "9223372036854775808", json_type_double, 0, 9223372036854775808.0 },
                { "-9223372036854775809", json_type_double, 0, -9223372036854775809.0 },
                { "1.0", json_type_double, 0, 1.0 },
                { "1e2", json_type_double, 0, 100.0 },
                { "0.5", json_type_double, 0, 0.5 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_json_ json_object *o = NULL;
                JsonParseError e = {};

                assert_int_equal(json_parse_strict(cases[i].in, strlen(cases[i].in), NULL, &o, &e), 0);
                if (json_object_get_type(o) != cases[i].type) {
                        print_error("case %s: got type %s, want %s\n", cases[i].in,
                                    json_type_to_name(json_object_get_type(o)),
                                    json_type_to_name(cases[i].type));
                        fail();
                }
                if (cases[i].type == json_type_int)
                        assert_true(json_object_get_int64(o) == cases[i].i);
                else
                        assert_true(json_object_get_double(o) == cases[i].d);
        }
}

static void test_nul_in_string_value(void **state) {
        _cleanup_json_ json_object *o = NULL;
        static const char in[] = "[\"a\\u0000b\"]";
        JsonParseError e = {};
        json_object *s;

        assert_int_equal(json_parse_strict(in, strlen(in), NULL, &o, &e), 0);
        s = json_object_array_get_idx(o, 0);
        assert_int_equal(json_object_get_string_len(s), 3);
        assert_memory_equal(json_object_get_string(s), "a\0b", 3);
}

static void test_depth_limit(void **state) {
        char buf[64];
        JsonParseOptions l = { .max_depth = 3 };

        for (unsigned depth = 1; depth <= 5; depth++) {
                _cleanup_json_ json_object *o = NULL;
                JsonParseError e = {};
                int r;

                memset(buf, '[', depth);
                memset(buf + depth, ']', depth);
                r = json_parse_strict(buf, 2 * depth, &l, &o, &e);
                if (depth <= 3)
                        assert_int_equal(r, 0);
                else {
                        assert_int_equal(r, -EINVAL);
                        assert_string_equal(e.message, "nesting depth exceeds the limit of 3");
                        assert_int_equal(e.column, 4);
                        assert_string_equal(e.path, "[0][0][0]");
                        json_parse_error_done(&e);
                }
        }
}

static void test_deep_nesting_without_limit_is_capped(void **state) {
        /* Far deeper than JSON_PARSE_DEPTH_MAX: must fail cleanly rather than overflow the stack. */
        size_t n = 1000000;
        char *buf = malloc(2 * n);
        JsonParseOptions l = { .max_depth = UINT32_MAX };
        json_object *o = NULL;
        JsonParseError e = {};

        assert_non_null(buf);
        memset(buf, '[', n);
        memset(buf + n, ']', n);
        assert_int_equal(json_parse_strict(buf, 2 * n, &l, &o, &e), -EINVAL);
        assert_int_equal(e.column, JSON_PARSE_DEPTH_MAX + 1);
        json_parse_error_done(&e);
        free(buf);
}

static void test_string_limit(void **state) {
        JsonParseOptions l = { .max_depth = 8, .max_string = 4 };
        static const struct {
                const char *in;
                int want_r;
        } cases[] = {
                { "\"abcd\"", 0 },
                { "\"abcde\"", -EINVAL },
                { "\"\\u00e9\\u00e9\"", 0 },        /* 4 bytes decoded */
                { "\"\\u00e9\\u00e9a\"", -EINVAL }, /* 5 bytes decoded */
                { "{\"abcd\":1}", 0 },
                { "{\"abcde\":1}", -EINVAL }, /* keys count too */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_json_ json_object *o = NULL;
                JsonParseError e = {};
                int r = json_parse_strict(cases[i].in, strlen(cases[i].in), &l, &o, &e);

                if (r != cases[i].want_r) {
                        print_error("case %s: got %d, want %d\n", cases[i].in, r, cases[i].want_r);
                        fail();
                }
                if (r < 0)
                        assert_non_null(strstr(e.message, "exceeds the limit of 4 bytes"));
                json_parse_error_done(&e);
        }
}

static void test_key_order_preserved(void **state) {
        _cleanup_json_ json_object *o = NULL;
        static const char in[] = "{\"z\":1,\"a\":2,\"m\":3}";
        JsonParseError e = {};
        const char *want[] = { "z", "a", "m" };
        size_t i = 0;

        assert_int_equal(json_parse_strict(in, strlen(in), NULL, &o, &e), 0);
        json_object_object_foreach(o, k, v) {
                (void) v;
                assert_string_equal(k, want[i++]);
        }
        assert_int_equal(i, 3);
}

static void test_path_format(void **state) {
        JsonPath root = JSON_PATH_ROOT, a = JSON_PATH_KEY(&root, "nodes"), b = JSON_PATH_KEY(&a, "v1.2"),
                 c = JSON_PATH_KEY(&b, "after"), d = JSON_PATH_INDEX(&c, 2),
                 q = JSON_PATH_KEY(&root, "a\"\n");
        const struct {
                const JsonPath *p;
                const char *want;
        } cases[] = {
                { &root, "" },
                { &a, "nodes" },
                { &c, "nodes[\"v1.2\"].after" },
                { &d, "nodes[\"v1.2\"].after[2]" },
                { &q, "[\"a\\\"\\u000a\"]" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *s = json_path_format(cases[i].p);
                if (!s || !streq(s, cases[i].want)) {
                        print_error("got %s, want %s\n", strna(s), cases[i].want);
                        fail();
                }
                free(s);
        }
}

typedef struct HookLog {
        char seen[256];
        int abort_at; /* abort with -ECANCELED on this call (1-based), 0 = never */
        int calls;
} HookLog;

/* Takes every member of objects at depth 2 and logs "path@depth" of each call. */
static int hook(void *userdata, const JsonPath *m, unsigned depth, json_object *v) {
        HookLog *h = userdata;
        char *p = json_path_format(m);

        assert_non_null(p);
        snprintf(h->seen + strlen(h->seen), sizeof h->seen - strlen(h->seen), "%s@%u ", p, depth);
        free(p);
        if (++h->calls == h->abort_at)
                return -ECANCELED;
        if (depth != 2)
                return 0;
        json_object_put(v);
        return 1;
}

static void test_member_hook(void **state) {
        static const char in[] = "{\"a\":{\"x\":[1,{\"deep\":2}],\"y\":3},\"b\":4}";
        static const char dup[] = "{\"a\":{\"x\":1,\"x\":2}}";
        JsonParseOptions o = { .max_depth = 8, .on_member = hook };
        HookLog h = {};
        json_object *v = NULL;
        JsonParseError e = {};

        o.userdata = &h;
        assert_int_equal(json_parse_strict(in, strlen(in), &o, &v, &e), 0);
        /* Members in completion order; depth is that of the member's object. */
        assert_string_equal(h.seen, "a.x[1].deep@4 a.x@2 a.y@2 a@1 b@1 ");
        /* Taken values are stored as null, so the tree keeps the keys only. */
        assert_string_equal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
                            "{\"a\":{\"x\":null,\"y\":null},\"b\":4}");
        json_object_put(v);

        /* A taken key still counts for duplicate detection. */
        h = (HookLog){};
        assert_int_equal(json_parse_strict(dup, strlen(dup), &o, &v, &e), -EINVAL);
        assert_string_equal(e.message, "duplicate key \"x\"");
        assert_string_equal(e.path, "a.x");
        json_parse_error_done(&e);

        /* A negative return aborts the parse with that error and reports nothing. */
        h = (HookLog){ .abort_at = 2 };
        v = NULL;
        assert_int_equal(json_parse_strict(in, strlen(in), &o, &v, &e), -ECANCELED);
        assert_null(v);
        assert_null(e.message);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_syntax_errors),
                cmocka_unit_test(test_accepted),
                cmocka_unit_test(test_number_types),
                cmocka_unit_test(test_nul_in_string_value),
                cmocka_unit_test(test_depth_limit),
                cmocka_unit_test(test_deep_nesting_without_limit_is_capped),
                cmocka_unit_test(test_string_limit),
                cmocka_unit_test(test_key_order_preserved),
                cmocka_unit_test(test_path_format),
                cmocka_unit_test(test_member_hook),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
