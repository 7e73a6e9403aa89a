/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spool-intake.c — processing a file: claiming it from new/ into the private
 * jobs/.intake by rename, the checks on the loop (type, owner, links, size,
 * may_run), reading and parsing on the reader's thread (READ_AHEAD files at
 * once, in order), the key and per-user checks (key_in_use, admit), and then
 * acceptance or rejection. Also Submit: a job handed over the control socket
 * takes the same path without a file in new/.
 */

#include "resources.h"
#include "spool-internal.h"
#include "utf8.h"

/* ---- processing: checks on the loop, reading and parsing on the reader's thread ------------------ */

/* What comes back with a claimed file from the reader's thread. */
typedef struct FileRead {
        Spool *spool;
        char *name;     /* in intake/ */
        struct stat st; /* of the open file */
        Staged *stage;  /* may be NULL */
} FileRead;

static void file_read_free(void *p) {
        FileRead *f = p;

        spool_staged_free(f->stage);
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
        rd->default_name = jobspec_name_from_filename(spool_intake_display_name(name));
        if (!f->name || !rd->default_name || jobread_prepare_for(rd, st.st_uid) < 0)
                return log_oom();
        r = spool_staged_attach(s, rd, st.st_size, st.st_uid, st.st_gid, spool_intake_display_name(name),
                                &f->stage);
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
void spool_set_resources(Spool *s, bool cgroups, unsigned controllers) {
        s->resources_pgroup = !cgroups;
        s->resources_mask = controllers;
}

/* Whether every "resources" limit of spec can be enforced here. Returns 0, -EOPNOTSUPP with *ret_why
 * naming the node, the field and the missing controller, or -ENOMEM. */
static int spool_check_resources(Spool *s, const JobSpec *spec, char **ret_why) {
        for (size_t i = 0; i <= spec->n_nodes; i++) {
                const Resources *r = i < spec->n_nodes ? spec->nodes[i].resources : spec->resources;
                _cleanup_free_ char *why = NULL;
                int k;

                if (!r || (i < spec->n_nodes && r == spec->resources))
                        continue; /* none, or the job's own: checked once, last */
                k = resources_check(r, s->resources_pgroup ? 0 : s->resources_mask, &why);
                if (k == -ENOMEM)
                        return k;
                if (k < 0) {
                        if (asprintf(ret_why, "%s%s%s%s", i < spec->n_nodes ? "nodes." : "",
                                     i < spec->n_nodes ? spec->nodes[i].id : "",
                                     i < spec->n_nodes ? "." : "", why) < 0 ||
                            (s->resources_pgroup &&
                             asprintf(&why,
                                      "%s; orchd runs nodes in process groups (Isolation=pgroup, or no "
                                      "delegated cgroup2): remove the limit or run orchd with cgroups",
                                      *ret_why) < 0))
                                return -ENOMEM;
                        if (s->resources_pgroup) {
                                free(*ret_why);
                                *ret_why = TAKE_PTR(why);
                        }
                        return k;
                }
        }
        return 0;
}

static int spool_process_end(Spool *s, const char *name, const struct stat *st, JobRead *rd, Staged *stage) {
        _cleanup_free_ char *why_res = NULL;
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
        r = spool_check_resources(s, rd->spec, &why_res);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return spool_reject_reason(s, name, st, false, why_res);
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
        r = spool_accept(s, spool_intake_display_name(name), name, TAKE_PTR(rd->buf), rd->size,
                         TAKE_PTR(rd->spec), rd, stage, st->st_uid, st->st_gid, &id);
        if (spool_out_of_space(r))
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

int spool_process(Spool *s, const char *name) {
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

        spool_staged_free(sr->stage);
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
                        return spool_key_errors(rd->spec->key, other, reterr) < 0 ? -ENOMEM : -EINVAL;
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
        if (spool_out_of_space(r)) {
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
        *sr = (SubmitRead){ .spool = s,
                            .uid = uid,
                            .gid = gid,
                            .cb = cb,
                            .userdata = userdata,
                            .free_userdata = free_userdata };
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
        if (spool_staged_attach(s, rd, (off_t) size, uid, gid, name, &sr->stage) < 0)
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
        keep = utf8_cut(name, MIN(strlen(name) - 5, INTAKE_NAME_MAX - prefix_len - 5));
        snprintf(iname, size, "%s%.*s.json", prefix, (int) keep, name);
        return rename_noreplace(s->new_fd, name, s->intake_fd, iname);
}

int spool_take(Spool *s, const char *name) {
        char iname[NAME_MAX + 1];
        int r;

        if (!spool_is_job_file_name(name))
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
