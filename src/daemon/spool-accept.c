/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spool-accept.c — acceptance: a valid file becomes jobs/.#ID with job.json (our
 * copy of the bytes read), state.json and the nodes' records, made durable by
 * the committer in order with journal writes, and then jobs/ID by one rename,
 * which is the acceptance. A big job's files are written ahead on the reader's
 * thread (Staged) so the loop only renames them.
 */

#include "pwcache.h"
#include "spool-internal.h"

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
        const struct passwd *pw;
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
        pw = pwcache_getpwuid(uid);
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
        return 0; /* the rename is made durable by the batch's one fsync of jobs/ (publish_after) */
}

/* Whether a node of jobs/.#ID (dfd) may have run: its keeper or the child itself put the start in "starts"
 * before the exec. */
static bool starts_recorded(int dfd) {
        struct stat st;

        return fstatat(dfd, "starts", &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISREG(st.st_mode) &&
                st.st_size > 0;
}

/* Whether jobs/.#ID (dfd) holds a job as the recovery loads it: job.json valid, state.json loading. After a
 * crash of orchd alone they are whole (written before any node started); after one of the machine they
 * may be torn, and then nothing of the job runs any more either. Returns 0 or -errno, err set. */
static int unpublished_loads(Spool *s, int dfd, char **ret_err) {
        _cleanup_(jobspec_errors_freep) JobErrors *errors = NULL;
        _cleanup_(jobspec_freep) JobSpec *spec = NULL;
        _cleanup_(job_run_freep) JobRun *run = NULL;
        _cleanup_free_ char *buf = NULL;
        uint64_t seq = 0;
        size_t size;
        int r;

        r = read_file_at(dfd, "job.json", s->limits.max_file_size, &buf, &size);
        if (r >= 0)
                r = jobspec_parse(buf, size, &s->limits, "", &spec, &errors);
        if (r >= 0)
                r = journal_load(dfd, spec, &run, &seq, ret_err);
        return r;
}

int spool_complete_unpublished(Spool *s, const char *dname) {
        _cleanup_free_ char *err = NULL;
        _cleanup_close_ int dfd = -EBADF;
        int r;

        dfd = openat(s->jobs_fd, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0 || !starts_recorded(dfd))
                return 0;
        r = unpublished_loads(s, dfd, &err);
        if (r < 0) {
                log_warning_errno(
                        r,
                        "jobs/%s: nodes of this job had started, but its files do not load (%s); the "
                        "machine must have crashed, so nothing of it runs: taking its file again.",
                        dname, err ?: "%m");
                return 0;
        }
        /* As publish_run() and the batch's fsync of jobs/ would have. */
        r = fsync_file_at(dfd, "job.json");
        if (r >= 0)
                r = fsync_file_at(dfd, "state.json");
        if (r >= 0)
                r = fsync_dir(dfd);
        if (r >= 0 && renameat(s->jobs_fd, dname, s->jobs_fd, dname + 2) < 0)
                r = -errno;
        if (r >= 0)
                r = fsync_dir(s->jobs_fd);
        if (r < 0) {
                log_warning_errno(r, "jobs/%s: cannot complete its acceptance: %m; taking its file again.",
                                  dname);
                return 0;
        }
        log_notice(
                "Job %s: its first nodes had started when orchd stopped, before its acceptance was durable; "
                "accepted now, its nodes are recovered with it.",
                dname + 2);
        return 1;
}

/* After the batch's fsync of jobs/: accepted. The source copy is no longer needed (not before: the rename
 * must be durable first); a crash before this unlink is cleaned at start. */
static int publish_after(void *p) {
        Publish *pub = p;
        char path[sizeof(pub->final) + sizeof(pub->source) + 1];

        if (pub->source[0] == '\0')
                return 0;
        snprintf(path, sizeof(path), "%s/%s", pub->final, pub->source);
        return unlinkat(pub->jobs_fd, path, 0) < 0 ? -errno : 0;
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

Staged *spool_staged_free(Staged *st) {
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

int spool_staged_attach(Spool *s, JobRead *rd, off_t size, uid_t uid, gid_t gid, const char *source,
                        Staged **ret) {
        const struct passwd *pw;
        Staged *st;

        *ret = NULL;
        if (size < STAGE_MIN_BYTES || s->full)
                return 0;
        st = calloc(1, sizeof(Staged));
        if (!st)
                return -ENOMEM;
        pw = pwcache_getpwuid(uid);
        *st = (Staged){ .jobs_fd = s->jobs_fd,
                        .id = s->next_id + jobreader_pending(s->reader),
                        .uid = uid,
                        .gid = pw ? pw->pw_gid : gid,
                        .r = -EINPROGRESS };
        snprintf(st->name, sizeof(st->name), ".#read-%" PRIu64, ++s->n_staged);
        st->source = strdup(source);
        st->user = pw ? strdup(pw->pw_name) : NULL;
        if (!st->source || (pw && !st->user)) {
                spool_staged_free(st);
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
        r = committer_add_call_synced(s->committer, publish_run, s->jobs_fd, publish_after, publish_free,
                                      TAKE_PTR(pub), "the acceptance of a job");
        if (r < 0)
                return r;
        *ret_dir_fd = TAKE_FD(dfd);
        return 0;
}

int spool_accept(Spool *s, const char *source, const char *intake_name, char *buf, size_t size,
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
