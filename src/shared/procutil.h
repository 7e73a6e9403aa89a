/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Identifying processes across a daemon restart. A pid alone is not an
 * identity (pid_max is 32768 here; pids are reused within one big run), but
 * a pid together with its start time (clock ticks since boot, from
 * /proc/PID/stat) is. No logging, no event loop.
 */

#include <stdint.h>
#include <sys/types.h>

/* Start time of pid in clock ticks since boot. Returns 0, -ESRCH if there is no such process (or it is a
 * zombie: it has ended), -EBADMSG if /proc/PID/stat cannot be parsed, -errno. */
int proc_start_time(pid_t pid, uint64_t *ret);

/* SIGKILL the process group led by pid if, and only if, pid is still the process that started at
 * start_time, and wait up to wait_msec for pid itself to be gone (dead: a zombie is). Returns 1 if
 * signalled, 0 if that process is gone (nothing signalled), -errno. */
int proc_kill_group_if_same(pid_t pid, uint64_t start_time, int wait_msec);
