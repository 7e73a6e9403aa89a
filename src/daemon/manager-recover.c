/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager-recover.c — the jobs found in jobs/ID/ at start.
 *
 * Owns: listing jobs/, loading each job's files (journal_load) into a Job,
 * quarantining a job whose files are corrupt (moved to SPOOL/corrupt/ID and
 * reported; the daemon still starts), and the order and pace of loading:
 * the unfinished jobs (marked in jobs/.unfinished) first, then the rest
 * within a start-up budget, the remainder in slices on the loop (or at once
 * for a job someone asks about, manager_get_job()).
 * Invariants: no job is accepted from new/ and nothing that needs every job
 * (caps, keys, KeepFinished=) runs until every job is loaded; a shortage of
 * fds or memory while loading is waited out, never mistaken for corruption.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "escape.h"
#include "fsutil.h"
#include "jobid.h"
#include "journal.h"
#include "log.h"
#include "macro.h"
#include "manager-internal.h"
#include "retention.h"
#include "unfinished.h"

/* ---- recovery --------------------------------------------------------------------------------- */

/* Move jobs/ID to corrupt/ID so the daemon can start; nothing is deleted. */
static void quarantine_job(Manager *m, const char *name, const char *why) {
        int spool_fd = spool_dir_fd(m->spool);
        _cleanup_close_ int cfd = open_dir_at(spool_fd, "corrupt", 0750);
        int r;

        r = cfd < 0 ? cfd : rename_noreplace(spool_jobs_fd(m->spool), name, cfd, name);
        if (r < 0)
                log_error_errno(
                        r, "Job %s is corrupt (%s) and could not be moved to corrupt/: %m; ignoring it.",
                        name, why);
        else
                log_error("Job %s is corrupt (%s); moved to %s/corrupt/%s.", name, why, m->config.spool_path,
                          name);
}

/* A job without "name" is named after the file it was accepted from (run->source, without .json), as at
 * acceptance, so it keeps its name across restarts; by its id only if no usable source was recorded. */
static int name_recovered_job(JobSpec *spec, const JobRun *run, const char *id) {
        char *n;

        if (spec->name[0] != '\0')
                return 0; /* the file names it */
        n = run->source ? jobspec_name_from_filename(run->source) : NULL;
        if (n && (n[0] == '\0' || find_control_char(n, strlen(n), false))) /* a hand-edited state file */
                n = mfree(n);
        if (!n)
                n = strdup(id);
        if (!n)
                return -ENOMEM;
        free(spec->name);
        spec->name = n;
        return 0;
}

static int load_job(Manager *m, const char *name, uint64_t id) {
        _cleanup_(jobspec_freep) JobSpec *spec = NULL;
        _cleanup_(jobspec_errors_freep) JobErrors *errors = NULL;
        _cleanup_(job_run_freep) JobRun *run = NULL;
        _cleanup_free_ char *buf = NULL, *err = NULL, *errtext = NULL;
        _cleanup_close_ int dfd = -EBADF;
        uint64_t seq = 0;
        size_t size;
        int r;

        dfd = openat(spool_jobs_fd(m->spool), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return fd_shortage(-errno) ? -errno :
                                             log_error_errno(errno, "Failed to open jobs/%s: %m", name);
        spool_tidy_job_dir(dfd); /* here, not at spool_new(): a listing of every job would delay serving */
        r = read_file_at(dfd, "job.json", m->config.limits.max_file_size, &buf, &size);
        if (fd_shortage(r) || r == -ENOMEM)
                return r; /* a shortage of ours says nothing about the job */
        if (r < 0) {
                quarantine_job(m, name, "job.json unreadable");
                return 0;
        }
        /* An explicit name has at least one character, so "" marks a job without one; it is named once its
         * state, which records the file it came from, is loaded (name_recovered_job). */
        r = jobspec_parse(buf, size, &m->config.limits, "", &spec, &errors);
        if (r < 0) {
                errtext = errors ? jobspec_errors_format(errors, "job.json") : NULL;
                quarantine_job(m, name, errtext ?: "job.json invalid");
                return 0;
        }
        r = journal_load(dfd, spec, &run, &seq, &err);
        if (fd_shortage(r))
                return r;
        if (r == -EBADMSG || r == -ENOENT) {
                quarantine_job(m, name, err ?: "state.json missing");
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to load the state of job %s: %m", name);
        if (name_recovered_job(spec, run, name) < 0)
                return log_oom();
        run->id = id;
        r = manager_add_job(m, TAKE_PTR(spec), TAKE_PTR(run), NULL, TAKE_FD(dfd), seq);
        if (r < 0)
                return log_error_errno(r, "Failed to restore job %s: %m", name);
        return 0;
}

/* Out of fds while loading is a shortage, never corruption: wait for fds to free (another process of
 * ours may hold them, or the administrator raises the limit) with a growing pause, and in the end refuse
 * to start, saying why, rather than call healthy jobs corrupt. Nothing is served yet, so waiting here
 * blocks no one. */
#define RECOVERY_FD_TRIES 8

static int load_job_patiently(Manager *m, const char *name, uint64_t id) {
        uint64_t pause = 50 * USEC_PER_MSEC;
        int r;

        for (unsigned t = 1;; t++, pause *= 2) {
                r = load_job(m, name, id);
                if (!fd_shortage(r) && r != -ENOMEM)
                        return r;
                if (t == RECOVERY_FD_TRIES)
                        return log_error_errno(
                                r,
                                "Out of %s while recovering job %s (%zu jobs loaded): %m. No "
                                "job was touched; raise LimitNOFILE= (or ulimit -n) and start "
                                "orchd again.",
                                r == -ENOMEM ? "memory" : "file descriptors", name, m->n_jobs);
                log_warning_errno(r,
                                  "Out of %s while recovering job %s; it is not corrupt. Trying again in "
                                  "%" PRIu64 " ms: %m",
                                  r == -ENOMEM ? "memory" : "file descriptors", name, pause / USEC_PER_MSEC);
                (void) usleep((useconds_t) pause);
        }
}

/* Recovery loads at most this long before the daemon serves; the rest is loaded in slices of
 * RECOVERY_SLICE_USEC on the loop, below the control socket's priority, so a spool of 100,000 finished
 * jobs answers within about a second of the start. A Status (or any call naming a job) of a job not
 * reached yet loads that one job at once (manager_get_job()). The unfinished jobs (marked, unfinished.h)
 * are loaded first, whatever the time, so nodes run from the start. What needs every job waits for the
 * end: taking files from new/, Submit, Retry and Gc (caps, idempotency keys, KeepFinished=). */
#define RECOVERY_START_USEC (500 * USEC_PER_MSEC)
#define RECOVERY_SLICE_USEC (10 * USEC_PER_MSEC)
#define RECOVERY_PAUSE_MAX_USEC (5 * USEC_PER_SEC)

/* Tests need jobs that are not loaded yet, for as long as they look: while the file named by
 * $ORCHD_RECOVERY_HOLD exists, nothing is loaded at start and the background loading waits (polled). */
#define RECOVERY_HOLD_POLL_USEC (20 * USEC_PER_MSEC)

static bool recovery_held(void) {
        const char *e = secure_getenv("ORCHD_RECOVERY_HOLD");

        return e && access(e, F_OK) == 0;
}

static void manager_loaded(Manager *m) {
        m->unloaded = mfree(m->unloaded);
        m->unloaded_taken = mfree(m->unloaded_taken);
        m->n_unloaded_ids = m->next_unloaded = m->n_unloaded = 0;
        m->marked = mfree(m->marked);
        m->n_marked = 0;
        m->load_source = sd_event_source_disable_unref(m->load_source);
        if (m->n_jobs > 0)
                log_event(LOG_INFO, LOG_EV(.message_id = ORCH_MESSAGE_RECOVERY),
                          "Recovered %zu jobs, %zu unfinished.", m->n_jobs, m->n_active);
        if (m->spool && !m->read_only.on)
                spool_hold(m->spool, false); /* takes what waited in new/ */
        manager_schedule_soon(m);
}

/* Load the next job found at start. Returns 0 (loaded, quarantined or already loaded on demand), a
 * shortage (-EMFILE, -ENFILE, -ENOMEM: try again later) or another -errno (logged). */
static int load_next(Manager *m) {
        uint64_t id = m->unloaded[m->next_unloaded];
        char name[24];
        int r;

        if (!m->unloaded_taken[m->next_unloaded]) {
                snprintf(name, sizeof(name), "%" PRIu64, id);
                r = load_job(m, name, id);
                if (r < 0)
                        return r;
                m->n_unloaded--;
        }
        m->next_unloaded++;
        return 0;
}

static int manager_on_load(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        bool held = recovery_held();
        int r = 0;

        while (!held && m->n_unloaded > 0 && now_usec(CLOCK_MONOTONIC) - t0 < RECOVERY_SLICE_USEC) {
                r = load_next(m);
                if (r < 0)
                        break;
        }
        if (r < 0 && !fd_shortage(r) && r != -ENOMEM) {
                manager_fail_stop(m, r, "the recovery of the jobs found at start");
                return 0;
        }
        if (m->n_unloaded == 0) {
                manager_loaded(m);
                manager_gc_soon(m); /* the periodic collection skipped the spool while it was loading */
                return 0;
        }
        if (r < 0) {
                m->load_pause = MIN(MAX(m->load_pause * 2, 50 * USEC_PER_MSEC), RECOVERY_PAUSE_MAX_USEC);
                log_warning_errno(r,
                                  "Out of %s while recovering job %" PRIu64
                                  "; it is not corrupt. Trying again "
                                  "in %" PRIu64 " ms: %m",
                                  r == -ENOMEM ? "memory" : "file descriptors",
                                  m->unloaded[m->next_unloaded], m->load_pause / USEC_PER_MSEC);
        } else
                m->load_pause = held ? RECOVERY_HOLD_POLL_USEC : 0;
        r = sd_event_source_set_time_relative(s, m->load_pause);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (r < 0)
                manager_fail_stop(m, r, "the recovery of the jobs found at start");
        return 0;
}

Job *manager_get_job(Manager *m, uint64_t id, int *ret_error) {
        Job *j = manager_find_job(m, id);
        char name[24];
        size_t lo;
        int r;

        *ret_error = 0;
        if (j || m->n_unloaded == 0)
                return j;
        lo = id_index(m->unloaded, m->n_unloaded_ids, id);
        if (lo == SIZE_MAX || m->unloaded_taken[lo])
                return NULL; /* not found at start, or loaded already (and since removed) */
        snprintf(name, sizeof(name), "%" PRIu64, id);
        r = load_job(m, name, id);
        if (r < 0) {
                *ret_error = r;
                return NULL;
        }
        m->unloaded_taken[lo] = true; /* quarantined or loaded: either way, done */
        j = manager_find_job(m, id);
        if (--m->n_unloaded == 0) { /* the last one: what waited for every job may go on now */
                manager_loaded(m);
                manager_gc_soon(m);
        }
        return j;
}

/* First the jobs marked unfinished (unfinished.h), whatever the time, so that their nodes run at once while
 * the rest loads; a marker without its job is removed. */
static int recover_unfinished(Manager *m) {
        int dir_fd = spool_unfinished_fd(m->spool), r;

        r = unfinished_list(dir_fd, &m->marked, &m->n_marked);
        if (r < 0)
                return log_error_errno(r, "Failed to list %s/jobs/.unfinished: %m", m->config.spool_path);
        for (size_t k = 0; k < m->n_marked; k++) {
                size_t pos = id_index(m->unloaded, m->n_unloaded_ids, m->marked[k]);
                char name[24];

                if (pos == SIZE_MAX) {
                        (void) unfinished_mark(dir_fd, m->marked[k], false);
                        continue;
                }
                snprintf(name, sizeof(name), "%" PRIu64, m->marked[k]);
                r = load_job_patiently(m, name, m->marked[k]);
                if (r < 0)
                        return r;
                m->unloaded_taken[pos] = true;
                m->n_unloaded--;
        }
        return 0;
}

int manager_recover(Manager *m) {
        uint64_t *ids = NULL, t0 = now_usec(CLOCK_MONOTONIC);
        size_t n = 0;
        int r;

        r = job_id_list(spool_jobs_fd(m->spool), &ids, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to list %s/jobs: %m", m->config.spool_path);
        m->unloaded = ids;
        m->n_unloaded_ids = m->n_unloaded = n;
        m->unloaded_taken = calloc(MAX(n, (size_t) 1), sizeof(bool));
        if (!m->unloaded_taken)
                return log_oom();
        /* Before the jobs: their running nodes may run on in the keepers the previous orchd left. */
        r = keeper_set_recover(m->keepers);
        if (r < 0)
                log_warning_errno(r, "Cannot look for the keepers of the previous orchd in %s: %m",
                                  m->run_dir);
        r = recover_unfinished(m);
        if (r < 0)
                return r;
        keeper_set_recovered(m->keepers);
        while (m->n_unloaded > 0 && now_usec(CLOCK_MONOTONIC) - t0 < RECOVERY_START_USEC &&
               !recovery_held()) {
                char name[24];

                if (!m->unloaded_taken[m->next_unloaded]) {
                        snprintf(name, sizeof(name), "%" PRIu64, ids[m->next_unloaded]);
                        r = load_job_patiently(m, name, ids[m->next_unloaded]);
                        if (r < 0)
                                return r;
                        m->n_unloaded--;
                }
                m->next_unloaded++;
        }
        retention_recover(&m->retention);
        if (m->n_unloaded == 0) {
                manager_loaded(m);
                return 0;
        }
        log_info(
                "Loaded %zu of the %zu jobs found at start; serving now and loading the rest in the "
                "background (nodes run; no job is accepted until then).",
                m->n_jobs, n);
        r = sd_event_add_time_relative(m->event, &m->load_source, CLOCK_MONOTONIC, 0, 0, manager_on_load, m);
        if (r >= 0)
                r = sd_event_source_set_priority(m->load_source, SD_EVENT_PRIORITY_IDLE);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the recovery of the remaining jobs: %m");
        (void) sd_event_source_set_description(m->load_source, "recovery");
        return 0;
}
