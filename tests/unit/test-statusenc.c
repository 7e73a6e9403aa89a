/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for statusenc.c: the Status reply encoded without a tree must be byte for byte what json-c
 * makes of protocol_job_to_json() (and of {"job": …} around it), for jobs in every node state, with and
 * without optional fields, and with strings that need every kind of escape.
 */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobspec.h"
#include "json-util.h"
#include "macro.h"
#include "protocol.h"
#include "statusenc.h"

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static JobSpec *parse(const char *text) {
        JobLimits limits;
        JobErrors *errors = NULL;
        JobSpec *spec = NULL;

        jobspec_limits_init(&limits);
        assert_int_equal(jobspec_parse(text, strlen(text), &limits, "fallback", &spec, &errors), 0);
        assert_null(errors);
        return spec;
}

/* The reply made in slices of step nodes, as text. */
static char *sliced(const JobSpec *spec, const JobRun *run, size_t step) {
        _cleanup_json_ json_object *reply = NULL;
        StatusEnc *e = NULL;
        int r;

        assert_int_equal(statusenc_begin(spec, run, &e), 0);
        while ((r = statusenc_step(e, spec, step)) == 0)
                ;
        assert_int_equal(r, 1);
        reply = statusenc_finish(e);
        assert_non_null(reply);
        return strdup(json_object_to_json_string_ext(reply, FLAGS));
}

/* The encoder's text against json-c's serialization of the tree, for the job alone and as a reply; made in
 * slices of any size, the same. */
static void assert_same(const JobSpec *spec, const JobRun *run) {
        _cleanup_json_ json_object *tree = protocol_job_to_json(spec, run, true);
        _cleanup_json_ json_object *wrapped = json_object_new_object();
        _cleanup_json_ json_object *reply = statusenc_job_reply(spec, run);
        _cleanup_free_ char *text = NULL;
        size_t len = 0;

        assert_non_null(tree);
        assert_int_equal(statusenc_job(spec, run, &text, &len), 0);
        assert_string_equal(text, json_object_to_json_string_ext(tree, FLAGS));
        assert_int_equal(len, strlen(text));

        assert_non_null(reply);
        json_object_object_add(wrapped, "job", json_object_get(tree));
        assert_string_equal(json_object_to_json_string_ext(reply, FLAGS),
                            json_object_to_json_string_ext(wrapped, FLAGS));
        /* Inside a reply, as control.c sends it. */
        _cleanup_free_ char *a = protocol_format_reply(reply, false, NULL);
        _cleanup_free_ char *b = protocol_format_reply(wrapped, false, NULL);
        assert_string_equal(a, b);
        for (size_t step = 1; step <= run->n_nodes + 1; step += 2) {
                _cleanup_free_ char *c = sliced(spec, run, step);

                assert_string_equal(c, json_object_to_json_string_ext(wrapped, FLAGS));
        }
}

/* A sliced reply is the job as it was when it began, whatever changes between the slices. */
static void test_sliced_is_a_snapshot(void **state) {
        _cleanup_(jobspec_freep) JobSpec *spec = parse(
                "{\"nodes\":{\"a\":{\"cmd\":\"true\"},\"b\":{\"cmd\":\"true\"},\"c\":{\"cmd\":\"true\"}}}");
        _cleanup_(job_run_freep) JobRun *run = NULL;
        _cleanup_json_ json_object *before = NULL, *got = NULL;
        StatusEnc *e = NULL;

        assert_int_equal(job_run_new(spec->n_nodes, &run), 0);
        run->id = 3;
        before = statusenc_job_reply(spec, run);
        assert_int_equal(statusenc_begin(spec, run, &e), 0);
        assert_int_equal(statusenc_step(e, spec, 1), 0);
        run->state = JOB_RUNNING;
        run->nodes[1].state = NODE_RUNNING;
        run->nodes[2].attempt = 9;
        assert_int_equal(statusenc_step(e, spec, 1), 0);
        assert_int_equal(statusenc_step(e, spec, 5), 1);
        got = statusenc_finish(e);
        assert_string_equal(json_object_to_json_string_ext(got, FLAGS),
                            json_object_to_json_string_ext(before, FLAGS));
        statusenc_free(NULL);
}

static void test_pending_job(void **state) {
        _cleanup_(jobspec_freep) JobSpec *spec = parse("{\"nodes\":{\"a\":{\"cmd\":\"true\"}}}");
        _cleanup_(job_run_freep) JobRun *run = NULL;

        assert_int_equal(job_run_new(spec->n_nodes, &run), 0);
        run->id = 7;
        assert_same(spec, run); /* no user, no source, no key, no timestamps */
}

static void test_every_state(void **state) {
        _cleanup_(jobspec_freep) JobSpec *spec = parse(
                "{\"key\":\"k/1 é\",\"priority\":-5,"
                "\"nodes\":{\"a\":{\"cmd\":\"true\"},\"b.c\":{\"cmd\":\"true\",\"after\":[\"a\"]},"
                "\"d-1\":{\"cmd\":\"true\"},\"e_2\":{\"cmd\":\"true\"},\"f\":{\"cmd\":\"true\"},"
                "\"g\":{\"cmd\":\"true\"},\"h\":{\"cmd\":\"true\"},\"i\":{\"cmd\":\"true\"}}}");
        _cleanup_(job_run_freep) JobRun *run = NULL;
        uint64_t t = UINT64_C(1765000000) * 1000000 + 123456;

        /* Not a name a job file may give (the parser refuses control characters): every escape at once. */
        free(spec->name);
        spec->name = strdup("n\x01\"q\\/\xc3\xa9\t\n\r\b\f\x1f\x7f");
        assert_int_equal(job_run_new(spec->n_nodes, &run), 0);
        run->id = UINT64_C(18446744073709551615);
        run->uid = 4294967294U;
        run->user = strdup("us\"er");
        run->source = strdup("dir/x\x02.json");
        run->state = JOB_RUNNING;
        run->submitted_at = t;
        run->started_at = t + 999;
        run->finished_at = 0;
        for (size_t i = 0; i < run->n_nodes; i++) {
                NodeRun *n = &run->nodes[i];

                n->state = (uint8_t) (i % _NODE_STATE_MAX);
                n->attempt = (uint16_t) i;
                n->exit_code = (int16_t) (i % 2 ? -1 : (int) i * 30);
                n->signal = (int16_t) (i == 3 ? SIGKILL : i == 4 ? SIGRTMIN + 2 : 0);
                n->reason = (Reason){ .kind = (int8_t) (i % (REASON_INTERRUPTED + 1)), .arg = (int32_t) i };
                n->started_at = i == 0 ? 0 : t + i * 1001 * 1000;
                n->finished_at = i % 3 == 0 ? 0 : t + i * 2000 * 1000 + (i == 5 ? 5 * 1000000 : 0);
                n->log_dropped = i == 6 ? UINT64_MAX : i == 7 ? 4090 : 0; /* only shown when not 0 */
        }
        assert_same(spec, run);
        run->state = JOB_FAILED;
        run->reason = (Reason){ .kind = REASON_FAIL_FAST };
        run->finished_at = t +
                86400ULL * 1000000 * 400; /* another day and year: the cached second changes */
        assert_same(spec, run);
}

static void test_fewer_run_nodes(void **state) {
        _cleanup_(jobspec_freep)
                JobSpec *spec = parse("{\"nodes\":{\"a\":{\"cmd\":\"true\"},\"b\":{\"cmd\":\"true\"}}}");
        _cleanup_(job_run_freep) JobRun *run = NULL;

        /* A run shorter than its spec (a damaged state file) shows the nodes it has, as the tree does. */
        assert_int_equal(job_run_new(1, &run), 0);
        assert_same(spec, run);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pending_job),
                cmocka_unit_test(test_every_state),
                cmocka_unit_test(test_fewer_run_nodes),
                cmocka_unit_test(test_sliced_is_a_snapshot),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
