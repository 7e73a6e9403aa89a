#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Connections kept for administrators (issue 8 point 3): of the 1,024 control connections, the last 8 are
# only for root, the daemon's own user and AdminGroup= members. Eight ordinary uids fill the 1,016 others
# (control-abuse.py holds them open); a ninth is turned away, saying it is the total cap; root's orchctl
# and an AdminGroup= member's (a bare uid carrying the group, as SO_PEERGROUPS reports it) still work.
# Administrators may use the 8 reserved ones and no more: the total cap holds for them too.

TEST_TIMEOUT=${TEST_TIMEOUT:-120}
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null || ! command -v groupadd >/dev/null; then
        skip "connections reserved for administrators" "needs root, setpriv and groupadd"
        done_testing
        exit 0
fi
G=o8rcgrp
lock_accounts
shadow_cmd groupdel "$G" 2>/dev/null
shadow_cmd groupadd "$G" || bail_out "cannot create group $G"
gid=$(getent group "$G" | cut -d: -f3)
trap 'rc=$?; release; [ -z "$ORCHD_PID" ] || stop_orchd 10; shadow_cmd groupdel "$G" 2>/dev/null; (exit $rc); _cleanup' EXIT

# Other uids run the helper from $T; $T holds the socket.
chmod 0755 "$T"
cp "$TOP_SRCDIR/tests/integration/control-abuse.py" "$T/control-abuse.py"
chmod 0644 "$T/control-abuse.py"
PYTHON3=$(PATH=$NODE_PATH:$PATH command -v python3) || bail_out "python3 not found"

hold() { # hold UID N [GROUP]: UID (with supplementary GROUP) keeps N connections, each after a GetInfo call
        local f="$T/hold.$1" groups=--clear-groups
        [ -z "${3:-}" ] || groups=--groups=$3
        setpriv --reuid="$1" --regid="$1" "$groups" env PATH="$NODE_PATH" \
                "$PYTHON3" "$T/control-abuse.py" "$SOCK" hold "$2" --call >"$f" 2>&1 &
        echo "$!" >"$T/kill/hold.$1"
        wait_for 30 grep -q '=' "$f" || diag "holder of uid $1 did not report: $(cat "$f")"
        cat "$f"
}
release() { # release: end every holder
        local f p
        for f in "$T"/kill/hold.*; do
                [ -f "$f" ] || continue
                p=$(cat "$f")
                kill "$p" 2>/dev/null
                _wait_exit "$p" 10
                rm -f "$f"
        done
}
ctl_as() { # ctl_as UID [GROUP] -- ARGS…: orchctl as a bare uid
        local u=$1 groups=--clear-groups
        shift
        [ "$1" = -- ] || groups=--groups=$1
        [ "$1" = -- ] || shift
        shift
        setpriv --reuid="$u" --regid="$u" "$groups" env PATH="$NODE_PATH" "$ORCHCTL" -s "$SOCK" "$@"
}

start_orchd --admin-group "$G"
for u in 60101 60102 60103 60104 60105 60106 60107 60108; do
        hold "$u" 127 >>"$T/holds"
done
is "$(sort -u "$T/holds")" "open=127 closed=0" "eight ordinary uids hold 1,016 connections"
is "$(hold 60109 3)" "open=0 closed=3" "a ninth ordinary uid is turned away"
is_exit 69 "its orchctl too" ctl_as 60110 -- list
like "$(cat "$T/last.err")" "the daemon has 1016 connections open" "saying it is the total cap"
is_exit 0 "root's orchctl still works (a reserved connection)" ctl list
is_exit 0 "an AdminGroup= member's orchctl still works" ctl_as 60111 "$gid" -- list
is "$(hold 60112 9 "$gid")" "open=8 closed=1" "administrators get the 8 reserved connections, no more"
is_exit 69 "with all 1,024 taken, even root is turned away" ctl list
like "$(cat "$T/last.err")" "the daemon has 1024 connections open" "at the total cap"
release
serving() { ctl list >/dev/null 2>&1; }
ok "once the holders are gone, root's orchctl works again" wait_for 10 serving
ok "orchd is still running" pid_alive "$ORCHD_PID"
done_testing
