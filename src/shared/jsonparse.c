/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Strict JSON parser (RFC 8259) building json-c objects.
 *
 * Owns: the grammar, UTF-8 validation of the whole input, duplicate-key detection and the limits on depth
 * and string length. Exists because json_tokener accepts duplicate keys (last wins), reports byte offsets
 * only and has lenient corners. Recursive descent; recursion is bounded by max_depth, which is itself
 * capped at JSON_PARSE_DEPTH_MAX, so hostile input cannot exhaust the stack.
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

#include "jsonparse.h"
#include "json-util.h"
#include "macro.h"

typedef struct Parser {
        const char *buf;
        size_t size;
        size_t pos;
        unsigned max_depth;
        size_t max_string;
        json_member_cb on_member;
        void *userdata;
        char *scratch; /* decoded strings with escapes, reused */
        size_t scratch_len, scratch_alloc;
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

        for (size_t i = 0; i < at && i < p->size; i++)
                if (p->buf[i] == '\n') {
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

/* Length of the valid UTF-8 sequence at s[0…n) (1…4), or 0 if it is invalid (overlong, surrogate, >
 * U+10FFFF, truncated). Ranges per RFC 3629 table 3. */
static size_t utf8_valid_len(const unsigned char *s, size_t n) {
        unsigned char c = s[0];
        unsigned char lo = 0x80, hi = 0xBF;
        size_t len;

        if (c < 0x80)
                return 1;
        if (c >= 0xC2 && c <= 0xDF)
                len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
                len = 3;
                if (c == 0xE0)
                        lo = 0xA0;
                else if (c == 0xED)
                        hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
                len = 4;
                if (c == 0xF0)
                        lo = 0x90;
                else if (c == 0xF4)
                        hi = 0x8F;
        } else
                return 0;

        if (n < len || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if (s[i] < 0x80 || s[i] > 0xBF)
                        return 0;
        return len;
}

static void skip_ws(Parser *p) {
        while (p->pos < p->size) {
                char c = p->buf[p->pos];
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
                        break;
                p->pos++;
        }
}

static int scratch_append(Parser *p, const char *data, size_t len) {
        if (p->scratch_len + len + 1 > p->scratch_alloc) {
                size_t na = MAX(p->scratch_alloc * 2, p->scratch_len + len + 1);
                na = MAX(na, (size_t) 256);
                char *n = realloc(p->scratch, na);
                if (!n)
                        return -ENOMEM;
                p->scratch = n;
                p->scratch_alloc = na;
        }
        memcpy(p->scratch + p->scratch_len, data, len);
        p->scratch_len += len;
        p->scratch[p->scratch_len] = '\0';
        return 0;
}

static int hex4(const char *s, size_t avail, unsigned *ret) {
        unsigned v = 0;

        if (avail < 4)
                return -EINVAL;
        for (size_t i = 0; i < 4; i++) {
                char c = s[i];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (unsigned) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (unsigned) (c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (unsigned) (c - 'A' + 10);
                else
                        return -EINVAL;
        }
        *ret = v;
        return 0;
}

static size_t utf8_encode(unsigned cp, char out[static 4]) {
        if (cp < 0x80) {
                out[0] = (char) cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char) (0xC0 | (cp >> 6));
                out[1] = (char) (0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char) (0xE0 | (cp >> 12));
                out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
                out[2] = (char) (0x80 | (cp & 0x3F));
                return 3;
        }
        out[0] = (char) (0xF0 | (cp >> 18));
        out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char) (0x80 | (cp & 0x3F));
        return 4;
}

/* p->pos is at a backslash inside a string. Decode one escape and append it to the scratch buffer. */
static int parse_escape(Parser *p, const JsonPath *path) {
        static const char simple_in[] = "\"\\/bfnrt", simple_out[] = "\"\\/\b\f\n\r\t";
        size_t at = p->pos;
        unsigned cp, lo;
        char out[4];

        if (at + 1 >= p->size)
                return fail_at(p, at, path, "unterminated escape sequence");
        const char *s = strchr(simple_in, p->buf[at + 1]);
        if (s && *s) {
                p->pos += 2;
                return scratch_append(p, &simple_out[s - simple_in], 1);
        }
        if (p->buf[at + 1] != 'u')
                return fail_at(p, at, path, "invalid escape sequence in string");
        if (hex4(p->buf + at + 2, p->size - at - 2, &cp) < 0)
                return fail_at(p, at, path, "invalid \\u escape, expected 4 hex digits");
        p->pos += 6;

        if (cp >= 0xDC00 && cp <= 0xDFFF)
                return fail_at(p, at, path, "unpaired low surrogate \\u%04X in string", cp);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->pos + 1 >= p->size || p->buf[p->pos] != '\\' || p->buf[p->pos + 1] != 'u' ||
                    hex4(p->buf + p->pos + 2, p->size - p->pos - 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
                        return fail_at(p, at, path, "unpaired high surrogate \\u%04X in string", cp);
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        return scratch_append(p, out, utf8_encode(cp, out));
}

/* p->pos is at the opening quote. On success *ret_str points into the input (no escapes) or into the scratch
 * buffer (valid until the next string is parsed), NUL-terminated only in the latter case. */
static int parse_string_raw(Parser *p, const JsonPath *path, const char **ret_str, size_t *ret_len) {
        size_t start = p->pos, seg;
        bool escaped = false;
        int r;

        p->pos++;
        seg = p->pos;
        p->scratch_len = 0;
        for (;;) {
                if (p->pos >= p->size)
                        return fail_at(p, start, path, "unterminated string");
                unsigned char c = (unsigned char) p->buf[p->pos];
                if (c == '"')
                        break;
                if (c == '\\') {
                        r = scratch_append(p, p->buf + seg, p->pos - seg);
                        if (r < 0)
                                return r;
                        r = parse_escape(p, path);
                        if (r < 0)
                                return r;
                        escaped = true;
                        seg = p->pos;
                        continue;
                }
                if (c < 0x20)
                        return fail_at(p, p->pos, path,
                                       "control character 0x%02X in string (must be escaped)", c);
                if (c < 0x80) {
                        p->pos++;
                        continue;
                }
                size_t n = utf8_valid_len((const unsigned char *) p->buf + p->pos, p->size - p->pos);
                if (n == 0)
                        return fail_at(p, p->pos, path, "invalid UTF-8 in string");
                p->pos += n;
        }

        if (escaped) {
                r = scratch_append(p, p->buf + seg, p->pos - seg);
                if (r < 0)
                        return r;
                *ret_str = p->scratch;
                *ret_len = p->scratch_len;
        } else {
                *ret_str = p->buf + start + 1;
                *ret_len = p->pos - start - 1;
        }
        p->pos++; /* closing quote */
        if (p->max_string > 0 && *ret_len > p->max_string)
                return fail_at(p, start, path, "string of %zu bytes exceeds the limit of %zu bytes",
                               *ret_len, p->max_string);
        return 0;
}

static locale_t c_locale = (locale_t) 0;
static void c_locale_init(void) {
        c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t) 0);
}

/* Number text already validated against the grammar: integer → int64 when it fits, else double. */
static int make_number(Parser *p, size_t start, bool is_int, const JsonPath *path, json_object **ret) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        size_t len = p->pos - start;
        _cleanup_free_ char *copy = NULL;
        char *end;
        double d;

        if (is_int) {
                const char *s = p->buf + start;
                bool neg = *s == '-';
                uint64_t v = 0, lim = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
                bool fits = true;

                for (s += neg; s < p->buf + p->pos && fits; s++) {
                        unsigned dg = (unsigned) (*s - '0');
                        if (v > (lim - dg) / 10)
                                fits = false;
                        else
                                v = v * 10 + dg;
                }
                if (fits) {
                        /* -(INT64_MAX+1) is representable; negate in unsigned space to avoid UB. */
                        int64_t i = neg ? (int64_t) (0 - v) : (int64_t) v;
                        *ret = json_object_new_int64(i);
                        return *ret ? 0 : -ENOMEM;
                }
        }

        /* strtod() needs a terminated string and follows LC_NUMERIC, which a client may have set; use "C". */
        copy = strndup(p->buf + start, len);
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

static bool at_digit(const Parser *p) {
        return p->pos < p->size && p->buf[p->pos] >= '0' && p->buf[p->pos] <= '9';
}

static void skip_digits(Parser *p) {
        while (at_digit(p))
                p->pos++;
}

static int parse_number(Parser *p, const JsonPath *path, json_object **ret) {
        size_t start = p->pos;
        bool is_int = true;

        if (p->buf[p->pos] == '-')
                p->pos++;
        if (!at_digit(p))
                return fail_at(p, p->pos, path, "expected a digit after '-'");
        if (p->buf[p->pos] == '0') {
                p->pos++;
                if (at_digit(p))
                        return fail_at(p, start, path, "leading zeros are not allowed in numbers");
        } else
                skip_digits(p);

        if (p->pos < p->size && p->buf[p->pos] == '.') {
                p->pos++;
                if (!at_digit(p))
                        return fail_at(p, p->pos, path, "expected a digit after the decimal point");
                skip_digits(p);
                is_int = false;
        }
        if (p->pos < p->size && (p->buf[p->pos] == 'e' || p->buf[p->pos] == 'E')) {
                p->pos++;
                if (p->pos < p->size && (p->buf[p->pos] == '+' || p->buf[p->pos] == '-'))
                        p->pos++;
                if (!at_digit(p))
                        return fail_at(p, p->pos, path, "expected a digit in the exponent");
                skip_digits(p);
                is_int = false;
        }
        return make_number(p, start, is_int, path, ret);
}

static int parse_literal(Parser *p, const JsonPath *path, json_object **ret) {
        static const char *const words[] = { "true", "false", "null" };

        for (size_t i = 0; i < ELEMENTSOF(words); i++) {
                size_t n = strlen(words[i]);
                if (p->size - p->pos < n || memcmp(p->buf + p->pos, words[i], n) != 0)
                        continue;
                p->pos += n;
                if (i == 2) {
                        *ret = NULL; /* json-c represents null as a NULL object */
                        return 0;
                }
                *ret = json_object_new_boolean(i == 0);
                return *ret ? 0 : -ENOMEM;
        }
        return fail_at(p, p->pos, path, "invalid literal, expected true, false or null");
}

static int fail_unexpected(Parser *p, const JsonPath *path, const char *expected) {
        unsigned char c;

        if (p->pos >= p->size)
                return fail_at(p, p->pos, path, "unexpected end of input, expected %s", expected);
        c = (unsigned char) p->buf[p->pos];
        if (c >= 0x80 && utf8_valid_len((const unsigned char *) p->buf + p->pos, p->size - p->pos) == 0)
                return fail_at(p, p->pos, path, "invalid UTF-8");
        if (c > 0x20 && c < 0x7f)
                return fail_at(p, p->pos, path, "unexpected character '%c', expected %s", c, expected);
        return fail_at(p, p->pos, path, "unexpected byte 0x%02X, expected %s", c, expected);
}

static int parse_object(Parser *p, const JsonPath *path, unsigned depth, json_object **ret) {
        _cleanup_json_ json_object *obj = NULL;
        int r;

        obj = json_object_new_object();
        if (!obj)
                return -ENOMEM;
        p->pos++; /* '{' */
        skip_ws(p);
        if (p->pos < p->size && p->buf[p->pos] == '}') {
                p->pos++;
                *ret = TAKE_PTR(obj);
                return 0;
        }

        for (bool first = true;; first = false) {
                _cleanup_json_ json_object *val = NULL;
                const char *s;
                char *key;
                size_t len, key_at;

                skip_ws(p);
                if (p->pos >= p->size || p->buf[p->pos] != '"') {
                        if (!first && p->pos < p->size && p->buf[p->pos] == '}')
                                return fail_at(p, p->pos, path, "trailing comma before '}'");
                        return fail_unexpected(p, path,
                                               first ? "a string key or '}'" : "a string key after ','");
                }
                key_at = p->pos;
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
                if (p->pos >= p->size || p->buf[p->pos] != ':')
                        return fail_unexpected(p, &child, "':' after object key");
                p->pos++;
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
                if (p->pos < p->size && p->buf[p->pos] == ',') {
                        p->pos++;
                        continue;
                }
                if (p->pos < p->size && p->buf[p->pos] == '}') {
                        p->pos++;
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
        p->pos++; /* '[' */
        skip_ws(p);
        if (p->pos < p->size && p->buf[p->pos] == ']') {
                p->pos++;
                *ret = TAKE_PTR(arr);
                return 0;
        }

        for (size_t i = 0;; i++) {
                _cleanup_json_ json_object *val = NULL;
                JsonPath child = JSON_PATH_INDEX(path, i);

                skip_ws(p);
                if (i > 0 && p->pos < p->size && p->buf[p->pos] == ']')
                        return fail_at(p, p->pos, path, "trailing comma before ']'");
                r = parse_value(p, &child, depth, &val);
                if (r < 0)
                        return r;
                if (json_object_array_add(arr, val) < 0)
                        return -ENOMEM;
                TAKE_PTR(val);

                skip_ws(p);
                if (p->pos < p->size && p->buf[p->pos] == ',') {
                        p->pos++;
                        continue;
                }
                if (p->pos < p->size && p->buf[p->pos] == ']') {
                        p->pos++;
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
        if (p->pos >= p->size)
                return fail_unexpected(p, path, "a value");

        switch (p->buf[p->pos]) {
        case '{':
        case '[':
                if (depth + 1 > p->max_depth)
                        return fail_at(p, p->pos, path, "nesting depth exceeds the limit of %u", p->max_depth);
                return p->buf[p->pos] == '{' ? parse_object(p, path, depth + 1, ret) :
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
                .buf = buf,
                .size = size,
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
                if (p.pos >= size)
                        r = fail_at(&p, p.pos, &root, "empty document, expected a JSON value");
                else
                        r = parse_value(&p, &root, 0, &v);
                if (r >= 0) {
                        skip_ws(&p);
                        if (p.pos < size)
                                r = fail_at(&p, p.pos, &root, "unexpected data after the JSON value");
                }
        }
        free(p.scratch);
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
