#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Nodes that outlive orchd (issue 12, KillNodes=no): with N (default 1,000) nodes running in the owner's
# orchd-keeper, stop orchd (SIGTERM) and start it again; prints the time from the new orchd's exec to its
# first answered `orchctl list` (serving; target ≤ 1 s) and to a status showing all N nodes running again
# (adopted), and the keeper's VmRSS with 1 and with N+1 nodes running (memory per running node).
# ORCHD_KEEPER defaults to the orchd-keeper next to $ORCHD. Prints figures only.

. "$(dirname "$0")/common.sh"
build_orchd
: "${N:=1000}"

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
spool_keeper() { # the keeper of this spool (its command line names the spool id)
        local id p
        id=$(cat "$SPOOL/spool-id")
        for p in $(pgrep -x orchd-keeper); do
                tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF " $id " && { echo "$p"; return 0; }
        done
        return 1
}
running_of() { ctl --json status "$1" | jq '[.nodes[] | select(.state == "running")] | length'; }
wait_running() { # wait_running ID COUNT: poll ≤ 120 s, else stop with orchd's log
        local deadline=$(($(now_ns) + 120000000000))
        until [ "$(running_of "$1" 2>/dev/null || echo 0)" -ge "$2" ]; do
                if [ "$(now_ns)" -gt "$deadline" ]; then
                        note "job $1: fewer than $2 nodes running after 120 s; orchd's log:"
                        tail -20 "$B/orchd.log" >&2
                        exit 1
                fi
                sleep 0.02
        done
}
# Under set -e: a pkill that finds nothing (the nodes were cancelled) must not end the trap before
# bench_cleanup stops orchd and removes the spool's cgroup.
keeper_cleanup() {
        local k
        k=$(spool_keeper 2>/dev/null) || k=
        if [ -n "$k" ]; then
                pkill -KILL -P "$k" sleep 2>/dev/null || true
                kill -KILL "$k" 2>/dev/null || true
        fi
        bench_cleanup
}
trap keeper_cleanup EXIT

ulimit -n "$(ulimit -Hn)" # the keeper holds 4 fds per running node
start_orchd --kill-nodes no --max-parallel $((N + 1))
echo '{ "name": "one", "nodes": { "a": { "cmd": ["/bin/sleep", "3600"] } } }' >"$B/one.json"
drop_file "$B/one.json" one
one=$(wait_listed one)
wait_running "$one" 1
k=$(spool_keeper)
rss1=$(rss_kb "$k")

awk -v n="$N" 'BEGIN {
        printf "{ \"name\": \"many\", \"nodes\": {"
        for (i = 1; i <= n; i++) printf "%s \"n%d\": { \"cmd\": [\"/bin/sleep\", \"3600\"] }", (i > 1 ? "," : ""), i
        printf " } }\n"
}' >"$B/many.json"
drop_file "$B/many.json" many
many=$(wait_listed many)
wait_running "$many" "$N"
rssn=$(rss_kb "$k")
orchd_rss=$(rss_kb "$ORCHD_PID")

stop_orchd
t0=$(now_ns)
"$ORCHD" --spool "$SPOOL" --socket "$SOCK" --kill-nodes no --max-parallel $((N + 1)) 2>>"$B/orchd.log" </dev/null &
ORCHD_PID=$!
until ctl list >/dev/null 2>&1; do
        kill -0 "$ORCHD_PID" 2>/dev/null || { note "orchd exited at its restart; its log:"; tail -20 "$B/orchd.log" >&2; exit 1; }
        sleep 0.005
done
t_serve=$(now_ns)
wait_running "$many" "$N"
t_all=$(now_ns)
# Shown running is what the records say from the load on; adopted is each attempt taken back from its
# keeper (logged once per node): wait for all of them (≤ 120 s).
adopted_count() { grep -c "runs on in its keeper" "$B/orchd.log" || true; }
deadline=$(($(now_ns) + 120000000000))
while [ "$(adopted_count)" -lt $((N + 1)) ] && [ "$(now_ns)" -lt "$deadline" ]; do sleep 0.005; done
t_adopted=$(now_ns)
adopted=$(adopted_count)

printf 'running nodes: %d (+1), adopted after the restart: %d\n' "$N" "$adopted"
printf 'restart with %d running nodes: serving after %.3f s, all %d shown running after %.3f s, all %d adopted after %.3f s\n' \
        "$N" "$(echo "($t_serve - $t0) / 1000000000" | bc -l)" "$N" "$(echo "($t_all - $t0) / 1000000000" | bc -l)" \
        "$adopted" "$(echo "($t_adopted - $t0) / 1000000000" | bc -l)"
printf 'keeper VmRSS: %d kB with 1 node, %d kB with %d: %.1f kB per running node (orchd: %d kB)\n' \
        "$rss1" "$rssn" $((N + 1)) "$(echo "($rssn - $rss1) / $N" | bc -l)" "$orchd_rss"
ctl cancel "$many" >/dev/null
ctl cancel "$one" >/dev/null
ctl wait "$many" --timeout 60 >/dev/null || true
