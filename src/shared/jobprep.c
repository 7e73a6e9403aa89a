/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jobprep.c — the run-time parts of a job that depend on its spec alone (and its owner), built off the loop.
 *
 * Owns the Dag and the NodeEnvBase of a JobPrep until the job takes them (job.c job_new()). The DAG is
 * built the one way the run-time Job builds it for a recovered job too, so a job accepted and a job
 * recovered are driven alike. Deliberately does not look anything up: the owner's account comes from the
 * caller (the loop, which owns the getpwuid() buffer), so the thread that calls this touches nothing shared.
 */

#include <errno.h>
#include <stdlib.h>

#include "jobprep.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Dag *, dag_free);

int jobprep_build_dag(const JobSpec *spec, Dag **ret) {
        _cleanup_(dag_freep) Dag *d = NULL;
        int r;

        r = dag_new(spec->n_nodes, &d);
        if (r < 0)
                return r;
        for (uint32_t i = 0; i < spec->n_nodes; i++) {
                const NodeSpec *ns = &spec->nodes[i];

                dag_set_trigger(d, i, ns->when);
                for (uint32_t k = 0; k < ns->n_after; k++) {
                        r = dag_add_edge(d, ns->after[k], i);
                        if (r < 0)
                                return r;
                }
        }
        r = dag_seal(d, NULL, NULL);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

int jobprep_new(const JobSpec *spec, const NodeEnvOwner *owner, const char *lang, JobPrep **ret) {
        _cleanup_(jobprep_freep) JobPrep *p = calloc(1, sizeof(JobPrep));
        int r;

        if (!p)
                return -ENOMEM;
        r = jobprep_build_dag(spec, &p->dag);
        if (r < 0)
                return r;
        r = nodeenv_base_new(owner, lang, spec->env, &p->env);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

JobPrep *jobprep_free(JobPrep *p) {
        if (!p)
                return NULL;
        dag_free(p->dag);
        nodeenv_base_free(p->env);
        return mfree(p);
}
