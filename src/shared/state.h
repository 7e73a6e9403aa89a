/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The run-state data model of SPEC §4, shared by the run-time Job, journal and
 * protocol: job and node states, end reasons, the legal transitions, and the
 * plain records (JobRun, NodeRun) that hold a job's progress. Pure: no I/O,
 * no event loop, no logging.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

typedef enum JobState {
        JOB_QUEUED,
        JOB_RUNNING,
        JOB_PAUSED,
        JOB_SUCCEEDED,
        JOB_FAILED,
        JOB_CANCELLED,
        _JOB_STATE_MAX,
        _JOB_STATE_INVALID = -EINVAL,
} JobState;

typedef enum NodeState {
        NODE_PENDING,
        NODE_RUNNING,
        NODE_RETRY_WAIT,
        NODE_SUCCEEDED,
        NODE_FAILED,
        NODE_SKIPPED,
        NODE_CANCELLED,
        _NODE_STATE_MAX,
        _NODE_STATE_INVALID = -EINVAL,
} NodeState;

/* Why a node (or job) did not succeed. The argument is the exit code, signal number or errno. */
typedef enum ReasonKind {
        REASON_NONE,
        REASON_EXIT,        /* "exit:N" */
        REASON_SIGNAL,      /* "signal:NAME", e.g. "signal:KILL" */
        REASON_TIMEOUT,     /* "timeout" */
        REASON_SPAWN,       /* "spawn:ERRNO_NAME", e.g. "spawn:ENOENT" */
        REASON_CANCELLED,   /* "cancelled" */
        REASON_UPSTREAM,    /* "upstream" */
        REASON_FAIL_FAST,   /* "fail_fast" */
        REASON_JOB_TIMEOUT, /* "job_timeout" */
        REASON_INTERRUPTED, /* "interrupted" */
        REASON_ACCOUNT,     /* "account:WORD", e.g. "account:locked"; arg is an ExecAccount (exec-proto.h) */
        REASON_ABORT,       /* "abort:N": a node's abort_on_exit code N ended the job */
        REASON_OOM,         /* "oom": the OOM killer killed a process of the attempt (memory.events) */
        _REASON_KIND_MAX,
        _REASON_KIND_INVALID = -EINVAL,
} ReasonKind;

typedef struct Reason {
        int8_t kind; /* ReasonKind */
        int32_t arg;
} Reason;

typedef enum TriggerRule {
        TRIGGER_SUCCESS,
        TRIGGER_FAILURE,
        TRIGGER_ALWAYS,
        _TRIGGER_RULE_MAX,
        _TRIGGER_RULE_INVALID = -EINVAL,
} TriggerRule;

typedef enum OnInterrupt {
        ON_INTERRUPT_RERUN,
        ON_INTERRUPT_FAIL,
        _ON_INTERRUPT_MAX,
        _ON_INTERRUPT_INVALID = -EINVAL,
} OnInterrupt;

/* Progress of one node. Times are CLOCK_REALTIME µs since the epoch, 0 = unset. */
typedef struct NodeRun {
        uint8_t state; /* NodeState */
        Reason reason;
        uint16_t attempt; /* attempts started so far, interrupted ones included; ORCH_ATTEMPT */
        uint16_t
                interrupted; /* attempts ended by a daemon stop/crash (not counted against retry.attempts) */
        uint16_t retry_base; /* counted attempts before the last manual retry (not counted against
                                retry.attempts) */
        uint16_t crash_reruns; /* reruns in a row because the daemon died while it ran
                                * (MaxInterruptedReruns=); an attempt that ends (leaves running by set_state)
                                * or a manual retry resets it */
        int16_t exit_code;     /* -1 = none */
        int16_t signal;        /* 0 = none */
        uint64_t started_at;   /* start of the current/last attempt */
        uint64_t finished_at;  /* end of the node (final states only) */
        uint64_t retry_at;     /* when the next attempt may start (retry_wait only) */
        int32_t pid;           /* the running attempt's process (group leader), 0 = none */
        uint64_t pid_start;    /* its start time (procutil.h), so a restart can tell it from a reused pid */
        uint64_t log_dropped; /* output bytes of the last ended attempt lost from its log (a full filesystem)
                               */
        /* The kernel's accounting of the last ended attempt, from its cgroup (cgroup isolation only): valid
         * when acct; within, UINT64_MAX = not available (no such controller). */
        bool frozen; /* its running attempt's cgroup is frozen (pause --freeze); run time only, not recorded
                      */
        bool acct;
        uint64_t cpu_usec;       /* cpu.stat usage_usec */
        uint64_t memory_peak;    /* memory.peak, bytes */
        uint64_t pids_peak;      /* pids.peak */
        uint64_t io_read_bytes;  /* io.stat rbytes */
        uint64_t io_write_bytes; /* io.stat wbytes */
} NodeRun;

/* One figure of a NodeRun's accounting (NodeRun.acct): its key in the journal and in Status, and its value
 * (UINT64_MAX = unknown: the writers leave it out). */
typedef struct NodeAcctField {
        const char *key; /* "cpu_usec", … */
        uint64_t value;
} NodeAcctField;
#define NODE_ACCT_FIELDS 5U

/* Progress of one job, and who it belongs to. Owns nodes[] and the strings. */
typedef struct JobRun {
        uint64_t id;
        uint8_t state;       /* JobState */
        uint8_t paused_from; /* JobState before pause (queued or running) */
        Reason reason;
        bool cancel_requested;
        uid_t uid;
        gid_t gid;
        char *user;   /* owner's login name, may be NULL if unknown */
        char *source; /* file name it was dropped as, or NULL */
        uint64_t submitted_at;
        uint64_t started_at;
        uint64_t finished_at;
        size_t n_nodes;
        NodeRun *nodes;
} JobRun;

/* Table lookups. to_string returns NULL for out-of-range; from_string returns the value or -EINVAL. */
const char *job_state_to_string(JobState s);
JobState job_state_from_string(const char *s);
const char *node_state_to_string(NodeState s);
NodeState node_state_from_string(const char *s);
const char *trigger_rule_to_string(TriggerRule r);
TriggerRule trigger_rule_from_string(const char *s);
const char *on_interrupt_to_string(OnInterrupt o);
OnInterrupt on_interrupt_from_string(const char *s);

/* Whether a state is an end state. */
bool job_state_is_final(JobState s);
bool node_state_is_final(NodeState s);

/* 0 if from → to is a legal transition of SPEC §4 (plus retry_wait → cancelled), else -EINVAL. */
int node_state_transition_check(NodeState from, NodeState to);
int job_state_transition_check(JobState from, JobState to);

/* Format a reason ("exit:3", "signal:KILL", "spawn:ENOENT", …) into buf. Returns buf, or NULL for
 * REASON_NONE. */
const char *reason_to_string(Reason r, char *buf, size_t size);
#define REASON_STRING_MAX 48
/* Parse the form above. Returns 0, or -EINVAL for anything else. */
int reason_from_string(const char *s, Reason *ret);

/* The word of an account refusal (ExecAccount of exec-proto.h: "locked", "expired", …), NULL for
 * EXEC_ACCOUNT_OK and out-of-range values. */
const char *account_refusal_to_string(int a);

/* Allocate a JobRun with n nodes, all pending, exit_code -1; job queued. Returns 0 or -ENOMEM. */
int job_run_new(size_t n_nodes, JobRun **ret);
/* Free a JobRun and its strings. Accepts NULL, returns NULL. */
JobRun *job_run_free(JobRun *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(JobRun *, job_run_free);

/* Set a node's state; leaving running (an attempt ended) resets crash_reruns. Aborts (assert) on an illegal
 * transition: that is always a bug. */
void node_run_set_state(NodeRun *n, NodeState to);
/* Recovery only (on_interrupt=rerun): running → pending for an attempt the daemon's stop cut short.
 * Counts it in n->interrupted, clears started_at and the reason. Aborts unless the node is running. */
void node_run_requeue_interrupted(NodeRun *n);
/* Manual retry only (orchctl retry): a finished node back to pending for a new round of attempts. Attempt
 * numbers go on; the attempts counted so far stop counting against retry.attempts (retry_base). Clears the
 * reason, exit status and times. Aborts unless the node is in a final state. */
void node_run_reset_for_retry(NodeRun *n);
/* Counted attempts of the current round: those retry.attempts limits. */
unsigned node_run_counted_attempts(const NodeRun *n);
/* Manual retry only: a finished job back to queued, with its reason, cancel request and start/finish times
 * cleared (so its timeout starts again when it runs). Aborts unless the job is in a final state. */
void job_run_reset_for_retry(JobRun *r);
/* Set a job's state. Aborts (assert) on an illegal transition. */
void job_run_set_state(JobRun *r, JobState to);

/* Count nodes per state into counts[_NODE_STATE_MAX]. */
void job_run_count(const JobRun *r, size_t counts[static _NODE_STATE_MAX]);

/* n's accounting figures in the order every writer (journal.c, statusenc.c, protocol-status.c) puts them:
 * the one list of them. */
void node_run_acct_fields(const NodeRun *n, NodeAcctField ret[static NODE_ACCT_FIELDS]);
