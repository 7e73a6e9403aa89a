#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The cost of a cgroup per attempt (issue 12): N independent /bin/true nodes (2 at a time) and a chain of
# M /bin/true nodes, each run by orchd with --isolation auto (a cgroup made, joined and removed per
# attempt, its accounting read) and --isolation pgroup (process groups only), in alternating rounds in one
# invocation. Prints each round, the medians and the ratios cgroup/pgroup, and the extra time per attempt.
# Needs root on a cgroup2 host (else both runs are pgroup: it says so and exits).

. "$(dirname "$0")/common.sh"

N=${N:-5000}
M=${M:-500}
ROUNDS=${ROUNDS:-3}
build_orchd

awk -v n="$N" 'BEGIN {
        printf "{ \"name\": \"independent\", \"nodes\": {"
        for (i = 1; i <= n; i++) printf "%s\"n%d\": { \"cmd\": [\"/bin/true\"] }", (i > 1 ? ", " : ""), i
        print "} }"
}' >"$B/independent.json"
awk -v n="$M" 'BEGIN {
        printf "{ \"name\": \"chain\", \"nodes\": {"
        for (i = 1; i <= n; i++)
                printf "%s\"n%d\": { \"cmd\": [\"/bin/true\"]%s }", (i > 1 ? ", " : ""), i, (i > 1 ? ", \"after\": [\"n" i - 1 "\"]" : "")
        print "} }"
}' >"$B/chain.json"

# run ISOLATION FILE NAME: one fresh spool and daemon; prints the wall time in ns (drop → wait returns).
run() {
        local id t0
        SPOOL=$B/spool-$1-$3-$RANDOM
        start_orchd --max-parallel 2 --isolation "$1"
        if [ "$1" = auto ] && [ "$(ctl --json stats | jq -r .isolation)" != cgroup ]; then
                note "orchd runs with process groups here even with --isolation auto: nothing to compare"
                exit 1
        fi
        t0=$(now_ns)
        drop_file "$2" "$3"
        id=$(wait_listed "$3")
        ctl wait "$id" --timeout 600 >/dev/null || note "warning: job $id did not succeed"
        echo $(($(now_ns) - t0))
        stop_orchd
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "== cgroup per attempt: $N independent and a chain of $M, /bin/true, cgroup vs pgroup, $ROUNDS rounds"
machine_line
for what in independent chain; do
        n=$([ "$what" = chain ] && echo "$M" || echo "$N")
        : >"$B/$what.cgroup" && : >"$B/$what.pgroup"
        for r in $(seq "$ROUNDS"); do
                c=$(run auto "$B/$what.json" "$what") && echo "$c" >>"$B/$what.cgroup"
                p=$(run pgroup "$B/$what.json" "$what") && echo "$p" >>"$B/$what.pgroup"
                printf '%-12s round %d: cgroup %8s s, pgroup %8s s\n' "$what" "$r" "$(secs "$c")" "$(secs "$p")"
        done
        c=$(median <"$B/$what.cgroup")
        p=$(median <"$B/$what.pgroup")
        printf '%-12s median:  cgroup %8s s, pgroup %8s s, ratio cgroup/pgroup %s, %+d µs per attempt\n' \
                "$what" "$(secs "$c")" "$(secs "$p")" "$(ratio "$c" "$p")" $(((c - p) / n / 1000))
done
