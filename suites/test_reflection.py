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
from collections.abc import Iterator
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


@dataclass
class NewRoutes:
    """A workload appears on every router's VNI at once, then disappears at once: one wait
    for the arrivals and one for the withdrawals serve every router's check (each router's
    figures are its own: from its host's change to its last client)."""

    arrival: dict[str, list[str]]  # router -> what was still missing when the wait ended
    withdrawal: dict[str, list[str]]  # router -> where its route was still found
    propagation_ms: dict[str, int]
    withdrawal_ms: dict[str, int]
    what: tuple[str, str]  # the two waits, for the failure text
    elapsed: tuple[float, float]
    undecided: dict[str, str]  # router -> why its host never made a new route (no check)

    def check(self, router: str) -> None:
        """RFC 4456 §6 for the router's new route: reflected to every client through every
        RR, then withdrawn everywhere; an error, not a verdict, when it made no new route."""
        if router in self.undecided:
            raise PreconditionFailed(self.undecided[router])
        for what, elapsed, problems in zip(
            self.what, self.elapsed, (self.arrival[router], self.withdrawal[router]), strict=True
        ):
            TablePoll(what, {}, problems, elapsed).check()


def _probe_host(lab, router: str) -> tuple[str, IPv4Address]:
    index = [n.name for n in lab.plan.routers].index(router) + 1
    return f"02:00:00:00:{index:02x}:99", IPv4Address(f"10.100.0.{200 + index}")


def _poll_each(lab, routers, clients, problems_of, timeout, what):
    """One poll of every client's table for every router's `problems_of(router, tables)` (the
    tables of the clients but the router) -> (the poll, router -> its problems in the last
    tables, router -> the first moment it had none)."""
    done: dict[str, float] = {}

    def each(tables):
        return {r: problems_of(r, {n: t for n, t in tables.items() if n != r}) for r in routers}

    def problems(tables):
        mine = each(tables)
        for router in (r for r, p in mine.items() if not p):
            done.setdefault(router, time.monotonic())
        return [p for r in routers for p in mine[r]]

    poll = poll_tables(lab, clients, problems, timeout=timeout, interval=0.01, what=what)
    return poll, each(poll.tables), done


def _originated(lab, hosts, routers, timeout) -> tuple[dict[str, set[str]], dict[str, str]]:
    """Each router's new host's routes as it originates them (one poll for every router) ->
    (router -> their keys, router -> which of them it had not originated by the deadline)."""

    def wanted(router: str) -> set[str]:
        mac, ip = hosts[router]
        return {f"evpn type-2 mac {mac}", f"evpn type-2 mac {mac} ip {ip}"}

    def own(table) -> dict[str, str]:  # key without RD -> key
        return {without_rd(r.key): r.key for r in table.local(Family.L2VPN_EVPN)}

    polled = poll_tables(
        lab,
        [lab.plan.topology.node(r) for r in routers],
        lambda tables: [r for r in routers if not wanted(r) <= own(tables[r]).keys()],
        timeout=timeout,
        interval=0.01,
        what="each router to originate its new host's routes",
    )
    keys = {r: {k for w, k in own(polled.tables[r]).items() if w in wanted(r)} for r in routers}
    unmade = {
        r: f"{r} did not originate {sorted(wanted(r) - own(polled.tables[r]).keys())} within "
        f"{polled.elapsed:.1f} s of its new host"
        for r in polled.problems
    }
    return {r: k for r, k in keys.items() if r not in unmade}, unmade


@pytest.fixture(scope="module")
def new_routes(lab, convergence_timeout) -> Iterator[NewRoutes]:
    """Every router learns a new host (a new EVPN route), then loses it (its withdrawal). A
    router whose host makes no new route leaves its own check undecided, not the others'."""
    routers = [n.name for n in lab.plan.routers]
    hosts = {r: _probe_host(lab, r) for r in routers}
    via, clients = reflectors(lab), evpn_clients(lab)
    try:
        started: dict[str, float] = {}
        for router, (mac, ip) in hosts.items():
            started[router] = time.monotonic()
            lab.set_evpn_host(router, mac, ip, present=True)
        keys, undecided = _originated(lab, hosts, routers, convergence_timeout)
        live = list(keys)
        arrival, missing, arrived = _poll_each(
            lab,
            live,
            clients,
            lambda r, tables: missing_reflections(tables, keys[r], r, via),
            convergence_timeout,
            "each router's new host to reach every client through every RR",
        )
        gone: dict[str, float] = {}
        for router, (mac, ip) in hosts.items():
            gone[router] = time.monotonic()
            lab.set_evpn_host(router, mac, ip, present=False)
        withdrawal, found, withdrawn = _poll_each(
            lab,
            live,
            clients,
            lambda r, tables: leaked(tables, keys[r], f"{r} withdrew it"),
            convergence_timeout,
            "the withdrawal of each router's new host to reach every client",
        )
        yield NewRoutes(
            arrival=missing,
            withdrawal=found,
            propagation_ms={r: round((t - started[r]) * 1000) for r, t in arrived.items()},
            withdrawal_ms={r: round((t - gone[r]) * 1000) for r, t in withdrawn.items()},
            what=(arrival.what, withdrawal.what),
            elapsed=(arrival.elapsed, withdrawal.elapsed),
            undecided=undecided,
        )
    finally:
        for router, (mac, ip) in hosts.items():  # whatever the fixture got to
            lab.set_evpn_host(router, mac, ip, present=False)


def test_new_route_and_its_withdrawal_reach_every_client(new_routes, router, record_property):
    """RFC 4271 §9.1.3 / RFC 4456 §6: a route learned and then withdrawn at a client is
    reflected, then withdrawn, at every other client. Latency from the moment the host appears
    (or disappears) in the router's bridge to the last client, in ms, is recorded (every
    router's host changes at once: one wait serves the three checks)."""
    if router in new_routes.propagation_ms:
        record_property("propagation_ms", new_routes.propagation_ms[router])
    if router in new_routes.withdrawal_ms and new_routes.arrival.get(router) == []:
        record_property("withdrawal_ms", new_routes.withdrawal_ms[router])
    new_routes.check(router)
