/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for escape.c: which characters count as control characters (C0, DEL, C1; TAB and LF only
 * when allowed), and that cescape_buf() output never carries one, nor invalid UTF-8, whatever the input
 * or the room, while printable UTF-8 passes unchanged.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "escape.h"
#include "macro.h"

static void test_find_control_char(void **state) {
        static const struct {
                const char *in;
                bool allow_tab_lf;
                ssize_t want; /* offset of the first refused character, -1 for none */
        } table[] = {
                { "plain name", false, -1 },
                { "héllo wörld ✓ 😀", false, -1 },
                { "a\tb", false, 1 },
                { "a\tb", true, -1 },
                { "set -e\nmake\nmake check", true, -1 },
                { "set -e\nmake", false, 6 },
                { "x\r\n", true, 1 },
                { "\x1b]0;pwned\a", true, 0 },
                { "ok\x7f", false, 2 },
                { "c1 \xc2\x9b"
                  "31m",
                  true, 3 },                            /* U+009B CSI */
                { "nbsp \xc2\xa0 is fine", false, -1 }, /* U+00A0 is not a control character */
                { "bad \xff utf8", false, -1 },         /* not UTF-8: not judged here */
                { "lone \x9b", false, -1 },
                { "backup\xe2\x80\xae"
                  "txt.exe",
                  false, 6 }, /* U+202E RIGHT-TO-LEFT OVERRIDE */
                { "ab\xe2\x80\x8b"
                  "c",
                  true, 2 },                           /* U+200B ZERO WIDTH SPACE */
                { "x\xef\xbb\xbf", true, 1 },          /* U+FEFF */
                { "rlm\xd8\x9c", true, 3 },            /* U+061C ARABIC LETTER MARK */
                { "dash \xe2\x80\x90 ok", false, -1 }, /* U+2010 HYPHEN is printable */
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                const char *p = find_control_char(table[i].in, strlen(table[i].in), table[i].allow_tab_lf);
                ssize_t got = p ? p - table[i].in : -1;

                if (got != table[i].want)
                        fail_msg("row %zu: got %zd, want %zd", i, got, table[i].want);
        }
}

static void test_cescape(void **state) {
        static const struct {
                const char *in;
                const char *want;
        } table[] = {
                { "plain", "plain" },
                { "", "" },
                { "a\nb\tc\r\\", "a\\nb\\tc\\r\\\\" },
                { "\x1b]0;pwned\a.json", "\\x1b]0;pwned\\a.json" },
                { "\x01\x7f", "\\x01\\x7f" },
                { "csi \xc2\x9b", "csi \\xc2\\x9b" },
                { "utf8 ✓ ü", "utf8 ✓ ü" },
                { "bad \xff\xc3", "bad \\xff\\xc3" },
                { "surrogate \xed\xa0\x80", "surrogate \\xed\\xa0\\x80" },
                { "overlong \xc0\xaf", "overlong \\xc0\\xaf" },
                { "a\xe2\x80\xae"
                  "b",
                  "a\\xe2\\x80\\xaeb" },
                { "\xe2\x81\xa6"
                  "x",
                  "\\xe2\\x81\\xa6x" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *got = cescape(table[i].in);

                assert_non_null(got);
                if (strcmp(got, table[i].want) != 0)
                        fail_msg("row %zu: got \"%s\", want \"%s\"", i, got, table[i].want);
        }
}

/* With too little room the output stops before an escape or character that does not fit, and stays
 * NUL-terminated; never a half escape such as "\x1". */
static void test_cescape_truncates_whole(void **state) {
        static const char in[] =
                "ab\x1b"
                "c✓";
        static const char *want[] = { "",        "a",        "ab",       "ab",       "ab",       "ab",
                                      "ab\\x1b", "ab\\x1bc", "ab\\x1bc", "ab\\x1bc", "ab\\x1bc✓" };

        for (size_t size = 1; size <= ELEMENTSOF(want); size++) {
                char out[64];
                size_t n = cescape_buf(in, strlen(in), out, size);

                if (strcmp(out, want[size - 1]) != 0 || n != strlen(out))
                        fail_msg("size %zu: got \"%s\" (%zu), want \"%s\"", size, out, n, want[size - 1]);
        }
}

/* Every byte value in every position: the output has no control byte, no invalid UTF-8 (checked by
 * running the output through find_control_char's own decoder: escaping it again changes nothing). */
static void test_cescape_all_bytes(void **state) {
        for (unsigned a = 0; a < 256; a++)
                for (unsigned b = 0; b < 256; b += 7) {
                        const char in[4] = { (char) a, (char) b, (char) 0x80, (char) 0x9b };
                        char out[CESCAPE_MAX(4)], again[CESCAPE_MAX(sizeof(out))];

                        (void) cescape_buf(in, sizeof(in), out, sizeof(out));
                        for (const unsigned char *p = (const unsigned char *) out; *p; p++)
                                if (*p < 0x20 || *p == 0x7f)
                                        fail_msg("bytes %02x %02x: control byte %02x in output", a, b, *p);
                        assert_null(find_control_char(out, strlen(out), false));
                        /* Valid printable UTF-8 without backslashes escapes to itself. */
                        if (!strchr(out, '\\')) {
                                (void) cescape_buf(out, strlen(out), again, sizeof(again));
                                assert_string_equal(again, out);
                        }
                }
}

static void test_terminal_escape(void **state) {
        static const struct {
                const char *in;
                const char *want;
        } table[] = {
                { "plain\ttext\n", "plain\ttext\n" },
                { "\x1b[1;31mred\x1b[0m", "\x1b[1;31mred\x1b[0m" }, /* colours pass */
                { "\x1b[38:5:208mx", "\x1b[38:5:208mx" },
                { "\x1b[38;2;255;128;0mtc", "\x1b[38;2;255;128;0mtc" }, /* truecolour, 19 bytes */
                { "\x1b]0;title\a", "\\x1b]0;title\\a" },               /* a title change does not */
                { "\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H" },                 /* nor cursor moves */
                { "x\rover", "x\\rover" },
                { "\x1b[31", "\\x1b[31" }, /* cut short */
                { "back\\slash \xe2\x80\xae", "back\\slash \\xe2\\x80\\xae" },
                { "bad \xff", "bad \\xff" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                size_t n = strlen(table[i].in);
                char out[CESCAPE_MAX(64)];

                assert_true(n < 64);
                (void) terminal_escape_buf(table[i].in, n, out, sizeof(out));
                if (strcmp(out, table[i].want) != 0)
                        fail_msg("row %zu: got \"%s\", want \"%s\"", i, out, table[i].want);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_find_control_char),       cmocka_unit_test(test_cescape),
                cmocka_unit_test(test_cescape_truncates_whole), cmocka_unit_test(test_cescape_all_bytes),
                cmocka_unit_test(test_terminal_escape),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
