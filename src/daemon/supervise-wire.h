/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * TaskParams and TaskResult on the orchd ⇄ orchd-keeper wire (keeper-proto.h): the one place each is
 * encoded and decoded, so a field added to supervise.h is added to the wire here and nowhere else (add it to
 * both functions of its struct and to tests/unit/test-supervise-wire.c). No I/O, no logging.
 *
 * What does not travel: fds (log_dir_fd, record_fd and cgroup_fd ride beside the message with SCM_RIGHTS
 * and the caller fills them in; whether there is a cgroup fd is on the wire), callbacks (output_cb: the
 * keeper reports output with KEEPER_MSG_OUTPUT) and helper (the keeper runs other users' nodes itself, see
 * src/keeper/).
 */

#include "keeper-proto.h"
#include "supervise.h"

/* A decoded TaskParams and the storage its pointers need: strings point into the reader's buffer (which
 * must outlive it), the vectors and cred are here. */
typedef struct TaskParamsWire {
        TaskParams params;
        TaskCred cred;
        char **argv;
        char **env;
        bool cgroup; /* a cgroup fd rides with the message (params.cgroup_fd is then the caller's to set) */
} TaskParamsWire;

/* Append p (without fds, callbacks or helper) to w. */
void task_params_encode(KeeperWriter *w, const TaskParams *p);

/* Read a TaskParams written by task_params_encode() into *ret (fds -EBADF, helper NULL). Checks the shape
 * only (argv non-empty, log_name set, a record prefix within SPAWN_PREFIX_MAX); the values are orchd's to
 * choose. Returns 0, -EBADMSG or -ENOMEM. Free with task_params_wire_done() either way. */
int task_params_decode(KeeperReader *r, TaskParamsWire *ret);

/* Free what task_params_decode() allocated. */
void task_params_wire_done(TaskParamsWire *w);

/* Append res to w. */
void task_result_encode(KeeperWriter *w, const TaskResult *res);

/* Read a TaskResult written by task_result_encode(). Returns 0 or -EBADMSG. */
int task_result_decode(KeeperReader *r, TaskResult *ret);

/* The line of a job's "ends" file (written by orchd-keeper before it reports an end): "NODE ATTEMPT
 * BASE64\n", BASE64 the task_result_encode() bytes. Returns the line (malloc'd) or NULL (out of memory). */
char *task_end_format(uint32_t node, unsigned attempt, const TaskResult *res);

/* Parse one line of an "ends" file (without its '\n'). Returns 0, or -EBADMSG for a torn or foreign line,
 * -ENOMEM. */
int task_end_parse(const char *line, uint32_t *ret_node, unsigned *ret_attempt, TaskResult *ret);
