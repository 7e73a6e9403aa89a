/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Per-user accounting (orchd.conf UserMaxJobs=, UserMaxBytes=, UserMaxNodes=,
 * UserMaxRunning=) and the fair share of MaxParallel between users with work.
 * Pure: counts per uid what the manager tells it, and answers "may this uid
 * have this job accepted" and "how many run slots may this uid take now".
 * Who is exempt from the caps (root, the daemon's user, AdminGroup=) is the
 * caller's decision, passed in as a flag.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

typedef enum UsageLimit {
        USAGE_JOBS,    /* unfinished jobs */
        USAGE_BYTES,   /* bytes of accepted job files in the spool, finished jobs included */
        USAGE_NODES,   /* nodes of unfinished jobs */
        USAGE_RUNNING, /* nodes holding a run slot */
        _USAGE_LIMIT_MAX,
        _USAGE_LIMIT_INVALID = -EINVAL,
} UsageLimit;

/* The caps; 0 means no cap. */
typedef struct UsageLimits {
        uint64_t max[_USAGE_LIMIT_MAX];
} UsageLimits;

/* Why an admission was refused: the cap, the user's figure before the job, and the cap's value. */
typedef struct UsageDenial {
        UsageLimit limit;
        uint64_t current;
        uint64_t max;
} UsageDenial;

typedef struct UserUsage {
        uid_t uid;
        uint64_t n[_USAGE_LIMIT_MAX]; /* n[USAGE_RUNNING] is set by each scheduling pass */
        bool wants;                   /* this pass: has a job that could start a node now */
        bool exempt;                  /* not held to UserMaxRunning= (usage_set_exempt) */
} UserUsage;

typedef struct Usage {
        UserUsage *users; /* sorted by uid */
        size_t n_users, cap_users;
        /* The current scheduling pass. */
        unsigned max_parallel;
        unsigned n_active; /* users with running or wanting work */
        uint64_t max_running;
} Usage;

/* "UserMaxJobs", "UserMaxBytes", "UserMaxNodes", "UserMaxRunning"; NULL for anything else. */
const char *usage_limit_to_string(UsageLimit l);

/* Free the table; *u becomes empty. */
void usage_done(Usage *u);

/* The counts of uid, or NULL if nothing was ever counted for it. */
const UserUsage *usage_get(const Usage *u, uid_t uid);

/* A job of uid with a job file of `bytes` and `nodes` nodes is in the spool (accepted or recovered);
 * unfinished: whether it counts against the job and node caps too. Returns 0 or -ENOMEM. */
int usage_add_job(Usage *u, uid_t uid, uint64_t bytes, uint64_t nodes, bool unfinished);

/* An unfinished job of uid with `nodes` nodes finished (finished = 1) or was made unfinished again by a
 * retry (finished = 0). Returns 0 or -ENOMEM. */
int usage_job_finished(Usage *u, uid_t uid, uint64_t nodes, bool finished);

/* A job left the spool (removed): forget its bytes, and its job and nodes if it was unfinished. */
void usage_remove_job(Usage *u, uid_t uid, uint64_t bytes, uint64_t nodes, bool unfinished);

/* Whether a new job of uid (`bytes`, `nodes`) fits under the caps of l (exempt users always fit). Returns 0,
 * or -EDQUOT with *ret the first cap it would exceed. */
int usage_admit(const Usage *u, const UsageLimits *l, uid_t uid, bool exempt, uint64_t bytes, uint64_t nodes,
                UsageDenial *ret);

/* A denial as text completing "user NAME …": "has 1000 unfinished jobs, the limit UserMaxJobs= is 1000;
 * wait for some to finish". Returns a malloc'd string or NULL. */
char *usage_denial_format(const UsageDenial *d, const char *user);

/* Whether uid is exempt from UserMaxRunning= (root, the daemon's user, AdminGroup=; the caller decides).
 * Returns 0 or -ENOMEM. */
int usage_set_exempt(Usage *u, uid_t uid, bool exempt);

/* Start a scheduling pass: forget the running figures and wishes of the last one. */
void usage_pass_begin(Usage *u, unsigned max_parallel, uint64_t max_running);

/* Tell the pass about one unfinished job of uid: its nodes holding slots and whether it could start one now.
 * Returns 0 or -ENOMEM. */
int usage_pass_note(Usage *u, uid_t uid, unsigned running, bool wants);

/* After every job was noted: count the users that share the slots. Returns how many. */
unsigned usage_pass_ready(Usage *u);

/* The rounds of a scheduling pass, in order. */
typedef enum UsageRound {
        USAGE_ROUND_SHARE, /* up to the whole part of the share: MaxParallel / users */
        USAGE_ROUND_BELOW, /* one more slot for each user still below its share (running × users <
                              MaxParallel) */
        USAGE_ROUND_REST,  /* the leftovers, which anyone may take (no slot stays idle while work waits) */
        _USAGE_ROUND_MAX,
} UsageRound;

/* How many more slots uid may take now (at most `free`) in round `round`. The share rounds come first, so a
 * user with ready nodes is never starved by another user's big job; UserMaxRunning= holds in every round
 * (unless the user is exempt). */
unsigned usage_slots_for(const Usage *u, uid_t uid, unsigned free, UsageRound round);

/* uid took n slots in this pass. */
void usage_took(Usage *u, uid_t uid, unsigned n);
