/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for state.c: the string tables, every (from, to) pair of both state machines against an
 * explicit matrix of SPEC §4, that set_state really aborts on an illegal transition (in a forked child),
 * reason round trips, and the JobRun constructor.
 */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "macro.h"
#include "exec-proto.h"
#include "state.h"

static void test_job_state_strings(void **state) {
        static const struct {
                JobState s;
                const char *str;
        } table[] = {
                { JOB_QUEUED, "queued" },       { JOB_RUNNING, "running" }, { JOB_PAUSED, "paused" },
                { JOB_SUCCEEDED, "succeeded" }, { JOB_FAILED, "failed" },   { JOB_CANCELLED, "cancelled" },
        };

        assert_int_equal(ELEMENTSOF(table), _JOB_STATE_MAX);
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                assert_string_equal(job_state_to_string(table[i].s), table[i].str);
                assert_int_equal(job_state_from_string(table[i].str), table[i].s);
        }
        assert_null(job_state_to_string(_JOB_STATE_MAX));
        assert_null(job_state_to_string(-1));
        assert_int_equal(job_state_from_string("Queued"), -EINVAL);
        assert_int_equal(job_state_from_string(""), -EINVAL);
        assert_int_equal(job_state_from_string(NULL), -EINVAL);
}

static void test_node_state_strings(void **state) {
        static const struct {
                NodeState s;
                const char *str;
        } table[] = {
                { NODE_PENDING, "pending" },       { NODE_RUNNING, "running" },
                { NODE_RETRY_WAIT, "retry_wait" }, { NODE_SUCCEEDED, "succeeded" },
                { NODE_FAILED, "failed" },         { NODE_SKIPPED, "skipped" },
                { NODE_CANCELLED, "cancelled" },
        };

        assert_int_equal(ELEMENTSOF(table), _NODE_STATE_MAX);
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                assert_string_equal(node_state_to_string(table[i].s), table[i].str);
                assert_int_equal(node_state_from_string(table[i].str), table[i].s);
        }
        assert_null(node_state_to_string(_NODE_STATE_MAX));
        assert_int_equal(node_state_from_string("retry-wait"), -EINVAL);
        assert_int_equal(node_state_from_string("queued"), -EINVAL);
}

static void test_rule_strings(void **state) {
        assert_string_equal(trigger_rule_to_string(TRIGGER_SUCCESS), "success");
        assert_string_equal(trigger_rule_to_string(TRIGGER_FAILURE), "failure");
        assert_string_equal(trigger_rule_to_string(TRIGGER_ALWAYS), "always");
        assert_null(trigger_rule_to_string(_TRIGGER_RULE_MAX));
        assert_int_equal(trigger_rule_from_string("success"), TRIGGER_SUCCESS);
        assert_int_equal(trigger_rule_from_string("failure"), TRIGGER_FAILURE);
        assert_int_equal(trigger_rule_from_string("always"), TRIGGER_ALWAYS);
        assert_int_equal(trigger_rule_from_string("never"), -EINVAL);

        assert_string_equal(on_interrupt_to_string(ON_INTERRUPT_RERUN), "rerun");
        assert_string_equal(on_interrupt_to_string(ON_INTERRUPT_FAIL), "fail");
        assert_null(on_interrupt_to_string(_ON_INTERRUPT_MAX));
        assert_int_equal(on_interrupt_from_string("rerun"), ON_INTERRUPT_RERUN);
        assert_int_equal(on_interrupt_from_string("fail"), ON_INTERRUPT_FAIL);
        assert_int_equal(on_interrupt_from_string("retry"), -EINVAL);
}

static void test_final(void **state) {
        static const bool job_final[_JOB_STATE_MAX] = {
                [JOB_SUCCEEDED] = true,
                [JOB_FAILED] = true,
                [JOB_CANCELLED] = true,
        };
        static const bool node_final[_NODE_STATE_MAX] = {
                [NODE_SUCCEEDED] = true,
                [NODE_FAILED] = true,
                [NODE_SKIPPED] = true,
                [NODE_CANCELLED] = true,
        };

        for (int s = 0; s < _JOB_STATE_MAX; s++)
                if (job_state_is_final(s) != job_final[s])
                        fail_msg("job_state_is_final(%s): got %d, want %d", job_state_to_string(s),
                                 job_state_is_final(s), job_final[s]);
        for (int s = 0; s < _NODE_STATE_MAX; s++)
                if (node_state_is_final(s) != node_final[s])
                        fail_msg("node_state_is_final(%s): got %d, want %d", node_state_to_string(s),
                                 node_state_is_final(s), node_final[s]);
}

/* The expected matrices, written out in full: row = from, column = to, 1 = legal. */
static const bool job_legal[_JOB_STATE_MAX][_JOB_STATE_MAX] = {
        /*                queued running paused succeeded failed cancelled */
        [JOB_QUEUED] = { 0, 1, 1, 1, 1, 1 }, [JOB_RUNNING] = { 0, 0, 1, 1, 1, 1 },
        [JOB_PAUSED] = { 1, 1, 0, 1, 1, 1 }, [JOB_SUCCEEDED] = { 0, 0, 0, 0, 0, 0 },
        [JOB_FAILED] = { 0, 0, 0, 0, 0, 0 }, [JOB_CANCELLED] = { 0, 0, 0, 0, 0, 0 },
};

static const bool node_legal[_NODE_STATE_MAX][_NODE_STATE_MAX] = {
        /*                  pending running retry_wait succeeded failed skipped cancelled */
        [NODE_PENDING] = { 0, 1, 0, 0, 0, 1, 1 },    [NODE_RUNNING] = { 0, 0, 1, 1, 1, 0, 1 },
        [NODE_RETRY_WAIT] = { 0, 1, 0, 0, 0, 0, 1 }, [NODE_SUCCEEDED] = { 0, 0, 0, 0, 0, 0, 0 },
        [NODE_FAILED] = { 0, 0, 0, 0, 0, 0, 0 },     [NODE_SKIPPED] = { 0, 0, 0, 0, 0, 0, 0 },
        [NODE_CANCELLED] = { 0, 0, 0, 0, 0, 0, 0 },
};

static void test_job_transitions(void **state) {
        for (int from = 0; from < _JOB_STATE_MAX; from++)
                for (int to = 0; to < _JOB_STATE_MAX; to++) {
                        int want = job_legal[from][to] ? 0 : -EINVAL;
                        int got = job_state_transition_check(from, to);

                        if (got != want)
                                fail_msg("job %s -> %s: got %d, want %d", job_state_to_string(from),
                                         job_state_to_string(to), got, want);
                }
        assert_int_equal(job_state_transition_check(JOB_QUEUED, _JOB_STATE_MAX), -EINVAL);
        assert_int_equal(job_state_transition_check(-1, JOB_RUNNING), -EINVAL);
}

static void test_node_transitions(void **state) {
        for (int from = 0; from < _NODE_STATE_MAX; from++)
                for (int to = 0; to < _NODE_STATE_MAX; to++) {
                        int want = node_legal[from][to] ? 0 : -EINVAL;
                        int got = node_state_transition_check(from, to);

                        if (got != want)
                                fail_msg("node %s -> %s: got %d, want %d", node_state_to_string(from),
                                         node_state_to_string(to), got, want);
                }
        assert_int_equal(node_state_transition_check(NODE_PENDING, _NODE_STATE_MAX), -EINVAL);
        assert_int_equal(node_state_transition_check(_NODE_STATE_MAX, NODE_PENDING), -EINVAL);
}

/* Run f(arg) in a child and return its wait status; the child exits 0 if f returns. */
static int run_in_child(void (*f)(int, int), int a, int b) {
        pid_t pid;
        int status;

        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* Keep the expected abort message out of the test output. */
                if (!freopen("/dev/null", "w", stderr))
                        _exit(3);
                f(a, b);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return status;
}

static void set_node(int from, int to) {
        NodeRun n = { .state = (uint8_t) from };

        node_run_set_state(&n, to);
        if (n.state != to)
                _exit(2);
}

static void set_job(int from, int to) {
        JobRun r = { .state = (uint8_t) from };

        job_run_set_state(&r, to);
        if (r.state != to)
                _exit(2);
}

static void requeue(int from, int unused) {
        NodeRun n = { .state = (uint8_t) from };

        node_run_requeue_interrupted(&n);
}

static void reset_node(int from, int unused) {
        NodeRun n = { .state = (uint8_t) from };

        node_run_reset_for_retry(&n);
}

static void reset_job(int from, int unused) {
        JobRun r = { .state = (uint8_t) from };

        job_run_reset_for_retry(&r);
}

/* Every pair through the setters: legal ones set the state, illegal ones abort (also under NDEBUG). */
static void test_set_state_aborts(void **state) {
        for (int from = 0; from < _NODE_STATE_MAX; from++)
                for (int to = 0; to < _NODE_STATE_MAX; to++) {
                        int st = run_in_child(set_node, from, to);
                        bool aborted = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
                        bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;

                        if (node_legal[from][to] ? !ok : !aborted)
                                fail_msg("node_run_set_state %s -> %s: got status 0x%x, want %s",
                                         node_state_to_string(from), node_state_to_string(to), st,
                                         node_legal[from][to] ? "success" : "SIGABRT");
                }
        for (int from = 0; from < _JOB_STATE_MAX; from++)
                for (int to = 0; to < _JOB_STATE_MAX; to++) {
                        int st = run_in_child(set_job, from, to);
                        bool aborted = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
                        bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;

                        if (job_legal[from][to] ? !ok : !aborted)
                                fail_msg("job_run_set_state %s -> %s: got status 0x%x, want %s",
                                         job_state_to_string(from), job_state_to_string(to), st,
                                         job_legal[from][to] ? "success" : "SIGABRT");
                }
        for (int from = 0; from < _NODE_STATE_MAX; from++) {
                int st = run_in_child(requeue, from, 0);
                bool aborted = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;

                if (aborted != (from != NODE_RUNNING))
                        fail_msg("node_run_requeue_interrupted from %s: got status 0x%x",
                                 node_state_to_string(from), st);
                /* A manual retry takes only finished nodes and jobs. */
                st = run_in_child(reset_node, from, 0);
                aborted = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
                if (aborted != !node_state_is_final(from))
                        fail_msg("node_run_reset_for_retry from %s: got status 0x%x",
                                 node_state_to_string(from), st);
        }
        for (int from = 0; from < _JOB_STATE_MAX; from++) {
                int st = run_in_child(reset_job, from, 0);
                bool aborted = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;

                if (aborted != !job_state_is_final(from))
                        fail_msg("job_run_reset_for_retry from %s: got status 0x%x",
                                 job_state_to_string(from), st);
        }
}

static void test_pause_resume(void **state) {
        JobRun r = { .state = JOB_QUEUED };

        job_run_set_state(&r, JOB_PAUSED);
        assert_int_equal(r.paused_from, JOB_QUEUED);
        job_run_set_state(&r, JOB_QUEUED);
        job_run_set_state(&r, JOB_RUNNING);
        job_run_set_state(&r, JOB_PAUSED);
        assert_int_equal(r.paused_from, JOB_RUNNING);
        job_run_set_state(&r, JOB_RUNNING);
        assert_int_equal(r.state, JOB_RUNNING);
}

static void test_requeue_interrupted(void **state) {
        NodeRun n = {
                .state = NODE_RUNNING,
                .attempt = 2,
                .interrupted = 1,
                .started_at = 1234,
                .reason = { .kind = REASON_SIGNAL, .arg = SIGKILL },
        };

        node_run_requeue_interrupted(&n);
        assert_int_equal(n.state, NODE_PENDING);
        assert_int_equal(n.interrupted, 2);
        assert_int_equal(n.attempt, 2); /* attempts started stay counted */
        assert_int_equal(n.started_at, 0);
        assert_int_equal(n.reason.kind, REASON_NONE);
        /* And it may run again. */
        node_run_set_state(&n, NODE_RUNNING);
}

/* crash_reruns counts reruns in a row: a requeue keeps it, any end of an attempt and a manual retry reset
 * it. */
static void test_crash_reruns(void **state) {
        static const NodeState ends[] = { NODE_SUCCEEDED, NODE_FAILED, NODE_CANCELLED, NODE_RETRY_WAIT };

        for (size_t i = 0; i < ELEMENTSOF(ends); i++) {
                NodeRun n = { .state = NODE_RUNNING, .attempt = 3, .crash_reruns = 2 };

                node_run_requeue_interrupted(&n);
                assert_int_equal(n.crash_reruns, 2);
                node_run_set_state(&n, NODE_RUNNING);
                assert_int_equal(n.crash_reruns, 2); /* the rerun itself is still "in a row" */
                node_run_set_state(&n, ends[i]);
                if (n.crash_reruns != 0)
                        fail_msg("running -> %s: got crash_reruns %u, want 0", node_state_to_string(ends[i]),
                                 (unsigned) n.crash_reruns);
        }

        NodeRun f = { .state = NODE_FAILED, .attempt = 4, .crash_reruns = 3 };
        node_run_reset_for_retry(&f);
        assert_int_equal(f.crash_reruns, 0);
}

static void test_reset_for_retry(void **state) {
        NodeRun n = {
                .state = NODE_FAILED,
                .attempt = 5,
                .interrupted = 1,
                .exit_code = 3,
                .signal = 0,
                .started_at = 1234,
                .finished_at = 5678,
                .reason = { .kind = REASON_EXIT, .arg = 3 },
        };
        JobRun r = {
                .state = JOB_FAILED,
                .reason = { .kind = REASON_EXIT, .arg = 3 },
                .cancel_requested = true,
                .submitted_at = 1,
                .started_at = 2,
                .finished_at = 3,
        };

        assert_int_equal(node_run_counted_attempts(&n), 4);
        node_run_reset_for_retry(&n);
        assert_int_equal(n.state, NODE_PENDING);
        assert_int_equal(n.attempt, 5); /* attempt numbers go on */
        assert_int_equal(n.interrupted, 1);
        assert_int_equal(n.retry_base, 4);
        assert_int_equal(node_run_counted_attempts(&n), 0); /* a fresh round of retry.attempts */
        assert_int_equal(n.exit_code, -1);
        assert_int_equal(n.reason.kind, REASON_NONE);
        assert_int_equal(n.started_at, 0);
        assert_int_equal(n.finished_at, 0);
        node_run_set_state(&n, NODE_RUNNING);
        n.attempt++;
        assert_int_equal(node_run_counted_attempts(&n), 1);

        job_run_reset_for_retry(&r);
        assert_int_equal(r.state, JOB_QUEUED);
        assert_int_equal(r.reason.kind, REASON_NONE);
        assert_false(r.cancel_requested);
        assert_int_equal(r.submitted_at, 1);
        assert_int_equal(r.started_at, 0);
        assert_int_equal(r.finished_at, 0);
        job_run_set_state(&r, JOB_RUNNING);
}

static void test_reason_round_trip(void **state) {
        static const struct {
                Reason r;
                const char *str;
        } table[] = {
                { { REASON_EXIT, 0 }, "exit:0" },
                { { REASON_EXIT, 3 }, "exit:3" },
                { { REASON_EXIT, 255 }, "exit:255" },
                { { REASON_SIGNAL, SIGKILL }, "signal:KILL" },
                { { REASON_SIGNAL, SIGTERM }, "signal:TERM" },
                { { REASON_SIGNAL, SIGSEGV }, "signal:SEGV" },
                { { REASON_SIGNAL, 40 }, "signal:40" }, /* real-time: no name */
                { { REASON_SPAWN, ENOENT }, "spawn:ENOENT" },
                { { REASON_SPAWN, EACCES }, "spawn:EACCES" },
                { { REASON_SPAWN, E2BIG }, "spawn:E2BIG" },
                { { REASON_SPAWN, 4000 }, "spawn:4000" }, /* no name */
                { { REASON_TIMEOUT, 0 }, "timeout" },
                { { REASON_CANCELLED, 0 }, "cancelled" },
                { { REASON_UPSTREAM, 0 }, "upstream" },
                { { REASON_FAIL_FAST, 0 }, "fail_fast" },
                { { REASON_JOB_TIMEOUT, 0 }, "job_timeout" },
                { { REASON_INTERRUPTED, 0 }, "interrupted" },
                { { REASON_OOM, 0 }, "oom" },
                { { REASON_ACCOUNT, EXEC_ACCOUNT_UNKNOWN }, "account:unknown" },
                { { REASON_ACCOUNT, EXEC_ACCOUNT_LOCKED }, "account:locked" },
                { { REASON_ACCOUNT, EXEC_ACCOUNT_EXPIRED }, "account:expired" },
                { { REASON_ACCOUNT, EXEC_ACCOUNT_PASSWORD_EXPIRED }, "account:password_expired" },
                { { REASON_ACCOUNT, EXEC_ACCOUNT_DENIED }, "account:denied" },
                { { REASON_ACCOUNT, EXEC_ACCOUNT_SESSION }, "account:session" },
                { { REASON_ACCOUNT, EXEC_ACCOUNT_ERROR }, "account:error" },
        };
        static const char *const bad[] = { "account:", "account:ok", "account:LOCKED", "account:locked ",
                                           "account" };
        char buf[REASON_STRING_MAX];
        Reason none;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (reason_from_string(bad[i], &none) != -EINVAL)
                        fail_msg("reason_from_string(\"%s\"): got success, want -EINVAL", bad[i]);
        assert_null(reason_to_string((Reason){ REASON_ACCOUNT, EXEC_ACCOUNT_OK }, buf, sizeof(buf)));
        assert_null(reason_to_string((Reason){ REASON_ACCOUNT, _EXEC_ACCOUNT_MAX }, buf, sizeof(buf)));

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                const char *s = reason_to_string(table[i].r, buf, sizeof(buf));
                Reason got = { .kind = -1, .arg = -1 };
                int r;

                if (!s || !streq(s, table[i].str))
                        fail_msg("reason_to_string #%zu: got \"%s\", want \"%s\"", i, strna(s),
                                 table[i].str);
                r = reason_from_string(table[i].str, &got);
                if (r != 0 || got.kind != table[i].r.kind || got.arg != table[i].r.arg)
                        fail_msg("reason_from_string(\"%s\"): got r=%d {%d, %d}, want {%d, %d}",
                                 table[i].str, r, got.kind, got.arg, table[i].r.kind, table[i].r.arg);
        }
}

static void test_reason_exit_all(void **state) {
        char buf[REASON_STRING_MAX], want[32];

        for (int code = 0; code <= 255; code++) {
                Reason r = { REASON_EXIT, code }, got;

                snprintf(want, sizeof(want), "exit:%d", code);
                assert_string_equal(reason_to_string(r, buf, sizeof(buf)), want);
                assert_int_equal(reason_from_string(want, &got), 0);
                assert_int_equal(got.kind, REASON_EXIT);
                assert_int_equal(got.arg, code);
        }
}

/* Every signal and errno number survives the round trip, named or not. */
static void test_reason_signal_errno_all(void **state) {
        char buf[REASON_STRING_MAX];

        for (int sig = 1; sig <= 64; sig++) {
                Reason got;

                assert_non_null(reason_to_string((Reason){ REASON_SIGNAL, sig }, buf, sizeof(buf)));
                if (reason_from_string(buf, &got) < 0 || got.kind != REASON_SIGNAL || got.arg != sig)
                        fail_msg("signal %d -> \"%s\": got {%d, %d}", sig, buf, got.kind, got.arg);
        }
        for (int e = 1; e < 4096; e++) {
                Reason got;

                assert_non_null(reason_to_string((Reason){ REASON_SPAWN, e }, buf, sizeof(buf)));
                if (reason_from_string(buf, &got) < 0 || got.kind != REASON_SPAWN || got.arg != e)
                        fail_msg("errno %d -> \"%s\": got {%d, %d}", e, buf, got.kind, got.arg);
        }
}

static void test_reason_to_string_edges(void **state) {
        char buf[REASON_STRING_MAX], tiny[7];

        assert_null(reason_to_string((Reason){ REASON_NONE, 0 }, buf, sizeof(buf)));
        assert_null(reason_to_string((Reason){ _REASON_KIND_MAX, 0 }, buf, sizeof(buf)));
        assert_null(reason_to_string((Reason){ -1, 0 }, buf, sizeof(buf)));
        /* Truncation is refused, not silently cut. */
        assert_null(reason_to_string((Reason){ REASON_TIMEOUT, 0 }, tiny, sizeof(tiny)));
        assert_null(reason_to_string((Reason){ REASON_EXIT, 100 }, tiny, sizeof(tiny)));
        assert_null(reason_to_string((Reason){ REASON_EXIT, 10 }, tiny, sizeof(tiny)));
        assert_string_equal(reason_to_string((Reason){ REASON_EXIT, 1 }, tiny, sizeof(tiny)), "exit:1");
}

static void test_reason_from_string_junk(void **state) {
        static const char *const junk[] = {
                "",           "exit",        "exit:",          "exit:-1",     "exit:256",
                "exit:+3",    "exit: 3",     "exit:3 ",        "exit:3x",     "exit:99999999999999999999",
                "signal:",    "signal:kill", "signal:SIGKILL", "signal:0",    "signal:65",
                "signal:-9",  "spawn:",      "spawn:enoent",   "spawn:ENOPE", "spawn:0",
                "spawn:4096", "Timeout",     "timeout ",       "upstream:1",  "none",
                "success",    "fail-fast",   "EXIT:1",
        };

        for (size_t i = 0; i < ELEMENTSOF(junk); i++) {
                Reason got = { .kind = 99, .arg = 99 };
                int r = reason_from_string(junk[i], &got);

                if (r != -EINVAL)
                        fail_msg("reason_from_string(\"%s\"): got %d, want -EINVAL", junk[i], r);
                if (got.kind != 99 || got.arg != 99)
                        fail_msg("reason_from_string(\"%s\") wrote its output on failure", junk[i]);
        }
        {
                Reason got;

                assert_int_equal(reason_from_string(NULL, &got), -EINVAL);
        }
}

static void test_job_run_new(void **state) {
        JobRun *r = NULL;
        size_t counts[_NODE_STATE_MAX];

        assert_int_equal(job_run_new(5, &r), 0);
        assert_non_null(r);
        assert_int_equal(r->state, JOB_QUEUED);
        assert_int_equal(r->n_nodes, 5);
        for (size_t i = 0; i < 5; i++) {
                assert_int_equal(r->nodes[i].state, NODE_PENDING);
                assert_int_equal(r->nodes[i].exit_code, -1);
                assert_int_equal(r->nodes[i].attempt, 0);
                assert_int_equal(r->nodes[i].reason.kind, REASON_NONE);
        }

        node_run_set_state(&r->nodes[1], NODE_RUNNING);
        node_run_set_state(&r->nodes[2], NODE_RUNNING);
        node_run_set_state(&r->nodes[2], NODE_SUCCEEDED);
        node_run_set_state(&r->nodes[3], NODE_SKIPPED);
        job_run_count(r, counts);
        {
                static const size_t want[_NODE_STATE_MAX] = {
                        [NODE_PENDING] = 2,
                        [NODE_RUNNING] = 1,
                        [NODE_SUCCEEDED] = 1,
                        [NODE_SKIPPED] = 1,
                };

                for (int s = 0; s < _NODE_STATE_MAX; s++)
                        if (counts[s] != want[s])
                                fail_msg("count[%s]: got %zu, want %zu", node_state_to_string(s), counts[s],
                                         want[s]);
        }

        r->user = strdup("alice");
        r->source = strdup("nightly.json");
        assert_non_null(r->user);
        assert_null(job_run_free(r));
        assert_null(job_run_free(NULL));

        assert_int_equal(job_run_new(0, &r), 0);
        job_run_count(r, counts);
        for (int s = 0; s < _NODE_STATE_MAX; s++)
                assert_int_equal(counts[s], 0);
        job_run_free(r);
}

/* The one list of accounting figures: each key once, with its own field's value (distinct values show a
 * swap), unknown ones passed on as UINT64_MAX for the writers to leave out. */
static void test_acct_fields(void **state) {
        static const char *const keys[NODE_ACCT_FIELDS] = { "cpu_usec", "memory_peak", "pids_peak",
                                                            "io_read_bytes", "io_write_bytes" };
        NodeRun n = { .acct = true,
                      .cpu_usec = 1,
                      .memory_peak = 2,
                      .pids_peak = UINT64_MAX,
                      .io_read_bytes = 4,
                      .io_write_bytes = 5 };
        NodeAcctField f[NODE_ACCT_FIELDS];

        node_run_acct_fields(&n, f);
        for (size_t i = 0; i < NODE_ACCT_FIELDS; i++) {
                assert_string_equal(f[i].key, keys[i]);
                assert_int_equal(f[i].value, i == 2 ? UINT64_MAX : i + 1);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_job_state_strings),
                cmocka_unit_test(test_node_state_strings),
                cmocka_unit_test(test_rule_strings),
                cmocka_unit_test(test_final),
                cmocka_unit_test(test_job_transitions),
                cmocka_unit_test(test_node_transitions),
                cmocka_unit_test(test_set_state_aborts),
                cmocka_unit_test(test_pause_resume),
                cmocka_unit_test(test_requeue_interrupted),
                cmocka_unit_test(test_crash_reruns),
                cmocka_unit_test(test_reset_for_retry),
                cmocka_unit_test(test_reason_round_trip),
                cmocka_unit_test(test_reason_exit_all),
                cmocka_unit_test(test_reason_signal_errno_all),
                cmocka_unit_test(test_reason_to_string_edges),
                cmocka_unit_test(test_reason_from_string_junk),
                cmocka_unit_test(test_job_run_new),
                cmocka_unit_test(test_acct_fields),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
