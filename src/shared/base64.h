/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Base64 (RFC 4648 §4, padded) for carrying arbitrary bytes in a JSON string: the bytes of a rejected
 * job file, which need not be UTF-8. Pure: no event loop, no logging.
 */

#include <stddef.h>

/* Encode buf[0..n) into a malloc'd NUL-terminated string. Returns NULL on ENOMEM (or n too large). */
char *base64_encode(const void *buf, size_t n);

/* Decode s (the standard alphabet; padding required to a multiple of 4, no whitespace). Returns 0 with
 * *ret (malloc'd, NUL-terminated for convenience) and *ret_n, -EINVAL if s is not valid base64, -ENOMEM. */
int base64_decode(const char *s, unsigned char **ret, size_t *ret_n);
