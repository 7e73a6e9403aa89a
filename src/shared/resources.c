/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * resources.c — the values behind a node's cgroup: the job file's "resources" (sizes, cores, weights, pids)
 * and orchd.conf's UserCPUWeight=, and the cgroup v2 files that apply them.
 *
 * Invariants: every parsed value is within the bounds of resources.h (so resources_writes() never formats
 * a value the kernel would refuse), parsing is exact integer arithmetic that saturates instead of
 * overflowing, and a Resources' value fields hold their "unset" value exactly when no limit applies.
 * Deliberately not here: JSON and its error paths (jobspec-resources.c), reading or writing cgroup files
 * (the daemon), logging.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resources.h"

#define USER_WEIGHTS_MAX 1024

static const struct {
        const char *name;
        unsigned controller;
} fields[_RES_FIELD_MAX] = {
        [RES_MEMORY_MAX] = { "memory_max", RESOURCES_MEMORY },
        [RES_MEMORY_HIGH] = { "memory_high", RESOURCES_MEMORY },
        [RES_CPU_MAX] = { "cpu_max", RESOURCES_CPU },
        [RES_CPU_WEIGHT] = { "cpu_weight", RESOURCES_CPU },
        [RES_IO_WEIGHT] = { "io_weight", RESOURCES_IO },
        [RES_PIDS_MAX] = { "pids_max", RESOURCES_PIDS },
};

static const char *const controller_names[] = { "cpu", "memory", "pids", "io" };

void resources_init(Resources *r) {
        assert(r);
        *r = RESOURCES_NULL;
}

bool resources_is_empty(const Resources *r) {
        return resources_controllers(r) == 0;
}

const char *resource_field_to_string(ResourceField f) {
        return f >= 0 && f < _RES_FIELD_MAX ? fields[f].name : NULL;
}

ResourceField resource_field_from_string(const char *s) {
        for (int f = 0; s && f < _RES_FIELD_MAX; f++)
                if (streq(s, fields[f].name))
                        return (ResourceField) f;
        return _RES_FIELD_INVALID;
}

unsigned resource_field_controller(ResourceField f) {
        return f >= 0 && f < _RES_FIELD_MAX ? fields[f].controller : 0;
}

const char *resources_controller_name(unsigned bit) {
        for (size_t i = 0; i < ELEMENTSOF(controller_names); i++)
                if (bit == 1U << i)
                        return controller_names[i];
        return NULL;
}

/* Digits into *ret, saturating at limit + 1 so a 40-digit number is "too large", not wrapped. Returns the
 * number of digits read. */
static size_t parse_digits(const char **p, uint64_t limit, uint64_t *ret) {
        uint64_t v = 0;
        size_t n = 0;

        for (; **p >= '0' && **p <= '9'; (*p)++, n++)
                v = v > limit ? limit + 1 : v * 10 + (uint64_t) (**p - '0');
        *ret = MIN(v, limit + 1);
        return n;
}

int resources_parse_size(const char *s, uint64_t *ret) {
        uint64_t whole, frac = 0, frac_div = 1, mult = 1, v;
        const char *p = s, *u;

        if (!s || parse_digits(&p, RESOURCES_MEMORY_LIMIT, &whole) == 0)
                return -EINVAL;
        if (*p == '.') {
                for (p++; *p >= '0' && *p <= '9'; p++) {
                        if (frac_div == 1000)
                                return -EINVAL; /* more than 3 decimals */
                        frac = frac * 10 + (uint64_t) (*p - '0');
                        frac_div *= 10;
                }
                if (frac_div == 1)
                        return -EINVAL; /* "1." */
        }
        if (*p != '\0') {
                u = strchr("KMGT", *p);
                if (!u || p[1] != '\0')
                        return -EINVAL;
                mult = UINT64_C(1) << (10 * (u - "KMGT" + 1));
        } else if (frac_div > 1)
                return -EINVAL; /* a fraction of a byte */
        if (whole > RESOURCES_MEMORY_LIMIT / mult)
                return -ERANGE;
        v = whole * mult + frac * mult / frac_div; /* frac * mult ≤ 999 · 2^40: no overflow */
        if (v > RESOURCES_MEMORY_LIMIT)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int cpu_check(uint64_t quota, uint64_t *ret) {
        if (quota < RESOURCES_CPU_QUOTA_MIN || quota > RESOURCES_CPU_QUOTA_LIMIT)
                return -ERANGE;
        *ret = quota;
        return 0;
}

int resources_parse_cpu(const char *s, uint64_t *ret_quota_usec) {
        uint64_t whole, frac = 0, scale = RESOURCES_CPU_PERIOD_USEC;
        const char *p = s;

        if (!s || parse_digits(&p, 1024, &whole) == 0)
                return -EINVAL;
        if (*p == '.') {
                for (p++; *p >= '0' && *p <= '9'; p++) {
                        if (scale == 1)
                                return -EINVAL; /* finer than 1 µs per period: 5 decimals at most */
                        scale /= 10;
                        frac += (uint64_t) (*p - '0') * scale;
                }
                if (scale == RESOURCES_CPU_PERIOD_USEC)
                        return -EINVAL; /* "1." */
        }
        if (*p != '\0')
                return -EINVAL;
        return cpu_check(whole * RESOURCES_CPU_PERIOD_USEC + frac, ret_quota_usec);
}

int resources_cpu_from_cores(double cores, uint64_t *ret_quota_usec) {
        /* The range test comes first and is false for NaN, so the conversion below is always defined. */
        if (!(cores >= 0.0 && cores <= 1024.0))
                return -ERANGE;
        return cpu_check((uint64_t) (cores * (double) RESOURCES_CPU_PERIOD_USEC + 0.5), ret_quota_usec);
}

void resources_merge(Resources *dst, const Resources *over) {
        assert(dst);
        assert(over);

        if (over->set & (1U << RES_MEMORY_MAX))
                dst->memory_max = over->memory_max;
        if (over->set & (1U << RES_MEMORY_HIGH))
                dst->memory_high = over->memory_high;
        if (over->set & (1U << RES_CPU_MAX))
                dst->cpu_max_usec = over->cpu_max_usec;
        if (over->set & (1U << RES_CPU_WEIGHT))
                dst->cpu_weight = over->cpu_weight;
        if (over->set & (1U << RES_IO_WEIGHT))
                dst->io_weight = over->io_weight;
        if (over->set & (1U << RES_PIDS_MAX))
                dst->pids_max = over->pids_max;
        dst->set |= over->set;
}

/* The fields of r that carry a limit, as 1U << ResourceField. */
static unsigned limited_fields(const Resources *r) {
        return (r->memory_max != UINT64_MAX) << RES_MEMORY_MAX |
                (r->memory_high != UINT64_MAX) << RES_MEMORY_HIGH | (r->cpu_max_usec != 0) << RES_CPU_MAX |
                (r->cpu_weight != 0) << RES_CPU_WEIGHT | (r->io_weight != 0) << RES_IO_WEIGHT |
                (r->pids_max != 0) << RES_PIDS_MAX;
}

unsigned resources_controllers(const Resources *r) {
        unsigned limited = limited_fields(r), mask = 0;

        for (int f = 0; f < _RES_FIELD_MAX; f++)
                if (limited & (1U << f))
                        mask |= fields[f].controller;
        return mask;
}

/* Append one write of `file` with the value formatted from fmt and v (a literal, so it is checked). */
#define ADD_WRITE(out, n, f, fmt, v)                                                              \
        do {                                                                                      \
                (out)[*(n)].file = (f);                                                           \
                (void) snprintf((out)[*(n)].value, sizeof(out)[*(n)].value, fmt, (uint64_t) (v)); \
                (*(n))++;                                                                         \
        } while (0)

size_t resources_writes(const Resources *r, CgroupWrite out[static RESOURCES_WRITES_MAX]) {
        size_t n = 0;

        if (r->cpu_weight != 0)
                ADD_WRITE(out, &n, "cpu.weight", "%" PRIu64, r->cpu_weight);
        if (r->cpu_max_usec != 0)
                ADD_WRITE(out, &n, "cpu.max", "%" PRIu64 " 100000", r->cpu_max_usec);
        if (r->io_weight != 0)
                ADD_WRITE(out, &n, "io.weight", "default %" PRIu64, r->io_weight);
        if (r->memory_high != UINT64_MAX)
                ADD_WRITE(out, &n, "memory.high", "%" PRIu64, r->memory_high);
        if (r->memory_max != UINT64_MAX)
                ADD_WRITE(out, &n, "memory.max", "%" PRIu64, r->memory_max);
        if (r->pids_max != 0)
                ADD_WRITE(out, &n, "pids.max", "%" PRIu64, r->pids_max);
        return n;
}

int resources_check(const Resources *r, unsigned available_mask, char **ret_reason) {
        unsigned limited = limited_fields(r);
        char avail[32] = "";

        assert(ret_reason);

        for (int f = 0; f < _RES_FIELD_MAX; f++) {
                if (!(limited & (1U << f)) || (available_mask & fields[f].controller))
                        continue;
                for (size_t i = 0; i < ELEMENTSOF(controller_names); i++)
                        if (available_mask & (1U << i)) {
                                strcat(avail, avail[0] ? " " : "");
                                strcat(avail, controller_names[i]);
                        }
                if (asprintf(ret_reason,
                             "resources.%s needs the cgroup v2 %s controller, which this host does not "
                             "delegate to orchd (available: %s)",
                             fields[f].name, resources_controller_name(fields[f].controller),
                             avail[0] ? avail : "none") < 0)
                        return -ENOMEM;
                return -EOPNOTSUPP;
        }
        return 0;
}

unsigned resources_controllers_parse(const char *text) {
        unsigned mask = 0;

        while (text && *text) {
                size_t len;

                text += strspn(text, " \t\n");
                len = strcspn(text, " \t\n");
                for (size_t i = 0; i < ELEMENTSOF(controller_names); i++)
                        if (len == strlen(controller_names[i]) && strneq(text, controller_names[i], len))
                                mask |= 1U << i;
                text += len;
        }
        return mask;
}

/* ---- UserCPUWeight= ---- */

/* A user name as useradd(8) allows it, or a uid: what conf.c accepts in AllowUsers=. */
static bool user_name_valid(const char *s, size_t n) {
        static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-$";

        if (n == 0 || n > 32 || s[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr(chars, s[i]) || s[i] == '\0')
                        return false;
        return true;
}

static int parse_entry(const char *w, UserWeight *ret, const char **ret_why) {
        const char *colon = strrchr(w, ':'), *p;
        uint64_t v;

        if (!colon || !user_name_valid(w, (size_t) (colon - w)))
                return *ret_why = "expected USER:WEIGHT entries (e.g. \"alice:200 bob:50\")", -EINVAL;
        p = colon + 1;
        if (parse_digits(&p, RESOURCES_WEIGHT_LIMIT, &v) == 0 || *p != '\0')
                return *ret_why = "a weight must be a number from 1 to 10000 (USER:WEIGHT)", -EINVAL;
        if (v < RESOURCES_WEIGHT_MIN || v > RESOURCES_WEIGHT_LIMIT)
                return *ret_why = "a weight must be a number from 1 to 10000 (USER:WEIGHT)", -ERANGE;
        ret->user = strndup(w, (size_t) (colon - w));
        if (!ret->user)
                return -ENOMEM;
        ret->weight = (uint32_t) v;
        return 0;
}

int user_weights_add(UserWeights *w, const char *value, const char **ret_why) {
        _cleanup_free_ char *copy = strdup(value);
        UserWeights next = {};
        char *save = NULL, *tok;
        int r;

        *ret_why = NULL;
        if (!copy)
                return -ENOMEM;
        if (value[0] == '\0') {
                user_weights_done(w);
                return 0;
        }
        r = user_weights_copy(&next, w);
        for (tok = strtok_r(copy, " \t", &save); r >= 0 && tok; tok = strtok_r(NULL, " \t", &save)) {
                UserWeight *e;

                if (next.n >= USER_WEIGHTS_MAX) {
                        *ret_why = "too many entries (at most 1024)";
                        r = -ERANGE;
                        break;
                }
                e = reallocarray(next.entries, next.n + 1, sizeof(UserWeight));
                if (!e) {
                        r = -ENOMEM;
                        break;
                }
                next.entries = e;
                r = parse_entry(tok, &e[next.n], ret_why);
                if (r >= 0)
                        next.n++;
        }
        if (r < 0) {
                user_weights_done(&next);
                return r;
        }
        user_weights_done(w);
        *w = next;
        return 0;
}

uint32_t user_weights_lookup(const UserWeights *w, uid_t uid, const char *user) {
        char num[16];

        (void) snprintf(num, sizeof num, "%u", (unsigned) uid);
        for (size_t i = w ? w->n : 0; i > 0; i--) {
                const UserWeight *e = &w->entries[i - 1];

                if (streq(e->user, num) || (user && streq(e->user, user)))
                        return e->weight;
        }
        return RESOURCES_WEIGHT_DEFAULT;
}

int user_weights_copy(UserWeights *dst, const UserWeights *src) {
        UserWeights c = {};

        if (src->n > 0) {
                c.entries = calloc(src->n, sizeof(UserWeight));
                if (!c.entries)
                        return -ENOMEM;
        }
        for (; c.n < src->n; c.n++) {
                c.entries[c.n].weight = src->entries[c.n].weight;
                c.entries[c.n].user = strdup(src->entries[c.n].user);
                if (!c.entries[c.n].user) {
                        user_weights_done(&c);
                        return -ENOMEM;
                }
        }
        user_weights_done(dst);
        *dst = c;
        return 0;
}

bool user_weights_equal(const UserWeights *a, const UserWeights *b) {
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (a->entries[i].weight != b->entries[i].weight ||
                    !streq(a->entries[i].user, b->entries[i].user))
                        return false;
        return true;
}

void user_weights_done(UserWeights *w) {
        for (size_t i = 0; i < w->n; i++)
                free(w->entries[i].user);
        free(w->entries);
        *w = (UserWeights){};
}
