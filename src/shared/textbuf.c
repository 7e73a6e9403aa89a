/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * textbuf.c — growing a TextBuf (textbuf.h): doubling, so n appends cost O(n) copies in all.
 */

#include <stdint.h>
#include <stdlib.h>

#include "macro.h"
#include "textbuf.h"

bool textbuf_reserve(TextBuf *b, size_t n) {
        size_t want;
        char *p;

        if (b->oom)
                return false;
        if (n >= SIZE_MAX / 2 - b->len) { /* len + n + 1, and doubling it, would overflow */
                b->oom = true;
                return false;
        }
        if (b->len + n + 1 <= b->size)
                return true;
        want = MAX(b->size * 2, b->len + n + 1);
        p = realloc(b->data, want);
        if (!p) {
                b->oom = true;
                return false;
        }
        b->data = p;
        b->size = want;
        return true;
}
