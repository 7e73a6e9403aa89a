/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * job-journal.c — what a job records, when it becomes durable, and who hears.
 *
 * Owns: building the job's records for a commit (job_flush(): a segment, or a snapshot when the segments
 * outgrow it and at the end; a segment rewrites an obsolete one where it can, commit_records()) with the
 * history events they make (history.h; control actions: job_record_action()), the durability barriers
 * (completions, spawns, skips, acceptance, the job's end) and their release when the host's committer
 * reports a durable generation, and the job's observers (Watch calls, Logs streams).
 * Invariants: barriers are assigned the generation of the flush that holds
 * their record and released only when that generation is durable, in order;
 * observers hear of a change only through flush (not durable yet) and
 * durable/end (durable); removing an observer from a callback is safe.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "job-internal.h"
#include "journal.h"
#include "log.h"
#include "macro.h"

#define SNAPSHOT_MIN_BYTES (64U * 1024U)
/* How long a start may wait for an end to ride with. A chain of short nodes then costs one commit per step
 * (the start used to take the committer just before the node's end needed it); a long node's start is
 * recorded soon enough for watchers. */
#define START_COMMIT_DELAY_USEC (250U * USEC_PER_MSEC)

static void job_notify_flush(Job *j, uint64_t gen);
static void job_notify_durable(Job *j, uint64_t gen);

static void assign_gen(struct JobPending *list, size_t n, uint64_t gen) {
        for (size_t k = 0; k < n; k++)
                if (list[k].gen == BARRIER_UNFLUSHED)
                        list[k].gen = gen;
}

/* Read the history from the job's files: they hold everything it recorded, since nothing can be in flight
 * while j->history is NULL (it is loaded by any flush and dropped only when all is durable). */
static int history_read(Job *j, History **ret, char **reterr_msg) {
        _cleanup_(job_run_freep) JobRun *run = NULL;
        _cleanup_close_ int dfd = open_job_dir(j);

        if (dfd < 0)
                return dfd;
        return journal_load_history(dfd, j->spec, &run, ret, NULL, reterr_msg);
}

/* The history, before the job records anything: a job just accepted (sequence 0) has only its submission
 * (its acceptance snapshot says so); any other is read from its files. If they cannot be read, it starts
 * over from what the state tells, marked partial, rather than stop recording. */
static int history_ensure(Job *j) {
        _cleanup_free_ char *err = NULL;
        int r;

        if (j->history)
                return 0;
        if (j->seq == 0)
                return history_new_submitted(j->run, &j->history);
        r = history_read(j, &j->history, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_warning_errno(r, "Job %" PRIu64 ": cannot read its history, starting it over: %s", j->id,
                                  err ?: strerror(-r));
                r = history_new(j->run, &j->history);
                if (r < 0)
                        return r;
                return history_reconstruct(j->history, j->run);
        }
        if (!job_state_is_final(j->history->job_state)) /* an unfinished job: orchd restarted */
                return history_add(j->history,
                                   &(HistoryEvent){ .at = now_realtime_usec(),
                                                    .node = HISTORY_JOB,
                                                    .kind = HISTORY_RECOVER,
                                                    .state = j->history->job_state });
        return 0;
}

int job_record_action(Job *j, HistoryKind kind, uint32_t node, uid_t uid, const char *user) {
        HistoryEvent e = { .at = now_realtime_usec(),
                           .node = node,
                           .kind = (uint8_t) kind,
                           .by_user = true,
                           .uid = uid,
                           .user = (char *) user };
        int r;

        r = history_ensure(j);
        if (r < 0)
                return r;
        if (node == HISTORY_JOB)
                e.state = j->run->state;
        else {
                e.state = j->run->nodes[node].state;
                e.attempt = j->run->nodes[node].attempt;
        }
        r = history_add(j->history, &e);
        if (r < 0)
                return r;
        mark_job_dirty(j); /* so a commit carries it */
        return 0;
}

int job_get_history(Job *j, const History **ret, History **ret_owned, char **reterr_msg) {
        int r;

        *ret_owned = NULL;
        if (j->history) {
                *ret = j->history;
                return 0;
        }
        r = history_read(j, ret_owned, reterr_msg);
        if (r < 0)
                return r;
        *ret = *ret_owned;
        return 0;
}

/* The commit's events: what its records' transitions tell. Returns whether the commit must be a snapshot
 * (events reconstructed from an older orchd's state are only ever written in one). */
static int history_for_commit(Job *j, bool *snapshot) {
        int r;

        r = history_ensure(j);
        if (r < 0)
                return r;
        r = history_note(j->history, j->run, j->job_dirty, j->dirty, j->n_dirty, now_realtime_usec());
        if (r < 0)
                return r;
        if (j->history->partial && j->snapshot_bytes == 0)
                *snapshot = true;
        if (*snapshot)
                history_trim(j->history);
        return 0;
}

/* Queue the flush's file. A segment rewrites an obsolete one where there is one, and a snapshot of a running
 * job keeps the segments it makes obsolete for that: deleting them frees an inode per commit, and on ext4
 * without a journal every inode allocation skips, one by one, the inodes freed in the last 30 s or so, so
 * each start and end of a long job got slower with its length (issue 12: orchd's overhead per node grew
 * from 0.2 ms at 10,000 nodes to 0.5 ms at 30,000). The final snapshot deletes them all, as every snapshot
 * did before. */
static int commit_records(Job *j, bool snapshot, char *buf, size_t len) {
        char dir[24];
        uint64_t reuse = 0;

        /* By name, not an open fd: a commit of many jobs must not need an fd each. When it is written, an
         * accepted job is jobs/ID, not jobs/.#ID: its publishing comes first in the committer. */
        snprintf(dir, sizeof(dir), "%" PRIu64, j->id);
        if (snapshot) {
                bool final = job_is_finished(j);

                if (final)
                        j->reuse_next = j->reuse_end = 0;
                else {
                        if (j->reuse_next >= j->reuse_end)
                                j->reuse_next = j->segments_from;
                        j->reuse_end = j->seq; /* the old snapshot's number in between is a gap */
                }
                j->segments_from = j->seq + 1;
                return committer_add(j->host->committer, j->host->jobs_fd, dir,
                                     final ? COMMIT_SNAPSHOT : COMMIT_SNAPSHOT_KEEP, j->seq, buf, len);
        }
        if (j->reuse_next < j->reuse_end)
                reuse = j->reuse_next++;
        return committer_add_segment(j->host->committer, j->host->jobs_fd, dir, j->seq, reuse, buf, len);
}

int job_flush(Job *j, uint64_t gen_next) {
        bool snapshot;
        char *buf;
        size_t len;
        int r;

        j->in_dirty_list = false;
        if (j->n_dirty == 0 && !j->job_dirty)
                return 0;

        /* Compact when the journal files outgrow the snapshot (amortized O(1) per change), and at the end
         * so a finished job loads from one file. */
        snapshot = job_is_finished(j) ||
                j->journal_bytes > MAX((size_t) SNAPSHOT_MIN_BYTES, j->snapshot_bytes);
        r = history_for_commit(j, &snapshot);
        if (r < 0)
                return r;
        if (j->segments_from == 0)
                j->segments_from = j->seq + 1;
        j->seq++;
        if (snapshot)
                buf = journal_build_snapshot_history(j->spec, j->run, j->seq, j->history, &len);
        else
                buf = journal_build_segment_history(j->spec, j->run, j->seq, j->job_dirty, j->dirty,
                                                    j->n_dirty, j->history, &len);
        if (!buf)
                return -ENOMEM;
        r = commit_records(j, snapshot, buf, len);
        if (r < 0)
                return r;
        j->history->flushed = j->history->n;
        if (snapshot) {
                j->snapshot_bytes = len;
                j->journal_bytes = 0;
        } else
                j->journal_bytes += len;
        job_notify_flush(j, gen_next);
        j->n_dirty = 0;
        j->job_dirty = false;

        j->flushed_gen = gen_next;
        j->flushes++;
        release_deferred_retries(j);
        assign_gen(j->pending, j->n_pending, gen_next);
        assign_gen(j->await_spawn, j->n_await_spawn, gen_next);
        if (j->skip_gen == BARRIER_UNFLUSHED)
                j->skip_gen = gen_next;
        if (j->final_gen == BARRIER_UNFLUSHED)
                j->final_gen = gen_next;
        return 0;
}

static bool durable(uint64_t barrier, uint64_t gen) {
        return barrier != BARRIER_UNFLUSHED && barrier <= gen;
}

static void release_spawns(Job *j, uint64_t gen) {
        size_t k = 0, w = 0;

        for (; k < j->n_await_spawn; k++) {
                struct JobPending *p = &j->await_spawn[k];

                if (!durable(p->gen, gen)) {
                        j->await_spawn[w++] = *p;
                        continue;
                }
                if (j->run->nodes[p->node].state != NODE_RUNNING)
                        continue;
                if (!j->ctl[p->node].task)
                        node_spawn(j, p->node);
        }
        j->n_await_spawn = w;
}

static void release_completions(Job *j, uint64_t gen) {
        size_t k = 0;

        /* In order: entries are appended as nodes end and flushed in that order, so a prefix is durable. */
        while (k < j->n_pending && durable(j->pending[k].gen, gen)) {
                int r = dag_complete(j->dag, j->pending[k].node, j->pending[k].outcome, node_skipped_cb, j);

                if (r < 0 && r != -EALREADY)
                        log_error_errno(r, "Job %" PRIu64 ": DAG refused completion of node %s: %m", j->id,
                                        node_id(j, j->pending[k].node));
                k++;
        }
        if (k == 0)
                return;
        memmove(j->pending, j->pending + k, (j->n_pending - k) * sizeof(struct JobPending));
        j->n_pending -= k;
}

void job_on_durable(Job *j, uint64_t gen) {
        job_notify_durable(j, gen);
        if (j->dag) {
                release_spawns(j, gen);
                release_completions(j, gen);
                if (durable(j->skip_gen, gen))
                        j->skip_gen = 0;
                job_check_finished(j);
        }
        if (j->final_gen != 0 && durable(j->final_gen, gen)) {
                j->final_gen = 0;
                /* Every attempt's end is durable: nothing of the job can be left running. */
                starts_remove(j);
                job_answer_waiters(j);
                job_notify_end(j);
                job_release_runtime(j);
                j->host->ops->settled(j->host->userdata, j);
                if (j->spec->n_nodes >= BIG_JOB_NODES && j->host->ops->trim_soon)
                        j->host->ops->trim_soon(j->host->userdata);
        }
        /* A settled job keeps its history in its files only; once all it flushed is durable, a later
         * reader (or a retry) reads them. */
        if (j->history && j->final_gen == 0 && job_is_settled(j) && !j->in_dirty_list &&
            durable(j->flushed_gen, gen))
                j->history = history_free(j->history);
        schedule_soon(j);
}

/* ---- starts that wait for an end ------------------------------------------------------------- */

/* Holding a start back is safe: the node's attempt and pid are in the job's "starts" file before it may
 * exec (job-spawn.c), and that file outlives orchd (not the machine, and neither do the processes), so a
 * restart finds the attempt there and adopts it from its keeper or takes its recorded end
 * (job-recover.c), as if the start had been committed. A node that must never run twice (on_interrupt
 * fail) and the nodes of a job whose acceptance may not be durable wait for a durable start instead: they
 * are marked urgently (begin_attempt()). Tests lengthen the delay with $ORCHD_START_COMMIT_DELAY_USEC. */
static uint64_t start_commit_delay(void) {
        static uint64_t delay = UINT64_MAX;

        if (delay == UINT64_MAX) {
                const char *e = secure_getenv("ORCHD_START_COMMIT_DELAY_USEC");
                char *end = NULL;
                unsigned long long v = 0;

                errno = 0;
                if (e)
                        v = strtoull(e, &end, 10);
                delay = e && errno == 0 && end != e && *end == '\0' && v < UINT64_MAX / 2 ?
                        (uint64_t) v :
                        START_COMMIT_DELAY_USEC;
        }
        return delay;
}

static int on_start_delay(sd_event_source *s, uint64_t usec, void *userdata) {
        job_undefer_start(userdata);
        return 0;
}

void job_defer_start(Job *j) {
        int r;

        /* Noted in the history now, not at the commit that will carry it: a user's action that comes
         * before that commit comes after this start in the history too. The commit notes it only once (the
         * history keeps each node's last state); without memory for it now, the commit notes it. */
        if (history_ensure(j) >= 0)
                (void) history_note(j->history, j->run, j->job_dirty, j->dirty, j->n_dirty,
                                    now_realtime_usec());
        if (j->start_deferred)
                return; /* its delay runs already */
        j->start_deferred = true;
        if (j->defer_source) {
                r = sd_event_source_set_time_relative(j->defer_source, start_commit_delay());
                if (r >= 0)
                        r = sd_event_source_set_enabled(j->defer_source, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time_relative(j->host->event, &j->defer_source, CLOCK_MONOTONIC,
                                               start_commit_delay(), USEC_PER_MSEC, on_start_delay, j);
                if (r >= 0)
                        (void) sd_event_source_set_description(j->defer_source, "start-commit");
        }
        if (r < 0)
                job_undefer_start(j); /* no timer: commit it now, as before */
}

/* ---- durability, as others see it --------------------------------------------------------------- */

uint64_t job_records_gen(const Job *j) {
        /* What a reply reports must be durable: a held start goes with the next commit. Logically const:
         * it changes when the job's records are written, not what they are. */
        job_undefer_start((Job *) j);
        if (j->in_dirty_list)
                return committer_next_gen(j->host->committer); /* the next seal takes them */
        return j->flushed_gen;
}

bool job_is_clean(const Job *j) {
        return !j->in_dirty_list && !j->start_deferred;
}

void job_note_accepted(Job *j, uint64_t gen) {
        j->flushed_gen = gen;
}

/* ---- observers -------------------------------------------------------------------------------- */

int job_add_observer(Job *j, const JobObserverOps *ops, void *userdata) {
        JobObserver *o = reallocarray(j->observers, j->n_observers + 1, sizeof(JobObserver));

        if (!o)
                return -ENOMEM;
        j->observers = o;
        j->observers[j->n_observers++] = (JobObserver){ .ops = ops, .userdata = userdata };
        return 0;
}

void *job_find_observer(const Job *j, const JobObserverOps *ops) {
        for (size_t k = 0; k < j->n_observers; k++)
                if (j->observers[k].ops == ops)
                        return j->observers[k].userdata;
        return NULL;
}

/* Drop the entries removed while callbacks ran. */
static void observers_compact(Job *j) {
        size_t w = 0;

        if (j->observers_walking > 0)
                return;
        for (size_t k = 0; k < j->n_observers; k++)
                if (j->observers[k].ops)
                        j->observers[w++] = j->observers[k];
        j->n_observers = w;
        if (w == 0)
                j->observers = mfree(j->observers);
}

void job_remove_observer(Job *j, const JobObserverOps *ops, void *userdata) {
        for (size_t k = 0; k < j->n_observers; k++)
                if (j->observers[k].ops == ops && j->observers[k].userdata == userdata) {
                        j->observers[k].ops = NULL;
                        break;
                }
        observers_compact(j);
}

typedef enum ObserverEvent {
        OBSERVER_FLUSH,
        OBSERVER_DURABLE,
        OBSERVER_END,
        OBSERVER_OUTPUT,
} ObserverEvent;

/* Tell every observer registered when the walk began (one added meanwhile hears the next event); arg is the
 * generation (flush, durable) or the node (output). */
static void observers_call(Job *j, ObserverEvent ev, uint64_t arg) {
        size_t n = j->n_observers;

        j->observers_walking++;
        for (size_t k = 0; k < n; k++) {
                JobObserver o = j->observers[k]; /* a copy: a callback may add (and so move) entries */
                const JobObserverOps *ops = o.ops;

                if (!ops)
                        continue; /* removed by an earlier callback of this walk */
                if (ev == OBSERVER_FLUSH && ops->flush)
                        ops->flush(j, arg, j->dirty, j->n_dirty, j->job_dirty, o.userdata);
                else if (ev == OBSERVER_DURABLE && ops->durable)
                        ops->durable(j, arg, o.userdata);
                else if (ev == OBSERVER_END && ops->end)
                        ops->end(j, o.userdata);
                else if (ev == OBSERVER_OUTPUT && ops->output)
                        ops->output(j, (uint32_t) arg, o.userdata);
        }
        j->observers_walking--;
        observers_compact(j);
}

static void job_notify_flush(Job *j, uint64_t gen) {
        observers_call(j, OBSERVER_FLUSH, gen);
}

static void job_notify_durable(Job *j, uint64_t gen) {
        observers_call(j, OBSERVER_DURABLE, gen);
}

void job_notify_end(Job *j) {
        observers_call(j, OBSERVER_END, 0);
}

void job_notify_output(Job *j, uint32_t node) {
        observers_call(j, OBSERVER_OUTPUT, node);
}

void job_detach_observers(Job *j) {
        while (j->n_observers > 0) {
                JobObserver o = j->observers[--j->n_observers];

                if (o.ops && o.ops->detach)
                        o.ops->detach(j, o.userdata);
        }
        j->observers = mfree(j->observers);
}
