#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A stand-in for the service manager's end of $NOTIFY_SOCKET (sd_notify(3)): bind an AF_UNIX datagram
socket at PATH and append every message received to OUT, one message per line with its newlines shown as
" | ", flushed at once. Runs until killed."""
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a", buffering=1) as f:
    print("listening", file=f)
    while True:
        msg = s.recv(65536).decode("utf-8", "replace")
        print(msg.strip("\n").replace("\n", " | "), file=f)
