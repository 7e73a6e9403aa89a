/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * journal-load-history.c — the history members of journal files (journal.c's HIST and EVENTS), for
 * journal-load.c: a snapshot's "history" and a segment's "events", validated field by field and, when
 * the loader collects them (journal_load_history()), appended to its History.
 *
 * Invariants: events are numbered consecutively across the snapshot and its segments (a gap or a repeat
 * is corruption); an event names a node of the spec or none; records are complete, as the others.
 *
 * Deliberately not here: the records of the state (journal-load.c), making events (history.c).
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "journal-internal.h"
#include "journal-load-internal.h"

/* The first _EF_REQUIRED are in every event; the others only when they say something (journal.c). */
enum {
        EF_AT,
        EF_EVENT,
        EF_STATE,
        _EF_REQUIRED,
        EF_NODE = _EF_REQUIRED,
        EF_REASON,
        EF_ATTEMPT,
        EF_UID,
        EF_USER,
        _EF_MAX
};
static const char *const event_fields[_EF_MAX] = {
        [EF_AT] = "at",         [EF_NODE] = "node",       [EF_EVENT] = "event", [EF_STATE] = "state",
        [EF_REASON] = "reason", [EF_ATTEMPT] = "attempt", [EF_UID] = "uid",     [EF_USER] = "user",
};

/* as_job and as_node: the "state" read as a job's and as a node's state (which applies is known once the
 * record has been read). */
static int read_event_field(Loader *l, const char *prefix, int f, HistoryEvent *e, int *as_job,
                            int *as_node) {
        const char *key = event_fields[f], *s;
        uint64_t v = 0;
        ssize_t k;
        int r;

        switch (f) {
        case EF_AT:
                return loader_read_uint(l, prefix, key, 0, JOURNAL_NUM_MAX, false, &e->at);
        case EF_ATTEMPT:
                r = loader_read_uint(l, prefix, key, 0, UINT16_MAX, false, &v);
                e->attempt = (uint16_t) v;
                return r;
        case EF_UID:
                r = loader_read_uint(l, prefix, key, 0, UINT32_MAX, false, &v); /* as the job record's */
                e->by_user = true;
                e->uid = (uid_t) v;
                return r;
        case EF_REASON:
                return loader_read_reason(l, prefix, &e->reason);
        case EF_NODE:
                r = loader_read_string(l, prefix, key, false, &s);
                if (r < 0)
                        return r;
                k = jobspec_find_node(l->spec, s);
                if (k < 0)
                        return loader_bad(l, prefix, key, "unknown node");
                e->node = (uint32_t) k;
                return 0;
        case EF_EVENT:
                r = loader_read_string(l, prefix, key, false, &s);
                if (r < 0)
                        return r;
                r = history_kind_from_string(s);
                if (r < 0)
                        return loader_bad(l, prefix, key, "unknown event \"%s\"", s);
                e->kind = (uint8_t) r;
                return 0;
        case EF_STATE: /* a job's or a node's: checked once the node is known */
                r = loader_read_string(l, prefix, key, false, &s);
                if (r < 0)
                        return r;
                *as_job = job_state_from_string(s);
                *as_node = node_state_from_string(s);
                return 0;
        case EF_USER:
                r = loader_read_string(l, prefix, key, true, &s);
                if (r < 0 || !s)
                        return r;
                e->user = strdup(s);
                return e->user ? 0 : -ENOMEM;
        }
        return -EINVAL;
}

static int read_event(Loader *l, const char *prefix, HistoryEvent *e) {
        int as_job = -1, as_node = -1;
        unsigned seen = 0, st = 0;
        const char *key;
        int r;

        r = loader_open_object(l, prefix, NULL);
        if (r < 0)
                return r;
        for (size_t i = 0; (r = loader_object_next(l, &st, &key)) > 0; i++) {
                int f = loader_record_field(l, prefix, event_fields, _EF_MAX, key, i, &seen);
                if (f < 0)
                        return f;
                r = read_event_field(l, prefix, f, e, &as_job, &as_node);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = loader_check_missing(l, prefix, event_fields, _EF_REQUIRED, seen);
        if (r < 0)
                return r;
        if (!(seen & 1U << EF_UID) != !(seen & 1U << EF_USER))
                return loader_bad(l, prefix, "user", "must come with uid (a user's action) or not at all");
        r = e->node == HISTORY_JOB ? as_job : as_node;
        if (r < 0)
                return loader_bad(l, prefix, "state", "not a %s state",
                                  e->node == HISTORY_JOB ? "job" : "node");
        e->state = (uint8_t) r;
        return 0;
}

int loader_read_events(Loader *l, const char *prefix) {
        const char *key;
        unsigned st = 0;
        int r;

        if (!l->history_seen)
                return loader_bad(l, prefix, "events", "follow a snapshot without history");
        r = loader_open_object(l, prefix, "events");
        if (r < 0)
                return r;
        while ((r = loader_object_next(l, &st, &key)) > 0) {
                HistoryEvent e = { .node = HISTORY_JOB };
                char path[64], want[21];

                (void) snprintf(want, sizeof(want), "%" PRIu64, l->next_event);
                (void) snprintf(path, sizeof(path), "%s%sevents.%.20s", prefix ?: "", prefix ? "." : "",
                                key);
                if (!streq(key, want))
                        return loader_bad(l, path, NULL, "out of sequence, want event %s", want);
                r = read_event(l, path, &e);
                if (r >= 0 && l->history)
                        r = history_add(l->history, &e);
                free(e.user);
                if (r < 0)
                        return r;
                l->next_event++;
        }
        return r;
}

enum { HF_FIRST, HF_PARTIAL, HF_EVENTS, _HF_MAX };
static const char *const history_fields[_HF_MAX] = { "first", "partial", "events" };

int loader_read_history(Loader *l) {
        unsigned seen = 0, st = 0;
        const char *key;
        bool partial;
        int r;

        r = loader_open_object(l, NULL, "history");
        if (r < 0)
                return r;
        l->history_seen = true;
        for (size_t i = 0; (r = loader_object_next(l, &st, &key)) > 0; i++) {
                int f = loader_record_field(l, "history", history_fields, _HF_MAX, key, i, &seen);
                if (f < 0)
                        return f;
                if (f == HF_FIRST) {
                        if (seen & (1U << HF_EVENTS))
                                return loader_bad(l, "history", "first", "must come before events");
                        r = loader_read_uint(l, "history", "first", 0, JOURNAL_NUM_MAX, false,
                                             &l->next_event);
                        if (r >= 0 && l->history)
                                l->history->first = l->next_event;
                } else if (f == HF_PARTIAL) {
                        r = loader_read_bool(l, "history", "partial", &partial);
                        if (r >= 0 && l->history)
                                l->history->partial = partial;
                } else
                        r = loader_read_events(l, "history");
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return loader_check_missing(l, "history", history_fields, _HF_MAX, seen);
}
