/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for progress.c (orchctl watch's text): the progress bar at several widths (bar shrinking,
 * then gone, then the text cut), optional counts, an empty and a finished job; the event text of every
 * node state from node objects as the daemon sends them; cutting to a width and to a small buffer.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "json-util.h"
#include "macro.h"
#include "progress.h"
#include "state.h"

static void test_bar(void **state) {
        static const struct {
                size_t pending, running, succeeded, failed, skipped;
                size_t width;
                const char *want;
        } cases[] = {
                { 2, 1, 1, 0, 0, 50, "[##........] 1/4  1 succeeded  0 failed  1 running" },
                { 2, 1, 1, 0, 0, 51, "[##.........] 1/4  1 succeeded  0 failed  1 running" },
                /* Too narrow for a 10-cell bar: the text alone. */
                { 2, 1, 1, 0, 0, 49, "1/4  1 succeeded  0 failed  1 running" },
                /* Too narrow for the text: cut, with a mark. */
                { 2, 1, 1, 0, 0, 20, "1/4  1 succeeded ..." },
                /* The bar never grows past 40 cells. */
                { 0, 0, 4, 0, 0, 200,
                  "[########################################] 4/4  4 succeeded  0 failed  0 running" },
                /* Optional states only when not zero; finished ones count as done. */
                { 0, 0, 1, 1, 2, 61, "[##########] 4/4  1 succeeded  1 failed  0 running  2 skipped" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t counts[_NODE_STATE_MAX] = {};
                char buf[PROGRESS_LINE_MAX];

                counts[NODE_PENDING] = cases[i].pending;
                counts[NODE_RUNNING] = cases[i].running;
                counts[NODE_SUCCEEDED] = cases[i].succeeded;
                counts[NODE_FAILED] = cases[i].failed;
                counts[NODE_SKIPPED] = cases[i].skipped;
                progress_bar(counts, cases[i].width, buf, sizeof(buf));
                if (!streq(buf, cases[i].want))
                        fail_msg("case %zu: got '%s', want '%s'", i, buf, cases[i].want);
                assert_true(strlen(buf) <= cases[i].width);
        }
}

static void test_bar_empty_job(void **state) {
        size_t counts[_NODE_STATE_MAX] = {};
        char buf[PROGRESS_LINE_MAX];

        /* No node at all: an empty bar, no division by zero. */
        assert_string_equal(progress_bar(counts, 50, buf, sizeof(buf)),
                            "[..........] 0/0  0 succeeded  0 failed  0 running");
}

static void test_node_event(void **state) {
        static const struct {
                const char *node_json;
                const char *want;
        } cases[] = {
                { "{\"state\":\"running\",\"attempts\":1,\"exit_code\":null,\"duration_ms\":null}",
                  "running (attempt 1)" },
                { "{\"state\":\"running\",\"attempts\":3}", "running (attempt 3)" },
                { "{\"state\":\"succeeded\",\"attempts\":1,\"exit_code\":0,\"duration_ms\":1200}",
                  "succeeded (exit 0, 1s200ms)" },
                { "{\"state\":\"succeeded\",\"attempts\":2,\"exit_code\":0,\"duration_ms\":250}",
                  "succeeded (exit 0, 250ms, attempt 2)" },
                { "{\"state\":\"failed\",\"attempts\":1,\"exit_code\":3,\"reason\":\"exit:3\","
                  "\"duration_ms\":null}",
                  "failed (exit:3)" },
                { "{\"state\":\"failed\",\"attempts\":1,\"signal\":\"KILL\",\"reason\":\"timeout\","
                  "\"duration_ms\":90000}",
                  "failed (timeout, 1m30s)" },
                { "{\"state\":\"retry_wait\",\"attempts\":1,\"reason\":\"exit:75\"}",
                  "retry_wait (attempt 1: exit:75)" },
                { "{\"state\":\"skipped\",\"attempts\":0,\"reason\":\"upstream\"}", "skipped (upstream)" },
                { "{\"state\":\"cancelled\",\"attempts\":0,\"reason\":\"cancelled\"}", "cancelled" },
                { "{\"state\":\"cancelled\",\"attempts\":1,\"reason\":\"fail_fast\"}",
                  "cancelled (fail_fast)" },
                { "{\"state\":\"pending\",\"attempts\":0,\"reason\":null}", "pending" },
                { "{}", "?" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_json_ json_object *node = json_tokener_parse(cases[i].node_json);
                char buf[PROGRESS_LINE_MAX];

                assert_non_null(node);
                progress_node_event(node, buf, sizeof(buf));
                if (!streq(buf, cases[i].want))
                        fail_msg("case %zu: got '%s', want '%s'", i, buf, cases[i].want);
        }
}

static void test_fit(void **state) {
        char buf[8];

        assert_string_equal(progress_fit("abcdef", 10, buf, sizeof(buf)), "abcdef");
        assert_string_equal(progress_fit("abcdef", 6, buf, sizeof(buf)), "abcdef");
        assert_string_equal(progress_fit("abcdef", 5, buf, sizeof(buf)), "ab...");
        assert_string_equal(progress_fit("abcdef", 2, buf, sizeof(buf)), "ab");
        assert_string_equal(progress_fit("abcdef", 0, buf, sizeof(buf)), "");
        /* The buffer limits too: 7 bytes of text at most. */
        assert_string_equal(progress_fit("abcdefghijkl", 100, buf, sizeof(buf)), "abcd...");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bar),
                cmocka_unit_test(test_bar_empty_job),
                cmocka_unit_test(test_node_event),
                cmocka_unit_test(test_fit),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
