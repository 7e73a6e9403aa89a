/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * journal-load.c — journal_load(): rebuild a JobRun (and, journal_load_history(), the job's History) from
 * state.json and the segments after it, validating every byte against the version 1 formats described at
 * the top of journal.c (the history members: journal-load-history.c).
 *
 * Invariants: segments follow the snapshot contiguously (S+1, S+2, …); a gap, a malformed name or any
 * invalid field is corruption (-EBADMSG naming file and JSON path), never guessed around. Segments at or
 * below S are obsolete and skipped; ".#*" temp files are never read. Records must be complete (every
 * field, no others, any order), and a file is never read without a size bound.
 *
 * Files are read with the tree-less scanner of jsonscan.c (values by journal-load-value.c) rather than
 * json-c (too slow and too many allocations for 100,000 nodes), accepting exactly the grammar above: any
 * valid JSON of another shape is corruption.
 *
 * Deliberately not here: writing or naming files (journal.c), repairing or quarantining corrupt files,
 * logging.
 */

#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fsutil.h"
#include "journal-internal.h"
#include "journal.h"
#include "jobid.h"
#include "journal-load-internal.h"
#include "jsonscan.h"
#include "macro.h"

/* A 100,000-node snapshot is about 20 MB; leave ample room, but never read without a bound. */
#define JOURNAL_FILE_MAX ((size_t) 256 << 20)

enum {
        NF_STATE,
        NF_REASON,
        NF_ATTEMPT,
        NF_INTERRUPTED,
        NF_EXIT_CODE,
        NF_SIGNAL,
        NF_STARTED_AT,
        NF_FINISHED_AT,
        NF_RETRY_AT,
        _NF_REQUIRED,
        NF_PID = _NF_REQUIRED, /* optional: only while an attempt runs */
        NF_PID_START,
        NF_RETRY_BASE,   /* optional: only after a manual retry */
        NF_LOG_DROPPED,  /* optional: only after output was lost from a log */
        NF_CRASH_RERUNS, /* optional: only while rerun after a crash */
        NF_CPU_USEC,     /* optional, the five: the kernel's accounting of the last ended attempt (cgroup) */
        NF_MEMORY_PEAK,
        NF_PIDS_PEAK,
        NF_IO_READ_BYTES,
        NF_IO_WRITE_BYTES,
        _NF_MAX,
};

static const char *const node_fields[_NF_MAX] = {
        [NF_STATE] = "state",
        [NF_REASON] = "reason",
        [NF_ATTEMPT] = "attempt",
        [NF_INTERRUPTED] = "interrupted",
        [NF_EXIT_CODE] = "exit_code",
        [NF_SIGNAL] = "signal",
        [NF_STARTED_AT] = "started_at",
        [NF_FINISHED_AT] = "finished_at",
        [NF_RETRY_AT] = "retry_at",
        [NF_PID] = "pid",
        [NF_PID_START] = "pid_start",
        [NF_RETRY_BASE] = "retry_base",
        [NF_LOG_DROPPED] = "log_dropped",
        [NF_CRASH_RERUNS] = "crash_reruns",
        [NF_CPU_USEC] = "cpu_usec",
        [NF_MEMORY_PEAK] = "memory_peak",
        [NF_PIDS_PEAK] = "pids_peak",
        [NF_IO_READ_BYTES] = "io_read_bytes",
        [NF_IO_WRITE_BYTES] = "io_write_bytes",
};

/* The accounting fields: any one of them present means the attempt was accounted; the others are then
 * unknown (UINT64_MAX) unless present too. Journals written before them have none: acct stays false. */
static uint64_t *node_acct_field(NodeRun *n, int f) {
        if (!n->acct) {
                n->acct = true;
                n->cpu_usec = n->memory_peak = n->pids_peak = UINT64_MAX;
                n->io_read_bytes = n->io_write_bytes = UINT64_MAX;
        }
        return f == NF_CPU_USEC       ? &n->cpu_usec :
                f == NF_MEMORY_PEAK   ? &n->memory_peak :
                f == NF_PIDS_PEAK     ? &n->pids_peak :
                f == NF_IO_READ_BYTES ? &n->io_read_bytes :
                                        &n->io_write_bytes;
}

static int read_node_field(Loader *l, const char *prefix, int f, NodeRun *n) {
        const char *key = node_fields[f], *s;
        uint64_t v = 0;
        int r;

        switch (f) {
        case NF_STATE:
                r = loader_read_string(l, prefix, key, false, &s);
                if (r < 0)
                        return r;
                r = node_state_from_string(s);
                if (r < 0)
                        return loader_bad(l, prefix, key, "unknown state \"%s\"", s);
                n->state = (uint8_t) r;
                return 0;
        case NF_REASON:
                return loader_read_reason(l, prefix, &n->reason);
        case NF_ATTEMPT:
        case NF_INTERRUPTED:
        case NF_RETRY_BASE:
                r = loader_read_uint(l, prefix, key, 0, UINT16_MAX, false, &v);
                *(f == NF_ATTEMPT             ? &n->attempt :
                          f == NF_INTERRUPTED ? &n->interrupted :
                                                &n->retry_base) = (uint16_t) v;
                return r;
        case NF_CRASH_RERUNS:
                r = loader_read_uint(l, prefix, key, 0, UINT16_MAX, false, &v);
                n->crash_reruns = (uint16_t) v;
                return r;
        case NF_EXIT_CODE:
                r = loader_read_uint(l, prefix, key, 0, 255, true, &v);
                n->exit_code = r > 0 ? -1 : (int16_t) v;
                return r < 0 ? r : 0;
        case NF_SIGNAL:
                r = loader_read_uint(l, prefix, key, 1, _NSIG - 1, true, &v);
                n->signal = (int16_t) v; /* 0 for null */
                return r < 0 ? r : 0;
        case NF_STARTED_AT:
                return loader_read_uint(l, prefix, key, 0, JOURNAL_NUM_MAX, false, &n->started_at);
        case NF_FINISHED_AT:
                return loader_read_uint(l, prefix, key, 0, JOURNAL_NUM_MAX, false, &n->finished_at);
        case NF_RETRY_AT:
                return loader_read_uint(l, prefix, key, 0, JOURNAL_NUM_MAX, false, &n->retry_at);
        case NF_LOG_DROPPED:
                return loader_read_uint(l, prefix, key, 0, JOURNAL_NUM_MAX, false, &n->log_dropped);
        case NF_PID:
                r = loader_read_uint(l, prefix, key, 1, INT32_MAX, false, &v);
                n->pid = (int32_t) v;
                return r;
        case NF_PID_START:
                return loader_read_uint(l, prefix, key, 0, JOURNAL_NUM_MAX, false, &n->pid_start);
        case NF_CPU_USEC:
        case NF_MEMORY_PEAK:
        case NF_PIDS_PEAK:
        case NF_IO_READ_BYTES:
        case NF_IO_WRITE_BYTES:
                return loader_read_uint(l, prefix, key, 0, JOURNAL_NUM_MAX, false, node_acct_field(n, f));
        }
        assert(false);
        return -EINVAL;
}

static int read_node(Loader *l, const char *prefix, NodeRun *ret) {
        NodeRun n = { .exit_code = -1 };
        unsigned seen = 0;
        const char *key;
        unsigned state = 0;
        int r;

        r = loader_open_object(l, prefix, NULL);
        if (r < 0)
                return r;
        for (size_t i = 0; (r = loader_object_next(l, &state, &key)) > 0; i++) {
                int f = loader_record_field(l, prefix, node_fields, _NF_MAX, key, i, &seen);
                if (f < 0)
                        return f;
                r = read_node_field(l, prefix, f, &n);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = loader_check_missing(l, prefix, node_fields, _NF_REQUIRED, seen);
        if (r < 0)
                return r;
        *ret = n;
        return 0;
}

enum {
        JF_ID,
        JF_STATE,
        JF_PAUSED_FROM,
        JF_REASON,
        JF_CANCEL_REQUESTED,
        JF_UID,
        JF_GID,
        JF_USER,
        JF_SOURCE,
        JF_SUBMITTED_AT,
        JF_STARTED_AT,
        JF_FINISHED_AT,
        _JF_MAX,
};

static const char *const job_fields[_JF_MAX] = {
        [JF_ID] = "id",
        [JF_STATE] = "state",
        [JF_PAUSED_FROM] = "paused_from",
        [JF_REASON] = "reason",
        [JF_CANCEL_REQUESTED] = "cancel_requested",
        [JF_UID] = "uid",
        [JF_GID] = "gid",
        [JF_USER] = "user",
        [JF_SOURCE] = "source",
        [JF_SUBMITTED_AT] = "submitted_at",
        [JF_STARTED_AT] = "started_at",
        [JF_FINISHED_AT] = "finished_at",
};

/* A job id as job_id_parse() reads it; "0" too, as this loader always has, though orchd never writes it. */
static int parse_id(const char *s, uint64_t *ret) {
        if (streq(s, "0")) {
                *ret = 0;
                return 0;
        }
        return job_id_parse(s, ret);
}

/* A job record as read, before it replaces the one in the JobRun. */
typedef struct JobRecord {
        uint64_t id, uid, gid, submitted_at, started_at, finished_at;
        int state, paused_from;
        Reason reason;
        bool cancel_requested;
        char *user, *source;
} JobRecord;

static int read_job_state(Loader *l, const char *key, bool nullable, int *ret) {
        const char *s;
        int r;

        r = loader_read_string(l, "job", key, nullable, &s);
        if (r < 0)
                return r;
        *ret = s ? job_state_from_string(s) : _JOB_STATE_INVALID;
        if (s && *ret < 0)
                return loader_bad(l, "job", key, "unknown state \"%s\"", s);
        return 0;
}

static int read_owned_string(Loader *l, const char *key, char **ret) {
        const char *s;
        int r;

        r = loader_read_string(l, "job", key, true, &s);
        if (r < 0)
                return r;
        if (s && !(*ret = strdup(s)))
                return -ENOMEM;
        return 0;
}

static int read_job_field(Loader *l, int f, JobRecord *j) {
        const char *key = job_fields[f], *s;
        int r;

        switch (f) {
        case JF_ID:
                r = loader_read_string(l, "job", key, false, &s);
                if (r >= 0 && parse_id(s, &j->id) < 0)
                        return loader_bad(l, "job", key, "invalid job id \"%s\"", s);
                return r;
        case JF_STATE:
                return read_job_state(l, key, false, &j->state);
        case JF_PAUSED_FROM:
                return read_job_state(l, key, true, &j->paused_from);
        case JF_REASON:
                return loader_read_reason(l, "job", &j->reason);
        case JF_CANCEL_REQUESTED:
                return loader_read_bool(l, "job", key, &j->cancel_requested);
        case JF_UID:
                return loader_read_uint(l, "job", key, 0, UINT32_MAX, false, &j->uid);
        case JF_GID:
                return loader_read_uint(l, "job", key, 0, UINT32_MAX, false, &j->gid);
        case JF_USER:
                return read_owned_string(l, key, &j->user);
        case JF_SOURCE:
                return read_owned_string(l, key, &j->source);
        case JF_SUBMITTED_AT:
                return loader_read_uint(l, "job", key, 0, JOURNAL_NUM_MAX, false, &j->submitted_at);
        case JF_STARTED_AT:
                return loader_read_uint(l, "job", key, 0, JOURNAL_NUM_MAX, false, &j->started_at);
        case JF_FINISHED_AT:
                return loader_read_uint(l, "job", key, 0, JOURNAL_NUM_MAX, false, &j->finished_at);
        }
        assert(false);
        return -EINVAL;
}

static int read_job_record(Loader *l, JobRecord *j) {
        unsigned seen = 0;
        const char *key;
        unsigned state = 0;
        int r;

        r = loader_open_object(l, NULL, "job");
        if (r < 0)
                return r;
        for (size_t i = 0; (r = loader_object_next(l, &state, &key)) > 0; i++) {
                int f = loader_record_field(l, "job", job_fields, _JF_MAX, key, i, &seen);
                if (f < 0)
                        return f;
                r = read_job_field(l, f, j);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = loader_check_missing(l, "job", job_fields, _JF_MAX, seen);
        if (r < 0)
                return r;
        if ((j->state == JOB_PAUSED) != (j->paused_from >= 0))
                return loader_bad(l, "job", "paused_from", "must be set exactly when the job is paused");
        if (j->state == JOB_PAUSED && j->paused_from != JOB_QUEUED && j->paused_from != JOB_RUNNING)
                return loader_bad(l, "job", "paused_from", "must be \"queued\" or \"running\"");
        return 0;
}

/* Replace the job record of l->run. */
static int read_job(Loader *l) {
        JobRecord j = { .state = _JOB_STATE_INVALID, .paused_from = _JOB_STATE_INVALID };
        JobRun *run = l->run;
        int r;

        r = read_job_record(l, &j);
        if (r < 0) {
                free(j.user);
                free(j.source);
                return r;
        }
        run->id = j.id;
        run->state = (uint8_t) j.state;
        run->paused_from = (uint8_t) (j.paused_from >= 0 ? j.paused_from : JOB_QUEUED);
        run->reason = j.reason;
        run->cancel_requested = j.cancel_requested;
        run->uid = (uid_t) j.uid;
        run->gid = (gid_t) j.gid;
        free(run->user);
        run->user = j.user;
        free(run->source);
        run->source = j.source;
        run->submitted_at = j.submitted_at;
        run->started_at = j.started_at;
        run->finished_at = j.finished_at;
        return 0;
}

/* Index of node id, trying the hint first (files list nodes in spec order, which saves a lookup). */
static ssize_t find_node(const JobSpec *spec, const char *id, size_t hint) {
        if (hint < spec->n_nodes && streq(spec->nodes[hint].id, id))
                return (ssize_t) hint;
        return jobspec_find_node(spec, id);
}

/* Apply the node records. A snapshot must name every node exactly once; a segment names any subset (a
 * node named twice in one segment is applied twice: last record wins, as across segments). */
static int read_nodes(Loader *l, bool snapshot) {
        _cleanup_free_ uint8_t *seen = NULL;
        const char *key;
        unsigned state = 0;
        int r;
        size_t count = 0;

        if (snapshot) {
                seen = calloc(l->spec->n_nodes / 8 + 1, 1);
                if (!seen)
                        return -ENOMEM;
        }
        r = loader_open_object(l, NULL, "nodes");
        if (r < 0)
                return r;
        while ((r = loader_object_next(l, &state, &key)) > 0) {
                ssize_t k = find_node(l->spec, key, count++);
                char prefix[sizeof("nodes.") + 100];

                /* Copy the id now: reading the record reuses the buffer key points into. */
                (void) snprintf(prefix, sizeof(prefix), "nodes.%.100s", key);
                if (k < 0)
                        return loader_bad(l, prefix, NULL, "unknown node");
                if (seen) {
                        if (seen[k / 8] & (1U << (k % 8)))
                                return loader_bad(l, prefix, NULL, "duplicate node");
                        seen[k / 8] |= (uint8_t) (1U << (k % 8));
                }
                r = read_node(l, prefix, &l->run->nodes[k]);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (snapshot && count != l->spec->n_nodes)
                return loader_bad(l, "nodes", NULL, "has %zu nodes, want %zu", count, l->spec->n_nodes);
        return 0;
}

enum { RF_VERSION, RF_SEQ, RF_JOB, RF_NODES, RF_HISTORY, RF_EVENTS, _RF_MAX };
static const char *const root_fields[_RF_MAX] = { "version", "seq", "job", "nodes", "history", "events" };

static int read_root_field(Loader *l, int f, bool snapshot, uint64_t want_seq, uint64_t *seq) {
        uint64_t version;
        int r;

        switch (f) {
        case RF_VERSION:
                r = loader_read_uint(l, NULL, "version", 0, JOURNAL_NUM_MAX, false, &version);
                if (r >= 0 && version != JOURNAL_VERSION)
                        return loader_bad(l, NULL, "version", "unsupported version %" PRIu64 ", want %d",
                                          version, JOURNAL_VERSION);
                return r;
        case RF_SEQ:
                r = loader_read_uint(l, NULL, "seq", 0, JOURNAL_NUM_MAX, false, seq);
                if (r >= 0 && want_seq != UINT64_MAX && *seq != want_seq)
                        return loader_bad(l, NULL, "seq", "is %" PRIu64 ", but the file name says %" PRIu64,
                                          *seq, want_seq);
                return r;
        case RF_JOB:
                return read_job(l);
        case RF_NODES:
                return read_nodes(l, snapshot);
        case RF_HISTORY: /* a snapshot's (absent in an older orchd's) */
                if (!snapshot)
                        return loader_bad(l, NULL, "history", "only in a snapshot");
                return loader_read_history(l);
        case RF_EVENTS:
                if (snapshot)
                        return loader_bad(l, NULL, "events", "only in a segment");
                return loader_read_events(l, NULL);
        }
        assert(false);
        return -EINVAL;
}

/* The whole file: one object, nothing but whitespace after it. */
static int read_root(Loader *l, bool snapshot, uint64_t want_seq, uint64_t *ret_seq) {
        unsigned seen = 0;
        const char *key;
        unsigned state = 0;
        int r;

        if (json_scan_begin_object(&l->scan) == 0)
                return loader_wrong_type(l, NULL, NULL, "a JSON object", false);
        for (size_t i = 0; (r = loader_object_next(l, &state, &key)) > 0; i++) {
                int f = loader_record_field(l, NULL, root_fields, _RF_MAX, key, i, &seen);
                if (f < 0)
                        return f;
                r = read_root_field(l, f, snapshot, want_seq, ret_seq);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (!snapshot)
                seen |= 1U << RF_JOB;               /* optional in segments */
        seen |= 1U << RF_HISTORY | 1U << RF_EVENTS; /* optional */
        r = loader_check_missing(l, NULL, root_fields, _RF_MAX, seen);
        if (r < 0)
                return r;
        if (json_scan_peek(&l->scan) >= 0)
                return loader_bad(l, NULL, NULL, "trailing data at byte %zu", json_scan_offset(&l->scan));
        return 0;
}

/* Read file l->file and apply it to l->run (allocated here for a snapshot). Checks the sequence number
 * against want_seq unless that is UINT64_MAX. */
static int load_file(Loader *l, int dir_fd, bool snapshot, uint64_t want_seq, uint64_t *ret_seq,
                     bool collect_history) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        r = read_file_at(dir_fd, l->file, JOURNAL_FILE_MAX, &buf, &len);
        if (r == -EFBIG)
                return loader_bad(l, NULL, NULL, "larger than %zu bytes", JOURNAL_FILE_MAX);
        if (r == -ENOENT && !snapshot) /* -ENOENT is reserved for "no state.json" */
                return loader_bad(l, NULL, NULL, "disappeared while loading");
        if (r < 0)
                return r;
        if (snapshot) {
                r = job_run_new(l->spec->n_nodes, &l->run);
                if (r < 0)
                        return r;
                if (collect_history) {
                        r = history_new(l->run, &l->history);
                        if (r < 0)
                                return r;
                }
        }

        json_scan_start(&l->scan, buf, len);
        r = read_root(l, snapshot, want_seq, ret_seq);
        return r;
}

/* The history collected by l (or none), completed: reconstructed from the state when the snapshot had
 * none, its baseline the state loaded, every event flushed. */
static int finish_history(Loader *l, History **ret) {
        int r;

        if (!ret)
                return 0;
        if (!l->history_seen) {
                r = history_reconstruct(l->history, l->run);
                if (r < 0)
                        return r;
        }
        history_set_baseline(l->history, l->run);
        l->history->flushed = l->history->n;
        *ret = TAKE_PTR(l->history);
        return 0;
}

int journal_load(int job_dir_fd, const JobSpec *spec, JobRun **ret, uint64_t *ret_seq, char **reterr_msg) {
        return journal_load_history(job_dir_fd, spec, ret, NULL, ret_seq, reterr_msg);
}

int journal_load_history(int job_dir_fd, const JobSpec *spec, JobRun **ret, History **ret_history,
                         uint64_t *ret_seq, char **reterr_msg) {
        _cleanup_free_ uint64_t *seqs = NULL;
        _cleanup_free_ char *bad_name = NULL;
        char name[JOURNAL_NAME_MAX];
        Loader l = { .file = JOURNAL_SNAPSHOT_NAME, .spec = spec, .reterr_msg = reterr_msg };
        uint64_t seq;
        size_t n = 0;
        int r;

        r = load_file(&l, job_dir_fd, true, UINT64_MAX, &seq, ret_history != NULL);
        if (r < 0)
                goto fail;

        r = journal_list_segments(job_dir_fd, seq, &seqs, &n, &bad_name);
        if (r == -EBADMSG) {
                l.file = bad_name;
                r = loader_bad(&l, NULL, NULL, "malformed journal file name");
        }
        if (r < 0)
                goto fail;
        for (size_t i = 0; i < n; i++) {
                uint64_t got;

                journal_format_name(name, seqs[i]);
                l.file = name;
                /* Segments are written in order and each one durably before the next, so a hole means
                 * a file was lost or removed: applying past it would silently drop a state change. */
                if (seqs[i] != seq + 1) {
                        char missing[JOURNAL_NAME_MAX];

                        journal_format_name(missing, seq + 1);
                        r = loader_bad(&l, NULL, NULL, "sequence gap: %s is missing", missing);
                        goto fail;
                }
                r = load_file(&l, job_dir_fd, false, seqs[i], &got, false);
                if (r < 0)
                        goto fail;
                seq = got;
        }

        r = finish_history(&l, ret_history);
        if (r < 0)
                goto fail;
        json_scan_done(&l.scan);
        *ret = TAKE_PTR(l.run);
        if (ret_seq)
                *ret_seq = seq;
        return 0;

fail:
        json_scan_done(&l.scan);
        job_run_free(l.run);
        history_free(l.history);
        return r;
}
