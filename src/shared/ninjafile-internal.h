/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the ninjafile*.c modules share: a string map, and the value lexer/evaluator (ninjafile-eval.c)
 * that reads $-escaped values and paths and expands variables through a lookup callback, and the parser's
 * state and helpers that ninjafile.c (statements) and ninjafile-build.c (build statements) share.
 */

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "ninjafile.h"
#include "textbuf.h"

/* Open addressing, keys copied and owned, values borrowed (or small integers cast to pointers). */
typedef struct StrMap {
        char **keys;
        void **vals;
        size_t n, cap;
} StrMap;

/* The value of key k[0..kn), or NULL. */
void *strmap_get(const StrMap *m, const char *k, size_t kn);
/* Set key k[0..kn) to v; *ret_old (may be NULL) gets the value it replaced or NULL. Returns 0 or -ENOMEM. */
int strmap_put(StrMap *m, const char *k, size_t kn, void *v, void **ret_old);
/* Free the keys and, with free_val, the values. */
void strmap_done(StrMap *m, void (*free_val)(void *));

struct NinjaIndex {
        StrMap outputs; /* path → (void *) (edge index + 1) */
        StrMap inputs;  /* path → (void *) 1 */
};

/* Append the value of variable name[0..n) to out. Returns 0 or -errno (-ELOOP: a rule variable cycle,
 * -E2BIG: over max_value). */
typedef int (*NinjaLookupFn)(void *ctx, const char *name, size_t n, TextBuf *out);

typedef struct NinjaLex {
        const char *p, *end;
        unsigned line;
        const char *error; /* static text of the last error */
} NinjaLex;

/* Read one value (path: a path, ended by space, ':', '|' or a newline; else up to the newline, which is
 * left unread) at lx->p. With lookup, expand it onto out (at most max bytes, else -E2BIG); without, only
 * check it. Returns 0, or -EINVAL with lx->error, or what lookup returned. */
int ninja_lex_value(NinjaLex *lx, bool path, NinjaLookupFn lookup, void *ctx, TextBuf *out, size_t max);

/* c for a message: "'x'" when printable, else "byte 0xNN". */
const char *ninja_show_char(char c, char buf[static 16]);

/* ---- the parser (ninjafile.c, ninjafile-build.c) ---- */

enum {
        RV_COMMAND,
        RV_DEPFILE,
        RV_DYNDEP,
        RV_DESCRIPTION,
        RV_DEPS,
        RV_GENERATOR,
        RV_POOL,
        RV_RESTAT,
        RV_RSPFILE,
        RV_RSPFILE_CONTENT,
        RV_MSVC_DEPS_PREFIX,
        _RV_MAX
};

typedef struct Rule {
        char *raw[_RV_MAX]; /* unevaluated values, NULL when unset */
} Rule;

typedef struct Scope {
        struct Scope *parent;
        StrMap vars;  /* name → char * */
        StrMap rules; /* name → Rule * */
} Scope;

typedef struct EdgeTmp {
        const Rule *rule; /* NULL: phony */
        const Scope *scope;
        StrMap bindings; /* name → char *, evaluated */
} EdgeTmp;

typedef struct Parser {
        const NinjaLimits *limits;
        NinjaReadFn read;
        void *userdata;
        NinjaFile *f;
        EdgeTmp *tmp;
        size_t alloc_edges, alloc_tmp, alloc_defaults;
        Scope **scopes;
        size_t n_scopes;
        size_t total_bytes, depth;
        char *err;
        /* while reading one file */
        const char *file;
        NinjaLex lx;
        unsigned stmt_line; /* non-zero: errors name this line (the statement's), not the lexer's */
} Parser;

/* A path as written, evaluated once the statement's bindings are known. */
typedef struct RawPath {
        const char *s, *e;
} RawPath;

/* The index of a rule variable name[0..n) (RV_*), or -1 if ninja knows no such rule variable. */
int ninja_rule_var_index(const char *name, size_t n);
/* The name of rule variable i (RV_*). */
const char *ninja_rule_var_name(int i);
/* Record "FILE:LINE: message" (the first error only) and return r. */
int ninja_fail(Parser *p, int r, const char *fmt, ...) _printf_(3, 4);
/* ninja_fail() with the message for an evaluation error r (-E2BIG, -ELOOP, -EINVAL), or return r. */
int ninja_fail_value(Parser *p, int r);
/* NinjaLookupFn over a Scope and its parents. */
int ninja_scope_lookup(void *ctx, const char *name, size_t n, TextBuf *out);
/* The rule name visible in s, or NULL (*ret_phony: it is the built-in phony). */
const Rule *ninja_rule_find(const Scope *s, const char *name, bool *ret_phony);
/* Skip spaces and $-newline continuations. */
void ninja_skip_ws(NinjaLex *lx);
/* Skip an identifier ([A-Za-z0-9_.-]+) and return its length. */
size_t ninja_read_ident(NinjaLex *lx);
/* At a newline or the end of the file. */
bool ninja_at_newline(const NinjaLex *lx);
/* Skip spaces, then require and consume the end of the line. Returns 0 or -EINVAL after ninja_fail(). */
int ninja_expect_newline(Parser *p);
/* At a line start: skip comment lines; true if an indented binding follows (after its indent). */
bool ninja_peek_binding(NinjaLex *lx);
/* "name = value" to the end of the line: *ret_key and the value, evaluated in scope, or raw if scope is
 * NULL. Returns 0 or -errno after ninja_fail(). */
int ninja_parse_let(Parser *p, const Scope *scope, char **ret_key, char **ret_value);
/* Append the raw paths up to ':', '|' or the end of the line. Returns 0 or -errno. */
int ninja_read_raw_paths(Parser *p, RawPath **paths, size_t *n, size_t *alloc);
/* Evaluate and canonicalize a raw path: 0 with *ret, or -errno after ninja_fail(). */
int ninja_eval_path(Parser *p, const RawPath *rp, NinjaLookupFn lookup, void *ctx, char **ret);
/* Make room for element n of *pp (elements of size bytes). Returns 0 or -ENOMEM. */
int ninja_grow_array(void *pp, size_t *alloc, size_t n, size_t size);
/* A build statement (after "build"). Returns 0 or -errno after ninja_fail(). */
int ninja_parse_build(Parser *p, Scope *scope);
/* Evaluate every edge's rule variables once all files are read. Returns 0 or -errno (p->err set). */
int ninja_finish_edges(Parser *p);
