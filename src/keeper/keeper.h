/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/*
 * The objects of orchd-keeper shared by keeper.c (the attempts, the messages, main) and keeper-link.c (the
 * link to orchd). Not a library: only these two files include it.
 */

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "keeper-proto.h"
#include "keymap.h"
#include "supervise.h"

typedef struct Keeper Keeper;

typedef struct Attempt {
        Keeper *keeper; /* not owned */
        KeeperKey key;
        Task *task;
        int ends_fd; /* the job's "ends" file (O_APPEND), where the end is recorded first */
        uint64_t pid_start;
        bool output; /* new output since the last OUTPUT */
        struct Attempt *prev, *next;
} Attempt;

/* A message the socket did not take yet, or an END waiting for its node's journal lines (mark). */
typedef struct Pending {
        struct Pending *next;
        uint64_t mark;
        size_t len;
        uint8_t buf[];
} Pending;

struct Keeper {
        sd_event *event;
        int fd;
        /* orchd (connected again) has not said HELLO yet: nothing goes out before the RUNNING… SYNCED that
         * answers it, which is all it reads until then; what ends meanwhile it finds in the ends files. */
        bool await_hello;
        sd_event_source *io;
        sd_event_source *post; /* flushes OUTPUT once per iteration */
        const char *helper;
        bool stay;     /* outlive orchd while attempts run (KillNodes=no) */
        int listen_fd; /* SPOOL/run/keeper-UID.sock, where a restarted orchd finds us; -EBADF: none */
        sd_event_source *listen;
        Attempt *attempts; /* every attempt the keeper holds, newest first */
        KeyMap by_key;     /* the same attempts, to find one by the key of a message */
        size_t n_attempts;
        Pending *queue, **queue_tail;
        Pending *ends, **ends_tail; /* ENDs held until journald has their node's lines, in mark order */
        sd_event_source *journal;   /* the journald mark's eventfd */
};

/* keeper-link.c: send a finished message (or queue it; nothing without orchd). */
void keeper_send_bytes(Keeper *k, const void *buf, size_t len);
/* Finish and send w, and free it. */
void keeper_send(Keeper *k, KeeperWriter *w);
/* Finish w (an END) and send it once its node's journal lines reached journald; frees w. */
void keeper_send_end(Keeper *k, KeeperWriter *w);
/* Send what the socket did not take before (it is writable now). */
void keeper_flush_queue(Keeper *k);
/* A message of a key and nothing else. */
void send_key_only(Keeper *k, KeeperMsgType type, const KeeperKey *key);
/* HELLO from orchd: RUNNING for each attempt, then SYNCED. */
void keeper_hello(Keeper *k, KeeperReader *r);
/* STAY from orchd (a reload to KillNodes=no): outlive it, accepting the next orchd on listen_fd (taken). */
void keeper_stay(Keeper *k, int listen_fd);
/* orchd is gone: the attempts run on, what was queued for it is dropped (the ends files have the ends). */
void keeper_disconnect(Keeper *k);
/* The listening socket's and the journald mark's handlers. */
int keeper_on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata);
/* Watch listen_fd (listening) for the next orchd, below the link to the current one. Returns 0 or -errno. */
int keeper_add_listen(Keeper *k, int listen_fd);
int keeper_on_journal(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* keeper.c: the socket's handler (messages from orchd). */
int keeper_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);
