#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The journal across restarts (issue 12, KillNodes=no): a node whose output goes on while orchd is stopped
# with SIGTERM and then killed with -9 has every line in the journal exactly once (its keeper forwards
# them, also while no orchd runs), in order, and in its log file exactly once; while orchd runs the entries
# carry orchd's _PID (the keeper sends them in orchd's name). Against a real systemd-journald started by
# tests/journald.sh (root only; skipped otherwise, saying why). Every query is limited to entries after a
# cursor taken at the start and to this spool's ORCH_SPOOL. The node prints on gate files the test creates.

: "${TEST_TIMEOUT:=180}"
. "$(dirname "$0")/lib.sh"

use_journald

CURSOR=$(journalctl -n 0 --show-cursor -q 2>/dev/null | sed -n 's/^-- cursor: //p')

# Two lines, wait for go.1; two more, wait for go.2; the last one.
cat >"$W/node" <<EOF
#!/bin/sh
echo "line 1"
echo "line 2"
while [ ! -e "$W/go.1" ]; do sleep 0.02; done
echo "line 3"
echo "line 4"
while [ ! -e "$W/go.2" ]; do sleep 0.02; done
echo "line 5"
EOF
chmod +x "$W/node"
log_has() { # log_has N: the node's log file has at least N lines
        [ "$(grep -c '' "$SPOOL/jobs/$id/logs/n.1.log" 2>/dev/null)" -ge "$1" ] 2>/dev/null
}

start_orchd
spool_id=$(cat "$SPOOL/spool-id")
pid1=$ORCHD_PID
drop_job chatty <<EOF
{ "nodes": { "n": { "cmd": ["$W/node"] } } }
EOF
id=$(job_id_of chatty) || bail_out "job not accepted"
wait_for 30 log_has 2 || bail_out "the node did not print its first lines"
stop_orchd 20
touch "$W/go.1" # lines 3 and 4 while no orchd runs
ok "lines 3 and 4 reach the log while orchd is down" wait_for 30 log_has 4
start_orchd
ok "the next orchd adopts the node" grep -q "node n attempt 1 runs on in its keeper" "$T/orchd.log"
kill9_orchd
start_orchd
pid3=$ORCHD_PID
touch "$W/go.2" # line 5 under the third orchd
is_exit 0 "the job succeeds" ctl wait "$id" --timeout 30

is "$(tr '\n' ' ' <"$SPOOL/jobs/$id/logs/n.1.log")" "line 1 line 2 line 3 line 4 line 5 " \
        "the log file has every line once, in order"
node_entries() {
        journalctl --sync
        journalctl -q -a -o json ${CURSOR:+--cursor="$CURSOR"} ORCH_SPOOL="$spool_id" ORCH_JOB="$id" ORCH_NODE=n \
                ORCH_STREAM=output
}
# The job's end is sent after its output (the keeper holds a node's END until journald has its lines).
wait_for 30 sh -c "journalctl --sync; journalctl -q -o cat ${CURSOR:+--cursor=$CURSOR} ORCH_SPOOL=$spool_id ORCH_JOB=$id ORCH_NODE=n ORCH_STREAM=output | grep -qx 'line 5'" ||
        diag "line 5 did not reach the journal"
node_entries >"$W/entries.json"
is "$(jq -r .MESSAGE <"$W/entries.json" | tr '\n' ' ')" "line 1 line 2 line 3 line 4 line 5 " \
        "the journal has every line exactly once, in order, across a SIGTERM stop and a kill -9"
is "$(jq -r 'select(.MESSAGE == "line 1" or .MESSAGE == "line 2") | ._PID' <"$W/entries.json" | sort -u)" "$pid1" \
        "the lines sent while the first orchd ran carry its _PID"
is "$(jq -r 'select(.MESSAGE == "line 5") | ._PID' <"$W/entries.json")" "$pid3" \
        "the line sent under the third orchd carries its _PID"
stop_orchd 20
done_testing
