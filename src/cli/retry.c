/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/retry.c — "orchctl retry JOB [NODE...]": ask the daemon to re-run a
 * finished job's failed, cancelled and skipped nodes (or the named ones) and
 * what depends on them, and print which nodes it re-queued.
 */

#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "json-util.h"
#include "orchctl.h"

static void retry_print(const char *job, json_object *nodes) {
        size_t n = json_object_array_length(nodes);

        if (n == 0) {
                /* Not an error: like pause on a paused job, the job is left as it is. */
                printf("Job %s has no failed, cancelled or skipped node: nothing to retry.\n", job);
                return;
        }
        printf("Job %s: retrying %zu node%s:", job, n, n == 1 ? "" : "s");
        for (size_t k = 0; k < n; k++)
                printf(" %s", json_object_get_string(json_object_array_get_idx(nodes, k)));
        putchar('\n');
}

int verb_retry(char **args, size_t n_args) {
        _cleanup_json_ json_object *p = job_nodes_parameters(args, n_args), *reply = NULL;
        json_object *nodes;
        int r;

        if (!p)
                return fail(EX_SOFTWARE, "out of memory");
        r = call_once(ORCH_METHOD_RETRY, p, args[0], &reply);
        if (r != 0)
                return r;
        nodes = reply_member(reply, "nodes", json_type_array);
        if (!nodes)
                return fail(EX_SOFTWARE, "invalid reply from orchd: no \"nodes\" array");
        if (arg_json)
                return print_json(reply);
        retry_print(args[0], nodes);
        return EXIT_SUCCESS;
}
