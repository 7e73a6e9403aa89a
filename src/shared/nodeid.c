/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nodeid.c — node id validation and the id → log file name mapping (nodeid.h).
 *
 * Invariants: a valid id is a relative path with no empty, "." or ".." component and at most NODEID_MAX
 * bytes; its log name has no '/' and fits NAME_MAX with any uint32 attempt; nodeid_from_path() is
 * injective: identity on valid ids not starting with the prefix, prefix + an escaping with a unique
 * decoding (a byte kept, "__" for '_', "_hh" for any other) for every other path.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodeid.h"

static bool is_alnum(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool nodeid_valid(const char *s) {
        size_t len = strlen(s), comp = 0;

        if (len < 1 || len > NODEID_MAX || !is_alnum(s[0]))
                return false;
        if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-/") != len)
                return false;
        for (size_t i = 0; i <= len; i++) {
                if (s[i] != '/' && s[i] != '\0') {
                        comp++;
                        continue;
                }
                /* the component s[i - comp, i) */
                if (comp == 0 || (comp == 1 && s[i - 1] == '.') ||
                    (comp == 2 && s[i - 1] == '.' && s[i - 2] == '.'))
                        return false;
                comp = 0;
        }
        return true;
}

size_t nodeid_log_name(const char *id, uint32_t attempt, char buf[static NODEID_LOG_NAME_SIZE]) {
        int n = snprintf(buf, NODEID_LOG_NAME_SIZE, "%s.%u.log", id, (unsigned) attempt);

        for (char *p = buf; *p; p++)
                if (*p == '/')
                        *p = '%';
        return n < 0 ? 0 : (size_t) n;
}

int nodeid_from_path(const char *path, char **ret) {
        static const char hex[] = "0123456789abcdef";
        size_t n = strlen(NODEID_ESCAPE_PREFIX);
        char *id;

        if (nodeid_valid(path) && strncmp(path, NODEID_ESCAPE_PREFIX, n) != 0) {
                id = strdup(path);
                if (!id)
                        return -ENOMEM;
                *ret = id;
                return 0;
        }
        for (const char *p = path; *p && n <= NODEID_MAX; p++)
                n += is_alnum(*p) || *p == '.' || *p == '-' ? 1 : *p == '_' ? 2 : 3;
        if (n > NODEID_MAX)
                return -ENAMETOOLONG;
        id = malloc(n + 1);
        if (!id)
                return -ENOMEM;
        n = strlen(NODEID_ESCAPE_PREFIX);
        memcpy(id, NODEID_ESCAPE_PREFIX, n);
        for (const char *p = path; *p; p++) {
                unsigned char c = (unsigned char) *p;

                if (is_alnum(*p) || c == '.' || c == '-')
                        id[n++] = *p;
                else if (c == '_') {
                        id[n++] = '_';
                        id[n++] = '_';
                } else {
                        id[n++] = '_';
                        id[n++] = hex[c >> 4];
                        id[n++] = hex[c & 15];
                }
        }
        id[n] = '\0';
        *ret = id;
        return 0;
}
