/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Job files: "resources" of the job, of "defaults" or of a node: the cgroup limits of each attempt
 * (memory_max, memory_high, cpu_max, cpu_weight, io_weight, pids_max). One object, validated member by
 * member; the value grammars and bounds are resources.c's, the JSON types and messages are here.
 *
 * Invariants: a field's bit is in Resources.set whenever the field is present, valid or not (an invalid
 * one records an error, so the job is rejected anyway); a valid field's value is within resources.h's
 * bounds.
 *
 * Deliberately does not: merge the levels (jobspec-node.c, with resources_merge()) or decide whether the
 * host can enforce them (resources_check(), at intake).
 */

#include <inttypes.h>

#include "jobspec-internal.h"
#include "json-util.h"
#include "resources.h"

#define SIZE_FORMS                                                                                       \
        "a size: bytes as an integer, or a string with a binary unit K, M, G or T and up to 3 decimals " \
        "(\"512M\", \"1.5G\"), or \"max\" for no limit"
#define CPU_FORMS \
        "cores as a number or a string with up to 5 decimals (1.5, \"0.25\"), or \"max\" for no limit"
#define PIDS_FORMS "an integer from 1 to 4194304, or \"max\" for no limit"

/* The string "max": the field is set, to no limit (overriding the job level's value). */
static bool is_max(json_object *v) {
        return json_object_is_type(v, json_type_string) && streq(json_object_get_string(v), "max");
}

static void bad_value(JobCtx *c, const JsonPath *path, json_object *v, const char *forms) {
        char buf[VALUE_DESC_BUF];

        jobspec_add_error(c, path, "expected %s, got %s", forms, jobspec_describe(v, buf));
}

static void parse_size(JobCtx *c, const JsonPath *path, json_object *v, uint64_t *ret) {
        uint64_t bytes;
        int r;

        if (is_max(v)) {
                *ret = UINT64_MAX;
                return;
        }
        if (json_object_is_type(v, json_type_int)) {
                int64_t i = json_object_get_int64(v);
                r = i < 0 ? -ERANGE : 0;
                bytes = (uint64_t) i;
                if (r >= 0 && bytes > RESOURCES_MEMORY_LIMIT)
                        r = -ERANGE;
        } else if (json_object_is_type(v, json_type_string) &&
                   !memchr(json_object_get_string(v), 0, (size_t) json_object_get_string_len(v)))
                r = resources_parse_size(json_object_get_string(v), &bytes);
        else
                r = -EINVAL;
        if (r == -EINVAL)
                return bad_value(c, path, v, SIZE_FORMS);
        if (r < 0 || bytes < RESOURCES_MEMORY_MIN) {
                char buf[VALUE_DESC_BUF];
                jobspec_add_error(c, path, "must be between 1M and 1024T (a plain integer is bytes), got %s",
                                  jobspec_describe(v, buf));
                return;
        }
        *ret = bytes;
}

static void parse_cpu(JobCtx *c, const JsonPath *path, json_object *v, uint64_t *ret) {
        uint64_t quota;
        int r;

        if (is_max(v)) {
                *ret = 0;
                return;
        }
        if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
                r = resources_cpu_from_cores(json_object_get_double(v), &quota);
        else if (json_object_is_type(v, json_type_string) &&
                 !memchr(json_object_get_string(v), 0, (size_t) json_object_get_string_len(v)))
                r = resources_parse_cpu(json_object_get_string(v), &quota);
        else
                r = -EINVAL;
        if (r == -EINVAL)
                return bad_value(c, path, v, CPU_FORMS);
        if (r < 0) {
                char buf[VALUE_DESC_BUF];
                jobspec_add_error(c, path, "must be between 0.01 and 1024 cores, got %s",
                                  jobspec_describe(v, buf));
                return;
        }
        *ret = quota;
}

static void parse_weight(JobCtx *c, const JsonPath *path, json_object *v, uint32_t *ret) {
        int64_t i;

        if (jobspec_get_int(c, path, v, RESOURCES_WEIGHT_MIN, RESOURCES_WEIGHT_LIMIT, &i))
                *ret = (uint32_t) i;
}

static void parse_pids(JobCtx *c, const JsonPath *path, json_object *v, uint64_t *ret) {
        int64_t i;

        if (is_max(v)) {
                *ret = 0;
                return;
        }
        if (!json_object_is_type(v, json_type_int))
                return bad_value(c, path, v, PIDS_FORMS);
        if (jobspec_get_int(c, path, v, 1, (int64_t) RESOURCES_PIDS_LIMIT, &i))
                *ret = (uint64_t) i;
}

void jobspec_parse_resources(JobCtx *c, const JsonPath *path, json_object *v, Resources *r) {
        static const char *const names[_RES_FIELD_MAX] = {
                [RES_MEMORY_MAX] = "memory_max", [RES_MEMORY_HIGH] = "memory_high",
                [RES_CPU_MAX] = "cpu_max",       [RES_CPU_WEIGHT] = "cpu_weight",
                [RES_IO_WEIGHT] = "io_weight",   [RES_PIDS_MAX] = "pids_max",
        };

        resources_init(r);
        if (!jobspec_expect_type(c, path, v, json_type_object,
                                 "an object of limits (memory_max, memory_high, cpu_max, cpu_weight, "
                                 "io_weight, pids_max)"))
                return;
        json_object_object_foreach(v, key, val) {
                JsonPath kp = JSON_PATH_KEY(path, key);
                int f = jobspec_field_lookup(names, _RES_FIELD_MAX, key);

                if (f < 0) {
                        jobspec_unknown_field(c, path, key, names, _RES_FIELD_MAX, false);
                        continue;
                }
                r->set |= 1U << f;
                switch (f) {
                case RES_MEMORY_MAX:
                        parse_size(c, &kp, val, &r->memory_max);
                        break;
                case RES_MEMORY_HIGH:
                        parse_size(c, &kp, val, &r->memory_high);
                        break;
                case RES_CPU_MAX:
                        parse_cpu(c, &kp, val, &r->cpu_max_usec);
                        break;
                case RES_CPU_WEIGHT:
                        parse_weight(c, &kp, val, &r->cpu_weight);
                        break;
                case RES_IO_WEIGHT:
                        parse_weight(c, &kp, val, &r->io_weight);
                        break;
                case RES_PIDS_MAX:
                        parse_pids(c, &kp, val, &r->pids_max);
                        break;
                }
        }
}
