/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * orchd's side of the orchd-exec contract (exec-proto.h): the request memfd, the command line, the status
 * pipe, and the synchronous account check used at acceptance. supervise.c starts nodes with these.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "exec-proto.h"

/* Move fd above the helper's fixed fds (up to EXEC_GATE_FD) unless it is already, close-on-exec; consumes
 * fd. Returns the (possibly new) fd, or -errno. */
int exec_fd_above_fixed(int fd);

/* A close-on-exec status pipe whose write end lies above the helper's fixed fds, the read end non-blocking.
 * Returns 0 or -errno. */
int exec_status_pipe(int *ret_read, int *ret_write);

/* The request for a node start (cwd NULL = "/", env NULL = empty) in a close-on-exec memfd above the fixed
 * fds, which only root and the helper can read. Returns 0 with *ret_fd, -E2BIG, or -errno. */
int exec_request_new(const char *cwd, char *const *argv, char *const *env, int *ret_fd);

/* The helper's argv: "run UID USER UMASK PAM_CONFDIR" (the helper resolves USER's groups itself), or
 * "self UMASK" when run_as_owner is false. NULL on ENOMEM. */
char **exec_argv_new(const char *helper, bool run_as_owner, uid_t uid, const char *user, mode_t umask,
                     const char *pam_confdir);

/* Read the helper's answer: 0 on EOF (it exec'd, or exited without a word), 1 with *ret, or -errno
 * (-EAGAIN if nothing is there yet, -EIO for a short message). */
int exec_read_status(int status_fd, ExecStatus *ret);

/* Ask helper (orchd-exec check-account) whether uid's account may run jobs now: not locked or expired, PAM
 * service "orchd" account management passes. Synchronous, bounded by timeout_usec (the helper is killed
 * then). Returns 0 with *ret_account (EXEC_ACCOUNT_OK or the refusal), or -errno when the helper could not
 * say (-ETIMEDOUT, a spawn failure, -EIO for a malformed answer). */
int exec_check_account(const char *helper, const char *pam_confdir, uid_t uid, uint64_t timeout_usec,
                       int *ret_account);
