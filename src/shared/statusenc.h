/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The Status reply of a job (SPEC §5, {"job": the job with its nodes}) encoded straight into text, with no
 * json-c tree of the job: the same bytes json-c produces from protocol_job_to_json(spec, run, true) with
 * JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, at a fraction of the cost for a big job.
 * Pure: no event loop, no logging.
 */

#include <stddef.h>

#include <json-c/json.h>

#include "state.h"

/* The job object with its nodes, as text (NUL-terminated, not counted in *ret_len). Returns 0 or -ENOMEM. */
int statusenc_job(const JobSpec *spec, const JobRun *run, char **ret, size_t *ret_len);

/* {"job": the job with its nodes} as a protocol_raw_object(): goes wherever a reply's parameters go, and is
 * copied into the reply as it is. NULL on OOM. */
json_object *statusenc_job_reply(const JobSpec *spec, const JobRun *run);

/* The same reply made a slice at a time, so that the event loop serves others in between: begin takes what
 * changes (the job's fields, and a copy of its nodes), each step adds up to max nodes, reading their ids
 * from spec (which must stay alive and unchanged meanwhile), finish returns what statusenc_job_reply() would
 * have returned at begin. */
typedef struct StatusEnc StatusEnc;
/* About the size of the reply of a job of spec, for output budgets. */
size_t statusenc_size_hint(const JobSpec *spec);
/* Returns 0 with *ret, -EINVAL (no spec or run) or -ENOMEM. */
int statusenc_begin(const JobSpec *spec, const JobRun *run, StatusEnc **ret);
/* Returns 1 once every node is in, 0 while some are left, or -ENOMEM. */
int statusenc_step(StatusEnc *e, const JobSpec *spec, size_t max);
/* Only after a step returned 1. Frees e; NULL on OOM. */
json_object *statusenc_finish(StatusEnc *e);
/* Accepts NULL, returns NULL. */
StatusEnc *statusenc_free(StatusEnc *e);
