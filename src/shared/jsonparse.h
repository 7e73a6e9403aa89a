/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Strict RFC 8259 JSON → json-c objects. Unlike json_tokener this rejects
 * duplicate object keys, reports errors by line and column with a precise
 * message and the JSON path where they occurred, and bounds nesting depth and
 * string length. Pure: no logging, no I/O. Columns are counted in bytes.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <json-c/json.h>

/* Hard ceiling on the nesting depth, whatever the caller asks for: the parser recurses once per level. */
#define JSON_PARSE_DEPTH_MAX 1024U

typedef struct JsonPath JsonPath;

/* Called when the value of an object member is complete, before it is added to its object; member is the
 * member's path, depth the nesting depth of its object (root object = 1). Return 0 to let the parser add
 * the value, 1 when the callee took ownership of value (the parser stores JSON null under the key instead,
 * so later duplicates of that key are still detected), or a negative errno other than -EINVAL to abort
 * the parse with it (reterr is then untouched).
 * Lets a caller consume a huge document member by member instead of holding the whole json-c tree. */
typedef int (*json_member_cb)(void *userdata, const JsonPath *member, unsigned depth, json_object *value);

typedef struct JsonParseOptions {
        unsigned max_depth; /* arrays/objects nested deeper than this are an error; root container = 1 */
        size_t max_string;  /* decoded bytes per string (keys included); 0 = unlimited */
        json_member_cb on_member; /* optional */
        void *userdata;
} JsonParseOptions;

typedef struct JsonParseError {
        char *path;            /* JSON path of the failing location ("nodes.build"), "" = root; malloc'd */
        char *message;         /* "expected ',' or '}' after object member"; malloc'd */
        unsigned line, column; /* 1-based; column counts bytes from the start of the line */
} JsonParseError;

/* Parse buf[0…size) as exactly one JSON value (surrounding whitespace allowed). Integers that are written
 * without fraction/exponent and fit int64 become json int64, other numbers doubles; U+0000 is allowed in
 * string values but not in object keys (json-c keys are C strings). A JSON null is a NULL json_object, as
 * in json-c. opts may be NULL (depth JSON_PARSE_DEPTH_MAX, strings unlimited, no hook). Returns 0 and *ret
 * (owned); -EINVAL with *reterr filled (free with json_parse_error_done()); -ENOMEM or the hook's error,
 * with reterr untouched. */
int json_parse_strict(const char *buf, size_t size, const JsonParseOptions *opts, json_object **ret,
                      JsonParseError *reterr);

/* Free the strings of an error and zero it. Safe on a zeroed struct. */
void json_parse_error_done(JsonParseError *e);

/* One step of a JSON path, as a stack-allocated linked list from leaf to root; key == NULL means the
 * array element `index`. The root has parent == NULL and key == NULL and index == (size_t) -1. */
struct JsonPath {
        const struct JsonPath *parent;
        const char *key;
        size_t index;
};

#define JSON_PATH_ROOT ((JsonPath){ .parent = NULL, .key = NULL, .index = (size_t) -1 })
#define JSON_PATH_KEY(p, k) ((JsonPath){ .parent = (p), .key = (k) })
#define JSON_PATH_INDEX(p, i) ((JsonPath){ .parent = (p), .key = NULL, .index = (i) })

/* Render a path: keys joined by '.', elements as "[N]" ("nodes.x.after[2]"); a key that is empty or has
 * characters other than [A-Za-z0-9_-] is written as ["…"] with JSON escapes. Returns malloc'd or NULL. */
char *json_path_format(const JsonPath *p);
