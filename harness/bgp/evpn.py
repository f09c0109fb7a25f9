"""EVPN NLRI codec (AFI 25 / SAFI 70), ours because scapy mis-parses it (LAB-NOTES "scapy").

Route types 2 and 3 follow RFC 7432 §7.2 and §7.3, type 5 RFC 9136 §3.1, route distinguishers
RFC 4364 §4.2. Label fields are kept as the raw 3-octet value: with VXLAN the VNI fills all 24
bits (RFC 8365 §5.1.3), so FRR's VNI 100 is `label=100` (0x000064 on the wire). An MPLS label
would be `label << 4 | bottom-of-stack`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import ClassVar, TypeAlias

from harness.bgp.names import evpn_key

ESI_ZERO = bytes(10)  # single-homed: the reserved all-zero ESI (RFC 7432 §5)

_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_MAC = re.compile(r"([0-9a-f]{2}[:-]){5}[0-9a-f]{2}", re.ASCII | re.IGNORECASE)
_U16, _U24, _U32 = 0xFFFF, 0xFFFFFF, 0xFFFFFFFF


def _number(text: str, limit: int, what: str, rd: str) -> int:
    if not _DIGITS.fullmatch(text):
        raise ValueError(f"route distinguisher {rd!r}: {what} {text!r} is not a number")
    value = int(text)
    if value > limit:
        raise ValueError(f"route distinguisher {rd!r}: {what} {value} is over {limit}")
    return value


def encode_rd(rd: str) -> bytes:
    """RD text to its 8 octets (RFC 4364 §4.2).

    `10.0.0.1:2` is type 1 (IPv4:16-bit), `64514:7` type 0 (2-octet AS:32-bit) and
    `4200000000:7` type 2 (4-octet AS:16-bit); `100L:7` forces type 2 for a small AS.
    """
    admin, sep, assigned = rd.rpartition(":")
    if not sep or not admin:
        raise ValueError(f"route distinguisher {rd!r}: expected ADMINISTRATOR:NUMBER")
    if "." in admin:
        try:
            address = IPv4Address(admin)
        except ValueError:
            raise ValueError(
                f"route distinguisher {rd!r}: {admin!r} is not an IPv4 address"
            ) from None
        return b"\x00\x01" + address.packed + _number(assigned, _U16, "number", rd).to_bytes(2)
    four_octet = admin.endswith("L")
    asn = _number(admin.removesuffix("L"), _U32, "AS", rd)
    if four_octet or asn > _U16:
        return b"\x00\x02" + asn.to_bytes(4) + _number(assigned, _U16, "number", rd).to_bytes(2)
    return b"\x00\x00" + asn.to_bytes(2) + _number(assigned, _U32, "number", rd).to_bytes(4)


def decode_rd(b: bytes) -> str:
    """8 octets to RD text (RFC 4364 §4.2); the inverse of `encode_rd`."""
    if len(b) != 8:
        raise ValueError(f"route distinguisher must be 8 octets, got {len(b)}")
    kind = int.from_bytes(b[:2])
    if kind == 0:
        return f"{int.from_bytes(b[2:4])}:{int.from_bytes(b[4:])}"
    if kind == 1:
        return f"{IPv4Address(b[2:6])}:{int.from_bytes(b[6:])}"
    if kind == 2:
        asn = int.from_bytes(b[2:6])
        return f"{asn}{'L' if asn <= _U16 else ''}:{int.from_bytes(b[6:])}"
    raise ValueError(f"route distinguisher type {kind} is not one of 0, 1, 2 (RFC 4364 §4.2)")


def _canonical_rd(rd: str) -> str:
    return decode_rd(encode_rd(rd))


def _canonical_mac(mac: str) -> str:
    if not isinstance(mac, str) or not _MAC.fullmatch(mac):
        raise ValueError(f"MAC address {mac!r}: expected six hex octets like 02:00:00:00:01:01")
    return mac.lower().replace("-", ":")


def _check(value: int, limit: int, what: str) -> None:
    if not isinstance(value, int) or not 0 <= value <= limit:
        raise ValueError(f"{what} {value!r} is not an integer in 0..{limit}")


def _check_esi(esi: bytes) -> None:
    if not isinstance(esi, bytes) or len(esi) != 10:
        raise ValueError(f"ESI must be 10 octets (RFC 7432 §5), got {esi!r}")


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)  # normalising a frozen dataclass in __post_init__


def _ip_bytes(ip: str) -> bytes:
    return ip_address(ip).packed


@dataclass(frozen=True)
class MacIpRoute:
    """Type 2, MAC/IP Advertisement (RFC 7432 §7.2). `label2` is the optional second label."""

    rd: str
    mac: str
    ip: str | None = None
    esi: bytes = ESI_ZERO
    eth_tag: int = 0
    label: int = 0
    label2: int | None = None
    route_type: ClassVar[int] = 2

    def __post_init__(self) -> None:
        _set(self, "rd", _canonical_rd(self.rd))
        _set(self, "mac", _canonical_mac(self.mac))
        if self.ip is not None:
            _set(self, "ip", str(ip_address(self.ip)))
        _check_esi(self.esi)
        _check(self.eth_tag, _U32, "Ethernet tag")
        _check(self.label, _U24, "label")
        if self.label2 is not None:
            _check(self.label2, _U24, "label2")

    @property
    def key(self) -> str:
        return evpn_key(2, self.rd, eth_tag=self.eth_tag, mac=self.mac, ip=self.ip)


@dataclass(frozen=True)
class InclusiveMulticastRoute:
    """Type 3, Inclusive Multicast Ethernet Tag (RFC 7432 §7.3); its PMSI is an attribute."""

    rd: str
    originator_ip: str
    eth_tag: int = 0
    route_type: ClassVar[int] = 3

    def __post_init__(self) -> None:
        _set(self, "rd", _canonical_rd(self.rd))
        _set(self, "originator_ip", str(ip_address(self.originator_ip)))
        _check(self.eth_tag, _U32, "Ethernet tag")

    @property
    def key(self) -> str:
        return evpn_key(3, self.rd, eth_tag=self.eth_tag, ip=self.originator_ip)


@dataclass(frozen=True)
class IpPrefixRoute:
    """Type 5, IP Prefix (RFC 9136 §3.1), IPv4 or IPv6; no gateway is 0.0.0.0 / :: on the wire."""

    rd: str
    prefix: str
    gateway: str | None = None
    esi: bytes = ESI_ZERO
    eth_tag: int = 0
    label: int = 0
    route_type: ClassVar[int] = 5

    def __post_init__(self) -> None:
        _set(self, "rd", _canonical_rd(self.rd))
        network = ip_network(self.prefix)  # strict: host bits set is an error
        _set(self, "prefix", str(network))
        if self.gateway is not None:
            gateway = ip_address(self.gateway)
            if gateway.version != network.version:
                raise ValueError(f"gateway {gateway} is not IPv{network.version} like {network}")
            _set(self, "gateway", str(gateway))
        _check_esi(self.esi)
        _check(self.eth_tag, _U32, "Ethernet tag")
        _check(self.label, _U24, "label")

    @property
    def key(self) -> str:
        return evpn_key(5, self.rd, eth_tag=self.eth_tag, prefix=self.prefix)


EvpnRoute: TypeAlias = MacIpRoute | InclusiveMulticastRoute | IpPrefixRoute


def _value(route: EvpnRoute) -> bytes:
    rd = encode_rd(route.rd)
    tag = route.eth_tag.to_bytes(4)
    if isinstance(route, MacIpRoute):
        ip = _ip_bytes(route.ip) if route.ip else b""
        labels = route.label.to_bytes(3)
        if route.label2 is not None:
            labels += route.label2.to_bytes(3)
        mac = bytes.fromhex(route.mac.replace(":", ""))
        return rd + route.esi + tag + b"\x30" + mac + bytes([len(ip) * 8]) + ip + labels
    if isinstance(route, InclusiveMulticastRoute):
        ip = _ip_bytes(route.originator_ip)
        return rd + tag + bytes([len(ip) * 8]) + ip
    if isinstance(route, IpPrefixRoute):
        network = ip_network(route.prefix)
        zero = IPv4Address(0) if network.version == 4 else IPv6Address(0)
        gateway = ip_address(route.gateway) if route.gateway else zero
        return (
            rd
            + route.esi
            + tag
            + bytes([network.prefixlen])
            + network.network_address.packed
            + gateway.packed
            + route.label.to_bytes(3)
        )
    raise TypeError(f"not an EVPN route: {route!r}")


def encode_nlri(route: EvpnRoute) -> bytes:
    """One EVPN NLRI: route type (1 octet), length (1 octet), value (RFC 7432 §7)."""
    value = _value(route)
    return bytes([route.route_type, len(value)]) + value


class _Reader:
    """Fields of one NLRI value; errors name the NLRI and the absolute offset of the field."""

    def __init__(self, data: bytes, start: int, route_type: int) -> None:
        self.data, self.start, self.pos = data, start, 0
        self.what = f"EVPN type-{route_type} NLRI at offset {start - 2}"

    def fail(self, message: str, at: int | None = None) -> ValueError:
        offset = self.start + (self.pos if at is None else at)
        return ValueError(f"{self.what}: {message} at offset {offset}")

    def take(self, n: int, field: str) -> bytes:
        if self.pos + n > len(self.data):
            left = len(self.data) - self.pos
            raise self.fail(f"{field} needs {n} octets, only {left} left in the NLRI")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def ip(self, bits: int, allowed: tuple[int, ...], field: str) -> bytes:
        if bits not in allowed:
            raise self.fail(f"{field} length {bits} bits is not one of {allowed}", self.pos - 1)
        return self.take(bits // 8, field)

    def rd(self) -> str:
        raw = self.take(8, "route distinguisher")
        try:
            return decode_rd(raw)
        except ValueError as exc:
            raise self.fail(str(exc), self.pos - 8) from None

    def end(self, *, optional: int = 0) -> bytes:
        """The rest, which must be empty or exactly `optional` octets."""
        rest = self.data[self.pos :]
        if rest and len(rest) != optional:
            raise self.fail(f"{len(rest)} unexpected trailing octet(s)")
        return rest


def _mac_ip(r: _Reader) -> MacIpRoute:
    rd, esi, tag = r.rd(), r.take(10, "ESI"), int.from_bytes(r.take(4, "Ethernet tag"))
    mac_bits = r.take(1, "MAC address length")[0]
    if mac_bits != 48:
        raise r.fail(f"MAC address length {mac_bits} bits is not 48", r.pos - 1)
    mac = ":".join(f"{b:02x}" for b in r.take(6, "MAC address"))
    ip = r.ip(r.take(1, "IP address length")[0], (0, 32, 128), "IP address")
    label = int.from_bytes(r.take(3, "MPLS label 1"))
    label2 = r.end(optional=3)
    return MacIpRoute(
        rd=rd,
        mac=mac,
        ip=str(ip_address(ip)) if ip else None,
        esi=esi,
        eth_tag=tag,
        label=label,
        label2=int.from_bytes(label2) if label2 else None,
    )


def _inclusive_multicast(r: _Reader) -> InclusiveMulticastRoute:
    rd, tag = r.rd(), int.from_bytes(r.take(4, "Ethernet tag"))
    ip = r.ip(r.take(1, "originator IP length")[0], (32, 128), "originator IP")
    r.end()
    return InclusiveMulticastRoute(rd=rd, originator_ip=str(ip_address(ip)), eth_tag=tag)


def _ip_prefix(r: _Reader) -> IpPrefixRoute:
    size = len(r.data)
    if size not in (34, 58):
        raise r.fail(f"length {size} is neither 34 (IPv4) nor 58 (IPv6)", -1)
    width = 4 if size == 34 else 16
    rd, esi, tag = r.rd(), r.take(10, "ESI"), int.from_bytes(r.take(4, "Ethernet tag"))
    length = r.take(1, "IP prefix length")[0]
    if length > width * 8:
        raise r.fail(f"IP prefix length {length} is over {width * 8}", r.pos - 1)
    address = ip_address(r.take(width, "IP prefix"))
    gateway = ip_address(r.take(width, "gateway IP"))
    label = int.from_bytes(r.take(3, "MPLS label"))
    network = ip_network(f"{address}/{length}", strict=False)  # host bits are cleared
    return IpPrefixRoute(
        rd=rd,
        prefix=str(network),
        gateway=str(gateway) if int(gateway) else None,
        esi=esi,
        eth_tag=tag,
        label=label,
    )


_PARSERS = {2: _mac_ip, 3: _inclusive_multicast, 5: _ip_prefix}


def decode_nlris(data: bytes, *, offset: int = 0) -> list[EvpnRoute]:
    """Every EVPN NLRI packed in `data` (an MP_REACH / MP_UNREACH NLRI field, RFC 7432 §7).

    Error offsets count from the start of `data`, plus `offset` (where `data` sits in a message).
    """
    routes: list[EvpnRoute] = []
    pos = 0
    while pos < len(data):
        at = offset + pos
        if pos + 2 > len(data):
            raise ValueError(f"EVPN NLRI at offset {at}: truncated, 1 octet left of the header")
        route_type, length = data[pos], data[pos + 1]
        end = pos + 2 + length
        if end > len(data):
            raise ValueError(
                f"EVPN NLRI at offset {at}: length {length} runs past the end of the data "
                f"({len(data) - pos - 2} octets left)"
            )
        parser = _PARSERS.get(route_type)
        if parser is None:
            raise ValueError(
                f"EVPN NLRI at offset {at}: route type {route_type} is not supported "
                "(only 2, 3 and 5)"
            )
        reader = _Reader(bytes(data[pos + 2 : end]), at + 2, route_type)
        try:
            routes.append(parser(reader))
        except ValueError as exc:
            if str(exc).startswith("EVPN"):
                raise
            raise ValueError(f"{reader.what}: {exc}") from None  # e.g. from a dataclass check
        pos = end
    return routes
