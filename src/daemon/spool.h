/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Intake (SPEC §2): watches SPOOL/new with inotify, rescans it at start, on
 * IN_Q_OVERFLOW and on request (SIGHUP), and turns each dropped *.json file
 * into either an accepted job directory jobs/ID/ or a rejected/ entry with
 * an error file. A file is in exactly one place at any moment (new/, the
 * private jobs/.intake/, jobs/.#ID/, jobs/ID/ or rejected/), moved only by
 * rename, so a crash at any point neither loses it nor accepts it twice.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "committer.h"
#include "jobspec.h"
#include "jobprep.h"
#include "macro.h"
#include "state.h"

typedef struct Spool Spool;

/* A job was accepted and is durable in jobs/ID. Ownership of spec, run, prep (built ahead for spec off the
 * loop, may be NULL) and dir_fd passes to the callee. */
typedef void (*spool_job_cb)(Spool *s, JobSpec *spec, JobRun *run, JobPrep *prep, int dir_fd,
                             void *userdata);

/* The id of an unfinished job of owner uid with idempotency key `key` (SPEC §3 "key"), or 0 if none. */
typedef uint64_t (*spool_key_cb)(const char *key, uid_t uid, void *userdata);

/* Whether jobs of uid may run here (SPEC §8). Returns 0, or -EPERM with *ret_why (malloc'd, completing "The
 * file …"), or -ENOMEM. */
typedef int (*spool_owner_cb)(uid_t uid, char **ret_why, void *userdata);

/* Whether uid may have one more job of `bytes` (the job file) and `nodes` nodes accepted under the per-user
 * caps (orchd.conf UserMax*=). Returns 0, or -EDQUOT with *ret_why (malloc'd, "user alice has …; wait for
 * some to finish"), or -ENOMEM. */
typedef int (*spool_admit_cb)(uid_t uid, uint64_t bytes, uint64_t nodes, char **ret_why, void *userdata);

/* A step the spool cannot undo failed (the acceptance of a job ran out of memory half-way: the file may
 * already sit in jobs/.#ID, which only a restart puts back): the daemon must stop now. Not expected to
 * return; if it does, the acceptance fails with error. */
typedef void (*spool_fatal_cb)(int error, const char *what, void *userdata);

typedef struct SpoolConfig {
        const char *path; /* the spool directory */
        JobLimits limits;
        Committer *committer;    /* where acceptances are made durable, in order with journal writes */
        spool_key_cb key_in_use; /* asked for every job file with a key; called with the cb's userdata */
        spool_owner_cb may_run;  /* asked for the owner of every dropped file */
        gid_t drop_gid;       /* DropGroup=: the group that may drop into new/, or (gid_t) -1 for anyone */
        spool_admit_cb admit; /* asked for every valid job before it is accepted */
        spool_fatal_cb on_fatal; /* a fail-stop error (may be NULL: then the acceptance just fails) */
        uint64_t min_free_bytes; /* MinFreeSpace=: the floor, the larger of these (0 and 0: none) */
        unsigned min_free_percent;
} SpoolConfig;

/* SPOOL/spool-id: the spool's id, sent as ORCH_SPOOL with every journal entry (spool_new() makes it). */
#define SPOOL_ID_FILE "spool-id"
#define SPOOL_ID_SIZE 33 /* 32 hex digits and a NUL */

/* Read the id of the spool at path into id, without creating anything (before the spool is opened, so
 * that the first journal entries carry it too). Returns 0, -ENOENT (none yet), -EINVAL, or -errno. */
int spool_read_id(const char *path, char id[static SPOOL_ID_SIZE]);

/* Lock the spool (spool-lock.h), open (creating if needed) its directories, finish or undo half-done intakes
 * left by a crash, and find the next job id. Does not watch or scan yet. Returns 0, -EALREADY when another
 * orchd holds the spool (nothing touched), or -errno (logged). */
int spool_new(sd_event *e, const SpoolConfig *config, spool_job_cb cb, void *userdata, Spool **ret);

/* What "resources" limits can be enforced: the controllers of the attempt cgroups (cgroupfmt.h mask), and
 * whether there are cgroups at all. A job with a limit that cannot be is rejected at intake. */
void spool_set_resources(Spool *s, bool cgroups, unsigned controllers);

/* Accepts NULL, returns NULL. */
Spool *spool_free(Spool *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Spool *, spool_free);

/* The jobs/ directory fd (borrowed). */
int spool_jobs_fd(const Spool *s);
/* jobs/.unfinished, the markers of unfinished jobs (unfinished.h). */
int spool_unfinished_fd(const Spool *s);
/* The id the next accepted job gets. */
uint64_t spool_next_id(const Spool *s);
/* Remove what a crash may leave in a published job's directory dfd (borrowed): the source copy of an
 * acceptance, temporary files of a write. Call it once per job as recovery loads it, before any write. */
void spool_tidy_job_dir(int dfd);
/* The spool directory fd (borrowed). */
int spool_dir_fd(const Spool *s);
/* The rejected/ directory fd (borrowed): root's alone; NAME.json.error.json there names the owner (uid). */
int spool_rejected_fd(const Spool *s);

/* Start watching new/ and then process everything already there (watch first, so nothing that arrives
 * meanwhile is missed). Returns 0 or -errno. */
int spool_start(Spool *s);

/* Process every file in jobs/.intake and new/ now. Returns 0 or -errno. */
int spool_rescan(Spool *s);

/* The outcome of spool_submit(), on the loop: 0 with id; -EINVAL with errors (borrowed: an invalid file,
 * or its key held by an unfinished job: error path "key"); -EDQUOT (a per-user cap: the admit callback said
 * why); -ENOSPC (the spool's filesystem is below MinFreeSpace= or ran out of space: try again later);
 * -errno. */
typedef void (*spool_submit_cb)(int r, uint64_t id, const JobErrors *errors, void *userdata);

/* Accept a job submitted over the control socket by uid/gid (SO_PEERCRED), exactly as if it had been
 * dropped (same validation, key check and durable acceptance, after the files taken in before it) but
 * without a file in new/: an invalid submission goes back to the caller, not to rejected/. name is recorded
 * as the job's source. buf is copied: parsing happens on the reader's thread, and cb is called once it is
 * done (from here only when submissions already hold 64 MiB with the reader: then this one is parsed on
 * the spot); free_userdata (may be NULL) releases userdata afterwards, or if the spool is
 * freed first. Returns 0, or -ENOMEM (then userdata is released already and cb never called). */
int spool_submit(Spool *s, const char *name, const char *buf, size_t size, uid_t uid, gid_t gid,
                 spool_submit_cb cb, void *userdata, void (*free_userdata)(void *userdata));

/* With MinFreeSpace= on, also keep this many inodes free where the filesystem counts them (a job takes a
 * few: its directory, logs/, job.json, state.json, journal and log files). New jobs wait below it; below
 * half of it attempts get no log file (supervise.h), so the other half stays for recording jobs' ends. */
#define SPOOL_MIN_FREE_INODES 1024

/* The MinFreeSpace= floor of the spool's filesystem in bytes now (the percentage applied to its size), 0 if
 * there is none or it cannot be told. */
uint64_t spool_floor_bytes(Spool *s);

/* MinFreeSpace= changed (reload). */
void spool_set_min_free(Spool *s, uint64_t bytes, unsigned percent);

/* Something freed space (a job ended): if jobs wait for room, look again now rather than at the next
 * periodic re-check. */
void spool_kick(Spool *s);

/* While held, nothing is taken from new/ (files stay there) and Submit gets -ENOSPC: the daemon cannot write
 * its own state (read-only mode, readonly.h). Releasing the hold rescans new/. */
void spool_hold(Spool *s, bool hold);

/* Counters: accepted and rejected since start. */
void spool_stats(const Spool *s, uint64_t *ret_accepted, uint64_t *ret_rejected);
