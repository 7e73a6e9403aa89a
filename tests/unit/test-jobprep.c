/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for jobprep.c: what is built ahead for a job (off the loop) is what the scheduler would build,
 * a DAG with the spec's edges and trigger rules, and an env base that borrows the spec's strings.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobprep.h"
#include "macro.h"

static JobSpec *parse(const char *text) {
        JobSpec *spec = NULL;
        JobErrors *errors = NULL;

        if (jobspec_parse(text, strlen(text), NULL, "t", &spec, &errors) < 0)
                fail_msg("the test's job does not parse");
        jobspec_errors_free(errors);
        return spec;
}

static uint32_t node_index(const JobSpec *spec, const char *id) {
        for (uint32_t i = 0; i < spec->n_nodes; i++)
                if (streq(spec->nodes[i].id, id))
                        return i;
        fail_msg("no node %s", id);
        return UINT32_MAX;
}

/* Edges and trigger rules: "c" runs after "a" and "b" whatever they did (always), so once both fail it is
 * ready; "d" (after "a", success) is skipped. */
static void test_dag(void **state) {
        _cleanup_(jobspec_freep) JobSpec *spec = parse(
                "{\"nodes\": {\"a\": {\"cmd\": \"true\"}, \"b\": {\"cmd\": \"true\"},"
                " \"c\": {\"cmd\": \"true\", \"after\": [\"a\", \"b\"], \"when\": \"always\"},"
                " \"d\": {\"cmd\": \"true\", \"after\": [\"a\"]}}}");
        _cleanup_(jobprep_freep) JobPrep *p = NULL;
        NodeEnvOwner owner = {};
        uint32_t a = node_index(spec, "a"), b = node_index(spec, "b"), c = node_index(spec, "c"), got;
        size_t n;

        assert_int_equal(jobprep_new(spec, &owner, NULL, &p), 0);
        assert_int_equal(dag_size(p->dag), 4);
        assert_non_null(dag_dependencies(p->dag, c, &n));
        assert_int_equal(n, 2);
        dag_start(p->dag);
        assert_int_equal(dag_n_ready(p->dag), 2);
        assert_int_equal(dag_pop_ready(p->dag, &got), 1);
        assert_int_equal(dag_pop_ready(p->dag, &got), 1);
        assert_int_equal(dag_complete(p->dag, a, DAG_FAILED, NULL, NULL), 0);
        assert_int_equal(dag_complete(p->dag, b, DAG_FAILED, NULL, NULL), 0);
        assert_int_equal(dag_pop_ready(p->dag, &got), 1);
        if (got != c)
                fail_msg("got node %u ready, want c (%u)", got, c);
        assert_int_equal(dag_pop_ready(p->dag, &got), 0); /* d was skipped */
}

static void skipped(void *userdata, uint32_t node) {
        (*(unsigned *) userdata)++;
}

/* The same DAG as jobprep_build_dag() alone, which the scheduler uses for a recovered job. */
static void test_build_dag_alone(void **state) {
        _cleanup_(jobspec_freep) JobSpec *spec = parse(
                "{\"nodes\": {\"a\": {\"cmd\": \"true\"}, \"d\": {\"cmd\": \"true\", \"after\": [\"a\"]}}}");
        Dag *d = NULL;
        unsigned n_skipped = 0;
        uint32_t got;

        assert_int_equal(jobprep_build_dag(spec, &d), 0);
        dag_start(d);
        assert_int_equal(dag_pop_ready(d, &got), 1);
        assert_int_equal(got, node_index(spec, "a"));
        assert_int_equal(dag_complete(d, got, DAG_FAILED, skipped, &n_skipped), 0);
        assert_int_equal(n_skipped, 1);
        assert_true(dag_is_finished(d));
        dag_free(d);
}

/* The owner's part first, then the job's env, whose strings are the spec's own (borrowed, not copied). */
static void test_env(void **state) {
        _cleanup_(jobspec_freep) JobSpec *spec = parse(
                "{\"env\": {\"A\": \"1\", \"HOME\": \"/srv\"}, \"nodes\": {\"a\": {\"cmd\": \"true\"}}}");
        _cleanup_(jobprep_freep) JobPrep *p = NULL;
        NodeEnvOwner owner = { .home = "/home/u", .user = "u", .shell = "/bin/sh" };
        char *const *env;
        bool seen_a = false;

        assert_int_equal(jobprep_new(spec, &owner, "C.UTF-8", &p), 0);
        env = nodeenv_base_strv(p->env);
        assert_string_equal(env[0], "PATH=" NODEENV_PATH);
        assert_string_equal(env[1], "HOME=/srv");
        assert_string_equal(env[5], "LANG=C.UTF-8");
        for (size_t i = 0; env[i]; i++)
                for (size_t k = 0; spec->env && spec->env[k]; k++)
                        if (env[i] == spec->env[k] && streq(env[i], "A=1"))
                                seen_a = true;
        assert_true(seen_a);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dag),
                cmocka_unit_test(test_build_dag_alone),
                cmocka_unit_test(test_env),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
