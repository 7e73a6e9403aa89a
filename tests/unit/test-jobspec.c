/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for job files. The golden tests walk TEST_DATA_DIR/{valid,invalid}/ *.json: a valid file's
 * canonical dump (below) must equal NAME.expected, an invalid file's jobspec_errors_format() output must.
 * ORCHD_REGEN=1 rewrites the .expected files instead of comparing (review the diff by hand!).
 * Also: a generated 100,000-node job, configurable limits, lookups, error rendering.
 */

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "duration.h"
#include "escape.h"
#include "jobspec.h"
#include "json-util.h"
#include "macro.h"

#ifndef TEST_DATA_DIR
#        error "TEST_DATA_DIR must point at tests/data/jobs"
#endif

/* ---- canonical dump: keys in alphabetical order, durations as duration_format() strings ---- */

static json_object *dump_duration(uint64_t usec, bool zero_is_none) {
        char buf[DURATION_STRING_MAX];

        if (zero_is_none && usec == 0)
                return NULL;
        return json_object_new_string(duration_format(usec, buf, sizeof buf));
}

static json_object *dump_strv(char **l) {
        json_object *a;

        if (!l)
                return NULL;
        a = json_object_new_array();
        for (char **i = l; *i; i++)
                json_object_array_add(a, json_object_new_string(*i));
        return a;
}

/* %g keeps 0.1 as "0.1" instead of json-c's 17 digits. */
static json_object *dump_double(double d) {
        char buf[32];

        (void) snprintf(buf, sizeof buf, "%g", d);
        return json_object_new_double_s(d, buf);
}

static json_object *dump_retry(const RetryPolicy *p) {
        json_object *o = json_object_new_object(), *codes;

        json_object_object_add(o, "attempts", json_object_new_int64(p->attempts));
        json_object_object_add(o, "delay", dump_duration(p->delay_usec, false));
        json_object_object_add(o, "factor", dump_double(p->factor));
        json_object_object_add(o, "jitter", dump_double(p->jitter));
        json_object_object_add(o, "max_delay", dump_duration(p->max_delay_usec, false));
        if (p->on_exit_any)
                codes = json_object_new_string("any");
        else {
                codes = json_object_new_array();
                for (int c = 1; c <= 255; c++)
                        if (p->on_exit[c / 8] & (1U << (c % 8)))
                                json_object_array_add(codes, json_object_new_int64(c));
        }
        json_object_object_add(o, p->on_exit_unless ? "unless_exit" : "on_exit", codes);
        json_object_object_add(o, "on_timeout", json_object_new_boolean(p->on_timeout));
        if (!p->on_oom) /* only when off, so that the other golden files need no "on_oom" line */
                json_object_object_add(o, "on_oom", json_object_new_boolean(false));
        return o;
}

/* Only when set, so that the golden files of jobs without one need no "umask" line. */
static void dump_umask(json_object *o, int umask) {
        char buf[8];

        if (umask < 0)
                return;
        snprintf(buf, sizeof(buf), "%04o", (unsigned) umask & 0777);
        json_object_object_add(o, "umask", json_object_new_string(buf));
}

/* Only when set, likewise. */
static void dump_abort_on_exit(json_object *o, const AbortOnExit *a) {
        json_object *v, *codes;

        if (!a->set)
                return;
        v = json_object_new_object();
        codes = json_object_new_array();
        for (int c = 0; c <= 255; c++)
                if (abort_on_exit_matches(a, c))
                        json_object_array_add(codes, json_object_new_int64(c));
        json_object_object_add(v, "codes", codes);
        json_object_object_add(v, "state", json_object_new_string(job_state_to_string(a->state)));
        json_object_object_add(o, "abort_on_exit", v);
}

/* Only when the node has limits, likewise: the cgroup writes that apply them. */
static void dump_resources(json_object *o, const Resources *r) {
        CgroupWrite w[RESOURCES_WRITES_MAX];
        json_object *v;
        size_t n;

        if (!r)
                return;
        v = json_object_new_object();
        n = resources_writes(r, w);
        for (size_t i = 0; i < n; i++)
                json_object_object_add(v, w[i].file, json_object_new_string(w[i].value));
        json_object_object_add(o, "resources", v);
}

static json_object *dump_node(const JobSpec *j, const NodeSpec *n) {
        json_object *o = json_object_new_object(), *after = json_object_new_array();

        for (uint32_t i = 0; i < n->n_after; i++)
                json_object_array_add(after, json_object_new_string(j->nodes[n->after[i]].id));
        json_object_object_add(o, "after", after);
        json_object_object_add(o, "allow_failure", json_object_new_boolean(n->allow_failure));
        json_object_object_add(o, "argv", dump_strv(n->argv));
        json_object_object_add(o, "cwd", n->cwd ? json_object_new_string(n->cwd) : NULL);
        json_object_object_add(o, "env", dump_strv(n->env));
        json_object_object_add(o, "id", json_object_new_string(n->id));
        json_object_object_add(o, "kill_grace", dump_duration(n->kill_grace_usec, false));
        json_object_object_add(o, "on_interrupt",
                               json_object_new_string(on_interrupt_to_string(n->on_interrupt)));
        json_object_object_add(o, "retry", dump_retry(&n->retry));
        json_object_object_add(o, "shell", json_object_new_boolean(n->shell));
        json_object_object_add(o, "timeout", dump_duration(n->timeout_usec, true));
        json_object_object_add(o, "when", json_object_new_string(trigger_rule_to_string(n->when)));
        dump_umask(o, n->umask);
        if (n->output_separate) /* only then, so that the other golden files need no "output" line */
                json_object_object_add(o, "output", json_object_new_string("separate"));
        dump_abort_on_exit(o, &n->abort_on_exit);
        dump_resources(o, n->resources);
        return o;
}

static char *dump_job(const JobSpec *j) {
        json_object *o = json_object_new_object(), *nodes = json_object_new_array();
        char *s;

        for (size_t i = 0; i < j->n_nodes; i++)
                json_object_array_add(nodes, dump_node(j, &j->nodes[i]));
        json_object_object_add(o, "cwd", j->cwd ? json_object_new_string(j->cwd) : NULL);
        json_object_object_add(o, "env", dump_strv(j->env));
        json_object_object_add(o, "fail_fast", json_object_new_boolean(j->fail_fast));
        json_object_object_add(o, "key", j->key ? json_object_new_string(j->key) : NULL);
        json_object_object_add(o, "max_parallel", json_object_new_int64(j->max_parallel));
        json_object_object_add(o, "name", json_object_new_string(j->name));
        json_object_object_add(o, "nodes", nodes);
        json_object_object_add(o, "priority", json_object_new_int64(j->priority));
        json_object_object_add(o, "timeout", dump_duration(j->timeout_usec, true));
        dump_umask(o, j->umask);
        if (asprintf(&s, "%s\n",
                     json_object_to_json_string_ext(
                             o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
                s = NULL;
        json_object_put(o);
        return s;
}

/* ---- golden files ---- */

static char *read_file(const char *path, size_t *ret_size) {
        FILE *f = fopen(path, "re");
        char *buf = NULL;
        size_t size = 0;

        if (!f)
                return NULL;
        for (;;) {
                buf = realloc(buf, size + 65536 + 1);
                assert_non_null(buf);
                size_t n = fread(buf + size, 1, 65536, f);
                size += n;
                if (n == 0)
                        break;
        }
        fclose(f);
        buf[size] = '\0';
        if (ret_size)
                *ret_size = size;
        return buf;
}

static void write_file(const char *path, const char *s) {
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        fputs(s, f);
        assert_int_equal(fclose(f), 0);
}

/* Line-oriented got/want report, so a mismatch in a long golden file is readable. */
static void print_diff(const char *name, const char *got, const char *want) {
        print_error("MISMATCH %s\n--- want\n+++ got\n", name);
        while (*got || *want) {
                size_t lg = strcspn(got, "\n"), lw = strcspn(want, "\n");

                if (lg != lw || memcmp(got, want, lg) != 0) {
                        if (*want)
                                print_error("-%.*s\n", (int) lw, want);
                        if (*got)
                                print_error("+%.*s\n", (int) lg, got);
                } else
                        print_error(" %.*s\n", (int) lg, got);
                got += lg + (got[lg] == '\n');
                want += lw + (want[lw] == '\n');
        }
}

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Sorted *.json names in dir; returns count. */
static size_t list_json(const char *dir, char ***ret) {
        DIR *d = opendir(dir);
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;

        assert_non_null(d);
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                if (l <= 5 || !streq(de->d_name + l - 5, ".json"))
                        continue;
                names = reallocarray(names, n + 1, sizeof(char *));
                assert_non_null(names);
                names[n++] = strdup(de->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof(char *), name_cmp);
        *ret = names;
        return n;
}

/* Returns true if the case passed. */
static bool golden_one(const char *dir, const char *name, bool valid, bool regen) {
        _cleanup_free_ char *path = NULL, *exp_path = NULL, *buf = NULL, *want = NULL, *got = NULL,
                            *defname = NULL;
        JobSpec *j = NULL;
        JobErrors *e = NULL;
        size_t size;
        int r;

        assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
        assert_true(asprintf(&exp_path, "%.*s.expected", (int) (strlen(path) - 5), path) > 0);
        buf = read_file(path, &size);
        assert_non_null(buf);
        defname = jobspec_name_from_filename(name);

        r = jobspec_parse(buf, size, NULL, defname, &j, &e);
        if (valid && r != 0) {
                _cleanup_free_ char *s = e ? jobspec_errors_format(e, name) : NULL;
                print_error("%s: got r=%d, want 0\n%s", name, r, strna(s));
                jobspec_errors_free(e);
                return false;
        }
        if (!valid && r != -EINVAL) {
                print_error("%s: got r=%d, want -EINVAL\n", name, r);
                jobspec_free(j);
                return false;
        }
        got = valid ? dump_job(j) : jobspec_errors_format(e, name);
        assert_non_null(got);
        j = jobspec_free(j);
        e = jobspec_errors_free(e);

        if (regen) {
                write_file(exp_path, got);
                return true;
        }
        want = read_file(exp_path, NULL);
        if (!want) {
                print_error("%s: missing %s (run with ORCHD_REGEN=1)\n", name, exp_path);
                return false;
        }
        if (!streq(got, want)) {
                print_diff(name, got, want);
                return false;
        }
        return true;
}

static void golden_dir(const char *sub, bool valid) {
        _cleanup_free_ char *dir = NULL;
        bool regen = getenv("ORCHD_REGEN") && streq(getenv("ORCHD_REGEN"), "1");
        char **names;
        size_t n, failed = 0;

        assert_true(asprintf(&dir, "%s/%s", TEST_DATA_DIR, sub) > 0);
        n = list_json(dir, &names);
        assert_true(n > 0); /* an empty or missing directory must not pass silently */
        for (size_t i = 0; i < n; i++) {
                if (!golden_one(dir, names[i], valid, regen))
                        failed++;
                free(names[i]);
        }
        free(names);
        print_message("%s: %zu files, %zu failed%s\n", sub, n, failed, regen ? " (regenerated)" : "");
        assert_int_equal(failed, 0);
}

static void test_golden_valid(void **state) {
        golden_dir("valid", true);
}

static void test_golden_invalid(void **state) {
        golden_dir("invalid", false);
}

/* ---- generated big job ---- */

static char *gen_chain(size_t n, size_t *ret_size) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        assert_non_null(f);
        fputs("{\"nodes\":{", f);
        for (size_t i = 0; i < n; i++) {
                if (i == 0)
                        fputs("\"n0\":{\"cmd\":\"t\"}", f);
                else
                        fprintf(f, ",\"n%zu\":{\"cmd\":\"t\",\"after\":[\"n%zu\"]}", i, i - 1);
        }
        fputs("}}", f);
        assert_int_equal(fclose(f), 0);
        *ret_size = size;
        return buf;
}

static double now_sec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void test_big_job(void **state) {
        _cleanup_free_ char *buf = NULL;
        JobSpec *j = NULL;
        JobErrors *e = NULL;
        size_t size, before, after;
        double t0;

        buf = gen_chain(100000, &size);
        assert_true(size <= 4U << 20); /* must fit the default file limit to be a fair test */

        before = mallinfo2().uordblks;
        t0 = now_sec();
        assert_int_equal(jobspec_parse(buf, size, NULL, "big", &j, &e), 0);
        print_message("100,000-node job (%zu bytes) parsed in %.3f s\n", size, now_sec() - t0);
        after = mallinfo2().uordblks;
        if (after > before) /* meaningless under ASan, which replaces malloc */
                print_message("resident JobSpec: %zu bytes, %zu per node\n", after - before,
                              (after - before) / 100000);

        assert_int_equal(j->n_nodes, 100000);
        assert_int_equal(jobspec_find_node(j, "n99999"), 99999);
        assert_int_equal(j->nodes[99999].n_after, 1);
        assert_int_equal(j->nodes[99999].after[0], 99998);
        j = jobspec_free(j);

        /* One node more than the limit. */
        free(buf);
        buf = gen_chain(100001, &size);
        JobLimits l;
        jobspec_limits_init(&l);
        l.max_file_size = SIZE_MAX;
        assert_int_equal(jobspec_parse(buf, size, &l, "big", &j, &e), -EINVAL);
        assert_int_equal(e->n_errors, 1);
        assert_string_equal(e->errors[0].message, "too many nodes: 100001, the limit is 100000");
        jobspec_errors_free(e);
}

static void test_big_cycle(void **state) {
        _cleanup_free_ char *buf = NULL, *s = NULL;
        size_t size = 0;
        JobSpec *j = NULL;
        JobErrors *e = NULL;
        FILE *f;

        /* A chain of 1,000 closed into a ring: the message must stay short. */
        f = open_memstream(&buf, &size);
        assert_non_null(f);
        fputs("{\"nodes\":{\"n0\":{\"cmd\":\"t\",\"after\":[\"n999\"]}", f);
        for (size_t i = 1; i < 1000; i++)
                fprintf(f, ",\"n%zu\":{\"cmd\":\"t\",\"after\":[\"n%zu\"]}", i, i - 1);
        fputs("}}", f);
        assert_int_equal(fclose(f), 0);

        assert_int_equal(jobspec_parse(buf, size, NULL, "ring", &j, &e), -EINVAL);
        assert_null(j);
        assert_int_equal(e->n_errors, 1);
        assert_string_equal(e->errors[0].path, "nodes");
        assert_true(strncmp(e->errors[0].message, "cycle: ", 7) == 0);
        assert_non_null(strstr(e->errors[0].message, " -> … (984 more) -> "));
        assert_true(strlen(e->errors[0].message) < 300);
        s = jobspec_errors_format(e, "ring.json");
        print_message("%s", s);
        jobspec_errors_free(e);
}

/* ---- limits from JobLimits ---- */

static void test_limits(void **state) {
        static const struct {
                const char *json;
                JobLimits limits; /* zero fields keep the default */
                const char *want; /* jobspec_errors_format() output, NULL = valid */
        } cases[] = {
                { "{\"nodes\":{\"a\":{\"cmd\":\"x\"}}}", { .max_file_size = 27 }, NULL },
                { "{\"nodes\":{\"a\":{\"cmd\":\"x\"}}}",
                  { .max_file_size = 26 },
                  "f.json: file is too large: 27 bytes, the limit is 26\n" },
                { "{\"nodes\":{\"a\":{\"cmd\":\"x\"},\"b\":{\"cmd\":\"x\"}}}", { .max_nodes = 2 }, NULL },
                { "{\"nodes\":{\"a\":{\"cmd\":\"x\"},\"b\":{\"cmd\":\"x\"},\"c\":{\"cmd\":\"x\"}}}",
                  { .max_nodes = 2 },
                  "f.json: nodes: too many nodes: 3, the limit is 2\n" },
                { "{\"nodes\":{\"a\":{\"cmd\":\"x\"},\"b\":{\"cmd\":\"x\"},\"c\":{\"cmd\":\"x\",\"after\":"
                  "[\"a\",\"b\"]}}}",
                  { .max_after = 2 },
                  NULL },
                { "{\"nodes\":{\"a\":{\"cmd\":\"x\"},\"b\":{\"cmd\":\"x\"},\"c\":{\"cmd\":\"x\",\"after\":"
                  "[\"a\",\"b\"]}}}",
                  { .max_after = 1 },
                  "f.json: nodes.c.after: too many dependencies: 2, the limit is 1\n" },
                { "{\"nodes\":{\"a\":{\"cmd\":[\"x\"]}}}", { .max_depth = 4 }, NULL },
                { "{\"nodes\":{\"a\":{\"cmd\":[\"x\"]}}}",
                  { .max_depth = 3 },
                  "f.json:1:22: nodes.a.cmd: nesting depth exceeds the limit of 3\n" },
                { "{\"nodes\":{\"a\":{\"cmd\":\"12345\"}}}", { .max_string = 5 }, NULL },
                { "{\"nodes\":{\"a\":{\"cmd\":\"123456\"}}}",
                  { .max_string = 5 },
                  "f.json:1:22: nodes.a.cmd: string of 6 bytes exceeds the limit of 5 bytes\n" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *got = NULL;
                JobLimits l, c = cases[i].limits;
                JobSpec *j = NULL;
                JobErrors *e = NULL;
                int r;

                jobspec_limits_init(&l);
                l.max_file_size = c.max_file_size ?: l.max_file_size;
                l.max_nodes = c.max_nodes ?: l.max_nodes;
                l.max_after = c.max_after ?: l.max_after;
                l.max_depth = c.max_depth ?: l.max_depth;
                l.max_string = c.max_string ?: l.max_string;

                r = jobspec_parse(cases[i].json, strlen(cases[i].json), &l, "f", &j, &e);
                if (e)
                        got = jobspec_errors_format(e, "f.json");
                if ((r == 0) != !cases[i].want || (got && !streq(got, cases[i].want))) {
                        print_error("case %zu: got r=%d %s, want %s", i, r, strna(got),
                                    strna(cases[i].want));
                        fail();
                }
                jobspec_free(j);
                jobspec_errors_free(e);
        }
}

static void test_default_limits(void **state) {
        JobLimits l;

        jobspec_limits_init(&l);
        assert_int_equal(l.max_file_size, 4 * 1024 * 1024);
        assert_int_equal(l.max_nodes, 100000);
        assert_int_equal(l.max_after, 1000);
        assert_int_equal(l.max_depth, 32);
        assert_int_equal(l.max_string, 64 * 1024);
}

/* ---- inherited env and cwd are shared, not copied ---- */

static void test_defaults_shared(void **state) {
        /* "defaults" after the nodes: it applies all the same. */
        static const char json[] =
                "{\"nodes\":{\"a\":{\"cmd\":\"x\"},"
                "\"b\":{\"cmd\":\"x\",\"env\":{\"C\":\"3\"}},"
                "\"c\":{\"cmd\":\"x\",\"cwd\":\"/srv\"},"
                "\"d\":{\"cmd\":\"x\",\"env\":{}}},"
                "\"defaults\":{\"env\":{\"A\":\"1\",\"B\":\"2\"},\"cwd\":\"/tmp\"}}";
        JobSpec *j = NULL;
        JobErrors *e = NULL;
        const NodeSpec *n;

        assert_int_equal(jobspec_parse(json, strlen(json), NULL, NULL, &j, &e), 0);
        assert_non_null(j->defaults_env);
        assert_string_equal(j->defaults_env[0], "A=1");
        assert_string_equal(j->defaults_env[1], "B=2");
        assert_null(j->defaults_env[2]);
        assert_string_equal(j->defaults_cwd, "/tmp");

        n = &j->nodes[jobspec_find_node(j, "a")]; /* inherits both: the very same pointers */
        assert_ptr_equal(n->env, j->defaults_env);
        assert_ptr_equal(n->cwd, j->defaults_cwd);
        n = &j->nodes[jobspec_find_node(j, "b")]; /* its own env replaces the default one as a whole */
        assert_ptr_not_equal(n->env, j->defaults_env);
        assert_string_equal(n->env[0], "C=3");
        assert_null(n->env[1]);
        assert_ptr_equal(n->cwd, j->defaults_cwd);
        n = &j->nodes[jobspec_find_node(j, "c")];
        assert_ptr_equal(n->env, j->defaults_env);
        assert_ptr_not_equal(n->cwd, j->defaults_cwd);
        assert_string_equal(n->cwd, "/srv");
        n = &j->nodes[jobspec_find_node(j, "d")]; /* an empty env of its own: none, not the default */
        assert_null(n->env);
        jobspec_free(j); /* ASan: each shared value freed once, nothing leaked */

        /* No defaults: nothing to share, and nothing shared by accident. */
        static const char plain[] = "{\"nodes\":{\"a\":{\"cmd\":\"x\",\"env\":{\"A\":\"1\"}}}}";
        assert_int_equal(jobspec_parse(plain, strlen(plain), NULL, NULL, &j, &e), 0);
        assert_null(j->defaults_env);
        assert_null(j->defaults_cwd);
        assert_string_equal(j->nodes[0].env[0], "A=1");
        assert_null(j->nodes[0].cwd);
        jobspec_free(j);

        /* Invalid files with defaults (rejected before or after the nodes are finished): ASan finds a leak
         * or a double free of the template here. */
        static const char *const invalid[] = {
                "{\"defaults\":{\"env\":{\"A\":\"1\"},\"cwd\":\"/x\"},\"nodes\":{}}",
                "{\"defaults\":{\"env\":{\"A\":\"1\"},\"cwd\":\"/x\"},\"nodes\":{\"a\":{\"cmd\":\"x\","
                "\"after\":[\"nope\"]}}}",
                "{\"defaults\":{\"env\":{\"A\":\"1\"},\"cwd\":\"/x\"},\"nodes\":{\"a\":{}}}",
        };
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                assert_int_equal(jobspec_parse(invalid[i], strlen(invalid[i]), NULL, NULL, &j, &e), -EINVAL);
                e = jobspec_errors_free(e);
        }
}

/* 2,000 nodes under a 1 MiB defaults.env: the JobSpec grows by about one env, not 2,000 of them. */
static void test_defaults_env_memory(void **state) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, before, after;
        JobSpec *j = NULL;
        JobErrors *e = NULL;
        FILE *f;

        f = open_memstream(&buf, &size);
        assert_non_null(f);
        fputs("{\"defaults\":{\"env\":{", f);
        for (unsigned i = 0; i < 8192; i++) /* 8,192 × 128 bytes */
                fprintf(f, "%s\"K%05u\":\"%0118u\"", i ? "," : "", i, i);
        fputs("}},\"nodes\":{", f);
        for (unsigned i = 0; i < 2000; i++)
                fprintf(f, "%s\"n%u\":{\"cmd\":\"true\"}", i ? "," : "", i);
        fputs("}}", f);
        assert_int_equal(fclose(f), 0);
        assert_true(size > 1U << 20 && size <= 4U << 20);

        before = mallinfo2().uordblks;
        assert_int_equal(jobspec_parse(buf, size, NULL, "envmem", &j, &e), 0);
        after = mallinfo2().uordblks;
        for (size_t i = 0; i < j->n_nodes; i++)
                assert_ptr_equal(j->nodes[i].env, j->defaults_env);
        if (after > before) { /* meaningless under ASan, which replaces malloc */
                print_message("2,000 nodes, 1 MiB defaults.env: JobSpec of %zu bytes\n", after - before);
                /* A copy per node would be 2,000 × ~1.3 MiB. */
                assert_true(after - before < 8U << 20);
        }
        jobspec_free(j);
}

/* ---- lookups, names, rendering ---- */

static void test_find_node(void **state) {
        static const char json[] =
                "{\"nodes\":{\"m\":{\"cmd\":\"x\"},\"b\":{\"cmd\":\"x\"},\"z.1\":{\"cmd\":\"x\"},"
                "\"a\":{\"cmd\":\"x\"}}}";
        static const struct {
                const char *id;
                ssize_t want;
        } cases[] = {
                { "m", 0 },       { "b", 1 },      { "z.1", 2 },      { "a", 3 },
                { "c", -ENOENT }, { "", -ENOENT }, { "zz", -ENOENT },
        };
        JobSpec *j = NULL;
        JobErrors *e = NULL;

        assert_int_equal(jobspec_parse(json, strlen(json), NULL, NULL, &j, &e), 0);
        assert_string_equal(j->name, "job"); /* NULL default name */
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ssize_t got = jobspec_find_node(j, cases[i].id);
                if (got != cases[i].want) {
                        print_error("find \"%s\": got %zd, want %zd\n", cases[i].id, got, cases[i].want);
                        fail();
                }
        }
        jobspec_free(j);
}

static void test_name_from_filename(void **state) {
        static const struct {
                const char *in, *want;
        } cases[] = {
                { "nightly.json", "nightly" }, { "/spool/new/a.b.json", "a.b" },
                { "x.json.json", "x.json" },   { "noext", "noext" },
                { ".json", ".json" },          { "dir/", "" },
                { "a.JSON", "a.JSON" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *got = jobspec_name_from_filename(cases[i].in);
                if (!got || !streq(got, cases[i].want)) {
                        print_error("%s: got %s, want %s\n", cases[i].in, strna(got), cases[i].want);
                        fail();
                }
        }
}

/* A name taken from the file name follows the rule of "name": a control character in it rejects the file,
 * with or without "name" (the file name is also the job's source), and the error shows it escaped. */
static void test_name_from_filename_control(void **state) {
        static const char *const bodies[] = {
                "{\"nodes\":{\"a\":{\"cmd\":\"x\"}}}",
                "{\"name\":\"ok\",\"nodes\":{\"a\":{\"cmd\":\"x\"}}}",
        };

        for (size_t i = 0; i < ELEMENTSOF(bodies); i++) {
                _cleanup_free_ char *name = jobspec_name_from_filename("\x1b]0;pwned\a.json"), *text = NULL;
                JobSpec *j = NULL;
                JobErrors *e = NULL;

                assert_int_equal(jobspec_parse(bodies[i], strlen(bodies[i]), NULL, name, &j, &e), -EINVAL);
                assert_null(j);
                text = jobspec_errors_format(e, "f.json");
                assert_non_null(text);
                if (!strstr(text,
                            "f.json: the file name must not contain control characters, found U+001B at "
                            "byte 0: rename"))
                        fail_msg("body %zu: got \"%s\"", i, text);
                jobspec_errors_free(e);
        }
}

/* An error that quotes the file (a dangling dependency, a duplicate one) never carries the file's control
 * characters: the .error file and every terminal get one line per error, escaped. */
static void test_errors_quote_escaped(void **state) {
        static const char *const bodies[] = {
                "{\"nodes\":{\"a\":{\"cmd\":\"x\",\"after\":[\"zz\\u001b[31mRED\\n<0>forged\"]}}}",
                "{\"nodes\":{\"b\\u001bc\":{\"cmd\":\"x\"},\"a\":{\"cmd\":\"x\",\"after\":[\"b\\u001bc\","
                "\"b\\u001bc\"]}}}",
        };

        for (size_t i = 0; i < ELEMENTSOF(bodies); i++) {
                _cleanup_free_ char *text = NULL;
                JobSpec *j = NULL;
                JobErrors *e = NULL;

                assert_int_equal(jobspec_parse(bodies[i], strlen(bodies[i]), NULL, "t", &j, &e), -EINVAL);
                for (size_t k = 0; k < e->n_errors; k++) {
                        const JobError *x = &e->errors[k];

                        if (find_control_char(x->message, strlen(x->message), false) ||
                            find_control_char(x->path, strlen(x->path), false))
                                fail_msg("body %zu error %zu: got a control character in \"%s: %s\"", i, k,
                                         x->path, x->message);
                }
                text = jobspec_errors_format(e, "t.json");
                assert_non_null(text);
                if (find_control_char(text, strlen(text), true) || !strstr(text, "\\x1b"))
                        fail_msg("body %zu: got \"%s\", want every ESC as \\x1b", i, text);
                jobspec_errors_free(e);
        }
}

/* A name that would show reversed or with a hidden character on a terminal is refused like one with ESC. */
static void test_name_format_char(void **state) {
        static const char body[] = "{\"name\":\"backup\\u202etxt.exe\",\"nodes\":{\"a\":{\"cmd\":\"x\"}}}";
        _cleanup_free_ char *text = NULL;
        JobSpec *j = NULL;
        JobErrors *e = NULL;

        assert_int_equal(jobspec_parse(body, strlen(body), NULL, "t", &j, &e), -EINVAL);
        text = jobspec_errors_format(e, "t.json");
        assert_non_null(text);
        if (!strstr(text, "name: must not contain control characters, found U+202E at byte 6"))
                fail_msg("got \"%s\"", text);
        jobspec_errors_free(e);
}

static void test_errors_to_json(void **state) {
        static const char json[] = "{\"nodes\":{\"a\":{\"cmd\":\"x\",\"cmd\":\"y\"}}}";
        static const char json2[] = "{\"nodes\":{\"a\":{\"cmd\":1}}}";
        JobSpec *j = NULL;
        JobErrors *e = NULL;
        json_object *o;

        assert_int_equal(jobspec_parse(json, strlen(json), NULL, "t", &j, &e), -EINVAL);
        o = jobspec_errors_to_json(e, "t.json");
        assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                            "{\"file\":\"t.json\",\"errors\":[{\"path\":\"nodes.a.cmd\",\"message\":"
                            "\"duplicate key \\\"cmd\\\"\",\"line\":1,\"column\":26}],\"truncated\":false}");
        json_object_put(o);
        jobspec_errors_free(e);

        assert_int_equal(jobspec_parse(json2, strlen(json2), NULL, "t", &j, &e), -EINVAL);
        o = jobspec_errors_to_json(e, "t.json");
        assert_string_equal(
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                "{\"file\":\"t.json\",\"errors\":[{\"path\":\"nodes.a.cmd\",\"message\":"
                "\"expected a command: a non-empty array of strings or a non-empty string, got 1\","
                "\"line\":null,\"column\":null}],\"truncated\":false}");
        json_object_put(o);
        jobspec_errors_free(e);
}

static void test_errors_truncated(void **state) {
        _cleanup_free_ char *buf = NULL, *s = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        JobSpec *j = NULL;
        JobErrors *e = NULL;
        json_object *o;

        /* 60 nodes with a bad priority each → 60 errors found, 50 kept. */
        fputs("{\"nodes\":{", f);
        for (int i = 0; i < 60; i++)
                fprintf(f, "%s\"n%d\":{\"cmd\":\"x\",\"when\":\"never\"}", i ? "," : "", i);
        fputs("}}", f);
        assert_int_equal(fclose(f), 0);

        assert_int_equal(jobspec_parse(buf, size, NULL, "t", &j, &e), -EINVAL);
        assert_int_equal(e->n_errors, 50);
        assert_true(e->truncated);
        s = jobspec_errors_format(e, "t.json");
        assert_non_null(
                strstr(s,
                       "t.json: nodes.n49.when: expected \"success\", \"failure\" or \"always\", got "
                       "\"never\"\nt.json: too many errors, only the first 50 are shown\n"));
        o = jobspec_errors_to_json(e, "t.json");
        assert_true(json_object_get_boolean(json_object_object_get(o, "truncated")));
        json_object_put(o);
        jobspec_errors_free(e);
}

static void test_ret_untouched(void **state) {
        static const char good[] = "{\"nodes\":{\"a\":{\"cmd\":\"x\"}}}", bad[] = "{\"nodes\":{}}";
        JobSpec *j = (JobSpec *) 0x1;
        JobErrors *e = (JobErrors *) 0x1;

        /* On -EINVAL *ret is untouched; on success *reterr is untouched. */
        assert_int_equal(jobspec_parse(bad, strlen(bad), NULL, "t", &j, &e), -EINVAL);
        assert_ptr_equal(j, (JobSpec *) 0x1);
        jobspec_errors_free(e);
        e = (JobErrors *) 0x1;
        assert_int_equal(jobspec_parse(good, strlen(good), NULL, "t", &j, &e), 0);
        assert_ptr_equal(e, (JobErrors *) 0x1);
        jobspec_free(j);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_golden_valid),
                cmocka_unit_test(test_golden_invalid),
                cmocka_unit_test(test_big_job),
                cmocka_unit_test(test_big_cycle),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_default_limits),
                cmocka_unit_test(test_find_node),
                cmocka_unit_test(test_name_from_filename),
                cmocka_unit_test(test_name_from_filename_control),
                cmocka_unit_test(test_errors_quote_escaped),
                cmocka_unit_test(test_name_format_char),
                cmocka_unit_test(test_errors_to_json),
                cmocka_unit_test(test_errors_truncated),
                cmocka_unit_test(test_ret_untouched),
                cmocka_unit_test(test_defaults_shared),
                cmocka_unit_test(test_defaults_env_memory),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
