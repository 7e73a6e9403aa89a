/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jsonscan.c — a pull scanner for strict RFC 8259 JSON that decodes values in place, without a tree.
 *
 * Owns: whitespace, literals, strings (escapes, \u surrogate pairs → UTF-8), integers (no leading zeros,
 * overflow detection) and the punctuation of objects. Exists because building a json-c tree for a 100,000
 * node journal file costs a million small allocations; a caller that knows the shape it expects (journal.c)
 * pulls exactly the tokens it wants instead.
 *
 * Invariants: the cursor never passes s->end; a syntax error is recorded at the first offending byte
 * (at s->end when the text ran out, so truncation is distinguishable) and returns -EBADMSG; decoded
 * strings live in one reused scratch buffer, so a string is only valid until the next one is read.
 *
 * Deliberately does not: read arrays or fractional numbers (it only recognises them, so the caller can
 * say "got an array"), skip unknown values, detect duplicate keys, validate UTF-8, bound nesting (the
 * caller nests, not this file), word messages with file names or JSON paths, log.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"
#include "macro.h"

void json_scan_start(JsonScan *s, const char *text, size_t size) {
        s->text = s->p = text;
        s->end = text + size;
        s->token = NULL;
        s->token_len = 0;
        s->error = NULL;
        s->error_offset = 0;
}

void json_scan_done(JsonScan *s) {
        s->scratch = mfree(s->scratch);
        s->scratch_size = 0;
}

size_t json_scan_offset(const JsonScan *s) {
        return (size_t) (s->p - s->text);
}

int json_scan_fail(JsonScan *s, const char *what) {
        /* Running out of text is one error whatever was expected, so its description is dropped. */
        s->error = s->p >= s->end ? "" : what;
        s->error_offset = json_scan_offset(s);
        return -EBADMSG;
}

bool json_scan_truncated(const JsonScan *s) {
        return s->error && s->text + s->error_offset >= s->end;
}

int json_scan_peek(JsonScan *s) {
        for (; s->p < s->end; s->p++)
                if (*s->p != ' ' && *s->p != '\t' && *s->p != '\r' && *s->p != '\n')
                        return (unsigned char) *s->p;
        return -1;
}

static int expect(JsonScan *s, char c, const char *what) {
        if (json_scan_peek(s) != (unsigned char) c)
                return json_scan_fail(s, what);
        s->p++;
        return 0;
}

static bool is_digit(int c) {
        return c >= '0' && c <= '9';
}

JsonScanKind json_scan_next_kind(JsonScan *s) {
        int c = json_scan_peek(s);

        if (c == '-' || is_digit(c))
                return JSON_SCAN_NUMBER;
        switch (c) {
        case '"':
                return JSON_SCAN_STRING;
        case '{':
                return JSON_SCAN_OBJECT;
        case '[':
                return JSON_SCAN_ARRAY;
        case 't':
        case 'f':
                return JSON_SCAN_BOOLEAN;
        case 'n':
                return JSON_SCAN_NULL;
        default:
                return JSON_SCAN_NONE;
        }
}

int json_scan_literal(JsonScan *s, const char *word) {
        size_t n = strlen(word), left;

        if (json_scan_peek(s) != word[0])
                return 0;
        left = (size_t) (s->end - s->p);
        /* A correct prefix cut off by the end of the text is truncation, not a misspelling. */
        if (left < n && memcmp(s->p, word, left) == 0) {
                s->p = s->end;
                return json_scan_fail(s, "");
        }
        if (left < n || memcmp(s->p, word, n) != 0)
                return json_scan_fail(s, "invalid literal");
        s->p += n;
        return 1;
}

static int scratch_reserve(JsonScan *s, size_t n) {
        char *p;

        if (n <= s->scratch_size)
                return 0;
        n = MAX(n, MAX(s->scratch_size * 2, (size_t) 256));
        p = realloc(s->scratch, n);
        if (!p)
                return -ENOMEM;
        s->scratch = p;
        s->scratch_size = n;
        return 0;
}

static int read_hex4(JsonScan *s, unsigned *ret) {
        unsigned v = 0;

        for (int i = 0; i < 4; i++, s->p++) {
                char c;

                if (s->p >= s->end)
                        return json_scan_fail(s, "");
                c = *s->p;
                if (!is_digit(c) && !((c | 0x20) >= 'a' && (c | 0x20) <= 'f'))
                        return json_scan_fail(s, "invalid \\u escape");
                v = v * 16 + (unsigned) (is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
        }
        *ret = v;
        return 0;
}

/* The code point of a \u escape (the "\u" already consumed), joining a UTF-16 surrogate pair. */
static int read_unicode_escape(JsonScan *s, uint32_t *ret) {
        unsigned hi, lo;
        int r;

        r = read_hex4(s, &hi);
        if (r < 0)
                return r;
        if (hi >= 0xDC00 && hi <= 0xDFFF)
                return json_scan_fail(s, "lone low surrogate");
        if (hi < 0xD800 || hi > 0xDBFF) {
                *ret = hi;
                return 0;
        }
        if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
                return json_scan_fail(s, "high surrogate without low surrogate");
        s->p += 2;
        r = read_hex4(s, &lo);
        if (r < 0)
                return r;
        if (lo < 0xDC00 || lo > 0xDFFF)
                return json_scan_fail(s, "high surrogate without low surrogate");
        *ret = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
        return 0;
}

/* Encode c (≤ 0x10FFFF, not a surrogate) as UTF-8 into out[0…4); the number of bytes. */
static size_t utf8_put(char *out, uint32_t c) {
        if (c < 0x80) {
                out[0] = (char) c;
                return 1;
        }
        if (c < 0x800) {
                out[0] = (char) (0xC0 | (c >> 6));
                out[1] = (char) (0x80 | (c & 0x3F));
                return 2;
        }
        if (c < 0x10000) {
                out[0] = (char) (0xE0 | (c >> 12));
                out[1] = (char) (0x80 | ((c >> 6) & 0x3F));
                out[2] = (char) (0x80 | (c & 0x3F));
                return 3;
        }
        out[0] = (char) (0xF0 | (c >> 18));
        out[1] = (char) (0x80 | ((c >> 12) & 0x3F));
        out[2] = (char) (0x80 | ((c >> 6) & 0x3F));
        out[3] = (char) (0x80 | (c & 0x3F));
        return 4;
}

/* The escape after a backslash, decoded into out[0…4). */
static int read_escape(JsonScan *s, char *out, size_t *ret_n) {
        static const char simple[][2] = { { '"', '"' },  { '\\', '\\' }, { '/', '/' },  { 'b', '\b' },
                                          { 'f', '\f' }, { 'n', '\n' },  { 'r', '\r' }, { 't', '\t' } };
        uint32_t c = 0;
        char e;
        int r;

        if (s->p >= s->end)
                return json_scan_fail(s, "");
        e = *s->p++;
        for (size_t i = 0; i < ELEMENTSOF(simple); i++)
                if (e == simple[i][0]) {
                        out[0] = simple[i][1];
                        *ret_n = 1;
                        return 0;
                }
        if (e != 'u') {
                s->p--;
                return json_scan_fail(s, "invalid escape");
        }
        r = read_unicode_escape(s, &c);
        if (r < 0)
                return r;
        *ret_n = utf8_put(out, c);
        return 0;
}

int json_scan_string(JsonScan *s, const char **ret, size_t *ret_len) {
        size_t len = 0;
        int r;

        r = expect(s, '"', "expected a string");
        if (r < 0)
                return r;
        for (;;) {
                const char *run = s->p;
                size_t n;

                /* Copy plain runs in one go; +5 leaves room for one escape (≤ 4 bytes) and the NUL. */
                while (s->p < s->end && *s->p != '"' && *s->p != '\\' && (unsigned char) *s->p >= 0x20)
                        s->p++;
                n = (size_t) (s->p - run);
                if (scratch_reserve(s, len + n + 5) < 0)
                        return -ENOMEM;
                memcpy(s->scratch + len, run, n);
                len += n;
                if (s->p >= s->end)
                        return json_scan_fail(s, "");
                if (*s->p == '"')
                        break;
                if (*s->p != '\\')
                        return json_scan_fail(s, "control character in string");
                s->p++;
                r = read_escape(s, s->scratch + len, &n);
                if (r < 0)
                        return r;
                len += n;
        }
        s->p++;
        s->scratch[len] = '\0';
        *ret = s->scratch;
        *ret_len = len;
        return 0;
}

int json_scan_uint(JsonScan *s, uint64_t *ret) {
        bool overflow = false, negative = false;
        uint64_t v = 0;
        int c = json_scan_peek(s);

        s->token = s->p;
        s->token_len = 0;
        if (c == '-') {
                negative = true;
                s->p++;
        }
        if (s->p >= s->end || !is_digit(*s->p))
                return json_scan_fail(s, "expected a digit");
        if (*s->p == '0' && s->p + 1 < s->end && is_digit(s->p[1]))
                return json_scan_fail(s, "leading zero");
        /* Keep consuming digits after an overflow, so the whole token is there for the message. */
        for (; s->p < s->end && is_digit(*s->p); s->p++) {
                unsigned d = (unsigned) (*s->p - '0');

                if (v > (UINT64_MAX - d) / 10)
                        overflow = true;
                else
                        v = v * 10 + d;
        }
        s->token_len = (size_t) (s->p - s->token);
        if (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E'))
                return -EDOM;
        if (overflow || (negative && v != 0))
                return -ERANGE;
        *ret = v;
        return 0;
}

int json_scan_begin_object(JsonScan *s) {
        if (json_scan_peek(s) != '{')
                return 0;
        s->p++;
        return 1;
}

int json_scan_member(JsonScan *s, unsigned *state, const char **ret_key) {
        const char *key;
        size_t len;
        int r, c = json_scan_peek(s);

        if (c == '}') {
                s->p++;
                return 0;
        }
        if (*state > 0) {
                if (c != ',')
                        return json_scan_fail(s, "expected ',' or '}'");
                s->p++;
        }
        *state = 1;
        r = json_scan_string(s, &key, &len);
        if (r < 0)
                return r;
        if (strlen(key) != len)
                return -EILSEQ;
        r = expect(s, ':', "expected ':'");
        if (r < 0)
                return r;
        *ret_key = key;
        return 1;
}
