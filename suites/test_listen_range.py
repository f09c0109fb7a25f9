"""Who may become an RR client (design: `bgp listen range <podCIDR> peer-group CLIENTS` with
`remote-as <asn>`: iBGP clients from the pod CIDR, nobody else).

Absence of a session is shown by the refusals themselves, each a positive event recorded by the
would-be client (`harness.observe.refusals`): outside the listen range, a connection the RR
closes before it sends any OPEN (RFC 4271 §8); in the wrong AS, the RR's NOTIFICATION Bad Peer
AS answering the client's OPEN, after the RR's own OPEN when that reaches the wire (RFC 4271
§6.2). A connection the would-be client ended itself proves nothing either way: the harness
reports it as its own error (`PreconditionFailed`), never as a pass.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.backends.base import Lab
from harness.errors import PreconditionFailed
from harness.expect import require_node
from harness.model.topology import Node
from harness.observe import frr
from harness.observe.refusals import (
    PEER,
    Attempt,
    attempts,
    bad_peer_as,
    ended_by_speaker,
    refused,
    settled,
)
from harness.observe.wait import wait_until

pytestmark = pytest.mark.sut_kind("standalone-rr")

ATTEMPTS = 2  # proofs to see, so one is not a fluke of timing
NOT_UP = (None, "Idle", "Active", "Connect")  # the RR's view of the address: no session


def _attempts(
    lab: Lab, node: Node, proves: Callable[[Attempt], object]
) -> tuple[list[Attempt], str | None]:
    """The node's connection attempts to its RR until they settle (`refusals.settled`), and the
    RR's state for its address. Raises `PreconditionFailed` when the speaker ended a connection
    itself before any session came up: the RR's behaviour is then unknown."""
    speaker, rr = lab.speaker(node.name), node.peers[0]
    tried = wait_until(
        lambda: attempts(speaker.rib.refresh().events),
        lambda tried: settled(tried, proves, ATTEMPTS),
        timeout=30,
        what=f"{node.name}'s connections to {rr} to settle",
        describe=lambda tried: [a.describe() for a in tried[-4:]],
        fail_fast=lab.check_alive,  # a dead RR refuses everyone, and proves nothing
    )
    own = [a for a in tried if ended_by_speaker(a)]
    if own and not any(a.established for a in tried):
        raise PreconditionFailed(
            f"{node.name}: the crafted speaker itself ended a connection to {rr}, so what "
            f"{rr} does with it is unknown: {own[0].describe()}"
        )
    states = frr.session_states(lab.frr(rr).query(frr.SUMMARY))
    return tried, states.get(str(node.interfaces[0].addresses[0].ip))


def _holds(tried: list[Attempt], proofs: list, state: str | None) -> bool:
    """Enough proofs, every connection the RR ended is one, no session on either side."""
    by_peer = [a for a in tried if a.connected and a.closed_by == PEER]
    return (
        len(proofs) >= ATTEMPTS
        and len(proofs) == len(by_peer)
        and not any(a.established for a in tried)
        and state in NOT_UP
    )


def _seen(tried: list[Attempt], proofs: list, state: str | None) -> str:
    by_peer = sum(1 for a in tried if a.connected and a.closed_by == PEER)
    shown = "; ".join(a.describe() for a in tried[-4:])
    return (
        f"proofs of the rule: {len(proofs)}, connections the RR closed: {by_peer}; "
        f"{len(tried)} attempts, the last: {shown}; state at the RR: {state}"
    )


def test_would_be_client_outside_the_pod_cidr_gets_no_session(lab, record_property):
    """RFC 4271 §8, design `bgp listen range <podCIDR>`: the RR has no neighbor for an address
    outside the pod CIDR, so it closes every connection from there before sending an OPEN."""
    node = require_node(lab, "outsider", "a would-be client outside the pod CIDR")
    tried, state = _attempts(lab, node, refused)
    proofs = [a for a in tried if refused(a)]
    record_property("refusals", len(proofs))
    record_property("evidence", "; ".join(a.describe() for a in proofs[:ATTEMPTS]))
    assert _holds(tried, proofs, state), (
        f"{node.peers[0]} must close every connection from outside the listen range "
        f"{lab.plan.sut.values.pod_cidr} before sending an OPEN (RFC 4271 §8), and never "
        f"establish a session; outsider ({node.interfaces[0].addresses[0].ip}): "
        + _seen(tried, proofs, state)
    )


def test_would_be_client_in_the_wrong_as_gets_no_session(lab, record_property):
    """RFC 4271 §6.2, design: CLIENTS has `remote-as <asn>`; a speaker of another AS inside the
    pod CIDR has its OPEN answered with NOTIFICATION OPEN Message Error / Bad Peer AS (2/2),
    after the RR's own OPEN when that reaches the wire (`refusals.bad_peer_as`), never a
    session."""
    node = require_node(lab, "wrong-asn", "a would-be client in another AS")
    tried, state = _attempts(lab, node, bad_peer_as)
    proofs = [p for p in map(bad_peer_as, tried) if p is not None]
    record_property("bad_peer_as", len(proofs))
    shown = sorted(proofs, key=lambda p: p.open is None)[:ATTEMPTS]  # with the RR's OPEN first
    record_property("evidence", "; ".join(map(str, shown)))
    assert _holds(tried, proofs, state), (
        f"{node.peers[0]} must answer every OPEN from AS {node.asn} (not the clients' AS) "
        f"with NOTIFICATION 2/2 Bad Peer AS (RFC 4271 §6.2), and never establish a session; "
        f"wrong-asn ({node.interfaces[0].addresses[0].ip}): " + _seen(tried, proofs, state)
    )
