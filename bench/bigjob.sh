#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A 100,000-node job (independent /bin/true nodes, about 3.4 MB, under the 4 MiB limit): the time from
# the rename into new/ until the job is listed (read, parsed, validated, durably accepted), the parse
# time orchd logs at debug level, and the daemon's resident memory (VmRSS) before and after, as bytes
# per node. Then the job is cancelled (orchd runs with --max-parallel 1, so few nodes run meanwhile).

. "$(dirname "$0")/common.sh"

N=${N:-100000}
build_orchd
drop=$(build_helper drop)

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$ORCHD_PID/status"; }

awk -v n="$N" 'BEGIN {
        printf "{ \"name\": \"bigjob\", \"nodes\": {"
        for (i = 1; i <= n; i++) printf "%s\"n%d\":{\"cmd\":[\"/bin/true\"]}", (i > 1 ? "," : ""), i
        print "} }"
}' >"$B/bigjob.json"
size=$(stat -c %s "$B/bigjob.json")

start_orchd --max-parallel 1 --log-level debug
sleep 0.2
rss0=$(rss_kb)
mkdir -p "$SPOOL/tmp" "$SPOOL/new"
cp "$B/bigjob.json" "$SPOOL/tmp/bigjob.json"
t_drop=$("$drop" "$SPOOL/tmp/bigjob.json" "$SPOOL/new/bigjob.json")
id=$(wait_listed bigjob)
t_listed=$(now_ns)
rss1=$(rss_kb)
t0=$(now_ns)
ctl cancel "$id" >/dev/null || note "warning: cancel failed"
ctl wait "$id" --timeout 120 >/dev/null || true
t_cancel=$(($(now_ns) - t0))
state=$(ctl --json status "$id" | jq -r '.state + " " + ([.nodes[].state] | group_by(.) | map({(.[0]): length}) | add | tostring)')
rss2=$(rss_kb)
stop_orchd

echo "== bigjob: $N independent nodes, $size bytes of JSON"
machine_line
echo "rename → listed:            $(secs $((t_listed - t_drop))) s"
parse=$(grep -iE 'pars(e|ed|ing)' "$B/orchd.log" | grep -iE 'ms|µs|us|sec' | tail -n 3 || true)
if [ -n "$parse" ]; then
        echo "orchd's own log (debug):"
        printf '  %s\n' "$parse"
else
        echo "orchd's own log: no parse-time line found at debug level"
fi
echo "VmRSS before:               $rss0 kB"
echo "VmRSS after acceptance:     $rss1 kB  ($(awk -v a="$rss0" -v b="$rss1" -v n="$N" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }') bytes/node)"
echo "VmRSS after cancel:         $rss2 kB"
echo "cancel → job ended:         $(secs "$t_cancel") s  (final: $state)"
