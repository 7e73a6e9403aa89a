/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * TextBuf: a growable byte buffer for the hand-written JSON encoders (the journal records, journal.c, and
 * Status replies, statusenc.c), which append millions of small pieces and must stay fast. A failed
 * allocation sets oom and every later append is a no-op, so an encoder checks once, at the end. There is
 * always room for a terminating NUL after len. Pure: no logging.
 */

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct TextBuf {
        char *data; /* owned; NULL until the first append */
        size_t len, size;
        bool oom;
} TextBuf;

/* Make room for n more bytes (and a NUL). Returns false (and sets oom) if that cannot be done. */
bool textbuf_reserve(TextBuf *b, size_t n);

static inline void textbuf_put(TextBuf *b, const char *s, size_t n) {
        if (!textbuf_reserve(b, n))
                return;
        memcpy(b->data + b->len, s, n);
        b->len += n;
}

static inline void textbuf_puts(TextBuf *b, const char *s) {
        textbuf_put(b, s, strlen(s));
}
