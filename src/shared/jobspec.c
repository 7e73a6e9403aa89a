/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Job files (SPEC §3): strict JSON → validated JobSpec. This file drives the parse, validates the job-level
 * fields, owns the JobSpec and JobErrors lifecycles and the node id index, and turns errors into text and
 * JSON. The typed value checks are in jobspec-value.c, the nodes (defaults, `after`, cycles) in
 * jobspec-node.c; jobspec-internal.h is what the three share.
 *
 * Errors are collected, not stopped at: each names its JSON path and says what was expected and what was
 * found, up to a cap, so one `orchctl validate` run shows them all. Validation runs inside the parse
 * (json_parse_strict's member hook): each node and each top-level field is checked and its json-c object
 * freed as soon as it is complete, so a 100,000-node file never exists as a json-c tree (about 1 KB per
 * node). What needs the whole file waits for the end (jobspec_finish_nodes()): applying "defaults", which
 * may follow the nodes, resolving `after` names, and the cycle check.
 *
 * Invariants: a returned JobSpec is complete and valid; it keeps no json-c objects, only compact arrays
 * (about 210 bytes per node), and what "defaults" gives many nodes (env, cwd) is stored once, in the
 * JobSpec. by_id is always sorted by id. Errors are in file order, except `after` resolution errors and the
 * cycle, which come last; a syntax error replaces every other error.
 *
 * Deliberately does not: look at the file system, resolve users, or log.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "jobspec-internal.h"
#include "json-util.h"

enum {
        J_NAME,
        J_KEY,
        J_PRIORITY,
        J_MAX_PARALLEL,
        J_TIMEOUT,
        J_FAIL_FAST,
        J_ENV,
        J_CWD,
        J_UMASK,
        J_RESOURCES,
        J_DEFAULTS,
        J_NODES,
        _J_MAX
};
static const char *const jobspec_fields[_J_MAX] = {
        [J_NAME] = "name",         [J_KEY] = "key",
        [J_PRIORITY] = "priority", [J_MAX_PARALLEL] = "max_parallel",
        [J_TIMEOUT] = "timeout",   [J_FAIL_FAST] = "fail_fast",
        [J_ENV] = "env",           [J_CWD] = "cwd",
        [J_UMASK] = "umask",       [J_RESOURCES] = "resources",
        [J_DEFAULTS] = "defaults", [J_NODES] = "nodes",
};

void jobspec_limits_init(JobLimits *l) {
        *l = (JobLimits){
                .max_file_size = 4U << 20,
                .max_nodes = 100000,
                .max_after = 1000,
                .max_depth = 32,
                .max_string = 64U << 10,
        };
}

/* ---- lifecycles ---- */

static void errors_clear(JobErrors *e) {
        for (size_t i = 0; i < e->n_errors; i++) {
                free(e->errors[i].path);
                free(e->errors[i].message);
        }
        e->errors = mfree(e->errors);
        e->n_errors = 0;
        e->truncated = false;
}

JobErrors *jobspec_errors_free(JobErrors *e) {
        if (!e)
                return NULL;
        errors_clear(e);
        free(e);
        return NULL;
}

JobSpec *jobspec_free(JobSpec *j) {
        if (!j)
                return NULL;
        for (size_t i = 0; i < j->n_nodes; i++)
                jobspec_node_done(&j->nodes[i], j->defaults_env, j->defaults_cwd, j->resources);
        free(j->nodes);
        strv_free(j->defaults_env);
        free(j->defaults_cwd);
        free(j->resources);
        free(j->by_id);
        free(j->name);
        free(j->key);
        strv_free(j->env);
        free(j->cwd);
        free(j);
        return NULL;
}

/* ---- the node id index ---- */

static int by_id_cmp(const void *a, const void *b, void *userdata) {
        const NodeSpec *nodes = userdata;
        return strcmp(nodes[*(const uint32_t *) a].id, nodes[*(const uint32_t *) b].id);
}

int jobspec_build_index(JobSpec *j) {
        j->by_id = malloc(j->n_nodes * sizeof(uint32_t));
        if (!j->by_id)
                return -ENOMEM;
        for (size_t i = 0; i < j->n_nodes; i++)
                j->by_id[i] = (uint32_t) i;
        qsort_r(j->by_id, j->n_nodes, sizeof(uint32_t), by_id_cmp, j->nodes);
        return 0;
}

ssize_t jobspec_find_node(const JobSpec *j, const char *id) {
        size_t lo = 0, hi;

        if (!j || !j->by_id || !id)
                return -ENOENT;
        for (hi = j->n_nodes; lo < hi;) {
                size_t mid = lo + (hi - lo) / 2;
                int d = strcmp(id, j->nodes[j->by_id[mid]].id);
                if (d == 0)
                        return (ssize_t) j->by_id[mid];
                if (d < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return -ENOENT;
}

/* ---- the job ---- */

static void parse_job_field(JobCtx *c, const JsonPath *path, int f, json_object *v) {
        JobSpec *j = c->spec;
        int64_t i;

        switch (f) {
        case J_NAME:
                free(j->name);
                j->name = NULL;
                (void) jobspec_get_label(c, path, v, &j->name);
                break;
        case J_KEY:
                (void) jobspec_get_label(c, path, v, &j->key);
                break;
        case J_PRIORITY:
                if (jobspec_get_int(c, path, v, -1000, 1000, &i))
                        j->priority = (int) i;
                break;
        case J_MAX_PARALLEL:
                if (!jobspec_get_int(c, path, v, 1, INT64_MAX, &i))
                        break;
                if (i > UINT_MAX)
                        jobspec_add_error(c, path, "must be at most %u, got %" PRId64, UINT_MAX, i);
                else
                        j->max_parallel = (unsigned) i;
                break;
        case J_TIMEOUT:
                (void) jobspec_get_duration(c, path, v, true, &j->timeout_usec);
                break;
        case J_FAIL_FAST:
                (void) jobspec_get_bool(c, path, v, &j->fail_fast);
                break;
        case J_ENV:
                (void) jobspec_get_env(c, path, v, &j->env);
                break;
        case J_CWD:
                (void) jobspec_get_cwd(c, path, v, &j->cwd);
                break;
        case J_UMASK:
                (void) jobspec_get_umask(c, path, v, &j->umask);
                break;
        case J_RESOURCES:
                jobspec_parse_resources(c, path, v, &c->job_resources);
                break;
        }
}

/* A member of the top-level object, in file order; "nodes" arrives with its members already consumed. */
static int on_job_member(JobCtx *c, const JsonPath *m, json_object *v) {
        int f = jobspec_field_lookup(jobspec_fields, _J_MAX, m->key);

        switch (f) {
        case -1:
                jobspec_unknown_field(c, m->parent, m->key, jobspec_fields, _J_MAX, false);
                break;
        case J_DEFAULTS:
                jobspec_parse_defaults(c, m, v);
                break;
        case J_NODES:
                c->have_nodes = true;
                c->nodes_ok = jobspec_expect_type(c, m, v, json_type_object,
                                                  "an object mapping node ids to nodes");
                break;
        default:
                parse_job_field(c, m, f, v);
        }
        return 1;
}

/* json_parse_strict() hook: validate the document while it is being parsed, member by member. */
static int jobspec_on_member(void *userdata, const JsonPath *m, unsigned depth, json_object *v) {
        JobCtx *c = userdata;
        int r;

        /* Depth 1 is the root object; depth 2 with parent key "nodes" is a node (the parent of an object at
         * depth 2 is a root member, so m->parent->key is "nodes" only for the root's "nodes"). */
        if (depth == 1)
                r = on_job_member(c, m, v);
        else if (depth == 2 && m->parent->key && streq(m->parent->key, "nodes"))
                r = jobspec_on_node(c, m, v);
        else
                return 0;
        if (r >= 0 && c->oom)
                r = -ENOMEM;
        /* On failure the parser keeps ownership of v (json_member_cb contract) and frees it itself. */
        if (r < 0)
                return r;
        json_object_put(v);
        return r;
}

static int syntax_error(JobErrors *e, JsonParseError *pe) {
        e->errors = calloc(1, sizeof(JobError));
        if (!e->errors)
                return -ENOMEM;
        e->errors[0] = (JobError){ .path = TAKE_PTR(pe->path),
                                   .message = TAKE_PTR(pe->message),
                                   .line = pe->line,
                                   .column = pe->column };
        e->n_errors = 1;
        return -EINVAL;
}

/* Parse and validate into c->spec / c->errors. Returns 0, -EINVAL (errors listed) or -ENOMEM. */
static int jobspec_parse_ctx(JobCtx *c, const char *buf, size_t size) {
        _cleanup_json_ json_object *root_obj = NULL;
        JsonParseOptions o = { .max_depth = c->limits->max_depth,
                               .max_string = c->limits->max_string,
                               .on_member = jobspec_on_member,
                               .userdata = c };
        JsonParseError pe = {};
        JsonPath root = JSON_PATH_ROOT, np = JSON_PATH_KEY(&root, "nodes");
        int r;

        if (size > c->limits->max_file_size) {
                jobspec_add_error(c, &root, "file is too large: %zu bytes, the limit is %zu", size,
                                  c->limits->max_file_size);
                return c->oom ? -ENOMEM : -EINVAL;
        }

        r = json_parse_strict(buf, size, &o, &root_obj, &pe);
        if (r == -EINVAL) {
                /* A syntax error makes everything found before it moot: report only that. */
                errors_clear(c->errors);
                r = syntax_error(c->errors, &pe);
                json_parse_error_done(&pe);
                return r;
        }
        if (r < 0)
                return r;

        if (!jobspec_expect_type(c, &root, root_obj, json_type_object, "a JSON object at the top level"))
                return -EINVAL;
        if (!c->have_nodes)
                jobspec_add_error(c, &np, "missing required field");
        else if (c->nodes_ok) {
                r = jobspec_finish_nodes(c, &np);
                if (r < 0)
                        return r;
        }
        if (c->oom)
                return -ENOMEM;
        return c->errors->n_errors > 0 ? -EINVAL : 0;
}

/* The file name is the job's name unless it sets "name", and its source either way: it follows the rule of
 * "name" (issue 8, point 7). Refused rather than made safe, so what the owner sees is what they wrote; the
 * only error reported, since renaming comes first. Returns true if the name is fine. */
static bool check_file_name(JobCtx *c, const char *name) {
        const char *p = name ? find_control_char(name, strlen(name), false) : NULL;
        JsonPath root = JSON_PATH_ROOT;

        if (!p)
                return true;
        jobspec_add_error(
                c, &root,
                "the file name must not contain control characters, found U+%04X at byte %zu: rename "
                "the file (a job's name defaults to its file name, which is shown in listings and logs)",
                control_char_code(p), (size_t) (p - name));
        return false;
}

int jobspec_parse(const char *buf, size_t size, const JobLimits *limits, const char *default_name,
                  JobSpec **ret, JobErrors **reterr) {
        _cleanup_(jobspec_freep) JobSpec *j = NULL;
        _cleanup_(jobspec_errors_freep) JobErrors *e = NULL;
        JobLimits def;
        int r;

        assert(buf || size == 0);
        assert(ret && reterr);
        if (!limits) {
                jobspec_limits_init(&def);
                limits = &def;
        }

        e = calloc(1, sizeof(JobErrors));
        j = calloc(1, sizeof(JobSpec));
        if (!e || !j)
                return -ENOMEM;
        /* A NULL default name still yields a usable label rather than a NULL every caller must check. */
        j->name = strdup(default_name ?: "job");
        if (!j->name)
                return -ENOMEM;
        j->umask = -1;

        JobCtx c = { .limits = limits, .errors = e, .spec = j, .job_resources = RESOURCES_NULL };
        jobspec_node_init(&c.tmpl);
        if (check_file_name(&c, default_name))
                r = jobspec_parse_ctx(&c, buf, size);
        else
                r = c.oom ? -ENOMEM : -EINVAL;
        jobspec_node_done(&c.tmpl, NULL, NULL,
                          NULL); /* what jobspec_finish_nodes() did not hand to the JobSpec */
        free(c.tmp);
        free(c.names);
        if (r == -EINVAL)
                *reterr = TAKE_PTR(e);
        else if (r >= 0)
                *ret = TAKE_PTR(j);
        return r;
}

/* ---- reporting ---- */

char *jobspec_errors_format(const JobErrors *e, const char *file) {
        char *s = NULL;
        size_t sz = 0;
        FILE *f;

        f = open_memstream(&s, &sz);
        if (!f)
                return NULL;
        for (size_t i = 0; e && i < e->n_errors; i++) {
                const JobError *x = &e->errors[i];

                if (x->line > 0)
                        fprintf(f, "%s:%u:%u: ", file, x->line, x->column);
                else
                        fprintf(f, "%s: ", file);
                if (!isempty(x->path))
                        fprintf(f, "%s: ", x->path);
                fprintf(f, "%s\n", x->message);
        }
        if (e && e->truncated)
                fprintf(f, "%s: too many errors, only the first %zu are shown\n", file, e->n_errors);
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

static json_object *error_to_json(const JobError *x) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        if (json_object_object_add(o, "path", json_object_new_string(x->path ?: "")) < 0 ||
            json_object_object_add(o, "message", json_object_new_string(x->message)) < 0 ||
            json_object_object_add(o, "line", x->line ? json_object_new_int64(x->line) : NULL) < 0 ||
            json_object_object_add(o, "column", x->line ? json_object_new_int64(x->column) : NULL) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

json_object *jobspec_errors_to_json(const JobErrors *e, const char *file) {
        _cleanup_json_ json_object *o = NULL, *arr = NULL;

        o = json_object_new_object();
        arr = json_object_new_array();
        if (!o || !arr)
                return NULL;
        for (size_t i = 0; e && i < e->n_errors; i++) {
                json_object *x = error_to_json(&e->errors[i]);
                if (!x || json_object_array_add(arr, x) < 0) {
                        json_object_put(x);
                        return NULL;
                }
        }
        if (json_object_object_add(o, "file", json_object_new_string(file)) < 0 ||
            json_object_object_add(o, "errors", TAKE_PTR(arr)) < 0 ||
            json_object_object_add(o, "truncated", json_object_new_boolean(e && e->truncated)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

char *jobspec_name_from_filename(const char *filename) {
        const char *b = strrchr(filename, '/');
        size_t len;

        b = b ? b + 1 : filename;
        len = strlen(b);
        /* "x.json" → "x", but ".json" stays as it is: a name must not be empty. */
        if (len > 5 && streq(b + len - 5, ".json"))
                len -= 5;
        return strndup(b, len);
}
