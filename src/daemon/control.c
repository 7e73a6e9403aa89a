/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * control.c — the control socket server (SPEC §6): the listener (passed by
 * systemd or bound), accepting with the connection caps, each connection's
 * life and event sources. Framing and dispatch of calls are in
 * control-framing.c; replies, output buffers and the output budgets in
 * control-output.c.
 *
 * Owns: the listening socket (passed by systemd, or bound by us and then the
 * only path we unlink), every Connection and its three event sources (I/O,
 * idle timer, deferred processing), and the ControlCall objects handed to
 * method handlers. Invariants: a connection answers its calls strictly in
 * order, one at a time (varlink: a deferred reply such as Wait holds back
 * later calls on the same connection); every buffer has a cap (input:
 * PROTOCOL_SMALL_CALL_MAX per message, PROTOCOL_CALL_MAX for a call that
 * names a "large" method first, CONTROL_INPUT_QUEUE of calls read ahead of
 * a complete one; output: CONTROL_OUTPUT_MAX, and a stream
 * whose reader lags by CONTROL_STREAM_BACKLOG_MAX, besides a first reply it
 * has not had yet, is cut off, unless it paces itself by the drain callback
 * and never lags at all); back-pressure: while more than CONTROL_OUTPUT_PAUSE
 * of a connection's output is unsent, its next calls are neither read nor
 * processed, so a client that pipelines calls and never reads the replies
 * holds at most one reply beyond that bound, not one per call, and while a
 * user's connections together have a budget of output unsent (everyone's:
 * CONTROL_OUTPUT_TOTAL_FACTOR budgets, administrators exempt), that user's
 * next calls wait the same way, so a crowd of connections cannot multiply
 * it; a connection
 * is freed only from an event callback or control_free (conn_free is the one
 * path), so a handler replying from anywhere never frees what its caller
 * still uses. Credentials come from SO_PEERCRED at accept, never from a
 * message. Deliberately not here: what methods do and who may do it (the
 * method handlers (methods.c) decide, using control_call_uid()).
 */

#include "control-internal.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Control *, control_free);

/* accept(2): these mean the one pending connection failed, not the listener; try the next. */
static bool accept_error_is_transient(int err) {
        switch (err) {
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
        case ENETDOWN:
        case ENOPROTOOPT:
        case EHOSTDOWN:
        case ENONET:
        case EHOSTUNREACH:
        case EOPNOTSUPP:
        case ENETUNREACH:
        case EPERM:
                return true;
        default:
                return false;
        }
}

static Connection *conn_free_full(Connection *conn, bool notify) {
        ControlCall *call;

        if (!conn)
                return NULL;
        if (conn->control) {
                if (conn->prev)
                        conn->prev->next = conn->next;
                else
                        conn->control->connections = conn->next;
                if (conn->next)
                        conn->next->prev = conn->prev;
                conn->control->n_connections--;
                if (conn->budget_paused)
                        conn->control->n_budget_paused--;
                size_t unsent = conn->out_end - conn->out_start + conn->reserved;

                conn->reserved = 0;
                control_output_released(conn->control, conn->cred.uid, unsent);
        }
        conn->io_source = sd_event_source_disable_unref(conn->io_source);
        conn->idle_source = sd_event_source_disable_unref(conn->idle_source);
        conn->defer_source = sd_event_source_disable_unref(conn->defer_source);
        conn->fd = safe_close(conn->fd);

        /* The pending call outlives us if its handler holds a reference; from now on it is dead. */
        call = TAKE_PTR(conn->current);
        if (call) {
                call->conn = NULL;
                if (notify && call->on_disconnect && !call->replied)
                        call->on_disconnect(call, call->disconnect_userdata);
                control_call_unref(call);
        }
        free(conn->in);
        free(conn->out);
        free(conn->groups);
        free(conn);
        return NULL;
}

static Connection *conn_free(Connection *conn) {
        return conn_free_full(conn, true);
}

/* Everything queued has reached the socket: a stream paced by its drain callback may send the next part.
 * Called from control_conn_update() only, so the callback never runs inside a reply function. */
static void conn_fire_drain(Connection *conn) {
        ControlCall *call = conn->current;

        if (!call || !call->drain_armed || !call->on_drain || conn->out_end > conn->out_start)
                return;
        call->drain_armed = false;
        call->on_drain(call, call->drain_userdata); /* may queue more, or answer (and drop) the call */
}

int control_conn_update(Connection *conn) {
        bool in_full, want_in;
        uint32_t events = 0;
        int r;

        if (conn->broken)
                return -ECONNRESET;
        r = control_conn_flush(conn);
        if (r < 0)
                return r;
        conn_fire_drain(conn);
        if (conn->output_paused && !control_conn_output_blocked(conn)) {
                /* Calls already buffered would wait for input that may never come: process them now. */
                conn->output_paused = false;
                control_conn_schedule(conn);
        }
        if (conn->out_end == 0) {
                if (conn->close_when_flushed)
                        return -ECONNRESET;
                /* End of input: finish the pending call (the peer may still read), then close. */
                if (conn->read_eof && !conn->current && conn->in_start == conn->in_end)
                        return -ECONNRESET;
        }

        /* Stop reading while the buffer is full of queued calls: TCP-like back-pressure, not a drop. */
        in_full = control_conn_input_room(conn) == 0;
        want_in = !conn->read_eof && !conn->close_when_flushed && !in_full &&
                !control_conn_output_blocked(conn) && !conn->budget_paused;
        if (want_in)
                events |= EPOLLIN;
        if (conn->out_end > conn->out_start)
                events |= EPOLLOUT;
        r = sd_event_source_set_io_events(conn->io_source, events);
        if (r < 0)
                return r;
        return 0;
}

static void conn_run(Connection *conn) {
        int r;

        r = control_conn_process(conn);
        if (r >= 0)
                r = control_conn_update(conn);
        if (r < 0) {
                if (r != -ECONNRESET && r != -EPIPE)
                        log_debug_errno(r, "Control connection of uid %u closed: %m",
                                        (unsigned) conn->cred.uid);
                conn_free(conn);
        }
}

static int conn_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Connection *conn = userdata;
        int r;

        if (revents & EPOLLIN) {
                r = control_conn_read(conn);
                if (r < 0) {
                        conn_free(conn);
                        return 0;
                }
        }
        /* Hang-up: the peer is gone in both directions, nobody can read a reply. */
        if ((revents & (EPOLLHUP | EPOLLERR)) && !(revents & EPOLLIN)) {
                conn_free(conn);
                return 0;
        }
        if (revents & EPOLLHUP)
                conn->read_eof = true;
        conn_run(conn);
        return 0;
}

static int conn_on_defer(sd_event_source *s, void *userdata) {
        conn_run(userdata);
        return 0;
}

static int conn_on_idle(sd_event_source *s, uint64_t usec, void *userdata) {
        Connection *conn = userdata;
        uint64_t idle = conn->control->idle_usec, deadline = conn->last_activity_usec + idle, now = usec;

        (void) sd_event_now(conn->control->event, CLOCK_MONOTONIC, &now);
        /* A pending call (Wait, a stream), unsent output or a call held back by the budget is not idleness.
         */
        if (conn->current || conn->out_end > conn->out_start || conn->budget_paused)
                deadline = now + idle;
        if (deadline > now) {
                (void) sd_event_source_set_time(s, deadline);
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
                return 0;
        }
        log_debug("Control connection of uid %u idle, closing.", (unsigned) conn->cred.uid);
        conn_free(conn);
        return 0;
}

static unsigned control_count_uid(const Control *c, uid_t uid) {
        unsigned n = 0;

        for (const Connection *i = c->connections; i; i = i->next)
                n += i->cred.uid == uid;
        return n;
}

/* Take over an accepted fd. Returns 0 (also when the peer was turned away) or -errno. */
/* The peer's supplementary groups at connect (SO_PEERGROUPS), for group-based authorization. None (and
 * no error) where the kernel cannot tell. */
static void conn_peer_groups(Connection *conn) {
        socklen_t len = 32 * sizeof(gid_t);

        for (unsigned tries = 0; tries < 3; tries++) {
                gid_t *g = realloc(conn->groups, MAX(len, (socklen_t) sizeof(gid_t)));

                if (!g)
                        return;
                conn->groups = g;
                if (getsockopt(conn->fd, SOL_SOCKET, SO_PEERGROUPS, conn->groups, &len) >= 0) {
                        conn->n_groups = len / sizeof(gid_t);
                        return;
                }
                if (errno != ERANGE)
                        break;
        }
        conn->n_groups = 0;
}

/* Tell a client turned away by a connection cap why, before closing: its first read gets this error instead
 * of a bare EOF. Best effort: one non-blocking send into an empty socket buffer, never waited for. */
static void refuse_connection(int fd, unsigned limit, bool total) {
        _cleanup_free_ char *buf = NULL;
        json_object *p = json_object_new_object();
        size_t len;

        if (!p)
                return;
        json_object_object_add(p, "limit", json_object_new_int((int) limit));
        json_object_object_add(p, "scope", json_object_new_string(total ? "total" : "uid"));
        buf = protocol_format_error(ORCH_ERROR_TOO_MANY_CONNECTIONS, p, &len);
        json_object_put(p);
        if (buf)
                (void) send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void control_set_admin_check(Control *c, control_admin_fn fn, void *userdata) {
        c->is_admin = fn;
        c->admin_userdata = userdata;
}

/* Whether the peer on fd may take a reserved connection slot. Asked only once the unreserved ones are taken,
 * so the group lookup costs nothing in normal operation. */
static bool peer_is_admin(const Control *c, int fd, const struct ucred *cred) {
        gid_t groups[256];
        socklen_t len = sizeof(groups);

        if (cred->uid == 0 || cred->uid == geteuid())
                return true;
        if (!c->is_admin)
                return false;
        /* More than 256 supplementary groups: judged by the primary group alone. */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
                len = 0;
        return c->is_admin(cred->uid, cred->gid, groups, len / sizeof(gid_t), c->admin_userdata);
}

static int conn_new(Control *c, int fd_in) {
        _cleanup_close_ int fd = fd_in;
        struct ucred cred = {};
        socklen_t len = sizeof(cred);
        Connection *conn;
        int r;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return log_debug_errno(errno, "SO_PEERCRED failed, dropping connection: %m"), 0;
        if (c->n_connections >= CONTROL_CONNECTIONS_MAX ||
            control_count_uid(c, cred.uid) >= CONTROL_CONNECTIONS_PER_UID_MAX ||
            (c->n_connections >= CONTROL_CONNECTIONS_MAX - CONTROL_CONNECTIONS_RESERVED &&
             !peer_is_admin(c, fd, &cred))) {
                bool total = c->n_connections >= CONTROL_CONNECTIONS_MAX - CONTROL_CONNECTIONS_RESERVED &&
                        control_count_uid(c, cred.uid) < CONTROL_CONNECTIONS_PER_UID_MAX;

                log_debug("Too many control connections (%u, uid %u), refusing pid %d.", c->n_connections,
                          (unsigned) cred.uid, (int) cred.pid);
                refuse_connection(fd, total ? c->n_connections : CONTROL_CONNECTIONS_PER_UID_MAX, total);
                return 0;
        }

        conn = calloc(1, sizeof(Connection));
        if (!conn)
                return -ENOMEM;
        *conn = (Connection){ .control = c, .fd = TAKE_FD(fd), .cred = cred, .next = c->connections };
        conn_peer_groups(conn);
        if (c->connections)
                c->connections->prev = conn;
        c->connections = conn;
        c->n_connections++;
        control_conn_touch(conn);

        r = sd_event_add_io(c->event, &conn->io_source, conn->fd, EPOLLIN, conn_on_io, conn);
        if (r >= 0)
                r = sd_event_add_time_relative(c->event, &conn->idle_source, CLOCK_MONOTONIC, c->idle_usec,
                                               USEC_PER_SEC, conn_on_idle, conn);
        if (r >= 0)
                r = sd_event_add_defer(c->event, &conn->defer_source, conn_on_defer, conn);
        if (r >= 0)
                r = sd_event_source_set_enabled(conn->defer_source, SD_EVENT_OFF);
        if (r < 0) {
                conn_free_full(conn, false);
                return r;
        }
        return 0;
}

int control_adopt(Control *c, int fd) {
        return conn_new(c, fd);
}

static int control_on_accept_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Control *c = userdata;

        c->accept_retry_source = sd_event_source_disable_unref(c->accept_retry_source);
        (void) sd_event_source_set_enabled(c->accept_source, SD_EVENT_ON);
        return 0;
}

static int control_on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Control *c = userdata;
        int r;

        for (unsigned i = 0; i < 64; i++) {
                int cfd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (cfd < 0) {
                        if (errno == EAGAIN)
                                return 0;
                        if (accept_error_is_transient(errno))
                                continue;
                        /* Out of fds or memory: the listener would stay readable and spin the loop,
                         * so pause accepting for a moment instead. */
                        log_warning_errno(errno, "Failed to accept control connection, pausing: %m");
                        (void) sd_event_source_set_enabled(c->accept_source, SD_EVENT_OFF);
                        if (!c->accept_retry_source)
                                (void) sd_event_add_time_relative(c->event, &c->accept_retry_source,
                                                                  CLOCK_MONOTONIC, CONTROL_ACCEPT_RETRY_USEC,
                                                                  0, control_on_accept_retry, c);
                        return 0;
                }
                r = conn_new(c, cfd);
                if (r < 0)
                        log_warning_errno(r, "Failed to set up control connection: %m");
        }
        return 0;
}

/* Whether the socket at path has a listener. 1: stale (nobody listens), 0: live, -errno. */
static int socket_is_stale(const char *path, const struct sockaddr_un *sa) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 1 : -errno;
        if (!S_ISSOCK(st.st_mode))
                return -EEXIST; /* never unlink something that is not a socket */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *) sa, sizeof(*sa)) >= 0)
                return 0;
        if (errno == ECONNREFUSED)
                return 1;
        if (errno == EAGAIN)
                return 0; /* a listener with a full backlog is still a listener */
        return -errno;
}

static int control_bind(Control *c, const char *path) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        mode_t old_umask;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;

        /* Created private, opened up explicitly below: no moment with a mode we did not choose. */
        old_umask = umask(0077);
        r = bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ? -errno : 0;
        if (r == -EADDRINUSE) {
                r = socket_is_stale(path, &sa);
                if (r == 0)
                        r = -EADDRINUSE;
                else if (r > 0) {
                        log_info("Removing stale control socket %s.", path);
                        r = unlink(path) < 0 && errno != ENOENT ? -errno : 0;
                        if (r >= 0)
                                r = bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ? -errno : 0;
                }
        }
        (void) umask(old_umask);
        if (r < 0)
                return r;

        c->bound_path = strdup(path);
        if (!c->bound_path) {
                (void) unlink(path);
                return -ENOMEM;
        }
        /* Any local user may connect (SPEC §8); authorization is per call, on SO_PEERCRED. */
        if (chmod(path, 0666) < 0)
                return -errno;
        if (listen(fd, CONTROL_BACKLOG) < 0)
                return -errno;
        c->fd = TAKE_FD(fd);
        return 0;
}

/* A socket passed by systemd (orchd.socket), or -ENOENT when there is none. */
static int control_take_listen_fd(Control *c) {
        int n, flags;

        n = sd_listen_fds(1);
        if (n <= 0)
                return n < 0 ? n : -ENOENT;
        for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
                if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0)
                        continue;
                flags = fcntl(fd, F_GETFL);
                if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                        return -errno;
                c->fd = fd;
                return 0;
        }
        return log_error_errno(ENOTSOCK,
                               "None of the %d passed file descriptors is a listening AF_UNIX "
                               "stream socket.",
                               n);
}

/* Tests cannot wait a minute for a deadline: they shorten it with $ORCHD_CONTROL_IDLE_TIMEOUT. */
static int control_idle_usec(uint64_t *ret) {
        const char *e = secure_getenv("ORCHD_CONTROL_IDLE_TIMEOUT");

        *ret = CONTROL_IDLE_USEC;
        if (!e)
                return 0;
        if (duration_parse(e, ret) < 0 || *ret == 0)
                return log_error_errno(EINVAL, "ORCHD_CONTROL_IDLE_TIMEOUT='%s' is not a positive duration.",
                                       e);
        return 0;
}

/* Tests need no 64 MiB of replies to reach the budget: $ORCHD_CONTROL_OUTPUT_BUDGET (bytes) lowers it. */
static int control_output_budget(size_t *ret) {
        const char *e = secure_getenv("ORCHD_CONTROL_OUTPUT_BUDGET");
        unsigned long long v;
        char *end;

        *ret = CONTROL_OUTPUT_USER_BUDGET;
        if (!e)
                return 0;
        errno = 0;
        v = strtoull(e, &end, 10);
        if (errno != 0 || end == e || *end != '\0' || v < CONTROL_OUTPUT_PAUSE || v > SIZE_MAX / 16)
                return log_error_errno(EINVAL,
                                       "ORCHD_CONTROL_OUTPUT_BUDGET='%s' is not a number of bytes "
                                       "from %zu up.",
                                       e, CONTROL_OUTPUT_PAUSE);
        *ret = (size_t) v;
        return 0;
}

int control_new(sd_event *e, const char *path, const ControlMethod *methods, void *userdata, Control **ret) {
        _cleanup_(control_freep) Control *c = NULL;
        int r;

        c = calloc(1, sizeof(Control));
        if (!c)
                return -ENOMEM;
        *c = (Control){ .event = sd_event_ref(e), .fd = -EBADF, .methods = methods, .userdata = userdata };
        r = control_idle_usec(&c->idle_usec);
        if (r < 0)
                return r;
        r = control_output_budget(&c->out_user_budget);
        if (r < 0)
                return r;

        r = control_take_listen_fd(c);
        if (r >= 0)
                log_debug("Using the control socket passed by the service manager.");
        else if (r == -ENOENT) {
                if (!path)
                        return -EINVAL;
                r = control_bind(c, path);
                if (r < 0)
                        return log_error_errno(r, "Failed to listen on %s: %m", path);
        } else
                return r;

        r = sd_event_add_io(e, &c->accept_source, c->fd, EPOLLIN, control_on_accept, c);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

Control *control_free(Control *c) {
        if (!c)
                return NULL;
        /* The owner is tearing down: no disconnect callbacks into it; kept calls just become dead. Replies
         * given last (StopNodes: the loop has exited) go out now if the peer's socket takes them at once;
         * a peer that does not read never holds the exit. */
        while (c->connections) {
                if (!c->connections->broken)
                        (void) control_conn_flush(c->connections);
                conn_free_full(c->connections, false);
        }
        c->accept_source = sd_event_source_disable_unref(c->accept_source);
        c->accept_retry_source = sd_event_source_disable_unref(c->accept_retry_source);
        c->fd = safe_close(c->fd);
        if (c->bound_path)
                (void) unlink(c->bound_path);
        free(c->bound_path);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}

unsigned control_n_connections(const Control *c) {
        return c ? c->n_connections : 0;
}
