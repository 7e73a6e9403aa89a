/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Private to the journal (journal.c writes, journal-load.c reads); never include it elsewhere. It holds
 * the file names both sides must agree on and the bound on numbers in the files. The file formats
 * themselves are described at the top of journal.c.
 */

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_SNAPSHOT_NAME "state.json"
#define JOURNAL_PREFIX "journal-"
#define JOURNAL_SUFFIX ".json"
#define JOURNAL_NAME_MAX sizeof(JOURNAL_PREFIX "18446744073709551615" JOURNAL_SUFFIX)
/* Largest time or sequence number accepted on load: what fits the int64 readers of these files expect. */
#define JOURNAL_NUM_MAX ((uint64_t) INT64_MAX)

/* Write the canonical name of segment seq ("journal-" + at least 12 digits + ".json") into buf. */
void journal_format_name(char buf[static JOURNAL_NAME_MAX], uint64_t seq);

/* Sorted sequence numbers of the segments in dir_fd newer than after (*ret malloc'd, NULL when none).
 * Returns 0; -EBADMSG with *ret_bad_name (malloc'd) for a malformed journal file name; -ENOMEM; -errno. */
int journal_list_segments(int dir_fd, uint64_t after, uint64_t **ret, size_t *ret_n, char **ret_bad_name);
