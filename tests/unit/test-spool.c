/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for the spool's intake (spool*.c, SPEC §2) against a real spool directory in a temporary
 * directory, a real sd-event loop, the real job reader thread and the real committer; no Manager: the
 * test is the spool's owner through its callbacks (accepted job, key holder, owner and per-user checks,
 * on_fatal). A file renamed into new/ is claimed, read, validated, and then either accepted (jobs/ID
 * once durable, new/ empty) or rejected and kept (rejected/UID/NAME.json with NAME.json.error beside it).
 */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "committer.h"
#include "fsutil.h"
#include "jobprep.h"
#include "macro.h"
#include "spool.h"
#include "state.h"
#include "time-util.h"
#include "run-until.h"

#define GOOD_JOB "{ \"name\": \"good\", \"nodes\": { \"a\": { \"cmd\": [\"/bin/true\"] } } }\n"

/* What the spool told its owner. */
typedef struct Owner {
        unsigned n_accepted;
        uint64_t last_id;
        char last_name[64];
        uint64_t key_holder;    /* what key_in_use answers */
        const char *refuse_why; /* may_run refuses with this (NULL: allows) */
        const char *admit_why;  /* admit refuses with this (NULL: admits) */
        unsigned n_fatal;
        uint64_t durable; /* the committer's last durable generation */
        int submit_r;     /* the last spool_submit() outcome */
        uint64_t submit_id;
        bool submit_done;
        char submit_error_path[64];
} Owner;

static Owner own;

typedef struct Fixture {
        char dir[64];
        sd_event *e;
        Committer *c;
        Spool *s;
} Fixture;

static void on_job(Spool *s, JobSpec *spec, JobRun *run, JobPrep *prep, int dir_fd, void *userdata) {
        own.n_accepted++;
        own.last_id = run->id;
        snprintf(own.last_name, sizeof(own.last_name), "%s", spec->name);
        jobspec_free(spec);
        job_run_free(run);
        jobprep_free(prep);
        safe_close(dir_fd);
}

static uint64_t key_in_use(const char *key, uid_t uid, void *userdata) {
        return own.key_holder;
}

static int may_run(uid_t uid, char **ret_why, void *userdata) {
        if (!own.refuse_why)
                return 0;
        *ret_why = strdup(own.refuse_why);
        return *ret_why ? -EPERM : -ENOMEM;
}

static int admit(uid_t uid, uint64_t bytes, uint64_t nodes, char **ret_why, void *userdata) {
        if (!own.admit_why)
                return 0;
        *ret_why = strdup(own.admit_why);
        return *ret_why ? -EDQUOT : -ENOMEM;
}

static void on_fatal(int error, const char *what, void *userdata) {
        own.n_fatal++;
}

static void on_durable(Committer *c, uint64_t gen, void *userdata) {
        own.durable = gen;
}

static void on_commit_error(Committer *c, int error, const char *what, void *userdata) {
        fail_msg("the committer failed writing %s: %s", what, strerror(-error));
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        SpoolConfig sc;

        assert_non_null(f);
        own = (Owner){};
        snprintf(f->dir, sizeof(f->dir), "/tmp/test-spool.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        assert_int_equal(sd_event_new(&f->e), 0);
        assert_int_equal(committer_new(f->e, on_durable, on_commit_error, NULL, &f->c), 0);
        sc = (SpoolConfig){ .path = f->dir,
                            .committer = f->c,
                            .key_in_use = key_in_use,
                            .may_run = may_run,
                            .drop_gid = (gid_t) -1,
                            .admit = admit,
                            .on_fatal = on_fatal };
        jobspec_limits_init(&sc.limits);
        assert_int_equal(spool_new(f->e, &sc, on_job, NULL, &f->s), 0);
        assert_int_equal(spool_start(f->s), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        spool_free(f->s);
        committer_free(f->c);
        sd_event_unref(f->e);
        (void) rm_rf_at(AT_FDCWD, f->dir);
        free(f);
        return 0;
}

/* Drop a job file as producers do (SPEC §2): write it into tmp/, then rename it into new/. */
static void drop(Fixture *f, const char *name, const char *content) {
        char tmp[128], dst[128];
        int fd;

        snprintf(tmp, sizeof(tmp), "%s/tmp/%s", f->dir, name);
        snprintf(dst, sizeof(dst), "%s/new/%s", f->dir, name);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, strlen(content)), (ssize_t) strlen(content));
        assert_int_equal(close(fd), 0);
        assert_int_equal(rename(tmp, dst), 0);
}

static bool exists(const Fixture *f, const char *format, ...) _printf_(2, 3);
static bool exists(const Fixture *f, const char *format, ...) {
        char rel[128], path[256];
        va_list ap;

        va_start(ap, format);
        vsnprintf(rel, sizeof(rel), format, ap);
        va_end(ap);
        snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
        return access(path, F_OK) == 0;
}

/* The text of rejected/UID/NAME.error (our uid: the owner of what the test drops). */
static char *error_text(const Fixture *f, const char *name) {
        char path[256];
        char *text = NULL;
        size_t size;

        snprintf(path, sizeof(path), "%s/rejected/%u/%s.error", f->dir, (unsigned) geteuid(), name);
        assert_int_equal(read_file_at(AT_FDCWD, path, 1024 * 1024, &text, &size), 0);
        return text;
}

static uint64_t n_rejected(const Fixture *f) {
        uint64_t a, r;

        spool_stats(f->s, &a, &r);
        return r;
}

/* A valid file is claimed from new/, accepted as job 1, handed to the owner, and durable in jobs/1. */
static void test_accept(void **state) {
        Fixture *f = *state;
        uint64_t gen;

        drop(f, "good.json", GOOD_JOB);
        RUN_UNTIL(f->e, own.n_accepted == 1);
        assert_int_equal(own.last_id, 1);
        assert_string_equal(own.last_name, "good");
        assert_false(exists(f, "new/good.json"));
        /* The acceptance is the rename jobs/.#1 -> jobs/1, made by the committer once it is durable. */
        gen = committer_seal(f->c);
        RUN_UNTIL(f->e, own.durable >= gen);
        assert_true(exists(f, "jobs/1/job.json"));
        assert_true(exists(f, "jobs/1/state.json"));
        assert_false(exists(f, "jobs/.#1"));
        assert_int_equal(spool_next_id(f->s), 2);
        assert_int_equal(n_rejected(f), 0);
        assert_int_equal(own.n_fatal, 0);
}

/* An invalid file is rejected and kept for its owner, with an error naming the problem. */
static void test_reject_invalid(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *text = NULL;

        drop(f, "bad.json", "{ \"nodes\": { \"a\": { \"cmd\": [\"/bin/true\"] }, } }\n");
        RUN_UNTIL(f->e, n_rejected(f) == 1);
        assert_false(exists(f, "new/bad.json"));
        assert_true(exists(f, "rejected/%u/bad.json", (unsigned) geteuid()));
        assert_true(exists(f, "rejected/%u/bad.json.error.json", (unsigned) geteuid()));
        text = error_text(f, "bad.json");
        assert_non_null(strstr(text, "bad.json:1:"));
        assert_non_null(strstr(text, "trailing comma"));
        assert_int_equal(own.n_accepted, 0);
}

/* A file whose key an unfinished job holds is rejected, naming that job. */
static void test_reject_key(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *text = NULL;

        own.key_holder = 7;
        drop(f, "keyed.json", "{ \"key\": \"k1\", \"nodes\": { \"a\": { \"cmd\": [\"/bin/true\"] } } }\n");
        RUN_UNTIL(f->e, n_rejected(f) == 1);
        text = error_text(f, "keyed.json");
        assert_non_null(strstr(text, "\"k1\" is the key of job 7"));
        assert_int_equal(own.n_accepted, 0);
}

/* The owner's policy (may_run) and the per-user caps (admit) reject with the reason they give. */
static void test_reject_owner_and_caps(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *t1 = NULL, *t2 = NULL;

        own.refuse_why = "is not allowed here by the test";
        drop(f, "denied.json", GOOD_JOB);
        RUN_UNTIL(f->e, n_rejected(f) == 1);
        t1 = error_text(f, "denied.json");
        assert_non_null(strstr(t1, "is not allowed here by the test"));

        own.refuse_why = NULL;
        own.admit_why = "user test has 3 jobs; wait for some to finish";
        drop(f, "capped.json", GOOD_JOB);
        RUN_UNTIL(f->e, n_rejected(f) == 2);
        t2 = error_text(f, "capped.json");
        assert_non_null(strstr(t2, "wait for some to finish"));
        assert_int_equal(own.n_accepted, 0);
}

/* Files are taken in the order they came, and each gets the next id. */
static void test_ids_in_order(void **state) {
        Fixture *f = *state;
        uint64_t gen;

        drop(f, "one.json", GOOD_JOB);
        RUN_UNTIL(f->e, own.n_accepted == 1);
        drop(f, "two.json", GOOD_JOB);
        RUN_UNTIL(f->e, own.n_accepted == 2);
        assert_int_equal(own.last_id, 2);
        gen = committer_seal(f->c);
        RUN_UNTIL(f->e, own.durable >= gen);
        assert_true(exists(f, "jobs/1/job.json"));
        assert_true(exists(f, "jobs/2/job.json"));
}

/* A small file is read and parsed on the loop when the reader has nothing queued; with a big one ahead
 * of it (read on the worker thread) it waits its turn: the ids still follow the order the files came in. */
static void test_small_behind_big(void **state) {
        Fixture *f = *state;
        char *big = malloc(64 * 1024);

        assert_non_null(big);
        memset(big, ' ', 63 * 1024); /* whitespace: valid JSON, and well over what is parsed inline */
        strcpy(big + 63 * 1024, "{ \"nodes\": { \"a\": { \"cmd\": [\"/bin/true\"] } } }\n");
        drop(f, "big.json", big);
        drop(f, "small.json", "{ \"nodes\": { \"a\": { \"cmd\": [\"/bin/true\"] } } }\n");
        free(big);
        RUN_UNTIL(f->e, own.n_accepted == 2);
        assert_int_equal(own.last_id, 2);
        assert_string_equal(own.last_name, "small");
        drop(f, "alone.json", GOOD_JOB); /* nothing queued: taken on the loop, next in line all the same */
        RUN_UNTIL(f->e, own.n_accepted == 3);
        assert_int_equal(own.last_id, 3);
        assert_int_equal(n_rejected(f), 0);
}

/* What is not a regular file is removed (not kept), with an error record for its owner. */
static void test_reject_directory(void **state) {
        Fixture *f = *state;
        char tmp[128], dst[128];

        snprintf(tmp, sizeof(tmp), "%s/tmp/dir.json", f->dir);
        snprintf(dst, sizeof(dst), "%s/new/dir.json", f->dir);
        assert_int_equal(mkdir(tmp, 0755), 0);
        assert_int_equal(rename(tmp, dst), 0);
        RUN_UNTIL(f->e, n_rejected(f) == 1);
        assert_false(exists(f, "new/dir.json"));
        assert_false(exists(f, "rejected/%u/dir.json", (unsigned) geteuid()));
        assert_true(exists(f, "rejected/%u/dir.json.error.json", (unsigned) geteuid()));
}

static void on_submitted(int r, uint64_t id, const JobErrors *errors, void *userdata) {
        own.submit_done = true;
        own.submit_r = r;
        own.submit_id = id;
        if (errors && errors->n_errors > 0)
                snprintf(own.submit_error_path, sizeof(own.submit_error_path), "%s", errors->errors[0].path);
}

/* Submit: the same validation and acceptance without a file in new/; an invalid one goes back to the
 * caller, not to rejected/. */
static void test_submit(void **state) {
        Fixture *f = *state;
        const char *bad = "{ \"nodes\": 3 }\n";

        assert_int_equal(spool_submit(f->s, "sub.json", GOOD_JOB, strlen(GOOD_JOB), geteuid(), getegid(),
                                      on_submitted, NULL, NULL),
                         0);
        RUN_UNTIL(f->e, own.submit_done);
        assert_int_equal(own.submit_r, 0);
        assert_int_equal(own.submit_id, 1);
        assert_int_equal(own.n_accepted, 1);

        own.submit_done = false;
        assert_int_equal(spool_submit(f->s, "bad.json", bad, strlen(bad), geteuid(), getegid(), on_submitted,
                                      NULL, NULL),
                         0);
        RUN_UNTIL(f->e, own.submit_done);
        assert_int_equal(own.submit_r, -EINVAL);
        assert_string_equal(own.submit_error_path, "nodes");
        assert_int_equal(n_rejected(f), 0);
        assert_false(exists(f, "rejected/%u/bad.json", (unsigned) geteuid()));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_accept, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reject_invalid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reject_key, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reject_owner_and_caps, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ids_in_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_small_behind_big, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reject_directory, setup, teardown),
                cmocka_unit_test_setup_teardown(test_submit, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
