/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/*
 * jobs/.unfinished/: an empty file named after each job that has not finished, so that recovery loads
 * those jobs first and their nodes resume while the finished ones (maybe 100,000) load in the background.
 * A hint, never the truth about a job (its journal is), and not made durable: a marker lost with the
 * machine, or a spool from an orchd without markers, only makes that job load (and resume) with the rest;
 * a stale one only loads a finished job early.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Open (creating it, mode 0700) the markers' directory below jobs_fd. Returns the fd or -errno. */
int unfinished_open(int jobs_fd);
/* Mark job id unfinished (create its marker) or not (remove it). Returns 0 or -errno (a marker that was
 * already as wanted is 0). */
int unfinished_mark(int dir_fd, uint64_t id, bool unfinished);
/* The ids marked, ascending, in *ret (owned by the caller, NULL when none) and *ret_n. Names that are not
 * ids are skipped. Returns 0 or -errno. */
int unfinished_list(int dir_fd, uint64_t **ret, size_t *ret_n);
