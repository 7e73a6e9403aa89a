/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for jsonpretty.c: for text json-c wrote (PLAIN | NOSLASHESCAPE, as orchd's replies are), the
 * output is byte for byte what json-c prints from the parsed tree with PRETTY | SPACED | NOSLASHESCAPE
 * (what orchctl --json printed before); broken text is refused.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "jsonpretty.h"
#include "macro.h"

static const char *const docs[] = {
        "{}",
        "[]",
        "42",
        "\"s\"",
        "{\"a\":1}",
        "{\"a\":{},\"b\":[],\"c\":[{}],\"d\":[[]]}",
        "{\"job\":{\"id\":\"7\",\"n\":-3,\"x\":1.5e-07,\"t\":true,\"f\":false,\"z\":null,"
        "\"nodes\":[{\"id\":\"a,b:c\",\"s\":\"{[\\\"]}\\\\\",\"u\":\"é \\u0001 \\n\"},{\"id\":\"b\","
        "\"after\":[\"a\"]}]}}",
        "  {\"spaced\" : [ 1 , 2 ] }  trailing",
};

static void test_same_as_json_c(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(docs); i++) {
                /* json-c's plain text of the document first: what orchd would have sent. */
                json_object *tree = json_tokener_parse(docs[i]);
                const char *want;
                _cleanup_free_ char *got = NULL, *plain = NULL;
                size_t len = 0, used = 0;

                if (!tree) { /* the last one has text after the value */
                        json_tokener *tok = json_tokener_new();

                        tree = json_tokener_parse_ex(tok, docs[i], (int) strlen(docs[i]));
                        json_tokener_free(tok);
                }
                assert_non_null(tree);
                /* A copy: the next call reuses the object's buffer. */
                plain = strdup(json_object_to_json_string_ext(
                        tree, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                assert_non_null(plain);
                want = json_object_to_json_string_ext(tree,
                                                      JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE);
                assert_int_equal(json_pretty(plain, strlen(plain), &got, &len, &used), 0);
                if (!streq(got, want))
                        fail_msg("doc %zu:\ngot:\n%s\nwant:\n%s", i, got, want);
                assert_int_equal(len, strlen(want));
                assert_int_equal(used, strlen(plain));
                json_object_put(tree);
        }
}

/* Whitespace in the input does not matter, and the value ends where it ends. */
static void test_used(void **state) {
        const char *text = "  {\"a\" : [ 1 , 2 ] }  {\"next\":1}";
        _cleanup_free_ char *got = NULL;
        size_t len, used;

        assert_int_equal(json_pretty(text, strlen(text), &got, &len, &used), 0);
        assert_string_equal(got, "{\n  \"a\": [\n    1,\n    2\n  ]\n}");
        assert_int_equal(used, strlen("  {\"a\" : [ 1 , 2 ] }"));
}

/* Nesting a few thousand deep costs no stack. */
static void test_deep(void **state) {
        enum { N = 5000 };
        char *text = malloc(2 * N + 1);
        _cleanup_free_ char *got = NULL;
        size_t len, used;

        assert_non_null(text);
        memset(text, '[', N);
        memset(text + N, ']', N);
        text[2 * N] = '\0';
        assert_int_equal(json_pretty(text, 2 * N, &got, &len, &used), 0);
        assert_int_equal(used, 2 * N);
        free(text);
}

static void test_broken(void **state) {
        static const char *const bad[] = { "",  "   ", "{\"a\":[1,2}", "[1,2", "{\"a\":\"unterminated}",
                                           "]", "{]" };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *got = NULL;
                size_t len, used;
                int r = json_pretty(bad[i], strlen(bad[i]), &got, &len, &used);

                if (r != -EBADMSG)
                        fail_msg("'%s': got %d, want -EBADMSG", bad[i], r);
                assert_null(got);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_same_as_json_c),
                cmocka_unit_test(test_used),
                cmocka_unit_test(test_deep),
                cmocka_unit_test(test_broken),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
