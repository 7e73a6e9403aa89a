/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Job files (SPEC §3): strict JSON → validated JobSpec.
 *
 * Owns every rule of the job format: fields, types, ranges, defaults, node ids, dependencies and cycles,
 * and the limits of JobLimits. Errors are collected, not stopped at: each names its JSON path and says what
 * was expected and what was found, up to JOB_ERRORS_MAX, so one `orchctl validate` run shows them all.
 *
 * Validation runs inside the parse (json_parse_strict's member hook): each node and each top-level field is
 * checked and its json-c object freed as soon as it is complete, so a 100,000-node file never exists as a
 * json-c tree (about 1 KB per node). What needs the whole file waits for the end: inheriting "defaults"
 * (which may follow the nodes), resolving `after` names (kept meanwhile in one arena), cycles.
 *
 * Invariants: a returned JobSpec is complete and valid (every after index in range, no duplicates, no
 * self edge, acyclic, every node has argv); it keeps no json-c objects, only compact arrays (about 210
 * bytes per node). by_id is always sorted by id. Errors are in file order, except `after` resolution
 * errors and the cycle, which come last.
 *
 * Inheritance: "defaults" supplies any node field except cmd/after that a node does not set. It works per
 * top-level field: a node's own "retry" (or "env") object replaces the default one as a whole rather
 * than being merged key by key, so reading one node's object tells everything about that field.
 *
 * Deliberately does not: look at the file system (cwd only has to be absolute), resolve users, or log.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dag.h"
#include "duration.h"
#include "job.h"
#include "json-util.h"
#include "jsonparse.h"
#include "macro.h"

#define JOB_ERRORS_MAX 50
#define NAME_CHARS_MAX 128
#define VALUE_DESC_MAX 48
#define CYCLE_SHOW_MAX 16

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
        _F_NODE_MAX
};
static const char *const node_fields[_F_NODE_MAX] = {
        [F_CMD] = "cmd",
        [F_AFTER] = "after",
        [F_WHEN] = "when",
        [F_RETRY] = "retry",
        [F_TIMEOUT] = "timeout",
        [F_KILL_GRACE] = "kill_grace",
        [F_ENV] = "env",
        [F_CWD] = "cwd",
        [F_ALLOW_FAILURE] = "allow_failure",
        [F_ON_INTERRUPT] = "on_interrupt",
};

enum { R_ATTEMPTS, R_DELAY, R_FACTOR, R_MAX_DELAY, R_JITTER, R_ON_EXIT, R_ON_TIMEOUT, _R_MAX };
static const char *const retry_fields[_R_MAX] = {
        [R_ATTEMPTS] = "attempts",     [R_DELAY] = "delay",   [R_FACTOR] = "factor",
        [R_MAX_DELAY] = "max_delay",   [R_JITTER] = "jitter", [R_ON_EXIT] = "on_exit",
        [R_ON_TIMEOUT] = "on_timeout",
};

enum {
        J_NAME,
        J_KEY,
        J_PRIORITY,
        J_MAX_PARALLEL,
        J_TIMEOUT,
        J_FAIL_FAST,
        J_ENV,
        J_CWD,
        J_DEFAULTS,
        J_NODES,
        _J_MAX
};
static const char *const job_fields[_J_MAX] = {
        [J_NAME] = "name",         [J_KEY] = "key",
        [J_PRIORITY] = "priority", [J_MAX_PARALLEL] = "max_parallel",
        [J_TIMEOUT] = "timeout",   [J_FAIL_FAST] = "fail_fast",
        [J_ENV] = "env",           [J_CWD] = "cwd",
        [J_DEFAULTS] = "defaults", [J_NODES] = "nodes",
};

/* What a node still needs once the whole file is read: its `after` names (kept in one arena until every
 * id is known) and which fields it set (applied after "defaults", which may come later in the file). */
typedef struct NodeTmp {
        size_t after_off; /* into Ctx.names: n_names × (uint32_t position, name, NUL) */
        uint32_t n_names;
        uint16_t set;
} NodeTmp;

typedef struct Ctx {
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
        bool have_nodes, nodes_ok;
} Ctx;

void job_limits_init(JobLimits *l) {
        *l = (JobLimits){
                .max_file_size = 4U << 20,
                .max_nodes = 100000,
                .max_after = 1000,
                .max_depth = 32,
                .max_string = 64U << 10,
        };
}

/* ---- error collection ---- */

static void add_error_at(Ctx *c, const JsonPath *path, unsigned line, unsigned col, const char *fmt, ...)
        _printf_(5, 6);
static void add_error_at(Ctx *c, const JsonPath *path, unsigned line, unsigned col, const char *fmt, ...) {
        JobErrors *e = c->errors;
        JobError *n;
        va_list ap;
        char *msg, *p;
        int r;

        if (e->n_errors >= JOB_ERRORS_MAX) {
                e->truncated = true;
                return;
        }
        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0) {
                c->oom = true;
                return;
        }
        p = json_path_format(path);
        n = reallocarray(e->errors, e->n_errors + 1, sizeof(JobError));
        if (!p || !n) {
                free(msg);
                free(p);
                if (n)
                        e->errors = n;
                c->oom = true;
                return;
        }
        e->errors = n;
        e->errors[e->n_errors++] = (JobError){ .path = p, .message = msg, .line = line, .column = col };
}

#define add_error(c, path, ...) add_error_at((c), (path), 0, 0, __VA_ARGS__)

JobErrors *job_errors_free(JobErrors *e) {
        if (!e)
                return NULL;
        for (size_t i = 0; i < e->n_errors; i++) {
                free(e->errors[i].path);
                free(e->errors[i].message);
        }
        free(e->errors);
        free(e);
        return NULL;
}

/* Short human description of a value for "got …": type names for containers, the value for scalars
 * (strings quoted, escaped and cut at a UTF-8 boundary so the message itself stays valid UTF-8). */
static const char *describe(json_object *v, char buf[static VALUE_DESC_MAX + 16]) {
        const char *s;
        size_t len, o = 0;

        switch (json_object_get_type(v)) {
        case json_type_null:
                return "null";
        case json_type_boolean:
                return json_object_get_boolean(v) ? "true" : "false";
        case json_type_int:
                (void) snprintf(buf, VALUE_DESC_MAX, "%" PRId64, json_object_get_int64(v));
                return buf;
        case json_type_double:
                /* Shortest form that reads back as the same double: "-0.1", not "-0.10000000000000001". */
                for (int prec = 1; prec <= 17; prec++) {
                        (void) snprintf(buf, VALUE_DESC_MAX, "%.*g", prec, json_object_get_double(v));
                        if (strtod(buf, NULL) == json_object_get_double(v))
                                break;
                }
                return buf;
        case json_type_array:
                return "an array";
        case json_type_object:
                return "an object";
        case json_type_string:
                break;
        }

        s = json_object_get_string(v);
        len = (size_t) json_object_get_string_len(v);
        buf[o++] = '"';
        for (size_t i = 0; i < len && o < VALUE_DESC_MAX; i++) {
                unsigned char ch = (unsigned char) s[i];
                if (ch < 0x20 || ch == 0x7f)
                        o += (size_t) snprintf(buf + o, 8, "\\u%04x", ch);
                else if (ch == '"' || ch == '\\') {
                        buf[o++] = '\\';
                        buf[o++] = (char) ch;
                } else
                        buf[o++] = (char) ch;
        }
        if (o >= VALUE_DESC_MAX) {
                while (o > 1 && ((unsigned char) buf[o - 1] & 0xC0) == 0x80)
                        o--;
                if (o > 1 && ((unsigned char) buf[o - 1] & 0xC0) == 0xC0)
                        o--;
                memcpy(buf + o, "\"…", strlen("\"…") + 1);
                return buf;
        }
        buf[o++] = '"';
        buf[o] = '\0';
        return buf;
}

/* ---- typed getters: return true and set *ret when valid, else record an error ---- */

static bool expect_type(Ctx *c, const JsonPath *path, json_object *v, json_type t, const char *what) {
        char buf[VALUE_DESC_MAX + 16];

        if (json_object_is_type(v, t))
                return true;
        add_error(c, path, "expected %s, got %s", what, describe(v, buf));
        return false;
}

static bool get_bool(Ctx *c, const JsonPath *path, json_object *v, bool *ret) {
        if (!expect_type(c, path, v, json_type_boolean, "true or false"))
                return false;
        *ret = json_object_get_boolean(v);
        return true;
}

static bool get_int(Ctx *c, const JsonPath *path, json_object *v, int64_t min, int64_t max, int64_t *ret) {
        char buf[VALUE_DESC_MAX + 16];
        int64_t i;

        if (!json_object_is_type(v, json_type_int)) {
                if (max == INT64_MAX)
                        add_error(c, path, "expected an integer ≥ %" PRId64 ", got %s", min, describe(v, buf));
                else
                        add_error(c, path, "expected an integer between %" PRId64 " and %" PRId64 ", got %s",
                                  min, max, describe(v, buf));
                return false;
        }
        i = json_object_get_int64(v);
        if (i < min || i > max) {
                if (max == INT64_MAX)
                        add_error(c, path, "must be ≥ %" PRId64 ", got %" PRId64, min, i);
                else
                        add_error(c, path, "must be between %" PRId64 " and %" PRId64 ", got %" PRId64, min,
                                  max, i);
                return false;
        }
        *ret = i;
        return true;
}

static bool get_number(Ctx *c, const JsonPath *path, json_object *v, double min, double max, double *ret) {
        char buf[VALUE_DESC_MAX + 16];
        double d;

        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) {
                add_error(c, path, "expected a number between %g and %g, got %s", min, max, describe(v, buf));
                return false;
        }
        d = json_object_get_double(v);
        if (!(d >= min && d <= max)) {
                add_error(c, path, "must be between %g and %g, got %s", min, max, describe(v, buf));
                return false;
        }
        *ret = d;
        return true;
}

/* A string without U+0000 (it could not survive as a C string), optionally non-empty. */
static bool get_string(Ctx *c, const JsonPath *path, json_object *v, bool nonempty, const char **ret) {
        if (!expect_type(c, path, v, json_type_string, "a string"))
                return false;
        if (memchr(json_object_get_string(v), 0, (size_t) json_object_get_string_len(v))) {
                add_error(c, path, "must not contain U+0000");
                return false;
        }
        if (nonempty && json_object_get_string_len(v) == 0) {
                add_error(c, path, "must not be empty");
                return false;
        }
        *ret = json_object_get_string(v);
        return true;
}

/* name and key: 1…128 characters (code points; the parser guarantees valid UTF-8), no control characters,
 * because they are printed in status tables and log lines. */
static bool get_label(Ctx *c, const JsonPath *path, json_object *v, char **ret) {
        const char *s;
        size_t chars = 0;

        if (!get_string(c, path, v, false, &s))
                return false;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p < 0x20 || *p == 0x7f) {
                        add_error(c, path, "must not contain control characters");
                        return false;
                }
                chars += (*p & 0xC0) != 0x80;
        }
        if (chars < 1 || chars > NAME_CHARS_MAX) {
                add_error(c, path, "must be 1 to %d characters long, got %zu", NAME_CHARS_MAX, chars);
                return false;
        }
        *ret = strdup(s);
        if (!*ret)
                c->oom = true;
        return true;
}

static bool get_duration(Ctx *c, const JsonPath *path, json_object *v, bool nonzero, uint64_t *ret) {
        static const char expected[] = "a duration (seconds as a number, or a string like \"1m30s\")";
        char buf[VALUE_DESC_MAX + 16];
        uint64_t usec;
        int r;

        if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
                r = duration_from_seconds(json_object_get_double(v), &usec);
                if (r < 0 && json_object_get_double(v) < 0) {
                        add_error(c, path, "must not be negative, got %s", describe(v, buf));
                        return false;
                }
        } else if (json_object_is_type(v, json_type_string))
                r = duration_parse(json_object_get_string(v), &usec);
        else {
                add_error(c, path, "expected %s, got %s", expected, describe(v, buf));
                return false;
        }
        if (r == -ERANGE) {
                add_error(c, path, "duration %s is out of range", describe(v, buf));
                return false;
        }
        if (r < 0) {
                add_error(c, path,
                          "invalid duration %s: expected seconds (\"30\", \"0.5\") or number+unit groups, "
                          "largest unit first, no spaces (\"250ms\", \"1m30s\"; units d, h, m, s, ms)",
                          describe(v, buf));
                return false;
        }
        if (nonzero && usec == 0) {
                add_error(c, path, "must be greater than 0 (omit the field for no limit), got %s",
                          describe(v, buf));
                return false;
        }
        *ret = usec;
        return true;
}

static bool env_name_valid(const char *s) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
                return false;
        for (s++; *s; s++)
                if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
                      *s == '_'))
                        return false;
        return true;
}

/* Object of strings → NULL-terminated "KEY=VALUE" list (NULL for an empty object). Keys must be shell
 * variable names: anything else (a '=', a space, a leading digit) cannot be exported faithfully. */
static bool get_env(Ctx *c, const JsonPath *path, json_object *v, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        bool ok = true;

        if (!expect_type(c, path, v, json_type_object, "an object of strings"))
                return false;
        if (json_object_object_length(v) > 0) {
                l = calloc((size_t) json_object_object_length(v) + 1, sizeof(char *));
                if (!l) {
                        c->oom = true;
                        return false;
                }
        }
        json_object_object_foreach(v, key, val) {
                JsonPath kp = JSON_PATH_KEY(path, key);
                const char *s;

                if (!env_name_valid(key)) {
                        add_error(c, &kp, "invalid environment variable name: must match %s",
                                  "^[A-Za-z_][A-Za-z0-9_]*$");
                        ok = false;
                        continue;
                }
                if (!get_string(c, &kp, val, false, &s)) {
                        ok = false;
                        continue;
                }
                if (asprintf(&l[n], "%s=%s", key, s) < 0) {
                        l[n] = NULL;
                        c->oom = true;
                        return false;
                }
                n++;
        }
        if (!ok)
                return false;
        *ret = TAKE_PTR(l);
        return true;
}

static bool get_cwd(Ctx *c, const JsonPath *path, json_object *v, char **ret) {
        const char *s;

        if (!get_string(c, path, v, true, &s))
                return false;
        if (s[0] != '/') {
                add_error(c, path, "must be an absolute path, got \"%.64s\"", s);
                return false;
        }
        if (strlen(s) >= PATH_MAX) {
                add_error(c, path, "path is longer than %d bytes", PATH_MAX - 1);
                return false;
        }
        *ret = strdup(s);
        if (!*ret)
                c->oom = true;
        return true;
}

static int field_lookup(const char *const *table, size_t n, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (table[i] && streq(table[i], key))
                        return (int) i;
        return -1;
}

/* in_defaults: the node table minus cmd and after, which only make sense per node. */
static void unknown_field(Ctx *c, const JsonPath *path, const char *key, const char *const *table, size_t n,
                          bool in_defaults) {
        JsonPath kp = JSON_PATH_KEY(path, key);
        char known[256] = "";
        size_t o = 0;

        if (in_defaults && (streq(key, "cmd") || streq(key, "after"))) {
                add_error(c, &kp, "not allowed in defaults: cmd and after must be set per node");
                return;
        }
        for (size_t i = 0; i < n; i++)
                if (!in_defaults || (i != F_CMD && i != F_AFTER))
                        o += (size_t) snprintf(known + o, sizeof known - o, "%s%s", o ? ", " : "", table[i]);
        add_error(c, &kp, "unknown field (expected one of: %s)", known);
}

/* ---- nodes ---- */

static void parse_on_exit(Ctx *c, const JsonPath *path, json_object *v, RetryPolicy *p) {
        size_t n;

        if (!expect_type(c, path, v, json_type_array, "an array of exit codes (integers 1…255)"))
                return;
        n = json_object_array_length(v);
        /* An empty list is meaningful: no exit code is retried, only timeouts (if on_timeout). */
        p->on_exit_any = false;
        memset(p->on_exit, 0, sizeof p->on_exit);
        for (size_t i = 0; i < n; i++) {
                JsonPath ep = JSON_PATH_INDEX(path, i);
                int64_t code;

                if (get_int(c, &ep, json_object_array_get_idx(v, i), 1, 255, &code))
                        retry_policy_add_exit(p, (int) code);
        }
}

static void parse_retry(Ctx *c, const JsonPath *path, json_object *v, RetryPolicy *p) {
        retry_policy_init(p);
        if (!expect_type(c, path, v, json_type_object, "an object"))
                return;

        json_object_object_foreach(v, key, val) {
                JsonPath kp = JSON_PATH_KEY(path, key);
                int64_t i;

                switch (field_lookup(retry_fields, _R_MAX, key)) {
                case R_ATTEMPTS:
                        if (get_int(c, &kp, val, 1, 100, &i))
                                p->attempts = (unsigned) i;
                        break;
                case R_DELAY:
                        (void) get_duration(c, &kp, val, false, &p->delay_usec);
                        break;
                case R_FACTOR:
                        (void) get_number(c, &kp, val, 1, 10, &p->factor);
                        break;
                case R_MAX_DELAY:
                        (void) get_duration(c, &kp, val, false, &p->max_delay_usec);
                        break;
                case R_JITTER:
                        (void) get_number(c, &kp, val, 0, 1, &p->jitter);
                        break;
                case R_ON_EXIT:
                        parse_on_exit(c, &kp, val, p);
                        break;
                case R_ON_TIMEOUT:
                        (void) get_bool(c, &kp, val, &p->on_timeout);
                        break;
                default:
                        unknown_field(c, path, key, retry_fields, _R_MAX, false);
                }
        }
}

static void parse_cmd(Ctx *c, const JsonPath *path, json_object *v, NodeSpec *n) {
        static const char expected[] = "a command: a non-empty array of strings or a non-empty string";
        _cleanup_strv_free_ char **argv = NULL;
        const char *s;
        size_t len;
        bool ok = true;

        if (json_object_is_type(v, json_type_string)) {
                if (!get_string(c, path, v, true, &s))
                        return;
                argv = calloc(4, sizeof(char *));
                if (!argv || !(argv[0] = strdup("/bin/sh")) || !(argv[1] = strdup("-c")) ||
                    !(argv[2] = strdup(s))) {
                        c->oom = true;
                        return;
                }
                n->shell = true;
                n->argv = TAKE_PTR(argv);
                return;
        }
        if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0) {
                char buf[VALUE_DESC_MAX + 16];
                add_error(c, path, "expected %s, got %s", expected,
                          json_object_is_type(v, json_type_array) ? "an empty array" : describe(v, buf));
                return;
        }

        len = json_object_array_length(v);
        argv = calloc(len + 1, sizeof(char *));
        if (!argv) {
                c->oom = true;
                return;
        }
        for (size_t i = 0; i < len; i++) {
                JsonPath ep = JSON_PATH_INDEX(path, i);
                /* argv[0] names the program: empty can never be executed. Later arguments may be "". */
                if (!get_string(c, &ep, json_object_array_get_idx(v, i), i == 0, &s)) {
                        ok = false;
                        continue;
                }
                if (ok && !(argv[i] = strdup(s))) {
                        c->oom = true;
                        return;
                }
        }
        if (ok)
                n->argv = TAKE_PTR(argv);
}

static int by_id_cmp(const void *a, const void *b, void *userdata) {
        const NodeSpec *nodes = userdata;
        return strcmp(nodes[*(const uint32_t *) a].id, nodes[*(const uint32_t *) b].id);
}

ssize_t job_spec_find_node(const JobSpec *j, const char *id) {
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

static int names_append(Ctx *c, const void *data, size_t len) {
        if (c->names_len + len > c->names_alloc) {
                size_t na = MAX(MAX(c->names_alloc * 2, c->names_len + len), (size_t) 4096);
                char *n = realloc(c->names, na);
                if (!n) {
                        c->oom = true;
                        return -ENOMEM;
                }
                c->names = n;
                c->names_alloc = na;
        }
        memcpy(c->names + c->names_len, data, len);
        c->names_len += len;
        return 0;
}

/* Type-check `after` and stash its names; resolve_after() maps them to indices once every id is known. */
static void collect_after(Ctx *c, const JsonPath *path, json_object *v, NodeTmp *t) {
        size_t len;

        if (!expect_type(c, path, v, json_type_array, "an array of node ids"))
                return;
        len = json_object_array_length(v);
        if (len > c->limits->max_after) {
                add_error(c, path, "too many dependencies: %zu, the limit is %zu", len, c->limits->max_after);
                return;
        }
        t->after_off = c->names_len;
        for (size_t i = 0; i < len; i++) {
                JsonPath ep = JSON_PATH_INDEX(path, i);
                uint32_t pos = (uint32_t) i;
                const char *s;

                if (!get_string(c, &ep, json_object_array_get_idx(v, i), false, &s))
                        continue;
                if (names_append(c, &pos, sizeof pos) < 0 || names_append(c, s, strlen(s) + 1) < 0)
                        return;
                t->n_names++;
        }
}

/* seen_by[k] == self + 1 means node k was already listed by this node, at position seen_pos[k]: an O(1)
 * duplicate check without clearing anything between nodes. */
static void resolve_after(Ctx *c, const JsonPath *np, uint32_t self, uint32_t *seen_by, uint32_t *seen_pos) {
        NodeSpec *n = &c->spec->nodes[self];
        const NodeTmp *t = &c->tmp[self];
        const char *p = c->names + t->after_off;
        JsonPath kp = JSON_PATH_KEY(np, n->id), ap = JSON_PATH_KEY(&kp, "after");

        if (t->n_names == 0)
                return;
        n->after = malloc(t->n_names * sizeof(uint32_t));
        if (!n->after) {
                c->oom = true;
                return;
        }
        for (uint32_t i = 0; i < t->n_names; i++) {
                uint32_t pos;
                const char *s = p + sizeof pos;
                ssize_t k;

                memcpy(&pos, p, sizeof pos);
                p = s + strlen(s) + 1;
                JsonPath ep = JSON_PATH_INDEX(&ap, pos);
                k = job_spec_find_node(c->spec, s);
                if (k < 0)
                        add_error(c, &ep, "unknown node \"%.64s\"", s);
                else if ((uint32_t) k == self)
                        add_error(c, &ep, "a node cannot depend on itself");
                else if (seen_by[k] == self + 1)
                        add_error(c, &ep, "duplicate dependency \"%s\" (also at after[%u])", s, seen_pos[k]);
                else {
                        seen_by[k] = self + 1;
                        seen_pos[k] = pos;
                        n->after[n->n_after++] = (uint32_t) k;
                }
        }
}

static void node_init(NodeSpec *n) {
        *n = (NodeSpec){ .when = TRIGGER_SUCCESS,
                         .kill_grace_usec = 10 * USEC_PER_SEC,
                         .on_interrupt = ON_INTERRUPT_RERUN };
        retry_policy_init(&n->retry);
}

static void node_done(NodeSpec *n) {
        free(n->id);
        strv_free(n->argv);
        free(n->after);
        strv_free(n->env);
        free(n->cwd);
}

/* Parse the fields of a node (or of "defaults" when t == NULL) into n; bit F of *set for each field
 * present, valid or not, so a broken field is not papered over by the default. */
static void parse_node_fields(Ctx *c, const JsonPath *path, json_object *v, NodeSpec *n, NodeTmp *t,
                              unsigned *set) {
        bool is_defaults = !t;

        json_object_object_foreach(v, key, val) {
                JsonPath kp = JSON_PATH_KEY(path, key);
                int f = field_lookup(node_fields, _F_NODE_MAX, key);
                const char *s;
                bool b;

                if (f < 0 || (is_defaults && (f == F_CMD || f == F_AFTER))) {
                        unknown_field(c, path, key, node_fields, _F_NODE_MAX, is_defaults);
                        continue;
                }
                *set |= 1U << f;
                switch (f) {
                case F_CMD:
                        parse_cmd(c, &kp, val, n);
                        break;
                case F_AFTER:
                        collect_after(c, &kp, val, t);
                        break;
                case F_WHEN:
                        if (get_string(c, &kp, val, false, &s)) {
                                TriggerRule w = trigger_rule_from_string(s);
                                if (w < 0)
                                        add_error(c, &kp, "expected %s, got \"%.64s\"",
                                                  "\"success\", \"failure\" or \"always\"", s);
                                else
                                        n->when = w;
                        }
                        break;
                case F_RETRY:
                        parse_retry(c, &kp, val, &n->retry);
                        break;
                case F_TIMEOUT:
                        (void) get_duration(c, &kp, val, true, &n->timeout_usec);
                        break;
                case F_KILL_GRACE:
                        (void) get_duration(c, &kp, val, false, &n->kill_grace_usec);
                        break;
                case F_ENV:
                        (void) get_env(c, &kp, val, &n->env);
                        break;
                case F_CWD:
                        (void) get_cwd(c, &kp, val, &n->cwd);
                        break;
                case F_ALLOW_FAILURE:
                        if (get_bool(c, &kp, val, &b))
                                n->allow_failure = b;
                        break;
                case F_ON_INTERRUPT:
                        if (get_string(c, &kp, val, false, &s)) {
                                OnInterrupt o = on_interrupt_from_string(s);
                                if (o < 0)
                                        add_error(c, &kp, "expected \"rerun\" or \"fail\", got \"%.64s\"", s);
                                else
                                        n->on_interrupt = o;
                        }
                        break;
                }
        }
}

static char **strv_copy(Ctx *c, char *const *l) {
        size_t n = 0;
        char **copy;

        if (!l)
                return NULL;
        while (l[n])
                n++;
        copy = calloc(n + 1, sizeof(char *));
        if (!copy) {
                c->oom = true;
                return NULL;
        }
        for (size_t i = 0; i < n; i++)
                if (!(copy[i] = strdup(l[i]))) {
                        c->oom = true;
                        return strv_free(copy);
                }
        return copy;
}

/* Fill every field the node did not set from the defaults template (which holds SPEC defaults where
 * "defaults" itself was silent). */
static void node_inherit(Ctx *c, NodeSpec *n, unsigned set, const NodeSpec *d) {
        if (!(set & (1U << F_WHEN)))
                n->when = d->when;
        if (!(set & (1U << F_RETRY)))
                n->retry = d->retry;
        if (!(set & (1U << F_TIMEOUT)))
                n->timeout_usec = d->timeout_usec;
        if (!(set & (1U << F_KILL_GRACE)))
                n->kill_grace_usec = d->kill_grace_usec;
        if (!(set & (1U << F_ALLOW_FAILURE)))
                n->allow_failure = d->allow_failure;
        if (!(set & (1U << F_ON_INTERRUPT)))
                n->on_interrupt = d->on_interrupt;
        if (!(set & (1U << F_ENV)))
                n->env = strv_copy(c, d->env);
        if (!(set & (1U << F_CWD)) && d->cwd && !(n->cwd = strdup(d->cwd)))
                c->oom = true;
}

static bool node_id_valid(const char *s) {
        size_t len = strlen(s);

        if (len < 1 || len > 64)
                return false;
        if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
                return false;
        return strspn(s + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == len - 1;
}

/* One member of "nodes", as soon as it is parsed: the json-c object is freed right after, so a
 * 100,000-node file never exists as a json-c tree. */
static int on_node(Ctx *c, const JsonPath *m, json_object *v) {
        JobSpec *j = c->spec;
        JsonPath cp = JSON_PATH_KEY(m, "cmd");
        unsigned set = 0;
        NodeSpec *n;
        NodeTmp *t;

        if (++c->n_seen > c->limits->max_nodes)
                return 1; /* reported once the count is known */
        if (j->n_nodes == c->nodes_alloc) {
                size_t na = MAX(c->nodes_alloc * 2, (size_t) 16);
                NodeSpec *nn = reallocarray(j->nodes, na, sizeof(NodeSpec));
                if (!nn)
                        return -ENOMEM;
                j->nodes = nn;
                NodeTmp *nt = reallocarray(c->tmp, na, sizeof(NodeTmp));
                if (!nt)
                        return -ENOMEM;
                c->tmp = nt;
                c->nodes_alloc = na;
        }
        n = &j->nodes[j->n_nodes];
        t = &c->tmp[j->n_nodes];
        node_init(n);
        *t = (NodeTmp){};
        n->id = strdup(m->key);
        if (!n->id)
                return -ENOMEM;
        j->n_nodes++;

        if (!node_id_valid(m->key))
                add_error(c, m, "invalid node id: must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$");
        if (!expect_type(c, m, v, json_type_object, "a node object"))
                return 1;
        parse_node_fields(c, m, v, n, t, &set);
        t->set = (uint16_t) set;
        /* cmd is never inherited, so a missing one can be reported right away. */
        if (!(set & (1U << F_CMD)))
                add_error(c, &cp, "missing required field");
        return 1;
}

static void format_cycle(Ctx *c, const JsonPath *path, const uint32_t *cycle, size_t len) {
        _cleanup_free_ char *s = NULL;
        size_t sz = 0;
        FILE *f;

        f = open_memstream(&s, &sz);
        if (!f) {
                c->oom = true;
                return;
        }
        /* A cycle through 100,000 nodes would make an unreadable message: show its head and its end. */
        for (size_t i = 0; i < len; i++) {
                if (len > CYCLE_SHOW_MAX + 1 && i == CYCLE_SHOW_MAX) {
                        fprintf(f, " -> … (%zu more)", len - CYCLE_SHOW_MAX - 1);
                        i = len - 1;
                }
                fprintf(f, "%s%s", i ? " -> " : "", c->spec->nodes[cycle[i]].id);
        }
        if (fclose(f) != 0) {
                c->oom = true;
                return;
        }
        add_error(c, path, "cycle: %s", s);
}

static int check_cycles(Ctx *c, const JsonPath *path) {
        _cleanup_free_ uint32_t *cycle = NULL;
        JobSpec *j = c->spec;
        size_t len = 0;
        Dag *d = NULL;
        int r;

        r = dag_new(j->n_nodes, &d);
        if (r < 0)
                return r;
        for (size_t i = 0; i < j->n_nodes && r >= 0; i++)
                for (uint32_t k = 0; k < j->nodes[i].n_after && r >= 0; k++)
                        r = dag_add_edge(d, j->nodes[i].after[k], (uint32_t) i);
        if (r >= 0)
                r = dag_seal(d, &cycle, &len);
        dag_free(d);
        if (r == -ELOOP) {
                format_cycle(c, path, cycle, len);
                return 0;
        }
        return r;
}

/* After the whole file: defaults, the id index, dependencies, cycles. */
static int finish_nodes(Ctx *c, const JsonPath *np) {
        _cleanup_free_ uint32_t *seen_by = NULL, *seen_pos = NULL;
        JobSpec *j = c->spec;
        NodeSpec *shrunk;

        if (c->n_seen == 0) {
                add_error(c, np, "must contain at least one node");
                return 0;
        }
        if (c->n_seen > c->limits->max_nodes) {
                add_error(c, np, "too many nodes: %zu, the limit is %zu", c->n_seen, c->limits->max_nodes);
                return 0;
        }

        /* Growth by doubling may have left up to half the array unused; a JobSpec lives as long as its job. */
        shrunk = reallocarray(j->nodes, j->n_nodes, sizeof(NodeSpec));
        if (shrunk)
                j->nodes = shrunk;
        j->by_id = malloc(j->n_nodes * sizeof(uint32_t));
        seen_by = calloc(j->n_nodes, sizeof(uint32_t));
        seen_pos = malloc(j->n_nodes * sizeof(uint32_t));
        if (!j->by_id || !seen_by || !seen_pos)
                return -ENOMEM;
        for (size_t i = 0; i < j->n_nodes; i++) {
                j->by_id[i] = (uint32_t) i;
                node_inherit(c, &j->nodes[i], c->tmp[i].set, &c->tmpl);
        }
        qsort_r(j->by_id, j->n_nodes, sizeof(uint32_t), by_id_cmp, j->nodes);

        for (size_t i = 0; i < j->n_nodes && !c->oom; i++)
                resolve_after(c, np, (uint32_t) i, seen_by, seen_pos);
        /* Invalid `after` entries were not recorded as edges, so the cycle check is sound even when other
         * errors were found, and reporting a cycle now saves the user a round trip. */
        return c->oom ? -ENOMEM : check_cycles(c, np);
}

/* ---- the job ---- */

static void parse_job_field(Ctx *c, const JsonPath *path, int f, json_object *v) {
        JobSpec *j = c->spec;
        int64_t i;

        switch (f) {
        case J_NAME:
                free(j->name);
                j->name = NULL;
                (void) get_label(c, path, v, &j->name);
                break;
        case J_KEY:
                (void) get_label(c, path, v, &j->key);
                break;
        case J_PRIORITY:
                if (get_int(c, path, v, -1000, 1000, &i))
                        j->priority = (int) i;
                break;
        case J_MAX_PARALLEL:
                if (!get_int(c, path, v, 1, INT64_MAX, &i))
                        break;
                if (i > UINT_MAX)
                        add_error(c, path, "must be at most %u, got %" PRId64, UINT_MAX, i);
                else
                        j->max_parallel = (unsigned) i;
                break;
        case J_TIMEOUT:
                (void) get_duration(c, path, v, true, &j->timeout_usec);
                break;
        case J_FAIL_FAST:
                (void) get_bool(c, path, v, &j->fail_fast);
                break;
        case J_ENV:
                (void) get_env(c, path, v, &j->env);
                break;
        case J_CWD:
                (void) get_cwd(c, path, v, &j->cwd);
                break;
        }
}

/* A member of the top-level object, in file order; "nodes" arrives with its members already consumed. */
static int on_job_member(Ctx *c, const JsonPath *m, json_object *v) {
        int f = field_lookup(job_fields, _J_MAX, m->key);

        switch (f) {
        case -1:
                unknown_field(c, m->parent, m->key, job_fields, _J_MAX, false);
                break;
        case J_DEFAULTS:
                if (expect_type(c, m, v, json_type_object, "an object"))
                        parse_node_fields(c, m, v, &c->tmpl, NULL, &c->tmpl_set);
                break;
        case J_NODES:
                c->have_nodes = true;
                c->nodes_ok = expect_type(c, m, v, json_type_object, "an object mapping node ids to nodes");
                break;
        default:
                parse_job_field(c, m, f, v);
        }
        return 1;
}

/* json_parse_strict() hook: validate the document while it is being parsed, member by member. */
static int job_on_member(void *userdata, const JsonPath *m, unsigned depth, json_object *v) {
        Ctx *c = userdata;
        int r;

        /* Depth 1 is the root object; depth 2 with parent key "nodes" is a node (the parent of an object at
         * depth 2 is a root member, so m->parent->key is "nodes" only for the root's "nodes"). */
        if (depth == 1)
                r = on_job_member(c, m, v);
        else if (depth == 2 && m->parent->key && streq(m->parent->key, "nodes"))
                r = on_node(c, m, v);
        else
                return 0;
        json_object_put(v);
        if (r >= 0 && c->oom)
                r = -ENOMEM;
        return r;
}

JobSpec *job_spec_free(JobSpec *j) {
        if (!j)
                return NULL;
        for (size_t i = 0; i < j->n_nodes; i++)
                node_done(&j->nodes[i]);
        free(j->nodes);
        free(j->by_id);
        free(j->name);
        free(j->key);
        strv_free(j->env);
        free(j->cwd);
        free(j);
        return NULL;
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

static void errors_clear(JobErrors *e) {
        for (size_t i = 0; i < e->n_errors; i++) {
                free(e->errors[i].path);
                free(e->errors[i].message);
        }
        e->errors = mfree(e->errors);
        e->n_errors = 0;
        e->truncated = false;
}

/* Parse and validate into c->spec / c->errors. Returns 0, -EINVAL (errors listed) or -ENOMEM. */
static int job_parse_ctx(Ctx *c, const char *buf, size_t size) {
        _cleanup_json_ json_object *root_obj = NULL;
        JsonParseOptions o = { .max_depth = c->limits->max_depth,
                               .max_string = c->limits->max_string,
                               .on_member = job_on_member,
                               .userdata = c };
        JsonParseError pe = {};
        JsonPath root = JSON_PATH_ROOT, np = JSON_PATH_KEY(&root, "nodes");
        int r;

        if (size > c->limits->max_file_size) {
                add_error(c, &root, "file is too large: %zu bytes, the limit is %zu", size,
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

        if (!expect_type(c, &root, root_obj, json_type_object, "a JSON object at the top level"))
                return -EINVAL;
        if (!c->have_nodes)
                add_error(c, &np, "missing required field");
        else if (c->nodes_ok) {
                r = finish_nodes(c, &np);
                if (r < 0)
                        return r;
        }
        if (c->oom)
                return -ENOMEM;
        return c->errors->n_errors > 0 ? -EINVAL : 0;
}

int job_parse(const char *buf, size_t size, const JobLimits *limits, const char *default_name, JobSpec **ret,
              JobErrors **reterr) {
        _cleanup_(job_spec_freep) JobSpec *j = NULL;
        _cleanup_(job_errors_freep) JobErrors *e = NULL;
        JobLimits def;
        int r;

        assert(buf || size == 0);
        assert(ret && reterr);
        if (!limits) {
                job_limits_init(&def);
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

        Ctx c = { .limits = limits, .errors = e, .spec = j };
        node_init(&c.tmpl);
        r = job_parse_ctx(&c, buf, size);
        node_done(&c.tmpl);
        free(c.tmp);
        free(c.names);
        if (r == -EINVAL)
                *reterr = TAKE_PTR(e);
        else if (r >= 0)
                *ret = TAKE_PTR(j);
        return r;
}

/* ---- reporting ---- */

char *job_errors_format(const JobErrors *e, const char *file) {
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

json_object *job_errors_to_json(const JobErrors *e, const char *file) {
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

char *job_name_from_filename(const char *filename) {
        const char *b = strrchr(filename, '/');
        size_t len;

        b = b ? b + 1 : filename;
        len = strlen(b);
        /* "x.json" → "x", but ".json" stays as it is: a name must not be empty. */
        if (len > 5 && streq(b + len - 5, ".json"))
                len -= 5;
        return strndup(b, len);
}
