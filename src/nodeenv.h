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

#define NODEENV_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

typedef struct NodeEnvOwner {
        const char *home;  /* NULL: no HOME */
        const char *user;  /* NULL: no USER/LOGNAME */
        const char *shell; /* NULL or empty: /bin/sh */
} NodeEnvOwner;

/* The base shared by every node of a job: PATH, HOME, USER, LOGNAME, SHELL (each only if known), LANG if
 * lang is not NULL, then job_env ("KEY=VALUE", may be NULL). Returns 0 with *ret (a NULL-terminated array
 * of owned strings, free with strv_free()) or -ENOMEM. */
int nodeenv_base(const NodeEnvOwner *owner, const char *lang, char *const *job_env, char ***ret);

/* One attempt's complete environment: base, then node_env (may be NULL), then the ORCH_* variables.
 * Returns 0 with *ret (owned strings, strv_free()) or -ENOMEM. */
int nodeenv_node(char *const *base, char *const *node_env, uint64_t job_id, const char *job_name, const char *node,
                 unsigned attempt, char ***ret);
