/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * unfinished.c — the markers of unfinished jobs (jobs/.unfinished/ID), see unfinished.h.
 *
 * Owns nothing: the directory fd is the caller's. Plain file system calls, no logging.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fsutil.h"
#include "jobid.h"
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

int unfinished_list(int dir_fd, uint64_t **ret, size_t *ret_n) {
        return job_id_list(dir_fd, ret, ret_n);
}
