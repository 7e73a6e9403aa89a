/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Line splitting of a byte stream that arrives in arbitrary chunks, with a bounded buffer: the journal
 * side of node output (logfwd.c) turns each line into one entry. Pure: no I/O, no logging. Lines are
 * passed on without their '\n'; any other byte (NUL, invalid UTF-8) is passed on as it is. A line longer
 * than the maximum is cut into pieces of exactly the maximum, so memory per stream stays below it.
 */

#include <stdbool.h>
#include <stddef.h>

/* Why a piece ended, as in journald's _LINE_BREAK= (systemd.journal-fields(7)). */
typedef enum LineBreak {
        LINE_BREAK_NEWLINE, /* a '\n' (not included) */
        LINE_BREAK_MAX,     /* the line went on past the maximum: the rest follows in the next piece */
        LINE_BREAK_EOF,     /* the stream ended without a final '\n' */
        _LINE_BREAK_MAX,
} LineBreak;

/* The piece is only valid during the call. */
typedef void (*linesplit_cb)(const char *line, size_t n, LineBreak brk, void *userdata);

typedef struct LineSplit {
        size_t max; /* the longest piece, > 0; set before the first feed */
        char *buf;  /* the unfinished line, only when one spans chunks; owned */
        size_t len, cap;
} LineSplit;

/* Split buf into lines; complete ones go to cb, the unfinished rest is kept. Returns 0, or -ENOMEM when
 * the rest could not be kept: it is then dropped (the next piece starts mid-line). */
int linesplit_feed(LineSplit *s, const char *buf, size_t n, linesplit_cb cb, void *userdata);

/* The stream ended: pass on an unfinished last line (LINE_BREAK_EOF) and free the buffer. */
void linesplit_finish(LineSplit *s, linesplit_cb cb, void *userdata);

/* Forget an unfinished line and free the buffer. */
void linesplit_reset(LineSplit *s);

/* "newline", "line-max", "eof". */
const char *line_break_to_string(LineBreak b);
