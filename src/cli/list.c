/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/list.c — "orchctl list [--all] [--state S]": ask the daemon for the jobs the caller may see
 * and print them as a table (id, name, state, progress, submitted) or as JSON.
 */

#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "json-util.h"
#include "orchctl.h"
#include "state.h"

static int list_print(json_object *jobs) {
        Table t = { .n_columns = 6 };
        size_t n = json_object_array_length(jobs);
        int r = 0;

        if (n == 0) {
                puts("No jobs.");
                return EXIT_SUCCESS;
        }
        for (const char *const *h =
                     (const char *const[]){ "ID", "NAME", "STATE", "NODES", "SUBMITTED", "REASON", NULL };
             *h && r >= 0; h++)
                r = table_add(&t, *h, NULL);
        for (size_t i = 0; i < n && r >= 0; i++) {
                json_object *j = json_object_array_get_idx(jobs, i), *counts;
                const char *state = get_string(j, "state");
                char progress[48] = "-", when[64];

                counts = reply_member(j, "counts", json_type_object);
                if (counts)
                        format_progress(counts, progress, sizeof(progress));
                if (table_add(&t, get_string(j, "id"), NULL) < 0 ||
                    table_add(&t, get_string(j, "name"), NULL) < 0 ||
                    table_add(&t, state, state_color(state)) < 0 || table_add(&t, progress, NULL) < 0 ||
                    table_add(&t,
                              format_local_time(get_string(j, "submitted_at"), false, when, sizeof(when)),
                              NULL) < 0)
                        r = -ENOMEM;
                else
                        r = table_add(&t, get_string(j, "reason") ?: "", NULL);
        }
        if (r >= 0)
                table_print(&t);
        table_done(&t);
        return r < 0 ? fail(EX_SOFTWARE, "out of memory") : EXIT_SUCCESS;
}

int verb_list(char **args, size_t n_args) {
        _cleanup_json_ json_object *p = json_object_new_object(), *reply = NULL;
        json_object *jobs;
        int64_t left = 0;
        int r;

        if (!p)
                return fail(EX_SOFTWARE, "out of memory");
        if (arg_state && job_state_from_string(arg_state) < 0)
                return fail(EX_USAGE,
                            "invalid job state '%s' (queued, running, paused, succeeded, failed, "
                            "cancelled)",
                            arg_state);
        if ((arg_all && json_object_object_add(p, "all", json_object_new_boolean(true)) < 0) ||
            (arg_state && json_object_object_add(p, "state", json_object_new_string(arg_state)) < 0))
                return fail(EX_SOFTWARE, "out of memory");

        r = call_once(ORCH_METHOD_LIST, p, NULL, &reply);
        if (r != 0)
                return r;
        jobs = reply_member(reply, "jobs", json_type_array);
        if (!jobs)
                return fail(EX_SOFTWARE, "invalid reply from orchd: no \"jobs\" array");
        if (get_int(reply, "loading", &left) && left > 0)
                fprintf(stderr,
                        "orchctl: orchd is still loading %" PRId64
                        " of the jobs it found at start; they are "
                        "missing from this list (orchctl status JOB shows any of them)\n",
                        left);
        return arg_json ? print_json(jobs) : list_print(jobs);
}
