/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fsutil.c — the few file system primitives every other module relies on.
 *
 * Owns: the durable replace sequence of STYLE §6 (temp file, fsync, checked close, rename, fsync of the
 * directory), the trust rules for files other users drop into the spool (decide on lstat, open with
 * O_NOFOLLOW|O_NONBLOCK, re-check the open fd), bounded reads, and symlink-safe recursive removal.
 *
 * Invariants: every function returns 0 (or a count/fd) or -errno and never leaves a temp file behind on
 * failure; nothing here follows a symbolic link in the last path component; every fd is O_CLOEXEC.
 * Temp names are ".#NAME.PID.COUNTER", unique across processes and across threads of one process, so
 * the committer thread and the event-loop thread may write into the same directory at once.
 *
 * Deliberately not here: logging, retries, policy about what to do with a refused file (the caller moves
 * it to rejected/), and anything that needs the event loop.
 */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "macro.h"

/* Deep enough for any tree we create (jobs/ID/logs/…); a bound keeps the stack and the fd count finite. */
#define RM_RF_MAX_DEPTH 64

int loop_write(int fd, const void *buf, size_t n) {
        const char *p = buf;

        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0) /* Cannot happen for n > 0 on a regular file; do not spin if it does. */
                        return -EIO;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated, cap;
        struct stat st;

        /* We read up to max + 1 bytes to tell "exactly max" from "too big", plus room for the NUL. */
        max = MIN(max, SIZE_MAX / 2);
        cap = max + 2;

        /* Size the first buffer from fstat so a regular file is read with one allocation. */
        if (fstat(fd, &st) >= 0 && S_ISREG(st.st_mode) && st.st_size > 0)
                allocated = MIN((size_t) st.st_size + 2, cap);
        else
                allocated = MIN((size_t) 4096, cap);
        buf = malloc(allocated);
        if (!buf)
                return -ENOMEM;

        for (;;) {
                if (size + 1 >= allocated) { /* never at cap: size would already be over max */
                        size_t n = allocated > cap / 2 ? cap : allocated * 2;
                        char *p = realloc(buf, n);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        allocated = n;
                }

                ssize_t k = read(fd, buf + size, allocated - size - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                size += (size_t) k;
                if (size > max)
                        return -EFBIG;
        }

        buf[size] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int read_file_at(int dir_fd, const char *name, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;

        fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_full_fd(fd, max, ret, ret_size);
}

int write_file_atomic_at(int dir_fd, const char *name, const void *buf, size_t len) {
        static atomic_uint counter;
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (asprintf(&tmp, ".#%s.%jd.%u", name, (intmax_t) getpid(), atomic_fetch_add(&counter, 1)) < 0)
                return -ENOMEM;
        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0)
                return -errno;

        /* Data must be on disk before the rename makes it visible, or a crash could leave a complete
         * name with incomplete content. */
        r = loop_write(fd, buf, len);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && close(TAKE_FD(fd)) < 0) /* close can report late write errors (NFS, quotas) */
                r = -errno;
        if (r >= 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }

        /* Make the rename itself durable. XXX: if only this fails, the new content is already visible and
         * cannot be taken back; we still report the error so the caller does not rely on durability. */
        return fsync_dir(dir_fd);
}

const char *file_type_refusal(mode_t mode) {
        switch (mode & S_IFMT) {
        case S_IFREG:
                return NULL;
        case S_IFLNK:
                return "is a symbolic link";
        case S_IFDIR:
                return "is a directory";
        case S_IFIFO:
                return "is a FIFO";
        case S_IFSOCK:
                return "is a socket";
        case S_IFCHR:
                return "is a character device";
        case S_IFBLK:
                return "is a block device";
        default:
                return "is not a regular file";
        }
}

/* Returns 0 if st describes an acceptable file, else -EPERM with the reason in *reterr_reason. */
static int check_foreign_stat(const struct stat *st, uint64_t max_size, char **reterr_reason) {
        const char *type = file_type_refusal(st->st_mode);
        char *reason = NULL;
        int k;

        /* The owner of the file is who its job runs as: refuse anything another user could have written
         * (issue 8, point 2). Another link to it, or write permission for others, lets them change it. */
        if (type)
                k = asprintf(&reason, "%s", type);
        else if (st->st_nlink != 1)
                k = asprintf(
                        &reason,
                        "has %ju hard links: whoever can reach the file by another link could change what "
                        "runs as you; drop a copy with a single link (cp, not ln), or use orchctl submit",
                        (uintmax_t) st->st_nlink);
        else if (st->st_mode & (S_IWGRP | S_IWOTH))
                k = asprintf(
                        &reason,
                        "is %s-writable (mode %04o): another user who can write it could make it run as "
                        "you; chmod go-w it before renaming it into new/ (or write it with umask 022), or "
                        "use orchctl submit",
                        st->st_mode & S_IWOTH ? "world" : "group", (unsigned) (st->st_mode & 07777));
        else if ((uint64_t) st->st_size > max_size)
                k = asprintf(&reason, "is %jd bytes, over the %" PRIu64 " byte limit",
                             (intmax_t) st->st_size, max_size);
        else
                return 0;

        if (k < 0)
                return -ENOMEM;
        if (reterr_reason)
                *reterr_reason = reason;
        else
                free(reason);
        return -EPERM;
}

static int refuse(const char *text, char **reterr_reason) {
        if (reterr_reason) {
                *reterr_reason = strdup(text);
                if (!*reterr_reason)
                        return -ENOMEM;
        }
        return -EPERM;
}

int open_foreign_file(int dir_fd, const char *name, uint64_t max_size, int *ret_fd, struct stat *ret_st,
                      char **reterr_reason) {
        _cleanup_close_ int fd = -EBADF;
        struct stat lst, st;
        int r, flags;

        /* Decide before opening: opening a FIFO or a device can block or have side effects. */
        if (fstatat(dir_fd, name, &lst, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        r = check_foreign_stat(&lst, max_size, reterr_reason);
        if (r < 0)
                return r;

        /* O_NONBLOCK and O_NOFOLLOW guard the window between lstat and open: if the name was swapped for
         * a FIFO we do not hang, and a symlink fails with ELOOP. */
        fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ELOOP)
                        return refuse("changed while being opened", reterr_reason);
                return -errno;
        }
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_dev != lst.st_dev || st.st_ino != lst.st_ino)
                return refuse("changed while being opened", reterr_reason);
        /* The writer may still hold the file open, add a link or grow it: judge the open fd again. */
        r = check_foreign_stat(&st, max_size, reterr_reason);
        if (r < 0)
                return r;

        /* Callers read it as an ordinary blocking fd; O_NONBLOCK was only for the open itself. */
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
                return -errno;

        *ret_fd = TAKE_FD(fd);
        if (ret_st)
                *ret_st = st;
        return 0;
}

int rename_noreplace(int old_dir_fd, const char *old_name, int new_dir_fd, const char *new_name) {
        if (renameat2(old_dir_fd, old_name, new_dir_fd, new_name, RENAME_NOREPLACE) < 0)
                return -errno;
        return 0;
}

static int rm_rf_below(int dir_fd, const char *name, unsigned depth, size_t *budget);

/* Remove every entry of the directory dir_fd/name; the directory itself stays. budget (NULL: none) is
 * the number of entries still allowed, shared by the whole tree: someone holding an fd to a directory
 * can add entries as fast as we remove them, and we must stop. */
static int rm_rf_children(int dir_fd, const char *name, unsigned depth, size_t *budget) {
        _cleanup_close_ int fd = -EBADF;
        DIR *d;
        int r = 0;

        if (depth >= RM_RF_MAX_DEPTH)
                return -ELOOP;

        /* O_NOFOLLOW: if name was replaced by a symlink since unlinkat said EISDIR, we must not descend
         * into whatever it points to. */
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d)
                return -errno;
        TAKE_FD(fd); /* now owned by d */

        for (;;) {
                struct dirent *de;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0 && r >= 0)
                                r = -errno;
                        break;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (budget && (*budget)-- == 0) {
                        *budget = 0;
                        r = -E2BIG;
                        break;
                }

                int k = rm_rf_below(dirfd(d), de->d_name, depth + 1, budget);
                if (k < 0 && k != -ENOENT && r >= 0)
                        r = k; /* keep going: remove as much as we can, report the first error */
        }

        (void) closedir(d);
        return r;
}

static int rm_rf_below(int dir_fd, const char *name, unsigned depth, size_t *budget) {
        int r;

        /* Try the common case first: unlink() works on files, symlinks (the link, never the target),
         * FIFOs and so on, and fails with EISDIR only for directories. */
        if (unlinkat(dir_fd, name, 0) >= 0)
                return 0;
        if (errno != EISDIR)
                return -errno;

        r = rm_rf_children(dir_fd, name, depth, budget);
        if (r < 0)
                return r;
        if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0)
                return -errno;
        return 0;
}

int rm_rf_at(int dir_fd, const char *name) {
        return rm_rf_below(dir_fd, name, 0, NULL);
}

int rm_rf_bounded_at(int dir_fd, const char *name, size_t max_entries) {
        size_t budget = max_entries;

        return rm_rf_below(dir_fd, name, 0, &budget);
}

int opendir_fd(int dir_fd, DIR **ret) {
        _cleanup_close_ int fd = -EBADF;
        DIR *d;

        fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d)
                return -errno;
        TAKE_FD(fd); /* the stream owns it now */
        *ret = d;
        return 0;
}

int open_dir_at(int dir_fd, const char *name, mode_t mode) {
        int fd;

        if (mkdirat(dir_fd, name, mode) < 0 && errno != EEXIST)
                return -errno;
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return fd;
}

int fsync_dir(int dir_fd) {
        if (fsync(dir_fd) < 0)
                return -errno;
        return 0;
}

int dir_check_safe(int fd, uid_t uid, const DirPolicy *p, char **ret_why) {
        struct stat st;

        *ret_why = NULL;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if (st.st_uid != uid)
                return asprintf(ret_why, "is owned by uid %u, not by orchd's uid %u", (unsigned) st.st_uid,
                                (unsigned) uid) < 0 ?
                        -ENOMEM :
                        -EPERM;
        if (p->enforce) {
                /* chown first: it may clear the setgid bit, which the chmod then puts back. */
                if (p->group != (gid_t) -1 && st.st_gid != p->group && fchown(fd, (uid_t) -1, p->group) < 0)
                        return -errno;
                if ((st.st_mode & 07777) != p->mode && fchmod(fd, p->mode) < 0)
                        return -errno;
                return 0;
        }
        if (st.st_mode & (S_IWGRP | S_IWOTH))
                return asprintf(ret_why, "is writable by group or others (mode %04o)",
                                (unsigned) (st.st_mode & 07777)) < 0 ?
                        -ENOMEM :
                        -EPERM;
        return 0;
}

int probe_write_at(int dir_fd, const char *name, size_t size) {
        static const char zeros[4096];
        _cleanup_close_ int fd = -EBADF;
        int r = 0;

        fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        for (size_t done = 0; r >= 0 && done < size; done += sizeof(zeros))
                r = loop_write(fd, zeros, MIN(sizeof(zeros), size - done));
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && close(TAKE_FD(fd)) < 0)
                r = -errno;
        (void) unlinkat(dir_fd, name, 0);
        return r;
}
