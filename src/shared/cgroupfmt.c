/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cgroupfmt.c — reading the text of cgroup v2 files and naming an attempt's cgroup (cgroupfmt.h).
 *
 * Owns nothing. Every parser takes the whole text of a file as the kernel gives it (NUL-terminated by the
 * caller) and tolerates keys it does not know, so a newer kernel's extra lines change nothing.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroupfmt.h"

int cgroupfmt_self_path(const char *text, char **ret) {
        for (const char *p = text; p && *p;) {
                const char *end = strchrnul(p, '\n');

                if (strncmp(p, "0::", 3) == 0) {
                        if (p[3] != '/')
                                return -EBADMSG;
                        *ret = strndup(p + 3, (size_t) (end - p - 3));
                        return *ret ? 0 : -ENOMEM;
                }
                p = *end ? end + 1 : end;
        }
        return -ENOENT;
}

/* A decimal number at *p, which is advanced past it. Returns 0 or -EBADMSG (none, or overflow). */
static int parse_u64(const char **p, uint64_t *ret) {
        uint64_t v = 0;
        const char *s = *p;

        if (*s < '0' || *s > '9')
                return -EBADMSG;
        for (; *s >= '0' && *s <= '9'; s++) {
                if (v > (UINT64_MAX - (uint64_t) (*s - '0')) / 10)
                        return -EBADMSG;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        *p = s;
        *ret = v;
        return 0;
}

int cgroupfmt_keyed(const char *text, const char *key, uint64_t *ret) {
        size_t n = strlen(key);

        for (const char *p = text; p && *p;) {
                const char *end = strchrnul(p, '\n');

                if (strncmp(p, key, n) == 0 && p[n] == ' ') {
                        const char *v = p + n + 1;
                        int r = parse_u64(&v, ret);

                        if (r < 0 || (*v != '\n' && *v != '\0'))
                                return -EBADMSG;
                        return 0;
                }
                p = *end ? end + 1 : end;
        }
        return -ENOENT;
}

int cgroupfmt_io_bytes(const char *text, uint64_t *ret_read, uint64_t *ret_write) {
        uint64_t rd = 0, wr = 0;

        /* Lines "MAJ:MIN key=value key=value …": every whitespace-separated token is looked at, and only
         * rbytes and wbytes are summed (saturating). */
        for (const char *p = text; p && *p;) {
                size_t n = strcspn(p, " \n");
                uint64_t *sum = n > 7 && strncmp(p, "rbytes=", 7) == 0 ? &rd :
                        n > 7 && strncmp(p, "wbytes=", 7) == 0         ? &wr :
                                                                         NULL;

                if (sum) {
                        const char *v = p + 7;
                        uint64_t x;

                        if (parse_u64(&v, &x) < 0 || v != p + n)
                                return -EBADMSG;
                        *sum = x > UINT64_MAX - *sum ? UINT64_MAX : *sum + x;
                }
                p += n;
                p += strspn(p, " \n");
        }
        *ret_read = rd;
        *ret_write = wr;
        return 0;
}

static char *names(unsigned mask, const char *plus, char buf[static CGROUPFMT_NAMES_MAX]) {
        size_t len = 0;

        buf[0] = '\0';
        for (unsigned bit = 1; bit & RESOURCES_ALL; bit <<= 1)
                if (mask & bit)
                        len += (size_t) snprintf(buf + len, CGROUPFMT_NAMES_MAX - len, "%s%s%s",
                                                 len > 0 ? " " : "", plus, resources_controller_name(bit));
        return buf;
}

char *cgroupfmt_controller_names(unsigned mask, char buf[static CGROUPFMT_NAMES_MAX]) {
        return names(mask, "", buf);
}

char *cgroupfmt_enable_line(unsigned mask, char buf[static CGROUPFMT_NAMES_MAX]) {
        return names(mask, "+", buf);
}

int cgroupfmt_attempt_path(char *buf, size_t size, uid_t uid, uint64_t job, const char *log_name) {
        size_t n = strlen(log_name);
        int len;

        if (n > 4 && strcmp(log_name + n - 4, ".log") == 0)
                n -= 4;
        len = snprintf(buf, size, "user-%u/job-%" PRIu64 "/%.*s", (unsigned) uid, job, (int) n, log_name);
        if (len < 0 || (size_t) len >= size)
                return -ENAMETOOLONG;
        return len;
}
