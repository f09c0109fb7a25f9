"""The plan made real on a cluster: the topology's addresses replaced by the pods' own.

On netns the harness gives every pod the address the topology names. On a cluster the CNI
assigns pod IPs at scheduling, and every pod has one interface on the pod network. So the kind
backend re-draws the topology once the pods have their IPs: every node keeps its name, role,
ASN, router-id, VNI and peers, and gets one interface on the cluster segment with its pod's
IPv4 (and IPv6, on a dual-stack cluster) address. Underlay links become pod-network paths: the
ToR and the cloud router are pods too. Everything the suites expect (next hops, session
addresses, `rr@<ip>`) is then derived from the real addresses by the same `LabPlan` code.

A node that no pod can stand for is left out, with the reason, so the test needing it is
skipped saying why: a would-be client outside the pod CIDR cannot exist on a cluster, where
every pod's address is inside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_interface

from harness.errors import InputError
from harness.model.plan import LabPlan
from harness.model.topology import Interface, Node, Segment, Topology

# kind's default IPv6 pod subnet for a dual-stack cluster (its docs' example)
IPV6_POD_SUBNET = IPv6Network("fd00:10:244::/56")


@dataclass(frozen=True)
class PodAddresses:
    """What the API reports in a pod's `status.podIPs`."""

    ipv4: IPv4Address
    ipv6: IPv6Address | None = None


def needs_ipv6(plan: LabPlan) -> bool:
    """Does any node of the topology have an IPv6 address (the cloud router's IPv6 routes)?"""
    return any(
        addr.version == 6 for n in plan.topology.nodes for i in n.interfaces for addr in i.addresses
    )


def unrealisable(plan: LabPlan) -> dict[str, str]:
    """Nodes no pod can stand for, with the reason (their tests are skipped, naming it). Only
    peers of the harness can be such nodes: RR and router pods must be in the pod CIDR."""
    cidr = plan.sut.values.pod_cidr
    out: dict[str, str] = {}
    for node in plan.topology.nodes:
        addr = node.address_on(plan.topology.cluster_network.name)
        if addr is not None and addr.ip not in cidr:
            out[node.name] = (
                f"its address {addr.ip} is outside the pod CIDR {cidr}, and on a cluster every "
                "pod's address is inside it (netns stages it)"
            )
    return out  # nobody peers with such a node: peers peer only with pods (the plan's check)


def realisable_nodes(plan: LabPlan) -> list[Node]:
    """The nodes that become pods (route reflectors come from the Deployment, not from here)."""
    skipped = unrealisable(plan)
    return [n for n in plan.lab_nodes if n.name not in skipped]


def realise(
    plan: LabPlan, addresses: Mapping[str, PodAddresses], *, keep_missing: bool = False
) -> LabPlan:
    """The plan with every node at its pod's addresses; nodes without a pod are left out
    (RR slots beyond the replicas, unrealisable peers). `keep_missing`: RR slots without a pod
    yet keep their topology address (a draft, to render the RR config before the RR pods
    exist; the RR template does not use the pod's own address)."""
    cluster = plan.topology.cluster_network
    v4 = plan.sut.values.pod_cidr
    with_v6 = any(a.ipv6 is not None for a in addresses.values())
    subnets = (v4, IPV6_POD_SUBNET) if with_v6 else (v4,)
    nodes = []
    for node in plan.topology.nodes:
        pod = addresses.get(node.name)
        if pod is None and keep_missing and node in plan.route_reflectors:
            pod = PodAddresses(plan.cluster_address(node).ip)  # type: ignore[arg-type]
        if pod is None:
            continue
        ips = [ip_interface(f"{pod.ipv4}/{v4.prefixlen}")]
        if pod.ipv6 is not None:
            ips.append(ip_interface(f"{pod.ipv6}/{IPV6_POD_SUBNET.prefixlen}"))
        interface = Interface(segment=cluster.name, addresses=tuple(ips))
        nodes.append(node.model_copy(update={"interfaces": (interface,)}))
    missing = [
        n.name for n in plan.route_reflectors if n.name not in addresses and not keep_missing
    ]
    if missing:
        raise InputError(f"kind: no RR pod stands for {', '.join(missing)}")
    topology = Topology.model_validate(
        {
            **plan.topology.model_dump(),
            "segments": [Segment(name=cluster.name, kind="cluster-network", subnets=subnets)],
            "nodes": nodes,
        }
    )
    return ClusterPlan(topology, plan.sut, source=f"{plan.source} (on the cluster)")


class ClusterPlan(LabPlan):
    """A plan on a cluster's pod network. The ToR and the cloud router are pods there, and the
    CNI routes every pod-to-pod packet through the node (kindnet's ptp): one IP hop more than
    the underlay link they stand for, where FRR's single-hop eBGP (TTL 1, connected check)
    never comes up. So each external eBGP neighbor of a router gets `ebgp-multihop 2`: a
    deviation of the harness's kind backend from the SUT's template, said in the README."""

    def render_router(self, node: Node, rr_ips: Iterable[str]) -> str:
        config = super().render_router(node, rr_ips)
        ebgp = [n.address for n in self.external_neighbors(node) if n.asn != node.asn]
        return with_multihop(config, ebgp)


def with_multihop(config: str, addresses: Iterable[str], hops: int = 2) -> str:
    """`neighbor X ebgp-multihop N` right after each `neighbor X remote-as ...` line."""
    wanted = set(addresses)
    out = []
    for line in config.splitlines():
        out.append(line)
        words = line.split()
        if (
            len(words) >= 3
            and words[0] == "neighbor"
            and words[2] == "remote-as"
            and (words[1] in wanted)
        ):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}neighbor {words[1]} ebgp-multihop {hops}")
    return "\n".join(out) + ("\n" if config.endswith("\n") else "")
