/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Daemon logging: one line per message on stderr with an sd-daemon(3) "<N>"
 * priority prefix, which journald (or any supervisor) turns into a priority;
 * and, while journal forwarding is on (journald.h), the same message as a
 * structured journal entry: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER=orchd,
 * CODE_*, ERRNO, and for events a MESSAGE_ID (log-ids.h) with ORCH_* fields.
 * Only the logging modules (orchd.c, manager, spool, job, supervise,
 * control) use this; pure modules return errors instead.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <syslog.h>

#include "journal-field.h"
#include "log-ids.h"
#include "macro.h"

/* The journal fields of one event (SPEC section 7). Zero/NULL members are left out, so a compound literal
 * names only what applies: log_event(LOG_INFO, LOG_EV(.message_id = ORCH_MESSAGE_JOB_STARTED, .job = id),
 * "Job %" PRIu64 " started.", id). */
typedef struct LogEvent {
        const char *message_id; /* ORCH_MESSAGE_* */
        uint64_t job;           /* ORCH_JOB (job ids start at 1) */
        const char *job_name;   /* ORCH_JOB_NAME */
        const char *node;       /* ORCH_NODE */
        unsigned attempt;       /* ORCH_ATTEMPT (attempts start at 1) */
        const char *state;      /* ORCH_STATE: the job's or node's new state */
        const char *reason;     /* ORCH_REASON */
        const char *action;     /* ORCH_ACTION: what a client asked for (cancel, pause, …) */
        bool has_uid;           /* whether uid is set (0 is root) */
        uid_t uid;              /* ORCH_UID: who asked, for control actions */
} LogEvent;

#define LOG_EV(...) (&(const LogEvent){ __VA_ARGS__ })

/* Where each message also goes as a structured entry (journald.c installs it in journald_setup()): returns
 * true when the entry was taken and the line on stderr must be skipped (stderr is a journal stream). NULL
 * (the default, and in unit tests): stderr only. */
typedef bool (*log_journal_sink_t)(const JournalField *fields, size_t n);
void log_set_journal_sink(log_journal_sink_t sink);

/* Set the maximum priority that is printed (LOG_ERR … LOG_DEBUG). */
void log_set_max_level(int level);
int log_get_max_level(void);

/* Parse "err", "warning", "notice", "info", "debug" or 0…7. Returns the level or -EINVAL. */
int log_level_from_string(const char *s);

/* Print when level <= max level (and send to the journal with the fields of ev, which may be NULL).
 * Returns -abs(error) when error != 0, else 0; %m shows error. */
int log_event_internal(int level, int error, const LogEvent *ev, const char *file, int line,
                       const char *func, const char *format, ...) _printf_(7, 8);

#define log_full_errno(level, error, ...) \
        log_event_internal((level), (error), NULL, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_event_errno(level, error, ev, ...) \
        log_event_internal((level), (error), (ev), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_event(level, ev, ...) (void) log_event_errno((level), 0, (ev), __VA_ARGS__)
#define log_full(level, ...) (void) log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, (error), __VA_ARGS__)
#define log_info_errno(error, ...) log_full_errno(LOG_INFO, (error), __VA_ARGS__)
#define log_notice_errno(error, ...) log_full_errno(LOG_NOTICE, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, (error), __VA_ARGS__)

/* Out-of-memory: log and return -ENOMEM. */
#define log_oom() log_full_errno(LOG_ERR, ENOMEM, "Out of memory.")
