/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * orchd's side of orchd-keeper (src/keeper/keeper.c): one keeper per owner uid, spawned at that owner's
 * first start, and a KeeperTask per attempt with the life-cycle of supervise.h's Task (spawn, stop, kill,
 * free, one exit callback), so that job*.c sees a Task as before. The attempt runs in the keeper: its pipes,
 * log file, journal lines and timeout live there.
 *
 * A KeeperSet of NULL runs the attempt in orchd itself (a Task of supervise.h): the unit tests of the job
 * module do, and it is the path the keeper is measured against.
 *
 * A start is asynchronous: keeper_task_spawn() sends START and returns; the keeper spawns the attempt, puts
 * it on record in the job's starts file before its exec, and answers STARTED (the task's started callback,
 * its pid known from then on) or FAILED (the exit callback, with the result's start_error). So orchd
 * prepares the next start while the keeper spawns this one. Until the answer the task can be stopped,
 * killed, frozen or freed like any other: the keeper handles its messages in order.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "keeper-proto.h"
#include "supervise.h"

typedef struct KeeperSet KeeperSet;
typedef struct KeeperTask KeeperTask;

/* Called once when the attempt ended (its result as supervise.h's). The callback may keeper_task_free(t). */
typedef void (*keeper_task_exit_cb)(KeeperTask *t, const TaskResult *result, void *userdata);
/* Called once when the attempt started through a keeper (its pid known). Must not free t. */
typedef void (*keeper_task_started_cb)(KeeperTask *t, void *userdata);
/* Called when the attempt's log grew (coalesced). Must not free t. */
typedef void (*keeper_task_output_cb)(KeeperTask *t, void *userdata);

typedef struct KeeperSetConfig {
        const char *path;   /* orchd-keeper */
        const char *helper; /* orchd-exec, handed to each keeper */
        /* SPOOL/run (0700): each keeper listens at run/keeper-UID.sock for a restarted orchd and runs on
         * without orchd while its attempts run. NULL: keepers exit with orchd (KillNodes=yes). */
        const char *run_dir;
        bool stay; /* new keepers listen there and outlive orchd (KillNodes=no) */
} KeeperSetConfig;

/* A set of keepers (none running yet). The strings of c are borrowed for the set's life. Returns 0 or
 * -ENOMEM. */
int keeper_set_new(sd_event *e, const KeeperSetConfig *c, KeeperSet **ret);

/* Close every keeper's socket (each exits, leaving what runs to the next orchd's recovery) and free the
 * set; tasks still alive must have been freed. Accepts NULL, returns NULL. */
KeeperSet *keeper_set_free(KeeperSet *s);

/* Start attempt key of p as uid's (ks NULL: in this process, on e). p as for task_spawn(); its output_cb is
 * ignored (output_cb here is called instead, with userdata). Returns 0 with *ret started (in this process:
 * its pid known, started_cb never called), 1 with *ret starting (through a keeper: started_cb follows, or
 * cb with start_error, -EEXIST when the log file exists), or -errno as task_spawn() does, or an error of
 * the keeper's (-ECONNRESET: it died), or -EHOSTDOWN: uid has no keeper and none could be started now
 * (logged here, at most once a second): orchd's trouble, not the attempt's, which may be tried later. */
int keeper_task_spawn(KeeperSet *ks, sd_event *e, uid_t uid, const KeeperKey *key, const TaskParams *p,
                      int ends_fd, keeper_task_exit_cb cb, keeper_task_output_cb output_cb,
                      keeper_task_started_cb started_cb, void *userdata, KeeperTask **ret);

/* At start: connect to every keeper left running in run_dir by the previous orchd and learn what they
 * run (HELLO → RUNNING… SYNCED). A socket nobody answers, or whose listener is not the keeper orchd
 * recorded starting (pid, start time, binary), is removed. Returns the keepers found, or -errno. */
int keeper_set_recover(KeeperSet *ks);

/* Adopt attempt key of uid if a recovered keeper runs it: a KeeperTask as keeper_task_spawn() would have
 * made, *ret_pid and *ret_frozen (its cgroup is frozen). Returns 0, or -ENOENT (no keeper runs it). */
int keeper_task_adopt(KeeperSet *ks, uid_t uid, const KeeperKey *key, keeper_task_exit_cb cb,
                      keeper_task_output_cb output_cb, void *userdata, KeeperTask **ret, pid_t *ret_pid,
                      bool *ret_frozen);

/* A KeeperTask whose attempt already ended (its end found in the job's ends file): cb gets result on the
 * next loop iteration. Returns 0 or -errno. */
int keeper_task_new_ended(sd_event *e, const KeeperKey *key, const TaskResult *result,
                          keeper_task_exit_cb cb, void *userdata, KeeperTask **ret);

/* Whether a START of ks awaits its keeper's answer (false for NULL). */
bool keeper_set_starting(const KeeperSet *ks);

/* KillNodes= changed by a reload (stay = KillNodes=no): keepers started from now on follow it, and a
 * running keeper that would leave with orchd is told to stay (STAY, with its listening socket). Keepers
 * that stay need nothing for KillNodes=yes: orchd then stops every node itself before it exits. */
void keeper_set_stay(KeeperSet *ks, bool stay);

/* After recovery: what a recovered keeper runs that nobody adopted belongs to no job any more: it is
 * killed (FREE). */
void keeper_set_recovered(KeeperSet *ks);

/* Forget the task without touching the attempt, which runs on in its keeper (orchd stops, KillNodes=no).
 * Returns NULL. */
KeeperTask *keeper_task_detach(KeeperTask *t);

/* Whether the task waits for keeper_task_open_gate() (task_gated(); never through a keeper, which keeps its
 * own records). */
bool keeper_task_gated(const KeeperTask *t);

/* task_open_gate(). Returns 0 or -errno. */
int keeper_task_open_gate(KeeperTask *t);

/* task_stop(): SIGTERM now, SIGKILL after grace_usec; the exit callback still fires. Returns 0 or -errno. */
int keeper_task_stop(KeeperTask *t, uint64_t grace_usec);

/* task_kill(): SIGKILL the attempt now; the exit callback still fires. */
void keeper_task_kill(KeeperTask *t);

/* task_freeze(): freeze (cgroup.freeze 1) or thaw the attempt's cgroup, in its keeper. Returns 0 once
 * asked (the keeper logs what fails there), -EOPNOTSUPP in-process without a cgroup, -ESRCH when the attempt
 * is no keeper's any more, or -errno. */
int keeper_task_freeze(KeeperTask *t, bool freeze);

/* The attempt's pid (its process group); 0 while it is starting. */
pid_t keeper_task_pid(const KeeperTask *t);

/* task_free(): the attempt is killed if it still runs, the exit callback is not called. Accepts NULL,
 * returns NULL. Safe from inside the exit callback. */
KeeperTask *keeper_task_free(KeeperTask *t);
