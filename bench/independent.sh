#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# 10,000 independent /bin/true nodes: orchd --max-parallel 2 against ninja -j2 on an equivalent
# build.ninja (one rule running /bin/true per edge, no outputs written, same PATH). Prints the wall time
# of each and the ratio orchd/ninja. orchd's time runs from the rename into new/ until `orchctl wait`
# returns, so it includes intake, validation and a durable record of every node's end.

. "$(dirname "$0")/common.sh"

N=${N:-10000}
build_orchd

# ninja: N edges, each a command producing nothing, all under one default target.
mkdir -p "$B/ninja"
{
        echo "rule t"
        echo "  command = /bin/true"
        for i in $(seq "$N"); do echo "build o$i: t"; done
        printf 'build all: phony'
        for i in $(seq "$N"); do printf ' o%d' "$i"; done
        printf '\ndefault all\n'
} >"$B/ninja/build.ninja"
t0=$(now_ns)
(cd "$B/ninja" && env -i PATH="$NODE_PATH" ninja -j2 >/dev/null)
ninja_ns=$(($(now_ns) - t0))

# orchd: the same N commands as one job of independent nodes (argv form: no shell).
awk -v n="$N" 'BEGIN {
        printf "{ \"name\": \"independent\", \"nodes\": {"
        for (i = 1; i <= n; i++) printf "%s\"n%d\": { \"cmd\": [\"/bin/true\"] }", (i > 1 ? ", " : ""), i
        print "} }"
}' >"$B/job.json"
run_orchd_job "$B/job.json" independent

echo "== independent: $N × /bin/true, 2 at a time"
machine_line
printf '%-8s %10s s  %8s µs/node\n' ninja "$(secs "$ninja_ns")" $((ninja_ns / N / 1000))
printf '%-8s %10s s  %8s µs/node\n' orchd "$(secs "$orchd_ns")" $((orchd_ns / N / 1000))
echo "ratio orchd/ninja: $(ratio "$orchd_ns" "$ninja_ns")"
