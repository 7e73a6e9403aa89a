/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jsonlex.c — the JSON lexer shared by the strict tree parser (jsonparse.c) and the tree-less scanner
 * (jsonscan.c), so both accept and refuse exactly the same tokens.
 *
 * Owns: the token grammar of RFC 8259 (whitespace, strings and their escapes, \u surrogate pairs, the
 * number grammar with leading-zero and uint64 overflow detection, the literals) and the scratch buffer
 * escaped strings are decoded into. UTF-8 itself is utf8.c's.
 *
 * Invariants: the cursor never passes the end of the text; a fault is reported as a kind with the offset
 * of the token and of the offending byte (the text size when the text ran out), so each reader keeps its
 * own wording and its own choice of offset. A string without escapes is returned in place unless the
 * caller asks for a copy: the parser's hot path copies nothing.
 *
 * Deliberately does not: know about structure (objects, arrays, depth, duplicate keys), convert numbers
 * to doubles, word messages, log.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jsonlex.h"
#include "macro.h"
#include "utf8.h"

/* Bytes that end a plain run inside a string: STOP always, STOP_UTF8 too when UTF-8 is checked. */
enum { STOP = 1, STOP_UTF8 = 2 };
static const unsigned char string_stop[256] = {
        [0x00 ... 0x1F] = STOP,
        ['"'] = STOP,
        ['\\'] = STOP,
        [0x80 ... 0xFF] = STOP_UTF8,
};

/* The end of the run of plain bytes from p: the first byte whose string_stop entry has a bit of mask, or
 * size. The hot loop of reading state files: four bytes per round where there is room. */
static inline size_t plain_run(const char *buf, size_t p, size_t size, unsigned char mask) {
        const unsigned char *q = (const unsigned char *) buf + p, *end = (const unsigned char *) buf + size;

        for (; end - q >= 4; q += 4) {
                if (string_stop[q[0]] & mask)
                        return (size_t) ((const char *) q - buf);
                if (string_stop[q[1]] & mask)
                        return (size_t) ((const char *) q + 1 - buf);
                if (string_stop[q[2]] & mask)
                        return (size_t) ((const char *) q + 2 - buf);
                if (string_stop[q[3]] & mask)
                        return (size_t) ((const char *) q + 3 - buf);
        }
        while (q < end && !(string_stop[*q] & mask))
                q++;
        return (size_t) ((const char *) q - buf);
}

void json_lex_done(JsonLex *lx) {
        lx->scratch = mfree(lx->scratch);
        lx->scratch_size = 0;
}

static int lex_fail(JsonLex *lx, JsonLexFault fault, size_t start, size_t at, uint32_t cp) {
        lx->error = (JsonLexError){ .fault = fault, .start = start, .at = at, .cp = cp };
        return -EBADMSG;
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* Append data[0…n) to the scratch string of length *len, keeping it NUL-terminated. */
static inline int scratch_append(JsonLex *lx, size_t *len, const char *data, size_t n) {
        size_t need = *len + n + 1;

        if (need > lx->scratch_size) {
                size_t na = MAX(need, MAX(lx->scratch_size * 2, (size_t) 256));
                char *s = realloc(lx->scratch, na);

                if (!s)
                        return -ENOMEM;
                lx->scratch = s;
                lx->scratch_size = na;
        }
        memcpy(lx->scratch + *len, data, n);
        *len += n;
        lx->scratch[*len] = '\0';
        return 0;
}

/* Four hex digits at *q; advances *q past those read. False (with *q on the bad digit, or at the end). */
static bool read_hex4(const JsonLex *lx, size_t *q, uint32_t *ret) {
        uint32_t v = 0;

        for (int i = 0; i < 4; i++, (*q)++) {
                char c;

                if (*q >= lx->size)
                        return false;
                c = lx->buf[*q];
                if (is_digit(c))
                        v = v * 16 + (uint32_t) (c - '0');
                else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
                        v = v * 16 + (uint32_t) ((c | 0x20) - 'a' + 10);
                else
                        return false;
        }
        *ret = v;
        return true;
}

/* The code point of the \u escape whose backslash is at `at`, joining a UTF-16 surrogate pair; *q ends
 * after the escape (or the pair). */
static int read_unicode_escape(JsonLex *lx, size_t at, size_t *q, uint32_t *ret) {
        uint32_t hi, lo;

        *q = at + 2;
        if (!read_hex4(lx, q, &hi))
                return lex_fail(lx, JSON_LEX_BAD_HEX, at, *q, 0);
        if (hi >= 0xDC00 && hi <= 0xDFFF)
                return lex_fail(lx, JSON_LEX_LONE_LOW, at, *q, hi);
        if (hi < 0xD800 || hi > 0xDBFF) {
                *ret = hi;
                return 0;
        }
        if (lx->size - *q < 2 || lx->buf[*q] != '\\' || lx->buf[*q + 1] != 'u')
                return lex_fail(lx, JSON_LEX_LONE_HIGH, at, *q, hi);
        *q += 2;
        if (!read_hex4(lx, q, &lo))
                return lex_fail(lx, JSON_LEX_LONE_HIGH_BAD_HEX, at, *q, hi);
        if (lo < 0xDC00 || lo > 0xDFFF)
                return lex_fail(lx, JSON_LEX_LONE_HIGH, at, *q, hi);
        *ret = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
        return 0;
}

/* Decode the escape whose backslash is at *p onto the scratch string of length *len; *p ends after it. */
static int read_escape(JsonLex *lx, size_t *p, size_t *len) {
        static const char simple_in[] = "\"\\/bfnrt", simple_out[] = "\"\\/\b\f\n\r\t";
        size_t at = *p, q;
        const char *s;
        uint32_t cp;
        char out[4];
        int r;

        if (at + 1 >= lx->size)
                return lex_fail(lx, JSON_LEX_EOF_ESCAPE, at, lx->size, 0);
        s = memchr(simple_in, lx->buf[at + 1], sizeof(simple_in) - 1);
        if (s) {
                *p = at + 2;
                return scratch_append(lx, len, &simple_out[s - simple_in], 1);
        }
        if (lx->buf[at + 1] != 'u')
                return lex_fail(lx, JSON_LEX_BAD_ESCAPE, at, at + 1, 0);
        r = read_unicode_escape(lx, at, &q, &cp);
        if (r < 0)
                return r;
        *p = q;
        return scratch_append(lx, len, out, utf8_encode(cp, out));
}

int json_lex_string(JsonLex *lx, unsigned flags, const char **ret, size_t *ret_len) {
        const unsigned char mask = (flags & JSON_LEX_CHECK_UTF8) ? STOP | STOP_UTF8 : STOP;
        const char *buf = lx->buf;
        size_t start = lx->pos, p = start + 1, seg = p, len = 0;
        bool escaped = false;
        int r;

        for (;;) {
                unsigned char c;

                p = plain_run(buf, p, lx->size, mask);
                if (p >= lx->size)
                        return lex_fail(lx, JSON_LEX_UNTERMINATED, start, lx->size, 0);
                c = (unsigned char) buf[p];
                if (c == '"')
                        break;
                if (c == '\\') {
                        r = scratch_append(lx, &len, buf + seg, p - seg);
                        if (r >= 0)
                                r = read_escape(lx, &p, &len);
                        if (r < 0)
                                return r;
                        escaped = true;
                        seg = p;
                } else if (c < 0x20)
                        return lex_fail(lx, JSON_LEX_CONTROL, start, p, 0);
                else {
                        size_t n = utf8_valid_len(buf + p, lx->size - p);

                        if (n == 0)
                                return lex_fail(lx, JSON_LEX_BAD_UTF8, start, p, 0);
                        p += n;
                }
        }

        if (escaped || (flags & JSON_LEX_COPY)) {
                r = scratch_append(lx, &len, buf + seg, p - seg);
                if (r < 0)
                        return r;
                *ret = lx->scratch;
                *ret_len = len;
        } else {
                *ret = buf + start + 1;
                *ret_len = p - start - 1;
        }
        lx->pos = p + 1; /* the closing quote */
        return 0;
}

int json_lex_integer(JsonLex *lx, JsonLexInteger *ret) {
        size_t start = lx->pos, p = start;
        JsonLexInteger v = {};

        if (p < lx->size && lx->buf[p] == '-') {
                v.negative = true;
                p++;
        }
        if (p >= lx->size || !is_digit(lx->buf[p]))
                return lex_fail(lx, JSON_LEX_NO_DIGIT, start, p, 0);
        if (lx->buf[p] == '0' && p + 1 < lx->size && is_digit(lx->buf[p + 1]))
                return lex_fail(lx, JSON_LEX_LEADING_ZERO, start, p, 0);
        /* 19 digits always fit uint64_t (its maximum has 20): only digits after those need the check. */
        for (size_t safe = MIN(lx->size, p + 19); p < safe && is_digit(lx->buf[p]); p++)
                v.magnitude = v.magnitude * 10 + (unsigned) (lx->buf[p] - '0');
        /* Keep consuming digits after an overflow, so the whole token is there for messages. */
        for (; p < lx->size && is_digit(lx->buf[p]); p++) {
                unsigned d = (unsigned) (lx->buf[p] - '0');

                if (v.overflow || v.magnitude > (UINT64_MAX - d) / 10)
                        v.overflow = true;
                else
                        v.magnitude = v.magnitude * 10 + d;
        }
        lx->pos = p;
        *ret = v;
        return 0;
}

/* Skip [0-9]+ at *p; false if there is no digit there. */
static bool skip_digits(const JsonLex *lx, size_t *p) {
        size_t from = *p;

        while (*p < lx->size && is_digit(lx->buf[*p]))
                (*p)++;
        return *p > from;
}

int json_lex_fraction(JsonLex *lx) {
        size_t start = lx->pos, p = start;
        bool any = false;

        if (p < lx->size && lx->buf[p] == '.') {
                p++;
                if (!skip_digits(lx, &p))
                        return lex_fail(lx, JSON_LEX_NO_FRACTION_DIGIT, start, p, 0);
                any = true;
        }
        if (p < lx->size && (lx->buf[p] == 'e' || lx->buf[p] == 'E')) {
                p++;
                if (p < lx->size && (lx->buf[p] == '+' || lx->buf[p] == '-'))
                        p++;
                if (!skip_digits(lx, &p))
                        return lex_fail(lx, JSON_LEX_NO_EXPONENT_DIGIT, start, p, 0);
                any = true;
        }
        lx->pos = p;
        return any;
}

int json_lex_literal(JsonLex *lx, const char *word) {
        size_t n = strlen(word), left = lx->size - lx->pos;
        const char *s = lx->buf + lx->pos;

        if (left == 0 || *s != word[0])
                return 0;
        /* A correct prefix cut off by the end of the text is truncation, not a misspelling. */
        if (left < n && memcmp(s, word, left) == 0)
                return lex_fail(lx, JSON_LEX_TRUNCATED_LITERAL, lx->pos, lx->size, 0);
        if (left < n || memcmp(s, word, n) != 0)
                return lex_fail(lx, JSON_LEX_BAD_LITERAL, lx->pos, lx->pos, 0);
        lx->pos += n;
        return 1;
}
