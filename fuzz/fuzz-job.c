/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-jobspec.c — libFuzzer target for the job file parser (jobspec.c, jobspec-value.c, jobspec-node.c,
 * jsonparse.c): any bytes, as a dropped file would hold them, through jobspec_parse() and everything intake
 * does with the result: the error list in both forms on a rejection, the node lookup and a state snapshot on
 * success.
 *
 * Invariants checked (besides the sanitizers'): a success returns a spec and no errors, a rejection
 * returns errors and no spec, and every node of an accepted spec is found again by its id.
 */

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "jobspec.h"
#include "journal.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(jobspec_freep) JobSpec *spec = NULL;
        _cleanup_(jobspec_errors_freep) JobErrors *errors = NULL;
        _cleanup_(job_run_freep) JobRun *run = NULL;
        JobLimits limits;
        int r;

        jobspec_limits_init(&limits);
        r = jobspec_parse((const char *) data, size, &limits, "fuzz", &spec, &errors);
        if (r == -ENOMEM)
                return 0;
        if (r < 0) {
                assert(r == -EINVAL && !spec && errors);
                free(jobspec_errors_format(errors, "fuzz.json"));
                json_object_put(jobspec_errors_to_json(errors, "fuzz.json"));
                return 0;
        }
        assert(spec && !errors);
        for (size_t i = 0; i < spec->n_nodes; i++)
                assert(jobspec_find_node(spec, spec->nodes[i].id) == (ssize_t) i);
        if (job_run_new(spec->n_nodes, &run) >= 0) {
                size_t len;

                free(journal_build_snapshot(spec, run, 0, &len));
        }
        return 0;
}
