/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spool-rejected.c — keeping a file that cannot be accepted (SPEC §2): it moves
 * to rejected/UID/ (root's alone, 0700) with NAME.json.error (for people) and
 * NAME.json.error.json (for the Rejected call) beside it, never deleted;
 * anything that is not a regular file is removed instead (a directory that
 * cannot be emptied goes to rejected/.trash), with an error record for its
 * owner. Names are chosen without probing, so no name ever blocks a step.
 */

#include "spool-internal.h"
#include "utf8.h"

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
                snprintf(target, size, "%.*s.%s.json", (int) utf8_cut(name, keep), name, tag);
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
        const char *name = spool_intake_display_name(iname), *text;
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

int spool_reject_reason(Spool *s, const char *iname, const struct stat *st, bool remove,
                        const char *reason) {
        const char *name = spool_intake_display_name(iname);
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

int spool_reject_errors(Spool *s, const char *iname, const struct stat *st, const JobErrors *errors) {
        _cleanup_free_ char *human = jobspec_errors_format(errors, spool_intake_display_name(iname));
        _cleanup_json_ json_object *j = jobspec_errors_to_json(errors, spool_intake_display_name(iname));

        if (!human || !j)
                return log_oom();
        return spool_reject(s, iname, st, false, human, j);
}

int spool_key_errors(const char *key, uint64_t other, JobErrors **ret) {
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

int spool_reject_key(Spool *s, const char *iname, const struct stat *st, const char *key, uint64_t other) {
        _cleanup_(jobspec_errors_freep) JobErrors *e = NULL;

        if (spool_key_errors(key, other, &e) < 0)
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
