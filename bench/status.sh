#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Control-plane latency under load (issue 3): while a 10,000-node job runs at full speed
# (--max-parallel 2, /bin/true nodes), time `orchctl status` of a small job (the whole command, as a user
# sees it) and raw Status calls on persistent connections (the daemon's share), then 1,000 Status calls
# from 50 concurrent clients. Baseline in the same run: the same calls against an idle daemon.
# Targets: p99 ≤ 10 ms; 1,000 calls ≤ 1 s. Figures only, no pass/fail.

. "$(dirname "$0")/common.sh"

N=${N:-10000}
CALLS=${CALLS:-200}
build_orchd

cat >"$B/client.py" <<'PY'
import json, socket, sys, threading, time
sock, job, clients, calls = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
msg = json.dumps({"method": "io.orchd.Manager.Status", "parameters": {"id": job}}).encode() + b"\0"
lat, lock = [], threading.Lock()
def run():
    s = socket.socket(socket.AF_UNIX); s.connect(sock)
    mine = []
    for _ in range(calls):
        t = time.perf_counter(); s.sendall(msg); buf = b""
        while not buf.endswith(b"\0"):
            buf += s.recv(1 << 20)
        mine.append(time.perf_counter() - t)
    with lock: lat.extend(mine)
t0 = time.perf_counter()
ts = [threading.Thread(target=run) for _ in range(clients)]
[t.start() for t in ts]; [t.join() for t in ts]
wall = time.perf_counter() - t0
lat.sort(); p = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))] * 1000
print("%d calls, %d clients: wall %.3f s, p50 %.2f ms, p99 %.2f ms, max %.2f ms" % (len(lat), clients, wall, p(.5), p(.99), lat[-1] * 1000))
PY

measure() { # measure LABEL
        echo "-- $1"
        orchctl_latency "$small" "$CALLS" | awk -v n="$CALLS" '{ printf "orchctl status ×%d: p50 %s ms, p99 %s ms\n", n, $1, $2 }'
        python3 "$B/client.py" "$SOCK" "$small" 1 "$CALLS"
        python3 "$B/client.py" "$SOCK" "$small" 50 20
}

start_orchd --max-parallel 2
small=$(submit_small)

echo "== status: control-plane latency, idle vs. a $N-node job running at full speed"
machine_line
measure "idle daemon (baseline)"

awk -v n="$N" 'BEGIN { printf "{ \"name\": \"load\", \"nodes\": {"
        for (i = 1; i <= n; i++) printf "%s\"n%d\":{\"cmd\":[\"/bin/true\"]}", (i > 1 ? "," : ""), i
        print "} }" }' >"$B/load.json"
big=$(ctl submit "$B/load.json")
sleep 1
measure "while job $big ($N nodes) runs"
echo "-- status of the $N-node job itself while it runs"
python3 "$B/client.py" "$SOCK" "$big" 1 20
done_nodes=$(ctl --json status "$big" | jq '[.nodes[] | select(.state == "succeeded")] | length')
echo "(the load job had finished $done_nodes of $N nodes when measuring ended)"
ctl cancel "$big" >/dev/null
stop_orchd
