/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The test host of test-job-run.c (include after <cmocka.h>): a JobHost that does what the manager does per
 * loop iteration (offer slots, flush dirty jobs as one group commit while the committer is idle, pass
 * durable generations back) and records every callback; a way to hold the committer (a commit call that
 * blocks on a pipe); an observer that records what flushes report; FIFO gates for nodes; and a fixture
 * with a mkdtemp spool. Nothing here sleeps as a timing window: RUN_UNTIL iterates the loop until a
 * condition holds, under a generous deadline that fails the test.
 */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
        unsigned n_finished, n_settled, n_retried, n_dirty_calls;
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

static void host_finished(void *userdata, Job *j) {
        TestHost *h = userdata;

        assert_true(job_is_finished(j)); /* its final state is set when the host hears of it */
        h->n_finished++;
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
        .finished = host_finished,
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

/* Release gate NAME: once its node waits on it (a reader holds the FIFO), open it for writing, close it. */
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
