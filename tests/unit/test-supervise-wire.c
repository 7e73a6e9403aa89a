/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for supervise-wire.c: TaskParams (with and without cred) and TaskResult round-trip field by
 * field (a field added to supervise.h and forgotten in an encoder shows up here as a mismatch, once it is
 * added to the samples); every truncation and every one-byte corruption of an encoded START body is refused
 * or decodes to something task_spawn() can take; shapes task_spawn() relies on are enforced (argv non-empty,
 * a log name, umask ≤ 0777, a bounded record prefix, an end, exit code and signal in range).
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "exec-proto.h"
#include "macro.h"
#include "resources.h"
#include "spawnrec.h"
#include "supervise-wire.h"

static char *const ARGV[] = { (char *) "/bin/echo", (char *) "hello world", (char *) "", NULL };
static char *const ENV[] = { (char *) "PATH=/usr/bin:/bin", (char *) "ORCH_JOB=12", NULL };
static const TaskCred CRED = { .uid = 1234, .user = "alice" };

static TaskParams sample_params(bool cred) {
        return (TaskParams){
                .argv = ARGV,
                .env = ENV,
                .cwd = cred ? "/home/alice" : NULL,
                .log_dir_fd = 17,
                .log_name = "build%x.2.log",
                .log_max_bytes = UINT64_C(1) << 40,
                .log_min_free = 12345,
                .log_min_inodes = 67,
                .timeout_usec = 5 * USEC_PER_SEC,
                .kill_grace_usec = 250 * USEC_PER_MSEC,
                .cred = cred ? &CRED : NULL,
                .umask = cred ? 0077 : TASK_DEFAULT_UMASK,
                .helper = "/usr/libexec/orchd/orchd-exec",
                .pam_confdir = cred ? "/tmp/pam" : NULL,
                .record_prefix = "3 2 ",
                .record_fd = 18,
                .journal_node = "build/x",
                .journal_job = 99,
                .journal_attempt = 2,
                .merge_output = !cred,
                .cgroup_fd = cred ? 19 : -EBADF,
                .cgroup_controllers = cred ? RESOURCES_MEMORY | RESOURCES_PIDS : 0,
        };
}

static void encode_params(KeeperWriter *w, const TaskParams *p) {
        keeper_writer_init_body(w, KEEPER_MEMFD_MAX);
        task_params_encode(w, p);
        assert_int_equal(w->error, 0);
}

static void assert_str_or_null_equal(const char *a, const char *b) {
        if (!a || !b)
                assert_ptr_equal(a, b);
        else
                assert_string_equal(a, b);
}

static void check_params(const TaskParams *a, const TaskParams *b) {
        for (size_t i = 0; a->argv[i] || b->argv[i]; i++)
                assert_string_equal(a->argv[i], b->argv[i]);
        for (size_t i = 0; a->env[i] || b->env[i]; i++)
                assert_string_equal(a->env[i], b->env[i]);
        assert_str_or_null_equal(a->cwd, b->cwd);
        assert_string_equal(a->log_name, b->log_name);
        assert_true(a->log_max_bytes == b->log_max_bytes);
        assert_true(a->log_min_free == b->log_min_free);
        assert_true(a->log_min_inodes == b->log_min_inodes);
        assert_true(a->timeout_usec == b->timeout_usec);
        assert_true(a->kill_grace_usec == b->kill_grace_usec);
        assert_int_equal(!!a->cred, !!b->cred);
        if (a->cred) {
                assert_int_equal(a->cred->uid, b->cred->uid);
                assert_string_equal(a->cred->user, b->cred->user);
        }
        assert_int_equal(a->umask, b->umask);
        assert_str_or_null_equal(a->pam_confdir, b->pam_confdir);
        assert_str_or_null_equal(a->record_prefix, b->record_prefix);
        assert_str_or_null_equal(a->journal_node, b->journal_node);
        assert_true(a->journal_job == b->journal_job);
        assert_int_equal(a->journal_attempt, b->journal_attempt);
        assert_int_equal(a->merge_output, b->merge_output);
}

/* Whether the decoded params expect a cgroup fd beside the message. */
static void check_params_cgroup(const TaskParams *a, const TaskParamsWire *d) {
        assert_int_equal(a->cgroup_fd > 2, d->cgroup);
        assert_int_equal(d->params.cgroup_fd, -EBADF); /* the fd itself rides with SCM_RIGHTS */
        assert_int_equal(d->params.cgroup_controllers, a->cgroup_controllers);
}

static void test_params_roundtrip(void **state) {
        for (int cred = 0; cred <= 1; cred++) {
                TaskParams p = sample_params(cred);
                TaskParamsWire d;
                KeeperWriter w;
                KeeperReader r;

                encode_params(&w, &p);
                keeper_reader_init_body(&r, w.buf, w.len);
                assert_int_equal(task_params_decode(&r, &d), 0);
                assert_int_equal(keeper_reader_finish(&r), 0);
                check_params(&p, &d.params);
                check_params_cgroup(&p, &d);
                /* What does not travel. */
                assert_int_equal(d.params.log_dir_fd, -EBADF);
                assert_int_equal(d.params.record_fd, -EBADF);
                assert_null(d.params.helper);
                assert_null(d.params.output_cb);
                if (cred)
                        assert_ptr_equal(d.params.cred, &d.cred);
                task_params_wire_done(&d);
                keeper_writer_done(&w);
        }
}

static void test_params_truncated(void **state) {
        TaskParams p = sample_params(true);
        KeeperWriter w;

        encode_params(&w, &p);
        for (size_t n = 0; n < w.len; n++) {
                TaskParamsWire d;
                KeeperReader r;

                keeper_reader_init_body(&r, w.buf, n);
                assert_true(task_params_decode(&r, &d) < 0 || keeper_reader_finish(&r) < 0);
                task_params_wire_done(&d);
        }
        keeper_writer_done(&w);
}

/* Each byte of the body XORed with a few patterns: never a crash (ASan builds check the reads), and what
 * decodes has the shape task_spawn() relies on. */
static void test_params_corrupted(void **state) {
        static const uint8_t patterns[] = { 0x01, 0x80, 0xff };
        TaskParams p = sample_params(true);
        KeeperWriter w;

        encode_params(&w, &p);
        for (size_t i = 0; i < w.len; i++)
                for (size_t k = 0; k < ELEMENTSOF(patterns); k++) {
                        TaskParamsWire d;
                        KeeperReader r;

                        w.buf[i] ^= patterns[k];
                        keeper_reader_init_body(&r, w.buf, w.len);
                        if (task_params_decode(&r, &d) >= 0) {
                                assert_non_null(d.params.argv[0]);
                                assert_non_null(d.params.log_name);
                                assert_true(d.params.umask <= 0777);
                                assert_true(!d.params.cred || d.params.cred->user);
                        }
                        task_params_wire_done(&d);
                        w.buf[i] ^= patterns[k];
                }
        keeper_writer_done(&w);
}

/* Decode p encoded: the decoder's verdict. */
static int params_verdict(const TaskParams *p) {
        TaskParamsWire d;
        KeeperWriter w;
        KeeperReader r;
        int k;

        encode_params(&w, p);
        keeper_reader_init_body(&r, w.buf, w.len);
        k = task_params_decode(&r, &d);
        task_params_wire_done(&d);
        keeper_writer_done(&w);
        return k;
}

static void test_params_shape(void **state) {
        char *const no_argv[] = { NULL };
        char prefix[SPAWN_PREFIX_MAX + 2];
        TaskParams p;

        p = sample_params(false);
        p.argv = no_argv;
        assert_int_equal(params_verdict(&p), -EBADMSG);
        p = sample_params(false);
        p.log_name = NULL;
        assert_int_equal(params_verdict(&p), -EBADMSG);
        p = sample_params(false);
        p.umask = 01000;
        assert_int_equal(params_verdict(&p), -EBADMSG);
        memset(prefix, '1', sizeof(prefix) - 1);
        prefix[sizeof(prefix) - 1] = '\0';
        p = sample_params(false);
        p.record_prefix = prefix;
        assert_int_equal(params_verdict(&p), -EBADMSG);
        prefix[SPAWN_PREFIX_MAX] = '\0';
        assert_int_equal(params_verdict(&p), 0);
        p.record_prefix = NULL;
        assert_int_equal(params_verdict(&p), 0);
}

static int result_roundtrip(const TaskResult *res, TaskResult *ret) {
        KeeperWriter w;
        KeeperReader r;
        int k;

        keeper_writer_init_body(&w, KEEPER_MSG_MAX);
        task_result_encode(&w, res);
        assert_int_equal(w.error, 0);
        keeper_reader_init_body(&r, w.buf, w.len);
        k = task_result_decode(&r, ret);
        if (k >= 0)
                k = keeper_reader_finish(&r);
        for (size_t n = 0; n < w.len; n++) { /* and every truncation fails */
                TaskResult t;

                keeper_reader_init_body(&r, w.buf, n);
                assert_true(task_result_decode(&r, &t) < 0);
        }
        keeper_writer_done(&w);
        return k;
}

static void check_result(const TaskResult *a, const TaskResult *b) {
        assert_int_equal(a->end, b->end);
        assert_int_equal(a->exit_code, b->exit_code);
        assert_int_equal(a->signal, b->signal);
        assert_int_equal(a->timed_out, b->timed_out);
        assert_int_equal(a->stopped, b->stopped);
        assert_true(a->log_dropped == b->log_dropped);
        assert_true(a->started_at == b->started_at);
        assert_true(a->finished_at == b->finished_at);
        assert_int_equal(a->start_error, b->start_error);
        assert_int_equal(a->start_account, b->start_account);
        assert_int_equal(a->start_cwd, b->start_cwd);
        assert_true(a->cpu_usec == b->cpu_usec);
        assert_true(a->cpu_user_usec == b->cpu_user_usec);
        assert_true(a->cpu_system_usec == b->cpu_system_usec);
        assert_true(a->memory_peak == b->memory_peak);
        assert_true(a->pids_peak == b->pids_peak);
        assert_true(a->io_read_bytes == b->io_read_bytes);
        assert_true(a->io_write_bytes == b->io_write_bytes);
        assert_true(a->oom_kills == b->oom_kills);
}

/* The accounting of a node that ran in a cgroup (each figure distinct, so a swap shows). */
#define SAMPLE_ACCOUNTING                                                                                 \
        .cpu_usec = 512345, .cpu_user_usec = 500001, .cpu_system_usec = 12344,                            \
        .memory_peak = UINT64_C(1) << 33, .pids_peak = 17, .io_read_bytes = 4096, .io_write_bytes = 8192, \
        .oom_kills = 1
/* No cgroup: every figure unknown. */
#define NO_ACCOUNTING                                                                       \
        .cpu_usec = UINT64_MAX, .cpu_user_usec = UINT64_MAX, .cpu_system_usec = UINT64_MAX, \
        .memory_peak = UINT64_MAX, .pids_peak = UINT64_MAX, .io_read_bytes = UINT64_MAX,    \
        .io_write_bytes = UINT64_MAX, .oom_kills = UINT64_MAX

static void test_result(void **state) {
        const TaskResult samples[] = {
                { .end = TASK_EXITED,
                  .exit_code = 3,
                  .log_dropped = 10,
                  .started_at = 1,
                  .finished_at = 2,
                  SAMPLE_ACCOUNTING },
                { .end = TASK_SIGNALED, .signal = 9, .timed_out = true, .stopped = true, NO_ACCOUNTING },
                { .end = TASK_EXITED,
                  .exit_code = 127,
                  .start_error = -EKEYREJECTED,
                  .start_account = EXEC_ACCOUNT_LOCKED },
                { .end = TASK_EXITED, .exit_code = 127, .start_error = -ENOENT, .start_cwd = true },
        };
        TaskResult bad, got;

        for (size_t i = 0; i < ELEMENTSOF(samples); i++) {
                assert_int_equal(result_roundtrip(&samples[i], &got), 0);
                check_result(&got, &samples[i]);
        }
        bad = samples[0];
        bad.exit_code = 256;
        assert_int_equal(result_roundtrip(&bad, &got), -EBADMSG);
        bad = samples[1];
        bad.signal = 65;
        assert_int_equal(result_roundtrip(&bad, &got), -EBADMSG);
        bad = samples[2];
        bad.start_account = _EXEC_ACCOUNT_MAX;
        assert_int_equal(result_roundtrip(&bad, &got), -EBADMSG);
        bad = samples[0];
        bad.end = (TaskEnd) 7;
        assert_int_equal(result_roundtrip(&bad, &got), -EBADMSG);
        bad = samples[3];
        bad.start_error = EPERM;
        assert_int_equal(result_roundtrip(&bad, &got), -EBADMSG);
}

/* The ends file's line: round trip, and torn or foreign lines refused. */
static void test_end_line(void **state) {
        const TaskResult res = { .end = TASK_SIGNALED,
                                 .signal = 15,
                                 .timed_out = true,
                                 .log_dropped = 7,
                                 .started_at = 11,
                                 .finished_at = 22,
                                 SAMPLE_ACCOUNTING };
        _cleanup_free_ char *line = task_end_format(4, 2, &res);
        TaskResult got;
        uint32_t node;
        unsigned attempt;
        size_t n;

        assert_non_null(line);
        n = strlen(line);
        assert_true(n > 0 && line[n - 1] == '\n');
        line[n - 1] = '\0';
        assert_int_equal(task_end_parse(line, &node, &attempt, &got), 0);
        assert_int_equal(node, 4);
        assert_int_equal(attempt, 2);
        check_result(&got, &res);
        /* Torn: every shorter prefix is refused (or, cut inside the base64, fails to decode). */
        for (size_t k = 0; k + 1 < n - 1; k++) {
                char copy[512];

                memcpy(copy, line, k);
                copy[k] = '\0';
                assert_true(task_end_parse(copy, &node, &attempt, &got) < 0);
        }
        assert_true(task_end_parse("4 2 not-base64!", &node, &attempt, &got) < 0);
        assert_true(task_end_parse("4 2 AAAA extra", &node, &attempt, &got) < 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_params_roundtrip), cmocka_unit_test(test_params_truncated),
                cmocka_unit_test(test_params_corrupted), cmocka_unit_test(test_params_shape),
                cmocka_unit_test(test_result),           cmocka_unit_test(test_end_line),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
