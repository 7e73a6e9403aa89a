#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A restarted orchd adopts attempts only from the keeper it recorded starting (issue 12: "re-adopts every
# attempt whose supervisor still lives, checked by pidfd with start time, never a bare pid"). A listener on
# SPOOL/run/keeper-UID.sock that is not the recorded process (a fake keeper speaking the protocol and claiming
# a real node), the recorded pid with another start time (pid reuse), and the recorded process running another
# binary are each refused with a warning naming the pid and why: nothing is adopted from them, and the real
# node recorded in "starts" is interrupted (killed, rerun by on_interrupt). The real keeper is adopted. With
# cgroups, a node frozen by pause --freeze is still frozen after the restart and resume thaws it. A keeper
# started under KillNodes=yes stays for the next orchd after a reload to KillNodes=no. An adopted
# keeper's death is seen through its pidfd even when its socket's EOF never comes (another process holds it).
# Every node waits on a gate file the test creates; the fake keeper is gated on files too.

TEST_TIMEOUT=${TEST_TIMEOUT:-300} # six restarts of orchd
. "$(dirname "$0")/lib.sh"

: >"$W/ledger"
track_pid_file "$W/pids"
cat >"$W/node" <<EOF
#!/bin/sh
echo \$\$ >>"$W/pids"
echo "start \$1 \$ORCH_ATTEMPT \$\$" >>"$W/ledger"
while [ ! -e "$W/go.\$1" ]; do sleep 0.02; done
echo "end \$1 \$ORCH_ATTEMPT \$\$" >>"$W/ledger"
EOF
chmod +x "$W/node"

# The fake keeper: listens at the keeper socket, writes its pid to PIDFILE once listening, logs each
# connection and HELLO to LOG, answers HELLO with RUNNING for node 0 attempt 1 of JOB (pid CLAIM) and SYNCED.
# Once EXIT exists it forks a child that keeps the connection open until RELEASE exists, and exits.
cat >"$W/fake-keeper.py" <<'EOF'
import os, socket, struct, sys, time
path, pidfile, log, job, claim, gate_exit, gate_release = sys.argv[1:8]
def msg(t, body):
    return struct.pack('<IHHI', 0x4f4b5031, 1, t, len(body)) + body
def note(s):
    with open(log, 'a') as f:
        f.write(s + '\n')
def wait(p):
    while not os.path.exists(p):
        time.sleep(0.02)
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(path)
s.listen(4)
with open(pidfile + '.tmp', 'w') as f:
    f.write(str(os.getpid()))
os.rename(pidfile + '.tmp', pidfile)
while True:
    c, _ = s.accept()
    note('accepted')
    m = c.recv(65536)
    if len(m) < 12 or struct.unpack('<IHHI', m[:12])[2] != 1:
        c.close()
        continue
    note('hello')
    c.send(msg(12, struct.pack('<QIIIQQB', int(job), 0, 1, int(claim), 0, 0, 0)))
    c.send(msg(13, b''))
    note('synced')
    wait(gate_exit)
    if os.fork() == 0:
        s.close()
        note('child %d' % os.getpid())
        wait(gate_release)
        os._exit(0)
    note('exiting')
    os._exit(0)
EOF

starts_of() { grep -c "^start $1 " "$W/ledger"; }
pid_of() { awk -v n="$1" '$1 == "start" && $2 == n && $3 == 1 { print $4 }' "$W/ledger"; } # attempt 1's
no_keepers() { [ -z "$(spool_keepers)" ]; }
start_time_of() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $20 }'; } # field 22 of /proc/PID/stat
SOCKET=$SPOOL/run/keeper-0.sock
RECORD=$SPOOL/run/keeper-0.pid

# Start a job of one node NAME and wait until it runs. Sets id.
run_node() {
        drop_job "$1" <<EOF
{ "nodes": { "$1": { "cmd": ["$W/node", "$1"] } } }
EOF
        id=$(job_id_of "$1") || bail_out "job $1 not accepted"
        wait_for 30 grep -q "^start $1 1 " "$W/ledger" || bail_out "$1 did not start"
}
# Stop orchd (the node runs on) and SIGKILL its keeper: the node runs on, an orphan.
orphan() {
        stop_orchd 20
        for k in $(spool_keepers); do kill -KILL "$k"; done
        wait_for 30 no_keepers || bail_out "the keeper did not die"
        pid_alive "$(pid_of "$1")" || bail_out "$1 did not outlive its keeper"
}
# Start the fake keeper for job id claiming node NAME's pid. Sets fake.
fake_keeper() {
        rm -f "$W/fake.pid" "$W/fake.log"
        python3 "$W/fake-keeper.py" "$SOCKET" "$W/fake.pid" "$W/fake.log" "$id" "$(pid_of "$1")" \
                "$W/fake.exit" "$W/fake.release" &
        track_bg $!
        wait_for 30 test -s "$W/fake.pid" || bail_out "the fake keeper did not start"
        fake=$(cat "$W/fake.pid")
}
# The node NAME was interrupted (its attempt 1 killed, nothing adopted) and reruns; let it end.
interrupted() {
        local pid
        pid=$(pid_of "$1")
        ok "$1 attempt 1 is not adopted" eval "! grep -q 'node $1 attempt 1 runs on in its keeper' '$T/orchd.log'"
        ok "its orphan is killed" wait_for 30 eval "! pid_alive $pid"
        ok "on_interrupt reruns it as attempt 2" wait_for 30 grep -q "^start $1 2 " "$W/ledger"
        touch "$W/go.$1"
        is_exit 0 "the job succeeds" ctl wait "$id" --timeout 30
        is "$(node_field "$id" "$1" attempts)" 2 "$1: two attempts (interrupted, rerun)"
}

start_orchd --kill-nodes no

# ---- 1. the real keeper is recorded and adopted
run_node a
k=$(spool_keepers)
is "$(cat "$RECORD")" "$k $(start_time_of "$k")" "run/keeper-0.pid records the keeper's pid and start time"
stop_orchd 20
start_orchd --kill-nodes no
ok "the next orchd finds its keeper by the keeper's own pid" grep -q "Found orchd-keeper of uid 0 (pid $k) running 1" "$T/orchd.log"
ok "and adopts the node" grep -q "node a attempt 1 runs on in its keeper" "$T/orchd.log"
touch "$W/go.a"
is_exit 0 "the job succeeds" ctl wait "$id" --timeout 30
is "$(starts_of a)" 1 "a ran once"

# ---- 2. a listener that is not the recorded process (a fake keeper claiming the node)
run_node b
orphan b
fake_keeper b
start_orchd --kill-nodes no
ok "refused, naming its pid and why" grep -q "Refusing the orchd-keeper at $SOCKET (pid $fake): it is not the process orchd recorded starting" "$T/orchd.log"
ok "orchd connected to it" grep -q accepted "$W/fake.log"
ok "and sent it no HELLO" eval "! grep -q hello '$W/fake.log'"
interrupted b
kill "$fake" 2>/dev/null

# ---- 3. the recorded pid with another start time (the shape of pid reuse)
run_node c
stop_orchd 20
k=$(spool_keepers)
read -r rpid rstart <"$RECORD"
is "$rpid" "$k" "the record names the running keeper"
echo "$rpid $((rstart + 1))" >"$RECORD.tmp" && mv "$RECORD.tmp" "$RECORD"
start_orchd --kill-nodes no
ok "refused: start time differs" grep -q "Refusing the orchd-keeper at $SOCKET (pid $k): its pid was reused" "$T/orchd.log"
interrupted c
ok "the refused keeper exits once its attempt is gone" wait_for 30 eval "! pid_alive $k"

# ---- 4. the recorded process (pid and start time match) is not orchd-keeper
run_node d
orphan d
fake_keeper d
echo "$fake $(start_time_of "$fake")" >"$RECORD"
start_orchd --kill-nodes no
ok "refused: another binary" grep -q "Refusing the orchd-keeper at $SOCKET (pid $fake): it does not run the installed orchd-keeper" "$T/orchd.log"
ok "and sent no HELLO" eval "! grep -q hello '$W/fake.log'"
interrupted d
kill "$fake" 2>/dev/null

# ---- 5. with cgroups: frozen survives a restart, resume thaws it
if [ "$(ctl stats --json | jq -r .isolation)" = cgroup ]; then
        BASE=$(ctl stats --json | jq -r .cgroup)
        run_node e
        CG=$BASE/user-0/job-$id/e.1
        ctl pause --freeze "$id" >/dev/null
        ok "pause --freeze froze it" wait_for 20 grep -qx 'frozen 1' "$CG/cgroup.events"
        is "$(node_field "$id" e frozen)" true "status: frozen"
        stop_orchd 20
        start_orchd --kill-nodes no
        ok "adopted" grep -q "node e attempt 1 runs on in its keeper" "$T/orchd.log"
        is "$(node_field "$id" e frozen)" true "status after the restart: still frozen"
        ok "the cgroup is still frozen" grep -qx 'frozen 1' "$CG/cgroup.events"
        ctl resume "$id" >/dev/null
        ok "resume thaws it" wait_for 20 grep -qx 'frozen 0' "$CG/cgroup.events"
        is "$(node_field "$id" e frozen)" null "status no longer shows it frozen"
        touch "$W/go.e"
        is_exit 0 "the job succeeds" ctl wait "$id" --timeout 30
        is "$(starts_of e)" 1 "e ran once"
else
        skip "frozen across a restart" "orchd uses process groups here ($(ctl stats --json | jq -r .isolation))"
fi

# ---- 6. a keeper started under KillNodes=yes stays for the next orchd after a reload to KillNodes=no
stop_orchd 20
printf '[Daemon]\nKillNodes=yes\n' >"$T/orchd.conf"
start_orchd
run_node g
k=$(spool_keepers)
printf '[Daemon]\nKillNodes=no\n' >"$T/orchd.conf"
kill -HUP "$ORCHD_PID"
ok "a reload takes KillNodes=no" wait_for 20 grep -q "Reload: KillNodes= changed" "$T/orchd.log"
ok "the running keeper is now recorded" wait_for 20 eval '[ "$(cut -d " " -f 1 "$RECORD")" = "$k" ]'
stop_orchd 20
ok "the node runs on after orchd stopped" pid_alive "$(pid_of g)"
ok "in the keeper started before the reload" pid_alive "$k"
start_orchd
ok "the next orchd finds that keeper" grep -q "Found orchd-keeper of uid 0 (pid $k) running 1" "$T/orchd.log"
ok "and adopts the node" grep -q "node g attempt 1 runs on in its keeper" "$T/orchd.log"
touch "$W/go.g"
is_exit 0 "the job succeeds" ctl wait "$id" --timeout 30
is "$(starts_of g)" 1 "g ran once"
stop_orchd 20
: >"$T/orchd.conf"
start_orchd --kill-nodes no

# ---- 7. an adopted keeper's death is seen through its pidfd, though its socket stays open. The keeper
# here is the fake one made to pass: orchd is told python is the installed keeper, and it is recorded.
run_node f
orphan f
fpid=$(pid_of f)
fake_keeper f
echo "$fake $(start_time_of "$fake")" >"$RECORD"
ORCHD_KEEPER=$(readlink -f "/proc/$fake/exe") start_orchd --kill-nodes no
ok "the (recorded, installed) keeper is found" grep -q "Found orchd-keeper of uid 0 (pid $fake) running 1" "$T/orchd.log"
ok "its attempt adopted" grep -q "node f attempt 1 runs on in its keeper (pid $fpid)" "$T/orchd.log"
touch "$W/fake.exit"
ok "it exits" wait_for 30 grep -q exiting "$W/fake.log"
ok "orchd sees it gone" wait_for 30 grep -q "orchd-keeper of uid 0 (pid $fake) is gone" "$T/orchd.log"
child=$(awk '$1 == "child" { print $2 }' "$W/fake.log")
ok "while a child of it still holds the socket (no EOF)" pid_alive "$child"
is_exit 1 "its attempt ended as killed: the job fails" ctl wait "$id" --timeout 30
touch "$W/fake.release"
kill -KILL "$fpid" 2>/dev/null

stop_orchd 20
done_testing
