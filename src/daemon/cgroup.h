/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Cgroups: orchd's cgroup v2 subtree (BASE) and one cgroup per attempt below it, or, where no cgroup2
 * subtree is available to us, nothing (process-group isolation, as before). See cgroup.c for the layout.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct Cgroups Cgroups;

/* Find the cgroup2 mount and orchd's subtree for the spool whose id is spool_id (SPOOL/spool-id, NULL if
 * unknown), set it up (orchd into BASE/daemon when it lived in the root cgroup, controllers enabled), and
 * log once which isolation it is and why. use_cgroups false (orchd.conf isolation = pgroup) forces process
 * groups. Returns 0 with *ret (always an object: cgroups_enabled() says which isolation) or -ENOMEM. */
int cgroups_new(const char *spool_id, bool use_cgroups, Cgroups **ret);

/* Recovery adopted the attempt (it runs on in its keeper, KillNodes=no): cgroups_sweep() leaves its cgroup
 * (user-UID/job-JOB/NAME, as cgroups_attempt_open()) and the directories above it. Returns 0 or -errno. */
int cgroups_keep(Cgroups *c, uid_t uid, uint64_t job, const char *log_name);

/* Kill and remove every attempt cgroup below BASE but those cgroups_keep() named: at start, once recovery
 * has adopted what runs on in a keeper and killed (and logged) the process groups of the rest, and before
 * any node starts, what is left there (setsid or daemonized processes of interrupted attempts, empty
 * directories) is a leftover. Forgets the kept names. */
void cgroups_sweep(Cgroups *c);

/* Whether attempts get cgroups ("cgroup" isolation) rather than process groups. NULL: false. */
bool cgroups_enabled(const Cgroups *c);

/* "cgroup" or "pgroup". */
const char *cgroups_isolation(const Cgroups *c);

/* The CgroupController mask (cgroupfmt.h) the attempt cgroups get; 0 under pgroup. */
unsigned cgroups_controllers(const Cgroups *c);

/* BASE's path in the file system, NULL under pgroup. */
const char *cgroups_base(const Cgroups *c);

/* Create the cgroup of an attempt (user-UID/job-JOB/NAME where NAME is log_name without ".log") and open
 * it O_DIRECTORY. A leftover of that name (a crash) is killed and removed first. The user's cgroup gets
 * cpu.weight user_weight where the cpu controller is enabled (UserCPUWeight=: equal shares by default).
 * Returns the fd (the caller's) or -errno. */
int cgroups_attempt_open(Cgroups *c, uid_t uid, uint64_t job, const char *log_name, uint32_t user_weight);

/* Write value to the file of the cgroup at fd (a resources limit). Returns 0 or -errno. */
int cgroups_write(int fd, const char *file, const char *value);

/* Remove the attempt's cgroup (empty by then, or, kill, after what is left in it is killed and gone: an
 * attempt whose keeper died, waited for up to 2 s). Its job's and user's stay for the job's next attempts,
 * until cgroups_job_release(); those of an attempt adopted at recovery go with it when empty. Never fails:
 * a directory still busy is removed by a later call or at cgroups_free(). */
void cgroups_attempt_remove(Cgroups *c, uid_t uid, uint64_t job, const char *log_name, bool kill);

/* The job starts no more attempts (it settled, or is freed): remove its directory, and its user's unless
 * another job of the user has one. Called after the job's attempts' cgroups were removed; a no-op for a job
 * whose directory this orchd did not make. */
void cgroups_job_release(Cgroups *c, uid_t uid, uint64_t job);

/* Kill what is left below BASE (shutdown: no attempt runs any more), remove every empty directory of ours,
 * BASE/daemon and BASE included when orchd can move back to where it came from. Accepts NULL. */
Cgroups *cgroups_free(Cgroups *c);

/* cgroups_free() for a stop that leaves the nodes running (KillNodes=no): nothing is killed, only empty
 * directories are removed; daemon/ (the keepers) and BASE stay while anything lives there. Accepts NULL. */
Cgroups *cgroups_leave(Cgroups *c);
