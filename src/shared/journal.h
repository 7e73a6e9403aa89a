/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Durable job state in jobs/ID/ (SPEC §2, §4):
 *
 *   job.json                  the job file as accepted (written once at intake)
 *   state.json                snapshot: the full JobRun as of sequence number S
 *   journal-SSSSSSSSSSSS.json one group commit: the job record and/or the full records of the nodes
 *                             that changed, and the history events they make, sequence S (12 digits)
 *
 * The snapshot carries the job's history (history.h) so far, capped; a segment the events of its commit.
 * So an event is durable in the same write as the transition it tells of, at no extra fsync.
 *
 * Each file is written with write_file_atomic_at(), so it is either absent or complete. Replay: the
 * snapshot, then every journal file with a greater sequence number in order; a record replaces what it
 * names (last writer wins), so a commit costs O(nodes changed), not O(nodes). A snapshot (compaction)
 * makes the journal files at or below its sequence number obsolete; they are deleted after it is
 * durable, and ignored if a crash leaves them behind.
 *
 * Building runs on the event-loop thread; writing may run on the committer thread: the two share no
 * state. No logging, no event loop.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "history.h"
#include "jobspec.h"
#include "state.h"

#define JOURNAL_VERSION 1

/* Serialize one commit: the job record if job_dirty, and the nodes listed in dirty[] (indices, may repeat).
 * Returns a malloc'd NUL-terminated JSON text and *ret_len (without the NUL), or NULL on OOM. */
char *journal_build_segment(const JobSpec *spec, const JobRun *run, uint64_t seq, bool job_dirty,
                            const uint32_t *dirty, size_t n_dirty, size_t *ret_len);

/* The same, with the events of h not yet flushed (h->flushed…h->n; the caller then marks them flushed). */
char *journal_build_segment_history(const JobSpec *spec, const JobRun *run, uint64_t seq, bool job_dirty,
                                    const uint32_t *dirty, size_t n_dirty, const History *h,
                                    size_t *ret_len);

/* Serialize the full state as a snapshot with sequence number seq, whose history is the job's
 * submission (a job being accepted). Same returns. */
char *journal_build_snapshot(const JobSpec *spec, const JobRun *run, uint64_t seq, size_t *ret_len);
/* The same with every event of h as its history. */
char *journal_build_snapshot_history(const JobSpec *spec, const JobRun *run, uint64_t seq, const History *h,
                                     size_t *ret_len);
/* The nodes of such a snapshot alone, text to follow journal_build_snapshot_head(): built ahead, off the
 * event loop, while the nodes cannot change (a job being accepted: all pending). NULL on OOM. */
char *journal_build_snapshot_nodes(const JobSpec *spec, const JobRun *run, size_t *ret_len);
/* The text of such a snapshot before its nodes (the nodes from journal_build_snapshot_nodes() follow, then
 * JOURNAL_SNAPSHOT_TAIL): the three pieces can be written one after the other, without copying the nodes
 * into one buffer. NULL on OOM. */
char *journal_build_snapshot_head(const JobRun *run, uint64_t seq, size_t *ret_len);
#define JOURNAL_SNAPSHOT_TAIL "}}"

/* Durably write journal-<seq>.json. Returns 0 or -errno; on failure nothing of it is visible. */
int journal_write_segment(int job_dir_fd, uint64_t seq, const char *buf, size_t len);

/* As journal_write_segment(), but rewrite the obsolete journal file of sequence reuse (< seq and ≤ that of
 * a durable snapshot; 0 = none) and rename it to journal-<seq>.json rather than create a file: no inode is
 * allocated or freed (ext4 without a journal skips every inode freed in the last half minute when it
 * allocates one, so a file created and deleted per commit costs more the longer a job runs). Falls back to
 * a new file if reuse cannot be opened (it does not exist). Returns 0 or -errno; on failure nothing of it
 * is visible. */
int journal_write_segment_reuse(int job_dir_fd, uint64_t seq, uint64_t reuse, const char *buf, size_t len);

/* Durably replace state.json, keeping the journal files it makes obsolete (skipped on load), for
 * journal_write_segment_reuse(). Returns 0 or -errno. */
int journal_write_snapshot_keep(int job_dir_fd, const char *buf, size_t len);

/* Durably replace state.json, then delete journal files with sequence ≤ seq. Returns 0 or -errno of the
 * snapshot write (deletion failures are ignored: stale journal files are skipped on load). */
int journal_write_snapshot(int job_dir_fd, uint64_t seq, const char *buf, size_t len);

/* Load the state of a job: state.json then the newer journal files. spec gives the node ids (records of
 * unknown nodes are corruption). Returns 0 with *ret (owned) and *ret_seq = last sequence applied;
 * -EBADMSG with *reterr_msg naming the file and the problem when a file is corrupt; -ENOENT when there
 * is no state.json; -ENOMEM; -errno. Leftover ".#*" temp files are ignored. */
int journal_load(int job_dir_fd, const JobSpec *spec, JobRun **ret, uint64_t *ret_seq, char **reterr_msg);
/* journal_load(), and the job's history (history.h) in *ret_history (owned): the events of the snapshot and
 * the segments, every one flushed, the baseline the state loaded; for a job an older orchd recorded (no
 * history in its snapshot), partial and reconstructed from the state. Same returns. */
int journal_load_history(int job_dir_fd, const JobSpec *spec, JobRun **ret, History **ret_history,
                         uint64_t *ret_seq, char **reterr_msg);
