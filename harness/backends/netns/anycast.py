"""Each meshrr side's anycast peering address, answered by one ready route server of the side.

In meshrr, MetalLB gives each side's LoadBalancer service one address and, with
`externalTrafficPolicy: Local`, announces it only from nodes hosting a ready route server of
that side. Here that is MetalLB's layer-2 mode: the address sits on one route server pod of the
side (a /32 on its cluster interface), and when that pod goes away (or another is ready while it
is not), the address moves to a ready one, announced with a gratuitous ARP (RFC 5227 §3) so the
clients' neighbour caches follow at once.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from harness.backends.netns.fabric import Fabric
from harness.backends.netns.pods import NetnsPods
from harness.backends.netns.probe import socket_in
from harness.cluster.pods import Pod
from harness.errors import LabError
from harness.model.plan import LabPlan
from harness.model.topology import Role
from harness.runtime.run import Run

ETH_P_ARP = 0x0806
CLUSTER_IF = "eth0"  # a pod's first interface is its cluster-network one (topology order)


@dataclass(frozen=True)
class Move:
    at: float  # time.monotonic()
    side: str
    to: str
    away_from: str | None


class AnycastHost(Protocol):
    """What the anycast addresses need of the netns lab: its pods and their namespaces."""

    plan: LabPlan
    run: Run
    fabric: Fabric
    pods: NetnsPods


class Anycast:
    def __init__(self, lab: AnycastHost) -> None:
        self.lab = lab
        mesh = lab.plan.mesh
        assert mesh is not None
        self.addresses = {name: str(side.anycast) for name, side in mesh.sides.items()}
        self.holders: dict[str, str] = {}
        self.moves: list[Move] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Every side's address on its first route server, before any daemon starts."""
        for side in self.addresses:
            self._assign(side, self.lab.plan.initial_holder(side).name, announce=False)

    def reconcile(self, _changed: Pod | None = None) -> None:
        """Move a side's address when its holder is going, gone or cut off, to a ready route
        server of the side (none ready: it waits for one, as MetalLB does)."""
        with self._lock:
            for side in self.addresses:
                pods = [p for p in self.lab.pods.every() if p.role is Role.ROUTE_REFLECTOR]
                holder = next((p for p in pods if p.name == self.holders.get(side)), None)
                if holder is not None and _serving(holder):
                    continue
                ready = [p for p in pods if p.spec.side == side and _serving(p) and p.ready]
                if ready:
                    self._assign(side, ready[0].name, announce=True, old=holder)

    def _assign(self, side: str, pod: str, *, announce: bool, old: Pod | None = None) -> None:
        address = self.addresses[side]
        if old is not None and old.exists and old.partitioned_at is None:
            self._address(old.name, address, present=False)
        self._address(pod, address, present=True)
        if announce:
            self._gratuitous_arp(pod, address)
        self.holders[side] = pod
        self.moves.append(Move(time.monotonic(), side, pod, old.name if old else None))

    def _address(self, pod: str, address: str, *, present: bool) -> None:
        """Add the address to the pod, or take it from a pod that may be going away: its
        namespace may be half removed (setns then fails with EINVAL), and nothing is left to
        take then."""
        try:
            ns = self.lab.fabric.handle(pod)
            index = ns.link_lookup(ifname=CLUSTER_IF)[0]
            ns.addr("add" if present else "del", index=index, address=address, prefixlen=32)
        except Exception as exc:  # pyroute2 raises NetlinkError, and IndexError for no link
            if present:
                raise LabError(f"{pod}: cannot take anycast address {address}: {exc}") from exc

    def _gratuitous_arp(self, pod: str, address: str) -> None:
        ns = self.lab.fabric.handle(pod)
        link = ns.get_links(ifname=CLUSTER_IF)[0]
        mac = link.get_attr("IFLA_ADDRESS")
        from scapy.layers.l2 import ARP, Ether  # meshrr's anycast moves only (issue 18)

        frame = Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(
            op=1, hwsrc=mac, psrc=address, hwdst="00:00:00:00:00:00", pdst=address
        )
        with socket_in(
            self.lab.run.namespace(pod), socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)
        ) as sock:
            sock.bind((CLUSTER_IF, 0))
            sock.send(bytes(frame))


def _serving(pod: Pod) -> bool:
    return pod.exists and pod.terminating_at is None and pod.partitioned_at is None
