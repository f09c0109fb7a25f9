"""What a crafted speaker received, replayed into the table it holds (like `ExabgpRib`).

The speaker process records raw messages; decoding happens here, with the harness's own codec
(`harness.observe.wire`), so EVPN received by the ToR is read exactly as it was sent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.observe.replay import ReplayedRib
from harness.observe.wire import decode_update


class SpeakerRib(ReplayedRib):
    def __init__(
        self, node: str, path: Path, read_since: Callable[[int], bytes] | None = None
    ) -> None:
        super().__init__(node, path, read_since)
        self.events: list[dict[str, Any]] = []  # state changes and notifications, in order

    def apply(self, entry: dict[str, Any]) -> None:
        peer, kind = str(entry["peer"]), entry["kind"]
        if kind == "state":
            self.events.append(entry)
            self.set_state(peer, entry["state"])
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
