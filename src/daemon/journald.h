/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The link to systemd-journald: structured entries over its native protocol socket, sent by a thread of
 * their own from a bounded queue, so that neither a slow journald nor a burst of output ever holds up the
 * caller; and knowing whether journald is there at all (the public sd_journal_sendv() drops entries
 * silently when it is not, and blocks without limit when it is slow). Used by log.c (daemon messages) and
 * logfwd.c (node output), from the event loop and from the committer thread: everything here is
 * thread-safe. Entries keep their order: one queue, one sender.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "journal-field.h"

#define JOURNALD_SOCKET "/run/systemd/journal/socket"
/* While forwarding is off, a send probes the socket again at most this often. */
#define JOURNALD_RETRY_USEC (5 * USEC_PER_SEC)
/* Encoded entries waiting for journald, all callers together; past it entries are refused (-ENOBUFS),
 * except daemon messages, which have JOURNALD_QUEUE_RESERVE more: a flood of node output must not cost
 * the journal its state changes. */
#define JOURNALD_QUEUE_MAX (4U * 1024U * 1024U)
#define JOURNALD_QUEUE_RESERVE (1U * 1024U * 1024U)
/* How long the sender waits for room in journald's queue before it drops an entry: journald is stuck, and
 * the sender drops what is queued and, until journald takes an entry again, each entry it cannot take at
 * once. */
#define JOURNALD_STALL_USEC (2 * USEC_PER_SEC)
/* How long exit waits for the queue to drain; what is left then is counted on stderr. */
#define JOURNALD_EXIT_FLUSH_USEC (3 * USEC_PER_SEC)

/* Start forwarding: install the journal sink of log.h (log_set_journal_sink()), connect to journald if it
 * answers, start the sender thread, log once whether forwarding is on, and flush the queue at exit (atexit,
 * at most JOURNALD_EXIT_FLUSH_USEC). Before this call nothing is sent (unit tests, for one, never call it).
 * Also notes whether stderr is already a journal stream (JOURNAL_STREAM=dev:ino of fd 2, set by systemd for
 * StandardError=journal). */
void journald_setup(void);

/* Whether entries are forwarded now. When off, probes again (at most every JOURNALD_RETRY_USEC) and
 * logs the change. */
bool journald_forwarding(void);

/* Whether daemon messages sent to the journal must not be written to stderr as well: stderr is a journal
 * stream, so they would be stored twice. */
bool journald_owns_stderr(void);

/* Queue one entry of n fields (at most JOURNALD_FIELDS_MAX) for journald; never blocks. reserve: may use
 * JOURNALD_QUEUE_RESERVE (daemon messages). Returns 0; -ENOTCONN when forwarding is off; -ENOBUFS when the
 * queue is full; -ENOMEM. The entry is dropped on any
 * error. An entry that journald refuses later, or cannot take within JOURNALD_STALL_USEC (or at once, while
 * it is stuck), is dropped without a report to the caller. */
int journald_send(const JournalField *fields, size_t n, bool reserve);

/* The id of the spool (spool.c), sent as ORCH_SPOOL with every entry queued from now on, daemon messages
 * and node output alike: job ids are unique only within one spool. Set once; later calls are ignored. id is
 * copied (at most 32 characters). */
void journald_set_spool_id(const char *id);

/* The spool id set by journald_set_spool_id(), NULL before (handed to orchd-keeper). */
const char *journald_spool_id(void);

/* orchd-keeper: send every entry in the name of pid (orchd's), as SCM_CREDENTIALS, so journald records
 * orchd's _PID, _COMM and _EXE as when orchd forwarded node output itself. Needs CAP_SYS_ADMIN and a live
 * pid: otherwise (or pid 0) entries go out in our own name, until the next call. */
void journald_set_sender_pid(pid_t pid);

/* A mark after every entry queued so far: journald_mark_reached() says once each of them was handed to
 * journald (or dropped), so that something said afterwards elsewhere (orchd's "node ended") lands after
 * them in the journal. */
uint64_t journald_mark(void);

/* Whether mark was reached; if not, the fd of journald_mark_fd() becomes readable when it is (read it to
 * re-arm). */
bool journald_mark_reached(uint64_t mark);

/* The eventfd of journald_mark_reached() (created on the first call). Returns the fd or -errno. */
int journald_mark_fd(void);
