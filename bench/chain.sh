#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A 1,000-node chain (each node after the previous one): orchd against ninja, plus the measured cost of
# one durable commit (bench/commit-floor: write, fsync, rename, fsync dir) on the spool's file system.
# A chain cannot overlap anything, so each step pays orchd's full react-record-spawn path; a durable
# scheduler cannot beat ninja's step plus one commit. Prints per-step times, that floor, and the ratios.

. "$(dirname "$0")/common.sh"

N=${N:-1000}
build_orchd
floor_bin=$(build_helper commit-floor)

mkdir -p "$B/ninja"
{
        echo "rule t"
        echo "  command = /bin/true"
        echo "build o1: t"
        for i in $(seq 2 "$N"); do echo "build o$i: t o$((i - 1))"; done
        echo "default o$N"
} >"$B/ninja/build.ninja"
t0=$(now_ns)
(cd "$B/ninja" && env -i PATH="$NODE_PATH" ninja -j2 >/dev/null)
ninja_ns=$(($(now_ns) - t0))

mkdir -p "$SPOOL" "$B/floor"
commit_us=$("$floor_bin" "$B/floor" 500)

awk -v n="$N" 'BEGIN {
        printf "{ \"name\": \"chain\", \"nodes\": { \"n1\": { \"cmd\": [\"/bin/true\"] }"
        for (i = 2; i <= n; i++) printf ", \"n%d\": { \"cmd\": [\"/bin/true\"], \"after\": [\"n%d\"] }", i, i - 1
        print " } }"
}' >"$B/job.json"
run_orchd_job "$B/job.json" chain

ninja_us=$(awk -v t="$ninja_ns" -v n="$N" 'BEGIN { printf "%.0f", t / n / 1000 }')
orchd_us=$(awk -v t="$orchd_ns" -v n="$N" 'BEGIN { printf "%.0f", t / n / 1000 }')
floor_us=$(awk -v a="$ninja_us" -v b="$commit_us" 'BEGIN { printf "%.0f", a + b }')
echo "== chain: $N × /bin/true, each after the previous"
machine_line
printf '%-28s %8s µs/step  (%s s total)\n' "ninja" "$ninja_us" "$(secs "$ninja_ns")"
printf '%-28s %8s µs\n' "durable commit (measured)" "$commit_us"
printf '%-28s %8s µs/step\n' "floor = ninja + commit" "$floor_us"
printf '%-28s %8s µs/step  (%s s total)\n' "orchd" "$orchd_us" "$(secs "$orchd_ns")"
echo "ratio orchd/ninja: $(ratio "$orchd_us" "$ninja_us")   orchd/floor: $(ratio "$orchd_us" "$floor_us")"
