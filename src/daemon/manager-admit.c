/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager-admit.c — who may hand orchd a job, and how much of it: the account
 * check (access.c's rules, then the account itself through orchd-exec, as
 * cron and atd do at each run), the per-user caps (usage.c; administrators
 * are exempt) and idempotency keys held by unfinished jobs. Owns nothing: the
 * usage counts and the configuration are the Manager's. The spool asks
 * through the callbacks here before it accepts a file.
 */

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "exec-client.h"
#include "log.h"
#include "manager-internal.h"
#include "pwcache.h"
#include "time-util.h"

uint64_t manager_key_holder(Manager *m, const char *key, uid_t uid) {
        /* Only unfinished jobs hold their key, and those are exactly the active ones. */
        for (size_t i = 0; i < m->n_active; i++) {
                const Job *j = m->active[i];

                if (!job_is_finished(j) && j->run->uid == uid && j->spec->key && streq(j->spec->key, key))
                        return j->id;
        }
        return 0;
}

/* An account check that does not answer within this long is a refusal (a directory service may hang). */
#define MANAGER_ACCOUNT_CHECK_USEC (10 * USEC_PER_SEC)

int manager_may_run(Manager *m, uid_t uid, char **ret_why) {
        const struct passwd *pw;
        int r, account;

        r = access_may_run(&m->conf, geteuid(), uid, ret_why);
        if (r < 0 || geteuid() != 0 || uid == 0)
                return r; /* nodes of root, and of a daemon that is not root, run without the helper */
        /* As cron and atd do at each run: a job is taken only from an account that could log in now. */
        r = exec_check_account(m->config.exec_helper, m->config.pam_confdir, uid, MANAGER_ACCOUNT_CHECK_USEC,
                               &account);
        pw = pwcache_getpwuid(uid);
        if (r < 0) {
                log_warning_errno(r, "Cannot check the account of uid %u with %s: %m", (unsigned) uid,
                                  m->config.exec_helper);
                r = asprintf(ret_why,
                             "account check failed: orchd could not check the account of %s%s%u (%s); ask "
                             "the administrator to look at orchd's log",
                             pw ? "user " : "uid ", pw ? pw->pw_name : "", (unsigned) uid, strerror(-r));
                return r < 0 ? -ENOMEM : -EKEYREJECTED;
        }
        if (account == EXEC_ACCOUNT_OK)
                return 0;
        r = access_account_why(pw ? pw->pw_name : NULL, uid, account, ret_why);
        return r == -EPERM ? -EKEYREJECTED : r;
}

int manager_spool_may_run(uid_t uid, char **ret_why, void *userdata) {
        return manager_may_run(userdata, uid, ret_why);
}

int manager_admit(Manager *m, uid_t uid, uint64_t bytes, uint64_t nodes, char **ret_why) {
        const UsageLimits limits = { .max = {
                                             [USAGE_JOBS] = m->conf.user_max_jobs,
                                             [USAGE_BYTES] = m->conf.user_max_bytes,
                                             [USAGE_NODES] = m->conf.user_max_nodes,
                                     } };
        const struct passwd *pw;
        char user[64];
        int r;

        *ret_why = NULL;
        r = usage_admit(&m->usage, &limits, uid, false, bytes, nodes, &m->last_denial);
        if (r >= 0 || access_uid_is_admin(&m->conf, geteuid(), uid))
                return 0;
        pw = pwcache_getpwuid(uid);
        if (pw)
                snprintf(user, sizeof(user), "%s", pw->pw_name);
        else
                snprintf(user, sizeof(user), "%u", (unsigned) uid);
        *ret_why = usage_denial_format(&m->last_denial, user);
        return *ret_why ? -EDQUOT : -ENOMEM;
}

int manager_spool_admit(uid_t uid, uint64_t bytes, uint64_t nodes, char **ret_why, void *userdata) {
        return manager_admit(userdata, uid, bytes, nodes, ret_why);
}

void manager_limits_changed(Manager *m) {
        uid_t self = geteuid();

        for (size_t i = 0; i < m->usage.n_users; i++)
                m->usage.users[i].exempt = access_uid_is_admin(&m->conf, self, m->usage.users[i].uid);
        if (m->spool)
                spool_set_min_free(m->spool, m->conf.min_free_bytes, m->conf.min_free_percent);
}

uint64_t manager_key_in_use(const char *key, uid_t uid, void *userdata) {
        return manager_key_holder(userdata, key, uid);
}
