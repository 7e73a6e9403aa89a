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

/* Node ids made from build outputs (orchctl import-ninja): */
#define NODEID_ESCAPE_PREFIX "esc--"

/* The node id of a file path: the path itself when it is a valid id not starting with
 * NODEID_ESCAPE_PREFIX; otherwise that prefix, then the path with [A-Za-z0-9.-] kept, '_' written "__"
 * and every other byte (including '/') "_hh" (lower-case hex). Two paths never get the same id. Returns
 * 0 with *ret (malloc'd), -ENAMETOOLONG if the id would be over NODEID_MAX, -ENOMEM. */
int nodeid_from_path(const char *path, char **ret);
