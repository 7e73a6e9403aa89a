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

#include <stddef.h>
#include <stdint.h>

#include "job.h"

typedef struct Manager Manager;

/* The name of a removal in progress in jobs/, and of the id high-water mark there. */
#define RETENTION_TRASH_PREFIX ".rm-"
#define RETENTION_NEXT_ID_FILE ".next-id"

/* Remove settled job j now (it is freed). Returns 0, -EBUSY if it has not finished or its end is not
 * durable yet, or -errno (nothing changed). */
int retention_remove_job(Manager *m, Job *j);

/* Apply KeepFinished= now: remove every settled job older than the age or beyond the count. Returns the
 * number removed, or -errno (logged; what was removed before stays removed). */
int retention_gc(Manager *m);

/* Make the removals done since the last call durable, then delete their trees. Returns 0 or -ENOMEM. */
int retention_commit(Manager *m);

/* At start: hand jobs/.rm-* left by a crash to the deleting thread. Never fails the start. */
void retention_recover(Manager *m);

/* Arm the periodic collection (the age limit needs a clock; the count limit is also checked as jobs end).
 * Returns 0 or -errno. */
int retention_start(Manager *m);
