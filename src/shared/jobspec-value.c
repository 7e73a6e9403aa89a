/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Job files: the error list and the typed value checks every job and node field is built from.
 *
 * Owns the wording of the type and range errors ("expected X, got Y", "must be between A and B, got C"),
 * so the same mistake reads the same wherever it is made, and how a wrong value is quoted back to the user.
 *
 * Invariants: a getter either returns true and sets *ret, or records exactly one error and returns false
 * (an env object records one per bad entry). At most JOB_ERRORS_MAX errors are kept; past that the list is
 * only marked truncated. Allocation failures set the sticky JobCtx.oom instead of being returned, so
 * validators stay one-liners; the driver in jobspec.c turns it into -ENOMEM.
 *
 * Deliberately does not: know which fields exist or how they combine (jobspec.c, jobspec-node.c), look at
 * the file system (cwd only has to be absolute), or log.
 */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "escape.h"
#include "jobspec-internal.h"
#include "json-util.h"

#define JOB_ERRORS_MAX 50
#define NAME_CHARS_MAX 128

/* ---- error collection ---- */

/* s (taken over) as it is if it has no control character, else C-escaped (freeing s either way on ENOMEM:
 * NULL). Messages without one keep their backslashes unescaped. */
static char *escape_if_control(char *s) {
        char *e;

        if (!s || !find_control_char(s, strlen(s), false))
                return s;
        e = cescape(s);
        free(s);
        return e;
}

void jobspec_add_error(JobCtx *c, const JsonPath *path, const char *fmt, ...) {
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
        /* Messages and paths quote what the file said (a dangling dependency, a key), and are shown on
         * terminals and written to rejected/NAME.error: no control character of the file's may reach them.
         */
        msg = escape_if_control(msg);
        p = p ? escape_if_control(p) : NULL;
        n = reallocarray(e->errors, e->n_errors + 1, sizeof(JobError));
        if (!msg || !p || !n) {
                free(msg);
                free(p);
                if (n)
                        e->errors = n;
                c->oom = true;
                return;
        }
        e->errors = n;
        /* line and column stay 0: they are only for syntax errors, which jobspec.c takes from the parser. */
        e->errors[e->n_errors++] = (JobError){ .path = p, .message = msg };
}

/* Short human description of a value for "got …": type names for containers, the value for scalars
 * (strings quoted, escaped and cut at a UTF-8 boundary so the message itself stays valid UTF-8). */
const char *jobspec_describe(json_object *v, char buf[static VALUE_DESC_BUF]) {
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

bool jobspec_expect_type(JobCtx *c, const JsonPath *path, json_object *v, json_type t, const char *what) {
        char buf[VALUE_DESC_BUF];

        if (json_object_is_type(v, t))
                return true;
        jobspec_add_error(c, path, "expected %s, got %s", what, jobspec_describe(v, buf));
        return false;
}

bool jobspec_get_bool(JobCtx *c, const JsonPath *path, json_object *v, bool *ret) {
        if (!jobspec_expect_type(c, path, v, json_type_boolean, "true or false"))
                return false;
        *ret = json_object_get_boolean(v);
        return true;
}

bool jobspec_get_int(JobCtx *c, const JsonPath *path, json_object *v, int64_t min, int64_t max,
                     int64_t *ret) {
        char buf[VALUE_DESC_BUF];
        int64_t i;

        if (!json_object_is_type(v, json_type_int)) {
                if (max == INT64_MAX)
                        jobspec_add_error(c, path, "expected an integer ≥ %" PRId64 ", got %s", min,
                                          jobspec_describe(v, buf));
                else
                        jobspec_add_error(c, path,
                                          "expected an integer between %" PRId64 " and %" PRId64 ", got %s",
                                          min, max, jobspec_describe(v, buf));
                return false;
        }
        i = json_object_get_int64(v);
        if (i < min || i > max) {
                if (max == INT64_MAX)
                        jobspec_add_error(c, path, "must be ≥ %" PRId64 ", got %" PRId64, min, i);
                else
                        jobspec_add_error(c, path,
                                          "must be between %" PRId64 " and %" PRId64 ", got %" PRId64, min,
                                          max, i);
                return false;
        }
        *ret = i;
        return true;
}

bool jobspec_get_number(JobCtx *c, const JsonPath *path, json_object *v, double min, double max,
                        double *ret) {
        char buf[VALUE_DESC_BUF];
        double d;

        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) {
                jobspec_add_error(c, path, "expected a number between %g and %g, got %s", min, max,
                                  jobspec_describe(v, buf));
                return false;
        }
        d = json_object_get_double(v);
        if (!(d >= min && d <= max)) {
                jobspec_add_error(c, path, "must be between %g and %g, got %s", min, max,
                                  jobspec_describe(v, buf));
                return false;
        }
        *ret = d;
        return true;
}

/* A string without U+0000 (it could not survive as a C string), optionally non-empty. */
bool jobspec_get_string(JobCtx *c, const JsonPath *path, json_object *v, bool nonempty, const char **ret) {
        if (!jobspec_expect_type(c, path, v, json_type_string, "a string"))
                return false;
        if (memchr(json_object_get_string(v), 0, (size_t) json_object_get_string_len(v))) {
                jobspec_add_error(c, path, "must not contain U+0000");
                return false;
        }
        if (nonempty && json_object_get_string_len(v) == 0) {
                jobspec_add_error(c, path, "must not be empty");
                return false;
        }
        *ret = json_object_get_string(v);
        return true;
}

bool jobspec_check_no_control(JobCtx *c, const JsonPath *path, const char *s, bool allow_tab_lf) {
        const char *p = find_control_char(s, strlen(s), allow_tab_lf);

        if (!p)
                return true;
        /* Named as U+XXXX: a message with no backslash reads the same escaped for a terminal or not. */
        jobspec_add_error(c, path, "must not contain control characters%s, found U+%04X at byte %zu",
                          allow_tab_lf ? " other than tab and newline" : "", control_char_code(p),
                          (size_t) (p - s));
        return false;
}

/* name and key: 1…128 characters (code points; the parser guarantees valid UTF-8), no control characters,
 * because they are printed in status tables and log lines. */
bool jobspec_get_label(JobCtx *c, const JsonPath *path, json_object *v, char **ret) {
        const char *s;
        size_t chars = 0;

        if (!jobspec_get_string(c, path, v, false, &s))
                return false;
        if (!jobspec_check_no_control(c, path, s, false))
                return false;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                chars += (*p & 0xC0) != 0x80;
        if (chars < 1 || chars > NAME_CHARS_MAX) {
                jobspec_add_error(c, path, "must be 1 to %d characters long, got %zu", NAME_CHARS_MAX,
                                  chars);
                return false;
        }
        *ret = strdup(s);
        if (!*ret)
                c->oom = true;
        return true;
}

bool jobspec_get_duration(JobCtx *c, const JsonPath *path, json_object *v, bool nonzero, uint64_t *ret) {
        static const char expected[] = "a duration (seconds as a number, or a string like \"1m30s\")";
        char buf[VALUE_DESC_BUF];
        uint64_t usec;
        int r;

        if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
                r = duration_from_seconds(json_object_get_double(v), &usec);
                if (r < 0 && json_object_get_double(v) < 0) {
                        jobspec_add_error(c, path, "must not be negative, got %s", jobspec_describe(v, buf));
                        return false;
                }
        } else if (json_object_is_type(v, json_type_string))
                r = duration_parse(json_object_get_string(v), &usec);
        else {
                jobspec_add_error(c, path, "expected %s, got %s", expected, jobspec_describe(v, buf));
                return false;
        }
        if (r == -ERANGE) {
                jobspec_add_error(c, path, "duration %s is out of range", jobspec_describe(v, buf));
                return false;
        }
        if (r < 0) {
                jobspec_add_error(c, path,
                                  "invalid duration %s: expected seconds (\"30\", \"0.5\") or "
                                  "number+unit groups, largest unit first, no spaces "
                                  "(\"250ms\", \"1m30s\"; units d, h, m, s, ms)",
                                  jobspec_describe(v, buf));
                return false;
        }
        if (nonzero && usec == 0) {
                jobspec_add_error(c, path, "must be greater than 0 (omit the field for no limit), got %s",
                                  jobspec_describe(v, buf));
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
bool jobspec_get_env(JobCtx *c, const JsonPath *path, json_object *v, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        bool ok = true;

        if (!jobspec_expect_type(c, path, v, json_type_object, "an object of strings"))
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
                        jobspec_add_error(c, &kp, "invalid environment variable name: must match %s",
                                          "^[A-Za-z_][A-Za-z0-9_]*$");
                        ok = false;
                        continue;
                }
                if (!jobspec_get_string(c, &kp, val, false, &s)) {
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

bool jobspec_get_cwd(JobCtx *c, const JsonPath *path, json_object *v, char **ret) {
        const char *s;

        if (!jobspec_get_string(c, path, v, true, &s))
                return false;
        /* Before quoting it back: the path is printed in errors, logs and status. */
        if (!jobspec_check_no_control(c, path, s, false))
                return false;
        if (s[0] != '/') {
                jobspec_add_error(c, path, "must be an absolute path, got \"%.64s\"", s);
                return false;
        }
        if (strlen(s) >= PATH_MAX) {
                jobspec_add_error(c, path, "path is longer than %d bytes", PATH_MAX - 1);
                return false;
        }
        *ret = strdup(s);
        if (!*ret)
                c->oom = true;
        return true;
}

bool jobspec_get_umask(JobCtx *c, const JsonPath *path, json_object *v, int *ret) {
        const char *s;
        size_t n;

        if (!jobspec_get_string(c, path, v, true, &s))
                return false;
        n = strlen(s);
        /* Strict: exactly what umask(1) prints or takes in octal, no sign, no "0o", no blanks. */
        if (n < 3 || n > 4 || strspn(s, "01234567") != n || (n == 4 && s[0] != '0')) {
                jobspec_add_error(c, path,
                                  "must be a umask of 3 or 4 octal digits such as \"022\" or \"0077\", "
                                  "got \"%.16s\"",
                                  s);
                return false;
        }
        *ret = (int) strtol(s, NULL, 8);
        return true;
}

int jobspec_field_lookup(const char *const *table, size_t n, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (table[i] && streq(table[i], key))
                        return (int) i;
        return -1;
}

/* in_defaults: the node table minus cmd and after, which only make sense per node. */
void jobspec_unknown_field(JobCtx *c, const JsonPath *path, const char *key, const char *const *table,
                           size_t n, bool in_defaults) {
        JsonPath kp = JSON_PATH_KEY(path, key);
        char known[256] = "";
        size_t o = 0;

        if (in_defaults && (streq(key, "cmd") || streq(key, "after"))) {
                jobspec_add_error(c, &kp, "not allowed in defaults: cmd and after must be set per node");
                return;
        }
        for (size_t i = 0; i < n; i++)
                if (!in_defaults || (i != F_CMD && i != F_AFTER))
                        o += (size_t) snprintf(known + o, sizeof known - o, "%s%s", o ? ", " : "", table[i]);
        jobspec_add_error(c, &kp, "unknown field (expected one of: %s)", known);
}
