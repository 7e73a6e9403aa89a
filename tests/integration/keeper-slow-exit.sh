#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# orchd's stop waits for its keepers (KillNodes=yes: they leave when orchd does) before it removes its
# cgroup, whose daemon/ they live in. A keeper's exit may take up to 3 s (its journal flush when journald is
# slow): orchd used to give each 2 s, then left BASE behind (seen in CI under ASan and load). Here a keeper
# wrapped in a script that lingers after the real one exited: 3 s (orchd waits, and BASE goes), then until
# the test releases it (orchd gives up after 6 s, says so, and the next orchd reuses BASE and removes it).
# Root only (cgroups).

. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (cgroups)"
MOUNT=$(cgroup2_mount) || skip_all "no cgroup2 mount"
grep -q '^0::/$' /proc/self/cgroup || skip_all "not in the root cgroup: orchd would not make BASE"

# The wrapper runs the real keeper as its child (fd 3, the socket to orchd, is the child's alone), and
# once it exited lingers as $W/linger says: a number of seconds, or "gate" (until open_gate linger).
real_keeper=$ORCHD_KEEPER
mkdir -p "$W/kbin"
export ORCHD_KEEPER=$W/kbin/orchd-keeper
cat >"$ORCHD_KEEPER" <<EOF
#!/bin/sh
"$real_keeper" "\$@" &
exec 3>&-
wait \$!
rc=\$?
echo \$\$ >"$W/lingering"
if [ "\$(cat "$W/linger")" = gate ]; then $(gate_cmd linger); else "$W/sleep" "\$(cat "$W/linger")"; fi
exit \$rc
EOF
chmod 755 "$ORCHD_KEEPER"

# run_job NAME: a one-node job, so that orchd starts a keeper; prints the keeper's pid.
run_job() {
        local id
        drop_job "$1" <<EOF
{ "nodes": { "n": { "cmd": "true" } } }
EOF
        id=$(job_id_of "$1") || bail_out "job $1 not accepted"
        wait_job "$id" >/dev/null
        [ "$(job_field "$id" state)" = succeeded ] || bail_out "job $1 did not succeed: $(node_summary "$id")"
        pgrep -P "$ORCHD_PID" -x orchd-keeper | head -1
}

# ---- a keeper that takes 3 s to go: orchd waits for it ------------------------------------------------
echo 3 >"$W/linger"
start_orchd --kill-nodes yes
BASE=$MOUNT/orchd-$(head -c 16 "$SPOOL/spool-id")
keeper=$(run_job quick)
[ -n "$keeper" ] || bail_out "orchd started no keeper"
stop_orchd 30
is "$ORCHD_STATUS" 0 "orchd stops on SIGTERM"
ok "the keeper lingered after the real one exited" test -s "$W/lingering"
ok "orchd waited for it: it is gone" sh -c "! kill -0 $keeper 2>/dev/null"
ok "and BASE is removed" test ! -e "$BASE"
[ -e "$BASE" ] && diag "left in BASE: $(find "$BASE" -name cgroup.procs -exec sh -c 'echo "$1: $(cat "$1")"' _ {} \;)"
ok "orchd does not say that a keeper outlived its wait" sh -c "! grep -aq 'did not exit within' '$T/orchd.log'"

# ---- a keeper that does not go: orchd gives up after 6 s, saying so -----------------------------------
echo gate >"$W/linger"
rm -f "$W/lingering"
start_orchd --kill-nodes yes
keeper=$(run_job stuck)
[ -n "$keeper" ] || bail_out "orchd started no keeper"
stop_orchd 30
is "$ORCHD_STATUS" 0 "orchd stops on SIGTERM with a keeper that does not go"
like "$(grep -a 'did not exit within' "$T/orchd.log")" "1 orchd-keeper did not exit within 6 s of orchd's stop; orchd leaves without waiting longer" \
        "it says that a keeper did not exit, and how long it waited"
ok "the keeper still lives" pid_alive "$keeper"
ok "and so does BASE, its daemon/ holding the keeper" grep -qx "$keeper" "$BASE/daemon/cgroup.procs"
open_gate linger
ok "released, the keeper goes" wait_for 20 sh -c "! kill -0 $keeper 2>/dev/null"

echo 0 >"$W/linger"
start_orchd --kill-nodes yes
ok "the next orchd reuses BASE" grep -qx "$ORCHD_PID" "$BASE/daemon/cgroup.procs"
stop_orchd
is "$ORCHD_STATUS" 0 "and stops"
ok "removing BASE" test ! -e "$BASE"
done_testing
