/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * readonly.c — read-only mode: orchd cannot write its own state and waits.
 *
 * Owns: the ReadOnly state (why, since when) and its re-check timer; reaches
 * the spool and the committer it is given and tells its owner through
 * callbacks (on_writable, on_fatal). Entered
 * at start when a test write to the spool fails for lack of room (ENOSPC,
 * EDQUOT) or a read-only mount (EROFS), and at run time when the committer
 * reports one of those or a shortage of fds (EMFILE, ENFILE). While on: no node starts (manager_schedule),
 * nothing is taken from new/ and Submit is refused (spool_hold), every
 * record that could not be written waits in the committer, in order;
 * running nodes go on and their ends wait there too. Queries (Status, List,
 * Logs, Stats, Rejected) are answered from memory at once; changes (Cancel,
 * Pause, Retry, …) are answered once recorded. Every READONLY_RECHECK_USEC
 * the timer looks again: free space at least half MinFreeSpace= (the part
 * of the reserve that is kept for records) and a test write that is made
 * durable. Then the committer writes what waited and everything goes on:
 * no client call is needed. Other write errors (EIO, …) stay fail-stop.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "fsutil.h"
#include "log.h"
#include "macro.h"
#include "readonly.h"
#include "time-util.h"

/* In the spool directory itself, ".#" so that nothing takes it for a job; removed right after each test. */
#define PROBE_NAME ".#orchd-write-test"
/* Big enough to need real blocks (a few bytes may fit in an inode), small enough to cost nothing. */
#define PROBE_SIZE ((size_t) 64 * 1024)

bool readonly_error_waits(int error) {
        return error == -ENOSPC || error == -EDQUOT || error == -EROFS || fd_shortage(error);
}

/* What read-only mode waits for, after "until". */
static const char *readonly_awaits(int error) {
        return fd_shortage(error) ? "file descriptors are free" :
                error == -EROFS   ? "it is writable" :
                                    "there is room";
}

/* 0 when the spool can be written again, else -errno. */
static int readonly_probe(ReadOnly *ro) {
        uint64_t need = spool_floor_bytes(ro->spool) / 2;
        struct statvfs sv;

        if (need > 0 && fstatvfs(spool_dir_fd(ro->spool), &sv) >= 0 &&
            (uint64_t) sv.f_bavail * sv.f_frsize < need)
                return -ENOSPC;
        return probe_write_at(spool_dir_fd(ro->spool), PROBE_NAME, PROBE_SIZE);
}

static int readonly_arm(ReadOnly *ro);

static int readonly_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        ReadOnly *ro = userdata;
        int r;

        r = readonly_probe(ro);
        if (r < 0) {
                log_debug_errno(r, "The spool still cannot be written: %m");
                (void) readonly_arm(ro);
                return 0;
        }
        r = committer_resume(ro->committer);
        if (r < 0)
                ro->on_fatal(r, "the records that waited for room", ro->userdata);
        ro->on = false;
        log_notice(
                "The spool %s can be written again: writing the records that waited, then starting "
                "nodes and taking new jobs again.",
                ro->spool_path);
        ro->on_writable(ro->userdata);
        return 0;
}

static int readonly_arm(ReadOnly *ro) {
        int r;

        if (ro->timer) {
                r = sd_event_source_set_time_relative(ro->timer, READONLY_RECHECK_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(ro->timer, SD_EVENT_ONESHOT);
                return r;
        }
        r = sd_event_add_time_relative(ro->event, &ro->timer, CLOCK_MONOTONIC, READONLY_RECHECK_USEC,
                                       USEC_PER_SEC / 10, readonly_on_timer, ro);
        if (r >= 0)
                (void) sd_event_source_set_description(ro->timer, "read-only-recheck");
        return r;
}

int readonly_enter(ReadOnly *ro, int error, const char *what) {
        int r;

        if (ro->on)
                return 0;
        r = readonly_arm(ro);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the re-check of the spool's free space: %m");
        ro->on = true;
        ro->error = error;
        ro->since = now_usec(CLOCK_REALTIME);
        snprintf(ro->what, sizeof(ro->what), "%s", what);
        spool_hold(ro->spool, true);
        log_full_errno(
                LOG_WARNING, error,
                "Cannot write to %s (%m) while writing %s. Read-only until %s: no node starts and no job "
                "is accepted, running nodes go on and their ends are recorded later; status, list, logs "
                "and stats still answer. Looking again every %u s.",
                ro->spool_path, what, readonly_awaits(error),
                (unsigned) (READONLY_RECHECK_USEC / USEC_PER_SEC));
        return 0;
}

int readonly_check_at_start(ReadOnly *ro) {
        int r = probe_write_at(spool_dir_fd(ro->spool), PROBE_NAME, PROBE_SIZE);

        if (r >= 0)
                return 0;
        if (readonly_error_waits(r))
                return readonly_enter(ro, r, "a test file at start");
        /* Not a matter of room: the writes themselves will tell (and fail-stop) if it persists. */
        log_warning_errno(r, "A test write to %s failed: %m", ro->spool_path);
        return 0;
}

const char *readonly_reason(const ReadOnly *ro, char *buf, size_t size) {
        if (!ro->on)
                return NULL;
        snprintf(buf, size, "cannot write to the spool (%s) while writing %s; waiting until %s",
                 strerror(-ro->error), ro->what, readonly_awaits(ro->error));
        return buf;
}

void readonly_done(ReadOnly *ro) {
        ro->timer = sd_event_source_disable_unref(ro->timer);
}
