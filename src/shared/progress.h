/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The text of orchctl watch (SPEC §5): the progress bar and the per-event
 * lines, built from node states and the daemon's node objects. Pure: no
 * I/O, no clock (callers pass times and widths), so every shape is unit-tested.
 */

#include <stddef.h>

#include <json-c/json.h>

#include "state.h"

/* Room for any line these functions build (they truncate to fit). */
#define PROGRESS_LINE_MAX 512

/* "[#####.....] 12/40  10 succeeded  2 failed  3 running" (finished/total, then the counts of succeeded,
 * failed and running, and of retry_wait, skipped and cancelled when not zero), at most width columns: the
 * bar (10 to 40 cells) shrinks first, then goes; the text is cut last. Returns buf. */
char *progress_bar(const size_t counts[static _NODE_STATE_MAX], size_t width, char *buf, size_t size);

/* What happened to a node, from its node object (NodeStatus or NodeChange): "running (attempt 1)",
 * "succeeded (exit 0, 1.2s)", "failed (exit:3, 300ms)", "retry_wait (attempt 1: exit:3)",
 * "skipped (upstream)", "cancelled", … Returns buf. */
char *progress_node_event(json_object *node, char *buf, size_t size);

/* s cut to at most width bytes (ASCII: node ids are), with "..." marking a cut. Returns buf. */
char *progress_fit(const char *s, size_t width, char *buf, size_t size);
