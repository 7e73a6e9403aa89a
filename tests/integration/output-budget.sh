#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Back-pressure across connections (issue 8 point 3): a user who opens many connections, asks each for the
# status of a big job and reads none of the replies costs the daemon about one budget of unsent output
# (ORCHD_CONTROL_OUTPUT_BUDGET, lowered here to 4 MiB), not one reply per connection: past the budget, that
# user's further calls wait unread. Other users are still answered, and once the client reads, every
# connection gets its whole reply.

TEST_TIMEOUT=${TEST_TIMEOUT:-240}
. "$(dirname "$0")/lib.sh"

PYTHON3=$(PATH=$NODE_PATH:$PATH command -v python3) || bail_out "python3 not found"
abuse() { "$PYTHON3" "$TOP_SRCDIR/tests/integration/control-abuse.py" "$SOCK" "$@"; }
kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$ORCHD_PID/status"; }
reset_peak() { echo 5 >"/proc/$ORCHD_PID/clear_refs" 2>/dev/null || true; }

chmod 0755 "$T" # the socket's directory, for the other user below
ORCHD_CONTROL_OUTPUT_BUDGET=$((4 * 1024 * 1024)) start_orchd

# A 20,000-node job held behind its gate: its status is a reply of a few MB.
"$PYTHON3" -c 'import json, sys
n = {"gate": {"cmd": ["/bin/sh", "-c", "while [ ! -e \"$0\" ]; do sleep 0.05; done", sys.argv[1]]}}
n.update({"n%05d" % i: {"cmd": ["true"], "after": ["gate"]} for i in range(19999)})
json.dump({"nodes": n}, sys.stdout, separators=(",", ":"))' "$W/release" | drop_job big
id=$(job_id_of big) || bail_out "job big not accepted"
size=$(ctl --json status "$id" | wc -c) # the one Status call of this user before the client's
diag "its status is $size bytes"
ok "a status reply is over 2 MiB ($size bytes)" test "$size" -gt $((2 * 1024 * 1024))

# 24 connections of one user, each a Status call, none read: 24 replies would be over 48 MiB.
n=24
reset_peak
rss0=$(kb VmRSS)
abuse fanout "$n" "{\"method\":\"io.orchd.Manager.Status\",\"parameters\":{\"id\":\"$id\"}}" --go "$T/go" \
        >"$T/fanout.out" 2>&1 &
track_bg $!
echo "$!" >"$T/kill/fanout"
ok "the client sent its calls" wait_for 60 grep -qx sent "$T/fanout.out"
# Every call is either answered or held: the daemon logs each call it takes and each connection it holds
# back. Without a budget all 24 would be taken.
accounted() {
        [ $(($(grep -c "Control call io.orchd.Manager.Status from uid $(id -u) " "$T/orchd.log") +
                $(grep -c "Control connection of uid $(id -u) waits" "$T/orchd.log"))) -ge $((n + 1)) ]
}
ok "every call was taken or held back" wait_for 60 accounted
taken=$(($(grep -c "Control call io.orchd.Manager.Status from uid $(id -u) " "$T/orchd.log") - 1))
ok "only a few were taken ($taken of $n)" test "$taken" -lt 6
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
        is_exit 0 "another user is still answered" \
                setpriv --reuid=65534 --regid=65534 --clear-groups "$ORCHCTL" -s "$SOCK" list
else
        skip "another user is still answered" "needs root and setpriv to act as another uid"
fi
grew=$(($(kb VmHWM) - rss0))
# A taken call costs its reply and, while it is built, the JSON tree behind it; 24 would cost over 100 MiB.
# Under AddressSanitizer freed memory stays in its quarantine, so the peak says nothing about what is held.
if ldd "$ORCHD" 2>/dev/null | grep -q libasan; then
        skip "the daemon's peak RSS grew by less than 64 MiB (${grew} kB)" "AddressSanitizer's quarantine"
else
        ok "the daemon's peak RSS grew by less than 64 MiB (${grew} kB), not one reply per connection" \
                test "$grew" -lt $((64 * 1024))
fi
touch "$T/go"
ok "once the client reads, it is done" wait_for 120 grep -q replies "$T/fanout.out"
is "$(sed -n 2p "$T/fanout.out")" "replies=$n errors=0" "every connection got its whole reply"
is_exit 0 "the job can be cancelled" ctl cancel "$id"
touch "$W/release"
stop_orchd
is "$ORCHD_STATUS" 0 "orchd exits 0 on SIGTERM"
done_testing
