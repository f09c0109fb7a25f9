"""What a crafted speaker received, replayed into the table it holds (like `ExabgpRib`).

The speaker process records raw messages; decoding happens here, with the harness's own codec
(`harness.observe.wire`), so EVPN received by the ToR is read exactly as it was sent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.bgp.stream import MAX_MESSAGE_SIZE
from harness.observe.refusals import notification_code
from harness.observe.replay import ReplayedRib


class SpeakerRib(ReplayedRib):
    """The routes a crafted speaker holds, and `events`: everything else it recorded, in order
    (state changes, OPENs and NOTIFICATIONs received, the OPEN and NOTIFICATIONs it sent, each
    connection's end and who ended it; `speaker_process` describes the entries), and `malformed`:
    every UPDATE received that the harness's strict codec refuses (with its error), which
    changes no route: a peer that passes on a malformed UPDATE is a finding, not a crash of
    the reader (the robustness checks look here)."""

    def __init__(
        self, node: str, path: Path, read_since: Callable[[int], bytes] | None = None
    ) -> None:
        super().__init__(node, path, read_since)
        self.events: list[dict[str, Any]] = []
        self.malformed: list[dict[str, Any]] = []  # UPDATEs received that do not decode

    def apply(self, entry: dict[str, Any]) -> None:
        peer, kind = str(entry["peer"]), entry["kind"]
        if kind != "update":
            self.events.append(entry)
            if kind == "state":
                self.set_state(peer, entry["state"])
            return
        from harness.observe.wire import decode_update  # scapy: once an UPDATE is read

        try:
            announced, withdrawn = decode_update(
                bytes.fromhex(entry["hex"]), peer=peer, observed_at=self.node
            )
        except ValueError as exc:  # an UPDATE our strict codec refuses: kept, not applied
            self.malformed.append(entry | {"error": str(exc)})
            return
        for family, key in withdrawn:
            self._table.pop((peer, family, key), None)
        for route in announced:
            self._table[(peer, route.family, route.key)] = route

    def max_message_size(self, peer: str) -> int | None:
        """The maximum message size of the session to `peer` that came up last, as the speaker
        recorded it on Established: 65535 when both OPENs carried the Extended Message
        capability, 4096 otherwise (RFC 8654 §4); None before any came up."""
        ups = [
            e
            for e in self.refresh().events
            if e["kind"] == "state" and e["state"] == "up" and e["peer"] == peer
        ]
        return int(ups[-1].get("max_message_size", MAX_MESSAGE_SIZE)) if ups else None

    def extended_messages(self, peer: str) -> bool | None:
        """Whether the last session to `peer` negotiated extended messages (RFC 8654 §4)."""
        size = self.max_message_size(peer)
        return None if size is None else size > MAX_MESSAGE_SIZE

    def notifications(self, peer: str | None = None) -> list[tuple[int, int] | None]:
        """(code, subcode) of every NOTIFICATION received (RFC 4271 §4.5); None for one too
        short to carry them."""
        return [
            notification_code(bytes.fromhex(e["hex"]))
            for e in self.refresh().events
            if e["kind"] == "notification" and (peer is None or e["peer"] == peer)
        ]
