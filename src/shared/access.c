/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * access.c — the user policy of SPEC §8, in terms of uids and user names.
 *
 * User names are looked up when a job arrives, not cached: accounts change,
 * and a job file arrives rarely enough for an NSS lookup to be cheap.
 */

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "exec-proto.h"
#include "macro.h"
#include "pwcache.h"

static bool listed(char *const *list, const char *name) {
        for (; list && *list; list++)
                if (streq(*list, name))
                        return true;
        return false;
}

int access_may_run(const DaemonConf *conf, uid_t daemon_uid, uid_t uid, char **ret_why) {
        const struct passwd *pw;
        int r = 0;

        *ret_why = NULL;
        if (daemon_uid != 0) {
                if (uid == daemon_uid)
                        return 0;
                r = asprintf(ret_why, "is owned by uid %u, but orchd (uid %u) runs jobs only as itself",
                             (unsigned) uid, (unsigned) daemon_uid);
                return r < 0 ? -ENOMEM : -EPERM;
        }
        pw = pwcache_getpwuid(uid); /* NULL with errno 0: no such account; with another: no answer */
        if (!pw && errno != 0)
                return -errno; /* not an answer: the caller tries again later, it refuses nothing */
        if (!pw)
                r = asprintf(ret_why, "belongs to uid %u, which has no user account", (unsigned) uid);
        else if (listed(conf->deny_users, pw->pw_name))
                r = asprintf(ret_why, "belongs to user %s, who is in DenyUsers=", pw->pw_name);
        else if (conf->allow_users && !listed(conf->allow_users, pw->pw_name))
                r = asprintf(ret_why, "belongs to user %s, who is not in AllowUsers=", pw->pw_name);
        else
                return 0;
        return r < 0 ? -ENOMEM : -EPERM;
}

int access_account_why(const char *user, uid_t uid, int account, char **ret_why) {
        /* Indexed by ExecAccount: the text before and after the user's name. */
        static const char *const what[_EXEC_ACCOUNT_MAX][2] = {
                [EXEC_ACCOUNT_UNKNOWN] = { "account unknown: ", " has no user account" },
                [EXEC_ACCOUNT_LOCKED] = { "account locked: the password of ",
                                          " is locked (passwd -l, usermod -L); unlock it (usermod -U) to "
                                          "run jobs" },
                [EXEC_ACCOUNT_EXPIRED] = { "account expired: the account of ",
                                           " has expired (chage -E); extend it to run jobs" },
                [EXEC_ACCOUNT_PASSWORD_EXPIRED] = { "account password expired: ",
                                                    " must change their password before jobs run, as for "
                                                    "cron" },
                [EXEC_ACCOUNT_DENIED] = { "account denied: PAM account management (service orchd) refuses ",
                                          "" },
                [EXEC_ACCOUNT_SESSION] = { "account session failed: the PAM session (limits) of ",
                                           " cannot be opened" },
                [EXEC_ACCOUNT_ERROR] = { "account check failed: PAM (service orchd) failed for ",
                                         "; is /etc/pam.d/orchd installed? See orchd(8)" },
        };
        int r;

        if (account <= EXEC_ACCOUNT_OK || account >= _EXEC_ACCOUNT_MAX)
                account = EXEC_ACCOUNT_ERROR;
        if (user && account != EXEC_ACCOUNT_UNKNOWN)
                r = asprintf(ret_why, "%suser %s%s", what[account][0], user, what[account][1]);
        else
                r = asprintf(ret_why, "%suid %u%s", what[account][0], (unsigned) uid, what[account][1]);
        if (r < 0) {
                *ret_why = NULL;
                return -ENOMEM;
        }
        return -EPERM;
}

bool access_may_see(uid_t caller, bool caller_is_admin, uid_t daemon_uid, uid_t owner) {
        return caller == 0 || caller == daemon_uid || caller_is_admin || caller == owner;
}

gid_t access_admin_gid(const DaemonConf *conf) {
        const struct group *gr;

        if (!conf->admin_group)
                return (gid_t) -1;
        gr = getgrnam(conf->admin_group);
        return gr ? gr->gr_gid : (gid_t) -1;
}

bool access_peer_is_admin(const DaemonConf *conf, uid_t daemon_uid, uid_t uid, gid_t gid,
                          const gid_t *groups, size_t n_groups) {
        gid_t admin;

        if (uid == 0 || uid == daemon_uid)
                return true;
        admin = access_admin_gid(conf);
        if (admin == (gid_t) -1)
                return false;
        if (gid == admin)
                return true;
        for (size_t i = 0; i < n_groups; i++)
                if (groups[i] == admin)
                        return true;
        return false;
}

bool access_uid_is_admin(const DaemonConf *conf, uid_t daemon_uid, uid_t uid) {
        _cleanup_free_ gid_t *groups = NULL;
        const struct passwd *pw;
        char name[256];
        gid_t gid;
        int n = 64;

        if (uid == 0 || uid == daemon_uid)
                return true;
        if (!conf->admin_group)
                return false;
        pw = getpwuid(uid);
        if (!pw || strlen(pw->pw_name) >= sizeof(name))
                return false;
        /* Copy: the group lookups below may reuse getpwuid()'s static buffer. */
        snprintf(name, sizeof(name), "%s", pw->pw_name);
        gid = pw->pw_gid;
        for (unsigned tries = 0; tries < 4; tries++) {
                gid_t *g = reallocarray(groups, (size_t) n, sizeof(gid_t));
                int want = n;

                if (!g)
                        return false;
                groups = g;
                if (getgrouplist(name, gid, groups, &want) >= 0)
                        return access_peer_is_admin(conf, daemon_uid, uid, gid, groups, (size_t) want);
                n = want > n ? want : n * 2;
        }
        return false;
}
