#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Independent varlink client for tests: speaks the wire protocol (JSON + NUL)
directly, without orchctl or any of orchd's code, so it can check the daemon's
side on its own and send what orchctl never would.

  varlink-probe.py SOCKET METHOD [PARAMS-JSON] [--more] [--oneway] [--timeout S]
  varlink-probe.py SOCKET --raw BYTES [--count N] [--timeout S]

Prints every reply as one compact JSON line on stdout (sorted keys). With
--raw, BYTES is sent as is after Python escape decoding ("\\0" is a NUL) and
every reply is printed until the daemon closes, N replies have come (--count:
so a test waits for the replies it expects, not for a fixed time), or the
timeout passes.
Exit status: 0 the final reply is a success (--raw: the daemon closed the
connection, or N replies came), 1 it is an error reply, 2 usage, 3 connection
closed or timed out before a final reply (--raw: timed out with the connection
still open and fewer than N replies).
"""

import argparse
import json
import socket
import sys
import time


def read_messages(sock, deadline, state):
    """Yield parsed messages until EOF (state["closed"] = True) or deadline."""
    buf = b""
    while True:
        while b"\0" in buf:
            msg, buf = buf.split(b"\0", 1)
            yield json.loads(msg.decode("utf-8"))
        left = deadline - time.monotonic()
        if left <= 0:
            return
        sock.settimeout(left)
        try:
            data = sock.recv(1 << 16)
        except socket.timeout:
            return
        except ConnectionResetError:
            state["closed"] = True
            return
        if not data:
            state["closed"] = True
            return
        buf += data


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("socket")
    ap.add_argument("method", nargs="?")
    ap.add_argument("params", nargs="?", default=None)
    ap.add_argument("--more", action="store_true")
    ap.add_argument("--oneway", action="store_true")
    ap.add_argument("--raw")
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=10.0)
    a = ap.parse_args()
    if not a.raw and not a.method:
        ap.error("METHOD or --raw is required")

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(a.socket)
    except OSError as e:
        print(f"varlink-probe: cannot connect to {a.socket}: {e.strerror}", file=sys.stderr)
        return 3

    if a.raw is not None:
        payload = a.raw.encode("utf-8").decode("unicode_escape").encode("latin-1")
    else:
        call = {"method": a.method}
        if a.params is not None:
            call["parameters"] = json.loads(a.params)
        if a.more:
            call["more"] = True
        if a.oneway:
            call["oneway"] = True
        payload = json.dumps(call).encode("utf-8") + b"\0"
    sock.sendall(payload)
    if a.oneway:
        return 0

    deadline = time.monotonic() + a.timeout
    final = None
    state = {"closed": False}
    n = 0
    for m in read_messages(sock, deadline, state):
        print(json.dumps(m, sort_keys=True, separators=(",", ":")))
        sys.stdout.flush()
        n += 1
        if a.raw is None and not m.get("continues"):
            final = m
            break
        if a.raw is not None and a.count and n >= a.count:
            return 0
    if a.raw is not None:
        return 0 if state["closed"] else 3
    if final is None:
        return 3
    return 1 if "error" in final else 0


if __name__ == "__main__":
    sys.exit(main())
