#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The cost of running nodes as their owner (orchd as root, SPEC §8): N independent /bin/true nodes in a
# job dropped by root (started directly with posix_spawn) against the same job dropped by nobody (each
# node started through orchd-exec, which drops to the owner's ids, verifies them and execs). Prints both
# wall times, µs per node, and the ratio owner/root. Needs root; prints why and exits 0 otherwise.

. "$(dirname "$0")/common.sh"

if [ "$(id -u)" != 0 ]; then
        echo "== owner: skipped (needs root to run jobs as another user)"
        exit 0
fi
N=${N:-3000}
build_orchd
# The helper of the same tree as the orchd measured.
if [ -z "${ORCHD_EXEC_HELPER:-}" ]; then
        helper=$(dirname "$ORCHD")/orchd-exec
        [ -x "$helper" ] || make -C "$(dirname "$ORCHD")/.." src/orchd-exec >/dev/null
        export ORCHD_EXEC_HELPER=$helper
fi
chmod 711 "$B" # nobody's nodes run with cwd / and need nothing here, but orchd's spool must be reachable

awk -v n="$N" 'BEGIN {
        printf "{ \"name\": \"owner\", \"cwd\": \"/\", \"nodes\": {"
        for (i = 1; i <= n; i++) printf "%s\"n%d\": { \"cmd\": [\"/bin/true\"] }", (i > 1 ? ", " : ""), i
        print "} }"
}' >"$B/job.json"

run_as() { # run_as UID NAME: drop the job owned by UID into a fresh orchd and time it; sets orchd_ns
        local id t0
        rm -rf "$SPOOL"
        start_orchd --max-parallel 2
        cp "$B/job.json" "$SPOOL/tmp/$2.json"
        chown "$1" "$SPOOL/tmp/$2.json"
        t0=$(now_ns)
        mv "$SPOOL/tmp/$2.json" "$SPOOL/new/$2.json"
        id=$(wait_listed owner) # the job's name, whatever the file's
        ctl wait "$id" --timeout 600 >/dev/null || note "warning: job $id ($2) did not succeed"
        orchd_ns=$(($(now_ns) - t0))
        stop_orchd
}

run_as 0 asroot
root_ns=$orchd_ns
run_as 65534 asnobody
owner_ns=$orchd_ns

echo "== owner: $N × /bin/true, 2 at a time, as root vs. as the owner (nobody, through orchd-exec)"
machine_line
printf '%-8s %10s s  %8s µs/node\n' root "$(secs "$root_ns")" $((root_ns / N / 1000))
printf '%-8s %10s s  %8s µs/node\n' owner "$(secs "$owner_ns")" $((owner_ns / N / 1000))
echo "ratio owner/root: $(ratio "$owner_ns" "$root_ns")"
