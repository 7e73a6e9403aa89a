/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for utf8.c: valid input passes through byte for byte (NUL included), each maximal invalid
 * subpart becomes one U+FFFD (the expectations agree with Python's bytes.decode("utf-8", "replace")), an
 * incomplete sequence at the end of a chunk is held back unless the chunk is final, and sanitizing in
 * chunks (carrying what was held back) gives exactly what sanitizing the whole gives.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "macro.h"
#include "utf8.h"

#define R "\xEF\xBF\xBD" /* U+FFFD */

typedef struct Case {
        const char *name;
        const char *in;
        size_t in_len; /* 0: strlen(in) */
        bool final;
        const char *want;
        size_t want_len;      /* 0: strlen(want) */
        size_t want_consumed; /* SIZE_MAX: all of in */
} Case;

static const Case cases[] = {
        { "empty", "", 0, true, "", 0, SIZE_MAX },
        { "ASCII", "hello\n", 0, false, "hello\n", 0, SIZE_MAX },
        { "NUL bytes pass through", "a\0b\0", 4, false, "a\0b\0", 4, SIZE_MAX },
        { "control characters pass through", "\t\r\x1b[0m\x7f", 0, false, "\t\r\x1b[0m\x7f", 0, SIZE_MAX },
        { "2, 3 and 4 byte characters", "\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 0, false,
          "\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 0, SIZE_MAX },
        { "boundaries: U+0080, U+07FF, U+0800, U+FFFF, U+10000, U+10FFFF",
          "\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF", 0, false,
          "\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF", 0, SIZE_MAX },
        { "U+D7FF and U+E000 around the surrogates are valid", "\xED\x9F\xBF\xEE\x80\x80", 0, false,
          "\xED\x9F\xBF\xEE\x80\x80", 0, SIZE_MAX },
        { "stray continuation byte", "a\x80z", 0, false, "a" R "z", 0, SIZE_MAX },
        { "each stray continuation byte is one replacement", "\x80\xBF\x80", 0, false, R R R, 0, SIZE_MAX },
        { "bytes that never start a sequence: C0, C1, F5..FF", "\xC0\xC1\xF5\xFF", 0, false, R R R R, 0,
          SIZE_MAX },
        { "overlong 2-byte '/' (C0 AF): two replacements", "\xC0\xAF", 0, false, R R, 0, SIZE_MAX },
        { "overlong 3-byte (E0 80 AF): three replacements", "\xE0\x80\xAF", 0, false, R R R, 0, SIZE_MAX },
        { "overlong 4-byte (F0 80 80 AF): four replacements", "\xF0\x80\x80\xAF", 0, false, R R R R, 0,
          SIZE_MAX },
        { "surrogate U+D800 (ED A0 80)", "\xED\xA0\x80", 0, false, R R R, 0, SIZE_MAX },
        { "surrogate pair as CESU-8", "\xED\xA0\xBD\xED\xB8\x80", 0, false, R R R R R R, 0, SIZE_MAX },
        { "above U+10FFFF (F4 90 80 80)", "\xF4\x90\x80\x80", 0, false, R R R R, 0, SIZE_MAX },
        { "truncated 3-byte sequence before ASCII: one replacement", "\xE2\x82z", 0, false, R "z", 0,
          SIZE_MAX },
        { "truncated 4-byte sequence before ASCII: one replacement", "\xF0\x9F\x98z", 0, false, R "z", 0,
          SIZE_MAX },
        { "truncated sequence before another lead byte", "\xE2\x82\xC3\xA9", 0, false, R "\xC3\xA9", 0,
          SIZE_MAX },
        { "incomplete 2-byte sequence at the end is held back", "ab\xC3", 0, false, "ab", 0, 2 },
        { "incomplete 3-byte sequence at the end is held back", "ab\xE2\x82", 0, false, "ab", 0, 2 },
        { "incomplete 4-byte sequence at the end is held back", "\xF0\x9F\x98", 0, false, "", 0, 0 },
        { "incomplete sequence at the end of the final chunk: one replacement", "ab\xF0\x9F\x98", 0, true,
          "ab" R, 0, SIZE_MAX },
        { "an invalid prefix at the end is not held back", "ab\xE0\x80", 0, false, "ab" R R, 0, SIZE_MAX },
        { "a lone invalid lead at the end is not held back", "ab\xFF", 0, false, "ab" R, 0, SIZE_MAX },
};

static void test_cases(void **state) {
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                const Case *c = &cases[k];
                size_t in_len = c->in_len ?: strlen(c->in), want_len = c->want_len ?: strlen(c->want);
                size_t want_consumed = c->want_consumed == SIZE_MAX ? in_len : c->want_consumed;
                char out[UTF8_SANITIZE_MAX(64)];
                size_t out_len = SIZE_MAX, consumed;

                consumed = utf8_sanitize(c->in, in_len, c->final, out, &out_len);
                if (consumed != want_consumed || out_len != want_len ||
                    memcmp(out, c->want, want_len) != 0) {
                        print_error(
                                "case '%s': got %zu bytes consumed, %zu out; want %zu consumed, %zu out\n",
                                c->name, consumed, out_len, want_consumed, want_len);
                        fail();
                }
        }
}

/* Sanitize in chunks of `step` bytes the way the log reader does: what is held back is read again as the
 * start of the next chunk; the last chunk is final. */
static size_t sanitize_chunked(const char *in, size_t n, size_t step, char *out) {
        size_t off = 0, o = 0;

        while (off < n) {
                size_t len = n - off < step ? n - off : step, out_len, used;
                bool final = off + len == n;

                used = utf8_sanitize(in + off, len, final, out + o, &out_len);
                o += out_len;
                off += used;
                if (used == 0 && !final)
                        step++; /* the chunk held only an incomplete sequence: read more at once */
        }
        return o;
}

static void test_chunked_equals_whole(void **state) {
        /* Valid text of every length, an invalid mix, and sequences cut at every position by the chunking.
         */
        static const char in[] =
                "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z\x80\xE2\x82\xC0\xAF\xED\xA0\x80"
                "\xF4\x90\x80\x80\xF0\x9F\x98\0end\xF0\x9F";
        size_t n = sizeof(in) - 1;
        char whole[UTF8_SANITIZE_MAX(sizeof(in))], chunked[UTF8_SANITIZE_MAX(sizeof(in))];
        size_t whole_len, consumed;

        consumed = utf8_sanitize(in, n, true, whole, &whole_len);
        assert_int_equal(consumed, n);
        for (size_t step = 1; step <= n; step++) {
                size_t len = sanitize_chunked(in, n, step, chunked);

                if (len != whole_len || memcmp(whole, chunked, len) != 0) {
                        print_error("chunks of %zu bytes: got %zu bytes, want %zu\n", step, len, whole_len);
                        fail();
                }
        }
}

/* Every 2-byte input: the output is valid by construction, so sanitizing it again changes nothing. */
static void test_output_is_fixed_point(void **state) {
        for (unsigned a = 0; a < 256; a++)
                for (unsigned b = 0; b < 256; b++) {
                        char in[2] = { (char) a, (char) b }, out[UTF8_SANITIZE_MAX(2)],
                             again[UTF8_SANITIZE_MAX(6)];
                        size_t out_len, again_len;

                        (void) utf8_sanitize(in, 2, true, out, &out_len);
                        assert_int_equal(utf8_sanitize(out, out_len, true, again, &again_len), out_len);
                        assert_int_equal(again_len, out_len);
                        assert_memory_equal(again, out, out_len);
                }
}

/* utf8_valid_len() and utf8_decode() agree with the sanitizer on every 1…3 byte prefix built from the bytes
 * where the rules change, and every code point that is not a surrogate encodes and decodes back to itself.
 */
static void test_valid_decode_encode(void **state) {
        static const uint8_t edges[] = { 0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0,
                                         0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF };
        static const struct {
                const char *in;
                size_t len;
                uint32_t cp;
        } known[] = {
                { "A", 1, 'A' },
                { "\xC3\xA9", 2, 0xE9 },
                { "\xE2\x82\xAC", 3, 0x20AC },
                { "\xF0\x9F\x98\x80", 4, 0x1F600 },
                { "\xC0\x80", 0, 0 },
                { "\xED\xA0\x80", 0, 0 },
                { "\xF4\x90\x80\x80", 0, 0 },
                { "\xE2\x82", 0, 0 },
                { "\x80", 0, 0 },
        };
        char out[4], in[3];
        uint32_t cp;

        for (size_t i = 0; i < ELEMENTSOF(known); i++) {
                size_t n = strlen(known[i].in);

                assert_int_equal(utf8_valid_len(known[i].in, n), known[i].len);
                cp = UINT32_MAX;
                assert_int_equal(utf8_decode(known[i].in, n, &cp), known[i].len);
                if (known[i].len > 0)
                        assert_int_equal(cp, known[i].cp);
        }

        for (size_t a = 0; a < ELEMENTSOF(edges); a++)
                for (size_t b = 0; b < ELEMENTSOF(edges); b++)
                        for (size_t c = 0; c < ELEMENTSOF(edges); c++) {
                                char san[UTF8_SANITIZE_MAX(3)];
                                size_t len, out_len, consumed;

                                in[0] = (char) edges[a], in[1] = (char) edges[b], in[2] = (char) edges[c];
                                len = utf8_valid_len(in, 3);
                                /* A valid sequence at the start is copied, not replaced, by the sanitizer.
                                 */
                                consumed = utf8_sanitize(in, 3, true, san, &out_len);
                                assert_int_equal(consumed, 3);
                                if (len > 0)
                                        assert_memory_equal(san, in, len);
                                else
                                        assert_memory_equal(san, R, 3);
                        }

        for (uint32_t u = 0; u <= 0x10FFFF; u++) {
                size_t n;

                if (u >= 0xD800 && u <= 0xDFFF)
                        continue;
                n = utf8_encode(u, out);
                assert_int_equal(n, u < 0x80 ? 1 : u < 0x800 ? 2 : u < 0x10000 ? 3 : 4);
                assert_int_equal(utf8_decode(out, n, &cp), n);
                assert_int_equal(cp, u);
        }
}

/* utf8_cut() never ends a prefix inside a character: "aé€😀" cut at every length. */
static void test_cut(void **state) {
        const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"; /* a é € 😀: bytes 0, 1-2, 3-5, 6-9 */
        const size_t want[] = { 0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10 };

        for (size_t n = 0; n <= strlen(s); n++)
                assert_int_equal(utf8_cut(s, n), want[n]);
        assert_int_equal(utf8_cut("\x80\x80", 1), 0); /* only continuation bytes: nothing */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cut),
                cmocka_unit_test(test_cases),
                cmocka_unit_test(test_chunked_equals_whole),
                cmocka_unit_test(test_output_is_fixed_point),
                cmocka_unit_test(test_valid_decode_encode),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
