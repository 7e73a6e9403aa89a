/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * control-framing.c — what comes from the peer: reading into the input buffer
 * within its caps (PROTOCOL_SMALL_CALL_MAX per message, PROTOCOL_CALL_MAX for a
 * "large" method, CONTROL_INPUT_QUEUE read ahead), splitting it into varlink
 * messages, answering protocol errors, the built-in org.varlink.service
 * methods, and dispatching each call to the method table, one at a time per
 * connection.
 */

#include "control-internal.h"

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
                control_conn_enqueue(conn, buf, strlen(buf) + 1);
        conn->close_when_flushed = true;
        control_conn_schedule(conn);
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
            json_object_object_add(p, "url", json_object_new_string(PACKAGE_URL)) < 0 || /* AC_INIT's */
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
        const char *bad;
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
        /* A wrong call flag, or a parameter the method's IDL does not declare (every method, from the
         * one list, so a new parameter cannot be forgotten here): InvalidParameter names it. */
        bad = m->invalid;
        if (!bad && fn != method_not_found)
                bad = protocol_unknown_parameter(call->method, m->parameters);
        if (bad && fn != method_not_found)
                r = control_call_error_invalid_parameter(call, bad);
        else
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

size_t control_conn_input_room(const Connection *conn) {
        size_t held = conn->in_end - conn->in_start, max = conn_input_max(conn);

        return held < max ? max - held : 0;
}

int control_conn_read(Connection *conn) {
        for (;;) {
                size_t room = control_conn_input_room(conn);
                ssize_t n;

                if (room == 0)
                        return 0; /* full: control_conn_process decides (oversized, or wait for the call) */
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

int control_conn_process(Connection *conn) {
        for (unsigned i = 0; i < CONTROL_MESSAGES_PER_ROUND; i++) {
                _cleanup_(varlink_message_done) VarlinkMessage m = {};
                _cleanup_free_ char *err = NULL;
                char *msg, *nul;
                int r;

                if (conn->current || conn->close_when_flushed || conn->broken)
                        return 0;
                if (control_conn_output_blocked(conn)) {
                        conn->output_paused = true; /* control_conn_update() resumes us once it drained */
                        return 0;
                }
                if (conn->budget_paused)
                        return 0;
                if (control_conn_budget_blocked(conn, &conn->budget_total)) {
                        conn->budget_paused = true; /* control_output_released() resumes us */
                        conn->control->n_budget_paused++;
                        log_debug(
                                "Control connection of uid %u waits: %zu bytes of replies are unsent, over "
                                "the "
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
                control_conn_touch(conn);

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
                /* The first "method" made it large; a second one of another method would have the last word.
                 */
                if ((size_t) (nul - msg) > PROTOCOL_SMALL_CALL_MAX &&
                    !method_is_large(conn->control, m.method)) {
                        conn_protocol_error(conn, "message too large");
                        return 0;
                }
                r = conn_dispatch(conn, &m);
                if (r < 0)
                        return r;
        }

        control_conn_schedule(conn); /* more may be waiting: continue in a later round */
        return 0;
}
