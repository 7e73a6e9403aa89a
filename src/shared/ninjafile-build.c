/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ninjafile-build.c — the build statement of build.ninja (ninjafile.h): its outputs, rule, inputs of each
 * kind and bindings, and, once every file is read, its rule variables (command, rspfile…) in ninja's
 * order: $in/$in_newline/$out, the build's bindings, the rule's own (which may refer to each other, to a
 * bounded depth), then the file scopes with their final values.
 *
 * Invariants: an output has one edge; a phony edge's own outputs are not its inputs. Pure: no logging.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "ninjafile-internal.h"

static int edge_path_lookup(void *ctx, const char *name, size_t n, TextBuf *out) {
        const EdgeTmp *t = ctx;
        const char *v = strmap_get(&t->bindings, name, n);

        if (v) {
                textbuf_puts(out, v);
                return out->oom ? -ENOMEM : 0;
        }
        return ninja_scope_lookup((void *) t->scope, name, n, out);
}

typedef struct BuildPaths {
        RawPath *raw;
        size_t n, alloc;
        size_t n_outs, n_explicit_outs, n_explicit_ins, n_implicit_ins, n_order_only;
} BuildPaths;

/* "OUT... [| OUT...]: RULE [IN...] [| IN...] [|| IN...] [|@ IN...]" up to the newline. */
static int read_build_line(Parser *p, BuildPaths *bp, char **ret_rule) {
        NinjaLex *lx = &p->lx;
        const char *s;
        size_t mark;
        int r;

        r = ninja_read_raw_paths(p, &bp->raw, &bp->n, &bp->alloc);
        bp->n_explicit_outs = bp->n;
        if (r >= 0 && lx->p < lx->end && *lx->p == '|' && lx->p + 1 < lx->end && lx->p[1] != '|' &&
            lx->p[1] != '@') {
                lx->p++;
                r = ninja_read_raw_paths(p, &bp->raw, &bp->n, &bp->alloc);
        }
        if (r < 0)
                return r;
        bp->n_outs = bp->n;
        if (bp->n_explicit_outs == 0)
                return ninja_fail(p, -EINVAL, "expected an output path");
        if (lx->p >= lx->end || *lx->p != ':')
                return ninja_fail(p, -EINVAL, "expected ':' after the outputs");
        lx->p++;
        ninja_skip_ws(lx);
        s = lx->p;
        if (ninja_read_ident(lx) == 0)
                return ninja_fail(p, -EINVAL, "expected a rule name after ':'");
        *ret_rule = strndup(s, (size_t) (lx->p - s));
        if (!*ret_rule)
                return -ENOMEM;
        /* explicit, then "|" implicit, "||" order-only, "|@" validations, each optional, in this order */
        const char *seps[] = { "", "|", "||", "|@" };
        size_t *counts[] = { &bp->n_explicit_ins, &bp->n_implicit_ins, &bp->n_order_only, NULL };
        for (size_t k = 0; k < ELEMENTSOF(seps); k++) {
                size_t len = strlen(seps[k]);

                if (len > 0) {
                        ninja_skip_ws(lx);
                        if ((size_t) (lx->end - lx->p) < len || memcmp(lx->p, seps[k], len) != 0 ||
                            (len == 1 && lx->end - lx->p > 1 && (lx->p[1] == '|' || lx->p[1] == '@')))
                                continue;
                        lx->p += len;
                }
                mark = bp->n;
                r = ninja_read_raw_paths(p, &bp->raw, &bp->n, &bp->alloc);
                if (r < 0)
                        return r;
                if (counts[k])
                        *counts[k] = bp->n - mark;
        }
        if (!ninja_at_newline(lx)) {
                char cb[16];
                return ninja_fail(p, -EINVAL, "unexpected %s in a build statement",
                                  ninja_show_char(*lx->p, cb));
        }
        return ninja_expect_newline(p);
}

static int add_path(Parser *p, char ***a, size_t *n, char *path) {
        char **na = reallocarray(*a, *n + 1, sizeof(char *));

        if (!na) {
                free(path);
                return -ENOMEM;
        }
        *a = na;
        na[(*n)++] = path;
        (void) p;
        return 0;
}

/* The edge's paths, evaluated with its bindings, into e and the index. */
static int build_paths(Parser *p, const BuildPaths *bp, EdgeTmp *t, NinjaEdge *e, uint32_t idx) {
        NinjaIndex *x = p->f->index;
        size_t n_ins_end = bp->n_outs + bp->n_explicit_ins + bp->n_implicit_ins + bp->n_order_only;
        int r;

        for (size_t i = 0; i < bp->n; i++) {
                char *path;
                void *old;

                r = ninja_eval_path(p, &bp->raw[i], edge_path_lookup, t, &path);
                if (r < 0)
                        return r;
                if (i < bp->n_outs) {
                        if (strmap_get(&x->outputs, path, strlen(path))) {
                                r = ninja_fail(p, -EINVAL, "multiple rules generate '%s'", path);
                                free(path);
                                return r;
                        }
                        r = strmap_put(&x->outputs, path, strlen(path), (void *) (uintptr_t) (idx + 1),
                                       &old);
                        if (r >= 0)
                                r = add_path(p, &e->outs, &e->n_outs, path);
                } else if (i < n_ins_end) {
                        bool self = false;

                        for (size_t k = 0; !t->rule && k < e->n_outs; k++) /* "build a: phony a" */
                                self = self || streq(e->outs[k], path);
                        if (self) {
                                free(path);
                                continue;
                        }
                        r = strmap_put(&x->inputs, path, strlen(path), (void *) 1, &old);
                        if (r >= 0)
                                r = add_path(p, &e->ins, &e->n_ins, path);
                } else
                        r = add_path(p, &e->validations, &e->n_validations, path);
                if (r < 0)
                        return r;
                if (i + 1 == bp->n_explicit_outs)
                        e->n_explicit_outs = e->n_outs;
                if (i + 1 == bp->n_outs + bp->n_explicit_ins)
                        e->n_explicit_ins = e->n_ins;
                if (i + 1 == bp->n_outs + bp->n_explicit_ins + bp->n_implicit_ins)
                        e->n_implicit_ins = e->n_ins - e->n_explicit_ins;
        }
        return 0;
}

int ninja_parse_build(Parser *p, Scope *scope) {
        _cleanup_free_ char *rule_name = NULL;
        BuildPaths bp = {};
        NinjaFile *f = p->f;
        unsigned line = p->lx.line;
        bool phony;
        EdgeTmp *t;
        NinjaEdge *e;
        int r;

        if (f->n_edges >= p->limits->max_edges)
                return ninja_fail(p, -EFBIG, "over %zu build statements", p->limits->max_edges);
        r = read_build_line(p, &bp, &rule_name);
        if (r < 0)
                goto out;
        if (ninja_grow_array(&f->edges, &p->alloc_edges, f->n_edges, sizeof(NinjaEdge)) < 0 ||
            ninja_grow_array(&p->tmp, &p->alloc_tmp, f->n_edges, sizeof(EdgeTmp)) < 0) {
                r = -ENOMEM;
                goto out;
        }
        e = &f->edges[f->n_edges];
        t = &p->tmp[f->n_edges];
        *e = (NinjaEdge){};
        *t = (EdgeTmp){ .scope = scope };
        f->n_edges++;
        if (asprintf(&e->where, "%s:%u", p->file, line) < 0) {
                e->where = NULL;
                r = -ENOMEM;
                goto out;
        }
        p->stmt_line = line;
        t->rule = ninja_rule_find(scope, rule_name, &phony);
        if (!t->rule && !phony) {
                r = ninja_fail(p, -EINVAL, "unknown build rule '%s'", rule_name);
                goto out;
        }
        p->stmt_line = 0;
        while (ninja_peek_binding(&p->lx)) {
                _cleanup_free_ char *key = NULL;
                char *value = NULL;
                void *old;

                r = ninja_parse_let(p, scope, &key, &value);
                if (r >= 0)
                        r = strmap_put(&t->bindings, key, strlen(key), value, &old);
                if (r < 0) {
                        free(value);
                        goto out;
                }
                free(old);
        }
        p->stmt_line = line;
        r = build_paths(p, &bp, t, e, (uint32_t) (f->n_edges - 1));
        p->stmt_line = 0;
out:
        free(bp.raw);
        return r;
}

/* ---- rule variables, once every file is read ---- */

#define RULE_VAR_DEPTH_MAX 64

typedef struct EdgeEval {
        const Parser *p;
        const NinjaEdge *e;
        const EdgeTmp *t;
        unsigned depth;
        bool no_quote; /* for rspfile, a path ninja opens itself: $in/$out unquoted, as ninja */
} EdgeEval;

static void join_paths(TextBuf *out, char *const *paths, size_t n, char sep, bool quote) {
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        textbuf_put(out, &sep, 1);
                if (quote)
                        ninjafile_shell_quote(out, paths[i]);
                else
                        textbuf_puts(out, paths[i]);
        }
}

static int edge_lookup(void *ctx, const char *name, size_t n, TextBuf *out) {
        EdgeEval *ev = ctx;
        const char *v;
        int i, r;

#define IS(s) (n == strlen(s) && memcmp(name, s, n) == 0)
        if (IS("in") || IS("in_newline") || IS("out")) {
                if (IS("out"))
                        join_paths(out, ev->e->outs, ev->e->n_explicit_outs, ' ', !ev->no_quote);
                else
                        join_paths(out, ev->e->ins, ev->e->n_explicit_ins, IS("in") ? ' ' : '\n',
                                   !ev->no_quote);
                return out->oom ? -ENOMEM : 0;
        }
#undef IS
        v = strmap_get(&ev->t->bindings, name, n);
        if (v) {
                textbuf_puts(out, v);
                return out->oom ? -ENOMEM : 0;
        }
        i = ninja_rule_var_index(name, n);
        if (i >= 0 && ev->t->rule->raw[i]) {
                NinjaLex lx = { .p = ev->t->rule->raw[i],
                                .end = ev->t->rule->raw[i] + strlen(ev->t->rule->raw[i]) };

                if (ev->depth >= RULE_VAR_DEPTH_MAX)
                        return -ELOOP;
                ev->depth++;
                r = ninja_lex_value(&lx, false, edge_lookup, ev, out, ev->p->limits->max_value);
                ev->depth--;
                return r;
        }
        return ninja_scope_lookup((void *) ev->t->scope, name, n, out);
}

static int eval_rule_var(EdgeEval *ev, int var, char **ret) {
        TextBuf b = {};
        int r;

        r = edge_lookup(ev, ninja_rule_var_name(var), strlen(ninja_rule_var_name(var)), &b);
        textbuf_put(&b, "", 0);
        if (r >= 0 && b.oom)
                r = -ENOMEM;
        if (r < 0) {
                free(b.data);
                return r;
        }
        b.data[b.len] = '\0';
        *ret = b.data;
        return 0;
}

static int finish_edge(Parser *p, NinjaEdge *e, const EdgeTmp *t) {
        EdgeEval ev = { .p = p, .e = e, .t = t };
        _cleanup_free_ char *gen = NULL, *dyndep = NULL;
        int r;

        r = eval_rule_var(&ev, RV_COMMAND, &e->command);
        ev.no_quote = true;
        if (r >= 0)
                r = eval_rule_var(&ev, RV_RSPFILE, &e->rspfile);
        ev.no_quote = false;
        if (r >= 0 && isempty(e->rspfile))
                e->rspfile = mfree(e->rspfile);
        else if (r >= 0)
                r = eval_rule_var(&ev, RV_RSPFILE_CONTENT, &e->rspfile_content);
        if (r >= 0)
                r = eval_rule_var(&ev, RV_GENERATOR, &gen);
        if (r >= 0)
                r = eval_rule_var(&ev, RV_DYNDEP, &dyndep);
        if (r < 0)
                return r;
        e->generator = !isempty(gen);
        e->dyndep = !isempty(dyndep);
        return 0;
}

int ninja_finish_edges(Parser *p) {
        for (size_t i = 0; i < p->f->n_edges; i++) {
                NinjaEdge *e = &p->f->edges[i];
                int r;

                if (!p->tmp[i].rule)
                        continue;
                r = finish_edge(p, e, &p->tmp[i]);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        const char *why = r == -E2BIG ? "a rule variable expands to over the size limit" :
                                r == -ELOOP           ? "rule variables refer to each other in a cycle" :
                                                        "invalid rule variable";
                        if (asprintf(&p->err, "%s: %s", e->where, why) < 0)
                                p->err = NULL;
                        return r;
                }
        }
        return 0;
}
