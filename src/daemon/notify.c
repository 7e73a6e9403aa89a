/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * notify.c — what orchd tells systemd (sd_notify): readiness, a live status
 * line ("2 jobs running, 12 queued, 1,204 finished; 3 nodes running"),
 * stopping and reloading. The status is recomputed once a second and sent
 * only when it changed, so an idle daemon sends nothing.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"
#include "time-util.h"

#define STATUS_INTERVAL_USEC USEC_PER_SEC
#define STATUS_MAX 160

/* 1204 → "1,204": the counts can be large and are read by people. */
static const char *grouped(uint64_t v, char buf[static 32]) {
        char digits[24];
        int n = snprintf(digits, sizeof(digits), "%" PRIu64, v), k = 0;

        for (int i = 0; i < n; i++) {
                if (i > 0 && (n - i) % 3 == 0)
                        buf[k++] = ',';
                buf[k++] = digits[i];
        }
        buf[k] = '\0';
        return buf;
}

static void status_line(const NotifyCounts *n, char *buf, size_t size) {
        char a[32], b[32], c[32], d[32], e[32], loading[64] = "";

        if (n->loading > 0) /* orchd(8), RECOVERY */
                snprintf(loading, sizeof(loading), "LOADING %s jobs found at start; ",
                         grouped(n->loading, e));
        /* systemctl status shows this line: say first why nothing starts (orchd(8), DISK FULL). */
        snprintf(buf, size, "%s%s%s jobs running, %s queued, %s finished; %s nodes running",
                 n->read_only ? "READ-ONLY, cannot write to the spool; " : "", loading,
                 grouped(n->running, a), grouped(n->queued, b), grouped(n->finished, c),
                 grouped(n->nodes_running, d));
}

static int send_status(Notifier *nt, const char *prefix) {
        static char last[STATUS_MAX];
        char line[STATUS_MAX], msg[STATUS_MAX + 64];
        NotifyCounts n = {};

        nt->counts(&n, nt->userdata);
        status_line(&n, line, sizeof(line));
        if (!prefix && streq(line, last))
                return 0;
        memcpy(last, line, sizeof(last));
        snprintf(msg, sizeof(msg), "%sSTATUS=%s", prefix ?: "", line);
        return sd_notify(false, msg);
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Notifier *nt = userdata;

        (void) send_status(nt, NULL);
        (void) sd_event_source_set_time(s, usec + STATUS_INTERVAL_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

int notify_ready(Notifier *nt) {
        int r;

        (void) send_status(nt, "READY=1\n");
        if (nt->timer || !getenv("NOTIFY_SOCKET"))
                return 0;
        r = sd_event_add_time_relative(nt->event, &nt->timer, CLOCK_MONOTONIC, STATUS_INTERVAL_USEC,
                                       USEC_PER_SEC / 10, on_status_timer, nt);
        if (r < 0)
                log_warning_errno(r, "Failed to start status updates for the service manager: %m");
        return 0;
}

void notify_done(Notifier *nt) {
        nt->timer = sd_event_source_disable_unref(nt->timer);
}

void notify_reloading(void) {
        char msg[64];

        snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, now_usec(CLOCK_MONOTONIC));
        (void) sd_notify(false, msg);
}

void notify_stopping(unsigned nodes_running, bool detach) {
        char msg[112];

        snprintf(msg, sizeof(msg), "STOPPING=1\nSTATUS=Stopping: %u node(s) %s", nodes_running,
                 detach ? "run on in their orchd-keeper" : "to stop and record");
        (void) sd_notify(false, msg);
}
