/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A job's audit trail (orchctl history): the numbered events of its life, in order, with who caused each
 * (a user for submissions and control actions, orchd for its own decisions). Events are made here from
 * what a commit records: history_note() compares the records of a commit with the last ones recorded
 * and appends one event per transition, so the trail holds exactly the durable transitions (and the start
 * of an attempt that ended before a commit saw it running: its new attempt number proves it); control
 * actions are added by the daemon with history_add(). journal.c writes the events into the same files as
 * the records (a segment: the events of its commit; a snapshot: every retained event), so a transition
 * is in the history exactly when it is in the state. Pure: no I/O, no logging.
 *
 * Invariants: event k has number first + k, numbers never repeat; events [0, flushed) are in a commit
 * already; only history_trim() drops events, oldest first, and only down to the cap.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"
#include "state.h"

/* events[].node of an event about the job itself. */
#define HISTORY_JOB UINT32_MAX
/* Retained events: a snapshot carries at most HISTORY_KEEP_MIN + HISTORY_KEEP_PER_NODE × nodes of them
 * (then the oldest are dropped, and the trail says how many), so a rewrite stays O(nodes). */
#define HISTORY_KEEP_MIN 4096U
#define HISTORY_KEEP_PER_NODE 8U

typedef enum HistoryKind {
        HISTORY_SUBMIT,  /* the job was accepted (the file's owner) */
        HISTORY_START,   /* a node's attempt / the job started */
        HISTORY_RETRY,   /* a node's next attempt started after its backoff */
        HISTORY_BACKOFF, /* an attempt failed; the node waits to be retried */
        HISTORY_END,     /* a node / the job ended (state and reason say how) */
        HISTORY_SKIP,    /* a node was skipped (its trigger rule) */
        HISTORY_CANCEL,  /* a cancel request, or a node cancelled */
        HISTORY_REQUEUE, /* back to pending: an interrupted attempt to rerun, or a manual retry */
        HISTORY_PAUSE,
        HISTORY_RESUME,
        HISTORY_RETRY_REQUEST, /* orchctl retry (a user) */
        HISTORY_RECOVER,       /* orchd restarted and took the job over */
        _HISTORY_KIND_MAX,
        _HISTORY_KIND_INVALID = -EINVAL,
} HistoryKind;

typedef struct HistoryEvent {
        uint64_t at;      /* CLOCK_REALTIME µs */
        uint32_t node;    /* index of the spec's node, or HISTORY_JOB */
        uint8_t kind;     /* HistoryKind */
        uint8_t state;    /* JobState (the job) or NodeState (a node) after the event */
        uint16_t attempt; /* the node's attempt number (0 for the job) */
        Reason reason;
        bool by_user; /* a submission or control action: uid and user say who; else orchd's decision */
        uid_t uid;
        char *user; /* owned; NULL if unknown or !by_user */
} HistoryEvent;

typedef struct History {
        HistoryEvent *events;
        size_t n, allocated;
        uint64_t first; /* number of events[0]: the events before it were dropped (cap) */
        size_t flushed; /* events[0…flushed) are in a commit */
        bool partial;   /* an older orchd recorded the job: the trail begins at what its state told */
        size_t n_nodes;
        uint8_t *last_state;    /* per node: the state of its last recorded record */
        uint16_t *last_attempt; /* and its attempt */
        uint8_t job_state;      /* the job's last recorded state */
        bool job_cancel;        /* and its cancel request */
} History;

/* Kind names ("start", "retry-request", …); NULL / -EINVAL out of range. */
const char *history_kind_to_string(HistoryKind k);
HistoryKind history_kind_from_string(const char *s);

/* An empty history of a job with n_nodes nodes whose records are run (the baseline history_note()
 * compares with). Returns 0 or -ENOMEM. */
int history_new(const JobRun *run, History **ret);
/* Free h and its events. Accepts NULL, returns NULL. */
History *history_free(History *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(History *, history_free);

/* The history of a job just accepted: its submission by the owner, event 0. Returns 0 or -ENOMEM. */
int history_new_submitted(const JobRun *run, History **ret);
/* The submission event of run (no user string copied: e.user borrows run->user). */
HistoryEvent history_submit_event(const JobRun *run);

/* Append a copy of e (user copied). Returns 0 or -ENOMEM. */
int history_add(History *h, const HistoryEvent *e);
/* Set the baseline to run's records without adding events (records replayed from a file). */
void history_set_baseline(History *h, const JobRun *run);
/* Append one event per transition of the records a commit holds (the job if job_dirty, the nodes in
 * dirty[], which may repeat) since they were last recorded, dated now; update the baseline. Returns 0 or
 * -ENOMEM. */
int history_note(History *h, const JobRun *run, bool job_dirty, const uint32_t *dirty, size_t n_dirty,
                 uint64_t now);
/* For a job an older orchd recorded (no events): mark h partial and add what run can tell: the
 * submission, the job's start and end, each node's last start and end, in time order. Returns 0 or
 * -ENOMEM. */
int history_reconstruct(History *h, const JobRun *run);
/* Drop the oldest events beyond the cap (all must be flushed or about to be in a snapshot). */
void history_trim(History *h);
/* The cap of a job with n nodes. */
size_t history_cap(size_t n_nodes);
