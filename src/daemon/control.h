/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The control socket server (SPEC §6): listens (socket passed by systemd, or
 * bound at a path), accepts, frames varlink messages per connection with
 * caps, takes the peer's SO_PEERCRED at accept, and dispatches calls to a
 * method table. Replies may be given later (Wait): a handler keeps a
 * reference to its ControlCall and replies when it can; a call whose
 * connection went away swallows the reply.
 */

#include <stdbool.h>
#include <sys/types.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

typedef struct Control Control;
typedef struct ControlCall ControlCall;

/* A method handler. Reply now (control_call_reply/…_error) or keep a ref and reply later.
 * A negative return sends an internal error reply if none was sent. parameters is borrowed. */
typedef int (*control_method_fn)(ControlCall *call, json_object *parameters, void *userdata);

typedef struct ControlMethod {
        const char *name; /* full varlink method name */
        control_method_fn fn;
        /* Calls may be up to PROTOCOL_CALL_MAX bytes (Submit carries a job file) if they name this method as
         * their first member; every other call is cut off at PROTOCOL_SMALL_CALL_MAX before it is buffered.
         */
        bool large;
} ControlMethod;

/* Listen on the fd passed by systemd (sd_listen_fds) if there is one, else bind path (mode 0666: any local
 * user may connect; SPEC §8), replacing a stale socket. methods is a table ending with {NULL, NULL},
 * borrowed for the server's life. $ORCHD_CONTROL_IDLE_TIMEOUT (a duration) replaces the idle deadline of
 * connections (60 s; tests shorten it). Returns 0, -EINVAL if that is no positive duration, or -errno. */
int control_new(sd_event *e, const char *path, const ControlMethod *methods, void *userdata, Control **ret);

/* Serve fd, a connected stream socket (taken over, also on failure), as if it had been accepted: the same
 * caps and credentials (SO_PEERCRED). For a connection made elsewhere, such as one end of a socketpair.
 * Returns 0 (also when the connection caps refused it, as accept would) or -errno. */
int control_adopt(Control *c, int fd);

/* Close the listener and every connection, unlinking the socket path if we bound it. Accepts NULL, returns
 * NULL. */
Control *control_free(Control *c);

/* Whether a peer (uid, primary gid, supplementary groups from SO_PEERGROUPS) may take the connections kept
 * in reserve for administrators. */
typedef bool (*control_admin_fn)(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, void *userdata);

/* Set who may take the last CONTROL_CONNECTIONS_RESERVED connection slots (without it: root and the daemon's
 * own uid), so a flood of other users' connections never locks the administrator out. */
void control_set_admin_check(Control *c, control_admin_fn fn, void *userdata);

/* Number of open connections. */
unsigned control_n_connections(const Control *c);

/* The caller's credentials, from SO_PEERCRED at accept. */
uid_t control_call_uid(const ControlCall *call);
gid_t control_call_gid(const ControlCall *call);
pid_t control_call_pid(const ControlCall *call);
/* Whether gid is the caller's primary group or one of its supplementary groups (SO_PEERGROUPS at accept). */
bool control_call_in_group(const ControlCall *call, gid_t gid);
/* The full varlink method name of the call. */
const char *control_call_method(const ControlCall *call);
/* Whether the caller asked for a stream ("more": true). */
bool control_call_wants_more(const ControlCall *call);
/* Whether the connection is still open (a reply would reach someone). */
bool control_call_is_alive(const ControlCall *call);

/* Keep the call's connection open past control_free() until the process exits, so that its peer sees the
 * end of the connection only once the daemon is gone (a reply that says the daemon exits). Returns 0,
 * -ENOTCONN (the connection is gone) or -errno. */
int control_call_hold_until_exit(ControlCall *call);

ControlCall *control_call_ref(ControlCall *call);
/* Accepts NULL, returns NULL. */
ControlCall *control_call_unref(ControlCall *call);

/* Final reply; parameters is stolen (NULL = {}). Returns 0, -EALREADY if already answered, -errno. */
int control_call_reply(ControlCall *call, json_object *parameters);
/* The reply to call, about bytes long, is being made and will come later: count it as the caller's unsent
 * output now (the budgets of control.c), so that a user cannot have many big replies made at once that the
 * budget would have held back one at a time. Released when the call is answered or its connection goes. */
void control_call_reserve_output(ControlCall *call, size_t bytes);
/* Streamed reply with "continues": true; only for calls with more. parameters stolen. */
int control_call_notify(ControlCall *call, json_object *parameters);
/* Error reply; parameters stolen (NULL = {}). */
int control_call_error(ControlCall *call, const char *error, json_object *parameters);
/* Error reply org.varlink.service.InvalidParameter {"parameter": name}. Returns as control_call_error. */
int control_call_error_invalid_parameter(ControlCall *call, const char *name);

/* Called once when the connection of a call that is still unanswered goes away (not from control_free), so
 * a handler that keeps the call (Wait, a stream) can drop it early. The callback may unref the call. */
typedef void (*control_call_disconnect_fn)(ControlCall *call, void *userdata);
void control_call_set_disconnect_callback(ControlCall *call, control_call_disconnect_fn fn, void *userdata);

/* Called when every reply queued on the call's connection has been handed to the socket, once after each
 * control_call_notify() (or batch of them) on a call still unanswered; never from inside a reply function.
 * A stream that sends its next part only from here keeps one part in flight: a reader that stops reading
 * makes the sender wait instead of growing the daemon. The callback may notify, reply or unref the call. */
typedef void (*control_call_drain_fn)(ControlCall *call, void *userdata);
void control_call_set_drain_callback(ControlCall *call, control_call_drain_fn fn, void *userdata);
