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
from typing import BinaryIO

ACKS = {b"done", b"error"}


class Bridge:
    """One select loop: ExaBGP's stdin, the API socket, and callers sending their command."""

    def __init__(self, state_dir: Path, record: BinaryIO) -> None:
        sock_path = state_dir / "api.sock"
        sock_path.unlink(missing_ok=True)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(sock_path))
        self.server.listen(16)
        self.record = record
        self.waiting: collections.deque[socket.socket] = collections.deque()  # sent, in order
        self.requests: dict[socket.socket, bytes] = {}  # callers still sending their line
        self.pending = b""
        self.selector = selectors.DefaultSelector()
        self.selector.register(0, selectors.EVENT_READ, self.from_exabgp)
        self.selector.register(self.server, selectors.EVENT_READ, self.accept)

    def run(self) -> int:
        while True:
            for key, _ in self.selector.select():
                if key.data(key.fileobj) is False:
                    return 0

    def accept(self, _: object) -> None:
        conn, _ = self.server.accept()
        conn.setblocking(False)
        self.requests[conn] = b""
        self.selector.register(conn, selectors.EVENT_READ, self.from_caller)

    def from_caller(self, conn: socket.socket) -> None:
        try:
            chunk = conn.recv(4096)
        except OSError:
            chunk = b""
        self.requests[conn] += chunk
        if b"\n" not in self.requests[conn] and chunk:
            return
        self.selector.unregister(conn)
        command = self.requests.pop(conn).split(b"\n", 1)[0].strip()
        if command and chunk:
            os.write(1, command + b"\n")
            self.waiting.append(conn)
        else:  # the caller went away before finishing its command
            conn.close()

    def from_exabgp(self, _: object) -> bool:
        chunk = os.read(0, 1 << 16)
        if not chunk:  # ExaBGP is gone
            return False
        *lines, self.pending = (self.pending + chunk).split(b"\n")
        for line in (raw.strip() for raw in lines):
            if line in ACKS and self.waiting:
                conn = self.waiting.popleft()
                with contextlib.suppress(OSError):  # the caller gave up waiting
                    conn.setblocking(True)
                    conn.sendall(line + b"\n")
                conn.close()
            elif line:
                self.record.write(line + b"\n")
        return True


def serve(state_dir: Path) -> int:
    with (state_dir / "received.jsonl").open("ab", buffering=0) as record:
        return Bridge(state_dir, record).run()


if __name__ == "__main__":
    sys.exit(serve(Path(sys.argv[1])))
