/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * getpwuid(3), remembered for a moment. Taking one job file looks its owner up four or five times
 * (the account check, the owner's name and group for its records, its home and shell for the nodes'
 * environment), and each getpwuid() of the files backend opens, reads and parses /etc/passwd: in a burst
 * of one-node jobs that was about 5% of orchd's main thread. An answer is kept for PWCACHE_USEC, so a
 * change to an account (a new user, a removed one, a new shell) shows within that time, as it would
 * through nscd or sssd; an answer "no such user" is kept too, a failed lookup (EIO, EMFILE, …) never.
 *
 * The entries are the module's (like getpwuid()'s static buffer): one thread only, orchd's loop thread.
 */

#include <pwd.h>
#include <stdint.h>
#include <sys/types.h>

#define PWCACHE_USEC (1000U * 1000U)

/* As getpwuid(uid): the entry, valid until the next call; or NULL with errno 0 (no such user, whichever
 * of 0, ENOENT, ESRCH, EBADF or EPERM the backend said, getpwuid(3)) or the errno of a failed lookup (EIO,
 * EINTR, EMFILE, ENFILE, EAGAIN, ENOMEM). Only pw_name, pw_uid, pw_gid, pw_dir and pw_shell are filled in
 * (the others are empty strings). */
const struct passwd *pwcache_getpwuid(uid_t uid);

/* The same, as of now_usec (CLOCK_MONOTONIC µs): for tests. */
const struct passwd *pwcache_getpwuid_at(uid_t uid, uint64_t now_usec);

/* Forget every answer (a reload: the administrator may have just changed an account). */
void pwcache_flush(void);
