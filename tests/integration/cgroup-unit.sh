#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# orchd as root in a service's delegated cgroup (orchd(8), ISOLATION): the test shell moves itself into a
# cgroup of its own marked trusted.delegate, as systemd marks a Delegate=yes unit's, and starts orchd
# there. orchd must not build its subtree in that cgroup: systemd puts a restarted service back into it,
# which the kernel refuses while controllers are enabled there and nodes that outlived the last orchd run
# below (219/CGROUP). So BASE is MOUNT/orchd-ID beside it; orchd and its keepers stay in the unit's cgroup,
# which gets no child and no controller; a node runs in BASE, outlives a SIGTERM stop, and the next orchd,
# started in the unit's cgroup again, adopts it. Liveness is read from a ledger and /proc.

. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (cgroups, the trusted.delegate mark)"; exit 0; }
MOUNT=$(cgroup2_mount)
[ -n "$MOUNT" ] || { echo "1..0 # SKIP no cgroup2 mount"; exit 0; }
ORIGIN=$(sed -n 's/^0:://p' /proc/self/cgroup)
[ -n "$ORIGIN" ] || { echo "1..0 # SKIP /proc/self/cgroup names no cgroup2 path"; exit 0; }

UNIT=$MOUNT$ORIGIN/orchd-test-unit.$$
UNIT=${UNIT/\/\///}
REL=${UNIT#"$MOUNT"}
unit_cleanup() { # the shell back where it was; whatever is left in the unit's cgroup killed; the cgroup removed
        local i
        echo $$ >"$MOUNT$ORIGIN/cgroup.procs" 2>/dev/null
        [ -d "$UNIT" ] || return 0
        echo 1 >"$UNIT/cgroup.kill" 2>/dev/null
        for i in $(seq 250); do rmdir "$UNIT" 2>/dev/null && return 0; sleep 0.02; done
        diag "cannot remove $UNIT"
}
# Before lib.sh's cleanup: orchd and its keepers live in the unit's cgroup, so stop them first, then empty it.
trap 'r=$?; [ -z "$ORCHD_PID" ] || stop_orchd 10; _kill_keepers; unit_cleanup; (exit $r); _cleanup' EXIT
mkdir "$UNIT" || bail_out "cannot make $UNIT"
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "trusted.delegate", b"1")' "$UNIT" ||
        bail_out "cannot mark $UNIT trusted.delegate"
echo $$ >"$UNIT/cgroup.procs" || bail_out "cannot move the test shell into $UNIT"

: >"$W/ledger"
track_pid_file "$W/pids"
cat >"$W/node" <<EOF
#!/bin/sh
echo \$\$ >>"$W/pids"
echo "start \$ORCH_ATTEMPT \$\$" >>"$W/ledger"
while [ ! -e "$W/go" ]; do sleep 0.02; done
echo "end \$ORCH_ATTEMPT \$\$" >>"$W/ledger"
EOF
chmod +x "$W/node"
cg_of() { sed -n 's/^0:://p' "/proc/$1/cgroup"; }

start_orchd --kill-nodes no
BASE=$MOUNT/orchd-$(head -c 16 "$SPOOL/spool-id")
like "$(grep -a 'Isolation' "$T/orchd.log")" "Isolation: cgroup v2 below $BASE" \
        "in a delegated cgroup, orchd as root builds its subtree beside it: $BASE"
is "$(cg_of "$ORCHD_PID")" "$REL" "orchd stays in the unit's cgroup"
drop_job one <<EOF
{ "nodes": { "a": { "cmd": ["$W/node"] }, "b": { "cmd": ["/bin/true"], "after": ["a"] } } }
EOF
id=$(job_id_of one) || bail_out "job not accepted"
wait_for 30 grep -q "^start 1 " "$W/ledger" || bail_out "a did not start"
pid=$(awk '$1 == "start" { print $3 }' "$W/ledger")
is "$(cg_of "$pid")" "${BASE#"$MOUNT"}/user-0/job-$id/a.1" "the node runs in BASE/user-0/job-$id/a.1"
k=$(spool_keepers)
is "$(cg_of "$k")" "$REL" "its keeper runs in the unit's cgroup"
is "$(find "$UNIT" -mindepth 1 -type d | wc -l)" 0 "the unit's cgroup has no child cgroup"
is "$(cat "$UNIT/cgroup.subtree_control")" "" "and no controller enabled"

stop_orchd 20
is "$ORCHD_STATUS" 0 "SIGTERM: orchd exits 0 with the node running"
ok "the node runs on" pid_alive "$pid"
is "$(cg_of "$k")" "$REL" "its keeper too, in the unit's cgroup"
is "$(cat "$UNIT/cgroup.subtree_control")" "" "which still has no controller enabled: a new process may join it"
start_orchd --kill-nodes no
is "$(cg_of "$ORCHD_PID")" "$REL" "the next orchd starts in the unit's cgroup, as systemd would put it"
ok "and adopts the node" grep -q "node a attempt 1 runs on in its keeper" "$T/orchd.log"
touch "$W/go"
is_exit 0 "the job succeeds once a ends" ctl wait "$id" --timeout 30
is "$(grep -c '^start ' "$W/ledger")" 1 "a ran once"
ok "its cgroup is removed" wait_for 30 test ! -e "$BASE/user-0/job-$id"
done_testing
