#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The cost of running nodes as their owner (orchd as root, SPEC §8): N independent /bin/true nodes in a
# job dropped by root (started directly with posix_spawn) against the same job dropped by nobody (each
# node started through orchd-exec, which checks the account through PAM, applies its limits, drops to the
# owner's ids, verifies them, and searches PATH and execs as the owner). In between, root's job with a
# umask of its own: orchd-exec without PAM and drop, the helper's bare cost. Prints the wall times, µs per
# node, and the ratios to root's. Needs root; prints why and exits 0 otherwise.

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
# The PAM service of the tree measured, unless one is installed.
if [ -z "${ORCHD_PAM_CONFDIR:-}" ] && [ ! -e /etc/pam.d/orchd ]; then
        mkdir -p "$B/pam.d"
        cp "$(dirname "$0")/../contrib/pam.d/orchd" "$B/pam.d/orchd"
        ln -s /etc/pam.d/common-account "$B/pam.d/common-account"
        export ORCHD_PAM_CONFDIR=$B/pam.d
fi

awk -v n="$N" 'BEGIN {
        printf "{ \"name\": \"owner\", \"cwd\": \"/\", \"nodes\": {"
        for (i = 1; i <= n; i++) printf "%s\"n%d\": { \"cmd\": [\"/bin/true\"] }", (i > 1 ? ", " : ""), i
        print "} }"
}' >"$B/job.json"
sed 's/"cwd": "\/",/"cwd": "\/", "umask": "0027",/' "$B/job.json" >"$B/job-umask.json"

run_as() { # run_as UID NAME [FILE]: drop FILE (job.json) owned by UID into a fresh orchd, time it; sets orchd_ns
        local id t0
        rm -rf "$SPOOL"
        start_orchd --max-parallel 2
        cp "$B/${3:-job.json}" "$SPOOL/tmp/$2.json"
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
run_as 0 asrootumask job-umask.json
helper_ns=$orchd_ns
run_as 65534 asnobody
owner_ns=$orchd_ns

echo "== owner: $N × /bin/true, 2 at a time: as root; as root with a umask (orchd-exec, no PAM, no drop);"
echo "   as the owner (nobody: orchd-exec with PAM account check and session, drop)"
machine_line
printf '%-8s %10s s  %8s µs/node\n' root "$(secs "$root_ns")" $((root_ns / N / 1000))
printf '%-8s %10s s  %8s µs/node\n' helper "$(secs "$helper_ns")" $((helper_ns / N / 1000))
printf '%-8s %10s s  %8s µs/node\n' owner "$(secs "$owner_ns")" $((owner_ns / N / 1000))
echo "ratio helper/root: $(ratio "$helper_ns" "$root_ns")"
echo "ratio owner/root: $(ratio "$owner_ns" "$root_ns")"
