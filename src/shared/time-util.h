/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Clock reads in µs: CLOCK_REALTIME for what is recorded and shown, CLOCK_MONOTONIC for timers and
 * durations. clock_gettime() cannot fail for these clocks, so neither can these. */

#include <stdint.h>
#include <time.h>

#include "macro.h"

static inline uint64_t timespec_to_usec(const struct timespec *ts) {
        return (uint64_t) ts->tv_sec * USEC_PER_SEC + (uint64_t) ts->tv_nsec / NSEC_PER_USEC;
}

static inline uint64_t now_usec(clockid_t clock) {
        struct timespec ts;

        (void) clock_gettime(clock, &ts);
        return timespec_to_usec(&ts);
}

/* Realtime clock in µs (for records). */
static inline uint64_t now_realtime_usec(void) {
        return now_usec(CLOCK_REALTIME);
}
