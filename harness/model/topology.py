"""Topology: the pods and external peers of a lab, the segments joining them, their addresses.

A topology says *what exists* (an RR pod slot, a router pod, a ToR); the SUT profile says how
the system under test configures it. Addresses are written in the file, never allocated from
counters, so a failure message names the same address a reader finds in the YAML.
"""

from __future__ import annotations

from enum import StrEnum
from ipaddress import IPv4Address, IPv4Interface, IPv6Interface
from typing import Literal, Self

from pydantic import Field, IPvAnyInterface, IPvAnyNetwork, StrictInt, model_validator

from harness.model.base import Asn, Family, Frozen, Mac, Name

IpInterface = IPv4Interface | IPv6Interface


class Role(StrEnum):
    ROUTE_REFLECTOR = "route-reflector"
    ROUTER = "router"
    EXABGP_PEER = "exabgp-peer"
    SPEAKER = "crafted-speaker"  # the harness's own BGP speaker (scapy): any UPDATE, EVPN too

    @property
    def is_peer(self) -> bool:
        """A speaker of the harness (standing for the world around the SUT), not a pod."""
        return self in (Role.EXABGP_PEER, Role.SPEAKER)


POD_SEGMENTS = ("cluster-network", "node-network")


class Segment(Frozen):
    """A layer-2 segment: the cluster (pod) network, or the nodes' underlay subnet where
    OpenPERouter's router pods (RRs and clients alike) meet (`node-network`), or an underlay
    link to a peer of the harness."""

    name: Name
    kind: Literal["cluster-network", "node-network", "underlay"]
    subnets: tuple[IPvAnyNetwork, ...] = Field(min_length=1)


class Interface(Frozen):
    """A node's attachment to a segment, with its addresses (prefix length = the subnet's)."""

    segment: Name
    addresses: tuple[IPvAnyInterface, ...] = Field(min_length=1)


class EvpnHost(Frozen):
    """A workload behind a router's VNI: yields a type-2 MAC route, plus MAC+IP when `ip` is set."""

    mac: Mac
    ip: IPv4Address | None = None


class Evpn(Frozen):
    """A router's layer-2 VNI (RFC 7432 over VXLAN, RFC 8365): VTEP address and local hosts."""

    vni: StrictInt = Field(ge=1, le=16_777_215)
    vtep: IPv4Address
    hosts: tuple[EvpnHost, ...] = ()


class Node(Frozen):
    """One pod (route reflector, router) or one external BGP speaker (ExaBGP peer)."""

    name: Name
    role: Role
    asn: Asn
    router_id: IPv4Address | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    interfaces: tuple[Interface, ...] = Field(min_length=1)
    evpn: Evpn | None = None
    families: tuple[Family, ...] = ()
    peers: tuple[Name, ...] = ()
    expected_session: Literal["established", "refused"] = Field(
        "established",
        description="refused: a would-be peer the SUT must turn away (lab readiness skips it)",
    )
    stands_in_for: Literal["route-reflector"] | None = Field(
        None,
        description="a crafted speaker the routers peer with as one more RR replica (rr@<ip>): "
        "a test double for checks of the routers' RR sessions",
    )
    side: Literal["a", "b"] | None = Field(
        None,
        description="meshrr redundancy group: a route server serves it; a router or peer with a "
        "side peers with that side's anycast address",
    )
    reflector_client: bool = Field(
        True,
        description="for a peer of the route reflectors: false makes it a configured iBGP "
        "non-client (RFC 4456 §6) instead of a listen-range client",
    )
    extended_message: bool = Field(
        True,
        description="for a crafted speaker: its OPEN carries the BGP Extended Message capability "
        "(RFC 8654 §3), as FRR's does; false keeps its sessions to 4096-octet messages",
    )

    def interface_on(self, segment: str) -> Interface | None:
        return next((i for i in self.interfaces if i.segment == segment), None)

    def address_on(self, segment: str, version: int = 4) -> IpInterface | None:
        iface = self.interface_on(segment)
        if iface is None:
            return None
        return next((a for a in iface.addresses if a.version == version), None)


class Topology(Frozen):
    name: Name
    description: str = ""
    segments: tuple[Segment, ...] = Field(min_length=1)
    nodes: tuple[Node, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> Self:
        problem = next(iter(_problems(self)), None)
        if problem is not None:
            raise ValueError(problem)
        return self

    # -- lookups -------------------------------------------------------------------------
    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def segment(self, name: str) -> Segment:
        for s in self.segments:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def cluster_network(self) -> Segment:
        """Where the RR and router pods meet: the pod network, or the node subnet."""
        return next(s for s in self.segments if s.kind in POD_SEGMENTS)

    def by_role(self, role: Role) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.role is role)

    def shared_segment(self, a: Node, b: Node) -> str | None:
        """The first segment both nodes attach to, in `a`'s interface order."""
        theirs = {i.segment for i in b.interfaces}
        return next((i.segment for i in a.interfaces if i.segment in theirs), None)


def _problems(topo: Topology) -> list[str]:
    """Cross-field rules, each reported as `path: what is wrong` (first problem wins)."""
    out: list[str] = []
    seg_names = [s.name for s in topo.segments]
    for i, name in enumerate(seg_names):
        if name in seg_names[:i]:
            out.append(f"segments[{i}].name: duplicate segment name {name!r}")
    clusters = [s.name for s in topo.segments if s.kind in POD_SEGMENTS]
    if len(clusters) != 1:
        out.append(
            "segments: expected exactly one segment of kind cluster-network or node-network "
            f"(where the pods meet), got {clusters}"
        )

    names = [n.name for n in topo.nodes]
    seen_addr: dict[str, str] = {}
    for i, node in enumerate(topo.nodes):
        here = f"nodes[{i}]"
        if node.name in names[:i]:
            out.append(f"{here}.name: duplicate node name {node.name!r}")
        if node.name == "fabric":
            out.append(f"{here}.name: 'fabric' is reserved for the segments' own namespace")
        for j, iface in enumerate(node.interfaces):
            at = f"{here}.interfaces[{j}]"
            if iface.segment not in seg_names:
                out.append(f"{at}.segment: unknown segment {iface.segment!r} (known: {seg_names})")
                continue
            subnets = topo.segment(iface.segment).subnets
            for k, addr in enumerate(iface.addresses):
                if not any(addr.ip in net for net in subnets):
                    out.append(
                        f"{at}.addresses[{k}]: {addr} is outside segment {iface.segment!r} "
                        f"subnets {[str(s) for s in subnets]}"
                    )
                if str(addr.ip) in seen_addr:
                    out.append(
                        f"{at}.addresses[{k}]: {addr.ip} already used by {seen_addr[str(addr.ip)]}"
                    )
                seen_addr[str(addr.ip)] = node.name
        out.extend(_role_problems(topo, i, node, clusters))
    return out


def _role_problems(topo: Topology, i: int, node: Node, clusters: list[str]) -> list[str]:
    here = f"nodes[{i}]"
    out: list[str] = []
    pod = node.role in (Role.ROUTE_REFLECTOR, Role.ROUTER)
    if pod and clusters and node.interface_on(clusters[0]) is None:
        out.append(f"{here}.interfaces: a {node.role} pod must attach to {clusters[0]!r}")
    if pod and (node.families or node.peers):
        out.append(
            f"{here}: families/peers are for peer nodes; a {node.role} pod's sessions "
            "come from the SUT profile"
        )
    if node.role is Role.ROUTER and node.router_id is None:
        out.append(f"{here}.router_id: required for a router")
    if node.role is Role.ROUTER and node.evpn is None:
        out.append(f"{here}.evpn: required for a router (its VNI is what it originates)")
    if node.role is not Role.ROUTER and node.evpn is not None:
        out.append(f"{here}.evpn: only routers originate EVPN from a VNI")
    if node.role.is_peer:
        out.extend(_peer_problems(topo, here, node))
    return out


def _peer_problems(topo: Topology, here: str, node: Node) -> list[str]:
    out: list[str] = []
    if not node.extended_message and node.role is not Role.SPEAKER:
        out.append(f"{here}.extended_message: only a {Role.SPEAKER}'s OPEN is the harness's own")
    if not node.families:
        out.append(f"{here}.families: a {node.role} needs at least one family")
    if not node.peers and node.side is None:
        out.append(f"{here}.peers: a {node.role} needs at least one peer (or a side)")
    known = {n.name: n for n in topo.nodes}
    for k, peer in enumerate(node.peers):
        other = known.get(peer)
        if other is None:
            out.append(f"{here}.peers[{k}]: unknown node {peer!r}")
        elif other.role.is_peer:
            out.append(f"{here}.peers[{k}]: {peer!r} is a {other.role}; peer with a pod")
        elif node.stands_in_for and other.role is not Role.ROUTER:
            out.append(f"{here}.peers[{k}]: a stand-in route reflector peers with routers")
        elif not node.reflector_client and other.role is not Role.ROUTE_REFLECTOR:
            out.append(
                f"{here}.reflector_client: false only applies to peers of route "
                f"reflectors, and {peer!r} is a {other.role}"
            )
        elif topo.shared_segment(node, other) is None:
            out.append(f"{here}.peers[{k}]: {peer!r} shares no segment with {node.name!r}")
    return out
