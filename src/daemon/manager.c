/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager.c — the daemon's root object.
 *
 * Owns: the sd_event loop, the Spool, the Committer, the control server and
 * every Job. Recovers jobs/ID/ at start (a job whose files are corrupt is
 * moved to SPOOL/corrupt/ID and reported; the daemon still starts), grants
 * run slots across jobs by priority then id, and once per loop iteration
 * (a post source) runs the scheduler and flushes every dirty job as one
 * group commit; whoever makes such work also enables a one-shot wake-up, so
 * that iteration comes by itself (start-up recovery included), never only
 * when some unrelated event arrives. Durability news from the committer
 * releases what waited for it. SIGTERM/SIGINT drain (running nodes are
 * stopped and recorded as interrupted), SIGHUP rescans the spool. A write of
 * our own state that failed for lack of room (or a read-only mount) switches
 * to read-only mode (readonly.c) until it can be written again; any other
 * failed write is fail-stop: everything is killed and the daemon exits
 * non-zero without reporting anything more.
 */

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
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
#include "manager.h"
#include "access.h"
#include "daemon-conf.h"
#include "escape.h"
#include "exec-client.h"
#include "methods.h"
#include "notify.h"
#include "retention.h"
#include "unfinished.h"

static int push_ptr(void *array, size_t *n, size_t *cap, void *p) {
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
        m->gc_needed = true;
}

/* Higher priority first, then older (smaller id) first. */
static bool runs_before(const Job *a, const Job *b) {
        if (a->spec->priority != b->spec->priority)
                return a->spec->priority > b->spec->priority;
        return a->id < b->id;
}

static int manager_add_active(Manager *m, Job *j) {
        size_t pos;
        int r;

        r = push_ptr(&m->active, &m->n_active, &m->cap_active, j);
        if (r < 0)
                return r;
        for (pos = m->n_active - 1; pos > 0 && runs_before(j, m->active[pos - 1]); pos--)
                m->active[pos] = m->active[pos - 1];
        m->active[pos] = j;
        return 0;
}

static void manager_job_settled(void *userdata, Job *j) {
        Manager *m = userdata;

        for (size_t i = 0; i < m->n_active; i++)
                if (m->active[i] == j) {
                        memmove(m->active + i, m->active + i + 1, (m->n_active - i - 1) * sizeof(Job *));
                        m->n_active--;
                        (void) usage_job_finished(&m->usage, j->run->uid, j->spec->n_nodes, true);
                        break;
                }
        if (m->conf.keep_count != CONF_KEEP_FOREVER && m->n_jobs - m->n_active > m->conf.keep_count)
                manager_gc_soon(m);
        (void) unfinished_mark(spool_unfinished_fd(m->spool), j->id, false);
        spool_kick(m->spool); /* jobs waiting for room may fit now */
}

static int manager_job_retried(void *userdata, Job *j) {
        Manager *m = userdata;
        int r = manager_add_active(m, j);

        (void) unfinished_mark(spool_unfinished_fd(m->spool), j->id, true);
        if (r >= 0)
                r = usage_job_finished(&m->usage, j->run->uid, j->spec->n_nodes, false);
        if (r >= 0)
                manager_schedule_soon(m);
        return r;
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

/* Index of id in the sorted ids[0, n), or SIZE_MAX. */
static size_t id_index(const uint64_t *ids, size_t n, uint64_t id) {
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
static int manager_add_job(Manager *m, JobSpec *spec, JobRun *run, JobPrep *prep, int dir_fd, uint64_t seq) {
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

uint64_t manager_key_holder(Manager *m, const char *key, uid_t uid) {
        /* Only unfinished jobs hold their key, and those are exactly the active ones. */
        for (size_t i = 0; i < m->n_active; i++) {
                const Job *j = m->active[i];

                if (!job_is_finished(j) && j->run->uid == uid && j->spec->key && streq(j->spec->key, key))
                        return j->id;
        }
        return 0;
}

/* An account check that does not answer within this long is a refusal (a directory service may hang). */
#define MANAGER_ACCOUNT_CHECK_USEC (10 * USEC_PER_SEC)

int manager_may_run(Manager *m, uid_t uid, char **ret_why) {
        const struct passwd *pw;
        int r, account;

        r = access_may_run(&m->conf, geteuid(), uid, ret_why);
        if (r < 0 || geteuid() != 0 || uid == 0)
                return r; /* nodes of root, and of a daemon that is not root, run without the helper */
        /* As cron and atd do at each run: a job is taken only from an account that could log in now. */
        r = exec_check_account(m->config.exec_helper, m->config.pam_confdir, uid, MANAGER_ACCOUNT_CHECK_USEC,
                               &account);
        pw = getpwuid(uid);
        if (r < 0) {
                log_warning_errno(r, "Cannot check the account of uid %u with %s: %m", (unsigned) uid,
                                  m->config.exec_helper);
                r = asprintf(ret_why,
                             "account check failed: orchd could not check the account of %s%s%u (%s); ask "
                             "the administrator to look at orchd's log",
                             pw ? "user " : "uid ", pw ? pw->pw_name : "", (unsigned) uid, strerror(-r));
                return r < 0 ? -ENOMEM : -EKEYREJECTED;
        }
        if (account == EXEC_ACCOUNT_OK)
                return 0;
        r = access_account_why(pw ? pw->pw_name : NULL, uid, account, ret_why);
        return r == -EPERM ? -EKEYREJECTED : r;
}

static int manager_spool_may_run(uid_t uid, char **ret_why, void *userdata) {
        return manager_may_run(userdata, uid, ret_why);
}

int manager_admit(Manager *m, uid_t uid, uint64_t bytes, uint64_t nodes, char **ret_why) {
        const UsageLimits limits = { .max = {
                                             [USAGE_JOBS] = m->conf.user_max_jobs,
                                             [USAGE_BYTES] = m->conf.user_max_bytes,
                                             [USAGE_NODES] = m->conf.user_max_nodes,
                                     } };
        const struct passwd *pw;
        char user[64];
        int r;

        *ret_why = NULL;
        r = usage_admit(&m->usage, &limits, uid, false, bytes, nodes, &m->last_denial);
        if (r >= 0 || access_uid_is_admin(&m->conf, geteuid(), uid))
                return 0;
        pw = getpwuid(uid);
        if (pw)
                snprintf(user, sizeof(user), "%s", pw->pw_name);
        else
                snprintf(user, sizeof(user), "%u", (unsigned) uid);
        *ret_why = usage_denial_format(&m->last_denial, user);
        return *ret_why ? -EDQUOT : -ENOMEM;
}

static int manager_spool_admit(uid_t uid, uint64_t bytes, uint64_t nodes, char **ret_why, void *userdata) {
        return manager_admit(userdata, uid, bytes, nodes, ret_why);
}

void manager_limits_changed(Manager *m) {
        uid_t self = geteuid();

        for (size_t i = 0; i < m->usage.n_users; i++)
                m->usage.users[i].exempt = access_uid_is_admin(&m->conf, self, m->usage.users[i].uid);
        if (m->spool)
                spool_set_min_free(m->spool, m->conf.min_free_bytes, m->conf.min_free_percent);
}

static uint64_t manager_key_in_use(const char *key, uid_t uid, void *userdata) {
        return manager_key_holder(userdata, key, uid);
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

/* ---- recovery --------------------------------------------------------------------------------- */

/* Move jobs/ID to corrupt/ID so the daemon can start; nothing is deleted. */
static void quarantine_job(Manager *m, const char *name, const char *why) {
        int spool_fd = spool_dir_fd(m->spool);
        _cleanup_close_ int cfd = open_dir_at(spool_fd, "corrupt", 0750);
        int r;

        r = cfd < 0 ? cfd : rename_noreplace(spool_jobs_fd(m->spool), name, cfd, name);
        if (r < 0)
                log_error_errno(r,
                                "Job %s is corrupt (%s) and could not be moved to corrupt/: %m; ignoring it.",
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
                        return log_error_errno(r,
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

static int id_cmp(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
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

static int manager_recover(Manager *m) {
        uint64_t *ids = NULL, t0 = now_usec(CLOCK_MONOTONIC);
        size_t n = 0, cap = 0;
        struct dirent *de;
        DIR *d;
        int fd, r;

        fd = openat(spool_jobs_fd(m->spool), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                safe_close(fd);
                return log_error_errno(errno, "Failed to list %s/jobs: %m", m->config.spool_path);
        }
        while ((de = readdir(d))) {
                char *end;
                unsigned long long v;

                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                errno = 0;
                v = strtoull(de->d_name, &end, 10);
                if (errno != 0 || *end != '\0')
                        continue;
                if (n == cap) {
                        uint64_t *q = reallocarray(ids, cap = MAX(cap * 2, (size_t) 64), sizeof(uint64_t));

                        if (!q) {
                                closedir(d);
                                free(ids);
                                return log_oom();
                        }
                        ids = q;
                }
                ids[n++] = v;
        }
        closedir(d);
        if (n > 1)
                qsort(ids, n, sizeof(uint64_t), id_cmp);
        m->unloaded = ids;
        m->n_unloaded_ids = m->n_unloaded = n;
        m->unloaded_taken = calloc(MAX(n, (size_t) 1), sizeof(bool));
        if (!m->unloaded_taken)
                return log_oom();
        r = recover_unfinished(m);
        if (r < 0)
                return r;
        while (m->n_unloaded > 0 && now_usec(CLOCK_MONOTONIC) - t0 < RECOVERY_START_USEC && !recovery_held()) {
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
        retention_recover(m);
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

/* ---- per-iteration work: schedule, then flush ----------------------------------------------- */

/* sd-event runs post sources only after some other source was dispatched: work that arises outside a
 * dispatch (start-up recovery, files taken from new/ at start) would wait for an unrelated event, such as a
 * client's call. The wake-up source is that other source: a one-shot defer, enabled whenever there is
 * per-iteration work, so the post source runs in the very next iteration whatever woke the loop or not. */
static void manager_wake(Manager *m) {
        if (m->wake_source)
                (void) sd_event_source_set_enabled(m->wake_source, SD_EVENT_ONESHOT);
}

/* JobHost.mark_dirty: the job is flushed with the next commit (once: the job tells us once per flush). */
static void manager_mark_dirty(void *userdata, Job *j) {
        Manager *m = userdata;

        if (push_ptr(&m->dirty, &m->n_dirty, &m->cap_dirty, j) < 0)
                manager_fail_stop(m, -ENOMEM, "recording job state");
        manager_wake(m);
}

void manager_schedule_soon(Manager *m) {
        m->schedule_needed = true;
        manager_wake(m);
}

static int manager_on_later(sd_event_source *s, uint64_t usec, void *userdata) {
        manager_schedule_soon(userdata);
        return 0;
}

void manager_schedule_later(Manager *m, uint64_t usec) {
        int r, on = SD_EVENT_OFF;

        if (m->later_source && sd_event_source_get_enabled(m->later_source, &on) >= 0 && on != SD_EVENT_OFF)
                return; /* one is due already */
        if (m->later_source) {
                r = sd_event_source_set_time_relative(m->later_source, usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->later_source, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time_relative(m->event, &m->later_source, CLOCK_MONOTONIC, usec,
                                               USEC_PER_MSEC / 10, manager_on_later, m);
                if (r >= 0)
                        (void) sd_event_source_set_description(m->later_source, "schedule-later");
        }
        if (r < 0)
                log_warning_errno(r, "Failed to arm a later scheduling pass: %m");
}

void manager_trim_soon(Manager *m) {
        m->trim_needed = true;
        manager_wake(m);
}

static int manager_on_trim_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        manager_trim_soon(userdata);
        return 0;
}

void manager_trim_later(Manager *m) {
        int r;

        if (m->trim_source) {
                r = sd_event_source_set_time_relative(m->trim_source, TRIM_LATER_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->trim_source, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time_relative(m->event, &m->trim_source, CLOCK_MONOTONIC, TRIM_LATER_USEC,
                                               USEC_PER_SEC, manager_on_trim_timer, m);
                if (r >= 0)
                        (void) sd_event_source_set_description(m->trim_source, "trim-later");
        }
        if (r < 0)
                manager_trim_soon(m); /* at once rather than never */
}

/* Whether more than one user has unfinished jobs, or a cap on running nodes applies: then slots are handed
 * out by share (schedule_shared); else by priority alone, which is the same and cheaper. */
static bool schedule_needs_share(const Manager *m) {
        unsigned users = 0;

        for (size_t i = 0; i < m->usage.n_users; i++) {
                const UserUsage *e = &m->usage.users[i];

                if (e->n[USAGE_JOBS] == 0)
                        continue;
                if (++users > 1 || (m->conf.user_max_running > 0 && !e->exempt))
                        return true;
        }
        return false;
}

/* The fair share of MaxParallel between the users with work (usage.h): first every user up to its share,
 * in priority order, then the leftovers by priority. A user with ready nodes is never starved by another
 * user's big job: as slots free, they go to whoever is below its share. */
static void schedule_shared(Manager *m, unsigned *slots) {
        Usage *u = &m->usage;

        usage_pass_begin(u, m->conf.max_parallel, m->conf.user_max_running);
        for (size_t i = 0; i < m->n_active; i++)
                if (usage_pass_note(u, m->active[i]->run->uid, m->active[i]->n_running,
                                    job_wants_slot(m->active[i])) < 0)
                        manager_fail_stop(m, -ENOMEM, "scheduling");
        (void) usage_pass_ready(u);
        for (UsageRound round = 0; round < _USAGE_ROUND_MAX; round++)
                for (size_t i = 0; i<m->n_active && * slots> 0; i++) {
                        Job *j = m->active[i];
                        unsigned allow = usage_slots_for(u, j->run->uid, *slots, round), started;

                        if (allow == 0)
                                continue;
                        started = job_start_ready(j, &allow);
                        *slots -= started;
                        usage_took(u, j->run->uid, started);
                }
}

static void manager_schedule(Manager *m) {
        if (m->read_only.on)
                return; /* a start that cannot be recorded must not happen; the resume schedules again */
        /* Starting a node can end it at once (spawn failure), which frees its slot again: loop. */
        for (unsigned rounds = 0; m->schedule_needed && rounds < 64; rounds++) {
                unsigned slots = m->conf.max_parallel > m->n_running ? m->conf.max_parallel - m->n_running : 0;

                m->schedule_needed = false;
                if (slots > 0 && schedule_needs_share(m)) {
                        schedule_shared(m, &slots);
                        continue;
                }
                for (size_t i = 0; i < m->n_active && slots > 0; i++)
                        (void) job_start_ready(m->active[i], &slots);
        }
}

/* Write every dirty job as one group commit. Only when the committer is idle: whatever changes while a
 * batch is being written joins the next one, so a busy loop writes few, larger commits. */
static void flush_dirty(Manager *m) {
        uint64_t gen = committer_next_gen(m->committer);
        int r;

        for (size_t i = 0; i < m->n_dirty; i++) {
                r = job_flush(m->dirty[i], gen);
                if (r < 0)
                        manager_fail_stop(m, r, "building a journal record");
        }
        m->n_dirty = 0;
        if (committer_has_open(m->committer))
                assert_se(committer_seal(m->committer) == gen);
}

static void manager_flush(Manager *m) {
        /* Writes queued directly (an acceptance) count too: a queued job may change nothing for a while. */
        if ((m->n_dirty > 0 || committer_has_open(m->committer)) && !committer_busy(m->committer))
                flush_dirty(m);
}

static void manager_check_drained(Manager *m);

static int manager_on_post(sd_event_source *s, void *userdata) {
        Manager *m = userdata;

        if (m->failed)
                return 0;
        manager_schedule(m);
        if (m->gc_needed && !m->stopping && !manager_loading(m))
                (void) retention_gc(m);
        manager_flush(m);
        if (m->stopping)
                manager_check_drained(m);
        if (m->trim_needed) {
                m->trim_needed = false;
                (void) malloc_trim(0);
        }
        /* Done for this iteration (a flush that waits for the committer resumes on its wake-up), so the
         * wake-up need not cost another iteration; unless scheduling stopped short of its rounds. */
        if (!m->schedule_needed)
                (void) sd_event_source_set_enabled(m->wake_source, SD_EVENT_OFF);
        return 0;
}

/* Dispatching it is its whole job: that makes the post source run (manager_wake). */
static int manager_on_wake(sd_event_source *s, void *userdata) {
        return 0;
}

static void manager_on_committed(Committer *c, uint64_t gen, void *userdata) {
        Manager *m = userdata;

        /* Copy: settling a job removes it from the active list while we walk it. */
        for (size_t i = m->n_active; i > 0; i--)
                if (i - 1 < m->n_active)
                        job_on_durable(m->active[i - 1], gen);
        methods_on_durable(m, gen);
}

static void manager_on_commit_error(Committer *c, int error, const char *what, void *userdata) {
        /* Out of room: wait for it (the committer keeps what it could not write) instead of exiting. */
        if (readonly_error_waits(error) && readonly_enter(userdata, error, what) >= 0)
                return;
        manager_fail_stop(userdata, error, what);
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

static void manager_check_drained(Manager *m) {
        int r;

        if (m->n_running > 0)
                return;
        /* Everything stopped; write what is left synchronously and leave. */
        flush_dirty(m);
        r = committer_drain(m->committer);
        if (r < 0)
                manager_fail_stop(m, r, "the final journal records");
        log_info("All nodes stopped and recorded; exiting.");
        (void) sd_event_exit(m->event, EXIT_SUCCESS);
}

static int manager_on_stop_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        if (m->stopping) {
                log_notice("Received %s again: killing every running node now.", strsignal(si->ssi_signo));
                for (size_t i = 0; i < m->n_active; i++)
                        job_kill_all(m->active[i]);
                return 0;
        }
        log_notice("Received %s: stopping running nodes (they will run again or fail per on_interrupt).",
                   strsignal(si->ssi_signo));
        m->stopping = true;
        notify_stopping(m);
        for (size_t i = 0; i < m->n_active; i++)
                job_shutdown(m->active[i]);
        manager_check_drained(m);
        return 0;
}

static int manager_on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("Received SIGHUP: reloading the configuration and rescanning the spool.");
        notify_reloading();
        (void) daemon_conf_reload(m);
        (void) spool_rescan(m->spool);
        notify_ready(m);
        return 0;
}

/* ---- the host of every Job (job-host.h) ------------------------------------------------------- */

static void host_schedule_soon(void *userdata) {
        manager_schedule_soon(userdata);
}

static void host_schedule_later(void *userdata, uint64_t usec) {
        manager_schedule_later(userdata, usec);
}

static void host_slots_changed(void *userdata, Job *j, int delta) {
        Manager *m = userdata;

        assert(delta > 0 || m->n_running > 0);
        m->n_running += delta;
}

static void host_spawned(void *userdata) {
        Manager *m = userdata;

        m->n_spawned++;
}

static bool host_may_start(void *userdata) {
        Manager *m = userdata;

        return !m->stopping;
}

static uint64_t host_key_holder(void *userdata, const char *key, uid_t uid) {
        return manager_key_holder(userdata, key, uid);
}

static int host_open_job_dir(void *userdata, uint64_t id) {
        return manager_open_job_dir(userdata, id);
}

/* Half the MinFreeSpace= floor (bytes, inodes) stays for what every job must record: its ends. */
static void host_log_floor(void *userdata, uint64_t *ret_bytes, uint64_t *ret_inodes) {
        Manager *m = userdata;
        uint64_t floor = spool_floor_bytes(m->spool);

        *ret_bytes = floor / 2;
        *ret_inodes = floor > 0 ? SPOOL_MIN_FREE_INODES / 2 : 0;
}

static void host_trim_soon(void *userdata) {
        manager_trim_soon(userdata);
}

static void host_fail_stop(void *userdata, int error, const char *what) {
        manager_fail_stop(userdata, error, what);
}

static const JobHostOps manager_job_host_ops = {
        .mark_dirty = manager_mark_dirty,
        .schedule_soon = host_schedule_soon,
        .schedule_later = host_schedule_later,
        .slots_changed = host_slots_changed,
        .spawned = host_spawned,
        .may_start = host_may_start,
        .settled = manager_job_settled,
        .retried = manager_job_retried,
        .key_holder = host_key_holder,
        .open_job_dir = host_open_job_dir,
        .log_floor = host_log_floor,
        .trim_soon = host_trim_soon,
        .fail_stop = host_fail_stop,
};

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
                log_warning("DropGroup=%s is ignored: only orchd running as root takes files of other users.",
                            m->conf.drop_group);
                return 0;
        }
        gr = getgrnam(m->conf.drop_group);
        if (!gr)
                return log_error_errno(ENOENT, "DropGroup=%s: no such group.", m->conf.drop_group);
        *ret = gr->gr_gid;
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
                            .min_free_bytes = m->conf.min_free_bytes,
                            .min_free_percent = m->conf.min_free_percent };
        r = spool_new(m->event, &sc, manager_on_accepted, m, &m->spool);
        if (r < 0)
                return r;
        m->job_host = (JobHost){ .event = m->event,
                                 .committer = m->committer,
                                 .jobs_fd = spool_jobs_fd(m->spool),
                                 .conf = &m->conf,
                                 .exec_helper = m->config.exec_helper,
                                 .pam_confdir = m->config.pam_confdir,
                                 .ops = &manager_job_host_ops,
                                 .userdata = m };
        r = readonly_check_at_start(m);
        if (r < 0)
                return r;
        r = manager_recover(m);
        if (r < 0)
                return r;
        r = sd_event_add_post(m->event, &m->post_source, manager_on_post, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the post source: %m");
        r = methods_attach(m);
        if (r < 0)
                return r;
        r = retention_start(m);
        if (r < 0)
                return r;
        if (manager_loading(m))
                spool_hold(m->spool, true); /* until every job found at start is loaded (manager_loaded()) */
        r = spool_start(m->spool);
        if (r < 0)
                return r;
        manager_schedule_soon(m);
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        methods_free_held(m);
        m->control = control_free(m->control);
        for (size_t i = 0; i < m->n_jobs; i++)
                job_free(m->jobs[i]);
        free(m->jobs);
        free(m->active);
        free(m->dirty);
        m->committer = committer_free(m->committer);
        spool_free(m->spool);
        sd_event_source_disable_unref(m->post_source);
        sd_event_source_disable_unref(m->wake_source);
        sd_event_source_disable_unref(m->later_source);
        sd_event_source_disable_unref(m->trim_source);
        sd_event_source_disable_unref(m->sig_term);
        sd_event_source_disable_unref(m->sig_int);
        sd_event_source_disable_unref(m->sig_hup);
        sd_event_source_disable_unref(m->status_timer);
        readonly_done(&m->read_only);
        sd_event_source_disable_unref(m->gc_timer);
        free(m->trash_ids);
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

int manager_run(Manager *m) {
        int r;

        (void) notify_ready(m);
        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m"), EXIT_FAILURE;
        return r;
}
