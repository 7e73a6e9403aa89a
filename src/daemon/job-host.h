/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * JobHost: everything a run-time Job needs from whoever runs it (the
 * manager in orchd, a test host in test-job-run), and nothing more. The host
 * owns the event loop, the committer, the run slots across jobs and the
 * spool directory; a Job reaches them only through this struct, never
 * through the host's own type. Every callback gets the host's userdata first
 * and is called on the loop thread. The host outlives its jobs and keeps the
 * struct (and what conf points to) valid and unmoved while any job exists.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "cgroup.h"
#include "committer.h"
#include "conf.h"
#include "keeper-client.h"
#include "macro.h"

typedef struct Job Job;

typedef struct JobHostOps {
        /* j has records to flush (first change since its last job_flush()): call job_flush(j, gen) for the
         * next commit, before the loop sleeps. Called once per flush window per job. */
        void (*mark_dirty)(void *userdata, Job *j);
        /* Slots or ready nodes changed: offer slots (job_start_ready()) before the loop sleeps. */
        void (*schedule_soon)(void *userdata);
        /* Offer slots again in about usec, unless a pass is due sooner (a shortage nothing else ends). */
        void (*schedule_later)(void *userdata, uint64_t usec);
        /* j took (delta +1) or gave back (-1) a run slot; the host keeps the total against MaxParallel=. */
        void (*slots_changed)(void *userdata, Job *j, int delta);
        /* An attempt was spawned (a statistic). May be NULL. */
        void (*spawned)(void *userdata);
        /* An attempt ended with the kernel's accounting in n (cgroup isolation; a statistic). May be NULL.
         */
        void (*accounted)(void *userdata, const NodeRun *n);
        /* Whether nodes may start at all (false once the host is shutting down). */
        bool (*may_start)(void *userdata);
        /* j has just finished (its final state is set, not yet durable): it starts nothing more. May be
         * NULL. */
        void (*finished)(void *userdata, Job *j);
        /* j's end is durable and its run-time state released: it no longer competes for slots. */
        void (*settled)(void *userdata, Job *j);
        /* The settled j is being retried (job_retry()): it competes for slots again. Returns 0, or -errno
         * and then j stays settled. */
        int (*retried)(void *userdata, Job *j);
        /* The id of the unfinished job of uid holding idempotency key `key`, or 0. */
        uint64_t (*key_holder)(void *userdata, const char *key, uid_t uid);
        /* Open the directory of job id (jobs/ID, or jobs/.#ID until published) read-only. Returns an fd
         * (the caller's) or -errno (-EMFILE/-ENFILE: a shortage of fds). */
        int (*open_job_dir)(void *userdata, uint64_t id);
        /* What attempt logs must leave free on the spool's filesystem (bytes, inodes; 0 = no floor). */
        void (*log_floor)(void *userdata, uint64_t *ret_bytes, uint64_t *ret_inodes);
        /* Return freed heap to the kernel soon (after a big job's transient work). May be NULL. */
        void (*trim_soon)(void *userdata);
        /* Recording state failed (out of memory): stop everything now. Never returns. */
        void (*fail_stop)(void *userdata, int error, const char *what);
} JobHostOps;

typedef struct JobHost {
        sd_event *event;
        Committer *committer;   /* journal records go here (job_flush()) */
        int jobs_fd;            /* the spool's jobs/ directory, which committer writes go below (borrowed) */
        const DaemonConf *conf; /* read at each use (a reload may change it): max_log_size and
                                 * max_interrupted_reruns */
        const char *exec_helper; /* orchd-exec, for nodes run as their owner */
        const char *pam_confdir; /* its PAM service directory, NULL = /etc/pam.d */
        Cgroups *cgroups;        /* attempt cgroups (cgroup.h); NULL or pgroup isolation: process groups */
        KeeperSet *keepers;      /* where attempts run; NULL = in orchd itself (unit tests) */
        const JobHostOps *ops;
        void *userdata;
} JobHost;
