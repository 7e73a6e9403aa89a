/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for graph.c: the whole DOT text of a small diamond, without a run and with a run in mixed
 * states; the colour of every node state; escaping of hostile job names (quotes, backslashes, label
 * escapes, newlines, control bytes, invalid UTF-8); argument checks. Every graph produced here is also fed
 * to Graphviz `dot -Tsvg`, which must exit 0 without a warning: graphviz is a test dependency, so a missing
 * `dot` fails the test instead of skipping it.
 */

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "graph.h"
#include "jobspec.h"
#include "macro.h"
#include "state.h"

#ifndef DOT_PATH
#        define DOT_PATH "/usr/bin/dot"
#endif

static const char diamond_json[] =
        "{ \"name\": \"diamond\", \"nodes\": {\n"
        "  \"fetch\": { \"cmd\": \"true\" },\n"
        "  \"build\": { \"cmd\": \"true\", \"after\": [\"fetch\"] },\n"
        "  \"lint\": { \"cmd\": \"true\", \"after\": [\"fetch\"], \"when\": \"failure\", \"allow_failure\": "
        "true },\n"
        "  \"report\": { \"cmd\": \"true\", \"after\": [\"build\", \"lint\"], \"when\": \"always\" } } }\n";

#define WANT_LEGEND_ALLOW_FAILURE "    \"#legend-allow_failure\" [label=\"allow_failure\", shape=octagon];\n"

#define WANT_LEGEND_EDGES                                                                        \
        "    \"#legend-after-success\" [label=\"\", shape=point, width=0.08];\n"                 \
        "    \"#legend-when-success\" [label=\"when: success\", shape=plaintext];\n"             \
        "    \"#legend-after-success\" -> \"#legend-when-success\";\n"                           \
        "    \"#legend-after-failure\" [label=\"\", shape=point, width=0.08];\n"                 \
        "    \"#legend-when-failure\" [label=\"when: failure\", shape=plaintext];\n"             \
        "    \"#legend-after-failure\" -> \"#legend-when-failure\" [color=red, style=dashed];\n" \
        "    \"#legend-after-always\" [label=\"\", shape=point, width=0.08];\n"                  \
        "    \"#legend-when-always\" [label=\"when: always\", shape=plaintext];\n"               \
        "    \"#legend-after-always\" -> \"#legend-when-always\" [color=gray50, style=bold];\n"  \
        "  }\n"                                                                                  \
        "}\n"

#define WANT_DEFAULTS                                                                   \
        "  node [shape=box, style=filled, fillcolor=white, fontname=\"sans-serif\"];\n" \
        "  edge [color=black];\n"

#define WANT_DIAMOND_EDGES                                        \
        "  \"fetch\" -> \"build\";\n"                             \
        "  \"fetch\" -> \"lint\" [color=red, style=dashed];\n"    \
        "  \"build\" -> \"report\" [color=gray50, style=bold];\n" \
        "  \"lint\" -> \"report\" [color=gray50, style=bold];\n"

#define WANT_LEGEND_HEAD                                                   \
        "  subgraph \"cluster_legend\" {\n"                                \
        "    label=\"legend\"; style=dashed; color=gray60; fontsize=10;\n" \
        "    node [fontsize=10];\n"

static const char want_diamond_plain[] =
        "digraph \"diamond\" {\n"
        "  graph [rankdir=LR, labelloc=t, fontname=\"sans-serif\", label=\"diamond\"];\n" WANT_DEFAULTS
        "  \"fetch\" [label=\"fetch\"];\n"
        "  \"build\" [label=\"build\"];\n"
        "  \"lint\" [label=\"lint\", shape=octagon];\n"
        "  \"report\" [label=\"report\"];\n" WANT_DIAMOND_EDGES WANT_LEGEND_HEAD WANT_LEGEND_ALLOW_FAILURE
                WANT_LEGEND_EDGES;

static const char want_diamond_run[] =
        "digraph \"diamond\" {\n"
        "  graph [rankdir=LR, labelloc=t, fontname=\"sans-serif\", label=\"diamond\\njob 42: running\"];"
        "\n" WANT_DEFAULTS
        "  \"fetch\" [label=\"fetch\\nsucceeded\", fillcolor=palegreen];\n"
        "  \"build\" [label=\"build\\nfailed, 3 attempts, exit:3\", fillcolor=tomato];\n"
        "  \"lint\" [label=\"lint\\nretry_wait, 2 attempts, signal:KILL\", fillcolor=orange, shape=octagon];"
        "\n"
        "  \"report\" [label=\"report\\npending\", fillcolor=gray75];\n" WANT_DIAMOND_EDGES WANT_LEGEND_HEAD
        "    \"#legend-pending\" [label=\"pending\", fillcolor=gray75];\n"
        "    \"#legend-running\" [label=\"running\", fillcolor=lightskyblue];\n"
        "    \"#legend-retry_wait\" [label=\"retry_wait\", fillcolor=orange];\n"
        "    \"#legend-succeeded\" [label=\"succeeded\", fillcolor=palegreen];\n"
        "    \"#legend-failed\" [label=\"failed\", fillcolor=tomato];\n"
        "    \"#legend-skipped\" [label=\"skipped\", fillcolor=gray93, style=\"filled,dashed\"];\n"
        "    \"#legend-cancelled\" [label=\"cancelled\", fillcolor=gray40, fontcolor=white];"
        "\n" WANT_LEGEND_ALLOW_FAILURE
        "    \"#legend-pending\" -> \"#legend-running\" -> \"#legend-retry_wait\" -> \"#legend-succeeded\" "
        "-> "
        "\"#legend-failed\" -> \"#legend-skipped\" -> \"#legend-cancelled\" -> \"#legend-allow_failure\" "
        "[style=invis];\n" WANT_LEGEND_EDGES;

static JobSpec *parse_spec(const char *json) {
        _cleanup_(jobspec_errors_freep) JobErrors *e = NULL;
        JobSpec *j = NULL;
        int r;

        r = jobspec_parse(json, strlen(json), NULL, "test", &j, &e);
        if (r < 0)
                fail_msg("jobspec_parse: got %d, want 0", r);
        return j;
}

/* Feed text to `dot -Tsvg -o /dev/null`: it must exit 0 and print no warning or error of its own. */
static void assert_dot_accepts(const char *text) {
        char errpath[] = "/tmp/test-graph-dot.XXXXXX";
        _cleanup_close_ int efd = -EBADF;
        char err[4096] = "";
        int p[2], status;
        ssize_t n;
        pid_t pid;

        if (access(DOT_PATH, X_OK) < 0)
                fail_msg("Graphviz is required for this test but " DOT_PATH
                         " is missing: apt-get install graphviz");

        efd = mkstemp(errpath);
        assert_true(efd >= 0);
        (void) unlink(errpath);
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);

                if (null < 0 || dup2(p[0], STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
                    dup2(efd, STDERR_FILENO) < 0)
                        _exit(126);
                execl(DOT_PATH, "dot", "-Tsvg", "-o", "/dev/null", (char *) NULL);
                _exit(127);
        }
        (void) close(p[0]);
        for (size_t done = 0, len = strlen(text); done < len; done += (size_t) n) {
                n = write(p[1], text + done, len - done);
                assert_true(n > 0);
        }
        (void) close(p[1]);
        assert_int_equal(waitpid(pid, &status, 0), pid);

        n = pread(efd, err, sizeof(err) - 1, 0);
        assert_true(n >= 0);
        err[n] = '\0';
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("dot: got status 0x%x, want exit 0; stderr:\n%s\ninput:\n%s", status, err, text);
        /* Fontconfig may complain about caches in a sandbox; only dot's own diagnostics count. */
        if (strstr(err, "Warning") || strstr(err, "Error"))
                fail_msg("dot: got diagnostics, want none:\n%s\ninput:\n%s", err, text);
}

static void assert_graph(const JobSpec *spec, const JobRun *run, const char *want) {
        _cleanup_free_ char *got = NULL, *again = NULL;

        assert_int_equal(graph_dot(spec, run, &got), 0);
        assert_non_null(got);
        if (!streq(got, want))
                fail_msg("got:\n%s\nwant:\n%s", got, want);

        /* Deterministic: a second rendering is byte-identical. */
        assert_int_equal(graph_dot(spec, run, &again), 0);
        assert_string_equal(again, got);

        assert_dot_accepts(got);
}

static void test_diamond_without_run(void **state) {
        _cleanup_(jobspec_freep) JobSpec *spec = parse_spec(diamond_json);

        assert_graph(spec, NULL, want_diamond_plain);
}

static void test_diamond_with_run(void **state) {
        _cleanup_(jobspec_freep) JobSpec *spec = parse_spec(diamond_json);
        _cleanup_(job_run_freep) JobRun *run = NULL;

        assert_int_equal(job_run_new(spec->n_nodes, &run), 0);
        run->id = 42;
        run->state = JOB_RUNNING;
        run->nodes[0] = (NodeRun){ .state = NODE_SUCCEEDED, .attempt = 1 };
        run->nodes[1] = (NodeRun){ .state = NODE_FAILED, .attempt = 3, .reason = { REASON_EXIT, 3 } };
        run->nodes[2] = (NodeRun){ .state = NODE_RETRY_WAIT, .attempt = 2, .reason = { REASON_SIGNAL, 9 } };
        run->nodes[3] = (NodeRun){ .state = NODE_PENDING };

        assert_graph(spec, run, want_diamond_run);
}

/* One node per state, each line checked for its colour and style, and the job's reason in the title. */
static void test_every_state(void **state) {
        static const struct {
                NodeState s;
                const char *want_line;
        } table[] = {
                { NODE_PENDING, "  \"n0\" [label=\"n0\\npending\", fillcolor=gray75];\n" },
                { NODE_RUNNING, "  \"n1\" [label=\"n1\\nrunning\", fillcolor=lightskyblue];\n" },
                { NODE_RETRY_WAIT, "  \"n2\" [label=\"n2\\nretry_wait\", fillcolor=orange];\n" },
                { NODE_SUCCEEDED, "  \"n3\" [label=\"n3\\nsucceeded\", fillcolor=palegreen];\n" },
                { NODE_FAILED, "  \"n4\" [label=\"n4\\nfailed\", fillcolor=tomato];\n" },
                { NODE_SKIPPED,
                  "  \"n5\" [label=\"n5\\nskipped, upstream\", fillcolor=gray93, style=\"filled,dashed\"];"
                  "\n" },
                { NODE_CANCELLED,
                  "  \"n6\" [label=\"n6\\ncancelled, cancelled\", fillcolor=gray40, fontcolor=white];\n" },
        };
        _cleanup_(jobspec_freep) JobSpec *spec = parse_spec(
                "{\"name\":\"all\",\"nodes\":{\"n0\":{\"cmd\":\"x\"},\"n1\":{\"cmd\":\"x\"},\"n2\":{\"cmd\":"
                "\"x\"},"
                "\"n3\":{\"cmd\":\"x\"},\"n4\":{\"cmd\":\"x\"},\"n5\":{\"cmd\":\"x\"},\"n6\":{\"cmd\":"
                "\"x\"}}}");
        _cleanup_(job_run_freep) JobRun *run = NULL;
        _cleanup_free_ char *got = NULL;

        assert_int_equal(ELEMENTSOF(table), _NODE_STATE_MAX);
        assert_int_equal(spec->n_nodes, ELEMENTSOF(table));
        assert_int_equal(job_run_new(spec->n_nodes, &run), 0);
        run->id = 7;
        run->state = JOB_FAILED;
        run->reason = (Reason){ REASON_JOB_TIMEOUT, 0 };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                run->nodes[i] = (NodeRun){ .state = table[i].s, .attempt = 1 };
        run->nodes[5].reason = (Reason){ REASON_UPSTREAM, 0 };
        run->nodes[6].reason = (Reason){ REASON_CANCELLED, 0 };

        assert_int_equal(graph_dot(spec, run, &got), 0);
        if (!strstr(got, "label=\"all\\njob 7: failed, job_timeout\"];\n"))
                fail_msg("got:\n%s\nwant the title \"all\\njob 7: failed, job_timeout\"", got);
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (!strstr(got, table[i].want_line))
                        fail_msg("state %s: got:\n%s\nwant a line:\n%s", node_state_to_string(table[i].s),
                                 got, table[i].want_line);
        assert_dot_accepts(got);
}

/* A hostile job name must come out as one well-formed DOT string in the graph ID and in the title label. */
static void test_hostile_names(void **state) {
        static const struct {
                const char *name;
                const char *want_id;
                const char *want_label;
        } table[] = {
                { "", "", "" },
                { "a\"b", "a\\\"b", "a\\\"b" },
                { "trailing\\", "trailing\\\\", "trailing\\\\" },
                { "x\"; } digraph { \"evil", "x\\\"; } digraph { \\\"evil", "x\\\"; } digraph { \\\"evil" },
                { "\\N \\G \\l \\n", "\\\\N \\\\G \\\\l \\\\n", "\\\\N \\\\G \\\\l \\\\n" },
                { "two\nlines", "two\\nlines", "two\\nlines" },
                { "R&amp;D <b>", "R&amp;D <b>", "R&amp;amp;D <b>" },
                { "ctl\x01\t\r\x7f", "ctl\\\\x01\\\\x09\\\\x0d\\\\x7f", "ctl\\\\x01\\\\x09\\\\x0d\\\\x7f" },
                { "Gr\xc3\xbc\xc3\x9f"
                  "e \xe6\x97\xa5 \xf0\x9f\x9a\x80",
                  "Gr\xc3\xbc\xc3\x9f"
                  "e \xe6\x97\xa5 \xf0\x9f\x9a\x80",
                  "Gr\xc3\xbc\xc3\x9f"
                  "e \xe6\x97\xa5 \xf0\x9f\x9a\x80" },
                /* Invalid UTF-8: a stray byte, a truncated sequence, an overlong '/', a surrogate, >
                   U+10FFFF. */
                { "\xff", "\\\\xff", "\\\\xff" },
                { "\xe2\x82", "\\\\xe2\\\\x82", "\\\\xe2\\\\x82" },
                { "\xc0\xaf", "\\\\xc0\\\\xaf", "\\\\xc0\\\\xaf" },
                { "\xed\xa0\x80", "\\\\xed\\\\xa0\\\\x80", "\\\\xed\\\\xa0\\\\x80" },
                { "\xf4\x90\x80\x80", "\\\\xf4\\\\x90\\\\x80\\\\x80", "\\\\xf4\\\\x90\\\\x80\\\\x80" },
        };
        _cleanup_(jobspec_freep) JobSpec *spec = parse_spec(diamond_json);

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *got = NULL, *want = NULL;

                free(spec->name);
                spec->name = strdup(table[i].name);
                assert_non_null(spec->name);
                assert_int_equal(graph_dot(spec, NULL, &got), 0);
                assert_true(
                        asprintf(
                                &want,
                                "digraph \"%s\" {\n"
                                "  graph [rankdir=LR, labelloc=t, fontname=\"sans-serif\", label=\"%s\"];\n",
                                table[i].want_id, table[i].want_label) > 0);
                if (strncmp(got, want, strlen(want)) != 0)
                        fail_msg("case %zu: got:\n%s\nwant a start of:\n%s", i, got, want);
                /* The rest does not depend on the name. */
                assert_string_equal(got + strlen(want), strstr(want_diamond_plain, "\n  node [") + 1);
                assert_dot_accepts(got);
        }
}

static void test_run_mismatch(void **state) {
        _cleanup_(jobspec_freep) JobSpec *spec = parse_spec(diamond_json);
        _cleanup_(job_run_freep) JobRun *run = NULL;
        char *got = (char *) "untouched";

        assert_int_equal(job_run_new(spec->n_nodes - 1, &run), 0);
        assert_int_equal(graph_dot(spec, run, &got), -EINVAL);
        assert_string_equal(got, "untouched");
        run = job_run_free(run);

        assert_int_equal(job_run_new(spec->n_nodes, &run), 0);
        run->nodes[2].state = _NODE_STATE_MAX;
        assert_int_equal(graph_dot(spec, run, &got), -EINVAL);
        assert_string_equal(got, "untouched");
        run->nodes[2].state = NODE_PENDING;

        run->state = _JOB_STATE_MAX;
        assert_int_equal(graph_dot(spec, run, &got), -EINVAL);
        assert_string_equal(got, "untouched");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_diamond_without_run), cmocka_unit_test(test_diamond_with_run),
                cmocka_unit_test(test_every_state),         cmocka_unit_test(test_hostile_names),
                cmocka_unit_test(test_run_mismatch),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
