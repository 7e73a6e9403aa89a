#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A node's start rides with the commit of the next end (issue 12: one durable commit per chain step, not
# two): orchd spawns the node at once and records its start in the journal only with a later commit, or
# after a short delay (src/daemon/job-journal.c:job_defer_start). Nothing of it may be lost: the attempt is
# in the job's "starts" file before it execs, so an orchd killed with SIGKILL in that window is followed by
# one that adopts the running node from its keeper (it runs once, attempt 1), or, with the keeper gone too,
# reruns it under a new attempt number; the same for a job's first start (the job still queued in the
# journal). A start that must never be lost (on_interrupt "fail") is durable before the node runs; a held
# start is written after the delay with no end to ride on; a Status reply that shows it running waits until
# it is durable; and a job's end rides in one commit with its last node's. The delay is stretched to an hour
# ($ORCHD_START_COMMIT_DELAY_USEC) where the test needs the window open; every node waits on a gate file
# the test creates and every wait polls the world with a bound.

. "$(dirname "$0")/lib.sh"

: >"$W/ledger"
track_pid_file "$W/pids"
cat >"$W/node" <<EOF2
#!/bin/sh
trap '' PIPE
echo \$\$ >>"$W/pids"
echo "start \$1 \$ORCH_ATTEMPT \$\$" >>"$W/ledger"
while [ ! -e "$W/go.\$1" ]; do sleep 0.02; done
echo "end \$1 \$ORCH_ATTEMPT \$\$" >>"$W/ledger"
EOF2
chmod +x "$W/node"

starts_of() { grep -c "^start $1 " "$W/ledger"; }
pid_of() { awk -v n="$1" '$1 == "start" && $2 == n { p = $4 } END { print p }' "$W/ledger"; }
chain_job() { # chain_job NAME NODE [EXTRA]: a quick first node, then NODE on the gate
        drop_job "$1" <<EOF2
{ "nodes": { "first": { "cmd": ["/bin/true"] },
             "$2": { "cmd": ["$W/node", "$2"], "after": ["first"]${3:+, $3} } } }
EOF2
}

held_single() { # held_single NAME NODE: a fresh orchd whose starts are held an hour runs job NAME's one node
        export ORCHD_START_COMMIT_DELAY_USEC=3600000000
        stop_orchd 20
        start_orchd --kill-nodes no
        drop_job "$1" <<EOF2
{ "nodes": { "$2": { "cmd": ["$W/node", "$2"] } } }
EOF2
        id=$(job_id_of "$1") || bail_out "job $1 not accepted"
        wait_for 30 grep -q "^start $2 " "$W/ledger" || bail_out "$2 did not start"
}

# ---- 1. SIGKILL while a start is held: the next orchd adopts the node from its keeper
export ORCHD_START_COMMIT_DELAY_USEC=3600000000
start_orchd --kill-nodes no
chain_job held a
id=$(job_id_of held) || bail_out "job held not accepted"
wait_for 30 grep -q "^start a " "$W/ledger" || bail_out "a did not start"
ok "first's end is durable" wait_for 30 disk_node_is "$id" first succeeded
ok "a runs, its start not in the journal (the window is open)" disk_node_is "$id" a pending
ok "its start is in the starts file" grep -q "^1 1 $(pid_of a) " "$SPOOL/jobs/$id/starts"
kill9_orchd
unset ORCHD_START_COMMIT_DELAY_USEC
ok "SIGKILL of orchd: a runs on" pid_alive "$(pid_of a)"
start_orchd --kill-nodes no
ok "the next orchd takes the start from the starts file" grep -q "node a: attempt 1 was started before orchd" "$T/orchd.log"
ok "and adopts the node" grep -q "node a attempt 1 runs on in its keeper" "$T/orchd.log"
is "$(node_field "$id" a state) $(node_field "$id" a attempts)" "running 1" "status: a is running, attempt 1"
touch "$W/go.a"
is_exit 0 "the job succeeds once a ends" ctl wait "$id" --timeout 30
is "$(starts_of a)" 1 "a ran once"
ok "no log of a second attempt" test ! -e "$SPOOL/jobs/$id/logs/a.2.log"

# ---- 2. the keeper gone too (as after a reboot): on_interrupt reruns it, under a new attempt number
export ORCHD_START_COMMIT_DELAY_USEC=3600000000
stop_orchd 20
start_orchd --kill-nodes no
chain_job lost b
id=$(job_id_of lost) || bail_out "job lost not accepted"
wait_for 30 grep -q "^start b " "$W/ledger" || bail_out "b did not start"
ok "b's start is held" disk_node_is "$id" b pending
kill9_orchd
unset ORCHD_START_COMMIT_DELAY_USEC
pid=$(pid_of b)
for k in $(spool_keepers); do kill -KILL "$k"; done
kill -KILL "$pid" 2>/dev/null
ok "b and its keeper are gone" wait_for 30 eval "! pid_alive $pid"
touch "$W/go.b"
start_orchd --kill-nodes no
is_exit 0 "the job succeeds" ctl wait "$id" --timeout 30
is "$(starts_of b)" 2 "b ran again"
is "$(awk '$1 == "start" && $2 == "b" { print $3 }' "$W/ledger" | tr '\n' ' ')" "1 2 " "as attempt 2: attempt 1 is not reused"

# ---- 3. on_interrupt "fail": the start is durable before the node runs
chain_job strict c '"on_interrupt": "fail"'
id=$(job_id_of strict) || bail_out "job strict not accepted"
wait_for 30 grep -q "^start c " "$W/ledger" || bail_out "c did not start"
ok "c's start was durable before it ran" disk_node_is "$id" c running 1
touch "$W/go.c"
is_exit 0 "the job succeeds" ctl wait "$id" --timeout 30

# ---- 4. a held start is written after the delay with no end to ride on (the default delay)
chain_job slow d
id=$(job_id_of slow) || bail_out "job slow not accepted"
wait_for 30 grep -q "^start d " "$W/ledger" || bail_out "d did not start"
ok "d's start reaches the journal while d runs" wait_for 30 disk_node_is "$id" d running 1
touch "$W/go.d"
is_exit 0 "the job succeeds" ctl wait "$id" --timeout 30

# ---- 5. a Status reply showing a held start waits until it is durable
export ORCHD_START_COMMIT_DELAY_USEC=3600000000
stop_orchd 20
start_orchd --kill-nodes no
chain_job asked e
id=$(job_id_of asked) || bail_out "job asked not accepted"
wait_for 30 grep -q "^start e " "$W/ledger" || bail_out "e did not start"
ok "e's start is held" disk_node_is "$id" e pending
is "$(node_field "$id" e state)" running "status: e is running"
ok "and that is durable once the reply came" disk_node_is "$id" e running 1
touch "$W/go.e"
is_exit 0 "the job succeeds" ctl wait "$id" --timeout 30
unset ORCHD_START_COMMIT_DELAY_USEC

# ---- 6. a job's first start is held too (job and node queued in the journal): adopted after SIGKILL
held_single single f
ok "the job is still queued in the journal" disk_job_is "$id" queued
kill9_orchd
unset ORCHD_START_COMMIT_DELAY_USEC
start_orchd --kill-nodes no
ok "the next orchd adopts f" grep -q "node f attempt 1 runs on in its keeper" "$T/orchd.log"
is "$(job_field "$id" state) $(node_field "$id" f attempts)" "running 1" "status: the job runs, f at attempt 1"
touch "$W/go.f"
is_exit 0 "the job succeeds once f ends" ctl wait "$id" --timeout 30
is "$(starts_of f)" 1 "f ran once"

# ---- 7. the end of a job's last node (it has no dependents) and the job's own end are one commit, with the
# node's held start: one file written, not a segment and then a snapshot
held_single last g
ok "g's start is held" disk_node_is "$id" g pending
files() { ctl --json stats | jq -r .journal.files; }
f0=$(files)
touch "$W/go.g"
ok "the job's end is durable" wait_for 30 disk_job_is "$id" succeeded
ok "with g's end and start" disk_node_is "$id" g succeeded 1
is "$(($(files) - f0))" 1 "in one commit: one file written"
unset ORCHD_START_COMMIT_DELAY_USEC

stop_orchd 20
done_testing
