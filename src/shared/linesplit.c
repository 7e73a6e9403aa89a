/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * linesplit.c — bounded line splitting of a chunked byte stream.
 *
 * Owns: the buffer of one unfinished line. Invariants: len <= max; a line that arrives whole within one
 * chunk is passed on straight from the chunk and never copied, so only a line spanning chunks is
 * buffered; a buffer that grew past LINESPLIT_KEEP_CAP is freed once its line is out, so a burst of long
 * lines does not pin memory for the rest of a quiet stream. A buffer that is exactly full is held until
 * the next byte shows whether the line ends there ('\n': one whole line) or goes on (a LINE_BREAK_MAX
 * piece), so a line of exactly max bytes never turns into a full piece plus an empty line.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "linesplit.h"
#include "macro.h"

#define LINESPLIT_MIN_CAP 256U
#define LINESPLIT_KEEP_CAP 4096U

static int linesplit_append(LineSplit *s, const char *p, size_t k) {
        if (s->len + k > s->cap) {
                size_t cap = MAX(s->cap, LINESPLIT_MIN_CAP);
                char *b;

                while (cap < s->len + k)
                        cap *= 2;
                cap = MIN(cap, s->max);
                b = realloc(s->buf, cap);
                if (!b)
                        return -ENOMEM;
                s->buf = b;
                s->cap = cap;
        }
        memcpy(s->buf + s->len, p, k);
        s->len += k;
        return 0;
}

static void linesplit_emit_buffer(LineSplit *s, LineBreak brk, linesplit_cb cb, void *userdata) {
        cb(s->buf, s->len, brk, userdata);
        s->len = 0;
        if (s->cap > LINESPLIT_KEEP_CAP) {
                s->buf = mfree(s->buf);
                s->cap = 0;
        }
}

int linesplit_feed(LineSplit *s, const char *buf, size_t n, linesplit_cb cb, void *userdata) {
        assert(s && s->max > 0 && cb);

        while (n > 0) {
                const char *nl;
                size_t take, k;

                if (s->len == s->max) {
                        /* Held full: this byte decides whether it was a whole line. */
                        bool ends = buf[0] == '\n';

                        linesplit_emit_buffer(s, ends ? LINE_BREAK_NEWLINE : LINE_BREAK_MAX, cb, userdata);
                        if (ends) {
                                buf++, n--;
                                continue;
                        }
                }

                nl = memchr(buf, '\n', n);
                take = nl ? (size_t) (nl - buf) : n;
                if (s->len == 0 && nl && take <= s->max) {
                        cb(buf, take, LINE_BREAK_NEWLINE, userdata); /* the common case: no copy */
                        buf += take + 1, n -= take + 1;
                        continue;
                }
                if (s->len == 0 && take > s->max) {
                        cb(buf, s->max, LINE_BREAK_MAX, userdata); /* more of this line follows */
                        buf += s->max, n -= s->max;
                        continue;
                }

                k = MIN(take, s->max - s->len);
                if (linesplit_append(s, buf, k) < 0) {
                        linesplit_reset(s);
                        return -ENOMEM;
                }
                buf += k, n -= k;
                if (k == take && nl) {
                        linesplit_emit_buffer(s, LINE_BREAK_NEWLINE, cb, userdata);
                        buf++, n--;
                }
        }
        return 0;
}

void linesplit_finish(LineSplit *s, linesplit_cb cb, void *userdata) {
        assert(s && cb);

        if (s->len > 0)
                cb(s->buf, s->len, LINE_BREAK_EOF, userdata);
        linesplit_reset(s);
}

void linesplit_reset(LineSplit *s) {
        assert(s);

        s->buf = mfree(s->buf);
        s->len = s->cap = 0;
}

const char *line_break_to_string(LineBreak b) {
        static const char *const table[_LINE_BREAK_MAX] = {
                [LINE_BREAK_NEWLINE] = "newline",
                [LINE_BREAK_MAX] = "line-max",
                [LINE_BREAK_EOF] = "eof",
        };

        return b >= 0 && b < _LINE_BREAK_MAX ? table[b] : NULL;
}
