"""What a crafted speaker received, replayed into the table it holds (like `ExabgpRib`).

The speaker process records raw messages; decoding happens here, with the harness's own codec
(`harness.bgp.messages`), so EVPN received by the ToR is read exactly as it was sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.bgp.messages import decode_update
from harness.model.base import Family
from harness.observe.route import Route


class SpeakerRib:
    def __init__(self, node: str, path: Path) -> None:
        self.node = node
        self.path = path
        self._offset = 0
        self._partial = b""
        self._table: dict[tuple[str, Family, str], Route] = {}
        self.sessions: dict[str, str] = {}  # peer -> "connected" | "up" | "down"
        self.events: list[dict[str, Any]] = []  # state changes and notifications, in order

    def refresh(self) -> SpeakerRib:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return self
        self._offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for line in lines:
            if line.strip():
                self.apply(json.loads(line))
        return self

    def routes(self) -> list[Route]:
        return list(self.refresh()._table.values())

    def apply(self, entry: dict[str, Any]) -> None:
        peer, kind = str(entry["peer"]), entry["kind"]
        if kind == "state":
            self.sessions[peer] = entry["state"]
            self.events.append(entry)
            if entry["state"] != "up":
                self._table = {k: v for k, v in self._table.items() if k[0] != peer}
        elif kind == "notification":
            self.events.append(entry)
        elif kind == "update":
            announced, withdrawn = decode_update(
                bytes.fromhex(entry["hex"]), peer=peer, observed_at=self.node
            )
            for family, key in withdrawn:
                self._table.pop((peer, family, key), None)
            for route in announced:
                self._table[(peer, route.family, route.key)] = route

    def notifications(self, peer: str | None = None) -> list[tuple[int, int]]:
        """(code, subcode) of every NOTIFICATION received (RFC 4271 §4.5)."""
        out = []
        for e in self.refresh().events:
            if e["kind"] == "notification" and (peer is None or e["peer"] == peer):
                raw = bytes.fromhex(e["hex"])
                out.append((raw[19], raw[20]))
        return out
