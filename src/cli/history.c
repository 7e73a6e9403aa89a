/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/history.c — "orchctl history JOB [NODE]": a job's audit trail as orchd recorded it (every
 * transition and control action, in order, with who caused it) as a table, or the reply as JSON.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "json-util.h"
#include "orchctl.h"

/* "alice (1000)" for a user's action, "orchd" for its own decisions. */
static const char *actor(json_object *e, char *buf, size_t size) {
        const char *user = get_string(e, "user");
        int64_t uid;

        if (!get_int(e, "uid", &uid))
                return "orchd";
        snprintf(buf, size, "%s (%" PRId64 ")", user && *user ? user : "?", uid);
        return buf;
}

static int history_table(json_object *events) {
        Table t = { .n_columns = 7 };
        size_t n = json_object_array_length(events);
        int r = 0;

        for (const char *const *h = (const char *const[]){ "TIME", "NODE", "EVENT", "STATE", "ATTEMPT",
                                                           "ACTOR", "REASON", NULL };
             *h && r >= 0; h++)
                r = table_add(&t, *h, NULL);
        for (size_t k = 0; k < n && r >= 0; k++) {
                json_object *e = json_object_array_get_idx(events, k);
                const char *state = get_string(e, "state");
                char when[64], attempt[24] = "-", who[160];
                int64_t a;

                if (get_int(e, "attempt", &a) && a > 0)
                        snprintf(attempt, sizeof(attempt), "%" PRId64, a);
                if (table_add(&t, format_local_time(get_string(e, "at"), false, when, sizeof(when)), NULL) <
                            0 ||
                    table_add(&t, get_string(e, "node") ?: "(job)", NULL) < 0 ||
                    table_add(&t, get_string(e, "event") ?: "?", NULL) < 0 ||
                    table_add(&t, state ?: "?", state_color(state)) < 0 ||
                    table_add(&t, attempt, NULL) < 0 || table_add(&t, actor(e, who, sizeof(who)), NULL) < 0)
                        r = -ENOMEM;
                else
                        r = table_add(&t, get_string(e, "reason") ?: "", NULL);
        }
        if (r >= 0)
                table_print(&t);
        table_done(&t);
        return r < 0 ? fail(EX_SOFTWARE, "out of memory") : EXIT_SUCCESS;
}

int verb_history(char **args, size_t n_args) {
        _cleanup_json_ json_object *p = id_parameters(args[0]), *reply = NULL;
        json_object *events;
        int64_t dropped = 0;
        int r;

        if (!p || (n_args > 1 && json_object_object_add(p, "node", json_object_new_string(args[1])) < 0))
                return fail(EX_SOFTWARE, "out of memory");
        r = call_once(ORCH_METHOD_HISTORY, p, args[0], &reply);
        if (r != 0)
                return r;
        events = reply_member(reply, "events", json_type_array);
        if (!events)
                return fail(EX_SOFTWARE, "invalid reply from orchd: no \"events\" array");
        if (arg_json)
                return print_json(reply);
        if (json_object_get_boolean(reply_member(reply, "partial", json_type_boolean)))
                printf("Job %s was recorded by an older orchd: its history begins with what its state "
                       "tells (the last attempt of each node).\n",
                       escaped(args[0]));
        if (get_int(reply, "dropped", &dropped) && dropped > 0)
                printf("%" PRId64
                       " older entries dropped (orchd keeps the most recent ones of a long "
                       "history).\n",
                       dropped);
        return history_table(events);
}
