/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * client.c — orchctl's side of the control socket.
 *
 * Owns: one connected AF_UNIX stream socket and its input buffer. Replies are
 * split at NUL bytes and parsed with protocol.c; a reply larger than
 * PROTOCOL_REPLY_MAX is refused rather than buffered. Waiting is poll(2) with
 * a CLOCK_MONOTONIC deadline, so `orchctl wait --timeout` is exact however
 * many replies arrive. Writes use MSG_NOSIGNAL: a daemon that goes away gives
 * -EPIPE, not a SIGPIPE. Deliberately not here: printing, exit codes, and the
 * meaning of any method (orchctl.c).
 */

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "client.h"
#include "macro.h"
#include "time-util.h"

struct Client {
        int fd;
        char *buf; /* bytes in [start, end) are unread */
        size_t start, end, alloc, scanned;
};

const char *client_socket_path(const char *arg) {
        const char *e;

        if (!isempty(arg))
                return arg;
        e = getenv("ORCHD_SOCKET");
        if (!isempty(e))
                return e;
        return CLIENT_DEFAULT_SOCKET;
}

uint64_t client_now(void) {
        return now_usec(CLOCK_MONOTONIC);
}

uint64_t client_deadline(uint64_t usec) {
        uint64_t now = client_now();

        if (usec == USEC_INFINITY || usec > USEC_INFINITY - now)
                return USEC_INFINITY;
        return now + usec;
}

int client_connect(const char *path, Client **ret) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        Client *c;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;

        c = calloc(1, sizeof(Client));
        if (!c)
                return -ENOMEM;
        c->fd = TAKE_FD(fd);
        *ret = c;
        return 0;
}

Client *client_free(Client *c) {
        if (!c)
                return NULL;
        safe_close(c->fd);
        free(c->buf);
        free(c);
        return NULL;
}

int client_send(Client *c, const char *method, json_object *parameters, bool more) {
        _cleanup_free_ char *msg = NULL;
        size_t len, done = 0;

        msg = protocol_format_call(method, parameters, more, &len);
        if (!msg)
                return -ENOMEM;
        while (done < len) {
                ssize_t n = send(c->fd, msg + done, len - done, MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t) n;
        }
        return 0;
}

/* Wait for input until the deadline. Returns 0 when readable, -ETIMEDOUT, or -errno. */
static int client_wait(Client *c, uint64_t deadline_usec) {
        for (;;) {
                struct pollfd p = { .fd = c->fd, .events = POLLIN };
                int timeout_ms = -1, r;

                if (deadline_usec != USEC_INFINITY) {
                        uint64_t now = client_now();

                        if (now >= deadline_usec)
                                return -ETIMEDOUT;
                        /* Round up so we never wake just before the deadline and spin. */
                        timeout_ms = (int) MIN((deadline_usec - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC,
                                               (uint64_t) INT32_MAX);
                }
                r = poll(&p, 1, timeout_ms);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (r > 0)
                        return 0;
        }
}

/* Make room for at least one more byte, compacting first, growing up to the reply cap. */
static int client_grow(Client *c) {
        size_t a;
        char *p;

        if (c->start > 0) {
                memmove(c->buf, c->buf + c->start, c->end - c->start);
                c->end -= c->start;
                c->scanned -= c->start;
                c->start = 0;
        }
        if (c->end < c->alloc)
                return 0;
        if (c->alloc >= (size_t) PROTOCOL_REPLY_MAX + 1)
                return -EBADMSG;
        a = MIN(MAX(c->alloc * 2, (size_t) 65536), (size_t) PROTOCOL_REPLY_MAX + 1);
        p = realloc(c->buf, a);
        if (!p)
                return -ENOMEM;
        c->buf = p;
        c->alloc = a;
        return 0;
}

int client_read_reply(Client *c, uint64_t deadline_usec, VarlinkMessage *ret) {
        const char *msg;
        size_t len;
        int r;

        r = client_read_text(c, deadline_usec, &msg, &len);
        if (r < 0)
                return r;
        return protocol_parse_reply(msg, len, ret, NULL);
}

int client_read_text(Client *c, uint64_t deadline_usec, const char **ret_msg, size_t *ret_len) {
        int r;

        for (;;) {
                char *nul = NULL;
                ssize_t n;

                if (c->end > c->scanned)
                        nul = memchr(c->buf + c->scanned, '\0', c->end - c->scanned);
                if (nul) {
                        /* The bytes stay where they are until the next recv(), which the caller's next
                         * read does: the indices may start again at 0 now. */
                        *ret_msg = c->buf + c->start;
                        *ret_len = (size_t) (nul - *ret_msg);
                        c->start = c->scanned = (size_t) (nul - c->buf) + 1;
                        if (c->start == c->end)
                                c->start = c->end = c->scanned = 0;
                        return 0;
                }
                c->scanned = c->end;

                if (c->end == c->alloc) {
                        r = client_grow(c);
                        if (r < 0)
                                return r;
                }
                r = client_wait(c, deadline_usec);
                if (r < 0)
                        return r;
                n = recv(c->fd, c->buf + c->end, c->alloc - c->end, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -ECONNRESET;
                c->end += (size_t) n;
        }
}

int client_call(Client *c, const char *method, json_object *parameters, uint64_t deadline_usec,
                VarlinkMessage *ret) {
        int r;

        r = client_send(c, method, parameters, false);
        /* A daemon that turned us away (TooManyConnections) said why and hung up before our call got there:
         * its message is still waiting to be read. */
        if (r == -EPIPE || r == -ECONNRESET) {
                int k = client_read_reply(c, deadline_usec, ret);

                return k >= 0 && ret->error ? 0 : r;
        }
        if (r < 0)
                return r;
        return client_read_reply(c, deadline_usec, ret);
}
