/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * supervise-cgroup.c — a task's cgroup (TaskParams.cgroup_fd): the files the child joins by, kills go to,
 * the end is watched on, and the accounting is read from.
 *
 * Owns: the task's copy of the cgroup's directory fd, its cgroup.procs fd until the spawn is done, its
 * cgroup.events fd and the event source on it.
 *
 * The emptiness of the cgroup is watched with an sd-event I/O source on cgroup.events for EPOLLPRI: kernfs
 * signals a change of the file as EPOLLPRI until it is read again, and the handler re-reads it from offset
 * 0 each time, so a level-triggered source fires once per change. Measured here (200 rounds each, a sleep
 * in a cgroup, from the write to cgroup.kill to "populated 0" seen): EPOLLPRI 18–21 ms, inotify IN_MODIFY
 * 15 ms, both dominated by the kernel's rate limit on cgroup file notifications (one per 10 ms); EPOLLPRI
 * needs no inotify instance per attempt. The wait happens only when something outlived the main process:
 * a zombie does not count as populated, so a node that leaves nothing behind ends at its exit.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cgroupfmt.h"
#include "fsutil.h"
#include "log.h"
#include "macro.h"
#include "supervise-internal.h"

#define CGROUP_FILE_MAX (64U * 1024U)
#define CG_SMALL_MAX 1024U /* cpu.stat of a kernel with every controller is some 300 bytes */

int task_cgroup_open(Task *t, const TaskParams *p) {
        t->cgroup_fd = fcntl(p->cgroup_fd, F_DUPFD_CLOEXEC, 3);
        if (t->cgroup_fd < 0)
                return -errno;
        t->cgroup_procs_fd = openat(t->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (t->cgroup_procs_fd < 0)
                return -errno;
        t->cgroup_events_fd = openat(t->cgroup_fd, "cgroup.events",
                                     O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (t->cgroup_events_fd < 0)
                return -errno;
        return 0;
}

/* Read a (small) cgroup file of the task's cgroup from its start. */
static int cg_read(Task *t, const char *name, char **ret) {
        return read_file_at(t->cgroup_fd, name, CGROUP_FILE_MAX, ret, NULL);
}

/* SIGTERM and the like go to each process in cgroup.procs: the kernel has no cgroup-wide signal but
 * SIGKILL. A process forked between the read and the kill escapes this one signal, not the SIGKILL that
 * follows it (cgroup.kill also stops forks in flight). */
static int cg_signal_each(Task *t, int sig) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = cg_read(t, "cgroup.procs", &text);
        if (r < 0)
                return r;
        for (char *p = text; *p;) {
                char *end;
                long pid = strtol(p, &end, 10);

                if (end == p)
                        break;
                if (pid > 0 && kill((pid_t) pid, sig) < 0 && errno != ESRCH)
                        r = -errno;
                p = end + strspn(end, "\n");
        }
        return r < 0 ? r : 0;
}

int task_cgroup_kill(Task *t, int sig) {
        _cleanup_close_ int fd = -EBADF;

        if (sig != SIGKILL)
                return cg_signal_each(t, sig);
        fd = openat(t->cgroup_fd, "cgroup.kill", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || write(fd, "1", 1) < 0)
                return cg_signal_each(t, SIGKILL); /* no cgroup.kill: one by one */
        return 0;
}

static int cg_events(Task *t, const char *key, uint64_t *ret) {
        char buf[256];
        ssize_t n;

        n = pread(t->cgroup_events_fd, buf, sizeof(buf) - 1, 0);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return cgroupfmt_keyed(buf, key, ret);
}

int task_cgroup_populated(Task *t) {
        uint64_t v = 0;
        int r;

        r = cg_events(t, "populated", &v);
        return r < 0 ? r : v != 0;
}

static int task_on_cgroup_events(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Task *t = userdata;
        int r;

        r = task_cgroup_populated(t);
        if (r > 0)
                return 0;
        t->cgroup_empty = r == 0; /* an error finishes too: never wait forever */
        t->cgroup_source = sd_event_source_disable_unref(t->cgroup_source);
        task_finish(t); /* may free t */
        return 0;
}

int task_cgroup_watch(Task *t) {
        int r;

        r = sd_event_add_io(t->event, &t->cgroup_source, t->cgroup_events_fd, EPOLLPRI,
                            task_on_cgroup_events, t);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(t->cgroup_source, "task-cgroup-events");
        /* It may have emptied between the caller's check and the watch: look once more. */
        r = task_cgroup_populated(t);
        if (r <= 0) {
                t->cgroup_empty = r == 0;
                t->cgroup_source = sd_event_source_disable_unref(t->cgroup_source);
                return -EAGAIN;
        }
        return 0;
}

/* A small file of the task's cgroup (cpu.stat, memory.peak, …) into buf with one open, one read and one
 * close: the kernel makes such a file's text whole (seq_file) and hands over all of it that fits, so a read
 * that does not fill buf has it all (no fstat, no read for the EOF). Returns 0, -EFBIG when it filled buf,
 * or -errno. */
static int cg_read_small(Task *t, const char *name, char *buf, size_t size) {
        _cleanup_close_ int fd = openat(t->cgroup_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        if (n < 0)
                return -errno;
        if ((size_t) n == size - 1)
                return -EFBIG;
        buf[n] = '\0';
        return 0;
}

/* KEY of a flat keyed file's text (NULL: the file could not be read), or UINT64_MAX. */
static uint64_t cg_key(const char *text, const char *key) {
        uint64_t v;

        if (!text || cgroupfmt_keyed(text, key, &v) < 0)
                return UINT64_MAX;
        return v;
}

/* KEY of the flat keyed file name, or UINT64_MAX. */
static uint64_t cg_keyed(Task *t, const char *name, const char *key) {
        char buf[CG_SMALL_MAX];

        return cg_key(cg_read_small(t, name, buf, sizeof(buf)) >= 0 ? buf : NULL, key);
}

/* A single-value file (memory.peak, pids.peak), or UINT64_MAX. */
static uint64_t cg_value(Task *t, const char *name) {
        char buf[CG_SMALL_MAX], *end;
        unsigned long long v;

        if (cg_read_small(t, name, buf, sizeof(buf)) < 0)
                return UINT64_MAX;
        errno = 0;
        v = strtoull(buf, &end, 10);
        if (errno != 0 || end == buf || (*end != '\n' && *end != '\0'))
                return UINT64_MAX;
        return (uint64_t) v;
}

/* Each file read is an open, a read and a close: only the files of the controllers the cgroup has are read
 * (TaskParams.cgroup_controllers); an absent controller's figures stay UINT64_MAX, as r came. cpu.stat's
 * usage, user and system times are the core's, there without the cpu controller too. */
void task_cgroup_account(Task *t, TaskResult *r) {
        _cleanup_free_ char *io = NULL, *big = NULL;
        char buf[CG_SMALL_MAX];
        const char *cpu = buf;
        int k;

        /* One read for the three; a cpu.stat longer than any kernel's so far is read whole the slow way. */
        k = cg_read_small(t, "cpu.stat", buf, sizeof(buf));
        if (k == -EFBIG && cg_read(t, "cpu.stat", &big) >= 0)
                cpu = big;
        else if (k < 0)
                cpu = NULL;
        r->cpu_usec = cg_key(cpu, "usage_usec");
        r->cpu_user_usec = cg_key(cpu, "user_usec");
        r->cpu_system_usec = cg_key(cpu, "system_usec");
        if (t->cgroup_controllers & RESOURCES_MEMORY) {
                r->memory_peak = cg_value(t, "memory.peak");
                r->oom_kills = cg_keyed(t, "memory.events", "oom_kill");
        }
        if (t->cgroup_controllers & RESOURCES_PIDS)
                r->pids_peak = cg_value(t, "pids.peak");
        if ((t->cgroup_controllers & RESOURCES_IO) &&
            (cg_read(t, "io.stat", &io) < 0 ||
             cgroupfmt_io_bytes(io, &r->io_read_bytes, &r->io_write_bytes) < 0))
                r->io_read_bytes = r->io_write_bytes = UINT64_MAX;
}

int task_freeze(Task *t, bool freeze) {
        _cleanup_close_ int fd = -EBADF;

        if (t->cgroup_fd < 0)
                return -EOPNOTSUPP;
        if (t->exited)
                return 0;
        fd = openat(t->cgroup_fd, "cgroup.freeze", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        return write(fd, freeze ? "1" : "0", 1) < 0 ? -errno : 0;
}

bool task_frozen(const Task *t) {
        uint64_t v = 0;

        return t->cgroup_fd >= 0 && cg_events((Task *) t, "frozen", &v) >= 0 && v == 1;
}
