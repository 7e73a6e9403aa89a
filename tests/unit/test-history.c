/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for history.c and the history members of the journal (journal.c writes them,
 * journal-load-history.c reads them): events made from record transitions, control actions with their
 * actor, the round trip through a snapshot and segments, the cap, a job an older orchd recorded (no
 * history: reconstructed, partial), and corrupt numbering.
 */

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "fsutil.h"
#include "history.h"
#include "jobspec.h"
#include "journal.h"
#include "macro.h"
#include "state.h"

static JobSpec *make_spec(size_t n) {
        _cleanup_(jobspec_errors_freep) JobErrors *errors = NULL;
        size_t size = 32 + n * 32, len;
        _cleanup_free_ char *buf = malloc(size);
        JobLimits limits;
        JobSpec *spec = NULL;

        assert_non_null(buf);
        len = (size_t) snprintf(buf, size, "{\"nodes\":{");
        for (size_t i = 0; i < n; i++)
                len += (size_t) snprintf(buf + len, size - len, "%s\"n%zu\":{\"cmd\":\"true\"}",
                                         i ? "," : "", i);
        len += (size_t) snprintf(buf + len, size - len, "}}");
        jobspec_limits_init(&limits);
        assert_int_equal(jobspec_parse(buf, len, &limits, "test", &spec, &errors), 0);
        return spec;
}

static JobRun *make_run(size_t n) {
        JobRun *run = NULL;

        assert_int_equal(job_run_new(n, &run), 0);
        run->id = 7;
        run->uid = 1000;
        run->user = strdup("alice");
        run->submitted_at = 1000;
        return run;
}

static void set_node(JobRun *run, uint32_t i, NodeState s, unsigned attempt, Reason reason, uint64_t t) {
        NodeRun *n = &run->nodes[i];

        n->state = (uint8_t) s;
        n->attempt = (uint16_t) attempt;
        n->reason = reason;
        if (s == NODE_RUNNING)
                n->started_at = t;
        if (node_state_is_final(s))
                n->finished_at = t;
}

/* "node kind state attempt actor" of each event, one per line, for comparisons. */
static char *describe(const JobSpec *spec, const History *h) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

        assert_non_null(f);
        for (size_t k = 0; k < h->n; k++) {
                const HistoryEvent *e = &h->events[k];
                char reason[REASON_STRING_MAX];

                fprintf(f, "%s %s %s %u %s %s\n", e->node == HISTORY_JOB ? "-" : spec->nodes[e->node].id,
                        history_kind_to_string(e->kind),
                        e->node == HISTORY_JOB ? job_state_to_string(e->state) :
                                                 node_state_to_string(e->state),
                        e->attempt, e->by_user ? e->user : "orchd",
                        reason_to_string(e->reason, reason, sizeof(reason)) ?: "-");
        }
        assert_int_equal(fclose(f), 0);
        return out;
}

/* A job's life, committed the way job-journal.c does: transitions noted, a segment per commit. */
static void test_transitions_and_round_trip(void **state) {
        _cleanup_(jobspec_freep) JobSpec *spec = make_spec(2);
        _cleanup_(job_run_freep) JobRun *run = make_run(2), *loaded = NULL;
        _cleanup_(history_freep) History *h = NULL, *back = NULL;
        _cleanup_free_ char *snap = NULL, *want = NULL, *got = NULL;
        char path[TEST_TMPDIR_MAX];
        int dfd = test_tmpdir(path, "test-history");
        uint64_t seq = 0;
        uint32_t d0 = 0, d1 = 1;
        size_t len;

        (void) state;
        snap = journal_build_snapshot(spec, run, 0, &len); /* the acceptance: event 0, the submission */
        assert_non_null(snap);
        assert_int_equal(journal_write_snapshot(dfd, 0, snap, len), 0);
        assert_int_equal(history_new_submitted(run, &h), 0);

#define COMMIT(job_dirty, dirty, n_dirty)                                                                 \
        do {                                                                                              \
                _cleanup_free_ char *_b = NULL;                                                           \
                assert_int_equal(history_note(h, run, job_dirty, dirty, n_dirty, 5000), 0);               \
                _b = journal_build_segment_history(spec, run, ++seq, job_dirty, dirty, n_dirty, h, &len); \
                assert_non_null(_b);                                                                      \
                assert_int_equal(journal_write_segment(dfd, seq, _b, len), 0);                            \
                h->flushed = h->n;                                                                        \
        } while (0)

        run->state = JOB_RUNNING;
        run->started_at = 1100;
        set_node(run, 0, NODE_RUNNING, 1, (Reason){}, 1100);
        COMMIT(true, &d0, 1);
        set_node(run, 0, NODE_RETRY_WAIT, 1, (Reason){ REASON_EXIT, 3 }, 1200);
        COMMIT(false, &d0, 1);
        set_node(run, 0, NODE_RUNNING, 2, (Reason){ REASON_EXIT, 3 }, 1300);
        COMMIT(false, &d0, 1);
        COMMIT(false, &d0, 1); /* the same record again (its pid): no event */
        assert_int_equal(history_add(h,
                                     &(HistoryEvent){ .at = 1350,
                                                      .node = HISTORY_JOB,
                                                      .kind = HISTORY_PAUSE,
                                                      .state = JOB_PAUSED,
                                                      .by_user = true,
                                                      .uid = 0,
                                                      .user = (char *) "root" }),
                         0);
        run->state = JOB_PAUSED;
        COMMIT(true, NULL, 0);
        set_node(run, 0, NODE_SUCCEEDED, 2, (Reason){}, 1400);
        set_node(run, 1, NODE_SKIPPED, 0, (Reason){ REASON_UPSTREAM, 0 }, 1400);
        run->state = JOB_SUCCEEDED;
        run->finished_at = 1500;
        COMMIT(true, ((uint32_t[]){ d0, d1, d0 }), 3);

        want = strdup(
                "- submit queued 0 alice -\n"
                "- start running 0 orchd -\n"
                "n0 start running 1 orchd -\n"
                "n0 backoff retry_wait 1 orchd exit:3\n"
                "n0 retry running 2 orchd -\n"
                "- pause paused 0 root -\n"
                "n0 end succeeded 2 orchd -\n"
                "n1 skip skipped 0 orchd upstream\n"
                "- end succeeded 0 orchd -\n");
        got = describe(spec, h);
        assert_string_equal(got, want);
        assert_int_equal(h->events[4].at, 1300); /* a start is dated by the record's started_at */

        /* Replayed from the files: the same events, all flushed, the baseline the final records. */
        assert_int_equal(journal_load_history(dfd, spec, &loaded, &back, NULL, NULL), 0);
        free(got);
        got = describe(spec, back);
        assert_string_equal(got, want);
        assert_false(back->partial);
        assert_int_equal(back->flushed, back->n);
        assert_int_equal(back->last_state[0], NODE_SUCCEEDED);

        /* Compacted into a snapshot: the same again, and the segments are gone. */
        free(snap);
        snap = journal_build_snapshot_history(spec, run, ++seq, h, &len);
        assert_non_null(snap);
        assert_int_equal(journal_write_snapshot(dfd, seq, snap, len), 0);
        back = history_free(back);
        loaded = job_run_free(loaded);
        assert_int_equal(journal_load_history(dfd, spec, &loaded, &back, NULL, NULL), 0);
        free(got);
        got = describe(spec, back);
        assert_string_equal(got, want);
        assert_int_equal(back->events[5].uid, 0);
        assert_true(back->events[5].by_user);

        (void) close(dfd);
        assert_int_equal(rm_rf_at(AT_FDCWD, path), 0);
}

/* Transitions that happened between two commits (the committer busy): an attempt that started and ended
 * (or failed again) in between still has its start in the trail, before what followed it. */
static void test_coalesced_attempts(void **state) {
        _cleanup_(jobspec_freep) JobSpec *spec = make_spec(2);
        _cleanup_(job_run_freep) JobRun *run = make_run(2);
        _cleanup_(history_freep) History *h = NULL;
        _cleanup_free_ char *got = NULL;
        uint32_t d0 = 0, d1 = 1;

        (void) state;
        assert_int_equal(history_new_submitted(run, &h), 0);
        run->state = JOB_RUNNING;
        run->started_at = 1000;
        set_node(run, 0, NODE_RUNNING, 1, (Reason){}, 1100);
        assert_int_equal(history_note(h, run, true, &d0, 1, 5000), 0);
        set_node(run, 0, NODE_RETRY_WAIT, 1, (Reason){ REASON_EXIT, 3 }, 1200);
        assert_int_equal(history_note(h, run, false, &d0, 1, 5000), 0);
        /* attempt 2 runs and fails again, unseen: its retry, then its backoff */
        set_node(run, 0, NODE_RUNNING, 2, (Reason){}, 1300);
        set_node(run, 0, NODE_RETRY_WAIT, 2, (Reason){ REASON_EXIT, 4 }, 1350);
        /* n1 starts and succeeds, unseen: its start, then its end */
        set_node(run, 1, NODE_RUNNING, 1, (Reason){}, 1310);
        set_node(run, 1, NODE_SUCCEEDED, 1, (Reason){}, 1320);
        assert_int_equal(history_note(h, run, false, ((uint32_t[]){ d0, d1 }), 2, 5000), 0);
        /* attempt 3 runs and succeeds, unseen */
        set_node(run, 0, NODE_RUNNING, 3, (Reason){}, 1400);
        set_node(run, 0, NODE_SUCCEEDED, 3, (Reason){}, 1450);
        assert_int_equal(history_note(h, run, false, &d0, 1, 5000), 0);

        got = describe(spec, h);
        assert_string_equal(got,
                            "- submit queued 0 alice -\n"
                            "- start running 0 orchd -\n"
                            "n0 start running 1 orchd -\n"
                            "n0 backoff retry_wait 1 orchd exit:3\n"
                            "n0 retry running 2 orchd -\n"
                            "n0 backoff retry_wait 2 orchd exit:4\n"
                            "n1 start running 1 orchd -\n"
                            "n1 end succeeded 1 orchd -\n"
                            "n0 retry running 3 orchd -\n"
                            "n0 end succeeded 3 orchd -\n");
        assert_int_equal(h->events[4].at, 1300); /* dated by the record's started_at */
        assert_int_equal(h->events[6].at, 1310);
}

/* A job an older orchd recorded: no "history"; the trail is what the state tells, marked partial. */
static void test_older_spool(void **state) {
        static const char old[] =
                "{\"version\":1,\"seq\":3,\"job\":{\"id\":\"7\",\"state\":\"failed\",\"paused_from\":null,"
                "\"reason\":\"exit:1\",\"cancel_requested\":false,\"uid\":1000,\"gid\":1000,"
                "\"user\":\"alice\","
                "\"source\":null,\"submitted_at\":10,\"started_at\":20,\"finished_at\":90},\"nodes\":{"
                "\"n0\":{\"state\":\"failed\",\"reason\":\"exit:1\",\"attempt\":2,\"interrupted\":0,"
                "\"exit_code\":1,\"signal\":null,\"started_at\":50,\"finished_at\":60,\"retry_at\":0},"
                "\"n1\":{\"state\":\"skipped\",\"reason\":\"upstream\",\"attempt\":0,\"interrupted\":0,"
                "\"exit_code\":null,\"signal\":null,\"started_at\":0,\"finished_at\":61,\"retry_at\":0}}}";
        _cleanup_(jobspec_freep) JobSpec *spec = make_spec(2);
        _cleanup_(job_run_freep) JobRun *loaded = NULL;
        _cleanup_(history_freep) History *h = NULL;
        _cleanup_free_ char *got = NULL;
        char path[TEST_TMPDIR_MAX];
        int dfd = test_tmpdir(path, "test-history");

        (void) state;
        assert_int_equal(write_file_atomic_at(dfd, "state.json", old, strlen(old)), 0);
        assert_int_equal(journal_load_history(dfd, spec, &loaded, &h, NULL, NULL), 0);
        assert_true(h->partial);
        got = describe(spec, h);
        assert_string_equal(got,
                            "- submit queued 0 alice -\n"
                            "- start running 0 orchd -\n"
                            "n0 start running 2 orchd -\n"
                            "n0 end failed 2 orchd exit:1\n"
                            "n1 skip skipped 0 orchd upstream\n"
                            "- end failed 0 orchd exit:1\n");
        /* journal_load() alone still loads it (the history is not its business). */
        loaded = job_run_free(loaded);
        assert_int_equal(journal_load(dfd, spec, &loaded, NULL, NULL), 0);

        /* Events in a segment after a snapshot without history are corruption. */
        {
                static const char seg[] =
                        "{\"version\":1,\"seq\":4,\"events\":{\"0\":{\"at\":1,\"event\":\"pause\","
                        "\"state\":\"paused\",\"uid\":0,\"user\":\"root\"}},\"nodes\":{}}";
                _cleanup_free_ char *err = NULL;

                assert_int_equal(journal_write_segment(dfd, 4, seg, strlen(seg)), 0);
                loaded = job_run_free(loaded);
                assert_int_equal(journal_load(dfd, spec, &loaded, NULL, &err), -EBADMSG);
                assert_non_null(strstr(err, "follow a snapshot without history"));
        }
        (void) close(dfd);
        assert_int_equal(rm_rf_at(AT_FDCWD, path), 0);
}

/* Numbers must continue the snapshot's; an unknown event, node or state is corruption. */
static void test_corrupt_events(void **state) {
        static const struct {
                const char *event, *message;
        } cases[] = {
                { "\"2\":{\"at\":1,\"event\":\"pause\",\"state\":\"paused\",\"uid\":0,\"user\":null}",
                  "out of sequence, want event 1" },
                { "\"1\":{\"at\":1,\"event\":\"nap\",\"state\":\"paused\"}", "unknown event \"nap\"" },
                { "\"1\":{\"at\":1,\"node\":\"zz\",\"event\":\"start\",\"state\":\"running\"}",
                  "unknown node" },
                { "\"1\":{\"at\":1,\"node\":\"n0\",\"event\":\"start\",\"state\":\"paused\"}",
                  "not a node state" },
                { "\"1\":{\"at\":1,\"node\":\"n0\",\"event\":\"start\"}", "state: missing" },
                { "\"1\":{\"at\":1,\"node\":null,\"event\":\"start\",\"state\":\"running\"}",
                  "must be a string, got null" },
                { "\"1\":{\"at\":1,\"event\":\"pause\",\"state\":\"paused\",\"uid\":0}",
                  "must come with uid" },
                { "\"1\":{\"at\":1,\"event\":\"pause\",\"state\":\"paused\",\"user\":\"eve\"}",
                  "must come with uid" },
                { "\"1\":{\"at\":1,\"event\":\"pause\",\"state\":\"paused\",\"color\":1}", "unknown field" },
        };
        _cleanup_(jobspec_freep) JobSpec *spec = make_spec(1);
        _cleanup_(job_run_freep) JobRun *run = make_run(1);
        _cleanup_free_ char *snap = NULL;
        char path[TEST_TMPDIR_MAX];
        int dfd = test_tmpdir(path, "test-history");
        size_t len;

        (void) state;
        snap = journal_build_snapshot(spec, run, 0, &len);
        assert_non_null(snap);
        assert_int_equal(journal_write_snapshot(dfd, 0, snap, len), 0);
        for (size_t c = 0; c < ELEMENTSOF(cases); c++) {
                _cleanup_(job_run_freep) JobRun *loaded = NULL;
                _cleanup_free_ char *seg = NULL, *err = NULL;

                assert_true(asprintf(&seg, "{\"version\":1,\"seq\":1,\"events\":{%s},\"nodes\":{}}",
                                     cases[c].event) > 0);
                assert_int_equal(journal_write_segment(dfd, 1, seg, strlen(seg)), 0);
                assert_int_equal(journal_load(dfd, spec, &loaded, NULL, &err), -EBADMSG);
                if (!strstr(err, cases[c].message))
                        fail_msg("case %zu: got \"%s\", want \"%s\"", c, err, cases[c].message);
        }
        (void) close(dfd);
        assert_int_equal(rm_rf_at(AT_FDCWD, path), 0);
}

/* The cap: the oldest go, numbering goes on, and a snapshot says where it starts. */
static void test_cap(void **state) {
        _cleanup_(jobspec_freep) JobSpec *spec = make_spec(1);
        _cleanup_(job_run_freep) JobRun *run = make_run(1), *loaded = NULL;
        _cleanup_(history_freep) History *h = NULL, *back = NULL;
        _cleanup_free_ char *snap = NULL;
        size_t cap = history_cap(1), n = cap + 10, len;
        char path[TEST_TMPDIR_MAX];
        int dfd = test_tmpdir(path, "test-history");

        (void) state;
        assert_int_equal(history_new_submitted(run, &h), 0);
        for (size_t k = 1; k < n; k++)
                assert_int_equal(history_add(h,
                                             &(HistoryEvent){ .at = k,
                                                              .node = HISTORY_JOB,
                                                              .kind = k % 2 ? HISTORY_PAUSE : HISTORY_RESUME,
                                                              .state = JOB_QUEUED }),
                                 0);
        history_trim(h);
        assert_true(h->n < cap);
        assert_int_equal(h->first + h->n, n);
        assert_int_equal(h->events[0].at, h->first);
        snap = journal_build_snapshot_history(spec, run, 1, h, &len);
        assert_non_null(snap);
        assert_int_equal(journal_write_snapshot(dfd, 1, snap, len), 0);
        assert_int_equal(journal_load_history(dfd, spec, &loaded, &back, NULL, NULL), 0);
        assert_int_equal(back->first, h->first);
        assert_int_equal(back->n, h->n);
        assert_int_equal(back->events[back->n - 1].at, n - 1);
        (void) close(dfd);
        assert_int_equal(rm_rf_at(AT_FDCWD, path), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_transitions_and_round_trip),
                cmocka_unit_test(test_coalesced_attempts),
                cmocka_unit_test(test_older_spool),
                cmocka_unit_test(test_corrupt_events),
                cmocka_unit_test(test_cap),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
