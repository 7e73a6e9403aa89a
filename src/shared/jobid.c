/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jobid.c — job ids as text: the one parser of a job id ("42": what jobs/ID, jobs/.unfinished/ID, orchctl
 * arguments and journal records name) and the listing of the ids a directory holds.
 *
 * Owns nothing: the directory fd is the caller's. Plain file system calls, no logging.
 * Invariant: an id is canonical decimal, 1…UINT64_MAX, so each id has exactly one name.
 */

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>

#include "fsutil.h"
#include "jobid.h"
#include "macro.h"

int job_id_parse(const char *s, uint64_t *ret) {
        uint64_t v = 0;

        if (s[0] < '1' || s[0] > '9')
                return -EINVAL;
        for (; *s; s++) {
                unsigned d = (unsigned) (*s - '0');

                if (*s < '0' || *s > '9' || v > (UINT64_MAX - d) / 10)
                        return -EINVAL;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

int job_id_list(int dir_fd, uint64_t **ret, size_t *ret_n) {
        _cleanup_free_ uint64_t *ids = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        DIR *d;
        int r;

        r = opendir_fd(dir_fd, &d);
        if (r < 0)
                return r;
        while ((de = readdir(d))) {
                uint64_t id;

                if (job_id_parse(de->d_name, &id) < 0)
                        continue;
                if (n == cap) {
                        uint64_t *q = reallocarray(ids, cap = MAX(cap * 2, (size_t) 16), sizeof(uint64_t));

                        if (!q) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        ids = q;
                }
                ids[n++] = id;
        }
        closedir(d);
        if (n > 1)
                qsort(ids, n, sizeof(uint64_t), cmp_u64);
        *ret = TAKE_PTR(ids);
        *ret_n = n;
        return 0;
}
