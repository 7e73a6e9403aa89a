/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The contract between orchd (supervise.c) and its privileged helper orchd-exec (orchd-exec.c): the command
 * line, the two inherited fds, the request format and the status message. Constants only, so the helper
 * links nothing of the daemon's.
 *
 *   orchd-exec run UID USER UMASK PAM_CONFDIR         start a node as UID (account check, PAM, drop)
 *   orchd-exec self UMASK                             start a node as the caller (no drop): only the umask
 *   orchd-exec check-account UID PAM_CONFDIR          report whether UID's account may run jobs now
 *
 * USER is the owner's login name recorded when the job was accepted: the helper resolves UID itself at each
 * start and refuses (account:unknown) if UID is no longer USER; the gid and the supplementary groups are the
 * account's at that moment, never the daemon's copy. UMASK is octal, PAM_CONFDIR "" for PAM's default. The
 * request (run and self) arrives on EXEC_REQUEST_FD, never on the command line (/proc/PID/cmdline is
 * world-readable): "CWD\0N_ARGV\0N_ENV\0" then N_ARGV argument strings and N_ENV "KEY=VALUE" strings, each
 * NUL-terminated, nothing after them. Failures are one ExecStatus on EXEC_STATUS_FD; a started node closes
 * that close-on-exec fd, so the daemon reads EOF. check-account always writes one ExecStatus (step
 * EXEC_STEP_ACCOUNT, code EXEC_ACCOUNT_OK when the account may run jobs).
 *
 * The gate: a node started gated (run and self) has the read end of a pipe on EXEC_GATE_FD. After every
 * step but the final chdir and execve it reads one byte there; orchd writes it only once the attempt's pid
 * is recorded where the next start finds it (job.c). EOF (orchd died, or gave up on the attempt) makes
 * the process exit 127 without running anything. (The daemon's own nodes need no gate: their child writes
 * that record itself before its exec, spawnrec.h.)
 */

#include <stdint.h>

#define EXEC_STATUS_FD 3
#define EXEC_REQUEST_FD 4
#define EXEC_GATE_FD 5
/* A node with a cgroup: cgroup.procs of the attempt's cgroup (O_WRONLY). orchd-exec writes "0" to it before
 * anything else, so the helper and the node are in the cgroup before any of the node's code runs. */
#define EXEC_CGROUP_FD 6
/* Far above what execve() takes (ARG_MAX is a quarter of the stack limit). */
#define EXEC_REQUEST_MAX (64U * 1024U * 1024U)
#define EXEC_PAM_SERVICE "orchd"

/* The step that failed; code is an errno except for EXEC_STEP_ACCOUNT. */
typedef enum ExecStep {
        EXEC_STEP_SETUP = 1, /* bad command line or request */
        EXEC_STEP_ACCOUNT,   /* code: ExecAccount */
        EXEC_STEP_DROP,      /* setgroups/setresgid/setresuid or their verification */
        EXEC_STEP_CWD,       /* chdir(CWD) as the owner */
        EXEC_STEP_EXEC,      /* the PATH search and execve() as the owner */
} ExecStep;

/* Why an account may not run jobs now. The order is the journal's ("account:WORD", state.c). */
typedef enum ExecAccount {
        EXEC_ACCOUNT_OK,
        EXEC_ACCOUNT_UNKNOWN,          /* no passwd entry for the uid, or it is another name's now */
        EXEC_ACCOUNT_LOCKED,           /* password field starts with '!' (passwd -l, usermod -L) */
        EXEC_ACCOUNT_EXPIRED,          /* pam_acct_mgmt: PAM_ACCT_EXPIRED (chage -E, usermod -e) */
        EXEC_ACCOUNT_PASSWORD_EXPIRED, /* pam_acct_mgmt: PAM_NEW_AUTHTOK_REQD (chage -d 0, aged out) */
        EXEC_ACCOUNT_DENIED,           /* pam_acct_mgmt: any other refusal (pam_access, pam_time, …) */
        EXEC_ACCOUNT_SESSION,          /* pam_open_session failed (limits.conf could not be applied) */
        EXEC_ACCOUNT_ERROR,            /* PAM itself failed (no /etc/pam.d/orchd, broken module, …) */
        _EXEC_ACCOUNT_MAX,
} ExecAccount;

typedef struct ExecStatus {
        int32_t step; /* ExecStep */
        int32_t code;
} ExecStatus;
