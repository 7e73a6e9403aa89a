#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hostile and lazy clients of orchd's control socket, for abuse.sh, auth.sh and
bench/idle.sh. Raw sockets only: nothing here shares code with orchctl.

  control-abuse.py SOCKET send [--shut] [--no-read] [--repeat N] [--timeout S] < BYTES
      Send BYTES (stdin, as is) on a new connection; with --shut, shut down the
      sending side after; print each reply message on its own line, then
      "closed" (the daemon closed the connection) or "open" (timed out).
      --no-read: hang up right after sending, N times (--repeat).
  control-abuse.py SOCKET flood PREFIX TOTAL
      Send PREFIX, then "a" bytes up to TOTAL bytes in all, until the daemon
      stops taking them; print {"sent": N, "reply": first reply or null}.
  control-abuse.py SOCKET hold N [--call]
      Open N connections and keep them until killed. With --call, each sends
      GetInfo first: print "open=X closed=Y" (answered / closed by the daemon).
      Without, nothing is ever sent: print "connected=N".
  control-abuse.py SOCKET pipeline N ID... --go FILE [--last CALL] [--stall S]
      One connection pipelines N Status calls (each padded to 1 KiB with
      whitespace), for the job ids in turn, then CALL (JSON) if given, and
      reads nothing: print "stalled" once the daemon has taken nothing for S
      seconds (it stopped reading), or "unread" if it took everything. Then,
      once FILE exists, read every reply while sending the rest: print
      "replies=R in-order=O" (R Status replies without error, O of them for
      the id asked, in order), plus " last=ok" or " last=ERROR" for CALL.
  control-abuse.py SOCKET fanout N CALL --go FILE
      Open N connections, send CALL (JSON) on each and read nothing: print
      "sent" once every call is out. Then, once FILE exists, read one reply
      from each: print "replies=R errors=E" (R replies in all, E of them
      errors).
  control-abuse.py SOCKET idle MODE [--timeout S]
      One connection: MODE "silent" sends nothing, "after-call" makes one call,
      "trickle" sends a call a byte at a time and never finishes it, "wait:ID"
      calls Wait for job ID. Print "closed" when the daemon closes it (or
      answers, for wait:ID: "replied"), or "open" after the timeout.
"""

import argparse
import json
import os
import select
import socket
import sys
import time

GETINFO = b'{"method":"org.varlink.service.GetInfo"}\0'


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def read_until_close(s, timeout):
    """Yield ("msg", text) per message, then ("end", "closed"|"open")."""
    deadline = time.monotonic() + timeout
    buf, scanned = bytearray(), 0  # no NUL before scanned: a 20 MB reply is not searched 300 times
    while True:
        while (i := buf.find(b"\0", scanned)) >= 0:
            msg = bytes(buf[:i])
            del buf[: i + 1]
            scanned = 0
            yield "msg", msg.decode("utf-8", errors="replace")
        scanned = len(buf)
        left = deadline - time.monotonic()
        if left <= 0:
            yield "end", "open"
            return
        s.settimeout(left)
        try:
            data = s.recv(1 << 16)
        except socket.timeout:
            yield "end", "open"
            return
        except OSError:
            data = b""
        if not data:
            yield "end", "closed"
            return
        buf += data


def cmd_send(a):
    payload = sys.stdin.buffer.read()
    if a.no_read:
        for _ in range(a.repeat):
            s = connect(a.socket)
            s.sendall(payload)
            s.close()
        print("sent")
        return 0
    s = connect(a.socket)
    s.sendall(payload)
    if a.shut:
        s.shutdown(socket.SHUT_WR)
    for kind, text in read_until_close(s, a.timeout):
        print(text, flush=True)
    return 0


def cmd_flood(a):
    s = connect(a.socket)
    s.settimeout(10)
    prefix = a.prefix.encode()
    total = int(a.total)
    sent = 0
    chunk = b"a" * 65536
    try:
        s.sendall(prefix)
        sent = len(prefix)
        while sent < total:
            n = s.send(chunk[: min(len(chunk), total - sent)])
            sent += n
    except OSError:
        pass
    reply = None
    for kind, text in read_until_close(s, 10):
        if kind == "msg" and reply is None:
            reply = json.loads(text)
    print(json.dumps({"sent": sent, "reply": reply}))
    return 0


def cmd_hold(a):
    conns = [connect(a.socket) for _ in range(a.n)]
    if a.call:
        open_, closed = 0, 0
        for s in conns:
            try:
                s.sendall(GETINFO)
            except OSError:
                pass
        for s in conns:
            for kind, text in read_until_close(s, 10):
                if kind == "msg" and "TooManyConnections" not in text:
                    open_ += 1
                    break
                if text == "closed":  # turned away: the TooManyConnections error, then EOF
                    closed += 1
        print("open=%d closed=%d" % (open_, closed), flush=True)
    else:
        print("connected=%d" % len(conns), flush=True)
    while True:
        time.sleep(3600)


def cmd_pipeline(a):
    calls = []
    for i in range(a.n):
        c = b'{"method":"io.orchd.Manager.Status","parameters":{"id":"%s"}' % a.ids[i % len(a.ids)].encode()
        calls.append(c + b" " * (1023 - len(c) - 2) + b"}\0")
    if a.last:
        calls.append(a.last.encode() + b"\0")
    data = b"".join(calls)
    s = connect(a.socket)
    s.setblocking(False)
    sent = 0
    while sent < len(data):
        # Writable within S seconds, or the daemon has stopped taking calls.
        if not select.select([], [s], [], a.stall)[1]:
            break
        try:
            sent += s.send(data[sent : sent + 65536])
        except BlockingIOError:
            pass
    print("stalled" if sent < len(data) else "unread", flush=True)
    while not os.path.exists(a.go):
        time.sleep(0.05)
    buf, replies, good, in_order, last = b"", 0, 0, 0, ""
    while replies < len(calls):
        want_w = [s] if sent < len(data) else []
        r, w, _ = select.select([s], want_w, [], 60)
        if not r and not w:
            break
        if w:
            try:
                sent += s.send(data[sent : sent + 65536])
            except BlockingIOError:
                pass
        if r:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
            *msgs, buf = buf.split(b"\0")
            for m in msgs:
                reply = json.loads(m)
                if replies == a.n:
                    last = " last=" + reply.get("error", "ok")
                elif "error" not in reply:
                    good += 1
                    if reply["parameters"]["job"]["id"] == a.ids[replies % len(a.ids)]:
                        in_order += 1
                replies += 1
    print("replies=%d in-order=%d%s" % (good, in_order, last), flush=True)
    return 0


def cmd_fanout(a):
    call = a.call.encode() + b"\0"
    conns = [connect(a.socket) for _ in range(a.n)]
    for s in conns:
        s.sendall(call)
    print("sent", flush=True)
    while not os.path.exists(a.go):
        time.sleep(0.05)
    # Read every connection at once: which calls the daemon took first is its business.
    bufs = {s: bytearray() for s in conns}
    replies, errors = 0, 0
    deadline = time.monotonic() + 120
    while bufs and time.monotonic() < deadline:
        ready = select.select(list(bufs), [], [], 5)[0]
        for s in ready:
            chunk = s.recv(1 << 20)
            if not chunk:
                del bufs[s]
                continue
            bufs[s] += chunk
            if b"\0" in chunk:
                msg = bytes(bufs.pop(s)).split(b"\0", 1)[0]
                replies += 1
                errors += "error" in json.loads(msg)
    print("replies=%d errors=%d" % (replies, errors), flush=True)
    return 0


def cmd_idle(a):
    s = connect(a.socket)
    if a.mode == "after-call":
        s.sendall(GETINFO)
    elif a.mode.startswith("wait:"):
        call = {"method": "io.orchd.Manager.Wait", "parameters": {"id": a.mode[5:]}}
        s.sendall(json.dumps(call).encode() + b"\0")
    elif a.mode == "trickle":
        deadline = time.monotonic() + a.timeout
        for byte in b'{"method":"io.orchd.Manager.List","parameters":{"all":true' + b" " * 10000:
            if time.monotonic() > deadline:
                print("open")
                return 0
            try:
                s.send(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
        for kind, text in read_until_close(s, 1):
            if kind == "end":
                print(text)
        return 0
    elif a.mode != "silent":
        print("unknown mode %s" % a.mode, file=sys.stderr)
        return 2
    for kind, text in read_until_close(s, a.timeout):
        if kind == "msg" and a.mode.startswith("wait:"):
            print("replied")
            return 0
        if kind == "end":
            print(text)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("socket")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("send")
    p.add_argument("--shut", action="store_true")
    p.add_argument("--no-read", action="store_true")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--timeout", type=float, default=5.0)
    p = sub.add_parser("flood")
    p.add_argument("prefix")
    p.add_argument("total")
    p = sub.add_parser("hold")
    p.add_argument("n", type=int)
    p.add_argument("--call", action="store_true")
    p = sub.add_parser("pipeline")
    p.add_argument("n", type=int)
    p.add_argument("ids", nargs="+")
    p.add_argument("--go", required=True)
    p.add_argument("--last")
    p.add_argument("--stall", type=float, default=3.0)
    p = sub.add_parser("fanout")
    p.add_argument("n", type=int)
    p.add_argument("call")
    p.add_argument("--go", required=True)
    p = sub.add_parser("idle")
    p.add_argument("mode")
    p.add_argument("--timeout", type=float, default=10.0)
    a = ap.parse_args()
    try:
        cmds = {"send": cmd_send, "flood": cmd_flood, "hold": cmd_hold, "pipeline": cmd_pipeline, "fanout": cmd_fanout,
                "idle": cmd_idle}
        return cmds[a.cmd](a)
    except ConnectionRefusedError as e:
        print("cannot connect to %s: %s" % (a.socket, e.strerror), file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
