/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A strict RFC 8259 JSON scanner that reads values in place, without building a tree: the caller, who
 * knows the shape it expects, pulls one token at a time (object member, string, integer, literal).
 * Syntax errors return -EBADMSG and leave the offending byte offset and a short description in the
 * scanner, for the caller to word its own message. Pure: no logging, no I/O.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonlex.h"

/* What the next value is, judged from its first byte. */
typedef enum JsonScanKind {
        JSON_SCAN_NONE, /* end of text, or a byte no value starts with */
        JSON_SCAN_NUMBER,
        JSON_SCAN_STRING,
        JSON_SCAN_OBJECT,
        JSON_SCAN_ARRAY,
        JSON_SCAN_BOOLEAN,
        JSON_SCAN_NULL,
} JsonScanKind;

/* Zero-initialise, then json_scan_start(). Fields are read-only for callers. */
typedef struct JsonScan {
        JsonLex lx;        /* the text, the cursor (lx.pos) and the scratch buffer: the last decoded string,
                            * NUL-terminated, valid until the next one */
        const char *token; /* the last integer as written, for messages; not NUL-terminated */
        size_t token_len;
        const char *error;   /* the last syntax error ("" when the text ran out) */
        size_t error_offset; /* its byte offset; == the text size when the text ran out */
} JsonScan;

/* Point s at text[0…size), cursor at 0, no error; keeps the scratch buffer for reuse. */
void json_scan_start(JsonScan *s, const char *text, size_t size);

/* Free the scratch buffer; s may be started again afterwards. */
void json_scan_done(JsonScan *s);

/* Skip whitespace; the next byte (0…255), or -1 at the end of the text. */
int json_scan_peek(JsonScan *s);

/* Byte offset of the cursor from the start of the text. */
size_t json_scan_offset(const JsonScan *s);

/* Skip whitespace; the kind of the next value, from its first byte only (nothing is consumed). */
JsonScanKind json_scan_next_kind(JsonScan *s);

/* Record a syntax error described by what at the cursor (truncation if at the end); returns -EBADMSG. */
int json_scan_fail(JsonScan *s, const char *what);

/* True if the recorded syntax error is that the text ended early. */
bool json_scan_truncated(const JsonScan *s);

/* Consume the literal word ("null", "true", "false") if the next value starts with its first letter.
 * Returns 1, 0 if the next value is something else (nothing consumed), -EBADMSG if misspelled or cut off. */
int json_scan_literal(JsonScan *s, const char *word);

/* Decode the string at the cursor into s->lx.scratch (escapes resolved, \u pairs joined, bytes ≥ 0x80 kept
 * as they are). Returns 0 with *ret (NUL-terminated, may contain NULs) and *ret_len; -EBADMSG; -ENOMEM. */
int json_scan_string(JsonScan *s, const char **ret, size_t *ret_len);

/* Read -?(0|[1-9][0-9]*) at the cursor, token in s->token. Returns 0 and *ret; -EDOM if a fraction or
 * exponent follows (cursor left on it); -ERANGE if negative and not 0, or above UINT64_MAX; -EBADMSG. */
int json_scan_uint(JsonScan *s, uint64_t *ret);

/* Consume '{' if the next value is an object and return 1; 0 if it is something else (nothing consumed). */
int json_scan_begin_object(JsonScan *s);

/* Walk the members of an object after json_scan_begin_object(); *state starts at 0. Returns 1 with the
 * key (in s->lx.scratch, valid until the next string is read) and the cursor on the value; 0 after the
 * closing brace; -EILSEQ for a key containing U+0000 (keys are C strings); -EBADMSG; -ENOMEM. */
int json_scan_member(JsonScan *s, unsigned *state, const char **ret_key);
