/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * base64.c — RFC 4648 base64, strict on decoding (see base64.h): a reply that is not exactly what an
 * encoder makes is refused rather than guessed at.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const void *buf, size_t n) {
        const unsigned char *p = buf;
        char *out, *o;

        if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
                return NULL;
        out = malloc((n + 2) / 3 * 4 + 1);
        if (!out)
                return NULL;
        o = out;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t) p[i] << 16 | (i + 1 < n ? (uint32_t) p[i + 1] << 8 : 0) |
                        (i + 2 < n ? p[i + 2] : 0);

                *o++ = alphabet[v >> 18 & 63];
                *o++ = alphabet[v >> 12 & 63];
                *o++ = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
                *o++ = i + 2 < n ? alphabet[v & 63] : '=';
        }
        *o = '\0';
        return out;
}

static int digit(char c) {
        const char *p = c ? strchr(alphabet, c) : NULL;

        return p ? (int) (p - alphabet) : -1;
}

int base64_decode(const char *s, unsigned char **ret, size_t *ret_n) {
        size_t len = strlen(s), n = 0;
        unsigned char *out;

        if (len % 4 != 0)
                return -EINVAL;
        out = malloc(len / 4 * 3 + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len; i += 4) {
                bool last = i + 4 == len;
                int a = digit(s[i]), b = digit(s[i + 1]), c = digit(s[i + 2]), d = digit(s[i + 3]);
                int pad = last && s[i + 3] == '=' ? (s[i + 2] == '=' ? 2 : 1) : 0;

                if (a < 0 || b < 0 || (c < 0 && pad < 2) || (d < 0 && pad < 1)) {
                        free(out);
                        return -EINVAL;
                }
                uint32_t v = (uint32_t) a << 18 | (uint32_t) b << 12 | (uint32_t) (c < 0 ? 0 : c) << 6 |
                        (uint32_t) (d < 0 ? 0 : d);
                out[n++] = (unsigned char) (v >> 16);
                if (pad < 2)
                        out[n++] = (unsigned char) (v >> 8);
                if (pad < 1)
                        out[n++] = (unsigned char) v;
        }
        out[n] = '\0';
        *ret = out;
        *ret_n = n;
        return 0;
}
