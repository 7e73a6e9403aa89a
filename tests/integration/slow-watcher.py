#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A watcher that stops reading (tests/integration/watch.sh): calls
io.orchd.Manager.Watch with "more", reads nothing until GO_FILE exists, then
reads whatever the daemon still sends until it closes the connection (or the
timeout passes) and prints one JSON line:
{"messages": N, "bytes": B, "final": bool, "closed": bool}
final: a reply without "continues" came; closed: the daemon closed the
connection. Shares no code with orchctl.

  slow-watcher.py SOCKET JOB_ID GO_FILE [--timeout S]
"""

import argparse
import json
import os
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("id")
    ap.add_argument("go_file")
    ap.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args()

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # A small receive buffer: the daemon's side fills up sooner, as with a stuck client.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(a.socket)
    call = {"method": "io.orchd.Manager.Watch", "parameters": {"id": a.id}, "more": True}
    sock.sendall(json.dumps(call).encode() + b"\0")
    print("sent", file=sys.stderr, flush=True)

    deadline = time.monotonic() + a.timeout
    while not os.path.exists(a.go_file):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)

    buf, n, total, final, closed = b"", 0, 0, False, False
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            data = sock.recv(1 << 20)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not data:
            closed = True
            break
        total += len(data)
        buf += data
        while b"\0" in buf:
            msg, buf = buf.split(b"\0", 1)
            n += 1
            if not json.loads(msg).get("continues"):
                final = True
    print(json.dumps({"messages": n, "bytes": total, "final": final, "closed": closed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
