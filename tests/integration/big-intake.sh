#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The loop stays responsive (issue 9, point 5): a worst-case job file (just under 4 MiB: 100,000 env keys,
# 100,000 nodes, an `after` chain tens of thousands deep) is read and parsed off the event loop. Once the
# daemon has claimed the file (it left new/), a Stats call on a connection opened before is answered
# while the file is still being parsed: the reply counts no acceptance yet. (When parsing ran on the loop,
# claim and acceptance were one step, so Stats could only be answered after it.) Then: the job is
# accepted whole, its Status lists all 100,000 nodes, it can be cancelled, and a submission with 100,000
# env keys over the socket is accepted too.

# Generating, parsing and checking 4 MiB take a few seconds, many more on a loaded machine.
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { skip "big-intake" "python3 is needed"; done_testing; }

cat >"$T/gen.py" <<'PY'
import sys
A = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
def nid(i):
    s = ""
    for _ in range(3):
        s += A[i % 62]; i //= 62
    return s
keys, nodes, name = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
limit = 4 * 1024 * 1024 - 64
env = ",".join('"E%s":""' % nid(i) for i in range(keys))
head = '{"name":"%s","max_parallel":1,"env":{%s},"nodes":{' % (name, env)
cmd = '"cmd":"sleep inf"'  # max_parallel 1: one node runs, the job holds still until cancelled
body = ['"%s":{%s' % (nid(i), cmd) for i in range(nodes)]
size, i = len(head) + sum(len(b) + 2 for b in body) + 2, 1
while i < nodes:
    add = ',"after":["%s"]' % nid(i - 1)
    if size + len(add) > limit:
        break
    body[i] += add; size += len(add); i += 1
sys.stdout.write(head + ",".join(b + "}" for b in body) + "}}")
PY

cat >"$T/probe.py" <<'PY'
import json, os, socket, sys, time
sock, src, new, want = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_UNIX); s.connect(sock)
def stats():
    s.sendall(json.dumps({"method": "io.orchd.Manager.Stats"}).encode() + b"\0"); buf = b""
    while not buf.endswith(b"\0"):
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("orchd closed the connection")
        buf += chunk
    return json.loads(buf[:-1])["parameters"]["intake"]["accepted"]
before = stats()
os.rename(src, new)
deadline = time.monotonic() + 60
while os.path.exists(new):  # claimed once it is gone from new/
    if time.monotonic() > deadline:
        sys.exit("the file was not claimed within 60 s")
    time.sleep(0.001)
during = stats()
deadline = time.monotonic() + 300
while not os.path.isdir(want):
    if time.monotonic() > deadline:
        sys.exit("the job was not accepted within 300 s")
    time.sleep(0.01)
print(before, during, stats())
PY

start_orchd --max-parallel 2
mkdir -p "$SPOOL/tmp" "$W"
python3 "$T/gen.py" 100000 100000 worst >"$SPOOL/tmp/worst.json" || bail_out "cannot generate the job file"
cp "$SPOOL/tmp/worst.json" "$T/worst.json"
size=$(stat -c %s "$T/worst.json")
ok "the generated file is valid and just under 4 MiB ($size bytes)" \
        sh -c "[ $size -le 4194304 ] && [ $size -gt 4100000 ] && '$ORCHCTL' validate '$SPOOL/tmp/worst.json' >/dev/null"

read -r before during after < <(python3 "$T/probe.py" "$SOCK" "$SPOOL/tmp/worst.json" "$SPOOL/new/worst.json" \
        "$SPOOL/jobs/1" 2>"$T/probe.err")
[ -s "$T/probe.err" ] && diag_file "$T/probe.err"
is "$before" 0 "Stats before the drop: nothing accepted"
is "$during" 0 "Stats after the claim is answered while the file is still being parsed (nothing accepted yet)"
is "$after" 1 "then the job is accepted"

id=$(job_id_of worst) || bail_out "the worst-case job was not listed"
is "$id" 1 "it is job 1"
ctl --json status "$id" >"$T/status.json"
is "$?" 0 "its Status is answered"
# One jq run over the 17 MB reply: each load of it costs seconds on a busy machine.
jq_ok "Status lists all 100,000 nodes, with the ids of the file, each with the SPEC §5 fields" \
        --slurpfile f "$T/worst.json" \
        '(.nodes | keys) == ($f[0].nodes | keys) and ([.nodes[] | keys] | unique ==
         [["attempts","duration_ms","exit_code","finished_at","reason","signal","started_at","state"]]) and
         .id == "1" and .name == "worst" and .owner.uid == 0 and .source == "worst.json"' "$T/status.json"
ok "the accepted job.json is the file, byte for byte" cmp -s "$SPOOL/jobs/1/job.json" "$T/worst.json"

is_exit 0 "the job can be cancelled" ctl cancel "$id"
wait_job "$id" 120
is "$?" 2 "and ends cancelled"
ctl --json list --all >"$T/list.json"
jq_ok "no node is left pending or running" '.[0].counts.pending == 0 and .[0].counts.running == 0' "$T/list.json"

# Submit goes through the same reader: 100,000 env keys (1 MB) over the socket.
python3 "$T/gen.py" 100000 1 envjob >"$T/envjob.json"
sid=$(ctl submit "$T/envjob.json")
is "$?" 0 "a submission with 100,000 env keys is accepted"
is "$sid" 2 "as job 2"
jq_ok "its job.json has the 100,000 keys" '.env | length == 100000' "$SPOOL/jobs/2/job.json"
printf '{"nodes":{"a":{"cmd":"true","after":["b"]}}}' >"$T/bad.json"
is_exit 65 "an invalid submission is still refused with its errors" ctl submit "$T/bad.json"
ok "orchd is alive and serving" ctl stats
done_testing
