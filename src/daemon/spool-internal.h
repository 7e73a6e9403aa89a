/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the files of the spool module share (spool.c, spool-intake.c, spool-accept.c, spool-rejected.c,
 * spool-space.c): the Spool itself, its tunables and the steps one file calls in another. The life of a
 * file and the invariants are in spool.c's opening comment.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "committer.h"
#include "jobreader.h"
#include "journal.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"
#include "spool.h"
#include "spool-lock.h"
#include "unfinished.h"

#define INTAKE_DIR ".intake"
#define SOURCE_PREFIX "source."
/* Where a directory dropped into new/ goes when it cannot be emptied (its creator may hold an fd to it and
 * keep adding entries): below root-only rejected/, hidden from listings, removed again at every start. */
#define TRASH_DIR ".trash"
#define REMOVE_MAX_ENTRIES 10000
/* While jobs wait for free space: how often to look again (besides when a job ends). */
#define SPACE_RECHECK_USEC (2 * USEC_PER_SEC)
/* After a transient failure (a read, rename or lookup that failed with EIO, EMFILE, ...) the file stays
 * where it is and intake is rescanned after this long, doubling up to RETRY_MAX_USEC while failures go on:
 * no event would ever come for it otherwise. */
#define RETRY_MIN_USEC (1 * USEC_PER_SEC)
#define RETRY_MAX_USEC (60 * USEC_PER_SEC)
#define MIN_FREE_INODES SPOOL_MIN_FREE_INODES
/* Files open and with the reader at once: one being parsed, the next ready. */
#define READ_AHEAD 2U
/* Submissions queued for the reader hold a copy of their bytes each: past this much, a flood of them is
 * parsed on the loop (the cost of each is then paid by its caller's wait, not by the daemon's memory). */
#define SUBMIT_QUEUE_MAX ((size_t) 64 * 1024 * 1024)

struct Spool {
        sd_event *event;
        unsigned resources_mask; /* controllers attempt cgroups have (spool_set_resources()) */
        bool resources_pgroup;   /* no cgroups at all: every "resources" limit is refused */
        Committer *committer;    /* not owned */
        char *path;
        JobLimits limits;
        int spool_fd, tmp_fd, new_fd, rejected_fd, jobs_fd, intake_fd;
        int unfinished_fd; /* jobs/.unfinished (unfinished.h) */
        int lock_fd;       /* SPOOL/orchd.lock, flocked for our life (spool-lock.c) */
        sd_event_source *inotify_source;
        spool_job_cb cb;
        spool_key_cb key_in_use;
        spool_owner_cb may_run;
        spool_admit_cb admit;
        spool_fatal_cb on_fatal;
        void *userdata;
        uint64_t min_free_bytes;
        unsigned min_free_percent;
        bool full;           /* new jobs wait for room (MinFreeSpace=, ENOSPC) */
        bool full_announced; /* "waiting for room" was logged, "room again" not yet */
        bool held;           /* the daemon cannot write (spool_hold()): nothing is taken */
        sd_event_source *space_timer;
        sd_event_source *retry_timer; /* a file failed for a transient reason (EIO, EMFILE, ...): rescan */
        uint64_t retry_usec;          /* the next retry's delay: doubles while failures go on */
        uint64_t next_id;
        uint64_t n_accepted, n_rejected;
        JobReader *reader;   /* reads and parses on its own thread, in order */
        json_object *queued; /* names in intake/ waiting or being read: a set, so none is taken twice */
        struct Queued *waiting, *waiting_tail; /* FIFO of those not yet opened */
        unsigned n_reading;                    /* handed to the reader, not yet back */
        uint64_t n_staged;                     /* big jobs written ahead (Staged): names jobs/.#read-N */
        size_t submit_bytes;                   /* of submissions with the reader, not yet back */
};
/* The longest name a claimed file may have: in jobs/.#ID it is carried as source.NAME. */
#define INTAKE_NAME_MAX ((size_t) NAME_MAX - strlen(SOURCE_PREFIX))
/* A big job's files are written ahead on the reader's thread, into jobs/.#read-N (a name start-up removes,
 * spool_tidy_jobs()), for the id the job gets if every file handed to the reader before it is accepted;
 * acceptance then renames that directory to jobs/.#ID rather than write megabytes on the loop. If the
 * guess was wrong, or the writing failed (a full filesystem), the loop writes the files itself as for a
 * small job, and meets the error there. */
#define STAGE_MIN_BYTES ((off_t) 256 * 1024)

typedef struct Staged {
        int jobs_fd; /* borrowed from the spool, which frees the reader first */
        char name[32];
        uint64_t id; /* guessed */
        uid_t uid;
        gid_t gid; /* as job_run_for() sets them, looked up on the loop */
        char *user;
        char *source;
        int r; /* 0 while jobs/NAME holds the files; -EINPROGRESS before the thread got to it; else why not
                */
} Staged;

/* A file of intake/ queued for processing: waiting its turn, or being read. */
typedef struct Queued {
        char *name;
        struct Queued *next;
} Queued;

/* spool.c */
/* Whether name is one intake takes: NAME.json, not hidden, no '/'. */
bool spool_is_job_file_name(const char *name);

/* In jobs/.intake, where only we create names, a file is NAME as dropped, or .TAG~NAME when intake/NAME
 * was taken (a file there could not be processed yet): TAG is unique to the claim, so no leftover ever
 * blocks a claim. The name the file was dropped as, for messages, the job and rejected/. */
const char *spool_intake_display_name(const char *iname);

/* spool-rejected.c */

/* Reject for one reason that is not about the JSON (file type, owner, size). */
int spool_reject_reason(Spool *s, const char *iname, const struct stat *st, bool remove, const char *reason);

/* Reject a file whose JSON is invalid or fails validation, with every error found. */
int spool_reject_errors(Spool *s, const char *iname, const struct stat *st, const JobErrors *errors);

/* The error for a job whose idempotency key is held by the unfinished job `other`. Returns 0 or -ENOMEM. */
int spool_key_errors(const char *key, uint64_t other, JobErrors **ret);

/* The idempotency key is taken: the same submission is already queued or running. */
int spool_reject_key(Spool *s, const char *iname, const struct stat *st, const char *key, uint64_t other);

/* spool-space.c */
/* New jobs must wait for room: say so once (not per file), and look again on a timer. */
void spool_set_full(Spool *s, int error);

/* Whether a new job may be taken now. While full, nothing is taken until the re-check finds room (then
 * everything waiting is taken oldest first). */
bool spool_has_room(Spool *s);

/* Whether r says the filesystem is out of space or over quota (ENOSPC, EDQUOT). */
bool spool_out_of_space(int r);

/* A file could not be finished for a transient reason: rescan after a while (once armed, later failures
 * wait for that same rescan). Without the timer the next SIGHUP or restart retries it. */
void spool_retry_later(Spool *s, int error);

/* What processing intake/NAME returned: a transient failure is retried later, a success resets the delay. */
void spool_note_result(Spool *s, int r);

/* spool-accept.c */
/* Remove what a stage wrote (unless an acceptance took it) and free it. Accepts NULL, returns NULL. */
Staged *spool_staged_free(Staged *st);

/* On the loop, just before rd goes to the reader: stage a job file of size bytes, if it is big enough to be
 * worth it. Returns 0 or -ENOMEM. */
int spool_staged_attach(Spool *s, JobRead *rd, off_t size, uid_t uid, gid_t gid, const char *source,
                        Staged **ret);

/* Make a validated job durable and hand it to the manager. buf and spec are taken over (also on failure).
 * intake_name is the claimed file in jobs/.intake (NULL for a submission over the socket); source is
 * the name recorded as the job's source; rd (may be NULL) what the reader built ahead for it (its run and
 * prep are taken), stage (may be NULL) the files it wrote ahead. Returns 0 with *ret_id, or -errno (the
 * intake file, if any, is where it was). */
int spool_accept(Spool *s, const char *source, const char *intake_name, char *buf, size_t size,
                 JobSpec *spec_in, JobRead *rd, Staged *stage, uid_t uid, gid_t gid, uint64_t *ret_id);

/* At start, for jobs/.#ID (dname) left by a crash: a job's first nodes start before its acceptance is
 * durable, so if its "starts" records one, the acceptance is completed (if its files load) rather than
 * its file taken again beside what may still run. Returns 1 if jobs/ID now holds it, 0 if the caller gives
 * the file back. */
int spool_complete_unpublished(Spool *s, const char *dname);

/* spool-intake.c */
/* Queue intake/NAME to be accepted or rejected, after the files queued before it, unless it is queued
 * already (a rescan and an event can both name it). Returns 0 or -ENOMEM. */
int spool_process(Spool *s, const char *name);

/* Claim new/NAME by renaming it into the private intake directory, then process it. */
int spool_take(Spool *s, const char *name);
