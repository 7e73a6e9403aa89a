/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * journald.c — structured entries to systemd-journald over its native protocol (systemd.io
 * JOURNAL_NATIVE_PROTOCOL), from a queue and a sender thread of our own.
 *
 * Why not sd_journal_sendv() from the event loop: it returns 0 and drops the entry when
 * /run/systemd/journal/socket does not exist, so a daemon cannot tell "stored" from "lost"; and it blocks
 * while journald's socket queue is full (net.unix.max_dgram_qlen datagrams, 10 here), and journald takes
 * 30-150 µs per entry on these machines: a node printing a few thousand lines at once would hold the loop
 * for the better part of a second, a stuck journald for ever. So callers only encode the entry and append
 * it to a queue (bounded by JOURNALD_QUEUE_MAX bytes: past it entries are refused, and logfwd.c reports
 * how many lines were lost); one thread sends the queue in order on a blocking socket with a send timeout.
 * A timeout means journald is stuck: what is queued is dropped, and until journald takes an entry again
 * sends do not wait, so that a node's end, which its keeper holds until the node's lines are sent
 * (journald_mark()), waits for one timeout at most, not one per line.
 *
 * Owns: the socket (connected, so a vanished journald shows as ECONNREFUSED/ENOENT), the queue, the
 * sender thread, whether forwarding is on, when to probe again, whether stderr is a journal stream. All
 * under one mutex, never held while sending or logging: changes of the on/off state are logged after it
 * is released, because logging sends through here again.
 */

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "journald.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"

#define JOURNALD_SNDBUF (8U * 1024U * 1024U)

typedef enum Change {
        CHANGE_NONE,
        CHANGE_ON,
        CHANGE_OFF,
} Change;

typedef struct Entry {
        struct Entry *next;
        size_t size;
        char data[]; /* the datagram */
} Entry;

static pthread_mutex_t journald_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t journald_work = PTHREAD_COND_INITIALIZER; /* the queue is not empty */
static pthread_cond_t journald_idle =
        PTHREAD_COND_INITIALIZER;    /* the queue is empty and nothing in flight */
static atomic_bool journald_enabled; /* journald_setup() was called, exit not yet: read unlocked */
static int journald_fd = -EBADF;     /* connected socket while forwarding is on */
static uint64_t journald_next_probe;
static bool journald_stderr_is_stream;
static Entry *queue_head, **queue_tail = &queue_head;
static size_t queue_bytes;
static bool sender_busy;
/* ORCH_SPOOL of every entry: written once, then published by the atomic pointer (read without the lock by
 * callers on the loop and committer threads). */
static char spool_id_buf[33];
static _Atomic(const char *) spool_id;
/* orchd-keeper: entries are sent in orchd's name (SCM_CREDENTIALS), so the journal cannot tell who sent a
 * node's line; 0 = our own. Read and cleared by the sender only after journald_set_sender_pid(). */
static _Atomic pid_t sender_pid;
/* Entries queued and entries done with (sent or dropped), and the wake-up of a waiter for a mark
 * (journald_mark()): the eventfd is written once n_done reaches done_wanted. */
static uint64_t n_queued, n_done, done_wanted = UINT64_MAX;
static int done_fd = -EBADF;
/* A send waited JOURNALD_STALL_USEC in vain: journald is stuck. Until a send goes through again, sends do
 * not wait (what journald cannot take at once is dropped, and counted here), so a stuck journald costs
 * lines in the journal (never in the log files) but never delays a node's end by more than one timeout.
 * The sender's own. */
static bool sender_stalled;
static uint64_t stalled_dropped;

static int journald_connect(void) {
        static const struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = JOURNALD_SOCKET };
        struct timeval tv = { .tv_sec = JOURNALD_STALL_USEC / USEC_PER_SEC,
                              .tv_usec = JOURNALD_STALL_USEC % USEC_PER_SEC };
        int fd, v = JOURNALD_SNDBUF;

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* Room for long lines on our side; FORCE works only with CAP_NET_ADMIN. */
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
                (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
        /* A stuck journald costs one entry per timeout, never the sender for ever. */
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        /* On a datagram socket connect() only checks that someone is bound there: ENOENT, ECONNREFUSED. */
        if (connect(fd, (const struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;

                safe_close(fd);
                return r;
        }
        return fd;
}

static bool journald_is_gone(int r) {
        return r == -ECONNREFUSED || r == -ENOENT || r == -ENOTCONN || r == -ECONNRESET || r == -EPIPE;
}

/* Called locked. Returns CHANGE_ON when journald answers now. */
static Change journald_probe_locked(int *ret_error) {
        int fd;

        journald_next_probe = now_usec(CLOCK_MONOTONIC) + JOURNALD_RETRY_USEC;
        fd = journald_connect();
        if (fd < 0) {
                *ret_error = fd;
                return CHANGE_NONE;
        }
        journald_fd = fd;
        return CHANGE_ON;
}

/* Called locked: when off and the probe interval has passed, probe. */
static Change journald_maybe_probe_locked(void) {
        int error;

        if (!journald_enabled || journald_fd >= 0 || now_usec(CLOCK_MONOTONIC) < journald_next_probe)
                return CHANGE_NONE;
        return journald_probe_locked(&error);
}

static void journald_log_change(Change c, int error) {
        if (c == CHANGE_ON)
                log_event(LOG_INFO, LOG_EV(.message_id = ORCH_MESSAGE_FORWARDING, .state = "on"),
                          "Journal forwarding on: messages and node output go to journald (%s).",
                          JOURNALD_SOCKET);
        else if (c == CHANGE_OFF)
                log_full_errno(
                        LOG_WARNING, error,
                        "Journal forwarding off: journald is gone (%s: %m); node output goes to the log "
                        "files only.",
                        JOURNALD_SOCKET);
}

/* Send in the name of sender_pid (it needs CAP_SYS_ADMIN, and that process must exist): false when that
 * cannot be, and the entry goes out in our own name instead, from now on. */
static bool journald_send_as(int fd, const Entry *e, int flags, pid_t pid, int *ret) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(struct ucred))];
        } control = {};
        struct ucred uc = { .pid = pid, .uid = getuid(), .gid = getgid() };
        struct iovec iov = { .iov_base = (void *) e->data, .iov_len = e->size };
        struct msghdr mh = {
                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control)
        };
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_CREDENTIALS;
        c->cmsg_len = CMSG_LEN(sizeof(uc));
        memcpy(CMSG_DATA(c), &uc, sizeof(uc));
        while (sendmsg(fd, &mh, MSG_NOSIGNAL | flags) < 0)
                if (errno != EINTR) {
                        if (errno == EPERM || errno == ESRCH) {
                                /* Not root, or orchd is gone: our own name until told another. */
                                pid_t expected = pid;

                                (void) atomic_compare_exchange_strong(&sender_pid, &expected, 0);
                                return false;
                        }
                        *ret = -errno;
                        return true;
                }
        *ret = 0;
        return true;
}

static int journald_sendmsg(int fd, const Entry *e) {
        int flags = sender_stalled ? MSG_DONTWAIT : 0;
        pid_t pid = atomic_load(&sender_pid);
        int r;

        if (pid > 0 && journald_send_as(fd, e, flags, pid, &r))
                return r;
        for (;;) {
                if (send(fd, e->data, e->size, MSG_NOSIGNAL | flags) >= 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

/* Called locked: k more entries are done with; wake a waiter whose mark was reached. */
static void journald_done_locked(uint64_t k) {
        n_done += k;
        if (n_done >= done_wanted && done_fd >= 0) {
                done_wanted = UINT64_MAX;
                (void) eventfd_write(done_fd, 1);
        }
}

/* Called locked: drop what is queued, as done with; returns how many entries that was. */
static uint64_t journald_drop_queue_locked(void) {
        uint64_t n = 0;

        while (queue_head) {
                Entry *e = queue_head;

                queue_head = e->next;
                free(e);
                n++;
        }
        queue_tail = &queue_head;
        queue_bytes = 0;
        journald_done_locked(n);
        return n;
}

/* Called locked: journald is gone. Connect again once (it may have restarted: a new socket), else go off
 * and drop what is queued. Returns the change. */
static Change journald_reconnect_locked(int *ret_error) {
        journald_fd = safe_close(journald_fd);
        if (journald_probe_locked(ret_error) == CHANGE_ON)
                return CHANGE_NONE;
        (void) journald_drop_queue_locked();
        return CHANGE_OFF;
}

/* The outcome r of a send that journald did not refuse for good: a first timeout stalls the sender (what
 * is queued is dropped with the entry that timed out), the first send that goes through ends the stall. */
static void journald_note_stall(int r) {
        uint64_t dropped;

        if (r == -EAGAIN && !sender_stalled) {
                sender_stalled = true;
                pthread_mutex_lock(&journald_lock);
                dropped = 1 + journald_drop_queue_locked();
                stalled_dropped = dropped;
                pthread_mutex_unlock(&journald_lock);
                log_warning("journald took no entry for %u s: dropped the %" PRIu64
                            " queued, and until it "
                            "takes one again each that it cannot take at once (node output is in the log "
                            "files in full).",
                            (unsigned) (JOURNALD_STALL_USEC / USEC_PER_SEC), dropped);
        } else if (r == -EAGAIN)
                stalled_dropped++;
        else if (r == 0 && sender_stalled) {
                sender_stalled = false;
                log_notice("journald takes entries again; %" PRIu64 " were dropped while it did not.",
                           stalled_dropped);
        }
}

/* Send one entry; on a vanished journald reconnect and try once more. */
static void journald_deliver(Entry *e) {
        Change c = CHANGE_NONE;
        int fd, r;

        pthread_mutex_lock(&journald_lock);
        fd = journald_fd;
        pthread_mutex_unlock(&journald_lock);
        if (fd < 0)
                return;

        /* Only this thread closes the socket while forwarding is on, so fd stays valid here. */
        r = journald_sendmsg(fd, e);
        if (!journald_is_gone(r)) {
                journald_note_stall(r); /* sent, or dropped: EAGAIN (stuck), EMSGSIZE, … */
                return;
        }

        pthread_mutex_lock(&journald_lock);
        c = journald_reconnect_locked(&r);
        fd = journald_fd;
        pthread_mutex_unlock(&journald_lock);
        if (c == CHANGE_NONE && fd >= 0 && journald_is_gone(journald_sendmsg(fd, e))) {
                pthread_mutex_lock(&journald_lock);
                c = journald_reconnect_locked(&r);
                pthread_mutex_unlock(&journald_lock);
        }
        journald_log_change(c, r);
}

static void *journald_sender(void *arg) {
        (void) pthread_setname_np(pthread_self(), "orchd-journal");
        for (;;) {
                Entry *e;

                pthread_mutex_lock(&journald_lock);
                if (sender_busy)
                        journald_done_locked(1);
                sender_busy = false;
                while (!queue_head) {
                        pthread_cond_broadcast(&journald_idle);
                        pthread_cond_wait(&journald_work, &journald_lock);
                }
                e = queue_head;
                queue_head = e->next;
                if (!queue_head)
                        queue_tail = &queue_head;
                queue_bytes -= e->size;
                sender_busy = true;
                pthread_mutex_unlock(&journald_lock);

                journald_deliver(e);
                free(e);
        }
        return NULL;
}

/* At exit: give the queue a moment to reach journald, so the last messages are not lost; and say how many
 * were, when journald is too slow for that. */
static void journald_flush_at_exit(void) {
        struct timespec ts;
        size_t left = 0;

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += JOURNALD_EXIT_FLUSH_USEC / USEC_PER_SEC;
        pthread_mutex_lock(&journald_lock);
        while ((queue_head || sender_busy) && journald_fd >= 0)
                if (pthread_cond_timedwait(&journald_idle, &journald_lock, &ts) == ETIMEDOUT)
                        break;
        for (Entry *e = queue_head; e && journald_fd >= 0; e = e->next)
                left++;
        journald_enabled = false; /* from here on, messages go to stderr only */
        pthread_mutex_unlock(&journald_lock);
        if (left > 0)
                log_warning("Exiting with %zu journal entries journald did not take in time; they are lost.",
                            left);
}

static bool journald_stream_is_stderr(void) {
        unsigned long long dev, ino;
        const char *e = getenv("JOURNAL_STREAM");
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

static int journald_start_sender(void) {
        pthread_t thread;
        sigset_t all, saved;
        int r;

        /* The sender takes no signals: they belong to the event loop's signal sources. */
        (void) sigfillset(&all);
        (void) pthread_sigmask(SIG_BLOCK, &all, &saved);
        r = -pthread_create(&thread, NULL, journald_sender, NULL);
        (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);
        if (r < 0)
                return r;
        (void) pthread_detach(thread); /* runs until exit, which it must never delay beyond the flush */
        return 0;
}

/* log.c's sink: whether the entry went to journald and stderr is a journal stream (then the line on stderr
 * is skipped, so that each message is stored once). */
static bool journald_log_sink(const JournalField *fields, size_t n) {
        return journald_send(fields, n, true) >= 0 && journald_owns_stderr();
}

void journald_setup(void) {
        Change c = CHANGE_NONE;
        int error = 0, r;

        log_set_journal_sink(journald_log_sink);
        r = journald_start_sender();
        if (r < 0) {
                log_warning_errno(r, "Journal forwarding off: cannot start its thread: %m");
                return;
        }
        (void) atexit(journald_flush_at_exit);

        pthread_mutex_lock(&journald_lock);
        journald_enabled = true;
        journald_stderr_is_stream = journald_stream_is_stderr();
        if (journald_fd < 0)
                c = journald_probe_locked(&error);
        pthread_mutex_unlock(&journald_lock);

        if (c == CHANGE_ON)
                journald_log_change(c, 0);
        else if (error < 0)
                log_full_errno(
                        LOG_NOTICE, error,
                        "Journal forwarding off: no journald at %s (%m); node output goes to the log files "
                        "only. Probing again every %u s.",
                        JOURNALD_SOCKET, (unsigned) (JOURNALD_RETRY_USEC / USEC_PER_SEC));
}

bool journald_forwarding(void) {
        Change c;
        bool on;

        pthread_mutex_lock(&journald_lock);
        c = journald_maybe_probe_locked();
        on = journald_fd >= 0;
        pthread_mutex_unlock(&journald_lock);
        journald_log_change(c, 0);
        return on;
}

bool journald_owns_stderr(void) {
        bool owns;

        pthread_mutex_lock(&journald_lock);
        owns = journald_stderr_is_stream && journald_fd >= 0;
        pthread_mutex_unlock(&journald_lock);
        return owns;
}

void journald_set_spool_id(const char *id) {
        if (atomic_load(&spool_id))
                return;
        (void) snprintf(spool_id_buf, sizeof(spool_id_buf), "%s", id);
        atomic_store(&spool_id, spool_id_buf);
}

const char *journald_spool_id(void) {
        return atomic_load(&spool_id);
}

void journald_set_sender_pid(pid_t pid) {
        atomic_store(&sender_pid, pid == getpid() ? 0 : pid);
}

int journald_mark_fd(void) {
        pthread_mutex_lock(&journald_lock);
        if (done_fd < 0)
                done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        pthread_mutex_unlock(&journald_lock);
        return done_fd < 0 ? -errno : done_fd;
}

uint64_t journald_mark(void) {
        uint64_t m;

        pthread_mutex_lock(&journald_lock);
        m = n_queued;
        pthread_mutex_unlock(&journald_lock);
        return m;
}

bool journald_mark_reached(uint64_t mark) {
        bool reached;

        pthread_mutex_lock(&journald_lock);
        reached = n_done >= mark;
        if (!reached && mark < done_wanted)
                done_wanted = mark;
        pthread_mutex_unlock(&journald_lock);
        return reached;
}

/* The datagram: each field as name, '\n', little-endian 64-bit size, value, '\n'; ORCH_SPOOL added. */
static Entry *journald_encode(const JournalField *caller_fields, size_t n) {
        JournalField fields[JOURNALD_FIELDS_MAX + 1];
        const char *spool = atomic_load(&spool_id);
        size_t size = 0;
        Entry *e;
        char *p;

        memcpy(fields, caller_fields, n * sizeof(JournalField));
        if (spool)
                fields[n++] = journal_field("ORCH_SPOOL", spool);
        for (size_t i = 0; i < n; i++)
                size += strlen(fields[i].name) + 1 + sizeof(uint64_t) + fields[i].len + 1;
        e = malloc(sizeof(Entry) + size);
        if (!e)
                return NULL;
        *e = (Entry){ .size = size };
        p = e->data;
        for (size_t i = 0; i < n; i++) {
                size_t l = strlen(fields[i].name);
                uint64_t le = htole64((uint64_t) fields[i].len);

                p = mempcpy(p, fields[i].name, l);
                *p++ = '\n';
                p = mempcpy(p, &le, sizeof(le));
                p = mempcpy(p, fields[i].value, fields[i].len);
                *p++ = '\n';
        }
        return e;
}

int journald_send(const JournalField *fields, size_t n, bool reserve) {
        Entry *e;
        int r = 0;

        assert(n <= JOURNALD_FIELDS_MAX);
        if (!journald_enabled || !journald_forwarding())
                return -ENOTCONN;

        e = journald_encode(fields, n);
        if (!e)
                return -ENOMEM;

        pthread_mutex_lock(&journald_lock);
        if (journald_fd < 0)
                r = -ENOTCONN; /* went off meanwhile */
        else if (queue_bytes + e->size > JOURNALD_QUEUE_MAX + (reserve ? JOURNALD_QUEUE_RESERVE : 0))
                r = -ENOBUFS;
        else {
                *queue_tail = e;
                queue_tail = &e->next;
                queue_bytes += e->size;
                n_queued++;
                e = NULL;
                pthread_cond_signal(&journald_work);
        }
        pthread_mutex_unlock(&journald_lock);
        free(e);
        return r;
}
