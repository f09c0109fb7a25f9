"""OpenPERouter's merged route-reflector design, as its Underlay API states it.

Upstream (openperouter/openperouter, `api/v1alpha1/underlay_types.go` and `neighbor.go`;
enhancement `enhancements/route-reflector.md`, implemented in PR #509) has no RR pods of its
own: the router pod of a node whose Underlay carries `routeReflector` is the RR. Its clients
are the `type: Internal` neighbors accepted through `listenRange` (a CIDR of the underlay node
subnet), made route-reflector clients per address family (`routeReflectorClient`); the RRs peer
with each other as ordinary `type: Internal` neighbors, and client nodes list the RR nodes'
underlay addresses the same way (each host controller drops its own address from the list).

The fields keep the API's camelCase spelling, so an error names the field as a user writes it
in an Underlay custom resource.
"""

from __future__ import annotations

from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network
from typing import Literal

from pydantic import Field, IPvAnyNetwork

from harness.model.base import Family, Frozen

DEFAULT_CLUSTER_ID = IPv4Address("192.0.2.1")  # the CRD's default (RFC 5737 documentation)
DEFAULT_LISTEN_LIMIT = 65535  # the host controller's default `bgp listen limit`


class AddressFamilyType(StrEnum):
    """`NeighborAddressFamily.type`: the families this harness drives."""

    IPV4_UNICAST = "ipv4unicast"
    IPV6_UNICAST = "ipv6unicast"
    EVPN = "evpn"

    @property
    def family(self) -> Family:
        return {
            AddressFamilyType.IPV4_UNICAST: Family.IPV4_UNICAST,
            AddressFamilyType.IPV6_UNICAST: Family.IPV6_UNICAST,
            AddressFamilyType.EVPN: Family.L2VPN_EVPN,
        }[self]


class AddressFamilyProperty(Frozen):
    """`NeighborAddressFamily.properties[]`: a per-family feature of a neighbor."""

    type: Literal["routeReflectorClient"]


class NeighborAddressFamily(Frozen):
    type: AddressFamilyType
    properties: tuple[AddressFamilyProperty, ...] = ()

    @property
    def route_reflector_client(self) -> bool:
        return any(p.type == "routeReflectorClient" for p in self.properties)


class ListenRangeNeighbor(Frozen):
    """A `Neighbor` of the RR nodes' Underlay with `listenRange`: the host controller renders a
    peer-group named by the CIDR, `remote-as internal`, and `bgp listen range <cidr>`."""

    type: Literal["Internal"] = Field(
        description="routeReflectorClient requires type Internal (the CRD's rule)"
    )
    listenRange: IPvAnyNetwork = Field(
        description="the underlay node subnet the clients connect from"
    )
    addressFamilies: tuple[NeighborAddressFamily, ...] = Field(min_length=1)

    @property
    def id(self) -> str:
        """The peer-group's name: the CIDR itself (upstream's `NeighborConfig.ID`)."""
        return str(self.listenRange)


class RouteReflectorConfig(Frozen):
    """`UnderlaySpec.routeReflector`: its presence makes the node's router pod an RR."""

    clusterID: IPv4Address = Field(
        DEFAULT_CLUSTER_ID, description="shared by every RR (RFC 4456 §7); default 192.0.2.1"
    )


class Underlay(Frozen):
    """What the RR nodes' Underlay says about route reflection, and the host controller's
    listen limit. The inter-RR neighbors and the client nodes' RR neighbors are the RR nodes'
    underlay addresses: they come from the topology, as a user would copy them into the CRs."""

    routeReflector: RouteReflectorConfig = RouteReflectorConfig()
    bgpListenLimit: int = Field(
        DEFAULT_LISTEN_LIMIT, ge=1, le=65535, description="`bgp listen limit` (FRR: 100)"
    )
    neighbors: tuple[ListenRangeNeighbor, ...] = Field(
        min_length=1, description="the RR nodes' listenRange neighbors (their clients)"
    )

    @property
    def client_range(self) -> IPv4Network:
        """The first IPv4 listen range: where the suites' would-be clients are judged."""
        for n in self.neighbors:
            if isinstance(n.listenRange, IPv4Network):
                return n.listenRange
        raise ValueError("neighbors: no IPv4 listenRange")

    @property
    def reflected(self) -> tuple[Family, ...]:
        """Families in which some listen range's clients are route-reflector clients."""
        seen: list[Family] = []
        for n in self.neighbors:
            for af in n.addressFamilies:
                if af.route_reflector_client and af.type.family not in seen:
                    seen.append(af.type.family)
        return tuple(seen)
