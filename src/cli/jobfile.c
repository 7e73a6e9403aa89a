/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/jobfile.c — job files read on the client side, the way orchd would read them: reading a file
 * within the size limit (fsutil's read_full_fd), the size error with the file's real size, parsing; and
 * the verbs that need nothing else, "orchctl validate FILE..." and "orchctl graph FILE|JOB" (a job
 * id asks the daemon for its graph instead).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include "fsutil.h"
#include "graph.h"
#include "jobspec.h"
#include "json-util.h"
#include "orchctl.h"

/* Read a whole file with fsutil's read_full_fd() and tell its real size: st_size for a regular file, 0
 * (unknown) for anything else. A file over limit is not an error here (parse_file reports it): it returns
 * 0 with *ret NULL and *ret_size limit+1. Returns 0 or -errno. */
int jobfile_read(const char *path, size_t limit, char **ret, size_t *ret_size, uint64_t *ret_file_size) {
        _cleanup_close_ int fd = -EBADF;
        size_t size = 0;
        struct stat st;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        r = read_full_fd(fd, limit, ret, &size);
        if (r == -EFBIG) {
                *ret = NULL;
                size = limit + 1;
        } else if (r < 0)
                return r;
        *ret_size = size;
        *ret_file_size = S_ISREG(st.st_mode) ? MAX((uint64_t) st.st_size, (uint64_t) size) : 0;
        return 0;
}

/* A file over the size limit, as jobspec_parse() would word it, but with the file's real size (0: unknown,
 * as for a pipe): jobfile_read() stops at limit+1 bytes, which is all jobspec_parse() would know of. Returns
 * 0 or -ENOMEM. */
int jobfile_too_large(uint64_t file_size, size_t limit, JobErrors **ret) {
        _cleanup_(jobspec_errors_freep) JobErrors *e = calloc(1, sizeof(JobErrors));
        JobError *err;
        int r;

        if (!e || !(e->errors = calloc(1, sizeof(JobError))))
                return -ENOMEM;
        e->n_errors = 1;
        err = &e->errors[0];
        err->path = strdup("");
        if (file_size > 0)
                r = asprintf(&err->message,
                             "file is too large: %" PRIu64 " bytes (%.1f MiB), the limit is %zu (%.1f MiB)",
                             file_size, file_size / 1048576.0, limit, limit / 1048576.0);
        else
                r = asprintf(&err->message,
                             "file is too large: more than %zu bytes, the limit is %zu (%.1f MiB)", limit,
                             limit, limit / 1048576.0);
        if (r < 0)
                err->message = NULL;
        if (r < 0 || !err->path)
                return -ENOMEM;
        *ret = TAKE_PTR(e);
        return 0;
}

/* jobspec_parse() for a file read by jobfile_read(), named after its file name. Returns as jobspec_parse().
 */
static int parse_file(const char *path, const char *buf, size_t size, uint64_t file_size,
                      const JobLimits *limits, JobSpec **ret, JobErrors **reterr) {
        _cleanup_free_ char *name = NULL;
        int r;

        if (size > limits->max_file_size) {
                r = jobfile_too_large(file_size, limits->max_file_size, reterr);
                return r < 0 ? r : -EINVAL;
        }
        name = jobspec_name_from_filename(path);
        if (!name)
                return -ENOMEM;
        return jobspec_parse(buf, size, limits, name, ret, reterr);
}

/* Validate one file. Returns 0 (valid), EX_DATAERR (invalid) or EX_NOINPUT (unreadable); appends its
 * JSON result to results in --json mode. */
static int validate_one(const char *path, const JobLimits *limits, json_object *results) {
        _cleanup_free_ char *buf = NULL, *text = NULL;
        JobSpec *spec = NULL;
        JobErrors *errors = NULL;
        json_object *o;
        uint64_t file_size = 0;
        size_t size = 0;
        int r, ret;

        r = jobfile_read(path, limits->max_file_size, &buf, &size, &file_size);
        if (r < 0) {
                fail(EX_NOINPUT, "cannot read '%s': %s", path, strerror(-r));
                if (results) {
                        JobError e = { .path = (char *) "", .message = (char *) strerror(-r) };
                        JobErrors l = { .errors = &e, .n_errors = 1 };

                        o = jobspec_errors_to_json(&l, path);
                        if (o &&
                            (json_object_object_add(o, "valid", json_object_new_boolean(false)) < 0 ||
                             json_object_array_add(results, o) < 0))
                                json_object_put(o);
                }
                return EX_NOINPUT;
        }

        r = parse_file(path, buf, size, file_size, limits, &spec, &errors);
        if (r == -ENOMEM)
                return fail(EX_SOFTWARE, "out of memory");
        ret = r < 0 ? EX_DATAERR : EXIT_SUCCESS;

        if (results) {
                o = jobspec_errors_to_json(r < 0 ? errors : NULL, path);
                if (!o || json_object_object_add(o, "valid", json_object_new_boolean(r >= 0)) < 0 ||
                    json_object_array_add(results, o) < 0) {
                        json_object_put(o);
                        ret = fail(EX_SOFTWARE, "out of memory");
                }
        } else if (r < 0) {
                text = jobspec_errors_format(errors, path);
                if (text)
                        print_text_escaped(stderr, text);
                else
                        fputs("out of memory\n", stderr);
        } else
                printf("%s: valid, %zu node%s\n", escaped(path), spec->n_nodes,
                       spec->n_nodes == 1 ? "" : "s");

        jobspec_free(spec);
        jobspec_errors_free(errors);
        return ret;
}

int verb_validate(char **args, size_t n_args) {
        _cleanup_json_ json_object *results = arg_json ? json_object_new_array() : NULL;
        JobLimits limits;
        int ret = EXIT_SUCCESS;

        if (arg_json && !results)
                return fail(EX_SOFTWARE, "out of memory");
        jobspec_limits_init(&limits);
        for (size_t i = 0; i < n_args; i++) {
                int r = validate_one(args[i], &limits, results);

                /* Worst first: internal error, then unreadable, then invalid. */
                if (r == EX_SOFTWARE || (r == EX_NOINPUT && ret != EX_SOFTWARE) || (r != 0 && ret == 0))
                        ret = r;
        }
        if (results && print_json(results) != 0)
                return EX_SOFTWARE;
        return ret;
}

/* --- graph --- */

/* A job id is all digits; anything else names a job file. */
static bool is_job_id(const char *s) {
        return s[0] >= '1' && s[0] <= '9' && strspn(s, "0123456789") == strlen(s);
}

static int graph_file(const char *path) {
        _cleanup_(jobspec_freep) JobSpec *spec = NULL;
        _cleanup_(jobspec_errors_freep) JobErrors *errors = NULL;
        _cleanup_free_ char *buf = NULL, *dot = NULL, *text = NULL;
        JobLimits limits;
        uint64_t file_size = 0;
        size_t size = 0;
        int r;

        jobspec_limits_init(&limits);
        r = jobfile_read(path, limits.max_file_size, &buf, &size, &file_size);
        if (r < 0)
                return fail(EX_NOINPUT, "cannot read '%s': %s", path, strerror(-r));
        r = parse_file(path, buf, size, file_size, &limits, &spec, &errors);
        if (r == -EINVAL) {
                text = jobspec_errors_format(errors, path);
                print_text_escaped(stderr, strna(text));
                return EX_DATAERR;
        }
        if (r < 0 || graph_dot(spec, NULL, &dot) < 0)
                return fail(EX_SOFTWARE, "out of memory");
        fputs(dot, stdout);
        return 0;
}

int verb_graph(char **args, size_t n_args) {
        _cleanup_json_ json_object *p = NULL, *reply = NULL;
        const char *dot;
        int r;

        if (!is_job_id(args[0]))
                return graph_file(args[0]);
        p = id_parameters(args[0]);
        if (!p)
                return fail(EX_SOFTWARE, "out of memory");
        r = call_once(ORCH_METHOD_GRAPH, p, args[0], &reply);
        if (r != 0)
                return r;
        dot = get_string(reply, "dot");
        if (!dot)
                return fail(EX_SOFTWARE, "invalid reply from orchd: no \"dot\" text");
        fputs(dot, stdout);
        return 0;
}
