/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * retention.c — removing finished jobs: KeepFinished=, gc and remove.
 *
 * Owns: the list of removals not yet durable (Retention.trash_ids) and the
 * periodic collection timer; works on the job table, spool, committer and
 * usage counts its owner (the manager) lends it. Invariants:
 *   - only a settled job (its end durable, nothing unflushed, nobody waiting)
 *     is removed, so no journal write and no reply can still need it;
 *   - a removal is a rename of jobs/ID to jobs/.rm-ID; the tree is deleted only
 *     after the committer made that rename durable (with an fsync of jobs/), so
 *     a crash never leaves a jobs/ID with files missing, which the next start
 *     would call corrupt;
 *   - jobs/.next-id records the next id in the same durable step: the spool
 *     computes the next id from the names in jobs/, and removing the newest job
 *     must not let its id come back.
 * The deletion runs on a detached thread of its own (a job of 100,000 nodes
 * has as many log files; neither the loop nor the committer should wait for
 * that). Does not decide what a user may remove (methods.c does).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "jobid.h"
#include "log.h"
#include "macro.h"
#include "retention.h"
#include "time-util.h"

/* How often the age limit is looked at when nothing else triggers a collection. */
#define RETENTION_INTERVAL_USEC (10 * 60 * USEC_PER_SEC)

typedef struct Trash {
        int jobs_fd;
        uint64_t *ids;
        size_t n;
        uint64_t next_id; /* 0: do not write jobs/.next-id */
} Trash;

static void trash_free(void *p) {
        Trash *t = p;

        if (!t)
                return;
        safe_close(t->jobs_fd);
        free(t->ids);
        free(t);
}

static void trash_delete(Trash *t) {
        for (size_t k = 0; k < t->n; k++) {
                char name[32];
                int r;

                snprintf(name, sizeof(name), RETENTION_TRASH_PREFIX "%" PRIu64, t->ids[k]);
                r = rm_rf_at(t->jobs_fd, name);
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(
                                r,
                                "Failed to delete jobs/%s of a removed job (it is deleted at the next "
                                "start): %m",
                                name);
        }
}

static void *trash_thread(void *p) {
        (void) pthread_setname_np(pthread_self(), "orchd-trash");
        trash_delete(p);
        trash_free(p);
        return NULL;
}

/* Delete the trees on a thread of their own; inline if no thread can be had. Takes t. */
static void trash_reap(Trash *t) {
        pthread_attr_t attr;
        pthread_t tid;
        int r;

        r = pthread_attr_init(&attr);
        if (r == 0) {
                (void) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
                r = pthread_create(&tid, &attr, trash_thread, t);
                (void) pthread_attr_destroy(&attr);
        }
        if (r == 0)
                return;
        trash_delete(t);
        trash_free(t);
}

/* On the committer thread: make the renames (and the next id) durable, then have the trees deleted. */
static int trash_run(void *p) {
        Trash *t = p, *moved;
        char buf[32];
        int r, n;

        n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", t->next_id);
        /* write_file_atomic_at() ends with an fsync of jobs/, which holds the renames too. */
        r = t->next_id > 0 ? write_file_atomic_at(t->jobs_fd, RETENTION_NEXT_ID_FILE, buf, (size_t) n) :
                             fsync_dir(t->jobs_fd);
        if (r < 0)
                return r;
        moved = calloc(1, sizeof(Trash));
        if (!moved)
                return 0; /* the trees stay until the next start deletes them */
        *moved = *t;
        *t = (Trash){ .jobs_fd = -EBADF };
        trash_reap(moved);
        return 0;
}

static Trash *trash_new(Retention *rt, uint64_t *ids, size_t n) {
        Trash *t = calloc(1, sizeof(Trash));

        if (!t)
                return NULL;
        *t = (Trash){ .ids = ids, .n = n, .jobs_fd = fcntl(spool_jobs_fd(rt->spool), F_DUPFD_CLOEXEC, 3) };
        if (t->jobs_fd < 0) {
                t->ids = NULL; /* the caller keeps ids on failure */
                trash_free(t);
                return NULL;
        }
        return t;
}

int retention_commit(Retention *rt) {
        Trash *t;

        if (rt->n_trash == 0)
                return 0;
        t = trash_new(rt, rt->trash_ids, rt->n_trash);
        if (!t)
                return -errno ?: -ENOMEM;
        t->next_id = spool_next_id(rt->spool);
        rt->trash_ids = NULL;
        rt->n_trash = rt->cap_trash = 0;
        return committer_add_call(rt->committer, trash_run, trash_free, t, "the removal of finished jobs");
}

/* Whether j may go: its end is durable, nothing of it waits to be written, nobody waits on it. */
static bool removable(const Job *j) {
        return job_is_settled(j) && job_is_clean(j) && j->n_waiters == 0;
}

/* Rename jobs/ID away and forget the job (not yet the table slot: callers compact it). */
static int remove_one(Retention *rt, Job *j) {
        _cleanup_close_ int dfd = -EBADF;
        int jobs_fd = spool_jobs_fd(rt->spool);
        char name[24], trash[32];
        struct stat st;
        int r;

        if (rt->n_trash == rt->cap_trash) {
                size_t c = MAX(rt->cap_trash * 2, (size_t) 64);
                uint64_t *q = reallocarray(rt->trash_ids, c, sizeof(uint64_t));

                if (!q)
                        return -ENOMEM;
                rt->trash_ids = q;
                rt->cap_trash = c;
        }
        snprintf(name, sizeof(name), "%" PRIu64, j->id);
        snprintf(trash, sizeof(trash), RETENTION_TRASH_PREFIX "%" PRIu64, j->id);
        /* The size of job.json is what the owner's UserMaxBytes= counted. */
        if (fstatat(jobs_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        dfd = openat(jobs_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0 || fstatat(dfd, "job.json", &st, AT_SYMLINK_NOFOLLOW) < 0)
                st.st_size = 0;
        r = rename_noreplace(jobs_fd, name, jobs_fd, trash);
        if (r == -EEXIST) { /* a leftover of the same name cannot be ours any more */
                (void) rm_rf_at(jobs_fd, trash);
                r = rename_noreplace(jobs_fd, name, jobs_fd, trash);
        }
        if (r < 0)
                return r;
        rt->trash_ids[rt->n_trash++] = j->id;
        usage_remove_job(rt->usage, j->run->uid, (uint64_t) st.st_size, j->spec->n_nodes, false);
        job_free(j);
        return 0;
}

int retention_remove_job(Retention *rt, Job *j) {
        Job **jobs = *rt->jobs;
        size_t i, n = *rt->n_jobs;
        int r;

        if (!removable(j))
                return -EBUSY;
        for (i = 0; i < n && jobs[i] != j; i++)
                ;
        assert(i < n);
        r = remove_one(rt, j);
        if (r < 0)
                return r;
        memmove(jobs + i, jobs + i + 1, (n - i - 1) * sizeof(Job *));
        (*rt->n_jobs)--;
        return retention_commit(rt);
}

typedef struct Candidate {
        uint64_t finished_at;
        size_t index;
} Candidate;

/* Most recently finished first; ties by the newer id. */
static int candidate_cmp(const void *a, const void *b) {
        const Candidate *x = a, *y = b;

        if (x->finished_at != y->finished_at)
                return x->finished_at > y->finished_at ? -1 : 1;
        return x->index > y->index ? -1 : x->index < y->index;
}

/* Mark in doomed[] (by table index) the settled jobs KeepFinished= does not keep. Returns how many. */
static ssize_t select_doomed(Retention *rt, bool *doomed) {
        Job **jobs = *rt->jobs;
        _cleanup_free_ Candidate *c = calloc(MAX(*rt->n_jobs, (size_t) 1), sizeof(Candidate));
        uint64_t now = now_usec(CLOCK_REALTIME), age = rt->conf->keep_age_usec, count = rt->conf->keep_count;
        size_t n = 0, marked = 0;

        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < *rt->n_jobs; i++)
                if (job_is_finished(jobs[i]))
                        c[n++] = (Candidate){ .finished_at = jobs[i]->run->finished_at, .index = i };
        if (n > 1)
                qsort(c, n, sizeof(Candidate), candidate_cmp);
        for (size_t k = 0; k < n; k++) {
                bool old = age != CONF_KEEP_FOREVER && c[k].finished_at + age < now &&
                        c[k].finished_at < now;

                if ((old || (count != CONF_KEEP_FOREVER && k >= count)) && removable(jobs[c[k].index])) {
                        doomed[c[k].index] = true;
                        marked++;
                }
        }
        return (ssize_t) marked;
}

int retention_gc(Retention *rt) {
        _cleanup_free_ bool *doomed = NULL;
        Job **jobs = *rt->jobs;
        size_t w = 0, removed = 0;
        ssize_t n;
        int r = 0;

        rt->needed = false;
        if (rt->conf->keep_age_usec == CONF_KEEP_FOREVER && rt->conf->keep_count == CONF_KEEP_FOREVER)
                return 0;
        doomed = calloc(MAX(*rt->n_jobs, (size_t) 1), sizeof(bool));
        if (!doomed)
                return log_oom();
        n = select_doomed(rt, doomed);
        if (n < 0)
                return log_oom();
        if (n == 0)
                return 0;
        /* One pass: remove the doomed, compact the table (it stays sorted by id). */
        for (size_t i = 0; i < *rt->n_jobs; i++) {
                Job *j = jobs[i];

                if (doomed[i] && r >= 0) {
                        uint64_t id = j->id;

                        r = remove_one(rt, j);
                        if (r >= 0) {
                                removed++;
                                continue;
                        }
                        log_warning_errno(r, "Failed to remove finished job %" PRIu64 ", keeping it: %m",
                                          id);
                }
                jobs[w++] = j;
        }
        *rt->n_jobs = w;
        if (retention_commit(rt) < 0)
                rt->on_fatal(-ENOMEM, "the removal of finished jobs", rt->userdata);
        if (removed > 0) {
                log_info("Removed %zu finished job(s) per KeepFinished=; %zu job(s) left.", removed, w);
                rt->on_removed(rt->userdata);
        }
        return r < 0 ? r : (int) MIN(removed, (size_t) INT32_MAX);
}

void retention_recover(Retention *rt) {
        _cleanup_free_ uint64_t *ids = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        Trash *t;
        DIR *d;

        if (opendir_fd(spool_jobs_fd(rt->spool), &d) < 0)
                return;
        while ((de = readdir(d))) {
                uint64_t id;

                if (!strneq(de->d_name, RETENTION_TRASH_PREFIX, strlen(RETENTION_TRASH_PREFIX)) ||
                    job_id_parse(de->d_name + strlen(RETENTION_TRASH_PREFIX), &id) < 0)
                        continue;
                if (n == cap) {
                        uint64_t *q = reallocarray(ids, cap = MAX(cap * 2, (size_t) 16), sizeof(uint64_t));

                        if (!q)
                                break;
                        ids = q;
                }
                ids[n++] = id;
        }
        closedir(d);
        if (n == 0)
                return;
        log_notice("Finishing the removal of %zu job(s) interrupted by the last stop.", n);
        /* The renames were seen, but may not have reached the disk: make them durable before deleting. */
        (void) fsync_dir(spool_jobs_fd(rt->spool));
        t = trash_new(rt, ids, n);
        if (!t)
                return;
        TAKE_PTR(ids);
        trash_reap(t);
}

static int retention_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Retention *rt = userdata;

        if (rt->may_collect(rt->userdata))
                (void) retention_gc(rt);
        (void) sd_event_source_set_time_relative(s, RETENTION_INTERVAL_USEC);
        return sd_event_source_set_enabled(s, SD_EVENT_ON);
}

int retention_start(Retention *rt) {
        int r;

        /* The first collection right away: a spool kept by an older orchd, or with a lower limit now. */
        r = sd_event_add_time_relative(rt->event, &rt->timer, CLOCK_MONOTONIC, 0, USEC_PER_SEC,
                                       retention_on_timer, rt);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the collection of finished jobs: %m");
        (void) sd_event_source_set_description(rt->timer, "retention");
        return 0;
}

void retention_done(Retention *rt) {
        rt->timer = sd_event_source_disable_unref(rt->timer);
        rt->trash_ids = mfree(rt->trash_ids);
        rt->n_trash = rt->cap_trash = 0;
}
