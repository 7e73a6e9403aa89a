/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jsonpretty.c — JSON text re-indented as json-c's pretty printer would, in one pass over the text.
 *
 * Owns only the output buffer it returns. Invariants: bytes inside strings (escapes included) are copied
 * untouched; outside them whitespace and commas are dropped and written again where json-c puts them; the
 * nesting is tracked in a stack as deep as the text nests, so a deep document costs memory, not recursion.
 * Deliberately does not check that scalars are well formed: the text comes from orchd, which wrote it.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpretty.h"
#include "macro.h"

typedef struct Out {
        char *data;
        size_t len, size;
        bool oom;
} Out;

static void out_put(Out *o, const char *p, size_t n) {
        if (o->oom)
                return;
        if (o->len + n + 1 > o->size) {
                size_t want = MAX(o->size * 2, o->len + n + 1);
                char *d = realloc(o->data, want);

                if (!d) {
                        o->oom = true;
                        return;
                }
                o->data = d;
                o->size = want;
        }
        memcpy(o->data + o->len, p, n);
        o->len += n;
}

static void out_indent(Out *o, size_t level) {
        static const char spaces[] = "                                ";

        out_put(o, "\n", 1);
        for (size_t n = level * 2; n > 0;) {
                size_t k = MIN(n, sizeof(spaces) - 1);

                out_put(o, spaces, k);
                n -= k;
        }
}

/* The length of the string token at p (its quotes included), or 0 if it does not end before end. */
static size_t string_len(const char *p, const char *end) {
        for (const char *q = p + 1; q < end; q++) {
                if (*q == '\\')
                        q++;
                else if (*q == '"')
                        return (size_t) (q - p) + 1;
        }
        return 0;
}

enum {
        OPEN_OBJECT = 1 << 0, /* else an array */
        OPEN_HAD = 1 << 1,    /* an element was written: the next one follows a comma */
};

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int json_pretty(const char *text, size_t size, char **ret, size_t *ret_len, size_t *ret_used) {
        const char *p = text, *end = text + size;
        _cleanup_free_ uint8_t *open = NULL; /* per open bracket: OPEN_OBJECT, OPEN_HAD (an element yet) */
        size_t depth = 0, cap = 0;
        bool item = false; /* the next token starts an element (after "[", "{" or ",") */
        Out o = {};

        while (p < end && is_space(*p))
                p++;
        do {
                char c;

                if (p >= end)
                        goto bad;
                c = *p;
                if (is_space(c) || c == ',') {
                        item = item || c == ',';
                        p++;
                        continue;
                }
                if (c == '}' || c == ']') {
                        if (depth == 0 || !(open[depth - 1] & OPEN_OBJECT) != (c == ']'))
                                goto bad;
                        out_indent(&o, --depth); /* json-c: "{\n}" for an empty object too */
                        out_put(&o, p++, 1);
                        item = false;
                        continue;
                }
                if (c == ':') {
                        out_put(&o, ": ", 2);
                        p++;
                        continue;
                }
                if (item && depth > 0) {
                        if (open[depth - 1] & OPEN_HAD)
                                out_put(&o, ",", 1);
                        open[depth - 1] |= OPEN_HAD;
                        out_indent(&o, depth);
                        item = false;
                }
                if (c == '{' || c == '[') {
                        if (depth == cap) {
                                uint8_t *h = reallocarray(open, cap = MAX(cap * 2, (size_t) 16), 1);

                                if (!h) {
                                        free(o.data);
                                        return -ENOMEM;
                                }
                                open = h;
                        }
                        open[depth++] = c == '{' ? OPEN_OBJECT : 0;
                        out_put(&o, p++, 1);
                        item = true;
                } else if (c == '"') {
                        size_t n = string_len(p, end);

                        if (n == 0)
                                goto bad;
                        out_put(&o, p, n);
                        p += n;
                } else {
                        const char *q = p;

                        while (q < end && !is_space(*q) && !strchr(",:]}", *q))
                                q++;
                        out_put(&o, p, (size_t) (q - p));
                        p = q;
                }
        } while (depth > 0);

        out_put(&o, "", 0); /* room for the NUL, even for an empty output */
        if (o.oom) {
                free(o.data);
                return -ENOMEM;
        }
        o.data[o.len] = '\0';
        *ret = o.data;
        *ret_len = o.len;
        *ret_used = (size_t) (p - text);
        return 0;
bad:
        free(o.data);
        return -EBADMSG;
}
