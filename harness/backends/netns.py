"""netns backend: every pod is a network namespace running real daemons.

Route reflector pods run bgpd alone; router pods run zebra + bgpd with a VXLAN VNI; ExaBGP
peers stand for the ToR, the cloud router and the observer. Start-up that fails half-way tears
down whatever exists (DESIGN pattern 1), and teardown verifies that nothing of the run is left
(pattern 3).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from ipaddress import IPv4Address

from harness.backends.base import unready_sessions
from harness.daemons.exabgp import ExabgpPeer
from harness.daemons.frr import FRR_USER, FrrInstance, require_frr
from harness.errors import LabError
from harness.model.plan import LabPlan
from harness.netns.fabric import Fabric
from harness.observe.wait import wait_until
from harness.runtime.cleanup import find_leftovers
from harness.runtime.processes import terminate_pids
from harness.runtime.run import Run

ESTABLISH_TIMEOUT = 30.0


class NetnsLab:
    def __init__(self, plan: LabPlan, run: Run) -> None:
        self.plan = plan
        self.run = run
        self.fabric = Fabric(run)
        self.frr_instances: dict[str, FrrInstance] = {}
        self.peers: dict[str, ExabgpPeer] = {}
        self.timings: dict[str, float] = {}

    # -- Lab interface ----------------------------------------------------------------------------
    def frr(self, node: str) -> FrrInstance:
        return self.frr_instances[node]

    def peer(self, node: str) -> ExabgpPeer:
        return self.peers[node]

    def set_evpn_host(self, node: str, mac: str, ip: IPv4Address | None, *, present: bool) -> None:
        evpn = self.plan.topology.node(node).evpn
        if evpn is None:
            raise LabError(f"{node}: has no VNI to hold host {mac}")
        self.fabric.set_host(self.fabric.handle(node), evpn.vni, mac, ip, present=present)

    # -- life cycle -----------------------------------------------------------------------------
    def start(self) -> None:
        require_frr()
        started = time.monotonic()
        self.run.open()
        self.fabric.build(self.plan.topology, list(self.plan.lab_nodes))
        self.timings["namespaces_s"] = time.monotonic() - started
        rr_ips = [self.plan.cluster_ip(n) for n in self.plan.route_reflectors]
        for node in self.plan.route_reflectors:
            self.frr_instances[node.name] = self._frr(
                node.name, self.plan.render_route_reflector(node), with_zebra=False
            )
        for node in self.plan.routers:
            self.frr_instances[node.name] = self._frr(
                node.name, self.plan.render_router(node, rr_ips), with_zebra=True
            )
        for node in self.plan.peers:
            self.peers[node.name] = ExabgpPeer(
                node=node.name,
                namespace=self.run.namespace(node.name),
                directory=self.run.node_dir(node.name),
                sessions=self.plan.peer_sessions(node),
                env=self.run.environment(node.name),
            )
        # Route reflectors first: they only listen, and clients connect sooner when they are up.
        _parallel([i.start for i in self.frr_instances.values() if not i.with_zebra])
        _parallel(
            [i.start for i in self.frr_instances.values() if i.with_zebra]
            + [p.start for p in self.peers.values()]
        )
        self.timings["daemons_s"] = time.monotonic() - started
        wait_until(
            lambda: unready_sessions(self),
            lambda missing: not missing,
            timeout=ESTABLISH_TIMEOUT,
            what="every BGP session to be Established",
        )
        self.timings["established_s"] = time.monotonic() - started

    def _frr(self, node: str, config: str, *, with_zebra: bool) -> FrrInstance:
        return FrrInstance(
            node=node,
            namespace=self.run.namespace(node),
            directory=self.run.node_dir(node, owner=FRR_USER),
            bgpd_config=config,
            env=self.run.environment(node),
            with_zebra=with_zebra,
        )

    def teardown(self) -> list[str]:
        """Stop every daemon by PID, remove every namespace; return what could not be removed."""
        started = time.monotonic()
        _parallel(
            [p.stop for p in self.peers.values()] + [i.stop for i in self.frr_instances.values()]
        )
        # Safety net: children of our daemons (ExaBGP's bridge) carry the tag too.
        stray = find_leftovers(self.run.run_id, include_live=True).pids
        problems = [f"processes survived SIGKILL: {p}" for p in terminate_pids(sorted(stray))]
        problems += self.fabric.close()
        self.run.close()
        left = find_leftovers(self.run.run_id, include_live=True)
        if not left.empty:
            problems.append(f"still present after teardown: {left.describe()}")
        self.timings["teardown_s"] = time.monotonic() - started
        return problems

    def evidence(self) -> str:
        """Logs of every daemon, for a failed test's report."""
        parts = [f"### {name}\n{inst.log_text()}" for name, inst in self.frr_instances.items()]
        parts += [f"### {name}\n{p.log_text()[-4000:]}" for name, p in self.peers.items()]
        return "\n".join(parts)


def _parallel(calls: list[Callable[[], object]]) -> None:
    if not calls:
        return
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        for future in [pool.submit(c) for c in calls]:
            future.result()


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Teardown is not interrupted by a second Ctrl-C: it is what restores the machine."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class NetnsBackend:
    name = "netns"

    @contextmanager
    def up(self, plan: LabPlan, run: Run) -> Iterator[NetnsLab]:
        lab = NetnsLab(plan, run)
        failed = True
        try:
            lab.start()
            yield lab
            failed = False
        finally:
            with _sigint_deferred():
                problems = lab.teardown()
            if problems and not failed:  # never mask the error that is already on its way
                raise LabError("teardown left things behind: " + "; ".join(problems))
