/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * conf.c — orchd.conf and the matching command-line flags (SPEC §1).
 *
 * Owns the grammar: systemd-style INI ("[Daemon]", "Key=Value", whitespace
 * around key and value ignored, "#" or ";" comments at the start of a line),
 * the keys and their value syntax, and which keys a reload can apply.
 * Unknown sections and keys are warnings, not errors, so a config written for
 * a newer orchd still starts an older one (systemd does the same); a value
 * that does not parse is an error naming file, line and key, because running
 * with a setting the administrator did not ask for is worse than not running.
 * Deliberately not here: reading the file, defaults, logging (daemon-conf.c).
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "conf.h"
#include "duration.h"

/* Long enough for any path the kernel accepts in a sockaddr_un or open(). */
#define CONF_LINE_MAX 4096
#define CONF_LIST_MAX 1024

static const struct {
        const char *name;
        bool reloadable;
} keys[_CONF_KEY_MAX] = {
        [CONF_SPOOL] = { "Spool", false },
        [CONF_SOCKET] = { "Socket", false },
        [CONF_MAX_PARALLEL] = { "MaxParallel", true },
        [CONF_LOG_LEVEL] = { "LogLevel", true },
        [CONF_MAX_LOG_SIZE] = { "MaxLogSize", true },
        [CONF_ALLOW_USERS] = { "AllowUsers", true },
        [CONF_DENY_USERS] = { "DenyUsers", true },
        /* The group of new/ and tmp/ is set up at start, with the directories. */
        [CONF_DROP_GROUP] = { "DropGroup", false },
        [CONF_ADMIN_GROUP] = { "AdminGroup", true },
        [CONF_USER_MAX_JOBS] = { "UserMaxJobs", true },
        [CONF_USER_MAX_BYTES] = { "UserMaxBytes", true },
        [CONF_USER_MAX_NODES] = { "UserMaxNodes", true },
        [CONF_USER_MAX_RUNNING] = { "UserMaxRunning", true },
        [CONF_MIN_FREE_SPACE] = { "MinFreeSpace", true },
        /* Read when jobs are recovered, which is at start only. */
        [CONF_MAX_INTERRUPTED_RERUNS] = { "MaxInterruptedReruns", false },
        [CONF_KEEP_FINISHED] = { "KeepFinished", true },
        /* orchd's cgroup is set up at start. */
        [CONF_ISOLATION] = { "Isolation", false },
        [CONF_USER_CPU_WEIGHT] = { "UserCPUWeight", true },
        /* Read when orchd stops: a reload to yes before a stop for maintenance stops the nodes too. */
        [CONF_KILL_NODES] = { "KillNodes", true },
};

const char *conf_key_to_string(ConfKey k) {
        return k >= 0 && k < _CONF_KEY_MAX ? keys[k].name : NULL;
}

ConfKey conf_key_from_string(const char *s) {
        for (int k = 0; k < _CONF_KEY_MAX; k++)
                if (s && streq(s, keys[k].name))
                        return (ConfKey) k;
        return _CONF_KEY_INVALID;
}

bool conf_key_reloadable(ConfKey k) {
        return k >= 0 && k < _CONF_KEY_MAX && keys[k].reloadable;
}

int conf_parse_log_level(const char *s, int *ret) {
        static const char *const names[] = {
                "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i])) {
                        *ret = (int) i;
                        return 0;
                }
        if (streq(s, "error")) {
                *ret = LOG_ERR;
                return 0;
        }
        if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0') {
                *ret = s[0] - '0';
                return 0;
        }
        return -EINVAL;
}

int conf_parse_size(const char *s, uint64_t *ret) {
        uint64_t v = 0, mult = 1;
        const char *p = s;

        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (*p != '\0') {
                const char *u = strchr("KMG", *p);

                if (!u || p[1] != '\0')
                        return -EINVAL;
                mult = UINT64_C(1) << (10 * (u - "KMG" + 1));
        }
        if (v > UINT64_MAX / mult)
                return -ERANGE;
        *ret = v * mult;
        return 0;
}

int conf_parse_keep_finished(const char *s, uint64_t *ret_age_usec, uint64_t *ret_count) {
        _cleanup_free_ char *copy = strdup(s);
        uint64_t age = CONF_KEEP_FOREVER, count = CONF_KEEP_FOREVER;
        char *save = NULL, *w;
        int r;

        if (!copy)
                return -ENOMEM;
        if (streq(s, "infinity")) {
                *ret_age_usec = *ret_count = CONF_KEEP_FOREVER;
                return 0;
        }
        for (w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                if (strspn(w, "0123456789") == strlen(w)) {
                        /* A bare number is a count: a duration here must say its unit ("30" could be
                         * either). */
                        if (count != CONF_KEEP_FOREVER || strlen(w) > 9)
                                return count != CONF_KEEP_FOREVER ? -EINVAL : -ERANGE;
                        count = strtoull(w, NULL, 10);
                        continue;
                }
                if (age != CONF_KEEP_FOREVER)
                        return -EINVAL;
                r = duration_parse(w, &age);
                if (r < 0)
                        return r;
                if (age == CONF_KEEP_FOREVER)
                        return -ERANGE;
        }
        if (age == CONF_KEEP_FOREVER && count == CONF_KEEP_FOREVER)
                return -EINVAL; /* empty: "infinity" says "keep everything" explicitly */
        *ret_age_usec = age;
        *ret_count = count;
        return 0;
}

int conf_parse_min_free(const char *s, uint64_t *ret_bytes, unsigned *ret_percent) {
        _cleanup_free_ char *copy = strdup(s);
        uint64_t bytes = 0;
        unsigned percent = 0, n = 0;
        char *save = NULL, *w;
        int r;

        if (!copy)
                return -ENOMEM;
        for (w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save), n++) {
                size_t len = strlen(w);

                if (n >= 2)
                        return -EINVAL;
                if (w[len - 1] == '%') {
                        uint64_t v;

                        w[len - 1] = '\0';
                        r = strchr(w, '%') || strspn(w, "0123456789") != strlen(w) ? -EINVAL :
                                                                                     conf_parse_size(w, &v);
                        if (r < 0)
                                return r;
                        if (v > 99)
                                return -ERANGE;
                        percent = (unsigned) v;
                } else {
                        r = conf_parse_size(w, &bytes);
                        if (r < 0)
                                return r;
                }
        }
        if (n == 0)
                return -EINVAL;
        *ret_bytes = bytes;
        *ret_percent = percent;
        return 0;
}

/* A per-user cap: a count, 0 for none. */
static int parse_cap(const char *s, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0')
                return -ERANGE;
        *ret = v;
        return 0;
}

static int parse_count(const char *s, unsigned *ret) {
        unsigned long v;
        char *end;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != '\0' || v < 1 || v > 1000000)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

/* A user or group name as useradd(8) allows it (or a number): no path tricks, no list separators. */
static bool valid_name(const char *s) {
        size_t n = strlen(s);

        return n > 0 && n <= 32 && s[0] != '-' &&
                strspn(s,
                       "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                       "0123456789_.-$") == n;
}

/* value NULL: unset (merging a key that is set but has no value, as a kept-on-reload DropGroup=). */
static int set_string(char **field, const char *value) {
        char *s = value ? strdup(value) : NULL;

        if (value && !s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

static size_t strv_length(char *const *l) {
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

/* Add the whitespace-separated names of value to *list; "" empties it. */
static int add_names(char ***list, const char *value, const char **ret_why) {
        _cleanup_free_ char *copy = strdup(value);
        char *save = NULL, *w;

        if (!copy)
                return -ENOMEM;
        if (value[0] == '\0') {
                *list = strv_free(*list);
                return 0;
        }
        for (w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                size_t n = strv_length(*list);
                char **l;

                if (!valid_name(w))
                        return *ret_why = "not a valid user name", -EINVAL;
                if (n >= CONF_LIST_MAX)
                        return *ret_why = "too many names", -ERANGE;
                l = reallocarray(*list, n + 2, sizeof(char *));
                if (!l)
                        return -ENOMEM;
                *list = l;
                l[n] = strdup(w);
                l[n + 1] = NULL;
                if (!l[n])
                        return -ENOMEM;
        }
        return 0;
}

int conf_set(DaemonConf *c, ConfKey k, const char *value, const char **ret_why) {
        int r = 0;

        *ret_why = NULL;
        switch (k) {
        case CONF_SPOOL:
        case CONF_SOCKET:
                if (value[0] != '/')
                        return *ret_why = "must be an absolute path", -EINVAL;
                if (strlen(value) >= CONF_LINE_MAX)
                        return *ret_why = "path too long", -ERANGE;
                r = set_string(k == CONF_SPOOL ? &c->spool : &c->socket, value);
                break;
        case CONF_MAX_PARALLEL:
                r = parse_count(value, &c->max_parallel);
                if (r < 0)
                        *ret_why = "must be a number from 1 to 1000000";
                break;
        case CONF_KILL_NODES:
                if (streq(value, "yes") || streq(value, "no"))
                        c->kill_nodes = streq(value, "yes");
                else
                        r = -EINVAL, *ret_why = "must be yes or no";
                break;
        case CONF_LOG_LEVEL:
                r = conf_parse_log_level(value, &c->log_level);
                if (r < 0)
                        *ret_why = "must be emerg, alert, crit, err, warning, notice, info, debug or 0…7";
                break;
        case CONF_MAX_LOG_SIZE:
                r = conf_parse_size(value, &c->max_log_size);
                if (r >= 0 && c->max_log_size < 4096)
                        r = -ERANGE;
                if (r < 0)
                        *ret_why = "must be a size of at least 4096 bytes (e.g. 65536, 512K, 64M, 1G)";
                break;
        case CONF_ALLOW_USERS:
        case CONF_DENY_USERS:
                r = add_names(k == CONF_ALLOW_USERS ? &c->allow_users : &c->deny_users, value, ret_why);
                break;
        case CONF_DROP_GROUP:
        case CONF_ADMIN_GROUP:
                if (!valid_name(value))
                        return *ret_why = "not a valid group name", -EINVAL;
                r = set_string(k == CONF_DROP_GROUP ? &c->drop_group : &c->admin_group, value);
                break;
        case CONF_USER_MAX_JOBS:
        case CONF_USER_MAX_NODES:
        case CONF_USER_MAX_RUNNING:
                r = parse_cap(value,
                              k == CONF_USER_MAX_JOBS          ? &c->user_max_jobs :
                                      k == CONF_USER_MAX_NODES ? &c->user_max_nodes :
                                                                 &c->user_max_running);
                if (r < 0)
                        *ret_why = "must be a number (0 for no limit)";
                break;
        case CONF_MAX_INTERRUPTED_RERUNS:
                r = parse_cap(value, &c->max_interrupted_reruns);
                if (r < 0)
                        *ret_why = "must be a number (0 for no limit)";
                break;
        case CONF_USER_MAX_BYTES:
                r = conf_parse_size(value, &c->user_max_bytes);
                if (r < 0)
                        *ret_why = "must be a size (e.g. 1G, 512M; 0 for no limit)";
                break;
        case CONF_MIN_FREE_SPACE:
                r = conf_parse_min_free(value, &c->min_free_bytes, &c->min_free_percent);
                if (r < 0 && r != -ENOMEM)
                        *ret_why =
                                "must be a size, a percentage below 100 or both (e.g. 64M, 1%, \"64M 1%\"; "
                                "0 "
                                "for no floor)";
                break;
        case CONF_KEEP_FINISHED:
                r = conf_parse_keep_finished(value, &c->keep_age_usec, &c->keep_count);
                if (r < 0 && r != -ENOMEM)
                        *ret_why =
                                "must be an age with a unit, a count of jobs or both (e.g. 30d, 10000, "
                                "\"30d 10000\"), or infinity";
                break;
        case CONF_ISOLATION:
                if (!streq(value, "auto") && !streq(value, "pgroup"))
                        return *ret_why = "must be auto or pgroup", -EINVAL;
                c->isolation_pgroup = streq(value, "pgroup");
                r = 0;
                break;
        case CONF_USER_CPU_WEIGHT:
                r = user_weights_add(&c->user_cpu_weights, value, ret_why);
                break;
        default:
                return *ret_why = "unknown key", -EINVAL;
        }
        if (r >= 0)
                c->set |= 1U << k;
        return r;
}

static char *strip(char *s) {
        char *e;

        s += strspn(s, " \t\r");
        e = s + strlen(s);
        while (e > s && strchr(" \t\r", e[-1]))
                *--e = '\0';
        return s;
}

static int add_warning(char ***warnings, const char *fmt, ...) _printf_(2, 3);
static int add_warning(char ***warnings, const char *fmt, ...) {
        size_t n = strv_length(*warnings);
        char **l, *s;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        l = reallocarray(*warnings, n + 2, sizeof(char *));
        if (!l)
                return free(s), -ENOMEM;
        l[n] = s;
        l[n + 1] = NULL;
        *warnings = l;
        return 0;
}

/* One line (NUL-terminated, modified in place). in_daemon tracks the current section. */
static int parse_line(DaemonConf *c, char *line, const char *file, unsigned no, bool *in_daemon,
                      char ***warnings, char **ret_error) {
        const char *why = NULL;
        char *s = strip(line), *eq, *key, *value;
        ConfKey k;
        int r;

        if (s[0] == '\0' || s[0] == '#' || s[0] == ';')
                return 0;
        if (s[0] == '[') {
                size_t n = strlen(s);

                if (n < 3 || s[n - 1] != ']')
                        return asprintf(ret_error, "%s:%u: invalid section header '%s'", file, no, s) < 0 ?
                                -ENOMEM :
                                -EINVAL;
                s[n - 1] = '\0';
                *in_daemon = streq(s + 1, "Daemon");
                return *in_daemon ?
                        0 :
                        add_warning(warnings, "%s:%u: unknown section [%s], ignored", file, no, s + 1);
        }
        eq = strchr(s, '=');
        if (!eq)
                return asprintf(ret_error, "%s:%u: expected Key=Value, got '%s'", file, no, s) < 0 ?
                        -ENOMEM :
                        -EINVAL;
        *eq = '\0';
        key = strip(s);
        value = strip(eq + 1);
        if (!*in_daemon)
                return add_warning(warnings, "%s:%u: %s= outside [Daemon], ignored", file, no, key);
        k = conf_key_from_string(key);
        if (k < 0)
                return add_warning(warnings, "%s:%u: unknown key %s=, ignored", file, no, key);
        r = conf_set(c, k, value, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return asprintf(ret_error, "%s:%u: invalid %s=%s: %s", file, no, key, value, why) < 0 ?
                        -ENOMEM :
                        -EINVAL;
        return 0;
}

int conf_parse(const char *text, const char *filename, DaemonConf *c, char ***ret_warnings,
               char **ret_error) {
        _cleanup_free_ char *copy = strdup(text);
        bool in_daemon = false;
        char *line, *next;
        unsigned no = 1;
        int r;

        *ret_warnings = NULL;
        *ret_error = NULL;
        if (!copy)
                return -ENOMEM;
        for (line = copy; line; line = next, no++) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (strlen(line) >= CONF_LINE_MAX)
                        return asprintf(ret_error, "%s:%u: line too long", filename, no) < 0 ? -ENOMEM :
                                                                                               -EINVAL;
                r = parse_line(c, line, filename, no, &in_daemon, ret_warnings, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int copy_list(char ***dst, char *const *src) {
        size_t n = strv_length(src);
        char **l = calloc(n + 1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(l[i] = strdup(src[i])))
                        return strv_free(l), -ENOMEM;
        strv_free(*dst);
        *dst = l;
        return 0;
}

int conf_merge(DaemonConf *dst, const DaemonConf *src) {
        int r = 0;

        for (int k = 0; k < _CONF_KEY_MAX && r >= 0; k++) {
                if (!CONF_SET(src, k))
                        continue;
                switch (k) {
                case CONF_SPOOL:
                        r = set_string(&dst->spool, src->spool);
                        break;
                case CONF_SOCKET:
                        r = set_string(&dst->socket, src->socket);
                        break;
                case CONF_MAX_PARALLEL:
                        dst->max_parallel = src->max_parallel;
                        break;
                case CONF_LOG_LEVEL:
                        dst->log_level = src->log_level;
                        break;
                case CONF_KILL_NODES:
                        dst->kill_nodes = src->kill_nodes;
                        break;
                case CONF_MAX_LOG_SIZE:
                        dst->max_log_size = src->max_log_size;
                        break;
                case CONF_ALLOW_USERS:
                        r = copy_list(&dst->allow_users, src->allow_users);
                        break;
                case CONF_DENY_USERS:
                        r = copy_list(&dst->deny_users, src->deny_users);
                        break;
                case CONF_DROP_GROUP:
                        r = set_string(&dst->drop_group, src->drop_group);
                        break;
                case CONF_ADMIN_GROUP:
                        r = set_string(&dst->admin_group, src->admin_group);
                        break;
                case CONF_USER_MAX_JOBS:
                        dst->user_max_jobs = src->user_max_jobs;
                        break;
                case CONF_USER_MAX_BYTES:
                        dst->user_max_bytes = src->user_max_bytes;
                        break;
                case CONF_USER_MAX_NODES:
                        dst->user_max_nodes = src->user_max_nodes;
                        break;
                case CONF_USER_MAX_RUNNING:
                        dst->user_max_running = src->user_max_running;
                        break;
                case CONF_MIN_FREE_SPACE:
                        dst->min_free_bytes = src->min_free_bytes;
                        dst->min_free_percent = src->min_free_percent;
                        break;
                case CONF_MAX_INTERRUPTED_RERUNS:
                        dst->max_interrupted_reruns = src->max_interrupted_reruns;
                        break;
                case CONF_KEEP_FINISHED:
                        dst->keep_age_usec = src->keep_age_usec;
                        dst->keep_count = src->keep_count;
                        break;
                case CONF_ISOLATION:
                        dst->isolation_pgroup = src->isolation_pgroup;
                        break;
                case CONF_USER_CPU_WEIGHT:
                        r = user_weights_copy(&dst->user_cpu_weights, &src->user_cpu_weights);
                        break;
                }
                if (r >= 0)
                        dst->set |= 1U << k;
        }
        return r;
}

void conf_done(DaemonConf *c) {
        free(c->spool);
        free(c->socket);
        strv_free(c->allow_users);
        strv_free(c->deny_users);
        free(c->drop_group);
        free(c->admin_group);
        user_weights_done(&c->user_cpu_weights);
        *c = (DaemonConf){};
}
