/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ninjafile-eval.c — the parts of reading build.ninja below statements: the string map the parser and
 * the graph index use, the value/path lexer with ninja's $-escapes ($$, "$ ", $:, $ + newline, $name,
 * ${name}) and variable expansion through a lookup callback, ninja's shell quoting of $in/$out, and the
 * statement-level lexing (spaces and continuations, identifiers, indented bindings).
 *
 * Invariants: an expansion never grows past the caller's max (-E2BIG), so a chain of variables doubling
 * each other cannot exhaust memory; the lexer never reads past lx->end. Pure: no logging.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "ninjafile-internal.h"

/* ---- StrMap ---- */

static size_t hash(const char *k, size_t n) {
        uint64_t h = 14695981039346656037ULL; /* FNV-1a */

        for (size_t i = 0; i < n; i++)
                h = (h ^ (unsigned char) k[i]) * 1099511628211ULL;
        return (size_t) h;
}

static size_t slot(const StrMap *m, const char *k, size_t kn) {
        size_t i = hash(k, kn) & (m->cap - 1);

        while (m->keys[i] && (strlen(m->keys[i]) != kn || memcmp(m->keys[i], k, kn) != 0))
                i = (i + 1) & (m->cap - 1);
        return i;
}

void *strmap_get(const StrMap *m, const char *k, size_t kn) {
        if (m->cap == 0)
                return NULL;
        return m->vals[slot(m, k, kn)];
}

static int grow(StrMap *m) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        StrMap n = { .keys = calloc(cap, sizeof(char *)), .vals = calloc(cap, sizeof(void *)), .cap = cap };

        if (!n.keys || !n.vals) {
                free(n.keys);
                free(n.vals);
                return -ENOMEM;
        }
        for (size_t i = 0; i < m->cap; i++)
                if (m->keys[i]) {
                        size_t s = slot(&n, m->keys[i], strlen(m->keys[i]));
                        n.keys[s] = m->keys[i];
                        n.vals[s] = m->vals[i];
                }
        n.n = m->n;
        free(m->keys);
        free(m->vals);
        *m = n;
        return 0;
}

int strmap_put(StrMap *m, const char *k, size_t kn, void *v, void **ret_old) {
        size_t s;

        if (ret_old)
                *ret_old = NULL;
        if ((m->n + 1) * 2 > m->cap && grow(m) < 0)
                return -ENOMEM;
        s = slot(m, k, kn);
        if (m->keys[s]) {
                if (ret_old)
                        *ret_old = m->vals[s];
                m->vals[s] = v;
                return 0;
        }
        m->keys[s] = strndup(k, kn);
        if (!m->keys[s])
                return -ENOMEM;
        m->vals[s] = v;
        m->n++;
        return 0;
}

void strmap_done(StrMap *m, void (*free_val)(void *)) {
        for (size_t i = 0; i < m->cap; i++) {
                free(m->keys[i]);
                if (free_val && m->keys[i])
                        free_val(m->vals[i]);
        }
        free(m->keys);
        free(m->vals);
        *m = (StrMap){};
}

/* ---- statements ---- */

void ninja_skip_ws(NinjaLex *lx) {
        for (;;) {
                if (lx->p < lx->end && *lx->p == ' ')
                        lx->p++;
                else if (lx->end - lx->p >= 2 && lx->p[0] == '$' && lx->p[1] == '\n') {
                        lx->p += 2;
                        lx->line++;
                } else if (lx->end - lx->p >= 3 && memcmp(lx->p, "$\r\n", 3) == 0) {
                        lx->p += 3;
                        lx->line++;
                } else
                        return;
        }
}

size_t ninja_read_ident(NinjaLex *lx) {
        const char *s = lx->p;

        while (lx->p < lx->end &&
               (strchr("_.-", *lx->p) || (*lx->p >= 'a' && *lx->p <= 'z') ||
                (*lx->p >= 'A' && *lx->p <= 'Z') || (*lx->p >= '0' && *lx->p <= '9')) &&
               *lx->p != '\0')
                lx->p++;
        return (size_t) (lx->p - s);
}

bool ninja_at_newline(const NinjaLex *lx) {
        return lx->p >= lx->end || *lx->p == '\n' ||
                (*lx->p == '\r' && lx->end - lx->p >= 2 && lx->p[1] == '\n');
}

/* At the start of a line: skip comment lines; true if an indented binding follows (lx->p after the
 * indent), else false with lx->p at the start of that line. */
bool ninja_peek_binding(NinjaLex *lx) {
        for (;;) {
                const char *start = lx->p;

                while (lx->p < lx->end && *lx->p == ' ')
                        lx->p++;
                if (lx->p < lx->end && *lx->p == '#') {
                        while (lx->p < lx->end && *lx->p != '\n')
                                lx->p++;
                        if (lx->p < lx->end)
                                lx->p++;
                        lx->line++;
                        continue;
                }
                if (lx->p > start && !ninja_at_newline(lx))
                        return true;
                lx->p = start;
                return false;
        }
}

/* ---- values ---- */

static bool is_varname_char(char c, bool braced) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                c == '-' || (braced && c == '.');
}

static int put(TextBuf *out, const char *s, size_t n, size_t max) {
        if (!out)
                return 0;
        if (out->len + n > max)
                return -E2BIG;
        textbuf_put(out, s, n);
        return out->oom ? -ENOMEM : 0;
}

static int lex_error(NinjaLex *lx, const char *what) {
        lx->error = what;
        return -EINVAL;
}

/* The escape at lx->p (just after '$'). */
static int lex_dollar(NinjaLex *lx, NinjaLookupFn lookup, void *ctx, TextBuf *out, size_t max) {
        const char *p = lx->p, *name;
        size_t n;
        int r;

        if (p >= lx->end)
                return lex_error(lx, "'$' at the end of the file (a literal $ is written $$)");
        if (*p == '$' || *p == ' ' || *p == ':') {
                lx->p = p + 1;
                return put(out, p, 1, max);
        }
        if (*p == '\n' || (*p == '\r' && p + 1 < lx->end && p[1] == '\n')) { /* line continuation */
                p += *p == '\r' ? 2 : 1;
                lx->line++;
                while (p < lx->end && *p == ' ')
                        p++;
                lx->p = p;
                return 0;
        }
        if (*p == '{') {
                name = ++p;
                while (p < lx->end && is_varname_char(*p, true))
                        p++;
                if (p >= lx->end || *p != '}' || p == name)
                        return lex_error(lx, "bad ${name} reference (a literal $ is written $$)");
                n = (size_t) (p - name);
                p++;
        } else {
                name = p;
                while (p < lx->end && is_varname_char(*p, false))
                        p++;
                if (p == name)
                        return lex_error(lx, "bad $-escape (a literal $ is written $$)");
                n = (size_t) (p - name);
        }
        lx->p = p;
        if (!lookup)
                return 0;
        r = lookup(ctx, name, n, out);
        if (r < 0)
                return r;
        return out->len > max ? -E2BIG : 0;
}

int ninja_lex_value(NinjaLex *lx, bool path, NinjaLookupFn lookup, void *ctx, TextBuf *out, size_t max) {
        int r;

        while (lx->p < lx->end) {
                const char *s = lx->p;
                char c = *s;

                if (c == '\n' || (c == '\r' && s + 1 < lx->end && s[1] == '\n'))
                        return 0;
                if (path && (c == ' ' || c == ':' || c == '|'))
                        return 0;
                if (c == '$') {
                        lx->p++;
                        r = lex_dollar(lx, lookup, ctx, out, max);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (c == '\0')
                        return lex_error(lx, "NUL byte");
                while (lx->p < lx->end && *lx->p != '$' && *lx->p != '\n' && *lx->p != '\r' &&
                       *lx->p != '\0' && !(path && (*lx->p == ' ' || *lx->p == ':' || *lx->p == '|')))
                        lx->p++;
                if (lx->p == s) /* a lone '\r' */
                        lx->p++;
                r = put(out, s, (size_t) (lx->p - s), max);
                if (r < 0)
                        return r;
        }
        return 0;
}

void ninjafile_shell_quote(TextBuf *out, const char *path) {
        if (path[strspn(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-./")] ==
            '\0') {
                textbuf_puts(out, path);
                return;
        }
        textbuf_puts(out, "'");
        for (const char *p = path; *p; p++)
                if (*p == '\'')
                        textbuf_puts(out, "'\\''");
                else
                        textbuf_put(out, p, 1);
        textbuf_puts(out, "'");
}

size_t ninjafile_canon_path(char *path) {
        bool abs = path[0] == '/', any = path[0] != '\0';
        size_t w = abs ? 1 : 0, base = w, n_real = 0;
        const char *src = path + w;

        while (*src) {
                const char *c = src;
                size_t len;

                while (*src && *src != '/')
                        src++;
                len = (size_t) (src - c);
                if (*src)
                        src++;
                if (len == 0 || (len == 1 && c[0] == '.'))
                        continue;
                if (len == 2 && c[0] == '.' && c[1] == '.') {
                        if (n_real > 0) { /* drop the last component and its '/' */
                                while (w > base && path[w - 1] != '/')
                                        w--;
                                w = w > base ? w - 1 : base;
                                n_real--;
                                continue;
                        }
                        if (abs) /* "/.." is "/" */
                                continue;
                } else
                        n_real++;
                if (w > base)
                        path[w++] = '/';
                memmove(path + w, c, len);
                w += len;
        }
        if (w == 0 && any) /* "./" */
                path[w++] = '.';
        path[w] = '\0';
        return w;
}

const char *ninja_show_char(char c, char buf[static 16]) {
        if ((unsigned char) c > 0x20 && (unsigned char) c < 0x7f)
                snprintf(buf, 16, "'%c'", c);
        else
                snprintf(buf, 16, "byte 0x%02x", (unsigned char) c);
        return buf;
}
