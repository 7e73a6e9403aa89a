/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ninjafile-graph.c — what a set of targets needs (ninjafile_plan, ninjafile.h): an iterative depth-first
 * walk from the targets over every input (explicit, implicit, order-only) to the edges that produce them,
 * finishing each edge after its producers. A finished edge's dependencies are the real edges among its
 * producers, with each phony producer replaced by the dependencies it resolved to (so phony edges vanish
 * and `after` stays exact). Validations (|@) are walked as targets of their own.
 *
 * Invariants: the order lists every planned real edge once, after all of its dependencies; a dependency
 * list has no duplicate; a cycle is an error naming it; the walk uses no recursion (a 100,000-edge
 * chain is fine). Pure: no logging.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "ninjafile-internal.h"

#define DEPS_TOTAL_MAX (64U << 20) /* entries over all dependency lists */

typedef struct Frame {
        uint32_t edge;
        size_t next; /* next input to look at */
} Frame;

typedef struct Walk {
        const NinjaFile *f;
        uint8_t *state; /* 0 unseen, 1 on the stack, 2 finished */
        uint32_t *mark, stamp;
        uint32_t **deps;
        size_t *n_deps, total;
        uint32_t *order, *roots;
        size_t n_order, n_roots, alloc_roots;
        Frame *stack;
        size_t n_stack;
        char *err;
} Walk;

static bool is_phony(const NinjaFile *f, uint32_t e) {
        return !f->edges[e].command;
}

static int add_root(Walk *w, uint32_t e) {
        if (ninja_grow_array(&w->roots, &w->alloc_roots, w->n_roots, sizeof(uint32_t)) < 0)
                return -ENOMEM;
        w->roots[w->n_roots++] = e;
        return 0;
}

static int cycle_error(Walk *w, uint32_t again) {
        TextBuf b = {};
        size_t i = w->n_stack;

        while (i > 0 && w->stack[i - 1].edge != again)
                i--;
        textbuf_puts(&b, "dependency cycle: ");
        for (i = i > 0 ? i - 1 : 0; i < w->n_stack; i++) {
                textbuf_puts(&b, w->f->edges[w->stack[i].edge].outs[0]);
                textbuf_puts(&b, " -> ");
        }
        textbuf_puts(&b, w->f->edges[again].outs[0]);
        textbuf_put(&b, "", 0);
        if (b.oom) {
                free(b.data);
                return -ENOMEM;
        }
        b.data[b.len] = '\0';
        w->err = b.data;
        return -ELOOP;
}

static int dep_add(Walk *w, uint32_t *list, size_t *n, uint32_t d) {
        if (w->mark[d] == w->stamp)
                return 0;
        w->mark[d] = w->stamp;
        list[(*n)++] = d;
        return 0;
}

/* All producers of e's inputs are finished: resolve its dependencies. */
static int finish(Walk *w, uint32_t e) {
        const NinjaEdge *ed = &w->f->edges[e];
        size_t max = 0, n = 0;
        uint32_t *list;

        for (size_t i = 0; i < ed->n_ins; i++) {
                int p = ninjafile_find_output(w->f, ed->ins[i]);
                if (p >= 0)
                        max += is_phony(w->f, (uint32_t) p) ? w->n_deps[p] : 1;
        }
        if (max > DEPS_TOTAL_MAX - MIN(w->total, (size_t) DEPS_TOTAL_MAX)) {
                w->err = strdup("the graph is too large (over 67,108,864 dependencies through phony edges)");
                return -E2BIG;
        }
        list = malloc(MAX(max, (size_t) 1) * sizeof(uint32_t));
        if (!list)
                return -ENOMEM;
        w->stamp++;
        for (size_t i = 0; i < ed->n_ins; i++) {
                int p = ninjafile_find_output(w->f, ed->ins[i]);
                if (p < 0)
                        continue;
                if (!is_phony(w->f, (uint32_t) p))
                        (void) dep_add(w, list, &n, (uint32_t) p);
                else
                        for (size_t k = 0; k < w->n_deps[p]; k++)
                                (void) dep_add(w, list, &n, w->deps[p][k]);
        }
        w->deps[e] = list;
        w->n_deps[e] = n;
        w->total += n;
        w->state[e] = 2;
        if (!is_phony(w->f, e))
                w->order[w->n_order++] = e;
        for (size_t i = 0; i < ed->n_validations; i++) {
                int p = ninjafile_find_output(w->f, ed->validations[i]);
                if (p >= 0 && add_root(w, (uint32_t) p) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int walk_from(Walk *w, uint32_t root) {
        if (w->state[root] != 0)
                return 0;
        w->state[root] = 1;
        w->stack[0] = (Frame){ .edge = root };
        w->n_stack = 1;
        while (w->n_stack > 0) {
                Frame *top = &w->stack[w->n_stack - 1];
                const NinjaEdge *ed = &w->f->edges[top->edge];
                int p, r;

                if (top->next >= ed->n_ins) {
                        r = finish(w, top->edge);
                        if (r < 0)
                                return r;
                        w->n_stack--;
                        continue;
                }
                p = ninjafile_find_output(w->f, ed->ins[top->next++]);
                if (p < 0 || w->state[p] == 2)
                        continue;
                if (w->state[p] == 1)
                        return cycle_error(w, (uint32_t) p);
                w->state[p] = 1;
                w->stack[w->n_stack++] = (Frame){ .edge = (uint32_t) p };
        }
        return 0;
}

/* The roots: the targets, else the defaults, else every edge with an output nobody uses. */
static int pick_roots(Walk *w, char *const *targets, size_t n_targets) {
        const NinjaFile *f = w->f;
        int r = 0;

        for (size_t i = 0; i < n_targets && r >= 0; i++) {
                _cleanup_free_ char *t = strdup(targets[i]);
                int e;

                if (!t)
                        return -ENOMEM;
                (void) ninjafile_canon_path(t);
                e = ninjafile_find_output(f, t);
                if (e >= 0)
                        r = add_root(w, (uint32_t) e);
                else if (!ninjafile_is_input(f, t)) { /* a source file needs nothing: ninja says so too */
                        if (asprintf(&w->err, "unknown target '%s'", t) < 0)
                                w->err = NULL;
                        return -ENOENT;
                }
        }
        if (n_targets > 0)
                return r;
        for (size_t i = 0; i < f->n_defaults && r >= 0; i++)
                r = add_root(w, (uint32_t) ninjafile_find_output(f, f->defaults[i]));
        if (f->n_defaults > 0)
                return r;
        for (size_t e = 0; e < f->n_edges && r >= 0; e++) {
                bool root = false;

                for (size_t k = 0; k < f->edges[e].n_outs; k++)
                        root = root || !ninjafile_is_input(f, f->edges[e].outs[k]);
                if (root && !f->edges[e].generator)
                        r = add_root(w, (uint32_t) e);
        }
        return r;
}

static void walk_done(Walk *w) {
        free(w->state);
        free(w->mark);
        free(w->roots);
        free(w->stack);
}

int ninjafile_plan(const NinjaFile *f, char *const *targets, size_t n_targets, uint32_t **ret_order,
                   size_t *ret_n_order, uint32_t ***ret_deps, size_t **ret_n_deps, char **reterr_msg) {
        size_t n = MAX(f->n_edges, (size_t) 1);
        Walk w = { .f = f,
                   .state = calloc(n, 1),
                   .mark = calloc(n, sizeof(uint32_t)),
                   .deps = calloc(n, sizeof(uint32_t *)),
                   .n_deps = calloc(n, sizeof(size_t)),
                   .order = malloc(n * sizeof(uint32_t)),
                   .stack = malloc(n * sizeof(Frame)) };
        int r = 0;

        if (!w.state || !w.mark || !w.deps || !w.n_deps || !w.order || !w.stack)
                r = -ENOMEM;
        if (r >= 0)
                r = pick_roots(&w, targets, n_targets);
        for (size_t i = 0; r >= 0 && i < w.n_roots; i++) /* finish() may append validations */
                r = walk_from(&w, w.roots[i]);
        walk_done(&w);
        if (r < 0) {
                ninjafile_plan_free(f, w.order, w.deps, w.n_deps);
                if (reterr_msg)
                        *reterr_msg = w.err;
                else
                        free(w.err);
                return r;
        }
        /* phony edges' lists were only needed to resolve through them */
        for (size_t e = 0; e < f->n_edges; e++)
                if (is_phony(f, (uint32_t) e)) {
                        w.deps[e] = mfree(w.deps[e]);
                        w.n_deps[e] = 0;
                }
        *ret_order = w.order;
        *ret_n_order = w.n_order;
        *ret_deps = w.deps;
        *ret_n_deps = w.n_deps;
        return 0;
}

void ninjafile_plan_free(const NinjaFile *f, uint32_t *order, uint32_t **deps, size_t *n_deps) {
        for (size_t e = 0; deps && e < f->n_edges; e++)
                free(deps[e]);
        free(deps);
        free(n_deps);
        free(order);
}
