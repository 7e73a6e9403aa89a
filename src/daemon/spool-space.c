/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spool-space.c — when intake waits: below the MinFreeSpace= floor or after
 * running out of space nothing more is claimed until a re-check (a timer, or a
 * job's end: spool_kick()) finds room; after a transient failure (EIO, EMFILE,
 * ...) intake is rescanned on a backing-off timer; spool_hold() stops intake
 * while the daemon cannot write (read-only mode).
 */

#include "spool-internal.h"

/* ---- free space (MinFreeSpace=) ------------------------------------------------------------------ */

/* The spool's free space against the floor. Returns 0 (room, or no floor), or -ENOSPC with the figures. */
static int spool_check_floor(Spool *s, uint64_t *ret_free, uint64_t *ret_floor) {
        struct statvfs sv;
        uint64_t floor, free;

        *ret_free = *ret_floor = 0;
        if (s->min_free_bytes == 0 && s->min_free_percent == 0)
                return 0;
        if (fstatvfs(s->spool_fd, &sv) < 0)
                return 0; /* cannot tell: let the writes themselves find out */
        /* f_bavail, not f_bfree: what is left once users have filled their share; the reserve for root
         * (ext4's 5%) stays for recording the ends of running jobs. */
        free = (uint64_t) sv.f_bavail * sv.f_frsize;
        floor = MAX(s->min_free_bytes, (uint64_t) sv.f_blocks * sv.f_frsize / 100 * s->min_free_percent);
        *ret_free = free;
        *ret_floor = floor;
        if (free < floor || (sv.f_files > 0 && sv.f_favail < MIN_FREE_INODES))
                return -ENOSPC;
        return 0;
}

uint64_t spool_floor_bytes(Spool *s) {
        uint64_t free, floor;

        (void) spool_check_floor(s, &free, &floor);
        return floor;
}

static int spool_on_space_timer(sd_event_source *src, uint64_t usec, void *userdata);

void spool_set_full(Spool *s, int error) {
        uint64_t free, floor;

        s->full = true;
        if (!s->full_announced) {
                s->full_announced = true;
                if (spool_check_floor(s, &free, &floor) < 0)
                        log_warning(
                                "The filesystem of %s has %" PRIu64
                                " MiB free, below MinFreeSpace= (%" PRIu64
                                " MiB) or out of inodes: new jobs wait in new/ and Submit is refused until "
                                "there "
                                "is room again; running jobs go on.",
                                s->path, free >> 20, floor >> 20);
                else
                        log_warning_errno(
                                error,
                                "Out of space on the filesystem of %s while taking in a job file (%m): "
                                "new jobs wait in new/ and Submit is refused until there is room again; "
                                "running jobs go on.",
                                s->path);
        }
        if (!s->space_timer) {
                if (sd_event_add_time_relative(s->event, &s->space_timer, CLOCK_MONOTONIC,
                                               SPACE_RECHECK_USEC, USEC_PER_SEC / 10, spool_on_space_timer,
                                               s) < 0)
                        s->full = false; /* no re-check without the timer: look again at each file instead */
                else
                        (void) sd_event_source_set_description(s->space_timer, "spool-space");
        } else {
                (void) sd_event_source_set_time_relative(s->space_timer, SPACE_RECHECK_USEC);
                (void) sd_event_source_set_enabled(s->space_timer, SD_EVENT_ONESHOT);
        }
}

bool spool_has_room(Spool *s) {
        uint64_t free, floor;
        int r;

        if (s->full || s->held)
                return false;
        r = spool_check_floor(s, &free, &floor);
        if (r < 0) {
                spool_set_full(s, r);
                return false;
        }
        return true;
}

static int spool_on_space_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        Spool *s = userdata;
        uint64_t free, floor;

        if (spool_check_floor(s, &free, &floor) < 0) {
                spool_set_full(s, -ENOSPC);
                return 0;
        }
        s->full = false;
        (void) spool_rescan(s);
        /* Announce the end only if the rescan did not run out again, so a filesystem that stays too full for
         * the next job does not log twice every re-check. */
        if (!s->full && s->full_announced) {
                s->full_announced = false;
                log_notice("Room again on the filesystem of %s: taking the jobs that waited.", s->path);
        }
        return 0;
}

bool spool_out_of_space(int r) {
        return r == -ENOSPC || r == -EDQUOT;
}

static int spool_on_retry_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        Spool *s = userdata;

        (void) spool_rescan(s);
        return 0;
}

void spool_retry_later(Spool *s, int error) {
        int enabled = SD_EVENT_OFF;

        if (s->retry_timer && sd_event_source_get_enabled(s->retry_timer, &enabled) >= 0 &&
            enabled != SD_EVENT_OFF)
                return;
        if (fd_shortage(error)) /* said once per armed retry, not per file */
                log_warning_errno(
                        error,
                        "Out of file descriptors while taking in job files (%m); they wait and are "
                        "taken in a moment. Raise LimitNOFILE= or lower MaxParallel= if this persists.");
        s->retry_usec = MIN(MAX(s->retry_usec * 2, RETRY_MIN_USEC), RETRY_MAX_USEC);
        if (!s->retry_timer) {
                if (sd_event_add_time_relative(s->event, &s->retry_timer, CLOCK_MONOTONIC, s->retry_usec,
                                               USEC_PER_SEC / 10, spool_on_retry_timer, s) >= 0)
                        (void) sd_event_source_set_description(s->retry_timer, "spool-retry");
                return;
        }
        (void) sd_event_source_set_time_relative(s->retry_timer, s->retry_usec);
        (void) sd_event_source_set_enabled(s->retry_timer, SD_EVENT_ONESHOT);
}

void spool_note_result(Spool *s, int r) {
        if (spool_out_of_space(r))
                spool_set_full(s, r);
        else if (r < 0)
                spool_retry_later(s, r);
        else
                s->retry_usec = 0;
}

void spool_kick(Spool *s) {
        if (!s->full || !s->space_timer)
                return;
        (void) sd_event_source_set_time_relative(s->space_timer, 0);
        (void) sd_event_source_set_enabled(s->space_timer, SD_EVENT_ONESHOT);
}

void spool_hold(Spool *s, bool hold) {
        bool was = s->held;

        s->held = hold;
        if (was && !hold)
                (void) spool_rescan(s);
}

void spool_set_min_free(Spool *s, uint64_t bytes, unsigned percent) {
        s->min_free_bytes = bytes;
        s->min_free_percent = percent;
        spool_kick(s); /* a lower floor may let waiting jobs in */
}
