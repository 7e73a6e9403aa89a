/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pwcache.c — getpwuid(3) answers kept for PWCACHE_USEC (pwcache.h).
 *
 * Owns: a few entries, each with copies of the strings it hands out. Invariants: an entry is either
 * unused or holds the answer (an account, or none) of one lookup made at `at`; failed lookups are never
 * kept.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "pwcache.h"
#include "time-util.h"

/* orchd sees few owners at a time; a busy multi-user spool still finds its current ones here. */
#define PWCACHE_ENTRIES 8

typedef struct PwEntry {
        bool used, found;
        uint64_t at;
        struct passwd pw; /* its strings are the entry's (or "" for the fields left out) */
} PwEntry;

static PwEntry entries[PWCACHE_ENTRIES];
static char empty[] = "";

static void entry_clear(PwEntry *e) {
        if (e->found) {
                free(e->pw.pw_name);
                free(e->pw.pw_dir);
                free(e->pw.pw_shell);
        }
        *e = (PwEntry){};
}

void pwcache_flush(void) {
        for (size_t i = 0; i < ELEMENTSOF(entries); i++)
                entry_clear(&entries[i]);
}

/* Whether getpwuid_r()'s error means the lookup failed rather than "no such user" (which backends also
 * report as ENOENT, ESRCH, EBADF or EPERM, getpwuid(3)). */
static bool lookup_failed(int error) {
        return error == EIO || error == EINTR || error == EMFILE || error == ENFILE || error == EAGAIN ||
                error == ENOMEM;
}

/* getpwuid_r() into a buffer that grows until the entry fits. Returns 1 with *pw (its strings in *buf, the
 * caller's), 0 for no such user, or -errno. */
static int lookup(uid_t uid, struct passwd *pw, char **buf) {
        long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
        size_t size = hint > 0 ? (size_t) hint : 1024;

        for (;;) {
                struct passwd *res = NULL;
                char *b = realloc(*buf, size);
                int r;

                if (!b)
                        return -ENOMEM;
                *buf = b;
                r = getpwuid_r(uid, pw, b, size, &res);
                if (r == ERANGE && size < 1024 * 1024) {
                        size *= 2;
                        continue;
                }
                if (r != 0)
                        return lookup_failed(r) ? -r : 0;
                return res ? 1 : 0;
        }
}

/* Fill e with a fresh answer for uid. The new strings are made before the old ones are freed, so they
 * never reuse their addresses: a caller (a test) can tell a new answer from a kept one. Returns 0, or
 * -errno (e is then unused). */
static int entry_fill(PwEntry *e, uid_t uid, uint64_t now) {
        _cleanup_free_ char *buf = NULL;
        struct passwd pw;
        PwEntry n = { .used = true, .at = now };
        int r;

        r = lookup(uid, &pw, &buf);
        if (r > 0) {
                n.found = true; /* so that entry_clear() frees what was copied */
                n.pw = (struct passwd){ .pw_uid = uid,
                                        .pw_gid = pw.pw_gid,
                                        .pw_name = strdup(pw.pw_name ?: ""),
                                        .pw_dir = strdup(pw.pw_dir ?: ""),
                                        .pw_shell = strdup(pw.pw_shell ?: "") };
                if (!n.pw.pw_name || !n.pw.pw_dir || !n.pw.pw_shell) {
                        entry_clear(&n);
                        r = -ENOMEM;
                }
        } else if (r == 0)
                n.pw = (struct passwd){ .pw_uid = uid };
        entry_clear(e);
        if (r < 0)
                return r;
        n.pw.pw_passwd = n.pw.pw_gecos = empty;
        *e = n;
        return 0;
}

const struct passwd *pwcache_getpwuid_at(uid_t uid, uint64_t now) {
        PwEntry *e = NULL;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(entries); i++) {
                PwEntry *c = &entries[i];

                if (c->used && c->pw.pw_uid == uid) {
                        e = c;
                        break;
                }
                if (!e || (e->used && (!c->used || c->at < e->at)))
                        e = c; /* the slot to fill: an unused one, else the oldest */
        }
        if (!(e->used && e->pw.pw_uid == uid && now >= e->at && now - e->at < PWCACHE_USEC)) {
                r = entry_fill(e, uid, now);
                if (r < 0) {
                        errno = -r;
                        return NULL;
                }
        }
        errno = 0;
        return e->found ? &e->pw : NULL;
}

const struct passwd *pwcache_getpwuid(uid_t uid) {
        return pwcache_getpwuid_at(uid, now_usec(CLOCK_MONOTONIC));
}
