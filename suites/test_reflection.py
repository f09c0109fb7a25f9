"""Reflection of the router pods' EVPN routes through the route reflector pods.

Design ("Route Flow in Hybrid Scenario", row "Internal EVPN"): Router Pod → iBGP → RR → reflects
to other Router Pods. RFC 4456 §6: a route from a client is reflected to all other clients;
§8: the RR sets ORIGINATOR_ID to the originator's router id and prepends its CLUSTER_ID to
CLUSTER_LIST; §10: the RR does not change the path's attributes, so the next hop (the
originating VTEP) arrives unchanged. Every check runs once per router pod (`router`).

The routers' IPv4 unicast routes (their VTEP addresses, reflected by the RR merged upstream,
openperouter PR #509) are held to the same rules where the SUT's RRs reflect IPv4.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from ipaddress import IPv4Address

import pytest

from harness.backends.base import bgp_identifier
from harness.deviations import judge
from harness.errors import PreconditionFailed
from harness.expect import (
    Reflector,
    TablePoll,
    attribute_problems,
    await_originated,
    await_tables,
    evpn_clients,
    leaked,
    missing_reflections,
    poll_tables,
    reflectors,
    without_rd,
)
from harness.model.actors import Actor
from harness.model.base import Family
from harness.model.topology import Node
from harness.observe.route import Route, RouteTable
from harness.transparency import med_added, transparency

pytestmark = [pytest.mark.sut_kind("standalone-rr"), pytest.mark.actors(Actor.OBSERVER)]


@dataclass
class Reflection:
    family: Family
    originated: dict[str, list[Route]]  # router -> its own paths of the family
    poll: TablePoll  # every client's table once everything arrived (or the deadline passed)
    via: list[Reflector]

    def tables_without(self, router: str):
        return {n: t for n, t in self.poll.tables.items() if n != router}

    def check_reached(self, router: str, *, precondition: bool = False) -> None:
        """The router's routes reached every other client through every RR: the rule of the
        reach check, and only a `precondition` of the checks of what arrived."""
        mine = [p for p in self.poll.problems if p.endswith(f"(originated by {router})")]
        replace(self.poll, problems=mine).check(precondition=precondition)


def _reflection(
    lab, family: Family, originated: dict[str, list[Route]], clients: list[Node], timeout: float
) -> Reflection:
    """One wait for every router's routes to reach every other client; the checks share it."""
    via = reflectors(lab)

    def problems(tables):
        return [
            problem
            for router, own in originated.items()
            for problem in missing_reflections(
                {n: t for n, t in tables.items() if n != router},
                {r.key for r in own},
                router,
                via,
            )
        ]

    poll = poll_tables(
        lab,
        clients,
        problems,
        timeout=timeout,
        what=f"{family} routes of every router to reach every other client through every RR",
    )
    return Reflection(family, originated, poll, via)


@pytest.fixture(scope="module")
def reflection(lab, convergence_timeout) -> Reflection:
    """The routers' EVPN routes (what their VNIs' hosts and VTEPs imply) at every EVPN client."""
    originated = {r.name: await_originated(lab, r, convergence_timeout) for r in lab.plan.routers}
    return _reflection(lab, Family.L2VPN_EVPN, originated, evpn_clients(lab), convergence_timeout)


def _ipv4_originated(lab, timeout: float) -> dict[str, list[Route]]:
    """Each router's own IPv4 unicast paths, once every router originates at least one: what
    the router announces (its VTEP address in the profiles), not what the topology says."""
    polled = poll_tables(
        lab,
        list(lab.plan.routers),
        lambda tables: [
            f"{n} originates no IPv4 unicast route"
            for n, t in tables.items()
            if not t.local(Family.IPV4_UNICAST)
        ],
        timeout=timeout,
        what="every router to originate its IPv4 unicast routes",
    )
    polled.check(precondition=True)
    tables: dict[str, RouteTable] = dict(polled.tables)
    return {n: tables[n].local(Family.IPV4_UNICAST) for n in tables}


@pytest.fixture(scope="module")
def vtep_reflection(lab, convergence_timeout) -> Reflection:
    """The routers' IPv4 unicast routes at every other router (the IPv4 clients)."""
    if Family.IPV4_UNICAST not in lab.plan.sut.values.families:
        pytest.skip("the SUT's route reflectors do not reflect IPv4 unicast")
    originated = _ipv4_originated(lab, convergence_timeout)
    return _reflection(
        lab, Family.IPV4_UNICAST, originated, list(lab.plan.routers), convergence_timeout
    )


def test_evpn_routes_reach_every_client_via_every_rr(reflection, router, record_property):
    """RFC 4456 §6: every EVPN route a router pod originates reaches every other router pod
    and the observer, once through each RR replica (the design's redundancy)."""
    record_property("routes_originated", len(reflection.originated[router]))
    record_property("clients_checked", len(reflection.tables_without(router)))
    record_property("reflectors", len(reflection.via))
    reflection.check_reached(router)


def test_vtep_routes_reach_every_router_via_every_rr(vtep_reflection, router, record_property):
    """RFC 4456 §6: every IPv4 unicast route a router pod originates (its VTEP address) reaches
    every other router pod once through each RR replica."""
    record_property("routes_originated", len(vtep_reflection.originated[router]))
    vtep_reflection.check_reached(router)


def test_reflected_paths_carry_every_attribute_the_router_sent(
    request, lab, family, router, record_property
):
    """RFC 4456 §10: a reflected path carries what its originator sent, attribute by
    attribute — ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF, ATOMIC_AGGREGATE, AGGREGATOR,
    communities, large and extended communities (route target, encapsulation, router MAC).
    What the router sent is what each RR received from it (harness/transparency.py)."""
    reflection = request.getfixturevalue(
        "reflection" if family is Family.L2VPN_EVPN else "vtep_reflection"
    )
    reflection.check_reached(router, precondition=True)
    sent = reflection.originated[router]
    record_property("routes_compared", len(sent))
    compared = transparency(
        lab,
        reflection.tables_without(router),
        lab.plan.topology.node(router),
        {r.key for r in sent},
        family,
    )
    judge(
        lab,
        "med-zero-added",
        compared.problems,
        med_added,
        exposed=compared.sent_without_med,  # only a route sent without MED can show it
    )


def test_reflected_paths_carry_originator_id_and_cluster_list(
    lab, reflection, router, record_property
):
    """RFC 4456 §8: ORIGINATOR_ID = the BGP identifier the originating router put in its OPEN;
    CLUSTER_LIST = [the SUT's cluster id] (one RR crossed, and both replicas share the id)."""
    reflection.check_reached(router, precondition=True)
    router_id = bgp_identifier(lab, router)
    declared = str(lab.plan.topology.node(router).router_id)
    if router_id != declared:  # the SUT chose its own identifiers: no finding, just a fact
        record_property("router_id_differs_from_topology", f"{declared} -> {router_id}")
    cluster = (str(lab.plan.sut.values.cluster_id),)

    def check(sent: Route, got: Route) -> list[str]:
        out = []
        if got.originator_id != router_id:
            out.append(f"ORIGINATOR_ID {got.originator_id}, expected {router_id}")
        if got.cluster_list != cluster:
            out.append(f"CLUSTER_LIST {list(got.cluster_list)}, expected {list(cluster)}")
        return out

    problems = attribute_problems(
        reflection.tables_without(router), reflection.originated[router], reflection.via, check
    )
    assert not problems, "\n".join(problems)


def test_reflected_paths_keep_the_vtep_next_hop(lab, reflection, router):
    """RFC 4456 §10 (and RFC 7432 §7.2: the next hop is the originating VTEP): reflection does
    not change NEXT_HOP."""
    reflection.check_reached(router, precondition=True)
    vtep = str(lab.plan.topology.node(router).evpn.vtep)
    originated = reflection.originated[router]
    for sent in originated:
        if sent.next_hop != vtep:
            raise PreconditionFailed(
                f"{router} originates {sent.key} with next hop {sent.next_hop}, not its VTEP "
                f"{vtep}: what reflection does to it cannot be judged"
            )

    def check(sent: Route, got: Route) -> list[str]:
        if got.next_hop == sent.next_hop:
            return []
        return [f"next hop {got.next_hop}, originated with {sent.next_hop}"]

    problems = attribute_problems(
        reflection.tables_without(router), originated, reflection.via, check
    )
    assert not problems, "\n".join(problems)


@pytest.fixture
def probe_host(lab, router):
    """A workload that appears on the router's VNI during the test, removed afterwards."""
    index = [n.name for n in lab.plan.routers].index(router) + 1
    mac, ip = f"02:00:00:00:{index:02x}:99", IPv4Address(f"10.100.0.{200 + index}")
    yield mac, ip
    lab.set_evpn_host(router, mac, ip, present=False)  # whatever the test got to


def test_new_route_and_its_withdrawal_reach_every_client(
    lab, router, probe_host, convergence_timeout, record_property
):
    """RFC 4271 §9.1.3 / RFC 4456 §6: a route learned and then withdrawn at a client is
    reflected, then withdrawn, at every other client. Latency from the moment the host appears
    (or disappears) in the router's bridge to the last client, in ms, is recorded."""
    mac, ip = probe_host
    origin = lab.plan.topology.node(router)
    via = reflectors(lab)
    receivers = [n for n in evpn_clients(lab) if n.name != router]
    wanted = {f"evpn type-2 mac {mac}", f"evpn type-2 mac {mac} ip {ip}"}

    started = time.monotonic()
    lab.set_evpn_host(router, mac, ip, present=True)
    local = await_originated(lab, origin, convergence_timeout, expected=wanted)
    keys = {r.key for r in local if without_rd(r.key) in wanted}
    await_tables(
        lab,
        receivers,
        lambda t: missing_reflections(t, keys, router, via),
        timeout=convergence_timeout,
        interval=0.01,
        what=f"new host {mac} {ip} on {router} to reach every client through every RR",
    )
    record_property("propagation_ms", round((time.monotonic() - started) * 1000))

    started = time.monotonic()
    lab.set_evpn_host(router, mac, ip, present=False)
    await_tables(
        lab,
        receivers,
        lambda t: leaked(t, keys, f"{router} withdrew it"),
        timeout=convergence_timeout,
        interval=0.01,
        what=f"withdrawal of host {mac} {ip} on {router} to reach every client",
    )
    record_property("withdrawal_ms", round((time.monotonic() - started) * 1000))
