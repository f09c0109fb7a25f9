"""The one-line request/reply API both harness speakers serve on `<state dir>/api.sock`."""

from __future__ import annotations

import socket
from pathlib import Path

from harness.errors import DaemonError
from harness.runtime.processes import tail


def request(node: str, directory: Path, line: str, *, log: str, timeout: float = 10.0) -> str:
    """Send one line, return the one-line reply; a silent or vanished server is a DaemonError
    carrying the end of the daemon's log."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(directory / "api.sock"))
            sock.sendall(line.encode() + b"\n")
            return sock.makefile("rb").readline().decode().strip()
    except OSError as exc:
        raise DaemonError(
            node,
            f"no answer on {directory / 'api.sock'} to {line[:120]!r}: {exc}",
            f"last lines of {log}:\n{tail(directory / log)}",
        ) from exc


def read_log(directory: Path, log: str) -> str:
    try:
        return (directory / log).read_text(errors="replace")
    except OSError:
        return f"(no {log})"
