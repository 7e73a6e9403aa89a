#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# An orchd that cannot start its orchd-keeper (a broken installation: the binary is missing) must not fail
# the users' nodes for it, nor blame their commands: each node waits in retry_wait (spawn:EHOSTDOWN), the
# log says the keeper is what is missing (at most once a second, not once a node), and once the keeper is
# there the nodes run, once each, with no client call and no attempt spent. Liveness is read from a ledger
# the nodes write, never from the socket.

. "$(dirname "$0")/lib.sh"

real_keeper=$ORCHD_KEEPER
mkdir -p "$W/kbin"
export ORCHD_KEEPER=$W/kbin/orchd-keeper # not there yet
: >"$W/ledger"
cat >"$W/node" <<EOF2
#!/bin/sh
echo "ran \$1 \$ORCH_ATTEMPT" >>"$W/ledger"
EOF2
chmod +x "$W/node"

t0=$(date +%s)
start_orchd
ok "orchd says at its start that no node will start" grep -q "Cannot run $ORCHD_KEEPER, so no node will start" "$T/orchd.log"
drop_job missing <<EOF2
{ "nodes": { "a": { "cmd": ["$W/node", "a"], "retry": { "attempts": 1 } },
             "b": { "cmd": ["$W/node", "b"] },
             "c": { "cmd": ["$W/node", "c"], "after": ["a", "b"] } } }
EOF2
id=$(job_id_of missing) || bail_out "job not accepted"
ok "the nodes wait, their owner's keeper missing" \
        wait_for 30 grep -q "node a: cannot start attempt 1: no orchd-keeper for its owner" "$T/orchd.log"
# A few rounds of retries, seen in the log (not timed): each round tries to start the keeper once at most.
keeper_tries() { grep -c "Cannot start $ORCHD_KEEPER" "$T/orchd.log"; }
tried() { [ "$(keeper_tries)" -ge "$1" ]; }
wait_for 30 tried 3 || bail_out "no retries"
is "$(node_field "$id" a state) $(node_field "$id" a reason)" "retry_wait spawn:EHOSTDOWN" \
        "status: a waits in retry_wait with reason spawn:EHOSTDOWN"
is "$(job_field "$id" state)" running "the job is not failed"
ok "no node is blamed for the missing keeper" bash -c "! grep -q \"cannot start '$W/node'\" '$T/orchd.log'"
elapsed=$(($(date +%s) - t0 + 1))
starts=$(keeper_tries)
ok "the keeper's absence is logged at most once a second ($starts times in ≤ $elapsed s), not once a node" \
        test "$starts" -le "$elapsed"
is "$(wc -l <"$W/ledger")" 0 "nothing ran"

cp "$real_keeper" "$ORCHD_KEEPER"
ok "once the keeper is installed, the job succeeds with no client call" wait_for 60 disk_job_is "$id" succeeded
is "$(cut -d' ' -f2 "$W/ledger" | sort | tr '\n' ' ')" "a b c " "each node ran once"
# a may run once only (retry.attempts 1): the rounds it waited for the keeper were not counted against it.
is "$(node_field "$id" a state)" succeeded "a's wait spent none of its attempts"
stop_orchd
done_testing
