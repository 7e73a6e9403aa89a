/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.c — stderr logging with sd-daemon priority prefixes.
 *
 * Owns: the global max level. Each message is formatted into one buffer and
 * written with a single write(2), so lines from concurrent writers (the
 * committer thread, for instance) never interleave mid-line. errno is set to
 * the error before formatting so "%m" works, and restored afterwards.
 *
 * While journal forwarding is on, each message also goes to journald as a structured entry (through the sink
 * journald.c installs: queued there, in order with node output, never waiting for journald). Under systemd
 * with StandardError=journal stderr is itself a journal stream: then the line on stderr is skipped when the
 * entry was sent, so each message is stored once, with its fields.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "escape.h"
#include "log.h"

#define LOG_MESSAGE_MAX 2048

static int log_max_level = LOG_INFO;
static log_journal_sink_t log_sink;

void log_set_journal_sink(log_journal_sink_t sink) {
        log_sink = sink;
}

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

int log_level_from_string(const char *s) {
        int level;

        return s && conf_parse_log_level(s, &level) >= 0 ? level : -EINVAL;
}

/* Room for the text of the numeric and small fields of one entry. */
typedef struct LogFields {
        JournalField f[JOURNALD_FIELDS_MAX];
        size_t n;
        char text[512];
        size_t used;
} LogFields;

static void fields_add(LogFields *lf, const char *name, const char *value) {
        if (value && lf->n < ELEMENTSOF(lf->f))
                lf->f[lf->n++] = journal_field(name, value);
}

static void fields_addf(LogFields *lf, const char *name, const char *format, ...) _printf_(3, 4);
static void fields_addf(LogFields *lf, const char *name, const char *format, ...) {
        size_t room = sizeof(lf->text) - lf->used;
        va_list ap;
        int m;

        va_start(ap, format);
        m = vsnprintf(lf->text + lf->used, room, format, ap);
        va_end(ap);
        if (m < 0 || (size_t) m >= room)
                return; /* cannot happen with the short fields used here; leave the field out */
        fields_add(lf, name, lf->text + lf->used);
        lf->used += (size_t) m + 1;
}

/* Returns whether the sink took the entry and the line on stderr is to be skipped. */
static bool log_to_journal(int level, int error, const LogEvent *ev, const char *file, int line,
                           const char *func, const char *msg, size_t len) {
        LogFields lf = {};

        if (!log_sink)
                return false;
        lf.f[lf.n++] = (JournalField){ .name = "MESSAGE", .value = msg, .len = len };
        fields_addf(&lf, "PRIORITY", "%d", level);
        fields_add(&lf, "SYSLOG_IDENTIFIER", "orchd");
        fields_add(&lf, "CODE_FILE", file);
        fields_addf(&lf, "CODE_LINE", "%d", line);
        fields_add(&lf, "CODE_FUNC", func);
        if (error != 0)
                fields_addf(&lf, "ERRNO", "%d", error);
        if (ev) {
                fields_add(&lf, "MESSAGE_ID", ev->message_id);
                if (ev->job > 0)
                        fields_addf(&lf, "ORCH_JOB", "%" PRIu64, ev->job);
                fields_add(&lf, "ORCH_JOB_NAME", ev->job_name);
                fields_add(&lf, "ORCH_NODE", ev->node);
                if (ev->attempt > 0)
                        fields_addf(&lf, "ORCH_ATTEMPT", "%u", ev->attempt);
                fields_add(&lf, "ORCH_STATE", ev->state);
                fields_add(&lf, "ORCH_REASON", ev->reason);
                fields_add(&lf, "ORCH_ACTION", ev->action);
                if (ev->has_uid)
                        fields_addf(&lf, "ORCH_UID", "%u", (unsigned) ev->uid);
        }
        return log_sink(lf.f, lf.n);
}

/* Messages carry job data (file and job names, reasons, paths): every control character and invalid
 * UTF-8 byte is escaped here, in the one place all messages pass, so a newline in job data can never
 * forge a "<0>" line on stderr or a second line in the journal's MESSAGE (issue 8, point 7). Node output
 * is not a daemon message: journald.c/logfwd.c send it as entries of its own, bytes kept. */
static int log_dispatch(int level, int error, const LogEvent *ev, const char *file, int line,
                        const char *func, const char *format, va_list ap) {
        char raw[LOG_MESSAGE_MAX], buf[LOG_MESSAGE_MAX + 256];
        int n, m;

        errno = error;
        m = vsnprintf(raw, sizeof(raw), format, ap);
        if (m < 0)
                return 0;
        m = MIN((size_t) m, sizeof(raw) - 1);
        n = snprintf(buf, sizeof(buf), "<%d>", level);
        /* Room is kept for the debug suffix and the newline; an escaped message longer than that is cut. */
        m = (int) cescape_buf(raw, (size_t) m, buf + n, LOG_MESSAGE_MAX - (size_t) n);

        if (log_to_journal(level, error, ev, file, line, func, buf + n, (size_t) m))
                return 0;

        n += m;
        if (log_max_level >= LOG_DEBUG)
                n += snprintf(buf + n, sizeof(buf) - n - 1, " (%s:%d %s)", file, line, func);
        n = MIN((size_t) n, sizeof(buf) - 2);
        buf[n++] = '\n';
        (void) !write(STDERR_FILENO, buf, n);
        return 0;
}

int log_event_internal(int level, int error, const LogEvent *ev, const char *file, int line,
                       const char *func, const char *format, ...) {
        int saved = errno;
        va_list ap;

        if (error < 0)
                error = -error;
        if (level <= log_max_level) {
                va_start(ap, format);
                (void) log_dispatch(level, error, ev, file, line, func, format, ap);
                va_end(ap);
        }
        errno = saved;
        return -error;
}
