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
from harness.model.sut import Mesh, SutProfile
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
    extended_message: bool = True  # a crafted speaker's OPEN carries capability 6 (RFC 8654 §3)


class LabPlan:
    def __init__(
        self, topology: Topology, sut: SutProfile, source: Path | str = "topology"
    ) -> None:
        self.topology = topology
        self.sut = sut
        self.source = source
        self.route_reflectors = self._rr_slots()
        self._rr_names = {n.name for n in self.route_reflectors}
        self.routers = topology.by_role(Role.ROUTER)
        self.peers = tuple(n for n in topology.nodes if n.role.is_peer)
        self._check()
        self.harness_routers = self._harness_routers()

    def _rr_slots(self) -> tuple[Node, ...]:
        """The RR pods the lab starts: the first `replicas` route-reflector nodes, or for meshrr
        the first `sides.<side>.replicas` route servers of each side."""
        slots = self.topology.by_role(Role.ROUTE_REFLECTOR)
        values = self.sut.values
        if values.meshrr is None:
            if values.replicas > len(slots):
                raise InputError(
                    f"{self.sut.directory}/sut.yaml: replicas: {values.replicas} but "
                    f"{self.source} has only {len(slots)} route-reflector node(s)"
                )
            return slots[: values.replicas]
        chosen: list[Node] = []
        for name, side in values.meshrr.sides.items():
            ours = [n for n in slots if n.side == name]
            if side.replicas > len(ours):
                raise InputError(
                    f"{self.sut.directory}/sut.yaml: meshrr.sides.{name}.replicas: "
                    f"{side.replicas} but {self.source} has only {len(ours)} route-reflector "
                    f"node(s) with side {name}"
                )
            chosen += ours[: side.replicas]
        return tuple(chosen)

    # -- meshrr -----------------------------------------------------------------------------
    @property
    def mesh(self) -> Mesh | None:
        return self.sut.values.meshrr

    def anycast(self, side: str | None, who: str) -> str:
        """The peering address of a meshrr side (`who` names the node asking, for errors)."""
        mesh = self.mesh
        if mesh is None or side not in mesh.sides:
            raise InputError(
                f"{self.source}: {who}: side {side!r} is not a side of the SUT's meshrr "
                f"({sorted(mesh.sides) if mesh else 'not a meshrr SUT'})"
            )
        return str(mesh.sides[side].anycast)  # type: ignore[index]

    def initial_holder(self, side: str) -> Node:
        """The route server that answers for a side's anycast address when the lab starts."""
        return next(n for n in self.route_reflectors if n.side == side)

    def side_clients(self, side: str | None) -> list[str]:
        """Cluster addresses of the routers and peers that peer with a side's anycast address."""
        out = [self.cluster_ip(r) for r in self.routers if r.side == side]
        out += [
            s.local_address
            for p in self.peers
            if p.side == side
            for s in self.sessions_expected(p)
            if s.peer_name == f"anycast-{side}"
        ]
        return out

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

    def _harness_routers(self) -> frozenset[str]:
        """The router pods the harness plays (sut.yaml `harness_routers`): routers of the
        topology whose every session the crafted speaker opens itself (it connects, never
        accepts): one per RR pod, no external neighbor, no stand-in RR (those connect too)."""
        field = f"{self.sut.directory}/sut.yaml: harness_routers"
        routers = {n.name: n for n in self.routers}
        for i, name in enumerate(self.sut.values.harness_routers):
            node = routers.get(name)
            if node is None:
                raise InputError(
                    f"{field}[{i}]: {name} is not a router node of {self.source} "
                    f"(routers: {', '.join(routers) or 'none'})"
                )
            if self.mesh is not None:
                raise InputError(
                    f"{field}[{i}]: a router the harness plays peers with RR pods, "
                    "not with a meshrr side's anycast address"
                )
            others = [n.name for n in self.external_neighbors(node)] + [
                p.name for p in self.peers if p.stands_in_for and name in p.peers
            ]
            if others:
                raise InputError(
                    f"{field}[{i}]: {name} also peers with {', '.join(others)}, which the "
                    "crafted speaker playing it cannot accept (it only connects): choose a "
                    "router whose only sessions are with the RR pods"
                )
        return frozenset(self.sut.values.harness_routers)

    def router_sessions(self, router: Node, rr_ips: Iterable[str]) -> list[PeerSession]:
        """The sessions of a router pod the harness plays: one iBGP session per RR address,
        named `rr@<ip>` and with the families a router's template gives it (`rr_neighbors`),
        from the router's pod address, with its ASN and router id (the topology's, else its
        pod address)."""
        local = self.cluster_ip(router)
        return [
            PeerSession(
                peer_name=n.name,
                peer_address=n.address,
                local_address=local,
                local_asn=router.asn,
                peer_asn=n.asn,
                router_id=str(router.router_id or local),
                families=n.families,
                hold_time=self.sut.values.timers.hold,
            )
            for n in self.rr_neighbors(rr_ips)
        ]

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

    def inter_rr_ips(self, rr: Node) -> list[str]:
        """The other RR nodes an RR peers with (OpenPERouter's merged design: the RRs are each
        other's iBGP neighbors, non-clients); none in the other designs."""
        if not self.sut.values.static_rr_neighbors:
            return []
        return [self.cluster_ip(n) for n in self.route_reflectors if n is not rr]

    def rr_ips(self, router: Node) -> list[str]:
        """The RR addresses a router is pointed at when every replica is ready: the RR pods,
        plus any stand-in RR (a crafted speaker posing as one more replica) peering with it."""
        if self.mesh is not None:
            return [self.anycast(router.side, router.name), *self.stand_in_ips(router)]
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
        if peer.side is not None and self.mesh is not None:
            local = peer.address_on(self.topology.cluster_network.name)
            if local is None:
                raise InputError(
                    f"{self.source}: {peer.name} has no address on the cluster network"
                )
            sessions.append(
                PeerSession(
                    peer_name=f"anycast-{peer.side}",
                    peer_address=self.anycast(peer.side, peer.name),
                    local_address=str(local.ip),
                    local_asn=peer.asn,
                    peer_asn=self.sut.values.asn,
                    router_id=str(peer.router_id or local.ip),
                    families=peer.families,
                    hold_time=self.sut.values.timers.hold,
                    extended_message=peer.extended_message,
                )
            )
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
                    extended_message=peer.extended_message,
                )
            )
        return sessions

    # -- rendering -----------------------------------------------------------------------------
    def render_route_reflector(self, node: Node, mesh: Iterable[str] | None = None) -> str:
        """One RR pod's config. For meshrr, `mesh` is the other route servers' addresses (by
        default every other one the lab starts with) and `side` its redundancy group. For
        OpenPERouter's merged design, `route_reflectors` is every RR node's address, its own
        included (the Underlay lists them all; the host controller drops its own)."""
        address = self.cluster_ip(node)
        pod = {"name": node.name, "address": address, "router_id": str(node.router_id or address)}
        side = None
        if self.mesh is not None and node.side is not None:
            values = self.mesh.sides[node.side]
            side = {
                "name": node.side,
                "anycast": str(values.anycast),
                "cluster_id": values.cluster_id,
            }
        if mesh is None:
            mesh = [self.cluster_ip(n) for n in self.route_reflectors if n is not node]
        return self.sut.render(
            self.sut.values.templates.route_reflector,
            pod=pod,
            non_clients=self.non_clients(node),
            mesh=sorted(mesh),
            side=side,
            route_reflectors=[self.cluster_ip(n) for n in self.route_reflectors],
        )

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
            self.sut.values.templates.router,
            router=router,
            route_reflectors=route_reflectors,
            neighbors=[*route_reflectors, *self.external_neighbors(node)],
        )
