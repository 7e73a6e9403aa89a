/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The Watch method (orchctl watch): live progress of one job, streamed to
 * its watchers one reply per durable commit of the job's records. A watched
 * job has one observer (job_add_observer()) while it has watchers, so a job
 * nobody watches pays nothing but an empty observer list.
 */

#include <stdint.h>

#include <json-c/json.h>

#include "control.h"
#include "job.h"

/* The io.orchd.Manager.Watch handler (userdata: the Manager). Returns 0 or -errno. */
int method_watch(ControlCall *call, json_object *parameters, void *userdata);
