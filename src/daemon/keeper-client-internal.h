/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/*
 * The objects of keeper-client.c (keepers, tasks) shared with keeper-adopt.c (finding a previous orchd's
 * keepers and adopting what they run). Not for anything else: the daemon sees keeper-client.h.
 */

#include <stdbool.h>

#include "keeper-client.h"
#include "keymap.h"

/* How long a recovery waits for the keeper's answer, and how long starts may wait for theirs with no answer
 * to any, before orchd gives the keeper up. */
#define KEEPER_START_TIMEOUT_MSEC 30000
/* After a keeper failed to start, no other start for this long (keeper_get()). */
#define KEEPER_START_RETRY_USEC (1 * USEC_PER_SEC)
/* How long orchd waits at its exit for the keepers it told to leave (KillNodes=yes) to be gone, all of them
 * together: longer than a keeper's own exit may take, which is bounded by its journal flush
 * (JOURNALD_EXIT_FLUSH_USEC, 3 s, when journald is stalled), so that orchd's cgroup can go after them. */
#define KEEPER_EXIT_WAIT_USEC (6 * USEC_PER_SEC)

typedef struct Keeper Keeper;

/* What a recovered keeper runs (RUNNING), until a job adopts it. */
typedef struct KeeperRunning {
        KeeperKey key;
        pid_t pid;
        bool frozen; /* its cgroup was frozen (pause --freeze) */
        bool adopted;
} KeeperRunning;

struct Keeper {
        KeeperSet *set;
        KeeperRunning *running; /* recovered: what it ran when orchd said HELLO */
        size_t n_running;
        uid_t uid;
        pid_t pid;
        int fd;
        sd_event_source *io;
        sd_event_source *child;
        sd_event_source *exited; /* recovered: its pidfd (not our child), EPOLLIN once it exited */
        sd_event_source *defer;  /* a break found where no callback may run, handled on the next iteration */
        /* STARTs sent and not answered yet (their tasks may have been freed since). While there are any,
         * start_timer gives the keeper up once KEEPER_START_TIMEOUT_MSEC passed since answered_at, the last
         * answer (or the first of these STARTs). */
        unsigned n_starting;
        sd_event_source *start_timer;
        uint64_t answered_at; /* CLOCK_MONOTONIC */
        KeeperTask *tasks;    /* its attempts that run, newest first */
        KeyMap by_key;        /* the same tasks, to find one by the key of a message */
        bool stays;           /* it listens for the next orchd (stay mode) */
        bool dead;            /* no more starts: its attempts end (now, or on the next iteration) */
        int dead_error;       /* why, for the message */
        struct Keeper *next;
};

struct KeeperSet {
        sd_event *event;
        KeeperSetConfig config;
        Keeper *keepers;
        uint64_t start_after; /* CLOCK_MONOTONIC: no keeper starts before (the last start failed) */
};

struct KeeperTask {
        Keeper *keeper; /* NULL: in-process (task) or detached from a dead keeper */
        Task *task;
        sd_event_source *ended; /* keeper_task_new_ended(): delivers result */
        TaskResult result;
        KeeperKey key;
        pid_t pid;     /* 0 while starting */
        bool starting; /* its START awaits STARTED (started_cb) or FAILED (cb, with start_error) */
        keeper_task_exit_cb cb;
        keeper_task_output_cb output_cb;
        keeper_task_started_cb started_cb;
        void *userdata;
        KeeperTask *prev, *next;
};

/* Whether two keys name the same attempt. */
static inline bool key_eq(const KeeperKey *a, const KeeperKey *b) {
        return a->job == b->job && a->node == b->node && a->attempt == b->attempt;
}

/* keeper-client.c */
/* Take t off its keeper's list (it is then no keeper's). */
void task_unlink(KeeperTask *t);
/* Put t on k's list; its key is in k->by_key already (keymap_put before the attempt may run, so that
 * linking cannot fail once it does). */
void task_link(Keeper *k, KeeperTask *t);
/* keeper-adopt.c: a new Keeper of uid on s's list, with no socket and no process yet; NULL without
 * memory. */
Keeper *keeper_new(KeeperSet *s, uid_t uid);
/* Free a keeper without touching its process; its tasks must be gone. Returns NULL. */
Keeper *keeper_free(Keeper *k);
/* Its attempts end as killed, it takes no more starts (gone: EOF, exited, broken). From a loop callback. */
void keeper_disconnect(Keeper *k, int error);
/* Its socket's handler, and the handler of a break found inside keeper_task_spawn(). */
int keeper_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);
/* keeper-adopt.c: the keeper exited; read what it sent before (its STARTEDs name the pids that a loss
 * must kill, its ENDs are no loss), then the link's end or error disconnects it (ECONNRESET, which the
 * kernel reports once ahead of those messages when it died with ours unread, is read past). */
void keeper_drain(Keeper *k);
int keeper_on_defer(sd_event_source *s, void *userdata);
/* keeper-adopt.c: wait (up to KEEPER_EXIT_WAIT_USEC in all) for the keepers of pids, our children whose
 * sockets were closed, and of pidfds, recovered ones, to exit; reap the former, close the latter. */
void keepers_reap(const pid_t *pids, size_t n, int *pidfds, size_t n_pidfds);

/* SPOOL/run/keeper-UID.sock, bound and listening, for a keeper that outlives orchd; -EBADF when keepers
 * leave with orchd (KillNodes=yes), without a run directory, or when its path does not fit. */
int keeper_listen(KeeperSet *s, uid_t uid);
/* Send one message, waiting (boundedly) while the keeper's queue is full. Returns 0 or -errno. */
int keeper_send_wait(Keeper *k, const void *buf, size_t len, const int *fds, size_t n_fds);
/* keeper-adopt.c: record uid's keeper, our child pid, in run/keeper-UID.pid ("PID START"), so the next orchd
 * can tell it from any other listener there. Returns 0 or -errno. */
int keeper_record(const KeeperSet *s, uid_t uid, pid_t pid);

/* Wait up to KEEPER_START_TIMEOUT_MSEC for events on fd. Returns > 0, 0 on timeout, -errno. */
int keeper_wait_fd(int fd, short events);
