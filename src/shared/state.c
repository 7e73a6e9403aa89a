/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The run-state vocabulary of SPEC §4: string tables for the enums, the legal
 * state transitions of jobs and nodes, end reasons in their wire form
 * ("exit:3", "signal:KILL", "spawn:ENOENT", …) and the JobRun/NodeRun records.
 *
 * Invariants: a NodeRun or JobRun only changes state through the *_set_state()
 * helpers (or node_run_requeue_interrupted() for recovery), which abort on an
 * illegal transition, because an illegal transition is always a bug in the
 * caller, never bad input. reason_from_string() parses every string
 * reason_to_string() makes for exit codes 0…255, signals 1…64 and errnos
 * 1…4095 back to the same Reason.
 *
 * Deliberately not here: timestamps (callers set them, set_state only changes
 * the state), persistence, logging, and policy (which transition to take).
 */

#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec-proto.h"
#include "macro.h"
#include "state.h"

static const char *const job_state_table[_JOB_STATE_MAX] = {
        [JOB_QUEUED] = "queued",       [JOB_RUNNING] = "running", [JOB_PAUSED] = "paused",
        [JOB_SUCCEEDED] = "succeeded", [JOB_FAILED] = "failed",   [JOB_CANCELLED] = "cancelled",
};

static const char *const node_state_table[_NODE_STATE_MAX] = {
        [NODE_PENDING] = "pending",     [NODE_RUNNING] = "running", [NODE_RETRY_WAIT] = "retry_wait",
        [NODE_SUCCEEDED] = "succeeded", [NODE_FAILED] = "failed",   [NODE_SKIPPED] = "skipped",
        [NODE_CANCELLED] = "cancelled",
};

static const char *const trigger_rule_table[_TRIGGER_RULE_MAX] = {
        [TRIGGER_SUCCESS] = "success",
        [TRIGGER_FAILURE] = "failure",
        [TRIGGER_ALWAYS] = "always",
};

static const char *const on_interrupt_table[_ON_INTERRUPT_MAX] = {
        [ON_INTERRUPT_RERUN] = "rerun",
        [ON_INTERRUPT_FAIL] = "fail",
};

/* Reasons without an argument, indexed by ReasonKind; NULL for the ones that carry one. */
static const char *const reason_word_table[_REASON_KIND_MAX] = {
        [REASON_TIMEOUT] = "timeout",
        [REASON_CANCELLED] = "cancelled",
        [REASON_UPSTREAM] = "upstream",
        [REASON_FAIL_FAST] = "fail_fast",
        [REASON_JOB_TIMEOUT] = "job_timeout",
        [REASON_INTERRUPTED] = "interrupted",
        [REASON_OOM] = "oom",
};

/* The words of "account:WORD", indexed by ExecAccount. */
static const char *const account_refusal_table[_EXEC_ACCOUNT_MAX] = {
        [EXEC_ACCOUNT_UNKNOWN] = "unknown", [EXEC_ACCOUNT_LOCKED] = "locked",
        [EXEC_ACCOUNT_EXPIRED] = "expired", [EXEC_ACCOUNT_PASSWORD_EXPIRED] = "password_expired",
        [EXEC_ACCOUNT_DENIED] = "denied",   [EXEC_ACCOUNT_SESSION] = "session",
        [EXEC_ACCOUNT_ERROR] = "error",
};

static const char *table_to_string(const char *const *table, size_t n, int i) {
        if (i < 0 || (size_t) i >= n)
                return NULL;
        return table[i];
}

static int table_from_string(const char *const *table, size_t n, const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (table[i] && streq(table[i], s))
                        return (int) i;
        return -EINVAL;
}

const char *job_state_to_string(JobState s) {
        return table_to_string(job_state_table, ELEMENTSOF(job_state_table), s);
}

JobState job_state_from_string(const char *s) {
        return table_from_string(job_state_table, ELEMENTSOF(job_state_table), s);
}

const char *node_state_to_string(NodeState s) {
        return table_to_string(node_state_table, ELEMENTSOF(node_state_table), s);
}

NodeState node_state_from_string(const char *s) {
        return table_from_string(node_state_table, ELEMENTSOF(node_state_table), s);
}

const char *trigger_rule_to_string(TriggerRule r) {
        return table_to_string(trigger_rule_table, ELEMENTSOF(trigger_rule_table), r);
}

TriggerRule trigger_rule_from_string(const char *s) {
        return table_from_string(trigger_rule_table, ELEMENTSOF(trigger_rule_table), s);
}

const char *on_interrupt_to_string(OnInterrupt o) {
        return table_to_string(on_interrupt_table, ELEMENTSOF(on_interrupt_table), o);
}

OnInterrupt on_interrupt_from_string(const char *s) {
        return table_from_string(on_interrupt_table, ELEMENTSOF(on_interrupt_table), s);
}

bool job_state_is_final(JobState s) {
        return s == JOB_SUCCEEDED || s == JOB_FAILED || s == JOB_CANCELLED;
}

bool node_state_is_final(NodeState s) {
        return s == NODE_SUCCEEDED || s == NODE_FAILED || s == NODE_SKIPPED || s == NODE_CANCELLED;
}

/* Bit (1 << to) is set in row [from] when from → to is legal. A dense grid reads better than a switch
 * here: the whole state machine of SPEC §4 is visible at once. */
#define BIT(s) (1u << (s))

static const unsigned job_transitions[_JOB_STATE_MAX] = {
        [JOB_QUEUED] = BIT(JOB_RUNNING) | BIT(JOB_PAUSED) | BIT(JOB_SUCCEEDED) | BIT(JOB_FAILED) |
                BIT(JOB_CANCELLED),
        [JOB_RUNNING] = BIT(JOB_PAUSED) | BIT(JOB_SUCCEEDED) | BIT(JOB_FAILED) | BIT(JOB_CANCELLED),
        /* Resume goes back to where the pause came from (paused_from), queued or running. */
        [JOB_PAUSED] = BIT(JOB_QUEUED) | BIT(JOB_RUNNING) | BIT(JOB_SUCCEEDED) | BIT(JOB_FAILED) |
                BIT(JOB_CANCELLED),
};

static const unsigned node_transitions[_NODE_STATE_MAX] = {
        [NODE_PENDING] = BIT(NODE_RUNNING) | BIT(NODE_SKIPPED) | BIT(NODE_CANCELLED),
        [NODE_RUNNING] = BIT(NODE_SUCCEEDED) | BIT(NODE_FAILED) | BIT(NODE_CANCELLED) | BIT(NODE_RETRY_WAIT),
        /* retry_wait → cancelled is our addition to SPEC §4: cancel, fail_fast or the job timeout may
         * strike while a node waits out its back-off, and there is no process left to stop. */
        [NODE_RETRY_WAIT] = BIT(NODE_RUNNING) | BIT(NODE_CANCELLED),
};

int job_state_transition_check(JobState from, JobState to) {
        if (from < 0 || from >= _JOB_STATE_MAX || to < 0 || to >= _JOB_STATE_MAX)
                return -EINVAL;
        return job_transitions[from] & BIT(to) ? 0 : -EINVAL;
}

int node_state_transition_check(NodeState from, NodeState to) {
        if (from < 0 || from >= _NODE_STATE_MAX || to < 0 || to >= _NODE_STATE_MAX)
                return -EINVAL;
        return node_transitions[from] & BIT(to) ? 0 : -EINVAL;
}

_noreturn_ static void illegal_transition(const char *what, const char *from, const char *to) {
        /* A pure module does not log; but this is a programmer error and must not pass unnoticed even
         * in an NDEBUG build, so say what happened on stderr and abort. */
        fprintf(stderr, "orchd: illegal %s state transition %s -> %s, aborting.\n", what, strna(from),
                strna(to));
        abort();
}

void node_run_set_state(NodeRun *n, NodeState to) {
        assert(n);

        if (node_state_transition_check(n->state, to) < 0)
                illegal_transition("node", node_state_to_string(n->state), node_state_to_string(to));
        /* An attempt ended, one way or another: the reruns after crashes are no longer "in a row". */
        if (n->state == NODE_RUNNING)
                n->crash_reruns = 0;
        n->state = to;
}

void node_run_requeue_interrupted(NodeRun *n) {
        assert(n);

        if (n->state != NODE_RUNNING)
                illegal_transition("node (requeue)", node_state_to_string(n->state), "pending");
        n->state = NODE_PENDING;
        n->reason = (Reason){};
        if (n->interrupted < UINT16_MAX)
                n->interrupted++;
        n->started_at = 0;
}

void node_run_reset_for_retry(NodeRun *n) {
        assert(n);

        if (!node_state_is_final(n->state))
                illegal_transition("node (retry)", node_state_to_string(n->state), "pending");
        n->retry_base = (uint16_t) (n->attempt - n->interrupted);
        *n = (NodeRun){
                .state = NODE_PENDING,
                .attempt = n->attempt,
                .interrupted = n->interrupted,
                .retry_base = n->retry_base,
                .exit_code = -1,
        };
}

unsigned node_run_counted_attempts(const NodeRun *n) {
        unsigned counted = (unsigned) n->attempt - n->interrupted;

        /* A journal edited by hand could make these inconsistent: never underflow. */
        return counted > n->retry_base ? counted - n->retry_base : 0;
}

void job_run_reset_for_retry(JobRun *r) {
        assert(r);

        if (!job_state_is_final(r->state))
                illegal_transition("job (retry)", job_state_to_string(r->state), "queued");
        r->state = JOB_QUEUED;
        r->reason = (Reason){};
        r->cancel_requested = false;
        r->started_at = 0;
        r->finished_at = 0;
}

void job_run_set_state(JobRun *r, JobState to) {
        assert(r);

        if (job_state_transition_check(r->state, to) < 0)
                illegal_transition("job", job_state_to_string(r->state), job_state_to_string(to));
        if (to == JOB_PAUSED)
                r->paused_from = r->state;
        r->state = to;
}

/* Linux signals are 1…64 (SIGRTMAX); sigabbrev_np() names the classic ones, real-time ones print as
 * numbers. */
#define SIGNAL_NUMBER_MAX 64
/* errno values are below 4096 on Linux (MAX_ERRNO), but only the first ~134 have names: searching names
 * beyond 255 would only slow down parsing a journal full of spawn failures. */
#define ERRNO_NUMBER_MAX 4095
#define ERRNO_NAME_MAX 255

/* "prefix:NAME", or "prefix:N" when the number has no name (real-time signals, unknown errnos). */
static int format_named(char *buf, size_t size, const char *prefix, const char *name, int32_t arg) {
        if (name)
                return snprintf(buf, size, "%s:%s", prefix, name);
        return snprintf(buf, size, "%s:%" PRIi32, prefix, arg);
}

const char *reason_to_string(Reason r, char *buf, size_t size) {
        const char *name;
        int k;

        assert(buf || size == 0);

        switch (r.kind) {
        case REASON_EXIT:
                k = snprintf(buf, size, "exit:%" PRIi32, r.arg);
                break;
        case REASON_SIGNAL:
                name = r.arg > 0 ? sigabbrev_np(r.arg) : NULL;
                k = format_named(buf, size, "signal", name, r.arg);
                break;
        case REASON_SPAWN:
                name = r.arg > 0 ? strerrorname_np(r.arg) : NULL;
                k = format_named(buf, size, "spawn", name, r.arg);
                break;
        case REASON_ACCOUNT:
                name = account_refusal_to_string(r.arg);
                if (!name)
                        return NULL;
                k = snprintf(buf, size, "account:%s", name);
                break;
        case REASON_ABORT:
                k = snprintf(buf, size, "abort:%" PRIi32, r.arg);
                break;
        case REASON_TIMEOUT:
        case REASON_CANCELLED:
        case REASON_UPSTREAM:
        case REASON_FAIL_FAST:
        case REASON_JOB_TIMEOUT:
        case REASON_INTERRUPTED:
        case REASON_OOM:
                k = snprintf(buf, size, "%s", reason_word_table[r.kind]);
                break;
        default: /* REASON_NONE, or garbage. */
                return NULL;
        }

        if (k < 0 || (size_t) k >= size)
                return NULL; /* Truncated: never hand out half a reason. */
        return buf;
}

static const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);

        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

/* Parse a plain decimal number (digits only: no sign, no blanks) into [lo, hi]. */
static int parse_number(const char *s, int32_t lo, int32_t hi, int32_t *ret) {
        long long v = 0;

        if (*s == '\0')
                return -EINVAL;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                v = v * 10 + (*s - '0');
                if (v > hi)
                        return -ERANGE;
        }
        if (v < lo)
                return -ERANGE;
        *ret = (int32_t) v;
        return 0;
}

static int signal_from_name(const char *s, int32_t *ret) {
        for (int i = 1; i <= SIGNAL_NUMBER_MAX; i++) {
                const char *name = sigabbrev_np(i);

                if (name && streq(name, s)) {
                        *ret = i;
                        return 0;
                }
        }
        /* Real-time and unknown signals are written as numbers. */
        return parse_number(s, 1, SIGNAL_NUMBER_MAX, ret);
}

static int errno_from_name(const char *s, int32_t *ret) {
        for (int i = 1; i <= ERRNO_NAME_MAX; i++) {
                const char *name = strerrorname_np(i);

                if (name && streq(name, s)) {
                        *ret = i;
                        return 0;
                }
        }
        return parse_number(s, 1, ERRNO_NUMBER_MAX, ret);
}

int reason_from_string(const char *s, Reason *ret) {
        const char *v;
        int32_t arg;
        int r;

        assert(ret);

        if (!s)
                return -EINVAL;

        if ((v = startswith(s, "exit:"))) {
                r = parse_number(v, 0, 255, &arg);
                if (r < 0)
                        return -EINVAL;
                *ret = (Reason){ .kind = REASON_EXIT, .arg = arg };
                return 0;
        }
        if ((v = startswith(s, "abort:"))) {
                r = parse_number(v, 0, 255, &arg);
                if (r < 0)
                        return -EINVAL;
                *ret = (Reason){ .kind = REASON_ABORT, .arg = arg };
                return 0;
        }
        if ((v = startswith(s, "signal:"))) {
                if (signal_from_name(v, &arg) < 0)
                        return -EINVAL;
                *ret = (Reason){ .kind = REASON_SIGNAL, .arg = arg };
                return 0;
        }
        if ((v = startswith(s, "spawn:"))) {
                if (errno_from_name(v, &arg) < 0)
                        return -EINVAL;
                *ret = (Reason){ .kind = REASON_SPAWN, .arg = arg };
                return 0;
        }

        if ((v = startswith(s, "account:"))) {
                r = table_from_string(account_refusal_table, ELEMENTSOF(account_refusal_table), v);
                if (r <= EXEC_ACCOUNT_OK)
                        return -EINVAL;
                *ret = (Reason){ .kind = REASON_ACCOUNT, .arg = r };
                return 0;
        }

        r = table_from_string(reason_word_table, ELEMENTSOF(reason_word_table), s);
        if (r < 0)
                return -EINVAL;
        *ret = (Reason){ .kind = (int8_t) r };
        return 0;
}

int job_run_new(size_t n_nodes, JobRun **ret) {
        _cleanup_free_ JobRun *r = NULL;

        assert(ret);

        r = malloc(sizeof(*r));
        if (!r)
                return -ENOMEM;
        *r = (JobRun){
                .state = JOB_QUEUED,
                .paused_from = JOB_QUEUED,
                .uid = (uid_t) -1,
                .gid = (gid_t) -1,
                .n_nodes = n_nodes,
        };

        /* calloc() checks n * size for overflow; ask for one element so a 0-node run is not NULL. */
        r->nodes = calloc(MAX(n_nodes, (size_t) 1), sizeof(NodeRun));
        if (!r->nodes)
                return -ENOMEM;
        for (size_t i = 0; i < n_nodes; i++)
                r->nodes[i] = (NodeRun){ .state = NODE_PENDING, .exit_code = -1 };

        *ret = TAKE_PTR(r);
        return 0;
}

JobRun *job_run_free(JobRun *r) {
        if (!r)
                return NULL;
        free(r->user);
        free(r->source);
        free(r->nodes);
        free(r);
        return NULL;
}

void job_run_count(const JobRun *r, size_t counts[static _NODE_STATE_MAX]) {
        assert(r);

        memset(counts, 0, sizeof(size_t) * _NODE_STATE_MAX);
        for (size_t i = 0; i < r->n_nodes; i++) {
                assert(r->nodes[i].state < _NODE_STATE_MAX);
                counts[r->nodes[i].state]++;
        }
}

void node_run_acct_fields(const NodeRun *n, NodeAcctField ret[static NODE_ACCT_FIELDS]) {
        ret[0] = (NodeAcctField){ "cpu_usec", n->cpu_usec };
        ret[1] = (NodeAcctField){ "memory_peak", n->memory_peak };
        ret[2] = (NodeAcctField){ "pids_peak", n->pids_peak };
        ret[3] = (NodeAcctField){ "io_read_bytes", n->io_read_bytes };
        ret[4] = (NodeAcctField){ "io_write_bytes", n->io_write_bytes };
}

const char *account_refusal_to_string(int a) {
        return table_to_string(account_refusal_table, ELEMENTSOF(account_refusal_table), a);
}
