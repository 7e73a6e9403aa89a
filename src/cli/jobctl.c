/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/jobctl.c — the verbs that act on a job and print one line: cancel, pause, resume, remove, and gc
 * (remove finished jobs beyond the daemon's KeepFinished); and stop-nodes (stop every node and orchd).
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "duration.h"
#include "json-util.h"
#include "orchctl.h"

int verb_cancel(char **args, size_t n_args) {
        _cleanup_json_ json_object *p = job_nodes_parameters(args, n_args), *reply = NULL;

        if (!p)
                return fail(EX_SOFTWARE, "out of memory");
        return call_once(ORCH_METHOD_CANCEL, p, args[0], &reply);
}

int verb_pause(char **args, size_t n_args) {
        _cleanup_json_ json_object *p = id_parameters(args[0]), *reply = NULL;

        if (!p || (arg_freeze && json_object_object_add(p, "freeze", json_object_new_boolean(true)) < 0))
                return fail(EX_SOFTWARE, "out of memory");
        return call_once(ORCH_METHOD_PAUSE, p, args[0], &reply);
}

int verb_resume(char **args, size_t n_args) {
        _cleanup_json_ json_object *p = id_parameters(args[0]), *reply = NULL;

        if (!p)
                return fail(EX_SOFTWARE, "out of memory");
        return call_once(ORCH_METHOD_RESUME, p, args[0], &reply);
}

/* --- remove, gc --- */

int verb_remove(char **args, size_t n_args) {
        int r = 0;

        /* One call per job, in order; the first failure stops (like rm would not, but a typo should not
         * be followed by more removals the user did not look at). */
        for (size_t k = 0; k < n_args && r == 0; k++) {
                _cleanup_json_ json_object *p = id_parameters(args[k]), *reply = NULL;

                if (!p)
                        return fail(EX_SOFTWARE, "out of memory");
                r = call_once(ORCH_METHOD_REMOVE, p, args[k], &reply);
        }
        return r;
}

int verb_gc(char **args, size_t n_args) {
        _cleanup_json_ json_object *reply = NULL;
        int64_t removed = 0, kept = 0;
        int r;

        r = call_once(ORCH_METHOD_GC, NULL, NULL, &reply);
        if (r != 0)
                return r;
        if (arg_json)
                return print_json(reply);
        (void) get_int(reply, "removed", &removed);
        (void) get_int(reply, "kept", &kept);
        printf("Removed %" PRId64 " finished job%s; %" PRId64 " job%s left.\n", removed,
               removed == 1 ? "" : "s", kept, kept == 1 ? "" : "s");
        return 0;
}

/* --- stop-nodes --- */

/* After the reply, how long orchd may take to end its process (it waits ≤ 2 s for its keepers). */
#define STOP_NODES_EXIT_USEC (60 * USEC_PER_SEC)

int verb_stop_nodes(char **args, size_t n_args) {
        _cleanup_json_ json_object *reply = NULL;
        int64_t nodes = 0;
        Client *c = NULL;
        uint64_t deadline;
        int r, k;

        r = connect_daemon(&c);
        if (r != 0)
                return r;
        /* No deadline: the reply comes once every node has stopped, after its kill_grace. */
        r = call(c, ORCH_METHOD_STOP_NODES, NULL, USEC_INFINITY, NULL, &reply);
        /* orchd keeps this connection open until its process ends: the end of it says orchd is gone. */
        deadline = client_deadline(STOP_NODES_EXIT_USEC);
        do {
                _cleanup_(varlink_message_done) VarlinkMessage m = {};

                k = r == 0 ? client_read_reply(c, deadline, &m) : -ECONNRESET;
        } while (k == 0);
        client_free(c);
        if (r != 0)
                return r;
        if (k == -ETIMEDOUT)
                return fail(EX_TEMPFAIL, "the nodes are stopped, but orchd has not exited within %u s",
                            (unsigned) (STOP_NODES_EXIT_USEC / USEC_PER_SEC));
        if (arg_json)
                return print_json(reply);
        (void) get_int(reply, "nodes", &nodes);
        printf("Stopped %" PRId64 " running node%s (recorded as interrupted); orchd has exited.\n", nodes,
               nodes == 1 ? "" : "s");
        return 0;
}
