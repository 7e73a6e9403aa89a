/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-journal.c — libFuzzer target for the state reader (journal-load.c, jsonscan.c, state.c): the files
 * of one jobs/ID/ directory, packed into one input, written to a private directory on each run and read
 * back with jobspec_parse() of job.json and journal_load(), as recovery does at start; then a snapshot of
 * the loaded state is built and loaded again.
 *
 * Input format (so the mutator can change names too: segment numbering, gaps, malformed names):
 *   == NAME\n CONTENT \n== NAME\n CONTENT ...
 * A NAME with '/', "." or "..", empty or over 64 bytes is skipped. Seeds: fuzz/corpus/journal/, real
 * directories of jobs run by orchd (fuzz/pack-state.sh packs one).
 *
 * Invariants checked (besides the sanitizers'): a load either succeeds with a state or fails with a
 * message naming the file; what was loaded, written as a snapshot, loads again to the same node states.
 */

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "jobspec.h"
#include "journal.h"
#include "macro.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int dir_fd = -EBADF;

/* Empty the private directory (created once, on /dev/shm when there is one: this runs thousands of times
 * a second). */
static int fresh_dir(void) {
        DIR *d;
        struct dirent *de;

        if (dir_fd < 0) {
                char tmpl[] = "/dev/shm/fuzz-journal.XXXXXX", tmpl2[] = "/tmp/fuzz-journal.XXXXXX";
                const char *p = mkdtemp(tmpl) ?: mkdtemp(tmpl2);

                if (!p)
                        abort();
                dir_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dir_fd < 0)
                        abort();
                return dir_fd;
        }
        d = fdopendir(dup(dir_fd));
        if (!d)
                abort();
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        (void) unlinkat(dir_fd, de->d_name, 0);
        closedir(d);
        return dir_fd;
}

static bool name_ok(const char *s, size_t n) {
        return n > 0 && n <= 64 && !memchr(s, '/', n) && !memchr(s, '\0', n) && !(n == 1 && s[0] == '.') &&
                !(n == 2 && s[0] == '.' && s[1] == '.');
}

/* Write each "== NAME\n" section of the input as file NAME. */
static void unpack(int dfd, const char *p, size_t size) {
        const char *end = p + size;

        if (size < 3 || memcmp(p, "== ", 3) != 0)
                return;
        p += 3;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p)), *content, *next;
                char name[65];
                int fd;

                if (!nl)
                        return;
                content = nl + 1;
                next = content;
                for (;;) {
                        next = memchr(next, '\n', (size_t) (end - next));
                        if (!next || ((size_t) (end - next) >= 4 && memcmp(next, "\n== ", 4) == 0))
                                break;
                        next++;
                }
                if (!next)
                        next = end;
                if (name_ok(p, (size_t) (nl - p))) {
                        memcpy(name, p, (size_t) (nl - p));
                        name[nl - p] = '\0';
                        fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                        if (fd >= 0) {
                                (void) !write(fd, content, (size_t) (next - content));
                                close(fd);
                        }
                }
                if (next == end)
                        return;
                p = next + 4;
        }
}

/* Write run as a snapshot over the files and load it again: the writer and the reader must agree. */
static void round_trip(int dfd, const JobSpec *spec, const JobRun *run, uint64_t seq) {
        _cleanup_(job_run_freep) JobRun *again = NULL;
        _cleanup_free_ char *buf = NULL, *err = NULL;
        size_t len;
        int r;

        buf = journal_build_snapshot(spec, run, seq, &len);
        if (!buf || journal_write_snapshot(dfd, seq, buf, len) < 0)
                return;
        r = journal_load(dfd, spec, &again, NULL, &err);
        if (r == -ENOMEM)
                return;
        if (r < 0) {
                fprintf(stderr, "snapshot of a loaded state does not load: %s\n", err ?: "?");
                abort();
        }
        for (size_t i = 0; i < spec->n_nodes; i++)
                assert(again->nodes[i].state == run->nodes[i].state &&
                       again->nodes[i].attempt == run->nodes[i].attempt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(jobspec_freep) JobSpec *spec = NULL;
        _cleanup_(jobspec_errors_freep) JobErrors *errors = NULL;
        _cleanup_(job_run_freep) JobRun *run = NULL;
        _cleanup_free_ char *buf = NULL, *err = NULL;
        JobLimits limits;
        uint64_t seq;
        size_t len;
        int dfd, r;

        dfd = fresh_dir();
        unpack(dfd, (const char *) data, size);

        jobspec_limits_init(&limits);
        if (read_file_at(dfd, "job.json", limits.max_file_size, &buf, &len) < 0)
                return 0;
        if (jobspec_parse(buf, len, &limits, "fuzz", &spec, &errors) < 0)
                return 0;
        r = journal_load(dfd, spec, &run, &seq, &err);
        if (r == -ENOMEM)
                return 0;
        if (r == -EBADMSG) {
                assert(err);
                return 0;
        }
        if (r < 0)
                return 0; /* -ENOENT: no state.json; an I/O error of the scratch directory */
        round_trip(dfd, spec, run, seq + 1);
        return 0;
}
