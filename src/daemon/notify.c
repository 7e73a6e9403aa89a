/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * notify.c — what orchd tells systemd (sd_notify): readiness, a live status
 * line ("2 jobs running, 12 queued, 1,204 finished; 3 nodes running"),
 * stopping and reloading. The status is recomputed once a second and sent
 * only when it changed, so an idle daemon sends nothing.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "manager.h"
#include "notify.h"

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

static void status_line(Manager *m, char *buf, size_t size) {
        uint64_t running = 0, queued = 0, finished = 0;
        char a[32], b[32], c[32], d[32], e[32], loading[64] = "";

        for (size_t i = 0; i < m->n_jobs; i++) {
                JobState s = m->jobs[i]->run->state;

                if (job_state_is_final(s))
                        finished++;
                else if (s == JOB_QUEUED)
                        queued++;
                else
                        running++; /* running or paused: started and not finished */
        }
        if (manager_loading(m) > 0) /* orchd(8), RECOVERY */
                snprintf(loading, sizeof(loading), "LOADING %s jobs found at start; ",
                         grouped(manager_loading(m), e));
        /* systemctl status shows this line: say first why nothing starts (orchd(8), DISK FULL). */
        snprintf(buf, size, "%s%s%s jobs running, %s queued, %s finished; %s nodes running",
                 m->read_only.on ? "READ-ONLY, cannot write to the spool; " : "", loading,
                 grouped(running, a), grouped(queued, b), grouped(finished, c), grouped(m->n_running, d));
}

static int send_status(Manager *m, const char *prefix) {
        static char last[STATUS_MAX];
        char line[STATUS_MAX], msg[STATUS_MAX + 64];

        status_line(m, line, sizeof(line));
        if (!prefix && streq(line, last))
                return 0;
        memcpy(last, line, sizeof(last));
        snprintf(msg, sizeof(msg), "%sSTATUS=%s", prefix ?: "", line);
        return sd_notify(false, msg);
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        (void) send_status(m, NULL);
        (void) sd_event_source_set_time(s, usec + STATUS_INTERVAL_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

int notify_ready(Manager *m) {
        int r;

        (void) send_status(m, "READY=1\n");
        if (m->status_timer || !getenv("NOTIFY_SOCKET"))
                return 0;
        r = sd_event_add_time_relative(m->event, &m->status_timer, CLOCK_MONOTONIC, STATUS_INTERVAL_USEC,
                                       USEC_PER_SEC / 10, on_status_timer, m);
        if (r < 0)
                log_warning_errno(r, "Failed to start status updates for the service manager: %m");
        return 0;
}

void notify_reloading(void) {
        char msg[64];

        snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, now_usec(CLOCK_MONOTONIC));
        (void) sd_notify(false, msg);
}

void notify_stopping(Manager *m) {
        char msg[96];

        snprintf(msg, sizeof(msg), "STOPPING=1\nSTATUS=Stopping: %u node(s) to stop and record", m->n_running);
        (void) sd_notify(false, msg);
}
