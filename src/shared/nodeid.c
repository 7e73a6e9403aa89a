/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nodeid.c — node id validation and the id → log file name mapping (nodeid.h).
 *
 * Invariants: a valid id is a relative path with no empty, "." or ".." component and at most NODEID_MAX
 * bytes; its log name has no '/' and fits NAME_MAX with any uint32 attempt.
 */

#include <stdio.h>
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
