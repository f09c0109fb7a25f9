"""A client for an FRR daemon's vty socket, speaking vtysh's own protocol.

vtysh talks to each daemon over `<daemon>.vty` (FRR lib/vty.c, VTY_SHELL_SERV): the command is
sent NUL-terminated; the reply is the output followed by three NULs and a status byte (0 =
success). A persistent connection answers in ~0.1 ms, against ~30 ms per vtysh process
(LAB-NOTES), which is what lets observers poll every client well inside 50 ms.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import CommandError

_END = b"\0\0\0"
# What vtysh sends around a file it applies (`vtysh -f`, which frr-reload.py uses; FRR
# lib/command.c): while they bracket the commands, bgpd opens no session of a neighbor the
# commands create (its `shut_during_cfg`); after the end mark FRR's own timer lets them start
# about 1 s later (BGP_POST_CONFIG_DELAY_SECONDS), as under frr-reload. An opened bracket must
# be closed whatever failed: bgpd would otherwise hold new neighbors back for 600 s.
CONFIG_START, CONFIG_END = "XFRR_start_configuration", "XFRR_end_configuration"


class VtyClient:
    def __init__(self, node: str, path: Path, timeout: float = 15.0) -> None:
        self.node = node
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._lock = threading.RLock()  # held by `run`, and across a batch by `exclusive`

    def _connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.path))
            self._sock = sock
            self._exchange("enable")  # vtysh connections start in VIEW node
        except BaseException:
            self._sock = None
            sock.close()
            raise

    def _exchange(self, command: str) -> str:
        assert self._sock is not None
        self._sock.sendall(command.encode() + b"\0")
        buf = bytearray()
        while True:
            chunk = self._sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError(f"{self.path} closed the connection")
            buf += chunk
            if len(buf) >= 4 and buf[-4:-1] == _END:
                status = buf[-1]
                text = buf[:-4].decode(errors="replace")
                if status != 0:
                    raise CommandError(self.node, ["vty", command], status, text)
                return text

    def run(self, command: str) -> str:
        """Run one command; raise `CommandError` with FRR's own message when it fails."""
        with self._lock:
            if self._sock is None:
                self._connect()
            try:
                return self._exchange(command)
            except CommandError:
                raise  # a complete reply: the connection is still in step
            except BaseException:
                self.close()  # a reply may be half read: never reuse this connection
                raise

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Nobody else's command runs on this connection inside the block: a configuration
        batch moves the session through `configure terminal` ... `end`, and a query from
        another thread in between would run in the wrong node."""
        with self._lock:
            yield

    def json(self, command: str) -> Any:
        text = self.run(command)
        try:
            return json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise CommandError(self.node, ["vty", command], 0, f"not JSON ({exc}): {text}") from exc

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
