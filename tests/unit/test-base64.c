/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for base64.c: the RFC 4648 §10 test vectors both ways, every byte value round-trips, and
 * malformed input (bad length, bad character, padding in the middle) is refused.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base64.h"
#include "macro.h"

static void test_vectors(void **state) {
        static const struct {
                const char *plain, *encoded;
        } table[] = {
                { "", "" },
                { "f", "Zg==" },
                { "fo", "Zm8=" },
                { "foo", "Zm9v" },
                { "foob", "Zm9vYg==" },
                { "fooba", "Zm9vYmE=" },
                { "foobar", "Zm9vYmFy" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *e = base64_encode(table[i].plain, strlen(table[i].plain));
                _cleanup_free_ unsigned char *d = NULL;
                size_t n;

                assert_non_null(e);
                assert_string_equal(e, table[i].encoded);
                assert_int_equal(base64_decode(table[i].encoded, &d, &n), 0);
                assert_int_equal(n, strlen(table[i].plain));
                assert_memory_equal(d, table[i].plain, n);
        }
}

static void test_all_bytes(void **state) {
        unsigned char buf[256 + 2];

        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (unsigned char) (i * 7 + 3);
        for (size_t len = 0; len <= sizeof(buf); len++) {
                _cleanup_free_ char *e = base64_encode(buf, len);
                _cleanup_free_ unsigned char *d = NULL;
                size_t n;

                assert_non_null(e);
                assert_int_equal(base64_decode(e, &d, &n), 0);
                assert_int_equal(n, len);
                if (len > 0)
                        assert_memory_equal(d, buf, len);
        }
}

static void test_invalid(void **state) {
        static const char *const bad[] = { "Zg=", "Zg", "Z===", "Zm9v!A==", "Zg==Zm9v", "=Zm9", "Zm 9v" };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                unsigned char *d = NULL;
                size_t n;

                if (base64_decode(bad[i], &d, &n) != -EINVAL)
                        fail_msg("\"%s\": want -EINVAL", bad[i]);
                assert_null(d);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_vectors),
                cmocka_unit_test(test_all_bytes),
                cmocka_unit_test(test_invalid),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
