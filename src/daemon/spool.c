/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spool.c — intake of job files dropped into SPOOL/new (SPEC §2): start-up
 * (directories, crash leftovers, the next id), scanning new/ and the inotify
 * watch. The other steps: spool-intake.c (claiming and processing a file,
 * Submit), spool-accept.c (making an accepted job durable), spool-rejected.c
 * (keeping a rejected file and its error) and spool-space.c (MinFreeSpace=,
 * retries after transient failures).
 *
 * Owns: the spool's directory fds, the inotify source on new/, and the job
 * id counter. The life of a dropped file, each step a rename:
 *
 *   new/NAME.json ──claim──▶ jobs/.intake/NAME.json ──┬─▶ rejected/UID/NAME.json (+ .error, .error.json)
 *                                                     └─▶ jobs/.#ID/source.NAME.json ──▶ jobs/ID/
 *
 * No name ever blocks a step. The claim takes .intake/.TAG~NAME.json (TAG
 * unique to the claim) when a file of that name is still in intake and
 * cannot be finished yet. rejected/UID/ is the owner's own (so no user's
 * rejections decide the names another's get); there the copy is NAME.json,
 * else PREFIX.TAG.json when that is taken or too long for its suffixes, chosen
 * without probing, and its .error.json records the name as dropped.
 * Names longer than INTAKE_NAME_MAX are rejected (they cannot be carried as
 * source.NAME).
 *
 * jobs/.intake and jobs/.#ID are private to the daemon, so once a file is claimed nobody can swap it; it
 * is inspected with lstat before it is ever opened (hard links, files others may write and oversize files
 * are refused unread and kept in rejected/; anything that is not a regular file, such as a symlink, FIFO,
 * device or directory, is removed, not kept, with an error record for its owner). rejected/ and each
 * rejected/UID/ are root's alone (0700): its files and error records reach their owner through the
 * Rejected call, never the file system. The accepted job is our own copy of the bytes read (job.json), so
 * a writer that still holds the original cannot change it. jobs/.#ID becomes jobs/ID by one rename after
 * everything in it is durable: that rename is the acceptance. At start, a jobs/.#ID left by a crash gives
 * its source back to .intake, unless nodes of it had started (they start before the acceptance is
 * durable): then its acceptance is completed. So a file is accepted at most once and never lost. Below the
 * free-space floor (MinFreeSpace=), or once taking a file in ran out of space, nothing more is claimed:
 * files wait where they are until a re-check (a timer, or a job's end) finds room; a job given up for lack
 * of space leaves no jobs/.#ID behind. Per-user caps are the manager's (the admit callback). Does not run
 * jobs: accepted ones go to the manager.
 */

#include <systemd/sd-id128.h>

#include "jobid.h"
#include "journald.h"
#include "spool-internal.h"

static_assert(SPOOL_ID_SIZE == SD_ID128_STRING_MAX, "a spool id is an sd_id128 string");

bool spool_is_job_file_name(const char *name) {
        size_t n = strlen(name);

        return name[0] != '.' && n > 5 && streq(name + n - 5, ".json") && !strchr(name, '/');
}

const char *spool_intake_display_name(const char *iname) {
        const char *p = iname[0] == '.' ? strchr(iname, '~') : NULL;

        return p ? p + 1 : iname;
}

static bool is_intake_name(const char *iname) {
        return spool_is_job_file_name(iname) ||
                (iname[0] == '.' && strchr(iname, '~') &&
                 spool_is_job_file_name(spool_intake_display_name(iname)));
}

/* A decimal job id ("42"), as used for jobs/ID; 0 if the name is anything else. */
/* ---- scanning --------------------------------------------------------------------------------- */

typedef struct Entry {
        char *name;
        struct timespec mtime;
} Entry;

static int entry_cmp(const void *a, const void *b) {
        const Entry *x = a, *y = b;

        if (x->mtime.tv_sec != y->mtime.tv_sec)
                return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
        if (x->mtime.tv_nsec != y->mtime.tv_nsec)
                return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
        return strcmp(x->name, y->name);
}

/* The job files of a directory, oldest first, so a backlog runs in submission order. Every listing opens
 * the directory afresh: a dup'd fd would share (and exhaust) the directory offset of dir_fd. */
static int list_job_files(int dir_fd, bool intake, Entry **ret, size_t *ret_n) {
        Entry *list = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        DIR *d;
        int r;

        r = opendir_fd(dir_fd, &d);
        if (r < 0)
                return r;
        while ((de = readdir(d))) {
                struct stat st = {};

                if (!(intake ? is_intake_name(de->d_name) : spool_is_job_file_name(de->d_name)))
                        continue;
                (void) fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW);
                if (n == cap) {
                        Entry *m = reallocarray(list, cap = MAX(cap * 2, (size_t) 16), sizeof(Entry));

                        if (!m)
                                break;
                        list = m;
                }
                list[n].name = strdup(de->d_name);
                if (!list[n].name)
                        break;
                list[n++].mtime = st.st_mtim;
        }
        closedir(d);
        if (n > 1)
                qsort(list, n, sizeof(Entry), entry_cmp);
        *ret = list;
        *ret_n = n;
        return 0;
}

static int scan_dir(Spool *s, int dir_fd, bool intake) {
        Entry *list = NULL;
        size_t n = 0;
        int r;

        r = list_job_files(dir_fd, intake, &list, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (intake)
                        (void) spool_process(s, list[i].name);
                else
                        (void) spool_take(s, list[i].name);
                free(list[i].name);
        }
        free(list);
        return 0;
}

int spool_rescan(Spool *s) {
        int r;

        if (s->full || s->held)
                return 0; /* the space re-check (or spool_hold()) rescans once there is room */
        r = scan_dir(s, s->intake_fd, true);
        if (r >= 0)
                r = scan_dir(s, s->new_fd, false);
        if (r < 0) {
                spool_retry_later(s, r);
                return log_error_errno(r, "Failed to scan %s/new or its intake: %m", s->path);
        }
        return 0;
}

/* Whether new/NAME, just created, is something other than a fresh regular file (a symlink, a hard link to
 * an existing file, a FIFO, a directory, …). */
static bool created_unsafe(Spool *s, const char *name) {
        struct stat st;

        if (fstatat(s->new_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return false; /* gone already, or renamed on: later events or a rescan decide */
        return !S_ISREG(st.st_mode) || st.st_nlink > 1;
}

static int spool_on_inotify(sd_event_source *src, const struct inotify_event *ev, void *userdata) {
        Spool *s = userdata;

        if (ev->mask & IN_Q_OVERFLOW) {
                log_notice("Inotify queue overflowed, rescanning %s/new.", s->path);
                (void) spool_rescan(s);
                return 0;
        }
        if (ev->len == 0)
                return 0;
        /* A regular file being created is taken once its writer closes it (IN_CLOSE_WRITE). Anything else
         * that appears in place (ln -s, ln, mkfifo, mkdir) gets no further event: take it now, to reject
         * it. Directories named *.json are taken too: they are rejected, unread. */
        if ((ev->mask & IN_CREATE) && !created_unsafe(s, ev->name))
                return 0;
        (void) spool_take(s, ev->name);
        return 0;
}

int spool_start(Spool *s) {
        int r;

        /* Watch first, then scan: a file arriving in between is seen by one or the other (or both:
         * the second claim finds nothing and is a no-op). */
        r = sd_event_add_inotify_fd(s->event, &s->inotify_source, s->new_fd,
                                    IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_EXCL_UNLINK,
                                    spool_on_inotify, s);
        if (r < 0)
                return log_error_errno(r, "Failed to watch %s/new: %m", s->path);
        (void) sd_event_source_set_description(s->inotify_source, "spool-new");
        return spool_rescan(s);
}

/* ---- start-up: directories, crash leftovers, next id ------------------------------------------- */

/* jobs/.#ID left by a crash: accepted now if its nodes may have run, else its source goes back to intake. */
static void recover_unpublished(Spool *s, const char *dname) {
        _cleanup_close_ int dfd = -EBADF;
        struct dirent *de;
        DIR *d;

        if (spool_complete_unpublished(s, dname) > 0)
                return;
        dfd = open_dir_at(s->jobs_fd, dname, 0750);
        if (dfd >= 0) {
                if (opendir_fd(dfd, &d) < 0)
                        d = NULL;
                while (d && (de = readdir(d)))
                        if (strneq(de->d_name, SOURCE_PREFIX, strlen(SOURCE_PREFIX))) {
                                const char *orig = de->d_name + strlen(SOURCE_PREFIX);

                                if (rename_noreplace(dfd, de->d_name, s->intake_fd, orig) >= 0)
                                        log_notice(
                                                "Job file '%s' was being accepted when orchd stopped; "
                                                "taking it again.",
                                                orig);
                        }
                if (d)
                        closedir(d);
        }
        (void) rm_rf_at(s->jobs_fd, dname);
}

/* A published job may still hold its source copy if we crashed right after publishing. */
void spool_tidy_job_dir(int dfd) {
        struct dirent *de;
        DIR *d;

        if (opendir_fd(dfd, &d) < 0)
                return;
        while ((de = readdir(d)))
                if (strneq(de->d_name, SOURCE_PREFIX, strlen(SOURCE_PREFIX)) || strneq(de->d_name, ".#", 2))
                        (void) unlinkat(dfd, de->d_name, 0);
        closedir(d);
}

static uint64_t max_id_in(int dir_fd) {
        uint64_t max = 0;
        struct dirent *de;
        DIR *d;

        if (opendir_fd(dir_fd, &d) < 0)
                return 0;
        while ((de = readdir(d))) {
                uint64_t id;

                if (job_id_parse(de->d_name, &id) >= 0)
                        max = MAX(max, id);
        }
        closedir(d);
        return max;
}

/* jobs/.next-id: written when finished jobs are removed (retention.c), so that the id of a removed job is
 * never handed out again. 0 if there is none. */
static uint64_t next_id_recorded(int jobs_fd) {
        _cleanup_free_ char *buf = NULL;
        unsigned long long v;
        char *end;

        if (read_file_at(jobs_fd, ".next-id", 64, &buf, NULL) < 0)
                return 0;
        errno = 0;
        v = strtoull(buf, &end, 10);
        return errno == 0 && end != buf && (*end == '\n' || *end == '\0') ? (uint64_t) v : 0;
}

uint64_t spool_next_id(const Spool *s) {
        return s->next_id;
}

static int spool_tidy_jobs(Spool *s) {
        struct dirent *de;
        DIR *d;
        _cleanup_close_ int corrupt_fd = -EBADF;
        int r;

        r = opendir_fd(s->jobs_fd, &d);
        if (r < 0)
                return r;
        while ((de = readdir(d))) {
                if (strneq(de->d_name, ".#", 2))
                        recover_unpublished(s, de->d_name); /* published jobs: spool_tidy_job_dir() */
        }
        closedir(d);

        s->next_id = MAX(max_id_in(s->jobs_fd) + 1, next_id_recorded(s->jobs_fd));
        corrupt_fd = openat(s->spool_fd, "corrupt", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (corrupt_fd >= 0)
                s->next_id = MAX(s->next_id, max_id_in(corrupt_fd) + 1);
        return 0;
}

/* Open dir (or the spool itself, name NULL) and hold it to the rules of SPEC §8. Returns the fd or -errno
 * (logged, naming the path and what is wrong). */
static int open_checked_dir(Spool *s, const char *name, mode_t mode, const DirPolicy *policy) {
        _cleanup_free_ char *why = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = name ? open_dir_at(s->spool_fd, name, mode) : -EBADF;
        if (!name) {
                if (mkdir(s->path, mode) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "Failed to create spool %s: %m", s->path);
                fd = open(s->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        fd = -errno;
        }
        if (fd < 0)
                return log_error_errno(fd,
                                       "Failed to open %s%s%s (it must be a directory, not a symlink): %m",
                                       s->path, name ? "/" : "", name ?: "");
        r = dir_check_safe(fd, geteuid(), policy, &why);
        if (r == -EPERM)
                return log_error_errno(r, "Refusing to use %s%s%s: it %s.", s->path, name ? "/" : "",
                                       name ?: "", why);
        if (r < 0)
                return log_error_errno(r, "Failed to set up %s%s%s: %m", s->path, name ? "/" : "",
                                       name ?: "");
        return TAKE_FD(fd);
}

/* rejected/ holds other users' files and secrets: it is ours alone (0700) and its content reaches owners
 * only through the Rejected call. A spool made before that had it 0755: say so when repairing it. */
static void note_rejected_mode(Spool *s) {
        struct stat st;

        if (fstatat(s->spool_fd, "rejected", &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISDIR(st.st_mode) &&
            (st.st_mode & 07777) != 0700)
                log_notice(
                        "Changing the mode of %s/rejected from %04o to 0700: rejected files are for their "
                        "owners only, who get them with orchctl rejected.",
                        s->path, (unsigned) (st.st_mode & 07777));
}

/* Before anything in the spool is touched: another orchd there means we leave at once (-EALREADY). */
static int spool_take_lock(Spool *s) {
        pid_t holder;
        int fd;

        fd = spool_lock(s->spool_fd, &holder);
        if (fd == -EWOULDBLOCK) {
                if (holder > 0)
                        log_error(
                                "Spool %s is in use by another orchd (pid %d, the holder of %s/%s); leaving "
                                "it "
                                "alone. Stop that one first, or give this one another --spool.",
                                s->path, (int) holder, s->path, SPOOL_LOCK_FILE);
                else
                        log_error(
                                "Spool %s is in use by another orchd, which is still starting (it holds "
                                "%s/%s); "
                                "leaving it alone. Stop that one first, or give this one another --spool.",
                                s->path, s->path, SPOOL_LOCK_FILE);
                return -EALREADY;
        }
        if (fd == -EBADFD || fd == -EISDIR || fd == -ELOOP)
                return log_error_errno(fd, "Refusing to use %s: %s/%s is not a regular file.", s->path,
                                       s->path, SPOOL_LOCK_FILE);
        if (fd < 0)
                return log_error_errno(fd, "Failed to lock %s/%s: %m", s->path, SPOOL_LOCK_FILE);
        s->lock_fd = fd;
        return 0;
}

/* The spool's id (SPOOL/spool-id, 32 hex digits and a newline, made once when the spool first meets an
 * orchd that knows it): every journal entry carries it as ORCH_SPOOL, since job ids are unique only within
 * one spool. An id rather than the path, so a spool moved or mounted elsewhere keeps its entries together.
 * Readable by all (0644): users filter with journalctl ORCH_SPOOL=$(cat SPOOL/spool-id). Never fatal:
 * without one, entries go without ORCH_SPOOL. */
static int read_id_at(int dir_fd, char id[static SPOOL_ID_SIZE]) {
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        sd_id128_t v;
        size_t n;
        int r;

        /* Read before the spool is checked (orchd.c): never follow a link or wait on a FIFO planted there.
         */
        fd = openat(dir_fd, SPOOL_ID_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        r = read_full_fd(fd, 64, &text, &n);
        if (r < 0)
                return r;
        if (n != SPOOL_ID_SIZE || text[n - 1] != '\n')
                return -EINVAL;
        text[n - 1] = '\0';
        if (sd_id128_from_string(text, &v) < 0)
                return -EINVAL;
        (void) sd_id128_to_string(v, id);
        return 0;
}

int spool_read_id(const char *path, char id[static SPOOL_ID_SIZE]) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        return fd < 0 ? -errno : read_id_at(fd, id);
}

/* Read the id, or make it; either way hand it to journald.c. */
static void spool_load_id(Spool *s) {
        char id[SPOOL_ID_SIZE];
        sd_id128_t v;
        int r;

        r = read_id_at(s->spool_fd, id);
        if (r >= 0) {
                journald_set_spool_id(id);
                return;
        }
        if (r != -ENOENT)
                log_notice_errno(r, "Replacing %s/" SPOOL_ID_FILE ": not a valid id (%m).", s->path);
        r = sd_id128_randomize(&v);
        if (r >= 0) {
                (void) sd_id128_to_string(v, id);
                id[SPOOL_ID_SIZE - 1] = '\n';
                r = write_file_atomic_at(s->spool_fd, SPOOL_ID_FILE, id, SPOOL_ID_SIZE);
        }
        if (r >= 0 && fchmodat(s->spool_fd, SPOOL_ID_FILE, 0644, 0) < 0)
                r = -errno;
        if (r < 0) {
                log_warning_errno(r,
                                  "Failed to create %s/" SPOOL_ID_FILE
                                  ", journal entries go without ORCH_SPOOL: %m",
                                  s->path);
                return;
        }
        id[SPOOL_ID_SIZE - 1] = '\0';
        journald_set_spool_id(id);
}

/* As root (SPEC §8): anyone may drop into new/ and tmp/ but nobody may list or take another's file (1733,
 * or 1730 with the group of DropGroup=), and jobs/ and rejected/ are root's alone. As an ordinary user
 * the daemon only takes its own files, so new/ and tmp/ are plain 0755. The spool itself is checked, not
 * changed: one that others can write to is refused. */
static int open_spool_dirs(Spool *s, gid_t drop_gid) {
        bool root = geteuid() == 0;
        DirPolicy check = {}, drop = { .enforce = true, .group = drop_gid },
                  jobs = { .mode = 0700, .enforce = true },
                  private = { .mode = 0700, .enforce = true, .group = (gid_t) -1 };
        struct {
                const char *name;
                int *fd;
                const DirPolicy *policy;
        } dirs[] = {
                { "tmp", &s->tmp_fd, &drop },
                { "new", &s->new_fd, &drop },
                { "rejected", &s->rejected_fd, &private },
                { "jobs", &s->jobs_fd, root ? &jobs : &check },
        };
        _cleanup_free_ char *why = NULL;
        int fd, r;

        drop.mode = !root ? 0755 : drop_gid != (gid_t) -1 ? 01730 : 01733;
        fd = open_checked_dir(s, NULL, 0755, &check);
        if (fd < 0)
                return fd;
        s->spool_fd = fd;
        r = spool_take_lock(s);
        if (r < 0)
                return r;
        spool_load_id(s);
        note_rejected_mode(s);
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                fd = open_checked_dir(s, dirs[i].name, dirs[i].policy->enforce ? dirs[i].policy->mode : 0755,
                                      dirs[i].policy);
                if (fd < 0)
                        return fd;
                *dirs[i].fd = fd;
        }
        fd = open_dir_at(s->jobs_fd, INTAKE_DIR, 0700);
        if (fd < 0)
                return log_error_errno(fd, "Failed to open %s/jobs/" INTAKE_DIR ": %m", s->path);
        s->intake_fd = fd;
        r = dir_check_safe(fd, geteuid(), &check, &why);
        if (r < 0)
                return log_error_errno(r, "Refusing to use %s/jobs/" INTAKE_DIR ": it %s.", s->path,
                                       strna(why));
        fd = unfinished_open(s->jobs_fd);
        if (fd < 0)
                return log_error_errno(fd, "Failed to open %s/jobs/.unfinished: %m", s->path);
        s->unfinished_fd = fd;
        return 0;
}

int spool_new(sd_event *e, const SpoolConfig *config, spool_job_cb cb, void *userdata, Spool **ret) {
        _cleanup_(spool_freep) Spool *s = NULL;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return log_oom();
        *s = (Spool){
                .event = sd_event_ref(e),
                .committer = config->committer,
                .key_in_use = config->key_in_use,
                .may_run = config->may_run,
                .admit = config->admit,
                .on_fatal = config->on_fatal,
                .min_free_bytes = config->min_free_bytes,
                .min_free_percent = config->min_free_percent,
                .limits = config->limits,
                .cb = cb,
                .userdata = userdata,
                .spool_fd = -EBADF,
                .tmp_fd = -EBADF,
                .new_fd = -EBADF,
                .rejected_fd = -EBADF,
                .jobs_fd = -EBADF,
                .intake_fd = -EBADF,
                .unfinished_fd = -EBADF,
                .lock_fd = -EBADF,
        };
        s->path = strdup(config->path);
        if (!s->path)
                return log_oom();
        s->queued = json_object_new_object();
        if (!s->queued)
                return log_oom();
        r = jobreader_new(e, &s->reader);
        if (r < 0)
                return log_error_errno(r, "Failed to start the job file reader: %m");
        r = open_spool_dirs(s, config->drop_gid);
        if (r < 0)
                return r;
        r = spool_tidy_jobs(s);
        if (r < 0)
                return log_error_errno(r, "Failed to inspect %s/jobs: %m", s->path);
        r = rm_rf_bounded_at(s->rejected_fd, TRASH_DIR, REMOVE_MAX_ENTRIES);
        if (r < 0 && r != -ENOENT)
                log_notice_errno(
                        r, "Cannot remove %s/rejected/" TRASH_DIR " yet, will try at the next start: %m",
                        s->path);
        *ret = TAKE_PTR(s);
        return 0;
}

Spool *spool_free(Spool *s) {
        if (!s)
                return NULL;
        /* Files being read stay in intake: the next start takes them again. */
        jobreader_free(s->reader);
        while (s->waiting) {
                struct Queued *q = s->waiting;

                s->waiting = q->next;
                free(q->name);
                free(q);
        }
        json_object_put(s->queued);
        sd_event_source_disable_unref(s->inotify_source);
        sd_event_source_disable_unref(s->space_timer);
        sd_event_source_disable_unref(s->retry_timer);
        safe_close(s->intake_fd);
        safe_close(s->unfinished_fd);
        safe_close(s->jobs_fd);
        safe_close(s->rejected_fd);
        safe_close(s->new_fd);
        safe_close(s->tmp_fd);
        safe_close(s->spool_fd);
        safe_close(s->lock_fd); /* last: the spool is someone else's from here on */
        sd_event_unref(s->event);
        free(s->path);
        return mfree(s);
}

int spool_jobs_fd(const Spool *s) {
        return s->jobs_fd;
}

int spool_unfinished_fd(const Spool *s) {
        return s->unfinished_fd;
}

int spool_dir_fd(const Spool *s) {
        return s->spool_fd;
}

int spool_rejected_fd(const Spool *s) {
        return s->rejected_fd;
}

void spool_stats(const Spool *s, uint64_t *ret_accepted, uint64_t *ret_rejected) {
        *ret_accepted = s->n_accepted;
        *ret_rejected = s->n_rejected;
}
