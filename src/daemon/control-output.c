/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * control-output.c — what goes back to the peer: the ControlCall accessors and
 * replies (final, "continues", errors), each connection's output buffer and its
 * flushing, and the output budgets (per connection: CONTROL_OUTPUT_PAUSE, a
 * stream's backlog; per user and in total: CONTROL_OUTPUT_USER_BUDGET) that
 * make a peer's next calls wait until its unsent replies drain.
 */

#include "control-internal.h"

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

int control_call_hold_until_exit(ControlCall *call) {
        /* Never closed: the process's exit does it. CLOEXEC: nothing we start inherits it. */
        if (!call->conn || call->conn->broken)
                return -ENOTCONN;
        return fcntl(call->conn->fd, F_DUPFD_CLOEXEC, 3) < 0 ? -errno : 0;
}

/* --- connections --- */

void control_conn_schedule(Connection *conn) {
        (void) sd_event_source_set_enabled(conn->defer_source, SD_EVENT_ONESHOT);
}

void control_conn_touch(Connection *conn) {
        uint64_t now;

        if (sd_event_now(conn->control->event, CLOCK_MONOTONIC, &now) >= 0)
                conn->last_activity_usec = now;
}

bool control_conn_output_blocked(const Connection *conn) {
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

bool control_conn_budget_blocked(const Connection *conn, bool *ret_total) {
        const Control *c = conn->control;

        *ret_total = false;
        if (c->out_pending < c->out_user_budget)
                return false;
        if (c->out_pending >= (size_t) CONTROL_OUTPUT_TOTAL_FACTOR * c->out_user_budget &&
            !conn_is_admin(conn))
                return (*ret_total = true);
        return control_pending_uid(c, conn->cred.uid) >= c->out_user_budget;
}

void control_output_released(Control *c, uid_t uid, size_t n) {
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
                        control_conn_schedule(i);
                }
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

void control_conn_enqueue(Connection *conn, char *buf, size_t len) {
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
        control_conn_schedule(conn);
}

int control_conn_flush(Connection *conn) {
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
        control_conn_touch(conn); /* the idle clock restarts after a long Wait */
        control_conn_schedule(conn);
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
                control_conn_schedule(conn);
                return 0;
        }

        buf = error ? protocol_format_error(error, p, &len) : protocol_format_reply(p, continues, &len);
        if (!buf)
                return -ENOMEM;
        control_conn_enqueue(conn, buf, len);
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
