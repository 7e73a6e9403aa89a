/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.c — stderr logging with sd-daemon priority prefixes.
 *
 * Owns: the global max level. Each message is formatted into one buffer and
 * written with a single write(2), so lines from concurrent writers (the
 * committer thread, for instance) never interleave mid-line. errno is set to
 * the error before formatting so "%m" works, and restored afterwards.
 * Structured journal events are a separate concern (journald forwarding).
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

static int log_max_level = LOG_INFO;

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

int log_internal(int level, int error, const char *file, int line, const char *func, const char *format, ...) {
        char buf[2048];
        int saved = errno, n, m;
        va_list ap;

        if (error < 0)
                error = -error;
        if (level > log_max_level)
                goto finish;

        n = snprintf(buf, sizeof(buf), "<%d>", level);
        errno = error;
        va_start(ap, format);
        m = vsnprintf(buf + n, sizeof(buf) - n - 1, format, ap);
        va_end(ap);
        if (m < 0)
                goto finish;
        n = MIN((size_t) n + m, sizeof(buf) - 2);
        if (log_max_level >= LOG_DEBUG)
                n += snprintf(buf + n, sizeof(buf) - n - 1, " (%s:%d %s)", file, line, func);
        n = MIN((size_t) n, sizeof(buf) - 2);
        buf[n++] = '\n';
        (void) !write(STDERR_FILENO, buf, n);
finish:
        errno = saved;
        return -error;
}
