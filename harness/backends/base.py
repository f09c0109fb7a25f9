"""The interface every backend implements, and the backend-neutral `Lab` the suites use."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, Protocol

from harness.daemons.crafted import CraftedSpeaker
from harness.daemons.exabgp import ExabgpPeer
from harness.drivers.route_server import driver_for
from harness.errors import HarnessError, LabError, WaitTimeout
from harness.log import logger, tell
from harness.model.base import Family
from harness.model.plan import LabPlan
from harness.model.topology import Node, Role
from harness.observe import frr
from harness.observe.route import RouteTable
from harness.observe.wait import POLL_INTERVAL, START_POLL, wait_until
from harness.runtime.run import Run

log = logger("lab")


class FrrNode(Protocol):
    """An FRR instance (RR or router pod), wherever it runs."""

    node: str

    def query(self, command: str) -> Any: ...
    def query_text(self, command: str) -> str: ...
    def check_alive(self) -> None: ...
    def log_text(self) -> str: ...


class PeerNode(Protocol):
    """A speaker of the harness: ExaBGP or the crafted speaker (ToR, cloud router, observer)."""

    node: str

    def check_alive(self) -> None: ...
    def log_text(self) -> str: ...

    @property
    def rib(self) -> Any: ...


class Lab(Protocol):
    """A running lab. Implemented per backend; used by suites through the methods below."""

    plan: LabPlan
    run: Run
    timings: dict[str, float]
    unready: dict[str, dict[str, str]]
    pods: Any  # pod operations: list by label, readiness, delete, reschedule, restart
    anycast_holders: dict[str, str]  # meshrr: side -> route server pod answering its anycast
    unrealised: dict[str, str]  # topology nodes this backend cannot stage -> why
    sampling: Any  # observe.samples.Access: how the failover sampler reaches pods' FRR
    wire_capture: bool  # the failover drills can capture BGP segments at the router pods

    @property
    def frr_software(self) -> tuple[str, str]:
        """The FRR the SUT's pods run: its version, and where it came from (`host`, the
        Debian suite and package version, an image)."""
        ...

    def check_alive(self) -> None: ...
    def daemon_crashes(self) -> list[str]:
        """Every sign that a daemon of the SUT died or crashed since it started (not counting
        what the harness ended itself), one line each (harness.runtime.crashes)."""
        ...

    def archive(self, destination: Path) -> Path: ...
    def frr(self, node: str) -> FrrNode: ...
    def peer(self, node: str) -> PeerNode: ...
    def speaker(self, node: str) -> Any: ...
    def exabgp(self, node: str) -> Any: ...
    def set_evpn_host(
        self, node: str, mac: str, ip: IPv4Address | None, *, present: bool
    ) -> None: ...


class Backend(Protocol):
    name: str

    def up(
        self, plan: LabPlan, run: Run, establish_timeout: float
    ) -> AbstractContextManager[Lab]: ...


class LabPeers:
    """The harness's speakers of a lab by node, and the VNIs hosts are added to: the same on
    every backend (a kind peer is a subclass of its netns class)."""

    plan: LabPlan
    peers: dict[str, ExabgpPeer | CraftedSpeaker]

    def peer(self, node: str) -> ExabgpPeer | CraftedSpeaker:
        return self.peers[node]

    def speaker(self, node: str) -> CraftedSpeaker:
        peer = self.peers[node]
        if not isinstance(peer, CraftedSpeaker):
            raise LabError(f"{node} is not a crafted speaker")
        return peer

    def exabgp(self, node: str) -> ExabgpPeer:
        peer = self.peers[node]
        if not isinstance(peer, ExabgpPeer):
            raise LabError(f"{node} is not an ExaBGP peer")
        return peer

    def vni_of(self, node: str, mac: str) -> int:
        """The VNI of a router that is to hold host `mac`."""
        evpn = self.plan.topology.node(node).evpn
        if evpn is None:
            raise LabError(f"{node}: has no VNI to hold host {mac}")
        return evpn.vni


def in_parallel(calls: list[Callable[[], object]], *, at_most: int | None = None) -> None:
    """Run `calls` on threads (`at_most` at once, default all); the first error is raised
    once every call has been started and the pool has drained."""
    if not calls:
        return
    with ThreadPoolExecutor(max_workers=min(at_most or len(calls), len(calls))) as pool:
        for future in [pool.submit(c) for c in calls]:
            future.result()


def keep_logs(lab: Lab, run: Run) -> None:
    """A run that failed keeps its configs and logs in its folder (`Run.kept`, said on
    stderr)."""
    with contextlib.suppress(OSError, HarnessError):
        kept = lab.archive(run.kept)
        tell(log, f"logs of run {run.run_id} kept in {kept}")


def report_teardown(problems: list[str], *, failed: bool) -> None:
    """What teardown could not remove fails a run that passed; after a failure it is said on
    stderr instead, never masking the first error."""
    if problems:
        message = "teardown left things behind: " + "; ".join(problems)
        if not failed:
            raise LabError(message)
        tell(log, message)


# -- observation, the same on every backend ------------------------------------------------------
def routes(lab: Lab, node: Node | str, family: Family | None = Family.L2VPN_EVPN) -> RouteTable:
    """The paths a node holds now, as Routes (`family=None`: every family)."""
    n = lab.plan.topology.node(node) if isinstance(node, str) else node
    if n.role.is_peer or n.name in lab.plan.harness_routers:
        got = [r for r in lab.peer(n.name).rib.routes() if family is None or r.family is family]
    else:
        families = list(Family) if family is None else [family]
        if n.role is Role.ROUTE_REFLECTOR:  # the SUT's implementation, whatever it is
            read = driver_for(lab.plan).routes
            got = [r for f in families for r in read(lab.frr(n.name), f)]
        else:
            got = [r for f in families for r in frr.read_routes(lab.frr(n.name), f)]
    return RouteTable(n.name, got)


def advertised(lab: Lab, rr: Node | str, peer: str, family: Family) -> set[str] | None:
    """Keys of the routes an RR pod's Adj-RIB-Out holds towards `peer` (through the SUT's
    driver), or None when its implementation cannot show them."""
    name = rr if isinstance(rr, str) else rr.name
    return driver_for(lab.plan).advertised(lab.frr(name), peer, family)


FAST_POLL_FOR = 1.0  # s of start-up pace when waiting for the sessions


def await_established(lab: Lab, started: float, timeout: float) -> None:
    """Wait for every session the plan implies; what is still down at the deadline is kept in
    `lab.unready` (the pytest plugin then stops the run, naming those sessions; the bench
    refuses to measure). `lab.timings["established_s"]` counts from `started`. The first second
    is polled at start-up pace (the sessions come up a few ms after the last daemon answers: a
    50 ms poll put up to 50 ms on every run, issue 18), the rest at the usual one (each poll
    asks every pod: sessions that do not come up must not keep a core busy)."""

    def wait(seconds: float, interval: float) -> None:
        wait_until(
            lambda: unready_sessions(lab),
            lambda missing: not missing,
            timeout=seconds,
            what="every BGP session to be Established",
            describe=lambda missing: missing,
            interval=interval,
        )

    try:
        try:
            wait(min(FAST_POLL_FOR, timeout), START_POLL)
        except WaitTimeout:
            if timeout <= FAST_POLL_FOR:
                raise
            wait(timeout - FAST_POLL_FOR, POLL_INTERVAL)
        lab.timings["established_s"] = time.monotonic() - started
    except WaitTimeout as exc:
        lab.unready = dict(exc.last)  # type: ignore[call-overload]


def unready_sessions(lab: Lab) -> dict[str, dict[str, str]]:
    """Every expected session not Established yet, by node: {node: {peer: state}}."""
    plan = lab.plan
    missing: dict[str, dict[str, str]] = {}
    for node in plan.routers:
        wanted = [*plan.rr_ips(node), *(n.address for n in plan.external_neighbors(node))]
        _collect(missing, node.name, _router_sessions(lab, node.name), wanted, "Established")
    for node in plan.route_reflectors:
        lab.frr(node.name).check_alive()
        states = sessions(lab, node.name)
        _collect(missing, node.name, states, rr_peers(lab, node), "Established")
    for node in plan.peers:
        peer = lab.peer(node.name)
        peer.check_alive()
        states = dict(peer.rib.refresh().sessions)
        wanted = [s.peer_address for s in plan.sessions_expected(node)]
        _collect(missing, node.name, states, wanted, "up")
    return missing


def sessions(lab: Lab, pod: str) -> dict[str, str]:
    """{peer address: state} of a pod's BGP sessions (an RR pod's through the SUT's driver)."""
    if lab.pods.get(pod).role is Role.ROUTE_REFLECTOR:
        return driver_for(lab.plan).sessions(lab.frr(pod))
    return _router_sessions(lab, pod)


def _router_sessions(lab: Lab, pod: str) -> dict[str, str]:
    """A router pod's sessions, once its daemon is known alive: FRR's, or those of the crafted
    speaker playing it (sut.yaml `harness_routers`), `up` read as Established."""
    if pod in lab.plan.harness_routers:
        played = lab.peer(pod)
        played.check_alive()
        states = played.rib.refresh().sessions
        return {a: "Established" if s == "up" else s for a, s in states.items()}
    lab.frr(pod).check_alive()
    return frr.session_states(lab.frr(pod).query(frr.SUMMARY))


_IMPLEMENTATIONS: dict[str, tuple[str, str]] = {}  # run id -> (implementation, version)


def implementation(lab: Lab) -> tuple[str, str]:
    """The SUT's route reflector implementation and the version its pods run, as they say
    (asked once per run)."""
    if lab.run.run_id not in _IMPLEMENTATIONS:
        driver = driver_for(lab.plan)
        pod = lab.pods.route_reflectors()[0]
        _IMPLEMENTATIONS[lab.run.run_id] = (driver.name, driver.version(lab.frr(pod.name)))
    return _IMPLEMENTATIONS[lab.run.run_id]


def software(lab: Lab) -> dict[str, str]:
    """What the verdicts are about, for the record (JUnit run properties, the failover JSON):
    the RR implementation and its version (as the RR pods say), and the FRR the SUT's pods run
    (`bgpd --version`, and where it came from)."""
    impl, impl_version = implementation(lab)
    version, source = lab.frr_software
    return {
        "implementation": impl,
        "implementation_version": impl_version,
        "frr_version": version,
        "frr_source": source,
    }


def bgp_identifier(lab: Lab, node: Node | str) -> str:
    """The BGP identifier `node` put in its OPEN (RFC 4271 §4.2), as the RR pods with a session
    to it saw it: what RFC 4456 §8 makes the ORIGINATOR_ID of its routes. Observed, never
    taken from the topology (a correct SUT may give its routers other identifiers)."""
    n = lab.plan.topology.node(node) if isinstance(node, str) else node
    address = lab.plan.cluster_ip(n)
    driver = driver_for(lab.plan)
    seen = {
        pod.name: ids[address]
        for pod in lab.pods.route_reflectors()
        if address in (ids := driver.identifiers(lab.frr(pod.name)))
    }
    if len(set(seen.values())) != 1:
        raise LabError(
            f"{n.name} ({address}): no single BGP identifier seen by the RR pods: "
            f"{seen or 'no RR pod has a session with it'}"
        )
    return next(iter(seen.values()))


def rr_peers(lab: Lab, node: Node) -> list[str]:
    """Whom an RR pod of the lab as planned must have a session with: every router and every
    peer of it; for a meshrr route server, every other route server, plus its side's clients
    while it answers for the side's anycast address."""
    plan = lab.plan
    if plan.mesh is None:
        return (
            [plan.cluster_ip(n) for n in plan.routers]
            + plan.inter_rr_ips(node)
            + [
                s.local_address
                for p in plan.peers
                for s in plan.sessions_expected(p)
                if s.peer_name == node.name
            ]
        )
    out = [plan.cluster_ip(n) for n in plan.route_reflectors if n is not node]
    holder = lab.anycast_holders.get(str(node.side), plan.initial_holder(str(node.side)).name)
    if holder == node.name:
        out += plan.side_clients(node.side)
    return out


def _collect(
    into: dict[str, dict[str, str]], node: str, states: dict[str, str], wanted: list[str], ok: str
) -> None:
    bad = {addr: states.get(addr, "absent") for addr in wanted if states.get(addr) != ok}
    if bad:
        into[node] = bad


def session_count(lab: Lab) -> int:
    """Number of BGP sessions the lab should hold (each counted once)."""
    plan = lab.plan
    rr_names = {n.name for n in plan.route_reflectors}
    external = sum(len(plan.external_neighbors(r)) for r in plan.routers)
    if plan.mesh is not None:  # the full mesh, and one anycast session per client
        mesh = len(rr_names) * (len(rr_names) - 1) // 2
        clients = sum(len(plan.sessions_expected(p)) for p in plan.peers)
        return mesh + len(plan.routers) + clients + external
    rr_peers = sum(
        1 for p in plan.peers for s in plan.sessions_expected(p) if s.peer_name in rr_names
    )
    stand_ins = sum(len(p.peers) for p in plan.peers if p.stands_in_for)
    inter_rr = sum(len(plan.inter_rr_ips(n)) for n in plan.route_reflectors) // 2
    return len(rr_names) * len(plan.routers) + external + rr_peers + stand_ins + inter_rr
