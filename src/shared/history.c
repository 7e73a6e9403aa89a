/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * history.c — a job's audit trail in memory: events made from the transitions of its records, control
 * actions added by the daemon, the cap, and what an older orchd's state can tell (history.h).
 *
 * Deliberately not here: the file format (journal.c writes the events, journal-load-history.c reads
 * them), who may read a trail (access.c), replies (methods-history.c).
 */

#include <stdlib.h>
#include <string.h>

#include "history.h"

static const char *const kind_names[_HISTORY_KIND_MAX] = {
        [HISTORY_SUBMIT] = "submit",
        [HISTORY_START] = "start",
        [HISTORY_RETRY] = "retry",
        [HISTORY_BACKOFF] = "backoff",
        [HISTORY_END] = "end",
        [HISTORY_SKIP] = "skip",
        [HISTORY_CANCEL] = "cancel",
        [HISTORY_REQUEUE] = "requeue",
        [HISTORY_PAUSE] = "pause",
        [HISTORY_RESUME] = "resume",
        [HISTORY_RETRY_REQUEST] = "retry-request",
        [HISTORY_RECOVER] = "recover",
};

const char *history_kind_to_string(HistoryKind k) {
        return k >= 0 && k < _HISTORY_KIND_MAX ? kind_names[k] : NULL;
}

HistoryKind history_kind_from_string(const char *s) {
        for (int k = 0; k < _HISTORY_KIND_MAX; k++)
                if (streq(kind_names[k], s))
                        return (HistoryKind) k;
        return _HISTORY_KIND_INVALID;
}

size_t history_cap(size_t n_nodes) {
        return HISTORY_KEEP_MIN + HISTORY_KEEP_PER_NODE * n_nodes;
}

int history_new(const JobRun *run, History **ret) {
        _cleanup_(history_freep) History *h = calloc(1, sizeof(History));

        if (!h)
                return -ENOMEM;
        h->n_nodes = run->n_nodes;
        h->last_state = calloc(MAX(run->n_nodes, (size_t) 1), sizeof(uint8_t));
        h->last_attempt = calloc(MAX(run->n_nodes, (size_t) 1), sizeof(uint16_t));
        if (!h->last_state || !h->last_attempt)
                return -ENOMEM;
        history_set_baseline(h, run);
        *ret = TAKE_PTR(h);
        return 0;
}

History *history_free(History *h) {
        if (!h)
                return NULL;
        for (size_t k = 0; k < h->n; k++)
                free(h->events[k].user);
        free(h->events);
        free(h->last_state);
        free(h->last_attempt);
        return mfree(h);
}

HistoryEvent history_submit_event(const JobRun *run) {
        return (HistoryEvent){
                .at = run->submitted_at,
                .node = HISTORY_JOB,
                .kind = HISTORY_SUBMIT,
                .state = JOB_QUEUED,
                .by_user = true,
                .uid = run->uid,
                .user = run->user,
        };
}

int history_new_submitted(const JobRun *run, History **ret) {
        _cleanup_(history_freep) History *h = NULL;
        HistoryEvent e = history_submit_event(run);
        int r;

        r = history_new(run, &h);
        if (r < 0)
                return r;
        /* The acceptance's records: every node pending, the job queued (its snapshot holds event 0). */
        memset(h->last_state, NODE_PENDING, h->n_nodes);
        memset(h->last_attempt, 0, h->n_nodes * sizeof(uint16_t));
        h->job_state = JOB_QUEUED;
        h->job_cancel = false;
        r = history_add(h, &e);
        if (r < 0)
                return r;
        h->flushed = h->n;
        *ret = TAKE_PTR(h);
        return 0;
}

int history_add(History *h, const HistoryEvent *e) {
        HistoryEvent copy = *e;

        if (h->n == h->allocated) {
                size_t m = MAX(h->allocated * 2, (size_t) 16);
                HistoryEvent *p = reallocarray(h->events, m, sizeof(HistoryEvent));

                if (!p)
                        return -ENOMEM;
                h->events = p;
                h->allocated = m;
        }
        if (e->user) {
                copy.user = strdup(e->user);
                if (!copy.user)
                        return -ENOMEM;
        }
        h->events[h->n++] = copy;
        return 0;
}

void history_set_baseline(History *h, const JobRun *run) {
        for (size_t i = 0; i < h->n_nodes && i < run->n_nodes; i++) {
                h->last_state[i] = run->nodes[i].state;
                h->last_attempt[i] = run->nodes[i].attempt;
        }
        h->job_state = run->state;
        h->job_cancel = run->cancel_requested;
}

/* What moving a node from → to (attempt a → b) was; -1 when it is no transition worth an event. */
static int node_kind(NodeState from, NodeState to, unsigned a, unsigned b) {
        switch (to) {
        case NODE_RUNNING:
                if (from == NODE_RUNNING && a == b)
                        return -1; /* a record rewritten (its pid, its log) */
                return from == NODE_RETRY_WAIT ? HISTORY_RETRY : HISTORY_START;
        case NODE_RETRY_WAIT:
                return from == NODE_RETRY_WAIT ? -1 : HISTORY_BACKOFF;
        case NODE_PENDING:
                return from == NODE_PENDING ? -1 : HISTORY_REQUEUE;
        case NODE_SKIPPED:
                return from == to ? -1 : HISTORY_SKIP;
        case NODE_CANCELLED:
                return from == to ? -1 : HISTORY_CANCEL;
        default:
                return from == to ? -1 : HISTORY_END;
        }
}

static int note_node(History *h, const NodeRun *n, uint32_t i, uint64_t now) {
        NodeState from = h->last_state[i];
        unsigned last_attempt = h->last_attempt[i];
        int kind, r;
        HistoryEvent e;

        h->last_state[i] = n->state;
        h->last_attempt[i] = n->attempt;
        /* A new attempt that is past running already: it started and ended (or failed again) between two
         * commits, while the committer was busy. Its start is certain from the record (a new attempt
         * number), so it is told first, and the rest as what followed a run. */
        if (n->attempt > last_attempt && n->state != NODE_RUNNING && n->state != NODE_PENDING) {
                e = (HistoryEvent){ .node = i,
                                    .kind = from == NODE_RETRY_WAIT ? HISTORY_RETRY : HISTORY_START,
                                    .state = NODE_RUNNING,
                                    .attempt = n->attempt,
                                    .at = n->started_at ?: now };
                r = history_add(h, &e);
                if (r < 0)
                        return r;
                from = NODE_RUNNING;
                last_attempt = n->attempt;
        }
        kind = node_kind(from, n->state, last_attempt, n->attempt);
        if (kind < 0)
                return 0;
        e = (HistoryEvent){ .node = i, .kind = (uint8_t) kind, .state = n->state, .attempt = n->attempt };
        if (kind == HISTORY_REQUEUE && from == NODE_RUNNING)
                e.reason = (Reason){ .kind = REASON_INTERRUPTED }; /* its record keeps none, it says why */
        else if (kind != HISTORY_START && kind != HISTORY_RETRY)
                e.reason = n->reason; /* a new attempt has none yet (the record may keep the last one's) */
        /* The record's own times where it has them: the history then agrees with status to the µs. */
        e.at = kind == HISTORY_START || kind == HISTORY_RETRY ? n->started_at :
                node_state_is_final(n->state)                 ? n->finished_at :
                                                                0;
        if (e.at == 0)
                e.at = now;
        return history_add(h, &e);
}

/* The job's own transitions. Pause, resume and cancel requests are users' actions: the daemon records
 * them with their actor (history_add()), so they are not repeated here as orchd's. */
static int note_job(History *h, const JobRun *run, uint64_t now) {
        JobState from = h->job_state, to = run->state;
        HistoryEvent e = { .node = HISTORY_JOB, .state = run->state, .reason = run->reason, .at = now };

        h->job_state = run->state;
        h->job_cancel = run->cancel_requested;
        if (from == to || to == JOB_PAUSED || (from == JOB_PAUSED && !job_state_is_final(to)))
                return 0;
        if (to == JOB_RUNNING) {
                e.kind = HISTORY_START;
                e.at = run->started_at ?: now;
        } else if (to == JOB_QUEUED)
                e.kind = HISTORY_REQUEUE;
        else if (job_state_is_final(to)) {
                e.kind = HISTORY_END;
                e.at = run->finished_at ?: now;
        } else
                return 0;
        return history_add(h, &e);
}

int history_note(History *h, const JobRun *run, bool job_dirty, const uint32_t *dirty, size_t n_dirty,
                 uint64_t now) {
        int r;

        /* The job starts before its nodes and ends after them. A node listed twice has no transition the
         * second time (the baseline is updated), so no sort is needed. */
        if (job_dirty && !job_state_is_final(run->state)) {
                r = note_job(h, run, now);
                if (r < 0)
                        return r;
                job_dirty = false;
        }
        for (size_t k = 0; k < n_dirty; k++) {
                if (dirty[k] >= h->n_nodes || dirty[k] >= run->n_nodes)
                        continue;
                r = note_node(h, &run->nodes[dirty[k]], dirty[k], now);
                if (r < 0)
                        return r;
        }
        if (job_dirty)
                return note_job(h, run, now);
        return 0;
}

/* Where an event goes among those of the same time: the job's start, the nodes' starts, their ends, the
 * job's end. */
static int same_time_rank(const HistoryEvent *e) {
        if (e->node == HISTORY_JOB)
                return e->kind == HISTORY_START ? 0 : 3;
        return e->kind == HISTORY_START ? 1 : 2;
}

/* Time order; at equal times as same_time_rank() says, then by node. */
static int cmp_event_time(const void *a, const void *b) {
        const HistoryEvent *x = a, *y = b;

        if (x->at != y->at)
                return x->at < y->at ? -1 : 1;
        if (same_time_rank(x) != same_time_rank(y))
                return same_time_rank(x) - same_time_rank(y);
        return x->node < y->node ? -1 : x->node > y->node;
}

int history_reconstruct(History *h, const JobRun *run) {
        HistoryEvent submit = history_submit_event(run);
        size_t from;
        int r;

        h->partial = true;
        r = history_add(h, &submit);
        if (r < 0)
                return r;
        from = h->n;
        for (size_t i = 0; i < run->n_nodes && i < h->n_nodes; i++) {
                const NodeRun *n = &run->nodes[i];
                HistoryEvent e = { .node = (uint32_t) i, .attempt = n->attempt, .state = NODE_RUNNING };

                if (n->started_at > 0) {
                        e.kind = HISTORY_START;
                        e.at = n->started_at;
                        r = history_add(h, &e);
                        if (r < 0)
                                return r;
                }
                if (node_state_is_final(n->state) || n->state == NODE_RETRY_WAIT) {
                        e.kind = (uint8_t) node_kind(NODE_RUNNING, n->state, n->attempt, n->attempt);
                        e.state = n->state;
                        e.reason = n->reason;
                        e.at = n->finished_at ?: n->started_at ?: run->submitted_at;
                        r = history_add(h, &e);
                        if (r < 0)
                                return r;
                }
        }
        if (run->started_at > 0) {
                r = history_add(h,
                                &(HistoryEvent){ .node = HISTORY_JOB,
                                                 .kind = HISTORY_START,
                                                 .state = JOB_RUNNING,
                                                 .at = run->started_at });
                if (r < 0)
                        return r;
        }
        if (job_state_is_final(run->state)) {
                r = history_add(h,
                                &(HistoryEvent){ .node = HISTORY_JOB,
                                                 .kind = HISTORY_END,
                                                 .state = run->state,
                                                 .reason = run->reason,
                                                 .at = run->finished_at ?: run->submitted_at });
                if (r < 0)
                        return r;
        }
        qsort(h->events + from, h->n - from, sizeof(HistoryEvent), cmp_event_time);
        history_set_baseline(h, run);
        return 0;
}

void history_trim(History *h) {
        size_t cap = history_cap(h->n_nodes), drop;

        if (h->n <= cap)
                return;
        drop = h->n - cap + cap / 4; /* a quarter below the cap: not a move per event */
        for (size_t k = 0; k < drop; k++)
                free(h->events[k].user);
        memmove(h->events, h->events + drop, (h->n - drop) * sizeof(HistoryEvent));
        h->n -= drop;
        h->first += drop;
        h->flushed = h->flushed > drop ? h->flushed - drop : 0;
}
