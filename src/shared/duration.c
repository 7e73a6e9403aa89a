/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Durations of SPEC §3 ↔ microseconds.
 *
 * Owns the string grammar: one or more groups NUMBER UNIT, NUMBER = DIGITS [ "." DIGITS ], UNIT one of
 * d h m s ms, units strictly descending and each at most once ("1h30m", "1m30s", "1.5s", "250ms"); or a
 * bare NUMBER meaning seconds ("30", "0.5"). Deliberately strict, because a job file is data a user
 * wants to be told about: no signs, no whitespace anywhere ("1m 30s" is rejected), no empty string, no
 * ".5s" or "5.s", no unit other than the five, no repeated or ascending units ("30s1m", "1m1m").
 * Fractions finer than 1 µs are truncated. Anything that does not fit in uint64 µs (or equals
 * USEC_INFINITY, which callers use as "never") is -ERANGE.
 */

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"
#include "macro.h"

static const struct {
        const char *suffix;
        uint64_t usec;
} units[] = {
        /* Longest suffix first where one is a prefix of another ("ms" before "m"). Order = descending. */
        { "d", 24 * 60 * 60 * USEC_PER_SEC },
        { "h", 60 * 60 * USEC_PER_SEC },
        { "m", 60 * USEC_PER_SEC },
        { "s", USEC_PER_SEC },
        { "ms", USEC_PER_MSEC },
};

static int add_checked(uint64_t *acc, uint64_t v) {
        if (v >= USEC_INFINITY - *acc)
                return -ERANGE;
        *acc += v;
        return 0;
}

/* Value of DIGITS[.DIGITS] at *s scaled by unit µs; advances *s. */
static int parse_group_number(const char **s, uint64_t unit, uint64_t *ret) {
        const char *p = *s;
        uint64_t whole = 0, frac = 0;

        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (whole > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                whole = whole * 10 + (uint64_t) (*p - '0');
        }
        if (*p == '.') {
                uint64_t scale = unit;

                p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                /* Each further digit is worth a tenth of the previous one; below 1 µs it is dropped. */
                for (; *p >= '0' && *p <= '9'; p++) {
                        scale /= 10;
                        frac += scale * (uint64_t) (*p - '0');
                }
        }
        if (whole > UINT64_MAX / unit)
                return -ERANGE;
        *ret = whole * unit;
        if (add_checked(ret, frac) < 0)
                return -ERANGE;
        *s = p;
        return 0;
}

static int match_unit(const char **s, size_t *ret_index) {
        /* "ms" must win over "m": try two-letter suffixes first. */
        if (strneq(*s, "ms", 2)) {
                *s += 2;
                *ret_index = 4;
                return 0;
        }
        for (size_t i = 0; i < 4; i++)
                if (**s == units[i].suffix[0]) {
                        (*s)++;
                        *ret_index = i;
                        return 0;
                }
        return -EINVAL;
}

static bool is_bare_number(const char *s) {
        size_t n = strspn(s, "0123456789");

        if (n == 0)
                return false;
        if (s[n] == '.') {
                size_t m = strspn(s + n + 1, "0123456789");
                return m > 0 && s[n + 1 + m] == '\0';
        }
        return s[n] == '\0';
}

int duration_parse(const char *s, uint64_t *ret_usec) {
        uint64_t total = 0;
        size_t last = SIZE_MAX;
        int r;

        if (!s || !*s)
                return -EINVAL;

        if (is_bare_number(s)) {
                r = parse_group_number(&s, USEC_PER_SEC, &total);
                if (r < 0)
                        return r;
                if (total == USEC_INFINITY)
                        return -ERANGE;
                *ret_usec = total;
                return 0;
        }

        while (*s) {
                uint64_t v;
                size_t u;
                const char *num = s;

                /* Find the unit first: the number's scale depends on it. */
                s += strspn(s, "0123456789.");
                if (s == num || match_unit(&s, &u) < 0)
                        return -EINVAL;
                if (last != SIZE_MAX && u <= last)
                        return -EINVAL; /* repeated or ascending unit */
                last = u;

                r = parse_group_number(&num, units[u].usec, &v);
                if (r < 0)
                        return r;
                if (num + strlen(units[u].suffix) != s)
                        return -EINVAL; /* e.g. "1.2.3s" */
                r = add_checked(&total, v);
                if (r < 0)
                        return r;
        }
        *ret_usec = total;
        return 0;
}

int duration_from_seconds(double sec, uint64_t *ret_usec) {
        double us;

        if (isnan(sec))
                return -EINVAL;
        if (sec < 0)
                return -ERANGE;
        /* Round to the nearest µs by hand: round() would pull in libm for this one call. 2^64 is exact as
         * a double; anything at or above it (or infinite) cannot be stored. */
        us = sec * (double) USEC_PER_SEC + 0.5;
        if (!(us < 18446744073709551616.0))
                return -ERANGE;
        if ((uint64_t) us == USEC_INFINITY)
                return -ERANGE;
        *ret_usec = (uint64_t) us;
        return 0;
}

char *duration_format(uint64_t usec, char *buf, size_t size) {
        size_t n = 0;

        assert(buf && size > 0);
        buf[0] = '\0';
        if (usec == 0) {
                (void) snprintf(buf, size, "0");
                return buf;
        }

        for (size_t i = 0; i < ELEMENTSOF(units) && usec > 0 && n < size; i++) {
                uint64_t q = usec / units[i].usec;

                /* Sub-millisecond remainders have no unit: write seconds as a decimal instead ("1.0005s").
                 */
                if (units[i].usec == USEC_PER_SEC && usec % USEC_PER_MSEC != 0) {
                        char frac[8];
                        size_t l = (size_t) snprintf(frac, sizeof frac, "%06u",
                                                     (unsigned) (usec % USEC_PER_SEC));
                        while (l > 0 && frac[l - 1] == '0')
                                frac[--l] = '\0';
                        n += (size_t) snprintf(buf + n, size - n, "%llu.%ss", (unsigned long long) q, frac);
                        break;
                }
                if (q == 0)
                        continue;
                n += (size_t) snprintf(buf + n, size - n, "%llu%s", (unsigned long long) q, units[i].suffix);
                usec %= units[i].usec;
        }
        return buf;
}
