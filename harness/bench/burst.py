"""A burst of EVPN type-2 routes: encoded once, before the clock starts, into UPDATEs packed
with as many NLRI as fit in 4096 octets; and the receiving side's tally of them.

The tally reads what a crafted speaker recorded (one JSON line per message, with the wall-clock
time it arrived) and counts, per sending peer, the distinct routes held, walking MP_REACH and
MP_UNREACH NLRI directly (RFC 4760 §3-4, RFC 7432 §7.2). Decoding 200k NLRI into route
objects would make the harness, not the route reflector, the slow part.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.bgp.attributes import Attributes
from harness.bgp.evpn import MacIpRoute, encode_nlri
from harness.bgp.update import build_update
from harness.model.base import Family
from harness.observe.replay import ReplayedRib

MAX_MESSAGE = 4096  # RFC 4271 §4
HEADER = 19
MP_REACH, MP_UNREACH = 14, 15
EXTENDED_LENGTH = 0x10
EVPN_AFI_SAFI = (25).to_bytes(2) + bytes([70])


def routes(count: int, rd: str, vni: int, first: int = 0) -> list[MacIpRoute]:
    """`count` MAC routes (02:b0:..), label = the VNI (RFC 8365 §5.1.3)."""
    return [
        MacIpRoute(
            rd=rd,
            mac=f"02:b0:{i >> 24 & 255:02x}:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
            label=vni,
        )
        for i in range(first, first + count)
    ]


def encode(burst: list[MacIpRoute], attributes: Attributes, *, withdraw: bool = False) -> bytes:
    """Every route of the burst in as few UPDATEs as fit (all NLRI of a burst have one size)."""
    one = [burst[0]]
    sample = (
        build_update(Family.L2VPN_EVPN, withdraw=one)
        if withdraw
        else build_update(Family.L2VPN_EVPN, announce=one, attributes=attributes)
    )
    size = len(encode_nlri(burst[0]))
    per_message = (MAX_MESSAGE - (len(sample) - size) - 2) // size  # -2: extended length
    out = []
    for start in range(0, len(burst), per_message):
        chunk = burst[start : start + per_message]
        if withdraw:
            out.append(build_update(Family.L2VPN_EVPN, withdraw=chunk))
        else:
            out.append(build_update(Family.L2VPN_EVPN, announce=chunk, attributes=attributes))
    return b"".join(out)


def evpn_nlri(message: bytes) -> Iterator[tuple[bool, bytes]]:
    """(announced?, route key) of each EVPN NLRI of one UPDATE. The key is the NLRI up to its
    labels (RD, ESI, Ethernet tag, MAC, IP), which a route reflector passes on unchanged."""
    withdrawn = int.from_bytes(message[HEADER : HEADER + 2])
    at = HEADER + 2 + withdrawn
    end = at + 2 + int.from_bytes(message[at : at + 2])
    at += 2
    while at < end:
        flags, code = message[at], message[at + 1]
        if flags & EXTENDED_LENGTH:
            length, at = int.from_bytes(message[at + 2 : at + 4]), at + 4
        else:
            length, at = message[at + 2], at + 3
        value = message[at : at + length]
        at += length
        if code not in (MP_REACH, MP_UNREACH) or value[:3] != EVPN_AFI_SAFI:
            continue
        nlri = 3
        if code == MP_REACH:
            nlri = 4 + value[3] + 1  # AFI, SAFI, next hop length, next hop, reserved
        while nlri < len(value):
            route_type, size = value[nlri], value[nlri + 1]
            body = value[nlri + 2 : nlri + 2 + size]
            nlri += 2 + size
            if route_type == 2:  # RD 8, ESI 10, tag 4, MAC length 1, MAC 6, IP length 1, IP
                yield code == MP_REACH, body[: 30 + body[29] // 8]


class BurstTally(ReplayedRib):
    """Per peer of a receiving speaker: the type-2 routes it holds now, and the wall-clock time
    the count last reached each threshold asked for (`reached`)."""

    def __init__(self, node: str, path: Path, read_since: Any = None) -> None:
        super().__init__(node, path, read_since)
        self.held: dict[str, set[bytes]] = {}
        self.last_update: dict[str, float] = {}  # peer -> arrival of its last UPDATE

    def apply(self, entry: dict[str, Any]) -> None:
        if entry.get("kind") != "update":
            return
        peer = str(entry["peer"])
        held = self.held.setdefault(peer, set())
        for announced, key in evpn_nlri(bytes.fromhex(entry["hex"])):
            if announced:
                held.add(key)
            else:
                held.discard(key)
        self.last_update[peer] = float(entry["time"])

    def counts(self) -> dict[str, int]:
        self.refresh()
        return {peer: len(keys) for peer, keys in self.held.items()}
