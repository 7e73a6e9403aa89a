/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Resource limits of a node's cgroup (the job file's "resources", SPEC §3) and the per-user cpu.weight of
 * orchd.conf (UserCPUWeight=): their value grammars, the merge of job level and node level, which cgroup
 * v2 controllers a set of limits needs, and the exact cgroup files and values that apply them. Pure: no
 * file access, no logging; the cgroup runtime writes what resources_writes() returns.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* Fields of "resources", as bits of Resources.set; also the order of every list of them. */
typedef enum ResourceField {
        RES_MEMORY_MAX,
        RES_MEMORY_HIGH,
        RES_CPU_MAX,
        RES_CPU_WEIGHT,
        RES_IO_WEIGHT,
        RES_PIDS_MAX,
        _RES_FIELD_MAX,
        _RES_FIELD_INVALID = -EINVAL,
} ResourceField;

/* cgroup v2 controllers, as bits of a mask (cgroup.controllers names: "cpu", "memory", "pids", "io"). */
enum {
        RESOURCES_CPU = 1U << 0,
        RESOURCES_MEMORY = 1U << 1,
        RESOURCES_PIDS = 1U << 2,
        RESOURCES_IO = 1U << 3,
        RESOURCES_ALL = (1U << 4) - 1,
};

/* The period of cpu.max: quotas are µs per 100 ms, as systemd's CPUQuota= writes them. */
#define RESOURCES_CPU_PERIOD_USEC UINT64_C(100000)

/* Bounds of the job file's values (orchd.8 documents them). */
#define RESOURCES_MEMORY_MIN (UINT64_C(1) << 20)   /* 1M: less is a typo for megabytes, not a limit */
#define RESOURCES_MEMORY_LIMIT (UINT64_C(1) << 50) /* 1024T */
#define RESOURCES_CPU_QUOTA_MIN UINT64_C(1000)     /* 0.01 cores: the kernel's smallest cpu.max quota */
#define RESOURCES_CPU_QUOTA_LIMIT (UINT64_C(1024) * RESOURCES_CPU_PERIOD_USEC) /* 1024 cores */
#define RESOURCES_WEIGHT_MIN 1U
#define RESOURCES_WEIGHT_LIMIT 10000U
#define RESOURCES_WEIGHT_DEFAULT 100U          /* the kernel's default cpu.weight and io.weight */
#define RESOURCES_PIDS_LIMIT UINT64_C(4194304) /* PID_MAX_LIMIT on 64-bit */

/* One node's limits. A value field holds its "unset" value when the field was absent or "max" (no limit);
 * `set` remembers which fields the file named, so a node's "max" overrides the job level's limit. */
typedef struct Resources {
        uint64_t memory_max, memory_high; /* bytes, UINT64_MAX = unset / no limit */
        uint64_t cpu_max_usec;            /* quota per RESOURCES_CPU_PERIOD_USEC, 0 = unset / no limit */
        uint32_t cpu_weight, io_weight;   /* 1…10000, 0 = unset */
        uint64_t pids_max;                /* 1…4194304, 0 = unset / no limit */
        unsigned set;                     /* 1U << ResourceField for each field named */
} Resources;

/* One file write that applies a limit: write `value` to the attempt cgroup's `file`. */
typedef struct CgroupWrite {
        const char *file; /* "memory.max", static */
        char value[32];   /* "536870912", "150000 100000", "default 200" */
} CgroupWrite;

#define RESOURCES_WRITES_MAX 6

/* An empty Resources: every field unset. */
#define RESOURCES_NULL ((Resources){ .memory_max = UINT64_MAX, .memory_high = UINT64_MAX })

/* Initialize r to RESOURCES_NULL. */
void resources_init(Resources *r);
/* Whether r limits nothing (no controller needed, nothing to write). */
bool resources_is_empty(const Resources *r);

/* "memory_max", … and back (-EINVAL for an unknown name). */
const char *resource_field_to_string(ResourceField f);
ResourceField resource_field_from_string(const char *s);
/* The controller bit a field needs (RESOURCES_MEMORY for memory_max), 0 for an out-of-range field. */
unsigned resource_field_controller(ResourceField f);
/* "cpu", "memory", "pids", "io" for one controller bit; NULL for anything else. */
const char *resources_controller_name(unsigned bit);

/* A size: a whole number of bytes ("536870912"), or a number with one of the binary units K, M, G, T and up
 * to 3 decimals ("512M", "1.5G", "0.25T"). Returns 0 and *ret, -EINVAL (syntax) or -ERANGE (above
 * RESOURCES_MEMORY_LIMIT; the lower bound is the caller's). Never overflows. */
int resources_parse_size(const char *s, uint64_t *ret);
/* Cores as a string ("1.5", "2", "0.25": digits with up to 5 decimals) → cpu.max quota µs per 100 ms,
 * rounded to the µs. Returns 0, -EINVAL (syntax) or -ERANGE (outside 0.01…1024 cores). */
int resources_parse_cpu(const char *s, uint64_t *ret_quota_usec);
/* Cores as a number (1.5) → quota, likewise; NaN and infinities are -ERANGE. */
int resources_cpu_from_cores(double cores, uint64_t *ret_quota_usec);

/* Overlay: each field set in `over` replaces dst's (its value and its set bit). The job level is dst, the
 * node's own object (or "defaults"') is over. */
void resources_merge(Resources *dst, const Resources *over);

/* The controllers r needs: one bit per field with a limit (a field set to "max" needs none). */
unsigned resources_controllers(const Resources *r);

/* The cgroup writes that apply r to a fresh attempt cgroup, in a fixed order (cpu.weight, cpu.max,
 * io.weight, memory.high, memory.max, pids.max); fields without a limit are left at the kernel's default.
 * out has RESOURCES_WRITES_MAX entries. Returns how many were filled. */
size_t resources_writes(const Resources *r, CgroupWrite out[static RESOURCES_WRITES_MAX]);

/* Whether a host whose delegated cgroup offers available (a controller mask; 0 when there is no delegated
 * cgroup2 at all) can enforce r. Returns 0, -EOPNOTSUPP with *ret_reason (malloc'd) naming the first field
 * it cannot enforce, its controller and what is available, or -ENOMEM. */
int resources_check(const Resources *r, unsigned available_mask, char **ret_reason);

/* The controller mask of a cgroup.controllers (or cgroup.subtree_control) text: "cpuset cpu io memory
 * pids\n". Names orchd does not use are ignored. */
unsigned resources_controllers_parse(const char *text);

/* ---- UserCPUWeight= of orchd.conf: the cpu.weight of each user's cgroup ---- */

typedef struct UserWeight {
        char *user;      /* a login name, or a uid in decimal */
        uint32_t weight; /* 1…10000 */
} UserWeight;

typedef struct UserWeights {
        UserWeight *entries; /* in the order given; a later entry for the same user wins */
        size_t n;
} UserWeights;

/* Add the whitespace-separated USER:WEIGHT entries of value ("alice:200 bob:50 1001:300") to *w; "" empties
 * it. Returns 0, -EINVAL/-ERANGE with *ret_why (static text), or -ENOMEM. On error *w is unchanged. */
int user_weights_add(UserWeights *w, const char *value, const char **ret_why);
/* The weight of the user with this uid and login name (NULL if unknown): the last entry naming either,
 * else RESOURCES_WEIGHT_DEFAULT, so every user has an equal share unless configured. */
uint32_t user_weights_lookup(const UserWeights *w, uid_t uid, const char *user);
/* Replace *dst with a copy of src. Returns 0 or -ENOMEM (dst unchanged). */
int user_weights_copy(UserWeights *dst, const UserWeights *src);
/* Whether a and b have the same entries in the same order. */
bool user_weights_equal(const UserWeights *a, const UserWeights *b);
/* Free the entries; *w becomes empty. */
void user_weights_done(UserWeights *w);
