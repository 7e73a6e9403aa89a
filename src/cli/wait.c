/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/wait.c — "orchctl wait JOB... [--timeout D]": block until the jobs have finished, print one line
 * per job, and exit with the status SPEC §5 gives finished jobs (1 failed, 2 cancelled, 0 otherwise).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

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

/* Wait for each job in turn on one connection: the total time is that of the slowest job either way, and a
 * single deadline covers them all. */
int verb_wait(char **args, size_t n_args) {
        _cleanup_json_ json_object *results = json_object_new_array();
        uint64_t deadline = client_deadline(arg_timeout);
        Client *c = NULL;
        int r = 0;

        if (!results)
                return fail(EX_SOFTWARE, "out of memory");
        r = connect_daemon(&c);
        if (r != 0)
                return r;

        /* Check every id first, so a typo in the last one is reported now, not after the others end. */
        for (size_t pass = 0; pass < 2 && r == 0; pass++)
                for (size_t i = 0; i < n_args && r == 0; i++) {
                        _cleanup_json_ json_object *p = id_parameters(args[i]), *reply = NULL;
                        json_object *job;

                        if (!p) {
                                r = fail(EX_SOFTWARE, "out of memory");
                                break;
                        }
                        r = call(c, pass == 0 ? ORCH_METHOD_STATUS : ORCH_METHOD_WAIT, p, deadline, args[i],
                                 &reply);
                        if (r == -ETIMEDOUT)
                                r = fail(EX_TEMPFAIL, "timed out after %s waiting for job '%s'",
                                         arg_timeout_string, args[i]);
                        if (r != 0 || pass == 0)
                                continue;
                        job = reply_member(reply, "job", json_type_object);
                        if (!job)
                                r = fail(EX_SOFTWARE, "invalid reply from orchd: no \"job\" object");
                        else if (json_object_array_add(results, json_object_get(job)) < 0)
                                r = fail(EX_SOFTWARE, "out of memory");
                }
        client_free(c);
        if (r != 0)
                return r;

        if (arg_json)
                r = print_json(results);
        else
                wait_print(results);
        return r != 0 ? r : wait_exit_code(results);
}
