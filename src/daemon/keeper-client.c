/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keeper-client.c — orchd's keepers and the attempts they run (keeper-client.h).
 *
 * Owns: each Keeper (its socket, I/O source, the child source that reaps it, the timer that gives it up when
 * its starts go unanswered) and each KeeperTask (its key, or its in-process Task). A KeeperTask of a keeper
 * is on that keeper's list until its FAILED or END arrives, it is freed, or the keeper dies; a dead keeper's
 * tasks end (SIGKILL, as if killed: a starting one may have started) and the keeper is forgotten, so the
 * next start spawns a new one.
 *
 * Invariants: messages from a keeper are handled in the order it sent them, from the loop only. No callback
 * runs from inside keeper_task_spawn().
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keeper-client-internal.h"
#include "exec-client.h"
#include "journald.h"
#include "keeper-io.h"
#include "log.h"
#include "macro.h"
#include "supervise-wire.h"
#include "time-util.h"

/* Wait up to KEEPER_START_TIMEOUT_MSEC for events on fd. Returns > 0, 0 on timeout, or -errno. */
int keeper_wait_fd(int fd, short events) {
        const struct timespec ts = { .tv_sec = KEEPER_START_TIMEOUT_MSEC / 1000 };
        struct pollfd pfd = { .fd = fd, .events = events };
        int r = ppoll(&pfd, 1, &ts, NULL);

        return r < 0 ? (errno == EINTR ? 1 : -errno) : r;
}

void task_link(Keeper *k, KeeperTask *t) {
        t->keeper = k;
        t->next = k->tasks;
        if (t->next)
                t->next->prev = t;
        k->tasks = t;
}

void task_unlink(KeeperTask *t) {
        if (!t->keeper)
                return;
        (void) keymap_remove(&t->keeper->by_key, &t->key);
        if (t->prev)
                t->prev->next = t->next;
        else
                t->keeper->tasks = t->next;
        if (t->next)
                t->next->prev = t->prev;
        t->prev = t->next = NULL;
        t->keeper = NULL;
}

/* ---- a keeper's life -------------------------------------------------------------------------- */

Keeper *keeper_free(Keeper *k) {
        if (!k)
                return NULL;
        assert(!k->tasks);
        for (Keeper **p = &k->set->keepers; *p; p = &(*p)->next)
                if (*p == k) {
                        *p = k->next;
                        break;
                }
        k->io = sd_event_source_disable_unref(k->io);
        k->defer = sd_event_source_disable_unref(k->defer);
        k->start_timer = sd_event_source_disable_unref(k->start_timer);
        k->exited = sd_event_source_disable_unref(k->exited);
        /* Not killed: closing the socket tells it to go; its exit is reaped if we are still here. */
        if (k->child)
                (void) sd_event_source_set_child_process_own(k->child, false);
        k->child = sd_event_source_disable_unref(k->child);
        safe_close(k->fd);
        keymap_done(&k->by_key);
        free(k->running);
        free(k);
        return NULL;
}

/* The keeper is gone or broken (EOF, a broken socket, no answer, it exited): every attempt it ran ends as
 * killed, and the keeper takes no more starts; the struct stays until its process is reaped. What it left
 * running is the next recovery's, found in "starts". Only from a loop callback: it calls exit callbacks. */
void keeper_disconnect(Keeper *k, int error) {
        TaskResult res = TASK_RESULT_UNMEASURED(.end = TASK_SIGNALED, .signal = SIGKILL,
                                                .supervisor_lost = true);

        if (k->fd < 0)
                return;
        log_error_errno(error, "orchd-keeper of uid %u (pid %d) is gone; %s: %m", (unsigned) k->uid,
                        (int) k->pid,
                        k->tasks ? "its attempts end as recorded, or as interrupted" : "none ran");
        k->dead = true;
        k->io = sd_event_source_disable_unref(k->io);
        k->fd = safe_close(k->fd);
        k->n_starting = 0;
        if (k->start_timer)
                (void) sd_event_source_set_enabled(k->start_timer, SD_EVENT_OFF);
        res.finished_at = now_realtime_usec();
        while (k->tasks) {
                KeeperTask *t = k->tasks;

                task_unlink(t);
                t->cb(t, &res, t->userdata);
        }
}

/* SIGKILL the keeper: our child, or a recovered one through its pidfd. */
static void keeper_kill(Keeper *k) {
        if (k->child)
                (void) sd_event_source_send_child_signal(k->child, SIGKILL, NULL, 0);
        else if (k->exited)
                (void) pidfd_send_signal(sd_event_source_get_io_fd(k->exited), SIGKILL, NULL, 0);
}

/* Where no callback may run (inside keeper_task_spawn(), amid a message): the rest happens on the next
 * iteration. */
static void keeper_break(Keeper *k, int error) {
        k->dead = true;
        k->dead_error = error;
        keeper_kill(k);
        (void) sd_event_source_set_enabled(k->defer, SD_EVENT_ONESHOT);
}

static int keeper_on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Keeper *k = userdata;

        keeper_drain(k);
        if (si->si_code != CLD_EXITED || si->si_status != 0 || k->tasks)
                keeper_disconnect(k, -ECHILD);
        keeper_free(k);
        return 0;
}

/* One START fewer awaits its answer: the keeper made progress. */
static void keeper_start_answered(Keeper *k) {
        if (k->n_starting == 0)
                return;
        k->n_starting--;
        k->answered_at = now_usec(CLOCK_MONOTONIC);
}

/* No answer to any START since answered_at: past the bound the keeper is stuck, and given up (killed). */
static int keeper_on_start_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        uint64_t deadline;
        Keeper *k = userdata;

        if (k->n_starting == 0)
                return 0;
        deadline = k->answered_at + KEEPER_START_TIMEOUT_MSEC * USEC_PER_MSEC;
        if (usec < deadline) { /* answers came meanwhile: wait on from the last */
                (void) sd_event_source_set_time(s, deadline);
                return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        log_error(
                "orchd-keeper of uid %u (pid %d) answered none of its %u pending start(s) for %u s; "
                "giving it up.",
                (unsigned) k->uid, (int) k->pid, k->n_starting, KEEPER_START_TIMEOUT_MSEC / 1000U);
        keeper_kill(k);
        keeper_disconnect(k, -ETIMEDOUT);
        return 0;
}

/* A START went out: while any waits, the timer watches for answers. Made at the first START, for a keeper
 * orchd started and one it recovered alike; without memory for it, no start of this keeper times out. */
static void keeper_start_sent(Keeper *k) {
        uint64_t deadline;

        if (k->n_starting++ > 0)
                return;
        k->answered_at = now_usec(CLOCK_MONOTONIC);
        deadline = k->answered_at + KEEPER_START_TIMEOUT_MSEC * USEC_PER_MSEC;
        if (!k->start_timer) {
                if (sd_event_add_time(k->set->event, &k->start_timer, CLOCK_MONOTONIC, deadline, 0,
                                      keeper_on_start_timer, k) < 0)
                        log_warning("Out of memory arming the start timeout of orchd-keeper of uid %u.",
                                    (unsigned) k->uid);
                return;
        }
        (void) sd_event_source_set_time(k->start_timer, deadline);
        (void) sd_event_source_set_enabled(k->start_timer, SD_EVENT_ONESHOT);
}

/* STARTED or FAILED of a START: the task starts (started_cb) or ends before it ran (cb, start_error). */
static int keeper_on_answer(Keeper *k, int type, KeeperReader *r, const KeeperKey *key) {
        TaskResult res = TASK_RESULT_UNMEASURED(.end = TASK_EXITED, .exit_code = -1);
        KeeperTask *t;
        uint32_t pid = 0;
        int32_t e = 0;

        if (type == KEEPER_MSG_FAILED)
                e = keeper_get_i32(r);
        else {
                pid = keeper_get_u32(r);
                (void) keeper_get_u64(r); /* pid start time: orchd reads its own */
                (void) keeper_get_u64(r);
        }
        if (keeper_reader_finish(r) < 0 ||
            (type == KEEPER_MSG_FAILED ? e >= 0 : pid == 0 || pid > INT32_MAX))
                return -EPROTO;
        keeper_start_answered(k);
        t = keymap_get(&k->by_key, key);
        if (!t || !t->starting)
                return 0; /* freed meanwhile */
        t->starting = false;
        if (type == KEEPER_MSG_STARTED) {
                t->pid = (pid_t) pid;
                t->started_cb(t, t->userdata);
                return 0;
        }
        res.start_error = e;
        res.start_account = EXEC_ACCOUNT_OK;
        res.finished_at = now_realtime_usec();
        task_unlink(t);
        t->cb(t, &res, t->userdata);
        return 0;
}

static void keeper_handle(Keeper *k, const uint8_t *buf, size_t len) {
        KeeperReader r;
        TaskResult res;
        KeeperKey key;
        KeeperTask *t;
        int type;

        type = keeper_reader_init(&r, buf, len);
        keeper_get_key(&r, &key);
        if (type == KEEPER_MSG_STARTED || type == KEEPER_MSG_FAILED) {
                if (keeper_on_answer(k, type, &r, &key) < 0) /* its answers cannot be trusted: given up */
                        keeper_break(k, -EPROTO);
                return;
        }
        if (type == KEEPER_MSG_END) {
                if (task_result_decode(&r, &res) < 0 || keeper_reader_finish(&r) < 0)
                        goto bad;
                t = keymap_get(&k->by_key, &key);
                if (!t)
                        return; /* freed meanwhile */
                task_unlink(t);
                t->cb(t, &res, t->userdata);
                return;
        }
        if (type == KEEPER_MSG_OUTPUT) {
                if (keeper_reader_finish(&r) < 0)
                        goto bad;
                t = keymap_get(&k->by_key, &key);
                if (t && t->output_cb)
                        t->output_cb(t, t->userdata);
                return;
        }
bad:
        log_warning("orchd-keeper of uid %u sent an unexpected or malformed %s message; ignored.",
                    (unsigned) k->uid, keeper_msg_type_to_string(type));
}

int keeper_on_defer(sd_event_source *s, void *userdata) {
        Keeper *k = userdata;

        if (k->dead)
                keeper_disconnect(k, k->dead_error);
        return 0;
}

int keeper_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        static uint8_t buf[KEEPER_MSG_MAX];
        Keeper *k = userdata;

        for (unsigned i = 0; i < 256 && k->fd >= 0 && !k->dead; i++) {
                int fds[KEEPER_FDS_MAX];
                size_t n_fds;
                ssize_t n = keeper_io_recv(fd, buf, sizeof(buf), fds, &n_fds);

                for (size_t j = 0; j < n_fds; j++) /* a keeper sends none */
                        safe_close(fds[j]);
                if (n == -EAGAIN)
                        return 0;
                if (n == -ECONNRESET) /* said once, ahead of what it sent before it died: read on */
                        continue;
                if (n <= 0) {
                        keeper_disconnect(k, n == 0 ? -ECONNRESET : (int) n);
                        return 0;
                }
                keeper_handle(k, buf, (size_t) n);
        }
        return 0;
}

static int keeper_start(KeeperSet *s, uid_t uid, Keeper **ret) {
        _cleanup_close_ int peer = -EBADF, listen_fd = -EBADF;
        int sv[2], pidfd, r;
        Keeper *k;

        k = keeper_new(s, uid);
        if (!k)
                return -ENOMEM;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
                r = -errno;
                goto fail;
        }
        k->fd = sv[0];
        peer = exec_fd_above_fixed(sv[1]); /* above the keeper's fixed fds: no dup2 overwrites another */
        listen_fd = keeper_listen(s, uid);
        r = peer < 0 ? peer :
                       keeper_io_spawn(s->config.path, k->uid, s->config.helper, peer, listen_fd, &k->pid);
        if (r < 0) {
                log_error_errno(r, "Cannot start %s: %m", s->config.path);
                goto fail;
        }
        pidfd = pidfd_open(k->pid, 0);
        r = pidfd < 0 ? -errno : 0;
        if (r >= 0)
                r = sd_event_add_child_pidfd(s->event, &k->child, pidfd, WEXITED, keeper_on_child, k);
        if (r >= 0)
                r = sd_event_source_set_child_pidfd_own(k->child, true);
        else
                safe_close(pidfd);
        if (r >= 0)
                r = sd_event_add_io(s->event, &k->io, k->fd, EPOLLIN, keeper_on_io, k);
        if (r >= 0)
                r = sd_event_add_defer(s->event, &k->defer, keeper_on_defer, k);
        if (r >= 0)
                r = sd_event_source_set_enabled(k->defer, SD_EVENT_OFF);
        if (r < 0)
                goto fail;
        k->stays = listen_fd >= 0;
        if (k->stays && (r = keeper_record(s, uid, k->pid)) < 0) /* then it is not adopted */
                log_warning_errno(r, "Cannot record orchd-keeper pid %d: %m", (int) k->pid);
        log_debug("Started orchd-keeper for uid %u as pid %d.", (unsigned) uid, (int) k->pid);
        *ret = k;
        return 0;
fail:
        if (k->pid > 0) { /* never used: not left behind */
                (void) kill(k->pid, SIGKILL);
                if (!k->child)
                        (void) waitpid(k->pid, NULL, 0);
        }
        keeper_free(k);
        return r;
}

/* uid's keeper, started if need be. -EHOSTDOWN if none can be: within KEEPER_START_RETRY_USEC of a failed
 * start no other is tried, so that a missing or broken keeper is logged once a second, not once a node. */
static int keeper_get(KeeperSet *s, uid_t uid, Keeper **ret) {
        uint64_t now;

        for (Keeper *k = s->keepers; k; k = k->next)
                if (k->uid == uid && !k->dead) {
                        *ret = k;
                        return 0;
                }
        now = now_usec(CLOCK_MONOTONIC);
        if (now < s->start_after)
                return -EHOSTDOWN;
        if (keeper_start(s, uid, ret) >= 0)
                return 0;
        s->start_after = now + KEEPER_START_RETRY_USEC;
        return -EHOSTDOWN;
}

int keeper_set_new(sd_event *e, const KeeperSetConfig *c, KeeperSet **ret) {
        KeeperSet *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(e);
        s->config = *c;
        *ret = s;
        return 0;
}

KeeperSet *keeper_set_free(KeeperSet *s) {
        _cleanup_free_ pid_t *pids = NULL;
        _cleanup_free_ int *pidfds = NULL;
        size_t n_pids = 0, n_pidfds = 0, n_keepers = 0;

        if (!s)
                return NULL;
        for (Keeper *k = s->keepers; k; k = k->next)
                n_keepers++;
        if (!s->config.stay && n_keepers > 0) {
                pids = calloc(n_keepers, sizeof(pid_t));
                pidfds = calloc(n_keepers, sizeof(int));
        }
        while (s->keepers) {
                Keeper *k = s->keepers;
                int fd;

                while (k->tasks) /* the caller should have freed them: they are forgotten, not killed */
                        task_unlink(k->tasks);
                if (pids && k->child && k->pid > 0)
                        pids[n_pids++] = k->pid;
                else if (pidfds && k->exited && /* recovered: not our child, its pidfd tells its exit */
                         (fd = fcntl(sd_event_source_get_io_fd(k->exited), F_DUPFD_CLOEXEC, 3)) >= 0)
                        pidfds[n_pidfds++] = fd;
                keeper_free(k);
        }
        keepers_reap(pids, n_pids, pidfds, n_pidfds);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

bool keeper_set_starting(const KeeperSet *ks) {
        for (const Keeper *k = ks ? ks->keepers : NULL; k; k = k->next)
                if (k->n_starting > 0)
                        return true;
        return false;
}

/* ---- attempts --------------------------------------------------------------------------------- */

/* Send one message, waiting (boundedly) while the keeper's queue is full: it reads all the time, so a
 * full queue means it is stuck. */
int keeper_send_wait(Keeper *k, const void *buf, size_t len, const int *fds, size_t n_fds) {
        int r;

        if (k->fd < 0)
                return -ECONNRESET;
        while ((r = keeper_io_send(k->fd, buf, len, fds, n_fds)) == -EAGAIN) {
                r = keeper_wait_fd(k->fd, POLLOUT);
                if (r < 0)
                        return r;
                if (r == 0)
                        return -ETIMEDOUT;
        }
        return r;
}

/* Send key's START (in a memfd when it is too large for a datagram) with its fds: logs directory, starts
 * file, ends file and, when the attempt has one, its cgroup. */
static int keeper_send_start(Keeper *k, const KeeperKey *key, const TaskParams *p, int ends_fd) {
        int fds[5] = { -EBADF, p->log_dir_fd, p->record_fd, ends_fd, p->cgroup_fd }, r;
        size_t n_fds = p->cgroup_fd > 2 ? 4 : 3;
        KeeperWriter w;

        keeper_writer_init(&w, KEEPER_MSG_START, KEEPER_MEMFD_MAX);
        keeper_put_key(&w, key);
        task_params_encode(&w, p);
        r = keeper_writer_finish(&w);
        if (r >= 0 && w.len > KEEPER_MSG_MAX) {
                fds[0] = r = keeper_io_write_memfd(w.buf + KEEPER_HEADER_SIZE, w.len - KEEPER_HEADER_SIZE);
                keeper_writer_done(&w);
                keeper_writer_init(&w, KEEPER_MSG_START_MEMFD, KEEPER_MSG_MAX);
                if (r >= 0)
                        r = keeper_writer_finish(&w);
        }
        if (r >= 0)
                r = fds[0] >= 0 ? keeper_send_wait(k, w.buf, w.len, fds, n_fds + 1) :
                                  keeper_send_wait(k, w.buf, w.len, fds + 1, n_fds);
        safe_close(fds[0]);
        keeper_writer_done(&w);
        return r;
}

static void task_on_local_exit(Task *task, const TaskResult *result, void *userdata) {
        KeeperTask *t = userdata;

        t->cb(t, result, t->userdata);
}

static void task_on_local_output(Task *task, void *userdata) {
        KeeperTask *t = userdata;

        if (t->output_cb)
                t->output_cb(t, t->userdata);
}

int keeper_task_spawn(KeeperSet *ks, sd_event *e, uid_t uid, const KeeperKey *key, const TaskParams *p,
                      int ends_fd, keeper_task_exit_cb cb, keeper_task_output_cb output_cb,
                      keeper_task_started_cb started_cb, void *userdata, KeeperTask **ret) {
        Keeper *k = NULL;
        KeeperTask *t;
        int r;

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        *t = (KeeperTask){
                .key = *key, .cb = cb, .output_cb = output_cb, .started_cb = started_cb, .userdata = userdata
        };
        if (!ks) {
                TaskParams local = *p;

                local.output_cb = task_on_local_output;
                r = task_spawn(e, &local, task_on_local_exit, t, &t->task);
                if (r < 0) {
                        free(t);
                        return r;
                }
                t->pid = task_pid(t->task);
                *ret = t;
                return 0;
        }
        r = keeper_get(ks, uid, &k);
        if (r >= 0)
                r = keymap_put(&k->by_key, key, t);
        if (r >= 0) {
                r = keeper_send_start(k, key, p, ends_fd);
                if (r >= 0)
                        keeper_start_sent(k);
                else
                        (void) keymap_remove(&k->by_key, key);
        }
        if (k && (r == -ECONNRESET || r == -ETIMEDOUT || r == -EPROTO || r == -EPIPE))
                /* The keeper is broken: its attempts end, the next start gets a new one. */
                keeper_break(k, r);
        if (r < 0) {
                free(t);
                return r;
        }
        t->starting = true;
        task_link(k, t);
        *ret = t;
        return 1;
}

bool keeper_task_gated(const KeeperTask *t) {
        return t->task && task_gated(t->task);
}

int keeper_task_open_gate(KeeperTask *t) {
        return t->task ? task_open_gate(t->task) : 0;
}

/* Send a STOP (arg: its grace), KILL, FREE or FREEZE (arg: 1 freeze, 0 thaw) about t. */
static int keeper_task_send(KeeperTask *t, KeeperMsgType type, uint64_t arg) {
        KeeperWriter w;
        int r;

        if (!t->keeper)
                return 0; /* its end is on its way, or its keeper died: nothing left to signal */
        keeper_writer_init(&w, type, KEEPER_MSG_MAX);
        keeper_put_key(&w, &t->key);
        if (type == KEEPER_MSG_STOP)
                keeper_put_u64(&w, arg);
        else if (type == KEEPER_MSG_FREEZE)
                keeper_put_bool(&w, arg != 0);
        r = keeper_writer_finish(&w);
        if (r >= 0)
                r = keeper_send_wait(t->keeper, w.buf, w.len, NULL, 0);
        keeper_writer_done(&w);
        if (r < 0)
                log_warning_errno(r, "Cannot send %s to orchd-keeper of uid %u: %m",
                                  keeper_msg_type_to_string(type), (unsigned) t->keeper->uid);
        return r;
}

int keeper_task_stop(KeeperTask *t, uint64_t grace_usec) {
        if (t->task)
                return task_stop(t->task, grace_usec);
        return keeper_task_send(t, KEEPER_MSG_STOP, grace_usec);
}

void keeper_task_kill(KeeperTask *t) {
        if (t->task)
                task_kill(t->task);
        else
                (void) keeper_task_send(t, KEEPER_MSG_KILL, 0);
}

int keeper_task_freeze(KeeperTask *t, bool freeze) {
        if (t->task)
                return task_freeze(t->task, freeze);
        if (!t->keeper)
                return -ESRCH; /* ended, or its keeper is gone */
        return keeper_task_send(t, KEEPER_MSG_FREEZE, freeze);
}

pid_t keeper_task_pid(const KeeperTask *t) {
        return t->pid;
}

KeeperTask *keeper_task_free(KeeperTask *t) {
        if (!t)
                return NULL;
        t->task = task_free(t->task);
        t->ended = sd_event_source_disable_unref(t->ended);
        if (t->keeper) {
                (void) keeper_task_send(t, KEEPER_MSG_FREE, 0);
                task_unlink(t);
        }
        free(t);
        return NULL;
}
