"""Pods as the design sees them: name, labels, IP, node, readiness.

Readiness is the design's (RR Deployment `readinessProbe: tcpSocket: port: 179`): a pod is ready
while its BGP port accepts connections, as judged by the probe's period and failure threshold.
"BGP sessions up" is a separate fact, read from the daemons, never inferred from readiness.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network

from harness.model.topology import Node, Role

# Labels of the design's RR Deployment; the controller watches the component label
# (design, "Controller Changes" 1).
RR_SELECTOR: Mapping[str, str] = {"app.kubernetes.io/component": "route-reflector"}
RR_LABELS: Mapping[str, str] = {
    "app.kubernetes.io/name": "openperouter-rr",
    "app.kubernetes.io/component": "route-reflector",
}
NODE_BLOCK_BITS = 8  # every Kubernetes node owns a /24 of the pod CIDR (kind's default)


class DeletionMode(StrEnum):
    """How a pod goes away."""

    GRACEFUL = "graceful"  # SIGTERM, as the kubelet does on `kubectl delete pod`
    CRASH = "crash"  # SIGKILL (`--grace-period=0 --force`): the kernel still closes TCP
    SILENT = "silent"  # the pod's link goes dark first: no TCP close, only hold timers notice


@dataclass(frozen=True)
class PodEvent:
    at: float  # time.monotonic()
    pod: str
    what: str  # created, ready, not-ready, terminating, gone, container-killed, restarted


@dataclass(frozen=True)
class HarnessStep:
    """Time the harness itself spent emulating the cluster (creating or deleting a pod's
    namespace and daemons, a kubelet probe, the controller stand-in applying a config): the
    host's work, reported apart from the SUT's convergence and never charged to it."""

    what: str  # pod-deletion, pod-creation, container-kill, container-restart, partition,
    # readiness-probe, reconciler-apply
    pod: str
    started: float  # time.monotonic()
    ended: float

    @property
    def ms(self) -> float:
        return (self.ended - self.started) * 1000.0


@dataclass
class Pod:
    name: str
    role: Role
    labels: Mapping[str, str]
    ip: str
    node: str  # the Kubernetes node the pod runs on
    spec: Node  # the topology node this pod realises (its name and pod address are the pod's)
    created_at: float  # time.monotonic()
    ready_at: float | None = None  # when the readiness probe last turned it ready
    terminating_at: float | None = None
    partitioned_at: float | None = None  # its node dropped off the network (silent failure)
    gone_at: float | None = None
    replaces: str | None = None  # the pod this one replaced
    probe_failures: int = field(default=0, repr=False)

    @property
    def ready(self) -> bool:
        return self.ready_at is not None and self.terminating_at is None

    @property
    def exists(self) -> bool:
        return self.gone_at is None

    def matches(self, selector: Mapping[str, str]) -> bool:
        return all(self.labels.get(k) == v for k, v in selector.items())


def node_of(ip: str | IPv4Address, pod_cidr: IPv4Network) -> str:
    """The node whose /24 of the pod CIDR holds `ip` (`node-0` owns the first /24)."""
    offset = int(IPv4Address(ip)) - int(pod_cidr.network_address)
    return f"node-{offset >> NODE_BLOCK_BITS}"
