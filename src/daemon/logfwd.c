/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * logfwd.c — the lines of one attempt's output, as journal entries.
 *
 * Owns: a line splitter per stream (linesplit.c, at most LOGFWD_LINE_MAX bytes each, and only for a line
 * that spans chunks), the attempt's ORCH_* field texts, and the count of lines not forwarded.
 *
 * Bounded cost: a line costs the caller one copy into journald.c's queue, never a wait for journald. When
 * that queue is full (journald slower than a flood of output), lines are counted instead of sent, and the
 * next entry that gets through is preceded by one that says how many lines are missing
 * (ORCH_LINES_DROPPED=N). The log file has them all. While forwarding is off nothing is split or
 * buffered at all.
 *
 * Not done here: UTF-8 repair (journald stores bytes; journalctl shows a non-text MESSAGE as a blob), and
 * the log file (supervise.c).
 */

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "journald.h"
#include "linesplit.h"
#include "log.h"
#include "logfwd.h"
#include "macro.h"

struct LogFwd {
        LineSplit split[_LOGFWD_STREAM_MAX];
        uint64_t job_id;
        unsigned attempt_no;
        char job[32]; /* the same as field texts */
        char attempt[16];
        char pid[16]; /* "" before logfwd_set_pid() */
        char *node;
        uint64_t n_dropped;  /* lines not forwarded and not yet reported */
        LogFwdStream stream; /* of the chunk being split */
};

static const char *const stream_names[_LOGFWD_STREAM_MAX] = { "stdout", "stderr", "output" };
static const char *const stream_priorities[_LOGFWD_STREAM_MAX] = { "6", "4", "6" };

int logfwd_new(uint64_t job, const char *node, unsigned attempt, LogFwd **ret) {
        LogFwd *f;

        assert(node && ret);
        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->node = strdup(node);
        if (!f->node) {
                free(f);
                return -ENOMEM;
        }
        f->job_id = job;
        f->attempt_no = attempt;
        (void) snprintf(f->job, sizeof(f->job), "%" PRIu64, job);
        (void) snprintf(f->attempt, sizeof(f->attempt), "%u", attempt);
        for (size_t i = 0; i < _LOGFWD_STREAM_MAX; i++)
                f->split[i].max = LOGFWD_LINE_MAX;
        *ret = f;
        return 0;
}

/* One entry with the attempt's fields; extra is the MESSAGE-specific part. */
static int logfwd_send(LogFwd *f, const char *priority, const JournalField *extra, size_t n_extra) {
        JournalField fields[JOURNALD_FIELDS_MAX];
        size_t n = 0;

        fields[n++] = journal_field("PRIORITY", priority);
        fields[n++] = journal_field("SYSLOG_IDENTIFIER", "orchd");
        fields[n++] = journal_field("ORCH_JOB", f->job);
        fields[n++] = journal_field("ORCH_NODE", f->node);
        fields[n++] = journal_field("ORCH_ATTEMPT", f->attempt);
        fields[n++] = journal_field("ORCH_STREAM", stream_names[f->stream]);
        if (f->pid[0])
                fields[n++] = journal_field("ORCH_PID", f->pid);
        for (size_t i = 0; i < n_extra && n < ELEMENTSOF(fields); i++)
                fields[n++] = extra[i];
        return journald_send(fields, n, false);
}

/* Say how many lines are missing before the next one that gets through. Returns 0 when none are. */
static int logfwd_report_dropped(LogFwd *f) {
        char msg[128], count[24];
        int r;

        if (f->n_dropped == 0)
                return 0;
        (void) snprintf(count, sizeof(count), "%" PRIu64, f->n_dropped);
        (void) snprintf(msg, sizeof(msg),
                        "[orchd: %" PRIu64
                        " line(s) of output not forwarded to the journal; the log file has them]",
                        f->n_dropped);
        r = logfwd_send(f, "4",
                        (JournalField[]){ journal_field("MESSAGE", msg),
                                          journal_field("ORCH_LINES_DROPPED", count) },
                        2);
        if (r >= 0)
                f->n_dropped = 0;
        return r;
}

static void logfwd_on_line(const char *line, size_t n, LineBreak brk, void *userdata) {
        LogFwd *f = userdata;
        JournalField extra[2] = { { .name = "MESSAGE", .value = line, .len = n } };
        int r;

        r = logfwd_report_dropped(f);
        if (r >= 0) {
                if (brk != LINE_BREAK_NEWLINE)
                        extra[1] = journal_field("ORCH_LINE_BREAK", line_break_to_string(brk));
                r = logfwd_send(f, stream_priorities[f->stream], extra, brk != LINE_BREAK_NEWLINE ? 2 : 1);
        }
        /* Lines that never reach journald because forwarding went off are not "dropped": that was logged. */
        if (r < 0 && r != -ENOTCONN)
                f->n_dropped++;
}

void logfwd_set_pid(LogFwd *f, pid_t pid) {
        if (!f)
                return;
        if (pid > 0)
                (void) snprintf(f->pid, sizeof(f->pid), "%d", (int) pid);
        else
                f->pid[0] = '\0';
}

void logfwd_output(LogFwd *f, LogFwdStream stream, const char *buf, size_t n) {
        if (!f)
                return;
        assert(stream < _LOGFWD_STREAM_MAX);

        if (!journald_forwarding()) {
                /* Lines that never reach journald are not "dropped": forwarding is off, and was logged. */
                linesplit_reset(&f->split[stream]);
                f->n_dropped = 0;
                return;
        }
        f->stream = stream;
        if (linesplit_feed(&f->split[stream], buf, n, logfwd_on_line, f) < 0)
                f->n_dropped++; /* the unfinished line could not be kept */
}

void logfwd_end(LogFwd *f, LogFwdStream stream) {
        if (!f)
                return;
        assert(stream < _LOGFWD_STREAM_MAX);

        if (!journald_forwarding()) {
                linesplit_reset(&f->split[stream]);
                return;
        }
        f->stream = stream;
        linesplit_finish(&f->split[stream], logfwd_on_line, f);
        (void) logfwd_report_dropped(f);
}

LogFwd *logfwd_free(LogFwd *f) {
        if (!f)
                return NULL;
        /* The queue stayed full to the end: say it where it cannot be lost, stderr (and the journal). */
        if (f->n_dropped > 0)
                log_event(LOG_WARNING, LOG_EV(.job = f->job_id, .node = f->node, .attempt = f->attempt_no),
                          "Job %s node %s attempt %s: %" PRIu64
                          " line(s) of output not forwarded to the journal "
                          "(journald too slow); the log file has them.",
                          f->job, f->node, f->attempt, f->n_dropped);
        for (size_t i = 0; i < _LOGFWD_STREAM_MAX; i++)
                linesplit_reset(&f->split[i]);
        free(f->node);
        free(f);
        return NULL;
}
