"""Who may become an RR client (design: `bgp listen range <podCIDR> peer-group CLIENTS` with
`remote-as <asn>`: iBGP clients from the pod CIDR, nobody else).

Absence of a session is shown by the refusals themselves, each a positive event: the would-be
client records every connection attempt the RR ends before any OPEN (outside the listen range),
or the NOTIFICATION it gets (RFC 4271 §6.2: Bad Peer AS for the wrong AS).
"""

from __future__ import annotations

import pytest

from harness.backends.base import Lab
from harness.expect import require_node
from harness.observe import frr
from harness.observe.wait import wait_until

pytestmark = pytest.mark.sut_kind("standalone-rr")

ATTEMPTS = 2  # refusals to see, so one is not a fluke of timing


def refusals(events: list[dict]) -> int:
    """Connections the RR ended before it sent any OPEN: TCP accepted, then closed (or answered
    with a NOTIFICATION only). A connection never made (nothing listening) is no refusal."""
    count, connected, opened = 0, False, False
    for event in events:
        if event.get("state") == "connected":
            connected, opened = True, False
        elif event.get("kind") == "open":
            opened = True
        elif event.get("state") == "down":
            count += connected and not opened
            connected = False
    return count


def _attempts(lab: Lab, name: str):
    speaker = lab.speaker(name)
    node = lab.plan.topology.node(name)
    rr = lab.plan.topology.node(node.peers[0])
    events = wait_until(
        lambda: list(speaker.rib.refresh().events),
        # done when refused often enough, or as soon as a session came up (the finding)
        lambda ev: any(e.get("state") == "up" for e in ev) or refusals(ev) >= ATTEMPTS,
        timeout=30,
        what=f"{name} to be refused {ATTEMPTS} times",
        describe=lambda ev: ev[-6:],
        fail_fast=lab.check_alive,  # a dead RR refuses everyone, and proves nothing
    )
    states = frr.session_states(lab.frr(rr.name).query(frr.SUMMARY))
    address = str(node.interfaces[0].addresses[0].ip)
    return events, states.get(address), rr


def test_would_be_client_outside_the_pod_cidr_gets_no_session(lab, record_property):
    """Design: the listen range is the pod CIDR; a speaker outside it is turned away."""
    require_node(lab, "outsider", "a would-be client outside the pod CIDR")
    events, state, rr = _attempts(lab, "outsider")
    up = [e for e in events if e.get("state") == "up"]
    record_property("refusals", refusals(events))
    assert not up and state in (None, "Idle", "Active", "Connect"), (
        f"outsider (outside {lab.plan.sut.values.pod_cidr}) got a session with {rr.name}: "
        f"{up[:1]}, state at the RR {state}"
    )


def test_would_be_client_in_the_wrong_as_gets_no_session(lab, record_property):
    """Design: CLIENTS has `remote-as <asn>`; a speaker of another AS inside the pod CIDR gets a
    NOTIFICATION (OPEN Message Error / Bad Peer AS, RFC 4271 §6.2), never a session."""
    node = require_node(lab, "wrong-asn", "a would-be client in another AS")
    events, state, rr = _attempts(lab, "wrong-asn")
    up = [e for e in events if e.get("state") == "up"]
    notes = lab.speaker("wrong-asn").rib.notifications()
    record_property("notifications", repr(notes))
    assert not up and (2, 2) in notes, (
        f"wrong-asn (AS {node.asn}) was not turned away by {rr.name} with Bad Peer AS: "
        f"up {up[:1]}, notifications {notes}, state at the RR {state}"
    )
