/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Read-only mode: the daemon cannot write its own state (the spool's filesystem is full, over quota or
 * mounted read-only) and waits for that to pass instead of exiting. While on, no node starts, no job is
 * accepted, records wait in the committer, and queries are answered from memory; a timer looks again
 * every READONLY_RECHECK_USEC and resumes writing by itself.
 */

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "committer.h"
#include "spool.h"

typedef struct ReadOnly {
        /* Set by the owner before the first call (all borrowed). */
        sd_event *event;
        Spool *spool;         /* held while on, probed by the re-check */
        Committer *committer; /* resumed when the spool can be written again */
        const char *spool_path;
        void (*on_writable)(void *userdata); /* writing resumed: release the spool's hold, schedule */
        void (*on_fatal)(int error, const char *what, void *userdata); /* the committer cannot resume */
        void *userdata;

        bool on;
        int error;              /* the failed write's -errno */
        char what[160];         /* what could not be written */
        uint64_t since;         /* CLOCK_REALTIME µs */
        sd_event_source *timer; /* the re-check */
} ReadOnly;

/* How often to look again whether the spool can be written. */
#define READONLY_RECHECK_USEC (2 * USEC_PER_SEC)

/* Whether a failed write of our own state is one read-only mode waits out (ENOSPC, EDQUOT, EROFS) rather
 * than a reason to fail-stop. */
bool readonly_error_waits(int error);

/* A write of our state failed with error (readonly_error_waits()) while writing `what`: stop starting nodes
 * and taking jobs, say why, and look again on a timer. Idempotent. Returns 0 or -errno (no timer). */
int readonly_enter(ReadOnly *ro, int error, const char *what);

/* At start: a test write to the spool; if it fails for lack of room (or a read-only mount), start in
 * read-only mode. Returns 0 or -errno (logged): any other failure. */
int readonly_check_at_start(ReadOnly *ro);

/* The reason read-only mode is on, for Stats ("cannot write …: No space left on device"), into buf;
 * NULL when it is off. */
const char *readonly_reason(const ReadOnly *ro, char *buf, size_t size);

/* Release the timer. */
void readonly_done(ReadOnly *ro);
