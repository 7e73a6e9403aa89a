/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the files of the manager share and nobody else sees. The files:
 *   manager.c          the Manager object, its job table, signals, construction
 *   manager-admit.c    admission: the account check, per-user caps, idempotency keys
 *   manager-recover.c  loading jobs/ID/ at start (quarantine of corrupt jobs, loading in slices)
 *   manager-schedule.c the manager as the host of its jobs (JobHost): slots across jobs by priority and
 *                      share, the per-iteration flush as one group commit, the drain at shutdown
 */

#include <errno.h>
#include <stdlib.h>

#include "manager.h"

static inline int push_ptr(void *array, size_t *n, size_t *cap, void *p) {
        void ***a = array;

        if (*n == *cap) {
                size_t c = MAX(*cap * 2, (size_t) 16);
                void **m = reallocarray(*a, c, sizeof(void *));

                if (!m)
                        return -ENOMEM;
                *a = m;
                *cap = c;
        }
        (*a)[(*n)++] = p;
        return 0;
}

/* Index of id in the sorted ids[0, n), or SIZE_MAX. */
static inline size_t id_index(const uint64_t *ids, size_t n, uint64_t id) {
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (ids[mid] < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < n && ids[lo] == id ? lo : SIZE_MAX;
}

/* ---- manager.c ---- */

/* Register a job read from jobs/ID (dir_fd, closed here) and start driving it; takes spec, run and prep.
 * Returns 0 or -errno. */
int manager_add_job(Manager *m, JobSpec *spec, JobRun *run, JobPrep *prep, int dir_fd, uint64_t seq);
/* Add j to the unsettled jobs (active, and startable). Returns 0 or -ENOMEM. */
int manager_add_active(Manager *m, Job *j);
/* JobHost.finished, JobHost.settled and JobHost.retried (userdata: the Manager). */
void manager_job_finished(void *userdata, Job *j);
void manager_job_settled(void *userdata, Job *j);
int manager_job_retried(void *userdata, Job *j);

/* ---- manager-admit.c ---- */

/* SpoolConfig.may_run, .admit and .key_in_use (userdata: the Manager). */
int manager_spool_may_run(uid_t uid, char **ret_why, void *userdata);
int manager_spool_admit(uid_t uid, uint64_t bytes, uint64_t nodes, char **ret_why, void *userdata);
uint64_t manager_key_in_use(const char *key, uid_t uid, void *userdata);

/* ---- manager-recover.c ---- */

/* Load the jobs found in jobs/ at start: the unfinished first, then as many as fit the start-up budget; the
 * rest in slices on the loop. Returns 0 or -errno (logged). */
int manager_recover(Manager *m);

/* ---- manager-schedule.c ---- */

/* What every Job of the manager gets as its host's callbacks (userdata: the Manager). */
extern const JobHostOps manager_job_host_ops;
/* The post source: schedule, collect, flush, once per loop iteration. */
int manager_on_post(sd_event_source *s, void *userdata);
/* The wake-up defer that makes the post source run (manager_wake()). */
int manager_on_wake(sd_event_source *s, void *userdata);
/* Shutting down: once no node runs, write what is left and leave the loop. */
void manager_check_drained(Manager *m);
