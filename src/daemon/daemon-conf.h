/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The daemon's effective configuration: built-in defaults, then orchd.conf,
 * then command-line flags (SPEC §1), and re-reading it on SIGHUP into a new
 * configuration that the manager applies. Logs what it finds (conf.c stays pure).
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"

#define DEFAULT_CONFIG_FILE SYSCONFDIR "/orchd/orchd.conf"
#define DEFAULT_SPOOL LOCALSTATEDIR "/spool/orchd"
#define DEFAULT_LOG_MAX_BYTES (UINT64_C(64) * 1024 * 1024)
/* Per-user caps and the free-space floor: orchd.conf(5) gives the reasoning behind each. */
#define DEFAULT_USER_MAX_JOBS UINT64_C(1000)
#define DEFAULT_USER_MAX_BYTES (UINT64_C(1) << 30)
#define DEFAULT_USER_MAX_NODES UINT64_C(200000)
#define DEFAULT_USER_MAX_RUNNING UINT64_C(0)
#define DEFAULT_MIN_FREE_BYTES (UINT64_C(64) * 1024 * 1024)
#define DEFAULT_MIN_FREE_PERCENT 1U
/* A node that keeps taking the daemon down with it must not loop for ever; three reruns in a row forgive an
 * unlucky crash or two (orchd.conf(5)). */
#define DEFAULT_MAX_INTERRUPTED_RERUNS UINT64_C(3)
/* KeepFinished=30d 10000: a month of history, and a bound on what finished jobs cost (memory, disk, the
 * time to recover them) however busy the daemon is. */
#define DEFAULT_KEEP_AGE_USEC (UINT64_C(30) * 24 * 3600 * 1000000)
#define DEFAULT_KEEP_COUNT UINT64_C(10000)

/* Fill *ret (every key set) from the defaults, the file at path (a missing file is fine unless required)
 * and cmdline on top. Warnings are logged; an unreadable or invalid file is logged and -EINVAL/-errno
 * returned. */
int daemon_conf_load(const char *path, bool required, const DaemonConf *cmdline, DaemonConf *ret);

/* SIGHUP: re-read the file at path (flags in cmdline still win) and compare it with current, the
 * configuration in force: each changed key is logged; one that applies only at the next start keeps
 * current's value in *ret (and is warned about). Returns the number of keys changed with *ret filled (the
 * caller's to apply and conf_done()), or -EINVAL/-errno with the problem logged (file, line, key) and *ret
 * untouched: the old configuration stays. */
int daemon_conf_reload(const char *path, bool required, const DaemonConf *cmdline, const DaemonConf *current,
                       DaemonConf *ret);

/* The cpu.weight of the cgroup of the user with this uid and login name (NULL if unknown): UserCPUWeight='s
 * entry for either (the last one given), else 100, the same for every user. */
uint32_t daemon_conf_user_cpu_weight(const DaemonConf *c, uid_t uid, const char *user);
