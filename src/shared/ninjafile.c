/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ninjafile.c — parsing build.ninja (ninjafile.h) the way ninja 1.11 does: statements, file scopes
 * (subninja opens a child scope, include reads into the same one), rules, edges, defaults.
 *
 * Evaluation order, as ninja: a top-level variable and a build statement's own bindings are evaluated
 * when read (in the file scope); a build's paths after its bindings (bindings first, then the scopes);
 * rule variables (command, rspfile, rspfile_content, generator, dyndep) once every file is read, as ninja
 * evaluates them when it runs the edge: $in/$in_newline/$out, then the build's bindings, the rule's
 * (which may refer to each other), then the scopes with their final values.
 *
 * Invariants: on success every edge has at least one output, no output has two edges, every default is
 * an output. Every error names "FILE:LINE". Pure: files come through a NinjaReadFn, no logging.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "ninjafile-internal.h"

static const char *const rule_vars[_RV_MAX] = {
        "command", "depfile", "dyndep",          "description",      "deps", "generator", "pool",
        "restat",  "rspfile", "rspfile_content", "msvc_deps_prefix",
};

int ninja_fail(Parser *p, int r, const char *fmt, ...) {
        _cleanup_free_ char *m = NULL;
        va_list ap;

        if (p->err)
                return r;
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        if (!m || asprintf(&p->err, "%s:%u: %s", p->file, p->stmt_line ?: p->lx.line, m) < 0)
                p->err = NULL;
        return r;
}

int ninja_fail_value(Parser *p, int r) {
        if (r == -E2BIG)
                return ninja_fail(p, r, "a value expands to over %zu bytes", p->limits->max_value);
        if (r == -ELOOP)
                return ninja_fail(p, r, "rule variables refer to each other in a cycle");
        if (r == -EINVAL)
                return ninja_fail(p, r, "%s", p->lx.error);
        return r;
}

/* ---- scopes and lookups ---- */

int ninja_scope_lookup(void *ctx, const char *name, size_t n, TextBuf *out) {
        for (const Scope *s = ctx; s; s = s->parent) {
                const char *v = strmap_get(&s->vars, name, n);
                if (v) {
                        textbuf_puts(out, v);
                        return out->oom ? -ENOMEM : 0;
                }
        }
        return 0;
}

static int scope_new(Parser *p, Scope *parent, Scope **ret) {
        Scope **ss = reallocarray(p->scopes, p->n_scopes + 1, sizeof(Scope *));
        if (!ss)
                return -ENOMEM;
        p->scopes = ss;
        ss[p->n_scopes] = calloc(1, sizeof(Scope));
        if (!ss[p->n_scopes])
                return -ENOMEM;
        ss[p->n_scopes]->parent = parent;
        *ret = ss[p->n_scopes++];
        return 0;
}

static void rule_free(void *v) {
        Rule *r = v;

        for (size_t i = 0; i < _RV_MAX; i++)
                free(r->raw[i]);
        free(r);
}

const Rule *ninja_rule_find(const Scope *s, const char *name, bool *ret_phony) {
        *ret_phony = streq(name, "phony");
        for (; s && !*ret_phony; s = s->parent) {
                const Rule *r = strmap_get(&s->rules, name, strlen(name));
                if (r)
                        return r;
        }
        return NULL;
}

/* ---- lexing statements ---- */

int ninja_expect_newline(Parser *p) {
        NinjaLex *lx = &p->lx;
        char cb[16];

        ninja_skip_ws(lx);
        if (!ninja_at_newline(lx))
                return ninja_fail(p, -EINVAL, "expected the end of the line, got %s",
                                  ninja_show_char(*lx->p, cb));
        if (lx->p < lx->end) {
                lx->p += *lx->p == '\r' ? 2 : 1;
                lx->line++;
        }
        return 0;
}

/* "name = value" after an indent or at a line start: *ret_key, and the value's raw text (unevaluated)
 * or, with scope, its value. Consumes the newline. */
int ninja_parse_let(Parser *p, const Scope *scope, char **ret_key, char **ret_value) {
        NinjaLex *lx = &p->lx;
        _cleanup_free_ char *key = NULL;
        TextBuf b = {};
        const char *start, *name = lx->p;
        size_t n = ninja_read_ident(lx);
        int r;

        if (n == 0)
                return ninja_fail(p, -EINVAL, "expected a variable name");
        key = strndup(name, n);
        if (!key)
                return -ENOMEM;
        ninja_skip_ws(lx);
        if (lx->p >= lx->end || *lx->p != '=')
                return ninja_fail(p, -EINVAL, "expected '=' after '%s'", key);
        lx->p++;
        ninja_skip_ws(lx);
        start = lx->p;
        r = ninja_lex_value(lx, false, scope ? ninja_scope_lookup : NULL, (void *) scope, scope ? &b : NULL,
                            p->limits->max_value);
        if (r < 0) {
                free(b.data);
                return ninja_fail_value(p, r);
        }
        if (!scope)
                textbuf_put(&b, start, (size_t) (lx->p - start));
        textbuf_put(&b, "", 0); /* allocates, so data is never NULL */
        if (b.oom) {
                free(b.data);
                return -ENOMEM;
        }
        b.data[b.len] = '\0';
        *ret_value = b.data;
        *ret_key = TAKE_PTR(key);
        return ninja_expect_newline(p);
}

/* Raw path tokens of a build or default statement, up to ':', '|' or the end of the line. */
int ninja_read_raw_paths(Parser *p, RawPath **paths, size_t *n, size_t *alloc) {
        NinjaLex *lx = &p->lx;

        for (;;) {
                RawPath rp;
                int r;

                ninja_skip_ws(lx);
                if (ninja_at_newline(lx) || *lx->p == ':' || *lx->p == '|')
                        return 0;
                rp.s = lx->p;
                r = ninja_lex_value(lx, true, NULL, NULL, NULL, 0);
                if (r < 0)
                        return ninja_fail_value(p, r);
                rp.e = lx->p;
                if (ninja_grow_array(paths, alloc, *n, sizeof(RawPath)) < 0)
                        return -ENOMEM;
                (*paths)[(*n)++] = rp;
        }
}

/* Evaluate a raw path and canonicalize it. Returns 0 with *ret, or -errno after ninja_fail(). */
int ninja_eval_path(Parser *p, const RawPath *rp, NinjaLookupFn lookup, void *ctx, char **ret) {
        NinjaLex lx = { .p = rp->s, .end = rp->e, .line = p->lx.line };
        TextBuf b = {};
        int r;

        r = ninja_lex_value(&lx, true, lookup, ctx, &b, p->limits->max_value);
        textbuf_put(&b, "", 0);
        if (r >= 0 && b.oom)
                r = -ENOMEM;
        if (r < 0) {
                free(b.data);
                return ninja_fail_value(p, r);
        }
        b.data[b.len] = '\0';
        if (ninjafile_canon_path(b.data) == 0) {
                free(b.data);
                return ninja_fail(p, -EINVAL, "empty path");
        }
        *ret = b.data;
        return 0;
}

/* ---- statements ---- */

static int parse_rule(Parser *p, Scope *scope) {
        NinjaLex *lx = &p->lx;
        _cleanup_free_ char *name = NULL;
        unsigned line = lx->line;
        Rule *rule;
        const char *s;
        int r;

        ninja_skip_ws(lx);
        s = lx->p;
        if (ninja_read_ident(lx) == 0)
                return ninja_fail(p, -EINVAL, "expected a rule name");
        name = strndup(s, (size_t) (lx->p - s));
        if (!name)
                return -ENOMEM;
        r = ninja_expect_newline(p);
        if (r < 0)
                return r;
        p->stmt_line = line;
        if (streq(name, "phony") || strmap_get(&scope->rules, name, strlen(name)))
                return ninja_fail(p, -EINVAL, "duplicate rule '%s'", name);
        p->stmt_line = 0;
        rule = calloc(1, sizeof(Rule));
        if (!rule || strmap_put(&scope->rules, name, strlen(name), rule, NULL) < 0) {
                free(rule);
                return -ENOMEM;
        }
        while (ninja_peek_binding(lx)) {
                _cleanup_free_ char *key = NULL, *raw = NULL;
                unsigned bline = lx->line;
                size_t i;

                r = ninja_parse_let(p, NULL, &key, &raw);
                if (r < 0)
                        return r;
                for (i = 0; i < _RV_MAX && !streq(rule_vars[i], key); i++)
                        ;
                p->stmt_line = bline;
                if (i == _RV_MAX)
                        return ninja_fail(p, -EINVAL, "unexpected variable '%s' in rule '%s'", key, name);
                p->stmt_line = 0;
                free(rule->raw[i]);
                rule->raw[i] = TAKE_PTR(raw);
        }
        p->stmt_line = line;
        if (!rule->raw[RV_COMMAND])
                return ninja_fail(p, -EINVAL, "rule '%s' has no 'command =' line", name);
        if (!rule->raw[RV_RSPFILE] != !rule->raw[RV_RSPFILE_CONTENT])
                return ninja_fail(p, -EINVAL, "rule '%s': rspfile and rspfile_content go together", name);
        p->stmt_line = 0;
        return 0;
}

static int parse_pool(Parser *p, Scope *scope) {
        NinjaLex *lx = &p->lx;
        int r;

        ninja_skip_ws(lx);
        if (ninja_read_ident(lx) == 0)
                return ninja_fail(p, -EINVAL, "expected a pool name");
        r = ninja_expect_newline(p);
        while (r >= 0 &&
               ninja_peek_binding(lx)) { /* pools limit ninja's parallelism; orchd has max_parallel */
                _cleanup_free_ char *key = NULL, *value = NULL;

                r = ninja_parse_let(p, scope, &key, &value);
                if (r >= 0 && !streq(key, "depth"))
                        return ninja_fail(p, -EINVAL, "unexpected variable '%s' in a pool", key);
        }
        return r;
}

int ninja_grow_array(void *pp, size_t *alloc, size_t n, size_t size) {
        void **a = pp;
        size_t na;
        void *np;

        if (n < *alloc)
                return 0;
        na = MAX(*alloc * 2, (size_t) 16);
        np = reallocarray(*a, na, size);
        if (!np)
                return -ENOMEM;
        *a = np;
        *alloc = na;
        return 0;
}

static int parse_default(Parser *p, Scope *scope) {
        _cleanup_free_ RawPath *raw = NULL;
        size_t n = 0, alloc = 0;
        NinjaFile *f = p->f;
        char cb[16];
        int r;

        r = ninja_read_raw_paths(p, &raw, &n, &alloc);
        if (r < 0)
                return r;
        if (!ninja_at_newline(&p->lx))
                return ninja_fail(p, -EINVAL, "unexpected %s in a default statement",
                                  ninja_show_char(*p->lx.p, cb));
        if (n == 0)
                return ninja_fail(p, -EINVAL, "expected a target name");
        for (size_t i = 0; i < n; i++) {
                char *path;

                r = ninja_eval_path(p, &raw[i], ninja_scope_lookup, scope, &path);
                if (r < 0)
                        return r;
                if (ninjafile_find_output(f, path) < 0) {
                        r = ninja_fail(p, -EINVAL, "unknown target '%s'", path);
                        free(path);
                        return r;
                }
                if (ninja_grow_array(&f->defaults, &p->alloc_defaults, f->n_defaults, sizeof(char *)) < 0) {
                        free(path);
                        return -ENOMEM;
                }
                f->defaults[f->n_defaults++] = path;
        }
        return ninja_expect_newline(p);
}

int ninja_rule_var_index(const char *name, size_t n) {
        for (size_t i = 0; i < _RV_MAX; i++)
                if (strlen(rule_vars[i]) == n && memcmp(rule_vars[i], name, n) == 0)
                        return (int) i;
        return -1;
}

const char *ninja_rule_var_name(int i) {
        return rule_vars[i];
}

static int parse_file(Parser *p, const char *path, Scope *scope);

static int parse_include(Parser *p, Scope *scope, bool sub) {
        _cleanup_free_ RawPath *raw = NULL;
        _cleanup_free_ char *path = NULL;
        size_t n = 0, alloc = 0;
        unsigned line = p->lx.line;
        int r;

        r = ninja_read_raw_paths(p, &raw, &n, &alloc);
        if (r < 0)
                return r;
        if (n != 1 || !ninja_at_newline(&p->lx))
                return ninja_fail(p, -EINVAL, "expected one file name after '%s'",
                                  sub ? "subninja" : "include");
        r = ninja_eval_path(p, &raw[0], ninja_scope_lookup, scope, &path);
        if (r < 0)
                return r;
        r = ninja_expect_newline(p);
        if (r < 0)
                return r;
        if (sub) {
                r = scope_new(p, scope, &scope);
                if (r < 0)
                        return r;
        }
        p->stmt_line = line; /* errors opening it are the include line's */
        return parse_file(p, path, scope);
}

static int parse_statement(Parser *p, Scope *scope, const char *kw, size_t n) {
        NinjaLex *lx = &p->lx;

#define KW(s) (n == strlen(s) && memcmp(kw, s, n) == 0)
        if (KW("rule"))
                return parse_rule(p, scope);
        if (KW("build"))
                return ninja_parse_build(p, scope);
        if (KW("pool"))
                return parse_pool(p, scope);
        if (KW("default"))
                return parse_default(p, scope);
        if (KW("include") || KW("subninja"))
                return parse_include(p, scope, KW("subninja"));
#undef KW
        _cleanup_free_ char *key = NULL;
        char *value = NULL;
        void *old;
        int r;

        lx->p = kw;
        r = ninja_parse_let(p, scope, &key, &value);
        if (r < 0)
                return r;
        r = strmap_put(&scope->vars, key, strlen(key), value, &old);
        if (r < 0) {
                free(value);
                return r;
        }
        free(old);
        return 0;
}

static int parse_lines(Parser *p, Scope *scope) {
        NinjaLex *lx = &p->lx;

        for (;;) {
                const char *start = lx->p, *kw;
                char cb[16];
                size_t n;
                int r;

                while (lx->p < lx->end && *lx->p == ' ')
                        lx->p++;
                if (lx->p >= lx->end)
                        return 0;
                if (*lx->p == '#') {
                        while (lx->p < lx->end && *lx->p != '\n')
                                lx->p++;
                        continue;
                }
                if (ninja_at_newline(lx)) {
                        r = ninja_expect_newline(p);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (lx->p > start)
                        return ninja_fail(p, -EINVAL,
                                          "unexpected indentation (bindings follow a rule, build or pool)");
                if (*lx->p == '\t')
                        return ninja_fail(p, -EINVAL, "tabs are not allowed, use spaces");
                kw = lx->p;
                n = ninja_read_ident(lx);
                if (n == 0)
                        return ninja_fail(p, -EINVAL, "expected a statement or a variable, got %s",
                                          ninja_show_char(*lx->p, cb));
                ninja_skip_ws(lx);
                r = parse_statement(p, scope, kw, n);
                if (r < 0)
                        return r;
        }
}

static int parse_file(Parser *p, const char *path, Scope *scope) {
        _cleanup_free_ char *buf = NULL, *name = strdup(path);
        const char *saved_file = p->file;
        NinjaLex saved_lx = p->lx;
        size_t size = 0;
        int r;

        if (!name)
                return -ENOMEM;
        if (p->depth >= p->limits->max_depth)
                return ninja_fail(p, -ELOOP,
                                  "include/subninja nested over %zu deep (does '%s' include itself?)",
                                  p->limits->max_depth, path);
        r = p->read(p->userdata, path, p->limits->max_file_bytes, &buf, &size);
        if (r == -EFBIG)
                return p->file ?
                        ninja_fail(p, r, "'%s' is over %zu bytes", path, p->limits->max_file_bytes) :
                        (asprintf(&p->err, "%s: over %zu bytes", path, p->limits->max_file_bytes), r);
        if (r < 0)
                return p->file ? ninja_fail(p, r, "cannot read '%s': %s", path, strerror(-r)) :
                                 (asprintf(&p->err, "%s: %s", path, strerror(-r)), r);
        if (size > p->limits->max_total_bytes - MIN(p->total_bytes, p->limits->max_total_bytes))
                return ninja_fail(p, -EFBIG, "the manifest and its includes are over %zu bytes",
                                  p->limits->max_total_bytes);
        p->total_bytes += size;
        p->stmt_line = 0;
        p->depth++;
        p->file = name;
        p->lx = (NinjaLex){ .p = buf, .end = buf + size, .line = 1 };
        r = parse_lines(p, scope);
        p->depth--;
        p->file = saved_file;
        p->lx = saved_lx;
        return r;
}

/* ---- the API ---- */

void ninjafile_limits_init(NinjaLimits *l) {
        *l = (NinjaLimits){ .max_file_bytes = 64U << 20,
                            .max_total_bytes = 256U << 20,
                            .max_value = 4U << 20,
                            .max_depth = 32,
                            .max_edges = 1000000 };
}

static void parser_done(Parser *p) {
        for (size_t i = 0; p->tmp && i < p->f->n_edges; i++)
                strmap_done(&p->tmp[i].bindings, free);
        free(p->tmp);
        for (size_t i = 0; i < p->n_scopes; i++) {
                strmap_done(&p->scopes[i]->vars, free);
                strmap_done(&p->scopes[i]->rules, rule_free);
                free(p->scopes[i]);
        }
        free(p->scopes);
}

int ninjafile_parse(const char *path, NinjaReadFn read, void *userdata, const NinjaLimits *limits,
                    NinjaFile **ret, char **reterr_msg) {
        Parser p = { .limits = limits, .read = read, .userdata = userdata };
        Scope *root;
        int r;

        p.f = calloc(1, sizeof(NinjaFile));
        if (!p.f)
                return -ENOMEM;
        p.f->index = calloc(1, sizeof(NinjaIndex));
        r = p.f->index ? scope_new(&p, NULL, &root) : -ENOMEM;
        if (r >= 0)
                r = parse_file(&p, path, root);
        if (r >= 0)
                r = ninja_finish_edges(&p);
        parser_done(&p);
        if (r < 0) {
                ninjafile_free(p.f);
                if (reterr_msg)
                        *reterr_msg = p.err;
                else
                        free(p.err);
                return r;
        }
        *ret = p.f;
        return 0;
}

NinjaFile *ninjafile_free(NinjaFile *f) {
        if (!f)
                return NULL;
        for (size_t i = 0; i < f->n_edges; i++) {
                NinjaEdge *e = &f->edges[i];

                for (size_t k = 0; k < e->n_outs; k++)
                        free(e->outs[k]);
                for (size_t k = 0; k < e->n_ins; k++)
                        free(e->ins[k]);
                for (size_t k = 0; k < e->n_validations; k++)
                        free(e->validations[k]);
                free(e->outs);
                free(e->ins);
                free(e->validations);
                free(e->command);
                free(e->rspfile);
                free(e->rspfile_content);
                free(e->where);
        }
        free(f->edges);
        for (size_t i = 0; i < f->n_defaults; i++)
                free(f->defaults[i]);
        free(f->defaults);
        if (f->index) {
                strmap_done(&f->index->outputs, NULL);
                strmap_done(&f->index->inputs, NULL);
                free(f->index);
        }
        return mfree(f);
}

int ninjafile_find_output(const NinjaFile *f, const char *path) {
        uintptr_t v = (uintptr_t) strmap_get(&f->index->outputs, path, strlen(path));

        return v == 0 ? -ENOENT : (int) (v - 1);
}

bool ninjafile_is_input(const NinjaFile *f, const char *path) {
        return strmap_get(&f->index->inputs, path, strlen(path)) != NULL;
}
