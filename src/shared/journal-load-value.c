/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * journal-load-value.c — the typed values of journal files, for journal-load.c: one integer in a range, one
 * string, boolean or reason, one object and its members, and the bookkeeping of a fixed record's fields
 * (unknown, duplicate and missing ones), each read with the tree-less scanner (jsonscan.c).
 *
 * Owns the wording of every value error: "FILE: PATH: message" in the loader's reterr_msg, PATH the record
 * and field; a syntax error names the byte offset, a truncated file its size.
 *
 * Deliberately not here: which records and fields a file has (journal-load.c), I/O, logging.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal-load-internal.h"
#include "macro.h"

static inline const char *strempty(const char *s) {
        return s ?: "";
}

int loader_bad(Loader *l, const char *prefix, const char *field, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int k;

        va_start(ap, format);
        k = vasprintf(&msg, format, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;

        if (l->reterr_msg) {
                free(*l->reterr_msg);
                if (asprintf(l->reterr_msg, "%s: %s%s%s%s%s", l->file, strempty(prefix),
                             !isempty(prefix) && !isempty(field) ? "." : "", strempty(field),
                             isempty(prefix) && isempty(field) ? "" : ": ", msg) < 0) {
                        *l->reterr_msg = NULL;
                        return -ENOMEM;
                }
        }
        return -EBADMSG;
}

int loader_syntax(Loader *l, int r) {
        const JsonScan *s = &l->scan;

        if (r != -EBADMSG)
                return r;
        if (json_scan_truncated(s))
                return loader_bad(l, NULL, NULL, "truncated JSON (%zu bytes)", s->lx.size);
        return loader_bad(l, NULL, NULL, "invalid JSON at byte %zu: %s", s->error_offset, s->error);
}

static int peek(Loader *l) {
        return json_scan_peek(&l->scan);
}

static bool is_digit(int c) {
        return c >= '0' && c <= '9';
}

int loader_wrong_type(Loader *l, const char *prefix, const char *key, const char *want, bool nullable) {
        static const char *const kinds[] = {
                [JSON_SCAN_NUMBER] = "a number",   [JSON_SCAN_STRING] = "a string",
                [JSON_SCAN_OBJECT] = "an object",  [JSON_SCAN_ARRAY] = "an array",
                [JSON_SCAN_BOOLEAN] = "a boolean", [JSON_SCAN_NULL] = "null",
        };
        JsonScanKind kind = json_scan_next_kind(&l->scan);

        if (kind == JSON_SCAN_NONE)
                return loader_syntax(l, json_scan_fail(&l->scan, "expected a value"));
        return loader_bad(l, prefix, key, "must be %s%s, got %s", want, nullable ? " or null" : "",
                          kinds[kind]);
}

static int literal(Loader *l, const char *word) {
        return loader_syntax(l, json_scan_literal(&l->scan, word));
}

int loader_read_uint(Loader *l, const char *prefix, const char *key, uint64_t min, uint64_t max,
                     bool nullable, uint64_t *ret) {
        const JsonScan *s = &l->scan;
        uint64_t v = 0;
        int r, c = peek(l);

        if (nullable && c == 'n')
                return literal(l, "null");
        if (c != '-' && !is_digit(c))
                return loader_wrong_type(l, prefix, key, "an integer", nullable);
        r = json_scan_uint(&l->scan, &v);
        if (r == -EDOM)
                return loader_bad(l, prefix, key, "must be an integer, got a fraction or exponent");
        if (r == -ERANGE || (r >= 0 && (v < min || v > max)))
                return loader_bad(l, prefix, key, "%.*s is out of range %" PRIu64 "…%" PRIu64,
                                  (int) s->token_len, s->token, min, max);
        if (r < 0)
                return loader_syntax(l, r);
        *ret = v;
        return 0;
}

int loader_read_string(Loader *l, const char *prefix, const char *key, bool nullable, const char **ret) {
        const char *s;
        size_t len;
        int r, c = peek(l);

        if (nullable && c == 'n') {
                *ret = NULL;
                r = literal(l, "null");
                return r < 0 ? r : 0;
        }
        if (c != '"')
                return loader_wrong_type(l, prefix, key, "a string", nullable);
        r = json_scan_string(&l->scan, &s, &len);
        if (r < 0)
                return loader_syntax(l, r);
        if (strlen(s) != len)
                return loader_bad(l, prefix, key, "contains a NUL character");
        *ret = s;
        return 0;
}

int loader_read_bool(Loader *l, const char *prefix, const char *key, bool *ret) {
        int r;

        r = literal(l, "true");
        if (r != 0) {
                *ret = true;
                return r < 0 ? r : 0;
        }
        r = literal(l, "false");
        if (r != 0) {
                *ret = false;
                return r < 0 ? r : 0;
        }
        return loader_wrong_type(l, prefix, key, "a boolean", false);
}

int loader_read_reason(Loader *l, const char *prefix, Reason *ret) {
        const char *s;
        int r;

        r = loader_read_string(l, prefix, "reason", true, &s);
        if (r < 0)
                return r;
        if (!s)
                *ret = (Reason){ .kind = REASON_NONE };
        else if (reason_from_string(s, ret) < 0)
                return loader_bad(l, prefix, "reason", "unknown reason \"%s\"", s);
        return 0;
}

int loader_open_object(Loader *l, const char *prefix, const char *key) {
        if (json_scan_begin_object(&l->scan) == 0)
                return loader_wrong_type(l, prefix, key, "an object", false);
        return 0;
}

int loader_member_error(Loader *l, int r) {
        if (r == -EILSEQ)
                return loader_bad(l, NULL, NULL, "object key contains a NUL character");
        return loader_syntax(l, r);
}

/* Index of key in names[], trying hint first: our writer emits fields in table order. -1 if unknown. */
static int field_index(const char *const *names, size_t n, const char *key, size_t hint) {
        if (hint < n && streq(names[hint], key))
                return (int) hint;
        for (size_t i = 0; i < n; i++)
                if (streq(names[i], key))
                        return (int) i;
        return -1;
}

int loader_record_field(Loader *l, const char *prefix, const char *const *names, size_t n, const char *key,
                        size_t hint, unsigned *seen) {
        int f = field_index(names, n, key, hint);

        if (f < 0)
                return loader_bad(l, prefix, key, "unknown field");
        if (*seen & (1U << f))
                return loader_bad(l, prefix, key, "duplicate field");
        *seen |= 1U << f;
        return f;
}

int loader_check_missing(Loader *l, const char *prefix, const char *const *names, size_t n, unsigned seen) {
        for (size_t i = 0; i < n; i++)
                if (!(seen & (1U << i)))
                        return loader_bad(l, prefix, names[i], "missing");
        return 0;
}
