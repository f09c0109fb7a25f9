"""A table rebuilt from a recording: what a harness speaker holds, from what it was sent.

ExaBGP and the crafted speaker both append one JSON object per received message to a file;
`ReplayedRib` reads what was appended since the last look (a line cut in the middle waits for
its end) and hands each entry to `apply`, which the speaker-specific subclass defines.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from harness.model.base import Family
from harness.observe.route import Route


class ReplayedRib:
    def __init__(
        self, node: str, path: Path, read_since: Callable[[int], bytes] | None = None
    ) -> None:
        self.node = node
        self.path = path
        self.read_since = read_since or self._read_file  # a kind peer pod's: through exec
        self._offset = 0
        self._partial = b""
        self._table: dict[tuple[str, Family, str], Route] = {}  # (peer, family, key)
        self.sessions: dict[str, str] = {}  # peer address -> last state ("up", "down", ...)

    def _read_file(self, offset: int) -> bytes:
        try:
            with self.path.open("rb") as handle:
                handle.seek(offset)
                return handle.read()
        except FileNotFoundError:
            return b""

    def refresh(self) -> Self:
        chunk = self.read_since(self._offset)
        self._offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for line in lines:
            if line.strip().startswith(b"{"):
                self.apply(json.loads(line))
        return self

    def routes(self) -> list[Route]:
        return list(self.refresh()._table.values())

    def apply(self, entry: dict[str, Any]) -> None:
        raise NotImplementedError

    def set_state(self, peer: str, state: str) -> None:
        """A session's new state; leaving "up" flushes what came over it."""
        self.sessions[peer] = state
        if state != "up":
            self._table = {k: v for k, v in self._table.items() if k[0] != peer}
