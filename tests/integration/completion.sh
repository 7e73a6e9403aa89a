#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# contrib/bash-completion/orchctl: commands, options, job ids asked from the daemon (on the socket given
# with -s), node ids of a job, state names. Drives the completion function the way bash does.

. "$(dirname "$0")/lib.sh"

start_orchd
drop_job pipeline <<EOF
{ "nodes": { "build": { "cmd": ["/bin/sh", "-c", "$(gate_cmd build)"] }, "unit.x": { "cmd": ["/bin/true"], "after": ["build"] } } }
EOF
id=$(job_id_of pipeline) || bail_out "job not accepted"
# build holds the job unfinished (the ids below are those of a running job) until the end of the test.

PATH=$(dirname "$ORCHCTL"):$PATH
. "$TOP_SRCDIR/contrib/bash-completion/orchctl"

complete_line() { # complete_line WORD…: COMPREPLY for the last word, sorted, space-separated
        COMP_WORDS=("$@")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMPREPLY=()
        _orchctl
        [ "${#COMPREPLY[@]}" -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}

is "$(complete_line orchctl st)" "stats status stop-nodes " "commands complete"
is "$(complete_line orchctl -s "$SOCK" status '')" "$id " "job ids come from the daemon named by -s"
is "$(complete_line orchctl -s "$SOCK" cancel "$id" '')" "build unit.x " "cancel completes the job's node ids"
is "$(complete_line orchctl -s "$SOCK" retry "$id" '')" "build unit.x " "retry completes the job's node ids"
is "$(complete_line orchctl -s "$SOCK" gr)" "graph " "graph is a command"
is "$(complete_line orchctl sto)" "stop-nodes " "stop-nodes is a command"
is "$(complete_line orchctl stop-nodes -)" "--json " "stop-nodes takes --json, no job ids"
is "$(complete_line orchctl list --state r)" "running " "--state completes state names"
is "$(complete_line orchctl stats --p)" "--prometheus " "command options complete"
is "$(complete_line orchctl -s "$T/none.sock" status '')" "" "no daemon: no ids, no error"
is "$(complete_line orchctl l)" "list logs " "logs is a command"
is "$(complete_line orchctl -s "$SOCK" logs '')" "$id " "logs completes job ids"
is "$(complete_line orchctl -s "$SOCK" logs "$id" '')" "build unit.x " "logs completes the job's node ids"
is "$(complete_line orchctl -s "$SOCK" logs --attempt 2 "$id" u)" "unit.x " "logs skips --attempt's value when counting arguments"
is "$(complete_line orchctl -s "$SOCK" logs "$id" build '')" "" "logs takes one node"
is "$(complete_line orchctl logs --a)" "--attempt " "logs options complete"
is "$(complete_line orchctl logs -)" "--attempt --follow --json -f " "logs has --attempt, -f/--follow and --json"
echo '{ "nodes": ' >"$SPOOL/new/broken.json"
wait_rejected broken.json || bail_out "broken.json not rejected"
is "$(complete_line orchctl -s "$SOCK" rejected '')" "broken.json " "rejected completes the caller's rejected file names"
is "$(complete_line orchctl rejected -)" "--file --json " "rejected has --file and --json"
is "$(complete_line orchctl wait --t)" "--tail-lines --timeout " "wait has --tail-lines"
is "$(complete_line orchctl watch --)" "--json --quiet --tail-lines " "watch has --tail-lines, --quiet and --json"
is "$(complete_line orchctl submit --q)" "--quiet " "submit has --quiet"
open_gate build
is_exit 0 "the job ends once build is released" ctl wait "$id" --timeout 60
done_testing
