/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for journal.c: snapshot and segment round trips, replay order, obsolete and leftover files,
 * and every kind of corruption, each in its own mkdtemp directory. Fault injection of the writes is
 * covered by test-fsutil (write_file_atomic_at is the only writer). The 100,000-node case checks the
 * results and prints how long building and loading took; speed targets are bench/'s to judge.
 */

#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "fsutil.h"
#include "jobspec.h"
#include "journal.h"
#include "json-util.h"
#include "macro.h"
#include "state.h"

/* ---- fixtures --------------------------------------------------------------------------------------- */

typedef struct Fixture {
        char path[TEST_TMPDIR_MAX];
        int dir_fd;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        f->dir_fd = test_tmpdir(f->path, "test-journal");
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        (void) close(f->dir_fd);
        assert_int_equal(rm_rf_at(AT_FDCWD, f->path), 0);
        free(f);
        return 0;
}

/* A valid spec with nodes n0 … n(n-1), parsed by the real parser so jobspec_find_node works. */
static JobSpec *make_spec(size_t n) {
        _cleanup_(jobspec_errors_freep) JobErrors *errors = NULL;
        size_t size = 32 + n * 32, len;
        _cleanup_free_ char *buf = malloc(size);
        JobLimits limits;
        JobSpec *spec = NULL;
        int r;

        assert_non_null(buf);
        len = (size_t) snprintf(buf, size, "{\"nodes\":{");
        for (size_t i = 0; i < n; i++)
                len += (size_t) snprintf(buf + len, size - len, "%s\"n%zu\":{\"cmd\":\"true\"}",
                                         i ? "," : "", i);
        len += (size_t) snprintf(buf + len, size - len, "}}");
        jobspec_limits_init(&limits);
        r = jobspec_parse(buf, len, &limits, "test", &spec, &errors);
        if (r < 0)
                fail_msg("jobspec_parse of a %zu-node spec: got %d, want 0", n, r);
        return spec;
}

/* A run where every field has a distinctive, valid value derived from variant. */
static JobRun *make_run(size_t n, unsigned variant) {
        static const Reason reasons[] = {
                { REASON_NONE, 0 },        { REASON_EXIT, 3 },       { REASON_SIGNAL, SIGKILL },
                { REASON_TIMEOUT, 0 },     { REASON_SPAWN, ENOENT }, { REASON_CANCELLED, 0 },
                { REASON_UPSTREAM, 0 },    { REASON_FAIL_FAST, 0 },  { REASON_JOB_TIMEOUT, 0 },
                { REASON_INTERRUPTED, 0 }, { REASON_OOM, 0 },
        };
        JobRun *run = NULL;

        assert_int_equal(job_run_new(n, &run), 0);
        run->id = 42 + variant;
        run->state = (uint8_t) (variant % _JOB_STATE_MAX);
        if (run->state == JOB_PAUSED)
                run->paused_from = variant % 2 ? JOB_RUNNING : JOB_QUEUED;
        run->reason = reasons[variant % ELEMENTSOF(reasons)];
        run->cancel_requested = variant % 2;
        run->uid = variant % 3 ? 1000 + variant : (uid_t) -1;
        run->gid = 100 + variant;
        if (variant % 3 != 2) {
                run->user = strdup(variant % 2 ? "alice" : "b\"ob\\ü/x\n\t\x01\x7f\xff");
                assert_non_null(run->user);
        }
        if (variant % 4 != 2) {
                run->source = strdup("dir/x.json");
                assert_non_null(run->source);
        }
        run->submitted_at = UINT64_C(1700000000000000) + variant;
        run->started_at = variant % 2 ? UINT64_C(1700000000500000) : 0;
        run->finished_at = variant % 5 == 0 ? UINT64_C(1700000009000000) : 0;

        for (size_t i = 0; i < n; i++) {
                unsigned v = (unsigned) i + variant;

                run->nodes[i] = (NodeRun){
                        .state = (uint8_t) (v % _NODE_STATE_MAX),
                        .reason = reasons[(v / 2) % ELEMENTSOF(reasons)],
                        .attempt = (uint16_t) (v % 7),
                        .interrupted = (uint16_t) (v % 2),
                        /* After a manual retry on some nodes only: optional on disk too. */
                        .retry_base = v % 6 == 5 ? (uint16_t) (v % 4 + 1) : 0,
                        /* While rerun after a crash on some nodes only: optional on disk too. */
                        .crash_reruns = v % 4 == 1 ? (uint16_t) (v % 3 + 1) : 0,
                        .exit_code = v % 3 == 0 ? -1 : (int16_t) (v % 256),
                        .signal = v % 4 == 0 ? SIGTERM : 0,
                        .started_at = UINT64_C(1700000001000000) + v,
                        .finished_at = v % 2 ? UINT64_C(1700000002000000) + v : 0,
                        .retry_at = v % 3 == 1 ? UINT64_C(1700000003000000) + v : 0,
                        /* A recorded process on some nodes only: the fields are optional on disk. */
                        .pid = v % 5 == 3 ? (int32_t) (30000 + v) : 0,
                        .pid_start = v % 5 == 3 ? UINT64_C(987654321) + v : 0,
                        /* Output lost from the log on some nodes only: optional on disk too. */
                        .log_dropped = v % 4 == 2 ? UINT64_C(1048576) + v : 0,
                };
                /* The kernel's accounting on some nodes only (cgroup isolation), with one figure unknown
                 * (no memory controller): optional on disk, each field on its own. The others are what an
                 * older orchd wrote: no accounting fields at all. */
                if (v % 3 == 2) {
                        run->nodes[i].acct = true;
                        run->nodes[i].cpu_usec = UINT64_C(523401) + v;
                        run->nodes[i].memory_peak = UINT64_MAX;
                        run->nodes[i].pids_peak = 3 + v;
                        run->nodes[i].io_read_bytes = UINT64_C(4096) * v;
                        run->nodes[i].io_write_bytes = v % 2 ? UINT64_MAX : UINT64_C(512);
                }
        }
        return run;
}

static bool str_eq(const char *a, const char *b) {
        return a == b || (a && b && streq(a, b));
}

/* Fail with the first difference, "got X, want Y". */
static void assert_run_equal(const JobRun *got, const JobRun *want) {
#define FIELD(what, g, w)                                                                        \
        do {                                                                                     \
                if ((g) != (w))                                                                  \
                        fail_msg("%s: got %jd, want %jd", what, (intmax_t) (g), (intmax_t) (w)); \
        } while (0)
        FIELD("job.id", got->id, want->id);
        FIELD("job.state", got->state, want->state);
        FIELD("job.paused_from", got->paused_from, want->paused_from);
        FIELD("job.reason.kind", got->reason.kind, want->reason.kind);
        FIELD("job.reason.arg", got->reason.arg, want->reason.arg);
        FIELD("job.cancel_requested", got->cancel_requested, want->cancel_requested);
        FIELD("job.uid", got->uid, want->uid);
        FIELD("job.gid", got->gid, want->gid);
        if (!str_eq(got->user, want->user))
                fail_msg("job.user: got %s, want %s", strna(got->user), strna(want->user));
        if (!str_eq(got->source, want->source))
                fail_msg("job.source: got %s, want %s", strna(got->source), strna(want->source));
        FIELD("job.submitted_at", got->submitted_at, want->submitted_at);
        FIELD("job.started_at", got->started_at, want->started_at);
        FIELD("job.finished_at", got->finished_at, want->finished_at);
        FIELD("n_nodes", got->n_nodes, want->n_nodes);
        for (size_t i = 0; i < want->n_nodes; i++) {
                const NodeRun *g = &got->nodes[i], *w = &want->nodes[i];
                char what[64];

#define NODE_FIELD(name)                                              \
        do {                                                          \
                snprintf(what, sizeof(what), "nodes[%zu]." #name, i); \
                FIELD(what, g->name, w->name);                        \
        } while (0)
                NODE_FIELD(state);
                NODE_FIELD(reason.kind);
                NODE_FIELD(reason.arg);
                NODE_FIELD(attempt);
                NODE_FIELD(interrupted);
                NODE_FIELD(retry_base);
                NODE_FIELD(crash_reruns);
                NODE_FIELD(exit_code);
                NODE_FIELD(signal);
                NODE_FIELD(started_at);
                NODE_FIELD(finished_at);
                NODE_FIELD(retry_at);
                NODE_FIELD(pid);
                NODE_FIELD(pid_start);
                NODE_FIELD(log_dropped);
                NODE_FIELD(acct);
                NODE_FIELD(cpu_usec);
                NODE_FIELD(memory_peak);
                NODE_FIELD(pids_peak);
                NODE_FIELD(io_read_bytes);
                NODE_FIELD(io_write_bytes);
#undef NODE_FIELD
        }
#undef FIELD
}

static void write_snapshot(int dir_fd, const JobSpec *spec, const JobRun *run, uint64_t seq) {
        _cleanup_free_ char *buf = NULL;
        size_t len;

        buf = journal_build_snapshot(spec, run, seq, &len);
        assert_non_null(buf);
        assert_int_equal(strlen(buf), len);
        assert_int_equal(journal_write_snapshot(dir_fd, seq, buf, len), 0);
}

static void write_segment(int dir_fd, const JobSpec *spec, const JobRun *run, uint64_t seq, bool job_dirty,
                          const uint32_t *dirty, size_t n_dirty) {
        _cleanup_free_ char *buf = NULL;
        size_t len;

        buf = journal_build_segment(spec, run, seq, job_dirty, dirty, n_dirty, &len);
        assert_non_null(buf);
        assert_int_equal(journal_write_segment(dir_fd, seq, buf, len), 0);
}

static void put_file(int dir_fd, const char *name, const char *content) {
        assert_int_equal(write_file_atomic_at(dir_fd, name, content, strlen(content)), 0);
}

static bool exists(int dir_fd, const char *name) {
        return faccessat(dir_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) >= 0;
}

/* ---- round trips and replay ------------------------------------------------------------------------- */

/* An independent parser must read the snapshot as valid JSON with the same strings (escaping check). */
static void check_with_json_c(int dir_fd, const JobRun *want) {
        _cleanup_json_ json_object *o = NULL;
        _cleanup_free_ char *buf = NULL;
        json_object *job, *user;
        size_t len;

        assert_int_equal(read_file_at(dir_fd, "state.json", 1 << 20, &buf, &len), 0);
        o = json_tokener_parse(buf);
        if (!o)
                fail_msg("json-c cannot parse %s", buf);
        assert_true(json_object_object_get_ex(o, "job", &job));
        assert_true(json_object_object_get_ex(job, "user", &user));
        if (!str_eq(user ? json_object_get_string(user) : NULL, want->user))
                fail_msg("user as json-c reads it: got %s, want %s",
                         user ? json_object_get_string(user) : "(null)", strna(want->user));
}

static void test_snapshot_roundtrip(void **state) {
        Fixture *f = *state;
        _cleanup_(jobspec_freep) JobSpec *spec = make_spec(13);

        /* Enough variants to cover every job state, reason kind and null/non-null string. */
        for (unsigned variant = 0; variant < 30; variant++) {
                _cleanup_(job_run_freep) JobRun *want = make_run(spec->n_nodes, variant);
                _cleanup_(job_run_freep) JobRun *got = NULL;
                _cleanup_free_ char *msg = NULL;
                uint64_t seq = 0;
                int r;

                write_snapshot(f->dir_fd, spec, want, 1000 + variant);
                check_with_json_c(f->dir_fd, want);
                r = journal_load(f->dir_fd, spec, &got, &seq, &msg);
                if (r < 0)
                        fail_msg("variant %u: got %d (%s), want 0", variant, r, strna(msg));
                if (seq != 1000 + variant)
                        fail_msg("variant %u: got seq %" PRIu64 ", want %u", variant, seq, 1000 + variant);
                assert_run_equal(got, want);
        }
}

static void test_segment_format(void **state) {
        _cleanup_(jobspec_freep) JobSpec *spec = make_spec(4);
        _cleanup_(job_run_freep) JobRun *run = make_run(4, 1);
        static const uint32_t dirty[] = { 2, 0, 2, 2, 0 };
        _cleanup_json_ json_object *o = NULL;
        _cleanup_free_ char *buf = NULL;
        json_object *nodes;
        size_t len;

        buf = journal_build_segment(spec, run, 9, false, dirty, ELEMENTSOF(dirty), &len);
        assert_non_null(buf);
        o = json_tokener_parse(buf);
        assert_non_null(o);
        if (json_object_object_get_ex(o, "job", NULL))
                fail_msg("segment without job_dirty: got a \"job\" record, want none");
        assert_true(json_object_object_get_ex(o, "nodes", &nodes));
        if (json_object_object_length(nodes) != 2)
                fail_msg("nodes listed {2,0,2,2,0}: got %d records, want 2",
                         json_object_object_length(nodes));
        assert_true(json_object_object_get_ex(nodes, "n0", NULL));
        assert_true(json_object_object_get_ex(nodes, "n2", NULL));
        if (!strstr(buf, "\"version\":1,\"seq\":9,"))
                fail_msg("got %s, want it to start with version and seq", buf);
}

/* Accounting fields are written only for an accounted attempt and only where known, so a record without
 * them (every journal of an orchd before them) is what a node without a cgroup writes and loads. */
static void test_accounting_fields(void **state) {
        _cleanup_(jobspec_freep) JobSpec *spec = make_spec(3);
        _cleanup_(job_run_freep) JobRun *run = make_run(3, 0);
        _cleanup_free_ char *buf = NULL;
        size_t len;

        run->nodes[0].acct = false;
        run->nodes[1].acct = false;
        run->nodes[2] = (NodeRun){ .exit_code = -1,
                                   .acct = true,
                                   .cpu_usec = 7,
                                   .memory_peak = UINT64_MAX,
                                   .pids_peak = 2,
                                   .io_read_bytes = UINT64_MAX,
                                   .io_write_bytes = 9 };
        buf = journal_build_snapshot(spec, run, 1, &len);
        assert_non_null(buf);
        if (!strstr(buf, "\"cpu_usec\":7,\"pids_peak\":2,\"io_write_bytes\":9}"))
                fail_msg("got %s, want n2 with cpu_usec, pids_peak and io_write_bytes only", buf);
        if (strstr(buf, "memory_peak") || strstr(buf, "io_read_bytes"))
                fail_msg("got %s, want no unknown figure written", buf);
        if (strstr(strstr(buf, "cpu_usec") + 1, "cpu_usec"))
                fail_msg("got %s, want cpu_usec once (n2 only)", buf);
}

static void test_segments_replay(void **state) {
        Fixture *f = *state;
        _cleanup_(jobspec_freep) JobSpec *spec = make_spec(5);
        _cleanup_(job_run_freep) JobRun *run = make_run(5, 0);
        _cleanup_(job_run_freep) JobRun *got = NULL;
        _cleanup_free_ char *msg = NULL;
        uint64_t seq = 0;
        int r;

        write_snapshot(f->dir_fd, spec, run, 10);

        /* Segment 11: nodes 1 and 3. Segment 12: the job. Segment 13: node 1 again (must win), node 4. */
        run->nodes[1].state = NODE_RUNNING;
        run->nodes[1].attempt = 1;
        run->nodes[3].state = NODE_FAILED;
        run->nodes[3].reason = (Reason){ REASON_EXIT, 7 };
        write_segment(f->dir_fd, spec, run, 11, false, (const uint32_t[]){ 1, 3 }, 2);
        run->state = JOB_PAUSED;
        run->paused_from = JOB_RUNNING;
        free(run->user);
        run->user = NULL;
        write_segment(f->dir_fd, spec, run, 12, true, NULL, 0);
        run->nodes[1].state = NODE_SUCCEEDED;
        run->nodes[1].exit_code = 0;
        run->nodes[1].finished_at = 99;
        run->nodes[4].retry_at = 12345;
        write_segment(f->dir_fd, spec, run, 13, false, (const uint32_t[]){ 4, 1 }, 2);

        r = journal_load(f->dir_fd, spec, &got, &seq, &msg);
        if (r < 0)
                fail_msg("got %d (%s), want 0", r, strna(msg));
        if (seq != 13)
                fail_msg("got seq %" PRIu64 ", want 13", seq);
        assert_run_equal(got, run);
}

/* A snapshot written as head, nodes built ahead (off the loop, spool.c) and tail is the snapshot built in
 * one go. */
static void test_snapshot_with_nodes(void **state) {
        for (unsigned variant = 0; variant < 2; variant++) {
                _cleanup_(jobspec_freep) JobSpec *spec = make_spec(50);
                _cleanup_(job_run_freep) JobRun *run = make_run(50, variant);
                _cleanup_free_ char *whole = NULL, *nodes = NULL, *head = NULL, *joined = NULL;
                size_t whole_len = 0, nodes_len = 0, head_len = 0;

                whole = journal_build_snapshot(spec, run, 3, &whole_len);
                nodes = journal_build_snapshot_nodes(spec, run, &nodes_len);
                assert_non_null(whole);
                assert_non_null(nodes);
                head = journal_build_snapshot_head(run, 3, &head_len);
                assert_non_null(head);
                assert_int_equal(head_len, strlen(head));
                assert_true(asprintf(&joined, "%s%s" JOURNAL_SNAPSHOT_TAIL, head, nodes) > 0);
                assert_int_equal(strlen(joined), whole_len);
                assert_string_equal(joined, whole);
        }
}

static void test_snapshot_obsoletes_segments(void **state) {
        Fixture *f = *state;
        _cleanup_(jobspec_freep) JobSpec *spec = make_spec(3);
        _cleanup_(job_run_freep) JobRun *run = make_run(3, 2);
        _cleanup_(job_run_freep) JobRun *got = NULL;
        _cleanup_free_ char *msg = NULL;
        uint64_t seq = 0;
        int r;

        write_snapshot(f->dir_fd, spec, run, 0);
        for (uint64_t s = 1; s <= 4; s++) {
                run->nodes[s % 3].attempt = (uint16_t) s;
                write_segment(f->dir_fd, spec, run, s, false, (const uint32_t[]){ s % 3 }, 1);
        }
        write_snapshot(f->dir_fd, spec, run, 3);

        static const struct {
                const char *name;
                bool want_exists;
        } files[] = {
                { "journal-000000000001.json", false },
                { "journal-000000000002.json", false },
                { "journal-000000000003.json", false },
                { "journal-000000000004.json", true },
        };
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                if (exists(f->dir_fd, files[i].name) != files[i].want_exists)
                        fail_msg("%s: got exists=%d, want %d", files[i].name, !files[i].want_exists,
                                 files[i].want_exists);

        /* A crash between the snapshot and the deletion leaves stale segments: they must not be read,
         * even if they are garbage. */
        put_file(f->dir_fd, "journal-000000000002.json", "garbage");
        put_file(f->dir_fd, "journal-000000000003.json", "{\"version\":1,\"seq\":3,\"nodes\":{\"zz\":{}}}");
        r = journal_load(f->dir_fd, spec, &got, &seq, &msg);
        if (r < 0)
                fail_msg("got %d (%s), want 0", r, strna(msg));
        if (seq != 4)
                fail_msg("got seq %" PRIu64 ", want 4", seq);
        assert_run_equal(got, run);
}

static ino_t inode_of(int dir_fd, const char *name) {
        struct stat st;

        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                fail_msg("%s: %m", name);
        return st.st_ino;
}

/* A snapshot that keeps the segments it obsoletes, and segments written over them: the new segment is the
 * old file renamed (no inode allocated or freed), the state loads as if each had been created, and a
 * segment to reuse that is gone (written already, or never there) falls back to a new file. */
static void test_segment_reuse(void **state) {
        Fixture *f = *state;
        _cleanup_(jobspec_freep) JobSpec *spec = make_spec(3);
        _cleanup_(job_run_freep) JobRun *run = make_run(3, 2);
        _cleanup_(job_run_freep) JobRun *got = NULL;
        _cleanup_free_ char *msg = NULL, *snap = NULL;
        uint64_t seq = 0;
        size_t len;
        ino_t ino1, ino2;
        int r;

        write_snapshot(f->dir_fd, spec, run, 0);
        for (uint64_t s = 1; s <= 2; s++) {
                run->nodes[s % 3].attempt = (uint16_t) s;
                write_segment(f->dir_fd, spec, run, s, false, (const uint32_t[]){ s % 3 }, 1);
        }
        snap = journal_build_snapshot(spec, run, 3, &len);
        assert_non_null(snap);
        assert_int_equal(journal_write_snapshot_keep(f->dir_fd, snap, len), 0);
        assert_true(exists(f->dir_fd, "journal-000000000001.json"));
        assert_true(exists(f->dir_fd, "journal-000000000002.json"));
        ino1 = inode_of(f->dir_fd, "journal-000000000001.json");
        ino2 = inode_of(f->dir_fd, "journal-000000000002.json");

        for (uint64_t s = 4; s <= 6; s++) {
                _cleanup_free_ char *buf = NULL;

                run->nodes[s % 3].attempt = (uint16_t) s;
                run->nodes[s % 3].state = NODE_RUNNING;
                buf = journal_build_segment(spec, run, s, false, (const uint32_t[]){ s % 3 }, 1, &len);
                assert_non_null(buf);
                /* 4 over 1, 5 over 2, 6 over 3: the old snapshot's number, never a segment: a new file */
                assert_int_equal(journal_write_segment_reuse(f->dir_fd, s, s - 3, buf, len), 0);
                if (s == 4)
                        assert_true(inode_of(f->dir_fd, "journal-000000000004.json") == ino1);
                if (s == 5) {
                        assert_true(inode_of(f->dir_fd, "journal-000000000005.json") == ino2);
                        /* written again (a resumed commit): the obsolete one is gone, the same result */
                        assert_int_equal(journal_write_segment_reuse(f->dir_fd, s, s - 3, buf, len), 0);
                }
        }
        assert_false(exists(f->dir_fd, "journal-000000000001.json"));
        assert_false(exists(f->dir_fd, "journal-000000000002.json"));
        assert_true(exists(f->dir_fd, "journal-000000000006.json"));

        r = journal_load(f->dir_fd, spec, &got, &seq, &msg);
        if (r < 0)
                fail_msg("got %d (%s), want 0", r, strna(msg));
        if (seq != 6)
                fail_msg("got seq %" PRIu64 ", want 6", seq);
        assert_run_equal(got, run);

        /* A crash while a segment is rewritten leaves its obsolete name with whatever it holds: skipped. */
        got = job_run_free(got);
        put_file(f->dir_fd, "journal-000000000002.json", "{\"version\":1,\"seq\":7,\"nodes\":{\"zz\":{}}}");
        r = journal_load(f->dir_fd, spec, &got, &seq, &msg);
        if (r < 0)
                fail_msg("got %d (%s), want 0", r, strna(msg));
        assert_int_equal(seq, 6);
        assert_run_equal(got, run);
}

static void test_leftover_temp_files_ignored(void **state) {
        Fixture *f = *state;
        _cleanup_(jobspec_freep) JobSpec *spec = make_spec(2);
        _cleanup_(job_run_freep) JobRun *run = make_run(2, 3);
        _cleanup_(job_run_freep) JobRun *got = NULL;
        _cleanup_free_ char *msg = NULL;
        uint64_t seq = 0;
        int r;

        write_snapshot(f->dir_fd, spec, run, 5);
        put_file(f->dir_fd, ".#state.json.123.0", "{\"version\":");
        put_file(f->dir_fd, ".#journal-000000000006.json.123.1", "{");
        put_file(f->dir_fd, ".#journal-000000000007.json.123.2", "{");
        put_file(f->dir_fd, "job.json", "{\"nodes\":{}}");
        assert_int_equal(mkdirat(f->dir_fd, "logs", 0755), 0);

        r = journal_load(f->dir_fd, spec, &got, &seq, &msg);
        if (r < 0)
                fail_msg("got %d (%s), want 0", r, strna(msg));
        if (seq != 5)
                fail_msg("got seq %" PRIu64 ", want 5", seq);
        assert_run_equal(got, run);
}

static void test_no_snapshot(void **state) {
        Fixture *f = *state;
        _cleanup_(jobspec_freep) JobSpec *spec = make_spec(2);
        _cleanup_(job_run_freep) JobRun *run = make_run(2, 3);
        JobRun *got = NULL;
        char *msg = NULL;

        assert_int_equal(journal_load(f->dir_fd, spec, &got, NULL, &msg), -ENOENT);
        /* Segments alone are not a state. */
        write_segment(f->dir_fd, spec, run, 1, true, NULL, 0);
        assert_int_equal(journal_load(f->dir_fd, spec, &got, NULL, &msg), -ENOENT);
        assert_null(got);
        assert_null(msg);
}

/* ---- corruption ------------------------------------------------------------------------------------- */

typedef enum Target {
        SNAPSHOT,    /* corrupt state.json (seq 0) */
        SEGMENT,     /* good state.json seq 0, corrupt journal-000000000001.json */
        SEGMENT_AS,  /* good state.json seq 0, the good segment 1 stored under the name in `to` */
        RAW_SEGMENT, /* good state.json seq 0, journal-000000000001.json containing `to` */
} Target;

/* The good texts edited with from → to must make journal_load() fail with -EBADMSG and exactly want_msg. */
static void test_corruption(void **state) {
        static const struct {
                Target target;
                const char *from, *to; /* first occurrence replaced; from == NULL: truncate to half */
                const char *want_msg;
        } table[] = {
                /* Syntax. */
                { SNAPSHOT, NULL, NULL, "state.json: truncated JSON (" },
                { SEGMENT, NULL, NULL, "journal-000000000001.json: truncated JSON (" },
                { RAW_SEGMENT, NULL, "", "journal-000000000001.json: truncated JSON (0 bytes)" },
                { RAW_SEGMENT, NULL, "{\"version\":1,\"seq\":1,\"nodes\":{}",
                  "journal-000000000001.json: truncated JSON (31 bytes)" },
                { RAW_SEGMENT, NULL, "{\"version\":1,\"seq\":1,\"nodes\":{\"n1\":{\"reason\":nu",
                  "journal-000000000001.json: truncated JSON (" },
                { SNAPSHOT, "{\"version\"",
                  "{\"version\"::", "state.json: invalid JSON at byte 11: expected a value" },
                { SEGMENT, "\"seq\":1,", "\"seq\":1,,",
                  "journal-000000000001.json: invalid JSON at byte 21: expected a string" },
                { SEGMENT, "\"seq\":1,", "\"seq\":1 \"x\"",
                  "journal-000000000001.json: invalid JSON at byte 21: expected ',' or '}'" },
                { SEGMENT, "\"seq\":1", "\"seq\":01",
                  "journal-000000000001.json: invalid JSON at byte 19: leading zero" },
                { SEGMENT, "\"seq\":1", "\"seq\":-",
                  "journal-000000000001.json: invalid JSON at byte 20: expected a digit" },
                { SEGMENT, "\"signal\":null", "\"signal\":nul",
                  "journal-000000000001.json: invalid JSON at byte " },
                { SEGMENT, "\"state\":\"succeeded\"", "\"state\":\"run\\xning\"",
                  "journal-000000000001.json: invalid JSON at byte " },
                { SEGMENT, "\"state\":\"succeeded\"", "\"state\":\"run\tning\"",
                  "journal-000000000001.json: invalid JSON at byte " },
                { SEGMENT, "\"state\":\"succeeded\"", "\"state\":\"\\udc00\"",
                  "journal-000000000001.json: invalid JSON at byte " },
                { SEGMENT, "\"state\":\"succeeded\"", "\"state\":\"\\ud800x\"",
                  "journal-000000000001.json: invalid JSON at byte " },
                { SEGMENT, "\"state\":\"succeeded\"", "\"state\":\"\\u00e9\\ud83d\\ude00\"",
                  "journal-000000000001.json: nodes.n1.state: unknown state \"é😀\"" },
                { SEGMENT, "}}}", "}}} x", "journal-000000000001.json: trailing data at byte " },
                { RAW_SEGMENT, NULL, "[1,2]",
                  "journal-000000000001.json: must be a JSON object, got an array" },
                { RAW_SEGMENT, NULL, "{\"version\":1,\"seq\":1,\"nodes\":{}}\n\n",
                  NULL }, /* trailing newlines are fine */
                /* Envelope. */
                { SNAPSHOT, "\"version\":1", "\"version\":2",
                  "state.json: version: unsupported version 2, want 1" },
                { SEGMENT, "\"version\":1", "\"version\":\"1\"",
                  "journal-000000000001.json: version: must be an integer, got a string" },
                { SEGMENT, "\"seq\":1", "\"seq\":5",
                  "journal-000000000001.json: seq: is 5, but the file name says 1" },
                { SEGMENT, "\"seq\":1", "\"sequence\":1",
                  "journal-000000000001.json: sequence: unknown field" },
                { SEGMENT, "\"seq\":1,", "", "journal-000000000001.json: seq: missing" },
                { SEGMENT, "\"seq\":1", "\"seq\":1,\"seq\":1",
                  "journal-000000000001.json: seq: duplicate field" },
                { SEGMENT, "\"nodes\":{", "\"nodez\":{", "journal-000000000001.json: nodez: unknown field" },
                { SNAPSHOT, "\"job\":{", "\"jobs\":{", "state.json: jobs: unknown field" },
                { SNAPSHOT, "\"job\":{", "\"job\":[{", "state.json: job: must be an object, got an array" },
                { SEGMENT_AS, NULL, "journal-1.json", "journal-1.json: malformed journal file name" },
                { SEGMENT_AS, NULL, "journal-00000000000x.json",
                  "journal-00000000000x.json: malformed journal file name" },
                { SEGMENT_AS, NULL, "journal-0000000000001.json",
                  "journal-0000000000001.json: malformed journal file name" },
                /* Nodes. */
                { SEGMENT, "\"n1\":", "\"build\":", "journal-000000000001.json: nodes.build: unknown node" },
                { SNAPSHOT, ",\"n2\":{", ",\"n0\":{", "state.json: nodes.n0: duplicate node" },
                { SNAPSHOT, "\"nodes\":{", "\"nodes\":{\"n9\":1,", "state.json: nodes.n9: unknown node" },
                { RAW_SEGMENT, NULL, "{\"version\":1,\"seq\":1,\"nodes\":{\"n1\":{}}}",
                  "journal-000000000001.json: nodes.n1.state: missing" },
                { SEGMENT, "\"state\":\"succeeded\"", "\"state\":\"runing\"",
                  "journal-000000000001.json: nodes.n1.state: unknown state \"runing\"" },
                { SEGMENT, "\"reason\":\"exit:7\"", "\"reason\":\"exit:700\"",
                  "journal-000000000001.json: nodes.n1.reason: unknown reason \"exit:700\"" },
                { SEGMENT, "\"exit_code\":7", "\"exit_code\":300",
                  "journal-000000000001.json: nodes.n1.exit_code: 300 is out of range 0…255" },
                { SEGMENT, "\"attempt\":1", "\"attempt\":-1",
                  "journal-000000000001.json: nodes.n1.attempt: -1 is out of range 0…65535" },
                { SEGMENT, "\"signal\":null", "\"signal\":0",
                  "journal-000000000001.json: nodes.n1.signal: 0 is out of range 1…64" },
                { SEGMENT, "\"signal\":null", "\"signal\":\"KILL\"",
                  "journal-000000000001.json: nodes.n1.signal: must be an integer or null, got a string" },
                { SEGMENT, "\"retry_at\":0", "\"retry_at\":1.5",
                  "journal-000000000001.json: nodes.n1.retry_at: "
                  "must be an integer, got a fraction or exponent" },
                { SEGMENT, "\"retry_at\":0", "\"retry_at\":1e3",
                  "journal-000000000001.json: nodes.n1.retry_at: "
                  "must be an integer, got a fraction or exponent" },
                { SEGMENT, "\"retry_at\":0", "\"retry_at\":99999999999999999999",
                  "journal-000000000001.json: nodes.n1.retry_at: "
                  "99999999999999999999 is out of range 0…9223372036854775807" },
                { SEGMENT, "\"retry_at\":0", "\"retry_at\":18446744073709551615",
                  "journal-000000000001.json: nodes.n1.retry_at: "
                  "18446744073709551615 is out of range 0…9223372036854775807" },
                { SEGMENT, "\"retry_at\":0", "\"retry_at\":null",
                  "journal-000000000001.json: nodes.n1.retry_at: must be an integer, got null" },
                { SEGMENT, "\"retry_at\":0", "\"retry_at\":0,\"extra\":1",
                  "journal-000000000001.json: nodes.n1.extra: unknown field" },
                { SEGMENT, "\"retry_at\":0", "\"retry_at\":0,\"retry_at\":0",
                  "journal-000000000001.json: nodes.n1.retry_at: duplicate field" },
                { SEGMENT, ",\"retry_at\":0", "", "journal-000000000001.json: nodes.n1.retry_at: missing" },
                { SEGMENT, "\"n1\":{", "\"n1\":[{",
                  "journal-000000000001.json: nodes.n1: must be an object, got an array" },
                /* Job record. */
                { SEGMENT, "\"id\":\"43\"", "\"id\":\"043\"",
                  "journal-000000000001.json: job.id: invalid job id \"043\"" },
                { SEGMENT, "\"id\":\"43\"", "\"id\":43",
                  "journal-000000000001.json: job.id: must be a string, got a number" },
                { SEGMENT, "\"id\":\"43\",", "", "journal-000000000001.json: job.id: missing" },
                { SNAPSHOT, "\"state\":\"running\",\"paused_from\":null",
                  "\"state\":\"paused\",\"paused_from\":null",
                  "state.json: job.paused_from: must be set exactly when the job is paused" },
                { SNAPSHOT, "\"state\":\"running\",\"paused_from\":null",
                  "\"state\":\"running\",\"paused_from\":\"queued\"",
                  "state.json: job.paused_from: must be set exactly when the job is paused" },
                { SNAPSHOT, "\"state\":\"running\",\"paused_from\":null",
                  "\"state\":\"paused\",\"paused_from\":\"failed\"",
                  "state.json: job.paused_from: must be \"queued\" or \"running\"" },
                { SNAPSHOT, "\"state\":\"running\",\"paused_from\":null",
                  "\"state\":\"done\",\"paused_from\":null",
                  "state.json: job.state: unknown state \"done\"" },
                { SNAPSHOT, "\"user\":\"alice\"", "\"user\":\"al\\u0000ice\"",
                  "state.json: job.user: contains a NUL character" },
                { SNAPSHOT, "\"uid\":1001", "\"uid\":4294967296",
                  "state.json: job.uid: 4294967296 is out of range 0…4294967295" },
                { SNAPSHOT, "\"cancel_requested\":true", "\"cancel_requested\":1",
                  "state.json: job.cancel_requested: must be a boolean, got a number" },
                { SNAPSHOT, "\"reason\":\"exit:3\"", "\"reason\":\"exit\"",
                  "state.json: job.reason: unknown reason \"exit\"" },
        };
        _cleanup_(jobspec_freep) JobSpec *spec = make_spec(3);
        _cleanup_(job_run_freep) JobRun *run = make_run(3, 1); /* running, user alice, uid 1001 */
        _cleanup_free_ char *snap = NULL, *seg = NULL;

        snap = journal_build_snapshot(spec, run, 0, NULL);
        assert_non_null(snap);
        run->nodes[1] = (NodeRun){ .state = NODE_SUCCEEDED,
                                   .reason = { REASON_EXIT, 7 },
                                   .attempt = 1,
                                   .exit_code = 7,
                                   .started_at = 5,
                                   .finished_at = 6 };
        seg = journal_build_segment(spec, run, 1, true, (const uint32_t[]){ 1 }, 1, NULL);
        assert_non_null(seg);

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                const char *good = table[i].target == SNAPSHOT ? snap : seg;
                _cleanup_free_ char *bad = NULL, *msg = NULL;
                _cleanup_(job_run_freep) JobRun *got = NULL;
                Fixture *f;
                int r;

                if (table[i].target == SEGMENT_AS)
                        bad = strdup(good);
                else if (table[i].target == RAW_SEGMENT)
                        bad = strdup(table[i].to);
                else if (!table[i].from)
                        bad = strndup(good, strlen(good) / 2);
                else {
                        const char *at = strstr(good, table[i].from);
                        if (!at)
                                fail_msg("row %zu: \"%s\" not in %s", i, table[i].from, good);
                        assert_true(asprintf(&bad, "%.*s%s%s", (int) (at - good), good, table[i].to,
                                             at + strlen(table[i].from)) >= 0);
                }
                assert_non_null(bad);

                assert_int_equal(setup((void **) &f), 0);
                if (table[i].target == SNAPSHOT)
                        put_file(f->dir_fd, "state.json", bad);
                else {
                        put_file(f->dir_fd, "state.json", snap);
                        put_file(f->dir_fd,
                                 table[i].target == SEGMENT_AS ? table[i].to : "journal-000000000001.json",
                                 bad);
                }
                r = journal_load(f->dir_fd, spec, &got, NULL, &msg);
                assert_int_equal(teardown((void **) &f), 0);

                if (!table[i].want_msg) {
                        if (r < 0)
                                fail_msg("row %zu: got r=%d (%s), want 0", i, r, strna(msg));
                        continue;
                }
                if (r != -EBADMSG)
                        fail_msg("row %zu: got r=%d (%s), want -EBADMSG", i, r, strna(msg));
                if (!msg || !strneq(msg, table[i].want_msg, strlen(table[i].want_msg)))
                        fail_msg("row %zu: got message \"%s\", want \"%s…\"", i, strna(msg),
                                 table[i].want_msg);
                if (got)
                        fail_msg("row %zu: got a JobRun on failure, want none", i);
        }
}

static void test_gap(void **state) {
        static const struct {
                uint64_t snapshot;
                uint64_t segments[4];
                size_t n;
                const char *want_msg; /* NULL: loads fine */
        } table[] = {
                { 0, { 1, 2, 3 }, 3, NULL },
                { 0,
                  { 1, 3 },
                  2,
                  "journal-000000000003.json: sequence gap: journal-000000000002.json is missing" },
                { 0,
                  { 2 },
                  1,
                  "journal-000000000002.json: sequence gap: journal-000000000001.json is missing" },
                { 5,
                  { 4, 6, 8 },
                  3,
                  "journal-000000000008.json: sequence gap: journal-000000000007.json is missing" },
                { 999999999999, { 1000000000000 }, 1, NULL }, /* the 13th digit */
        };
        _cleanup_(jobspec_freep) JobSpec *spec = make_spec(2);
        _cleanup_(job_run_freep) JobRun *run = make_run(2, 4);

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(job_run_freep) JobRun *got = NULL;
                _cleanup_free_ char *msg = NULL;
                Fixture *f;
                int r;

                assert_int_equal(setup((void **) &f), 0);
                /* Write the segments first: the snapshot removes those at or below its seq. */
                for (size_t k = 0; k < table[i].n; k++)
                        write_segment(f->dir_fd, spec, run, table[i].segments[k], false,
                                      (const uint32_t[]){ 0 }, 1);
                write_snapshot(f->dir_fd, spec, run, table[i].snapshot);
                r = journal_load(f->dir_fd, spec, &got, NULL, &msg);
                assert_int_equal(teardown((void **) &f), 0);

                if (!table[i].want_msg) {
                        if (r < 0)
                                fail_msg("row %zu: got %d (%s), want 0", i, r, strna(msg));
                        continue;
                }
                if (r != -EBADMSG || !msg || !streq(msg, table[i].want_msg))
                        fail_msg("row %zu: got %d \"%s\", want -EBADMSG \"%s\"", i, r, strna(msg),
                                 table[i].want_msg);
        }
}

/* ---- speed ------------------------------------------------------------------------------------------ */

static uint64_t now_usec(void) {
        struct timespec ts;

        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* Speed is a benchmark's business (bench/), never a test's: print the figure, assert nothing about it. */
static void report_time(const char *what, uint64_t got_usec, uint64_t target_usec) {
        print_message("%s: %" PRIu64 " µs (target for an optimized build: %" PRIu64 " µs)\n", what, got_usec,
                      target_usec);
}

/* Best of three runs: the budgets are about our code, not about a neighbour stealing the CPU. */
#define BEST_OF_3(best, stmt)                                  \
        do {                                                   \
                (best) = UINT64_MAX;                           \
                for (int _k = 0; _k < 3; _k++) {               \
                        uint64_t _t = now_usec();              \
                        stmt;                                  \
                        (best) = MIN((best), now_usec() - _t); \
                }                                              \
        } while (0)

static void segment_batch(const JobSpec *spec, const JobRun *run) {
        for (unsigned i = 0; i < 3000; i++) {
                _cleanup_free_ char *s = NULL;
                uint32_t dirty[4] = { i * 7 % 100000, i * 13 % 100000, 99999, i % 100000 };

                s = journal_build_segment(spec, run, 2 + i, i % 2, dirty, 1 + i % 4, NULL);
                assert_non_null(s);
        }
}

static void test_speed(void **state) {
        Fixture *f = *state;
        _cleanup_(jobspec_freep) JobSpec *spec = make_spec(100000);
        _cleanup_(job_run_freep) JobRun *run = make_run(100000, 7);
        _cleanup_(job_run_freep) JobRun *got = NULL;
        _cleanup_free_ char *buf = NULL, *msg = NULL;
        uint64_t best, seq;
        size_t len;
        int r = 0;

        BEST_OF_3(best, free(buf); buf = journal_build_snapshot(spec, run, 1, &len));
        report_time("snapshot of 100,000 nodes", best, 200000);
        assert_non_null(buf);
        assert_int_equal(journal_write_snapshot(f->dir_fd, 1, buf, len), 0);

        BEST_OF_3(best, segment_batch(spec, run));
        report_time("segment of 1-4 nodes (mean of 3,000)", best / 3000, 10);

        write_segment(f->dir_fd, spec, run, 2, true, (const uint32_t[]){ 5, 99999 }, 2);
        BEST_OF_3(best, got = job_run_free(got); r = journal_load(f->dir_fd, spec, &got, &seq, &msg));
        report_time("load of 100,000 nodes", best, 300000);
        if (r < 0)
                fail_msg("got %d (%s), want 0", r, strna(msg));
        assert_int_equal(seq, 2);
        assert_run_equal(got, run);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_snapshot_roundtrip, setup, teardown),
                cmocka_unit_test(test_segment_format),
                cmocka_unit_test(test_accounting_fields),
                cmocka_unit_test(test_snapshot_with_nodes),
                cmocka_unit_test_setup_teardown(test_segments_replay, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snapshot_obsoletes_segments, setup, teardown),
                cmocka_unit_test_setup_teardown(test_segment_reuse, setup, teardown),
                cmocka_unit_test_setup_teardown(test_leftover_temp_files_ignored, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_snapshot, setup, teardown),
                cmocka_unit_test(test_corruption),
                cmocka_unit_test(test_gap),
                cmocka_unit_test_setup_teardown(test_speed, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
