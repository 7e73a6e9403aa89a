/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Retention of finished jobs (orchd.conf KeepFinished=) and their removal
 * (orchctl gc, orchctl remove). A removal renames jobs/ID to jobs/.rm-ID on
 * the loop (the job is gone from then on), has the committer make that durable
 * together with jobs/.next-id (so an id is never handed out twice), and only
 * then deletes the tree, on a thread of its own. A crash at any point leaves
 * jobs/ID whole (the rename was not durable: the job is still there) or a
 * jobs/.rm-ID that the next start deletes; never a half-deleted jobs/ID.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "committer.h"
#include "conf.h"
#include "job.h"
#include "spool.h"
#include "usage.h"

typedef struct Retention {
        /* Set by the owner (the manager) before retention_start(); all borrowed. */
        sd_event *event;
        Spool *spool;           /* jobs/ and the next id */
        Committer *committer;   /* makes removals durable */
        Usage *usage;           /* the owners' counts, lowered per removal */
        const DaemonConf *conf; /* KeepFinished= (read at each collection: reload may change it) */
        Job ***jobs;            /* the job table, sorted by id: removed jobs leave it (compacted in place) */
        size_t *n_jobs;
        bool (*may_collect)(void *userdata); /* whether the periodic collection may run now */
        void (*on_fatal)(int error, const char *what, void *userdata); /* a removal cannot be recorded */
        void (*on_removed)(void *userdata);                            /* jobs were removed (trim memory) */
        void *userdata;

        uint64_t *trash_ids; /* jobs removed since the last retention_commit() */
        size_t n_trash, cap_trash;
        sd_event_source *timer; /* the periodic KeepFinished= collection */
        bool needed;            /* more finished jobs than KeepFinished= keeps: collect before sleeping */
} Retention;

/* The name of a removal in progress in jobs/, and of the id high-water mark there. */
#define RETENTION_TRASH_PREFIX ".rm-"
#define RETENTION_NEXT_ID_FILE ".next-id"

/* Remove settled job j now (it is freed). Returns 0, -EBUSY if it has not finished or its end is not
 * durable yet, or -errno (nothing changed). */
int retention_remove_job(Retention *rt, Job *j);

/* Apply KeepFinished= now: remove every settled job older than the age or beyond the count. Returns the
 * number removed, or -errno (logged; what was removed before stays removed). */
int retention_gc(Retention *rt);

/* Make the removals done since the last call durable, then delete their trees. Returns 0 or -ENOMEM. */
int retention_commit(Retention *rt);

/* At start: hand jobs/.rm-* left by a crash to the deleting thread. Never fails the start. */
void retention_recover(Retention *rt);

/* Arm the periodic collection (the age limit needs a clock; the count limit is also checked as jobs end).
 * Returns 0 or -errno. */
int retention_start(Retention *rt);

/* Release the timer and the list of removals (shutdown). */
void retention_done(Retention *rt);
