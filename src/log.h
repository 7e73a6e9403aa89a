/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Daemon logging: one line per message on stderr with an sd-daemon(3) "<N>"
 * priority prefix, which journald (or any supervisor) turns into a priority.
 * Only the logging modules (orchd.c, manager, spool, scheduler, supervise,
 * control) use this; pure modules return errors instead.
 */

#include <stdbool.h>
#include <syslog.h>

#include "macro.h"

/* Set the maximum priority that is printed (LOG_ERR … LOG_DEBUG). */
void log_set_max_level(int level);
int log_get_max_level(void);

/* Parse "err", "warning", "notice", "info", "debug" or 0…7. Returns the level or -EINVAL. */
int log_level_from_string(const char *s);

/* Print when level <= max level. Returns -abs(error) when error != 0, else 0; %m shows error. */
int log_internal(int level, int error, const char *file, int line, const char *func, const char *format, ...)
        _printf_(6, 7);

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)
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
