#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Does the per-node cost stay flat as a job grows? For each size in SIZES (default 1000 10000 100000): one
# job of that many independent /bin/true nodes, orchd --max-parallel 2, against the spawn floor measured
# just before it (spawn-loop: the same number of bare posix_spawns of /bin/true, 2 at a time, reaped as
# they end). Prints per size: the floor and orchd in µs per node, the ratio orchd/floor, orchd's overhead
# over the floor in µs per node, and the daemon's own CPU time (all its threads, not the nodes) per node.
# As root on a cgroup2 host also the isolation floor (spawn-cgroup: the same loop giving each run a cgroup
# and a log file of its own, which orchd must do for every attempt) and the ratio orchd/isolation floor.
# A term that grows with the job shows as overhead and CPU per node rising along the curve. The 100,000
# point takes about 3 minutes per side on a 2-vCPU machine; SIZES="1000 10000" for a quick look.

. "$(dirname "$0")/common.sh"

build_orchd
loop=$(build_helper spawn-loop)

# The daemon's CPU time (user + system, all threads, children excluded) in µs.
cpu_us() {
        awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000000 / hz }' "/proc/$1/stat"
}

echo "== curve: one job of N independent /bin/true nodes, 2 at a time, against the spawn floor"
machine_line
printf '%8s %10s %10s %10s %7s %9s %12s %14s\n' N "floor µs" "isol. µs" "orchd µs" ratio "/isol." \
        "overhead µs" "orchd CPU µs"
for n in ${SIZES:-1000 10000 100000}; do
        awk -v n="$n" 'BEGIN {
                printf "{ \"name\": \"curve%d\", \"nodes\": {", n
                for (i = 1; i <= n; i++) printf "%s\"n%d\": { \"cmd\": [\"/bin/true\"] }", (i > 1 ? ", " : ""), i
                print "} }"
        }' >"$B/job.json"
        floor_us=$("$loop" "$n" 2)
        isol_us=$(isolation_floor "$n" 2)
        rm -rf "$SPOOL"
        start_orchd --max-parallel 2
        cpu0=$(cpu_us "$ORCHD_PID")
        t0=$(now_ns)
        drop_file "$B/job.json" "curve$n"
        id=$(wait_listed "curve$n")
        ctl wait "$id" --timeout 3600 >/dev/null || note "warning: job $id did not succeed"
        orchd_ns=$(($(now_ns) - t0))
        cpu=$(($(cpu_us "$ORCHD_PID") - cpu0))
        stop_orchd
        awk -v n="$n" -v f="$floor_us" -v i="$isol_us" -v o="$orchd_ns" -v c="$cpu" 'BEGIN {
                o /= 1000
                printf "%8d %10.0f %10s %10.0f %7.2f %9s %12.0f %14.0f\n", n, f / n,
                        i == "" ? "-" : sprintf("%.0f", i / n), o / n, o / f,
                        i == "" ? "-" : sprintf("%.2f", o / i), (o - f) / n, c / n
        }'
done
