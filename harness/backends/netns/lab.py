"""netns backend: every pod is a network namespace running real daemons.

Route reflector pods run bgpd alone; router pods run zebra + bgpd with a VXLAN VNI; ExaBGP
peers stand for the ToR, the cloud router and the observer. Start-up that fails half-way tears
down whatever exists (DESIGN pattern 1), and teardown verifies that nothing of the run is left
(pattern 3).
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from ipaddress import IPv4Address
from pathlib import Path
from typing import TypeVar, cast

from harness.backends.base import (
    LabPeers,
    await_established,
    in_parallel,
    keep_logs,
    report_teardown,
)
from harness.backends.netns.anycast import Anycast
from harness.backends.netns.cleanup import find_leftovers
from harness.backends.netns.fabric import FABRIC, Fabric
from harness.backends.netns.gates import Gates
from harness.backends.netns.pods import NetnsPods, PodDaemon
from harness.daemons.crafted import CraftedSpeaker
from harness.daemons.exabgp import ExabgpPeer
from harness.daemons.frr import FrrInstance
from harness.daemons.frr_runtime import FrrRuntime, runtime_for
from harness.daemons.gobgp import GobgpInstance
from harness.daemons.pod_process import PodProcess
from harness.daemons.speaker_host import NODE as SPEAKERS
from harness.daemons.speaker_host import prepare_speakers, start_speakers
from harness.drivers.route_server import driver_for
from harness.errors import LabError
from harness.log import logger
from harness.model.plan import LabPlan
from harness.model.topology import Role
from harness.observe import gobgp
from harness.observe.samples import LOCAL as SAMPLER
from harness.observe.samples import Access, Sample, take_sample
from harness.runtime.crashes import daemon_problems
from harness.runtime.processes import terminate_tagged
from harness.runtime.run import TAG_ENV, Run
from harness.runtime.signals import signals_deferred

log = logger("netns")
P = TypeVar("P", bound=PodProcess)
GOBGP_SAMPLER = (sys.executable, "-m", "harness.failover.gobgp_sample_process")


class NetnsLab(LabPeers):
    wire_capture = True  # failover's wire witness captures in the routers' namespaces

    def __init__(self, plan: LabPlan, run: Run, establish_timeout: float) -> None:
        self.plan = plan
        self.run = run
        self.establish_timeout = establish_timeout
        # Sessions still down when the start-up deadline passed: the SUT failed to form them
        # (the pytest plugin then stops the run, naming them).
        self.unready: dict[str, dict[str, str]] = {}
        self.unrealised: dict[str, str] = {}  # a namespace can stage any node
        self.fabric = Fabric(run)
        # Every pod's daemons: FRR, or the SUT's own RR implementation in an RR pod (the name
        # says FRR because the suites ask `lab.frr(pod)` for either).
        self.frr_instances: dict[str, PodDaemon] = {}
        self.retired: list[PodDaemon] = []  # instances of deleted pods (stopped with them)
        self.peers: dict[str, ExabgpPeer | CraftedSpeaker] = {}
        self.timings: dict[str, float] = {}
        self.pods = NetnsPods(self)
        self.driver = driver_for(plan)
        self.anycast = Anycast(self) if plan.mesh is not None else None
        # The FRR the SUT ships: every SUT daemon (RR and router pods) runs from it.
        self.frr_runtime: FrrRuntime = runtime_for(plan.sut)

    # -- Lab interface ----------------------------------------------------------------------------
    def check_alive(self) -> None:
        """Raise DaemonError (with its log) if any daemon of the lab has died, LabError if the
        lab's own machinery (anycast moves) failed."""
        for daemon in [*self.frr_instances.values(), *self.peers.values()]:
            daemon.check_alive()
        if self.pods.listener_errors:
            raise LabError("; ".join(self.pods.listener_errors))

    @property
    def sampling(self) -> Access:
        """Samples come from a process of the harness, on each pod's bgpd vty socket; a GoBGP
        RR pod's from a process asking its API inside its namespace (the namespace stands where
        the socket would)."""

        def where(name: str) -> Path:
            instance = self.frr(name)
            if isinstance(instance, GobgpInstance):
                return Path(instance.namespace)
            return cast(FrrInstance, instance).vty.path

        def take(name: str) -> Sample:
            instance = self.frr(name)
            if isinstance(instance, GobgpInstance):
                return gobgp.take_sample(instance.query, name)
            return take_sample(cast(FrrInstance, instance).vty, name)

        return Access(
            sockets=lambda pods: {p.name: where(p.name) for p in pods},
            take=take,
            channel=lambda name: (
                GOBGP_SAMPLER
                if isinstance(self.frr_instances.get(name), GobgpInstance)
                else SAMPLER
            ),
        )

    @property
    def anycast_holders(self) -> dict[str, str]:
        """meshrr: the route server pod answering each side's anycast address."""
        return dict(self.anycast.holders) if self.anycast is not None else {}

    def frr(self, node: str) -> PodDaemon:
        return self.frr_instances[node]

    def set_evpn_host(self, node: str, mac: str, ip: IPv4Address | None, *, present: bool) -> None:
        vni = self.vni_of(node, mac)
        self.fabric.set_host(self.fabric.handle(node), vni, mac, ip, present=present)

    @property
    def frr_software(self) -> tuple[str, str]:
        """The FRR the pods run: its version (`bgpd --version`) and where it came from."""
        return self.frr_runtime.version, self.frr_runtime.source

    # -- life cycle -----------------------------------------------------------------------------
    def start(self) -> None:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=1) as early:
            self._start(started, early)

    def _start(self, started: float, early: ThreadPoolExecutor) -> None:
        """ExaBGP loads while the namespaces are made (its own process:
        harness.daemons.exabgp_start); the crafted speakers' configs are written (scapy
        imported) on `early` while the pods' daemons start."""
        self._register_peers()
        self.fabric.build(self.plan.topology, list(self.plan.lab_nodes))
        speakers = [p for p in self.peers.values() if isinstance(p, CraftedSpeaker)]
        speakers_ready = (
            early.submit(prepare_speakers, speakers, self.run.node_dir(SPEAKERS)).result
            if speakers
            else lambda: None
        )
        if self.anycast is not None:
            self.anycast.start()
        self.timings["namespaces_s"] = time.monotonic() - started
        log.info(
            "run %s: %d namespaces and their links in %.2f s",
            self.run.run_id,
            len(self.plan.lab_nodes) + 1,
            self.timings["namespaces_s"],
        )
        for node in self.plan.route_reflectors:
            self.driver.create(self, node.name, self.plan.render_route_reflector(node))
        for node in self.plan.routers:
            if node.name in self.plan.harness_routers:  # the crafted speaker plays it (below)
                continue
            self.register_frr(
                node.name, self.plan.render_router(node, self.plan.rr_ips(node)), with_zebra=True
            )
        self.pods.register_lab_pods()
        if self.anycast is not None:
            self.pods.listeners.append(self.anycast.reconcile)
        self._start_daemons(speakers_ready)
        self.timings["daemons_s"] = time.monotonic() - started
        log.info("daemons of every pod and peer started at %.2f s", self.timings["daemons_s"])
        self.pods.start_prober()
        for instance in self.frr_instances.values():
            _log_updates(instance)
        await_established(self, started, self.establish_timeout)
        if self.unready:
            log.warning("sessions still down at the start-up deadline: %s", self.unready)
        else:
            log.info("every session Established at %.2f s", self.timings["established_s"])

    def _register_peers(self) -> None:
        """The lab's peers; ExaBGP's processes spawned (they load before their namespace is
        ready)."""
        for node in self.plan.peers:
            kind = CraftedSpeaker if node.role is Role.SPEAKER else ExabgpPeer
            self.peers[node.name] = peer = kind(
                node=node.name,
                namespace=self.run.namespace(node.name),
                directory=self.run.node_dir(node.name),
                sessions=self.plan.peer_sessions(node),
                env=self.run.environment(node.name),
            )
            if isinstance(peer, ExabgpPeer):
                peer.spawn()
        for node in self.plan.routers:  # router pods the harness plays: a crafted speaker each
            if node.name in self.plan.harness_routers:
                self.peers[node.name] = CraftedSpeaker(
                    node=node.name,
                    namespace=self.run.namespace(node.name),
                    directory=self.run.node_dir(node.name),
                    sessions=self.plan.router_sessions(node, self.plan.rr_ips(node)),
                    env=self.run.environment(node.name),
                )

    def _start_daemons(self, speakers_ready: Callable[[], object]) -> None:
        """Everything at once, but no client connects before what it connects to listens
        (harness.backends.netns.gates)."""
        rrs = [n.name for n in self.plan.route_reflectors]
        # FRR router pods (the ones the harness plays are crafted speakers, below)
        routers = [n.name for n in self.plan.routers if n.name in self.frr_instances]
        gates = Gates([*rrs, *routers], rrs, self.establish_timeout)
        starts = [gates.opening(n, self.frr_instances[n].start) for n in rrs]
        for name in routers:  # mgmtd and zebra at once, bgpd once the RRs listen
            router = cast(FrrInstance, self.frr_instances[name])
            starts.append(gates.opening(name, partial(router.start, gates.wait(rrs))))
        speakers = []
        for peer in self.peers.values():
            if isinstance(peer, ExabgpPeer):
                starts.append(gates.after([s.peer_name for s in peer.sessions], peer.start))
            else:
                speakers.append(peer)
        if speakers:
            wanted = [s.peer_name for p in speakers for s in p.sessions]
            starts.append(gates.after(wanted, self._start_speakers, speakers, speakers_ready))
        in_parallel(starts)

    def _start_speakers(
        self, speakers: list[CraftedSpeaker], prepared: Callable[[], object]
    ) -> None:
        """Every crafted speaker in one process (harness.daemons.speaker_host), run in the
        fabric's namespace: each session's socket is made in its speaker's namespace; once
        `prepared` returned (it raises what preparing them raised)."""
        prepared()
        start_speakers(
            speakers,
            namespace=self.run.namespace(FABRIC),
            directory=self.run.node_dir(SPEAKERS),
            env=self.run.environment(SPEAKERS),
            prepared=True,  # by `_start`
        )

    def register_frr(self, node: str, config: str, *, with_zebra: bool) -> FrrInstance:
        """Register (for teardown) an FRR instance of a pod; `start()` it to run it."""
        directory = self.run.node_dir(node)
        self.frr_runtime.prepare(directory)
        instance = FrrInstance(
            node=node,
            namespace=self.run.namespace(node),
            directory=directory,
            config=config,
            env=self.run.environment(node),
            with_zebra=with_zebra,
            runtime=self.frr_runtime,
        )
        self.frr_instances[node] = instance
        return instance

    def register(self, kind: type[P], node: str, config: str) -> P:
        """Register (for teardown) the daemon of an RR pod that is one process of the harness's
        (gobgpd, the harness's own RR); `start()` it to run it."""
        instance = kind(
            node=node,
            namespace=self.run.namespace(node),
            directory=self.run.node_dir(node),
            config=config,
            env=self.run.environment(node),
        )
        self.frr_instances[node] = instance
        return instance

    def start_pod(self, pod: str, config: str, role: Role) -> PodDaemon:
        """Start the daemons of a pod created after start-up (a replacement, a rescheduled
        pod): the SUT's RR implementation, or FRR with zebra for a router."""
        if role is Role.ROUTE_REFLECTOR:
            instance = self.driver.create(self, pod, config).start()
        else:
            instance = self.register_frr(pod, config, with_zebra=True).start()
        _log_updates(instance)
        return instance

    def teardown(self) -> list[str]:
        """Stop every daemon by PID, remove every namespace; return what could not be removed.

        Each step runs whatever the previous one did: a failure is collected, not raised.
        """
        started = time.monotonic()
        problems: list[str] = []

        def step(what: str, action: Callable[[], list[str] | None]) -> None:
            try:
                problems.extend(action() or [])
            except Exception as exc:
                problems.append(f"{what}: {type(exc).__name__}: {exc}")

        step("readiness prober", self.pods.stop)
        shared = {id(p.process): p.stop for p in self.peers.values()}  # speakers share one
        stops = list(shared.values())
        # SIGKILL, as for the harness's own peers: the checks are over and every pod goes at
        # once, with nothing left to observe of an orderly exit (FRR's, freeing its YANG
        # context, took 50 ms a daemon: 0.1 s of every run on 2 cores, issue 18). A pod
        # deleted during the run (a drill) still gets SIGTERM first (NetnsPods.delete).
        stops += [i.kill for i in [*self.frr_instances.values(), *self.retired]]
        step("stopping daemons", lambda: in_parallel(stops))
        # Safety net: children of our daemons (ExaBGP's bridge) carry the tag too.
        step(
            "stray processes",
            lambda: [
                f"process survived SIGKILL: {pid}"
                for pid in terminate_tagged(
                    find_leftovers(self.run.run_id, include_live=True).pids, TAG_ENV
                )
            ],
        )
        step("namespaces", self.fabric.close)
        step("state directory", self.run.close)
        left = find_leftovers(self.run.run_id, include_live=True)
        if not left.empty:
            problems.append(f"still present after teardown: {left.describe()}")
        self.timings["teardown_s"] = time.monotonic() - started
        log.info("run %s torn down in %.2f s", self.run.run_id, self.timings["teardown_s"])
        for problem in problems:
            log.error("teardown: %s", problem)
        return problems

    def archive(self, destination: Path) -> Path:
        """Copy the run's configs and daemon logs (before teardown removes them)."""
        shutil.copytree(
            self.run.directory,
            destination,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("*.sock", "*.api", "*.vty"),
        )
        return destination

    def daemon_crashes(self) -> list[str]:
        """Crash records of the SUT's daemons (harness.runtime.crashes): the pods' now, and
        those of deleted pods (the harness stopped them: only their records count)."""
        out = []
        for daemon in [*self.frr_instances.values(), *self.retired]:
            out += daemon_problems(daemon.node, daemon.processes, daemon.log_text())
        return out

    def evidence(self) -> str:
        """Logs of every daemon, for a failed test's report."""
        daemons = [*self.frr_instances.items(), *self.peers.items()]
        return "\n".join(
            f"### {name} (last 40 log lines)\n" + "\n".join(d.log_text().splitlines()[-40:])
            for name, d in daemons
        )


def _log_updates(instance: PodDaemon) -> None:
    """FRR logs the updates it receives, for the evidence of its refusals ("DENIED due to: ...");
    gobgpd logs at debug level from its start (harness/daemons/gobgp.py)."""
    if isinstance(instance, FrrInstance):
        instance.vty.run("debug bgp updates in")


class NetnsBackend:
    name = "netns"

    @contextmanager
    def up(self, plan: LabPlan, run: Run, establish_timeout: float) -> Iterator[NetnsLab]:
        run.open()  # claims the run id first: a run id in use stops here, touching nothing
        lab = NetnsLab(plan, run, establish_timeout)
        failed = True
        try:
            lab.start()
            yield lab
            failed = False
        except BaseException:
            keep_logs(lab, run)
            raise
        finally:
            with signals_deferred():
                problems = lab.teardown()
            report_teardown(problems, failed=failed)
