/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for protocol.c: call/reply parsing (every malformed shape is
 * rejected), encoding round trips, timestamps, the embedded interface text,
 * and the SPEC §5 status object compared byte for byte.
 */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json-util.h"
#include "macro.h"
#include "protocol.h"

#ifndef TOP_SRCDIR
#        define TOP_SRCDIR "."
#endif

typedef struct CallCase {
        const char *input;
        int want_r;
        const char *want_method;
        bool want_more, want_oneway;
        const char *want_params;  /* compact JSON of the parameters */
        const char *want_err;     /* substring of the error message */
        const char *want_invalid; /* the call flag answered with InvalidParameter */
} CallCase;

static const CallCase call_cases[] = {
        { "{\"method\":\"io.orchd.Manager.List\"}", 0, "io.orchd.Manager.List", false, false, "{}", NULL },
        { "{\"method\":\"a.B\",\"parameters\":{\"id\":\"42\"},\"more\":true}", 0, "a.B", true, false,
          "{\"id\":\"42\"}", NULL },
        { "{\"method\":\"a.B\",\"oneway\":true,\"parameters\":null}", 0, "a.B", false, true, "{}", NULL },
        { " {\"method\":\"a.b-c.D1\",\"more\":false} \n", 0, "a.b-c.D1", false, false, "{}", NULL },
        { "", -EBADMSG, NULL, false, false, NULL, "truncated" },
        { "{\"method\":\"a.B\"", -EBADMSG, NULL, false, false, NULL, "truncated" },
        { "garbage", -EBADMSG, NULL, false, false, NULL, "invalid JSON" },
        { "[1]", -EBADMSG, NULL, false, false, NULL, "not a JSON object" },
        { "\"a.B\"", -EBADMSG, NULL, false, false, NULL, "not a JSON object" },
        { "{}", -EBADMSG, NULL, false, false, NULL, "no \"method\"" },
        { "{\"parameters\":{}}", -EBADMSG, NULL, false, false, NULL, "no \"method\"" },
        { "{\"method\":1}", -EBADMSG, NULL, false, false, NULL, "not a string" },
        { "{\"method\":null}", -EBADMSG, NULL, false, false, NULL, "not a string" },
        { "{\"method\":\"List\"}", -EBADMSG, NULL, false, false, NULL, "invalid method name" },
        { "{\"method\":\"a.list\"}", -EBADMSG, NULL, false, false, NULL, "invalid method name" },
        { "{\"method\":\".a.B\"}", -EBADMSG, NULL, false, false, NULL, "invalid method name" },
        { "{\"method\":\"a..b.C\"}", -EBADMSG, NULL, false, false, NULL, "invalid method name" },
        { "{\"method\":\"a b.C\"}", -EBADMSG, NULL, false, false, NULL, "invalid method name" },
        { "{\"method\":\"a.B\",\"parameters\":[]}", -EBADMSG, NULL, false, false, NULL, "not an object" },
        { "{\"method\":\"a.B\",\"parameters\":\"x\"}", -EBADMSG, NULL, false, false, NULL, "not an object" },
        { "{\"method\":\"a.B\",\"more\":1}", 0, "a.B", false, false, "{}", NULL, "more" },
        { "{\"method\":\"a.B\",\"oneway\":\"yes\"}", 0, "a.B", false, false, "{}", NULL, "oneway" },
        { "{\"method\":\"a.B\",\"more\":true,\"oneway\":true}", -EBADMSG, NULL, false, false, NULL, "both" },
        { "{\"method\":\"a.B\",\"upgrade\":true}", 0, "a.B", false, false, "{}", NULL, "upgrade" },
        { "{\"method\":\"a.B\",\"upgrade\":false}", 0, "a.B", false, false, "{}", NULL, NULL },
        { "{\"method\":\"a.B\",\"upgrade\":true,\"more\":7}", 0, "a.B", false, false, "{}", NULL, "more" },
        { "{\"method\":\"a.B\",\"x\":1}", -EBADMSG, NULL, false, false, NULL, "unknown key \"x\"" },
        { "{\"method\":\"a.B\"} {}", -EBADMSG, NULL, false, false, NULL, "offset 17" },
        { "{\"method\":\"a.B\",}", -EBADMSG, NULL, false, false, NULL, "invalid JSON" },
        { "{'method':'a.B'}", -EBADMSG, NULL, false, false, NULL, "invalid JSON" },
        { "{\"method\":\"a.B\xff\"}", -EBADMSG, NULL, false, false, NULL, "invalid JSON" },
};

static bool streq_ptr(const char *a, const char *b) {
        return a && b ? streq(a, b) : a == b;
}

static void test_parse_call(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(call_cases); i++) {
                const CallCase *c = &call_cases[i];
                _cleanup_(varlink_message_done) VarlinkMessage m = {};
                _cleanup_free_ char *err = NULL;
                int r = protocol_parse_call(c->input, strlen(c->input), &m, &err);

                if (r != c->want_r)
                        fail_msg("case %zu '%s': got r=%d, want %d (%s)", i, c->input, r, c->want_r,
                                 strna(err));
                if (r < 0) {
                        if (!err || !strstr(err, c->want_err))
                                fail_msg("case %zu: got error '%s', want it to contain '%s'", i, strna(err),
                                         c->want_err);
                        continue;
                }
                assert_string_equal(m.method, c->want_method);
                assert_int_equal(m.more, c->want_more);
                assert_int_equal(m.oneway, c->want_oneway);
                assert_string_equal(json_object_to_json_string_ext(m.parameters, JSON_C_TO_STRING_PLAIN),
                                    c->want_params);
                assert_null(m.error);
                if (!streq_ptr(m.invalid, c->want_invalid))
                        fail_msg("case %zu: invalid '%s', want '%s'", i, strna(m.invalid),
                                 strna(c->want_invalid));
        }
}

/* Parameters are checked against the method's input in the interface description, for every method. */
static void test_unknown_parameter(void **state) {
        static const struct {
                const char *method, *params, *want;
        } cases[] = {
                { "io.orchd.Manager.List", "{}", NULL },
                { "io.orchd.Manager.List", "{\"all\":true,\"state\":\"failed\"}", NULL },
                { "io.orchd.Manager.List", "{\"all\":true,\"id\":\"1\"}", "id" },
                { "io.orchd.Manager.Status", "{\"id\":\"1\"}", NULL },
                { "io.orchd.Manager.Status", "{\"id\":\"1\",\"nodes\":[]}", "nodes" },
                { "io.orchd.Manager.Cancel", "{\"id\":\"1\",\"nodes\":[]}", NULL },
                { "io.orchd.Manager.Stats", "{\"x\":1}", "x" },
                { "io.orchd.Manager.Stat", "{\"x\":1}", NULL }, /* no such method: MethodNotFound's */
                { "org.varlink.service.GetInfo", "{\"interface\":\"x\"}", "interface" },
                { "org.varlink.service.GetInterfaceDescription", "{\"interface\":\"x\"}", NULL },
                { "com.example.X.Y", "{\"a\":1}", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_json_ json_object *p = json_tokener_parse(cases[i].params);
                const char *got = protocol_unknown_parameter(cases[i].method, p);

                if (!streq_ptr(got, cases[i].want))
                        fail_msg("%s %s: got %s, want %s", cases[i].method, cases[i].params, strna(got),
                                 strna(cases[i].want));
        }
}

static void test_parse_call_embedded_nul(void **state) {
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        _cleanup_free_ char *err = NULL;
        static const char msg[] = "{\"method\":\"a.B\"}\0{}";

        assert_int_equal(protocol_parse_call(msg, sizeof(msg) - 1, &m, &err), -EBADMSG);
        assert_non_null(strstr(err, "NUL"));
}

static void test_parse_call_too_deep(void **state) {
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        _cleanup_free_ char *err = NULL, *msg = NULL;
        size_t n = 200;

        /* {"method":"a.B","parameters":{"x":[[[[…]]]]}} nested far beyond any real call */
        static const char head[] = "{\"method\":\"a.B\",\"parameters\":{\"x\":";
        size_t h = strlen(head);

        msg = malloc(h + 2 * n + 3);
        assert_non_null(msg);
        memcpy(msg, head, h);
        memset(msg + h, '[', n);
        memset(msg + h + n, ']', n);
        strcpy(msg + h + 2 * n, "}}");
        assert_int_equal(protocol_parse_call(msg, strlen(msg), &m, &err), -EBADMSG);
        assert_non_null(strstr(err, "too deep"));
}

static void test_call_starts_with_method(void **state) {
        static const char *const yes[] = {
                "{\"method\":\"a.Submit\"",
                "{\"method\":\"a.Submit\",\"parameters\":{\"job\":\"…",
                " \t\r\n{ \"method\" :\n \"a.Submit\"}",
        };
        static const char *const no[] = {
                "",
                "{\"method\":\"a.Submit", /* the name may go on */
                "{\"method\":\"a.SubmitX\"",
                "{\"method\":\"a.Sub\"",
                "{\"method\":\" a.Submit\"",
                "{\"method\":\"a.\\u0053ubmit\"",
                "{\"parameters\":{},\"method\":\"a.Submit\"", /* must come first */
                "{\"meth\\u006fd\":\"a.Submit\"",
                "[\"method\",\"a.Submit\"",
        };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                assert_true(protocol_call_starts_with_method(yes[i], strlen(yes[i]), "a.Submit"));
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                assert_false(protocol_call_starts_with_method(no[i], strlen(no[i]), "a.Submit"));
        /* Only the first len bytes count. */
        assert_false(protocol_call_starts_with_method("{\"method\":\"a.Submit\"", 12, "a.Submit"));
}

typedef struct ReplyCase {
        const char *input;
        int want_r;
        const char *want_error;
        bool want_continues;
        const char *want_params;
} ReplyCase;

static const ReplyCase reply_cases[] = {
        { "{\"parameters\":{\"a\":1}}", 0, NULL, false, "{\"a\":1}" },
        { "{}", 0, NULL, false, "{}" },
        { "{\"parameters\":{},\"continues\":true}", 0, NULL, true, "{}" },
        { "{\"error\":\"io.orchd.Manager.NoSuchJob\",\"parameters\":{\"id\":\"4\"}}", 0,
          "io.orchd.Manager.NoSuchJob", false, "{\"id\":\"4\"}" },
        { "{\"parameters\":{},\"future\":1}", 0, NULL, false, "{}" }, /* unknown keys ignored in replies */
        { "{\"error\":3}", -EBADMSG, NULL, false, NULL },
        { "{\"error\":\"nodot\"}", -EBADMSG, NULL, false, NULL },
        { "{\"error\":\"a.B\",\"continues\":true}", -EBADMSG, NULL, false, NULL },
        { "{\"parameters\":5}", -EBADMSG, NULL, false, NULL },
        { "{\"continues\":\"yes\"}", -EBADMSG, NULL, false, NULL },
        { "[]", -EBADMSG, NULL, false, NULL },
        { "{", -EBADMSG, NULL, false, NULL },
};

static void test_parse_reply(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(reply_cases); i++) {
                const ReplyCase *c = &reply_cases[i];
                _cleanup_(varlink_message_done) VarlinkMessage m = {};
                _cleanup_free_ char *err = NULL;
                int r = protocol_parse_reply(c->input, strlen(c->input), &m, &err);

                if (r != c->want_r)
                        fail_msg("case %zu '%s': got r=%d, want %d (%s)", i, c->input, r, c->want_r,
                                 strna(err));
                if (r < 0) {
                        assert_non_null(err);
                        continue;
                }
                if (c->want_error)
                        assert_string_equal(m.error, c->want_error);
                else
                        assert_null(m.error);
                assert_int_equal(m.continues, c->want_continues);
                assert_string_equal(json_object_to_json_string_ext(m.parameters, JSON_C_TO_STRING_PLAIN),
                                    c->want_params);
        }
}

static void test_format(void **state) {
        _cleanup_json_ json_object *p = json_tokener_parse("{\"id\":\"42\",\"path\":\"a/b\"}");
        _cleanup_free_ char *call = NULL, *reply = NULL, *cont = NULL, *error = NULL, *empty = NULL;
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        size_t len;

        call = protocol_format_call("io.orchd.Manager.Status", p, true, &len);
        assert_string_equal(
                call,
                "{\"method\":\"io.orchd.Manager.Status\",\"parameters\":{\"id\":\"42\",\"path\":\"a/b\"},"
                "\"more\":true}");
        assert_int_equal(len, strlen(call) + 1); /* the NUL terminator is part of the message */
        assert_int_equal(call[len - 1], '\0');

        /* Round trip through the parser, without the NUL. */
        assert_int_equal(protocol_parse_call(call, len - 1, &m, NULL), 0);
        assert_string_equal(m.method, "io.orchd.Manager.Status");
        assert_true(m.more);
        assert_true(json_object_equal(m.parameters, p));
        /* The caller's object is borrowed, not consumed. */
        assert_string_equal(json_object_get_string(json_object_object_get(p, "id")), "42");

        reply = protocol_format_reply(p, false, &len);
        assert_string_equal(reply, "{\"parameters\":{\"id\":\"42\",\"path\":\"a/b\"}}");
        cont = protocol_format_reply(NULL, true, &len);
        assert_string_equal(cont, "{\"parameters\":{},\"continues\":true}");
        error = protocol_format_error(ORCH_ERROR_NO_SUCH_JOB, p, &len);
        assert_string_equal(
                error,
                "{\"error\":\"io.orchd.Manager.NoSuchJob\",\"parameters\":{\"id\":\"42\",\"path\":"
                "\"a/b\"}}");
        empty = protocol_format_call("a.B", NULL, false, NULL);
        assert_string_equal(empty, "{\"method\":\"a.B\",\"parameters\":{}}");
}

static void test_format_nul_in_string(void **state) {
        _cleanup_json_ json_object *p = json_object_new_object();
        _cleanup_free_ char *msg = NULL;
        size_t len;

        json_object_object_add(p, "s", json_object_new_string_len("a\0b", 3));
        msg = protocol_format_reply(p, false, &len);
        /* A NUL inside a string must be escaped, or it would end the message early. */
        assert_int_equal(strlen(msg) + 1, len);
        assert_non_null(strstr(msg, "\\u0000"));
}

static const struct {
        uint64_t usec;
        const char *want;
} timestamp_cases[] = {
        { 0, "1970-01-01T00:00:00.000Z" },
        { 1, "1970-01-01T00:00:00.000Z" },
        { 999999, "1970-01-01T00:00:00.999Z" },
        { 1795685400123000ULL, "2026-11-26T09:30:00.123Z" },
        { 1795685400123999ULL, "2026-11-26T09:30:00.123Z" }, /* truncated, not rounded up into the next ms */
        { 951782400000000ULL, "2000-02-29T00:00:00.000Z" },
        { 4102444799999000ULL, "2099-12-31T23:59:59.999Z" },
};

static void test_timestamp_format(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(timestamp_cases); i++) {
                char buf[TIMESTAMP_STRING_MAX];
                uint64_t back;

                protocol_format_timestamp(timestamp_cases[i].usec, buf, sizeof(buf));
                if (!streq(buf, timestamp_cases[i].want))
                        fail_msg("usec %" PRIu64 ": got %s, want %s", timestamp_cases[i].usec, buf,
                                 timestamp_cases[i].want);
                assert_int_equal(protocol_parse_timestamp(buf, &back), 0);
                assert_int_equal(back, timestamp_cases[i].usec / 1000 * 1000);
        }
}

static const struct {
        const char *input;
        int want_r;
        uint64_t want;
} parse_ts_cases[] = {
        { "2026-11-26T09:30:00.123Z", 0, 1795685400123000ULL },
        { "2026-11-26T09:30:00Z", 0, 1795685400000000ULL },
        { "2026-11-26T09:30:00.5Z", 0, 1795685400500000ULL },
        { "2026-11-26T09:30:00.123456789Z", 0, 1795685400123456ULL },
        { "2026-11-26T09:30:00.1234567890Z", -EINVAL, 0 },
        { "2026-11-26T09:30:00.Z", -EINVAL, 0 },
        { "2026-11-26T09:30:00.123", -EINVAL, 0 },
        { "2026-11-26T09:30:00.123+01:00", -EINVAL, 0 },
        { "2026-11-26 09:30:00Z", -EINVAL, 0 },
        { "2026-13-26T09:30:00Z", -EINVAL, 0 },
        { "", -EINVAL, 0 },
        { "yesterday", -EINVAL, 0 },
};

static void test_timestamp_parse(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(parse_ts_cases); i++) {
                uint64_t got = 0;
                int r = protocol_parse_timestamp(parse_ts_cases[i].input, &got);

                if (r != parse_ts_cases[i].want_r)
                        fail_msg("'%s': got r=%d, want %d", parse_ts_cases[i].input, r,
                                 parse_ts_cases[i].want_r);
                if (r == 0 && got != parse_ts_cases[i].want)
                        fail_msg("'%s': got %" PRIu64 ", want %" PRIu64, parse_ts_cases[i].input, got,
                                 parse_ts_cases[i].want);
        }
        assert_int_equal(protocol_parse_timestamp(NULL, &(uint64_t){ 0 }), -EINVAL);
}

static void test_interface_description(void **state) {
        _cleanup_free_ char *file = NULL;
        FILE *f;
        size_t n;

        f = fopen(TOP_SRCDIR "/src/shared/io.orchd.Manager.varlink", "re");
        if (!f)
                fail_msg("cannot open %s/src/shared/io.orchd.Manager.varlink: %m", TOP_SRCDIR);
        file = calloc(1, 65536);
        assert_non_null(file);
        n = fread(file, 1, 65535, f);
        fclose(f);
        assert_true(n > 0 && n < 65535);
        /* The embedded copy is what GetInterfaceDescription serves; it must be the shipped file. */
        assert_string_equal(protocol_interface_description("io.orchd.Manager"), file);
        assert_non_null(strstr(protocol_interface_description("org.varlink.service"),
                               "interface org.varlink.service\n"));
        assert_null(protocol_interface_description("io.orchd.Other"));
        assert_null(protocol_interface_description(NULL));
}

static void test_method_interface(void **state) {
        _cleanup_free_ char *a = protocol_method_interface("io.orchd.Manager.List");
        _cleanup_free_ char *b = protocol_method_interface("a.B");

        assert_string_equal(a, "io.orchd.Manager");
        assert_string_equal(b, "a");
        assert_null(protocol_method_interface("List"));
}

/* A job of three nodes in file order build, unit, e2e, one finished job-wide field each kind. */
static JobRun *make_run(void) {
        JobRun *run = NULL;

        assert_int_equal(job_run_new(3, &run), 0);
        run->id = 42;
        run->state = JOB_FAILED;
        run->reason = (Reason){ .kind = REASON_EXIT, .arg = 0 };
        run->uid = 1000;
        run->user = strdup("alice");
        run->source = strdup("nightly.json");
        run->submitted_at = 1795685400123000ULL;
        run->started_at = 1795685400125000ULL;
        run->finished_at = 1795685460000000ULL;

        run->nodes[0] = (NodeRun){ .state = NODE_SUCCEEDED,
                                   .attempt = 1,
                                   .exit_code = 0,
                                   .started_at = 1795685400125000ULL,
                                   .finished_at = 1795685401359999ULL };
        run->nodes[1] = (NodeRun){ .state = NODE_FAILED,
                                   .attempt = 3,
                                   .exit_code = -1,
                                   .signal = SIGKILL,
                                   .reason = { .kind = REASON_SIGNAL, .arg = SIGKILL },
                                   .started_at = 1795685402000000ULL,
                                   .finished_at = 1795685403000000ULL };
        run->nodes[2] = (NodeRun){ .state = NODE_SKIPPED,
                                   .exit_code = -1,
                                   .reason = { .kind = REASON_UPSTREAM },
                                   .finished_at = 1795685403000000ULL };
        return run;
}

static void test_job_to_json(void **state) {
        NodeSpec nodes[3] = { { .id = (char *) "build" },
                              { .id = (char *) "unit" },
                              { .id = (char *) "e2e" } };
        JobSpec spec = { .name = (char *) "nightly",
                         .key = (char *) "k1",
                         .priority = -5,
                         .nodes = nodes,
                         .n_nodes = 3 };
        JobRun *run = make_run();
        _cleanup_json_ json_object *full = NULL, *summary = NULL;

        run->reason = (Reason){}; /* REASON_NONE → null */
        full = protocol_job_to_json(&spec, run, true);
        assert_non_null(full);
        assert_string_equal(
                json_object_to_json_string_ext(full, JSON_C_TO_STRING_PLAIN),
                "{\"id\":\"42\",\"name\":\"nightly\",\"state\":\"failed\",\"reason\":null,"
                "\"owner\":{\"uid\":1000,\"user\":\"alice\"},\"priority\":-5,"
                "\"submitted_at\":\"2026-11-26T09:30:00.123Z\",\"started_at\":\"2026-11-26T09:30:00.125Z\","
                "\"finished_at\":\"2026-11-26T09:31:00.000Z\",\"key\":\"k1\",\"source\":\"nightly.json\","
                "\"nodes\":{"
                "\"build\":{\"state\":\"succeeded\",\"attempts\":1,\"exit_code\":0,\"signal\":null,"
                "\"reason\":null,"
                "\"started_at\":\"2026-11-26T09:30:00.125Z\",\"finished_at\":\"2026-11-26T09:30:01.359Z\","
                "\"duration_ms\":1234},"
                "\"unit\":{\"state\":\"failed\",\"attempts\":3,\"exit_code\":null,\"signal\":\"KILL\","
                "\"reason\":\"signal:KILL\",\"started_at\":\"2026-11-26T09:30:02.000Z\","
                "\"finished_at\":\"2026-11-26T09:30:03.000Z\",\"duration_ms\":1000},"
                "\"e2e\":{\"state\":\"skipped\",\"attempts\":0,\"exit_code\":null,\"signal\":null,"
                "\"reason\":\"upstream\",\"started_at\":null,\"finished_at\":\"2026-11-26T09:30:03.000Z\","
                "\"duration_ms\":null}}}");

        /* List form: no nodes, counts of every state; unknown owner name and no key are null. */
        free(run->user);
        run->user = NULL;
        spec.key = NULL;
        run->state = JOB_RUNNING;
        run->finished_at = 0;
        summary = protocol_job_to_json(&spec, run, false);
        assert_non_null(summary);
        assert_string_equal(
                json_object_to_json_string_ext(summary, JSON_C_TO_STRING_PLAIN),
                "{\"id\":\"42\",\"name\":\"nightly\",\"state\":\"running\",\"reason\":null,"
                "\"owner\":{\"uid\":1000,\"user\":null},\"priority\":-5,"
                "\"submitted_at\":\"2026-11-26T09:30:00.123Z\",\"started_at\":\"2026-11-26T09:30:00.125Z\","
                "\"finished_at\":null,\"key\":null,\"source\":\"nightly.json\","
                "\"counts\":{\"pending\":0,\"running\":0,\"retry_wait\":0,\"succeeded\":1,\"failed\":1,"
                "\"skipped\":1,\"cancelled\":0}}");
        job_run_free(run);
}

static void test_job_to_json_running_node(void **state) {
        NodeSpec nodes[1] = { { .id = (char *) "n" } };
        JobSpec spec = { .name = (char *) "j", .nodes = nodes, .n_nodes = 1 };
        JobRun *run = NULL;
        _cleanup_json_ json_object *o = NULL;
        json_object *n;

        assert_int_equal(job_run_new(1, &run), 0);
        run->id = UINT64_C(18446744073709551615);
        run->reason = (Reason){ .kind = REASON_JOB_TIMEOUT };
        run->nodes[0] = (NodeRun){
                .state = NODE_RUNNING, .attempt = 2, .exit_code = -1, .started_at = 1795685400000000ULL
        };
        o = protocol_job_to_json(&spec, run, true);
        assert_non_null(o);
        assert_string_equal(json_object_get_string(json_object_object_get(o, "id")), "18446744073709551615");
        assert_string_equal(json_object_get_string(json_object_object_get(o, "reason")), "job_timeout");
        n = json_object_object_get(json_object_object_get(o, "nodes"), "n");
        assert_string_equal(
                json_object_to_json_string_ext(n, JSON_C_TO_STRING_PLAIN),
                "{\"state\":\"running\",\"attempts\":2,\"exit_code\":null,\"signal\":null,"
                "\"reason\":null,\"started_at\":\"2026-11-26T09:30:00.000Z\",\"finished_at\":null,"
                "\"duration_ms\":null}");
        job_run_free(run);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_call),
                cmocka_unit_test(test_unknown_parameter),
                cmocka_unit_test(test_parse_call_embedded_nul),
                cmocka_unit_test(test_parse_call_too_deep),
                cmocka_unit_test(test_call_starts_with_method),
                cmocka_unit_test(test_parse_reply),
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_format_nul_in_string),
                cmocka_unit_test(test_timestamp_format),
                cmocka_unit_test(test_timestamp_parse),
                cmocka_unit_test(test_interface_description),
                cmocka_unit_test(test_method_interface),
                cmocka_unit_test(test_job_to_json),
                cmocka_unit_test(test_job_to_json_running_node),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
