"""NLRI fields per address family: IP prefixes (RFC 4271 §4.3, RFC 4760 §5) and EVPN (`evpn`).

Ours, not scapy's: scapy takes ~0.1 ms a prefix to build, and its decoder guesses ADD-PATH from
the bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address, ip_network

from harness.bgp.evpn import EvpnRoute, decode_nlris, encode_nlri
from harness.model.base import Family


def _encode_prefix(text: str, family: Family) -> bytes:
    """IP prefix as (length in bits, the significant octets) (RFC 4271 §4.3, RFC 4760 §5)."""
    if not isinstance(text, str):
        raise TypeError(f"{family} NLRI must be a prefix string, got {text!r}")
    network = ip_network(text)  # strict: host bits set is an error
    if network.version != (4 if family is Family.IPV4_UNICAST else 6):
        raise ValueError(f"{text} is not a {family} prefix")
    return (
        bytes([network.prefixlen]) + network.network_address.packed[: (network.prefixlen + 7) // 8]
    )


def encode_routes(family: Family, routes: Sequence[str | EvpnRoute]) -> bytes:
    """NLRI of one family, one after another: prefixes, or EVPN routes (RFC 7432 §7)."""
    if family is Family.L2VPN_EVPN:
        out = []
        for route in routes:
            if isinstance(route, str):
                raise TypeError(f"l2vpn-evpn NLRI must be EVPN routes, got {route!r}")
            out.append(encode_nlri(route))
        return b"".join(out)
    return b"".join(_encode_prefix(r, family) for r in routes)  # type: ignore[arg-type]


def decode_prefixes(data: bytes, family: Family, offset: int, what: str) -> list[str]:
    """IP prefixes (RFC 4271 §4.3, RFC 4760 §5); errors name `what` and the offset."""
    width = 4 if family is Family.IPV4_UNICAST else 16
    make = IPv4Address if width == 4 else IPv6Address
    out = []
    pos = 0
    while pos < len(data):
        bits = data[pos]
        size = (bits + 7) // 8
        if bits > width * 8:
            raise ValueError(
                f"UPDATE: {what} prefix length {bits} at offset {offset + pos} is over {width * 8}"
            )
        if pos + 1 + size > len(data):
            raise ValueError(f"UPDATE: {what} prefix at offset {offset + pos} is truncated")
        address = make(bytes(data[pos + 1 : pos + 1 + size]) + bytes(width - size))
        out.append(str(ip_network((address, bits), strict=False)))
        pos += 1 + size
    return out


def decode_routes(data: bytes, family: Family, offset: int, what: str) -> list[str | EvpnRoute]:
    """NLRI of one family: prefixes, or EVPN routes (`harness.bgp.evpn.decode_nlris`)."""
    if family is Family.L2VPN_EVPN:
        return list(decode_nlris(data, offset=offset))
    return list(decode_prefixes(data, family, offset, what))
