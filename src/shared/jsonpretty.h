/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Re-indenting JSON text the way json-c prints a tree with JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
 * (json-c 0.16: two spaces a level, ": " after a key, a closing bracket on a line of its own, also
 * for an empty object or array), straight from the text, without a tree:
 * orchctl --json status of a 100,000-node job spent seconds parsing 17 MB into json-c objects only to print
 * them again. Tokens are copied as they are, so the output is json-c's only for text json-c wrote (orchd's
 * replies are). Pure: no I/O, no logging.
 */

#include <stddef.h>

/* Re-indent the one JSON value at the start of text[0…size) (whitespace before it is skipped). Returns 0
 * with *ret (NUL-terminated, owned), *ret_len and *ret_used (the bytes of text the value took), -EBADMSG if
 * the text ends inside the value or a bracket does not match, or -ENOMEM. Does not validate scalars. */
int json_pretty(const char *text, size_t size, char **ret, size_t *ret_len, size_t *ret_used);
