"""The bench's reading of the wire: when a sender's UPDATEs first added up to N routes.

The capture and the rebuilding of each session's stream are `harness.backends.netns.capture`'s,
shared with the failover drills.
"""

from __future__ import annotations

from harness.backends.netns.capture import Flow
from harness.bench.burst import evpn_nlri


def routes_complete_at(flows: list[Flow], count: int) -> float | None:
    """When the sender's UPDATEs first added up to `count` EVPN type-2 routes held."""
    held: set[bytes] = set()
    for flow in flows:
        for at, message in flow.messages():
            if message[18] != 2:  # UPDATE
                continue
            for announced, key in evpn_nlri(message):
                (held.add if announced else held.discard)(key)
            if len(held) >= count:
                return at
    return None
