#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The loop stays responsive (issue 9, point 5). Part 1: a worst-case job file just under the 4 MiB limit
# (100,000 env keys, 100,000 nodes, an `after` chain as deep as the rest of the size allows) is dropped
# while a client calls Stats and Status (of a small job) back to back on one connection; figures: the
# time from the rename until jobs/1 exists (accepted), and the p50/p99/max latency of the calls made
# meanwhile, against the same calls on the idle daemon just before (the baseline); then the same from there
# until the job's first node has started (its log file exists: registering the job, its first start). Part 2: Status of that
# 100,000-node job once cancelled (every node final): the raw call (p50 of CALLS), the latency of Stats on
# another connection meanwhile (Status of a big job is encoded in slices), and `orchctl --json status`
# against `cat` of its state.json. Figures only, no pass/fail. Needs python3.
# Run it with ORCHD/ORCHCTL of an older build to compare.

. "$(dirname "$0")/common.sh"

KEYS=${KEYS:-100000}
NODES=${NODES:-100000}
CALLS=${CALLS:-20}
build_orchd

cat >"$B/gen.py" <<'PY'
import sys
# Node ids and env names from a 62-letter alphabet, 3 letters: short, so all of it fits in 4 MiB.
A = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
def nid(i):
    s = ""
    for _ in range(3):
        s += A[i % 62]; i //= 62
    return s
keys, nodes, limit = int(sys.argv[1]), int(sys.argv[2]), 4 * 1024 * 1024 - 64
env = ",".join('"E%s":""' % nid(i) for i in range(keys))
# max_parallel 1 and a node that waits: the job starts one node and holds still while we measure.
head = '{"name":"worst","max_parallel":1,"env":{%s},"nodes":{' % env
body = ['"%s":{"cmd":"sleep inf"' % nid(i) for i in range(nodes)]
size, i = len(head) + sum(len(b) + 2 for b in body) + 2, 1
while i < nodes:  # each node after the one before, while the size allows: a chain tens of thousands deep
    add = ',"after":["%s"]' % nid(i - 1)
    if size + len(add) > limit:
        break
    body[i] += add; size += len(add); i += 1
sys.stdout.write(head + ",".join(b + "}" for b in body) + "}}")
sys.stderr.write("%d %d\n" % (size, i))
PY
read -r size depth < <(python3 "$B/gen.py" "$KEYS" "$NODES" 2>&1 >"$B/worst.json")

cat >"$B/probe.py" <<'PY'
import json, os, socket, sys, threading, time
sock, small, spool, src, idle_n, want = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
calls = [json.dumps({"method": "io.orchd.Manager.Stats"}).encode() + b"\0",
         json.dumps({"method": "io.orchd.Manager.Status", "parameters": {"id": small}}).encode() + b"\0"]
s = socket.socket(socket.AF_UNIX); s.connect(sock)
def call(k):
    t = time.perf_counter(); s.sendall(calls[k % 2]); buf = b""
    while not buf.endswith(b"\0"):
        buf += s.recv(1 << 16)
    return time.perf_counter() - t
def stats(lat):
    lat = sorted(lat); p = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))] * 1000
    return "%d calls: p50 %.2f ms, p99 %.2f ms, max %.2f ms" % (len(lat), p(.5), p(.99), lat[-1] * 1000)
idle = [call(k) for k in range(idle_n)]
print("idle daemon (baseline):   " + stats(idle))
busy, k = [], 0
t0 = time.perf_counter()
os.rename(src, os.path.join(spool, "new", "worst.json"))
while not os.path.isdir(os.path.join(spool, "jobs", want)):
    busy.append(call(k)); k += 1
    time.sleep(0.001)  # a busy client, not a flood: leave the CPUs to the daemon
    if time.perf_counter() - t0 > 600:
        sys.exit("not accepted within 600 s")
t1 = time.perf_counter()
first, log = [], os.path.join(spool, "jobs", want, "logs", "aaa.1.log")
while not os.path.exists(log):
    first.append(call(k)); k += 1
    time.sleep(0.001)
    if time.perf_counter() - t1 > 600:
        sys.exit("no node started within 600 s")
t2 = time.perf_counter()
p99 = lambda l: sorted(l)[min(len(l) - 1, int(len(l) * .99))]
print("rename -> jobs/%s exists:  %.3f s" % (want, t1 - t0))
print("while it was accepted:    " + stats(busy) + "  (p99 ratio to idle: %.1f)" % (p99(busy) / p99(idle)))
print("then to its first start:  %.3f s, " % (t2 - t1) + (stats(first) if first else "no call"))
print("all of it, max/idle p99:  %.1f" % (max(busy + first) / p99(idle)))
PY

cat >"$B/status.py" <<'PY'
import json, socket, sys, time
sock, job, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
msg = json.dumps({"method": "io.orchd.Manager.Status", "parameters": {"id": job}}).encode() + b"\0"
s = socket.socket(socket.AF_UNIX); s.connect(sock)
lat = []
for _ in range(n):
    t = time.perf_counter(); s.sendall(msg); buf = bytearray()
    while not buf.endswith(b"\0"):
        buf += s.recv(1 << 20)
    lat.append(time.perf_counter() - t)
lat.sort()
print("%.1f %.1f %d" % (lat[len(lat) // 2] * 1000, lat[0] * 1000, len(buf)))
PY

cat >"$B/during.py" <<'PY'
import json, socket, sys, threading, time
sock, job, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def conn():
    s = socket.socket(socket.AF_UNIX); s.connect(sock); return s
def call(s, msg):
    t = time.perf_counter(); s.sendall(msg); buf = bytearray()
    while not buf.endswith(b"\0"):
        buf += s.recv(1 << 20)
    return time.perf_counter() - t
status = json.dumps({"method": "io.orchd.Manager.Status", "parameters": {"id": job}}).encode() + b"\0"
stats = json.dumps({"method": "io.orchd.Manager.Stats"}).encode() + b"\0"
c = conn()
idle = sorted(call(c, stats) for _ in range(200))
done = []
def big():
    b = conn()
    for _ in range(n):
        call(b, status)
    done.append(1)
th = threading.Thread(target=big); th.start()
busy = []
while not done:
    busy.append(call(c, stats)); time.sleep(0.001)
th.join(); busy.sort()
p = lambda l, q: l[min(len(l) - 1, int(len(l) * q))] * 1000
print("Stats while another client calls Status of it x%d: %d calls, p50 %.2f ms, p99 %.2f ms, max %.2f ms; idle p99 %.2f ms (max/idle p99 %.1f)"
      % (n, len(busy), p(busy, .5), p(busy, .99), busy[-1] * 1000, p(idle, .99), busy[-1] / idle[int(len(idle) * .99)]))
PY

# CPU time (ms) of the whole daemon, and of its main thread (the event loop), from /proc.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' "$1"; }

start_orchd --max-parallel 3
small=$(submit_small)
mkdir -p "$SPOOL/tmp"
cp "$B/worst.json" "$SPOOL/tmp/worst.json"
cp "$B/worst.json" "$SPOOL/tmp/alone.json"

echo "== worstcase: a $size-byte job file: $KEYS env keys, $NODES nodes, an after chain $depth deep"
machine_line
all0=$(cpu_ms "/proc/$ORCHD_PID/stat") loop0=$(cpu_ms "/proc/$ORCHD_PID/task/$ORCHD_PID/stat")
python3 "$B/probe.py" "$SOCK" "$small" "$SPOOL" "$SPOOL/tmp/worst.json" 400 $((small + 1))
all1=$(cpu_ms "/proc/$ORCHD_PID/stat") loop1=$(cpu_ms "/proc/$ORCHD_PID/task/$ORCHD_PID/stat")
echo "daemon CPU meanwhile:      $((all1 - all0)) ms, of which the event loop $((loop1 - loop0)) ms (the calls' share included)"
id=$(wait_listed worst)
# The same file again with no client calling: the acceptance time alone.
all0=$(cpu_ms "/proc/$ORCHD_PID/stat") loop0=$(cpu_ms "/proc/$ORCHD_PID/task/$ORCHD_PID/stat")
t0=$(now_ns)
mv "$SPOOL/tmp/alone.json" "$SPOOL/new/alone.json"
while [ ! -d "$SPOOL/jobs/$((id + 1))" ]; do sleep 0.01; done
t1=$(now_ns)
sleep 0.5 # the loop's share after the rename that publishes it (registering the job) too
all1=$(cpu_ms "/proc/$ORCHD_PID/stat") loop1=$(cpu_ms "/proc/$ORCHD_PID/task/$ORCHD_PID/stat")
echo "accepted again, no client: $(secs $((t1 - t0))) s; daemon CPU $((all1 - all0)) ms, of which the event loop $((loop1 - loop0)) ms"
ctl cancel "$((id + 1))" >/dev/null || true

ctl cancel "$id" >/dev/null || note "warning: cancel failed"
ctl wait "$id" --timeout 120 >/dev/null || true
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$ORCHD_PID/status"; }
rss0=$(rss)
all0=$(cpu_ms "/proc/$ORCHD_PID/stat")
read -r p50 best bytes < <(python3 "$B/status.py" "$SOCK" "$id" "$CALLS")
all1=$(cpu_ms "/proc/$ORCHD_PID/stat")
t0=$(now_ns)
for i in $(seq 5); do ctl --json status "$id" >/dev/null; done
t_ctl=$((($(now_ns) - t0) / 5))
t0=$(now_ns)
for i in $(seq 5); do cat "$SPOOL/jobs/$id/state.json" >/dev/null; done
t_cat=$((($(now_ns) - t0) / 5))
echo "-- Status of the $NODES-node job (cancelled: every node final), reply $bytes bytes"
echo "raw Status call ×$CALLS:     p50 $p50 ms, best $best ms; daemon CPU $(((all1 - all0) / CALLS)) ms per call"
python3 "$B/during.py" "$SOCK" "$id" "$CALLS"
echo "orchctl --json status:     $(secs "$t_ctl") s (mean of 5)"
rss1=$(rss)
sleep 11 # the trim comes 10 s after the last big reply (manager_trim_later())
echo "orchd VmRSS:               $rss0 kB before these Status calls, $rss1 kB right after, $(rss) kB 11 s later"
echo "cat state.json:            $(secs "$t_cat") s (mean of 5, $(stat -c %s "$SPOOL/jobs/$id/state.json") bytes)"
echo "ratio orchctl/cat:         $(ratio "$t_ctl" "$t_cat"), raw call/cat: $(awk -v a="$p50" -v b="$t_cat" 'BEGIN { printf "%.1f", a * 1e6 / b }')"
stop_orchd
