#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The quick start, on a fresh Debian 12:  sudo contrib/quickstart.sh
#
# Installs missing build dependencies, builds orchd in _build/quickstart (as the invoking user under sudo),
# starts it in the foreground-style background on the repository's spool/ (socket spool/orchd.sock), drops
# contrib/examples/hello.json (a small diamond), prints `orchctl status` each time it changes until the
# job ends, shows the nodes' output, and stops the daemon. Exits with orchctl wait's code (0 = succeeded).

set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/contrib/deps.sh"
# tests/integration/quickstart.sh runs this very script on its own configured build and a spool of its own.
BUILD=${ORCHD_QUICKSTART_BUILD:-$TOP/_build/quickstart}
SPOOL=${ORCHD_QUICKSTART_SPOOL:-$TOP/spool}
# Not in a build directory that is not ours (a test's: distcheck wants it clean after distclean).
LOG=${ORCHD_QUICKSTART_LOG:-$BUILD/orchd.log}
SOCK=$SPOOL/orchd.sock
JOB=${1:-$TOP/contrib/examples/hello.json}

orchd_install_deps

echo "==> building in $BUILD"
cd "$TOP"
if [ -z "${ORCHD_QUICKSTART_BUILD:-}" ]; then
        [ -x configure ] && [ configure -nt configure.ac ] && [ configure -nt Makefile.am ] || as_user autoreconf -fi
        as_user mkdir -p "$BUILD"
fi
cd "$BUILD"
[ -f Makefile ] || as_user "$TOP/configure" --quiet
as_user make -j"$(nproc)" --quiet src/orchd src/orchctl src/orchd-exec src/orchd-keeper >/dev/null
ORCHD=$BUILD/src/orchd
# The helpers of this build, not installed ones: the keeper that runs the nodes, and orchd-exec (it starts
# nodes that set a umask).
export ORCHD_KEEPER=$BUILD/src/orchd-keeper ORCHD_EXEC_HELPER=$BUILD/src/orchd-exec
ORCHCTL=$BUILD/src/orchctl
ctl() { as_user "$ORCHCTL" -s "$SOCK" "$@"; }

echo "==> starting orchd on $SPOOL (log: $LOG)"
if [ -S "$SOCK" ] && ctl list >/dev/null 2>&1; then
        echo "error: an orchd is already serving $SOCK; stop it first" >&2
        exit 1
fi
as_user touch "$LOG"
# --kill-nodes yes: a demo that is stopped (or interrupted) stops its nodes too, rather than leaving them to
# run on in their keeper for a next orchd (orchd(8), STOP, RESTART AND REBOOT).
"${ORCHD_AS_USER[@]}" "$ORCHD" --spool "$SPOOL" --socket "$SOCK" --kill-nodes yes 2>"$LOG" </dev/null &
ORCHD_PID=$!
stop() {
        [ -n "${ORCHD_PID:-}" ] || return 0
        echo "==> stopping orchd (SIGTERM to pid $ORCHD_PID)"
        kill -TERM "$ORCHD_PID" 2>/dev/null || true
        wait "$ORCHD_PID" 2>/dev/null || true
        ORCHD_PID=
}
trap stop EXIT
for _ in $(seq 100); do
        ctl list >/dev/null 2>&1 && break
        kill -0 "$ORCHD_PID" 2>/dev/null || {
                cat "$LOG" >&2
                exit 1
        }
        sleep 0.05
done

name=$(jq -r '.name // empty' "$JOB")
[ -n "$name" ] || name=$(basename "$JOB" .json)
before=$(ctl --json list --all | jq --arg n "$name" '[.[] | select(.name == $n)] | length')
echo "==> dropping $JOB into $SPOOL/new/ (write to tmp/, then rename)"
as_user cp "$JOB" "$SPOOL/tmp/quickstart-$$.json"
as_user mv "$SPOOL/tmp/quickstart-$$.json" "$SPOOL/new/$name.json"

id=
for _ in $(seq 200); do
        id=$(ctl --json list --all | jq -r --arg n "$name" --argjson b "$before" \
                '[.[] | select(.name == $n)] | if length > $b then (map(.id | tonumber) | max) else empty end')
        [ -n "$id" ] && break
        if [ -e "$SPOOL/rejected/$name.json.error" ]; then
                cat "$SPOOL/rejected/$name.json.error" >&2
                exit 65
        fi
        sleep 0.05
done
[ -n "$id" ] || {
        echo "error: the job was not accepted within 10 s" >&2
        exit 1
}
echo "==> accepted as job $id; its files are in $SPOOL/jobs/$id/"

last=
for _ in $(seq 1200); do
        # The state first, the table after: once the state is final, the table printed last shows it too.
        state=$(ctl --json status "$id" | jq -r .state)
        cur=$(ctl status "$id" 2>&1 || true)
        if [ "$cur" != "$last" ]; then
                printf '\n%s\n' "$cur"
                last=$cur
        fi
        case $state in
        succeeded | failed | cancelled) break ;;
        esac
        sleep 0.2
done
rc=0
ctl wait "$id" --timeout 1 >/dev/null || rc=$?

echo
echo "==> node output (jobs/$id/logs/NODE.ATTEMPT.log)"
for f in "$SPOOL/jobs/$id/logs/"*.log; do
        [ -e "$f" ] || continue
        echo "--- $(basename "$f")"
        cat "$f"
done
echo
echo "Try: $ORCHCTL -s $SOCK list --all   (while orchd runs: $ORCHD --spool $SPOOL --socket $SOCK)"
exit "$rc"
