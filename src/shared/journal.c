/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * journal.c — writing a job's run state as files in jobs/ID/: one snapshot plus numbered group-commit
 * segments, and the names of those files (shared with journal-load.c through journal-internal.h).
 *
 * File formats (version 1; every file is one JSON object, made visible complete by a rename):
 *   state.json                 {"version":1,"seq":N,"job":JOB,"history":HIST,"nodes":{"ID":NODE,…}}
 *                              all nodes, spec order
 *   journal-NNNNNNNNNNNN.json  {"version":1,"seq":N,"job":JOB,"events":EVENTS,"nodes":{"ID":NODE,…}}
 *                              "job" only if it changed, "events" only if the commit made any, each
 *                              changed node once; N is the number in the name (12+ digits)
 *   HIST   = {"first":F,"partial":false,"events":EVENTS}: the retained events (history.h), numbered from
 *            F (those before were dropped by the cap); partial: an older orchd recorded the job, whose
 *            history was reconstructed from its state. Absent in files of an older orchd.
 *   EVENTS = {"K":EVENT,…}: numbered events in order; a segment's continue its predecessor's
 *   EVENT  = {"at":µs[,"node":"ID"],"event":"start","state":"running"[,"reason":"exit:1"][,"attempt":1]
 *             [,"uid":1000,"user":"alice"|null]}   node: a node's event (else the job's); uid and user: a
 *             user's action (else orchd's own decision); reason and attempt when set (else none and 0)
 *   JOB  = {"id":"42","state":"running","paused_from":"queued"|null (non-null iff paused),
 *           "reason":"exit:1"|null,"cancel_requested":false,"uid":1000,"gid":1000,"user":"alice"|null,
 *           "source":"x.json"|null,"submitted_at":µs,"started_at":µs|0,"finished_at":µs|0}
 *   NODE = {"state":"succeeded","reason":"…"|null,"attempt":1,"interrupted":0,"exit_code":0|null,
 *           "signal":9|null,"started_at":µs,"finished_at":µs,"retry_at":µs[,"retry_base":N]
 *           [,"crash_reruns":N][,"pid":N,"pid_start":T][,"log_dropped":N]
 *           [,"cpu_usec":N][,"memory_peak":N][,"pids_peak":N][,"io_read_bytes":N][,"io_write_bytes":N]}
 *   (pid and pid_start only while an attempt runs: its process group leader and start time in clock ticks
 *   since boot, so a restart can kill a group that outlived a crashed daemon, and never a reused pid;
 *   retry_base only after a manual retry ("orchctl retry"): the counted attempts before it; crash_reruns
 * only while a node is being rerun because orchd died under it: how many times in a row) Records are
 * complete (every field, no others, any order when read), so one replaces what it names.
 *
 * Invariants: every record written is complete; a segment costs O(changed nodes), not O(nodes); each
 * sequence number has exactly one file name; segments at or below a snapshot are deleted, or rewritten
 * under their obsolete name and renamed to a new one (journal_write_segment_reuse()), only after the
 * snapshot is durable.
 *
 * Why not json-c trees: for 100,000 nodes json-c took 0.66 s to build and 1.5 s to parse on the target VM
 * (a million small allocations), against budgets of 200 and 300 ms. So this file writes its own fixed
 * format directly (a JSON writer with full string escaping); journal-load.c reads it back.
 *
 * Deliberately not here: reading and validating files (journal-load.c), when to snapshot, quarantining
 * corrupt files, threads (the write functions may run on any one thread per job directory), logging.
 */

#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "journal-internal.h"
#include "textbuf.h"
#include "history.h"
#include "journal.h"
#include "macro.h"

/* ---- building --------------------------------------------------------------------------------------- */

/* Append-only text buffer; an allocation failure is remembered and reported once at the end. */
static void buf_put_u64(TextBuf *b, uint64_t v) {
        char tmp[20];
        size_t i = sizeof(tmp);

        do
                tmp[--i] = (char) ('0' + v % 10);
        while ((v /= 10) > 0);
        textbuf_put(b, tmp + i, sizeof(tmp) - i);
}

static void buf_put_string_u64(TextBuf *b, uint64_t v) {
        textbuf_put(b, "\"", 1);
        buf_put_u64(b, v);
        textbuf_put(b, "\"", 1);
}

/* A JSON string with the escapes RFC 8259 requires; NULL becomes null. Bytes ≥ 0x80 pass through. */
static void buf_put_string(TextBuf *b, const char *s) {
        static const char hex[] = "0123456789abcdef";

        if (!s) {
                textbuf_puts(b, "null");
                return;
        }
        textbuf_put(b, "\"", 1);
        for (const char *run = s;; s++) {
                unsigned char c = (unsigned char) *s;

                if (c >= 0x20 && c != '"' && c != '\\')
                        continue;
                textbuf_put(b, run, (size_t) (s - run)); /* the plain run before this byte */
                if (c == '\0')
                        break;
                if (c == '"' || c == '\\') {
                        char e[2] = { '\\', (char) c };
                        textbuf_put(b, e, 2);
                } else {
                        char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
                        textbuf_put(b, e, 6);
                }
                run = s + 1;
        }
        textbuf_put(b, "\"", 1);
}

static void buf_put_reason(TextBuf *b, Reason reason) {
        char tmp[REASON_STRING_MAX];

        buf_put_string(b, reason_to_string(reason, tmp, sizeof(tmp)));
}

/* The kernel's accounting of the last ended attempt: each figure only when known (state.h), so a node
 * without a cgroup writes what it always did. */
static void node_write_acct(TextBuf *b, const NodeRun *n) {
        NodeAcctField f[NODE_ACCT_FIELDS];

        if (!n->acct)
                return;
        node_run_acct_fields(n, f);
        for (size_t i = 0; i < NODE_ACCT_FIELDS; i++)
                if (f[i].value <= JOURNAL_NUM_MAX) {
                        textbuf_puts(b, ",\"");
                        textbuf_puts(b, f[i].key);
                        textbuf_puts(b, "\":");
                        buf_put_u64(b, f[i].value);
                }
}

static void node_write(TextBuf *b, const NodeRun *n) {
        textbuf_puts(b, "{\"state\":");
        buf_put_string(b, node_state_to_string(n->state));
        textbuf_puts(b, ",\"reason\":");
        buf_put_reason(b, n->reason);
        textbuf_puts(b, ",\"attempt\":");
        buf_put_u64(b, n->attempt);
        textbuf_puts(b, ",\"interrupted\":");
        buf_put_u64(b, n->interrupted);
        textbuf_puts(b, ",\"exit_code\":");
        if (n->exit_code >= 0)
                buf_put_u64(b, (uint64_t) n->exit_code);
        else
                textbuf_puts(b, "null");
        textbuf_puts(b, ",\"signal\":");
        if (n->signal > 0)
                buf_put_u64(b, (uint64_t) n->signal);
        else
                textbuf_puts(b, "null");
        textbuf_puts(b, ",\"started_at\":");
        buf_put_u64(b, n->started_at);
        textbuf_puts(b, ",\"finished_at\":");
        buf_put_u64(b, n->finished_at);
        textbuf_puts(b, ",\"retry_at\":");
        buf_put_u64(b, n->retry_at);
        if (n->log_dropped > 0) { /* only after output was lost from the log (state.h) */
                textbuf_puts(b, ",\"log_dropped\":");
                buf_put_u64(b, n->log_dropped);
        }
        node_write_acct(b, n);
        if (n->retry_base > 0) {
                textbuf_puts(b, ",\"retry_base\":");
                buf_put_u64(b, n->retry_base);
        }
        if (n->crash_reruns > 0) {
                textbuf_puts(b, ",\"crash_reruns\":");
                buf_put_u64(b, n->crash_reruns);
        }
        if (n->pid > 0) {
                textbuf_puts(b, ",\"pid\":");
                buf_put_u64(b, (uint64_t) n->pid);
                textbuf_puts(b, ",\"pid_start\":");
                buf_put_u64(b, n->pid_start);
        }
        textbuf_puts(b, "}");
}

static void job_write(TextBuf *b, const JobRun *run) {
        char id[21];

        textbuf_puts(b, "{\"id\":\"");
        (void) snprintf(id, sizeof(id), "%" PRIu64, run->id);
        textbuf_puts(b, id);
        textbuf_puts(b, "\",\"state\":");
        buf_put_string(b, job_state_to_string(run->state));
        textbuf_puts(b, ",\"paused_from\":");
        buf_put_string(b, run->state == JOB_PAUSED ? job_state_to_string(run->paused_from) : NULL);
        textbuf_puts(b, ",\"reason\":");
        buf_put_reason(b, run->reason);
        textbuf_puts(b,
                     run->cancel_requested ? ",\"cancel_requested\":true" : ",\"cancel_requested\":false");
        textbuf_puts(b, ",\"uid\":");
        buf_put_u64(b, run->uid);
        textbuf_puts(b, ",\"gid\":");
        buf_put_u64(b, run->gid);
        textbuf_puts(b, ",\"user\":");
        buf_put_string(b, run->user);
        textbuf_puts(b, ",\"source\":");
        buf_put_string(b, run->source);
        textbuf_puts(b, ",\"submitted_at\":");
        buf_put_u64(b, run->submitted_at);
        textbuf_puts(b, ",\"started_at\":");
        buf_put_u64(b, run->started_at);
        textbuf_puts(b, ",\"finished_at\":");
        buf_put_u64(b, run->finished_at);
        textbuf_puts(b, "}");
}

/* ---- history (history.h) ---------------------------------------------------------------------------- */

/* An event with only the members that say something (a history may hold 8 per node): node only for a node,
 * reason and attempt only if set, uid and user only for a user's action. */
static void event_write(TextBuf *b, const JobSpec *spec, uint64_t number, const HistoryEvent *e) {
        bool node = e->node != HISTORY_JOB && spec && e->node < spec->n_nodes;

        buf_put_string_u64(b, number);
        textbuf_puts(b, ":{\"at\":");
        buf_put_u64(b, e->at);
        if (node) {
                textbuf_puts(b, ",\"node\":");
                buf_put_string(b, spec->nodes[e->node].id);
        }
        textbuf_puts(b, ",\"event\":");
        buf_put_string(b, history_kind_to_string(e->kind));
        textbuf_puts(b, ",\"state\":");
        buf_put_string(b, node ? node_state_to_string(e->state) : job_state_to_string(e->state));
        if (e->reason.kind != REASON_NONE) {
                textbuf_puts(b, ",\"reason\":");
                buf_put_reason(b, e->reason);
        }
        if (e->attempt > 0) {
                textbuf_puts(b, ",\"attempt\":");
                buf_put_u64(b, e->attempt);
        }
        if (e->by_user) {
                textbuf_puts(b, ",\"uid\":");
                buf_put_u64(b, e->uid);
                textbuf_puts(b, ",\"user\":");
                buf_put_string(b, e->user);
        }
        textbuf_puts(b, "}");
}

/* Events [from, h->n) of h as the members of an "events" object, keyed by number. */
static void events_write(TextBuf *b, const JobSpec *spec, const History *h, size_t from) {
        textbuf_puts(b, "\"events\":{");
        for (size_t k = from; k < h->n; k++) {
                if (k > from)
                        textbuf_put(b, ",", 1);
                event_write(b, spec, h->first + k, &h->events[k]);
        }
        textbuf_puts(b, "}");
}

/* A snapshot's "history": every retained event; without h, a job just accepted: its submission. */
static void history_write(TextBuf *b, const JobSpec *spec, const JobRun *run, const History *h) {
        textbuf_puts(b, ",\"history\":{\"first\":");
        buf_put_u64(b, h ? h->first : 0);
        textbuf_puts(b, h && h->partial ? ",\"partial\":true," : ",\"partial\":false,");
        if (h)
                events_write(b, spec, h, 0);
        else {
                HistoryEvent e = history_submit_event(run);

                textbuf_puts(b, "\"events\":{");
                event_write(b, spec, 0, &e);
                textbuf_puts(b, "}");
        }
        textbuf_puts(b, "}");
}

/* The envelope up to the nodes. snapshot: with the history (h, or the submission); else with h's
 * unflushed events, if any. */
static void envelope_begin(TextBuf *b, const JobSpec *spec, const JobRun *run, uint64_t seq, bool with_job,
                           bool snapshot, const History *h) {
        textbuf_puts(b, "{\"version\":");
        buf_put_u64(b, JOURNAL_VERSION);
        textbuf_puts(b, ",\"seq\":");
        buf_put_u64(b, seq);
        if (with_job) {
                textbuf_puts(b, ",\"job\":");
                job_write(b, run);
        }
        if (snapshot)
                history_write(b, spec, run, h);
        else if (h && h->flushed < h->n) {
                textbuf_put(b, ",", 1);
                events_write(b, spec, h, h->flushed);
        }
        textbuf_puts(b, ",\"nodes\":{");
}

static void node_entry_write(TextBuf *b, const JobSpec *spec, const JobRun *run, size_t i, bool first) {
        if (!first)
                textbuf_put(b, ",", 1);
        buf_put_string(b, spec->nodes[i].id);
        textbuf_put(b, ":", 1);
        node_write(b, &run->nodes[i]);
}

/* Close the envelope and hand the text over; NULL (and everything freed) after an allocation failure. */
static char *envelope_finish(TextBuf *b, size_t *ret_len) {
        textbuf_puts(b, JOURNAL_SNAPSHOT_TAIL);
        if (b->oom) {
                free(b->data);
                return NULL;
        }
        b->data[b->len] = '\0';
        if (ret_len)
                *ret_len = b->len;
        return b->data;
}

char *journal_build_segment(const JobSpec *spec, const JobRun *run, uint64_t seq, bool job_dirty,
                            const uint32_t *dirty, size_t n_dirty, size_t *ret_len) {
        return journal_build_segment_history(spec, run, seq, job_dirty, dirty, n_dirty, NULL, ret_len);
}

char *journal_build_segment_history(const JobSpec *spec, const JobRun *run, uint64_t seq, bool job_dirty,
                                    const uint32_t *dirty, size_t n_dirty, const History *h,
                                    size_t *ret_len) {
        _cleanup_free_ uint32_t *sorted = NULL;
        TextBuf b = {};

        /* Sorting a copy makes "each node once" O(k log k) in the k listed nodes, whatever the job size. */
        if (n_dirty > 0) {
                sorted = reallocarray(NULL, n_dirty, sizeof(*sorted));
                if (!sorted)
                        return NULL;
                memcpy(sorted, dirty, n_dirty * sizeof(*sorted));
                qsort(sorted, n_dirty, sizeof(*sorted), cmp_u32);
        }

        (void) textbuf_reserve(&b, 512 + (job_dirty ? 512 : 0) + n_dirty * 256);
        envelope_begin(&b, spec, run, seq, job_dirty, false, h);
        for (size_t i = 0; i < n_dirty; i++) {
                if (i > 0 && sorted[i] == sorted[i - 1])
                        continue;
                assert(sorted[i] < spec->n_nodes && sorted[i] < run->n_nodes);
                node_entry_write(&b, spec, run, sorted[i], i == 0);
        }
        return envelope_finish(&b, ret_len);
}

char *journal_build_snapshot(const JobSpec *spec, const JobRun *run, uint64_t seq, size_t *ret_len) {
        return journal_build_snapshot_history(spec, run, seq, NULL, ret_len);
}

char *journal_build_snapshot_history(const JobSpec *spec, const JobRun *run, uint64_t seq, const History *h,
                                     size_t *ret_len) {
        TextBuf b = {};

        assert(spec->n_nodes == run->n_nodes);
        (void) textbuf_reserve(&b, 1024 + spec->n_nodes * 256 + (h ? h->n * 160 : 0));
        envelope_begin(&b, spec, run, seq, true, true, h);
        for (size_t i = 0; i < spec->n_nodes; i++)
                node_entry_write(&b, spec, run, i, i == 0);
        return envelope_finish(&b, ret_len);
}

char *journal_build_snapshot_nodes(const JobSpec *spec, const JobRun *run, size_t *ret_len) {
        TextBuf b = {};

        assert(spec->n_nodes == run->n_nodes);
        (void) textbuf_reserve(&b, 64 + spec->n_nodes * 256);
        for (size_t i = 0; i < spec->n_nodes; i++)
                node_entry_write(&b, spec, run, i, i == 0);
        if (b.oom) {
                free(b.data);
                return NULL;
        }
        if (!b.data && !textbuf_reserve(&b, 1))
                return NULL;
        b.data[b.len] = '\0';
        *ret_len = b.len;
        return b.data;
}

char *journal_build_snapshot_head(const JobRun *run, uint64_t seq, size_t *ret_len) {
        TextBuf b = {};

        (void) textbuf_reserve(&b, 1024);
        envelope_begin(&b, NULL, run, seq, true, true, NULL);
        if (b.oom) {
                free(b.data);
                return NULL;
        }
        b.data[b.len] = '\0';
        *ret_len = b.len;
        return b.data;
}

/* ---- file names and writing ------------------------------------------------------------------------- */

void journal_format_name(char buf[static JOURNAL_NAME_MAX], uint64_t seq) {
        (void) snprintf(buf, JOURNAL_NAME_MAX, JOURNAL_PREFIX "%012" PRIu64 JOURNAL_SUFFIX, seq);
}

/* 1 and *ret_seq for a well-formed journal file name, 0 for an unrelated name, -EINVAL for a name that
 * claims to be a journal file but is malformed ("journal-7.json", "journal-x.json"). */
static int parse_journal_name(const char *name, uint64_t *ret_seq) {
        size_t len = strlen(name), n_digits;
        char canonical[JOURNAL_NAME_MAX];
        uint64_t seq = 0;

        if (!strneq(name, JOURNAL_PREFIX, strlen(JOURNAL_PREFIX)) ||
            len < strlen(JOURNAL_PREFIX JOURNAL_SUFFIX) ||
            !streq(name + len - strlen(JOURNAL_SUFFIX), JOURNAL_SUFFIX))
                return 0;

        n_digits = len - strlen(JOURNAL_PREFIX JOURNAL_SUFFIX);
        if (n_digits < 12 || n_digits > 20)
                return -EINVAL;
        for (size_t i = 0; i < n_digits; i++) {
                char c = name[strlen(JOURNAL_PREFIX) + i];

                if (c < '0' || c > '9' || seq > (JOURNAL_NUM_MAX - (uint64_t) (c - '0')) / 10)
                        return -EINVAL;
                seq = seq * 10 + (uint64_t) (c - '0');
        }
        /* Exactly one spelling per number, so two files can never claim the same sequence number. */
        journal_format_name(canonical, seq);
        if (!streq(canonical, name))
                return -EINVAL;
        *ret_seq = seq;
        return 1;
}

int journal_write_segment(int job_dir_fd, uint64_t seq, const char *buf, size_t len) {
        char name[JOURNAL_NAME_MAX];

        journal_format_name(name, seq);
        return write_file_atomic_at(job_dir_fd, name, buf, len);
}

int journal_write_segment_reuse(int job_dir_fd, uint64_t seq, uint64_t reuse, const char *buf, size_t len) {
        char name[JOURNAL_NAME_MAX], old[JOURNAL_NAME_MAX];
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (reuse == 0 || reuse >= seq)
                return journal_write_segment(job_dir_fd, seq, buf, len);
        journal_format_name(old, reuse);
        fd = openat(job_dir_fd, old, O_WRONLY | O_TRUNC | O_NOCTTY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) /* reused already (a write run again), never written, or not a file: a new one */
                return journal_write_segment(job_dir_fd, seq, buf, len);
        /* Until the rename the file keeps its obsolete name, so whatever a crash leaves in it is skipped
         * on load, as a leftover temp file would be. Data first, then the name, then the name durable. */
        journal_format_name(name, seq);
        r = loop_write(fd, buf, len);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && close(TAKE_FD(fd)) < 0)
                r = -errno;
        if (r >= 0 && renameat(job_dir_fd, old, job_dir_fd, name) < 0)
                r = -errno;
        if (r < 0)
                return r;
        return fsync_dir(job_dir_fd);
}

/* Best effort: anything left behind is skipped by journal_load() and removed by the next snapshot. */
static void remove_obsolete_segments(int job_dir_fd, uint64_t seq) {
        DIR *d;

        if (opendir_fd(job_dir_fd, &d) < 0)
                return;
        for (struct dirent *de; (de = readdir(d));) {
                uint64_t s;

                if (parse_journal_name(de->d_name, &s) > 0 && s <= seq)
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        }
        (void) closedir(d);
}

int journal_write_snapshot(int job_dir_fd, uint64_t seq, const char *buf, size_t len) {
        int r;

        /* Only once the snapshot is durable may the segments it covers go. */
        r = write_file_atomic_at(job_dir_fd, JOURNAL_SNAPSHOT_NAME, buf, len);
        if (r < 0)
                return r;
        remove_obsolete_segments(job_dir_fd, seq);
        return 0;
}

int journal_write_snapshot_keep(int job_dir_fd, const char *buf, size_t len) {
        return write_file_atomic_at(job_dir_fd, JOURNAL_SNAPSHOT_NAME, buf, len);
}

int journal_list_segments(int dir_fd, uint64_t after, uint64_t **ret, size_t *ret_n, char **ret_bad_name) {
        _cleanup_free_ uint64_t *seqs = NULL;
        size_t n = 0, allocated = 0;
        DIR *d;
        int r;

        r = opendir_fd(dir_fd, &d);
        if (r < 0)
                return r;

        for (;;) {
                struct dirent *de;
                uint64_t seq;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        r = errno > 0 ? -errno : 0;
                        break;
                }
                r = parse_journal_name(de->d_name, &seq); /* ".#journal-…" temp files do not match */
                if (r < 0) {
                        /* Copied: d_name dies with the directory stream, the caller names it later. */
                        *ret_bad_name = strdup(de->d_name);
                        r = *ret_bad_name ? -EBADMSG : -ENOMEM;
                        break;
                }
                if (r == 0 || seq <= after)
                        continue; /* obsolete segments a crash left behind before their deletion */
                if (n == allocated) {
                        size_t m = MAX(allocated * 2, (size_t) 16);
                        uint64_t *p = reallocarray(seqs, m, sizeof(*seqs));
                        if (!p) {
                                r = -ENOMEM;
                                break;
                        }
                        seqs = p;
                        allocated = m;
                }
                seqs[n++] = seq;
        }
        (void) closedir(d);
        if (r < 0)
                return r;

        if (n > 0)
                qsort(seqs, n, sizeof(*seqs), cmp_u64); /* the loader's order: numeric, not readdir's */
        *ret = TAKE_PTR(seqs);
        *ret_n = n;
        return 0;
}
