/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/submit.c — "orchctl submit FILE... [--wait [--timeout D]]": send job files to the daemon, print
 * each job's id or the file's errors, and with --wait continue as wait.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "jobspec.h"
#include "json-util.h"
#include "orchctl.h"

/* Print the errors of an InvalidJob reply like jobspec_errors_format() does for validate. */
static void print_submit_errors(const char *path, json_object *params) {
        json_object *errors = reply_member(params, "errors", json_type_array);
        size_t n = errors ? json_object_array_length(errors) : 0;

        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(errors, i), *line = NULL, *col = NULL;
                const char *jpath = get_string(e, "path"), *msg = get_string(e, "message");

                (void) json_object_object_get_ex(e, "line", &line);
                (void) json_object_object_get_ex(e, "column", &col);
                if (json_object_get_int(line) > 0)
                        fprintf(stderr, "%s:%d:%d: %s\n", escaped(path), json_object_get_int(line),
                                json_object_get_int(col), strna(escaped(msg)));
                else if (!isempty(jpath))
                        fprintf(stderr, "%s: %s: %s\n", escaped(path), escaped(jpath), strna(escaped(msg)));
                else
                        fprintf(stderr, "%s: %s\n", escaped(path), strna(escaped(msg)));
        }
}

/* Print the error of a file over the size limit as validate does. Returns EX_DATAERR, or EX_SOFTWARE. */
static int report_too_large(const char *path, uint64_t file_size, size_t limit) {
        _cleanup_(jobspec_errors_freep) JobErrors *errors = NULL;
        _cleanup_free_ char *text = NULL;

        if (jobfile_too_large(file_size, limit, &errors) < 0 ||
            !(text = jobspec_errors_format(errors, path)))
                return fail(EX_SOFTWARE, "out of memory");
        print_text_escaped(stderr, text);
        return EX_DATAERR;
}

/* Submit one file. Returns 0 with *ret_id (owned), EX_DATAERR after printing its errors, or another exit
 * code after printing why. */
static int submit_one(Client *c, const char *path, const JobLimits *limits, char **ret_id) {
        _cleanup_(varlink_message_done) VarlinkMessage m = {};
        _cleanup_json_ json_object *p = json_object_new_object();
        _cleanup_free_ char *buf = NULL;
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path, *id;
        uint64_t file_size = 0;
        size_t size = 0;
        int r;

        r = jobfile_read(path, limits->max_file_size, &buf, &size, &file_size);
        if (r < 0)
                return fail(EX_NOINPUT, "cannot read '%s': %s", path, strerror(-r));
        if (size > limits->max_file_size) /* said here: orchd would only know of the bytes we send */
                return report_too_large(path, file_size, limits->max_file_size);
        if (!p || json_object_object_add(p, "name", json_object_new_string(base)) < 0 ||
            json_object_object_add(p, "job", json_object_new_string_len(buf, (int) size)) < 0)
                return fail(EX_SOFTWARE, "out of memory");
        r = client_call(c, ORCH_METHOD_SUBMIT, p, USEC_INFINITY, &m);
        if (r < 0)
                return transport_error(r);
        if (m.error && streq(m.error, ORCH_ERROR_INVALID_JOB)) {
                print_submit_errors(path, m.parameters);
                return EX_DATAERR;
        }
        if (m.error && streq(m.error, ORCH_ERROR_PERMISSION_DENIED)) { /* about the caller, not a job */
                const char *why = get_string(m.parameters, "reason");

                if (why)
                        return fail(EX_NOPERM, "%s: permission denied: %s", path, why);
                return fail(EX_NOPERM, "%s: permission denied: orchd does not take jobs from uid %u", path,
                            (unsigned) getuid());
        }
        if (m.error)
                return reply_error(&m, NULL);
        id = get_string(m.parameters, "id");
        if (isempty(id))
                return fail(EX_SOFTWARE, "invalid reply from orchd: no job id");
        *ret_id = strdup(id);
        return *ret_id ? 0 : fail(EX_SOFTWARE, "out of memory");
}

int verb_submit(char **args, size_t n_args) {
        _cleanup_strv_free_ char **ids = calloc(n_args + 1, sizeof(char *));
        _cleanup_json_ json_object *results = json_object_new_array();
        size_t n_ids = 0;
        JobLimits limits;
        Client *c = NULL;
        int ret = 0, r;

        if (!ids || !results)
                return fail(EX_SOFTWARE, "out of memory");
        jobspec_limits_init(&limits);
        r = connect_daemon(&c);
        if (r != 0)
                return r;
        for (size_t i = 0; i < n_args; i++) {
                char *id = NULL;

                r = submit_one(c, args[i], &limits, &id);
                if (r != 0 && r != EX_DATAERR && r != EX_NOINPUT) {
                        ret = r; /* the daemon or the connection failed: stop here */
                        break;
                }
                if (r != 0) {
                        ret = ret ?: r;
                        continue;
                }
                ids[n_ids++] = id;
                if (arg_json) {
                        json_object *o = json_object_new_object();

                        if (o) {
                                json_object_object_add(o, "file", json_object_new_string(args[i]));
                                json_object_object_add(o, "id", json_object_new_string(id));
                                json_object_array_add(results, o);
                        }
                } else
                        printf("%s\n", id);
        }
        client_free(c);
        if (arg_json && !arg_wait && print_json(results) != 0)
                return EX_SOFTWARE;
        if (ret != 0 || !arg_wait || n_ids == 0)
                return ret;
        (void) fflush(stdout);
        return verb_wait(ids, n_ids);
}
