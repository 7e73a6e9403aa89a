#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A start through orchd-keeper is asynchronous (src/daemon/keeper-client.h): orchd sends START and goes on,
# and the keeper's STARTED or FAILED comes later. While the answer is outstanding the attempt is running to
# everyone else, so whatever can happen to a running attempt can happen to it. The keeper is held with
# SIGSTOP, so the answer is outstanding for as long as the test needs (no timing window):
#   1. a cancel that crosses the START: the keeper spawns the node, then stops it; the job ends cancelled
#      and no execution is left;
#   2. a keeper that answers none of its starts for 30 s is given up (killed), and the node's retry runs
#      in a new keeper: the job succeeds with no client call. Liveness is read from a ledger the nodes
#      write and from the log, never from the socket;
#   3. the same of a keeper a previous orchd started, recovered by this one (it once had no timeout).

. "$(dirname "$0")/lib.sh"

: >"$W/ledger"
cat >"$W/node" <<EOF
#!/bin/sh
echo "start \$1 \$ORCH_ATTEMPT \$\$" >>"$W/ledger"
while [ ! -e "$W/gate.\$1" ]; do "$W/sleep" 0.01; done
EOF
chmod +x "$W/node"

sent() { # sent ID NODE ATTEMPT: orchd logged that the attempt's START went to its keeper
        grep -q "Job $1 node $2: attempt $3 sent to its keeper" "$T/orchd.log"
}

start_orchd
drop_job warm <<EOF
{ "name": "warm", "nodes": { "w": { "cmd": ["/bin/true"] } } }
EOF
id=$(job_id_of warm) || bail_out "job warm not accepted"
is_exit 0 "a first job runs (its owner's keeper starts)" wait_job "$id"
kp=$(keeper_pid)
[ -n "$kp" ] || bail_out "no orchd-keeper runs"

# ---- 1. a cancel crosses the START
kill -STOP "$kp"
drop_job crossed <<EOF
{ "name": "crossed", "nodes": { "c": { "cmd": ["$W/node", "c"] } } }
EOF
id=$(job_id_of crossed) || bail_out "job crossed not accepted"
ok "orchd sent c's START to the stopped keeper" wait_for 30 sent "$id" c 1
is "$(node_field "$id" c state)" running "status: c is running (its start is not answered yet)"
is_exit 0 "cancel the job while its keeper has not answered" ctl cancel "$id"
kill -CONT "$kp"
is_exit 2 "the job ends cancelled" wait_job "$id"
expect_node "$id" c cancelled cancelled
ok "the keeper ran c, then stopped it: no execution of c is left" \
        bash -c "for p in \$(awk '\$2 == \"c\" { print \$4 }' '$W/ledger'); do ! kill -0 \$p 2>/dev/null || exit 1; done"
ok "the keeper is the same one (it answered in order, nothing broke)" pid_alive "$kp"

# ---- 2. a keeper that answers no start for 30 s is given up
# given_up KEEPER NODE WHAT: with KEEPER stopped, a job whose node NODE may retry once is dropped; orchd gives
# KEEPER up after 30 s without an answer and kills it, and the retry runs in a new keeper (sets id).
given_up() {
        local kp=$1 n=$2 what=$3
        kill -STOP "$kp"
        open_gate "$n"
        drop_job "stalled-$n" <<EOF
{ "nodes": { "$n": { "cmd": ["$W/node", "$n"], "retry": { "attempts": 2, "delay": 0 } } } }
EOF
        id=$(job_id_of "stalled-$n") || bail_out "job stalled-$n not accepted"
        ok "orchd sent $n's START to the stopped $what" wait_for 30 sent "$id" "$n" 1
        ok "after 30 s without an answer orchd gives the $what up" \
                wait_for 60 grep -q "orchd-keeper of uid 0 (pid $kp) answered none of its 1 pending start(s) for 30 s" \
                "$T/orchd.log"
        ok "and kills it" wait_for 10 eval "! pid_alive $kp"
        ok "$n's retry runs in a new keeper: the job succeeds with no client call" \
                wait_for 60 disk_job_is "$id" succeeded
        is "$(awk -v n="$n" '$2 == n { print $3 }' "$W/ledger" | tr '\n' ' ')" "2 " "$n ran once, as attempt 2"
}

given_up "$kp" s keeper
expect_node "$id" s succeeded null
isnt "$(keeper_pid)" "$kp" "a new keeper runs"

# ---- 3. the same of a keeper the previous orchd started (recovered, not our child)
drop_job held <<EOF
{ "name": "held", "nodes": { "h": { "cmd": ["$W/node", "h"] } } }
EOF
id=$(job_id_of held) || bail_out "job held not accepted"
wait_for 30 grep -q "^start h " "$W/ledger" || bail_out "h did not start"
stop_orchd
start_orchd
ok "the restarted orchd recovered the keeper that runs h" grep -q "Found orchd-keeper of uid 0 (pid [0-9]*) running 1 attempt" "$T/orchd.log"
open_gate h
is_exit 0 "h ends in it, the job succeeds" wait_job "$id"
kp=$(spool_keepers | head -1)
[ -n "$kp" ] || bail_out "no keeper of this spool runs"
given_up "$kp" t "recovered keeper (killed through its pidfd)"
stop_orchd
done_testing
