/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * orchd-keeper — the supervisor of one owner's running nodes (one keeper per owner uid), so that what a
 * node needs while it runs (its pipes, its log file, its journal lines, its timeout) does not live in orchd.
 * orchd starts it once, at that owner's first start, with an empty environment, in a session of its own:
 *
 *   orchd-keeper UID HELPER SPOOL_ID LOG_LEVEL stay|leave    (the socket to orchd on fd 3)
 *
 * It runs each attempt as a Task (supervise.h, as a library: the same code orchd used in-process) and
 * speaks keeper-proto.h on fd 3, a SOCK_SEQPACKET socket: START (with the job's logs directory, starts and
 * ends files) → task_spawn(), and the start on record in "starts" before the node runs, then STARTED or
 * FAILED; STOP, KILL, FREE → task_stop(), task_kill(), task_free(); the task's end → a line in "ends"
 * first (supervise-wire.h), then END; new output → OUTPUT (coalesced: one per attempt per loop iteration).
 * HELPER is orchd-exec, through which the nodes of UID start when the keeper is root.
 *
 * "leave" (KillNodes=yes): when orchd goes away (EOF on fd 3) or on SIGTERM it exits at once, leaving its
 * nodes as orchd's death did before keepers existed (a restart's recovery finds them in "starts"). "stay"
 * (KillNodes=no): fd 4 is a listening socket (SPOOL/run/keeper-UID.sock); without orchd it runs its
 * attempts on, enforcing their timeouts, writing their logs and recording their ends (synced), accepts the
 * next orchd there (HELLO → RUNNING… SYNCED) and exits once no attempt is left and no orchd is connected.
 * It listen()s on that socket itself, so a connecting orchd's SO_PEERCRED names the keeper. STAY (a reload
 * to KillNodes=no) turns "leave" into "stay", with the listening socket beside it.
 *
 * Single-threaded but for journald.c's sender. Invariants: it holds one Attempt per running attempt and
 * nothing else that grows; everything a message carries is bounded by keeper-proto.h; a message it cannot
 * decode is logged and dropped, never acted on in part. Sends never block: what the socket does not take
 * waits in a queue bounded by the running attempts (one END each, OUTPUT coalesced).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "exec-main.h"
#include "journald.h"
#include "keeper.h"
#include "keeper-io.h"
#include "keeper-proto.h"
#include "log.h"
#include "macro.h"
#include "procutil.h"
#include "spawnrec.h"
#include "supervise-wire.h"
#include "supervise.h"

static Attempt *attempt_find(Keeper *k, const KeeperKey *key) {
        return keymap_get(&k->by_key, key);
}

static Attempt *attempt_free(Attempt *a) {
        if (!a)
                return NULL;
        a->task = task_free(a->task);
        safe_close(a->ends_fd);
        (void) keymap_remove(&a->keeper->by_key, &a->key);
        if (a->prev)
                a->prev->next = a->next;
        else if (a->keeper->attempts == a)
                a->keeper->attempts = a->next;
        if (a->next)
                a->next->prev = a->prev;
        a->keeper->n_attempts--;
        free(a);
        return NULL;
}

/* ---- sending ---------------------------------------------------------------------------------- */

/* ---- the attempts ----------------------------------------------------------------------------- */

/* The end goes to the job's "ends" file before anything else: whatever happens to this keeper or orchd
 * from now on, the next orchd finds it there. Synced when no orchd listens (it would have made the end
 * durable itself), so that it also survives the machine. */
static void attempt_record_end(Attempt *a, const TaskResult *result) {
        _cleanup_free_ char *line = task_end_format(a->key.node, a->key.attempt, result);
        ssize_t n;

        if (a->ends_fd < 0)
                return;
        if (!line) {
                log_error("Out of memory recording the end of job %" PRIu64 " node %" PRIu32 ".", a->key.job,
                          a->key.node);
                return;
        }
        n = write(a->ends_fd, line, strlen(line));
        if (n != (ssize_t) strlen(line))
                log_error_errno(n < 0 ? -errno : -EIO,
                                "Cannot record the end of job %" PRIu64 " node %" PRIu32 " attempt %" PRIu32
                                " in its ends file: %m",
                                a->key.job, a->key.node, a->key.attempt);
        else if (a->keeper->fd < 0 || a->keeper->await_hello) /* the file is the only record */
                (void) fsync(a->ends_fd);
}

static void attempt_on_exit(Task *t, const TaskResult *result, void *userdata) {
        Attempt *a = userdata;
        Keeper *k = a->keeper;
        KeeperWriter w;

        attempt_record_end(a, result);
        if (k->fd < 0) { /* no orchd: the next one reads the ends file */
                attempt_free(a);
                if (!k->attempts)
                        (void) sd_event_exit(k->event, EXIT_SUCCESS);
                return;
        }
        keeper_writer_init(&w, KEEPER_MSG_END, KEEPER_MSG_MAX);
        keeper_put_key(&w, &a->key);
        task_result_encode(&w, result);
        keeper_send_end(a->keeper, &w);
        attempt_free(a);
}

static void attempt_on_output(Task *t, void *userdata) {
        Attempt *a = userdata;

        a->output = true;
        (void) sd_event_source_set_enabled(a->keeper->post, SD_EVENT_ON);
}

static int keeper_on_post(sd_event_source *s, void *userdata) {
        Keeper *k = userdata;

        for (Attempt *a = k->attempts; a; a = a->next)
                if (a->output) {
                        a->output = false;
                        send_key_only(k, KEEPER_MSG_OUTPUT, &a->key);
                }
        return sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

/* Started through the helper, the attempt waits at its gate until its record is in "starts" (as orchd's
 * job-spawn.c did before the keeper). Returns 0 or -errno (the caller frees the task: it never ran). */
static int attempt_record(Task *t, const TaskParams *p, uint64_t *ret_pid_start) {
        char line[SPAWN_LINE_MAX];
        pid_t pid = task_pid(t);
        ssize_t n;
        int len, r;

        r = proc_start_time(pid, ret_pid_start);
        if (r < 0)
                *ret_pid_start = 0;
        if (!task_gated(t))
                return 0; /* started directly: the child wrote its record before its exec */
        if (r == -ESRCH)
                return 0; /* ended already (a refused account): nothing ran, its exit says why */
        if (r < 0)
                return r; /* not identifiable: it never gets past its gate */
        len = spawn_format_record(line, p->record_prefix, pid, *ret_pid_start);
        if (len < 0)
                return len;
        n = write(p->record_fd, line, (size_t) len);
        if (n < 0)
                return -errno;
        if (n != len)
                return -EIO;
        return task_open_gate(t);
}

/* START: spawn the attempt, put it on record, answer STARTED or FAILED. The fds are the logs directory,
 * the starts file, the ends file and, when TaskParams say so, the attempt's cgroup (all taken). */
static void keeper_start(Keeper *k, KeeperReader *r, int *fds, size_t n_fds) {
        _cleanup_(task_params_wire_done) TaskParamsWire pw = {};
        _cleanup_free_ Attempt *a = NULL;
        uint64_t pid_start = 0;
        KeeperWriter w;
        KeeperKey key;
        int e;

        keeper_get_key(r, &key);
        e = task_params_decode(r, &pw);
        if (e >= 0)
                e = keeper_reader_finish(r);
        if (e >= 0 && (n_fds != (pw.cgroup ? 4U : 3U) || attempt_find(k, &key)))
                e = -EBADMSG;
        if (e < 0) {
                log_error_errno(e, "Refusing a malformed start of job %" PRIu64 " node %" PRIu32 ": %m",
                                key.job, key.node);
                goto failed;
        }
        a = calloc(1, sizeof(*a));
        if (!a) {
                e = -ENOMEM;
                goto failed;
        }
        *a = (Attempt){ .keeper = k, .key = key, .ends_fd = -EBADF };
        e = keymap_put(&k->by_key, &key, a);
        if (e < 0)
                goto failed;
        pw.params.log_dir_fd = fds[0];
        pw.params.record_fd = fds[1];
        pw.params.cgroup_fd = pw.cgroup ? fds[3] : -EBADF; /* task_spawn() keeps a copy */
        pw.params.helper = k->helper;
        pw.params.output_cb = attempt_on_output;
        e = task_spawn(k->event, &pw.params, attempt_on_exit, a, &a->task);
        if (e >= 0) {
                e = attempt_record(a->task, &pw.params, &pid_start);
                a->pid_start = pid_start;
                if (e < 0) {
                        log_warning_errno(e,
                                          "Job %" PRIu64
                                          " node %s: cannot record the start of attempt "
                                          "%" PRIu32 ": %m",
                                          key.job, strna(pw.params.journal_node), key.attempt);
                        a->task = task_free(a->task); /* it never ran */
                }
        }
        if (e < 0) {
                (void) keymap_remove(&k->by_key, &key);
                goto failed;
        }

        keeper_writer_init(&w, KEEPER_MSG_STARTED, KEEPER_MSG_MAX);
        keeper_put_key(&w, &key);
        keeper_put_u32(&w, (uint32_t) task_pid(a->task));
        keeper_put_u64(&w, pid_start);
        keeper_put_u64(&w, 0); /* started_at: the END has the Task's own */
        keeper_send(k, &w);
        a->ends_fd = TAKE_FD(fds[2]);
        a->next = k->attempts;
        if (a->next)
                a->next->prev = a;
        k->attempts = TAKE_PTR(a);
        k->n_attempts++;
        goto done;
failed:
        keeper_writer_init(&w, KEEPER_MSG_FAILED, KEEPER_MSG_MAX);
        keeper_put_key(&w, &key);
        keeper_put_i32(&w, e);
        keeper_send(k, &w);
done:
        /* Borrowed by the spawn only: the Task keeps its own log fd and cgroup fd, the record was written;
         * the attempt took the ends file's. */
        for (size_t i = 0; i < n_fds; i++)
                fds[i] = safe_close(fds[i]);
}

/* STOP, KILL, FREE, FREEZE: about a running attempt, or one whose END crossed this message (ignored). */
static void keeper_control(Keeper *k, int type, KeeperReader *r) {
        uint64_t grace = 0;
        bool freeze = false;
        int e;
        KeeperKey key;
        Attempt *a;

        keeper_get_key(r, &key);
        if (type == KEEPER_MSG_STOP)
                grace = keeper_get_u64(r);
        else if (type == KEEPER_MSG_FREEZE)
                freeze = keeper_get_bool(r);
        if (keeper_reader_finish(r) < 0) {
                log_error("Refusing a malformed %s message.", keeper_msg_type_to_string(type));
                return;
        }
        a = attempt_find(k, &key);
        if (!a)
                return;
        if (type == KEEPER_MSG_STOP)
                (void) task_stop(a->task, grace);
        else if (type == KEEPER_MSG_KILL)
                task_kill(a->task);
        else if (type == KEEPER_MSG_FREEZE) {
                e = task_freeze(a->task, freeze);
                if (e < 0)
                        log_warning_errno(
                                e, "Job %" PRIu64 " node %" PRIu32 ": cannot %s attempt %" PRIu32 ": %m",
                                key.job, key.node, freeze ? "freeze" : "thaw", key.attempt);
        } else
                attempt_free(a);
}

/* ---- receiving -------------------------------------------------------------------------------- */

static void keeper_dispatch(Keeper *k, const uint8_t *buf, size_t len, int *fds, size_t n_fds) {
        _cleanup_free_ void *body = NULL;
        size_t body_len;
        KeeperReader r;
        int type, e;

        type = keeper_reader_init(&r, buf, len);
        if (type == KEEPER_MSG_START_MEMFD && (n_fds == 4 || n_fds == 5) && keeper_reader_finish(&r) >= 0) {
                e = keeper_io_read_memfd(fds[0], &body, &body_len);
                safe_close(fds[0]);
                if (e < 0) {
                        log_error_errno(e, "Refusing a start whose memfd cannot be read: %m");
                        for (size_t i = 1; i < n_fds; i++)
                                safe_close(fds[i]);
                        return;
                }
                keeper_reader_init_body(&r, body, body_len);
                keeper_start(k, &r, fds + 1, n_fds - 1);
                return;
        }
        if (type == KEEPER_MSG_START) {
                keeper_start(k, &r, fds, n_fds);
                return;
        }
        if (type == KEEPER_MSG_STAY && n_fds == 1 && keeper_reader_finish(&r) >= 0) {
                keeper_stay(k, fds[0]);
                return;
        }
        for (size_t i = 0; i < n_fds; i++)
                safe_close(fds[i]);
        switch (type) {
        case KEEPER_MSG_STOP:
        case KEEPER_MSG_KILL:
        case KEEPER_MSG_FREE:
        case KEEPER_MSG_FREEZE:
                keeper_control(k, type, &r);
                break;
        case KEEPER_MSG_HELLO:
                keeper_hello(k, &r);
                break;
        case KEEPER_MSG_ACK_END:
                break; /* the ends file is the record: nothing is kept here to forget */
        default:
                log_error("Refusing a message orchd does not send (%s, %d).",
                          keeper_msg_type_to_string(type), type);
        }
}

/* Everything a message hands us is owned by the Task or closed: the start's fds are taken by
 * keeper_start() (task_spawn() dups what it keeps). */
int keeper_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        static uint8_t buf[KEEPER_MSG_MAX];
        Keeper *k = userdata;

        if (revents & EPOLLOUT)
                keeper_flush_queue(k);
        if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                return 0;
        for (unsigned i = 0; i < 64; i++) { /* a bounded batch: exits and output get their turn */
                int fds[KEEPER_FDS_MAX];
                size_t n_fds;
                ssize_t n = keeper_io_recv(fd, buf, sizeof(buf), fds, &n_fds);

                if (n == -EAGAIN)
                        return 0;
                if (n == -ECONNRESET && k->stay) {
                        /* orchd closed its end with messages of ours unread (it died): the kernel says so
                         * once, ahead of what orchd had sent (unix datagram semantics), and those come next,
                         * then the end. A START among them may be durable as started already (on_interrupt
                         * fail): it runs, as it would have a moment earlier, and the next orchd adopts it.
                         */
                        log_debug("orchd closed the link with messages unread; taking what it sent first.");
                        continue;
                }
                if (n == 0 || n == -ECONNRESET) {
                        if (!k->stay || !k->attempts) {
                                log_debug(
                                        "orchd went away; exiting, leaving the running nodes to its "
                                        "recovery.");
                                return sd_event_exit(k->event, EXIT_SUCCESS);
                        }
                        keeper_disconnect(k);
                        return 0;
                }
                if (n < 0) {
                        log_error_errno((int) n, "Cannot receive from orchd: %m");
                        if (n == -EMSGSIZE)
                                continue;
                        return sd_event_exit(k->event, EXIT_FAILURE);
                }
                keeper_dispatch(k, buf, (size_t) n, fds, n_fds);
                /* START took its fds; anything else closed them. */
        }
        return 0;
}

static int keeper_on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Keeper *k = userdata;

        log_debug("Signal %d: exiting, the running nodes are left to orchd's recovery.",
                  (int) si->ssi_signo);
        return sd_event_exit(k->event, EXIT_SUCCESS);
}

static int keeper_setup(Keeper *k) {
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        (void) signal(SIGPIPE, SIG_IGN);
        r = sd_event_new(&k->event);
        if (r >= 0)
                r = sd_event_add_io(k->event, &k->io, k->fd, EPOLLIN, keeper_on_io, k);
        /* Below the Tasks' pipe sources and exits: a START waits for what is already there to be read. */
        if (r >= 0)
                r = sd_event_source_set_priority(k->io, SD_EVENT_PRIORITY_NORMAL + 10);
        if (r >= 0)
                r = sd_event_add_post(k->event, &k->post, keeper_on_post, k);
        if (r >= 0)
                r = sd_event_source_set_enabled(k->post, SD_EVENT_OFF);
        if (r >= 0) {
                int fd = journald_mark_fd();

                r = fd < 0 ? fd : sd_event_add_io(k->event, &k->journal, fd, EPOLLIN, keeper_on_journal, k);
        }
        if (r >= 0 && k->listen_fd >= 0)
                r = keeper_add_listen(k, k->listen_fd);
        if (r >= 0)
                r = sd_event_add_signal(k->event, NULL, SIGTERM, keeper_on_signal, k);
        if (r >= 0)
                r = sd_event_add_signal(k->event, NULL, SIGINT, keeper_on_signal, k);
        if (r >= 0)
                r = sd_event_add_signal(k->event, NULL, SIGHUP, NULL, NULL); /* ignored */
        return r;
}

int main(int argc, char *argv[]) {
        Keeper k = { .fd = KEEPER_SOCKET_FD, .listen_fd = -EBADF };
        int r, level;

        if (argc != 6 || fcntl(KEEPER_SOCKET_FD, F_SETFD, FD_CLOEXEC) < 0) {
                fprintf(stderr, "orchd-keeper is started by orchd (see orchd(8)), not by hand.\n");
                return 64;
        }
        k.queue_tail = &k.queue;
        k.ends_tail = &k.ends;
        k.helper = argv[2];
        k.stay = streq(argv[5], "stay");
        /* listen() again: SO_PEERCRED of a connection names who called listen() last, and a restarted orchd
         * checks that this is the keeper it recorded (keeper-adopt.c), not the orchd that bound it. */
        if (k.stay && fcntl(KEEPER_LISTEN_FD, F_SETFD, FD_CLOEXEC) >= 0 && listen(KEEPER_LISTEN_FD, 4) >= 0)
                k.listen_fd = KEEPER_LISTEN_FD;
        k.stay = k.listen_fd >= 0;
        level = log_level_from_string(argv[4]);
        if (level >= 0)
                log_set_max_level(level);
        if (argv[3][0])
                journald_set_spool_id(argv[3]);
        /* Node output in orchd's name (its pid is our parent's while it lives): the journal sees no
         * difference between lines orchd forwarded and lines its keeper did. */
        journald_set_sender_pid(getppid());
        journald_setup();
        (void) umask(TASK_DEFAULT_UMASK);
        /* Other users' nodes: orchd-exec's logic in a fork()ed child of ours, not a second exec. */
        task_set_helper_main(exec_main);
        r = keeper_setup(&k);
        if (r < 0) {
                log_error_errno(r, "Cannot set up the keeper's event loop: %m");
                return EXIT_FAILURE;
        }
        r = sd_event_loop(k.event);
        /* Deliberately no cleanup of the attempts: freeing a Task kills its node, and leaving is what
         * orchd's death did to them (its recovery finds them in "starts"). */
        return r < 0 ? EXIT_FAILURE : r;
}
