/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Job: the run-time object of one accepted job. Drives its DAG (SPEC §3–4):
 * starts ready nodes within the slots its host grants, reacts to task
 * ends (retry with backoff, failure, skip propagation, fail_fast), enforces
 * the whole-job timeout, cancels, and records every change for the journal.
 *
 * The job depends only on its JobHost (job-host.h), never on the manager:
 * the manager is one host, test-job-run's is another. Whoever follows the
 * job's changes (Watch calls, Logs streams) subscribes as an observer.
 *
 * Durability protocol with the host's committer: every change marks the
 * node (or job) dirty; the host flushes dirty records into one journal
 * file per job per group commit and tells the job which generation covers
 * them. A finished node is handed to the DAG (so its dependents may start)
 * only once its end is durable; a node with on_interrupt=fail is spawned
 * only once its start is durable; waiters hear about the job's end only once
 * that end is durable.
 */

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "control.h"
#include "macro.h"
#include "dag.h"
#include "history.h"
#include "job-host.h"
#include "jobspec.h"
#include "jobprep.h"
#include "nodeenv.h"
#include "state.h"
#include "supervise.h"

typedef struct Job Job;
typedef struct NodeCtl NodeCtl;

/* Jobs this big make the allocator worth trimming after large transient work (status of every node,
 * acceptance, the end of the job): glibc keeps freed heap otherwise, and RSS would stay at the peak. */
#define BIG_JOB_NODES 10000

/* Who follows a job's changes (watch.c, methods-logs.c). Every callback may be NULL; each gets the userdata
 * given to job_add_observer(). An observer may remove itself (or be removed) from within any of them. */
typedef struct JobObserverOps {
        /* job_flush() puts these records into generation gen: the nodes (a node may be named more than once,
         * in the order they changed) and, if job_changed, the job's own fields. Not durable yet. */
        void (*flush)(Job *j, uint64_t gen, const uint32_t *nodes, size_t n_nodes, bool job_changed,
                      void *userdata);
        /* Generation gen of the journal is durable (called before the job acts on it). */
        void (*durable)(Job *j, uint64_t gen, void *userdata);
        /* The job's end is durable (its final state is in j->run). */
        void (*end)(Job *j, void *userdata);
        /* The running attempt of node wrote output to its log. */
        void (*output)(Job *j, uint32_t node, void *userdata);
        /* The job is being freed: the observer is dropped and must forget j. */
        void (*detach)(Job *j, void *userdata);
} JobObserverOps;

typedef struct JobObserver {
        const JobObserverOps *ops; /* NULL: removed while the list was being walked */
        void *userdata;
} JobObserver;

typedef enum StopReason {
        STOP_NONE,
        STOP_CANCEL,
        STOP_FAIL_FAST,
        STOP_JOB_TIMEOUT,
        STOP_SHUTDOWN,
        STOP_ABORT, /* a node's abort_on_exit */
} StopReason;

struct Job {
        const JobHost *host; /* not owned */
        uint64_t id;
        JobSpec *spec;
        JobRun *run;
        Dag *dag;      /* NULL once finished */
        NodeCtl *ctl;  /* per node; NULL once finished */
        int logs_fd;   /* jobs/ID/logs from the first start to the end, else -EBADF: fds follow
                        * running jobs, not all jobs (a job's directory is opened by id) */
        int starts_fd; /* "starts": every attempt's pid, written before it may exec (job.c) */
        int ends_fd;   /* "ends": every attempt's end, written by its keeper before it reports it */

        unsigned n_running; /* nodes holding a slot: running, or waiting to be spawned */
        bool timed_out;
        bool fail_fast_fired;
        bool cancel_forced; /* cancelled twice: the cleanup ("always") nodes are stopped too */
        bool aborted;       /* node abort_node exited with abort_code, one of its abort_on_exit codes */
        uint8_t abort_code;
        uint32_t abort_node;
        sd_event_source *timeout_source;

        uint32_t *retry_ready; /* retry_wait nodes whose delay is over, FIFO */
        size_t n_retry_ready, cap_retry_ready;
        uint32_t *retry_deferred; /* delay over, but the retry_wait not in a commit yet: job_flush() frees */
        size_t n_retry_deferred, cap_retry_deferred;

        /* Journal: what changed since the last flush. */
        uint32_t *dirty;
        size_t n_dirty, cap_dirty;
        bool job_dirty;
        bool in_dirty_list;
        bool start_deferred; /* dirty with starts only, held off the host's list until an end or the delay:
                              * a start rides with the next end's commit (job-journal.c) */
        sd_event_source *defer_source;
        uint64_t seq;         /* last journal sequence number written */
        uint64_t flushed_gen; /* generation holding the job's latest flushed records (or acceptance) */
        uint64_t flushes;     /* how many times job_flush() wrote its records */
        size_t journal_bytes; /* bytes of journal files since the last snapshot */
        size_t snapshot_bytes;
        uint64_t segments_from; /* first segment after the last snapshot; 0 = j->seq + 1 (not flushed yet) */
        uint64_t reuse_next, reuse_end; /* obsolete segments [next, end) to rewrite as new ones (gaps are
                                         * skipped): a commit allocates and frees no inode (job-journal.c) */
        History *history; /* the audit trail (job-journal.c); NULL until needed and once settled */

        /* Durability barriers: 0 = none, UINT64_MAX = not yet flushed, else the generation. */
        struct JobPending {
                uint32_t node;
                uint8_t outcome; /* DagOutcome */
                uint64_t gen;
        } * pending;
        size_t n_pending, cap_pending;
        struct JobPending *await_spawn; /* on_interrupt=fail nodes waiting for their start to be durable */
        size_t n_await_spawn, cap_await_spawn;
        uint64_t skip_gen;  /* skips recorded; no start until durable */
        uint64_t final_gen; /* the job's end; waiters answered when durable */

        ControlCall **waiters;
        size_t n_waiters;
        JobObserver *observers; /* job_add_observer() */
        size_t n_observers;
        unsigned observers_walking; /* > 0 while callbacks run: removal only clears the entry */

        NodeEnvBase *base_env; /* PATH, HOME, USER, LOGNAME, SHELL, LANG, then the job's env */
        char *home;            /* owner's home directory, NULL if unknown */
        /* Who nodes run as (SPEC §8): with use_cred, the owner through orchd-exec; else the daemon's user.
         * cred_error: the owner cannot be run as (no name recorded), every attempt fails with it. */
        bool use_cred;
        int cred_error;
        TaskCred cred;
};

/* Create the run-time job from an accepted or recovered spec/run; takes ownership of spec, run and prep
 * (what was built ahead for spec, may be NULL: then built here), also on failure. Nothing runs and nothing
 * is recorded yet. Returns 0 or -errno. */
int job_new(const JobHost *host, JobSpec *spec, JobRun *run, JobPrep *prep, Job **ret);

/* Start driving a job the manager has registered: a fresh one becomes ready; a recovered one gets the
 * restart rules of SPEC §4 (on_interrupt, retry_wait timers, job timeout, pending cancel). Returns 0 or
 * -errno. */
int job_activate(Job *j);

/* Free everything: running tasks are killed (SIGKILL) without recording anything. Accepts NULL, returns
 * NULL. */
Job *job_free(Job *j);
DEFINE_TRIVIAL_CLEANUP_FUNC(Job *, job_free);

/* Whether the job has ended (its final state may not be durable yet). */
bool job_is_finished(const Job *j);
/* Whether the job's end is durable and it holds no resources but spec/run. */
bool job_is_settled(const Job *j);

/* Start ready nodes while *slots > 0 and the job's own limit allows; decrements *slots. Returns the number
 * started (spawn failures count: they end at once). */
unsigned job_start_ready(Job *j, unsigned *slots);

/* Whether the job could start a node now if given a slot. */
bool job_wants_slot(const Job *j);

/* Build this job's pending records into the committer (one segment or a snapshot) and remember that they
 * belong to generation gen_next. Returns 0 or -errno. */
int job_flush(Job *j, uint64_t gen_next);

/* Generation gen is durable: release what waited for it (DAG completions, spawns, waiters). */
void job_on_durable(Job *j, uint64_t gen);
/* Record a control action of uid (user: its name, NULL if unknown) in the job's history, on the job (node
 * HISTORY_JOB) or a node; it is durable with the next commit. Returns 0 or -errno. */
int job_record_action(Job *j, HistoryKind kind, uint32_t node, uid_t uid, const char *user);
/* The job's history as recorded: the one in memory (*ret borrowed), or read from the job's files into
 * *ret_owned (then *ret is it). Returns 0; -EBADMSG with *reterr_msg (a corrupt file); -errno. */
int job_get_history(Job *j, const History **ret, History **ret_owned, char **reterr_msg);

/* Cancel the whole job (nodes == NULL) or the named node indices. Returns 0 or -errno. */
int job_cancel(Job *j, const uint32_t *nodes, size_t n_nodes);

/* Hold the job (no new node starts; running nodes go on) or release it. No-ops when the job has finished
 * or is already in the requested condition. Return 1 if the state changed, 0 if not. */
int job_pause(Job *j);
int job_resume(Job *j);
/* Freeze (or thaw) the cgroups of j's running nodes (pause --freeze; job_resume() thaws). Returns the
 * number of nodes changed, or -EOPNOTSUPP under process-group isolation. */
int job_freeze(Job *j, bool freeze);

/* Manual retry (SPEC §5 "retry") of a settled job: the named node indices, or without nodes every failed,
 * cancelled and skipped node, go back to pending together with everything downstream of them; succeeded
 * nodes upstream are kept. Attempt numbers go on, each retried node gets a fresh round of retry.attempts,
 * and the job is queued again (recorded like any change). *ret_nodes (sorted, owned) lists the retried
 * nodes; none means there was nothing to retry and nothing changed. Returns 0, -EBUSY if the job has not
 * finished (or its end is not durable yet), -EADDRINUSE if another unfinished job of the owner holds the
 * job's key (*ret_holder), or -errno. */
int job_retry(Job *j, const uint32_t *nodes, size_t n_nodes, uint32_t **ret_nodes, size_t *ret_n,
              uint64_t *ret_holder);

/* Stop every running node for daemon shutdown; they end as interrupted (on_interrupt applies). */
void job_shutdown(Job *j);

/* Daemon shutdown with KillNodes=no: forget every running node's task, leaving it running in its keeper
 * and recorded as running, for the next orchd to adopt; nodes not spawned yet go back to pending. */
void job_detach(Job *j);

/* SIGKILL every running node now (fail-stop). */
void job_kill_all(Job *j);

/* {"job": the job's status with its nodes} (the reply of Status and Wait), owned, or NULL on OOM. */
json_object *job_status_reply(const Job *j);

/* Add a waiter (a Wait call) to be answered with the final status. Takes a reference. Returns 0 or -ENOMEM.
 */
int job_add_waiter(Job *j, ControlCall *call);

/* Follow j's changes through ops (with userdata) until job_remove_observer() or the job is freed (then
 * ops->detach). Returns 0 or -ENOMEM. */
int job_add_observer(Job *j, const JobObserverOps *ops, void *userdata);
/* Stop following (the pair given to job_add_observer()); a pair not registered is ignored. */
void job_remove_observer(Job *j, const JobObserverOps *ops, void *userdata);
/* The userdata of j's observer with these ops (the first, if several), or NULL. */
void *job_find_observer(const Job *j, const JobObserverOps *ops);

/* The journal generation that holds every record of j so far (its acceptance included): a reply about j
 * is true once that generation is durable (it may be already). A start held for a later commit goes with
 * the next one. */
uint64_t job_records_gen(const Job *j);
/* Whether j has no change waiting to be flushed into a commit. */
bool job_is_clean(const Job *j);
/* The host put j's acceptance into the committer's open batch, generation gen (spool intake). */
void job_note_accepted(Job *j, uint64_t gen);
