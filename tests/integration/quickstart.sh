#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# README's first command, contrib/quickstart.sh, as a newcomer runs it: on this test's configured build
# (ORCHD_QUICKSTART_BUILD, so nothing is rebuilt or reconfigured) and a spool of its own
# (ORCHD_QUICKSTART_SPOOL), with none of the test environment's pointers to the build's helpers: the
# script must find the keeper and orchd-exec of its build by itself. The example job succeeds, its output
# is shown, and nothing of the daemon is left behind.

: "${TEST_TIMEOUT:=180}"
. "$(dirname "$0")/lib.sh"

BUILD=$(dirname "$(dirname "$ORCHD")")
[ -f "$BUILD/Makefile" ] || { echo "1..0 # SKIP no configured build next to $ORCHD"; _done=1; exit 0; }
Q=$T/qs
mkdir -p "$Q"
chmod 755 "$T"
touch "$T/before"
# A newcomer's environment: no ORCHD_KEEPER, ORCHD_EXEC_HELPER or ORCHD_PAM_CONFDIR of the test harness.
env -u ORCHD_KEEPER -u ORCHD_EXEC_HELPER -u ORCHD_PAM_CONFDIR ORCHD_QUICKSTART_BUILD="$BUILD" \
        ORCHD_QUICKSTART_SPOOL="$Q" ORCHD_QUICKSTART_LOG="$T/quickstart-orchd.log" bash "$TOP_SRCDIR/contrib/quickstart.sh" >"$T/qs.out" 2>&1
rc=$?
is "$rc" 0 "quickstart.sh exits 0 (the example job succeeded)"
[ "$rc" = 0 ] || diag_file "$T/qs.out" 60
like "$(cat "$T/qs.out")" "accepted as job [0-9]+" "it says the job was accepted"
is "$(grep -E '^ *(State|Finished):' "$T/qs.out" | tail -n 2 | grep -c -e 'succeeded' -e 'Finished: [0-9]')" 2 \
        "the last status it shows is the final one: the job succeeded and finished"
is "$(awk '$1 == "report" { s = $2 } END { print s }' "$T/qs.out")" succeeded "… with its last node succeeded"
id=$(sed -n 's/.*accepted as job \([0-9]*\).*/\1/p' "$T/qs.out" | head -n 1)
is "$(ls "$Q/jobs/$id/logs" 2>/dev/null | wc -l)" 4 "each of the diamond's 4 nodes left its log"
like "$(cat "$T/qs.out")" "--- report\.1\.log" "it shows the nodes' output"
like "$(cat "$T/qs.out")" "stopping orchd" "it stops the daemon"
is "$(find "$BUILD" -maxdepth 1 -name orchd.log -newer "$T/before" | wc -l)" 0 \
        "it wrote no log into the build directory (ORCHD_QUICKSTART_LOG; distcheck wants it clean)"
ok "no orchd of that spool is left" eval '! pgrep -f -- "--spool $Q " >/dev/null'
id16=$(head -c 16 "$Q/spool-id")
keepers() { pgrep -x orchd-keeper | while read -r p; do tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF " $id16" && echo "$p"; done; }
ok "no keeper of that spool is left" wait_for 30 eval '[ -z "$(keepers)" ]'
done_testing
