#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The control socket speaks varlink (SPEC §6) to any client written from the public spec: checked with
# tests/integration/varlink-probe.py, a small independent client that shares no code with orchctl, and
# with input orchctl would never send. After all the abuse, orchd still answers.

: "${TEST_TIMEOUT:=180}" # a dozen python clients, each slow to start on a loaded machine
. "$(dirname "$0")/lib.sh"

probe() { python3 "$TOP_SRCDIR/tests/integration/varlink-probe.py" "$SOCK" "$@"; }

start_orchd
drop_job one <<EOF
{ "nodes": { "a": { "cmd": ["/bin/true"] } } }
EOF
id=$(job_id_of one) || bail_out "job not accepted"
ctl wait "$id" --timeout 20 >/dev/null

info=$(probe org.varlink.service.GetInfo)
is "$?" 0 "GetInfo answers"
is "$(jq -r '.parameters.interfaces | join(" ")' <<<"$info")" "org.varlink.service io.orchd.Manager" "it lists both interfaces"
is "$(jq -r .parameters.product <<<"$info")" orchd "product is orchd"
probe org.varlink.service.GetInterfaceDescription '{"interface":"io.orchd.Manager"}' |
        jq -j .parameters.description >"$T/desc"
ok "GetInterfaceDescription returns the shipped interface file" cmp "$T/desc" "$TOP_SRCDIR/src/shared/io.orchd.Manager.varlink"
is "$(probe io.orchd.Manager.Status "{\"id\":\"$id\"}" | jq -S -c .parameters.job)" "$(ctl --json status "$id" | jq -S -c .)" \
        "an independent client gets the same status object as orchctl --json"

is "$(probe io.orchd.Manager.Nope '{}' | jq -r .error)" org.varlink.service.MethodNotFound "unknown method: MethodNotFound"
is "$(probe com.example.Other.Call '{}' | jq -r .error)" org.varlink.service.InterfaceNotFound "unknown interface: InterfaceNotFound"
is "$(probe io.orchd.Manager.Status '{"id":42}' | jq -r .error)" org.varlink.service.InvalidParameter "wrong parameter type: InvalidParameter"
is "$(probe io.orchd.Manager.Status '{"id":"999"}' | jq -r .error)" io.orchd.Manager.NoSuchJob "unknown job: NoSuchJob"

# Conformance (varlink.org "Method call", as sd-varlink answers): every parameter a method's IDL does
# not declare is refused with InvalidParameter naming it, for every method of both interfaces, taken from
# the IDL itself; the calls go down one connection, which an InvalidParameter does not close.
mapfile -t methods < <(sed -n 's/^method \([A-Za-z]*\)(.*/io.orchd.Manager.\1/p' "$TOP_SRCDIR/src/shared/io.orchd.Manager.varlink")
methods+=(org.varlink.service.GetInfo org.varlink.service.GetInterfaceDescription)
raw=
for m in "${methods[@]}"; do
        raw+="{\"method\":\"$m\",\"parameters\":{\"zz_unknown\":1},\"more\":$([ "${m##*.}" = Watch ] && echo true || echo false)}\\0"
done
out=$(probe --raw "$raw" --count "${#methods[@]}" --timeout 60)
is "$(jq -r '"\(.error) \(.parameters.parameter)"' <<<"$out" | sort -u)" "org.varlink.service.InvalidParameter zz_unknown" \
        "an undeclared parameter gets InvalidParameter naming it, from each of the ${#methods[@]} methods"
is "$(jq -s length <<<"$out")" "${#methods[@]}" "one answer per call, on one connection"
# "upgrade": orchd offers no upgraded protocol; the call is answered (not the connection closed).
out=$(probe --raw '{"method":"io.orchd.Manager.List","upgrade":true}\0{"method":"io.orchd.Manager.List","upgrade":false}\0' --count 2 --timeout 30)
is "$(jq -r -s '.[0].error + " " + .[0].parameters.parameter' <<<"$out")" "org.varlink.service.InvalidParameter upgrade" \
        "upgrade: true gets InvalidParameter upgrade"
is "$(jq -r -s '.[1].parameters | has("jobs")' <<<"$out")" true "upgrade: false is an ordinary call, on the same connection"
is "$(probe --raw '{"method":"io.orchd.Manager.List","more":"yes"}\0' --count 1 --timeout 30 | jq -r '.error + " " + .parameters.parameter')" \
        "org.varlink.service.InvalidParameter more" "a \"more\" that is not a boolean: InvalidParameter more"
is "$(probe --raw '{"method":"io.orchd.Manager.Watch","parameters":{"id":"1"},"more":true,"oneway":true}\0' --timeout 30 | jq -r .error)" \
        io.orchd.Manager.ProtocolError "more and oneway together (no right answer): ProtocolError, then a close"
want_url=$(sed -n 's/^AC_INIT(.*\[\([^]]*\)\])$/\1/p' "$TOP_SRCDIR/configure.ac")
is "$(jq -r .parameters.url <<<"$info")" "$want_url" "GetInfo's url is configure.ac's AC_INIT URL"

is "$(probe --raw 'garbage\0' --timeout 30 | jq -r .error)" io.orchd.Manager.ProtocolError "garbage gets ProtocolError, then a close"
is "$(probe --raw '{"method":"io.orchd.Manager.List","parameters":{}}' --timeout 1; echo $?)" 3 \
        "a message without its NUL gets no reply (it is not complete)"
out=$(probe --raw '{"method":"io.orchd.Manager.List"}\0{"method":"io.orchd.Manager.Stats"}\0{"method":"org.varlink.service.GetInfo","oneway":true}\0{"method":"io.orchd.Manager.Status","parameters":{"id":"1"}}\0' --count 3 --timeout 30)
# Each reply named by a member only its method's has (Stats also has "jobs", and "accounting" sorts first).
is "$(jq -r '.parameters | if has("intake") then "stats" elif has("jobs") then "list" elif has("job") then "status" else "?" end' <<<"$out" | tr '\n' ' ')" "list stats status " \
        "pipelined calls are answered in order, and a oneway call gets no reply"
python3 - "$SOCK" <<'PY' >"$T/big.out"
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10)
try:
    s.sendall(b'{"method":"io.orchd.Manager.List","parameters":{"x":"' + b"a" * (6 << 20))
except OSError:
    pass
data = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except OSError:
    pass
print(data.split(b"\0")[0].decode(errors="replace"))
PY
like "$(cat "$T/big.out")" "ProtocolError" "a message over the size cap is refused before it is buffered"
# Gone means its connection is closed: orchd holds no more sockets on $SOCK (the listener and accepted
# connections carry its path in /proc/net/unix) than before it connected. Only those: other fds come and go
# on their own (the journald socket closes when another test restarts journald and opens at the next probe).
n_fds() { control_sockets; }
fds_back() { [ "$(n_fds)" -le "$fds0" ]; }
fds0=$(n_fds)
is "$(n_fds)" 1 "orchd holds one socket on $SOCK, its listener, when no client is connected"
python3 - "$SOCK" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b'{"method":"io.orchd.Manager.Wait","parameters":{"id":"1"}}\0' * 3)
s.close()  # hang up without reading
PY
is "$?" 0 "a client sends three calls and hangs up without reading its replies"
ok "that client is simply gone: orchd holds no more sockets on its control socket than before it connected ($fds0)" wait_for 30 fds_back
python3 -c "import socket,sys
for i in range(50): s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.send(b'{\"meth'); s.close()" "$SOCK"
is_exit 0 "after all that, orchctl status still works" ctl status "$id"
ok "orchd is still running" pid_alive "$ORCHD_PID"
done_testing
