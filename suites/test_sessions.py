"""The sessions the design implies, and no others.

Design ("Connection Patterns", "Controller Changes"): every router pod has an iBGP session with
every ready RR pod, the RR accepting it through `bgp listen range <podCIDR>`; every router pod
has its eBGP sessions with the external routers (ToR, cloud router). The run does not start
until every one of them is Established (the plugin stops it otherwise, naming the sessions), so
what is left to check is that an RR pod holds no session the design does not imply: its peers
are the router pods, its configured non-clients and the harness's clients (meshrr: the other
route servers, and its side's clients while it holds the side's anycast address).
"""

from __future__ import annotations

import pytest

from harness.backends.base import rr_peers, sessions, unready_sessions
from harness.model.actors import Actor

# The design's sessions (routers with the RRs and with the external routers), and the would-be
# clients: an RR that holds a session with one of them is what this check catches.
pytestmark = pytest.mark.actors(Actor.TOR, Actor.CLOUD_ROUTER, Actor.WOULD_BE_CLIENT)
ESTABLISHED = "Established"


def test_the_sessions_are_exactly_those_the_design_implies(lab, record_property):
    """Every expected session is Established, and every Established session of an RR pod is
    one the design implies."""
    down = unready_sessions(lab)
    problems = [
        f"{node}: session with {peer} is {state}"
        for node, peers in down.items()
        for peer, state in peers.items()
    ]
    checked = 0
    for node in lab.plan.route_reflectors:
        if node.name in lab.unrealised:
            continue
        wanted = set(rr_peers(lab, node))
        held = sessions(lab, node.name)
        checked += len(held)
        problems += [
            f"{node.name}: session with {peer} is {state}, but the design implies none"
            for peer, state in sorted(held.items())
            if state == ESTABLISHED and peer not in wanted
        ]
    record_property("rr_sessions_checked", checked)
    assert not problems, "sessions other than the design's:\n  - " + "\n  - ".join(problems)
