/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for committer.c: a real sd-event loop and the real worker thread. Writes are calls of our own that
 * record the order they ran in and can fail on request, so the test sees exactly what the committer wrote,
 * in which order, and what it reported: a failed write stops everything after it (nothing later is made
 * durable or reported), and committer_resume() writes what was left, the failed write first, then what was
 * sealed meanwhile, and reports the newest generation durable. Journal writes name their directory and
 * are opened only when written: queueing many costs no fds (a batch of 300 jobs once hit nofile 200).
 */

#include <dirent.h>
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
#include "macro.h"
#include "time-util.h"
#include "run-until.h"

typedef struct Recorder {
        char order[64]; /* one letter per write that ran, upper case when it failed */
        size_t n;
        int fail_next[26]; /* per letter: how many times to fail with ENOSPC still */
        uint64_t durable;  /* last generation done() reported */
        int error;         /* last error on_error() reported */
} Recorder;

static Recorder rec;

typedef struct Write {
        char letter;
} Write;

/* On the committer thread; the test's loop waits meanwhile, so rec is not shared at the same time. */
static int write_fn(void *data) {
        Write *w = data;
        int *fail = &rec.fail_next[w->letter - 'a'];

        if (rec.n + 1 < sizeof(rec.order))
                rec.order[rec.n++] = *fail > 0 ? (char) (w->letter - 'a' + 'A') : w->letter;
        if (*fail > 0) {
                (*fail)--;
                return -ENOSPC;
        }
        return 0;
}

static void on_done(Committer *c, uint64_t gen, void *userdata) {
        rec.durable = gen;
}

static void on_error(Committer *c, int error, const char *what, void *userdata) {
        rec.error = error;
}

static void add(Committer *c, char letter) {
        static Write writes[26];

        writes[letter - 'a'].letter = letter;
        assert_int_equal(committer_add_call(c, write_fn, NULL, &writes[letter - 'a'], "a test write"), 0);
}

static void test_resume_after_enospc(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        Committer *c = NULL;
        uint64_t g1, g2;

        rec = (Recorder){};
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(committer_new(e, on_done, on_error, NULL, &c), 0);

        rec.fail_next['b' - 'a'] = 1;
        add(c, 'a');
        add(c, 'b');
        add(c, 'c');
        g1 = committer_seal(c);
        RUN_UNTIL(e, rec.error != 0);
        assert_int_equal(rec.error, -ENOSPC);
        assert_string_equal(rec.order, "aB"); /* c was not attempted after b failed */
        assert_int_equal(rec.durable, 0);
        assert_int_equal(committer_durable_gen(c), 0);

        /* Sealed while stopped: queued, not written. */
        add(c, 'd');
        g2 = committer_seal(c);
        assert_true(g2 > g1);
        assert_int_equal(committer_drain(c), -ENOSPC); /* a drain does not wait for a stopped committer */
        assert_string_equal(rec.order, "aB");

        rec.error = 0;
        assert_int_equal(committer_resume(c), 0);
        RUN_UNTIL(e, rec.durable >= g2);
        assert_string_equal(rec.order, "aBbcd"); /* the failed write again, then the rest, in order */
        assert_int_equal(rec.durable, g2);
        assert_int_equal(rec.error, 0);

        /* Resuming without a failure changes nothing; later writes go on as usual. */
        assert_int_equal(committer_resume(c), 0);
        add(c, 'e');
        g1 = committer_seal(c);
        RUN_UNTIL(e, rec.durable >= g1);
        assert_string_equal(rec.order, "aBbcde");
        committer_free(c);
}

static void test_fails_again(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        Committer *c = NULL;
        uint64_t g;

        rec = (Recorder){};
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(committer_new(e, on_done, on_error, NULL, &c), 0);

        rec.fail_next['a' - 'a'] = 2; /* still no room at the first resume */
        add(c, 'a');
        add(c, 'b');
        g = committer_seal(c);
        RUN_UNTIL(e, rec.error != 0);
        rec.error = 0;
        assert_int_equal(committer_resume(c), 0);
        RUN_UNTIL(e, rec.error != 0);
        assert_string_equal(rec.order, "AA");
        rec.error = 0;
        assert_int_equal(committer_resume(c), 0);
        RUN_UNTIL(e, rec.durable >= g);
        assert_string_equal(rec.order, "AAab");
        committer_free(c);
}

static unsigned open_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        unsigned n = 0;

        assert_non_null(d);
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

static void test_writes_by_name(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        char tmpl[] = "/tmp/test-committer.XXXXXX", buf[64];
        Committer *c = NULL;
        unsigned before;
        uint64_t g;
        int base;

        rec = (Recorder){};
        assert_non_null(mkdtemp(tmpl));
        base = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(base >= 0);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(committer_new(e, on_done, on_error, NULL, &c), 0);

        /* 300 writes queued (the batch that once hit nofile 200), to directories that do not exist yet,
         * hold no fd at all. */
        before = open_fds();
        for (unsigned i = 1; i <= 300; i++) {
                char dir[16];
                int len = snprintf(buf, sizeof(buf), "{\"seq\":%u}", i);

                snprintf(dir, sizeof(dir), "%u", i % 10);
                assert_int_equal(committer_add(c, base, dir, COMMIT_SNAPSHOT, i, strdup(buf), (size_t) len),
                                 0);
        }
        assert_int_equal(open_fds(), before);

        /* Each directory is looked up when written, so ones made after the writes were queued are found. */
        for (unsigned d = 0; d < 10; d++) {
                snprintf(buf, sizeof(buf), "%u", d);
                assert_int_equal(mkdirat(base, buf, 0700), 0);
        }
        g = committer_seal(c);
        RUN_UNTIL(e, rec.durable >= g || rec.error != 0);
        assert_int_equal(rec.error, 0);
        assert_int_equal(open_fds(), before);
        for (unsigned d = 0; d < 10; d++) {
                char path[32], *text = NULL;
                size_t len;

                snprintf(path, sizeof(path), "%u/state.json", d);
                assert_int_equal(read_file_at(base, path, 4096, &text, &len), 0);
                snprintf(buf, sizeof(buf), "{\"seq\":%u}", d == 0 ? 300 : 290 + d);
                assert_string_equal(text, buf); /* the last write of each directory won */
                free(text);
        }

        /* A directory that is gone when its write comes is that write's failure, named by its errno. */
        assert_int_equal(committer_add(c, base, "missing", COMMIT_SEGMENT, 1, strdup("{}"), 2), 0);
        (void) committer_seal(c);
        RUN_UNTIL(e, rec.error != 0);
        assert_int_equal(rec.error, -ENOENT);
        committer_free(c);
        assert_int_equal(rm_rf_at(AT_FDCWD, tmpl), 0);
        close(base);
}

/* On the committer thread, after its batch's shared fsync: the write's digit (a → 1). */
static int after_fn(void *data) {
        Write *w = data;

        if (rec.n + 1 < sizeof(rec.order))
                rec.order[rec.n++] = (char) ('1' + (w->letter - 'a'));
        return 0;
}

/* Calls sharing a directory's fsync: every write of the batch runs first, then the one fsync, then each
 * synced call's after(), in order; the generation is reported durable after that. */
static void test_synced_calls(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_close_ int dir_fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        static Write w[3] = { { 'a' }, { 'b' }, { 'c' } };
        Committer *c = NULL;
        uint64_t g;

        rec = (Recorder){};
        assert_true(dir_fd >= 0);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(committer_new(e, on_done, on_error, NULL, &c), 0);
        assert_int_equal(committer_add_call_synced(c, write_fn, dir_fd, after_fn, NULL, &w[0], "a"), 0);
        assert_int_equal(committer_add_call(c, write_fn, NULL, &w[1], "b"), 0);
        assert_int_equal(committer_add_call_synced(c, write_fn, dir_fd, after_fn, NULL, &w[2], "c"), 0);
        g = committer_seal(c);
        RUN_UNTIL(e, rec.durable >= g);
        assert_string_equal(rec.order, "abc13");
        assert_int_equal(rec.error, 0);
        committer_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_resume_after_enospc),
                cmocka_unit_test(test_fails_again),
                cmocka_unit_test(test_writes_by_name),
                cmocka_unit_test(test_synced_calls),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
