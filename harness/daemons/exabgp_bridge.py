"""The process ExaBGP runs for the harness (its "process API" peer); stdlib only.

ExaBGP writes JSON messages (and `done`/`error` acknowledgements) to our stdin and reads
commands from our stdout (LAB-NOTES "ExaBGP 5"). This bridge:
- appends every JSON message, as received, to `<state dir>/received.jsonl`;
- serves `<state dir>/api.sock`: each connection sends one command line and gets ExaBGP's
  acknowledgement back (`done` or `error`), in order.

Usage (from the generated ExaBGP config): python -m harness.daemons.exabgp_bridge STATE_DIR
"""

from __future__ import annotations

import collections
import contextlib
import os
import selectors
import socket
import sys
from pathlib import Path

ACKS = {b"done", b"error"}


def serve(state_dir: Path) -> int:
    sock_path = state_dir / "api.sock"
    sock_path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock_path))
    server.listen(16)
    waiting: collections.deque[socket.socket] = collections.deque()
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ, "stdin")
    selector.register(server, selectors.EVENT_READ, "server")
    pending = b""
    with (state_dir / "received.jsonl").open("ab", buffering=0) as record:
        while True:
            for key, _ in selector.select():
                if key.data == "server":
                    conn, _ = server.accept()
                    conn.settimeout(5)
                    command = conn.makefile("rb").readline().strip()
                    os.write(1, command + b"\n")
                    waiting.append(conn)
                    continue
                chunk = os.read(0, 1 << 16)
                if not chunk:  # ExaBGP is gone
                    return 0
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip() in ACKS and waiting:
                        conn = waiting.popleft()
                        with contextlib.suppress(OSError):  # the caller gave up waiting
                            conn.sendall(line.strip() + b"\n")
                        conn.close()
                    elif line.strip():
                        record.write(line + b"\n")


if __name__ == "__main__":
    sys.exit(serve(Path(sys.argv[1])))
