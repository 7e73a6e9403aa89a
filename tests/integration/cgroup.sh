#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# cgroup v2 isolation (issue 12): each attempt runs in BASE/user-UID/job-ID/NODE.ATTEMPT (BASE here:
# MOUNT/orchd-<spool id>), so cancel and timeout kill a double-forked setsid grandchild, an attempt ends only
# once its cgroup is empty (what its main process left behind is killed), the kernel's CPU figure is in
# status --json, freeze/thaw stop and restart a node, attempt cgroups are removed after the job, another
# user's node lands in its own user-UID cgroup, and isolation = pgroup keeps the old behaviour and refuses
# --freeze. Limits whose controller this host lacks are SKIPped, saying so.
#
# orchd runs with KillNodes=yes, so that a kill -9 leaves the interrupted attempt's leftovers to the next
# orchd's sweep (keeper-restart.sh has the cgroups of attempts that run on).

. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (cgroups, other accounts)"; exit 0; }
MOUNT=$(cgroup2_mount)
[ -n "$MOUNT" ] || { echo "1..0 # SKIP no cgroup2 mount"; exit 0; }
grep -q '^0::/$' /proc/self/cgroup ||
        { echo "1..0 # SKIP not in the root cgroup: orchd and its keepers would stay in their own, which this test does not expect"; exit 0; }

U=o12c1
add_account "$U" -m
chmod 711 "$T"
G=$T/gate
mkdir -p "$G"
chmod 1777 "$G"
start_orchd --kill-nodes yes
BASE=$MOUNT/orchd-$(head -c 16 "$SPOOL/spool-id")
ok "orchd made its cgroup $BASE" test -d "$BASE"
like "$(grep -a 'Isolation' "$T/orchd.log")" "Isolation: cgroup v2 below $BASE" "it logs the isolation once, with the cgroup"
like "$(ctl stats)" "Isolation: cgroup below $BASE" "orchctl stats says Isolation: cgroup below BASE"
is "$(ctl stats --json | jq -r .isolation)" cgroup "stats --json has isolation: cgroup"
like "$(cat /proc/"$ORCHD_PID"/cgroup | grep '^0::')" "^0::/orchd-[0-9a-f]{16}/daemon$" "orchd itself lives in BASE/daemon"

# gc_job NAME EXTRA: a node that starts a setsid'd, double-forked grandchild (its pid in $G/NAME.gc), says
# it is ready, and waits forever (until cancelled, or its timeout).
cat >"$G/gc.sh" <<'EOF'
#!/bin/sh
# gc.sh NAME: a grandchild in a new session, reparented away from us (double fork), then wait forever.
G=$(dirname "$0")
setsid sh -c "sh -c 'echo \$\$ > $G/$1.gc; exec sleep 97' &"
cat /proc/self/cgroup >"$G/$1.cg"
touch "$G/$1.ready"
exec sleep 98
EOF
chmod 755 "$G/gc.sh"
gc_job() {
        drop_job "$1" <<EOF
{ "nodes": { "n": { "cmd": ["$G/gc.sh", "$1"] $2 } } }
EOF
}

# ---- cancel kills a setsid grandchild ------------------------------------------------------------------
gc_job cancel ''
id=$(job_id_of cancel) || bail_out "job not accepted"
wait_for 20 test -s "$G/cancel.gc" -a -e "$G/cancel.ready" || bail_out "the node did not start its grandchild"
gc=$(cat "$G/cancel.gc")
ok "the grandchild $gc runs" pid_alive "$gc"
like "$(grep '^0::' "$G/cancel.cg")" "^0::/orchd-[0-9a-f]{16}/user-0/job-$id/n\.1$" "the node runs in user-0/job-$id/n.1"
ok "its grandchild is in the same cgroup" grep -qx "$gc" "$BASE/user-0/job-$id/n.1/cgroup.procs"
ctl cancel "$id" >/dev/null
wait_job "$id" >/dev/null
ok "cancel killed the setsid grandchild (gone when the job ended)" sh -c "! kill -0 $gc 2>/dev/null || grep -q '^State:.*Z' /proc/$gc/status"
ok "the attempt's cgroup is removed" test ! -e "$BASE/user-0/job-$id"

# ---- timeout kills a setsid grandchild -----------------------------------------------------------------
gc_job timeout ', "timeout": 1, "kill_grace": 0.2'
id=$(job_id_of timeout) || bail_out "job not accepted"
wait_for 20 test -s "$G/timeout.gc" || bail_out "the node did not start its grandchild"
gc=$(cat "$G/timeout.gc")
wait_job "$id" >/dev/null
expect_node "$id" n failed timeout
ok "the timeout killed the setsid grandchild" sh -c "! kill -0 $gc 2>/dev/null || grep -q '^State:.*Z' /proc/$gc/status"

# ---- the main process exits while a background child holds the cgroup -----------------------------------
drop_job bg <<EOF
{ "nodes": { "n": { "cmd": ["/bin/sh", "-c", "setsid sh -c 'echo \$\$ > $G/bg.pid; exec sleep 97' & while [ ! -s $G/bg.pid ]; do sleep 0.01; done; exit 0"] },
             "after": { "cmd": "true", "after": ["n"] } } }
EOF
id=$(job_id_of bg) || bail_out "job not accepted"
wait_job "$id" >/dev/null
expect_node "$id" n succeeded null
bgpid=$(cat "$G/bg.pid")
ok "the left-behind child $bgpid was killed before the attempt ended" sh -c "! kill -0 $bgpid 2>/dev/null || grep -q '^State:.*Z' /proc/$bgpid/status"
ok "no cgroup of the job is left" test ! -e "$BASE/user-0/job-$id"

# ---- two attempts of one job at once: orchd counts them, so the job's and user's cgroups stay while one
# runs and go with the last ---------------------------------------------------------------------------------
mkfifo "$G/two.a" "$G/two.b"
drop_job two <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "touch $G/two.a.ready; read x < $G/two.a"] },
             "b": { "cmd": ["/bin/sh", "-c", "touch $G/two.b.ready; read x < $G/two.b"] } } }
EOF
id=$(job_id_of two) || bail_out "job not accepted"
wait_for 20 test -e "$G/two.a.ready" -a -e "$G/two.b.ready" || bail_out "the two nodes did not both start"
timeout 20 sh -c "echo go > $G/two.a" || bail_out "node a did not read its FIFO"
ok "the first attempt's cgroup goes when it ends" wait_for 20 test ! -e "$BASE/user-0/job-$id/a.1"
ok "the job's cgroup stays while the other attempt runs in it" test -d "$BASE/user-0/job-$id/b.1"
timeout 20 sh -c "echo go > $G/two.b" || bail_out "node b did not read its FIFO"
wait_job "$id" >/dev/null
expect_node "$id" b succeeded null
ok "with the last attempt the job's and the user's cgroups are gone" wait_for 20 test ! -e "$BASE/user-0"

# ---- a chain: the job's and user's cgroups are made at its first start and stay between its steps (not made
# and removed once a step), then go when the job ends ------------------------------------------------------
mkfifo "$G/chain.a" "$G/chain.b"
drop_job chain <<EOF
{ "nodes": { "a": { "cmd": ["/bin/sh", "-c", "touch $G/chain.a.ready; read x < $G/chain.a"] },
             "b": { "cmd": ["/bin/sh", "-c", "touch $G/chain.b.ready; read x < $G/chain.b"], "after": ["a"] },
             "c": { "cmd": ["/bin/true"], "after": ["b"] } } }
EOF
id=$(job_id_of chain) || bail_out "job not accepted"
wait_for 20 test -e "$G/chain.a.ready" || bail_out "node a did not start"
ino_a=$(stat -c %i "$BASE/user-0/job-$id")
timeout 20 sh -c "echo go > $G/chain.a" || bail_out "node a did not read its FIFO"
wait_for 20 test -e "$G/chain.b.ready" || bail_out "node b did not start"
ok "a's cgroup went with a" test ! -e "$BASE/user-0/job-$id/a.1"
is "$(stat -c %i "$BASE/user-0/job-$id")" "$ino_a" "b runs in the job's cgroup a ran in: it was not removed and made again"
timeout 20 sh -c "echo go > $G/chain.b" || bail_out "node b did not read its FIFO"
wait_job "$id" >/dev/null
expect_node "$id" c succeeded null
ok "once the job ended, its and the user's cgroups are gone" wait_for 20 test ! -e "$BASE/user-0"

# ---- accounting ----------------------------------------------------------------------------------------
tck=$(getconf CLK_TCK)
drop_job cpu <<EOF
{ "nodes": { "burn": { "cmd": ["/bin/bash", "-c", "while read -r _ _ _ _ _ _ _ _ _ _ _ _ _ u s _ < /proc/\$\$/stat; [ \$((u + s)) -lt $((tck * 6 / 10)) ]; do :; done"] } } }
EOF
id=$(job_id_of cpu) || bail_out "job not accepted"
wait_job "$id" >/dev/null
cpu=$(node_field "$id" burn cpu_usec)
diag "cpu_usec of a node that burned 0.6 s of CPU: $cpu"
ok "status --json reports cpu_usec >= 400000 for it" test "${cpu:-0}" -ge 400000 2>/dev/null
like "$(ctl status "$id")" "NODE +STATE +ATTEMPTS +EXIT +DURATION +CPU +REASON" "orchctl status has a CPU column"
like "$(ctl status "$id" | grep '^burn ')" " 0\.[4-9][0-9]s|[1-9]\.[0-9]{2}s" "with the node's CPU time in seconds"
is "$(ctl stats --json | jq -r '.accounting.cpu_usec >= 400000')" true "stats --json totals the CPU time of ended attempts"
like "$(ctl stats)" "Usage: [0-9]+ attempts ended, [0-9.]+ s CPU" "orchctl stats shows the totals"
like "$(ctl stats --prometheus)" "orchd_node_cpu_seconds_total [0-9.]+" "the Prometheus text has orchd_node_cpu_seconds_total"
# Each controller's figure where BASE enables it; where it does not (no file to read: orchd reads only the
# files of the controllers the attempt's cgroup has), the figure is unknown (left out: null), never 0.
enabled=$(cat "$BASE/cgroup.subtree_control" 2>/dev/null)
for cf in memory:memory_peak pids:pids_peak io:io_read_bytes; do
        if grep -qw "${cf%%:*}" <<<"$enabled"; then
                ok "${cf#*:} is reported where the ${cf%%:*} controller is" test "$(node_field "$id" burn "${cf#*:}")" != null
        else
                is "$(node_field "$id" burn "${cf#*:}")" null "without the ${cf%%:*} controller ${cf#*:} is unknown (null), not 0"
        fi
done
is "$(disk_view "$id" | jq -r '.nodes.burn.cpu_usec')" "$cpu" "cpu_usec is recorded in the journal with the end"

# ---- freeze and thaw ----------------------------------------------------------------------------------
drop_job freeze <<EOF
{ "nodes": { "ledger": { "cmd": ["/bin/sh", "-c", "while [ ! -e $G/freeze.stop ]; do echo x >> $G/freeze.ledger; done"] } } }
EOF
id=$(job_id_of freeze) || bail_out "job not accepted"
wait_for 20 test -s "$G/freeze.ledger" || bail_out "the ledger node did not start"
CG=$BASE/user-0/job-$id/ledger.1
ctl pause --freeze "$id" >/dev/null
ok "pause --freeze sets cgroup.freeze" grep -qx 1 "$CG/cgroup.freeze"
ok "the kernel reports the cgroup frozen" wait_for 20 grep -qx 'frozen 1' "$CG/cgroup.events"
size1=$(stat -c %s "$G/freeze.ledger")
is "$(node_field "$id" ledger frozen)" true "status --json shows the node frozen"
like "$(ctl status "$id")" "frozen" "orchctl status shows it frozen"
is "$(job_field "$id" state)" paused "the job is paused"
ok "the ledger does not grow while frozen (the cgroup still says frozen 1)" sh -c "grep -qx 'frozen 1' '$CG/cgroup.events' && test \$(stat -c %s '$G/freeze.ledger') -eq $size1"
ctl resume "$id" >/dev/null
ok "resume thaws it" wait_for 20 grep -qx 'frozen 0' "$CG/cgroup.events"
ok "the ledger grows again" wait_for 20 sh -c "test \$(stat -c %s '$G/freeze.ledger') -gt $size1"
is "$(node_field "$id" ledger frozen)" null "status no longer shows it frozen"
touch "$G/freeze.stop"
wait_job "$id" >/dev/null
expect_node "$id" ledger succeeded null

# ---- another user's node -------------------------------------------------------------------------------
uid=$(id -u "$U")
# The node tries to leave its cgroup (to the mount's root, to BASE, to its job's), to make a cgroup of its
# own below it and to thaw/kill settings of it: the directories are root's, so all of it fails.
cat >"$T/user.json" <<EOF
{ "nodes": { "n": { "cmd": ["/bin/sh", "-c", "cg=$MOUNT\$(sed -n 's/^0:://p' /proc/self/cgroup); for d in $MOUNT $BASE \$cg/..; do echo \$\$ > \$d/cgroup.procs 2>/dev/null && echo escaped-to \$d; done; mkdir \$cg/sub 2>/dev/null && echo made-sub; echo 0 > \$cg/cgroup.freeze 2>/dev/null && echo wrote-freeze; cat /proc/self/cgroup > $G/user.cg; echo done"] } } }
EOF
chmod 644 "$T/user.json"
id=$(as "$U" "$ORCHCTL" -s "$SOCK" submit "$T/user.json") || bail_out "submit as $U failed"
wait_job "$id" >/dev/null
expect_node "$id" n succeeded null
like "$(grep '^0::' "$G/user.cg")" "^0::/orchd-[0-9a-f]{16}/user-$uid/job-$id/n\.1$" "$U's node runs in user-$uid/job-$id/n.1, and stays there"
log=$(cat "$SPOOL/jobs/$id/logs/n.1.log")
like "$log" "done" "the node ran its attempts to the end"
ok "it could not move itself out, make a cgroup below its own or write its cgroup's files" \
        sh -c "! grep -E 'escaped-to|made-sub|wrote-freeze' '$SPOOL/jobs/$id/logs/n.1.log'"
ok "and its cgroup is gone after the job" test ! -e "$BASE/user-$uid"

# ---- resources: limits need their controllers ----------------------------------------------------------
avail=$(cat "$BASE/cgroup.subtree_control" 2>/dev/null)
drop_job limits <<EOF
{ "resources": { "pids_max": 64 }, "nodes": { "n": { "cmd": "true", "resources": { "memory_max": "64M" } } } }
EOF
if grep -qw memory <<<"$avail" && grep -qw pids <<<"$avail"; then
        id=$(job_id_of limits) || bail_out "job not accepted"
        wait_job "$id" >/dev/null
        expect_node "$id" n succeeded null
        skip "a limit whose controller is absent is rejected" "this host delegates memory and pids ($avail)"
else
        wait_rejected limits.json || bail_out "limits.json was neither accepted nor rejected"
        like "$(cat "$REJ/limits.json.error")" "nodes\.n\.resources\.memory_max needs the cgroup v2 memory controller, which this host does not delegate to orchd \(available: [a-z ]*\)|resources\.pids_max needs the cgroup v2 pids controller" \
                "a job whose limit cannot be enforced is rejected naming the field and the missing controller"
fi
if grep -qw memory <<<"$avail"; then
        drop_job oom <<EOF
{ "nodes": { "n": { "cmd": ["/bin/sh", "-c", "x=\$(head -c 200000000 /dev/zero | tr '\\\\0' x); echo survived"], "resources": { "memory_max": "16M" }, "retry": { "attempts": 1 } } } }
EOF
        id=$(job_id_of oom) || bail_out "job not accepted"
        wait_job "$id" >/dev/null
        expect_node "$id" n failed oom
else
        skip "memory_max: an OOM kill ends the attempt with reason oom" "no memory controller in $MOUNT (subtree_control: '${avail}')"
fi
if grep -qw pids <<<"$avail"; then
        drop_job pids <<EOF
{ "nodes": { "n": { "cmd": ["/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait"], "resources": { "pids_max": 4 } } } }
EOF
        id=$(job_id_of pids) || bail_out "job not accepted"
        wait_job "$id" >/dev/null
        ok "pids_max: the node's forks beyond the limit failed" grep -q "fork\|Resource temporarily" "$SPOOL/jobs/$id/logs/n.1.log"
else
        skip "pids_max limits the node's processes" "no pids controller in $MOUNT (subtree_control: '${avail}')"
fi
if grep -qw cpu <<<"$avail"; then
        drop_job weight <<EOF
{ "nodes": { "n": { "cmd": ["/bin/sh", "-c", "p=\$(sed -n 's/^0:://p' /proc/self/cgroup); cat $MOUNT\$p/../../cpu.weight > $G/weight"] } } }
EOF
        id=$(job_id_of weight) || bail_out "job not accepted"
        wait_job "$id" >/dev/null
        is "$(cat "$G/weight")" 100 "the user's cgroup has cpu.weight 100 (equal shares) by default"
else
        skip "each user's cgroup gets an equal cpu.weight" "no cpu controller in $MOUNT (subtree_control: '${avail}')"
fi

# ---- a crash: the restarted daemon kills what the interrupted attempt left in its cgroup ----------------
gc_job crash ', "on_interrupt": "fail"'
id=$(job_id_of crash) || bail_out "job not accepted"
wait_for 20 test -s "$G/crash.gc" -a -e "$G/crash.ready" || bail_out "the node did not start its grandchild"
gc=$(cat "$G/crash.gc")
kill9_orchd
ok "after kill -9 of orchd the setsid grandchild still runs in its cgroup" grep -qx "$gc" "$BASE/user-0/job-$id/n.1/cgroup.procs"
start_orchd --kill-nodes yes
ok "the restarted orchd killed it through the cgroup" wait_for 20 sh -c "! kill -0 $gc 2>/dev/null || grep -q '^State:.*Z' /proc/$gc/status"
wait_job "$id" >/dev/null
expect_node "$id" n failed interrupted
ok "and removed the interrupted attempt's cgroup" test ! -e "$BASE/user-0/job-$id"

ok "no user cgroup is left once every job ended" sh -c "! ls -d $BASE/user-* 2>/dev/null | grep -q ."
stop_orchd
ok "BASE is removed when orchd stops" test ! -e "$BASE"

# ---- isolation = pgroup --------------------------------------------------------------------------------
printf '[Daemon]\nIsolation=pgroup\n' >"$T/orchd.conf"
start_orchd --kill-nodes yes
like "$(grep -a 'Isolation: process groups' "$T/orchd.log")" "isolation = pgroup" "under Isolation=pgroup it logs process groups and why"
is "$(ctl stats --json | jq -r .isolation)" pgroup "stats --json has isolation: pgroup"
ok "no cgroup is made" test ! -e "$BASE"
drop_job pg <<EOF
{ "nodes": { "n": { "cmd": "cat /proc/self/cgroup > $G/pg.cg" } } }
EOF
id=$(job_id_of pg) || bail_out "job not accepted"
wait_job "$id" >/dev/null
expect_node "$id" n succeeded null
is "$(node_field "$id" n cpu_usec)" null "no accounting without a cgroup"
is_exit 69 "pause --freeze is refused (exit 69) under pgroup" ctl pause --freeze "$id"
drop_job pglimit <<EOF
{ "nodes": { "n": { "cmd": "true", "resources": { "cpu_weight": 50 } } } }
EOF
wait_rejected pglimit.json || bail_out "pglimit.json was not rejected"
like "$(cat "$REJ/pglimit.json.error")" "nodes\.n\.resources\.cpu_weight needs the cgroup v2 cpu controller.*orchd runs nodes in process groups" \
        "under pgroup a resources limit is rejected, saying why"
like "$(ctl pause --freeze "$id" 2>&1)" "cannot freeze job '$id': orchd runs nodes in process groups.*pause it without --freeze" "saying why and what to do"
done_testing
