/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * sd_notify(3) to the service manager: READY=1 once recovery is done and the
 * socket listens, a live STATUS= line, STOPPING=1 and RELOADING=1. All are
 * no-ops without $NOTIFY_SOCKET. WATCHDOG=1 pings come from the event loop
 * itself (sd_event_set_watchdog in manager.c), so a stuck loop stops them.
 */

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

/* What the STATUS= line says. */
typedef struct NotifyCounts {
        uint64_t running, queued, finished; /* jobs: started and unfinished (or paused), waiting, final */
        uint64_t loading;                   /* jobs found at start not loaded yet */
        uint64_t nodes_running;
        bool read_only; /* the spool cannot be written (readonly.h) */
} NotifyCounts;

/* The status updates: the owner (the manager) fills event, counts and userdata; the timer is notify.c's. */
typedef struct Notifier {
        sd_event *event;                                   /* borrowed */
        void (*counts)(NotifyCounts *ret, void *userdata); /* fills the figures now */
        void *userdata;
        sd_event_source *timer;
} Notifier;

/* READY=1 with the current STATUS=, and start refreshing STATUS= once a second while it changes. */
int notify_ready(Notifier *nt);
/* Stop the status updates (the timer). */
void notify_done(Notifier *nt);
/* RELOADING=1 (with MONOTONIC_USEC=, as systemd ≥ 253 wants); notify_ready() ends the reload. */
void notify_reloading(void);
/* STOPPING=1 and a STATUS= saying what is left to stop, or (detach: KillNodes=no) what runs on. */
void notify_stopping(unsigned nodes_running, bool detach);
