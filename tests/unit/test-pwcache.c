/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for pwcache.c against this machine's real account database: answers match getpwuid(), are
 * kept for PWCACHE_USEC and looked up again after it, "no such user" is an answer (NULL, errno 0), many
 * owners at once evict the oldest without mixing their entries up, and a flush forgets everything.
 */

#include <errno.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pwcache.h"

#define T0 (100U * 1000U * 1000U)

/* An uid nobody has: the highest one getpwuid() says is free, counting down from 2^31. */
static uid_t free_uid(void) {
        for (uid_t u = 2147483000U; u > 2147482000U; u--)
                if (!getpwuid(u))
                        return u;
        fail_msg("no free uid");
        return 0;
}

static void expect_root(const struct passwd *pw) {
        const struct passwd *real = getpwuid(0);

        assert_non_null(pw);
        assert_non_null(real);
        assert_int_equal(pw->pw_uid, 0);
        assert_int_equal(pw->pw_gid, real->pw_gid);
        assert_string_equal(pw->pw_name, real->pw_name);
        assert_string_equal(pw->pw_dir, real->pw_dir);
        assert_string_equal(pw->pw_shell, real->pw_shell);
        assert_string_equal(pw->pw_passwd, "");
}

static void test_matches_getpwuid(void **state) {
        pwcache_flush();
        expect_root(pwcache_getpwuid_at(0, T0));
        assert_int_equal(errno, 0);
        expect_root(pwcache_getpwuid(0)); /* the real clock: a new lookup, the same answer */
}

/* The same entry within PWCACHE_USEC; a fresh one (a new lookup) from then on. An entry's strings are
 * replaced by a new lookup, so a pointer kept across calls shows whether one happened. */
static void test_kept_then_looked_up_again(void **state) {
        const struct passwd *a, *b, *c;
        char *name;

        pwcache_flush();
        a = pwcache_getpwuid_at(0, T0);
        assert_non_null(a);
        name = a->pw_name;
        b = pwcache_getpwuid_at(0, T0 + PWCACHE_USEC - 1);
        assert_ptr_equal(b, a);
        assert_ptr_equal(b->pw_name, name); /* not looked up again */
        c = pwcache_getpwuid_at(0, T0 + PWCACHE_USEC);
        expect_root(c);
        assert_ptr_not_equal(c->pw_name, name); /* looked up again: new copies */
        /* A clock that went back (another caller's "now") is not a reason to trust an entry. */
        name = c->pw_name;
        c = pwcache_getpwuid_at(0, T0);
        expect_root(c);
        assert_ptr_not_equal(c->pw_name, name);
}

static void test_no_such_user(void **state) {
        uid_t u = free_uid();

        pwcache_flush();
        errno = EIO;
        assert_null(pwcache_getpwuid_at(u, T0));
        assert_int_equal(errno, 0);
        errno = EIO;
        assert_null(pwcache_getpwuid_at(u, T0 + 1)); /* kept: the same answer */
        assert_int_equal(errno, 0);
        expect_root(pwcache_getpwuid_at(0, T0 + 2)); /* and it does not shadow another uid */
}

/* More owners than entries: every answer is still the right one, whichever entries were reused. */
static void test_many_owners(void **state) {
        uid_t uids[24];
        size_t n = 0;

        pwcache_flush();
        setpwent();
        for (struct passwd *pw; n < 20 && (pw = getpwent());)
                uids[n++] = pw->pw_uid;
        endpwent();
        uids[n++] = free_uid();
        for (int round = 0; round < 3; round++)
                for (size_t i = 0; i < n; i++) {
                        const struct passwd *pw = pwcache_getpwuid_at(uids[i],
                                                                      T0 + (uint64_t) round * 10 + i);
                        const struct passwd *real = getpwuid(uids[i]);

                        if (!real) {
                                assert_null(pw);
                                continue;
                        }
                        assert_non_null(pw);
                        assert_int_equal(pw->pw_uid, uids[i]);
                        assert_string_equal(pw->pw_name, real->pw_name);
                }
}

static void test_flush(void **state) {
        const struct passwd *a;
        char *name;

        pwcache_flush();
        a = pwcache_getpwuid_at(0, T0);
        assert_non_null(a);
        name = strdup(a->pw_name);
        assert_non_null(name);
        pwcache_flush();
        a = pwcache_getpwuid_at(0, T0 + 1); /* within the time: only the flush makes it look again */
        expect_root(a);
        assert_string_equal(a->pw_name, name);
        free(name);
        pwcache_flush();
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_matches_getpwuid),
                cmocka_unit_test(test_kept_then_looked_up_again),
                cmocka_unit_test(test_no_such_user),
                cmocka_unit_test(test_many_owners),
                cmocka_unit_test(test_flush),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
