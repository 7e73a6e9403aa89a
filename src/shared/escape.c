/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * escape.c — finding and escaping control characters in job data (see escape.h).
 *
 * One decoder serves both functions, so what is refused at validation and what is escaped on output are
 * the same set. Invariant: cescape_buf() output contains no byte below 0x20, no DEL, no C1 character,
 * no invisible format character (bidi controls, zero-width characters) and no invalid UTF-8, whatever the
 * input.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "utf8.h"

/* The code point at s[0..n) and its length (1–4), or 0 if s[0] does not start valid UTF-8. */
static size_t utf8_char(const unsigned char *s, size_t n, uint32_t *ret_cp) {
        if (s[0] < 0x80) { /* most of job data: no call */
                *ret_cp = s[0];
                return 1;
        }
        return utf8_decode((const char *) s, n, ret_cp);
}

/* Unicode's control characters (Cc), and the invisible format characters (Cf) that reorder or hide text on
 * a terminal: the bidirectional controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), the
 * zero-width ones (U+200B-U+200D, U+2060-U+2064, U+FEFF). A name with U+202E shows its end reversed
 * ("Trojan Source"); one with U+200B looks like another. */
static bool is_control(uint32_t cp) {
        return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x061C || (cp >= 0x200B && cp <= 0x200F) ||
                (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2064) ||
                (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF;
}

const char *find_control_char(const char *s, size_t n, bool allow_tab_lf) {
        const unsigned char *p = (const unsigned char *) s;

        for (size_t i = 0; i < n;) {
                uint32_t cp;
                size_t len = utf8_char(p + i, n - i, &cp);

                if (len == 0) {
                        i++; /* not UTF-8: not ours to judge */
                        continue;
                }
                if (is_control(cp) && !(allow_tab_lf && (cp == '\t' || cp == '\n')))
                        return s + i;
                i += len;
        }
        return NULL;
}

unsigned control_char_code(const char *p) {
        uint32_t cp = 0;

        (void) utf8_char((const unsigned char *) p, strnlen(p, 4),
                         &cp); /* valid: find_control_char() saw it */
        return cp;
}

/* The escape for byte c of a control character or invalid sequence, into buf (≤ 4 bytes + NUL). */
static size_t escape_byte(unsigned char c, char buf[static 5]) {
        static const char hex[] = "0123456789abcdef";
        static const char named[] = { ['\a'] = 'a', ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n',
                                      ['\v'] = 'v', ['\f'] = 'f', ['\r'] = 'r' };

        buf[0] = '\\';
        if (c < sizeof(named) && named[c]) {
                buf[1] = named[c];
                return 2;
        }
        buf[1] = 'x';
        buf[2] = hex[c >> 4];
        buf[3] = hex[c & 15];
        return 4;
}

/* Length of the SGR sequence at s[0..n) ("\x1b[1;31m"), or 0 if there is none. */
static size_t sgr_length(const unsigned char *s, size_t n) {
        size_t i = 2;

        if (n < 3 || s[0] != 0x1b || s[1] != '[')
                return 0;
        while (i < n && i < 64 && ((s[i] >= '0' && s[i] <= '9') || s[i] == ';' || s[i] == ':'))
                i++;
        return i < n && s[i] == 'm' ? i + 1 : 0;
}

/* Room for the escaped form of one character, or one colour sequence (sgr_length() stops at 64). */
#define ESCAPE_TMP 80

/* The escaped form of the character at p[0..n) into tmp: cescape's, or with terminal set
 * terminal_escape_buf()'s. Returns the bytes of p it stands for; *ret_k is the length of tmp. */
static size_t escape_char(const unsigned char *p, size_t n, bool terminal, char tmp[static ESCAPE_TMP],
                          size_t *ret_k) {
        size_t k = 0, len;
        uint32_t cp;

        len = terminal ? sgr_length(p, n) : 0;
        if (len > 0) /* a colour, kept */
                memcpy(tmp, p, len), k = len;
        else if ((len = utf8_char(p, n, &cp)) == 0)
                k = escape_byte(p[0], tmp), len = 1;
        else if (is_control(cp) && !(terminal && (cp == '\t' || cp == '\n')))
                for (size_t b = 0; b < len; b++)
                        k += escape_byte(p[b], tmp + k);
        else if (cp == '\\' && !terminal)
                tmp[k++] = '\\', tmp[k++] = '\\';
        else
                memcpy(tmp, p, len), k = len;
        *ret_k = k;
        return len;
}

static size_t escape_buf(const char *s, size_t n, bool terminal, char *out, size_t out_size) {
        const unsigned char *p = (const unsigned char *) s;
        size_t o = 0;

        for (size_t i = 0; i < n;) {
                char tmp[ESCAPE_TMP];
                size_t k, len = escape_char(p + i, n - i, terminal, tmp, &k);

                if (o + k + 1 > out_size)
                        break;
                memcpy(out + o, tmp, k);
                o += k;
                i += len;
        }
        out[o] = '\0';
        return o;
}

size_t cescape_buf(const char *s, size_t n, char *out, size_t out_size) {
        return escape_buf(s, n, false, out, out_size);
}

size_t terminal_escape_buf(const char *s, size_t n, char *out, size_t out_size) {
        return escape_buf(s, n, true, out, out_size);
}

char *cescape(const char *s) {
        size_t n = strlen(s);
        char *out = malloc(CESCAPE_MAX(n));

        if (out)
                (void) cescape_buf(s, n, out, CESCAPE_MAX(n));
        return out;
}
