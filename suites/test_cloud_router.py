"""The cloud router: IPv4/IPv6 only (design, "Use Case: Cloud Provider Environments": "Cloud
routers only support basic IPv4/IPv6 BGP, not EVPN"; router pods peer with it over eBGP while
EVPN stays inside the cluster, through the RRs).
"""

from __future__ import annotations

import json
from ipaddress import IPv4Address

import pytest

from harness.backends.base import routes
from harness.expect import (
    Reflector,
    await_originated,
    await_tables,
    evpn_clients,
    leaked,
    missing_reflections,
    reflectors,
    require_node,
    restoring,
    without_rd,
)
from harness.inject import Fresh, attributes_for
from harness.model.actors import Actor
from harness.model.base import Family
from harness.observe.frr import UNICAST_AFI

pytestmark = [
    pytest.mark.sut_kind("standalone-rr"),
    pytest.mark.actors(Actor.CLOUD_ROUTER, Actor.CLIENT, Actor.OBSERVER),
]


@pytest.fixture
def cloud(lab):
    return require_node(lab, "cloud", "an IPv4/IPv6-only eBGP peer of a router")


@pytest.fixture
def cloud_router(lab, cloud):
    """The router pod the cloud router peers with, and the cloud's address on that link."""
    router = lab.plan.topology.node(cloud.peers[0])
    segment = lab.plan.topology.shared_segment(cloud, router)
    return router, str(cloud.address_on(segment).ip), str(router.address_on(segment).ip)


def _negotiated(lab, router, address) -> dict[str, str]:
    info = lab.frr(router.name).query(f"show bgp neighbor {address} json")[address]
    return {
        af: next(iter(state))
        for af, state in info["neighborCapabilities"]["multiprotocolExtensions"].items()
    }


def test_cloud_session_carries_ipv4_and_ipv6_and_never_evpn(
    lab, cloud, cloud_router, injector, convergence_timeout, record_property
):
    """The session negotiates IPv4 and IPv6 unicast only (RFC 4760 §8: a family is exchanged
    only when both ends advertise it), and no EVPN reaches the cloud router. The proof is the
    capability exchange; the traffic check backs it up: after EVPN churn on the router (a new
    host) and a later IPv4 sentinel, the cloud router's whole record holds no EVPN. (The
    sentinel proves the router had time to send; it cannot order EVPN updates against IPv4 ones,
    which FRR sends per family.)"""
    router, cloud_ip, router_ip = cloud_router
    negotiated = _negotiated(lab, router, cloud_ip)
    record_property("families", json.dumps(negotiated))
    both = {af for af, state in negotiated.items() if state == "advertisedAndReceived"}
    assert both == {"ipv4Unicast", "ipv6Unicast"}, f"negotiated with the cloud router: {negotiated}"

    mac, ip = "02:00:00:00:c1:0d", IPv4Address("10.100.0.250")
    host = f"evpn type-2 mac {mac}"
    lab.set_evpn_host(router.name, mac, ip, present=True)
    with restoring(
        lambda: lab.set_evpn_host(router.name, mac, ip, present=False),
        lambda: await_tables(
            lab,
            evpn_clients(lab),
            lambda t: [f"{n} still holds {k}" for n, tb in t.items() for k in _type2(tb, host)],
            timeout=convergence_timeout,
            what=f"the host {mac} removed from {router.name} to be withdrawn everywhere",
            precondition=True,
        ),
    ):
        await_originated(lab, router, convergence_timeout, expected={f"evpn type-2 mac {mac}"})
        client = require_node(lab, "client", "a crafted client, to send the sentinel")
        sentinel = Fresh.of(lab, client).ipv4()
        injector.announce(
            client.name,
            Family.IPV4_UNICAST,
            [sentinel],
            attributes_for(lab, client, Family.IPV4_UNICAST),
            peer=reflectors(lab)[0].name,
        )
        await_tables(
            lab,
            [cloud],
            lambda t: missing_reflections(
                t, {sentinel}, client.name, [Reflector(router.name, router_ip)]
            ),
            timeout=convergence_timeout,
            what="an IPv4 sentinel to reach the cloud router",
            precondition=True,
        )
    evpn = [r.brief() for r in routes(lab, cloud, family=Family.L2VPN_EVPN)]
    record_file = lab.peer(cloud.name).rib.path
    assert not evpn and "l2vpn evpn" not in record_file.read_text(), (
        f"EVPN reached the cloud router: {evpn[:5]}"
    )


@pytest.mark.parametrize("family", [Family.IPV4_UNICAST, Family.IPV6_UNICAST], ids=["ipv4", "ipv6"])
def test_cloud_routes_reach_the_router(lab, cloud, cloud_router, family, convergence_timeout):
    """IPv4 and IPv6 routes flow from the cloud router into the router pod."""
    router, cloud_ip, router_ip = cloud_router
    if family is Family.IPV4_UNICAST:
        prefix, next_hop = "10.88.1.0/24", "self"
    else:
        segment = lab.plan.topology.shared_segment(cloud, router)
        prefix, next_hop = "2001:db8:88::/48", str(cloud.address_on(segment, version=6).ip)
    peer = lab.exabgp(cloud.name)
    peer.send(f"neighbor {router_ip} announce route {prefix} next-hop {next_hop}")
    with restoring(
        lambda: peer.send(f"neighbor {router_ip} withdraw route {prefix} next-hop {next_hop}"),
        lambda: await_tables(
            lab,
            evpn_clients(lab),
            lambda t: leaked(t, {prefix}, "the cloud router withdrew it"),
            timeout=convergence_timeout,
            what=f"{prefix} withdrawn by the cloud router to be gone everywhere",
            precondition=True,
        ),
    ):
        await_tables(
            lab,
            [router],
            lambda t: missing_reflections(
                t, {prefix}, cloud.name, [Reflector(cloud.name, cloud_ip)]
            ),
            timeout=convergence_timeout,
            what=f"{UNICAST_AFI[family]} {prefix} from the cloud router to reach {router.name}",
        )


def test_router_routes_reach_the_cloud_router(lab, cloud, cloud_router, convergence_timeout):
    """IPv4 flows from the cluster to the cloud router: every router pod's VTEP (its own, and the
    others' learned through the RRs). The router pods originate no IPv6 route of their own in
    this design (IPv4 VTEPs), so IPv6 towards the cloud is exercised by no route here."""
    router, _, router_ip = cloud_router
    vteps = {f"{n.evpn.vtep}/32" for n in lab.plan.routers}
    await_tables(
        lab,
        [cloud],
        lambda t: missing_reflections(
            t, vteps, "the router pods", [Reflector(router.name, router_ip)]
        ),
        timeout=convergence_timeout,
        what="every router pod's VTEP to reach the cloud router",
    )


def test_evpn_keeps_flowing_between_routers_through_the_rrs(lab, cloud, convergence_timeout):
    """With the cloud router's session up, EVPN still flows router → RR → routers."""
    via = reflectors(lab)
    for router in lab.plan.routers:
        own = {r.key for r in await_originated(lab, router, convergence_timeout)}
        others = [n for n in evpn_clients(lab) if n.name != router.name]
        await_tables(
            lab,
            others,
            lambda t, own=own, router=router: missing_reflections(t, own, router.name, via),
            timeout=convergence_timeout,
            what=f"{router.name}'s EVPN to reach the other clients",
        )


def _type2(table, host: str) -> list[str]:
    """Keys of the type-2 routes of `host` (`evpn type-2 mac M`: MAC, or MAC and IP; any RD)
    a table holds."""
    return [r.key for r in table if without_rd(r.key).startswith(host)]
