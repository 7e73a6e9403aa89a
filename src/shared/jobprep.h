/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What driving an accepted job needs besides its spec and run, built ahead, off the event loop (on the job
 * reader's thread, jobreader.h), while the spec cannot change: the sealed DAG with the nodes' trigger rules,
 * and the base of the nodes' environment. For 100,000 nodes or env keys each costs tens of milliseconds.
 * Pure: no I/O (the caller looks the owner up), no logging.
 */

#include "dag.h"
#include "jobspec.h"
#include "macro.h"
#include "nodeenv.h"

typedef struct JobPrep {
        Dag *dag;         /* sealed, its bookkeeping not started */
        NodeEnvBase *env; /* borrows the spec's env strings: the spec must outlive it */
} JobPrep;

/* The sealed DAG of a valid spec: its edges and trigger rules. Returns 0 with *ret, or -ENOMEM (or the
 * dag_seal() error of a spec jobspec_parse() would have refused). */
int jobprep_build_dag(const JobSpec *spec, Dag **ret);

/* Both, for spec run by owner with the daemon's lang (may be NULL). Returns 0 with *ret or -errno. */
int jobprep_new(const JobSpec *spec, const NodeEnvOwner *owner, const char *lang, JobPrep **ret);

/* Free what the JobPrep still holds. Accepts NULL, returns NULL. */
JobPrep *jobprep_free(JobPrep *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(JobPrep *, jobprep_free);
