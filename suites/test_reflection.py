"""Reflection of the router pods' EVPN routes through the route reflector pods.

Design ("Route Flow in Hybrid Scenario", row "Internal EVPN"): Router Pod → iBGP → RR → reflects
to other Router Pods. RFC 4456 §6: a route from a client is reflected to all other clients;
§8: the RR sets ORIGINATOR_ID to the originator's router id and prepends its CLUSTER_ID to
CLUSTER_LIST; §10: the RR does not change the path's attributes, so the next hop (the
originating VTEP) arrives unchanged. Every check runs once per router pod (`router`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from ipaddress import IPv4Address

import pytest

from harness.backends.base import bgp_identifier
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
from harness.observe.route import Route

pytestmark = pytest.mark.sut_kind("standalone-rr")


@dataclass
class Reflection:
    originated: dict[str, list[Route]]  # router -> its own EVPN paths
    poll: TablePoll  # every client's table once everything arrived (or the deadline passed)
    via: list[Reflector]

    def tables_without(self, router: str):
        return {n: t for n, t in self.poll.tables.items() if n != router}

    def check_reached(self, router: str, *, precondition: bool = False) -> None:
        """The router's routes reached every other client through every RR: the rule of the
        reach check, and only a `precondition` of the checks of what arrived."""
        mine = [p for p in self.poll.problems if p.endswith(f"(originated by {router})")]
        replace(self.poll, problems=mine).check(precondition=precondition)


@pytest.fixture(scope="module")
def reflection(lab, convergence_timeout) -> Reflection:
    """One wait for every router's routes to reach every other client; the checks share it."""
    via = reflectors(lab)
    originated = {r.name: await_originated(lab, r, convergence_timeout) for r in lab.plan.routers}

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
        evpn_clients(lab),
        problems,
        timeout=convergence_timeout,
        what="EVPN routes of every router to reach every other client through every RR",
    )
    return Reflection(originated, poll, via)


def test_evpn_routes_reach_every_client_via_every_rr(reflection, router, record_property):
    """RFC 4456 §6: every EVPN route a router pod originates reaches every other router pod
    and the observer, once through each RR replica (the design's redundancy)."""
    record_property("routes_originated", len(reflection.originated[router]))
    record_property("clients_checked", len(reflection.tables_without(router)))
    record_property("reflectors", len(reflection.via))
    reflection.check_reached(router)


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
