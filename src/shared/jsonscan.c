/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jsonscan.c — a pull scanner for strict RFC 8259 JSON that decodes values in place, without a tree.
 *
 * Owns: the pull interface (what comes next, one member, one string, one integer, one literal), the
 * punctuation of objects and the scanner's wording of faults. The tokens themselves (strings with their
 * escapes, integers with overflow detection, literals) are read by jsonlex.c, the lexer the strict tree
 * parser uses too, so both readers accept the same tokens. Exists because building a json-c tree for a
 * 100,000 node journal file costs a million small allocations; a caller that knows the shape it expects
 * (journal.c) pulls exactly the tokens it wants instead.
 *
 * Invariants: the cursor (s->lx.pos) never passes the end of the text; a syntax error is recorded at the
 * first offending byte (at the text size when the text ran out, so truncation is distinguishable) and
 * returns -EBADMSG; decoded strings live in one reused scratch buffer, so a string is only valid until the
 * next one is read.
 *
 * Deliberately does not: read arrays or fractional numbers (it only recognises them, so the caller can
 * say "got an array"), skip unknown values, detect duplicate keys, validate UTF-8, bound nesting (the
 * caller nests, not this file), word messages with file names or JSON paths, log.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jsonlex.h"
#include "jsonscan.h"
#include "macro.h"

void json_scan_start(JsonScan *s, const char *text, size_t size) {
        s->lx.buf = text;
        s->lx.size = size;
        s->lx.pos = 0;
        s->token = NULL;
        s->token_len = 0;
        s->error = NULL;
        s->error_offset = 0;
}

void json_scan_done(JsonScan *s) {
        json_lex_done(&s->lx);
}

size_t json_scan_offset(const JsonScan *s) {
        return s->lx.pos;
}

int json_scan_fail(JsonScan *s, const char *what) {
        /* Running out of text is one error whatever was expected, so its description is dropped. */
        s->error = s->lx.pos >= s->lx.size ? "" : what;
        s->error_offset = s->lx.pos;
        return -EBADMSG;
}

bool json_scan_truncated(const JsonScan *s) {
        return s->error && s->error_offset >= s->lx.size;
}

int json_scan_peek(JsonScan *s) {
        return json_lex_skip_ws(&s->lx);
}

static int expect(JsonScan *s, char c, const char *what) {
        if (json_scan_peek(s) != (unsigned char) c)
                return json_scan_fail(s, what);
        s->lx.pos++;
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

/* The scanner's wording of each lexer fault; "" (truncation) is chosen by json_scan_fail() at the end. */
static const char *const fault_text[] = {
        [JSON_LEX_UNTERMINATED] = "",
        [JSON_LEX_EOF_ESCAPE] = "",
        [JSON_LEX_CONTROL] = "control character in string",
        [JSON_LEX_BAD_UTF8] = "invalid UTF-8 in string",
        [JSON_LEX_BAD_ESCAPE] = "invalid escape",
        [JSON_LEX_BAD_HEX] = "invalid \\u escape",
        [JSON_LEX_LONE_LOW] = "lone low surrogate",
        [JSON_LEX_LONE_HIGH] = "high surrogate without low surrogate",
        [JSON_LEX_LONE_HIGH_BAD_HEX] = "invalid \\u escape",
        [JSON_LEX_NO_DIGIT] = "expected a digit",
        [JSON_LEX_LEADING_ZERO] = "leading zero",
        [JSON_LEX_NO_FRACTION_DIGIT] = "expected a digit",
        [JSON_LEX_NO_EXPONENT_DIGIT] = "expected a digit",
        [JSON_LEX_TRUNCATED_LITERAL] = "",
        [JSON_LEX_BAD_LITERAL] = "invalid literal",
};

/* A lexer fault becomes the scanner's error, at the offending byte. */
static int lex_fault(JsonScan *s, int r) {
        if (r != -EBADMSG)
                return r;
        s->lx.pos = s->lx.error.at;
        return json_scan_fail(s, fault_text[s->lx.error.fault]);
}

int json_scan_literal(JsonScan *s, const char *word) {
        (void) json_scan_peek(s);
        return lex_fault(s, json_lex_literal(&s->lx, word));
}

/* json_scan_string(), inlined into json_scan_member(): one call less per key of every record. */
static inline int scan_string(JsonScan *s, const char **ret, size_t *ret_len) {
        if (json_scan_peek(s) != '"')
                return json_scan_fail(s, "expected a string");
        return lex_fault(s, json_lex_string(&s->lx, JSON_LEX_COPY, ret, ret_len));
}

int json_scan_string(JsonScan *s, const char **ret, size_t *ret_len) {
        return scan_string(s, ret, ret_len);
}

int json_scan_uint(JsonScan *s, uint64_t *ret) {
        JsonLexInteger v;
        int r;

        (void) json_scan_peek(s);
        s->token = s->lx.buf + s->lx.pos;
        s->token_len = 0;
        r = json_lex_integer(&s->lx, &v);
        if (r < 0)
                return lex_fault(s, r);
        s->token_len = (size_t) (s->lx.buf + s->lx.pos - s->token);
        if (s->lx.pos < s->lx.size &&
            (s->lx.buf[s->lx.pos] == '.' || s->lx.buf[s->lx.pos] == 'e' || s->lx.buf[s->lx.pos] == 'E'))
                return -EDOM;
        if (v.overflow || (v.negative && v.magnitude != 0))
                return -ERANGE;
        *ret = v.magnitude;
        return 0;
}

int json_scan_begin_object(JsonScan *s) {
        if (json_scan_peek(s) != '{')
                return 0;
        s->lx.pos++;
        return 1;
}

int json_scan_member(JsonScan *s, unsigned *state, const char **ret_key) {
        const char *key;
        size_t len;
        int r, c = json_scan_peek(s);

        if (c == '}') {
                s->lx.pos++;
                return 0;
        }
        if (*state > 0) {
                if (c != ',')
                        return json_scan_fail(s, "expected ',' or '}'");
                s->lx.pos++;
        }
        *state = 1;
        r = scan_string(s, &key, &len);
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
