/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The keeper wire's transport (keeper-proto.h has the bytes): one datagram of a SOCK_SEQPACKET socket with
 * up to KEEPER_FDS_MAX fds beside it (SCM_RIGHTS). Used by both ends, orchd (keeper-client.c) and
 * orchd-keeper (src/keeper/), and how orchd starts a keeper. No logging, no event loop.
 */

#include <stddef.h>
#include <sys/types.h>

/* The keeper's end of its socket to orchd. */
#define KEEPER_SOCKET_FD 3
/* Its listening socket for a restarted orchd (SPOOL/run/keeper-UID.sock), when it outlives orchd. */
#define KEEPER_LISTEN_FD 4

/* Send one message with n_fds fds (borrowed, duplicated by the kernel), never blocking and never raising
 * SIGPIPE. Returns 0, -EAGAIN (the peer's queue is full: try again when writable), or -errno. */
int keeper_io_send(int sock, const void *buf, size_t len, const int *fds, size_t n_fds);

/* Receive one message into buf (cap bytes, at least KEEPER_MSG_MAX) and its fds (close-on-exec, owned by
 * the caller, at most KEEPER_FDS_MAX) without blocking. Returns the message length (> 0), 0 at EOF,
 * -EAGAIN, -EMSGSIZE for a message or fd list that did not fit (its fds are closed), or -errno. */
ssize_t keeper_io_recv(int sock, void *buf, size_t cap, int *fds, size_t *ret_n_fds);

/* Start orchd-keeper at path for uid's nodes (helper: orchd-exec) with sock as its fd 3: empty
 * environment, a session of its own, stdin/stdout /dev/null, stderr ours, signals default and unblocked.
 * listen_fd >= 0: its fd 4, and it outlives orchd while it runs attempts ("stay"). Returns 0 with *ret_pid
 * or -errno. */
int keeper_io_spawn(const char *path, uid_t uid, const char *helper, int sock, int listen_fd,
                    pid_t *ret_pid);

/* Read a START body from a sealed memfd (KEEPER_MSG_START_MEMFD) into a new buffer. Returns 0 with *ret and
 * *ret_len, -EBADMSG (not sealed, empty or over KEEPER_MEMFD_MAX), or -errno. */
int keeper_io_read_memfd(int fd, void **ret, size_t *ret_len);

/* Put a START body into a new sealed memfd. Returns the fd or -errno. */
int keeper_io_write_memfd(const void *buf, size_t len);
