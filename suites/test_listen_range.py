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

from harness.backends.base import Lab, sessions
from harness.deviations import judge
from harness.errors import PreconditionFailed
from harness.expect import require_node
from harness.model.actors import Actor
from harness.model.topology import Node
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

pytestmark = [
    pytest.mark.sut_kind("standalone-rr"),
    pytest.mark.actors(Actor.WOULD_BE_CLIENT, Actor.CLIENT),
]

# Connections the RR closed to see, each to be a proof: more than one, so one is not a fluke of
# timing, and three, so a refusal that changes after the first ones shows (GoBGP damps a
# refused dynamic neighbor after its second refusal: harness/deviations.py).
ATTEMPTS = 3
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
    states = sessions(lab, rr)  # as the SUT's implementation reports them
    return tried, states.get(str(node.interfaces[0].addresses[0].ip))


SILENT = "closed by the RR before any OPEN of its own, with no NOTIFICATION 2/2"


def _problems(
    tried: list[Attempt], proves: Callable[[Attempt], object], state: str | None
) -> list[str]:
    """What breaks the rule: too few proofs, a connection the RR closed that is no proof (said
    when the RR closed it before any OPEN of its own), a session on either side."""
    problems = []
    for a in tried:
        if a.established:
            problems.append(f"{a.describe()}: a session came up")
        elif a.connected and a.closed_by == PEER and not proves(a):
            problems.append(f"{a.describe()}: " + (SILENT if refused(a) else "not a proof"))
    if state not in NOT_UP:
        problems.append(f"state at the RR: {state}")
    proofs = sum(1 for a in tried if proves(a))
    if not problems and proofs < ATTEMPTS:
        problems.append(f"only {proofs} proof(s) of the rule, {ATTEMPTS} wanted")
    return problems


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
    problems = _problems(tried, refused, state)
    assert not problems, (
        f"{node.peers[0]} must close every connection from outside the listen range "
        f"{lab.plan.sut.values.pod_cidr} before sending an OPEN (RFC 4271 §8), and never "
        f"establish a session; outsider ({node.interfaces[0].addresses[0].ip}): "
        + _seen(tried, proofs, state)
        + "\n"
        + "\n".join(problems)
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
    who = f"{node.name} ({node.interfaces[0].addresses[0].ip}) to {node.peers[0]}"
    judge(  # each problem: a connection that was no Bad Peer AS, or a session
        lab,
        "idle-dynamic-neighbor-refuses-connections",
        [f"{who}: {p}" for p in _problems(tried, lambda a: bad_peer_as(a) is not None, state)],
        lambda p: p.endswith(SILENT),
    )
