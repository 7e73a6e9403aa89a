#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# orchctl graph JOB / graph FILE (SPEC §5): Graphviz DOT that dot(1) accepts, with every node, the
# edges, node states of a job that ran, and trigger-rule edge styles; a file is drawn without a daemon.

. "$(dirname "$0")/lib.sh"

command -v dot >/dev/null || bail_out "graphviz (dot) is needed: apt-get install graphviz"
start_orchd
drop_job shapes <<EOF
{ "nodes": { "a": { "cmd": ["/bin/true"] },
             "b": { "cmd": ["/bin/sh", "-c", "exit 2"], "after": ["a"], "allow_failure": true },
             "c": { "cmd": ["/bin/true"], "after": ["b"], "when": "failure" },
             "d": { "cmd": ["/bin/true"], "after": ["b"] },
             "e": { "cmd": ["/bin/true"], "after": ["c", "d"], "when": "always" } } }
EOF
id=$(job_id_of shapes) || bail_out "job not accepted"
is_exit 0 "the job succeeds (b's failure is allowed)" ctl wait "$id" --timeout 20

ctl graph "$id" >"$T/job.dot"
is "$?" 0 "graph JOB exits 0"
ok "dot accepts it (renders SVG)" dot -Tsvg -o "$T/job.svg" "$T/job.dot"
ok "the SVG names every node" sh -c "for n in a b c d e; do grep -q \">\$n<\" '$T/job.svg' || exit 1; done"
like "$(grep -c -- '->' "$T/job.dot")" "^[0-9]+\$" "it has edges"
ok "a -> b, b -> c, b -> d, c -> e, d -> e are there" sh -c \
        "for e in '\"a\" -> \"b\"' '\"b\" -> \"c\"' '\"b\" -> \"d\"' '\"c\" -> \"e\"' '\"d\" -> \"e\"'; do grep -qF \"\$e\" '$T/job.dot' || exit 1; done"
like "$(grep '^  "b" \[' "$T/job.dot")" "failed" "b is drawn as failed"
like "$(grep '^  "d" \[' "$T/job.dot")" "skipped" "d is drawn as skipped"
like "$(grep -F '"b" -> "c"' "$T/job.dot")" "dashed" "a when:failure edge is dashed"

cat >"$T/file.json" <<EOF
{ "name": "from a file", "nodes": { "x": { "cmd": ["true"] }, "y": { "cmd": ["true"], "after": ["x"] } } }
EOF
"$ORCHCTL" -s "$T/none.sock" graph "$T/file.json" >"$T/file.dot"
is "$?" 0 "graph FILE works without a daemon"
ok "dot accepts it" dot -Tsvg -o /dev/null "$T/file.dot"
like "$(head -n 1 "$T/file.dot")" '^digraph "from a file"' "the graph is named after the job"
printf '{ "nodes": { "x": { "cmd": ["true"], "after": ["x"] } } }' >"$T/bad.json"
is_exit 65 "graph of an invalid file: exit 65" "$ORCHCTL" graph "$T/bad.json"
is_exit 66 "graph of an unknown job: exit 66" ctl graph 999
done_testing
