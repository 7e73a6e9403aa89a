/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Private to the job parser (jobspec.c, jobspec-value.c, jobspec-node.c, jobspec-exit.c); never include it
 * elsewhere. It holds the parse context they share and the functions one of them offers the others.
 * Validators return true and set *ret only when the value is valid; otherwise they record an error and
 * leave *ret untouched.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "jobspec.h"
#include "jsonparse.h"
#include "macro.h"

/* Size of the buffer jobspec_describe() writes into: the description plus room for quotes, escapes, "…". */
#define VALUE_DESC_MAX 48
#define VALUE_DESC_BUF (VALUE_DESC_MAX + 16)

/* Node fields, as bits of JobCtx.tmpl_set and NodeTmp.set; also the order of the "expected one of" list. */
enum {
        F_CMD,
        F_AFTER,
        F_WHEN,
        F_RETRY,
        F_TIMEOUT,
        F_KILL_GRACE,
        F_ENV,
        F_CWD,
        F_ALLOW_FAILURE,
        F_ON_INTERRUPT,
        F_UMASK,
        F_OUTPUT,
        F_ABORT_ON_EXIT,
        F_RESOURCES,
        _F_NODE_MAX
};

/* What a node still needs once the whole file is read: its `after` names (kept in one arena until every
 * id is known) and which fields it set (applied after "defaults", which may come later in the file). */
typedef struct NodeTmp {
        size_t after_off; /* into JobCtx.names: n_names × (uint32_t position, name, NUL) */
        uint32_t n_names;
        uint16_t set;
} NodeTmp;

typedef struct JobCtx {
        const JobLimits *limits;
        JobErrors *errors;
        bool oom; /* sticky: checked once at the end instead of after every allocation */
        JobSpec *spec;
        size_t nodes_alloc;
        size_t n_seen; /* members of "nodes", including those past max_nodes */
        NodeTmp *tmp;  /* parallel to spec->nodes */
        char *names;
        size_t names_len, names_alloc;
        NodeSpec tmpl; /* SPEC defaults overridden by "defaults" */
        unsigned tmpl_set;
        Resources job_resources; /* the job-level "resources" (RESOURCES_NULL if absent) */
        bool have_nodes, nodes_ok;
} JobCtx;

/* ---- jobspec-value.c: error collection and typed getters ---- */

/* Record an error at path; past the cap, only mark the list truncated. Sets c->oom on allocation failure. */
void jobspec_add_error(JobCtx *c, const JsonPath *path, const char *fmt, ...) _printf_(3, 4);
/* Short description of v for "got …", in buf or a static string. Returns it; never fails. */
const char *jobspec_describe(json_object *v, char buf[static VALUE_DESC_BUF]);
/* Returns true if v has type t, else records "expected WHAT, got …" and returns false. */
bool jobspec_expect_type(JobCtx *c, const JsonPath *path, json_object *v, json_type t, const char *what);
/* Returns true and sets *ret if v is a boolean. */
bool jobspec_get_bool(JobCtx *c, const JsonPath *path, json_object *v, bool *ret);
/* Returns true and sets *ret if v is an integer in [min, max] (max INT64_MAX means no upper bound). */
bool jobspec_get_int(JobCtx *c, const JsonPath *path, json_object *v, int64_t min, int64_t max,
                     int64_t *ret);
/* Returns true and sets *ret if v is a number in [min, max]. */
bool jobspec_get_number(JobCtx *c, const JsonPath *path, json_object *v, double min, double max,
                        double *ret);
/* Returns true and sets *ret (borrowed from v) if v is a string without U+0000, non-empty if asked. */
bool jobspec_get_string(JobCtx *c, const JsonPath *path, json_object *v, bool nonempty, const char **ret);
/* Returns true if s has no control character (escape.h; TAB and LF allowed if asked), else records
 * "must not contain control characters…" naming the first one and its byte offset, and returns false. */
bool jobspec_check_no_control(JobCtx *c, const JsonPath *path, const char *s, bool allow_tab_lf);
/* Returns true and sets *ret to a copy if v is a 1…128 character name without control characters. */
bool jobspec_get_label(JobCtx *c, const JsonPath *path, json_object *v, char **ret);
/* Returns true and sets *ret if v is a valid duration (seconds or "1m30s"), non-zero if asked. */
bool jobspec_get_duration(JobCtx *c, const JsonPath *path, json_object *v, bool nonzero, uint64_t *ret);
/* Returns true and sets *ret to a "KEY=VALUE" list (NULL if empty) if v is a valid env object. */
bool jobspec_get_env(JobCtx *c, const JsonPath *path, json_object *v, char ***ret);
/* Returns true and sets *ret to a copy if v is an absolute path shorter than PATH_MAX. */
bool jobspec_get_cwd(JobCtx *c, const JsonPath *path, json_object *v, char **ret);
/* A umask: a string of 3 or 4 octal digits ("027", "0077"); stored in *ret (0…0777). */
bool jobspec_get_umask(JobCtx *c, const JsonPath *path, json_object *v, int *ret);
/* Returns the index of key in table[0…n-1], or -1. */
int jobspec_field_lookup(const char *const *table, size_t n, const char *key);
/* Record "unknown field" for path.key, listing table (minus cmd and after when in_defaults). */
void jobspec_unknown_field(JobCtx *c, const JsonPath *path, const char *key, const char *const *table,
                           size_t n, bool in_defaults);

/* ---- jobspec-node.c: nodes, defaults, `after` and cycles ---- */

/* "retry" and "abort_on_exit" of a node or of "defaults" (jobspec-exit.c): parse v into *p / *a, recording
 * every error in c. */
void jobspec_parse_retry(JobCtx *c, const JsonPath *path, json_object *v, RetryPolicy *p);
void jobspec_parse_abort_on_exit(JobCtx *c, const JsonPath *path, json_object *v, AbortOnExit *a);
/* "resources" of the job, of "defaults" or of a node (jobspec-resources.c): parse v into *r (reset first),
 * recording every error in c. */
void jobspec_parse_resources(JobCtx *c, const JsonPath *path, json_object *v, Resources *r);

/* Initialize n to the SPEC defaults. */
void jobspec_node_init(NodeSpec *n);
/* Free what n owns (not n itself): everything except an env, cwd or resources that is the same pointer as
 * shared_env / shared_cwd / shared_res (the JobSpec's defaults, which it borrows). */
void jobspec_node_done(NodeSpec *n, char **shared_env, const char *shared_cwd, const Resources *shared_res);
/* Validate the "defaults" object v into c->tmpl. */
void jobspec_parse_defaults(JobCtx *c, const JsonPath *path, json_object *v);
/* Validate one member of "nodes" and append it to c->spec. Returns 1, or -ENOMEM. */
int jobspec_on_node(JobCtx *c, const JsonPath *m, json_object *v);
/* After the whole file: apply defaults, build the id index, resolve `after`, find cycles.
 * Returns 0 (problems are recorded as errors) or -ENOMEM. */
int jobspec_finish_nodes(JobCtx *c, const JsonPath *np);

/* ---- jobspec.c ---- */

/* Allocate and sort j->by_id over j->nodes, for jobspec_find_node(). Returns 0 or -ENOMEM. */
int jobspec_build_index(JobSpec *j);
