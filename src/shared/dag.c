/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The dependency graph of one job over node indices, and the run-time
 * bookkeeping that decides which node is ready and which is skipped.
 *
 * Edges are staged in a growable array, then dag_seal() freezes them into two
 * CSR arrays of uint32_t (dependencies and dependents, each list sorted by
 * index), which makes duplicate edges adjacent and cheap to find, and checks
 * for cycles. Everything is O(nodes + edges) with no comparison sort and no
 * hashing, and nothing recurses: a 100,000-node chain costs no stack.
 *
 * Invariants after dag_start()/dag_restore(): a node is finished at most once;
 * it enters the ready FIFO at most once, so the FIFO never needs more than n
 * slots; remaining[i] counts unfinished dependencies of i.
 *
 * Deliberately not here: node names, allow_failure (failed is failed for the
 * trigger rules), job-level policy (fail_fast, cancel) beyond the mechanical
 * dag_finish_pending() and which rules it keeps.
 */

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "dag.h"
#include "macro.h"

enum {
        FLAG_FINISHED = 1u << 0,
        FLAG_ACTIVE = 1u << 1, /* popped (running or retry_wait), or active at restore */
        FLAG_READY = 1u << 2,  /* in the ready FIFO, not yet popped */
};

typedef struct Edge {
        uint32_t from, to;
} Edge;

struct Dag {
        uint32_t n;
        bool sealed;
        bool started;
        uint8_t *trigger; /* TriggerRule per node */

        /* Before seal: the edges in the order they were added. */
        Edge *staged;
        size_t n_staged, cap_staged;

        /* After seal: CSR arrays. The dependencies of i are deps[dep_off[i] … dep_off[i+1]). */
        uint32_t *dep_off, *deps;
        uint32_t *out_off, *outs;

        /* Run-time bookkeeping. */
        uint32_t *remaining, *n_succeeded, *n_failed;
        uint8_t *flags;
        uint32_t *ready; /* FIFO: ready[ready_head … ready_tail) */
        size_t ready_head, ready_tail, n_ready;
        uint32_t *work; /* scratch queue for skip propagation */
        size_t n_finished;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(Dag *, dag_free);

int dag_new(size_t n, Dag **ret) {
        _cleanup_(dag_freep) Dag *d = NULL;

        assert(ret);

        if (n >= UINT32_MAX)
                return -E2BIG;

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->n = (uint32_t) n;
        /* calloc zero-fills: TRIGGER_SUCCESS is 0. One spare element keeps n = 0 from returning NULL. */
        d->trigger = calloc(n + 1, sizeof(uint8_t));
        if (!d->trigger)
                return -ENOMEM;

        *ret = TAKE_PTR(d);
        return 0;
}

static void dag_free_staging(Dag *d) {
        free(d->staged);
        d->staged = NULL;
        d->n_staged = d->cap_staged = 0;
}

Dag *dag_free(Dag *d) {
        if (!d)
                return NULL;
        dag_free_staging(d);
        free(d->trigger);
        free(d->dep_off);
        free(d->deps);
        free(d->out_off);
        free(d->outs);
        free(d->remaining);
        free(d->n_succeeded);
        free(d->n_failed);
        free(d->flags);
        free(d->ready);
        free(d->work);
        free(d);
        return NULL;
}

size_t dag_size(const Dag *d) {
        assert(d);
        return d->n;
}

void dag_set_trigger(Dag *d, uint32_t node, TriggerRule rule) {
        assert(d);
        assert(node < d->n);
        assert(rule >= 0 && rule < _TRIGGER_RULE_MAX);

        d->trigger[node] = (uint8_t) rule;
}

int dag_add_edge(Dag *d, uint32_t from, uint32_t to) {
        assert(d);
        assert(!d->sealed);

        if (from >= d->n || to >= d->n || from == to)
                return -EINVAL;
        /* CSR offsets are uint32_t. */
        if (d->n_staged >= UINT32_MAX)
                return -E2BIG;

        /* Duplicates are not looked for here: a per-edge lookup would cost a hash set as big as the
         * edges, while dag_seal() finds them for free in its sorted lists. */
        if (d->n_staged == d->cap_staged) {
                size_t cap = d->cap_staged ? d->cap_staged * 2 : 64;
                Edge *e;

                e = reallocarray(d->staged, cap, sizeof(Edge));
                if (!e)
                        return -ENOMEM;
                d->staged = e;
                d->cap_staged = cap;
        }

        d->staged[d->n_staged++] = (Edge){ .from = from, .to = to };
        return 0;
}

/* Turn per-node counts in off[0 … n-1] into start offsets in off[0 … n], off[n] = total. */
static void counts_to_offsets(uint32_t *off, uint32_t n) {
        uint32_t sum = 0;

        for (uint32_t i = 0; i < n; i++) {
                uint32_t c = off[i];

                off[i] = sum;
                sum += c;
        }
        off[n] = sum;
}

/* Build both CSR arrays. Chained counting-sort passes leave every list sorted by node index without a
 * comparison sort: outs grouped by "from" in staging order → deps filled by ascending "from" →
 * outs refilled by ascending "to". */
static int dag_build_csr(Dag *d) {
        _cleanup_free_ uint32_t *cursor = NULL;
        uint32_t n = d->n, m = (uint32_t) d->n_staged;

        d->dep_off = calloc((size_t) n + 1, sizeof(uint32_t));
        d->out_off = calloc((size_t) n + 1, sizeof(uint32_t));
        d->deps = malloc(MAX((size_t) m, (size_t) 1) * sizeof(uint32_t));
        d->outs = malloc(MAX((size_t) m, (size_t) 1) * sizeof(uint32_t));
        cursor = malloc(((size_t) n + 1) * sizeof(uint32_t));
        if (!d->dep_off || !d->out_off || !d->deps || !d->outs || !cursor)
                return -ENOMEM;

        for (uint32_t k = 0; k < m; k++) {
                d->out_off[d->staged[k].from]++;
                d->dep_off[d->staged[k].to]++;
        }
        counts_to_offsets(d->out_off, n);
        counts_to_offsets(d->dep_off, n);

        memcpy(cursor, d->out_off, ((size_t) n + 1) * sizeof(uint32_t));
        for (uint32_t k = 0; k < m; k++)
                d->outs[cursor[d->staged[k].from]++] = d->staged[k].to;

        memcpy(cursor, d->dep_off, ((size_t) n + 1) * sizeof(uint32_t));
        for (uint32_t from = 0; from < n; from++)
                for (uint32_t k = d->out_off[from]; k < d->out_off[from + 1]; k++)
                        d->deps[cursor[d->outs[k]]++] = from;

        memcpy(cursor, d->out_off, ((size_t) n + 1) * sizeof(uint32_t));
        for (uint32_t to = 0; to < n; to++)
                for (uint32_t k = d->dep_off[to]; k < d->dep_off[to + 1]; k++)
                        d->outs[cursor[d->deps[k]]++] = to;

        return 0;
}

/* Every dependency list is sorted, so a duplicate edge is two equal neighbours. Returns 0, -EEXIST with
 * the pair (from, to) in *ret, or -ENOMEM. */
static int dag_find_duplicate(const Dag *d, uint32_t **ret, size_t *ret_len) {
        for (uint32_t to = 0; to < d->n; to++)
                for (uint32_t k = d->dep_off[to] + 1; k < d->dep_off[to + 1]; k++) {
                        uint32_t *pair;

                        if (d->deps[k] != d->deps[k - 1])
                                continue;
                        if (!ret)
                                return -EEXIST;
                        pair = malloc(2 * sizeof(uint32_t));
                        if (!pair)
                                return -ENOMEM;
                        pair[0] = d->deps[k];
                        pair[1] = to;
                        *ret = pair;
                        if (ret_len)
                                *ret_len = 2;
                        return -EEXIST;
                }
        return 0;
}

/* Copy the cycle stack[from … depth) + stack[from] into a fresh array. */
static int cycle_report(const uint32_t *stack, size_t from, size_t depth, uint32_t **ret, size_t *ret_len) {
        size_t len = depth - from + 1;
        uint32_t *c;

        if (!ret)
                return 0;
        c = malloc(len * sizeof(uint32_t));
        if (!c)
                return -ENOMEM;
        memcpy(c, stack + from, (depth - from) * sizeof(uint32_t));
        c[len - 1] = stack[from];
        *ret = c;
        if (ret_len)
                *ret_len = len;
        return 0;
}

enum { WHITE, GREY, BLACK };

/* Iterative depth-first search along dependents. An edge into a grey node (one on the current path)
 * closes a cycle, which is the path from that node to the top of the stack. Returns 0, -ELOOP or
 * -ENOMEM. */
static int dag_find_cycle(const Dag *d, uint32_t **ret_cycle, size_t *ret_cycle_len) {
        _cleanup_free_ uint8_t *color = NULL;
        _cleanup_free_ uint32_t *stack = NULL, *pos = NULL, *depth_of = NULL;
        uint32_t n = d->n;

        color = calloc((size_t) n + 1, 1);
        stack = malloc(((size_t) n + 1) * sizeof(uint32_t));
        pos = malloc(((size_t) n + 1) * sizeof(uint32_t));
        depth_of = malloc(((size_t) n + 1) * sizeof(uint32_t));
        if (!color || !stack || !pos || !depth_of)
                return -ENOMEM;

        for (uint32_t root = 0; root < n; root++) {
                size_t depth = 0;

                if (color[root] != WHITE)
                        continue;

                color[root] = GREY;
                stack[0] = root;
                pos[0] = d->out_off[root];
                depth_of[root] = 0;
                depth = 1;

                while (depth > 0) {
                        uint32_t u = stack[depth - 1], v;

                        if (pos[depth - 1] == d->out_off[u + 1]) {
                                color[u] = BLACK;
                                depth--;
                                continue;
                        }
                        v = d->outs[pos[depth - 1]++];

                        if (color[v] == GREY) {
                                int r = cycle_report(stack, depth_of[v], depth, ret_cycle, ret_cycle_len);
                                return r < 0 ? r : -ELOOP;
                        }
                        if (color[v] == BLACK)
                                continue;

                        color[v] = GREY;
                        depth_of[v] = (uint32_t) depth;
                        stack[depth] = v;
                        pos[depth] = d->out_off[v];
                        depth++;
                }
        }
        return 0;
}

static int dag_alloc_runtime(Dag *d) {
        size_t n = (size_t) d->n + 1;

        d->remaining = malloc(n * sizeof(uint32_t));
        d->n_succeeded = malloc(n * sizeof(uint32_t));
        d->n_failed = malloc(n * sizeof(uint32_t));
        d->flags = malloc(n);
        d->ready = malloc(n * sizeof(uint32_t));
        d->work = malloc(n * sizeof(uint32_t));
        if (!d->remaining || !d->n_succeeded || !d->n_failed || !d->flags || !d->ready || !d->work)
                return -ENOMEM;
        return 0;
}

int dag_seal(Dag *d, uint32_t **ret_cycle, size_t *ret_cycle_len) {
        int r;

        assert(d);
        assert(!d->sealed);

        /* On failure the Dag keeps whatever was built and is only fit for dag_free(); no retry. */
        r = dag_build_csr(d);
        if (r < 0)
                return r;
        dag_free_staging(d);

        r = dag_find_duplicate(d, ret_cycle, ret_cycle_len);
        if (r < 0)
                return r;
        r = dag_find_cycle(d, ret_cycle, ret_cycle_len);
        if (r < 0)
                return r;

        r = dag_alloc_runtime(d);
        if (r < 0)
                return r;

        d->sealed = true;
        return 0;
}

const uint32_t *dag_dependencies(const Dag *d, uint32_t node, size_t *ret_n) {
        assert(d);
        assert(d->sealed);
        assert(node < d->n);

        if (ret_n)
                *ret_n = d->dep_off[node + 1] - d->dep_off[node];
        return d->deps + d->dep_off[node];
}

const uint32_t *dag_dependents(const Dag *d, uint32_t node, size_t *ret_n) {
        assert(d);
        assert(d->sealed);
        assert(node < d->n);

        if (ret_n)
                *ret_n = d->out_off[node + 1] - d->out_off[node];
        return d->outs + d->out_off[node];
}

bool trigger_rule_satisfied(TriggerRule rule, size_t n_deps, size_t n_succeeded, size_t n_failed) {
        /* A node without dependencies has nothing to wait for or judge: it runs under every rule. */
        if (n_deps == 0)
                return true;

        switch (rule) {
        case TRIGGER_SUCCESS:
                return n_succeeded == n_deps;
        case TRIGGER_FAILURE:
                return n_failed > 0;
        case TRIGGER_ALWAYS:
                return true;
        default:
                return false;
        }
}

int dag_outcome_from_node_state(NodeState s) {
        switch (s) {
        case NODE_SUCCEEDED:
                return DAG_SUCCEEDED;
        case NODE_FAILED:
        case NODE_CANCELLED: /* work that did not get done: a failure for the trigger rules */
                return DAG_FAILED;
        case NODE_SKIPPED:
                return DAG_OTHER;
        default:
                return -1;
        }
}

static void dag_reset_runtime(Dag *d) {
        for (uint32_t i = 0; i < d->n; i++) {
                d->remaining[i] = d->dep_off[i + 1] - d->dep_off[i];
                d->n_succeeded[i] = d->n_failed[i] = 0;
                d->flags[i] = 0;
        }
        d->ready_head = d->ready_tail = d->n_ready = 0;
        d->n_finished = 0;
        d->started = true;
}

static void dag_push_ready(Dag *d, uint32_t node) {
        /* Each node enters at most once per start/restore (FLAG_READY is never cleared back to a state
         * that could re-enter), so n slots suffice and the FIFO needs no wrap-around. */
        assert(d->ready_tail < d->n);

        d->flags[node] |= FLAG_READY;
        d->ready[d->ready_tail++] = node;
        d->n_ready++;
}

/* Mark node finished and tell its dependents. Dependents that thereby have all dependencies finished
 * are appended to the work queue for evaluation. */
static void dag_mark_finished(Dag *d, uint32_t node, DagOutcome o, size_t *n_work) {
        assert(!(d->flags[node] & FLAG_FINISHED));

        if (d->flags[node] & FLAG_READY)
                d->n_ready--; /* It stays in the FIFO; dag_pop_ready() skips finished entries. */
        d->flags[node] = FLAG_FINISHED;
        d->n_finished++;

        for (uint32_t k = d->out_off[node]; k < d->out_off[node + 1]; k++) {
                uint32_t v = d->outs[k];

                if (o == DAG_SUCCEEDED)
                        d->n_succeeded[v]++;
                else if (o == DAG_FAILED)
                        d->n_failed[v]++;
                assert(d->remaining[v] > 0);
                if (--d->remaining[v] == 0 && n_work)
                        d->work[(*n_work)++] = v;
        }
}

static bool dag_waiting(const Dag *d, uint32_t node) {
        return d->remaining[node] == 0 && !(d->flags[node] & (FLAG_FINISHED | FLAG_ACTIVE | FLAG_READY));
}

/* Evaluate the nodes in the work queue (and those it adds) breadth-first: ready if the trigger rule is
 * met, else skipped, which finishes them and may queue their dependents in turn. */
static void dag_drain_work(Dag *d, size_t n_work, dag_skip_cb skip_cb, void *userdata) {
        for (size_t i = 0; i < n_work; i++) {
                uint32_t v = d->work[i];
                size_t n_deps = d->dep_off[v + 1] - d->dep_off[v];

                if (!dag_waiting(d, v))
                        continue;

                if (trigger_rule_satisfied(d->trigger[v], n_deps, d->n_succeeded[v], d->n_failed[v])) {
                        dag_push_ready(d, v);
                        continue;
                }

                /* Each node is finished once, so the queue never holds more than n entries in one drain.
                 * Skipped because something upstream failed, it carries that failure on (so a "failure"
                 * handler further down still runs), as Airflow's upstream_failed does. */
                dag_mark_finished(d, v, d->n_failed[v] > 0 ? DAG_FAILED : DAG_OTHER, &n_work);
                if (skip_cb)
                        skip_cb(userdata, v);
        }
}

void dag_start(Dag *d) {
        assert(d);
        assert(d->sealed);

        dag_reset_runtime(d);
        for (uint32_t i = 0; i < d->n; i++)
                if (d->remaining[i] == 0)
                        dag_push_ready(d, i);
}

/* The nodes in the work queue whose dependencies all finished: those skipped by their rule (still
 * unfinished, pending[] set) finish now as what their dependencies make them, which may queue more. */
static void dag_restore_rule_skipped(Dag *d, size_t n_work, const int8_t *outcome) {
        for (size_t i = 0; i < n_work; i++) {
                uint32_t v = d->work[i];

                if (outcome[v] == DAG_RULE_SKIPPED && !(d->flags[v] & FLAG_FINISHED))
                        dag_mark_finished(d, v, d->n_failed[v] > 0 ? DAG_FAILED : DAG_OTHER, &n_work);
        }
}

void dag_restore(Dag *d, const int8_t *outcome, const bool *active, dag_skip_cb skip_cb, void *userdata) {
        size_t n_work = 0;

        assert(d);
        assert(d->sealed);
        assert(outcome);
        assert(active);

        dag_reset_runtime(d);

        /* Known outcomes first; a node skipped by its rule counts by its dependencies', so it is finished
         * in dependency order once they all are (it was judged only once they had all ended). */
        for (uint32_t i = 0; i < d->n; i++)
                if (outcome[i] >= 0 && outcome[i] != DAG_RULE_SKIPPED) {
                        assert(outcome[i] <= DAG_OTHER);
                        dag_mark_finished(d, i, (DagOutcome) outcome[i], &n_work);
                } else if (outcome[i] == DAG_RULE_SKIPPED && d->dep_off[i + 1] == d->dep_off[i])
                        d->work[n_work++] = i; /* not written by orchd: a node without dependencies runs */
                else if (active[i])
                        d->flags[i] |= FLAG_ACTIVE;
        dag_restore_rule_skipped(d, n_work, outcome);
        /* A skipped node whose dependency did not end cannot be recorded by orchd; count it as before. */
        n_work = 0;
        for (uint32_t i = 0; i < d->n; i++)
                if (outcome[i] == DAG_RULE_SKIPPED && !(d->flags[i] & FLAG_FINISHED))
                        dag_mark_finished(d, i, DAG_OTHER, &n_work);
        dag_restore_rule_skipped(d, n_work, outcome);

        /* Evaluate in index order; a skip propagates at once, so by the time the scan reaches a later node
         * it may already be ready or skipped, which dag_waiting() then filters out. */
        for (uint32_t i = 0; i < d->n; i++) {
                if (!dag_waiting(d, i))
                        continue;
                d->work[0] = i;
                dag_drain_work(d, 1, skip_cb, userdata);
        }
}

int dag_pop_ready(Dag *d, uint32_t *ret) {
        assert(d);
        assert(d->started);
        assert(ret);

        while (d->ready_head < d->ready_tail) {
                uint32_t v = d->ready[d->ready_head++];

                if (d->flags[v] & FLAG_FINISHED)
                        continue; /* Finished while waiting in the FIFO (cancelled by name). */

                d->flags[v] = (d->flags[v] & ~FLAG_READY) | FLAG_ACTIVE;
                d->n_ready--;
                *ret = v;
                return 1;
        }
        return 0;
}

size_t dag_n_ready(const Dag *d) {
        assert(d);
        return d->n_ready;
}

int dag_complete(Dag *d, uint32_t node, DagOutcome o, dag_skip_cb skip_cb, void *userdata) {
        size_t n_work = 0;

        assert(d);
        assert(d->started);
        assert(node < d->n);
        assert(o >= DAG_SUCCEEDED && o <= DAG_OTHER);

        if (d->flags[node] & FLAG_FINISHED)
                return -EALREADY;

        dag_mark_finished(d, node, o, &n_work);
        dag_drain_work(d, n_work, skip_cb, userdata);
        return 0;
}

void dag_finish_pending(Dag *d, unsigned keep, dag_skip_cb cb, dag_skip_cb skip_cb, void *userdata) {
        size_t n_work = 0, k = 0;

        assert(d);
        assert(d->started);

        for (uint32_t i = 0; i < d->n; i++) {
                if (d->flags[i] & (FLAG_FINISHED | FLAG_ACTIVE) || keep & (1u << d->trigger[i]))
                        continue;
                /* No evaluation of these: they are finished by this same loop or later by their own
                 * dag_complete(). Kept nodes whose dependencies thereby all ended are judged below. */
                dag_mark_finished(d, i, DAG_OTHER, &n_work);
                if (cb)
                        cb(userdata, i);
        }

        /* Only kept nodes are left unfinished in the FIFO: move them to its front, in order. Nothing is
         * pushed twice, so the n slots still suffice. */
        for (size_t h = d->ready_head; h < d->ready_tail; h++)
                if (!(d->flags[d->ready[h]] & FLAG_FINISHED))
                        d->ready[k++] = d->ready[h];
        d->ready_head = 0;
        d->ready_tail = d->n_ready = k;
        dag_drain_work(d, n_work, skip_cb, userdata);
}

bool dag_is_finished(const Dag *d) {
        assert(d);
        return d->started && d->n_finished == d->n;
}

bool dag_is_started(const Dag *d) {
        assert(d);
        return d->started;
}
