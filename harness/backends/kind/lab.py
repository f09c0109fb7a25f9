"""kind backend: the lab as pods on a real cluster (a kind cluster the run creates, or any
cluster through `--kubeconfig`), built from the same plan and SUT profile as on netns.

Start-up, in the order the addresses allow:
1. the run's namespace; router pods (FRR; their VNI set up by the container's start script)
   and peer pods (the harness's peer image, idle until told what to run);
2. once they have IPs, the plan is re-drawn at the pods' addresses (`realise`), the RR
   ConfigMap is rendered (its configured non-clients need their addresses) and the design's
   RR Deployment created;
3. once the RR pods are ready, routers get their rendered config (`rr@<ip>` per ready RR pod)
   through vtysh, peers start their daemons, and every session must come up, as on netns.

Teardown deletes the run's namespace (everything of the run is in it) and waits until it is
gone, then the kind cluster if the run created it.
"""

from __future__ import annotations

import base64
import contextlib
import pickle
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address, ip_address
from pathlib import Path
from typing import Any

from harness.backends.base import (
    LabPeers,
    await_established,
    in_parallel,
    keep_logs,
    report_teardown,
)
from harness.backends.kind import manifests as m
from harness.backends.kind import preflight
from harness.backends.kind.cluster import Cluster
from harness.backends.kind.cluster_config import cluster_config
from harness.backends.kind.labels import namespace as run_namespace
from harness.backends.kind.peers import STATE_DIR, KubeExabgp, KubeSpeaker
from harness.backends.kind.pods import FRR_CONTAINER, KubePods, api_call, api_error
from harness.backends.kind.realise import PodAddresses, realisable_nodes, realise, unrealisable
from harness.backends.kind.vni import host_commands, script
from harness.cluster.frr_reload import commands
from harness.daemons.crafted import CraftedSpeaker
from harness.daemons.exabgp import ExabgpPeer
from harness.daemons.vty import CONFIG_END, CONFIG_START
from harness.errors import CommandError, DaemonError, HarnessError, LabError, PreconditionFailed
from harness.log import logger, tell
from harness.model.plan import LabPlan
from harness.model.topology import Role
from harness.observe import frr
from harness.observe.samples import Access, Sample
from harness.observe.wait import wait_until
from harness.runtime.crashes import crash_lines
from harness.runtime.run import Run
from harness.runtime.signals import signals_deferred

log = logger("kind")

SAMPLE_MODULE = "harness.failover.sample_process"
FRR_LOG = "/var/run/frr/frr.log"
SCHEDULE_TIMEOUT = 300.0  # image pulls on a cold runner
NAMESPACE_GONE_TIMEOUT = 120.0


class KubeFrr:
    """An FRR container of a pod, through exec: what suites and the discovery loop call."""

    def __init__(self, pods: KubePods, node: str, pod: str, config: str) -> None:
        self.pods, self.node, self.pod, self.config = pods, node, pod, config

    def query(self, command: str) -> Any:
        return self.pods.vtysh(self.pod, command)

    def query_text(self, command: str) -> str:
        return self.pods.vtysh_text(self.pod, command)

    def configure(self, batches: list[list[str]]) -> None:
        """Every batch in one vtysh call (an exec costs a round trip to the API server). vtysh
        stops at a refused command: a bracket the batches opened is then closed by one more
        call (harness.daemons.vty.CONFIG_START) before the error is raised."""
        lines = [c for batch in batches for c in batch]
        if not lines:
            return
        try:
            self.pods.vtysh_text(self.pod, *lines)
        except HarnessError:
            if CONFIG_START in lines:
                with contextlib.suppress(HarnessError):
                    self.pods.vtysh_text(self.pod, "configure terminal", CONFIG_END, "end")
            raise

    def check_alive(self) -> None:
        self.pods.check_running(self.pod)

    def log_text(self) -> str:
        """FRR's own log (the daemons run detached: their log goes to a file, set at start),
        where `debug bgp updates in` writes its DENIED evidence."""
        return self.pods.exec(self.pod, FRR_CONTAINER, ["tail", "-n", "400", FRR_LOG])


class KindLab(LabPeers):
    wire_capture = False  # the failover drills judge from samples only (no capture in pods yet)

    def __init__(
        self,
        plan: LabPlan,
        run: Run,
        cluster: Cluster,
        establish_timeout: float,
        peer_image: str = m.PEER_IMAGE,
    ) -> None:
        self.plan = plan
        self.peer_image = peer_image
        self.run = run
        self.cluster = cluster
        self.establish_timeout = establish_timeout
        self.namespace = run_namespace(run.run_id)
        self.unready: dict[str, dict[str, str]] = {}
        self.unrealised = unrealisable(plan)
        self.timings: dict[str, float] = {}
        self.anycast_holders: dict[str, str] = {}
        self.api = cluster.api()
        from kubernetes import client

        self.core = client.CoreV1Api(self.api)
        self.pods = KubePods(self.core, self.namespace, plan)
        self.frr_nodes: dict[str, KubeFrr] = {}
        self.peers: dict[str, ExabgpPeer | CraftedSpeaker] = {}

    # -- Lab interface ----------------------------------------------------------------------------
    def check_alive(self) -> None:
        """A DaemonError for the first pod of the run not running as started."""
        self.pods.check_all_running()

    def frr(self, node: str) -> KubeFrr:
        """A pod's FRR, by topology node (rr-0 is the RR pod standing for that slot) or by pod
        name (a replacement RR pod the Deployment made during a drill)."""
        if node not in self.frr_nodes:
            self.frr_nodes[node] = KubeFrr(self.pods, node, node, "")
        return self.frr_nodes[node]

    @property
    def frr_software(self) -> tuple[str, str]:
        """The FRR the pods run (the image's), as a router pod's FRR says."""
        said = self.frr(self.plan.routers[0].name).query_text("show version")
        return frr.version(said), f"image {m.FRR_IMAGE}"

    @property
    def sampling(self) -> Access:
        """Samples come from the sample process in each router pod's `sampler` container,
        on the bgpd vty socket it shares with FRR; it streams back through `kubectl exec -i`
        (binary-safe). kind nodes are containers of this machine: one kernel, one monotonic
        clock for the samples and the harness."""
        kubectl = ["kubectl", "--kubeconfig", str(self.cluster.kubeconfig), "exec", "-i"]

        def channel(pod: str) -> tuple[str, ...]:
            where = ["-n", self.namespace, "-c", m.SAMPLER_CONTAINER, self.pods.resolve(pod)]
            return (*kubectl, *where, "--", "python3", "-m", SAMPLE_MODULE)

        def take(pod: str) -> Sample:
            argv = ["python3", "-m", SAMPLE_MODULE, "--once", str(m.IN_POD_VTY), pod]
            line = self.pods.exec(pod, m.SAMPLER_CONTAINER, argv)
            return pickle.loads(base64.b64decode(line.strip()))

        return Access(
            sockets=lambda pods: {p.name: m.IN_POD_VTY for p in pods}, take=take, channel=channel
        )

    def set_evpn_host(self, node: str, mac: str, ip: IPv4Address | None, *, present: bool) -> None:
        lines = host_commands(self.vni_of(node, mac), mac, ip, present=present)
        body = script(lines, tolerate_failures=not present)
        self.pods.exec(node, FRR_CONTAINER, ["sh", "-c", body])

    # -- life cycle -----------------------------------------------------------------------------
    def start(self) -> None:
        started = time.monotonic()
        nodes = [n for n in realisable_nodes(self.plan) if n.role is not Role.ROUTE_REFLECTOR]
        self._create([m.namespace_object(self.run.run_id)])
        self.pods.watch.start()  # pod times (created, ready, gone) as the drills need them
        self._create(m.pod_objects(self.plan, nodes, self.run.run_id, peer_image=self.peer_image))
        addresses = self._await_addresses([n.name for n in nodes])
        self.timings["pods_s"] = time.monotonic() - started
        # The RR config names configured non-clients by address: render it at the pods' own.
        draft = realise(self.plan, addresses, keep_missing=True)
        self._create(m.route_reflector_objects(draft, self.run.run_id))
        rr_pods = self._await_route_reflectors()
        addresses |= dict(zip([n.name for n in self.plan.route_reflectors], rr_pods, strict=True))
        self.plan = realise(self.plan, addresses)
        self.pods.plan = self.plan
        self.timings["route_reflectors_s"] = time.monotonic() - started
        for node in self.plan.route_reflectors:
            config = self.plan.render_route_reflector(node)
            self.frr_nodes[node.name] = KubeFrr(self.pods, node.name, node.name, config)
        calls: list[Callable[[], object]] = [
            lambda r=router: self._configure_router(r.name) for router in self.plan.routers
        ]
        for node in self.plan.peers:
            kind = KubeSpeaker if node.role is Role.SPEAKER else KubeExabgp
            peer = kind(
                node=node.name,
                namespace=self.namespace,
                directory=STATE_DIR,
                sessions=self.plan.peer_sessions(node),
                env={},
                pods=self.pods,
            )
            self.peers[node.name] = peer
            calls.append(peer.start)
        in_parallel(calls, at_most=8)  # API calls: a few at a time
        for instance in self.frr_nodes.values():  # evidence: "DENIED due to" lines, in a file
            instance.configure([["configure terminal", f"log file {FRR_LOG}", "end"]])
            instance.query_text("debug bgp updates in")
        self.timings["daemons_s"] = time.monotonic() - started
        await_established(self, started, self.establish_timeout)

    def _configure_router(self, name: str) -> None:
        """From the start-up config in its ConfigMap to the rendered one, as the discovery loop
        changes a router: every ready RR pod as `rr@<ip>`, external peers at their pod IPs."""
        node = self.plan.topology.node(name)
        desired = self.plan.render_router(node, self.plan.rr_ips(node))
        instance = KubeFrr(self.pods, name, name, m.startup_config(desired))
        instance.configure(commands(instance.config, desired))
        instance.config = desired
        self.frr_nodes[name] = instance

    def _create(self, objects: list[dict[str, Any]]) -> None:
        from kubernetes import utils

        for obj in objects:
            what = f"creating {obj['kind']} {obj['metadata']['name']}"
            try:
                api_call(what, lambda o=obj: utils.create_from_dict(self.api, o))
            except utils.FailToCreateError as exc:  # the utils' own wrapper of API errors
                raise api_error(what, exc.api_exceptions[0]) from None

    def _await_addresses(self, names: list[str]) -> dict[str, PodAddresses]:
        """Every named pod running, with its IP(s)."""

        def look() -> dict[str, Any]:
            return {p.metadata.name: p for p in self.pods.api_pods() if p.metadata.name in names}

        pods = wait_until(
            look,
            lambda found: (
                len(found) == len(names)
                and all(p.status.phase == "Running" and p.status.pod_ip for p in found.values())
            ),
            timeout=SCHEDULE_TIMEOUT,
            what=f"pods {', '.join(names)} to run with an IP",
            describe=lambda found: {n: _phase(p) for n, p in found.items()},
            fail_fast=self.check_alive,
        )
        return {name: pod_addresses(pod) for name, pod in pods.items()}

    def _await_route_reflectors(self) -> list[PodAddresses]:
        """The Deployment's replicas, every one ready, in name order (slot i = pod i)."""
        want = self.plan.sut.values.replicas
        ready = wait_until(
            lambda: [p for p in self.pods.route_reflectors() if p.terminating_at is None],
            lambda pods: len(pods) == want and all(p.ready for p in pods),
            timeout=SCHEDULE_TIMEOUT,
            what=f"{want} RR pod(s) of Deployment {m.RR_NAME} to be ready",
            describe=lambda pods: {p.name: "ready" if p.ready else "not ready" for p in pods},
            fail_fast=self.check_alive,
        )
        ordered = sorted(ready, key=lambda p: p.name)
        for slot, pod in zip(self.plan.route_reflectors, ordered, strict=True):
            self.pods.aliases[slot.name] = pod.name
        return [
            pod_addresses(self.core.read_namespaced_pod(p.name, self.namespace)) for p in ordered
        ]

    def teardown(self) -> list[str]:
        """Delete the run's namespace and wait until it is gone; then the cluster, if ours."""
        started = time.monotonic()
        problems: list[str] = []
        self.pods.watch.stop()
        if self.cluster.created is not None:  # deleting the cluster removes everything
            problems = self.cluster.delete()
            self.timings["teardown_s"] = time.monotonic() - started
            return problems
        try:
            from kubernetes.client import V1DeleteOptions

            api_call(
                f"deleting namespace {self.namespace}",
                lambda: self.core.delete_namespace(
                    self.namespace, body=V1DeleteOptions(propagation_policy="Foreground")
                ),
            )
            wait_until(
                lambda: [n.metadata.name for n in self.core.list_namespace().items],
                lambda names: self.namespace not in names,
                timeout=NAMESPACE_GONE_TIMEOUT,
                what=f"namespace {self.namespace} to be gone",
            )
        except Exception as exc:
            problems.append(f"namespace {self.namespace}: {type(exc).__name__}: {exc}")
        self.timings["teardown_s"] = time.monotonic() - started
        return problems

    def archive(self, destination: Path) -> Path:
        """Every pod's logs and every FRR pod's running config (before teardown)."""
        destination.mkdir(parents=True, exist_ok=True)
        try:
            pods = self.pods.list()
        except LabError as exc:
            (destination / "pods.txt").write_text(f"(pods not listed: {exc})\n")
            return destination
        for pod in pods:
            files: dict[str, Callable[[], str]] = {"log": lambda p=pod: self.pods.log(p.name, None)}
            if not pod.spec.role.is_peer:
                files["running-config"] = lambda p=pod: self.pods.vtysh_text(
                    p.name, "show running-config"
                )
            for suffix, fetch in files.items():
                try:
                    text = fetch()
                except (LabError, CommandError, DaemonError) as exc:
                    text = f"(not read: {exc})\n"
                (destination / f"{pod.name}.{suffix}").write_text(text)
        return destination

    def daemon_crashes(self) -> list[str]:
        """Crash records of the SUT's pods: a container that terminated or restarted (a crash
        the kubelet hid), and crash lines in FRR's own log (watchfrr restarting a daemon inside
        a running container leaves the restart count at 0)."""
        out = []
        for name, daemon in self.frr_nodes.items():
            try:
                self.pods.check_running(daemon.pod)
                out += [f"{name}: log: {line}" for line in crash_lines(daemon.log_text())]
            except DaemonError as exc:  # the reason only: the log's tail changes between looks
                out.append(f"{name}: {exc.what}")
            except (LabError, CommandError) as exc:  # the harness cannot tell: not a finding
                raise PreconditionFailed(f"{name}: its state could not be read ({exc})") from exc
        return out

    def evidence(self) -> str:
        out = []
        for name, daemon in [*self.frr_nodes.items(), *self.peers.items()]:
            try:
                text = daemon.log_text()
            except (LabError, CommandError, DaemonError) as exc:
                text = f"(not read: {exc})"
            out.append(f"### {name} (last 40 log lines)\n" + "\n".join(text.splitlines()[-40:]))
        return "\n".join(out)


def pod_addresses(api_pod: Any) -> PodAddresses:
    """A pod's `status.podIPs`: its IPv4 and, on a dual-stack cluster, its IPv6 address."""
    status = api_pod.status
    listed = getattr(status, "pod_ips", None) or getattr(status, "pod_i_ps", None) or []
    ips = [ip_address(p.ip) for p in listed] or [ip_address(status.pod_ip)]
    v4 = next((ip for ip in ips if ip.version == 4), None)
    if v4 is None:
        raise LabError(f"pod {api_pod.metadata.name} has no IPv4 address ({ips})")
    v6 = next((ip for ip in ips if ip.version == 6), None)
    return PodAddresses(v4, v6)  # type: ignore[arg-type]


def _phase(api_pod: Any) -> str:
    """`Pending (ContainerCreating)`, `Running`: what a pod is waiting for, for timeouts."""
    status = api_pod.status
    waiting = [
        c.state.waiting.reason
        for c in (status.container_statuses or [])
        if c.state is not None and c.state.waiting is not None
    ]
    return f"{status.phase}" + (f" ({', '.join(waiting)})" if waiting else "")


class KindBackend:
    """`--backend kind`: `kubeconfig` names an existing cluster; without it, a kind cluster is
    created for the run (and deleted after it)."""

    name = "kind"

    def __init__(
        self,
        kubeconfig: Path | None = None,
        *,
        peer_image: str | None = None,
        node_image: str | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.peer_image = peer_image or m.PEER_IMAGE
        self.node_image = node_image

    @contextmanager
    def up(self, plan: LabPlan, run: Run, establish_timeout: float) -> Iterator[KindLab]:
        preflight.check(self.kubeconfig)
        m.manifests(plan, run.run_id)  # a plan kind cannot deploy (meshrr) stops here
        run.open()
        cluster = None
        lab = None
        failed = True
        try:
            if self.kubeconfig is not None:
                cluster = Cluster(self.kubeconfig)
            else:
                config = cluster_config(plan, run.run_id, self.node_image)
                cluster = Cluster.create(config, run.directory / "kind")
                for note in cluster.load_images([self.peer_image]):
                    tell(log, note)
            lab = KindLab(plan, run, cluster, establish_timeout, self.peer_image)
            lab.start()
            yield lab
            failed = False
        except BaseException:
            if lab is not None:
                keep_logs(lab, run)
            raise
        finally:
            with signals_deferred():
                problems = lab.teardown() if lab is not None else []
                if lab is None and cluster is not None:
                    problems += cluster.delete()
                run.close()
            report_teardown(problems, failed=failed)
