#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A link closed with messages unread. orchd and its keeper talk over a SOCK_SEQPACKET socket; when one of
# them dies with messages of the other unread, the other's next recv says ECONNRESET once, ahead of what
# the dead one had sent, which is still there to read, then the end. Both used to take the ECONNRESET as
# the end and drop what followed:
#   1. orchd dies (kill -9) with the keeper's messages unread while the keeper holds a START it has not
#      read: the keeper dropped the START, so a node whose start was durable (on_interrupt fail) never ran
#      and the next orchd failed it as "interrupted". Now it runs, and the next orchd adopts it;
#   2. the keeper dies with orchd's START unread while orchd has not read the keeper's STARTED of another
#      node nor the END of a third: orchd lost the pid of the one (under process groups nothing killed
#      the orphan, and its rerun overlapped it) and took the other's end from the ends file as a loss. Now
#      it reads both: the orphan is killed before the rerun, the end is an end;
#   3. the keeper dies between spawning a node and saying STARTED (strace kills it at that send): orchd
#      takes the pid from the starts file, which the child wrote before its exec, and kills the orphan.
# Unread messages are made with strace, which fails orchd's recvmsg (EAGAIN) while the test needs it, and
# checked with ss (a link with bytes queued); the keeper is held with SIGSTOP. Nothing waits on a timing
# window: every step polls for the state it needs. Liveness is read from a ledger the nodes write.

. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (strace attaches to orchd and its keeper)"
command -v strace >/dev/null || skip_all "needs strace"
command -v ss >/dev/null || skip_all "needs ss (iproute2)"

make_overlap_node # $W/node NAME: names starting with q end at once, the others wait for go.NAME

started() { grep -q "^start $1 $2 " "$W/ledger"; }
starts_of() { grep -c "^start $1 " "$W/ledger"; }
pid_of() { awk -v n="$1" -v a="$2" '$1 == "start" && $2 == n && $3 == a { print $4 }' "$W/ledger"; }
declare -A born
note_pid() { born[$1]=$(proc_start "$1"); }
dead() { gone "$1" "${born[$1]}"; }
# unread_by PID: a SOCK_SEQPACKET socket of process PID has bytes queued it has not read
unread_by() { ss -x -p | awk -v p="pid=$1," '$1 == "u_seq" && index($0, p) && $3 > 0 { f = 1 } END { exit !f }'; }
sent() { grep -aq "Job $1 node $2: attempt $3 sent to its keeper" "$T/orchd.log"; }
# deaf N: orchd's loop thread reads nothing from its keepers (its recvmsg fails EAGAIN) until hear
deaf() { strace_attach "$T/strace.$1" recvmsg recvmsg:error=EAGAIN orchd || bail_out "cannot trace orchd"; }
# still N: orchd, deaf, is stopped (SIGSTOP) between two of its syscalls, so that strace can let go of it
# without leaving it inside an injected one (skipped at its entry: its recvmsg would fail with ENOSYS).
still() {
        kill -STOP "$ORCHD_PID"
        wait_for 30 grep -q -- "--- stopped by SIGSTOP ---" "$T/strace.$1" || bail_out "orchd did not stop"
}
# hear: strace lets go of orchd, which goes on (if it was stilled) and reads again
hear() {
        strace_detach
        [ -z "$ORCHD_PID" ] || kill -CONT "$ORCHD_PID"
}
job() { # job NAME NODE [ON_INTERRUPT]: drop a one-node job, print its id
        drop_job "$1" <<EOF
{ "name": "$1", "nodes": { "$2": { "cmd": ["$W/node", "$2"], "on_interrupt": "${3:-rerun}" } } }
EOF
        job_id_of "$1" || bail_out "job $1 not accepted"
}

# ---- 1. orchd dies with the keeper's message unread and the keeper's START unread ---------------------
# (--max-parallel 4: a node whose END orchd has not read holds its slot.)
start_orchd --max-parallel 4
id_a=$(job a a)
wait_for 30 started a 1 || bail_out "a did not start"
kp=$(keeper_pid)
[ -n "$kp" ] || bail_out "no orchd-keeper runs"
deaf 1
touch "$W/go.a"
ok "a's END waits unread in orchd's link" wait_for 30 unread_by "$ORCHD_PID"
kill -STOP "$kp"
id_c=$(job c qc fail)
ok "orchd sent qc's START (its start durable first: on_interrupt fail) to the stopped keeper" \
        wait_for 30 sent "$id_c" qc 1
kill -KILL "$ORCHD_PID"
wait "$ORCHD_PID" 2>/dev/null
ORCHD_PID=
hear
kill -CONT "$kp"
ok "the keeper runs the START it read after orchd was gone" wait_for 30 started qc 1
start_orchd --max-parallel 4
is_exit 0 "job c succeeds under the next orchd" wait_job "$id_c"
is "$(node_field "$id_c" qc attempts)" 1 "qc: one attempt, not interrupted"
is "$(starts_of qc)" 1 "qc ran once"
is_exit 0 "job a succeeds (its end from the ends file)" wait_job "$id_a"
is "$(starts_of a)" 1 "a ran once"

# ---- 2. the keeper dies with orchd's START unread, its own STARTED and END unread by orchd --------------
stop_orchd
printf '[Daemon]\nIsolation=pgroup\n' >"$T/orchd.conf"
start_orchd --max-parallel 4
id_z=$(job z z)
wait_for 30 started z 1 || bail_out "z did not start"
deaf 2
id_x=$(job x x)
wait_for 30 started x 1 || bail_out "x did not start"
pid_x=$(pid_of x 1)
note_pid "$pid_x"
touch "$W/go.z"
wait_for 30 grep -q "^end z 1" "$W/ledger" || bail_out "z did not end"
ok "x's STARTED and z's END wait unread in orchd's link" wait_for 30 unread_by "$ORCHD_PID"
kp=$(keeper_pid)
kill -STOP "$kp"
id_y=$(job y qy)
ok "orchd sent qy's START to the stopped keeper" wait_for 30 sent "$id_y" qy 1
# orchd is stilled before the keeper dies: awake but deaf, it would take the keeper's exit and find its
# link unreadable. It goes on with the keeper dead and the link holding what the keeper had sent.
still 2
note_pid "$kp"
kill -KILL "$kp"
wait_for 30 dead "$kp" || bail_out "the keeper did not die"
hear
ok "orchd kills the orphan attempt 1 of x (the pid its keeper said, read after the reset)" \
        wait_for 30 dead "$pid_x"
ok "x runs again, as attempt 2" wait_for 30 started x 2
ok "while nothing of attempt 1 lived" sh -c "! grep -q '^overlap x ' '$W/ledger'"
touch "$W/go.x"
is_exit 0 "job x succeeds" wait_job "$id_x"
is_exit 0 "job z succeeds" wait_job "$id_z"
is "$(node_field "$id_z" z attempts)" 1 "z: one attempt"
ok "z's end came as a message, not from the ends file of a lost keeper" \
        sh -c "! grep -aq 'node z attempt 1: its keeper went away' '$T/orchd.log'"
is_exit 0 "job y succeeds (its START was lost with the keeper: rerun)" wait_job "$id_y"

# ---- 3. the keeper dies between the spawn and STARTED -----------------------------------------------------
kp=$(keeper_pid)
[ -n "$kp" ] || bail_out "no orchd-keeper runs"
STRACE_TARGET=$kp strace_attach "$T/strace.3" sendmsg sendmsg:signal=KILL orchd-keeper ||
        bail_out "cannot trace the keeper"
note_pid "$kp"
id_w=$(job w w)
ok "the keeper dies as it reports w's start" wait_for 30 dead "$kp"
strace_detach
# Attempt 1 may be killed before it writes the ledger: its pid and start time are in the starts file,
# node 0, attempt 1 (its child wrote them before its exec).
wait_for 30 grep -q "^0 1 " "$SPOOL/jobs/$id_w/starts" || bail_out "w's attempt 1 is not in its starts file"
read -r _ _ pid_w start_w < <(grep "^0 1 " "$SPOOL/jobs/$id_w/starts")
born[$pid_w]=$start_w
ok "orchd takes w's pid from the starts file" \
        wait_for 30 grep -aq "node w attempt 1: its pid $pid_w taken from the starts file" "$T/orchd.log"
ok "w runs again, as attempt 2" wait_for 30 started w 2
ok "when it did, attempt 1 was gone (killed by orchd)" dead "$pid_w"
ok "and nothing of attempt 1 lived" sh -c "! grep -q '^overlap w ' '$W/ledger'"
touch "$W/go.w"
is_exit 0 "job w succeeds" wait_job "$id_w"

done_testing
