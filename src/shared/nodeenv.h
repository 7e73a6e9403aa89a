/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The environment a node runs with (SPEC §3): a clean base (PATH, the
 * owner's HOME, USER, LOGNAME and SHELL, the daemon's LANG), then the job's
 * env, then the node's env, then ORCH_JOB_ID, ORCH_JOB_NAME, ORCH_NODE and
 * ORCH_ATTEMPT. A later entry replaces an earlier one with the same name.
 * Pure: no I/O (the caller looks the owner up), no logging.
 */

#include <stdint.h>

#include "macro.h"

#define NODEENV_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

typedef struct NodeEnvOwner {
        const char *home;  /* NULL: no HOME */
        const char *user;  /* NULL: no USER/LOGNAME */
        const char *shell; /* NULL or empty: /bin/sh */
} NodeEnvOwner;

/* The base shared by every node of a job, with an index by name, so that each node's environment costs a
 * copy of pointers and not a copy (and a re-hash) of the job's env: a job file may hold 100,000 variables.
 */
typedef struct NodeEnvBase NodeEnvBase;

/* The base: PATH, HOME, USER, LOGNAME, SHELL (each only if known), LANG if lang is not NULL, then job_env
 * ("KEY=VALUE", may be NULL), whose strings are borrowed: they must outlive the base. Returns 0 with *ret
 * (free with nodeenv_base_free()) or -ENOMEM. */
int nodeenv_base_new(const NodeEnvOwner *owner, const char *lang, char *const *job_env, NodeEnvBase **ret);

/* Free the base (not the borrowed strings). Accepts NULL, returns NULL. */
NodeEnvBase *nodeenv_base_free(NodeEnvBase *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(NodeEnvBase *, nodeenv_base_free);

/* The base as a NULL-terminated array (owned by the base). */
char *const *nodeenv_base_strv(const NodeEnvBase *b);

/* One attempt's complete environment: base, then node_env (may be NULL), then the ORCH_* variables. Returns
 * 0 with *ret, a NULL-terminated array in one allocation (release it with free()) that borrows the strings
 * of base and node_env (they must outlive it), or -ENOMEM. */
int nodeenv_node(const NodeEnvBase *base, char *const *node_env, uint64_t job_id, const char *job_name,
                 const char *node, unsigned attempt, char ***ret);
