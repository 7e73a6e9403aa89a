/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * RUN_UNTIL(e, cond): run the sd-event loop e until cond holds, for the unit tests that drive a real loop
 * with real threads (committer, reader). Bounded, so that a hang fails the test, but generously (120 s):
 * the bound only catches a hang, never a slow machine; on a loaded CI disk 2,000 fsyncs once took over
 * 10 s. Needs cmocka.h, systemd/sd-event.h and time-util.h.
 */

#define RUN_UNTIL(e, cond)                                                           \
        do {                                                                         \
                uint64_t deadline_ = now_usec(CLOCK_MONOTONIC) + 120 * USEC_PER_SEC; \
                while (!(cond)) {                                                    \
                        if (now_usec(CLOCK_MONOTONIC) > deadline_)                   \
                                fail_msg("timed out waiting for %s", #cond);         \
                        assert_true(sd_event_run((e), 100 * USEC_PER_MSEC) >= 0);    \
                }                                                                    \
        } while (false)
