/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * `orchctl graph` (SPEC §5): a job's DAG as Graphviz DOT, coloured by node state when a run is known.
 * Pure: no I/O besides an in-memory stream, no event loop, no logging.
 */

#include "jobspec.h"
#include "state.h"

/* Render spec (and, if run is not NULL, each node's state from run) as a DOT digraph. The output is
 * deterministic: the same inputs give the same bytes. Returns 0 and a malloc'd NUL-terminated text in *ret;
 * -EINVAL if run does not match spec (node count, unknown node state); -ENOMEM. *ret is untouched on error.
 */
int graph_dot(const JobSpec *spec, const JobRun *run, char **ret);
