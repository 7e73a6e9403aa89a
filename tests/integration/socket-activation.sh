#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Socket activation (orchd.socket, issue 4): started by systemd-socket-activate, which binds the control
# socket and passes it ($LISTEN_FDS), orchd serves on that socket instead of binding its own, so the first
# orchctl call starts it and gets its answer.

. "$(dirname "$0")/lib.sh"

command -v systemd-socket-activate >/dev/null ||
        { skip "socket activation" "systemd-socket-activate is missing"; done_testing; exit 0; }

: >"$T/orchd.conf"
# orchd is told to use another path: a passed socket must win over it.
systemd-socket-activate -l "$SOCK" -E ORCHD_KEEPER "$ORCHD" --config "$T/orchd.conf" --spool "$SPOOL" \
        --socket "$T/unused.sock" --log-level debug 2>>"$T/orchd.log" &
ORCHD_PID=$!
wait_for 60 test -S "$SOCK" || bail_out "systemd-socket-activate did not bind $SOCK"

out=$(ctl --json list)
is $? 0 "the first call starts orchd on the passed socket and is answered"
is "$(jq length <<<"$out")" 0 "with an empty job list"
ok "orchd says it uses the passed socket" grep -q "Using the control socket passed by the service manager" "$T/orchd.log"
ok "and did not bind its own path" test ! -e "$T/unused.sock"
drop_job hello <<EOF
{ "nodes": { "a": { "cmd": ["true"] } } }
EOF
id=$(job_id_of hello) || bail_out "job not accepted"
is_exit 0 "a job runs through it" wait_job "$id"
stop_orchd
is "$ORCHD_STATUS" 0 "orchd stops cleanly"
done_testing
