/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the files of the control server share (control.c, control-framing.c, control-output.c): the
 * caps, the Control, Connection and ControlCall structs, and the steps one file calls in another. The
 * invariants are in control.c's opening comment.
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

DEFINE_TRIVIAL_CLEANUP_FUNC(ControlCall *, control_call_unref);

/* control.c */
/* After any event: close if done or broken, else poll for what the connection needs next. */
int control_conn_update(Connection *conn);

/* control-output.c */
/* Process the connection's buffered calls in a later iteration (its defer source). */
void control_conn_schedule(Connection *conn);

/* The peer did something: note the time (the idle deadline counts from it). */
void control_conn_touch(Connection *conn);

/* Back-pressure: the peer has not taken what earlier calls produced. Until it does, the connection's next
 * calls stay unread (in the socket, at the client's expense) rather than each adding a reply to ours. */
bool control_conn_output_blocked(const Connection *conn);

/* Back-pressure across connections: the caller's user has CONTROL_OUTPUT_USER_BUDGET of replies unsent
 * (however many connections hold them), or everybody's together are past the total and the caller is no
 * administrator (*ret_total then). The common case, little unsent anywhere, costs one comparison. */
bool control_conn_budget_blocked(const Connection *conn, bool *ret_total);

/* n bytes of uid's output left the daemon (sent, or dropped with their connection). Wake the connections
 * whose budget may now have room: those the total held back once the total is below it, uid's own once its
 * output is below its budget (a woken connection that still has no room pauses again). Nobody else's
 * budget changed, so nobody else is woken: a user's big reply draining chunk by chunk does not stir every
 * waiting connection at every chunk. */
void control_output_released(Control *c, uid_t uid, size_t n);

/* Append one encoded message (taken over) to the output buffer. */
void control_conn_enqueue(Connection *conn, char *buf, size_t len);

/* Write as much as the socket takes. MSG_NOSIGNAL: a vanished reader must not SIGPIPE the daemon. */
int control_conn_flush(Connection *conn);

/* control-framing.c */
/* How many more bytes control_conn_read() may take. */
size_t control_conn_input_room(const Connection *conn);

/* Read what the socket has, up to the input cap. Sets read_eof at end of stream. */
int control_conn_read(Connection *conn);

/* Handle buffered complete messages while no call is outstanding. */
int control_conn_process(Connection *conn);
