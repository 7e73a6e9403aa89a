/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Node ids (SPEC §3, widened by issue 11): what a valid id is, and the one mapping from an id to its log
 * file name that both the writer (job-spawn.c) and the reader (methods-logs.c) use.
 *
 * An id is 1…NODEID_MAX bytes of [A-Za-z0-9_.-/], starting with a letter or digit, whose '/'-separated
 * components are never empty, "." or "..": so "src/foo.c.o" is an id, "a//b", "a/", "../x" and "a/./b"
 * are not. The log file of attempt N is the id with every '/' written as '%' (a byte no id has, so two
 * ids never share a name), then ".N.log": always one plain file name inside logs/, never a path, at most
 * NAME_MAX bytes for any attempt number (NODEID_MAX + ".4294967295.log" = 255). An id without '/' keeps
 * the name it had before ids could hold one, so spools written by older versions stay readable.
 * Pure: no logging.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NODEID_MAX 240U
/* NODEID_MAX + strlen(".4294967295.log") + NUL */
#define NODEID_LOG_NAME_SIZE (NODEID_MAX + 15U + 1U)

/* Whether s is a valid node id. */
bool nodeid_valid(const char *s);

/* The log file name of attempt `attempt` of node id (valid) into buf. Returns its length. */
size_t nodeid_log_name(const char *id, uint32_t attempt, char buf[static NODEID_LOG_NAME_SIZE]);
