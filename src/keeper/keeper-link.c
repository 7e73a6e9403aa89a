/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keeper-link.c — orchd-keeper's side of its link to orchd (keeper.h): sending without ever blocking (a
 * queue bounded by the running attempts), ENDs held until their node's journal lines reached journald,
 * and the link's life: orchd gone (the attempts run on), the next orchd accepted on the listening socket
 * and told what runs (HELLO → RUNNING… SYNCED).
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "journald.h"
#include "keeper-io.h"
#include "keeper.h"
#include "log.h"
#include "macro.h"

static int keeper_update_io(Keeper *k) {
        return sd_event_source_set_io_events(k->io, EPOLLIN | (k->queue ? EPOLLOUT : 0));
}

static Pending *pending_new(const void *buf, size_t len, uint64_t mark) {
        Pending *p = malloc(sizeof(Pending) + len);

        if (!p)
                return NULL;
        *p = (Pending){ .mark = mark, .len = len };
        memcpy(p->buf, buf, len);
        return p;
}

/* Send a message now, or queue it behind what waits. A failure to queue is fatal for the link: orchd
 * would miss an END. */
void keeper_send_bytes(Keeper *k, const void *buf, size_t len) {
        Pending *p;
        int r;

        if (k->fd < 0 || k->await_hello)
                return; /* no orchd (yet): the next one learns from RUNNING and the ends files */
        if (!k->queue) {
                r = keeper_io_send(k->fd, buf, len, NULL, 0);
                if (r != -EAGAIN) {
                        if (r < 0)
                                log_debug_errno(r, "Cannot send to orchd: %m");
                        return;
                }
        }
        p = pending_new(buf, len, 0);
        if (!p) {
                log_error("Out of memory queueing a message for orchd; exiting.");
                (void) sd_event_exit(k->event, EXIT_FAILURE);
                return;
        }
        *k->queue_tail = p;
        k->queue_tail = &p->next;
        (void) keeper_update_io(k);
}

void keeper_send(Keeper *k, KeeperWriter *w) {
        int r = keeper_writer_finish(w);

        if (r < 0)
                log_error_errno(r, "Cannot encode a message for orchd: %m");
        else
                keeper_send_bytes(k, w->buf, w->len);
        keeper_writer_done(w);
}

/* Send the held ENDs whose node's journal lines journald has, in order. */
static void keeper_flush_ends(Keeper *k) {
        while (k->ends && journald_mark_reached(k->ends->mark)) {
                Pending *p = k->ends;

                k->ends = p->next;
                if (!k->ends)
                        k->ends_tail = &k->ends;
                keeper_send_bytes(k, p->buf, p->len);
                free(p);
        }
}

int keeper_on_journal(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        eventfd_t v;

        (void) eventfd_read(fd, &v);
        keeper_flush_ends(userdata);
        return 0;
}

/* An END goes out once every line its node wrote reached journald: orchd's own message about the end then
 * follows them in the journal, as when orchd forwarded them itself. */
void keeper_send_end(Keeper *k, KeeperWriter *w) {
        uint64_t mark = journald_mark();
        Pending *p;
        int r;

        r = keeper_writer_finish(w);
        if (r < 0) {
                log_error_errno(r, "Cannot encode a message for orchd: %m");
                keeper_writer_done(w);
                return;
        }
        if (!k->ends && journald_mark_reached(mark)) {
                keeper_send(k, w);
                return;
        }
        p = pending_new(w->buf, w->len, mark);
        keeper_writer_done(w);
        if (!p) {
                log_error("Out of memory holding an end for orchd; exiting.");
                (void) sd_event_exit(k->event, EXIT_FAILURE);
                return;
        }
        *k->ends_tail = p;
        k->ends_tail = &p->next;
        keeper_flush_ends(k);
}

void keeper_flush_queue(Keeper *k) {
        while (k->queue) {
                Pending *p = k->queue;
                int r = keeper_io_send(k->fd, p->buf, p->len, NULL, 0);

                if (r == -EAGAIN)
                        break;
                if (r < 0)
                        log_debug_errno(r, "Cannot send to orchd: %m");
                k->queue = p->next;
                if (!k->queue)
                        k->queue_tail = &k->queue;
                free(p);
        }
        (void) keeper_update_io(k);
}

void send_key_only(Keeper *k, KeeperMsgType type, const KeeperKey *key) {
        KeeperWriter w;

        keeper_writer_init(&w, type, KEEPER_MSG_MAX);
        keeper_put_key(&w, key);
        keeper_send(k, &w);
}

/* HELLO from a (restarted) orchd: what runs, then SYNCED. What ended meanwhile is in the ends files. */
void keeper_hello(Keeper *k, KeeperReader *r) {
        KeeperWriter w;

        (void) keeper_get_u32(r);
        if (keeper_reader_finish(r) < 0) {
                log_error("Refusing a malformed hello message.");
                return;
        }
        k->await_hello = false;
        for (Attempt *a = k->attempts; a; a = a->next) {
                keeper_writer_init(&w, KEEPER_MSG_RUNNING, KEEPER_MSG_MAX);
                keeper_put_key(&w, &a->key);
                keeper_put_u32(&w, (uint32_t) task_pid(a->task));
                keeper_put_u64(&w, a->pid_start);
                keeper_put_u64(&w, 0);
                keeper_put_bool(&w, task_frozen(a->task)); /* pause --freeze survives the restart */
                keeper_send(k, &w);
        }
        keeper_writer_init(&w, KEEPER_MSG_SYNCED, KEEPER_MSG_MAX);
        keeper_send(k, &w);
}

/* orchd is gone: run on, record ends (synced), wait for the next orchd on the listening socket. */
void keeper_disconnect(Keeper *k) {
        log_debug("orchd went away; %zu attempt(s) run on.", k->n_attempts);
        k->io = sd_event_source_disable_unref(k->io);
        k->fd = safe_close(k->fd);
        while (k->queue) {
                Pending *p = k->queue;

                k->queue = p->next;
                free(p);
        }
        k->queue_tail = &k->queue;
        while (k->ends) { /* recorded in the ends files already */
                Pending *p = k->ends;

                k->ends = p->next;
                free(p);
        }
        k->ends_tail = &k->ends;
        journald_set_sender_pid(0);
}

int keeper_on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        _cleanup_close_ int c = -EBADF;
        Keeper *k = userdata;
        struct ucred uc;
        socklen_t len = sizeof(uc);
        int r;

        c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0)
                return 0;
        /* One orchd at a time, and only root (or our own user) may be it: the directory is 0700 anyway. */
        if (k->fd >= 0 || getsockopt(c, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0 ||
            (uc.uid != 0 && uc.uid != geteuid()))
                return 0;
        r = sd_event_add_io(k->event, &k->io, c, EPOLLIN, keeper_on_io, k);
        if (r >= 0)
                r = sd_event_source_set_priority(k->io, SD_EVENT_PRIORITY_NORMAL + 10);
        if (r < 0) {
                k->io = sd_event_source_disable_unref(k->io);
                return 0;
        }
        k->fd = TAKE_FD(c);
        k->await_hello = true;
        journald_set_sender_pid(uc.pid);
        log_debug("orchd (pid %d) connected again.", (int) uc.pid);
        return 0;
}

/* The listening socket's source runs below the link's (NORMAL + 10): a previous orchd closed before the
 * next one connected, so the end of its connection is read first, and the new one is then accepted. Above
 * it, the new connection came while the old one still looked open and was refused, and the next orchd
 * took this keeper for gone (seen with 1,000 attempts running). */
int keeper_add_listen(Keeper *k, int listen_fd) {
        int r = sd_event_add_io(k->event, &k->listen, listen_fd, EPOLLIN, keeper_on_accept, k);

        if (r >= 0)
                r = sd_event_source_set_priority(k->listen, SD_EVENT_PRIORITY_NORMAL + 20);
        if (r < 0)
                k->listen = sd_event_source_disable_unref(k->listen);
        return r;
}

void keeper_stay(Keeper *k, int listen_fd) {
        int r = k->listen_fd >= 0 ? -EALREADY : 0;

        /* listen() here, so SO_PEERCRED names us to the next orchd (keeper-adopt.c), not orchd. */
        if (r >= 0 && listen(listen_fd, 4) < 0)
                r = -errno;
        if (r >= 0)
                r = keeper_add_listen(k, listen_fd);
        if (r < 0) {
                safe_close(listen_fd);
                if (r != -EALREADY)
                        log_error_errno(r, "Cannot stay for the next orchd: %m");
                return;
        }
        k->listen_fd = listen_fd;
        k->stay = true;
        log_debug("Staying for the next orchd when this one goes (KillNodes=no).");
}
