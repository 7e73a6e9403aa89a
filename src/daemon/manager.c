/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager.c — the daemon's root object.
 *
 * Owns: the sd_event loop, the Spool, the Committer, the control server and
 * every Job. Recovers jobs/ID/ at start (a job whose files are corrupt is
 * moved to SPOOL/corrupt/ID and reported; the daemon still starts), grants
 * run slots across jobs by priority then id, and once per loop iteration
 * (a post source) grants run slots across jobs and flushes every dirty job as one
 * group commit; whoever makes such work also enables a one-shot wake-up, so
 * that iteration comes by itself (start-up recovery included), never only
 * when some unrelated event arrives. Durability news from the committer
 * releases what waited for it. SIGTERM/SIGINT drain (running nodes are
 * stopped and recorded as interrupted), SIGHUP rescans the spool. A write of
 * our own state that failed for lack of room (or a read-only mount) switches
 * to read-only mode (readonly.c) until it can be written again; any other
 * failed write is fail-stop: everything is killed and the daemon exits
 * non-zero without reporting anything more.
 * Here: the job table, signals and construction. Admission (who may submit, the per-user caps, keys) is
 * manager-admit.c; loading jobs/ID/ at start is manager-recover.c; slots across jobs, the
 * per-iteration flush and the JobHost every Job gets are manager-schedule.c.
 */

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "journal.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"
#include "manager-internal.h"
#include "access.h"
#include "daemon-conf.h"
#include "escape.h"
#include "exec-client.h"
#include "notify.h"
#include "pwcache.h"
#include "retention.h"
#include "unfinished.h"

/* ---- job table -------------------------------------------------------------------------------- */

Job *manager_find_job(Manager *m, uint64_t id) {
        size_t lo = 0, hi = m->n_jobs;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (m->jobs[mid]->id == id)
                        return m->jobs[mid];
                if (m->jobs[mid]->id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

int manager_open_job_dir(Manager *m, uint64_t id) {
        char name[24];
        int fd = -EBADF;

        /* Until the committer has published it, an accepted job is jobs/.#ID (spool.c); the rename may
         * happen between two tries, so look for ID, .#ID, then ID again. */
        for (unsigned t = 0; t < 3 && fd < 0; t++) {
                snprintf(name, sizeof(name), "%s%" PRIu64, t == 1 ? ".#" : "", id);
                fd = openat(spool_jobs_fd(m->spool), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0 && errno != ENOENT)
                        return -errno;
        }
        return fd < 0 ? -errno : fd;
}

void manager_gc_soon(Manager *m) {
        m->retention.needed = true;
}

/* Count a job for its owner's caps: its job file's bytes always, its job and nodes while unfinished. */
static int manager_count_job(Manager *m, const JobSpec *spec, const JobRun *run, int dir_fd) {
        bool known = usage_get(&m->usage, run->uid) != NULL;
        struct stat st;
        int r;

        if (fstatat(dir_fd, "job.json", &st, AT_SYMLINK_NOFOLLOW) < 0)
                st.st_size = 0; /* recovery quarantines such a job before it gets here */
        r = usage_add_job(&m->usage, run->uid, (uint64_t) st.st_size, spec->n_nodes,
                          !job_state_is_final(run->state));
        if (r < 0)
                return r;
        /* Looked up once per user (a group lookup per job would slow the recovery of many jobs), and again
         * for everyone on reload (manager_limits_changed). */
        if (!known && access_uid_is_admin(&m->conf, geteuid(), run->uid))
                r = usage_set_exempt(&m->usage, run->uid, true);
        return r;
}

/* Make job j's marker in jobs/.unfinished say what its state does (unfinished.h): set at acceptance and
 * when recovery finds an unfinished job without one, removed when a job recovered as finished has one.
 * Best effort: a marker is a hint for the next start, so a failure is only worth a debug line. */
static void manager_sync_marker(Manager *m, const Job *j) {
        bool marked = id_index(m->marked, m->n_marked, j->id) != SIZE_MAX;
        int r;

        if (job_is_finished(j) != marked)
                return;
        r = unfinished_mark(spool_unfinished_fd(m->spool), j->id, !marked);
        if (r < 0)
                log_debug_errno(r, "Failed to %s the marker jobs/.unfinished/%" PRIu64 ": %m",
                                marked ? "remove" : "create", j->id);
}

/* Register a job (ids only grow, so appending keeps the table sorted; one loaded on demand is moved to its
 * place) and start driving it. dir_fd is
 * closed: no job holds its directory open (manager_open_job_dir()). */
int manager_add_job(Manager *m, JobSpec *spec, JobRun *run, JobPrep *prep, int dir_fd, uint64_t seq) {
        size_t pos;
        Job *j;
        int r;

        r = manager_count_job(m, spec, run, dir_fd);
        safe_close(dir_fd);
        if (r < 0) {
                jobspec_free(spec);
                job_run_free(run);
                jobprep_free(prep);
                return r;
        }
        r = job_new(&m->job_host, spec, run, prep, &j);
        if (r < 0)
                return r;
        j->seq = seq;
        r = push_ptr(&m->jobs, &m->n_jobs, &m->cap_jobs, j);
        if (r < 0) {
                job_free(j);
                return r;
        }
        /* A job loaded on demand during recovery (manager_get_job()) may come before loaded ones. */
        for (pos = m->n_jobs - 1; pos > 0 && m->jobs[pos - 1]->id > j->id; pos--)
                m->jobs[pos] = m->jobs[pos - 1];
        m->jobs[pos] = j;
        manager_sync_marker(m, j);
        if (job_is_finished(j))
                return 0;
        r = manager_add_active(m, j);
        if (r < 0)
                return r;
        return job_activate(j);
}

/* spool_fatal_cb */
static void manager_spool_fatal(int error, const char *what, void *userdata) {
        manager_fail_stop(userdata, error, what);
}

/* ReadOnly.on_writable: the spool can be written again. */
static void manager_on_writable(void *userdata) {
        Manager *m = userdata;

        spool_hold(m->spool, manager_loading(m) > 0); /* recovery unholds it when it ends */
        manager_schedule_soon(m);
}

/* Retention.may_collect: not while stopping, after a fail-stop or while jobs are still being loaded. */
static bool manager_may_collect(void *userdata) {
        Manager *m = userdata;

        return !m->stopping && !m->failed && !manager_loading(m);
}

/* Retention.on_removed */
static void manager_on_removed(void *userdata) {
        manager_trim_soon(userdata);
}

static void manager_on_accepted(Spool *s, JobSpec *spec, JobRun *run, JobPrep *prep, int dir_fd,
                                void *userdata) {
        Manager *m = userdata;
        uint64_t id = run->id;
        int r;

        if (spec->n_nodes >= BIG_JOB_NODES)
                manager_trim_soon(m); /* parsing left a large transient heap behind */
        r = manager_add_job(m, spec, run, prep, dir_fd, 0);
        if (r < 0)
                manager_fail_stop(m, r, "registering an accepted job");
        /* Its acceptance waits in the committer's open batch, which the next seal takes. */
        job_note_accepted(manager_find_job(m, id), committer_next_gen(m->committer));
        log_debug("Job %" PRIu64 " registered.", id);
}

static void manager_on_committed(Committer *c, uint64_t gen, void *userdata) {
        Manager *m = userdata;

        /* Copy: settling a job removes it from the active list while we walk it. */
        for (size_t i = m->n_active; i > 0; i--)
                if (i - 1 < m->n_active)
                        job_on_durable(m->active[i - 1], gen);
        if (m->hooks.on_durable)
                m->hooks.on_durable(gen, m->hooks.userdata);
}

static void manager_on_commit_error(Committer *c, int error, const char *what, void *userdata) {
        Manager *m = userdata;

        /* Out of room: wait for it (the committer keeps what it could not write) instead of exiting. */
        if (readonly_error_waits(error) && readonly_enter(&m->read_only, error, what) >= 0)
                return;
        manager_fail_stop(m, error, what);
}

void manager_fail_stop(Manager *m, int error, const char *what) {
        log_full_errno(LOG_EMERG, error,
                       "Failed to make %s durable: %m. Stopping now without recording or reporting "
                       "anything more; the next start recovers from disk.",
                       what);
        m->failed = true;
        for (size_t i = 0; i < m->n_active; i++)
                job_kill_all(m->active[i]);
        /* No drain, no cleanup, no more writes or replies: the state on disk is the last durable one, and
         * the next start recovers from it. This is the one exit outside main(), on purpose. */
        _exit(EXIT_FAILURE);
}

/* ---- signals and shutdown --------------------------------------------------------------------- */

static int manager_on_stop_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        char why[64];

        snprintf(why, sizeof(why), "Received %s", strsignal((int) si->ssi_signo));
        manager_stop(m, m->conf.kill_nodes, why);
        return 0;
}

/* Re-read orchd.conf (daemon-conf.c) and make the running daemon follow the reloadable keys. */
static void manager_reload(Manager *m) {
        DaemonConf new;
        int r;

        pwcache_flush(); /* an administrator who changed an account and reloads expects it seen now */
        r = daemon_conf_reload(m->config.config_path, m->config.config_required, m->config.cmdline, &m->conf,
                               &new);
        if (r < 0)
                return;
        conf_done(&m->conf);
        m->conf = new;
        log_set_max_level(m->conf.log_level);
        keeper_set_stay(m->keepers, !m->conf.kill_nodes);
        manager_limits_changed(m); /* AdminGroup=, the caps and the floor */
        manager_gc_soon(m);        /* KeepFinished= may keep less now */
        manager_schedule_soon(m);  /* more slots may be free now */
        log_info("Configuration reloaded: %d setting(s) changed; %u parallel, log level %d, %" PRIu64
                 " bytes per attempt log.",
                 r, m->conf.max_parallel, m->conf.log_level, m->conf.max_log_size);
}

static int manager_on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("Received SIGHUP: reloading the configuration and rescanning the spool.");
        notify_reloading();
        manager_reload(m);
        (void) spool_rescan(m->spool);
        notify_ready(&m->notifier);
        return 0;
}

/* ---- construction ----------------------------------------------------------------------------- */

static int manager_setup_signals(Manager *m) {
        int r;

        r = sd_event_add_signal(m->event, &m->sig_term, SIGTERM, manager_on_stop_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sig_int, SIGINT, manager_on_stop_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sig_hup, SIGHUP, manager_on_sighup, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up signal handling: %m");
        return 0;
}

static int config_copy(ManagerConfig *dst, const ManagerConfig *src) {
        *dst = *src;
        dst->spool_path = strdup(src->spool_path);
        dst->socket_path = strdup(src->socket_path);
        return dst->spool_path && dst->socket_path ? 0 : -ENOMEM;
}

/* DropGroup= as a gid, or (gid_t) -1 (unset). An unknown group is an error: new/ would otherwise be open
 * to everyone, which is not what the administrator asked for. */
static int manager_drop_gid(Manager *m, gid_t *ret) {
        const struct group *gr;

        *ret = (gid_t) -1;
        if (!m->conf.drop_group)
                return 0;
        if (geteuid() != 0) {
                log_warning(
                        "DropGroup=%s is ignored: only orchd running as root takes files of other users.",
                        m->conf.drop_group);
                return 0;
        }
        gr = getgrnam(m->conf.drop_group);
        if (!gr)
                return log_error_errno(ENOENT, "DropGroup=%s: no such group.", m->conf.drop_group);
        *ret = gr->gr_gid;
        return 0;
}

/* The isolation of attempts (cgroup.h), once the spool and its id exist. */
static int manager_setup_cgroups(Manager *m) {
        char id[SPOOL_ID_SIZE];
        bool known = spool_read_id(m->config.spool_path, id) >= 0;
        int r;

        r = cgroups_new(known ? id : NULL, !m->conf.isolation_pgroup, &m->cgroups);
        if (r < 0)
                return log_oom();
        spool_set_resources(m->spool, cgroups_enabled(m->cgroups), cgroups_controllers(m->cgroups));
        return 0;
}

int manager_new(const ManagerConfig *config, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        gid_t drop_gid;
        SpoolConfig sc;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return log_oom();
        if (config_copy(&m->config, config) < 0 || (config->conf && conf_merge(&m->conf, config->conf) < 0))
                return log_oom();
        m->started_at_usec = now_usec(CLOCK_MONOTONIC);

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to create the event loop: %m");
        (void) sd_event_set_watchdog(m->event, true);
        r = manager_setup_signals(m);
        if (r < 0)
                return r;
        if (asprintf(&m->run_dir, "%s/run", m->config.spool_path) < 0)
                return log_oom();
        r = keeper_set_new(m->event,
                           &(KeeperSetConfig){ .path = m->config.keeper_path,
                                               .helper = m->config.exec_helper,
                                               .run_dir = m->run_dir,
                                               .stay = !m->conf.kill_nodes },
                           &m->keepers);
        if (r < 0)
                return r;
        r = committer_new(m->event, manager_on_committed, manager_on_commit_error, m, &m->committer);
        if (r < 0)
                return log_error_errno(r, "Failed to start the committer thread: %m");
        /* Before recovery, which already has work for the first iteration. Lowest priority: it only
         * matters when nothing else is pending. */
        r = sd_event_add_defer(m->event, &m->wake_source, manager_on_wake, m);
        if (r >= 0)
                r = sd_event_source_set_priority(m->wake_source, SD_EVENT_PRIORITY_IDLE);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->wake_source, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Failed to add the wake-up source: %m");
        (void) sd_event_source_set_description(m->wake_source, "manager-wake");

        r = manager_drop_gid(m, &drop_gid);
        if (r < 0)
                return r;
        sc = (SpoolConfig){ .path = m->config.spool_path,
                            .limits = m->config.limits,
                            .committer = m->committer,
                            .key_in_use = manager_key_in_use,
                            .may_run = manager_spool_may_run,
                            .drop_gid = drop_gid,
                            .admit = manager_spool_admit,
                            .on_fatal = manager_spool_fatal,
                            .min_free_bytes = m->conf.min_free_bytes,
                            .min_free_percent = m->conf.min_free_percent };
        r = spool_new(m->event, &sc, manager_on_accepted, m, &m->spool);
        if (r < 0)
                return r;
        r = manager_setup_cgroups(m);
        if (r < 0)
                return r;
        m->read_only.event = m->event;
        m->read_only.spool = m->spool;
        m->read_only.committer = m->committer;
        m->read_only.spool_path = m->config.spool_path;
        m->read_only.on_writable = manager_on_writable;
        m->read_only.on_fatal = manager_spool_fatal;
        m->read_only.userdata = m;
        m->retention = (Retention){ .event = m->event,
                                    .spool = m->spool,
                                    .committer = m->committer,
                                    .usage = &m->usage,
                                    .conf = &m->conf,
                                    .jobs = &m->jobs,
                                    .n_jobs = &m->n_jobs,
                                    .may_collect = manager_may_collect,
                                    .on_fatal = manager_spool_fatal,
                                    .on_removed = manager_on_removed,
                                    .userdata = m };
        m->job_host = (JobHost){ .event = m->event,
                                 .committer = m->committer,
                                 .jobs_fd = spool_jobs_fd(m->spool),
                                 .conf = &m->conf,
                                 .exec_helper = m->config.exec_helper,
                                 .pam_confdir = m->config.pam_confdir,
                                 .cgroups = m->cgroups,
                                 .keepers = m->keepers,
                                 .ops = &manager_job_host_ops,
                                 .userdata = m };
        r = readonly_check_at_start(&m->read_only);
        if (r < 0)
                return r;
        r = manager_recover(m);
        if (r < 0)
                return r;
        cgroups_sweep(m->cgroups); /* after the orphans' process groups, before any node starts */
        r = sd_event_add_post(m->event, &m->post_source, manager_on_post, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the post source: %m");
        *ret = TAKE_PTR(m);
        return 0;
}

int manager_start(Manager *m) {
        int r;

        r = retention_start(&m->retention);
        if (r < 0)
                return r;
        if (manager_loading(m))
                spool_hold(m->spool, true); /* until every job found at start is loaded (manager_loaded()) */
        r = spool_start(m->spool);
        if (r < 0)
                return r;
        manager_schedule_soon(m);
        return 0;
}

void manager_set_hooks(Manager *m, const ManagerHooks *hooks) {
        m->hooks = hooks ? *hooks : (ManagerHooks){};
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_jobs; i++)
                job_free(m->jobs[i]);
        free(m->jobs);
        m->keepers = keeper_set_free(m->keepers);
        m->run_dir = mfree(m->run_dir);
        free(m->active);
        free(m->startable);
        free(m->dirty);
        m->committer = committer_free(m->committer);
        spool_free(m->spool);
        /* After the jobs: their tasks are freed, or detached (their attempts and cgroups run on). */
        m->cgroups = m->detached ? cgroups_leave(m->cgroups) : cgroups_free(m->cgroups);
        sd_event_source_disable_unref(m->post_source);
        sd_event_source_disable_unref(m->wake_source);
        sd_event_source_disable_unref(m->later_source);
        sd_event_source_disable_unref(m->trim_source);
        sd_event_source_disable_unref(m->batch_source);
        sd_event_source_disable_unref(m->sig_term);
        sd_event_source_disable_unref(m->sig_int);
        sd_event_source_disable_unref(m->sig_hup);
        notify_done(&m->notifier);
        readonly_done(&m->read_only);
        retention_done(&m->retention);
        sd_event_source_disable_unref(m->load_source);
        free(m->unloaded);
        free(m->unloaded_taken);
        free(m->marked);
        sd_event_unref(m->event);
        free(m->config.spool_path);
        free(m->config.socket_path);
        conf_done(&m->conf);
        usage_done(&m->usage);
        return mfree(m);
}

/* The figures of notify.c's STATUS= line. */
static void manager_notify_counts(NotifyCounts *ret, void *userdata) {
        Manager *m = userdata;

        for (size_t i = 0; i < m->n_jobs; i++) {
                JobState s = m->jobs[i]->run->state;

                if (job_state_is_final(s))
                        ret->finished++;
                else if (s == JOB_QUEUED)
                        ret->queued++;
                else
                        ret->running++; /* running or paused: started and not finished */
        }
        ret->loading = manager_loading(m);
        ret->nodes_running = m->n_running;
        ret->read_only = m->read_only.on;
}

int manager_run(Manager *m) {
        int r;

        m->notifier = (Notifier){ .event = m->event, .counts = manager_notify_counts, .userdata = m };
        (void) notify_ready(&m->notifier);
        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m"), EXIT_FAILURE;
        return r;
}
