/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * orchd.conf (SPEC §1): systemd-style INI text, "Key=Value" lines under a
 * [Daemon] section, parsed into a DaemonConf. Pure: no file access, no
 * logging. Every option of the file is also a command-line flag: the command
 * line fills a DaemonConf of its own, merged over the file's with conf_merge().
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "resources.h"

typedef enum ConfKey {
        CONF_SPOOL,
        CONF_SOCKET,
        CONF_MAX_PARALLEL,
        CONF_LOG_LEVEL,
        CONF_MAX_LOG_SIZE,
        CONF_ALLOW_USERS,
        CONF_DENY_USERS,
        CONF_DROP_GROUP,
        CONF_ADMIN_GROUP,
        CONF_USER_MAX_JOBS,
        CONF_USER_MAX_BYTES,
        CONF_USER_MAX_NODES,
        CONF_USER_MAX_RUNNING,
        CONF_MIN_FREE_SPACE,
        CONF_MAX_INTERRUPTED_RERUNS,
        CONF_KEEP_FINISHED,
        CONF_ISOLATION,
        CONF_USER_CPU_WEIGHT,
        CONF_KILL_NODES,
        _CONF_KEY_MAX,
        _CONF_KEY_INVALID = -EINVAL,
} ConfKey;

/* What a file or command line sets; a key counts only if its bit in `set` is on. */
typedef struct DaemonConf {
        unsigned set;          /* 1U << ConfKey */
        char *spool;           /* absolute path */
        char *socket;          /* absolute path */
        unsigned max_parallel; /* 1…1000000 */
        int log_level;         /* LOG_EMERG…LOG_DEBUG */
        uint64_t max_log_size; /* bytes per attempt log, ≥ 4096 */
        char **allow_users;    /* NULL-terminated user names; empty = everyone */
        char **deny_users;
        char *drop_group;
        char *admin_group;
        /* Per-user caps (0 = none); root, the daemon's user and AdminGroup= members are exempt. */
        uint64_t user_max_jobs;    /* unfinished jobs */
        uint64_t user_max_bytes;   /* bytes of job files in the spool, finished jobs included */
        uint64_t user_max_nodes;   /* nodes over unfinished jobs */
        uint64_t user_max_running; /* nodes running at once */
        /* MinFreeSpace=: no new job while the spool's filesystem has less free than the larger of these. */
        uint64_t min_free_bytes;
        unsigned min_free_percent; /* 0…99 of the filesystem's size */
        /* Reruns in a row of a node the daemon died under (0 = no limit); then it fails, "interrupted". */
        uint64_t max_interrupted_reruns;
        /* KeepFinished=: finished jobs are removed once older than keep_age_usec (since their end) or beyond
         * the keep_count most recently finished; CONF_KEEP_FOREVER for no limit. */
        uint64_t keep_age_usec;
        uint64_t keep_count;
        /* Isolation=: false = auto (cgroup v2 where a delegated subtree exists), true = pgroup (process
         * groups only). */
        bool isolation_pgroup;
        /* UserCPUWeight=: cpu.weight of a user's cgroup (USER:WEIGHT entries); unlisted users get 100. */
        UserWeights user_cpu_weights;
        /* KillNodes=: whether stopping orchd (SIGTERM) stops the running nodes too; when not, they run on
         * in their orchd-keeper and the next orchd adopts them. */
        bool kill_nodes;
} DaemonConf;

#define CONF_KEEP_FOREVER UINT64_MAX

#define CONF_SET(c, k) (((c)->set & (1U << (k))) != 0)

/* "Spool", "MaxParallel", … and back. */
const char *conf_key_to_string(ConfKey k);
ConfKey conf_key_from_string(const char *s);
/* Whether a running daemon can apply a new value on reload (the others need a restart). */
bool conf_key_reloadable(ConfKey k);

/* Set one key from its text form, as in the file or on the command line. Lists (AllowUsers=, DenyUsers=) are
 * whitespace-separated and add to what is there; an empty value empties them (as in systemd). Returns 0 or
 * -EINVAL/-ERANGE with *ret_why (static text) saying what is wrong, or -ENOMEM. */
int conf_set(DaemonConf *c, ConfKey k, const char *value, const char **ret_why);

/* Parse a whole file's text. Comments start with # or ; at the beginning of a line; blank lines are
 * ignored; keys outside [Daemon], unknown keys and other sections are reported in *ret_warnings (strv,
 * "FILE:LINE: …", may be NULL) and skipped, as systemd does. The first invalid line fails the parse with
 * *ret_error ("FILE:LINE: …"). Returns 0, -EINVAL (with *ret_error), -ENOMEM. */
int conf_parse(const char *text, const char *filename, DaemonConf *c, char ***ret_warnings,
               char **ret_error);

/* Copy into dst every key set in src (replacing, lists included). Returns 0 or -ENOMEM. */
int conf_merge(DaemonConf *dst, const DaemonConf *src);

/* Free the strings; *c becomes empty. */
void conf_done(DaemonConf *c);

/* "err", "warning", "notice", "info", "debug" (also "emerg", "alert", "crit", "error") or 0…7. */
int conf_parse_log_level(const char *s, int *ret);

/* The size grammar of MaxLogSize=: DIGITS with an optional K, M or G (powers of 1024), e.g. "64M". */
int conf_parse_size(const char *s, uint64_t *ret);

/* MinFreeSpace=: a size, a percentage of the filesystem ("1%"), or both separated by whitespace ("64M 1%",
 * the larger applies); "0" disables the floor. Returns 0 or -EINVAL/-ERANGE. */
int conf_parse_min_free(const char *s, uint64_t *ret_bytes, unsigned *ret_percent);

/* KeepFinished=: an age (a duration with a unit, "30d", "12h") and/or a count of jobs (a bare integer,
 * "10000"), separated by whitespace ("30d 10000": both apply); "infinity" keeps every finished job. What is
 * not given is CONF_KEEP_FOREVER. Returns 0 or -EINVAL/-ERANGE. */
int conf_parse_keep_finished(const char *s, uint64_t *ret_age_usec, uint64_t *ret_count);
