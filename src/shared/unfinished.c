/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * unfinished.c — the markers of unfinished jobs (jobs/.unfinished/ID), see unfinished.h.
 *
 * Owns nothing: the directory fd is the caller's. Plain file system calls, no logging.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fsutil.h"
#include "macro.h"
#include "unfinished.h"

#define UNFINISHED_DIR ".unfinished"

int unfinished_open(int jobs_fd) {
        return open_dir_at(jobs_fd, UNFINISHED_DIR, 0700);
}

int unfinished_mark(int dir_fd, uint64_t id, bool unfinished) {
        char name[24];
        int fd;

        snprintf(name, sizeof(name), "%" PRIu64, id);
        if (!unfinished)
                return unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
        fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        safe_close(fd);
        return 0;
}

/* A job id as a directory name: digits, no leading zero. */
static int parse_job_id(const char *s, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (s[0] < '1' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

static int id_cmp(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

int unfinished_list(int dir_fd, uint64_t **ret, size_t *ret_n) {
        _cleanup_free_ uint64_t *ids = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        DIR *d;
        int fd;

        fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                safe_close(fd);
                return -errno;
        }
        while ((de = readdir(d))) {
                uint64_t id;

                if (parse_job_id(de->d_name, &id) < 0)
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
                qsort(ids, n, sizeof(uint64_t), id_cmp);
        *ret = TAKE_PTR(ids);
        *ret_n = n;
        return 0;
}
