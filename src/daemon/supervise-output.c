/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * supervise-output.c — a task's output: its pipes (one for stdout and stderr together, by default, or one
 * each) and their I/O sources, and the log file.
 *
 * Owns the path of every chunk of child output: read from a pipe (one chunk per wake-up), passed to the
 * journal forwarder (logfwd.c) and written to the attempt's log file up to its size cap and while the
 * spool's filesystem keeps its reserve of free space and inodes; what cannot be written is counted
 * (log_dropped), never held. Invariant: output is never held beyond one 64 KiB stack buffer, and the pipes
 * keep being read after the cap so a chatty child never blocks on a full pipe.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "log.h"
#include "logfwd.h"
#include "macro.h"
#include "supervise-internal.h"

#define TASK_READ_BUFFER_SIZE (64U * 1024U)
/* Reads per pipe when draining at exit. Bounded because a process that escaped the group may still hold
 * the write end and keep writing; a default-sized pipe (64 KiB) empties in one read. */
#define TASK_DRAIN_READS_MAX 64U

/* Write n bytes of output to the log. Once a write failed (ENOSPC: the filesystem is full), every byte that
 * should have gone there is counted instead (log_dropped, reported with the node's end), exactly: a short
 * write counts only what it left out. */
static void task_log_write(Task *t, const void *buf, size_t n) {
        const char *p = buf;

        while (n > 0 && !t->log_broken) {
                ssize_t k = write(t->log_fd, p, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        /* Losing log output is not a reason to fail the node; say so once and go on reading.
                         */
                        log_warning_errno(
                                k < 0 ? errno : EIO,
                                "Failed to write output of process %d to its log, dropping it (the "
                                "bytes lost are counted in the node's log_dropped): %m",
                                (int) t->pid);
                        t->log_broken = true;
                        break;
                }
                p += k;
                n -= (size_t) k;
        }
        t->log_dropped += n;
}

/* How much a task writes to its log between two looks at the free space of the log's filesystem: one read
 * buffer, so that many nodes writing at once overshoot the reserve by at most one buffer each (an
 * fstatvfs() costs about a microsecond, a 64 KiB write far more). */
#define TASK_LOG_SPACE_CHECK_BYTES TASK_READ_BUFFER_SIZE

/* Whether the log's filesystem has less free space than log_min_free. Looked at before the first write and
 * then once per TASK_LOG_SPACE_CHECK_BYTES. */
static bool task_log_short_of_space(Task *t) {
        struct statvfs sv;

        if (t->log_min_free == 0 || t->log_bytes < t->log_checked_at)
                return false;
        t->log_checked_at = t->log_bytes + TASK_LOG_SPACE_CHECK_BYTES;
        if (fstatvfs(t->log_fd, &sv) < 0)
                return false; /* cannot tell: the writes themselves will find out */
        return (uint64_t) sv.f_bavail * sv.f_frsize < t->log_min_free;
}

/* Write one marker line saying where the log ends (and why, unless it is the size cap), and drop all further
 * output. */
static void task_log_cut(Task *t, const char *why) {
        uint64_t dropped = t->log_dropped;
        char marker[160];
        int m;

        m = snprintf(marker, sizeof(marker), "\n[orchd: output truncated after %" PRIu64 " bytes%s%s]\n",
                     t->log_bytes, why ? ": " : "", why ?: "");
        task_log_write(t, marker, (size_t) MIN(m, (int) sizeof(marker) - 1));
        t->log_dropped = dropped; /* the marker is not output: never counted as lost */
        t->log_truncated = true;
}

/* Every chunk of child output passes through here, exactly once and in the order read from each pipe.
 * The journal gets every line, the log file is capped: by size, and by the free space of its filesystem,
 * so that node output (written by orchd, charged to nobody's quota) cannot take the room the journal of
 * every job needs to record its ends. */
static void task_output(Task *t, TaskStream stream, const char *buf, size_t n) {
        uint64_t room;
        size_t k;

        assert(t);
        assert(stream < _TASK_STREAM_MAX);

        logfwd_output(t->logfwd, (LogFwdStream) stream, buf, n);

        if (t->log_truncated)
                return; /* keep draining the pipe, but drop everything past the cap */
        if (task_log_short_of_space(t)) {
                task_log_cut(t, "the spool's filesystem is short of free space");
                return;
        }

        room = t->log_max_bytes - t->log_bytes;
        k = (uint64_t) n < room ? n : (size_t) room;
        task_log_write(t, buf, k);
        t->log_bytes += k;
        if (k < n)
                task_log_cut(t, NULL);
}

void task_pipe_close(TaskPipe *p) {
        if (p->fd >= 0)
                logfwd_end(p->task->logfwd, (LogFwdStream) p->stream); /* the unfinished last line */
        p->source = sd_event_source_disable_unref(p->source);
        p->fd = safe_close(p->fd);
}

/* Read one chunk. Returns 1 when data was consumed, 0 when the pipe is (now) closed, -EAGAIN when empty. */
static int task_pipe_read(TaskPipe *p) {
        char buf[TASK_READ_BUFFER_SIZE];
        ssize_t n;

        if (p->fd < 0)
                return 0;
        do
                n = read(p->fd, buf, sizeof(buf));
        while (n < 0 && errno == EINTR);
        if (n < 0 && errno == EAGAIN)
                return -EAGAIN;
        if (n < 0)
                log_warning_errno(errno, "Failed to read output of process %d, closing pipe: %m",
                                  (int) p->task->pid);
        if (n <= 0) {
                task_pipe_close(p); /* EOF: every writer, including grandchildren, has closed it */
                return 0;
        }
        task_output(p->task, p->stream, buf, (size_t) n);
        if (p->task->output_cb)
                p->task->output_cb(p->task, p->task->userdata);
        return 1;
}

static int task_on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        TaskPipe *p = userdata;

        /* One chunk per wake-up, so a flood of output cannot starve the other sources. */
        (void) task_pipe_read(p);
        return 0;
}

void task_drain_pipes(Task *t) {
        for (size_t i = 0; i < TASK_PIPES_MAX; i++)
                for (unsigned n = 0; n < TASK_DRAIN_READS_MAX; n++)
                        if (task_pipe_read(&t->pipes[i]) <= 0)
                                break;
}

int task_add_pipe_source(Task *t, TaskStream stream, int fd) {
        TaskPipe *p = &t->pipes[stream == TASK_STDERR ? 1 : 0];
        int r;

        p->stream = stream;
        p->fd = fd;
        /* Only the read end is non-blocking: the flag lives on the open file description, and the child
         * must get ordinary blocking writes. */
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
                return -errno;
        r = sd_event_add_io(t->event, &p->source, fd, EPOLLIN, task_on_output, p);
        if (r < 0)
                return r;
        /* Level with the control socket, so that a node flooding its pipe (a readable pipe is pending at
         * every iteration) takes turns with clients instead of starving them; still above the child source
         * (task_watch_process), as in importd: the last output is read before the exit is handled. */
        return sd_event_source_set_priority(p->source, SD_EVENT_PRIORITY_NORMAL);
}

/* The free inodes of the log directory's filesystem; UINT64_MAX if it does not count them or cannot tell. */
static uint64_t task_log_dir_free_inodes(int dir_fd) {
        struct statvfs sv;

        if (fstatvfs(dir_fd, &sv) < 0 || sv.f_files == 0)
                return UINT64_MAX; /* the open itself will find out */
        return sv.f_favail;
}

int task_open_log(Task *t, const TaskParams *p) {
        static bool said_inodes; /* once per shortage, not per attempt (again after twice min was free) */
        uint64_t free = p->log_min_inodes > 0 ? task_log_dir_free_inodes(p->log_dir_fd) : UINT64_MAX;

        /* Every attempt takes an inode for its log; the journal must keep the ones that record the ends. */
        if (free < p->log_min_inodes) {
                if (!said_inodes)
                        log_notice("Fewer than %" PRIu64
                                   " free inodes in the spool: attempts started now "
                                   "get no log file, their output goes to the journal only.",
                                   p->log_min_inodes);
                said_inodes = true;
                t->log_truncated = true; /* nothing is written to the (absent) file */
                return 0;
        }
        if (free / 2 >= p->log_min_inodes)
                said_inodes = false;
        /* Never truncate: a log that exists belongs to an attempt of its own (the caller picks another). */
        t->log_fd = openat(p->log_dir_fd, p->log_name,
                           O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (t->log_fd < 0 && errno == EEXIST)
                return -EEXIST;
        if (t->log_fd < 0)
                return log_warning_errno(errno, "Failed to open log file '%s': %m", p->log_name);
        return 0;
}
