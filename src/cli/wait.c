/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/wait.c — "orchctl wait JOB... [--timeout D]": block until the jobs have finished, print the failure
 * summary of those that did not succeed (cli/failures.c) and one line per job, and exit with the status
 * SPEC §5 gives finished jobs (1 failed, 2 cancelled, 0 otherwise). With stderr on a terminal, watch's live
 * block is drawn there meanwhile (watch_progress()), erased at the end.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "json-util.h"
#include "orchctl.h"
#include "state.h"

void wait_print(json_object *jobs) {
        for (size_t i = 0; i < json_object_array_length(jobs); i++) {
                json_object *j = json_object_array_get_idx(jobs, i);
                const char *state = get_string(j, "state"), *reason = get_string(j, "reason"),
                           *color = state_color(state);

                printf("%s %s %s%s%s%s%s%s\n", strna(escaped(get_string(j, "id"))),
                       strna(escaped(get_string(j, "name"))), color ?: "", strna(escaped(state)),
                       color ? "\033[0m" : "", reason ? " (" : "", reason ? escaped(reason) : "",
                       reason ? ")" : "");
        }
}

/* Live progress on stderr: a terminal that can move the cursor, and not --quiet. */
static bool want_progress(void) {
        const char *term = getenv("TERM");

        return !arg_quiet && isatty(STDERR_FILENO) && !(term && streq(term, "dumb"));
}

/* The finished job id: through a Watch stream drawing progress, or one Wait call. Returns 0 with *ret
 * (owned), -ETIMEDOUT, or an exit code after printing why. */
static int wait_one(Client *c, const char *id, bool progress, uint64_t deadline, json_object **ret) {
        _cleanup_json_ json_object *p = NULL, *reply = NULL;
        json_object *job;
        int r;

        if (progress)
                return watch_progress(c, id, deadline, ret);
        p = id_parameters(id);
        if (!p)
                return fail(EX_SOFTWARE, "out of memory");
        r = call(c, ORCH_METHOD_WAIT, p, deadline, id, &reply);
        if (r != 0)
                return r;
        job = reply_member(reply, "job", json_type_object);
        if (!job)
                return fail(EX_SOFTWARE, "invalid reply from orchd: no \"job\" object");
        *ret = json_object_get(job);
        return 0;
}

/* Wait for each job in turn on one connection: the total time is that of the slowest job either way, and a
 * single deadline covers them all. */
int verb_wait(char **args, size_t n_args) {
        _cleanup_json_ json_object *results = json_object_new_array();
        uint64_t deadline = client_deadline(arg_timeout);
        bool progress = want_progress();
        Client *c = NULL;
        int r = 0;

        if (!results)
                return fail(EX_SOFTWARE, "out of memory");
        if (progress)
                setvbuf(stderr, NULL, _IOFBF, 1 << 16); /* one write per redraw, as watch does on stdout */
        r = connect_daemon(&c);
        if (r != 0)
                return r;

        /* Check every id first, so a typo in the last one is reported now, not after the others end. */
        for (size_t i = 0; i < n_args && r == 0; i++) {
                _cleanup_json_ json_object *p = id_parameters(args[i]), *reply = NULL;

                r = p ? call(c, ORCH_METHOD_STATUS, p, deadline, args[i], &reply) :
                        fail(EX_SOFTWARE, "out of memory");
                if (r == -ETIMEDOUT)
                        r = fail(EX_TEMPFAIL, "timed out after %s waiting for job '%s'", arg_timeout_string,
                                 args[i]);
        }
        for (size_t i = 0; i < n_args && r == 0; i++) {
                json_object *job = NULL;

                r = wait_one(c, args[i], progress, deadline, &job);
                if (r == -ETIMEDOUT)
                        r = fail(EX_TEMPFAIL, "timed out after %s waiting for job '%s'", arg_timeout_string,
                                 args[i]);
                if (r == 0 && json_object_array_add(results, job) < 0)
                        r = (json_object_put(job), fail(EX_SOFTWARE, "out of memory"));
        }
        /* The summaries once every job has ended: the jobs' ends as they come are watch's business. */
        for (size_t i = 0; i < json_object_array_length(results) && r == 0 && !arg_quiet; i++)
                r = failures_collect(c, json_object_array_get_idx(results, i));
        client_free(c);
        if (r != 0)
                return r;

        if (arg_json)
                r = print_json(results);
        else {
                for (size_t i = 0; i < json_object_array_length(results); i++)
                        failures_print(json_object_array_get_idx(results, i));
                wait_print(results);
        }
        return r != 0 ? r : wait_exit_code(results);
}
