/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Job files (SPEC §3): strict JSON → JobSpec, with every validation rule of
 * the contract. Pure: no event loop, no logging; errors come back as a list
 * that names the JSON path (and line/column for syntax errors).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "backoff.h"
#include "macro.h"
#include "resources.h"
#include "state.h"

typedef struct JobLimits {
        size_t max_file_size; /* bytes, default 4 MiB */
        size_t max_nodes;     /* default 100,000 */
        size_t max_after;     /* `after` entries per node, default 1,000 */
        unsigned max_depth;   /* JSON nesting depth, default 32 */
        size_t max_string;    /* bytes per string, default 64 KiB */
} JobLimits;

/* Fill in the defaults above. */
void jobspec_limits_init(JobLimits *l);

/* A node's "abort_on_exit": exit codes that end its whole job at once, in state (DAGMan ABORT-DAG-ON). */
typedef struct AbortOnExit {
        bool set;
        JobState state;    /* JOB_FAILED or JOB_SUCCEEDED */
        uint8_t codes[32]; /* bitmap of exit codes 0…255 */
} AbortOnExit;

/* Whether an attempt that exited with exit_code (-1: none, e.g. a signal) ends the job. */
static inline bool abort_on_exit_matches(const AbortOnExit *a, int exit_code) {
        return a->set && exit_code >= 0 && exit_code <= 255 &&
                (a->codes[exit_code / 8] & (1u << (exit_code % 8)));
}

typedef struct NodeSpec {
        char *id;
        char **argv;     /* NULL-terminated; a string cmd becomes {"/bin/sh", "-c", cmd, NULL} */
        bool shell;      /* cmd was a string */
        uint32_t *after; /* indices into JobSpec.nodes */
        uint32_t n_after;
        TriggerRule when;
        RetryPolicy retry;
        uint64_t timeout_usec;    /* per attempt, 0 = none */
        uint64_t kill_grace_usec; /* default 10 s */
        char **env;               /* "KEY=VALUE", node-level only (job env is in JobSpec), NULL if none;
                                   * JobSpec.defaults_env itself when inherited (borrowed, never copied) */
        char *cwd;                /* NULL = inherit job cwd; JobSpec.defaults_cwd itself when inherited */
        int umask;                /* 0…0777; -1 = inherit the job's */
        bool allow_failure;
        OnInterrupt on_interrupt;
        bool output_separate; /* "output": "separate": stdout and stderr apart; default "merged" (one pipe)
                               */
        AbortOnExit abort_on_exit;
        Resources *resources; /* cgroup limits: the job's "resources" overlaid field by field with the node's
                               * (else "defaults"'); NULL = none; JobSpec.resources itself when the node
                               * has no "resources" of its own (borrowed, never copied) */
} NodeSpec;

typedef struct JobSpec {
        char *name;
        char *key;             /* NULL if none */
        int priority;          /* −1000…1000 */
        unsigned max_parallel; /* 0 = no job limit */
        uint64_t timeout_usec; /* 0 = none */
        bool fail_fast;
        char **env;          /* "KEY=VALUE", NULL if none */
        char *cwd;           /* NULL = owner's home, else "/" */
        int umask;           /* 0…0777; -1 = none (nodes get 022) */
        char **defaults_env; /* "defaults.env", shared by every node that does not set env; NULL if none */
        char *defaults_cwd;  /* "defaults.cwd", shared likewise */
        Resources *resources; /* job "resources" ⊕ "defaults.resources", shared likewise; NULL if no limit */
        NodeSpec *nodes;      /* in file order */
        size_t n_nodes;
        uint32_t *by_id; /* private to jobspec.c: node indices sorted by id, for jobspec_find_node() */
} JobSpec;

typedef struct JobError {
        char *path;            /* "nodes.e2e.retry.attempts", "" for the document root */
        char *message;         /* "must be between 1 and 100, got 0" */
        unsigned line, column; /* 1-based; 0 when not a syntax error */
} JobError;

typedef struct JobErrors {
        JobError *errors;
        size_t n_errors;
        bool truncated; /* more errors were found than are listed */
} JobErrors;

/* Parse and validate a job file. default_name is used when "name" is absent (file name without .json).
 * Returns 0 and *ret on success; -EINVAL with *reterr filled when the file is invalid; -ENOMEM.
 * On -EINVAL *ret is untouched; on success *reterr is untouched. */
int jobspec_parse(const char *buf, size_t size, const JobLimits *limits, const char *default_name,
                  JobSpec **ret, JobErrors **reterr);

/* Free a JobSpec. Accepts NULL, returns NULL. */
JobSpec *jobspec_free(JobSpec *j);
/* Free an error list. Accepts NULL, returns NULL. */
JobErrors *jobspec_errors_free(JobErrors *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(JobSpec *, jobspec_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(JobErrors *, jobspec_errors_free);

/* Index of the node with this id, or -ENOENT. O(log n) or better. */
ssize_t jobspec_find_node(const JobSpec *j, const char *id);

/* Human form, one error per line: "FILE:LINE:COL: [PATH: ]message" for syntax errors (PATH when not the
 * root), else "FILE: PATH: message" ("FILE: message" at the root); a last line says when errors were
 * truncated. Returns a malloc'd string or NULL on OOM. */
char *jobspec_errors_format(const JobErrors *e, const char *file);

/* JSON form: {"file": FILE, "errors": [{"path":…, "message":…, "line":…, "column":…}, …]}. Returns owned
 * object or NULL. */
json_object *jobspec_errors_to_json(const JobErrors *e, const char *file);

/* Name derived from a file name: basename without the ".json" suffix. Returns malloc'd string or NULL. */
char *jobspec_name_from_filename(const char *filename);
