/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Retry policy of a node (SPEC §3 retry.*): whether a failed attempt is
 * retried, and how long to wait first. Pure.
 */

#include <stdbool.h>
#include <stdint.h>

typedef struct RetryPolicy {
        unsigned attempts;       /* total attempts, 1…100 */
        uint64_t delay_usec;     /* wait before the second attempt */
        double factor;           /* 1…10 */
        uint64_t max_delay_usec; /* cap */
        double jitter;           /* 0…1, random ± fraction */
        bool on_exit_any;        /* true: every non-zero exit is retried */
        bool on_exit_unless;     /* on_exit lists the codes NOT retried (unless_exit): all else is */
        uint8_t on_exit[32];     /* bitmap of exit codes 1…255 retried (or not) when !on_exit_any */
        bool on_timeout;         /* retry a timed-out attempt */
        bool on_oom;             /* retry an attempt the kernel's OOM killer ended (reason "oom") */
} RetryPolicy;

/* The SPEC defaults: attempts 1, delay 1s, factor 2, max_delay 5m, jitter 0.1, any exit, on_timeout, on_oom.
 */
void retry_policy_init(RetryPolicy *p);

/* Mark exit code (1…255) as retried. Clears on_exit_any. */
void retry_policy_add_exit(RetryPolicy *p, int code);

typedef enum AttemptOutcome {
        ATTEMPT_EXIT,    /* exited with a non-zero code (arg) */
        ATTEMPT_SIGNAL,  /* killed by a signal not sent by us */
        ATTEMPT_TIMEOUT, /* killed by its own per-attempt timeout */
        ATTEMPT_SPAWN,   /* could not be started */
        ATTEMPT_OOM,     /* killed by the OOM killer (its cgroup's memory.events oom_kill rose) */
} AttemptOutcome;

/* Whether a failed attempt is retried, given how many counted attempts were used (≥ 1). */
bool retry_should_retry(const RetryPolicy *p, unsigned used, AttemptOutcome o, int exit_code);

/* Delay before attempt used+1, where used ≥ 1 counted attempts have failed:
 * min(delay * factor^(used-1), max_delay), then scaled by 1 + jitter*(2u-1), u uniform in [0,1).
 * Never negative; saturates instead of overflowing. */
uint64_t retry_delay_usec(const RetryPolicy *p, unsigned used, double u);
