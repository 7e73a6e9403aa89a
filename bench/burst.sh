#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A burst: N (1,000) one-node /bin/true jobs renamed into new/ at once, orchd --max-parallel 2, from the
# first rename until orchd has logged every job's success (its log polled every 50 ms), against the spawn floor measured
# just before (spawn-loop: N bare posix_spawns of /bin/true, 2 at a time). Each job pays intake (claim,
# parse), a durable acceptance, one node start and the durable records of its end and the job's end.
# Prints µs per job, the ratio orchd/floor, and the daemon's CPU time per job.

. "$(dirname "$0")/common.sh"

N=${N:-1000}
build_orchd
loop=$(build_helper spawn-loop)

cpu_us() {
        awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000000 / hz }' "/proc/$1/stat"
}

floor_us=$("$loop" "$N" 2)
start_orchd --max-parallel 2
mkdir -p "$SPOOL/tmp" "$SPOOL/new"
for i in $(seq "$N"); do
        printf '{ "name": "b%d", "nodes": { "a": { "cmd": ["/bin/true"] } } }\n' "$i" >"$SPOOL/tmp/b$i.json"
done
cpu0=$(cpu_us "$ORCHD_PID")
t0=$(now_ns)
# bare rename(2)s, back to back (mv stats each target, which orchd may have taken already)
(cd "$SPOOL/tmp" && exec perl -e 'for (1 .. $ARGV[0]) { rename("b$_.json", "../new/b$_.json") or die "b$_: $!\n" }' "$N")
# Done is read from the world, orchd's log (its "Job ID (NAME) succeeded." lines), not asked of orchd: a List
# of 1,000 jobs every 50 ms would cost orchd and jq the CPU the burst competes for, and each reply makes
# orchd commit the starts it holds back (job_records_gen()).
succeeded() { grep -c '^<5>Job [0-9]* (b[0-9]*) succeeded\.' "$B/orchd.log" || true; }
while [ "$(succeeded)" -lt "$N" ]; do
        sleep 0.05
done
orchd_ns=$(($(now_ns) - t0))
cpu=$(($(cpu_us "$ORCHD_PID") - cpu0))
stop_orchd

orchd_us=$(awk -v t="$orchd_ns" -v n="$N" 'BEGIN { printf "%.0f", t / n / 1000 }')
floor_per=$(awk -v t="$floor_us" -v n="$N" 'BEGIN { printf "%.0f", t / n }')
echo "== burst: $N one-node /bin/true jobs dropped at once, 2 at a time"
machine_line
printf '%-28s %8s µs/job\n' "spawn floor (spawn-loop)" "$floor_per"
printf '%-28s %8s µs/job  (%s s total)\n' "orchd" "$orchd_us" "$(secs "$orchd_ns")"
printf '%-28s %8s µs/job\n' "orchd CPU (all threads)" "$((cpu / N))"
echo "ratio orchd/floor: $(ratio "$orchd_us" "$floor_per")"
