#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Idle clients must not slow anyone else down (issue 3): p50/p99 of CALLS whole `orchctl status` runs
# against a daemon with no other client (the baseline), then with IDLE connections open that never send a
# call (held by tests/integration/control-abuse.py), and the ratio of the two. orchd allows 128
# connections per uid, so as root the idle clients come from several uids (setpriv, 100 per uid);
# otherwise from ours, at most 120 of them. Figures only, no pass/fail.

. "$(dirname "$0")/common.sh"

IDLE=${IDLE:-300}
CALLS=${CALLS:-300}
PER_UID=100
build_orchd

# Other uids must reach the socket in $B and read the helper.
chmod 0755 "$B"
cp "$TOP/tests/integration/control-abuse.py" "$B/control-abuse.py"
chmod 0644 "$B/control-abuse.py"
holders=
stop_holders() {
        local p
        for p in $holders; do
                kill "$p" 2>/dev/null || true
        done
}
trap 'stop_holders; bench_cleanup' EXIT

n_fds() { find "/proc/$ORCHD_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }

hold() { # hold N [UID]: keep N idle connections open (as UID if given) in the background
        local out=$B/hold.$RANDOM
        if [ -n "${2:-}" ]; then
                setpriv --reuid="$2" --regid="$2" --clear-groups env PATH="$NODE_PATH" \
                        python3 "$B/control-abuse.py" "$SOCK" hold "$1" >"$out" 2>&1 &
        else
                python3 "$B/control-abuse.py" "$SOCK" hold "$1" >"$out" 2>&1 &
        fi
        holders="$holders $!"
}

start_orchd
small=$(submit_small)

echo "== idle: orchctl status with $IDLE idle clients connected"
machine_line
read -r base50 base99 < <(orchctl_latency "$small" "$CALLS")
echo "no idle clients (baseline): orchctl status ×$CALLS: p50 $base50 ms, p99 $base99 ms"

fds0=$(n_fds)
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
        left=$IDLE uid=60100
        while [ "$left" -gt 0 ]; do
                n=$((left < PER_UID ? left : PER_UID))
                hold "$n" "$uid"
                left=$((left - n)) uid=$((uid + 1))
        done
        how="from $(((IDLE + PER_UID - 1) / PER_UID)) uids"
else
        IDLE=$((IDLE < 120 ? IDLE : 120))
        hold "$IDLE"
        how="from our own uid (not root: no other uids, and 128 per uid at most)"
fi
for _ in $(seq 1000); do
        [ "$(n_fds)" -ge $((fds0 + IDLE)) ] && break
        sleep 0.01
done
echo "idle connections held by orchd: $(($(n_fds) - fds0)) ($how)"
read -r idle50 idle99 < <(orchctl_latency "$small" "$CALLS")
echo "with $IDLE idle clients:      orchctl status ×$CALLS: p50 $idle50 ms, p99 $idle99 ms"
echo "ratio to the baseline: p50 $(ratio "$idle50" "$base50"), p99 $(ratio "$idle99" "$base99")"
stop_orchd
