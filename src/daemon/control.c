/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * control.c — the control socket server (SPEC §6).
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
 * manager's handlers decide, using control_call_uid()).
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "control.h"
#include "duration.h"
#include "json-util.h"
#include "log.h"
#include "protocol.h"

#ifndef ORCHD_VERSION
#        define ORCHD_VERSION "unknown"
#endif

#define CONTROL_BACKLOG 128
#define CONTROL_CONNECTIONS_MAX 1024U
#define CONTROL_CONNECTIONS_PER_UID_MAX 128U
/* Of CONTROL_CONNECTIONS_MAX, kept for root, the daemon's user and AdminGroup= (control_set_admin_check). */
#define CONTROL_CONNECTIONS_RESERVED 8U
#define CONTROL_IDLE_USEC (60 * USEC_PER_SEC) /* $ORCHD_CONTROL_IDLE_TIMEOUT replaces it */
#define CONTROL_ACCEPT_RETRY_USEC (1 * USEC_PER_SEC)
#define CONTROL_INPUT_QUEUE ((size_t) 64 * 1024)  /* read ahead of the call being processed */
#define CONTROL_OUTPUT_PAUSE ((size_t) 64 * 1024) /* more unsent than this: the next calls wait */
/* A call is taken only at or below the pause bound, so its reply always fits, however large. */
#define CONTROL_OUTPUT_MAX ((size_t) PROTOCOL_REPLY_MAX + CONTROL_OUTPUT_PAUSE)
#define CONTROL_STREAM_BACKLOG_MAX ((size_t) 8 * 1024 * 1024)
/* Unsent replies of all of one user's connections together, past which that user's next calls wait
 * ($ORCHD_CONTROL_OUTPUT_BUDGET replaces it); every user's together may hold CONTROL_OUTPUT_TOTAL_FACTOR
 * times that before other users' calls wait too (administrators' never do). The per-connection pause alone
 * would let 128 connections of one user each hold a reply of up to PROTOCOL_REPLY_MAX. */
#define CONTROL_OUTPUT_USER_BUDGET ((size_t) 64 * 1024 * 1024)
#define CONTROL_OUTPUT_TOTAL_FACTOR 4U
#define CONTROL_MESSAGES_PER_ROUND 64 /* fairness: pipelined calls of one client cannot hog the loop */
#define CONTROL_BUFFER_KEEP ((size_t) 64 * 1024) /* larger idle buffers are given back */

typedef struct Connection Connection;

struct ControlCall {
        unsigned n_ref;
        Connection *conn; /* NULL once the connection is gone: replies are swallowed */
        char *method;
        struct ucred cred;
        gid_t *groups; /* the caller's supplementary groups (SO_PEERGROUPS), a copy of the connection's */
        size_t n_groups;
        bool more, oneway, replied;
        size_t first_len;   /* a stream's first reply: its size, and where it ends in the connection's */
        uint64_t first_end; /* output (Connection.n_queued); 0 before it is sent */
        control_call_disconnect_fn on_disconnect;
        void *disconnect_userdata;
        control_call_drain_fn on_drain;
        void *drain_userdata;
        bool drain_armed; /* a "continues" reply was queued since the last on_drain */
};

struct Connection {
        Control *control;
        Connection *prev, *next;
        int fd;
        struct ucred cred;
        gid_t *groups;
        size_t n_groups;
        sd_event_source *io_source, *idle_source, *defer_source;

        char *in; /* bytes in [in_start, in_end) are unprocessed */
        size_t in_start, in_end, in_alloc, in_scanned;
        char *out; /* bytes in [out_start, out_end) are unsent */
        size_t out_start, out_end, out_alloc;

        ControlCall *current; /* the call being answered (holds a ref); later calls wait in `in` */
        uint64_t last_activity_usec;
        uint64_t n_queued, n_sent; /* bytes ever queued and sent */
        bool read_eof;             /* the peer shut down its sending side */
        bool output_paused;        /* next calls wait for the output to drain */
        bool budget_paused;        /* next calls wait for the user's output (or everyone's) to drain */
        size_t reserved;           /* output its current call will queue, counted as unsent already */
        bool budget_total;         /* ... everyone's: the total budget, not the user's, held it back */
        bool close_when_flushed;   /* after a protocol error: send the error, then close */
        bool broken;               /* write failed or limits exceeded: close at the next chance */
};

struct Control {
        sd_event *event;
        int fd;
        sd_event_source *accept_source, *accept_retry_source;
        char *bound_path; /* set only if we bound the socket ourselves */
        const ControlMethod *methods;
        void *userdata;
        Connection *connections;
        unsigned n_connections;
        uint64_t idle_usec; /* a connection without a complete call for this long is closed */
        control_admin_fn is_admin;
        void *admin_userdata;
        size_t out_pending;       /* unsent output of all connections */
        size_t out_user_budget;   /* see CONTROL_OUTPUT_USER_BUDGET */
        unsigned n_budget_paused; /* connections with budget_paused set */
};

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

/* --- calls --- */

ControlCall *control_call_ref(ControlCall *call) {
        if (call)
                call->n_ref++;
        return call;
}

ControlCall *control_call_unref(ControlCall *call) {
        if (!call)
                return NULL;
        assert(call->n_ref > 0);
        if (--call->n_ref > 0)
                return NULL;
        free(call->method);
        free(call->groups);
        free(call);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(ControlCall *, control_call_unref);

uid_t control_call_uid(const ControlCall *call) {
        return call->cred.uid;
}

gid_t control_call_gid(const ControlCall *call) {
        return call->cred.gid;
}

bool control_call_in_group(const ControlCall *call, gid_t gid) {
        if (call->cred.gid == gid)
                return true;
        for (size_t i = 0; i < call->n_groups; i++)
                if (call->groups[i] == gid)
                        return true;
        return false;
}

pid_t control_call_pid(const ControlCall *call) {
        return call->cred.pid;
}

const char *control_call_method(const ControlCall *call) {
        return call->method;
}

bool control_call_wants_more(const ControlCall *call) {
        return call->more;
}

bool control_call_is_alive(const ControlCall *call) {
        return call->conn && !call->conn->broken && !call->oneway;
}

void control_call_set_disconnect_callback(ControlCall *call, control_call_disconnect_fn fn, void *userdata) {
        call->on_disconnect = fn;
        call->disconnect_userdata = userdata;
}

void control_call_set_drain_callback(ControlCall *call, control_call_drain_fn fn, void *userdata) {
        call->on_drain = fn;
        call->drain_userdata = userdata;
}

/* --- connections --- */

static void conn_schedule(Connection *conn) {
        (void) sd_event_source_set_enabled(conn->defer_source, SD_EVENT_ONESHOT);
}

static void conn_touch(Connection *conn) {
        uint64_t now;

        if (sd_event_now(conn->control->event, CLOCK_MONOTONIC, &now) >= 0)
                conn->last_activity_usec = now;
}

/* Back-pressure: the peer has not taken what earlier calls produced. Until it does, the connection's next
 * calls stay unread (in the socket, at the client's expense) rather than each adding a reply to ours. */
static bool conn_output_blocked(const Connection *conn) {
        return conn->out_end - conn->out_start > CONTROL_OUTPUT_PAUSE;
}

/* Unsent output of uid's connections. O(connections): called only once the total is past a user's budget. */
static size_t control_pending_uid(const Control *c, uid_t uid) {
        size_t n = 0;

        for (const Connection *i = c->connections; i; i = i->next)
                if (i->cred.uid == uid)
                        n += i->out_end - i->out_start + i->reserved;
        return n;
}

static bool conn_is_admin(const Connection *conn) {
        const Control *c = conn->control;

        return c->is_admin &&
                c->is_admin(conn->cred.uid, conn->cred.gid, conn->groups, conn->n_groups, c->admin_userdata);
}

/* Back-pressure across connections: the caller's user has CONTROL_OUTPUT_USER_BUDGET of replies unsent
 * (however many connections hold them), or everybody's together are past the total and the caller is no
 * administrator (*ret_total then). The common case, little unsent anywhere, costs one comparison. */
static bool conn_budget_blocked(const Connection *conn, bool *ret_total) {
        const Control *c = conn->control;

        *ret_total = false;
        if (c->out_pending < c->out_user_budget)
                return false;
        if (c->out_pending >= (size_t) CONTROL_OUTPUT_TOTAL_FACTOR * c->out_user_budget && !conn_is_admin(conn))
                return (*ret_total = true);
        return control_pending_uid(c, conn->cred.uid) >= c->out_user_budget;
}

/* n bytes of uid's output left the daemon (sent, or dropped with their connection). Wake the connections
 * whose budget may now have room: those the total held back once the total is below it, uid's own once its
 * output is below its budget (a woken connection that still has no room pauses again). Nobody else's
 * budget changed, so nobody else is woken: a user's big reply draining chunk by chunk does not stir every
 * waiting connection at every chunk. */
static void control_output_released(Control *c, uid_t uid, size_t n) {
        bool total_room, user_room;

        assert(c->out_pending >= n);
        c->out_pending -= n;
        if (c->n_budget_paused == 0 || n == 0)
                return;
        total_room = c->out_pending < (size_t) CONTROL_OUTPUT_TOTAL_FACTOR * c->out_user_budget;
        user_room = c->out_pending < c->out_user_budget || control_pending_uid(c, uid) < c->out_user_budget;
        if (!total_room && !user_room)
                return;
        for (Connection *i = c->connections; i && c->n_budget_paused > 0; i = i->next)
                if (i->budget_paused && (i->budget_total ? total_room : user_room && i->cred.uid == uid)) {
                        i->budget_paused = false;
                        c->n_budget_paused--;
                        conn_schedule(i);
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

/* The output buffer is empty: buf (len bytes, malloc'd) becomes it. */
static void control_output_adopt(Connection *conn, char *buf, size_t len) {
        free(conn->out);
        conn->out = buf;
        conn->out_alloc = len;
        conn->out_start = 0;
        conn->out_end = len;
        conn->n_queued += len;
        conn->control->out_pending += len;
}

/* Append one encoded message (taken over) to the output buffer. */
static void conn_enqueue(Connection *conn, char *buf, size_t len) {
        size_t pending = conn->out_end - conn->out_start;

        if (conn->broken)
                goto finish;
        if (len > CONTROL_OUTPUT_MAX - pending) {
                log_warning("Control connection of uid %u: output exceeds %zu bytes, disconnecting.",
                            (unsigned) conn->cred.uid, CONTROL_OUTPUT_MAX);
                conn->broken = true;
                goto finish;
        }
        if (pending == 0 && len > CONTROL_BUFFER_KEEP) {
                /* A big reply to an idle connection: take the buffer over rather than copy it. */
                control_output_adopt(conn, buf, len);
                goto done;
        }
        if (conn->out_start > 0 && conn->out_end + len > conn->out_alloc) {
                memmove(conn->out, conn->out + conn->out_start, pending);
                conn->out_start = 0;
                conn->out_end = pending;
        }
        if (conn->out_end + len > conn->out_alloc) {
                size_t n = MAX(conn->out_end + len, MIN(2 * conn->out_alloc, CONTROL_OUTPUT_MAX));
                char *p = realloc(conn->out, MAX(n, (size_t) 4096));

                if (!p) {
                        log_oom();
                        conn->broken = true;
                        goto finish;
                }
                conn->out = p;
                conn->out_alloc = MAX(n, (size_t) 4096);
        }
        memcpy(conn->out + conn->out_end, buf, len);
        conn->out_end += len;
        conn->n_queued += len;
        conn->control->out_pending += len;
finish:
        free(buf);
done:
        conn_schedule(conn);
}

/* Write as much as the socket takes. MSG_NOSIGNAL: a vanished reader must not SIGPIPE the daemon. */
static int conn_flush(Connection *conn) {
        while (conn->out_start < conn->out_end) {
                ssize_t n = send(conn->fd, conn->out + conn->out_start, conn->out_end - conn->out_start,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return -errno;
                }
                conn->out_start += (size_t) n;
                conn->n_sent += (size_t) n;
                control_output_released(conn->control, conn->cred.uid, (size_t) n);
        }
        conn->out_start = conn->out_end = 0;
        if (conn->out_alloc > CONTROL_BUFFER_KEEP) {
                free(conn->out);
                conn->out = NULL;
                conn->out_alloc = 0;
        }
        return 0;
}

/* The final answer to the connection's current call: later calls may now be processed. */
static void conn_call_done(Connection *conn, ControlCall *call) {
        if (conn->current != call)
                return;
        conn->current = NULL;
        control_call_unref(call);
        conn_touch(conn); /* the idle clock restarts after a long Wait */
        conn_schedule(conn);
}

static int call_send(ControlCall *call, const char *error, json_object *parameters, bool continues) {
        _cleanup_json_ json_object *p = parameters;
        Connection *conn = call->conn;
        char *buf;
        size_t len;

        if (call->replied)
                return -EALREADY;
        if (continues && !call->more)
                return -EINVAL;
        if (!continues)
                call->replied = true;
        if (conn && conn->reserved > 0) { /* the reply itself counts from here on */
                size_t reserved = conn->reserved;

                conn->reserved = 0;
                control_output_released(conn->control, conn->cred.uid, reserved);
        }
        if (!conn || call->oneway)
                return 0; /* nobody listens: swallowed */

        /* The first reply of a stream may be a snapshot larger than the cap on its own (Watch: a whole
         * job): it is not lag until the reader has had the time to take it. */
        if (continues &&
            conn->out_end - conn->out_start >
                    CONTROL_STREAM_BACKLOG_MAX + (conn->n_sent < call->first_end ? call->first_len : 0)) {
                /* A reader that stops reading a stream is cut off rather than buffered without end. */
                log_notice("Control client of uid %u does not keep up with its stream, disconnecting.",
                           (unsigned) conn->cred.uid);
                conn->broken = true;
                conn_schedule(conn);
                return 0;
        }

        buf = error ? protocol_format_error(error, p, &len) : protocol_format_reply(p, continues, &len);
        if (!buf)
                return -ENOMEM;
        conn_enqueue(conn, buf, len);
        if (continues && call->first_end == 0) {
                call->first_len = len;
                call->first_end = conn->n_queued;
        }
        if (continues)
                call->drain_armed = true;
        else
                conn_call_done(conn, call);
        return 0;
}

void control_call_reserve_output(ControlCall *call, size_t bytes) {
        Connection *conn = call->conn;

        if (!conn || call->replied || call->oneway)
                return;
        conn->reserved += bytes;
        conn->control->out_pending += bytes;
}

int control_call_reply(ControlCall *call, json_object *parameters) {
        return call_send(call, NULL, parameters, false);
}

int control_call_notify(ControlCall *call, json_object *parameters) {
        return call_send(call, NULL, parameters, true);
}

int control_call_error(ControlCall *call, const char *error, json_object *parameters) {
        return call_send(call, error, parameters, false);
}

int control_call_error_invalid_parameter(ControlCall *call, const char *name) {
        json_object *p = json_object_new_object();

        if (!p || json_object_object_add(p, "parameter", json_object_new_string(name)) < 0) {
                json_object_put(p);
                return -ENOMEM;
        }
        return control_call_error(call, VARLINK_ERROR_INVALID_PARAMETER, p);
}

/* Build {key: value} with a string value. Returns NULL on OOM. */
static json_object *json_pair(const char *key, const char *value) {
        json_object *o = json_object_new_object();
        json_object *v = json_object_new_string(value);

        if (!o || !v || json_object_object_add(o, key, v) < 0) {
                json_object_put(o);
                json_object_put(v);
                return NULL;
        }
        return o;
}

/* A protocol violation: answer with ProtocolError (unless the peer can no longer read), then close. */
static void conn_protocol_error(Connection *conn, const char *reason) {
        json_object *p = json_pair("reason", reason);
        char *buf = p ? protocol_format_error(ORCH_ERROR_PROTOCOL, p, NULL) : NULL;

        log_debug("Control client of uid %u: %s, closing.", (unsigned) conn->cred.uid, reason);
        json_object_put(p);
        if (buf)
                conn_enqueue(conn, buf, strlen(buf) + 1);
        conn->close_when_flushed = true;
        conn_schedule(conn);
}

/* --- built-in org.varlink.service methods --- */

static int method_get_info(ControlCall *call, json_object *parameters, void *userdata) {
        _cleanup_json_ json_object *p = json_object_new_object();
        json_object *ifaces = json_object_new_array();

        if (!p || !ifaces || json_object_object_add(p, "interfaces", ifaces) < 0) {
                json_object_put(ifaces);
                return -ENOMEM;
        }
        if (json_object_object_add(p, "vendor", json_object_new_string("orchd")) < 0 ||
            json_object_object_add(p, "product", json_object_new_string("orchd")) < 0 ||
            json_object_object_add(p, "version", json_object_new_string(ORCHD_VERSION)) < 0 ||
            json_object_object_add(p, "url", json_object_new_string("https://github.com/orchd/orchd")) < 0 ||
            json_object_array_add(ifaces, json_object_new_string(VARLINK_SERVICE_INTERFACE)) < 0 ||
            json_object_array_add(ifaces, json_object_new_string(ORCH_INTERFACE)) < 0)
                return -ENOMEM;
        return control_call_reply(call, TAKE_PTR(p));
}

static int method_get_interface_description(ControlCall *call, json_object *parameters, void *userdata) {
        json_object *v;
        const char *name, *description;

        if (!json_object_object_get_ex(parameters, "interface", &v) ||
            !json_object_is_type(v, json_type_string))
                return control_call_error_invalid_parameter(call, "interface");
        name = json_object_get_string(v);
        description = protocol_interface_description(name);
        if (!description)
                return control_call_error(call, VARLINK_ERROR_INTERFACE_NOT_FOUND,
                                          json_pair("interface", name));
        return control_call_reply(call, json_pair("description", description));
}

static const ControlMethod builtin_methods[] = { { VARLINK_METHOD_GET_INFO, method_get_info },
                                                 { VARLINK_METHOD_GET_INTERFACE_DESCRIPTION,
                                                   method_get_interface_description },
                                                 {} };

static control_method_fn find_method(const ControlMethod *table, const char *name) {
        for (const ControlMethod *m = table; m && m->name; m++)
                if (streq(m->name, name))
                        return m->fn;
        return NULL;
}

static int method_not_found(ControlCall *call, json_object *parameters, void *userdata) {
        _cleanup_free_ char *iface = protocol_method_interface(call->method);

        if (!iface)
                return -ENOMEM;
        if (!protocol_interface_description(iface))
                return control_call_error(call, VARLINK_ERROR_INTERFACE_NOT_FOUND,
                                          json_pair("interface", iface));
        return control_call_error(call, VARLINK_ERROR_METHOD_NOT_FOUND, json_pair("method", call->method));
}

/* Hand one parsed call to its handler. The connection keeps a reference until the final reply. */
static int conn_dispatch(Connection *conn, VarlinkMessage *m) {
        Control *c = conn->control;
        _cleanup_(control_call_unrefp) ControlCall *call = NULL;
        control_method_fn fn;
        void *userdata = c->userdata;
        int r;

        call = calloc(1, sizeof(ControlCall));
        if (!call)
                return -ENOMEM;
        *call = (ControlCall){
                .n_ref = 1,
                .conn = conn,
                .method = TAKE_PTR(m->method),
                .cred = conn->cred,
                .more = m->more,
                .oneway = m->oneway,
        };
        if (conn->n_groups > 0) {
                call->groups = memdup(conn->groups, conn->n_groups * sizeof(gid_t));
                if (!call->groups)
                        return -ENOMEM;
                call->n_groups = conn->n_groups;
        }
        if (!call->oneway)
                conn->current = control_call_ref(call);

        fn = find_method(builtin_methods, call->method);
        if (fn)
                userdata = c;
        else
                fn = find_method(c->methods, call->method) ?: method_not_found;

        log_debug("Control call %s from uid %u pid %d.", call->method, (unsigned) call->cred.uid,
                  (int) call->cred.pid);
        r = fn(call, m->parameters, userdata);
        if (r < 0 && !call->replied) {
                log_warning_errno(r, "Control method %s failed: %m", call->method);
                (void) control_call_error(call, ORCH_ERROR_INTERNAL,
                                          json_pair("errno", strerrorname_np(-r) ?: "EIO"));
        }
        return 0;
}

static bool method_is_large(const Control *c, const char *name) {
        for (const ControlMethod *m = c->methods; m && m->name; m++)
                if (m->large && streq(m->name, name))
                        return true;
        return false;
}

/* The cap on the incomplete message at in_start: only a call that names a large method first (Submit) may
 * make us buffer more than PROTOCOL_SMALL_CALL_MAX. */
static size_t conn_message_max(const Connection *conn) {
        size_t n = conn->in_end - conn->in_start;

        for (const ControlMethod *m = conn->control->methods; n > 0 && m && m->name; m++)
                if (m->large && protocol_call_starts_with_method(conn->in + conn->in_start, n, m->name))
                        return PROTOCOL_CALL_MAX;
        return PROTOCOL_SMALL_CALL_MAX;
}

/* How much unprocessed input the buffer may hold: the cap of an incomplete first message (plus its NUL), or,
 * once a complete call is buffered, CONTROL_INPUT_QUEUE: calls pipelined further wait in the socket, so a
 * client that is not being answered (a pending Wait, unread replies) is not read either. Bytes before
 * in_scanned are known to hold no NUL. */
static size_t conn_input_max(const Connection *conn) {
        size_t from = MAX(conn->in_scanned, conn->in_start);

        if (conn->in_end > from && memchr(conn->in + from, '\0', conn->in_end - from))
                return CONTROL_INPUT_QUEUE;
        return conn_message_max(conn) + 1;
}

/* How many more bytes conn_read() may take. */
static size_t conn_input_room(const Connection *conn) {
        size_t held = conn->in_end - conn->in_start, max = conn_input_max(conn);

        return held < max ? max - held : 0;
}

/* Read what the socket has, up to the input cap. Sets read_eof at end of stream. */
static int conn_read(Connection *conn) {
        for (;;) {
                size_t room = conn_input_room(conn);
                ssize_t n;

                if (room == 0)
                        return 0; /* full: conn_process decides (oversized, or wait for the call) */
                if (conn->in_end == conn->in_alloc && conn->in_start > 0) {
                        memmove(conn->in, conn->in + conn->in_start, conn->in_end - conn->in_start);
                        conn->in_scanned -= conn->in_start;
                        conn->in_end -= conn->in_start;
                        conn->in_start = 0;
                }
                if (conn->in_end == conn->in_alloc) {
                        size_t a = MIN(MAX(conn->in_alloc * 2, (size_t) 4096), conn->in_end + room);
                        char *p;

                        p = realloc(conn->in, a);
                        if (!p)
                                return -ENOMEM;
                        conn->in = p;
                        conn->in_alloc = a;
                }

                n = recv(conn->fd, conn->in + conn->in_end, MIN(conn->in_alloc - conn->in_end, room),
                         MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return -errno;
                }
                if (n == 0) {
                        conn->read_eof = true;
                        return 0;
                }
                conn->in_end += (size_t) n;
        }
}

/* Handle buffered complete messages while no call is outstanding. */
static int conn_process(Connection *conn) {
        for (unsigned i = 0; i < CONTROL_MESSAGES_PER_ROUND; i++) {
                _cleanup_(varlink_message_done) VarlinkMessage m = {};
                _cleanup_free_ char *err = NULL;
                char *msg, *nul;
                int r;

                if (conn->current || conn->close_when_flushed || conn->broken)
                        return 0;
                if (conn_output_blocked(conn)) {
                        conn->output_paused = true; /* conn_update() resumes us once it drained */
                        return 0;
                }
                if (conn->budget_paused)
                        return 0;
                if (conn_budget_blocked(conn, &conn->budget_total)) {
                        conn->budget_paused = true; /* control_output_released() resumes us */
                        conn->control->n_budget_paused++;
                        log_debug(
                                "Control connection of uid %u waits: %zu bytes of replies are unsent, over the "
                                "budget.",
                                (unsigned) conn->cred.uid, conn->control->out_pending);
                        return 0;
                }

                msg = conn->in + conn->in_start;
                nul = conn->in_end > conn->in_scanned ?
                        memchr(conn->in + MAX(conn->in_scanned, conn->in_start), '\0',
                               conn->in_end - MAX(conn->in_scanned, conn->in_start)) :
                        NULL;
                if (!nul) {
                        conn->in_scanned = conn->in_end;
                        if (conn->in_end - conn->in_start > conn_message_max(conn))
                                conn_protocol_error(conn, "message too large");
                        else if (conn->read_eof && conn->in_end > conn->in_start)
                                conn_protocol_error(conn, "truncated message at end of stream");
                        return 0;
                }

                conn->in_start = conn->in_scanned = (size_t) (nul - conn->in) + 1;
                conn_touch(conn);

                r = protocol_parse_call(msg, (size_t) (nul - msg), &m, &err);
                if (r == -ENOMEM)
                        return r;
                if (conn->in_start == conn->in_end) {
                        /* Drained: rewind, and give back a buffer that a large message grew. */
                        conn->in_start = conn->in_end = conn->in_scanned = 0;
                        if (conn->in_alloc > CONTROL_BUFFER_KEEP) {
                                free(conn->in);
                                conn->in = NULL;
                                conn->in_alloc = 0;
                        }
                }
                if (r < 0) {
                        conn_protocol_error(conn, err ?: "malformed call");
                        return 0;
                }
                /* The first "method" made it large; a second one of another method would have the last word. */
                if ((size_t) (nul - msg) > PROTOCOL_SMALL_CALL_MAX &&
                    !method_is_large(conn->control, m.method)) {
                        conn_protocol_error(conn, "message too large");
                        return 0;
                }
                r = conn_dispatch(conn, &m);
                if (r < 0)
                        return r;
        }

        conn_schedule(conn); /* more may be waiting: continue in a later round */
        return 0;
}

/* Everything queued has reached the socket: a stream paced by its drain callback may send the next part.
 * Called from conn_update() only, so the callback never runs inside a reply function. */
static void conn_fire_drain(Connection *conn) {
        ControlCall *call = conn->current;

        if (!call || !call->drain_armed || !call->on_drain || conn->out_end > conn->out_start)
                return;
        call->drain_armed = false;
        call->on_drain(call, call->drain_userdata); /* may queue more, or answer (and drop) the call */
}

/* After any event: close if done or broken, else poll for what the connection needs next. */
static int conn_update(Connection *conn) {
        bool in_full, want_in;
        uint32_t events = 0;
        int r;

        if (conn->broken)
                return -ECONNRESET;
        r = conn_flush(conn);
        if (r < 0)
                return r;
        conn_fire_drain(conn);
        if (conn->output_paused && !conn_output_blocked(conn)) {
                /* Calls already buffered would wait for input that may never come: process them now. */
                conn->output_paused = false;
                conn_schedule(conn);
        }
        if (conn->out_end == 0) {
                if (conn->close_when_flushed)
                        return -ECONNRESET;
                /* End of input: finish the pending call (the peer may still read), then close. */
                if (conn->read_eof && !conn->current && conn->in_start == conn->in_end)
                        return -ECONNRESET;
        }

        /* Stop reading while the buffer is full of queued calls: TCP-like back-pressure, not a drop. */
        in_full = conn_input_room(conn) == 0;
        want_in = !conn->read_eof && !conn->close_when_flushed && !in_full && !conn_output_blocked(conn) &&
                !conn->budget_paused;
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

        r = conn_process(conn);
        if (r >= 0)
                r = conn_update(conn);
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
                r = conn_read(conn);
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
        /* A pending call (Wait, a stream), unsent output or a call held back by the budget is not idleness. */
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
        conn_touch(conn);

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
        /* The owner is tearing down: no disconnect callbacks into it; kept calls just become dead. */
        while (c->connections)
                conn_free_full(c->connections, false);
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
