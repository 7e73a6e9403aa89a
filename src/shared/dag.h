/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The dependency graph of one job over node indices 0…n-1: edges, cycle
 * detection, and the run-time bookkeeping that turns finished nodes into
 * ready or skipped ones (trigger rules, SPEC §3 "when"). Pure, no strings:
 * callers map indices to ids. Memory is O(nodes + edges) in flat arrays.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"

typedef struct Dag Dag;

/* How a finished node counts for its dependents' trigger rules. */
typedef enum DagOutcome {
        DAG_SUCCEEDED,
        DAG_FAILED, /* failed (allow_failure nodes too), cancelled, or skipped by its rule after a failure */
        DAG_OTHER,  /* skipped with no failure upstream (a rule not met, fail_fast): neither */
        DAG_RULE_SKIPPED, /* dag_restore() only: skipped by its trigger rule; FAILED if a dependency was */
} DagOutcome;

/* Called for every node the DAG decides to skip (its trigger rule is not met). It counts for its own
 * dependents as DAG_FAILED if one of its dependencies did (Airflow's upstream_failed), else DAG_OTHER.
 * The node is already
 * finished in the DAG when called. Must not call back into the same Dag. */
typedef void (*dag_skip_cb)(void *userdata, uint32_t node);

/* New graph with n nodes, no edges, every rule "success". Returns 0, -ENOMEM, -E2BIG (n ≥ 2^32 - 1). */
int dag_new(size_t n, Dag **ret);
/* Accepts NULL, returns NULL. */
Dag *dag_free(Dag *d);

size_t dag_size(const Dag *d);

/* Set node's trigger rule. */
void dag_set_trigger(Dag *d, uint32_t node, TriggerRule rule);

/* "to" runs after "from". Returns 0, -EINVAL (self edge or out of range), -ENOMEM, -E2BIG (too many
 * edges: 2^32 - 1). Only before dag_seal(). A duplicate is accepted here and reported by dag_seal(). */
int dag_add_edge(Dag *d, uint32_t from, uint32_t to);

/* Freeze the edges into flat arrays and check them. Returns 0; -ENOMEM; -EEXIST for a duplicate edge, with
 * *ret_cycle (malloc'd) = { from, to } and *ret_cycle_len = 2; or -ELOOP with
 * *ret_cycle (malloc'd) = a cycle as node indices n0, n1, …, nk where nk == n0 and each n(i+1) is
 * "after" n(i)'s … i.e. printed as "n0 -> n1 -> … -> n0" it reads "a -> b -> a" for b after a, a after b.
 * ret_cycle may be NULL. After any failure the Dag is only fit for dag_free(). */
int dag_seal(Dag *d, uint32_t **ret_cycle, size_t *ret_cycle_len);

/* Dependencies and dependents of a node (after seal), each sorted by node index; *ret_n = the count. */
const uint32_t *dag_dependencies(const Dag *d, uint32_t node, size_t *ret_n);
const uint32_t *dag_dependents(const Dag *d, uint32_t node, size_t *ret_n);

/* Start bookkeeping with no node finished: nodes without dependencies become ready, in index order. */
void dag_start(Dag *d);

/* Restore bookkeeping after a restart. outcome[i] is the DagOutcome of a finished node or -1; active[i]
 * is true for nodes that are neither finished nor to be (re)started by the DAG (running, retry_wait).
 * Unfinished, inactive nodes whose dependencies are all finished are evaluated: ready, or skipped
 * (skip_cb, then propagated as DAG_OTHER). */
void dag_restore(Dag *d, const int8_t *outcome, const bool *active, dag_skip_cb skip_cb, void *userdata);

/* Take the next ready node (FIFO). It becomes active. Returns 1 and *ret, or 0 if none is ready. */
int dag_pop_ready(Dag *d, uint32_t *ret);
/* Number of ready nodes not yet popped. */
size_t dag_n_ready(const Dag *d);

/* Record that an active or pending node finished. Dependents whose dependencies are now all finished are
 * evaluated: they become ready, or are skipped (skip_cb, propagated). Returns 0, or -EALREADY if the node
 * had already finished. */
int dag_complete(Dag *d, uint32_t node, DagOutcome o, dag_skip_cb skip_cb, void *userdata);

/* Finish every node that is neither finished nor active (pending or ready) and whose rule is not in keep
 * (a mask of 1u << TriggerRule) without evaluating trigger rules: cb is called for each, in index order,
 * and it counts as DAG_OTHER. Kept nodes stay (ready ones in the ready queue, in order) and are judged by
 * their rule once their dependencies end: skip_cb for each skipped. Used by cancel, fail_fast, timeout. */
void dag_finish_pending(Dag *d, unsigned keep, dag_skip_cb cb, dag_skip_cb skip_cb, void *userdata);

/* Whether every node has finished. */
bool dag_is_finished(const Dag *d);
/* Whether dag_start() or dag_restore() ran (before, dag_complete() may not be called). */
bool dag_is_started(const Dag *d);

/* Whether a trigger rule lets a node run given its finished dependencies' counts. A node with no
 * dependencies satisfies every rule. */
bool trigger_rule_satisfied(TriggerRule rule, size_t n_deps, size_t n_succeeded, size_t n_failed);

/* The DagOutcome of a final node state (cancelled → DAG_FAILED, skipped → DAG_OTHER), or -1 for a
 * non-final one: what dag_restore() wants in outcome[], but for nodes skipped by their trigger rule
 * (reason upstream), which are DAG_RULE_SKIPPED there. */
int dag_outcome_from_node_state(NodeState s);
