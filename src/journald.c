/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * journald.c — structured entries to systemd-journald over its native protocol (systemd.io
 * JOURNAL_NATIVE_PROTOCOL), from a socket of our own.
 *
 * Why not sd_journal_sendv(): it returns 0 and drops the entry when /run/systemd/journal/socket does not
 * exist, so a daemon cannot tell "stored" from "lost"; and its socket is blocking, so a stalled journald
 * (its queue holds net.unix.max_dgram_qlen datagrams, 10 here) would stall the event loop with it. Here
 * the socket is non-blocking and connected (so a full queue shows as POLLOUT not ready and a vanished
 * journald as ECONNREFUSED/ENOENT), and each send waits for room at most until the caller's deadline.
 *
 * Owns: the socket, whether forwarding is on, when to probe again, whether stderr is a journal stream.
 * All of it under one mutex. Changes of the on/off state are logged after the mutex is released: logging
 * sends through here again. Every field is sent in the binary form (name, '\n', le64 size, value, '\n'),
 * so no value can break an entry whatever bytes it holds.
 */

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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

static pthread_mutex_t journald_lock = PTHREAD_MUTEX_INITIALIZER;
static bool journald_enabled;      /* journald_setup() was called */
static int journald_fd = -EBADF;   /* connected socket while forwarding is on */
static uint64_t journald_next_probe;
static bool journald_stderr_is_stream;

static int journald_connect(void) {
        static const struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = JOURNALD_SOCKET };
        int fd, v = JOURNALD_SNDBUF;

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* Room for a queue of long lines on our side; FORCE works only with CAP_NET_ADMIN. */
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
                (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
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

/* Called locked. Returns the change of state. */
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

static void journald_log_change(Change c, int error) {
        if (c == CHANGE_ON)
                log_event(LOG_INFO, LOG_EV(.message_id = ORCH_MESSAGE_FORWARDING, .state = "on"),
                          "Journal forwarding on: messages and node output go to journald (%s).", JOURNALD_SOCKET);
        else if (c == CHANGE_OFF)
                log_full_errno(LOG_WARNING, error,
                               "Journal forwarding off: journald is gone (%s: %m); node output goes to the log "
                               "files only.", JOURNALD_SOCKET);
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

void journald_setup(void) {
        Change c;
        int error = 0;

        pthread_mutex_lock(&journald_lock);
        journald_enabled = true;
        journald_stderr_is_stream = journald_stream_is_stderr();
        c = journald_fd >= 0 ? CHANGE_NONE : journald_probe_locked(&error);
        pthread_mutex_unlock(&journald_lock);

        if (c == CHANGE_ON)
                journald_log_change(c, 0);
        else if (error < 0)
                log_full_errno(LOG_NOTICE, error,
                               "Journal forwarding off: no journald at %s (%m); node output goes to the log files "
                               "only. Probing again every %u s.",
                               JOURNALD_SOCKET, (unsigned) (JOURNALD_RETRY_USEC / USEC_PER_SEC));
}

/* Called locked: when off and the probe interval has passed, probe. */
static Change journald_maybe_probe_locked(void) {
        int error;

        if (!journald_enabled || journald_fd >= 0 || now_usec(CLOCK_MONOTONIC) < journald_next_probe)
                return CHANGE_NONE;
        return journald_probe_locked(&error);
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

/* Called locked. Waits for room in journald's queue until the deadline. */
static int journald_sendmsg_locked(struct iovec *iov, size_t n_iov, uint64_t deadline_usec) {
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n_iov };

        for (;;) {
                struct pollfd pfd = { .fd = journald_fd, .events = POLLOUT };
                struct timespec ts;
                uint64_t now;

                if (sendmsg(journald_fd, &mh, MSG_NOSIGNAL) >= 0)
                        return 0;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return -errno;
                now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline_usec)
                        return -EAGAIN;
                ts = (struct timespec) { .tv_sec = (deadline_usec - now) / USEC_PER_SEC,
                                         .tv_nsec = (deadline_usec - now) % USEC_PER_SEC * NSEC_PER_USEC };
                if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR)
                        return -errno;
        }
}

/* Called locked. Send, and when journald went away (or restarted: a new socket), connect again once. */
static int journald_send_locked(struct iovec *iov, size_t n_iov, uint64_t deadline_usec, Change *ret_change) {
        int r;

        *ret_change = journald_maybe_probe_locked();
        if (journald_fd < 0)
                return -ENOTCONN;
        r = journald_sendmsg_locked(iov, n_iov, deadline_usec);
        if (!journald_is_gone(r))
                return r;

        journald_fd = safe_close(journald_fd);
        if (journald_probe_locked(&r) == CHANGE_ON) {
                r = journald_sendmsg_locked(iov, n_iov, deadline_usec);
                if (!journald_is_gone(r))
                        return r;
                journald_fd = safe_close(journald_fd);
        }
        *ret_change = CHANGE_OFF;
        return r;
}

int journald_send(const JournalField *fields, size_t n, uint64_t deadline_usec) {
        struct iovec iov[JOURNALD_FIELDS_MAX * 5];
        uint64_t sizes[JOURNALD_FIELDS_MAX];
        size_t k = 0;
        Change c;
        int r;

        assert(n <= JOURNALD_FIELDS_MAX);
        if (!journald_enabled)
                return -ENOTCONN;

        for (size_t i = 0; i < n; i++) {
                sizes[i] = htole64((uint64_t) fields[i].len);
                iov[k++] = (struct iovec) { .iov_base = (char *) fields[i].name, .iov_len = strlen(fields[i].name) };
                iov[k++] = (struct iovec) { .iov_base = (char *) "\n", .iov_len = 1 };
                iov[k++] = (struct iovec) { .iov_base = &sizes[i], .iov_len = sizeof(sizes[i]) };
                iov[k++] = (struct iovec) { .iov_base = (void *) fields[i].value, .iov_len = fields[i].len };
                iov[k++] = (struct iovec) { .iov_base = (char *) "\n", .iov_len = 1 };
        }

        pthread_mutex_lock(&journald_lock);
        r = journald_send_locked(iov, k, deadline_usec, &c);
        pthread_mutex_unlock(&journald_lock);

        journald_log_change(c, r);
        return c == CHANGE_OFF ? -ENOTCONN : r;
}
