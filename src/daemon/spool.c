/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spool.c — intake of job files dropped into SPOOL/new (SPEC §2).
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
 * jobs/.intake and jobs/.#ID are private to the daemon, so once a file is
 * claimed nobody can swap it; it is inspected with lstat before it is ever
 * opened (hard links, files others may write and oversize files are refused
 * unread and kept in rejected/; anything that is not a regular file, such as
 * a symlink, FIFO, device or directory, is removed, not kept, with an error
 * record for its owner). rejected/ and each rejected/UID/ are root's alone (0700): its files and error
 * records reach their owner through the Rejected call, never the file system.
 * The accepted job is our own copy of the bytes
 * read (job.json), so a writer that still holds the original cannot change
 * it. jobs/.#ID becomes jobs/ID by one rename after everything in it is
 * durable: that rename is the acceptance. At start, a jobs/.#ID left by a
 * crash gives its source back to .intake, so a file is accepted at most once
 * and never lost. Below the free-space floor (MinFreeSpace=), or once taking
 * a file in ran out of space, nothing more is claimed: files wait where they
 * are until a re-check (a timer, or a job's end) finds room; a job given up
 * for lack of space leaves no jobs/.#ID behind. Per-user caps are the
 * manager's (the admit callback). Does not run jobs: accepted ones go to the
 * manager.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "committer.h"
#include "jobreader.h"
#include "journal.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"
#include "spool.h"
#include "spool-lock.h"
#include "unfinished.h"

#define INTAKE_DIR ".intake"
#define SOURCE_PREFIX "source."
/* Where a directory dropped into new/ goes when it cannot be emptied (its creator may hold an fd to it and
 * keep adding entries): below root-only rejected/, hidden from listings, removed again at every start. */
#define TRASH_DIR ".trash"
#define REMOVE_MAX_ENTRIES 10000
/* While jobs wait for free space: how often to look again (besides when a job ends). */
#define SPACE_RECHECK_USEC (2 * USEC_PER_SEC)
/* After a transient failure (a read, rename or lookup that failed with EIO, EMFILE, ...) the file stays
 * where it is and intake is rescanned after this long, doubling up to RETRY_MAX_USEC while failures go on:
 * no event would ever come for it otherwise. */
#define RETRY_MIN_USEC (1 * USEC_PER_SEC)
#define RETRY_MAX_USEC (60 * USEC_PER_SEC)
#define MIN_FREE_INODES SPOOL_MIN_FREE_INODES
/* Files open and with the reader at once: one being parsed, the next ready. */
#define READ_AHEAD 2U
/* Submissions queued for the reader hold a copy of their bytes each: past this much, a flood of them is
 * parsed on the loop (the cost of each is then paid by its caller's wait, not by the daemon's memory). */
#define SUBMIT_QUEUE_MAX ((size_t) 64 * 1024 * 1024)

struct Spool {
        sd_event *event;
        Committer *committer; /* not owned */
        char *path;
        JobLimits limits;
        int spool_fd, tmp_fd, new_fd, rejected_fd, jobs_fd, intake_fd;
        int unfinished_fd; /* jobs/.unfinished (unfinished.h) */
        int lock_fd;       /* SPOOL/orchd.lock, flocked for our life (spool-lock.c) */
        sd_event_source *inotify_source;
        spool_job_cb cb;
        spool_key_cb key_in_use;
        spool_owner_cb may_run;
        spool_admit_cb admit;
        spool_fatal_cb on_fatal;
        void *userdata;
        uint64_t min_free_bytes;
        unsigned min_free_percent;
        bool full;           /* new jobs wait for room (MinFreeSpace=, ENOSPC) */
        bool full_announced; /* "waiting for room" was logged, "room again" not yet */
        bool held;           /* the daemon cannot write (spool_hold()): nothing is taken */
        sd_event_source *space_timer;
        sd_event_source *retry_timer; /* a file failed for a transient reason (EIO, EMFILE, ...): rescan */
        uint64_t retry_usec;          /* the next retry's delay: doubles while failures go on */
        uint64_t next_id;
        uint64_t n_accepted, n_rejected;
        JobReader *reader;   /* reads and parses on its own thread, in order */
        json_object *queued; /* names in intake/ waiting or being read: a set, so none is taken twice */
        struct Queued *waiting, *waiting_tail; /* FIFO of those not yet opened */
        unsigned n_reading;                    /* handed to the reader, not yet back */
        uint64_t n_staged;                     /* big jobs written ahead (Staged): names jobs/.#read-N */
        size_t submit_bytes;                   /* of submissions with the reader, not yet back */
};

static bool is_job_file_name(const char *name) {
        size_t n = strlen(name);

        return name[0] != '.' && n > 5 && streq(name + n - 5, ".json") && !strchr(name, '/');
}

/* The longest name a claimed file may have: in jobs/.#ID it is carried as source.NAME. */
#define INTAKE_NAME_MAX ((size_t) NAME_MAX - strlen(SOURCE_PREFIX))

/* In jobs/.intake, where only we create names, a file is NAME as dropped, or .TAG~NAME when intake/NAME
 * was taken (a file there could not be processed yet): TAG is unique to the claim, so no leftover ever
 * blocks a claim. The name the file was dropped as, for messages, the job and rejected/. */
static const char *intake_display_name(const char *iname) {
        const char *p = iname[0] == '.' ? strchr(iname, '~') : NULL;

        return p ? p + 1 : iname;
}

static bool is_intake_name(const char *iname) {
        return is_job_file_name(iname) ||
                (iname[0] == '.' && strchr(iname, '~') && is_job_file_name(intake_display_name(iname)));
}

/* A decimal job id ("42"), as used for jobs/ID; 0 if the name is anything else. */
static uint64_t parse_id(const char *name) {
        uint64_t v = 0;

        if (name[0] < '1' || name[0] > '9' || strlen(name) > 19)
                return 0;
        for (const char *p = name; *p; p++) {
                if (*p < '0' || *p > '9')
                        return 0;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        return v;
}

/* ---- rejection -------------------------------------------------------------------------------- */

/* rejected/UID/ for the owner uid, created (0700, root's) on demand. Each owner's rejections live apart,
 * so one user's names never decide, block or reveal the name another user's rejection gets.
 * Returns an fd or -errno. */
static int open_rejected_dir(Spool *s, uid_t uid) {
        char dname[16];
        bool created;
        int fd;

        snprintf(dname, sizeof(dname), "%u", (unsigned) uid);
        created = mkdirat(s->rejected_fd, dname, 0700) >= 0;
        fd = open_dir_at(s->rejected_fd, dname, 0700);
        if (fd >= 0 && created)
                (void) fsync_dir(s->rejected_fd); /* the directory is there before anything moves into it */
        return fd;
}

/* The length of NAME's first n bytes, shortened to a UTF-8 character boundary. */
static size_t utf8_prefix(const char *name, size_t n) {
        while (n > 0 && ((unsigned char) name[n] & 0xC0) == 0x80)
                n--;
        return n;
}

/* Pick rejected/UID/TARGET for the file dropped as NAME, in O(1): NAME itself if it is free and short
 * enough to carry its .error.json suffix, else PREFIX.TAG.json, TAG unique to this file (its inode and
 * the time), PREFIX the start of NAME as far as it fits. A rejection never overwrites an earlier one and
 * never fails for want of a name, however often one name was rejected. */
static int reject_target(int dir_fd, const char *name, ino_t ino, char *target, size_t size) {
        /* The longest TARGET: its records are written as TARGET.error.json by way of write_file_atomic_at's
         * temporary ".#TARGET.error.json.PID.N", up to 21 bytes more. */
        const size_t max = NAME_MAX - strlen(".error.json") - 21;
        size_t len = strlen(name), stem = len - 5, tag_len, keep;
        uint64_t t = now_usec(CLOCK_REALTIME);
        char tag[64], err[NAME_MAX + 32];

        if (len <= max) {
                snprintf(target, size, "%s", name);
                snprintf(err, sizeof(err), "%s.error.json", name);
                if (faccessat(dir_fd, target, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT &&
                    faccessat(dir_fd, err, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
                        return 0;
        }
        /* Unique already; the few tries only guard against a clock stepped back onto an earlier tag. */
        for (unsigned k = 0; k < 8; k++) {
                tag_len = (size_t) snprintf(tag, sizeof(tag), "%jx-%" PRIx64, (uintmax_t) ino, t + k);
                keep = MIN(stem, max - strlen(".json") - 1 - tag_len);
                snprintf(target, size, "%.*s.%s.json", (int) utf8_prefix(name, keep), name, tag);
                snprintf(err, sizeof(err), "%s.error.json", target);
                if (faccessat(dir_fd, target, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT &&
                    faccessat(dir_fd, err, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
                        return 0;
        }
        return -EEXIST;
}

static int remove_entry(Spool *s, const char *name, bool *ret_trashed);

/* The directory could not be emptied and went to rejected/.trash: tell its owner so in the .error. */
static int note_trashed(int dir_fd, const char *target, const char *human) {
        _cleanup_free_ char *text = NULL;
        char err[NAME_MAX + 32];

        if (asprintf(&text,
                     "%.*s; it could not be emptied (its creator may still be adding to it), so it was "
                     "moved where only root can reach it and will be removed at the next start of orchd\n",
                     (int) strcspn(human, "\n"), human) < 0)
                return -ENOMEM;
        snprintf(err, sizeof(err), "%s.error", target);
        return write_file_atomic_at(dir_fd, err, text, strlen(text));
}

/* Move intake/INAME (owner and inode as claimed in st) to rejected/UID/ with its error files, or with
 * remove set remove it (not a regular file) and leave only the error files. The error files go first: if
 * we crash in between, the file is still in intake and is rejected again, under a name of its own. The
 * .error.json records the owner (what the Rejected call trusts, also when there is no file) and the name
 * the file was dropped as, which the kept copy may not have (see reject_target). */
static int spool_reject(Spool *s, const char *iname, const struct stat *st, bool remove, const char *human,
                        json_object *json) {
        _cleanup_close_ int dir_fd = -EBADF;
        const char *name = intake_display_name(iname), *text;
        char target[NAME_MAX + 16], err[NAME_MAX + 32];
        uid_t uid = st->st_uid;
        bool trashed = false;
        int r;

        dir_fd = open_rejected_dir(s, uid);
        if (dir_fd < 0)
                return log_error_errno(dir_fd, "Failed to open %s/rejected/%u: %m", s->path, (unsigned) uid);
        r = reject_target(dir_fd, name, st->st_ino, target, sizeof(target));
        if (r < 0)
                return log_error_errno(r, "Cannot find a free name in rejected/%u/ for '%s': %m",
                                       (unsigned) uid, name);
        if (json_object_object_add(json, "uid", json_object_new_int64(uid)) < 0 ||
            json_object_object_add(json, "removed", json_object_new_boolean(remove)) < 0)
                return log_oom();

        snprintf(err, sizeof(err), "%s.error", target);
        r = write_file_atomic_at(dir_fd, err, human, strlen(human));
        if (r < 0)
                return log_error_errno(r, "Failed to write rejected/%u/%s: %m", (unsigned) uid, err);
        text = json_object_to_json_string_ext(json, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
        snprintf(err, sizeof(err), "%s.error.json", target);
        r = write_file_atomic_at(dir_fd, err, text, strlen(text));
        if (r < 0)
                return log_error_errno(r, "Failed to write rejected/%u/%s: %m", (unsigned) uid, err);

        if (remove)
                r = remove_entry(s, iname, &trashed);
        else
                r = rename_noreplace(s->intake_fd, iname, dir_fd, target);
        if (r < 0)
                return log_error_errno(r, "Failed to %s '%s'%s: %m", remove ? "remove" : "move", name,
                                       remove ? "" : " to rejected/");
        if (trashed)
                (void) note_trashed(dir_fd, target, human);
        (void) fsync_dir(dir_fd);
        s->n_rejected++;
        log_event(LOG_WARNING,
                  LOG_EV(.message_id = ORCH_MESSAGE_JOB_REJECTED, .state = "rejected", .reason = human,
                         .has_uid = true, .uid = uid),
                  "Rejected job file '%s' of uid %u (%s rejected/%u/%s.error): %.*s", name, (unsigned) uid,
                  !remove         ? "kept with" :
                          trashed ? "could not be emptied, moved out of reach; see" :
                                    "removed; see",
                  (unsigned) uid, target, (int) strcspn(human, "\n"), human);
        return 0;
}

/* Reject for one reason that is not about the JSON (file type, owner, size). */
static int spool_reject_reason(Spool *s, const char *iname, const struct stat *st, bool remove,
                               const char *reason) {
        const char *name = intake_display_name(iname);
        _cleanup_free_ char *human = NULL;
        _cleanup_json_ json_object *j = NULL;
        json_object *errs, *e;

        if (asprintf(&human, "%s: %s\n", name, reason) < 0)
                return log_oom();
        j = json_object_new_object();
        errs = json_object_new_array();
        e = json_object_new_object();
        if (!j || !errs || !e) {
                json_object_put(errs);
                json_object_put(e);
                return log_oom();
        }
        json_object_object_add(e, "path", json_object_new_string(""));
        json_object_object_add(e, "message", json_object_new_string(reason));
        json_object_object_add(e, "line", json_object_new_int(0));
        json_object_object_add(e, "column", json_object_new_int(0));
        json_object_array_add(errs, e);
        json_object_object_add(j, "file", json_object_new_string(name));
        json_object_object_add(j, "errors", errs);
        return spool_reject(s, iname, st, remove, human, j);
}

static int spool_reject_errors(Spool *s, const char *iname, const struct stat *st, const JobErrors *errors) {
        _cleanup_free_ char *human = jobspec_errors_format(errors, intake_display_name(iname));
        _cleanup_json_ json_object *j = jobspec_errors_to_json(errors, intake_display_name(iname));

        if (!human || !j)
                return log_oom();
        return spool_reject(s, iname, st, false, human, j);
}

/* The error for a job whose idempotency key is held by the unfinished job `other`. Returns 0 or -ENOMEM. */
static int key_errors(const char *key, uint64_t other, JobErrors **ret) {
        _cleanup_(jobspec_errors_freep) JobErrors *e = calloc(1, sizeof(JobErrors));

        if (!e || !(e->errors = calloc(1, sizeof(JobError))))
                return -ENOMEM;
        e->n_errors = 1;
        e->errors[0].path = strdup("key");
        if (!e->errors[0].path ||
            asprintf(&e->errors[0].message, "\"%s\" is the key of job %" PRIu64 ", which has not finished",
                     key, other) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(e);
        return 0;
}

/* The idempotency key is taken: the same submission is already queued or running. */
static int spool_reject_key(Spool *s, const char *iname, const struct stat *st, const char *key,
                            uint64_t other) {
        _cleanup_(jobspec_errors_freep) JobErrors *e = NULL;

        if (key_errors(key, other, &e) < 0)
                return log_oom();
        return spool_reject_errors(s, iname, st, e);
}

/* Remove intake/NAME, which is not a regular file: a symlink (the link itself), FIFO, socket or device is
 * unlinked; a directory is removed with everything in it, up to REMOVE_MAX_ENTRIES entries. One that
 * cannot be emptied (its creator may still hold an fd and add entries as fast as we remove them) is moved
 * to rejected/.trash, which only root can reach, with *ret_trashed set; it is removed again at the next
 * start. Never loops: the work is bounded either way. Returns 0 or -errno. */
static int remove_entry(Spool *s, const char *name, bool *ret_trashed) {
        _cleanup_close_ int trash_fd = -EBADF;
        char dest[NAME_MAX + 32];
        struct stat st;
        int r;

        r = rm_rf_bounded_at(s->intake_fd, name, REMOVE_MAX_ENTRIES);
        if (r >= 0 || r == -ENOENT)
                return 0;
        if (r == -E2BIG)
                log_notice(
                        "The directory '%s' dropped into new/ holds more than %d entries, moving it out of "
                        "reach.",
                        name, REMOVE_MAX_ENTRIES);
        else
                log_notice_errno(r,
                                 "Cannot empty the directory '%s' dropped into new/ (%m), moving it out of "
                                 "reach.",
                                 name);
        trash_fd = open_dir_at(s->rejected_fd, TRASH_DIR, 0700);
        if (trash_fd < 0)
                return trash_fd;
        if (fstatat(s->intake_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        /* Unique per inode and time: nothing in .trash is ever reused or overwritten. */
        snprintf(dest, sizeof(dest), "%ju.%" PRIu64, (uintmax_t) st.st_ino, now_usec(CLOCK_REALTIME));
        r = rename_noreplace(s->intake_fd, name, trash_fd, dest);
        if (r < 0)
                return r;
        *ret_trashed = true;
        return 0;
}

/* ---- free space (MinFreeSpace=) ------------------------------------------------------------------ */

/* The spool's free space against the floor. Returns 0 (room, or no floor), or -ENOSPC with the figures. */
static int spool_check_floor(Spool *s, uint64_t *ret_free, uint64_t *ret_floor) {
        struct statvfs sv;
        uint64_t floor, free;

        *ret_free = *ret_floor = 0;
        if (s->min_free_bytes == 0 && s->min_free_percent == 0)
                return 0;
        if (fstatvfs(s->spool_fd, &sv) < 0)
                return 0; /* cannot tell: let the writes themselves find out */
        /* f_bavail, not f_bfree: what is left once users have filled their share; the reserve for root
         * (ext4's 5%) stays for recording the ends of running jobs. */
        free = (uint64_t) sv.f_bavail * sv.f_frsize;
        floor = MAX(s->min_free_bytes, (uint64_t) sv.f_blocks * sv.f_frsize / 100 * s->min_free_percent);
        *ret_free = free;
        *ret_floor = floor;
        if (free < floor || (sv.f_files > 0 && sv.f_favail < MIN_FREE_INODES))
                return -ENOSPC;
        return 0;
}

uint64_t spool_floor_bytes(Spool *s) {
        uint64_t free, floor;

        (void) spool_check_floor(s, &free, &floor);
        return floor;
}

static int spool_on_space_timer(sd_event_source *src, uint64_t usec, void *userdata);
static void spool_retry_later(Spool *s, int error);

/* New jobs must wait for room: say so once (not per file), and look again on a timer. */
static void spool_set_full(Spool *s, int error) {
        uint64_t free, floor;

        s->full = true;
        if (!s->full_announced) {
                s->full_announced = true;
                if (spool_check_floor(s, &free, &floor) < 0)
                        log_warning(
                                "The filesystem of %s has %" PRIu64 " MiB free, below MinFreeSpace= (%" PRIu64
                                " MiB) or out of inodes: new jobs wait in new/ and Submit is refused until there "
                                "is room again; running jobs go on.",
                                s->path, free >> 20, floor >> 20);
                else
                        log_warning_errno(
                                error,
                                "Out of space on the filesystem of %s while taking in a job file (%m): "
                                "new jobs wait in new/ and Submit is refused until there is room again; "
                                "running jobs go on.",
                                s->path);
        }
        if (!s->space_timer) {
                if (sd_event_add_time_relative(s->event, &s->space_timer, CLOCK_MONOTONIC, SPACE_RECHECK_USEC,
                                               USEC_PER_SEC / 10, spool_on_space_timer, s) < 0)
                        s->full = false; /* no re-check without the timer: look again at each file instead */
                else
                        (void) sd_event_source_set_description(s->space_timer, "spool-space");
        } else {
                (void) sd_event_source_set_time_relative(s->space_timer, SPACE_RECHECK_USEC);
                (void) sd_event_source_set_enabled(s->space_timer, SD_EVENT_ONESHOT);
        }
}

/* Whether a new job may be taken now. While full, nothing is taken until the re-check finds room (then
 * everything waiting is taken oldest first). */
static bool spool_has_room(Spool *s) {
        uint64_t free, floor;
        int r;

        if (s->full || s->held)
                return false;
        r = spool_check_floor(s, &free, &floor);
        if (r < 0) {
                spool_set_full(s, r);
                return false;
        }
        return true;
}

static int spool_on_space_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        Spool *s = userdata;
        uint64_t free, floor;

        if (spool_check_floor(s, &free, &floor) < 0) {
                spool_set_full(s, -ENOSPC);
                return 0;
        }
        s->full = false;
        (void) spool_rescan(s);
        /* Announce the end only if the rescan did not run out again, so a filesystem that stays too full for
         * the next job does not log twice every re-check. */
        if (!s->full && s->full_announced) {
                s->full_announced = false;
                log_notice("Room again on the filesystem of %s: taking the jobs that waited.", s->path);
        }
        return 0;
}

static bool is_out_of_space(int r) {
        return r == -ENOSPC || r == -EDQUOT;
}

static int spool_on_retry_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        Spool *s = userdata;

        (void) spool_rescan(s);
        return 0;
}

/* A file could not be finished for a transient reason: rescan after a while (once armed, later failures
 * wait for that same rescan). Without the timer the next SIGHUP or restart retries it. */
static void spool_retry_later(Spool *s, int error) {
        int enabled = SD_EVENT_OFF;

        if (s->retry_timer && sd_event_source_get_enabled(s->retry_timer, &enabled) >= 0 &&
            enabled != SD_EVENT_OFF)
                return;
        if (fd_shortage(error)) /* said once per armed retry, not per file */
                log_warning_errno(
                        error,
                        "Out of file descriptors while taking in job files (%m); they wait and are "
                        "taken in a moment. Raise LimitNOFILE= or lower MaxParallel= if this persists.");
        s->retry_usec = MIN(MAX(s->retry_usec * 2, RETRY_MIN_USEC), RETRY_MAX_USEC);
        if (!s->retry_timer) {
                if (sd_event_add_time_relative(s->event, &s->retry_timer, CLOCK_MONOTONIC, s->retry_usec,
                                               USEC_PER_SEC / 10, spool_on_retry_timer, s) >= 0)
                        (void) sd_event_source_set_description(s->retry_timer, "spool-retry");
                return;
        }
        (void) sd_event_source_set_time_relative(s->retry_timer, s->retry_usec);
        (void) sd_event_source_set_enabled(s->retry_timer, SD_EVENT_ONESHOT);
}

/* What processing intake/NAME returned: a transient failure is retried later, a success resets the delay. */
static void spool_note_result(Spool *s, int r) {
        if (is_out_of_space(r))
                spool_set_full(s, r);
        else if (r < 0)
                spool_retry_later(s, r);
        else
                s->retry_usec = 0;
}

void spool_kick(Spool *s) {
        if (!s->full || !s->space_timer)
                return;
        (void) sd_event_source_set_time_relative(s->space_timer, 0);
        (void) sd_event_source_set_enabled(s->space_timer, SD_EVENT_ONESHOT);
}

void spool_hold(Spool *s, bool hold) {
        bool was = s->held;

        s->held = hold;
        if (was && !hold)
                (void) spool_rescan(s);
}

void spool_set_min_free(Spool *s, uint64_t bytes, unsigned percent) {
        s->min_free_bytes = bytes;
        s->min_free_percent = percent;
        spool_kick(s); /* a lower floor may let waiting jobs in */
}

/* ---- acceptance ------------------------------------------------------------------------------- */

/* Create a new file in a directory nobody else can see yet: no temp name needed, the directory rename
 * publishes it. Written on the loop thread, so that running out of space (ENOSPC, EDQUOT) shows here, where
 * the job can still be given up, and not in the committer, where any failure is fail-stop; made durable by
 * the committer (publish_run). */
static int write_fresh_file_at(int dir_fd, const char *name, const struct iovec *iov, size_t n_iov) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0)
                return -errno;
        for (size_t i = 0; i < n_iov; i++) {
                r = loop_write(fd, iov[i].iov_base, iov[i].iov_len);
                if (r < 0)
                        return r;
        }
        if (close(TAKE_FD(fd)) < 0)
                return -errno;
        return 0;
}

static int fsync_file_at(int dir_fd, const char *name) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        return fsync(fd) < 0 ? -errno : 0;
}

/* The run of a job being accepted: ahead (taken over, may be NULL: made here) with the job's own fields. */
static int job_run_for(const JobSpec *spec, JobRun *ahead, uint64_t id, uid_t uid, gid_t gid,
                       const char *name, JobRun **ret) {
        _cleanup_(job_run_freep) JobRun *run = ahead;
        struct passwd *pw;
        int r;

        if (!run) {
                r = job_run_new(spec->n_nodes, &run);
                if (r < 0)
                        return r;
        }
        run->id = id;
        run->uid = uid;
        run->gid = gid;
        run->user = mfree(run->user); /* set by staged_write() for another id */
        run->source = mfree(run->source);
        pw = getpwuid(uid);
        if (pw) {
                run->gid = pw->pw_gid;
                run->user = strdup(pw->pw_name);
                if (!run->user)
                        return -ENOMEM;
        }
        run->source = strdup(name);
        if (!run->source)
                return -ENOMEM;
        run->submitted_at = now_usec(CLOCK_REALTIME);
        *ret = TAKE_PTR(run);
        return 0;
}

/* What the committer thread needs to make an accepted job durable and visible. Holds no fd of its own (it
 * borrows the spool's jobs/, which outlives the committer), so a backlog of acceptances costs no fds. */
typedef struct Publish {
        int jobs_fd;
        char tmp[32], final[32], source[NAME_MAX + 16];
} Publish;

static void publish_free(void *p) {
        free(p);
}

static void publish_freep(Publish **p) {
        if (*p)
                publish_free(*p);
}

/* On the committer thread: everything inside jobs/.#ID must be durable before the rename that makes it
 * jobs/ID, the acceptance. A crash before that rename gives the source back to intake at the next start.
 * A failure (out of fds, say) leaves it to be run again by committer_resume(), maybe past the rename. */
static int publish_run(void *p) {
        Publish *pub = p;
        _cleanup_close_ int dir_fd = -EBADF;
        bool renamed = false;
        int r;

        dir_fd = openat(pub->jobs_fd, pub->tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir_fd < 0 && errno == ENOENT) {
                renamed = true;
                dir_fd = openat(pub->jobs_fd, pub->final, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (dir_fd < 0)
                return -errno;
        r = fsync_file_at(dir_fd, "job.json");
        if (r < 0)
                return r;
        r = fsync_file_at(dir_fd, "state.json");
        if (r < 0)
                return r;
        r = fsync_dir(dir_fd);
        if (r < 0)
                return r;
        if (!renamed && renameat(pub->jobs_fd, pub->tmp, pub->jobs_fd, pub->final) < 0)
                return -errno;
        r = fsync_dir(pub->jobs_fd);
        if (r < 0)
                return r;
        /* Accepted. The source copy is no longer needed; a crash before this unlink is cleaned at start. */
        if (pub->source[0] != '\0')
                (void) unlinkat(dir_fd, pub->source, 0);
        return 0;
}

/* Into the new directory dfd: logs/, job.json (buf) and state.json (state, then nodes and the snapshot's
 * tail if nodes is not NULL). On the loop, or on the reader's thread (staged_write). Returns 0 or -errno. */
static int write_job_files(int dfd, const char *buf, size_t size, const char *state, size_t state_len,
                           const char *nodes, size_t nodes_len) {
        struct iovec iov[3] = { { (char *) state, state_len },
                                { (char *) nodes, nodes_len },
                                { (char *) JOURNAL_SNAPSHOT_TAIL, strlen(JOURNAL_SNAPSHOT_TAIL) } };
        int r;

        if (mkdirat(dfd, "logs", 0750) < 0)
                return -errno;
        r = write_fresh_file_at(dfd, "job.json", &(struct iovec){ (char *) buf, size }, 1);
        if (r < 0)
                return r;
        return write_fresh_file_at(dfd, "state.json", iov, nodes ? 3 : 1);
}

/* Create jobs/NAME holding the job's files (write_job_files()). Returns an fd of it, or -errno with nothing
 * of it left. */
static int make_job_dir(int jobs_fd, const char *name, const char *buf, size_t size, const char *state,
                        size_t state_len, const char *nodes, size_t nodes_len) {
        _cleanup_close_ int dfd = -EBADF;
        int r;

        (void) rm_rf_at(jobs_fd, name);
        if (mkdirat(jobs_fd, name, 0750) < 0)
                return -errno;
        dfd = r = open_dir_at(jobs_fd, name, 0750);
        if (r >= 0)
                r = write_job_files(dfd, buf, size, state, state_len, nodes, nodes_len);
        if (r < 0) {
                (void) rm_rf_at(jobs_fd, name);
                return r;
        }
        return TAKE_FD(dfd);
}

/* A big job's files are written ahead on the reader's thread, into jobs/.#read-N (a name start-up removes,
 * spool_tidy_jobs()), for the id the job gets if every file handed to the reader before it is accepted;
 * acceptance then renames that directory to jobs/.#ID rather than write megabytes on the loop. If the
 * guess was wrong, or the writing failed (a full filesystem), the loop writes the files itself as for a
 * small job, and meets the error there. */
#define STAGE_MIN_BYTES ((off_t) 256 * 1024)

typedef struct Staged {
        int jobs_fd; /* borrowed from the spool, which frees the reader first */
        char name[32];
        uint64_t id; /* guessed */
        uid_t uid;
        gid_t gid; /* as job_run_for() sets them, looked up on the loop */
        char *user;
        char *source;
        int r; /* 0 while jobs/NAME holds the files; -EINPROGRESS before the thread got to it; else why not */
} Staged;

static Staged *staged_free(Staged *st) {
        if (!st)
                return NULL;
        if (st->r == 0) /* not taken by an acceptance */
                (void) rm_rf_at(st->jobs_fd, st->name);
        free(st->user);
        free(st->source);
        return mfree(st);
}

/* On the reader's thread: the run as job_run_for() would make it for the guessed id, and the job's files. */
static void staged_write(JobRead *rd, void *data) {
        Staged *st = data;
        JobRun *run = rd->run;
        _cleanup_free_ char *head = NULL;
        size_t head_len;
        int fd;

        if (!run || !rd->state_nodes) {
                st->r = -ENOMEM;
                return;
        }
        run->id = st->id;
        run->uid = st->uid;
        run->gid = st->gid;
        run->user = TAKE_PTR(st->user);
        run->source = TAKE_PTR(st->source);
        run->submitted_at = now_usec(CLOCK_REALTIME);
        head = journal_build_snapshot_head(run, 0, &head_len);
        if (!head) {
                st->r = -ENOMEM;
                return;
        }
        fd = make_job_dir(st->jobs_fd, st->name, rd->buf, rd->size, head, head_len, rd->state_nodes,
                          rd->state_nodes_len);
        st->r = fd < 0 ? fd : 0;
        safe_close(fd);
}

/* On the loop, just before rd goes to the reader: stage a job file of size bytes, if it is big enough to be
 * worth it. Returns 0 or -ENOMEM. */
static int staged_attach(Spool *s, JobRead *rd, off_t size, uid_t uid, gid_t gid, const char *source,
                         Staged **ret) {
        struct passwd *pw;
        Staged *st;

        *ret = NULL;
        if (size < STAGE_MIN_BYTES || s->full)
                return 0;
        st = calloc(1, sizeof(Staged));
        if (!st)
                return -ENOMEM;
        pw = getpwuid(uid);
        *st = (Staged){ .jobs_fd = s->jobs_fd,
                        .id = s->next_id + jobreader_pending(s->reader),
                        .uid = uid,
                        .gid = pw ? pw->pw_gid : gid,
                        .r = -EINPROGRESS };
        snprintf(st->name, sizeof(st->name), ".#read-%" PRIu64, ++s->n_staged);
        st->source = strdup(source);
        st->user = pw ? strdup(pw->pw_name) : NULL;
        if (!st->source || (pw && !st->user)) {
                staged_free(st);
                return -ENOMEM;
        }
        rd->after_parse = staged_write;
        rd->after_data = st;
        *ret = st;
        return 0;
}

/* On the loop thread, only cheap operations: create jobs/.#ID with its logs/ directory, job.json and
 * state.json (unsynced), or rename the one stage (may be NULL) made for it, then move the claimed file into
 * it (so intake/NAME is free again at once). The fsyncs and the publishing rename are queued on the
 * committer, ahead of any journal record of the job.
 * The job may start before that is durable: should we crash first, the file is taken again at the next
 * start, which for its nodes is the same as being interrupted; a node with on_interrupt=fail waits for its
 * own durable start record, which the committer writes after the acceptance. On failure (-ENOSPC and
 * -EDQUOT included) jobs/.#ID is gone again and intake/NAME is where it was. */
static int spool_publish(Spool *s, uint64_t id, const char *intake_name, const char *buf, size_t size,
                         const JobSpec *spec, const JobRun *run, const JobRead *rd, Staged *stage,
                         int *ret_dir_fd) {
        _cleanup_(publish_freep) Publish *pub = NULL;
        _cleanup_free_ char *state = NULL;
        _cleanup_close_ int dfd = -EBADF;
        size_t state_len;
        int r;

        pub = calloc(1, sizeof(*pub));
        if (!pub)
                return -ENOMEM;
        pub->jobs_fd = s->jobs_fd;
        snprintf(pub->tmp, sizeof(pub->tmp), ".#%" PRIu64, id);
        snprintf(pub->final, sizeof(pub->final), "%" PRIu64, id);
        if (intake_name) /* a submission over the socket has no file to carry along */
                snprintf(pub->source, sizeof(pub->source), SOURCE_PREFIX "%s", intake_name);
        if (stage) {
                (void) rm_rf_at(s->jobs_fd, pub->tmp);
                if (renameat(s->jobs_fd, stage->name, s->jobs_fd, pub->tmp) < 0)
                        return -errno;
                stage->r = -ESTALE; /* it is jobs/.#ID now */
                dfd = r = open_dir_at(s->jobs_fd, pub->tmp, 0750);
        } else {
                /* The nodes' part built by the reader, if it could: the loop only adds the job's own fields,
                 * and writes the pieces one after the other rather than copy megabytes into one buffer. */
                state = rd && rd->state_nodes ? journal_build_snapshot_head(run, 0, &state_len) :
                                                journal_build_snapshot(spec, run, 0, &state_len);
                if (!state)
                        return -ENOMEM;
                dfd = r = make_job_dir(s->jobs_fd, pub->tmp, buf, size, state, state_len,
                                       rd ? rd->state_nodes : NULL, rd ? rd->state_nodes_len : 0);
        }
        if (r >= 0 && intake_name && renameat(s->intake_fd, intake_name, dfd, pub->source) < 0)
                r = -errno;
        if (r < 0) {
                (void) rm_rf_at(s->jobs_fd, pub->tmp);
                return r;
        }
        /* From here on the file is in jobs/.#ID; only the committer moves it further. */
        r = committer_add_call(s->committer, publish_run, publish_free, TAKE_PTR(pub),
                               "the acceptance of a job");
        if (r < 0)
                return r;
        *ret_dir_fd = TAKE_FD(dfd);
        return 0;
}

/* Make a validated job durable and hand it to the manager. buf and spec are taken over (also on failure).
 * intake_name is the claimed file in jobs/.intake (NULL for a submission over the socket); source is
 * the name recorded as the job's source; rd (may be NULL) what the reader built ahead for it (its run and
 * prep are taken), stage (may be NULL) the files it wrote ahead. Returns 0 with *ret_id, or -errno (the
 * intake file, if any, is where it was). */
static int spool_accept(Spool *s, const char *source, const char *intake_name, char *buf, size_t size,
                        JobSpec *spec_in, JobRead *rd, Staged *stage, uid_t uid, gid_t gid, uint64_t *ret_id) {
        _cleanup_(jobspec_freep) JobSpec *spec = spec_in;
        _cleanup_(job_run_freep) JobRun *run = NULL;
        _cleanup_free_ char *bytes = buf;
        uint64_t id = s->next_id;
        int dir_fd = -EBADF, r;

        if (stage && stage->r == 0 && stage->id == id && rd && rd->run) {
                run = TAKE_PTR(rd->run); /* made for this id by staged_write(), as job_run_for() would */
        } else {
                stage = NULL;
                r = job_run_for(spec, rd ? TAKE_PTR(rd->run) : NULL, id, uid, gid, source, &run);
                if (r < 0)
                        return r;
        }
        r = spool_publish(s, id, intake_name, bytes, size, spec, run, rd, stage, &dir_fd);
        if (r == -ENOMEM && s->on_fatal)
                /* The source may already be in jobs/.#ID: only a restart puts it back. */
                s->on_fatal(r, "the acceptance of a job", s->userdata);
        if (r < 0)
                return r;
        s->next_id++;
        s->n_accepted++;
        log_event(LOG_INFO,
                  LOG_EV(.message_id = ORCH_MESSAGE_JOB_ACCEPTED, .job = id, .job_name = spec->name,
                         .state = "queued", .has_uid = true, .uid = uid),
                  "Accepted '%s' as job %" PRIu64 " (%s, %zu nodes, uid %u).", source, id, spec->name,
                  spec->n_nodes, (unsigned) uid);
        s->cb(s, TAKE_PTR(spec), TAKE_PTR(run), rd ? TAKE_PTR(rd->prep) : NULL, dir_fd, s->userdata);
        *ret_id = id;
        return 0;
}

/* ---- processing: checks on the loop, reading and parsing on the reader's thread ------------------ */

/* A file of intake/ queued for processing: waiting its turn, or being read. */
typedef struct Queued {
        char *name;
        struct Queued *next;
} Queued;

/* What comes back with a claimed file from the reader's thread. */
typedef struct FileRead {
        Spool *spool;
        char *name;     /* in intake/ */
        struct stat st; /* of the open file */
        Staged *stage;  /* may be NULL */
} FileRead;

static void file_read_free(void *p) {
        FileRead *f = p;

        staged_free(f->stage);
        free(f->name);
        free(f);
}

static void spool_pump(Spool *s);
static void spool_on_file_read(JobRead *rd, void *userdata);

/* intake/NAME is no longer queued: a later rescan may take it again (if it is still there). */
static void spool_unqueue(Spool *s, const char *name) {
        json_object_object_del(s->queued, name);
}

/* The first half of processing, the cheap one, on the loop: inspect intake/NAME, open it and ask whether
 * its owner may run jobs, then hand the open file to the reader. Returns 1 (handed over), 0 (finished:
 * rejected, or gone) or -errno (it stays in intake for a later try). */
static int spool_process_begin(Spool *s, const char *name) {
        _cleanup_(jobread_freep) JobRead *rd = NULL;
        _cleanup_free_ char *reason = NULL;
        _cleanup_close_ int fd = -EBADF;
        FileRead *f;
        struct stat st;
        int r;

        /* Anything but a regular file is removed unread, its owner told why (issue 8, point 6). */
        if (fstatat(s->intake_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0;
                return log_warning_errno(errno, "Cannot inspect job file '%s', will retry: %m", name);
        }
        if (!S_ISREG(st.st_mode)) {
                if (asprintf(&reason, "%s: only regular files are job files, so it was removed, not kept",
                             file_type_refusal(st.st_mode)) < 0)
                        return log_oom();
                return spool_reject_reason(s, name, &st, true, reason);
        }
        /* Kept under a shortened name in rejected/: as it is, it would never fit where it has to go. */
        if (strlen(name) > INTAKE_NAME_MAX) {
                if (asprintf(&reason,
                             "its name is %zu bytes long, a job file name may have at most %zu: rename it "
                             "and drop it again",
                             strlen(name), INTAKE_NAME_MAX) < 0)
                        return log_oom();
                return spool_reject_reason(s, name, &st, false, reason);
        }
        r = open_foreign_file(s->intake_fd, name, s->limits.max_file_size, &fd, &st, &reason);
        if (r == -EPERM)
                return spool_reject_reason(s, name, &st, false, reason);
        if (r < 0)
                return log_warning_errno(r, "Cannot open job file '%s', will retry: %m", name);
        /* The owner of the file as opened, never a name in its content, is who the job runs as (SPEC §8). */
        if (s->may_run) {
                _cleanup_free_ char *why = NULL;

                r = s->may_run(st.st_uid, &why, s->userdata);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0 && !why) /* the lookup failed: no answer, so no refusal */
                        return log_warning_errno(
                                r, "Cannot look up the owner (uid %u) of job file '%s', will retry: %m",
                                (unsigned) st.st_uid, name);
                if (r < 0)
                        return spool_reject_reason(s, name, &st, false, why);
        }

        rd = jobread_new();
        f = calloc(1, sizeof(FileRead));
        if (!rd || !f) {
                free(f);
                return log_oom();
        }
        rd->userdata = f;
        rd->free_userdata = file_read_free;
        *f = (FileRead){ .spool = s, .st = st };
        f->name = strdup(name);
        rd->default_name = jobspec_name_from_filename(intake_display_name(name));
        if (!f->name || !rd->default_name || jobread_prepare_for(rd, st.st_uid) < 0)
                return log_oom();
        r = staged_attach(s, rd, st.st_size, st.st_uid, st.st_gid, intake_display_name(name), &f->stage);
        if (r < 0)
                return log_oom();
        rd->fd = TAKE_FD(fd);
        rd->max_size = s->limits.max_file_size;
        rd->limits = s->limits;
        rd->done = spool_on_file_read;
        jobreader_submit(s->reader, TAKE_PTR(rd));
        s->n_reading++;
        return 1;
}

/* The second half, on the loop, once the reader is done with intake/NAME: reject it or accept it.
 * Transient failures leave it in intake for a later try. */
static int spool_process_end(Spool *s, const char *name, const struct stat *st, JobRead *rd, Staged *stage) {
        uint64_t id;
        int r;

        if (!rd->parsed && rd->r == -EFBIG)
                return spool_reject_reason(s, name, st, false, "grew over the size limit while being read");
        if (!rd->parsed)
                return log_warning_errno(rd->r, "Cannot read job file '%s', will retry: %m", name);
        if (rd->r == -EINVAL)
                return spool_reject_errors(s, name, st, rd->errors);
        if (rd->r < 0)
                return log_error_errno(rd->r, "Failed to parse '%s': %m", name);

        if (rd->spec->key && s->key_in_use) {
                uint64_t other = s->key_in_use(rd->spec->key, st->st_uid, s->userdata);

                if (other > 0)
                        return spool_reject_key(s, name, st, rd->spec->key, other);
        }
        if (s->admit) {
                _cleanup_free_ char *why = NULL;

                r = s->admit(st->st_uid, rd->size, rd->spec->n_nodes, &why, s->userdata);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        return spool_reject_reason(s, name, st, false, why);
        }
        log_debug("Parsed '%s' in %.1f ms.", name, rd->parse_usec / 1000.0);
        /* A file claimed before the spool ran full (or left in intake by a crash) waits there for room. */
        if (!spool_has_room(s))
                return 0;
        r = spool_accept(s, intake_display_name(name), name, TAKE_PTR(rd->buf), rd->size, TAKE_PTR(rd->spec),
                         rd, stage, st->st_uid, st->st_gid, &id);
        if (is_out_of_space(r))
                return r; /* the file stays in intake; the re-check takes it again */
        return r < 0 ? log_error_errno(r, "Failed to accept '%s', will retry: %m", name) : 0;
}

static void spool_on_file_read(JobRead *rd_in, void *userdata) {
        _cleanup_(jobread_freep) JobRead *rd = rd_in;
        FileRead *f = userdata;
        Spool *s = f->spool;
        int r;

        assert(s->n_reading > 0);
        s->n_reading--;
        r = spool_process_end(s, f->name, &f->st, rd, f->stage);
        spool_unqueue(s, f->name);
        spool_note_result(s, r);
        spool_pump(s);
}

/* Start on the queued files, oldest first, keeping at most READ_AHEAD with the reader: the thread always
 * has the next one while the loop finishes the last, and no more fds are open than that. Below the floor
 * the waiting ones are let go: they stay in intake, and the re-check rescans it. */
static void spool_pump(Spool *s) {
        while (s->waiting && s->n_reading < READ_AHEAD) {
                Queued *q = s->waiting;
                int r = 0;

                s->waiting = q->next;
                if (!s->waiting)
                        s->waiting_tail = NULL;
                if (!s->full)
                        r = spool_process_begin(s, q->name);
                if (r <= 0)
                        spool_unqueue(s, q->name);
                spool_note_result(s, r);
                free(q->name);
                free(q);
        }
}

/* Queue intake/NAME to be accepted or rejected, after the files queued before it, unless it is queued
 * already (a rescan and an event can both name it). Returns 0 or -ENOMEM. */
static int spool_process(Spool *s, const char *name) {
        _cleanup_free_ Queued *q = NULL;

        if (json_object_object_get_ex(s->queued, name, NULL))
                return 0;
        q = calloc(1, sizeof(Queued));
        if (!q || !(q->name = strdup(name)) || json_object_object_add(s->queued, name, NULL) < 0) {
                if (q)
                        free(q->name);
                return log_oom();
        }
        if (s->waiting_tail)
                s->waiting_tail->next = q;
        else
                s->waiting = q;
        s->waiting_tail = TAKE_PTR(q);
        spool_pump(s);
        return 0;
}

/* A submission over the socket, on its way through the reader. */
typedef struct SubmitRead {
        Spool *spool;
        char *name;
        uid_t uid;
        gid_t gid;
        bool queued;   /* counted in submit_bytes */
        Staged *stage; /* may be NULL */
        spool_submit_cb cb;
        void *userdata;
        void (*free_userdata)(void *userdata);
} SubmitRead;

static void submit_read_free(void *p) {
        SubmitRead *sr = p;

        staged_free(sr->stage);
        if (sr->free_userdata)
                sr->free_userdata(sr->userdata);
        free(sr->name);
        free(sr);
}

/* Key, admission and room for a parsed submission, then the acceptance. Returns 0 with *ret_id, or as
 * spool_submit_cb's r. */
static int spool_submit_end(Spool *s, SubmitRead *sr, JobRead *rd, uint64_t *ret_id, JobErrors **reterr) {
        int r;

        if (rd->r < 0) {
                *reterr = TAKE_PTR(rd->errors);
                return rd->r;
        }
        if (rd->spec->key && s->key_in_use) {
                uint64_t other = s->key_in_use(rd->spec->key, sr->uid, s->userdata);

                if (other > 0)
                        return key_errors(rd->spec->key, other, reterr) < 0 ? -ENOMEM : -EINVAL;
        }
        if (s->admit) {
                _cleanup_free_ char *why = NULL;

                r = s->admit(sr->uid, rd->size, rd->spec->n_nodes, &why, s->userdata);
                if (r < 0)
                        return r;
        }
        if (!spool_has_room(s))
                return -ENOSPC;
        /* Our own copy of the bytes becomes job.json, as for a dropped file. */
        r = spool_accept(s, sr->name, NULL, TAKE_PTR(rd->buf), rd->size, TAKE_PTR(rd->spec), rd, sr->stage,
                         sr->uid, sr->gid, ret_id);
        if (is_out_of_space(r)) {
                spool_set_full(s, r);
                return -ENOSPC;
        }
        return r;
}

static void spool_on_submit_read(JobRead *rd_in, void *userdata) {
        _cleanup_(jobread_freep) JobRead *rd = rd_in;
        _cleanup_(jobspec_errors_freep) JobErrors *errors = NULL;
        SubmitRead *sr = userdata;
        uint64_t id = 0;
        int r;

        if (sr->queued)
                sr->spool->submit_bytes -= rd->size;
        r = spool_submit_end(sr->spool, sr, rd, &id, &errors);
        sr->cb(r, id, errors, sr->userdata);
}

int spool_submit(Spool *s, const char *name, const char *buf, size_t size, uid_t uid, gid_t gid,
                 spool_submit_cb cb, void *userdata, void (*free_userdata)(void *userdata)) {
        _cleanup_(jobread_freep) JobRead *rd = jobread_new();
        SubmitRead *sr = calloc(1, sizeof(SubmitRead));

        if (!rd || !sr) {
                free(sr);
                if (free_userdata)
                        free_userdata(userdata);
                return -ENOMEM;
        }
        *sr = (SubmitRead){
                .spool = s, .uid = uid, .gid = gid, .cb = cb, .userdata = userdata, .free_userdata = free_userdata
        };
        rd->userdata = sr;
        rd->free_userdata = submit_read_free;
        sr->name = strdup(name);
        rd->default_name = jobspec_name_from_filename(name);
        rd->buf = memdup(buf, size + 1); /* with its NUL, as read_full_fd() leaves it */
        if (!sr->name || !rd->default_name || !rd->buf || jobread_prepare_for(rd, uid) < 0)
                return -ENOMEM;
        rd->size = size;
        rd->limits = s->limits;
        rd->done = spool_on_submit_read;
        if (s->submit_bytes + size > SUBMIT_QUEUE_MAX) {
                jobread_run(rd);
                spool_on_submit_read(TAKE_PTR(rd), sr);
                return 0;
        }
        if (staged_attach(s, rd, (off_t) size, uid, gid, name, &sr->stage) < 0)
                return -ENOMEM;
        sr->queued = true;
        s->submit_bytes += size;
        jobreader_submit(s->reader, TAKE_PTR(rd));
        return 0;
}

/* Claim new/NAME as intake/.TAG~NAME, TAG unique to this claim (the file's inode and the time), NAME
 * shortened if need be to keep within INTAKE_NAME_MAX. The name is written to iname. Returns 0 or -errno. */
static int claim_unique(Spool *s, const char *name, char *iname, size_t size) {
        struct stat st;
        size_t prefix_len, keep;
        char prefix[64];

        if (fstatat(s->new_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        prefix_len = (size_t) snprintf(prefix, sizeof(prefix), ".%jx-%" PRIx64 "~", (uintmax_t) st.st_ino,
                                       now_usec(CLOCK_REALTIME));
        keep = utf8_prefix(name, MIN(strlen(name) - 5, INTAKE_NAME_MAX - prefix_len - 5));
        snprintf(iname, size, "%s%.*s.json", prefix, (int) keep, name);
        return rename_noreplace(s->new_fd, name, s->intake_fd, iname);
}

/* Claim new/NAME by renaming it into the private intake directory, then process it. */
static int spool_take(Spool *s, const char *name) {
        char iname[NAME_MAX + 1];
        int r;

        if (!is_job_file_name(name))
                return 0;
        /* Below the floor a file is not even claimed: it stays in new/, visible to its owner, and is taken
         * once there is room. */
        if (!spool_has_room(s))
                return 0;
        snprintf(iname, sizeof(iname), "%s", name);
        r = rename_noreplace(s->new_fd, name, s->intake_fd, iname);
        if (r == -EEXIST) {
                /* A file of that name from before a crash is still in intake: finish it first. */
                (void) spool_process(s, name);
                r = rename_noreplace(s->new_fd, name, s->intake_fd, iname);
        }
        if (r == -EEXIST)
                /* It could not be finished now (it waits for a rescan): whoever's it is, it must not block
                 * this claim. */
                r = claim_unique(s, name, iname, sizeof(iname));
        if (r == -ENOENT)
                return 0; /* already taken (a rescan and an event can both name it) */
        if (r < 0) {
                spool_retry_later(s, r);
                return log_warning_errno(r, "Failed to claim new/%s, will retry: %m", name);
        }
        return spool_process(s, iname);
}

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
        _cleanup_close_ int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        Entry *list = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        DIR *d;

        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d)
                return -errno;
        TAKE_FD(fd);
        while ((de = readdir(d))) {
                struct stat st = {};

                if (!(intake ? is_intake_name(de->d_name) : is_job_file_name(de->d_name)))
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

/* jobs/.#ID left by a crash: give its source back to intake, then remove it. */
static void recover_unpublished(Spool *s, const char *dname) {
        _cleanup_close_ int dfd = open_dir_at(s->jobs_fd, dname, 0750);
        struct dirent *de;
        DIR *d;

        if (dfd >= 0) {
                int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

                d = fd >= 0 ? fdopendir(fd) : NULL;
                if (!d)
                        safe_close(fd);
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
        int fd;

        fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                safe_close(fd);
                return;
        }
        while ((de = readdir(d)))
                if (strneq(de->d_name, SOURCE_PREFIX, strlen(SOURCE_PREFIX)) || strneq(de->d_name, ".#", 2))
                        (void) unlinkat(dfd, de->d_name, 0);
        closedir(d);
}

static uint64_t max_id_in(int dir_fd) {
        uint64_t max = 0;
        struct dirent *de;
        DIR *d;
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                safe_close(fd);
                return 0;
        }
        while ((de = readdir(d)))
                max = MAX(max, parse_id(de->d_name));
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
        int fd = openat(s->jobs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int corrupt_fd = -EBADF;

        d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                safe_close(fd);
                return -errno;
        }
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
                return log_error_errno(fd, "Failed to open %s%s%s (it must be a directory, not a symlink): %m",
                                       s->path, name ? "/" : "", name ?: "");
        r = dir_check_safe(fd, geteuid(), policy, &why);
        if (r == -EPERM)
                return log_error_errno(r, "Refusing to use %s%s%s: it %s.", s->path, name ? "/" : "",
                                       name ?: "", why);
        if (r < 0)
                return log_error_errno(r, "Failed to set up %s%s%s: %m", s->path, name ? "/" : "", name ?: "");
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
                                "Spool %s is in use by another orchd (pid %d, the holder of %s/%s); leaving it "
                                "alone. Stop that one first, or give this one another --spool.",
                                s->path, (int) holder, s->path, SPOOL_LOCK_FILE);
                else
                        log_error(
                                "Spool %s is in use by another orchd, which is still starting (it holds %s/%s); "
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
