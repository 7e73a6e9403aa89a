#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Run a command while every core is kept busy:  contrib/under-load.sh [-n LOOPS] CMD [ARG...]
#
# contrib/test.sh runs the normal build's `make check -j4` this way, so a test whose timing window load can
# close fails here rather than on a busy CI machine or a user's laptop. Starts LOOPS busy loops (default one
# per core) at the tests' own priority, runs CMD, stops exactly the loops it started, and exits with CMD's
# status.

set -u
n=$(nproc)
if [ "${1:-}" = "-n" ]; then
        n=$2
        shift 2
fi
if [ $# -eq 0 ]; then
        echo "usage: $0 [-n LOOPS] CMD [ARG...]" >&2
        exit 64
fi
pids=()
stop() {
        [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null
        wait "${pids[@]}" 2>/dev/null
}
trap stop EXIT
for _ in $(seq "$n"); do
        sh -c 'while :; do :; done' &
        pids+=($!)
done
"$@"
