"""Whole BGP messages (RFC 4271 §4), built on `scapy.contrib.bgp` where it encodes correctly.

scapy builds the header, OPEN, KEEPALIVE, NOTIFICATION and the UPDATE frame with its
well-known attributes (ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF, ORIGINATOR_ID,
CLUSTER_LIST). Ours: the NLRI fields (scapy takes ~0.1 ms a prefix to build, and its decoder
guesses ADD-PATH from the bytes), COMMUNITIES (scapy decodes only the first), extended
communities as text, PMSI_TUNNEL, MP_REACH_NLRI / MP_UNREACH_NLRI (scapy mis-parses EVPN), and
the UPDATE decoder, which is strict and names the offset of whatever is malformed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Any

from harness.bgp.evpn import EvpnRoute, decode_nlris, encode_nlri
from harness.model.base import Family
from harness.observe.route import Route, ext_community

_scapy_log = logging.getLogger("scapy.runtime")
_level = _scapy_log.level
_scapy_log.setLevel(logging.ERROR)  # importing the module logs "use_2_bytes_asn: True"
try:
    from scapy.contrib import bgp as scapy_bgp
    from scapy.packet import Packet, Raw
finally:
    _scapy_log.setLevel(_level)

# 4-octet AS everywhere (RFC 6793): AS_PATH segments carry 4-octet ASNs. Process-wide, on purpose.
scapy_bgp.bgp_module_conf.use_2_bytes_asn = False

MARKER = b"\xff" * 16
HEADER_SIZE = 19
MAX_MESSAGE_SIZE = 4096  # RFC 4271 §4
AS_TRANS = 23456  # RFC 6793 §9
OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE_REFRESH = 1, 2, 3, 4, 5

AFI_SAFI: dict[Family, tuple[int, int]] = {
    Family.IPV4_UNICAST: (1, 1),
    Family.IPV6_UNICAST: (2, 1),
    Family.L2VPN_EVPN: (25, 70),  # RFC 7432 §7
}
_FAMILY_OF = {v: k for k, v in AFI_SAFI.items()}

# Path attribute type codes and the flags we send them with (RFC 4271 §4.3, §5).
ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF = 1, 2, 3, 4, 5
COMMUNITIES, ORIGINATOR_ID, CLUSTER_LIST = 8, 9, 10
MP_REACH_NLRI, MP_UNREACH_NLRI, EXTENDED_COMMUNITIES, PMSI_TUNNEL = 14, 15, 16, 22
OPTIONAL, TRANSITIVE, PARTIAL, EXTENDED_LENGTH = 0x80, 0x40, 0x20, 0x10
_WELL_KNOWN = TRANSITIVE
_OPTIONAL_TRANSITIVE = OPTIONAL | TRANSITIVE
_ATTRIBUTE_NAMES = {
    ORIGIN: "ORIGIN",
    AS_PATH: "AS_PATH",
    NEXT_HOP: "NEXT_HOP",
    MED: "MULTI_EXIT_DISC",
    LOCAL_PREF: "LOCAL_PREF",
    COMMUNITIES: "COMMUNITIES",
    ORIGINATOR_ID: "ORIGINATOR_ID",
    CLUSTER_LIST: "CLUSTER_LIST",
    MP_REACH_NLRI: "MP_REACH_NLRI",
    MP_UNREACH_NLRI: "MP_UNREACH_NLRI",
    EXTENDED_COMMUNITIES: "EXTENDED_COMMUNITIES",
    PMSI_TUNNEL: "PMSI_TUNNEL",
}

_ORIGINS = ("igp", "egp", "incomplete")  # RFC 4271 §5.1.1
_TUNNEL_TYPES = {"vxlan": 8}  # RFC 9012 §14.3 (the one `ext_community` names)
_U8, _U16, _U24, _U32 = 0xFF, 0xFFFF, 0xFFFFFF, 0xFFFFFFFF


def _uint(value: int, limit: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise ValueError(f"{what} {value!r} is not an integer in 0..{limit}")
    return value


def _ipv4(text: str, what: str) -> IPv4Address:
    try:
        return IPv4Address(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not an IPv4 address") from None


def _families(families: Iterable[Family | str]) -> list[Family]:
    return list(dict.fromkeys(Family(f) for f in families))


# --------------------------------------------------------------------------------------------
# Framing, OPEN, KEEPALIVE, NOTIFICATION


def _build(message: Packet) -> bytes:
    data = bytes(message)
    if len(data) > MAX_MESSAGE_SIZE:
        raise ValueError(
            f"message is {len(data)} octets, over the {MAX_MESSAGE_SIZE}-octet limit "
            "(RFC 4271 §4): send fewer NLRI per UPDATE"
        )
    return data


def build_open(asn: int, hold_time: int, router_id: str, families: Iterable[Family | str]) -> bytes:
    """OPEN (RFC 4271 §4.2) with capabilities (RFC 5492): multiprotocol per family (RFC 4760
    §8), route refresh (RFC 2918) and 4-octet AS (RFC 6793 §3; My AS is AS_TRANS above 65535).
    """
    _uint(asn, _U32, "AS number")
    _uint(hold_time, _U16, "hold time")
    capabilities: list[Packet] = [
        scapy_bgp.BGPCapMultiprotocol(afi=afi, safi=safi)
        for afi, safi in (AFI_SAFI[f] for f in _families(families))
    ]
    capabilities.append(scapy_bgp.BGPCapGeneric(code=2))
    capabilities.append(scapy_bgp.BGPCapFourBytesASN(asn=asn))
    return _build(
        scapy_bgp.BGPHeader(type=OPEN)
        / scapy_bgp.BGPOpen(
            version=4,
            my_as=asn if asn <= _U16 else AS_TRANS,
            hold_time=hold_time,
            bgp_id=str(_ipv4(router_id, "router id")),
            opt_params=[scapy_bgp.BGPOptParam(param_type=2, param_value=c) for c in capabilities],
        )
    )


@dataclass(frozen=True)
class OpenMessage:
    """A decoded OPEN: `asn` is the 4-octet AS capability's when present (RFC 6793 §3)."""

    version: int
    asn: int
    hold_time: int
    router_id: str
    families: tuple[Family, ...]
    capabilities: tuple[tuple[int, bytes], ...]  # (code, value) in the order received


def decode_open(message: bytes) -> OpenMessage:
    """Decode an OPEN (RFC 4271 §4.2), capabilities per RFC 5492 §4 (several per parameter)."""
    body = _body(message, OPEN)
    if len(body) < 10:
        raise ValueError(f"OPEN: body is {len(body)} octets, needs at least 10")
    params_end = 10 + body[9]
    if params_end > len(body):
        raise ValueError(f"OPEN: optional parameters length {body[9]} runs past the message")
    capabilities: list[tuple[int, bytes]] = []
    pos = 10
    while pos < params_end:
        if pos + 2 > params_end or pos + 2 + body[pos + 1] > params_end:
            raise ValueError(f"OPEN: optional parameter at offset {HEADER_SIZE + pos} is truncated")
        kind, end = body[pos], pos + 2 + body[pos + 1]
        cap = pos + 2
        while kind == 2 and cap < end:
            if cap + 2 > end or cap + 2 + body[cap + 1] > end:
                raise ValueError(f"OPEN: capability at offset {HEADER_SIZE + cap} is truncated")
            capabilities.append((body[cap], bytes(body[cap + 2 : cap + 2 + body[cap + 1]])))
            cap += 2 + body[cap + 1]
        pos = end
    asn = int.from_bytes(body[1:3])
    families: list[Family] = []
    for code, value in capabilities:
        if code == 65 and len(value) == 4:
            asn = int.from_bytes(value)
        elif code == 1 and len(value) == 4:
            family = _FAMILY_OF.get((int.from_bytes(value[:2]), value[3]))
            if family is not None:
                families.append(family)
    return OpenMessage(
        version=body[0],
        asn=asn,
        hold_time=int.from_bytes(body[3:5]),
        router_id=str(IPv4Address(body[5:9])),
        families=tuple(families),
        capabilities=tuple(capabilities),
    )


def build_keepalive() -> bytes:
    """KEEPALIVE: the header alone (RFC 4271 §4.4)."""
    return _build(scapy_bgp.BGPKeepAlive())


def build_notification(code: int, subcode: int, data: bytes = b"") -> bytes:
    """NOTIFICATION (RFC 4271 §4.5)."""
    return _build(
        scapy_bgp.BGPHeader(type=NOTIFICATION)
        / scapy_bgp.BGPNotification(
            error_code=_uint(code, _U8, "error code"),
            error_subcode=_uint(subcode, _U8, "error subcode"),
            data=bytes(data),
        )
    )


def split_messages(buffer: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Whole messages (type, bytes) at the start of a TCP byte stream, and the unconsumed tail.

    A marker that is not all ones, or a length outside 19..4096, raises ValueError (RFC 4271
    §4.1, §6.1): the stream cannot be resynchronised after that.
    """
    messages: list[tuple[int, bytes]] = []
    pos = 0
    while True:
        head = buffer[pos : pos + HEADER_SIZE]
        if head[:16] != MARKER[: len(head[:16])]:
            raise ValueError(f"BGP message at offset {pos}: marker is not all ones")
        if len(head) < HEADER_SIZE:
            return messages, bytes(buffer[pos:])
        length = int.from_bytes(head[16:18])
        if not HEADER_SIZE <= length <= MAX_MESSAGE_SIZE:
            raise ValueError(
                f"BGP message at offset {pos}: length {length} is outside "
                f"{HEADER_SIZE}..{MAX_MESSAGE_SIZE}"
            )
        if pos + length > len(buffer):
            return messages, bytes(buffer[pos:])
        messages.append((head[18], bytes(buffer[pos : pos + length])))
        pos += length


def _body(message: bytes, kind: int) -> bytes:
    if len(message) < HEADER_SIZE or message[:16] != MARKER:
        raise ValueError("not a BGP message: shorter than 19 octets or marker not all ones")
    length = int.from_bytes(message[16:18])
    if length != len(message):
        raise ValueError(f"BGP header says {length} octets, the message has {len(message)}")
    if message[18] != kind:
        raise ValueError(f"BGP message type is {message[18]}, expected {kind}")
    return message[HEADER_SIZE:]


# --------------------------------------------------------------------------------------------
# Path attributes


@dataclass(frozen=True)
class Attributes:
    """Path attributes of an UPDATE (RFC 4271 §5; RFC 4456 §8; RFC 4360; RFC 6514 §5).

    `ext_communities` are in `harness.observe.route.ext_community`'s text: `target:64514:100`,
    `target:1.2.3.4:5`, `origin:...`, `encap:vxlan`, `router-mac:aa:bb:cc:dd:ee:ff`,
    `mac-mobility:SEQ[:sticky]`, or `0x` and 16 hex digits for any other. `pmsi` is (tunnel
    type, label or VNI, endpoint); `raw` holds (flags, type code, value) appended verbatim, and
    on decoding every attribute not modelled here.
    """

    origin: str = "igp"
    as_path: tuple[int, ...] = ()
    next_hop: str | None = None
    med: int | None = None
    local_pref: int | None = None
    communities: tuple[str, ...] = ()
    ext_communities: tuple[str, ...] = ()
    originator_id: str | None = None
    cluster_list: tuple[str, ...] = ()
    pmsi: tuple[int, int, str] | None = None
    raw: tuple[tuple[int, int, bytes], ...] = field(default=())

    def __post_init__(self) -> None:
        if self.origin not in _ORIGINS:
            raise ValueError(f"origin {self.origin!r} is not one of {_ORIGINS}")
        set_ = object.__setattr__  # normalising a frozen dataclass
        set_(self, "as_path", tuple(self.as_path))
        set_(self, "communities", tuple(self.communities))
        set_(self, "ext_communities", tuple(_normal_ext(e) for e in self.ext_communities))
        set_(self, "cluster_list", tuple(self.cluster_list))
        set_(self, "raw", tuple((f, c, bytes(v)) for f, c, v in self.raw))
        if self.pmsi is not None:
            set_(self, "pmsi", tuple(self.pmsi))


def _normal_ext(text: str) -> str:
    return text.lower() if text.lower().startswith("0x") else ext_community(text)


def _attribute(flags: int, code: int, value: bytes | Packet) -> Packet:
    """One path attribute (RFC 4271 §4.3); Extended Length when the value needs two octets."""
    length = len(value)
    if length > _U8:
        flags |= EXTENDED_LENGTH
    return scapy_bgp.BGPPathAttr(type_flags=flags, type_code=code, attribute=_packet(value))


def _packet(value: bytes | Packet) -> Packet:
    return value if isinstance(value, Packet) else Raw(load=value)


def _community(text: str) -> bytes:
    """`64512:7` to 4 octets (RFC 1997)."""
    high, sep, low = text.partition(":")
    if not (sep and high.isdigit() and low.isdigit()):
        raise ValueError(f"community {text!r}: expected AS:NUMBER like 64512:7")
    return (
        _uint(int(high), _U16, "community AS") << 16
        | _uint(int(low), _U16, f"community {text!r}: value")
    ).to_bytes(4)


def _admin_specific(subtype: int, value: str, text: str) -> bytes:
    """Route target / origin (RFC 4360 §4-§5 two-octet AS, IPv4; RFC 5668 §2 four-octet AS)."""
    admin, sep, number = value.rpartition(":")
    if not (sep and admin and number.isdigit()):
        raise ValueError(f"extended community {text!r}: expected ...:ADMINISTRATOR:NUMBER")
    local = int(number)
    if "." in admin:
        address = _ipv4(admin, f"extended community {text!r}:")
        return bytes([0x01, subtype]) + address.packed + _uint(local, _U16, text).to_bytes(2)
    if not admin.isdigit():
        raise ValueError(f"extended community {text!r}: {admin!r} is not an AS number")
    asn = _uint(int(admin), _U32, f"extended community {text!r}: AS")
    if asn > _U16:
        return bytes([0x02, subtype]) + asn.to_bytes(4) + _uint(local, _U16, text).to_bytes(2)
    return bytes([0x00, subtype]) + asn.to_bytes(2) + _uint(local, _U32, text).to_bytes(4)


def encode_ext_community(text: str) -> bytes:
    """Normalised extended community text (see `Attributes`) to its 8 octets (RFC 4360 §2)."""
    kind, _, value = _normal_ext(text).partition(":")
    if kind in ("target", "origin"):
        return _admin_specific(0x02 if kind == "target" else 0x03, value, text)
    if kind == "encap":  # RFC 9012 §4.1: opaque, subtype 0x0c, 4 reserved octets, tunnel type
        number = _TUNNEL_TYPES.get(value, int(value) if value.isdigit() else -1)
        return b"\x03\x0c" + bytes(4) + _uint(number, _U16, f"tunnel type in {text!r}").to_bytes(2)
    if kind == "router-mac":  # RFC 9135 §8.1: EVPN, subtype 0x03
        octets = value.split(":")
        if len(octets) != 6 or not all(len(o) == 2 for o in octets):
            raise ValueError(f"extended community {text!r}: expected router-mac:aa:bb:cc:dd:ee:ff")
        return b"\x06\x03" + bytes.fromhex("".join(octets))
    if kind == "mac-mobility":  # RFC 7432 §7.7: EVPN, subtype 0x00, flags (sticky), sequence
        seq, _, sticky = value.partition(":")
        if not seq.isdigit() or sticky not in ("", "sticky"):
            raise ValueError(f"extended community {text!r}: expected mac-mobility:SEQ[:sticky]")
        return (
            b"\x06\x00" + bytes([1 if sticky else 0, 0]) + _uint(int(seq), _U32, text).to_bytes(4)
        )
    if kind.startswith("0x") and len(kind) == 18 and not value:
        try:
            return bytes.fromhex(kind[2:])
        except ValueError:
            pass
    raise ValueError(f"extended community {text!r} is not one this codec knows")


def decode_ext_community(octets: bytes) -> str:
    """8 octets to the normalised text `encode_ext_community` takes (RFC 4360 §2)."""
    kind, subtype, value = octets[0], octets[1], octets[2:]
    if subtype in (0x02, 0x03) and kind in (0x00, 0x01, 0x02):
        name = "target" if subtype == 0x02 else "origin"
        if kind == 0x00:
            return f"{name}:{int.from_bytes(value[:2])}:{int.from_bytes(value[2:])}"
        admin = IPv4Address(value[:4]) if kind == 0x01 else int.from_bytes(value[:4])
        return f"{name}:{admin}:{int.from_bytes(value[4:])}"
    if (kind, subtype) == (0x03, 0x0C):
        return ext_community(f"encap:{int.from_bytes(value[4:])}")
    if (kind, subtype) == (0x06, 0x03):
        return "router-mac:" + ":".join(f"{b:02x}" for b in value)
    if (kind, subtype) == (0x06, 0x00):
        sticky = ":sticky" if value[0] & 1 else ""
        return f"mac-mobility:{int.from_bytes(value[2:])}{sticky}"
    return "0x" + octets.hex()


def _pmsi(pmsi: tuple[int, int, str]) -> bytes:
    """PMSI_TUNNEL (RFC 6514 §5): flags 0, tunnel type, 3-octet label (the VNI, RFC 8365
    §5.1.3), tunnel identifier (the endpoint address for ingress replication, type 6)."""
    kind, label, endpoint = pmsi
    if endpoint.startswith("0x"):
        identifier = bytes.fromhex(endpoint[2:])
    else:
        identifier = ip_address(endpoint).packed if endpoint else b""
    return (
        bytes([0, _uint(kind, _U8, "PMSI tunnel type")])
        + _uint(label, _U24, "PMSI label").to_bytes(3)
        + identifier
    )


def _path_attributes(attributes: Attributes, *, classic_next_hop: bool) -> list[Packet]:
    """ORIGIN to CLUSTER_LIST (RFC 4271 §4.3 order: by type code), without MP_* and after."""
    a = attributes
    out = [
        _attribute(_WELL_KNOWN, ORIGIN, scapy_bgp.BGPPAOrigin(origin=_ORIGINS.index(a.origin))),
    ]
    asns = [_uint(asn, _U32, "AS_PATH AS") for asn in a.as_path]
    segments = [  # AS_SEQUENCE, at most 255 ASNs a segment (RFC 4271 §4.3, RFC 6793 §4)
        scapy_bgp.BGPPAAS4BytesPath.ASPathSegment(segment_type=2, segment_value=asns[i : i + 255])
        for i in range(0, len(asns), 255)
    ]
    out.append(_attribute(_WELL_KNOWN, AS_PATH, scapy_bgp.BGPPAAS4BytesPath(segments=segments)))
    if classic_next_hop and a.next_hop is not None:
        next_hop = str(_ipv4(a.next_hop, "NEXT_HOP"))
        out.append(_attribute(_WELL_KNOWN, NEXT_HOP, scapy_bgp.BGPPANextHop(next_hop=next_hop)))
    if a.med is not None:
        med = scapy_bgp.BGPPAMultiExitDisc(med=_uint(a.med, _U32, "MED"))
        out.append(_attribute(OPTIONAL, MED, med))
    if a.local_pref is not None:
        pref = scapy_bgp.BGPPALocalPref(local_pref=_uint(a.local_pref, _U32, "LOCAL_PREF"))
        out.append(_attribute(_WELL_KNOWN, LOCAL_PREF, pref))
    if a.communities:
        value = b"".join(_community(c) for c in a.communities)
        out.append(_attribute(_OPTIONAL_TRANSITIVE, COMMUNITIES, value))
    if a.originator_id is not None:
        originator = str(_ipv4(a.originator_id, "ORIGINATOR_ID"))
        value = scapy_bgp.BGPPAOriginatorID(originator_id=originator)
        out.append(_attribute(OPTIONAL, ORIGINATOR_ID, value))
    if a.cluster_list:
        ids = [int(_ipv4(c, "CLUSTER_LIST id")) for c in a.cluster_list]
        out.append(_attribute(OPTIONAL, CLUSTER_LIST, scapy_bgp.BGPPAClusterList(cluster_list=ids)))
    return out


def _late_attributes(attributes: Attributes) -> list[Packet]:
    """EXTENDED_COMMUNITIES, PMSI_TUNNEL, then `raw` verbatim."""
    out = []
    if attributes.ext_communities:
        value = b"".join(encode_ext_community(e) for e in attributes.ext_communities)
        out.append(_attribute(_OPTIONAL_TRANSITIVE, EXTENDED_COMMUNITIES, value))
    if attributes.pmsi is not None:
        out.append(_attribute(_OPTIONAL_TRANSITIVE, PMSI_TUNNEL, _pmsi(attributes.pmsi)))
    for flags, code, value in attributes.raw:
        if len(value) > _U8 and not flags & EXTENDED_LENGTH:
            raise ValueError(f"raw attribute {code}: {len(value)} octets need Extended Length")
        out.append(
            scapy_bgp.BGPPathAttr(
                type_flags=_uint(flags, _U8, "raw attribute flags"),
                type_code=_uint(code, _U8, "raw attribute type"),
                attribute=Raw(load=value),
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# UPDATE


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


def _encode_nlris(family: Family, routes: Sequence[str | EvpnRoute]) -> bytes:
    if family is Family.L2VPN_EVPN:
        out = []
        for route in routes:
            if isinstance(route, str):
                raise TypeError(f"l2vpn-evpn NLRI must be EVPN routes, got {route!r}")
            out.append(encode_nlri(route))
        return b"".join(out)
    return b"".join(_encode_prefix(r, family) for r in routes)  # type: ignore[arg-type]


def _mp_next_hop(family: Family, next_hop: str | None) -> bytes:
    """MP_REACH next hop: 4 or 16 octets; EVPN's is the VTEP (RFC 7432 §7, RFC 8365 §5.1.3)."""
    if next_hop is None:
        raise ValueError(f"announcing {family} needs attributes.next_hop (RFC 4760 §3)")
    address = ip_address(next_hop)
    if family is Family.IPV6_UNICAST and address.version != 6:
        raise ValueError(f"ipv6-unicast next hop {next_hop} is not an IPv6 address")
    return address.packed


def build_update(
    family: Family | str,
    announce: Sequence[str | EvpnRoute] = (),
    withdraw: Sequence[str | EvpnRoute] = (),
    attributes: Attributes | None = None,
) -> bytes:
    """One UPDATE (RFC 4271 §4.3) for one family, with any number of NLRI up to 4096 octets.

    IPv4 unicast uses the Withdrawn Routes and NLRI fields and NEXT_HOP (left out when
    `next_hop` is None, to provoke errors); IPv6 unicast and EVPN use MP_REACH_NLRI and
    MP_UNREACH_NLRI (RFC 4760 §3, §4). Path attributes are sent when announcing or when
    `attributes` is given. Nothing at all is the family's End-of-RIB marker (RFC 4724 §2).
    Raises ValueError beyond 4096 octets.
    """
    family = Family(family)
    afi_safi = AFI_SAFI[family][0].to_bytes(2) + bytes([AFI_SAFI[family][1]])
    attrs = attributes if attributes is not None else Attributes() if announce else None
    classic = family is Family.IPV4_UNICAST
    path: list[Packet] = []
    if attrs is not None:
        path = _path_attributes(attrs, classic_next_hop=classic)
    if not classic:
        if announce and attrs is not None:
            hop = _mp_next_hop(family, attrs.next_hop)
            value = afi_safi + bytes([len(hop)]) + hop + b"\x00" + _encode_nlris(family, announce)
            path.append(_attribute(OPTIONAL, MP_REACH_NLRI, value))
        if withdraw or not (announce or attrs is not None):
            value = afi_safi + _encode_nlris(family, withdraw)
            path.append(_attribute(OPTIONAL, MP_UNREACH_NLRI, value))
    if attrs is not None:
        path += _late_attributes(attrs)
    withdrawn = _encode_nlris(family, withdraw) if classic else b""
    nlri = _encode_nlris(family, announce) if classic else b""
    return _build(
        scapy_bgp.BGPHeader(type=UPDATE)
        / scapy_bgp.BGPUpdate(
            withdrawn_routes=[Raw(load=withdrawn)] if withdrawn else [],
            path_attr=path,
            nlri=[Raw(load=nlri)] if nlri else [],
        )
    )


@dataclass(frozen=True)
class Update:
    """A decoded UPDATE: NLRI per family, the attributes, and the End-of-RIB it may be.

    `attributes.next_hop` is NEXT_HOP, or MP_REACH_NLRI's next hop when there is no NEXT_HOP;
    `mp_next_hop` is always MP_REACH_NLRI's (RFC 4760 §3).
    """

    attributes: Attributes | None
    announce: tuple[tuple[Family, str | EvpnRoute], ...] = ()
    withdraw: tuple[tuple[Family, str | EvpnRoute], ...] = ()
    mp_next_hop: str | None = None
    end_of_rib: Family | None = None

    def next_hop(self, family: Family) -> str | None:
        if family is Family.IPV4_UNICAST:
            return self.attributes.next_hop if self.attributes else None
        return self.mp_next_hop


def _decode_prefixes(data: bytes, family: Family, offset: int, what: str) -> list[str]:
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


def _nlris(data: bytes, family: Family, offset: int, what: str) -> list[str | EvpnRoute]:
    if family is Family.L2VPN_EVPN:
        return list(decode_nlris(data, offset=offset))
    return list(_decode_prefixes(data, family, offset, what))


class _Attr:
    """One attribute's value being decoded; errors name it and its offset in the message."""

    def __init__(self, code: int, value: bytes, offset: int) -> None:
        self.code, self.value, self.offset = code, value, offset
        self.name = f"{_ATTRIBUTE_NAMES.get(code, 'attribute')} (type {code}) at offset {offset}"

    def fail(self, message: str) -> ValueError:
        return ValueError(f"UPDATE: {self.name}: {message}")

    def sized(self, *sizes: int) -> bytes:
        if len(self.value) not in sizes:
            raise self.fail(f"length {len(self.value)}, expected {' or '.join(map(str, sizes))}")
        return self.value

    def multiple(self, unit: int) -> list[bytes]:
        if len(self.value) % unit:
            raise self.fail(f"length {len(self.value)} is not a multiple of {unit}")
        return [self.value[i : i + unit] for i in range(0, len(self.value), unit)]


def _as_path(a: _Attr) -> tuple[int, ...]:
    """AS_PATH with 4-octet ASNs (RFC 6793 §4); every segment's ASNs, in order."""
    asns: list[int] = []
    pos = 0
    while pos < len(a.value):
        if pos + 2 > len(a.value) or a.value[pos] not in (1, 2, 3, 4):
            raise a.fail(f"malformed segment header at offset {a.offset + pos}")
        end = pos + 2 + 4 * a.value[pos + 1]
        if end > len(a.value):
            raise a.fail(f"segment at offset {a.offset + pos} runs past the attribute")
        asns += [int.from_bytes(a.value[i : i + 4]) for i in range(pos + 2, end, 4)]
        pos = end
    return tuple(asns)


def _pmsi_decode(a: _Attr) -> tuple[int, int, str]:
    if len(a.value) < 5:
        raise a.fail(f"length {len(a.value)}, expected at least 5")
    identifier = a.value[5:]
    if len(identifier) in (4, 16):
        endpoint = str(ip_address(identifier))
    else:
        endpoint = "0x" + identifier.hex() if identifier else ""
    return a.value[1], int.from_bytes(a.value[2:5]), endpoint


def _mp_family(a: _Attr) -> Family:
    if len(a.value) < 3:
        raise a.fail(f"length {len(a.value)}, expected at least 3 (AFI, SAFI)")
    afi, safi = int.from_bytes(a.value[:2]), a.value[2]
    family = _FAMILY_OF.get((afi, safi))
    if family is None:
        raise a.fail(f"AFI {afi} / SAFI {safi} is not a family this codec speaks")
    return family


def _mp_reach(a: _Attr) -> tuple[Family, str, list[str | EvpnRoute]]:
    """MP_REACH_NLRI (RFC 4760 §3): AFI, SAFI, next hop, reserved octet, NLRI."""
    family = _mp_family(a)
    if len(a.value) < 4:
        raise a.fail("no next hop length")
    size = a.value[3]
    if size not in (4, 16, 32) or len(a.value) < 5 + size:
        raise a.fail(f"next hop length {size} (or the attribute is too short for it)")
    hop = ip_address(a.value[4 : 4 + (16 if size == 32 else size)])  # 32: global + link-local
    start = 5 + size
    routes = _nlris(a.value[start:], family, a.offset + start, "MP_REACH_NLRI")
    return family, str(hop), routes


@dataclass
class _Decoded:
    attributes: Attributes | None  # None: no path attributes besides MP_REACH / MP_UNREACH
    reach: tuple[Family, str, list[str | EvpnRoute]] | None = None
    unreach: tuple[Family, list[str | EvpnRoute]] | None = None
    count: int = 0


def _origin(a: _Attr) -> str:
    origin = a.sized(1)[0]
    if origin >= len(_ORIGINS):
        raise a.fail(f"undefined origin {origin}")
    return _ORIGINS[origin]


def _ipv4_value(a: _Attr) -> str:
    return str(IPv4Address(a.sized(4)))


def _u32_value(a: _Attr) -> int:
    return int.from_bytes(a.sized(4))


_DECODERS: dict[int, tuple[str, Callable[[_Attr], Any]]] = {
    ORIGIN: ("origin", _origin),
    AS_PATH: ("as_path", _as_path),
    NEXT_HOP: ("next_hop", _ipv4_value),
    MED: ("med", _u32_value),
    LOCAL_PREF: ("local_pref", _u32_value),
    COMMUNITIES: (
        "communities",
        lambda a: tuple(f"{int.from_bytes(c[:2])}:{int.from_bytes(c[2:])}" for c in a.multiple(4)),
    ),
    ORIGINATOR_ID: ("originator_id", _ipv4_value),
    CLUSTER_LIST: ("cluster_list", lambda a: tuple(str(IPv4Address(c)) for c in a.multiple(4))),
    EXTENDED_COMMUNITIES: (
        "ext_communities",
        lambda a: tuple(decode_ext_community(c) for c in a.multiple(8)),
    ),
    PMSI_TUNNEL: ("pmsi", _pmsi_decode),
}


def _split_attributes(data: bytes, offset: int) -> Iterator[tuple[int, _Attr]]:
    """(flags, attribute) of each path attribute (RFC 4271 §4.3); a known one twice is an error."""
    seen: set[int] = set()
    pos = 0
    while pos < len(data):
        flags = data[pos]
        head = 4 if flags & EXTENDED_LENGTH else 3
        if pos + head > len(data):
            raise ValueError(f"UPDATE: path attribute at offset {offset + pos} is truncated")
        code, length = data[pos + 1], int.from_bytes(data[pos + 2 : pos + head])
        if pos + head + length > len(data):
            raise ValueError(
                f"UPDATE: path attribute type {code} at offset {offset + pos}: length {length} "
                f"runs past the path attributes ({len(data) - pos - head} octets left)"
            )
        a = _Attr(code, bytes(data[pos + head : pos + head + length]), offset + pos + head)
        if code in _ATTRIBUTE_NAMES:
            if code in seen:
                raise a.fail("appears twice (RFC 7606 §3 g)")
            seen.add(code)
        yield flags, a
        pos += head + length


def _decode_attributes(data: bytes, offset: int) -> _Decoded:
    """Every path attribute: MP_* apart, the rest as one `Attributes` (unknown ones in `raw`)."""
    fields: dict[str, Any] = {}
    raw: list[tuple[int, int, bytes]] = []
    out = _Decoded(attributes=None)
    for flags, a in _split_attributes(data, offset):
        out.count += 1
        if a.code in _DECODERS:
            name, decode = _DECODERS[a.code]
            fields[name] = decode(a)
        elif a.code == MP_REACH_NLRI:
            out.reach = _mp_reach(a)
        elif a.code == MP_UNREACH_NLRI:
            family = _mp_family(a)
            out.unreach = (family, _nlris(a.value[3:], family, a.offset + 3, "MP_UNREACH_NLRI"))
        else:
            raw.append((flags, a.code, a.value))
    if fields or raw:
        if "next_hop" not in fields and out.reach is not None:
            fields["next_hop"] = out.reach[1]
        out.attributes = Attributes(raw=tuple(raw), **fields)
    return out


def parse_update(message: bytes) -> Update:
    """Decode a whole UPDATE (RFC 4271 §4.3, RFC 4760 §3-§4); ValueError names the offset."""
    body = _body(message, UPDATE)
    if len(body) < 4:
        raise ValueError(f"UPDATE: body is {len(body)} octets, needs at least 4")
    withdrawn_end = 2 + int.from_bytes(body[:2])
    if withdrawn_end + 2 > len(body):
        raise ValueError(
            f"UPDATE: withdrawn routes length at offset {HEADER_SIZE} runs past the end"
        )
    attrs_end = withdrawn_end + 2 + int.from_bytes(body[withdrawn_end : withdrawn_end + 2])
    if attrs_end > len(body):
        raise ValueError(
            f"UPDATE: path attributes length at offset {HEADER_SIZE + withdrawn_end} runs past "
            "the end"
        )
    v4 = Family.IPV4_UNICAST
    withdrawn = _decode_prefixes(body[2:withdrawn_end], v4, HEADER_SIZE + 2, "withdrawn routes")
    nlri = _decode_prefixes(body[attrs_end:], v4, HEADER_SIZE + attrs_end, "NLRI")
    decoded = _decode_attributes(
        body[withdrawn_end + 2 : attrs_end], HEADER_SIZE + withdrawn_end + 2
    )
    announce: list[tuple[Family, str | EvpnRoute]] = [(v4, p) for p in nlri]
    withdraw: list[tuple[Family, str | EvpnRoute]] = [(v4, p) for p in withdrawn]
    mp_next_hop = None
    if decoded.reach is not None:
        family, mp_next_hop, routes = decoded.reach
        announce += [(family, r) for r in routes]
    end_of_rib = None
    if decoded.unreach is not None:
        family, routes = decoded.unreach
        withdraw += [(family, r) for r in routes]
        if decoded.count == 1 and not (routes or nlri or withdrawn):
            end_of_rib = family  # RFC 4724 §2: an MP_UNREACH_NLRI with nothing in it, alone
    elif body == bytes(4):
        end_of_rib = v4  # RFC 4724 §2: an UPDATE with nothing in it
    return Update(
        attributes=decoded.attributes,
        announce=tuple(announce),
        withdraw=tuple(withdraw),
        mp_next_hop=mp_next_hop,
        end_of_rib=end_of_rib,
    )


def _key(route: str | EvpnRoute) -> str:
    return route if isinstance(route, str) else route.key


def decode_update(
    message: bytes, *, peer: str, observed_at: str
) -> tuple[list[Route], list[tuple[Family, str]]]:
    """Announced `Route`s (as `observed_at` holds them, learned from `peer`) and withdrawn
    (family, key) pairs of one UPDATE (RFC 4271 §4.3, RFC 4760)."""
    update = parse_update(message)
    a = update.attributes or Attributes()
    routes = [
        Route(
            family=family,
            key=_key(route),
            observed_at=observed_at,
            peer=peer,
            next_hop=update.next_hop(family),
            rd=None if isinstance(route, str) else route.rd,
            originator_id=a.originator_id,
            cluster_list=a.cluster_list,
            as_path=a.as_path,
            med=a.med,
            local_pref=a.local_pref,
            communities=a.communities,
            ext_communities=tuple(sorted(a.ext_communities)),
        )
        for family, route in update.announce
    ]
    return routes, [(family, _key(route)) for family, route in update.withdraw]
