/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Strict JSON parser (RFC 8259) building json-c objects.
 *
 * Owns: the grammar of values (objects, arrays), the parser's wording of faults (with line, column and JSON
 * path), duplicate-key detection and the limits on depth and string length. Tokens (strings with UTF-8
 * validation, numbers, literals) are read by jsonlex.c, the lexer the tree-less scanner uses too. Exists
 * because json_tokener accepts duplicate keys (last wins), reports byte offsets only and has lenient
 * corners. Recursive descent; recursion is bounded by max_depth, which is itself capped at
 * JSON_PARSE_DEPTH_MAX, so hostile input cannot exhaust the stack.
 *
 * Invariants: on success the returned tree is exactly the document; on failure nothing is returned and the
 * error names the first offending byte (line/column, column in bytes) and the JSON path around it. Line
 * and column are computed only when an error is reported, so the hot path does not count newlines.
 *
 * An optional member hook sees every object member as soon as its value is complete and may take it, so
 * a caller (jobspec.c) can validate and free a huge document piece by piece instead of holding its tree.
 *
 * Deliberately does not: accept comments, trailing commas, NaN/Infinity, a BOM, or a stream of values;
 * keep source positions of values (callers that validate semantics report JSON paths instead).
 */

#include <assert.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonlex.h"
#include "jsonparse.h"
#include "json-util.h"
#include "macro.h"
#include "utf8.h"

typedef struct Parser {
        JsonLex lx; /* the text, the cursor and the scratch buffer for decoded strings */
        unsigned max_depth;
        size_t max_string;
        json_member_cb on_member;
        void *userdata;
        char **keys; /* per depth: the current member's key, reused across siblings */
        size_t *keys_alloc;
        JsonParseError *err;
} Parser;

static int fail_at(Parser *p, size_t at, const JsonPath *path, const char *fmt, ...) _printf_(4, 5);
static int parse_value(Parser *p, const JsonPath *path, unsigned depth, json_object **ret);

void json_parse_error_done(JsonParseError *e) {
        if (!e)
                return;
        free(e->path);
        free(e->message);
        *e = (JsonParseError){};
}

static bool key_is_plain(const char *k) {
        if (!*k)
                return false;
        for (; *k; k++)
                if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') ||
                      *k == '_' || *k == '-'))
                        return false;
        return true;
}

static void fput_quoted(FILE *f, const char *s) {
        fputc('"', f);
        for (; *s; s++) {
                unsigned char c = *s;
                if (c == '"' || c == '\\')
                        fprintf(f, "\\%c", c);
                else if (c < 0x20 || c == 0x7f)
                        fprintf(f, "\\u%04x", c);
                else
                        fputc(c, f);
        }
        fputc('"', f);
}

static void fput_path(FILE *f, const JsonPath *p) {
        if (!p || (!p->key && p->index == (size_t) -1))
                return;
        fput_path(f, p->parent);
        bool at_root = !p->parent || (!p->parent->key && p->parent->index == (size_t) -1);
        if (!p->key)
                fprintf(f, "[%zu]", p->index);
        else if (!key_is_plain(p->key)) {
                fputc('[', f);
                fput_quoted(f, p->key);
                fputc(']', f);
        } else
                fprintf(f, "%s%s", at_root ? "" : ".", p->key);
}

char *json_path_format(const JsonPath *p) {
        char *s = NULL;
        size_t n = 0;
        FILE *f;

        /* Paths are short and built only for error reports; a memstream keeps the recursion simple. */
        f = open_memstream(&s, &n);
        if (!f)
                return NULL;
        fput_path(f, p);
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

static void position_of(const Parser *p, size_t at, unsigned *ret_line, unsigned *ret_col) {
        unsigned line = 1;
        size_t line_start = 0;

        for (size_t i = 0; i < at && i < p->lx.size; i++)
                if (p->lx.buf[i] == '\n') {
                        line++;
                        line_start = i + 1;
                }
        *ret_line = line;
        *ret_col = (unsigned) (at - line_start + 1);
}

static int fail_at(Parser *p, size_t at, const JsonPath *path, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL, *ps = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        ps = json_path_format(path);
        if (!ps)
                return -ENOMEM;

        *p->err = (JsonParseError){ .path = TAKE_PTR(ps), .message = TAKE_PTR(msg) };
        position_of(p, at, &p->err->line, &p->err->column);
        return -EINVAL;
}

static void skip_ws(Parser *p) {
        (void) json_lex_skip_ws(&p->lx);
}

/* The parser's wording of a lexer fault, reported at the token (or escape) or at the offending byte. */
static int fail_lex(Parser *p, const JsonPath *path) {
        const JsonLexError *e = &p->lx.error;

        switch (e->fault) {
        case JSON_LEX_UNTERMINATED:
                return fail_at(p, e->start, path, "unterminated string");
        case JSON_LEX_EOF_ESCAPE:
                return fail_at(p, e->start, path, "unterminated escape sequence");
        case JSON_LEX_CONTROL:
                return fail_at(p, e->at, path, "control character 0x%02X in string (must be escaped)",
                               (unsigned char) p->lx.buf[e->at]);
        case JSON_LEX_BAD_UTF8:
                return fail_at(p, e->at, path, "invalid UTF-8 in string");
        case JSON_LEX_BAD_ESCAPE:
                return fail_at(p, e->start, path, "invalid escape sequence in string");
        case JSON_LEX_BAD_HEX:
                return fail_at(p, e->start, path, "invalid \\u escape, expected 4 hex digits");
        case JSON_LEX_LONE_LOW:
                return fail_at(p, e->start, path, "unpaired low surrogate \\u%04X in string", e->cp);
        case JSON_LEX_LONE_HIGH:
        case JSON_LEX_LONE_HIGH_BAD_HEX:
                return fail_at(p, e->start, path, "unpaired high surrogate \\u%04X in string", e->cp);
        case JSON_LEX_NO_DIGIT:
                return fail_at(p, e->at, path, "expected a digit after '-'");
        case JSON_LEX_LEADING_ZERO:
                return fail_at(p, e->start, path, "leading zeros are not allowed in numbers");
        case JSON_LEX_NO_FRACTION_DIGIT:
                return fail_at(p, e->at, path, "expected a digit after the decimal point");
        case JSON_LEX_NO_EXPONENT_DIGIT:
                return fail_at(p, e->at, path, "expected a digit in the exponent");
        case JSON_LEX_TRUNCATED_LITERAL:
        case JSON_LEX_BAD_LITERAL:
                return fail_at(p, e->start, path, "invalid literal, expected true, false or null");
        }
        assert(!"unknown lexer fault");
        return -EINVAL;
}

/* The string at the cursor (its opening quote). On success *ret_str points into the input (no escapes) or
 * into the scratch buffer (valid until the next string is parsed), NUL-terminated only in the latter case.
 */
static int parse_string_raw(Parser *p, const JsonPath *path, const char **ret_str, size_t *ret_len) {
        size_t start = p->lx.pos;
        int r;

        r = json_lex_string(&p->lx, JSON_LEX_CHECK_UTF8, ret_str, ret_len);
        if (r == -EBADMSG)
                return fail_lex(p, path);
        if (r < 0)
                return r;
        if (p->max_string > 0 && *ret_len > p->max_string)
                return fail_at(p, start, path, "string of %zu bytes exceeds the limit of %zu bytes",
                               *ret_len, p->max_string);
        return 0;
}

static locale_t c_locale = (locale_t) 0;
static void c_locale_init(void) {
        c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t) 0);
}

/* The number at p->lx.buf[start…pos), already lexed: an integer → int64 when it fits, else double. */
static int make_number(Parser *p, size_t start, const JsonLexInteger *v, bool is_int, const JsonPath *path,
                       json_object **ret) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        _cleanup_free_ char *copy = NULL;
        char *end;
        double d;

        if (is_int && !v->overflow &&
            v->magnitude <= (v->negative ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX)) {
                /* -(INT64_MAX+1) is representable; negate in unsigned space to avoid UB. */
                int64_t i = v->negative ? (int64_t) (0 - v->magnitude) : (int64_t) v->magnitude;
                *ret = json_object_new_int64(i);
                return *ret ? 0 : -ENOMEM;
        }

        /* strtod() needs a terminated string and follows LC_NUMERIC, which a client may have set; use "C".
         */
        copy = strndup(p->lx.buf + start, p->lx.pos - start);
        if (!copy)
                return -ENOMEM;
        (void) pthread_once(&once, c_locale_init);
        if (c_locale == (locale_t) 0)
                return -ENOMEM;
        d = strtod_l(copy, &end, c_locale);
        if (*end != '\0' || !isfinite(d))
                return fail_at(p, start, path, "number %s is out of range", copy);
        *ret = json_object_new_double(d);
        return *ret ? 0 : -ENOMEM;
}

static int parse_number(Parser *p, const JsonPath *path, json_object **ret) {
        size_t start = p->lx.pos;
        JsonLexInteger v;
        int r;

        r = json_lex_integer(&p->lx, &v);
        if (r >= 0)
                r = json_lex_fraction(&p->lx);
        if (r == -EBADMSG)
                return fail_lex(p, path);
        if (r < 0)
                return r;
        return make_number(p, start, &v, r == 0, path, ret);
}

static int parse_literal(Parser *p, const JsonPath *path, json_object **ret) {
        char c = p->lx.buf[p->lx.pos];
        int r;

        r = json_lex_literal(&p->lx, c == 't' ? "true" : c == 'f' ? "false" : "null");
        if (r == -EBADMSG)
                return fail_lex(p, path);
        assert(r > 0); /* parse_value() dispatched on the first letter */
        if (c == 'n') {
                *ret = NULL; /* json-c represents null as a NULL object */
                return 0;
        }
        *ret = json_object_new_boolean(c == 't');
        return *ret ? 0 : -ENOMEM;
}

static int fail_unexpected(Parser *p, const JsonPath *path, const char *expected) {
        unsigned char c;

        if (p->lx.pos >= p->lx.size)
                return fail_at(p, p->lx.pos, path, "unexpected end of input, expected %s", expected);
        c = (unsigned char) p->lx.buf[p->lx.pos];
        if (c >= 0x80 && utf8_valid_len(p->lx.buf + p->lx.pos, p->lx.size - p->lx.pos) == 0)
                return fail_at(p, p->lx.pos, path, "invalid UTF-8");
        if (c > 0x20 && c < 0x7f)
                return fail_at(p, p->lx.pos, path, "unexpected character '%c', expected %s", c, expected);
        return fail_at(p, p->lx.pos, path, "unexpected byte 0x%02X, expected %s", c, expected);
}

static int parse_object(Parser *p, const JsonPath *path, unsigned depth, json_object **ret) {
        _cleanup_json_ json_object *obj = NULL;
        int r;

        obj = json_object_new_object();
        if (!obj)
                return -ENOMEM;
        p->lx.pos++; /* '{' */
        skip_ws(p);
        if (p->lx.pos < p->lx.size && p->lx.buf[p->lx.pos] == '}') {
                p->lx.pos++;
                *ret = TAKE_PTR(obj);
                return 0;
        }

        for (bool first = true;; first = false) {
                _cleanup_json_ json_object *val = NULL;
                const char *s;
                char *key;
                size_t len, key_at;

                skip_ws(p);
                if (p->lx.pos >= p->lx.size || p->lx.buf[p->lx.pos] != '"') {
                        if (!first && p->lx.pos < p->lx.size && p->lx.buf[p->lx.pos] == '}')
                                return fail_at(p, p->lx.pos, path, "trailing comma before '}'");
                        return fail_unexpected(p, path,
                                               first ? "a string key or '}'" : "a string key after ','");
                }
                key_at = p->lx.pos;
                r = parse_string_raw(p, path, &s, &len);
                if (r < 0)
                        return r;
                if (memchr(s, 0, len))
                        return fail_at(p, key_at, path, "object key contains U+0000");
                /* One reusable key buffer per depth: a malloc/free per member would dominate large files. */
                if (p->keys_alloc[depth] < len + 1) {
                        char *k = realloc(p->keys[depth], len + 1);
                        if (!k)
                                return -ENOMEM;
                        p->keys[depth] = k;
                        p->keys_alloc[depth] = len + 1;
                }
                key = p->keys[depth];
                memcpy(key, s, len);
                key[len] = '\0';

                JsonPath child = JSON_PATH_KEY(path, key);
                if (json_object_object_get_ex(obj, key, NULL))
                        return fail_at(p, key_at, &child, "duplicate key \"%s\"", key);

                skip_ws(p);
                if (p->lx.pos >= p->lx.size || p->lx.buf[p->lx.pos] != ':')
                        return fail_unexpected(p, &child, "':' after object key");
                p->lx.pos++;
                r = parse_value(p, &child, depth, &val);
                if (r < 0)
                        return r;
                if (p->on_member) {
                        r = p->on_member(p->userdata, &child, depth, val);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                val = NULL; /* taken: keep only the key, for duplicate detection */
                }
                if (json_object_object_add_ex(obj, key, TAKE_PTR(val), JSON_C_OBJECT_ADD_KEY_IS_NEW) < 0)
                        return -ENOMEM;

                skip_ws(p);
                if (p->lx.pos < p->lx.size && p->lx.buf[p->lx.pos] == ',') {
                        p->lx.pos++;
                        continue;
                }
                if (p->lx.pos < p->lx.size && p->lx.buf[p->lx.pos] == '}') {
                        p->lx.pos++;
                        *ret = TAKE_PTR(obj);
                        return 0;
                }
                return fail_unexpected(p, path, "',' or '}' after object member");
        }
}

static int parse_array(Parser *p, const JsonPath *path, unsigned depth, json_object **ret) {
        _cleanup_json_ json_object *arr = NULL;
        int r;

        /* json-c's default array has 32 slots; job arrays are short, and 100,000 of them add up. */
        arr = json_object_new_array_ext(4);
        if (!arr)
                return -ENOMEM;
        p->lx.pos++; /* '[' */
        skip_ws(p);
        if (p->lx.pos < p->lx.size && p->lx.buf[p->lx.pos] == ']') {
                p->lx.pos++;
                *ret = TAKE_PTR(arr);
                return 0;
        }

        for (size_t i = 0;; i++) {
                _cleanup_json_ json_object *val = NULL;
                JsonPath child = JSON_PATH_INDEX(path, i);

                skip_ws(p);
                if (i > 0 && p->lx.pos < p->lx.size && p->lx.buf[p->lx.pos] == ']')
                        return fail_at(p, p->lx.pos, path, "trailing comma before ']'");
                r = parse_value(p, &child, depth, &val);
                if (r < 0)
                        return r;
                if (json_object_array_add(arr, val) < 0)
                        return -ENOMEM;
                TAKE_PTR(val);

                skip_ws(p);
                if (p->lx.pos < p->lx.size && p->lx.buf[p->lx.pos] == ',') {
                        p->lx.pos++;
                        continue;
                }
                if (p->lx.pos < p->lx.size && p->lx.buf[p->lx.pos] == ']') {
                        p->lx.pos++;
                        *ret = TAKE_PTR(arr);
                        return 0;
                }
                return fail_unexpected(p, path, "',' or ']' after array element");
        }
}

/* depth is the number of containers enclosing the value. */
static int parse_value(Parser *p, const JsonPath *path, unsigned depth, json_object **ret) {
        const char *s;
        size_t len;
        int r;

        skip_ws(p);
        if (p->lx.pos >= p->lx.size)
                return fail_unexpected(p, path, "a value");

        switch (p->lx.buf[p->lx.pos]) {
        case '{':
        case '[':
                if (depth + 1 > p->max_depth)
                        return fail_at(p, p->lx.pos, path, "nesting depth exceeds the limit of %u",
                                       p->max_depth);
                return p->lx.buf[p->lx.pos] == '{' ? parse_object(p, path, depth + 1, ret) :
                                                     parse_array(p, path, depth + 1, ret);
        case '"':
                r = parse_string_raw(p, path, &s, &len);
                if (r < 0)
                        return r;
                *ret = json_object_new_string_len(s, (int) len);
                return *ret ? 0 : -ENOMEM;
        case '-':
        case '0' ... '9':
                return parse_number(p, path, ret);
        case 't':
        case 'f':
        case 'n':
                return parse_literal(p, path, ret);
        default:
                return fail_unexpected(p, path, "a value");
        }
}

int json_parse_strict(const char *buf, size_t size, const JsonParseOptions *opts, json_object **ret,
                      JsonParseError *reterr) {
        _cleanup_json_ json_object *v = NULL;
        JsonParseError err = {};
        JsonPath root = JSON_PATH_ROOT;
        Parser p = {
                .lx = { .buf = buf, .size = size },
                .max_depth = opts ? MIN(opts->max_depth, JSON_PARSE_DEPTH_MAX) : JSON_PARSE_DEPTH_MAX,
                .max_string = opts ? opts->max_string : 0,
                .on_member = opts ? opts->on_member : NULL,
                .userdata = opts ? opts->userdata : NULL,
                .err = &err,
        };
        int r;

        assert(buf || size == 0);
        assert(ret);

        p.keys = calloc(p.max_depth + 1, sizeof(char *));
        p.keys_alloc = calloc(p.max_depth + 1, sizeof(size_t));
        if (!p.keys || !p.keys_alloc) {
                free(p.keys);
                free(p.keys_alloc);
                return -ENOMEM;
        }

        /* json-c lengths are int; refuse anything that could overflow them rather than truncate. */
        if (size > INT32_MAX)
                r = fail_at(&p, 0, &root, "document too large");
        else if (size >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
                r = fail_at(&p, 0, &root, "UTF-8 byte order mark is not allowed");
        else {
                skip_ws(&p);
                if (p.lx.pos >= size)
                        r = fail_at(&p, p.lx.pos, &root, "empty document, expected a JSON value");
                else
                        r = parse_value(&p, &root, 0, &v);
                if (r >= 0) {
                        skip_ws(&p);
                        if (p.lx.pos < size)
                                r = fail_at(&p, p.lx.pos, &root, "unexpected data after the JSON value");
                }
        }
        json_lex_done(&p.lx);
        for (unsigned i = 0; i <= p.max_depth; i++)
                free(p.keys[i]);
        free(p.keys);
        free(p.keys_alloc);

        if (r == -EINVAL && reterr)
                *reterr = err;
        else
                json_parse_error_done(&err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(v);
        return 0;
}
