/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * usage.c — per-user counts, the admission caps and the fair share of run slots.
 *
 * Owns: one UserUsage per uid that ever had a job here, sorted by uid. The
 * job, byte and node figures are kept up to date by the manager as jobs are
 * accepted, recovered, finish, are retried (and, later, removed); the running
 * figures are rebuilt by every scheduling pass, which is the one place that
 * hands out slots. Invariants: figures never go below zero (a decrement that
 * would is clamped: a bookkeeping slip must not turn into a huge unsigned
 * figure that locks a user out). Does not know who is exempt or how a uid is
 * named: callers pass that in. Never logs.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usage.h"

static const char *const limit_names[_USAGE_LIMIT_MAX] = {
        [USAGE_JOBS] = "UserMaxJobs",
        [USAGE_BYTES] = "UserMaxBytes",
        [USAGE_NODES] = "UserMaxNodes",
        [USAGE_RUNNING] = "UserMaxRunning",
};

const char *usage_limit_to_string(UsageLimit l) {
        return l >= 0 && l < _USAGE_LIMIT_MAX ? limit_names[l] : NULL;
}

void usage_done(Usage *u) {
        free(u->users);
        *u = (Usage){};
}

/* The index of uid, or where it would go (*found false). */
static size_t find(const Usage *u, uid_t uid, bool *found) {
        size_t lo = 0, hi = u->n_users;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (u->users[mid].uid == uid) {
                        *found = true;
                        return mid;
                }
                if (u->users[mid].uid < uid)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = false;
        return lo;
}

const UserUsage *usage_get(const Usage *u, uid_t uid) {
        bool found;
        size_t i = find(u, uid, &found);

        return found ? &u->users[i] : NULL;
}

static UserUsage *get_mut(Usage *u, uid_t uid) {
        return (UserUsage *) usage_get(u, uid);
}

/* The entry of uid, created (all zero) if needed; NULL on OOM. */
static UserUsage *get_or_add(Usage *u, uid_t uid) {
        bool found;
        size_t i = find(u, uid, &found);

        if (found)
                return &u->users[i];
        if (u->n_users == u->cap_users) {
                size_t cap = MAX(u->cap_users * 2, (size_t) 8);
                UserUsage *n = reallocarray(u->users, cap, sizeof(UserUsage));

                if (!n)
                        return NULL;
                u->users = n;
                u->cap_users = cap;
        }
        memmove(u->users + i + 1, u->users + i, (u->n_users - i) * sizeof(UserUsage));
        u->users[i] = (UserUsage){ .uid = uid };
        u->n_users++;
        return &u->users[i];
}

static void sub(uint64_t *v, uint64_t d) {
        *v = *v > d ? *v - d : 0;
}

int usage_add_job(Usage *u, uid_t uid, uint64_t bytes, uint64_t nodes, bool unfinished) {
        UserUsage *e = get_or_add(u, uid);

        if (!e)
                return -ENOMEM;
        e->n[USAGE_BYTES] += bytes;
        if (unfinished) {
                e->n[USAGE_JOBS]++;
                e->n[USAGE_NODES] += nodes;
        }
        return 0;
}

int usage_job_finished(Usage *u, uid_t uid, uint64_t nodes, bool finished) {
        UserUsage *e = get_or_add(u, uid);

        if (!e)
                return -ENOMEM;
        if (finished) {
                sub(&e->n[USAGE_JOBS], 1);
                sub(&e->n[USAGE_NODES], nodes);
        } else {
                e->n[USAGE_JOBS]++;
                e->n[USAGE_NODES] += nodes;
        }
        return 0;
}

void usage_remove_job(Usage *u, uid_t uid, uint64_t bytes, uint64_t nodes, bool unfinished) {
        UserUsage *e = get_mut(u, uid);

        if (!e)
                return;
        sub(&e->n[USAGE_BYTES], bytes);
        if (unfinished) {
                sub(&e->n[USAGE_JOBS], 1);
                sub(&e->n[USAGE_NODES], nodes);
        }
}

int usage_admit(const Usage *u, const UsageLimits *l, uid_t uid, bool exempt, uint64_t bytes, uint64_t nodes,
                UsageDenial *ret) {
        const UserUsage *e = usage_get(u, uid);
        const UserUsage zero = {};
        const uint64_t add[] = { [USAGE_JOBS] = 1, [USAGE_BYTES] = bytes, [USAGE_NODES] = nodes };

        if (exempt)
                return 0;
        if (!e)
                e = &zero;
        for (UsageLimit k = USAGE_JOBS; k <= USAGE_NODES; k++) {
                uint64_t max = l->max[k];

                /* Written so that it cannot overflow: current + add > max. */
                if (max > 0 && (e->n[k] > max || add[k] > max - e->n[k])) {
                        *ret = (UsageDenial){ .limit = k, .current = e->n[k], .max = max };
                        return -EDQUOT;
                }
        }
        return 0;
}

/* 1536 → "1.5 KiB"; small figures stay plain bytes. */
static void format_bytes(uint64_t v, char *buf, size_t size) {
        static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
        double d = (double) v;
        size_t k = 0;

        if (v < 1024) {
                snprintf(buf, size, "%" PRIu64 " bytes", v);
                return;
        }
        for (d /= 1024; d >= 1024 && k + 1 < ELEMENTSOF(units); k++)
                d /= 1024;
        snprintf(buf, size, "%.1f %s", d, units[k]);
}

char *usage_denial_format(const UsageDenial *d, const char *user) {
        char cur[32], max[32];
        char *s = NULL;
        int r = -1;

        switch (d->limit) {
        case USAGE_JOBS:
                r = asprintf(&s,
                             "user %s has %" PRIu64 " unfinished jobs, the limit UserMaxJobs= is %" PRIu64
                             "; wait for some to finish",
                             user, d->current, d->max);
                break;
        case USAGE_BYTES:
                format_bytes(d->current, cur, sizeof(cur));
                format_bytes(d->max, max, sizeof(max));
                r = asprintf(
                        &s,
                        "user %s has %s of job files in the spool (finished jobs included), the limit "
                        "UserMaxBytes= is %s and this job would exceed it; ask the administrator to remove "
                        "finished jobs, or submit a smaller file",
                        user, cur, max);
                break;
        case USAGE_NODES:
                r = asprintf(&s,
                             "user %s has %" PRIu64
                             " nodes in unfinished jobs, the limit UserMaxNodes= is %" PRIu64
                             " and this job would exceed it; wait for some jobs to finish",
                             user, d->current, d->max);
                break;
        default:
                r = asprintf(&s, "user %s has %" PRIu64 " of %s=%" PRIu64, user, d->current,
                             strna(usage_limit_to_string(d->limit)), d->max);
                break;
        }
        return r < 0 ? NULL : s;
}

/* ---- fair share ------------------------------------------------------------------------------- */

void usage_pass_begin(Usage *u, unsigned max_parallel, uint64_t max_running) {
        for (size_t i = 0; i < u->n_users; i++) {
                u->users[i].n[USAGE_RUNNING] = 0;
                u->users[i].wants = false;
        }
        u->max_parallel = max_parallel;
        u->max_running = max_running;
        u->n_active = 0;
}

int usage_set_exempt(Usage *u, uid_t uid, bool exempt) {
        UserUsage *e = get_or_add(u, uid);

        if (!e)
                return -ENOMEM;
        e->exempt = exempt;
        return 0;
}

int usage_pass_note(Usage *u, uid_t uid, unsigned running, bool wants) {
        UserUsage *e = get_or_add(u, uid);

        if (!e)
                return -ENOMEM;
        e->n[USAGE_RUNNING] += running;
        e->wants = e->wants || wants;
        return 0;
}

unsigned usage_pass_ready(Usage *u) {
        u->n_active = 0;
        for (size_t i = 0; i < u->n_users; i++)
                u->n_active += u->users[i].n[USAGE_RUNNING] > 0 || u->users[i].wants;
        return u->n_active;
}

unsigned usage_slots_for(const Usage *u, uid_t uid, unsigned free, UsageRound round) {
        const UserUsage *e = usage_get(u, uid);
        uint64_t running = e ? e->n[USAGE_RUNNING] : 0, allow = free, n = MAX(u->n_active, 1U);

        if (e && !e->exempt && u->max_running > 0)
                allow = MIN(allow, u->max_running > running ? u->max_running - running : 0);
        switch (round) {
        case USAGE_ROUND_SHARE: {
                uint64_t share = u->max_parallel / n;

                allow = MIN(allow, share > running ? share - running : 0);
                break;
        }
        case USAGE_ROUND_BELOW:
                allow = MIN(allow, running * n < u->max_parallel ? 1 : 0);
                break;
        default:
                break;
        }
        return (unsigned) allow;
}

void usage_took(Usage *u, uid_t uid, unsigned n) {
        UserUsage *e = get_mut(u, uid);

        if (e)
                e->n[USAGE_RUNNING] += n;
}
