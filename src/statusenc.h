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
