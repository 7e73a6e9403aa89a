/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for dag.c: edge validation, cycle reports, ready order, trigger rules with skip propagation,
 * restore after a restart, finish_pending, and large graphs (a 100,000-node chain, a 100,000-wide fan-out
 * and 1,000,000 edges) that would blow the stack if anything recursed and must stay fast.
 */

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "dag.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Dag *, dag_free);

typedef struct EdgeSpec {
        uint32_t from, to;
} EdgeSpec;

/* Records callbacks as a comma-separated list, so expectations read like "1,2,3". */
typedef struct Log {
        char buf[512];
        size_t count;
} Log;

static void log_append(Log *l, uint32_t node) {
        size_t len = strlen(l->buf);

        snprintf(l->buf + len, sizeof(l->buf) - len, "%s%" PRIu32, len > 0 ? "," : "", node);
        l->count++;
}

static void on_skip(void *userdata, uint32_t node) {
        log_append(userdata, node);
}

static void count_skip(void *userdata, uint32_t node) {
        (*(size_t *) userdata)++;
}

static Dag *build(size_t n, const EdgeSpec *edges, size_t n_edges) {
        Dag *d = NULL;

        assert_int_equal(dag_new(n, &d), 0);
        for (size_t i = 0; i < n_edges; i++)
                if (dag_add_edge(d, edges[i].from, edges[i].to) != 0)
                        fail_msg("dag_add_edge(%u, %u) failed", edges[i].from, edges[i].to);
        return d;
}

static void seal_ok(Dag *d) {
        _cleanup_free_ uint32_t *cycle = NULL;
        size_t len = 0;
        int r;

        r = dag_seal(d, &cycle, &len);
        if (r != 0)
                fail_msg("dag_seal: got %d, want 0", r);
        assert_null(cycle);
}

static void test_trigger_rule_satisfied(void **state) {
        static const struct {
                TriggerRule rule;
                size_t n_deps, n_succeeded, n_failed;
                bool want;
        } table[] = {
                { TRIGGER_SUCCESS, 0, 0, 0, true },    { TRIGGER_FAILURE, 0, 0, 0, true },
                { TRIGGER_ALWAYS, 0, 0, 0, true },     { TRIGGER_SUCCESS, 2, 2, 0, true },
                { TRIGGER_SUCCESS, 2, 1, 1, false },   { TRIGGER_SUCCESS, 2, 1, 0, false }, /* one skipped */
                { TRIGGER_FAILURE, 2, 1, 1, true },    { TRIGGER_FAILURE, 2, 2, 0, false },
                { TRIGGER_FAILURE, 2, 0, 0, false },   { TRIGGER_FAILURE, 3, 0, 3, true },
                { TRIGGER_ALWAYS, 2, 0, 0, true },     { TRIGGER_ALWAYS, 2, 0, 2, true },
                { _TRIGGER_RULE_MAX, 1, 1, 0, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                bool got = trigger_rule_satisfied(table[i].rule, table[i].n_deps, table[i].n_succeeded,
                                                  table[i].n_failed);
                if (got != table[i].want)
                        fail_msg("case #%zu: got %d, want %d", i, got, table[i].want);
        }
}

static void test_outcome_from_node_state(void **state) {
        assert_int_equal(dag_outcome_from_node_state(NODE_SUCCEEDED), DAG_SUCCEEDED);
        assert_int_equal(dag_outcome_from_node_state(NODE_FAILED), DAG_FAILED);
        assert_int_equal(dag_outcome_from_node_state(NODE_SKIPPED), DAG_OTHER);
        assert_int_equal(dag_outcome_from_node_state(NODE_CANCELLED), DAG_FAILED);
        assert_int_equal(dag_outcome_from_node_state(NODE_PENDING), -1);
        assert_int_equal(dag_outcome_from_node_state(NODE_RUNNING), -1);
        assert_int_equal(dag_outcome_from_node_state(NODE_RETRY_WAIT), -1);
}

static void test_add_edge_errors(void **state) {
        _cleanup_(dag_freep) Dag *d = NULL;
        Dag *big = NULL;

        assert_int_equal(dag_new(3, &d), 0);
        assert_int_equal(dag_size(d), 3);
        assert_int_equal(dag_add_edge(d, 0, 0), -EINVAL);
        assert_int_equal(dag_add_edge(d, 0, 3), -EINVAL);
        assert_int_equal(dag_add_edge(d, 3, 0), -EINVAL);
        assert_int_equal(dag_add_edge(d, 0, 1), 0);
        assert_int_equal(dag_add_edge(d, 1, 2), 0);

        assert_int_equal(dag_new((size_t) UINT32_MAX, &big), -E2BIG);
        assert_null(dag_free(NULL));
}

/* Duplicates are reported by dag_seal() with the pair, before any cycle. */
static void test_duplicates(void **state) {
        static const EdgeSpec dup_first[] = { { 0, 1 }, { 1, 2 }, { 0, 1 } };
        static const EdgeSpec dup_and_cycle[] = { { 2, 0 }, { 0, 1 }, { 1, 2 }, { 1, 2 } };
        static const EdgeSpec dup_apart[] = { { 3, 4 }, { 0, 4 }, { 1, 4 }, { 2, 3 }, { 3, 4 } };
        static const struct {
                size_t n;
                const EdgeSpec *edges;
                size_t n_edges;
                uint32_t want_from, want_to;
        } table[] = {
                { 3, dup_first, ELEMENTSOF(dup_first), 0, 1 },
                { 3, dup_and_cycle, ELEMENTSOF(dup_and_cycle), 1, 2 },
                { 5, dup_apart, ELEMENTSOF(dup_apart), 3, 4 },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(dag_freep) Dag *d = build(table[i].n, table[i].edges, table[i].n_edges);
                _cleanup_free_ uint32_t *pair = NULL;
                size_t len = 0;
                int r;

                r = dag_seal(d, &pair, &len);
                if (r != -EEXIST)
                        fail_msg("case #%zu: got %d, want -EEXIST", i, r);
                assert_int_equal(len, 2);
                if (pair[0] != table[i].want_from || pair[1] != table[i].want_to)
                        fail_msg("case #%zu: got %u -> %u, want %u -> %u", i, pair[0], pair[1],
                                 table[i].want_from, table[i].want_to);
        }
        {
                _cleanup_(dag_freep) Dag *d = build(3, dup_first, ELEMENTSOF(dup_first));

                assert_int_equal(dag_seal(d, NULL, NULL), -EEXIST);
        }
}

/* Many edges into one node and out of another, in scrambled order: exactly the one duplicate is found. */
static void test_duplicate_among_many(void **state) {
        const uint32_t n = 20000;
        _cleanup_(dag_freep) Dag *d = NULL;
        _cleanup_free_ uint32_t *pair = NULL;
        size_t len = 0;

        assert_int_equal(dag_new(n, &d), 0);
        for (uint32_t k = 1; k < n - 1; k++) {
                uint32_t i = (uint32_t) ((uint64_t) k * 7919 % (n - 2)) + 1; /* a permutation of 1 … n-2 */

                assert_int_equal(dag_add_edge(d, i, n - 1), 0);
                assert_int_equal(dag_add_edge(d, 0, i), 0);
        }
        assert_int_equal(dag_add_edge(d, 12345, n - 1), 0);
        assert_int_equal(dag_seal(d, &pair, &len), -EEXIST);
        assert_int_equal(len, 2);
        assert_int_equal(pair[0], 12345);
        assert_int_equal(pair[1], n - 1);
}

static void assert_cycle(const EdgeSpec *edges, size_t n_edges, const uint32_t *cycle, size_t len,
                         const uint32_t *want, size_t want_len) {
        assert_non_null(cycle);
        assert_true(len >= 3);
        assert_int_equal(cycle[0], cycle[len - 1]);
        /* Every step is a real edge from → to. */
        for (size_t i = 0; i + 1 < len; i++) {
                bool found = false;

                for (size_t k = 0; k < n_edges && !found; k++)
                        found = edges[k].from == cycle[i] && edges[k].to == cycle[i + 1];
                if (!found)
                        fail_msg("cycle step %u -> %u is not an edge", cycle[i], cycle[i + 1]);
        }
        if (want) {
                assert_int_equal(len, want_len);
                for (size_t i = 0; i < len; i++)
                        if (cycle[i] != want[i])
                                fail_msg("cycle[%zu]: got %u, want %u", i, cycle[i], want[i]);
        }
}

static void test_cycles(void **state) {
        static const EdgeSpec two[] = { { 0, 1 }, { 1, 0 } };
        static const uint32_t two_want[] = { 0, 1, 0 };
        /* 0 -> 1 -> 2 -> 3 -> 1, plus an innocent 4 -> 0. */
        static const EdgeSpec three[] = { { 0, 1 }, { 1, 2 }, { 2, 3 }, { 3, 1 }, { 4, 0 } };
        static const uint32_t three_want[] = { 1, 2, 3, 1 };
        static const struct {
                size_t n;
                const EdgeSpec *edges;
                size_t n_edges;
                const uint32_t *want;
                size_t want_len;
        } table[] = {
                { 2, two, ELEMENTSOF(two), two_want, ELEMENTSOF(two_want) },
                { 5, three, ELEMENTSOF(three), three_want, ELEMENTSOF(three_want) },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(dag_freep) Dag *d = build(table[i].n, table[i].edges, table[i].n_edges);
                _cleanup_free_ uint32_t *cycle = NULL;
                size_t len = 0;
                int r;

                r = dag_seal(d, &cycle, &len);
                if (r != -ELOOP)
                        fail_msg("case #%zu: got %d, want -ELOOP", i, r);
                assert_cycle(table[i].edges, table[i].n_edges, cycle, len, table[i].want, table[i].want_len);
        }

        /* NULL ret_cycle is allowed. */
        {
                _cleanup_(dag_freep) Dag *d = build(2, two, ELEMENTSOF(two));

                assert_int_equal(dag_seal(d, NULL, NULL), -ELOOP);
        }
}

/* A 100,000-node ring: the DFS must be iterative, and the report covers the whole ring. */
static void test_long_cycle(void **state) {
        const uint32_t n = 100000;
        _cleanup_(dag_freep) Dag *d = NULL;
        _cleanup_free_ uint32_t *cycle = NULL;
        size_t len = 0;

        assert_int_equal(dag_new(n, &d), 0);
        for (uint32_t i = 0; i < n; i++)
                assert_int_equal(dag_add_edge(d, i, (i + 1) % n), 0);
        assert_int_equal(dag_seal(d, &cycle, &len), -ELOOP);
        assert_int_equal(len, n + 1);
        for (uint32_t i = 0; i < n; i++)
                if (cycle[i] != i)
                        fail_msg("cycle[%u]: got %u, want %u", i, cycle[i], i);
        assert_int_equal(cycle[n], 0);
}

static void test_adjacency_sorted(void **state) {
        static const EdgeSpec edges[] = {
                { 3, 4 }, { 1, 4 }, { 2, 4 }, { 0, 4 }, { 0, 2 }, { 0, 1 }, { 0, 3 },
        };
        _cleanup_(dag_freep) Dag *d = build(5, edges, ELEMENTSOF(edges));
        const uint32_t *l;
        size_t n;

        seal_ok(d);
        l = dag_dependencies(d, 4, &n);
        assert_int_equal(n, 4);
        for (uint32_t i = 0; i < 4; i++)
                assert_int_equal(l[i], i);
        l = dag_dependents(d, 0, &n);
        assert_int_equal(n, 4);
        for (uint32_t i = 0; i < 4; i++)
                assert_int_equal(l[i], i + 1);
        (void) dag_dependencies(d, 0, &n);
        assert_int_equal(n, 0);
        (void) dag_dependents(d, 4, &n);
        assert_int_equal(n, 0);
}

static void test_diamond(void **state) {
        /* 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3; plus an independent 4. */
        static const EdgeSpec edges[] = { { 0, 2 }, { 0, 1 }, { 1, 3 }, { 2, 3 } };
        _cleanup_(dag_freep) Dag *d = build(5, edges, ELEMENTSOF(edges));
        Log skips = {};
        uint32_t v;

        seal_ok(d);
        assert_false(dag_is_started(d));
        dag_start(d);
        assert_true(dag_is_started(d));
        assert_false(dag_is_finished(d));
        assert_int_equal(dag_n_ready(d), 2);
        assert_int_equal(dag_pop_ready(d, &v), 1);
        assert_int_equal(v, 0);
        assert_int_equal(dag_pop_ready(d, &v), 1);
        assert_int_equal(v, 4);
        assert_int_equal(dag_pop_ready(d, &v), 0);

        assert_int_equal(dag_complete(d, 4, DAG_SUCCEEDED, on_skip, &skips), 0);
        assert_int_equal(dag_complete(d, 0, DAG_SUCCEEDED, on_skip, &skips), 0);
        assert_int_equal(dag_complete(d, 0, DAG_SUCCEEDED, on_skip, &skips), -EALREADY);
        assert_int_equal(dag_n_ready(d), 2);
        assert_int_equal(dag_pop_ready(d, &v), 1);
        assert_int_equal(v, 1);
        assert_int_equal(dag_pop_ready(d, &v), 1);
        assert_int_equal(v, 2);

        assert_int_equal(dag_complete(d, 2, DAG_SUCCEEDED, on_skip, &skips), 0);
        assert_int_equal(dag_n_ready(d), 0); /* 3 still waits for 1 */
        assert_int_equal(dag_complete(d, 1, DAG_SUCCEEDED, on_skip, &skips), 0);
        assert_int_equal(dag_pop_ready(d, &v), 1);
        assert_int_equal(v, 3);
        assert_false(dag_is_finished(d));
        assert_int_equal(dag_complete(d, 3, DAG_SUCCEEDED, on_skip, &skips), 0);
        assert_true(dag_is_finished(d));
        assert_int_equal(skips.count, 0);
}

/* Drive a whole graph: pop every ready node and complete it with outcome[node]. */
static void drive(Dag *d, const DagOutcome *outcome, Log *ran, Log *skipped) {
        uint32_t v;

        dag_start(d);
        while (dag_pop_ready(d, &v) > 0) {
                log_append(ran, v);
                assert_int_equal(dag_complete(d, v, outcome[v], on_skip, skipped), 0);
        }
        assert_true(dag_is_finished(d));
}

#define S DAG_SUCCEEDED
#define F DAG_FAILED
#define SUC TRIGGER_SUCCESS
#define FAI TRIGGER_FAILURE
#define ALW TRIGGER_ALWAYS

static void test_trigger_rules(void **state) {
        static const struct {
                const char *name;
                size_t n;
                EdgeSpec edges[6];
                size_t n_edges;
                TriggerRule rule[6];
                DagOutcome outcome[6];
                const char *want_ran, *want_skipped;
        } table[] = {
                { "success after failure", 2, { { 0, 1 } }, 1, { SUC, SUC }, { F, S }, "0", "1" },
                { "success chain skips",
                  4,
                  { { 0, 1 }, { 1, 2 }, { 2, 3 } },
                  3,
                  { SUC, SUC, SUC, SUC },
                  { F, S, S, S },
                  "0",
                  "1,2,3" },
                { "failure runs on failure", 2, { { 0, 1 } }, 1, { SUC, FAI }, { F, S }, "0,1", "" },
                { "failure skipped on success",
                  3,
                  { { 0, 1 }, { 1, 2 } },
                  2,
                  { SUC, FAI, SUC },
                  { S, S, S },
                  "0",
                  "1,2" },
                { "always after failure", 2, { { 0, 1 } }, 1, { SUC, ALW }, { F, S }, "0,1", "" },
                { "always after skip",
                  3,
                  { { 0, 1 }, { 1, 2 } },
                  2,
                  { SUC, SUC, ALW },
                  { F, S, S },
                  "0,2",
                  "1" },
                /* A dependency skipped after a failure carries it (Airflow's upstream_failed). */
                { "failure after skip",
                  3,
                  { { 0, 1 }, { 1, 2 } },
                  2,
                  { SUC, SUC, FAI },
                  { F, S, S },
                  "0,2",
                  "1" },
                { "failure with one failed of two",
                  3,
                  { { 0, 2 }, { 1, 2 } },
                  2,
                  { SUC, SUC, FAI },
                  { F, S, S },
                  "0,1,2",
                  "" },
                { "success with one failed of two",
                  3,
                  { { 0, 2 }, { 1, 2 } },
                  2,
                  { SUC, SUC, SUC },
                  { S, F, S },
                  "0,1",
                  "2" },
                /* SPEC §3 example: build -> unit, e2e -> report (always). */
                { "spec example",
                  4,
                  { { 0, 1 }, { 0, 2 }, { 1, 3 }, { 2, 3 } },
                  4,
                  { SUC, SUC, SUC, ALW },
                  { F, S, S, S },
                  "0,3",
                  "1,2" },
                { "failure handler chain",
                  4,
                  { { 0, 1 }, { 1, 2 }, { 2, 3 } },
                  3,
                  { SUC, SUC, FAI, SUC },
                  { S, F, S, S },
                  "0,1,2,3",
                  "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(dag_freep) Dag *d = build(table[i].n, table[i].edges, table[i].n_edges);
                Log ran = {}, skipped = {};

                for (uint32_t k = 0; k < table[i].n; k++)
                        dag_set_trigger(d, k, table[i].rule[k]);
                seal_ok(d);
                drive(d, table[i].outcome, &ran, &skipped);

                if (!streq(ran.buf, table[i].want_ran))
                        fail_msg("%s: ran got \"%s\", want \"%s\"", table[i].name, ran.buf,
                                 table[i].want_ran);
                if (!streq(skipped.buf, table[i].want_skipped))
                        fail_msg("%s: skipped got \"%s\", want \"%s\"", table[i].name, skipped.buf,
                                 table[i].want_skipped);
        }
}

static void test_restore(void **state) {
        /* 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3, 3 -> 4, and an independent 5. */
        static const EdgeSpec edges[] = { { 0, 1 }, { 0, 2 }, { 1, 3 }, { 2, 3 }, { 3, 4 } };
        static const struct {
                const char *name;
                int8_t outcome[6];
                bool active[6];
                TriggerRule rule4;
                const char *want_ready, *want_skipped;
        } table[] = {
                { "nothing done", { -1, -1, -1, -1, -1, -1 }, {}, SUC, "0,5", "" },
                { "root done", { S, -1, -1, -1, -1, -1 }, {}, SUC, "1,2,5", "" },
                { "root done, 1 running", { S, -1, -1, -1, -1, -1 }, { [1] = true }, SUC, "2,5", "" },
                { "all but one done", { S, S, S, S, -1, S }, {}, SUC, "4", "" },
                { "root failed", { F, -1, -1, -1, -1, -1 }, {}, SUC, "5", "1,2,3,4" },
                { "root failed, always at the end", { F, -1, -1, -1, -1, -1 }, {}, ALW, "4,5", "1,2,3" },
                { "one side failed", { S, F, S, -1, -1, -1 }, { [5] = true }, SUC, "", "3,4" },
                { "one side failed, other running", { S, F, -1, -1, -1, -1 }, { [2] = true }, SUC, "5", "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(dag_freep) Dag *d = build(6, edges, ELEMENTSOF(edges));
                Log ready = {}, skipped = {};
                uint32_t v;

                dag_set_trigger(d, 4, table[i].rule4);
                seal_ok(d);
                /* A fresh run first, to prove restore resets the bookkeeping. */
                dag_start(d);
                assert_int_equal(dag_pop_ready(d, &v), 1);
                assert_int_equal(dag_complete(d, v, DAG_FAILED, NULL, NULL), 0);

                dag_restore(d, table[i].outcome, table[i].active, on_skip, &skipped);
                assert_int_equal(dag_n_ready(d),
                                 strlen(table[i].want_ready) == 0 ? 0 :
                                                                    (strlen(table[i].want_ready) + 1) / 2);
                while (dag_pop_ready(d, &v) > 0)
                        log_append(&ready, v);
                if (!streq(ready.buf, table[i].want_ready))
                        fail_msg("%s: ready got \"%s\", want \"%s\"", table[i].name, ready.buf,
                                 table[i].want_ready);
                if (!streq(skipped.buf, table[i].want_skipped))
                        fail_msg("%s: skipped got \"%s\", want \"%s\"", table[i].name, skipped.buf,
                                 table[i].want_skipped);
        }
}

/* After restore, active nodes complete normally and drive their dependents. */
static void test_restore_then_complete(void **state) {
        static const EdgeSpec edges[] = { { 0, 1 }, { 0, 2 }, { 1, 3 }, { 2, 3 }, { 3, 4 } };
        static const int8_t outcome[5] = { S, F, -1, -1, -1 };
        static const bool active[5] = { [2] = true };
        _cleanup_(dag_freep) Dag *d = build(5, edges, ELEMENTSOF(edges));
        Log skipped = {};

        seal_ok(d);
        dag_restore(d, outcome, active, on_skip, &skipped);
        assert_true(dag_is_started(d));
        assert_int_equal(dag_n_ready(d), 0);
        assert_int_equal(dag_complete(d, 1, DAG_SUCCEEDED, on_skip, &skipped), -EALREADY);
        assert_int_equal(dag_complete(d, 2, DAG_SUCCEEDED, on_skip, &skipped), 0);
        assert_string_equal(skipped.buf, "3,4");
        assert_true(dag_is_finished(d));
}

static void test_finish_pending(void **state) {
        /* 0 -> 2, 1 -> 2, 2 -> 3; 4 independent. */
        static const EdgeSpec edges[] = { { 0, 2 }, { 1, 2 }, { 2, 3 } };
        _cleanup_(dag_freep) Dag *d = build(5, edges, ELEMENTSOF(edges));
        Log finished = {}, skipped = {};
        uint32_t v;

        seal_ok(d);
        dag_start(d);
        assert_int_equal(dag_n_ready(d), 3); /* 0, 1, 4 */
        assert_int_equal(dag_pop_ready(d, &v), 1);
        assert_int_equal(v, 0);

        /* 0 is active; 1 and 4 are ready; 2 and 3 pending: those four finish, in index order. */
        dag_finish_pending(d, 0, on_skip, on_skip, &finished);
        assert_string_equal(finished.buf, "1,2,3,4");
        assert_int_equal(dag_n_ready(d), 0);
        assert_int_equal(dag_pop_ready(d, &v), 0);
        assert_false(dag_is_finished(d));

        /* The active node ends later; nothing is evaluated again. */
        assert_int_equal(dag_complete(d, 0, DAG_SUCCEEDED, on_skip, &skipped), 0);
        assert_int_equal(skipped.count, 0);
        assert_true(dag_is_finished(d));
        assert_int_equal(dag_complete(d, 3, DAG_OTHER, on_skip, &skipped), -EALREADY);
}

/* A node skipped because something upstream failed carries the failure on: a "failure" handler two
 * levels down runs (Airflow's upstream_failed); one skipped with no failure upstream does not. */
static void test_skip_carries_failure(void **state) {
        /* 0 -> 1 (success) -> 2 (failure); 3 (failure) -> 4 (failure) */
        static const EdgeSpec edges[] = { { 0, 1 }, { 1, 2 }, { 0, 3 }, { 3, 4 } };
        _cleanup_(dag_freep) Dag *d = build(5, edges, ELEMENTSOF(edges));
        Log skipped = {};
        uint32_t v;

        dag_set_trigger(d, 2, TRIGGER_FAILURE);
        dag_set_trigger(d, 3, TRIGGER_FAILURE);
        dag_set_trigger(d, 4, TRIGGER_FAILURE);
        seal_ok(d);
        dag_start(d);
        assert_int_equal(dag_pop_ready(d, &v), 1);
        assert_int_equal(dag_complete(d, 0, DAG_FAILED, on_skip, &skipped), 0);
        assert_string_equal(skipped.buf, "1"); /* 3 runs: its dependency failed */
        assert_int_equal(dag_pop_ready(d, &v), 1);
        assert_int_equal(v, 3);
        assert_int_equal(dag_pop_ready(d, &v), 1);
        assert_int_equal(v, 2); /* skipped 1 counts as failed for it */
        assert_int_equal(dag_complete(d, 3, DAG_SUCCEEDED, on_skip, &skipped), 0);
        assert_string_equal(skipped.buf, "1,4"); /* nothing failed above 4 */
}

/* The same after a restart: a node recorded as skipped by its rule counts by its dependencies. */
static void test_restore_rule_skipped(void **state) {
        /* 2 -> 0 (success) -> 1 (failure): 2 failed, 0 skipped; 3 -> 4 (success) -> 5 (failure): 3 ok */
        static const EdgeSpec edges[] = { { 2, 0 }, { 0, 1 }, { 3, 4 }, { 4, 5 } };
        static const int8_t outcome[6] = { DAG_RULE_SKIPPED, -1, F, S, DAG_RULE_SKIPPED, -1 };
        static const bool active[6] = {};
        _cleanup_(dag_freep) Dag *d = build(6, edges, ELEMENTSOF(edges));
        Log skipped = {};
        uint32_t v;

        dag_set_trigger(d, 1, TRIGGER_FAILURE);
        dag_set_trigger(d, 5, TRIGGER_FAILURE);
        seal_ok(d);
        dag_restore(d, outcome, active, on_skip, &skipped);
        assert_string_equal(skipped.buf, "5");
        assert_int_equal(dag_pop_ready(d, &v), 1);
        assert_int_equal(v, 1);
        assert_int_equal(dag_pop_ready(d, &v), 0);
}

/* A stop keeps nodes of the given rules: ready ones stay ready, pending ones are judged once their
 * dependencies end (here through the stop itself and a later completion). */
static void test_finish_pending_keeps(void **state) {
        /* 0 active; 1 ready (always); 2 ready (success); 0 -> 3 (always); 2 -> 4 (always); 4 -> 5 (success);
         * 0 -> 6 (failure) */
        static const EdgeSpec edges[] = { { 0, 3 }, { 2, 4 }, { 4, 5 }, { 0, 6 } };
        _cleanup_(dag_freep) Dag *d = build(7, edges, ELEMENTSOF(edges));
        Log finished = {}, skipped = {};
        uint32_t v;

        dag_set_trigger(d, 1, TRIGGER_ALWAYS);
        dag_set_trigger(d, 3, TRIGGER_ALWAYS);
        dag_set_trigger(d, 4, TRIGGER_ALWAYS);
        dag_set_trigger(d, 6, TRIGGER_FAILURE);
        seal_ok(d);
        dag_start(d);
        assert_int_equal(dag_pop_ready(d, &v), 1);
        assert_int_equal(v, 0);

        dag_finish_pending(d, 1u << TRIGGER_ALWAYS, on_skip, on_skip, &finished);
        assert_string_equal(finished.buf, "2,5,6");
        assert_int_equal(dag_n_ready(d), 2); /* 1 kept, 4 judged: always */
        assert_int_equal(dag_pop_ready(d, &v), 1);
        assert_int_equal(v, 1);
        assert_int_equal(dag_pop_ready(d, &v), 1);
        assert_int_equal(v, 4);
        assert_int_equal(dag_pop_ready(d, &v), 0);
        assert_int_equal(dag_complete(d, 0, DAG_FAILED, on_skip, &skipped), 0);
        assert_int_equal(dag_pop_ready(d, &v), 1);
        assert_int_equal(v, 3);
        assert_int_equal(skipped.count, 0);
}

/* A ready node finished by name (cancel JOB NODE) leaves the FIFO without being handed out. */
static void test_complete_ready_and_pending(void **state) {
        static const EdgeSpec edges[] = { { 0, 3 }, { 1, 3 }, { 2, 3 } };
        _cleanup_(dag_freep) Dag *d = build(4, edges, ELEMENTSOF(edges));
        Log skipped = {};
        uint32_t v;

        dag_set_trigger(d, 3, TRIGGER_ALWAYS);
        seal_ok(d);
        dag_start(d);
        assert_int_equal(dag_n_ready(d), 3);
        assert_int_equal(dag_complete(d, 1, DAG_OTHER, on_skip, &skipped), 0);
        assert_int_equal(dag_n_ready(d), 2);
        assert_int_equal(dag_pop_ready(d, &v), 1);
        assert_int_equal(v, 0);
        assert_int_equal(dag_pop_ready(d, &v), 1);
        assert_int_equal(v, 2);
        assert_int_equal(dag_pop_ready(d, &v), 0);
        assert_int_equal(dag_n_ready(d), 0);

        assert_int_equal(dag_complete(d, 0, DAG_SUCCEEDED, on_skip, &skipped), 0);
        assert_int_equal(dag_complete(d, 2, DAG_FAILED, on_skip, &skipped), 0);
        assert_int_equal(dag_pop_ready(d, &v), 1);
        assert_int_equal(v, 3); /* always: runs after success, skip-like and failure */
        assert_int_equal(skipped.count, 0);
}

static void test_empty(void **state) {
        _cleanup_(dag_freep) Dag *d = NULL;
        uint32_t v;

        assert_int_equal(dag_new(0, &d), 0);
        seal_ok(d);
        dag_start(d);
        assert_int_equal(dag_pop_ready(d, &v), 0);
        assert_true(dag_is_finished(d));
}

static double now_ms(void) {
        struct timespec ts;

        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
        return (double) ts.tv_sec * 1000.0 + (double) ts.tv_nsec / 1e6;
}

static void test_long_chain(void **state) {
        const uint32_t n = 100000;
        _cleanup_(dag_freep) Dag *d = NULL;
        size_t n_skipped = 0, n_done = 0;
        double t0, ms;
        uint32_t v;

        assert_int_equal(dag_new(n, &d), 0);
        for (uint32_t i = 0; i + 1 < n; i++)
                assert_int_equal(dag_add_edge(d, i, i + 1), 0);
        t0 = now_ms();
        seal_ok(d);
        dag_start(d);
        while (dag_pop_ready(d, &v) > 0) {
                assert_int_equal(v, n_done);
                n_done++;
                assert_int_equal(dag_complete(d, v, DAG_SUCCEEDED, count_skip, &n_skipped), 0);
        }
        ms = now_ms() - t0;
        assert_int_equal(n_done, n);
        assert_int_equal(n_skipped, 0);
        assert_true(dag_is_finished(d));
        print_message("chain of %u: %.1f ms\n", n, ms);

        /* The same chain failing at its head skips 99,999 nodes in one iterative propagation. */
        dag_start(d);
        assert_int_equal(dag_pop_ready(d, &v), 1);
        assert_int_equal(dag_complete(d, v, DAG_FAILED, count_skip, &n_skipped), 0);
        assert_int_equal(n_skipped, n - 1);
        assert_true(dag_is_finished(d));
}

static void test_wide_fan_out(void **state) {
        const uint32_t n = 100000;
        _cleanup_(dag_freep) Dag *d = NULL;
        size_t n_skipped = 0, n_done = 0;
        uint32_t v;

        /* 0 -> 1 … n-2 -> n-1: a fan-out and a fan-in of 99,998. */
        assert_int_equal(dag_new(n, &d), 0);
        for (uint32_t i = 1; i + 1 < n; i++) {
                assert_int_equal(dag_add_edge(d, 0, i), 0);
                assert_int_equal(dag_add_edge(d, i, n - 1), 0);
        }
        seal_ok(d);

        dag_start(d);
        assert_int_equal(dag_pop_ready(d, &v), 1);
        assert_int_equal(dag_complete(d, v, DAG_SUCCEEDED, count_skip, &n_skipped), 0);
        assert_int_equal(dag_n_ready(d), n - 2);
        for (uint32_t i = 1; i + 1 < n; i++) {
                assert_int_equal(dag_pop_ready(d, &v), 1);
                assert_int_equal(v, i);
        }
        for (uint32_t i = 1; i + 1 < n; i++)
                assert_int_equal(
                        dag_complete(d, i, i == 5000 ? DAG_FAILED : DAG_SUCCEEDED, count_skip, &n_skipped),
                        0);
        assert_int_equal(n_skipped, 1); /* the sink: one failed dependency */
        assert_true(dag_is_finished(d));

        dag_set_trigger(d, n - 1, TRIGGER_FAILURE);
        dag_start(d);
        while (dag_pop_ready(d, &v) > 0) {
                n_done++;
                assert_int_equal(
                        dag_complete(d, v, v == 0 ? DAG_FAILED : DAG_SUCCEEDED, count_skip, &n_skipped), 0);
        }
        assert_int_equal(n_done, 2); /* the root, and the sink: its skipped dependencies carry the failure */
        assert_int_equal(n_skipped, 1 + n - 2); /* everything between */
}

static uint64_t xorshift(uint64_t *x) {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        return *x;
}

/* 100,000 nodes and 1,000,000 random forward edges: seal, start and complete everything. */
static void test_million_edges(void **state) {
        const uint32_t n = 100000;
        _cleanup_(dag_freep) Dag *d = NULL;
        _cleanup_free_ uint32_t *stamp = NULL;
        size_t n_edges = 0, n_done = 0, n_skipped = 0;
        uint64_t rng = 88172645463325252u;
        double t0, ms;
        uint32_t v;

        stamp = calloc(n, sizeof(uint32_t));
        assert_non_null(stamp);
        assert_int_equal(dag_new(n, &d), 0);
        /* Each node after 10 distinct random lower-indexed ones (fewer for the first ten), and the
         * remainder up to 1,000,000 on the last node: acyclic and duplicate-free by construction. */
        for (uint32_t to = 1; to < n; to++) {
                uint32_t want = to + 1 < n ? MIN(to, 10u) : (uint32_t) (1000000 - n_edges);

                for (uint32_t k = 0; k < want;) {
                        uint32_t from = (uint32_t) (xorshift(&rng) % to);

                        if (stamp[from] == to)
                                continue;
                        stamp[from] = to;
                        assert_int_equal(dag_add_edge(d, from, to), 0);
                        n_edges++;
                        k++;
                }
        }
        assert_int_equal(n_edges, 1000000);
        t0 = now_ms();
        seal_ok(d);
        dag_start(d);
        while (dag_pop_ready(d, &v) > 0) {
                n_done++;
                assert_int_equal(dag_complete(d, v, DAG_SUCCEEDED, count_skip, &n_skipped), 0);
        }
        ms = now_ms() - t0;
        assert_int_equal(n_done, n);
        assert_int_equal(n_skipped, 0);
        print_message("%u nodes, %zu edges: %.1f ms\n", n, n_edges, ms);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_trigger_rule_satisfied),
                cmocka_unit_test(test_outcome_from_node_state),
                cmocka_unit_test(test_add_edge_errors),
                cmocka_unit_test(test_duplicates),
                cmocka_unit_test(test_duplicate_among_many),
                cmocka_unit_test(test_cycles),
                cmocka_unit_test(test_long_cycle),
                cmocka_unit_test(test_adjacency_sorted),
                cmocka_unit_test(test_diamond),
                cmocka_unit_test(test_trigger_rules),
                cmocka_unit_test(test_restore),
                cmocka_unit_test(test_restore_then_complete),
                cmocka_unit_test(test_finish_pending),
                cmocka_unit_test(test_complete_ready_and_pending),
                cmocka_unit_test(test_skip_carries_failure),
                cmocka_unit_test(test_restore_rule_skipped),
                cmocka_unit_test(test_finish_pending_keeps),
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_long_chain),
                cmocka_unit_test(test_wide_fan_out),
                cmocka_unit_test(test_million_edges),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
