#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Memory follows what a job file says, not what it expands to (issue 8, point 3): a 1 MiB defaults.env
# inherited by 250 nodes is kept once, not once per node. The job sits accepted and running (a gate node
# waits for a file) while the daemon's peak RSS is read from /proc; copying the env into every node would
# cost 250 × 1 MiB. The nodes still see the values: the gate records one, every other node checks one.
# As root the job belongs to a throwaway account (o8mema), so the env also crosses the privilege drop.

TEST_TIMEOUT=${TEST_TIMEOUT:-180}
. "$(dirname "$0")/lib.sh"

KEYS=8192     # × 128 bytes of "KEY=VALUE": 1 MiB of env, in a job file of about 1.1 MB
NODES=250     # besides the gate
BOUND_MIB=64  # a copy per node would be NODES × ~1.2 MiB

kb() { # kb FIELD: a VmXXX figure of the daemon, in kB
        awk -v f="$1:" '$1 == f { print $2 }' "/proc/$ORCHD_PID/status"
}

U=
if [ "$(id -u)" = 0 ] && command -v useradd >/dev/null && command -v setpriv >/dev/null; then
        U=o8mema
        lock_accounts
        id "$U" >/dev/null 2>&1 || shadow_cmd useradd -M -s /bin/sh "$U" || bail_out "cannot create user $U"
        shadow_cmd usermod -p "*" "$U" # useradd leaves the password locked ("!"): locked accounts run no jobs
        # Release the gate first, so that no node of the account is left behind to block userdel.
        trap '_rc=$?; touch "$W/release"; stop_orchd 10 >/dev/null 2>&1; shadow_cmd userdel "$U" 2>/dev/null; (exit $_rc); _cleanup' EXIT
        chmod 711 "$T"
        chmod 1777 "$W"
fi

# The job: a 1 MiB defaults.env (K00000…K08191, each value 120 characters), a gate and NODES nodes after it.
"${PYTHON3:-python3}" - "$KEYS" "$NODES" "$W" >"$T/envmem.json" <<'EOF'
import json, sys
keys, nodes, w = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
env = {"K%05d" % i: ("v%05d" % i).ljust(120, "x") for i in range(keys)}
last = "K%05d" % (keys - 1)
job = {"cwd": "/", "defaults": {"env": env}, "nodes": {
    "gate": {"cmd": ["/bin/sh", "-c",
                     'while [ ! -e "%s/release" ]; do sleep 0.05; done; printf %%s "$%s" >"%s/seen"' % (w, last, w)]}}}
for i in range(nodes):
    job["nodes"]["n%d" % i] = {"cmd": ["/bin/sh", "-c", 'test "${K00000%%x*}" = v00000'], "after": ["gate"]}
json.dump(job, sys.stdout)
EOF
chmod 644 "$T/envmem.json"
diag "job file: $(stat -c %s "$T/envmem.json") bytes, $KEYS env keys in defaults, $((NODES + 1)) nodes"

start_orchd
rss0=$(kb VmRSS)
echo 5 >"/proc/$ORCHD_PID/clear_refs" 2>/dev/null || true # peak := now (root only; else only looser)
if [ -n "$U" ]; then
        setpriv --reuid="$U" --regid="$(id -g "$U")" --init-groups \
                sh -c "cp '$T/envmem.json' '$SPOOL/tmp/envmem.json' && mv '$SPOOL/tmp/envmem.json' '$SPOOL/new/'" ||
                bail_out "user $U cannot drop a job"
else
        drop_job envmem <"$T/envmem.json"
fi
id=$(job_id_of envmem) || bail_out "job not accepted"
ok "the gate node runs" wait_for 30 node_state_is "$id" gate running
is "$(job_status "$id" | jq '[.nodes[] | select(.state == "pending")] | length')" "$NODES" \
        "the other $NODES nodes wait for it"

hwm=$(kb VmHWM) rss=$(kb VmRSS)
diag "orchd VmRSS: ${rss0} kB before the job, ${rss} kB with it accepted and running; peak ${hwm} kB"
ok "orchd's peak RSS grew by less than $BOUND_MIB MiB ($((hwm - rss0)) kB; a copy per node would be ~$((NODES * 5 / 4)) MiB)" \
        test $((hwm - rss0)) -lt $((BOUND_MIB * 1024))

touch "$W/release"
is_exit 0 "the job succeeds: every node found K00000 of defaults.env" wait_job "$id" 150
want=$(printf 'v%05d' $((KEYS - 1)))
while [ ${#want} -lt 120 ]; do want+=x; done
is "$(cat "$W/seen" 2>/dev/null)" "$want" "the gate saw the last key of defaults.env whole"
[ -z "$U" ] || is "$(job_status "$id" | jq -r .owner.uid)" "$(id -u "$U")" "the job ran as $U"
if ldd "$ORCHD" 2>/dev/null | grep -q libasan; then
        skip "orchd's RSS stays bounded after the $((NODES + 1)) starts" "AddressSanitizer keeps freed memory (quarantine)"
else
        ok "orchd's RSS stays bounded after the $((NODES + 1)) starts ($(kb VmRSS) kB)" \
                test $(($(kb VmRSS) - rss0)) -lt $((BOUND_MIB * 1024))
fi
done_testing
