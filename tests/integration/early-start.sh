#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A job's first nodes start before its acceptance is durable (the drop-to-start latency does not wait for
# the fsyncs of jobs/.#ID). A crash in that window must neither lose the job nor run its nodes twice at
# once: at the next start a jobs/.#ID whose "starts" records a node is accepted as it is (its files load),
# and recovery adopts what still runs; only files that do not load (the machine crashed, so nothing of the
# job runs any more) give the file back to intake. The committer is held with strace (its fsyncs wait 60 s)
# so the acceptance is not durable for as long as the test needs; the nodes hold on gate files; liveness
# is read from a ledger the nodes write and the spool, never from timing.
#
#   1. orchd killed -9 while a node runs and the acceptance waits: the next orchd accepts jobs/.#1 as job 1
#      (not the file again), adopts the node from its keeper, and the job succeeds: the node ran once.
#   2. the same, then what a machine crash leaves (the node gone, state.json torn): the file is taken
#      again as a new job, which runs.

. "$(dirname "$0")/lib.sh"

if ! command -v strace >/dev/null || [ "$(id -u)" != 0 ]; then
        echo "1..0 # SKIP needs strace and root (to hold orchd's committer)"
        _done=1
        exit 0
fi

: >"$W/ledger"
track_pid_file "$W/pid.n"
cat >"$W/node" <<EOF
#!/bin/sh
echo \$\$ >"$W/pid.\$1"
echo "start \$1 \$ORCH_ATTEMPT \$\$" >>"$W/ledger"
while [ ! -e "$W/go.\$1" ]; do "$W/sleep" 0.01; done
echo "end \$1 \$ORCH_ATTEMPT \$\$" >>"$W/ledger"
EOF
chmod +x "$W/node"
starts_of() { grep -c "^start $1 " "$W/ledger"; }
started() { [ "$(starts_of "$1")" -ge "${2:-1}" ]; }

# Start orchd with its committer held: each fsync it makes waits 60 s.
start_held() {
        start_orchd
        strace_attach "$W/strace.out" fsync "fsync:delay_enter=60s" orchd-commit ||
                bail_out "cannot hold orchd's committer with strace"
}

# ---- 1. killed while the node runs, before the acceptance is durable
start_held
drop_job early <<EOF
{ "name": "early", "nodes": { "n": { "cmd": ["$W/node", "n"] } } }
EOF
ok "the node starts while the acceptance waits for the held committer" wait_for 30 started n
ok "jobs/.#1 is not yet jobs/1" test -d "$SPOOL/jobs/.#1" -a ! -e "$SPOOL/jobs/1"
ok "its start is in jobs/.#1/starts" test -s "$SPOOL/jobs/.#1/starts"
kill9_orchd
strace_detach
start_orchd
ok "the next orchd completes the acceptance" \
        grep -q "Job 1: its first nodes had started when orchd stopped" "$T/orchd.log"
ok "jobs/1 exists, jobs/.#1 is gone" test -d "$SPOOL/jobs/1" -a ! -e "$SPOOL/jobs/.#1"
ok "the file was not taken again" bash -c "! grep -q \"was being accepted when orchd stopped; taking it again\" '$T/orchd.log'"
is "$(ctl --json list --all | jq '[.[] | select(.name == "early")] | length')" 1 "one job named early"
touch "$W/go.n"
is_exit 0 "job 1 succeeds: its node was adopted from its keeper" wait_job 1
is "$(starts_of n)" 1 "the node ran once"
ok "its output is in its log" test -e "$SPOOL/jobs/1/logs/n.1.log"

# ---- 2. a machine crash in the same window: the node is gone and state.json torn
stop_orchd
start_held
drop_job crashed <<EOF
{ "name": "crashed", "nodes": { "m": { "cmd": ["$W/node", "m"] } } }
EOF
ok "the node starts while the acceptance waits" wait_for 30 started m
dir=$(cd "$SPOOL/jobs" && ls -d .#* 2>/dev/null | head -1)
[ -n "$dir" ] || bail_out "no jobs/.#ID while the acceptance waits"
kill9_orchd
strace_detach
_kill_keepers # the machine's crash: nothing of the job runs any more
printf '{"version":1,' >"$SPOOL/jobs/$dir/state.json"
touch "$W/go.m"
start_orchd
ok "the next orchd says the files do not load" grep -q "jobs/$dir: nodes of this job had started, but its files do not load" "$T/orchd.log"
ok "and takes the file again" grep -q "Job file 'crashed.json' was being accepted when orchd stopped; taking it again" "$T/orchd.log"
id=$(job_id_of crashed) || bail_out "the file was not taken again"
is_exit 0 "the job, accepted anew (an id never accepted may be given again), succeeds" wait_job "$id"
is "$(starts_of m)" 2 "the node ran again (its first execution died with the machine)"
stop_orchd
done_testing
