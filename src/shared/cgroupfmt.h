/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The text of cgroup v2 files as orchd reads them: /proc/self/cgroup, flat keyed files (cgroup.events,
 * cpu.stat, memory.events: "KEY VALUE" lines), io.stat (per device "MAJ:MIN rbytes=N wbytes=N …"),
 * cgroup.controllers (space-separated names), and the name of an attempt's cgroup. Pure: no I/O.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "resources.h" /* the controller mask: RESOURCES_CPU, …; resources_controllers_parse() reads one */

/* The cgroup2 path ("0::PATH" line) of /proc/PID/cgroup text into *ret (malloc'd). Returns 0, -ENOENT
 * when there is no such line (no cgroup2), -EBADMSG for a path that is not absolute, or -ENOMEM. */
int cgroupfmt_self_path(const char *text, char **ret);

/* The value of KEY in a flat keyed file's text. Returns 0, -ENOENT if absent, -EBADMSG if not a number. */
int cgroupfmt_keyed(const char *text, const char *key, uint64_t *ret);

/* The rbytes and wbytes of every device in io.stat's text, summed. Returns 0 or -EBADMSG. */
int cgroupfmt_io_bytes(const char *text, uint64_t *ret_read, uint64_t *ret_write);

/* "cpu memory" for a mask (resources.h bits), into buf (at least CGROUPFMT_NAMES_MAX bytes); "" for none.
 * Returns buf. */
#define CGROUPFMT_NAMES_MAX 32U
char *cgroupfmt_controller_names(unsigned mask, char buf[static CGROUPFMT_NAMES_MAX]);

/* "+cpu +memory" as cgroup.subtree_control takes it, into buf (CGROUPFMT_NAMES_MAX bytes). Returns buf. */
char *cgroupfmt_enable_line(unsigned mask, char buf[static CGROUPFMT_NAMES_MAX]);

/* The path of an attempt's cgroup below BASE: "user-UID/job-ID/LOGNAME" where LOGNAME is the attempt's log
 * file name (nodeid_log_name(): NODE.ATTEMPT.log, '/' as '%') without ".log". Returns its length, or
 * -ENAMETOOLONG if it does not fit in size bytes. The job and user parts are prefixes of it: cut at the
 * second and first '/'. */
int cgroupfmt_attempt_path(char *buf, size_t size, uid_t uid, uint64_t job, const char *log_name);
