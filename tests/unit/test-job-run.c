/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for the run-time Job (job*.c) under a test host (job-host.h), not the manager: a real sd-event loop,
 * real children through supervise.c, and the real committer writing the job's journal into a mkdtemp spool.
 * The host here does what the manager does per loop iteration (offer slots, then flush dirty jobs as one
 * group commit while the committer is idle, and pass durable generations back), and records every callback.
 * That this links against liborch.a without manager.o is the proof that the Job no longer needs the manager.
 *
 * Deterministic: nodes that must stay running wait on a FIFO the test releases (open for writing, close),
 * and the committer is held by a commit call that blocks on a pipe until the test writes to it. Waits are
 * loop iterations until a condition holds, bounded by a generous deadline that fails the test; nothing
 * sleeps as a timing window.
 */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "committer.h"
#include "job.h"
#include "macro.h"
#include "procutil.h"
#include "supervise.h"
#include "time-util.h"

#define DEADLINE_USEC (60 * USEC_PER_SEC) /* an upper bound only: a loaded CI machine stays far below it */
#define MAX_JOBS 2

typedef struct TestHost {
        char dir[TEST_TMPDIR_MAX];
        int dir_fd, jobs_fd;
        sd_event *event;
        Committer *committer;
        DaemonConf conf;
        JobHost host;

        Job *jobs[MAX_JOBS];
        bool active[MAX_JOBS];
        size_t n_jobs;
        Job *dirty[MAX_JOBS];
        size_t n_dirty;

        unsigned max_parallel;
        unsigned n_running; /* kept through slots_changed */
        unsigned max_running_seen;
        unsigned n_spawned;
        unsigned n_settled, n_retried, n_dirty_calls;
        bool schedule_needed, stopping;
        uint64_t key_holder;
        int hold_fd[2]; /* the committer is held while a commit call reads hold_fd[0] */

        /* The observer: node states in the order flushes reported them, and the order of events. */
        char flushed[4096];
        char events[256];
} TestHost;

/* ---- the host ---------------------------------------------------------------------------------- */

static void host_mark_dirty(void *userdata, Job *j) {
        TestHost *h = userdata;

        for (size_t k = 0; k < h->n_dirty; k++)
                assert_ptr_not_equal(h->dirty[k], j); /* the job tells its host once per flush window */
        assert_true(h->n_dirty < MAX_JOBS);
        h->dirty[h->n_dirty++] = j;
        h->n_dirty_calls++;
}

static void host_schedule_soon(void *userdata) {
        ((TestHost *) userdata)->schedule_needed = true;
}

static void host_schedule_later(void *userdata, uint64_t usec) {
        ((TestHost *) userdata)->schedule_needed = true;
}

static void host_slots_changed(void *userdata, Job *j, int delta) {
        TestHost *h = userdata;

        assert_true(delta == 1 || delta == -1);
        assert_true(delta > 0 || h->n_running > 0);
        h->n_running += delta;
        h->max_running_seen = MAX(h->max_running_seen, h->n_running);
}

static void host_spawned(void *userdata) {
        ((TestHost *) userdata)->n_spawned++;
}

static bool host_may_start(void *userdata) {
        return !((TestHost *) userdata)->stopping;
}

static size_t host_index(TestHost *h, Job *j) {
        for (size_t k = 0; k < h->n_jobs; k++)
                if (h->jobs[k] == j)
                        return k;
        fail_msg("unknown job");
        return 0;
}

static void host_settled(void *userdata, Job *j) {
        TestHost *h = userdata;

        h->active[host_index(h, j)] = false;
        h->n_settled++;
}

static int host_retried(void *userdata, Job *j) {
        TestHost *h = userdata;

        h->active[host_index(h, j)] = true;
        h->n_retried++;
        h->schedule_needed = true;
        return 0;
}

static uint64_t host_key_holder(void *userdata, const char *key, uid_t uid) {
        return ((TestHost *) userdata)->key_holder;
}

static int host_open_job_dir(void *userdata, uint64_t id) {
        TestHost *h = userdata;
        char name[24];
        int fd;

        snprintf(name, sizeof(name), "%" PRIu64, id);
        fd = openat(h->jobs_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static void host_log_floor(void *userdata, uint64_t *ret_bytes, uint64_t *ret_inodes) {
        *ret_bytes = 0;
        *ret_inodes = 0;
}

static void host_fail_stop(void *userdata, int error, const char *what) {
        fail_msg("fail_stop: %s: %s", what, strerror(-error));
}

static const JobHostOps test_host_ops = {
        .mark_dirty = host_mark_dirty,
        .schedule_soon = host_schedule_soon,
        .schedule_later = host_schedule_later,
        .slots_changed = host_slots_changed,
        .spawned = host_spawned,
        .may_start = host_may_start,
        .settled = host_settled,
        .retried = host_retried,
        .key_holder = host_key_holder,
        .open_job_dir = host_open_job_dir,
        .log_floor = host_log_floor,
        .fail_stop = host_fail_stop,
};

static void on_committed(Committer *c, uint64_t gen, void *userdata) {
        TestHost *h = userdata;

        for (size_t k = 0; k < h->n_jobs; k++)
                if (h->active[k])
                        job_on_durable(h->jobs[k], gen);
}

static void on_commit_error(Committer *c, int error, const char *what, void *userdata) {
        fail_msg("commit failed: %s: %s", what, strerror(-error));
}

/* One iteration of the manager's post work: offer the free slots, then flush as one group commit. */
static void host_pass(TestHost *h) {
        uint64_t gen;

        for (unsigned rounds = 0; h->schedule_needed && rounds < 64; rounds++) {
                unsigned slots = h->max_parallel > h->n_running ? h->max_parallel - h->n_running : 0;

                h->schedule_needed = false;
                for (size_t k = 0; k < h->n_jobs && slots > 0; k++)
                        if (h->active[k])
                                (void) job_start_ready(h->jobs[k], &slots);
        }
        if ((h->n_dirty == 0 && !committer_has_open(h->committer)) || committer_busy(h->committer))
                return;
        gen = committer_next_gen(h->committer);
        for (size_t k = 0; k < h->n_dirty; k++)
                assert_int_equal(job_flush(h->dirty[k], gen), 0);
        h->n_dirty = 0;
        if (committer_has_open(h->committer))
                assert_int_equal(committer_seal(h->committer), gen);
}

static void host_iterate(TestHost *h) {
        host_pass(h);
        assert_true(sd_event_run(h->event, 50 * USEC_PER_MSEC) >= 0);
}

#define RUN_UNTIL(h, cond)                                                      \
        do {                                                                    \
                uint64_t deadline_ = now_usec(CLOCK_MONOTONIC) + DEADLINE_USEC; \
                while (!(cond)) {                                               \
                        if (now_usec(CLOCK_MONOTONIC) > deadline_)              \
                                fail_msg("timed out waiting for: %s", #cond);   \
                        host_iterate(h);                                        \
                }                                                               \
        } while (0)

/* ---- the committer held: a commit call that waits on a pipe ------------------------------------ */

static int hold_fn(void *data) {
        char c;

        return read(*(int *) data, &c, 1) == 1 ? 0 : -EIO;
}

static void committer_hold(TestHost *h) {
        assert_int_equal(committer_add_call(h->committer, hold_fn, NULL, &h->hold_fd[0], "hold"), 0);
        (void) committer_seal(h->committer);
        assert_true(committer_busy(h->committer));
}

static void committer_release(TestHost *h) {
        assert_int_equal(write(h->hold_fd[1], "x", 1), 1);
}

/* ---- the observer ------------------------------------------------------------------------------ */

static void append(char *buf, size_t size, const char *fmt, ...) {
        size_t len = strlen(buf);
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf + len, size - len, fmt, ap);
        va_end(ap);
}

static void obs_flush(Job *j, uint64_t gen, const uint32_t *nodes, size_t n_nodes, bool job_changed,
                      void *userdata) {
        TestHost *h = userdata;

        for (size_t k = 0; k < n_nodes; k++)
                append(h->flushed, sizeof(h->flushed), "%s:%s ", j->spec->nodes[nodes[k]].id,
                       node_state_to_string(j->run->nodes[nodes[k]].state));
}

static void obs_end(Job *j, void *userdata) {
        TestHost *h = userdata;

        append(h->events, sizeof(h->events), "end(%s) ", job_state_to_string(j->run->state));
}

static void obs_detach(Job *j, void *userdata) {
        TestHost *h = userdata;

        append(h->events, sizeof(h->events), "detach ");
}

static const JobObserverOps test_observer_ops = { .flush = obs_flush, .end = obs_end, .detach = obs_detach };

/* ---- fixture ----------------------------------------------------------------------------------- */

static int setup(void **state) {
        TestHost *h = calloc(1, sizeof(*h));

        assert_non_null(h);
        h->dir_fd = test_tmpdir(h->dir, "test-job-run");
        assert_int_equal(mkdirat(h->dir_fd, "jobs", 0755), 0);
        h->jobs_fd = openat(h->dir_fd, "jobs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(h->jobs_fd >= 0);
        assert_int_equal(sd_event_new(&h->event), 0);
        assert_int_equal(committer_new(h->event, on_committed, on_commit_error, h, &h->committer), 0);
        assert_int_equal(pipe2(h->hold_fd, O_CLOEXEC), 0);
        h->conf.max_log_size = 1024 * 1024;
        h->conf.max_interrupted_reruns = 3;
        h->max_parallel = 8;
        h->host = (JobHost){ .event = h->event,
                             .committer = h->committer,
                             .jobs_fd = h->jobs_fd,
                             .conf = &h->conf,
                             .ops = &test_host_ops,
                             .userdata = h };
        *state = h;
        return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static int teardown(void **state) {
        TestHost *h = *state;

        for (size_t k = 0; k < h->n_jobs; k++)
                job_free(h->jobs[k]); /* kills what still runs */
        h->committer = committer_free(h->committer);
        sd_event_unref(h->event);
        safe_close(h->hold_fd[0]);
        safe_close(h->hold_fd[1]);
        safe_close(h->jobs_fd);
        safe_close(h->dir_fd);
        (void) nftw(h->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(h);
        return 0;
}

/* {"cmd": [...]} of a node that waits until the test releases gate NAME, then exits with code. */
static const char *gated(TestHost *h, const char *name, int code) {
        static char buf[8][512];
        static unsigned next;
        char path[128];
        char *b = buf[next++ % ELEMENTSOF(buf)];

        snprintf(path, sizeof(path), "%s/gate.%s", h->dir, name);
        if (mkfifo(path, 0600) < 0)
                assert_int_equal(errno, EEXIST);
        snprintf(b, sizeof(buf[0]),
                 "\"cmd\": [\"/bin/sh\", \"-c\", \"cat \\\"$0\\\" >/dev/null; exit $1\", \"%s\", \"%d\"]",
                 path, code);
        return b;
}

/* Release gate NAME: once its node waits on it (a reader holds the FIFO), open it for writing and close it. */
static void release(TestHost *h, const char *name) {
        char path[128];
        int fd = -1;

        snprintf(path, sizeof(path), "%s/gate.%s", h->dir, name);
        RUN_UNTIL(h, (fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) >= 0);
        close(fd);
}

/* Parse the job file, add its job (id k + 1) to the host and activate it. run_init may change the run first
 * (a recovered state). */
static Job *add_job(TestHost *h, const char *json, void (*run_init)(JobSpec *spec, JobRun *run)) {
        JobSpec *spec = NULL;
        JobErrors *errors = NULL;
        JobLimits limits;
        JobRun *run = NULL;
        char name[24];
        int fd;
        Job *j;

        jobspec_limits_init(&limits);
        if (jobspec_parse(json, strlen(json), &limits, "test", &spec, &errors) < 0) {
                char *msg = jobspec_errors_format(errors, "test.json");

                fail_msg("invalid job: %s\n%s", msg, json);
        }
        assert_int_equal(job_run_new(spec->n_nodes, &run), 0);
        run->id = h->n_jobs + 1;
        run->uid = getuid();
        run->gid = getgid();
        run->submitted_at = now_realtime_usec();
        if (run_init)
                run_init(spec, run);
        snprintf(name, sizeof(name), "%" PRIu64, run->id);
        assert_int_equal(mkdirat(h->jobs_fd, name, 0755), 0);
        fd = openat(h->jobs_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(mkdirat(fd, "logs", 0755), 0);
        close(fd);

        assert_int_equal(job_new(&h->host, spec, run, NULL, &j), 0);
        assert_int_equal(job_add_observer(j, &test_observer_ops, h), 0);
        h->jobs[h->n_jobs] = j;
        h->active[h->n_jobs] = !job_is_finished(j);
        h->n_jobs++;
        assert_int_equal(job_activate(j), 0);
        return j;
}

static const NodeRun *node(const Job *j, const char *id) {
        ssize_t i = jobspec_find_node(j->spec, id);

        assert_true(i >= 0);
        return &j->run->nodes[i];
}

static uint32_t node_index(const Job *j, const char *id) {
        ssize_t i = jobspec_find_node(j->spec, id);

        assert_true(i >= 0);
        return (uint32_t) i;
}

static NodeState node_state(const Job *j, const char *id) {
        return node(j, id)->state;
}

static const char *node_reason(const Job *j, const char *id) {
        static char buf[REASON_STRING_MAX];

        return strna(reason_to_string(node(j, id)->reason, buf, sizeof(buf)));
}

/* Run until the job's end is durable (the host heard settled, the observer heard end). */
static void run_to_settled(TestHost *h, Job *j) {
        RUN_UNTIL(h, job_is_settled(j));
        assert_int_equal(h->n_running, 0);
}

static bool file_exists(TestHost *h, const char *path) {
        return faccessat(h->jobs_fd, path, F_OK, 0) == 0;
}

/* ---- node lifecycle ------------------------------------------------------------------------------ */

static void test_lifecycle(void **state) {
        TestHost *h = *state;
        char json[1024];
        Job *j;

        snprintf(json, sizeof(json), "{\"nodes\": {\"a\": {%s}}}", gated(h, "a", 0));
        j = add_job(h, json, NULL);
        assert_int_equal(j->run->state, JOB_QUEUED);
        RUN_UNTIL(h, node(j, "a")->pid > 0);
        assert_int_equal(node_state(j, "a"), NODE_RUNNING);
        assert_int_equal(j->run->state, JOB_RUNNING);
        assert_int_equal(node(j, "a")->attempt, 1);
        assert_int_equal(h->n_running, 1);
        RUN_UNTIL(h, job_is_clean(j) && job_records_gen(j) <= committer_durable_gen(h->committer));
        /* Begun in one commit; spawned (with its pid) once that commit made the acceptance durable. */
        assert_string_equal(h->flushed, "a:running a:running ");

        release(h, "a");
        run_to_settled(h, j);
        assert_int_equal(node_state(j, "a"), NODE_SUCCEEDED);
        assert_int_equal(node(j, "a")->exit_code, 0);
        assert_int_equal(node(j, "a")->pid, 0);
        assert_int_equal(j->run->state, JOB_SUCCEEDED);
        assert_string_equal(h->flushed, "a:running a:running a:succeeded ");
        assert_string_equal(h->events, "end(succeeded) ");
        assert_int_equal(h->n_spawned, 1);
        assert_int_equal(h->n_settled, 1);
        assert_true(file_exists(h, "1/logs/a.1.log"));
        assert_false(file_exists(h, "1/starts")); /* removed once every end is durable */
        assert_false(h->active[0]);
}

/* ---- trigger rules ------------------------------------------------------------------------------- */

static void run_triggers(TestHost *h, int code_a, JobState want_job, NodeState want_ok, NodeState want_fail,
                         NodeState want_always) {
        char json[2048];
        Job *j;

        snprintf(json, sizeof(json),
                 "{\"nodes\": {\"a\": {\"cmd\": [\"/bin/sh\", \"-c\", \"exit %d\"]},"
                 "\"ok\": {\"cmd\": [\"/bin/true\"], \"after\": [\"a\"]},"
                 "\"onfail\": {\"cmd\": [\"/bin/true\"], \"after\": [\"a\"], \"when\": \"failure\"},"
                 "\"always\": {\"cmd\": [\"/bin/true\"], \"after\": [\"a\"], \"when\": \"always\"},"
                 "\"next\": {\"cmd\": [\"/bin/true\"], \"after\": [\"ok\"]}}}",
                 code_a);
        j = add_job(h, json, NULL);
        run_to_settled(h, j);
        assert_int_equal(j->run->state, want_job);
        assert_int_equal(node_state(j, "ok"), want_ok);
        assert_int_equal(node_state(j, "onfail"), want_fail);
        assert_int_equal(node_state(j, "always"), want_always);
        assert_int_equal(node_state(j, "next"), want_ok); /* a skip propagates downstream */
        if (want_ok == NODE_SKIPPED)
                assert_string_equal(node_reason(j, "ok"), "upstream");
}

static void test_triggers_success(void **state) {
        run_triggers(*state, 0, JOB_SUCCEEDED, NODE_SUCCEEDED, NODE_SKIPPED, NODE_SUCCEEDED);
}

static void test_triggers_failure(void **state) {
        run_triggers(*state, 3, JOB_FAILED, NODE_SKIPPED, NODE_SUCCEEDED, NODE_SUCCEEDED);
}

/* ---- retry timers with backoff ------------------------------------------------------------------- */

typedef struct Waits {
        uint64_t started_at[4], retry_at[4];
        unsigned n;
} Waits;

static void waits_flush(Job *j, uint64_t gen, const uint32_t *nodes, size_t n_nodes, bool job_changed,
                        void *userdata) {
        Waits *w = userdata;
        const NodeRun *n = &j->run->nodes[0];

        if (n->state == NODE_RETRY_WAIT && w->n < ELEMENTSOF(w->retry_at) &&
            (w->n == 0 || w->retry_at[w->n - 1] != n->retry_at)) {
                w->started_at[w->n] = n->started_at;
                w->retry_at[w->n++] = n->retry_at;
        }
}

static const JobObserverOps waits_ops = { .flush = waits_flush };

static void test_retry_backoff(void **state) {
        TestHost *h = *state;
        Waits w = {};
        Job *j;

        /* Three attempts, delays 0.2 s then 0.6 s (factor 3, no jitter); exit 7 is retried, so all fail. */
        j = add_job(
                h,
                "{\"nodes\": {\"a\": {\"cmd\": [\"/bin/sh\", \"-c\", \"exit 7\"],"
                "\"retry\": {\"attempts\": 3, \"delay\": 0.2, \"factor\": 3, \"jitter\": 0, \"on_exit\": [7]}}}}",
                NULL);
        assert_int_equal(job_add_observer(j, &waits_ops, &w), 0);
        run_to_settled(h, j);
        assert_int_equal(node_state(j, "a"), NODE_FAILED);
        assert_int_equal(node(j, "a")->attempt, 3);
        assert_string_equal(node_reason(j, "a"), "exit:7");
        assert_int_equal(j->run->state, JOB_FAILED);
        assert_int_equal(h->n_spawned, 3);
        assert_int_equal(w.n, 2);
        /* Each wait is at least its delay after its attempt started (the attempt's end lies in between), and
         * an attempt never starts before the wait is over. */
        assert_true(w.retry_at[0] >= w.started_at[0] + 200 * USEC_PER_MSEC);
        assert_true(w.retry_at[1] >= w.started_at[1] + 600 * USEC_PER_MSEC);
        assert_true(w.started_at[1] >= w.retry_at[0]);
        assert_true(node(j, "a")->started_at >= w.retry_at[1]);
        assert_true(w.retry_at[1] - w.started_at[1] < DEADLINE_USEC);
        job_remove_observer(j, &waits_ops, &w);
}

/* An exit code not in on_exit fails at once: no retry_wait. */
static void test_retry_not_on_exit(void **state) {
        TestHost *h = *state;
        Job *j;

        j = add_job(h,
                    "{\"nodes\": {\"a\": {\"cmd\": [\"/bin/sh\", \"-c\", \"exit 3\"],"
                    "\"retry\": {\"attempts\": 5, \"delay\": 0.1, \"on_exit\": [75]}}}}",
                    NULL);
        run_to_settled(h, j);
        assert_int_equal(node(j, "a")->attempt, 1);
        assert_int_equal(node_state(j, "a"), NODE_FAILED);
        assert_null(strstr(h->flushed, "retry_wait"));
}

/* ---- durability barriers ------------------------------------------------------------------------- */

/* A dependent never starts before its parent's end is durable. */
static void test_barrier_completion(void **state) {
        TestHost *h = *state;
        char json[1024];
        Job *j;

        snprintf(json, sizeof(json), "{\"nodes\": {\"a\": {%s}, \"b\": {%s, \"after\": [\"a\"]}}}",
                 gated(h, "a", 0), gated(h, "b", 0));
        j = add_job(h, json, NULL);
        RUN_UNTIL(h, node(j, "a")->pid > 0 && job_is_clean(j) && !committer_busy(h->committer));

        committer_hold(h);
        release(h, "a");
        RUN_UNTIL(h, node_state(j, "a") == NODE_SUCCEEDED);
        /* Its end is recorded but cannot be durable while the committer is held: b must wait, however many
         * iterations the loop makes. */
        for (unsigned k = 0; k < 20; k++)
                host_iterate(h);
        assert_int_equal(node_state(j, "b"), NODE_PENDING);
        assert_int_equal(node(j, "b")->attempt, 0);
        assert_int_equal(h->n_spawned, 1);
        assert_false(job_is_clean(j)); /* a's end waits for the held commit to be over */

        committer_release(h);
        RUN_UNTIL(h, node(j, "b")->pid > 0);
        assert_true(committer_durable_gen(h->committer) >= 2);
        release(h, "b");
        run_to_settled(h, j);
        assert_int_equal(j->run->state, JOB_SUCCEEDED);
}

/* A node with on_interrupt=fail is spawned only once its start is durable; and no node of a job whose
 * acceptance may not be durable yet is spawned. */
static void test_barrier_spawn(void **state) {
        TestHost *h = *state;
        char json[1024];
        Job *j;

        committer_hold(h);
        snprintf(json, sizeof(json), "{\"nodes\": {\"a\": {%s, \"on_interrupt\": \"fail\"}}}",
                 gated(h, "a", 0));
        j = add_job(h, json, NULL);
        RUN_UNTIL(h, node_state(j, "a") == NODE_RUNNING);
        for (unsigned k = 0; k < 20; k++)
                host_iterate(h);
        assert_int_equal(node(j, "a")->pid, 0); /* begun (holds a slot), not spawned */
        assert_int_equal(h->n_running, 1);
        assert_int_equal(h->n_spawned, 0);
        assert_false(file_exists(h, "1/logs/a.1.log"));

        committer_release(h);
        RUN_UNTIL(h, node(j, "a")->pid > 0);
        assert_int_equal(h->n_spawned, 1);
        release(h, "a");
        run_to_settled(h, j);
        assert_int_equal(node_state(j, "a"), NODE_SUCCEEDED);
}

/* The waiters of a job's end (here: the host's settled and the observer's end) hear of it only once it
 * is durable. */
static void test_barrier_end(void **state) {
        TestHost *h = *state;
        char json[1024];
        Job *j;

        snprintf(json, sizeof(json), "{\"nodes\": {\"a\": {%s}}}", gated(h, "a", 0));
        j = add_job(h, json, NULL);
        release(h, "a");
        /* The job ends in the durable callback of a's end; its final record goes with the next flush, which
         * comes only after the condition is checked: hold the committer before that. */
        RUN_UNTIL(h, job_is_finished(j));
        assert_false(job_is_clean(j));
        committer_hold(h);
        for (unsigned k = 0; k < 20; k++)
                host_iterate(h);
        assert_false(job_is_settled(j));
        assert_int_equal(h->n_settled, 0);
        assert_string_equal(h->events, "");
        committer_release(h);
        run_to_settled(h, j);
        assert_string_equal(h->events, "end(succeeded) ");
}

/* ---- recovery: each on_interrupt case -------------------------------------------------------------- */

/* As the journal of a job whose node "a" was running (attempt 1) when orchd died. */
static void running_at_crash(JobSpec *spec, JobRun *run) {
        run->state = JOB_RUNNING;
        run->started_at = now_realtime_usec();
        run->nodes[0].state = NODE_RUNNING;
        run->nodes[0].attempt = 1;
        run->nodes[0].started_at = run->started_at;
}

static void test_recover_rerun(void **state) {
        TestHost *h = *state;
        Job *j;

        j = add_job(h, "{\"nodes\": {\"a\": {\"cmd\": [\"/bin/true\"]}}}", running_at_crash);
        /* Requeued at once (not counted against retry.attempts), run again as attempt 2. */
        assert_int_equal(node_state(j, "a"), NODE_PENDING);
        assert_int_equal(node(j, "a")->interrupted, 1);
        assert_int_equal(node(j, "a")->crash_reruns, 1);
        run_to_settled(h, j);
        assert_int_equal(node_state(j, "a"), NODE_SUCCEEDED);
        assert_int_equal(node(j, "a")->attempt, 2);
        assert_true(file_exists(h, "1/logs/a.2.log"));
        assert_false(file_exists(h, "1/logs/a.1.log"));
}

static void test_recover_fail(void **state) {
        TestHost *h = *state;
        Job *j;

        j = add_job(h, "{\"nodes\": {\"a\": {\"cmd\": [\"/bin/true\"], \"on_interrupt\": \"fail\"}}}",
                    running_at_crash);
        assert_int_equal(node_state(j, "a"), NODE_FAILED);
        assert_string_equal(node_reason(j, "a"), "interrupted");
        run_to_settled(h, j);
        assert_int_equal(j->run->state, JOB_FAILED);
        assert_int_equal(h->n_spawned, 0);
}

/* MaxInterruptedReruns=: a node the daemon died under that many times in a row is not run again. */
static void running_at_third_crash(JobSpec *spec, JobRun *run) {
        running_at_crash(spec, run);
        run->nodes[0].crash_reruns = 3;
}

static void test_recover_rerun_cap(void **state) {
        TestHost *h = *state;
        Job *j;

        j = add_job(h, "{\"nodes\": {\"a\": {\"cmd\": [\"/bin/true\"]}}}", running_at_third_crash);
        assert_int_equal(node_state(j, "a"), NODE_FAILED);
        assert_string_equal(node_reason(j, "a"), "interrupted");
        run_to_settled(h, j);
        assert_int_equal(h->n_spawned, 0);
}

/* A retry_wait node gets its timer back; the wait already over runs at once. */
static void waiting_at_crash(JobSpec *spec, JobRun *run) {
        run->state = JOB_RUNNING;
        run->started_at = now_realtime_usec();
        run->nodes[0].state = NODE_RETRY_WAIT;
        run->nodes[0].attempt = 1;
        run->nodes[0].retry_at = run->started_at;
}

static void test_recover_retry_wait(void **state) {
        TestHost *h = *state;
        Job *j;

        j = add_job(h, "{\"nodes\": {\"a\": {\"cmd\": [\"/bin/true\"], \"retry\": {\"attempts\": 2}}}}",
                    waiting_at_crash);
        assert_int_equal(node_state(j, "a"), NODE_RETRY_WAIT);
        run_to_settled(h, j);
        assert_int_equal(node_state(j, "a"), NODE_SUCCEEDED);
        assert_int_equal(node(j, "a")->attempt, 2);
}

/* The process a dead orchd left running is killed (identified by pid and start time) before the rerun. */
static pid_t orphan_pid;
static uint64_t orphan_start;

static void running_orphan(JobSpec *spec, JobRun *run) {
        running_at_crash(spec, run);
        run->nodes[0].pid = orphan_pid;
        run->nodes[0].pid_start = orphan_start;
}

static void test_recover_kills_orphan(void **state) {
        TestHost *h = *state;
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + DEADLINE_USEC;
        int status, ready[2];
        pid_t r;
        char c;
        Job *j;

        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        orphan_pid = fork();
        assert_true(orphan_pid >= 0);
        if (orphan_pid == 0) {
                (void) setsid(); /* a group of its own, as supervise.c gives every node */
                (void) write(ready[1], "x", 1);
                for (;;)
                        pause();
        }
        close(ready[1]);
        assert_int_equal(read(ready[0], &c, 1), 1); /* its group exists now */
        close(ready[0]);
        assert_int_equal(proc_start_time(orphan_pid, &orphan_start), 0);
        j = add_job(h, "{\"nodes\": {\"a\": {\"cmd\": [\"/bin/true\"]}}}", running_orphan);
        /* Killed during job_activate() already; bounded, so a regression fails instead of hanging. */
        while ((r = waitpid(orphan_pid, &status, WNOHANG)) == 0) {
                if (now_usec(CLOCK_MONOTONIC) > deadline) {
                        (void) kill(orphan_pid, SIGKILL);
                        fail_msg("the orphan was not killed");
                }
                host_iterate(h);
        }
        assert_int_equal(r, orphan_pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);
        run_to_settled(h, j);
        assert_int_equal(node(j, "a")->attempt, 2);
}

/* ---- cancel, fail_fast, job timeout ---------------------------------------------------------------- */

static void test_cancel(void **state) {
        TestHost *h = *state;
        char json[1024];
        Job *j;

        snprintf(json, sizeof(json), "{\"nodes\": {\"a\": {%s}, \"b\": {%s, \"after\": [\"a\"]}}}",
                 gated(h, "a", 0), gated(h, "b", 0));
        j = add_job(h, json, NULL);
        RUN_UNTIL(h, node(j, "a")->pid > 0);
        assert_int_equal(job_cancel(j, NULL, 0), 0);
        assert_int_equal(node_state(j, "b"), NODE_CANCELLED); /* pending: at once */
        run_to_settled(h, j);
        assert_int_equal(node_state(j, "a"), NODE_CANCELLED); /* running: TERM, then its end */
        assert_string_equal(node_reason(j, "a"), "cancelled");
        assert_int_equal(j->run->state, JOB_CANCELLED);
        assert_true(j->run->cancel_requested);
}

static void test_fail_fast(void **state) {
        TestHost *h = *state;
        char json[1024];
        Job *j;

        snprintf(json, sizeof(json),
                 "{\"fail_fast\": true, \"nodes\": {\"slow\": {%s}, \"bad\": {\"cmd\": [\"/bin/false\"]},"
                 "\"later\": {\"cmd\": [\"/bin/true\"], \"after\": [\"slow\"]}}}",
                 gated(h, "slow", 0));
        j = add_job(h, json, NULL);
        run_to_settled(h, j); /* slow is never released: fail_fast stops it */
        assert_int_equal(j->run->state, JOB_FAILED);
        assert_int_equal(node_state(j, "bad"), NODE_FAILED);
        assert_int_equal(node_state(j, "slow"), NODE_CANCELLED);
        assert_string_equal(node_reason(j, "slow"), "fail_fast");
        assert_int_equal(node_state(j, "later"), NODE_SKIPPED);
}

static void test_job_timeout(void **state) {
        TestHost *h = *state;
        char json[1024];
        Job *j;

        snprintf(json, sizeof(json),
                 "{\"timeout\": 0.2, \"nodes\": {\"a\": {%s}, \"b\": {%s, \"after\": [\"a\"]}}}",
                 gated(h, "a", 0), gated(h, "b", 0));
        j = add_job(h, json, NULL);
        run_to_settled(h, j); /* a is never released: the job's timeout stops it */
        assert_int_equal(j->run->state, JOB_FAILED);
        assert_int_equal(node_state(j, "a"), NODE_CANCELLED);
        assert_string_equal(node_reason(j, "a"), "job_timeout");
        assert_int_equal(node_state(j, "b"), NODE_CANCELLED);
        assert_true(j->run->finished_at >= j->run->started_at + 200 * USEC_PER_MSEC);
}

/* ---- limits, pause, shutdown, manual retry ------------------------------------------------------- */

static void test_max_parallel_and_pause(void **state) {
        TestHost *h = *state;
        const char *first, *second;
        char json[1024];
        Job *j;

        snprintf(json, sizeof(json), "{\"max_parallel\": 1, \"nodes\": {\"a\": {%s}, \"b\": {%s}}}",
                 gated(h, "a", 0), gated(h, "b", 0));
        j = add_job(h, json, NULL);
        RUN_UNTIL(h, h->n_spawned == 1);
        assert_int_equal(job_pause(j), 1);
        first = node(j, "a")->pid > 0 ? "a" : "b";
        second = first[0] == 'a' ? "b" : "a";
        release(h, first);
        RUN_UNTIL(h, h->n_running == 0);
        for (unsigned k = 0; k < 10; k++)
                host_iterate(h);
        assert_int_equal(h->n_spawned, 1); /* paused: the other node does not start */
        assert_int_equal(job_resume(j), 1);
        RUN_UNTIL(h, h->n_spawned == 2);
        release(h, second);
        run_to_settled(h, j);
        assert_int_equal(h->max_running_seen, 1);
        assert_int_equal(j->run->state, JOB_SUCCEEDED);
}

static void test_shutdown_interrupts(void **state) {
        TestHost *h = *state;
        char json[1024];
        Job *j;

        snprintf(json, sizeof(json), "{\"nodes\": {\"a\": {%s}}}", gated(h, "a", 0));
        j = add_job(h, json, NULL);
        RUN_UNTIL(h, node(j, "a")->pid > 0);
        h->stopping = true;
        job_shutdown(j);
        RUN_UNTIL(h, h->n_running == 0 && job_is_clean(j));
        assert_int_equal(node_state(j, "a"), NODE_PENDING); /* on_interrupt=rerun: runs again next start */
        assert_int_equal(node(j, "a")->interrupted, 1);
        assert_false(job_is_finished(j));
}

static void test_manual_retry(void **state) {
        TestHost *h = *state;
        uint32_t *nodes = NULL;
        uint64_t holder = 0;
        size_t n = 0;
        Job *j;

        j = add_job(h,
                    "{\"key\": \"k\", \"nodes\": {\"a\": {\"cmd\": [\"/bin/sh\", \"-c\", \"test $ORCH_ATTEMPT = 2\"]},"
                    "\"b\": {\"cmd\": [\"/bin/true\"], \"after\": [\"a\"]}}}",
                    NULL);
        run_to_settled(h, j);
        assert_int_equal(node_state(j, "b"), NODE_SKIPPED);
        h->key_holder = 42; /* another unfinished job holds the key */
        assert_int_equal(job_retry(j, NULL, 0, &nodes, &n, &holder), -EADDRINUSE);
        assert_int_equal(holder, 42);
        h->key_holder = 0;
        assert_int_equal(job_retry(j, NULL, 0, &nodes, &n, &holder), 0);
        assert_int_equal(n, 2);
        assert_int_equal(h->n_retried, 1);
        free(nodes);
        run_to_settled(h, j);
        assert_int_equal(j->run->state, JOB_SUCCEEDED);
        assert_int_equal(node(j, "a")->attempt, 2);
        assert_int_equal(h->n_settled, 2);
}

/* ---- observers ----------------------------------------------------------------------------------- */

static unsigned n_output;

static void count_output(Job *j, uint32_t node, void *userdata) {
        n_output++;
}

static const JobObserverOps output_ops = { .output = count_output };

static void obs_remove_in_end(Job *j, void *userdata);
static const JobObserverOps removing_ops = { .end = obs_remove_in_end };
static void obs_remove_in_end(Job *j, void *userdata) {
        job_remove_observer(j, &removing_ops, userdata); /* from within its own callback */
        *(unsigned *) userdata += 1;
}

static void test_observers(void **state) {
        TestHost *h = *state;
        unsigned removed = 0;
        Job *j;

        j = add_job(h, "{\"nodes\": {\"a\": {\"cmd\": [\"/bin/sh\", \"-c\", \"echo hello\"]}}}", NULL);
        n_output = 0;
        assert_int_equal(job_add_observer(j, &output_ops, NULL), 0);
        assert_int_equal(job_add_observer(j, &removing_ops, &removed), 0);
        assert_ptr_equal(job_find_observer(j, &removing_ops), &removed);
        run_to_settled(h, j);
        assert_int_equal(removed, 1);
        assert_null(job_find_observer(j, &removing_ops));
        assert_true(n_output >= 1);
        job_remove_observer(j, &output_ops, NULL);
        assert_null(job_find_observer(j, &output_ops));
        /* The test observer stays until the job is freed: it hears detach then. */
        h->n_jobs = 0;
        job_free(j);
        assert_string_equal(h->events, "end(succeeded) detach ");
}

/* ---- illegal transitions --------------------------------------------------------------------------- */

/* Every transition goes through node_run_set_state()/job_run_set_state(), which abort on an illegal one
 * (also in an NDEBUG build). Here a bug is simulated: node b is marked succeeded behind the state machine's
 * back while the DAG still has it pending, and cancelling the job then tries succeeded -> cancelled. The
 * same cancel without the corruption returns normally. Run in forked children (no threads: the committer's
 * lives in the parent; nothing in this path touches it). */
static int cancel_in_child(Job *j, bool corrupt) {
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                if (corrupt)
                        j->run->nodes[node_index(j, "b")].state = NODE_SUCCEEDED;
                (void) job_cancel(j, NULL, 0);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return status;
}

static void test_illegal_transition_aborts(void **state) {
        TestHost *h = *state;
        int status;
        Job *j;

        j = add_job(h, "{\"nodes\": {\"a\": {\"cmd\": [\"/bin/true\"]}, \"b\": {\"cmd\": [\"/bin/true\"]}}}",
                    NULL);
        assert_int_equal(job_pause(j), 1); /* nothing runs: the children's cancel signals no process */
        status = cancel_in_child(j, false);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        status = cancel_in_child(j, true);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
                cmocka_unit_test_setup_teardown(test_triggers_success, setup, teardown),
                cmocka_unit_test_setup_teardown(test_triggers_failure, setup, teardown),
                cmocka_unit_test_setup_teardown(test_retry_backoff, setup, teardown),
                cmocka_unit_test_setup_teardown(test_retry_not_on_exit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_barrier_completion, setup, teardown),
                cmocka_unit_test_setup_teardown(test_barrier_spawn, setup, teardown),
                cmocka_unit_test_setup_teardown(test_barrier_end, setup, teardown),
                cmocka_unit_test_setup_teardown(test_recover_rerun, setup, teardown),
                cmocka_unit_test_setup_teardown(test_recover_fail, setup, teardown),
                cmocka_unit_test_setup_teardown(test_recover_rerun_cap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_recover_retry_wait, setup, teardown),
                cmocka_unit_test_setup_teardown(test_recover_kills_orphan, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fail_fast, setup, teardown),
                cmocka_unit_test_setup_teardown(test_job_timeout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_max_parallel_and_pause, setup, teardown),
                cmocka_unit_test_setup_teardown(test_shutdown_interrupts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_manual_retry, setup, teardown),
                cmocka_unit_test_setup_teardown(test_observers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_illegal_transition_aborts, setup, teardown),
        };

        sigset_t mask;

        /* As in the daemon: sd-event child sources require SIGCHLD blocked. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return 1;
        (void) signal(SIGPIPE, SIG_IGN);
        (void) umask(TASK_DEFAULT_UMASK);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
