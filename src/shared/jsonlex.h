/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The one JSON (RFC 8259) lexer under both readers: the strict tree parser (jsonparse.c) and the tree-less
 * scanner (jsonscan.c). It reads tokens at a cursor: whitespace, strings (escapes, \u surrogate pairs →
 * UTF-8), numbers (integer part with overflow detection, then fraction and exponent) and the literals.
 * A fault is recorded as a kind and two offsets, never as text: each reader words its own messages and
 * chooses which offset it reports. Pure: no logging, no I/O.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What went wrong. "start" and "at" are JsonLexError's offsets. */
typedef enum JsonLexFault {
        JSON_LEX_UNTERMINATED, /* the text ended inside a string; start = its quote, at = the end */
        JSON_LEX_EOF_ESCAPE,   /* the text ended after a backslash; start = the backslash, at = the end */
        JSON_LEX_CONTROL,      /* an unescaped byte below 0x20 in a string, at = it */
        JSON_LEX_BAD_UTF8,     /* invalid UTF-8 in a string (only with JSON_LEX_CHECK_UTF8), at = it */
        JSON_LEX_BAD_ESCAPE,   /* start = a backslash, at = the letter after it that starts no escape */
        JSON_LEX_BAD_HEX,      /* \u without four hex digits; start = the backslash, at = the bad digit */
        JSON_LEX_LONE_LOW,     /* \uDC00…\uDFFF first; start = the backslash, at = after it, cp = it */
        JSON_LEX_LONE_HIGH,    /* \uD800…\uDBFF then no \u of a low one; at = where that was wanted */
        JSON_LEX_LONE_HIGH_BAD_HEX, /* \uD800…\uDBFF then \u without four hex digits; at = the bad digit */
        JSON_LEX_NO_DIGIT,          /* a number without a digit (after '-'), at = where one was wanted */
        JSON_LEX_LEADING_ZERO,      /* start = the number, at = its '0' followed by a digit */
        JSON_LEX_NO_FRACTION_DIGIT, /* no digit after '.', at = where one was wanted */
        JSON_LEX_NO_EXPONENT_DIGIT, /* no digit in the exponent, at = where one was wanted */
        JSON_LEX_TRUNCATED_LITERAL, /* a literal's correct prefix cut by the end; at = the end */
        JSON_LEX_BAD_LITERAL,       /* a misspelled literal, at = its first byte */
} JsonLexFault;

typedef struct JsonLexError {
        JsonLexFault fault;
        size_t start; /* byte offset of the token (or the escape) at fault */
        size_t at;    /* byte offset of the offending byte; == the text size when the text ran out */
        uint32_t cp;  /* the surrogate, for JSON_LEX_LONE_LOW and JSON_LEX_LONE_HIGH* */
} JsonLexError;

/* A cursor over buf[0…size) and the scratch buffer strings with escapes are decoded into. Zero-initialise,
 * set buf and size (and pos); free with json_lex_done(). */
typedef struct JsonLex {
        const char *buf;
        size_t size;
        size_t pos;          /* the cursor, 0 ≤ pos ≤ size */
        char *scratch;       /* the last decoded string, NUL-terminated; owned, reused */
        size_t scratch_size; /* allocated bytes of scratch */
        JsonLexError error;  /* the last fault, valid after a call returned -EBADMSG */
} JsonLex;

/* The integer part of a number, -?(0|[1-9][0-9]*), as read by json_lex_integer(). */
typedef struct JsonLexInteger {
        bool negative;
        bool overflow;      /* the magnitude does not fit uint64_t (all digits were still consumed) */
        uint64_t magnitude; /* valid unless overflow */
} JsonLexInteger;

/* json_lex_string() flags. */
enum {
        JSON_LEX_CHECK_UTF8 = 1 << 0, /* reject bytes ≥ 0x80 that are not well-formed UTF-8 */
        JSON_LEX_COPY = 1 << 1,       /* always decode into scratch (NUL-terminated), even without escapes */
};

/* Free the scratch buffer and zero it; the cursor is kept. */
void json_lex_done(JsonLex *lx);

/* Skip JSON whitespace; the next byte (0…255), or -1 at the end of the text. */
static inline int json_lex_skip_ws(JsonLex *lx) {
        for (; lx->pos < lx->size; lx->pos++) {
                char c = lx->buf[lx->pos];
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
                        return (unsigned char) c;
        }
        return -1;
}

/* Read the string whose opening quote is at the cursor, leaving the cursor after its closing quote.
 * Returns 0 with *ret and *ret_len: a pointer into buf when the string has no escapes and JSON_LEX_COPY is
 * not set (not NUL-terminated), else scratch (NUL-terminated, valid until the next string; may contain
 * NULs). Returns -EBADMSG with lx->error set (cursor unspecified), or -ENOMEM. */
int json_lex_string(JsonLex *lx, unsigned flags, const char **ret, size_t *ret_len);

/* Read -?(0|[1-9][0-9]*) at the cursor and leave the cursor after it (a fraction or exponent that follows
 * is not read). Returns 0 with *ret, or -EBADMSG (JSON_LEX_NO_DIGIT, JSON_LEX_LEADING_ZERO). */
int json_lex_integer(JsonLex *lx, JsonLexInteger *ret);

/* After the integer part: read (\.[0-9]+)?([eE][+-]?[0-9]+)?. Returns 1 if either was there, 0 if neither,
 * -EBADMSG (JSON_LEX_NO_FRACTION_DIGIT, JSON_LEX_NO_EXPONENT_DIGIT). */
int json_lex_fraction(JsonLex *lx);

/* Consume word ("true", "false", "null") at the cursor. Returns 1; 0 if the byte at the cursor is not
 * word[0] (nothing consumed); -EBADMSG (JSON_LEX_TRUNCATED_LITERAL, JSON_LEX_BAD_LITERAL). */
int json_lex_literal(JsonLex *lx, const char *word);
