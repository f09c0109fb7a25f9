"""The interface every backend implements, and the backend-neutral `Lab` the suites use."""

from __future__ import annotations

from contextlib import AbstractContextManager
from ipaddress import IPv4Address
from typing import Any, Protocol

from harness.model.base import Family
from harness.model.plan import LabPlan
from harness.model.topology import Node, Role
from harness.observe import frr
from harness.observe.route import Route, RouteTable
from harness.runtime.run import Run


class FrrNode(Protocol):
    """An FRR instance (RR or router pod), wherever it runs."""

    node: str

    def query(self, command: str) -> Any: ...
    def check_alive(self) -> None: ...
    def log_text(self) -> str: ...


class PeerNode(Protocol):
    """An ExaBGP speaker (ToR, cloud router, observer)."""

    node: str

    def send(self, command: str, timeout: float = 10.0) -> None: ...
    def check_alive(self) -> None: ...
    def log_text(self) -> str: ...

    @property
    def rib(self) -> Any: ...


class Lab(Protocol):
    """A running lab. Implemented per backend; used by suites through the methods below."""

    plan: LabPlan
    run: Run
    timings: dict[str, float]

    def frr(self, node: str) -> FrrNode: ...
    def peer(self, node: str) -> PeerNode: ...
    def set_evpn_host(
        self, node: str, mac: str, ip: IPv4Address | None, *, present: bool
    ) -> None: ...


class Backend(Protocol):
    name: str

    def up(self, plan: LabPlan, run: Run) -> AbstractContextManager[Lab]: ...


# -- observation, the same on every backend ------------------------------------------------------
def routes(lab: Lab, node: Node | str, family: Family | None = Family.L2VPN_EVPN) -> RouteTable:
    """The paths a node holds now, as Routes (`family=None`: every family)."""
    n = lab.plan.topology.node(node) if isinstance(node, str) else node
    if n.role is Role.EXABGP_PEER:
        got = [r for r in lab.peer(n.name).rib.routes() if family is None or r.family is family]
    else:
        families = list(Family) if family is None else [family]
        got = [r for f in families for r in frr_routes(lab.frr(n.name), f)]
    return RouteTable(n.name, got)


def frr_routes(instance: FrrNode, family: Family) -> list[Route]:
    if family is Family.L2VPN_EVPN:
        return frr.evpn_routes(instance.query(frr.EVPN_DETAIL), instance.node)
    out: list[Route] = []
    for prefix in frr.unicast_prefixes(instance.query(frr.unicast_listing(family))):
        detail = instance.query(frr.unicast_detail(family, prefix))
        out += frr.unicast_routes(detail, family, instance.node)
    return out


def unready_sessions(lab: Lab) -> dict[str, dict[str, str]]:
    """Every expected session not Established yet, by node: {node: {peer: state}}."""
    plan = lab.plan
    missing: dict[str, dict[str, str]] = {}
    rr_ips = [plan.cluster_ip(n) for n in plan.route_reflectors]
    for node in plan.routers:
        lab.frr(node.name).check_alive()
        states = frr.session_states(lab.frr(node.name).query(frr.SUMMARY))
        wanted = [*rr_ips, *(n.address for n in plan.external_neighbors(node))]
        _collect(missing, node.name, states, wanted, "Established")
    clients = [plan.cluster_ip(n) for n in plan.routers] + [
        s.local_address
        for p in plan.peers
        for s in plan.peer_sessions(p)
        if s.peer_address in rr_ips
    ]
    for node in plan.route_reflectors:
        lab.frr(node.name).check_alive()
        states = frr.session_states(lab.frr(node.name).query(frr.SUMMARY))
        _collect(missing, node.name, states, clients, "Established")
    for node in plan.peers:
        peer = lab.peer(node.name)
        peer.check_alive()
        states = dict(peer.rib.refresh().sessions)
        _collect(
            missing, node.name, states, [s.peer_address for s in plan.peer_sessions(node)], "up"
        )
    return missing


def _collect(
    into: dict[str, dict[str, str]], node: str, states: dict[str, str], wanted: list[str], ok: str
) -> None:
    bad = {addr: states.get(addr, "absent") for addr in wanted if states.get(addr) != ok}
    if bad:
        into[node] = bad


def session_count(lab: Lab) -> int:
    """Number of BGP sessions the lab should hold (each counted once)."""
    plan = lab.plan
    rr = len(plan.route_reflectors)
    external = sum(len(plan.external_neighbors(r)) for r in plan.routers)
    observers = sum(
        1
        for p in plan.peers
        for s in plan.peer_sessions(p)
        if s.peer_name in {n.name for n in plan.route_reflectors}
    )
    return rr * len(plan.routers) + external + observers

