/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * sd_notify(3) to the service manager: READY=1 once recovery is done and the
 * socket listens, a live STATUS= line, STOPPING=1 and RELOADING=1. All are
 * no-ops without $NOTIFY_SOCKET. WATCHDOG=1 pings come from the event loop
 * itself (sd_event_set_watchdog in manager.c), so a stuck loop stops them.
 */

typedef struct Manager Manager;

/* READY=1 with the current STATUS=, and start refreshing STATUS= once a second while it changes. */
int notify_ready(Manager *m);
/* RELOADING=1 (with MONOTONIC_USEC=, as systemd ≥ 253 wants); notify_ready() ends the reload. */
void notify_reloading(void);
/* STOPPING=1 and a STATUS= saying what is left to stop. */
void notify_stopping(Manager *m);
