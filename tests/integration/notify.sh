#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# sd_notify (issue 4): with $NOTIFY_SOCKET set, orchd says READY=1 once recovery is done and the socket
# listens, keeps STATUS= current (job and node counts), pings WATCHDOG=1 from its event loop when
# $WATCHDOG_USEC asks for it, says RELOADING=1 then READY=1 around a SIGHUP reload, and STOPPING=1 when
# told to stop. A stand-in for systemd receives the datagrams (notify-listen.py).

. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { skip "sd_notify" "python3 is missing"; done_testing; exit 0; }
out=$T/notify.out
python3 "$(dirname "$0")/notify-listen.py" "$T/notify.sock" "$out" 2>"$T/notify.err" &
listener=$!
track_bg $listener
# Python's start-up under load has no bound worth guessing: wait until the listener says it listens or has
# died (the watchdog bounds a hang), not for a fixed few seconds.
listener_settled() { grep -q listening "$out" 2>/dev/null || ! pid_alive "$listener"; }
wait_for "$TEST_TIMEOUT" listener_settled
grep -q listening "$out" 2>/dev/null || bail_out "notify listener did not start: $(cat "$T/notify.err")"

has() { grep -q -- "$1" "$out"; }

NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=400000 start_orchd
ok "READY=1 with a status line" wait_for 20 has "^READY=1 | STATUS=0 jobs running, 0 queued, 0 finished; 0 nodes running$"
ok "WATCHDOG=1 pings from the event loop" wait_for 20 has "^WATCHDOG=1$"
n1=$(grep -c "^WATCHDOG=1$" "$out")
more_pings() { [ "$(grep -c "^WATCHDOG=1$" "$out")" -gt "$n1" ]; }
ok "and they keep coming (more than $n1)" wait_for 10 more_pings

drop_job sleeper <<EOF
{ "nodes": { "s": { "cmd": ["/bin/sh", "-c", "touch $W/started; while [ ! -e $W/go ]; do $W/sleep 0.05; done"] } } }
EOF
id=$(job_id_of sleeper) || bail_out "job not accepted"
wait_for 10 test -e "$W/started" || bail_out "node did not start"
ok "STATUS= follows a running job" wait_for 20 has "^STATUS=1 jobs running, 0 queued, 0 finished; 1 nodes running$"
touch "$W/go"
is_exit 0 "the job ends" wait_job "$id"
ok "and STATUS= counts it finished" wait_for 20 has "^STATUS=0 jobs running, 0 queued, 1 finished; 0 nodes running$"

kill -HUP "$ORCHD_PID"
ok "SIGHUP: RELOADING=1 with MONOTONIC_USEC" wait_for 20 has "^RELOADING=1 | MONOTONIC_USEC=[0-9]*$"
ok "then READY=1 again" wait_for 20 sh -c "grep -A3 '^RELOADING=1' '$out' | grep -q '^READY=1'"

stop_orchd
is "$ORCHD_STATUS" 0 "orchd stops with status 0"
ok "STOPPING=1 on SIGTERM" has "^STOPPING=1 | STATUS=Stopping"
kill "$listener" 2>/dev/null
wait "$listener" 2>/dev/null
done_testing
