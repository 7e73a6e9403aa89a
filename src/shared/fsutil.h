/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * File system primitives with the durability and trust rules of STYLE §1/§6:
 * durable atomic replace, careful opening of files that other users dropped,
 * bounded reads. Pure in the sense of the style guide: no event loop, no logging.
 */

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Write all of buf, retrying on EINTR and short writes. Returns 0 or -errno. */
int loop_write(int fd, const void *buf, size_t n);

/* Read fd to EOF into a malloc'd NUL-terminated buffer. Returns 0, -EFBIG if more than max bytes, -errno. */
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size);

/* Read one of our own files (O_NOFOLLOW). Same returns as read_full_fd, plus -errno of openat. */
int read_file_at(int dir_fd, const char *name, size_t max, char **ret, size_t *ret_size);

/* Atomically replace dir_fd/name with buf. Durable on return: the data and the rename are both fsynced.
 * The temp name (".#name.PID.N", unique per call, so threads may write concurrently) starts with ".#" so
 * readers skip it. On failure the old file is untouched and the temp file removed — except when only the
 * final fsync of the directory fails: the new content is then visible but not known durable, and that
 * -errno is still returned. Returns 0 or -errno. */
int write_file_atomic_at(int dir_fd, const char *name, const void *buf, size_t len);

/* Open a file that someone else dropped, without following symlinks and without blocking on FIFOs.
 * Refuses (-EPERM, *reterr_reason = malloc'd text such as "is a symbolic link", "is a FIFO",
 * "has 2 hard links: …", "is group-writable (mode 0664): …", "is 5242880 bytes, over the 4194304 byte
 * limit") anything that is not a regular file with exactly one link, writable by its owner alone
 * (its owner is who the job runs as), and at most max_size bytes. Decides on lstat before opening (dir_fd
 * must be private to the daemon, so nobody can swap the name) and re-checks fstat of the open fd. Also
 * -EPERM "changed while being opened" if the name was swapped between the lstat and the open. *reterr_reason
 * (may be NULL) is set only with -EPERM. ret_st may be NULL. Returns 0 with *ret_fd (O_RDONLY|O_CLOEXEC,
 * blocking) and *ret_st, or -errno. */
int open_foreign_file(int dir_fd, const char *name, uint64_t max_size, int *ret_fd, struct stat *ret_st,
                      char **reterr_reason);

/* renameat2(RENAME_NOREPLACE). Returns 0, -EEXIST if the target exists, -errno. */
int rename_noreplace(int old_dir_fd, const char *old_name, int new_dir_fd, const char *new_name);

/* Remove name (file or whole directory tree) below dir_fd without following symlinks. Returns 0 or -errno;
 * -ENOENT if it did not exist; -ELOOP if the tree is more than 64 levels deep (the rest is still removed
 * as far as possible). */
int rm_rf_at(int dir_fd, const char *name);

/* rm_rf_at() that gives up after max_entries entries below name (counted over the whole tree): -E2BIG,
 * with what was removed so far gone. For a directory someone else may still be filling through an fd. */
int rm_rf_bounded_at(int dir_fd, const char *name, size_t max_entries);

/* What kind of file mode is, as a refusal ("is a directory", "is a FIFO", "is a symbolic link", …); NULL
 * for a regular file. */
const char *file_type_refusal(mode_t mode);

/* A directory stream over a new fd of the directory dir_fd (dir_fd itself is neither moved nor closed),
 * read from the start and released with closedir(). Returns 0 with *ret, or -errno. */
int opendir_fd(int dir_fd, DIR **ret);

/* Open (creating with mode if missing) a directory below dir_fd, refusing symlinks.
 * Returns the O_DIRECTORY|O_CLOEXEC fd or -errno. */
int open_dir_at(int dir_fd, const char *name, mode_t mode);

/* Whether r (-errno) is the process or the system running out of file descriptors: a shortage to wait
 * out and retry, never a sign that what was being opened is damaged. */
static inline bool fd_shortage(int r) {
        return r == -EMFILE || r == -ENFILE;
}

/* fsync a directory fd. Returns 0 or -errno. */
int fsync_dir(int dir_fd);

/* Whether a file of size bytes can be written and made durable below dir_fd now: create name, write, fsync,
 * then remove it again (also on failure). Returns 0 or -errno (-ENOSPC, -EDQUOT, -EROFS, …). */
int probe_write_at(int dir_fd, const char *name, size_t size);

/* How a directory of ours must look (SPEC §8). */
typedef struct DirPolicy {
        mode_t mode;  /* with enforce: set exactly (setgid/sticky bits included) */
        bool enforce; /* set mode (and group) when they differ; else only refuse unsafe ones */
        gid_t group;  /* with enforce: the group to set, or (gid_t) -1 to leave it */
} DirPolicy;

/* Check the directory open at fd (opened with O_NOFOLLOW, so not a symlink) before trusting it: owned by
 * uid, and, unless the policy sets its mode, writable by nobody else (a group or world writable state
 * directory lets anyone swap its content). Returns 0; -EPERM with *ret_why ("is owned by uid 1000, not
 * 0", "is writable by group or others (mode 0777)"), -ENOTDIR, -ENOMEM; or -errno of fchmod/fchown. */
int dir_check_safe(int fd, uid_t uid, const DirPolicy *p, char **ret_why);
