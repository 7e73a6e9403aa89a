/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the user policy of SPEC §8, against this machine's real accounts (root, and nobody at
 * uid 65534 as on every Debian system) and a uid that has no account. */

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "access.h"

#define NOBODY 65534
#define NO_ACCOUNT 54321

static void check_run(const DaemonConf *c, uid_t daemon, uid_t uid, int want, const char *why_part) {
        _cleanup_free_ char *why = NULL;
        int r = access_may_run(c, daemon, uid, &why);

        if (r != want)
                fail_msg("uid %u on a daemon of uid %u: got %d, want %d (%s)", (unsigned) uid,
                         (unsigned) daemon, r, want, why ?: "-");
        if (why_part && (!why || !strstr(why, why_part)))
                fail_msg("uid %u: reason '%s' lacks '%s'", (unsigned) uid, why ?: "(none)", why_part);
}

static void test_may_run(void **state) {
        DaemonConf c = {};
        const char *why;
        struct passwd *pw = getpwuid(NOBODY);
        char nobody[64];

        if (!pw)
                skip();
        /* Copy before the next lookup reuses getpwuid()'s static buffer. */
        snprintf(nobody, sizeof(nobody), "%s", pw->pw_name);
        if (getpwuid(NO_ACCOUNT))
                skip();

        /* A daemon that is not root: its own user only. */
        check_run(&c, 1000, 1000, 0, NULL);
        check_run(&c, 1000, NOBODY, -EPERM, "runs jobs only as itself");
        check_run(&c, 1000, 0, -EPERM, "runs jobs only as itself");
        /* Root: anyone with an account. */
        check_run(&c, 0, NOBODY, 0, NULL);
        check_run(&c, 0, 0, 0, NULL);
        check_run(&c, 0, NO_ACCOUNT, -EPERM, "has no user account");

        assert_int_equal(conf_set(&c, CONF_ALLOW_USERS, "root", &why), 0);
        check_run(&c, 0, 0, 0, NULL);
        check_run(&c, 0, NOBODY, -EPERM, "who is not in AllowUsers=");
        assert_int_equal(conf_set(&c, CONF_ALLOW_USERS, nobody, &why), 0);
        check_run(&c, 0, NOBODY, 0, NULL);
        assert_int_equal(conf_set(&c, CONF_DENY_USERS, nobody, &why), 0);
        check_run(&c, 0, NOBODY, -EPERM, "who is in DenyUsers="); /* deny wins */
        conf_done(&c);
}

static void test_may_see(void **state) {
        assert_true(access_may_see(0, false, 0, 1000));     /* root */
        assert_true(access_may_see(500, false, 500, 1000)); /* the daemon's own user */
        assert_true(access_may_see(1000, false, 0, 1000));  /* the owner */
        assert_false(access_may_see(1001, false, 0, 1000)); /* anyone else */
        assert_true(access_may_see(1001, true, 0, 1000));   /* unless in AdminGroup= */
}

static void test_admin_gid(void **state) {
        DaemonConf c = {};
        const char *why;

        assert_int_equal(access_admin_gid(&c), (gid_t) -1);
        assert_int_equal(conf_set(&c, CONF_ADMIN_GROUP, "root", &why), 0);
        assert_int_equal(access_admin_gid(&c), 0);
        assert_int_equal(conf_set(&c, CONF_ADMIN_GROUP, "no-such-group-here", &why), 0);
        assert_int_equal(access_admin_gid(&c), (gid_t) -1);
        conf_done(&c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_may_run),
                cmocka_unit_test(test_may_see),
                cmocka_unit_test(test_admin_gid),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
