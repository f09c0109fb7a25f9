"""`allowas-in` on eBGP neighbors only (design, "FRR Template Changes": "The allowas-in directive
is only applied to eBGP neighbors (different ASN), not iBGP"; Key Design Decision 5).

The ToR (eBGP) may hand router-1 routes whose AS_PATH already holds the cluster's ASN (another
site of the same AS behind the fabric): router-1 must accept them. Over its RR sessions (iBGP) a
router must keep the RFC 4271 §9.1.2 loop check: a route with its own ASN is dropped. A stand-in
RR replica (`rr-stub`, which router-1 peers with as rr@<ip>) delivers such a route, since real
FRR RRs drop it themselves.
"""

from __future__ import annotations

import re

import pytest

from harness.expect import (
    Reflector,
    await_tables,
    leaked,
    missing_reflections,
    require_node,
)
from harness.inject import Fresh, attributes_for, key_of, refusal_verdict
from harness.model.actors import Actor
from harness.observe.frr import allowas_in

pytestmark = [
    pytest.mark.sut_kind("standalone-rr"),
    pytest.mark.actors(Actor.TOR, Actor.STAND_IN_RR, Actor.CLIENT),
]


def _via(lab, speaker, router):
    """The speaker as the router sees it: the address of its session with the router."""
    address = str(speaker.address_on(lab.plan.topology.shared_segment(speaker, router)).ip)
    return Reflector(speaker.name, address)


def test_tor_route_containing_the_local_asn_is_accepted(
    lab, injector, session_family, convergence_timeout
):
    """Design: eBGP neighbors carry allowas-in, so router-1 accepts a ToR route whose AS_PATH
    contains 64514 (the routers' own ASN)."""
    tor = require_node(lab, "tor", "the ToR, an eBGP peer of router-1")
    router = lab.plan.topology.node(tor.peers[0])
    family = session_family
    asn = lab.plan.sut.values.asn
    route = Fresh.of(lab, tor).route(family)
    injector.announce(
        tor.name, family, [route], attributes_for(lab, tor, family, as_path=(tor.asn, asn))
    )
    await_tables(
        lab,
        [router],
        lambda t: missing_reflections(t, {key_of(route)}, tor.name, [_via(lab, tor, router)]),
        timeout=convergence_timeout,
        what=f"a ToR route with AS_PATH [{tor.asn} {asn}] to be accepted by {router.name}",
    )


def _neighbor_lines(running_config: str, address: str) -> list[str]:
    return [
        ln.strip()
        for ln in running_config.splitlines()
        if re.match(rf"\s*neighbor {re.escape(address)} ", ln)
    ]


def test_rr_neighbors_carry_no_allowas_in(lab, record_property):
    """Design: no allowas-in on the rr@<ip> (iBGP) neighbors, and allowas-in on the eBGP ones.
    Judged from each router's running configuration, and from bgpd's own state where its
    `show bgp neighbors json` reports allowas-in (`allowAsInCount`, FRR 10.x; 8.4 does not
    report it at all): the stronger evidence, used whenever it exists."""
    problems, checked, evidence = [], 0, []
    for router in lab.plan.routers:
        frr = lab.frr(router.name)
        running = frr.query_text("show running-config")
        state = allowas_in(frr.query("show bgp neighbors json"))
        evidence.append(
            f"{router.name}: running config"
            + (" (its JSON reports no allowas-in)" if state is None else ", allowAsInCount")
        )
        for rr_ip in lab.plan.rr_ips(router):
            checked += 1
            if any("allowas-in" in ln for ln in _neighbor_lines(running, rr_ip)):
                problems.append(f"{router.name}: RR neighbor {rr_ip} has allowas-in")
            for af, count in ((state or {}).get(rr_ip) or {}).items():
                problems.append(f"{router.name}: RR neighbor {rr_ip} {af} allowAsInCount {count}")
        for ext in lab.plan.external_neighbors(router):
            if ext.asn == router.asn:
                continue
            if not any("allowas-in" in ln for ln in _neighbor_lines(running, ext.address)):
                problems.append(
                    f"{router.name}: eBGP neighbor {ext.name} ({ext.address}) lacks allowas-in"
                )
            if state is not None and not state.get(ext.address):
                problems.append(
                    f"{router.name}: eBGP neighbor {ext.name} ({ext.address}) reports no "
                    "allowAsInCount"
                )
    record_property("rr_neighbors_checked", checked)
    record_property("allowas_in_evidence", "; ".join(evidence))
    assert checked, "no RR neighbor found to check"
    assert not problems, "\n".join(problems)


def test_route_from_an_rr_with_the_local_asn_is_rejected(
    lab, injector, session_family, convergence_timeout, record_property
):
    """Design + RFC 4271 §9.1.2: over an rr@<ip> session (iBGP, no allowas-in) a route whose
    AS_PATH holds the router's own ASN is dropped; a sentinel sent next on the same session
    proves it was processed."""
    stub = require_node(lab, "rr-stub", "a stand-in RR replica the routers peer with")
    router = lab.plan.topology.node(stub.peers[0])
    family = session_family
    fresh = Fresh.of(lab, stub)
    route, sentinel = fresh.route(family), fresh.route(family)
    injector.announce(
        stub.name, family, [route], attributes_for(lab, stub, family, as_path=(64600, router.asn))
    )
    injector.announce(stub.name, family, [sentinel], attributes_for(lab, stub, family))
    tables = await_tables(
        lab,
        [router],
        lambda t: missing_reflections(t, {key_of(sentinel)}, stub.name, [_via(lab, stub, router)]),
        timeout=convergence_timeout,
        what=f"the sentinel from {stub.name} to reach {router.name}",
        precondition=True,
    )
    leaks = leaked(tables, {key_of(route)}, f"its AS_PATH holds {router.asn}, the router's ASN")
    problems, evidence = refusal_verdict(
        lab, router.name, route, "as-path contains our own AS", leaks, timeout=convergence_timeout
    )
    record_property("evidence", " | ".join(evidence) or "(no DENIED line)")
    assert not problems, "\n".join(problems)
