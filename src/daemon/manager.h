/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Manager: owns the event loop, the spool, the committer
 * and every Job (by id). Recovers jobs from jobs/ID/ at start, then grants
 * run slots across jobs by priority (FIFO within a priority), flushes dirty
 * state once per loop iteration through the committer, and handles signals.
 */

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "cgroup.h"
#include "macro.h"
#include "time-util.h"
#include "committer.h"
#include "conf.h"
#include "control.h"
#include "jobspec.h"
#include "keeper-client.h"
#include "notify.h"
#include "readonly.h"
#include "retention.h"
#include "job.h"
#include "spool.h"
#include "usage.h"

typedef struct Manager Manager;

typedef struct ManagerConfig {
        char *spool_path;
        char *socket_path;
        JobLimits limits;
        const DaemonConf *conf;    /* the effective configuration at start (copied) */
        const char *exec_helper;   /* orchd-exec, which starts nodes as their owner (borrowed) */
        const char *keeper_path;   /* orchd-keeper, which runs the nodes of one owner (borrowed) */
        const char *pam_confdir;   /* directory of its PAM service file; NULL = /etc/pam.d (borrowed) */
        const char *config_path;   /* orchd.conf re-read on SIGHUP, or NULL (borrowed) */
        bool config_required;      /* named with --config: missing is an error */
        const DaemonConf *cmdline; /* flags that override the file, also on reload (borrowed) */
} ManagerConfig;

/* What the layer above (the varlink methods, methods.h) is told; every member may be NULL. */
typedef struct ManagerHooks {
        void (*on_durable)(uint64_t gen, void *userdata); /* generation gen of the journal is durable */
        void (*on_drained)(void *userdata); /* stopping: all is recorded and durable, the loop exits next */
        void *userdata;
} ManagerHooks;

struct Manager {
        sd_event *event;
        ManagerConfig config;
        DaemonConf conf;   /* effective configuration (defaults, file, flags), reloaded on SIGHUP */
        Notifier notifier; /* sd_notify STATUS= updates (notify.h) */
        Spool *spool;
        Committer *committer;
        Cgroups *cgroups;   /* attempt cgroups, or process groups (cgroup.h) */
        KeeperSet *keepers; /* the owners' orchd-keepers, where nodes run */
        char *run_dir;      /* SPOOL/run (0700): the keepers' sockets */
        ManagerHooks hooks; /* the methods layer (manager_set_hooks()) */
        JobHost job_host;   /* what every Job reaches of the manager (job-host.h) */
        sd_event_source *post_source;
        sd_event_source *wake_source;  /* one-shot defer: makes the post source run (manager_wake) */
        sd_event_source *later_source; /* one-shot timer: a scheduling pass after a shortage of fds */
        sd_event_source *trim_source;  /* one-shot timer: malloc_trim() once big replies have stopped */
        sd_event_source *batch_source; /* one-shot timer: ends a commit's wait for starts' answers */
        uint64_t batch_since;          /* CLOCK_MONOTONIC: a commit waits for starts' answers since; 0 */
        sd_event_source *sig_term, *sig_int, *sig_hup;

        Job **jobs; /* every job, sorted by id */
        size_t n_jobs, cap_jobs;
        Job **active; /* jobs not yet settled (job_is_settled()), by priority desc, id asc */
        size_t n_active, cap_active;
        /* The unfinished ones of active, in the same order: what scheduling walks. Finished jobs wait in
         * active for their last commit; in a burst they pile up there by the hundred. */
        Job **startable;
        size_t n_startable, cap_startable;
        Job **dirty; /* jobs with unflushed records */
        size_t n_dirty, cap_dirty;

        Retention retention;  /* KeepFinished=, gc, remove (retention.h) */
        uint64_t *unloaded;   /* ids found at start, ascending: loaded from next_unloaded on */
        bool *unloaded_taken; /* per id: loaded on demand (manager_get_job()) or first (marked) */
        uint64_t *marked;     /* while loading: the ids jobs/.unfinished had at start, ascending */
        size_t n_marked;
        size_t n_unloaded_ids, next_unloaded, n_unloaded;
        sd_event_source *load_source; /* loads the rest in slices (manager.c, "recovery") */
        uint64_t load_pause;          /* after a shortage of fds or memory while loading */

        unsigned n_running;      /* slots in use across jobs */
        Usage usage;             /* per-user counts: the UserMax*= caps and the fair share of slots */
        UsageDenial last_denial; /* the cap the last refused admission hit (for Submit's LimitExceeded) */
        bool schedule_needed;
        bool trim_needed;
        bool stopping;
        bool detached;            /* stopping with KillNodes=no: running nodes were left to their keepers */
        bool failed;              /* fail-stop: exit non-zero */
        ReadOnly read_only;       /* the spool cannot be written: waiting for room (readonly.h) */
        uint64_t started_at_usec; /* CLOCK_MONOTONIC */
        uint64_t n_spawned;
        /* Totals of the kernel's accounting of attempts ended since start (cgroup isolation). */
        uint64_t acct_attempts, acct_cpu_usec, acct_io_read_bytes, acct_io_write_bytes;
};

/* Build everything and recover jobs from disk (no control socket: the methods layer adds it, methods.h).
 * Returns 0, -EALREADY when another orchd holds the spool (nothing was touched), or -errno (logged). */
int manager_new(const ManagerConfig *config, Manager **ret);
/* Start the periodic collection and watching new/ (after the control socket listens). Returns 0 or -errno
 * (logged). */
int manager_start(Manager *m);
/* Install what the layer above is told (copied; NULL: nothing). */
void manager_set_hooks(Manager *m, const ManagerHooks *hooks);
/* Accepts NULL, returns NULL. */
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);
/* Run the event loop until shutdown. Returns the exit status for main(). */
int manager_run(Manager *m);

/* Stop: with kill_nodes, stop every running node (TERM, kill_grace, KILL), record it interrupted and exit
 * once all are; without, leave them to their keepers and exit now (KillNodes=no). why starts the log line
 * ("Received Terminated", "uid 0 asked to stop the nodes"). A second call kills every running node. */
void manager_stop(Manager *m, bool kill_nodes, const char *why);

/* Lookup by id among the loaded jobs, or NULL. */
Job *manager_find_job(Manager *m, uint64_t id);
/* Lookup by id, loading the job now if start-up recovery has not reached it yet. Returns the job, or NULL
 * with *ret_error 0 (no such job, or it was corrupt and moved to corrupt/) or -errno. */
Job *manager_get_job(Manager *m, uint64_t id, int *ret_error);
/* Jobs found at start that are not loaded yet (0 once recovery is complete). While any are left, nothing
 * is taken from new/, and Submit, Retry and Gc are refused (their caps and key checks need every job);
 * nodes of the jobs loaded (every unfinished one that was marked) run. */
static inline size_t manager_loading(const Manager *m) {
        return m->n_unloaded;
}
/* Open jobs/ID (jobs hold no directory fd of their own while they run nothing). Returns the fd or -errno
 * (-EMFILE/-ENFILE: a shortage of fds, see fd_shortage()). */
int manager_open_job_dir(Manager *m, uint64_t id);
/* KeepFinished= may remove jobs now (a job ended, the configuration changed): collect before sleeping. */
void manager_gc_soon(Manager *m);

/* Slots or ready nodes changed: run a scheduling pass before the loop sleeps. */
void manager_schedule_soon(Manager *m);
/* A scheduling pass in about usec (unless one is due sooner): after a shortage that nothing else is sure to
 * end, such as out of fds with no node running. */
void manager_schedule_later(Manager *m, uint64_t usec);
/* malloc_trim() TRIM_LATER_USEC after the last of a series of calls: it costs tens of ms of the loop with a
 * big heap, so a burst of big replies (each of which leaves a freed heap behind) pays for it once, later. */
#define TRIM_LATER_USEC (10 * USEC_PER_SEC)
void manager_trim_later(Manager *m);
/* Return freed heap memory to the kernel before the loop sleeps. */
void manager_trim_soon(Manager *m);

/* Whether jobs of uid may be accepted now (SPEC §8): AllowUsers=/DenyUsers= (access_may_run()) and, for
 * other users of a root daemon, the account itself (orchd-exec check-account: not locked or expired, PAM
 * account management passes). Returns 0, -EPERM (policy) or -EKEYREJECTED (account) with *ret_why (malloc'd,
 * for the rejection), or -ENOMEM. */
int manager_may_run(Manager *m, uid_t uid, char **ret_why);

/* The unfinished job of owner uid holding idempotency key `key`, or 0. */
uint64_t manager_key_holder(Manager *m, const char *key, uid_t uid);
/* Whether uid may have one more unfinished job of `nodes` nodes and `bytes` more of job files (orchd.conf
 * UserMax*=; root, the daemon's user and AdminGroup= are exempt). Returns 0, or -EDQUOT with *ret_why
 * (malloc'd, "user alice has …") and m->last_denial set, or -ENOMEM. */
int manager_admit(Manager *m, uid_t uid, uint64_t bytes, uint64_t nodes, char **ret_why);
/* AdminGroup=, the per-user caps or MinFreeSpace= may have changed (reload): apply them. */
void manager_limits_changed(Manager *m);
/* A write of our own state failed: stop now without reporting anything more. */
_noreturn_ void manager_fail_stop(Manager *m, int error, const char *what);
