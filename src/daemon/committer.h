/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Group commit of journal writes on a worker thread, so the event loop never
 * waits for fsync. The loop adds writes to the open batch; a batch is handed
 * to the thread only when the previous one is durable, so everything that
 * changed while a commit was in flight is written together (one file per job
 * per batch). Completion comes back to the loop through an eventfd as a
 * generation number: everything added before committer_seal() returned
 * generation G is durable once committer_durable_gen() ≥ G.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

typedef struct Committer Committer;

typedef enum CommitKind {
        COMMIT_SEGMENT,       /* journal_write_segment() */
        COMMIT_SNAPSHOT,      /* journal_write_snapshot() */
        COMMIT_SNAPSHOT_KEEP, /* journal_write_snapshot_keep(): the obsolete segments stay, to be reused */
        COMMIT_CALL,          /* a function of the caller's (committer_add_call()) */
} CommitKind;

/* A write done on the committer thread: returns 0 or -errno (then fail-stop, or committer_resume() once the
 * cause is gone, which runs it again: it must be safe to repeat after a failure). Must touch no loop state.
 */
typedef int (*commit_fn)(void *data);

/* Called on the loop thread after generation gen became durable. A write error never reaches it:
 * that is on_error. */
typedef void (*committer_done_cb)(Committer *c, uint64_t gen, void *userdata);
/* Called on the loop thread when a write failed: nothing more is written or reported until
 * committer_resume(); the daemon either stops or waits for the cause to go (a full filesystem). */
typedef void (*committer_error_cb)(Committer *c, int error, const char *what, void *userdata);

/* Start the worker thread. Returns 0 or -errno. */
int committer_new(sd_event *e, committer_done_cb done, committer_error_cb error, void *userdata,
                  Committer **ret);

/* Wait for the batch in flight, stop the thread, drop unsealed writes. Accepts NULL, returns NULL. */
Committer *committer_free(Committer *c);

/* Add one write to the open batch, into the directory dir below at_fd, which the thread opens when it
 * writes (at_fd is borrowed: it must stay open until the committer is freed). buf is taken over (freed by
 * the committer). Returns 0 or -errno (then buf has been freed). */
int committer_add(Committer *c, int at_fd, const char *dir, CommitKind kind, uint64_t seq, char *buf,
                  size_t len);

/* As committer_add(COMMIT_SEGMENT), written by journal_write_segment_reuse() over the obsolete segment reuse
 * (0 = none). Returns 0 or -errno (then buf has been freed). */
int committer_add_segment(Committer *c, int at_fd, const char *dir, uint64_t seq, uint64_t reuse, char *buf,
                          size_t len);

/* Add a call to the open batch, run in order with the other writes. free_data releases data afterwards
 * (also if it never runs). what names it in the fail-stop message. Returns 0 or -ENOMEM (then data has
 * been released). */
int committer_add_call(Committer *c, commit_fn fn, void (*free_data)(void *data), void *data,
                       const char *what);
/* As committer_add_call(), and once every write of the batch ran, sync_fd (a directory the caller keeps
 * open) is fsynced, once for all the calls of the batch naming it, then after(data) runs (a failure of it
 * is ignored); the batch is durable only then. fn must not need that fsync done, after must. */
int committer_add_call_synced(Committer *c, commit_fn fn, int sync_fd, commit_fn after,
                              void (*free_data)(void *data), void *data, const char *what);

/* Whether a batch is being written right now. */
bool committer_busy(const Committer *c);

/* Whether writes were added since the last seal. */
bool committer_has_open(const Committer *c);

/* Close the open batch and hand it to the thread if it is idle (else it goes as soon as the thread is).
 * Returns its generation (> 0). */
uint64_t committer_seal(Committer *c);

/* The generation the next committer_seal() will return. */
uint64_t committer_next_gen(const Committer *c);

/* Highest durable generation. */
uint64_t committer_durable_gen(const Committer *c);

/* Write everything sealed or open, synchronously, before returning (shutdown). Returns 0 or -errno. */
int committer_drain(Committer *c);

/* After a write failed (on_error), write what was not written (the failed write first, in the original
 * order) and go on, once the caller knows the cause is gone (a full filesystem has room again). Durability
 * news resumes through done. A no-op without a failure. Returns 0, or -ENOMEM (writes were lost to an
 * earlier allocation failure, or there is no memory now: the caller must fail-stop). */
int committer_resume(Committer *c);

/* Counters for stats: batches written, writes, and the total µs spent writing. */
void committer_stats(const Committer *c, uint64_t *ret_batches, uint64_t *ret_writes, uint64_t *ret_usec);
