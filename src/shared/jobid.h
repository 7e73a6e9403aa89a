/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/*
 * Job ids as text: "42" names job 42 in jobs/, in jobs/.unfinished/, on orchctl's command line and in
 * journal records. Canonical decimal only (no sign, no leading zero, no spaces), 1…UINT64_MAX. Pure but
 * for the directory listing; no logging.
 */
#include <stddef.h>
#include <stdint.h>

/* Parse a job id. Returns 0 and *ret, or -EINVAL for anything that is not exactly a job id. */
int job_id_parse(const char *s, uint64_t *ret);

/* The ids among the names in directory dir_fd, ascending, in *ret (owned by the caller, NULL when none) and
 * *ret_n; other names are skipped. dir_fd is not moved or closed. Returns 0 or -errno. */
int job_id_list(int dir_fd, uint64_t **ret, size_t *ret_n);
