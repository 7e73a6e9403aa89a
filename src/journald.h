/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The link to systemd-journald: structured entries over its native protocol socket, never blocking the
 * daemon for longer than the caller allows, and knowing whether journald is there at all (the public
 * sd_journal_sendv() drops entries silently when it is not, and blocks without limit when it is slow).
 * Used by log.c (daemon messages) and logfwd.c (node output). Thread-safe: the committer thread logs too.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOURNALD_SOCKET "/run/systemd/journal/socket"
/* While forwarding is off, a send probes the socket again at most this often. */
#define JOURNALD_RETRY_USEC (5 * USEC_PER_SEC)
#define JOURNALD_FIELDS_MAX 24

/* One field of an entry. The value may hold any bytes (NUL, '\n', invalid UTF-8): it is sent in the
 * protocol's binary form. */
typedef struct JournalField {
        const char *name;
        const void *value;
        size_t len;
} JournalField;

/* Start forwarding: connect to journald if it answers, and log once whether forwarding is on. Before this
 * call nothing is sent (unit tests, for one, never call it). Also notes whether stderr is already a
 * journal stream (JOURNAL_STREAM=dev:ino of fd 2, set by systemd for StandardError=journal). */
void journald_setup(void);

/* Whether entries reach journald now. When off, probes again (at most every JOURNALD_RETRY_USEC) and
 * logs the change. */
bool journald_forwarding(void);

/* Whether daemon messages sent to the journal must not be written to stderr as well: stderr is a journal
 * stream, so they would be stored twice. */
bool journald_owns_stderr(void);

/* Send one entry of n fields (at most JOURNALD_FIELDS_MAX). A full journald queue is waited for until
 * deadline_usec (CLOCK_MONOTONIC; 0 = do not wait). Returns 0; -ENOTCONN when forwarding is off (also
 * when journald turns out to be gone, which is logged once); -EAGAIN when journald did not take the entry
 * by the deadline; another -errno (EMSGSIZE, …). The entry is dropped on any error. */
int journald_send(const JournalField *fields, size_t n, uint64_t deadline_usec);

/* "NAME" = "s", for fields of C strings. */
static inline JournalField journal_field(const char *name, const char *s) {
        return (JournalField) { .name = name, .value = s, .len = __builtin_strlen(s) };
}
