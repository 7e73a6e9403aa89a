/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/*
 * Between journal-load.c (the records and files of a job's journal) and journal-load-value.c (their typed
 * values). Every loader_* function reads at the scanner's cursor, returns 0 (or as said), -EBADMSG with
 * "FILE: PATH: message" in *reterr_msg, or -ENOMEM. PATH is prefix.key; either may be NULL.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "history.h"
#include "jobspec.h"
#include "jsonscan.h"
#include "macro.h"
#include "state.h"

typedef struct Loader {
        const char *file; /* name of the file being read, for messages */
        const JobSpec *spec;
        JobRun *run;
        char **reterr_msg;
        JsonScan scan;       /* the file being read; its scratch buffer is reused across files */
        History *history;    /* where the events go (journal_load_history()), or NULL: checked only */
        bool history_seen;   /* the snapshot has a history (else an older orchd wrote it) */
        uint64_t next_event; /* number the next event must have */
} Loader;

/* Record "FILE: PATH: message" and return -EBADMSG. */
int loader_bad(Loader *l, const char *prefix, const char *field, const char *format, ...) _printf_(4, 5);

/* Word the syntax error a json_scan_*() call returned as -EBADMSG; other returns pass through. */
int loader_syntax(Loader *l, int r);

/* "must be WANT, got KIND" for a value of the wrong type; a syntax error if no value starts here. */
int loader_wrong_type(Loader *l, const char *prefix, const char *key, const char *want, bool nullable);

/* An integer in [min, max]. Returns 0, or 1 for null when nullable (*ret untouched). */
int loader_read_uint(Loader *l, const char *prefix, const char *key, uint64_t min, uint64_t max,
                     bool nullable, uint64_t *ret);

/* A string without NUL characters; NULL for null when nullable. Lives in the scanner's scratch buffer. */
int loader_read_string(Loader *l, const char *prefix, const char *key, bool nullable, const char **ret);

/* true or false. */
int loader_read_bool(Loader *l, const char *prefix, const char *key, bool *ret);

/* The "reason" field of record prefix: null or a reason string (reason_from_string()). */
int loader_read_reason(Loader *l, const char *prefix, Reason *ret);

/* Consume the '{' of the object prefix.key. */
int loader_open_object(Loader *l, const char *prefix, const char *key);

/* Word the error json_scan_member() returned (r < 0). */
int loader_member_error(Loader *l, int r);

/* Walk the members of an object opened with loader_open_object(); *state starts at 0. Returns 1 with the
 * key (in the scratch buffer, so only valid until the value is read), 0 after the closing brace. Inline:
 * it runs once per member of every record at recovery. */
static inline int loader_object_next(Loader *l, unsigned *state, const char **ret_key) {
        int r = json_scan_member(&l->scan, state, ret_key);

        return r >= 0 ? r : loader_member_error(l, r);
}

/* Start of a member key of a fixed record with the field names names[0…n): its index (trying hint first:
 * our writer emits fields in table order), marked in *seen; an unknown or repeated field is an error. */
int loader_record_field(Loader *l, const char *prefix, const char *const *names, size_t n, const char *key,
                        size_t hint, unsigned *seen);

/* After a record: an error naming the first of names[0…n) not in seen. */
int loader_check_missing(Loader *l, const char *prefix, const char *const *names, size_t n, unsigned seen);

/* A snapshot's "history" member (journal-load-history.c): its first number, partial flag and events. */
int loader_read_history(Loader *l);
/* An "events" member (of a segment, prefix NULL; or of the history): events numbered from l->next_event
 * on; an error after a snapshot without history. */
int loader_read_events(Loader *l, const char *prefix);
