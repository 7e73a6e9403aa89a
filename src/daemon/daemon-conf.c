/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * daemon-conf.c — defaults + orchd.conf + flags, at start and on SIGHUP.
 *
 * The command line wins over the file also on reload: a flag is an explicit
 * choice of whoever started the daemon. Keys that shape what was set up at
 * start (the spool, the socket, the drop group of new/) are only reported on
 * reload, with the value that stays in force until a restart. A reload returns
 * the new configuration; the manager applies it (manager.c).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon-conf.h"
#include "fsutil.h"
#include "log.h"

/* A config file is a few lines; anything this big is a mistake worth refusing. */
#define CONF_FILE_MAX (1024 * 1024)

static int set_defaults(DaemonConf *c) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        const char *why;
        int r;

        r = conf_set(c, CONF_SPOOL, DEFAULT_SPOOL, &why);
        if (r < 0)
                return r;
        c->max_parallel = (unsigned) MAX(cpus, 1L);
        c->log_level = LOG_INFO;
        c->max_log_size = DEFAULT_LOG_MAX_BYTES;
        c->set |= 1U << CONF_MAX_PARALLEL | 1U << CONF_LOG_LEVEL | 1U << CONF_MAX_LOG_SIZE;
        c->user_max_jobs = DEFAULT_USER_MAX_JOBS;
        c->user_max_bytes = DEFAULT_USER_MAX_BYTES;
        c->user_max_nodes = DEFAULT_USER_MAX_NODES;
        c->user_max_running = DEFAULT_USER_MAX_RUNNING;
        c->min_free_bytes = DEFAULT_MIN_FREE_BYTES;
        c->min_free_percent = DEFAULT_MIN_FREE_PERCENT;
        c->keep_age_usec = DEFAULT_KEEP_AGE_USEC;
        c->keep_count = DEFAULT_KEEP_COUNT;
        c->set |= 1U << CONF_USER_MAX_JOBS | 1U << CONF_USER_MAX_BYTES | 1U << CONF_USER_MAX_NODES |
                1U << CONF_USER_MAX_RUNNING | 1U << CONF_MIN_FREE_SPACE | 1U << CONF_KEEP_FINISHED;
        c->max_interrupted_reruns = DEFAULT_MAX_INTERRUPTED_RERUNS;
        c->set |= 1U << CONF_MAX_INTERRUPTED_RERUNS;
        c->set |= 1U << CONF_USER_CPU_WEIGHT; /* empty: every user gets cpu.weight 100, an equal share */
        c->kill_nodes = false; /* a stop or restart of orchd leaves the nodes running (issue 12) */
        c->set |= 1U << CONF_KILL_NODES;
        return 0;
}

/* SPEC §1: $RUNTIME_DIRECTORY/orchd.sock under systemd, else /run/orchd/orchd.sock as root, else in the
 * spool. */
static int default_socket(DaemonConf *c) {
        const char *rt = getenv("RUNTIME_DIRECTORY"), *why;
        _cleanup_free_ char *p = NULL;

        if (rt && rt[0] == '/' && !strchr(rt, ':'))
                p = asprintf(&p, "%s/orchd.sock", rt) < 0 ? NULL : p;
        else if (geteuid() == 0)
                p = strdup("/run/orchd/orchd.sock");
        else
                p = asprintf(&p, "%s/orchd.sock", c->spool) < 0 ? NULL : p;
        if (!p)
                return -ENOMEM;
        return conf_set(c, CONF_SOCKET, p, &why);
}

static int read_conf_file(const char *path, bool required, DaemonConf *c) {
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_free_ char *text = NULL, *error = NULL;
        size_t size;
        int r;

        r = read_file_at(AT_FDCWD, path, CONF_FILE_MAX, &text, &size);
        if (r == -ENOENT && !required)
                return 0;
        if (r < 0)
                return log_error_errno(r, "Failed to read configuration file %s: %m", path);
        if (strlen(text) != size)
                return log_error_errno(EINVAL, "Configuration file %s contains a NUL byte.", path);
        r = conf_parse(text, path, c, &warnings, &error);
        for (char **w = warnings; w && *w; w++)
                log_warning("%s", *w);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "Invalid configuration: %s", error);
        return 0;
}

int daemon_conf_load(const char *path, bool required, const DaemonConf *cmdline, DaemonConf *ret) {
        DaemonConf c = {};
        int r;

        r = set_defaults(&c);
        if (r >= 0 && path)
                r = read_conf_file(path, required, &c);
        if (r >= 0 && cmdline)
                r = conf_merge(&c, cmdline);
        if (r >= 0 && !CONF_SET(&c, CONF_SOCKET))
                r = default_socket(&c);
        if (r < 0) {
                conf_done(&c);
                return r == -ENOMEM ? log_oom() : r;
        }
        *ret = c;
        return 0;
}

static bool list_equal(char *const *a, char *const *b) {
        for (; a && *a && b && *b; a++, b++)
                if (!streq(*a, *b))
                        return false;
        return !(a && *a) && !(b && *b);
}

static bool str_equal(const char *a, const char *b) {
        return a == b || (a && b && streq(a, b));
}

static bool key_equal(const DaemonConf *a, const DaemonConf *b, ConfKey k) {
        switch (k) {
        case CONF_SPOOL:
                return str_equal(a->spool, b->spool);
        case CONF_SOCKET:
                return str_equal(a->socket, b->socket);
        case CONF_MAX_PARALLEL:
                return a->max_parallel == b->max_parallel;
        case CONF_LOG_LEVEL:
                return a->log_level == b->log_level;
        case CONF_KILL_NODES:
                return a->kill_nodes == b->kill_nodes;
        case CONF_MAX_LOG_SIZE:
                return a->max_log_size == b->max_log_size;
        case CONF_ALLOW_USERS:
                return list_equal(a->allow_users, b->allow_users);
        case CONF_DENY_USERS:
                return list_equal(a->deny_users, b->deny_users);
        case CONF_DROP_GROUP:
                return str_equal(a->drop_group, b->drop_group);
        case CONF_ADMIN_GROUP:
                return str_equal(a->admin_group, b->admin_group);
        case CONF_USER_MAX_JOBS:
                return a->user_max_jobs == b->user_max_jobs;
        case CONF_USER_MAX_BYTES:
                return a->user_max_bytes == b->user_max_bytes;
        case CONF_USER_MAX_NODES:
                return a->user_max_nodes == b->user_max_nodes;
        case CONF_USER_MAX_RUNNING:
                return a->user_max_running == b->user_max_running;
        case CONF_MIN_FREE_SPACE:
                return a->min_free_bytes == b->min_free_bytes && a->min_free_percent == b->min_free_percent;
        case CONF_MAX_INTERRUPTED_RERUNS:
                return a->max_interrupted_reruns == b->max_interrupted_reruns;
        case CONF_KEEP_FINISHED:
                return a->keep_age_usec == b->keep_age_usec && a->keep_count == b->keep_count;
        case CONF_ISOLATION:
                return a->isolation_pgroup == b->isolation_pgroup;
        case CONF_USER_CPU_WEIGHT:
                return user_weights_equal(&a->user_cpu_weights, &b->user_cpu_weights);
        default:
                return true;
        }
}

int daemon_conf_reload(const char *path, bool required, const DaemonConf *cmdline, const DaemonConf *current,
                       DaemonConf *ret) {
        DaemonConf new = {}, keep;
        unsigned changed = 0;
        int r;

        r = daemon_conf_load(path, required, cmdline, &new);
        if (r < 0) {
                log_error("Keeping the configuration in force: the new one is invalid.");
                return r;
        }
        for (int k = 0; k < _CONF_KEY_MAX; k++) {
                if (key_equal(current, &new, k))
                        continue;
                changed++;
                if (conf_key_reloadable(k)) {
                        log_notice("Reload: %s= changed.", conf_key_to_string(k));
                        continue;
                }
                log_warning(
                        "Reload: %s= changed, but applies only at the next start of orchd; keeping the old "
                        "value until then.",
                        conf_key_to_string(k));
                /* Keep what is in force, so the next reload compares against it and warns again. */
                keep = *current; /* a shallow view: conf_merge() copies only the one key marked set */
                keep.set = 1U << k;
                r = conf_merge(&new, &keep);
                if (r < 0) {
                        conf_done(&new);
                        return log_oom();
                }
        }
        *ret = new;
        return (int) changed;
}

uint32_t daemon_conf_user_cpu_weight(const DaemonConf *c, uid_t uid, const char *user) {
        return user_weights_lookup(&c->user_cpu_weights, uid, user);
}
