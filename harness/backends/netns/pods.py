"""Pods on the netns backend: the RR Deployment, router pods, the kubelet's readiness probe.

Kubernetes does three things the design relies on, and this module does them to namespaces:
- the RR Deployment keeps `replicas` pods: a deleted pod is replaced at once by one with a new
  name and a new IP from the pod CIDR (preferring a node without an RR pod: the design's
  anti-affinity), and `rollout_restart` surges one new pod, waits for it to be ready, then
  deletes an old one (the Deployment's default rolling update for two replicas); with
  `rr_lifecycle: daemonset` (OpenPERouter's merged design: the RR is a node's router pod) a
  deleted pod is replaced once it is gone, on the same node with the same underlay address,
  and a rolling update deletes one pod, waits for its successor, then takes the next;
- the kubelet probes every RR pod's TCP 179 and marks it ready or not ready, and restarts a
  crashed container in place (same pod, same IP);
- a rescheduled router pod comes back with a new IP on the same node.
Watchers (the discovery loop) see every change through `wait_for_change`, like a watch.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from ipaddress import IPv4Address, IPv4Interface
from typing import Any, Protocol

from harness.backends.netns.fabric import Fabric
from harness.backends.netns.probe import tcp_accepting
from harness.cluster.pods import (
    RR_LABELS,
    RR_SELECTOR,
    DeletionMode,
    HarnessStep,
    Pod,
    PodEvent,
    node_of,
)
from harness.errors import LabError
from harness.log import logger
from harness.model.plan import LabPlan
from harness.model.topology import Node, Role
from harness.observe.wait import wait_until
from harness.runtime.processes import ManagedProcess
from harness.runtime.run import Run

log = logger("pods")

BGP_PORT = 179
TERMINATION_GRACE = 10.0  # seconds from SIGTERM to SIGKILL (Kubernetes' default is 30)
FIRST_NEW_HOST = 100  # replacement pods take addresses from .100 of their node's /24
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' generated-name alphabet


class PodDaemon(Protocol):
    """A pod's daemons as the pods layer drives them: FRR (harness.daemons.frr), or the SUT's
    own RR implementation (harness.daemons.gobgp)."""

    node: str
    config: str
    processes: list[ManagedProcess]  # running now (what the harness killed is gone from it)

    def start(self) -> Any: ...
    def stop(self, grace: float = 3.0) -> None: ...
    def kill(self) -> None: ...
    def restart(self) -> Any: ...
    def check_alive(self) -> None: ...
    def query(self, command: str) -> Any: ...
    def query_text(self, command: str) -> str: ...
    def log_text(self) -> str: ...


class PodHost(Protocol):
    """What the pods need of the netns lab: its namespaces and the daemons in them."""

    plan: LabPlan
    run: Run
    fabric: Fabric
    frr_instances: dict[str, PodDaemon]
    retired: list[PodDaemon]  # instances of deleted pods, stopped at teardown

    def check_alive(self) -> None: ...
    def start_pod(self, pod: str, config: str, role: Role) -> PodDaemon: ...


class NetnsPods:
    """Every pod of a netns lab, and what Kubernetes would do to them."""

    def __init__(self, lab: PodHost) -> None:
        self.lab = lab
        self.plan = lab.plan
        self.probe = lab.plan.sut.values.readiness
        self._pods: dict[str, Pod] = {}
        self._changed = threading.Condition()
        self.version = 0
        self.events: list[PodEvent] = []
        self.steps: list[HarnessStep] = []  # the harness's own emulation work, timed
        self._used_ips: set[str] = {
            str(a.ip) for n in self.plan.topology.nodes for i in n.interfaces for a in i.addresses
        }
        self._stop = threading.Event()
        self._prober: threading.Thread | None = None
        # Called after every change (MetalLB's anycast follows the pods); what they raise is
        # kept and reported by the lab's liveness check, never lost in a thread.
        self.listeners: list[Callable[[Pod], None]] = []
        self.listener_errors: list[str] = []

    # -- the API server's view --------------------------------------------------------------------
    def register_lab_pods(self) -> None:
        """The pods the lab started with: RR replicas and router pods."""
        now = time.monotonic()
        for node in [*self.plan.route_reflectors, *self.plan.routers]:
            ip = self.plan.cluster_ip(node)
            is_rr = node.role is Role.ROUTE_REFLECTOR
            labels = dict(node.labels) or (dict(RR_LABELS) if is_rr else {})
            pod = Pod(node.name, node.role, labels, ip, self._node(node, ip), node, now)
            if not is_rr:
                pod.ready_at = now  # router pods have no readiness gate in the design
            self._add(pod)

    def list(self, selector: Mapping[str, str] | None = None) -> list[Pod]:
        with self._changed:
            return [p for p in self._pods.values() if p.exists and p.matches(selector or {})]

    def route_reflectors(self) -> list[Pod]:
        """The RR (or route server) pods that exist, oldest first: the Deployment's pods."""
        pods = [p for p in self.list() if p.role is Role.ROUTE_REFLECTOR]
        return sorted(pods, key=lambda p: p.created_at)

    def every(self) -> list[Pod]:
        """Every pod of the run, gone ones included."""
        with self._changed:
            return list(self._pods.values())

    def get(self, name: str) -> Pod:
        with self._changed:
            return self._pods[name]

    def wait_for_change(self, seen: int, timeout: float) -> int:
        """Block until the pods differ from version `seen` (or `timeout`); the new version."""
        with self._changed:
            self._changed.wait_for(lambda: self.version != seen, timeout=timeout)
            return self.version

    def _record(self, pod: Pod, what: str, at: float | None = None) -> None:
        log.info("pod %s (%s, %s): %s", pod.name, pod.role.value, pod.ip, what)
        with self._changed:
            self.events.append(PodEvent(at or time.monotonic(), pod.name, what))
            self.version += 1
            self._changed.notify_all()
        for listener in self.listeners:
            try:
                listener(pod)
            except Exception as exc:  # kept for check_alive (see above), never lost
                self.listener_errors.append(f"after {pod.name} {what}: {exc}")

    def _add(self, pod: Pod) -> None:
        with self._changed:
            self._pods[pod.name] = pod
            self._used_ips.add(pod.ip)
        self._record(pod, "created", pod.created_at)

    # -- the kubelet's readiness probe -----------------------------------------------------------
    def start_prober(self) -> None:
        self._prober = threading.Thread(target=self._probe_loop, name="readiness", daemon=True)
        self._prober.start()

    def stop(self) -> None:
        self._stop.set()
        if self._prober is not None:
            self._prober.join(timeout=5)

    def _probe_loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            for pod in self.route_reflectors():
                self._probe(pod)
            self._stop.wait(max(0.0, self.probe.period - (time.monotonic() - started)))

    def _probe(self, pod: Pod) -> None:
        if pod.terminating_at is not None or pod.partitioned_at is not None:
            return  # a partitioned node's kubelet cannot report: the API keeps its last word
        now = time.monotonic()
        if now - pod.created_at < self.probe.initial_delay:
            return
        ok = tcp_accepting(
            self.lab.run.namespace(pod.name), BGP_PORT, timeout=min(1.0, self.probe.period)
        )
        if pod.ready_at is None:  # probes that decide a pod's readiness
            self.steps.append(HarnessStep("readiness-probe", pod.name, now, time.monotonic()))
        if ok:
            pod.probe_failures = 0
            if pod.ready_at is None:
                pod.ready_at = now
                self._record(pod, "ready", now)
            return
        pod.probe_failures += 1
        if pod.ready_at is not None and pod.probe_failures >= self.probe.failure_threshold:
            pod.ready_at = None
            self._record(pod, "not-ready", now)

    # -- deleting, replacing, restarting --------------------------------------------------------
    def partition(self, name: str) -> float:
        """The pod's node drops off the network: its links go dark, its daemons keep running,
        nobody is told and the API still shows the pod as it was. Returns the moment."""
        pod = self.get(name)
        started = time.monotonic()
        self.lab.fabric.go_dark(name)
        pod.partitioned_at = time.monotonic()
        self.steps.append(HarnessStep("partition", name, started, pod.partitioned_at))
        self._record(pod, "partitioned", pod.partitioned_at)
        return pod.partitioned_at

    def delete(self, name: str, mode: DeletionMode, *, replace: bool = True) -> Pod | None:
        """Delete a pod; an RR pod's replacement is created at once, as the ReplicaSet does when
        a pod starts terminating (`replace=False`: a rollout scaling the old ReplicaSet down).
        Returns the replacement, if any."""
        pod = self.get(name)
        pod.terminating_at = time.monotonic()
        self._record(pod, "terminating", pod.terminating_at)
        instance = self.lab.frr_instances.pop(name)
        self.lab.retired.append(instance)
        if mode is DeletionMode.SILENT and pod.partitioned_at is None:
            self.lab.fabric.go_dark(name)
        if mode is DeletionMode.GRACEFUL:
            stopping = threading.Thread(target=instance.stop, args=(TERMINATION_GRACE,))
        else:
            stopping = threading.Thread(target=instance.kill)
        stopping.start()
        # A Deployment's ReplicaSet replaces a pod as soon as it is terminating; a DaemonSet
        # once the node's pod is gone (one pod per node: the underlay address is the node's).
        replace_rr = replace and pod.role is Role.ROUTE_REFLECTOR
        replacement = self._replace_rr(pod) if replace_rr and not self.per_node else None
        stopping.join()
        failures = self.lab.fabric.remove_node(name)
        if failures:
            raise LabError(f"deleting pod {name}: {'; '.join(failures)}")
        pod.gone_at = time.monotonic()
        self.steps.append(HarnessStep("pod-deletion", name, pod.terminating_at, pod.gone_at))
        self._record(pod, "gone", pod.gone_at)
        if replace_rr and self.per_node:
            replacement = self._create(pod, pod.node, same_address=True)
        return replacement

    @property
    def per_node(self) -> bool:
        """RR pods are a DaemonSet's (one per node, the node's address), not a Deployment's."""
        return self.plan.sut.values.rr_lifecycle == "daemonset"

    def _replace_rr(self, old: Pod) -> Pod:
        return self._create(old, self._node_for(old.spec.side, fallback=old.node))

    def _node_for(self, side: str | None, fallback: str) -> str:
        """Where a new RR pod lands: a node without a serving RR pod (the design's preferred
        anti-affinity), among all nodes, or for a meshrr side among that side's nodes (meshrr
        schedules a side's route servers on nodes of that side only); else `fallback`."""
        pods = self.every()
        if side is None:
            candidates = {p.node for p in pods}
        else:
            candidates = {
                p.node for p in pods if p.role is Role.ROUTE_REFLECTOR and p.spec.side == side
            }
        busy = {p.node for p in self.route_reflectors() if p.terminating_at is None}
        return next((n for n in sorted(candidates) if n not in busy), fallback)

    def rollout_restart(self, wait_timeout: float) -> Iterator[tuple[Pod, Pod]]:
        """`kubectl rollout restart`: for each RR pod, surge a new one, wait until it is
        available (ready for `min_ready_seconds`), then delete the old one gracefully (the
        Deployment's default strategy at two replicas: maxSurge 1, maxUnavailable 0). Yields
        (old, new) after each step."""
        min_ready = self.plan.sut.values.min_ready_seconds
        for old in self.route_reflectors():
            if self.per_node:  # a DaemonSet's rolling update: maxUnavailable 1, maxSurge 0
                new = self.delete(old.name, DeletionMode.GRACEFUL)
                assert new is not None
                self._await_available(new, wait_timeout, min_ready)
                yield old, new
                continue
            new = self._create(old, old.node)
            self._await_available(new, wait_timeout, min_ready)
            self.delete(old.name, DeletionMode.GRACEFUL, replace=False)
            yield old, new

    def _await_available(self, new: Pod, wait_timeout: float, min_ready: float) -> None:
        """Until `new` has been ready for `min_ready` seconds (available, in Kubernetes' terms)."""
        wait_until(
            lambda new=new: (
                new.ready_at is not None and time.monotonic() - new.ready_at >= min_ready
            ),
            timeout=wait_timeout + min_ready,
            what=f"surge pod {new.name} to be available (ready for {min_ready} s)",
            describe=lambda _, new=new: f"{new.name} ready since {new.ready_at}",
            fail_fast=self.lab.check_alive,
        )

    def scale(self, side: str | None, replicas: int) -> tuple[list[Pod], list[Pod]]:
        """`kubectl scale` of the RR pods of one meshrr side (None: of the RR Deployment): new
        pods on nodes without one, or the newest deleted. Returns (created, deleted)."""
        current = [p for p in self.route_reflectors() if p.spec.side == side]
        if not current:
            raise LabError(f"no route reflector pod of side {side} left to copy")
        created: list[Pod] = []
        while len(current) + len(created) < replicas:
            new_node = _next_node({p.node for p in self.every()})  # the side gains a node
            created.append(self._create(current[0], self._node_for(side, fallback=new_node)))
        deleted = current[replicas:] if len(current) > replicas else []
        for pod in reversed(deleted):
            self.delete(pod.name, DeletionMode.GRACEFUL, replace=False)
        return created, deleted

    def reschedule_router(self, name: str) -> Pod:
        """Delete a router pod; it comes back on the same node with a new name and IP."""
        old = self.get(name)
        self.delete(name, DeletionMode.GRACEFUL)
        return self._create(old, old.node, same_address=self.per_node)

    def kill_containers(self, names: list[str]) -> float:
        """Crash the FRR container of these pods at the same moment; returns that moment."""
        instances = [self.lab.frr_instances[n] for n in names]
        at = time.monotonic()
        threads = [threading.Thread(target=i.kill) for i in instances]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.steps += [HarnessStep("container-kill", n, at, time.monotonic()) for n in names]
        for n in names:
            self._record(self.get(n), "container-killed", at)
        return at

    def restart_containers(self, names: list[str]) -> None:
        """The kubelet restarting crashed containers in place: same pod, same IP."""
        threads = [threading.Thread(target=self.lab.frr_instances[n].restart) for n in names]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.steps += [
            HarnessStep("container-restart", n, started, time.monotonic()) for n in names
        ]
        for n in names:
            self._record(self.get(n), "restarted")

    def _create(self, old: Pod, node: str, *, same_address: bool = False) -> Pod:
        """A new pod like `old` on `node`: new name, new IP (`same_address`: the node's, for a
        DaemonSet's pod), same spec and labels."""
        started = time.monotonic()
        base = old.spec.name
        name = f"{base}-{''.join(secrets.choice(_NAME_CHARS) for _ in range(5))}"
        ip = old.ip if same_address else self._free_ip(node, old.ip)
        spec = old.spec if same_address else self._readdress(old.spec, ip)
        self.lab.fabric.add_node(spec, name=name, same_nic=same_address)
        config = (
            self.plan.render_route_reflector(spec, mesh=self._mesh_without(old))
            if old.role is Role.ROUTE_REFLECTOR
            else self.plan.render_router(spec, self.ready_rr_ips(spec))
        )
        self.lab.start_pod(name, config, old.role)
        pod = Pod(name, old.role, old.labels, ip, node, spec, time.monotonic(), replaces=old.name)
        if old.role is Role.ROUTER:
            pod.ready_at = pod.created_at  # router pods have no readiness gate in the design
        self.steps.append(HarnessStep("pod-creation", name, started, pod.created_at))
        self._add(pod)
        return pod

    def _mesh_without(self, old: Pod) -> list[str] | None:
        """For meshrr, a new route server starts meshed with every other serving one (meshrr's
        peer updater keeps it so from then on); None for a standalone RR."""
        if self.plan.mesh is None:
            return None
        return [p.ip for p in self.route_reflectors() if p is not old and p.terminating_at is None]

    def ready_rr_ips(self, router: Node) -> list[str]:
        """What the controller configures on a router: every ready RR pod, plus any stand-in
        replica the topology peers with it."""
        return [p.ip for p in self.list(RR_SELECTOR) if p.ready] + self.plan.stand_in_ips(router)

    def _node(self, spec: Node, ip: str) -> str:
        """The node a pod runs on: its topology node for a per-node router pod (RR or not),
        else the node owning its /24 of the pod CIDR."""
        return spec.name if self.per_node else node_of(ip, self.plan.sut.values.pod_cidr)

    def _free_ip(self, node: str, like: str) -> str:
        cidr = self.plan.sut.values.pod_cidr
        block = int(node.removeprefix("node-"))
        base = int(cidr.network_address) + (block << 8)
        for host in range(FIRST_NEW_HOST, 255):
            ip = str(IPv4Address(base + host))
            if ip not in self._used_ips and IPv4Address(ip) in cidr:
                return ip
        raise LabError(f"no free pod address left on {node} (replacing {like})")

    def _readdress(self, spec: Node, ip: str) -> Node:
        cluster = self.plan.topology.cluster_network.name
        interfaces = tuple(
            iface.model_copy(
                update={
                    "addresses": tuple(
                        IPv4Interface(f"{ip}/{a.network.prefixlen}") if a.version == 4 else a
                        for a in iface.addresses
                    )
                }
            )
            if iface.segment == cluster
            else iface
            for iface in spec.interfaces
        )
        return spec.model_copy(update={"interfaces": interfaces})


def _next_node(known: set[str]) -> str:
    """A node name not in `known`: a node added to the cluster."""
    n = 0
    while f"node-{n}" in known:
        n += 1
    return f"node-{n}"
