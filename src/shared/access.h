/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Who may do what (SPEC §8): which users may run jobs here (the owner of a
 * dropped file, the caller of Submit), and which callers may see and act on a
 * job. One place, so intake, Submit and every control method agree.
 */

#include <stdbool.h>
#include <sys/types.h>

#include "conf.h"

/* Whether jobs of uid may run on a daemon running as daemon_uid with configuration conf: a daemon that is
 * not root runs only its own user's jobs; as root, uid needs an account and must pass AllowUsers= and
 * DenyUsers= (DenyUsers= wins). Returns 0, or -EPERM with *ret_why (malloc'd: "user alice is not in
 * AllowUsers="), -ENOMEM, or another negative errno (EIO, EMFILE, ...; no *ret_why) when the account lookup
 * itself failed: no answer, so the caller must not refuse for it but try again later. */
int access_may_run(const DaemonConf *conf, uid_t daemon_uid, uid_t uid, char **ret_why);

/* The rejection text for an account that may not run jobs now (account, an ExecAccount of exec-proto.h,
 * not EXEC_ACCOUNT_OK; user NULL if unknown): "account locked: …" with what to do about it. Returns -EPERM
 * with *ret_why (malloc'd), or -ENOMEM. */
int access_account_why(const char *user, uid_t uid, int account, char **ret_why);

/* Whether a caller (uid, and whether it is in AdminGroup=) may see and act on a job owned by owner:
 * root, the daemon's own user, AdminGroup= members, and the owner. */
bool access_may_see(uid_t caller, bool caller_is_admin, uid_t daemon_uid, uid_t owner);

/* The gid of AdminGroup=, or (gid_t) -1 when unset or unknown (nobody is admin by group then). */
gid_t access_admin_gid(const DaemonConf *conf);

/* Whether uid is exempt from the per-user caps (UserMax*=) and may take the reserved control connections:
 * root, the daemon's own user, or a member of AdminGroup= by the group database (primary or supplementary
 * group of uid's account). */
bool access_uid_is_admin(const DaemonConf *conf, uid_t daemon_uid, uid_t uid);

/* The same for a connected caller whose groups are known (SO_PEERGROUPS): uid, primary gid, and n_groups
 * supplementary groups. */
bool access_peer_is_admin(const DaemonConf *conf, uid_t daemon_uid, uid_t uid, gid_t gid,
                          const gid_t *groups, size_t n_groups);
