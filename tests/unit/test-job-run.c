/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for the run-time Job (job*.c) under a test host (job-run-host.h), not the manager: a real sd-event
 * loop, real children through supervise.c, and the real committer writing the job's journal into a mkdtemp
 * spool. That this links against liborch.a without manager.o is the proof that the Job no longer needs the
 * manager. Deterministic: nodes wait on FIFO gates the test releases, the committer is held by a commit that
 * blocks on a pipe, and waits are loop iterations until a condition holds, under a generous deadline.
 */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "job-run-host.h"

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
        assert_int_equal(h->n_finished, 1);
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
        j = add_job(h,
                    "{\"nodes\": {\"a\": {\"cmd\": [\"/bin/sh\", \"-c\", \"exit 7\"],"
                    "\"retry\": {\"attempts\": 3, \"delay\": 0.2, \"factor\": 3, \"jitter\": 0, "
                    "\"on_exit\": [7]}}}}",
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

/* A node with on_interrupt=fail is spawned only once its start is durable (the job's acceptance with it:
 * others start at once, spool_complete_unpublished() covering a crash before the acceptance is durable). */
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
        /* The host hears at once that it finished (it starts nothing more), before the end is durable. */
        assert_int_equal(h->n_finished, 1);
        assert_string_equal(h->events, "");
        committer_release(h);
        run_to_settled(h, j);
        assert_string_equal(h->events, "end(succeeded) ");
        assert_int_equal(h->n_finished, 1); /* once */
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

/* Recovery fails node "a" (reason interrupted) without running it; the job fails. */
static void recover_expect_interrupted(TestHost *h, const char *json, void (*init)(JobSpec *, JobRun *)) {
        Job *j = add_job(h, json, init);

        assert_int_equal(node_state(j, "a"), NODE_FAILED);
        assert_string_equal(node_reason(j, "a"), "interrupted");
        run_to_settled(h, j);
        assert_int_equal(j->run->state, JOB_FAILED);
        assert_int_equal(h->n_spawned, 0);
}

static void test_recover_fail(void **state) {
        recover_expect_interrupted(
                *state, "{\"nodes\": {\"a\": {\"cmd\": [\"/bin/true\"], \"on_interrupt\": \"fail\"}}}",
                running_at_crash);
}

/* MaxInterruptedReruns=: a node the daemon died under that many times in a row is not run again. */
static void running_at_third_crash(JobSpec *spec, JobRun *run) {
        running_at_crash(spec, run);
        run->nodes[0].crash_reruns = 3;
}

static void test_recover_rerun_cap(void **state) {
        recover_expect_interrupted(*state, "{\"nodes\": {\"a\": {\"cmd\": [\"/bin/true\"]}}}",
                                   running_at_third_crash);
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
                    "{\"key\": \"k\", \"nodes\": {"
                    "\"a\": {\"cmd\": [\"/bin/sh\", \"-c\", \"test $ORCH_ATTEMPT = 2\"]},"
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
        (void) umask(TASK_DEFAULT_UMASK);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
