/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for resources.c: the size and cpu grammars (bounds, overflow, hostile strings), the merge of
 * job and node levels, the controllers a set of limits needs, the exact cgroup writes, the "cannot enforce"
 * message, cgroup.controllers parsing, and UserCPUWeight= entries and lookups.
 */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "resources.h"

#define KiB UINT64_C(1024)
#define MiB (KiB * 1024)
#define GiB (MiB * 1024)
#define TiB (GiB * 1024)

static void test_fields(void **state) {
        for (int f = 0; f < _RES_FIELD_MAX; f++) {
                assert_int_equal(resource_field_from_string(resource_field_to_string(f)), f);
                assert_non_null(resources_controller_name(resource_field_controller(f)));
        }
        assert_int_equal(resource_field_from_string("memory"), -EINVAL);
        assert_int_equal(resource_field_from_string(NULL), -EINVAL);
        assert_null(resource_field_to_string(_RES_FIELD_MAX));
        assert_int_equal(resource_field_controller(-1), 0);
        assert_null(resources_controller_name(0));
        assert_null(resources_controller_name(RESOURCES_CPU | RESOURCES_IO));
        assert_string_equal(resources_controller_name(RESOURCES_MEMORY), "memory");
}

static void test_size(void **state) {
        static const struct {
                const char *s;
                int want;
                uint64_t v;
        } cases[] = {
                { "536870912", 0, 512 * MiB },
                { "512M", 0, 512 * MiB },
                { "2G", 0, 2 * GiB },
                { "1.5G", 0, GiB + GiB / 2 },
                { "0.25T", 0, TiB / 4 },
                { "1.125K", 0, 1152 },
                { "1.001K", 0, 1025 },      /* 1025.024 bytes, floored */
                { "0512M", 0, 512 * MiB },  /* leading zeros are harmless here */
                { "1024T", 0, 1024 * TiB }, /* the upper bound itself */
                { "0", 0, 0 },              /* the grammar's; the job parser's minimum is 1M */
                { "1025T", -ERANGE, 0 },
                { "1048577G", -ERANGE, 0 },
                { "1125899906842625", -ERANGE, 0 }, /* 2^50 + 1 bytes */
                { "18446744073709551616", -ERANGE, 0 },
                { "99999999999999999999999999999999999999999999999999999999999999999T", -ERANGE, 0 },
                { "", -EINVAL, 0 },
                { "M", -EINVAL, 0 },
                { "12Q", -EINVAL, 0 },
                { "1e999", -EINVAL, 0 },
                { "1.5", -EINVAL, 0 }, /* a fraction of a byte */
                { "1.", -EINVAL, 0 },
                { ".5G", -EINVAL, 0 },
                { "1.2345G", -EINVAL, 0 }, /* 3 decimals at most */
                { "512m", -EINVAL, 0 },    /* units are upper case, as in systemd */
                { "512MB", -EINVAL, 0 },
                { "512Mi", -EINVAL, 0 },
                { "-1", -EINVAL, 0 },
                { "+1M", -EINVAL, 0 },
                { " 1M", -EINVAL, 0 },
                { "1M ", -EINVAL, 0 },
                { "0x10M", -EINVAL, 0 },
                { "inf", -EINVAL, 0 },
                { "max", -EINVAL, 0 }, /* "max" is the job parser's, not a size */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t v = 42;
                int r = resources_parse_size(cases[i].s, &v);

                print_message("size \"%s\" -> %d %" PRIu64 "\n", cases[i].s, r, v);
                assert_int_equal(r, cases[i].want);
                assert_int_equal(v, cases[i].want == 0 ? cases[i].v : 42); /* untouched on error */
        }
        assert_int_equal(resources_parse_size(NULL, &(uint64_t){ 0 }), -EINVAL);
}

static void test_cpu(void **state) {
        static const struct {
                const char *s;
                int want;
                uint64_t quota;
        } cases[] = {
                { "1.5", 0, 150000 },
                { "1", 0, 100000 },
                { "0.01", 0, 1000 },
                { "0.25", 0, 25000 },
                { "1024", 0, 102400000 },
                { "2.00001", 0, 200001 },
                { "0.00999", -ERANGE },
                { "0", -ERANGE },
                { "1024.00001", -ERANGE },
                { "1025", -ERANGE },
                { "99999999999999999999", -ERANGE },
                { "", -EINVAL },
                { ".5", -EINVAL },
                { "1.", -EINVAL },
                { "1.000001", -EINVAL }, /* finer than 1 µs per period */
                { "1e3", -EINVAL },
                { "-1", -EINVAL },
                { "1.5 ", -EINVAL },
                { "150%", -EINVAL },
                { "nan", -EINVAL },
                { "max", -EINVAL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t q = 42;
                int r = resources_parse_cpu(cases[i].s, &q);

                print_message("cpu \"%s\" -> %d %" PRIu64 "\n", cases[i].s, r, q);
                assert_int_equal(r, cases[i].want);
                assert_int_equal(q, cases[i].want == 0 ? cases[i].quota : 42);
        }
}

static void test_cpu_number(void **state) {
        uint64_t q = 42;

        assert_int_equal(resources_cpu_from_cores(1.5, &q), 0);
        assert_int_equal(q, 150000);
        assert_int_equal(resources_cpu_from_cores(0.01, &q), 0);
        assert_int_equal(q, 1000);
        assert_int_equal(resources_cpu_from_cores(1024, &q), 0);
        assert_int_equal(q, 102400000);
        assert_int_equal(resources_cpu_from_cores(1.0 / 3, &q), 0);
        assert_int_equal(q, 33333); /* rounded to the µs */
        q = 42;
        assert_int_equal(resources_cpu_from_cores(0.0099, &q), -ERANGE);
        assert_int_equal(resources_cpu_from_cores(0, &q), -ERANGE);
        assert_int_equal(resources_cpu_from_cores(-1, &q), -ERANGE);
        assert_int_equal(resources_cpu_from_cores(1024.1, &q), -ERANGE);
        assert_int_equal(resources_cpu_from_cores(1e300, &q), -ERANGE);
        assert_int_equal(resources_cpu_from_cores(INFINITY, &q), -ERANGE);
        assert_int_equal(resources_cpu_from_cores(-INFINITY, &q), -ERANGE);
        assert_int_equal(resources_cpu_from_cores(NAN, &q), -ERANGE);
        assert_int_equal(q, 42);
}

static void test_merge(void **state) {
        Resources job = RESOURCES_NULL, node = RESOURCES_NULL;

        job.memory_max = 2 * GiB;
        job.cpu_weight = 50;
        job.pids_max = 100;
        job.set = 1U << RES_MEMORY_MAX | 1U << RES_CPU_WEIGHT | 1U << RES_PIDS_MAX;
        /* The node lifts the memory limit ("max"), changes the weight, adds a cpu quota. */
        node.memory_max = UINT64_MAX;
        node.cpu_weight = 200;
        node.cpu_max_usec = 150000;
        node.set = 1U << RES_MEMORY_MAX | 1U << RES_CPU_WEIGHT | 1U << RES_CPU_MAX;
        resources_merge(&job, &node);
        assert_int_equal(job.memory_max, UINT64_MAX);
        assert_int_equal(job.memory_high, UINT64_MAX);
        assert_int_equal(job.cpu_weight, 200);
        assert_int_equal(job.cpu_max_usec, 150000);
        assert_int_equal(job.pids_max, 100); /* kept: the node did not name it */
        assert_int_equal(job.io_weight, 0);
        assert_int_equal(resources_controllers(&job), RESOURCES_CPU | RESOURCES_PIDS);

        /* An empty overlay changes nothing. */
        Resources before = job, none = RESOURCES_NULL;
        resources_merge(&job, &none);
        assert_memory_equal(&job, &before, sizeof job);
}

static void test_controllers_and_writes(void **state) {
        Resources r;
        CgroupWrite w[RESOURCES_WRITES_MAX];
        size_t n;

        resources_init(&r);
        assert_true(resources_is_empty(&r));
        assert_int_equal(resources_controllers(&r), 0);
        assert_int_equal(resources_writes(&r, w), 0);

        r.memory_max = 512 * MiB;
        r.memory_high = 384 * MiB;
        r.cpu_max_usec = 150000;
        r.cpu_weight = 200;
        r.io_weight = 300;
        r.pids_max = 64;
        assert_false(resources_is_empty(&r));
        assert_int_equal(resources_controllers(&r), RESOURCES_ALL);
        n = resources_writes(&r, w);
        assert_int_equal(n, 6);
        assert_string_equal(w[0].file, "cpu.weight");
        assert_string_equal(w[0].value, "200");
        assert_string_equal(w[1].file, "cpu.max");
        assert_string_equal(w[1].value, "150000 100000");
        assert_string_equal(w[2].file, "io.weight");
        assert_string_equal(w[2].value, "default 300");
        assert_string_equal(w[3].file, "memory.high");
        assert_string_equal(w[3].value, "402653184");
        assert_string_equal(w[4].file, "memory.max");
        assert_string_equal(w[4].value, "536870912");
        assert_string_equal(w[5].file, "pids.max");
        assert_string_equal(w[5].value, "64");

        /* The largest values fit the value buffer. */
        r = (Resources){ .memory_max = 1024 * TiB,
                         .memory_high = 1024 * TiB,
                         .cpu_max_usec = 102400000,
                         .cpu_weight = 10000,
                         .io_weight = 10000,
                         .pids_max = 4194304 };
        n = resources_writes(&r, w);
        assert_int_equal(n, 6);
        assert_string_equal(w[1].value, "102400000 100000");
        assert_string_equal(w[2].value, "default 10000");
        assert_string_equal(w[4].value, "1125899906842624");

        resources_init(&r);
        r.pids_max = 10;
        assert_int_equal(resources_controllers(&r), RESOURCES_PIDS);
        n = resources_writes(&r, w);
        assert_int_equal(n, 1);
        assert_string_equal(w[0].file, "pids.max");
}

static void test_check(void **state) {
        Resources r = RESOURCES_NULL;
        char *why = NULL;

        /* Nothing to enforce: fine anywhere, even without a cgroup. */
        assert_int_equal(resources_check(&r, 0, &why), 0);
        assert_null(why);

        r.memory_max = 512 * MiB;
        r.pids_max = 10;
        assert_int_equal(resources_check(&r, RESOURCES_ALL, &why), 0);
        assert_int_equal(resources_check(&r, RESOURCES_MEMORY | RESOURCES_PIDS, &why), 0);
        assert_null(why);

        assert_int_equal(resources_check(&r, 0, &why), -EOPNOTSUPP);
        assert_string_equal(why,
                            "resources.memory_max needs the cgroup v2 memory controller, which this host "
                            "does not delegate to orchd (available: none)");
        free(why);
        why = NULL;
        assert_int_equal(resources_check(&r, RESOURCES_CPU | RESOURCES_MEMORY | RESOURCES_IO, &why),
                         -EOPNOTSUPP);
        assert_string_equal(why,
                            "resources.pids_max needs the cgroup v2 pids controller, which this host "
                            "does not delegate to orchd (available: cpu memory io)");
        free(why);
        why = NULL;

        /* A field lifted to "max" needs no controller. */
        r = (Resources) RESOURCES_NULL;
        r.set = 1U << RES_MEMORY_MAX;
        assert_int_equal(resources_check(&r, 0, &why), 0);
}

static void test_controllers_parse(void **state) {
        assert_int_equal(resources_controllers_parse("cpuset cpu io memory hugetlb pids rdma misc\n"),
                         RESOURCES_ALL);
        assert_int_equal(resources_controllers_parse(""), 0);
        assert_int_equal(resources_controllers_parse("\n"), 0);
        assert_int_equal(resources_controllers_parse(NULL), 0);
        assert_int_equal(resources_controllers_parse("cpuset memoryx cpu\n"), RESOURCES_CPU);
        assert_int_equal(resources_controllers_parse("pids"), RESOURCES_PIDS);
        assert_int_equal(resources_controllers_parse("  memory\t io  "), RESOURCES_MEMORY | RESOURCES_IO);
}

static void test_user_weights(void **state) {
        UserWeights w = {}, c = {};
        const char *why;

        assert_int_equal(user_weights_lookup(&w, 1000, "alice"), RESOURCES_WEIGHT_DEFAULT);
        assert_int_equal(user_weights_lookup(NULL, 1000, NULL), 100);

        assert_int_equal(user_weights_add(&w, "alice:200  bob:50\t1001:300", &why), 0);
        assert_int_equal(w.n, 3);
        assert_int_equal(user_weights_lookup(&w, 1000, "alice"), 200);
        assert_int_equal(user_weights_lookup(&w, 1002, "bob"), 50);
        assert_int_equal(user_weights_lookup(&w, 1001, "carol"), 300); /* by uid */
        assert_int_equal(user_weights_lookup(&w, 1001, NULL), 300);
        assert_int_equal(user_weights_lookup(&w, 1003, "dave"), 100);
        assert_int_equal(user_weights_lookup(&w, 1003, NULL), 100);

        /* A later entry wins; lists add up as AllowUsers= does. */
        assert_int_equal(user_weights_add(&w, "alice:10000", &why), 0);
        assert_int_equal(user_weights_lookup(&w, 1000, "alice"), 10000);

        assert_int_equal(user_weights_copy(&c, &w), 0);
        assert_true(user_weights_equal(&c, &w));
        assert_int_equal(user_weights_add(&c, "erin:1", &why), 0);
        assert_false(user_weights_equal(&c, &w));

        /* Errors leave the list as it was and say why. */
        static const struct {
                const char *v;
                int want;
        } bad[] = {
                { "alice", -EINVAL },
                { "alice:", -EINVAL },
                { ":100", -EINVAL },
                { "alice:0", -ERANGE },
                { "alice:10001", -ERANGE },
                { "alice:-1", -EINVAL },
                { "alice:1e3", -EINVAL },
                { "alice:99999999999999999999999", -ERANGE },
                { "al/ice:100", -EINVAL },
                { "-alice:100", -EINVAL },
                { "alice:100 bob", -EINVAL },
                { "a:b:100", -EINVAL },
                { "abcdefghijklmnopqrstuvwxyzabcdefg:100", -EINVAL }, /* 33 characters */
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                why = NULL;
                assert_int_equal(user_weights_add(&w, bad[i].v, &why), bad[i].want);
                assert_non_null(why);
                assert_int_equal(w.n, 4);
        }

        /* "" empties the list. */
        assert_int_equal(user_weights_add(&w, "", &why), 0);
        assert_int_equal(w.n, 0);
        assert_int_equal(user_weights_lookup(&w, 1000, "alice"), 100);
        user_weights_done(&w);
        user_weights_done(&c);
}

static void test_user_weights_limit(void **state) {
        UserWeights w = {};
        const char *why;
        char *big = malloc(1025 * 8 + 1), *p = big;

        assert_non_null(big);
        for (int i = 0; i < 1025; i++)
                p += sprintf(p, "%d:1 ", 1000 + i);
        assert_int_equal(user_weights_add(&w, big, &why), -ERANGE);
        assert_int_equal(w.n, 0);
        free(big);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fields),       cmocka_unit_test(test_size),
                cmocka_unit_test(test_cpu),          cmocka_unit_test(test_cpu_number),
                cmocka_unit_test(test_merge),        cmocka_unit_test(test_controllers_and_writes),
                cmocka_unit_test(test_check),        cmocka_unit_test(test_controllers_parse),
                cmocka_unit_test(test_user_weights), cmocka_unit_test(test_user_weights_limit),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
