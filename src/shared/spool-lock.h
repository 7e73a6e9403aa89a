/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One daemon per spool: SPOOL/orchd.lock, locked with flock(LOCK_EX) for as
 * long as the daemon lives and holding its pid (for the message a second
 * daemon gives). No logging, no event loop.
 */

#include <sys/types.h>

#define SPOOL_LOCK_FILE "orchd.lock"

/* Lock SPOOL/orchd.lock (created 0644 if missing) below spool_fd without blocking, and write our pid into
 * it (best effort: a full disk does not stop a start). Returns the locked fd (O_CLOEXEC: closing it, or
 * exiting, releases the lock); -EWOULDBLOCK when another process holds it, with *ret_holder its pid as
 * written in the file (0 when it has not written it yet); -EBADFD when orchd.lock is not a regular file
 * (-EISDIR a directory, -ELOOP a symlink); -errno. Changes nothing unless it gets the lock. */
int spool_lock(int spool_fd, pid_t *ret_holder);
