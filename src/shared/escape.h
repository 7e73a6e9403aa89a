/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Making job data safe to show (issue 8, point 7): finding control characters, and C-style escaping
 * as systemctl prints untrusted strings ("\n", "\t", "\x1b", "\\"). A control character here is what
 * Unicode calls one (general category Cc): C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F,
 * which some terminals obey as ESC sequences), and the invisible format characters that reorder or hide
 * text (bidi controls U+061C, U+200E–U+200F, U+202A–U+202E, U+2066–U+2069; zero-width U+200B–U+200D,
 * U+2060–U+2064, U+FEFF). Pure: no event loop, no logging.
 */

#include <stdbool.h>
#include <stddef.h>

/* The first control character of s[0..n) that is not allowed: TAB and LF are allowed when allow_tab_lf.
 * Returns a pointer to its first byte (a C1 character is two bytes in UTF-8, a format character three), or
 * NULL if there is none.
 * Bytes that are not valid UTF-8 are not control characters here (validity is checked elsewhere). */
const char *find_control_char(const char *s, size_t n, bool allow_tab_lf);

/* The code point of the control character at p, as found by find_control_char(). */
unsigned control_char_code(const char *p);

/* The worst case of cescape_buf() output for n input bytes, plus the NUL: every byte as "\xNN". */
#define CESCAPE_MAX(n) ((n) *4 + 1)

/* Copy s[0..n) to out with every control character and every byte that is not part of valid UTF-8
 * escaped C-style ("\a\b\t\n\v\f\r", "\\", others "\xNN" per byte, so U+009B is "\xc2\x9b"); valid
 * printable UTF-8 is copied as it is. Writes at most out_size bytes including the NUL (out_size >= 1),
 * never cutting an escape or a character in two. Returns the number of bytes written, without the NUL. */
size_t cescape_buf(const char *s, size_t n, char *out, size_t out_size);

/* cescape_buf() of a whole NUL-terminated string into a malloc'd buffer. Returns NULL on ENOMEM. */
char *cescape(const char *s);

/* Copy s[0..n) for a terminal, as less -R shows text: TAB, LF and ECMA-48 colour sequences (SGR: ESC [,
 * digits, ';' or ':', 'm') pass as they are, every other control character and invalid byte is escaped as
 * cescape_buf() does (a title change, a cursor move, CR overwriting a line). Backslashes are not escaped:
 * this is for showing output, not for round trips. Writes at most out_size bytes including the NUL
 * (CESCAPE_MAX(n) always suffices). Returns the number written, without the NUL. */
size_t terminal_escape_buf(const char *s, size_t n, char *out, size_t out_size);
