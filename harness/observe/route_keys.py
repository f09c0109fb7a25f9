"""One key per route, whichever witness saw it: FRR's listings or the wire.

The failover sampler keys routes as FRR lists them (`evpn [2]:[0]:[48]:[mac] rd X`,
`ipv4 P/L`, see `harness.observe.samples.read_tables`); the wire gives `Route.key` (RFC 7432 §7:
`evpn type-2 rd X mac M`, `harness.bgp.names.evpn_key`; a prefix for unicast). Both map here to
one canonical key, the wire's, with the family in front for unicast: `evpn type-2 rd ...` or
`ipv4 10.0.0.0/24`, so two witnesses of one route name it alike.
"""

from __future__ import annotations

from ipaddress import ip_network

from harness.bgp.evpn import decode_rd, encode_rd
from harness.bgp.names import evpn_key
from harness.model.base import Family

UNICAST = {Family.IPV4_UNICAST: "ipv4", Family.IPV6_UNICAST: "ipv6"}


def from_wire(family: Family, key: str) -> str:
    """The canonical key of a route decoded off the wire (`Route.family`, `Route.key`)."""
    if family is Family.L2VPN_EVPN:
        return key
    return f"{UNICAST[family]} {ip_network(key, strict=False)}"


def from_listing(key: str) -> str:
    """The canonical key of a sampler's route key (FRR's listing prefix and RD); ValueError on
    a key of neither form."""
    kind, _, rest = key.partition(" ")
    if kind in ("ipv4", "ipv6"):
        return f"{kind} {ip_network(rest, strict=False)}"
    if kind != "evpn":
        raise ValueError(f"route key {key!r}: neither evpn nor a unicast family")
    prefix, sep, rd = rest.rpartition(" rd ")
    if not sep or not prefix.startswith("[") or not prefix.endswith("]"):
        raise ValueError(f"route key {key!r}: expected 'evpn [type]:[...] rd RD'")
    fields = prefix[1:-1].split("]:[")  # FRR 8.4: [type]:[eth tag]:... (a MAC keeps its colons)
    route_type, eth_tag = int(fields[0]), int(fields[1])
    rd = decode_rd(encode_rd(rd))
    if route_type == 2:  # [2]:[tag]:[48]:[mac] or [2]:[tag]:[48]:[mac]:[len]:[ip]
        ip = fields[5] if len(fields) >= 6 else None
        return evpn_key(2, rd, eth_tag=eth_tag, mac=fields[3], ip=ip)
    if route_type == 3:  # [3]:[tag]:[len]:[originator ip]
        return evpn_key(3, rd, eth_tag=eth_tag, ip=fields[3])
    if route_type == 5:  # [5]:[tag]:[len]:[prefix]
        return evpn_key(5, rd, eth_tag=eth_tag, prefix=f"{fields[3]}/{fields[2]}")
    raise ValueError(f"route key {key!r}: EVPN route type {route_type} is not mapped")
