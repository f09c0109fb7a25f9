"""The plan of a lab: a topology and a SUT profile joined, checked against each other, rendered.

Backend-neutral: netns and kind build the same plan. The checks here are the ones neither file
can make alone (RRs and routers in the SUT's ASN, pods inside the pod CIDR, enough RR slots for
the replicas); each names the topology field at fault.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InputError
from harness.model.base import Family
from harness.model.sut import ROUTER_TEMPLATE, RR_TEMPLATE, SutProfile
from harness.model.topology import IpInterface, Node, Role, Topology


@dataclass(frozen=True)
class Neighbor:
    """A router's BGP neighbor as its template sees it (OpenPERouter's `NeighborConfig`)."""

    name: str  # `rr@<ip>` for route reflectors (design, "RR neighbors added automatically")
    address: str
    asn: int
    node: str
    families: tuple[Family, ...]


@dataclass(frozen=True)
class PeerSession:
    """One session of an ExaBGP peer, from the peer's side."""

    peer_name: str
    peer_address: str
    local_address: str
    local_asn: int
    peer_asn: int
    router_id: str
    families: tuple[Family, ...]
    hold_time: int


class LabPlan:
    def __init__(
        self, topology: Topology, sut: SutProfile, source: Path | str = "topology"
    ) -> None:
        self.topology = topology
        self.sut = sut
        self.source = source
        slots = topology.by_role(Role.ROUTE_REFLECTOR)
        if sut.values.replicas > len(slots):
            raise InputError(
                f"{sut.directory}/sut.yaml: replicas: {sut.values.replicas} but {source} has "
                f"only {len(slots)} route-reflector node(s)"
            )
        self.route_reflectors = slots[: sut.values.replicas]
        self._rr_names = {n.name for n in self.route_reflectors}
        self.routers = topology.by_role(Role.ROUTER)
        self.peers = tuple(n for n in topology.nodes if n.role.is_peer)
        self._check()

    def _check(self) -> None:
        values = self.sut.values
        for i, node in enumerate(self.topology.nodes):
            if node.role.is_peer:
                continue
            if node.asn != values.asn:
                raise InputError(
                    f"{self.source}: nodes[{i}].asn: {node.asn} differs from the SUT's asn "
                    f"{values.asn} (RR and router pods share it: design, iBGP with same ASN)"
                )
            ip = self.cluster_address(node).ip
            if ip not in values.pod_cidr:
                raise InputError(
                    f"{self.source}: nodes[{i}].interfaces: pod address {ip} is outside the "
                    f"SUT's pod_cidr {values.pod_cidr}"
                )

    # -- addresses ----------------------------------------------------------------------------
    def cluster_address(self, node: Node) -> IpInterface:
        addr = node.address_on(self.topology.cluster_network.name)
        if addr is None:
            raise InputError(f"{self.source}: {node.name} has no address on the cluster network")
        return addr

    def cluster_ip(self, node: Node) -> str:
        return str(self.cluster_address(node).ip)

    @property
    def lab_nodes(self) -> tuple[Node, ...]:
        """Nodes that exist in the lab: RR slots beyond `replicas` stay empty."""
        return tuple(
            n
            for n in self.topology.nodes
            if n.role is not Role.ROUTE_REFLECTOR or n.name in self._rr_names
        )

    # -- sessions --------------------------------------------------------------------------------
    def rr_neighbors(self, rr_ips: Iterable[str]) -> list[Neighbor]:
        """One iBGP neighbor per ready RR pod IP, named `rr@<ip>` (design, Controller Changes)."""
        ip_to_node = {self.cluster_ip(n): n.name for n in self.route_reflectors}
        ip_to_node |= {
            str(addr.ip): p.name
            for p in self.peers
            if p.stands_in_for
            and (addr := p.address_on(self.topology.cluster_network.name)) is not None
        }
        # An IPv4 underlay neighbor gets ipv4 unicast, plus l2vpn evpn where VNIs exist
        # (OpenPERouter's defaults); the RR itself activates its clients in EVPN only.
        families = (Family.IPV4_UNICAST, Family.L2VPN_EVPN)
        return [
            Neighbor(f"rr@{ip}", ip, self.sut.values.asn, ip_to_node.get(ip, "rr"), families)
            for ip in rr_ips
        ]

    def rr_ips(self, router: Node) -> list[str]:
        """The RR addresses a router is pointed at when every replica is ready: the RR pods,
        plus any stand-in RR (a crafted speaker posing as one more replica) peering with it."""
        return [self.cluster_ip(n) for n in self.route_reflectors] + self.stand_in_ips(router)

    def stand_in_ips(self, router: Node) -> list[str]:
        """Addresses of the stand-in RRs peering with a router (not pods: never rescheduled)."""
        return [
            str(addr.ip)
            for p in self.peers
            if p.stands_in_for
            and router.name in p.peers
            and (addr := p.address_on(self.topology.cluster_network.name)) is not None
        ]

    def external_neighbors(self, router: Node) -> list[Neighbor]:
        """Peers of the harness (ToR, cloud router) that list this router in their `peers`."""
        out = []
        for peer in self.peers:
            if router.name not in peer.peers or peer.stands_in_for:
                continue
            segment = self.topology.shared_segment(router, peer)
            assert segment is not None  # the topology validator guarantees it
            addr = peer.address_on(segment)
            if addr is None:
                raise InputError(f"{self.source}: {peer.name} has no IPv4 address on {segment}")
            out.append(Neighbor(peer.name, str(addr.ip), peer.asn, peer.name, peer.families))
        return out

    def non_clients(self, rr: Node) -> list[Neighbor]:
        """Configured iBGP peers of this RR that are not its clients (RFC 4456 §6)."""
        out = []
        for peer in self.peers:
            if peer.reflector_client or rr.name not in peer.peers:
                continue
            addr = peer.address_on(self.topology.cluster_network.name)
            if addr is None:
                raise InputError(
                    f"{self.source}: {peer.name} has no address on the cluster network"
                )
            out.append(Neighbor(peer.name, str(addr.ip), peer.asn, peer.name, peer.families))
        return out

    def sessions_expected(self, peer: Node) -> list[PeerSession]:
        """The sessions of a peer that must come up (not those the SUT must refuse)."""
        return [] if peer.expected_session == "refused" else self.peer_sessions(peer)

    def peer_sessions(self, peer: Node) -> list[PeerSession]:
        sessions = []
        for name in peer.peers:
            other = self.topology.node(name)
            if other.role is Role.ROUTE_REFLECTOR and other.name not in self._rr_names:
                continue
            segment = self.topology.shared_segment(peer, other)
            assert segment is not None
            local, remote = peer.address_on(segment), other.address_on(segment)
            if local is None or remote is None:
                raise InputError(
                    f"{self.source}: {peer.name} and {name} share no IPv4 on {segment}"
                )
            sessions.append(
                PeerSession(
                    peer_name=name,
                    peer_address=str(remote.ip),
                    local_address=str(local.ip),
                    local_asn=peer.asn,
                    peer_asn=other.asn,
                    router_id=str(peer.router_id or local.ip),
                    families=peer.families,
                    hold_time=self.sut.values.timers.hold,
                )
            )
        return sessions

    # -- rendering -----------------------------------------------------------------------------
    def render_route_reflector(self, node: Node) -> str:
        pod = {"name": node.name, "address": self.cluster_ip(node)}
        return self.sut.render(RR_TEMPLATE, pod=pod, non_clients=self.non_clients(node))

    def render_all(self) -> dict[str, str]:
        """Every pod's configuration as it will start (routers see every RR replica), and every
        peer's sessions: a template or topology mistake surfaces here, before anything runs."""
        configs = {n.name: self.render_route_reflector(n) for n in self.route_reflectors}
        configs |= {n.name: self.render_router(n, self.rr_ips(n)) for n in self.routers}
        for peer in self.peers:
            self.peer_sessions(peer)
        return configs

    def render_router(self, node: Node, rr_ips: Iterable[str]) -> str:
        route_reflectors = self.rr_neighbors(rr_ips)
        evpn = node.evpn
        router = {
            "name": node.name,
            "asn": node.asn,
            "router_id": str(node.router_id),
            "address": self.cluster_ip(node),
            "vtep": str(evpn.vtep) if evpn else None,
            "vni": evpn.vni if evpn else None,
        }
        return self.sut.render(
            ROUTER_TEMPLATE,
            router=router,
            route_reflectors=route_reflectors,
            neighbors=[*route_reflectors, *self.external_neighbors(node)],
        )
