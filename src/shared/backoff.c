/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The retry policy of SPEC §3 (retry.*): which failed attempts are tried
 * again, and the exponential back-off with cap and jitter before the next one.
 *
 * Invariants: a policy never allows more than p->attempts counted attempts;
 * the delay is computed in double precision and saturates instead of
 * overflowing, so absurd factors or attempt counts give a long wait, never a
 * wrapped-around short one.
 *
 * Deliberately not here: randomness (the caller passes u, so tests are
 * deterministic), timers, and the interrupted-attempt rule (on_interrupt
 * reruns are not counted in "used" by the caller).
 */

#include <assert.h>
#include <float.h>
#include <math.h>

#include "backoff.h"
#include "macro.h"

/* 2^64 as a double: the first value that does not fit a uint64_t. */
#define TWO_POW_64 18446744073709551616.0

void retry_policy_init(RetryPolicy *p) {
        assert(p);

        *p = (RetryPolicy){
                .attempts = 1,
                .delay_usec = 1 * USEC_PER_SEC,
                .factor = 2.0,
                .max_delay_usec = 5 * 60 * USEC_PER_SEC,
                .jitter = 0.1,
                .on_exit_any = true,
                .on_timeout = true,
                .on_oom = true,
        };
}

void retry_policy_add_exit(RetryPolicy *p, int code) {
        assert(p);
        assert(code >= 1 && code <= 255); /* The job parser rejects anything else. */

        p->on_exit[code / 8] |= (uint8_t) (1u << (code % 8));
        p->on_exit_any = false;
}

static bool exit_code_listed(const RetryPolicy *p, int code) {
        if (code < 1 || code > 255)
                return false;
        return p->on_exit[code / 8] & (1u << (code % 8));
}

bool retry_should_retry(const RetryPolicy *p, unsigned used, AttemptOutcome o, int exit_code) {
        assert(p);

        if (used >= p->attempts)
                return false;

        switch (o) {
        case ATTEMPT_TIMEOUT:
                return p->on_timeout;
        case ATTEMPT_OOM:
                /* Like a timeout, a limit the node hit: its own flag, whatever the exit-code lists say. */
                return p->on_oom;
        case ATTEMPT_EXIT:
                return p->on_exit_any || exit_code_listed(p, exit_code) != p->on_exit_unless;
        case ATTEMPT_SIGNAL:
        case ATTEMPT_SPAWN:
                /* An on_exit list names exit codes the user expects to be transient; a signal or a spawn
                 * failure is none of them, so only the "any failure" default retries it. An unless_exit
                 * list names the permanent ones: any other failure is retried, as DAGMan's UNLESS-EXIT. */
                return p->on_exit_any || p->on_exit_unless;
        }
        return false;
}

/* Saturating double → µs conversion: NaN and negatives give 0, too large gives UINT64_MAX. */
static uint64_t usec_from_double(double d) {
        if (!(d > 0.0)) /* Also catches NaN. */
                return 0;
        if (d >= TWO_POW_64)
                return UINT64_MAX;
        return (uint64_t) d;
}

uint64_t retry_delay_usec(const RetryPolicy *p, unsigned used, double u) {
        double d, max_d, jitter;

        assert(p);

        d = (double) p->delay_usec;
        max_d = (double) p->max_delay_usec;

        /* Multiply step by step rather than calling pow(): once the cap is reached, more steps change
         * nothing, so the loop ends after at most log_factor(max/delay) rounds and needs no libm. With
         * factor ≤ 1 (outside the SPEC range) or a zero delay it never grows: nothing to iterate. */
        if (p->factor > 1.0)
                for (unsigned i = 1; i < used && d > 0.0 && d < max_d; i++)
                        d *= p->factor;
        d = MIN(d, max_d);

        if (isnan(u) || u < 0.0)
                u = 0.0;
        if (u >= 1.0)
                u = 1.0 - DBL_EPSILON / 2; /* The largest double below 1. */
        jitter = isnan(p->jitter) ? 0.0 : MAX(MIN(p->jitter, 1.0), 0.0);

        return usec_from_double(d * (1.0 + jitter * (2.0 * u - 1.0)));
}
