/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Blocking varlink client for orchctl: connect to the control socket, send a
 * call, read its reply (or a stream of replies) with an optional deadline.
 * One call at a time; no event loop, no logging (callers print).
 */

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "protocol.h"

#define CLIENT_DEFAULT_SOCKET "/run/orchd/orchd.sock"

typedef struct Client Client;

/* The socket to use: arg (-s/--socket) if set, else $ORCHD_SOCKET if non-empty, else CLIENT_DEFAULT_SOCKET.
 */
const char *client_socket_path(const char *arg);

/* Connect to path. Returns 0, -ENAMETOOLONG, or the -errno of socket()/connect(). */
int client_connect(const char *path, Client **ret);

/* Close and free. Accepts NULL, returns NULL. */
Client *client_free(Client *c);

/* Send one call; parameters borrowed (NULL = {}). Returns 0, -ENOMEM, or -errno of the write. */
int client_send(Client *c, const char *method, json_object *parameters, bool more);

/* Read the next reply, waiting until deadline_usec (CLOCK_MONOTONIC; USEC_INFINITY = forever).
 * Returns 0 and *ret (error replies included: ret->error set), -ETIMEDOUT, -ECONNRESET (daemon closed
 * the connection), -EBADMSG (malformed or oversized reply), or -errno. */
int client_read_reply(Client *c, uint64_t deadline_usec, VarlinkMessage *ret);

/* client_read_reply() without the parsing: *ret_msg is the message as it came (not NUL-terminated, *ret_len
 * bytes) in c's buffer, valid until the next read from c. Same returns (-EBADMSG: oversized only). */
int client_read_text(Client *c, uint64_t deadline_usec, const char **ret_msg, size_t *ret_len);

/* client_send + client_read_reply. */
int client_call(Client *c, const char *method, json_object *parameters, uint64_t deadline_usec,
                VarlinkMessage *ret);

/* CLOCK_MONOTONIC now in µs, and now + usec saturated (USEC_INFINITY stays infinite). */
uint64_t client_now(void);
uint64_t client_deadline(uint64_t usec);
