/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for nodeenv.c: the SPEC §3 order (base, job env, node env, ORCH_*), last writer wins,
 * nothing from the test's own environment leaks in, and absent owner fields are left out.
 */

#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "macro.h"
#include "nodeenv.h"

/* The whole environment as one "\n"-joined string, in order, for exact comparison. */
static char *joined(char **env) {
        size_t n = 1;
        char *s;

        for (char **e = env; *e; e++)
                n += strlen(*e) + 1;
        s = calloc(1, n);
        assert_non_null(s);
        for (char **e = env; *e; e++) {
                strcat(s, *e);
                strcat(s, "\n");
        }
        return s;
}

typedef struct Case {
        const char *name;
        NodeEnvOwner owner;
        const char *lang;
        const char *job_env[4];
        const char *node_env[4];
        const char *want;
} Case;

static const Case cases[] = {
        { "full owner, no env",
          { "/home/alice", "alice", "/bin/bash" },
          "C.UTF-8",
          {},
          {},
          "PATH=" NODEENV_PATH
          "\nHOME=/home/alice\nUSER=alice\nLOGNAME=alice\nSHELL=/bin/bash\nLANG=C.UTF-8\n"
          "ORCH_JOB_ID=42\nORCH_JOB_NAME=nightly\nORCH_NODE=build\nORCH_ATTEMPT=3\n" },
        { "unknown owner: no HOME/USER/LOGNAME, SHELL /bin/sh, no LANG",
          { NULL, NULL, NULL },
          NULL,
          {},
          {},
          "PATH=" NODEENV_PATH "\nSHELL=/bin/sh\n"
          "ORCH_JOB_ID=42\nORCH_JOB_NAME=nightly\nORCH_NODE=build\nORCH_ATTEMPT=3\n" },
        { "job env adds and overrides the base in place",
          { "/root", "root", "" },
          NULL,
          { "A=1", "PATH=/opt/bin", "HOME=/srv" },
          {},
          "PATH=/opt/bin\nHOME=/srv\nUSER=root\nLOGNAME=root\nSHELL=/bin/sh\nA=1\n"
          "ORCH_JOB_ID=42\nORCH_JOB_NAME=nightly\nORCH_NODE=build\nORCH_ATTEMPT=3\n" },
        { "node env overrides job env; ORCH_* cannot be overridden",
          { "/root", "root", "/bin/sh" },
          NULL,
          { "A=1", "B=2" },
          { "B=node", "ORCH_NODE=spoofed", "C=3" },
          "PATH=" NODEENV_PATH "\nHOME=/root\nUSER=root\nLOGNAME=root\nSHELL=/bin/sh\nA=1\nB=node\n"
          "ORCH_NODE=build\nC=3\nORCH_JOB_ID=42\nORCH_JOB_NAME=nightly\nORCH_ATTEMPT=3\n" },
        { "a name repeated among the node's own entries keeps its first place",
          { NULL, NULL, NULL },
          NULL,
          { "A=1" },
          { "X=1", "Y=2", "X=3" },
          "PATH=" NODEENV_PATH "\nSHELL=/bin/sh\nA=1\nX=3\nY=2\n"
          "ORCH_JOB_ID=42\nORCH_JOB_NAME=nightly\nORCH_NODE=build\nORCH_ATTEMPT=3\n" },
        { "values may contain '='",
          { NULL, NULL, NULL },
          NULL,
          { "Q=a=b" },
          {},
          "PATH=" NODEENV_PATH "\nSHELL=/bin/sh\nQ=a=b\n"
          "ORCH_JOB_ID=42\nORCH_JOB_NAME=nightly\nORCH_NODE=build\nORCH_ATTEMPT=3\n" },
};

static void test_table(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const Case *c = &cases[i];
                _cleanup_(nodeenv_base_freep) NodeEnvBase *base = NULL;
                _cleanup_free_ char **env = NULL;
                _cleanup_free_ char *got = NULL;

                assert_int_equal(nodeenv_base_new(&c->owner, c->lang,
                                                  c->job_env[0] ? (char *const *) c->job_env : NULL, &base),
                                 0);
                assert_int_equal(nodeenv_node(base, c->node_env[0] ? (char *const *) c->node_env : NULL, 42,
                                              "nightly", "build", 3, &env),
                                 0);
                got = joined(env);
                if (!streq(got, c->want))
                        fail_msg("%s:\ngot:\n%swant:\n%s", c->name, got, c->want);
        }
}

static void test_no_daemon_environment(void **state) {
        NodeEnvOwner owner = { "/root", "root", "/bin/sh" };
        _cleanup_(nodeenv_base_freep) NodeEnvBase *base = NULL;
        _cleanup_free_ char **env = NULL;

        assert_int_equal(setenv("ORCHD_TEST_LEAK", "1", 1), 0);
        assert_int_equal(setenv("LD_PRELOAD", "/evil.so", 1), 0);
        assert_int_equal(nodeenv_base_new(&owner, NULL, NULL, &base), 0);
        assert_int_equal(nodeenv_node(base, NULL, 1, "j", "n", 1, &env), 0);
        for (char **e = env; *e; e++) {
                assert_false(strneq(*e, "ORCHD_TEST_LEAK=", 16));
                assert_false(strneq(*e, "LD_PRELOAD=", 11));
        }
}

static void test_base_is_not_modified(void **state) {
        NodeEnvOwner owner = { "/root", "root", "/bin/sh" };
        char home[] = "HOME=/elsewhere";
        char *node_env[] = { home, NULL };
        _cleanup_(nodeenv_base_freep) NodeEnvBase *base = NULL;
        _cleanup_free_ char **env1 = NULL, **env2 = NULL;

        assert_int_equal(nodeenv_base_new(&owner, NULL, NULL, &base), 0);
        assert_int_equal(nodeenv_node(base, node_env, 1, "j", "a", 1, &env1), 0);
        assert_int_equal(nodeenv_node(base, NULL, 1, "j", "b", 2, &env2), 0);
        assert_string_equal(nodeenv_base_strv(base)[1], "HOME=/root");
        assert_string_equal(env1[1], "HOME=/elsewhere");
        assert_string_equal(env2[1], "HOME=/root");
}

/* Thousands of variables (a job file may hold 30,000): each name once, the last value in the first place,
 * in time linear in their number (a quadratic build took 120 ms per start at 8,192). */
static void test_many(void **state) {
        enum { N = 20000 };
        NodeEnvOwner owner = { "/root", "root", "/bin/sh" };
        char **job_env = calloc(N + 1, sizeof(char *)), **node_env = calloc(N / 2 + 2, sizeof(char *));
        _cleanup_(nodeenv_base_freep) NodeEnvBase *base = NULL;
        _cleanup_free_ char **env = NULL;
        size_t n = 0;

        assert_true(job_env && node_env);
        for (unsigned i = 0; i < N; i++)
                assert_true(asprintf(&job_env[i], "K%05u=job%u", i, i) > 0);
        for (unsigned i = 0; i < N / 2; i++) /* every second name again, from the node */
                assert_true(asprintf(&node_env[i], "K%05u=node%u", 2 * i + 1, i) > 0);
        assert_true(asprintf(&node_env[N / 2], "HOME=/node") > 0);

        assert_int_equal(nodeenv_base_new(&owner, NULL, job_env, &base), 0);
        assert_int_equal(nodeenv_node(base, node_env, 1, "j", "a", 1, &env), 0);
        while (env[n])
                n++;
        /* PATH HOME USER LOGNAME SHELL, N names, 4 ORCH_* */
        assert_int_equal(n, 5 + N + 4);
        assert_string_equal(env[1], "HOME=/node");
        for (unsigned i = 0; i < N; i++) {
                char want[32];

                snprintf(want, sizeof want, i % 2 ? "K%05u=node%u" : "K%05u=job%u", i, i % 2 ? i / 2 : i);
                assert_string_equal(env[5 + i], want);
        }
        assert_string_equal(env[5 + N], "ORCH_JOB_ID=1");
        strv_free(job_env);
        strv_free(node_env);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_no_daemon_environment),
                cmocka_unit_test(test_base_is_not_modified),
                cmocka_unit_test(test_many),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
