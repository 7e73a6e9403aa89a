/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keeper-adopt.c — a restarted orchd and the keepers its predecessor left running (keeper-client.h):
 * finding them (SPOOL/run/keeper-UID.sock), learning what they run, adopting those attempts as KeeperTasks
 * of the recovered jobs, and ending the attempts whose end was recorded while orchd was down; and the other
 * side of a stop: detaching from what runs on, waiting for leaving keepers to be gone.
 *
 * Invariants: a keeper is trusted only when the peer of its socket in the root-only run directory is the
 * very process orchd spawned: SO_PEERCRED's pid (the keeper listen()s itself) has the pid and start time of
 * SPOOL/run/keeper-UID.pid (written at its spawn), is still that process (its pidfd, kept and watched: its
 * death is seen even if its socket's EOF is not) and runs the installed orchd-keeper. What no job adopts is
 * killed (FREE) once recovery is over, so nothing runs that no job knows of.
 */

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec-client.h"
#include "fsutil.h"
#include "keeper-client-internal.h"
#include "keeper-io.h"
#include "log.h"
#include "macro.h"
#include "procutil.h"
#include "time-util.h"

/* Order of KeeperRunning by key, so that recovery finds each of 1,000s of attempts by bsearch(). */
static int running_cmp(const void *a, const void *b) {
        const KeeperKey *x = &((const KeeperRunning *) a)->key, *y = &((const KeeperRunning *) b)->key;

        if (x->job != y->job)
                return x->job < y->job ? -1 : 1;
        if (x->node != y->node)
                return x->node < y->node ? -1 : 1;
        return x->attempt < y->attempt ? -1 : x->attempt > y->attempt;
}

/* Send HELLO and read RUNNING… up to SYNCED into k->running, sorted by key. Returns 0 or -errno. */
static int keeper_sync(Keeper *k) {
        static uint8_t buf[KEEPER_MSG_MAX];
        KeeperWriter w;
        int r;

        keeper_writer_init(&w, KEEPER_MSG_HELLO, KEEPER_MSG_MAX);
        keeper_put_u32(&w, KEEPER_HELLO_RECOVER);
        r = keeper_writer_finish(&w);
        if (r >= 0)
                r = keeper_io_send(k->fd, w.buf, w.len, NULL, 0);
        keeper_writer_done(&w);
        while (r >= 0) {
                int fds[KEEPER_FDS_MAX], type;
                size_t n_fds;
                KeeperReader rd;
                KeeperRunning *run;
                ssize_t n = keeper_io_recv(k->fd, buf, sizeof(buf), fds, &n_fds);

                for (size_t j = 0; j < n_fds; j++)
                        safe_close(fds[j]);
                if (n == -EAGAIN) {
                        r = keeper_wait_fd(k->fd, POLLIN);
                        if (r == 0)
                                r = -ETIMEDOUT;
                        continue;
                }
                if (n <= 0)
                        return n == 0 ? -ECONNRESET : (int) n;
                type = keeper_reader_init(&rd, buf, (size_t) n);
                if (type == KEEPER_MSG_SYNCED) {
                        if (k->n_running > 0)
                                qsort(k->running, k->n_running, sizeof(KeeperRunning), running_cmp);
                        return keeper_reader_finish(&rd);
                }
                if (type != KEEPER_MSG_RUNNING)
                        return -EPROTO;
                run = reallocarray(k->running, k->n_running + 1, sizeof(KeeperRunning));
                if (!run)
                        return -ENOMEM;
                k->running = run;
                run = &k->running[k->n_running];
                *run = (KeeperRunning){};
                keeper_get_key(&rd, &run->key);
                run->pid = (pid_t) keeper_get_u32(&rd);
                (void) keeper_get_u64(&rd);
                (void) keeper_get_u64(&rd);
                if (rd.pos < rd.len) /* a keeper of before "frozen" has none */
                        run->frozen = keeper_get_bool(&rd);
                if (keeper_reader_finish(&rd) < 0)
                        return -EPROTO;
                k->n_running++;
        }
        return r;
}

/* SPOOL/run/keeper-UID.sock, bound and listening, for a keeper that outlives orchd; -EBADF without a run
 * directory (KillNodes=yes) or when its path does not fit (the keeper then leaves with orchd). */
int keeper_listen(KeeperSet *s, uid_t uid) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int n;

        if (!s->config.run_dir || !s->config.stay)
                return -EBADF;
        n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/keeper-%u.sock", s->config.run_dir,
                     (unsigned) uid);
        if (n < 0 || (size_t) n >= sizeof(sa.sun_path)) {
                log_warning(
                        "%s/keeper-%u.sock is too long a socket path: this keeper's nodes stop with orchd.",
                        s->config.run_dir, (unsigned) uid);
                return -EBADF;
        }
        /* Ours alone (0700): a socket there is trusted as a keeper by the next orchd (keeper-adopt.c). */
        if (mkdir(s->config.run_dir, 0700) < 0 && errno != EEXIST)
                return log_warning_errno(-errno, "Cannot create %s: %m", s->config.run_dir);
        if (lstat(s->config.run_dir, &st) < 0 || !S_ISDIR(st.st_mode) || (st.st_mode & 0077) != 0 ||
            st.st_uid != geteuid()) {
                log_warning(
                        "%s is not a directory of ours with mode 0700: this keeper's nodes stop with orchd.",
                        s->config.run_dir);
                return -EBADF;
        }
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) unlink(sa.sun_path); /* a keeper still listening there was adopted, or is beyond help */
        if (bind(fd, (const struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 4) < 0)
                return log_warning_errno(-errno, "Cannot listen at %s: %m", sa.sun_path);
        return exec_fd_above_fixed(TAKE_FD(fd));
}

int keeper_record(const KeeperSet *s, uid_t uid, pid_t pid) {
        char path[PATH_MAX], tmp[PATH_MAX], line[64];
        _cleanup_close_ int fd = -EBADF;
        uint64_t start;
        int n, r;

        r = proc_start_time(pid, &start); /* our unreaped child: the pid cannot have been reused */
        if (r < 0)
                return r;
        n = snprintf(line, sizeof(line), "%d %" PRIu64 "\n", (int) pid, start);
        if (snprintf(path, sizeof(path), "%s/keeper-%u.pid", s->config.run_dir, (unsigned) uid) >=
                    (int) sizeof(path) ||
            snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int) sizeof(tmp))
                return -ENAMETOOLONG;
        /* No fsync: the record need only outlive orchd, not the machine. After a crash of the machine its
         * keeper is gone too, and a torn or empty record then matches no process, so nothing is adopted. */
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        if (write(fd, line, (size_t) n) != n)
                return errno > 0 ? -errno : -EIO;
        return rename(tmp, path) < 0 ? -errno : 0;
}

/* Check that pid, the listener of uid's keeper socket, is the orchd-keeper orchd spawned for uid (the pid
 * and start time of run/keeper-UID.pid, the installed binary). Returns a pidfd of it, or -errno with *why
 * saying what failed. */
static int keeper_verify(const KeeperSet *s, uid_t uid, pid_t pid, const char **why) {
        char name[64], exe[PATH_MAX], link[64], deleted[PATH_MAX + 16];
        _cleanup_free_ char *rec = NULL;
        _cleanup_close_ int dir_fd = -EBADF, pidfd = -EBADF;
        uint64_t start, now;
        size_t size;
        ssize_t n;
        int rec_pid, end = 0;

        snprintf(name, sizeof(name), "keeper-%u.pid", (unsigned) uid);
        dir_fd = open(s->config.run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0 || read_file_at(dir_fd, name, 64, &rec, &size) < 0) {
                *why = "orchd has no record of starting it (run/keeper-UID.pid)";
                return -EPERM;
        }
        if (sscanf(rec, "%d %" SCNu64 "%n", &rec_pid, &start, &end) != 2 || rec[end] != '\n' ||
            rec_pid != pid) {
                *why = "it is not the process orchd recorded starting";
                return -EPERM;
        }
        pidfd = pidfd_open(pid, 0);
        if (pidfd < 0 || proc_start_time(pid, &now) < 0) {
                *why = "it is gone";
                return -ESRCH;
        }
        if (now != start) {
                *why = "its pid was reused: its start time is not the recorded one";
                return -EPERM;
        }
        snprintf(link, sizeof(link), "/proc/%d/exe", (int) pid);
        n = readlink(link, exe, sizeof(exe) - 1);
        exe[MAX(n, 0)] = '\0';
        snprintf(deleted, sizeof(deleted), "%s (deleted)", s->config.path); /* replaced by an upgrade */
        if (n <= 0 || (!streq(exe, s->config.path) && !streq(exe, deleted))) {
                *why = "it does not run the installed orchd-keeper";
                return -EPERM;
        }
        /* Still alive through its pidfd: what /proc said above was about this very process. */
        if (pidfd_send_signal(pidfd, 0, NULL, 0) < 0) {
                *why = "it is gone";
                return -ESRCH;
        }
        return TAKE_FD(pidfd);
}

/* Bounded: a dead keeper's side holds at most its socket buffer, a few thousand messages. */
void keeper_drain(Keeper *k) {
        for (unsigned round = 0; round < 64 && k->fd >= 0 && !k->dead; round++) {
                struct pollfd p = { .fd = k->fd, .events = POLLIN };

                if (poll(&p, 1, 0) <= 0)
                        return; /* nothing more, and no end yet: a process it left holds its side */
                (void) keeper_on_io(k->io, k->fd, EPOLLIN, k);
        }
}

/* EPOLLIN on an adopted keeper's pidfd: it exited (not our child: no SIGCHLD), even if its socket's EOF
 * never comes (a process that inherited it). */
static int keeper_on_exited(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Keeper *k = userdata;

        keeper_drain(k);
        keeper_disconnect(k, -ESRCH);
        keeper_free(k);
        return 0;
}

Keeper *keeper_new(KeeperSet *s, uid_t uid) {
        Keeper *k = calloc(1, sizeof(*k));

        if (!k)
                return NULL;
        *k = (Keeper){ .set = s, .uid = uid, .fd = -EBADF };
        k->next = s->keepers;
        s->keepers = k;
        return k;
}

/* Connect to the keeper listening at path (uid's) and learn what it runs. Returns 0, or -errno (the socket
 * is then stale: nobody answers, or not as a keeper). */
static int keeper_connect(KeeperSet *s, const char *path, uid_t uid) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct ucred uc;
        socklen_t len = sizeof(uc);
        Keeper *k;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        k = keeper_new(s, uid);
        if (!k)
                return -ENOMEM;
        k->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        r = k->fd < 0 ? -errno : 0;
        if (r >= 0 && connect(k->fd, (const struct sockaddr *) &sa, sizeof(sa)) < 0)
                r = -errno;
        if (r >= 0 && getsockopt(k->fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
                r = -errno;
        if (r >= 0 && uc.uid != 0 && uc.uid != geteuid())
                r = -EPERM; /* not one of ours, whatever the directory's mode let happen */
        if (r >= 0) {
                const char *why = NULL;
                int pidfd = keeper_verify(s, uid, uc.pid, &why);

                k->pid = uc.pid;
                k->stays = true;
                r = pidfd < 0 ? pidfd :
                                sd_event_add_io(s->event, &k->exited, pidfd, EPOLLIN, keeper_on_exited, k);
                if (r >= 0)
                        r = sd_event_source_set_io_fd_own(k->exited, true);
                else if (pidfd >= 0)
                        safe_close(pidfd);
                if (why)
                        log_warning(
                                "Refusing the orchd-keeper at %s (pid %d): %s. Nothing it runs is "
                                "adopted; its attempts are interrupted.",
                                path, (int) uc.pid, why);
        }
        if (r >= 0)
                r = keeper_sync(k);
        if (r >= 0)
                r = sd_event_add_io(s->event, &k->io, k->fd, EPOLLIN, keeper_on_io, k);
        if (r >= 0)
                r = sd_event_add_defer(s->event, &k->defer, keeper_on_defer, k);
        if (r >= 0)
                r = sd_event_source_set_enabled(k->defer, SD_EVENT_OFF);
        if (r < 0) {
                keeper_free(k);
                return r;
        }
        log_info("Found orchd-keeper of uid %u (pid %d) running %zu attempt(s).", (unsigned) uid,
                 (int) k->pid, k->n_running);
        return 0;
}

int keeper_set_recover(KeeperSet *s) {
        DIR *d;
        struct dirent *de;
        int found = 0;

        if (!s->config.run_dir)
                return 0;
        d = opendir(s->config.run_dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                char path[PATH_MAX];
                unsigned uid;
                int end = 0, r;

                if (sscanf(de->d_name, "keeper-%u.sock%n", &uid, &end) != 1 || de->d_name[end] != '\0')
                        continue;
                if (snprintf(path, sizeof(path), "%s/%s", s->config.run_dir, de->d_name) >=
                    (int) sizeof(path))
                        continue;
                r = keeper_connect(s, path, (uid_t) uid);
                if (r < 0) {
                        /* Refused or nobody listening: stale after a reboot. Anything else is news. */
                        log_full_errno(r == -ECONNREFUSED || r == -ENOENT ? LOG_DEBUG : LOG_WARNING, r,
                                       "No orchd-keeper answers at %s (%m); removing it.", path);
                        (void) unlink(path);
                        continue;
                }
                found++;
        }
        (void) closedir(d);
        return found;
}

int keeper_task_adopt(KeeperSet *s, uid_t uid, const KeeperKey *key, keeper_task_exit_cb cb,
                      keeper_task_output_cb output_cb, void *userdata, KeeperTask **ret, pid_t *ret_pid,
                      bool *ret_frozen) {
        const KeeperRunning probe = { .key = *key };

        for (Keeper *k = s ? s->keepers : NULL; k; k = k->next) {
                KeeperRunning *run;
                KeeperTask *t;

                if (k->uid != uid || k->dead || k->n_running == 0)
                        continue;
                run = bsearch(&probe, k->running, k->n_running, sizeof(KeeperRunning), running_cmp);
                if (!run || run->adopted)
                        continue;
                t = calloc(1, sizeof(*t));
                if (!t || keymap_put(&k->by_key, key, t) < 0) {
                        free(t);
                        return -ENOMEM;
                }
                *t = (KeeperTask){
                        .key = *key, .pid = run->pid, .cb = cb, .output_cb = output_cb, .userdata = userdata
                };
                task_link(k, t);
                run->adopted = true;
                *ret = t;
                *ret_pid = t->pid;
                *ret_frozen = run->frozen;
                return 0;
        }
        return -ENOENT;
}

static int task_on_ended(sd_event_source *s, void *userdata) {
        KeeperTask *t = userdata;
        TaskResult res = t->result;

        t->ended = sd_event_source_disable_unref(t->ended);
        t->cb(t, &res, t->userdata);
        return 0;
}

int keeper_task_new_ended(sd_event *e, const KeeperKey *key, const TaskResult *result,
                          keeper_task_exit_cb cb, void *userdata, KeeperTask **ret) {
        KeeperTask *t = calloc(1, sizeof(*t));
        int r;

        if (!t)
                return -ENOMEM;
        *t = (KeeperTask){ .key = *key, .result = *result, .cb = cb, .userdata = userdata };
        r = sd_event_add_defer(e, &t->ended, task_on_ended, t);
        if (r < 0) {
                free(t);
                return r;
        }
        *ret = t;
        return 0;
}

void keeper_set_recovered(KeeperSet *s) {
        for (Keeper *k = s ? s->keepers : NULL; k; k = k->next) {
                for (size_t i = 0; i < k->n_running; i++) {
                        KeeperWriter w;

                        if (k->running[i].adopted)
                                continue;
                        log_notice("Job %" PRIu64 " node %" PRIu32 " attempt %" PRIu32
                                   " runs in orchd-keeper %d but belongs to no job any more: killing it.",
                                   k->running[i].key.job, k->running[i].key.node, k->running[i].key.attempt,
                                   (int) k->pid);
                        keeper_writer_init(&w, KEEPER_MSG_FREE, KEEPER_MSG_MAX);
                        keeper_put_key(&w, &k->running[i].key);
                        if (keeper_writer_finish(&w) >= 0)
                                (void) keeper_io_send(k->fd, w.buf, w.len, NULL, 0);
                        keeper_writer_done(&w);
                }
                k->running = mfree(k->running);
                k->n_running = 0;
        }
}

void keeper_set_stay(KeeperSet *s, bool stay) {
        if (!s)
                return;
        s->config.stay = stay;
        for (Keeper *k = stay ? s->keepers : NULL; k; k = k->next) {
                _cleanup_close_ int fd = -EBADF;
                KeeperWriter w;
                int r;

                if (k->stays || k->dead)
                        continue;
                fd = keeper_listen(s, k->uid);
                if (fd < 0)
                        continue; /* said why */
                keeper_writer_init(&w, KEEPER_MSG_STAY, KEEPER_MSG_MAX);
                r = keeper_writer_finish(&w);
                if (r >= 0)
                        r = keeper_send_wait(k, w.buf, w.len, &fd, 1);
                keeper_writer_done(&w);
                if (r >= 0) {
                        k->stays = true;
                        r = keeper_record(s, k->uid, k->pid);
                }
                if (r < 0)
                        log_warning_errno(r, "Cannot make orchd-keeper %d stay for the next orchd: %m",
                                          (int) k->pid);
        }
}

KeeperTask *keeper_task_detach(KeeperTask *t) {
        if (!t)
                return NULL;
        task_unlink(t); /* no FREE: it runs on */
        return keeper_task_free(t);
}

/* A leaving keeper (KillNodes=yes) exits at once, and orchd's cgroup daemon/ can go only once it did
 * (cgroup.c): our children are reaped, a recovered keeper's exit is seen on its pidfd (closed here). They
 * all saw their sockets close at once, so they share one deadline. */
void keepers_reap(const pid_t *pids, size_t n, int *pidfds, size_t n_pidfds) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + KEEPER_EXIT_WAIT_USEC;
        size_t left = 0;

        for (size_t i = 0; i < n; i++)
                while (waitpid(pids[i], NULL, WNOHANG) == 0) { /* else reaped, or not ours to wait for */
                        if (now_usec(CLOCK_MONOTONIC) >= deadline) {
                                left++;
                                break;
                        }
                        (void) poll(NULL, 0, 5);
                }
        for (size_t i = 0; i < n_pidfds; i++) {
                struct pollfd pfd = { .fd = pidfds[i], .events = POLLIN };
                uint64_t now = now_usec(CLOCK_MONOTONIC);

                if (poll(&pfd, 1, now < deadline ? (int) ((deadline - now + 999) / 1000) : 0) == 0)
                        left++;
                pidfds[i] = safe_close(pidfds[i]);
        }
        if (left > 0)
                log_notice(
                        "%zu orchd-keeper%s did not exit within %u s of orchd's stop; orchd leaves "
                        "without waiting longer (a cgroup of orchd's stays for the next orchd to reuse).",
                        left, left == 1 ? "" : "s", (unsigned) (KEEPER_EXIT_WAIT_USEC / USEC_PER_SEC));
}
