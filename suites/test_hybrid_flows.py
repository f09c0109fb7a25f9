"""The design's "Route Flow in Hybrid Scenario" table, one test per row.

| External EVPN (from ToR) | ToR → eBGP → Router Pod → iBGP → RR → reflects to other Router Pods |
| Internal EVPN (local VMs) | Router Pod → iBGP → RR → reflects to other Router Pods |
| Internal EVPN to external | Router Pod → eBGP → ToR |

The ToR is the harness's crafted speaker (ExaBGP cannot announce EVPN): one BGP speaker with one
session to router-1, announcing and recording EVPN.
"""

from __future__ import annotations

import pytest

from harness.backends.base import bgp_identifier
from harness.deviations import judge
from harness.expect import (
    Reflector,
    await_originated,
    await_tables,
    evpn_clients,
    missing_reflections,
    reflectors,
    require_node,
)
from harness.inject import Fresh, attributes_for
from harness.model.actors import Actor
from harness.model.base import Family
from harness.transparency import med_added, transparency

pytestmark = [
    pytest.mark.sut_kind("standalone-rr"),
    pytest.mark.actors(Actor.TOR, Actor.CLIENT, Actor.OBSERVER),
]

EVPN = Family.L2VPN_EVPN


@pytest.fixture
def tor(lab):
    return require_node(lab, "tor", "the ToR, an EVPN eBGP peer of a router")


def test_external_evpn_from_the_tor_reaches_the_other_routers_through_the_rr(
    lab, injector, tor, convergence_timeout, record_property
):
    """Row 1: a ToR EVPN route enters router-1 over eBGP, and router-1's RR sessions carry it
    to every other client: AS_PATH [ToR's AS], ORIGINATOR_ID router-1 (the RR's client it came
    from, RFC 4456 §8), CLUSTER_LIST [cluster id], next hop still the ToR's, and every other
    attribute as router-1 sent it to the RRs (RFC 4456 §10)."""
    edge = lab.plan.topology.node(tor.peers[0])
    route = Fresh.of(lab, tor).evpn()
    attrs = attributes_for(lab, tor, EVPN)
    injector.announce(tor.name, EVPN, [route], attrs)
    via = reflectors(lab)
    others = [n for n in evpn_clients(lab) if n.name != edge.name]
    tables = await_tables(
        lab,
        others,
        lambda t: missing_reflections(t, {route.key}, f"{tor.name} via {edge.name}", via),
        timeout=convergence_timeout,
        what="an EVPN route from the ToR to reach the other clients",
    )
    cluster = (str(lab.plan.sut.values.cluster_id),)
    edge_id = bgp_identifier(lab, edge)
    problems = [
        f"at {node}: {p.brief()} as-path {list(p.as_path)}"
        for node, t in tables.items()
        for p in t.paths(route.key)
        if p.peer in {rr.address for rr in via}
        and (
            p.as_path != (tor.asn,)
            or p.originator_id != edge_id
            or p.cluster_list != cluster
            or p.next_hop != attrs.next_hop
        )
    ]
    record_property("clients", len(tables))
    if problems:
        problems.insert(
            0,
            f"expected AS_PATH [{tor.asn}], ORIGINATOR_ID {edge_id}, CLUSTER_LIST "
            f"{list(cluster)}, next hop {attrs.next_hop}:",
        )
    assert not problems, "\n".join(problems)  # §8 first: §10 compares what that leaves
    compared = transparency(lab, tables, edge, {route.key}, EVPN)
    judge(lab, "med-zero-added", compared.problems, med_added, exposed=compared.sent_without_med)


def test_internal_evpn_reaches_the_other_routers_through_the_rr(lab, convergence_timeout):
    """Row 2: a router pod's own EVPN routes reach every other router pod through each RR."""
    via = reflectors(lab)
    for router in lab.plan.routers:
        own = {r.key for r in await_originated(lab, router, convergence_timeout)}
        others = [n for n in lab.plan.routers if n.name != router.name]
        await_tables(
            lab,
            others,
            lambda t, own=own, router=router: missing_reflections(t, own, router.name, via),
            timeout=convergence_timeout,
            what=f"{router.name}'s EVPN to reach the other routers",
        )


def test_internal_evpn_reaches_the_tor(lab, tor, convergence_timeout):
    """Row 3: router-1's own EVPN routes reach the ToR over eBGP, with AS_PATH [cluster ASN] and
    the VTEP as next hop (EVPN next hops stay the originating VTEP across eBGP, RFC 7432 §7)."""
    edge = lab.plan.topology.node(tor.peers[0])
    own = await_originated(lab, edge, convergence_timeout)
    segment = lab.plan.topology.shared_segment(tor, edge)
    tables = await_tables(
        lab,
        [tor],
        lambda t: missing_reflections(
            t,
            {r.key for r in own},
            edge.name,
            [Reflector(edge.name, str(edge.address_on(segment).ip))],
        ),
        timeout=convergence_timeout,
        what=f"{edge.name}'s EVPN to reach the ToR",
    )
    problems = [
        f"{p.brief()} as-path {list(p.as_path)}"
        for r in own
        for p in tables[tor.name].paths(r.key)
        if p.as_path != (edge.asn,) or p.next_hop != str(edge.evpn.vtep)
    ]
    assert not problems, (
        f"expected AS_PATH [{edge.asn}] and next hop {edge.evpn.vtep}:\n" + "\n".join(problems)
    )
