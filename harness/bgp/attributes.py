"""Path attributes of an UPDATE (RFC 4271 §4.3, §5; RFC 4456 §8; RFC 4360; RFC 6514 §5;
RFC 4760 §3-§4), encoded and decoded.

scapy encodes the well-known attributes (ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF,
ORIGINATOR_ID, CLUSTER_LIST). Ours: COMMUNITIES (scapy decodes only the first), extended
communities as text, PMSI_TUNNEL, MP_REACH_NLRI / MP_UNREACH_NLRI (scapy mis-parses EVPN), and
the decoder, which is strict and names the offset of whatever is malformed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, ip_address
from typing import Any

from scapy.packet import Packet, Raw

from harness.bgp.evpn import EvpnRoute
from harness.bgp.framing import (
    FAMILY_OF,
    U8,
    U16,
    U24,
    U32,
    check_uint,
    parse_ipv4,
    scapy_bgp,
)
from harness.bgp.names import ext_community
from harness.bgp.nlri import decode_routes
from harness.model.base import Family

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


@dataclass(frozen=True)
class Attributes:
    """Path attributes of an UPDATE (RFC 4271 §5; RFC 4456 §8; RFC 4360; RFC 6514 §5).

    `ext_communities` are in `harness.bgp.names.ext_community`'s text: `target:64514:100`,
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


def encode_attribute(flags: int, code: int, value: bytes | Packet) -> Packet:
    """One path attribute (RFC 4271 §4.3); Extended Length when the value needs two octets."""
    length = len(value)
    if length > U8:
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
        check_uint(int(high), U16, "community AS") << 16
        | check_uint(int(low), U16, f"community {text!r}: value")
    ).to_bytes(4)


def _admin_specific(subtype: int, value: str, text: str) -> bytes:
    """Route target / origin (RFC 4360 §4-§5 two-octet AS, IPv4; RFC 5668 §2 four-octet AS)."""
    admin, sep, number = value.rpartition(":")
    if not (sep and admin and number.isdigit()):
        raise ValueError(f"extended community {text!r}: expected ...:ADMINISTRATOR:NUMBER")
    local = int(number)
    if "." in admin:
        address = parse_ipv4(admin, f"extended community {text!r}:")
        return bytes([0x01, subtype]) + address.packed + check_uint(local, U16, text).to_bytes(2)
    if not admin.isdigit():
        raise ValueError(f"extended community {text!r}: {admin!r} is not an AS number")
    asn = check_uint(int(admin), U32, f"extended community {text!r}: AS")
    if asn > U16:
        return bytes([0x02, subtype]) + asn.to_bytes(4) + check_uint(local, U16, text).to_bytes(2)
    return bytes([0x00, subtype]) + asn.to_bytes(2) + check_uint(local, U32, text).to_bytes(4)


def encode_ext_community(text: str) -> bytes:
    """Normalised extended community text (see `Attributes`) to its 8 octets (RFC 4360 §2)."""
    kind, _, value = _normal_ext(text).partition(":")
    if kind in ("target", "origin"):
        return _admin_specific(0x02 if kind == "target" else 0x03, value, text)
    if kind == "encap":  # RFC 9012 §4.1: opaque, subtype 0x0c, 4 reserved octets, tunnel type
        number = _TUNNEL_TYPES.get(value, int(value) if value.isdigit() else -1)
        return (
            b"\x03\x0c" + bytes(4) + check_uint(number, U16, f"tunnel type in {text!r}").to_bytes(2)
        )
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
            b"\x06\x00"
            + bytes([1 if sticky else 0, 0])
            + check_uint(int(seq), U32, text).to_bytes(4)
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
        bytes([0, check_uint(kind, U8, "PMSI tunnel type")])
        + check_uint(label, U24, "PMSI label").to_bytes(3)
        + identifier
    )


def path_attributes(attributes: Attributes, *, classic_next_hop: bool) -> list[Packet]:
    """ORIGIN to CLUSTER_LIST (RFC 4271 §4.3 order: by type code), without MP_* and after."""
    a = attributes
    out = [
        encode_attribute(
            _WELL_KNOWN, ORIGIN, scapy_bgp.BGPPAOrigin(origin=_ORIGINS.index(a.origin))
        ),
    ]
    asns = [check_uint(asn, U32, "AS_PATH AS") for asn in a.as_path]
    segments = [  # AS_SEQUENCE, at most 255 ASNs a segment (RFC 4271 §4.3, RFC 6793 §4)
        scapy_bgp.BGPPAAS4BytesPath.ASPathSegment(segment_type=2, segment_value=asns[i : i + 255])
        for i in range(0, len(asns), 255)
    ]
    out.append(
        encode_attribute(_WELL_KNOWN, AS_PATH, scapy_bgp.BGPPAAS4BytesPath(segments=segments))
    )
    if classic_next_hop and a.next_hop is not None:
        next_hop = str(parse_ipv4(a.next_hop, "NEXT_HOP"))
        out.append(
            encode_attribute(_WELL_KNOWN, NEXT_HOP, scapy_bgp.BGPPANextHop(next_hop=next_hop))
        )
    if a.med is not None:
        med = scapy_bgp.BGPPAMultiExitDisc(med=check_uint(a.med, U32, "MED"))
        out.append(encode_attribute(OPTIONAL, MED, med))
    if a.local_pref is not None:
        pref = scapy_bgp.BGPPALocalPref(local_pref=check_uint(a.local_pref, U32, "LOCAL_PREF"))
        out.append(encode_attribute(_WELL_KNOWN, LOCAL_PREF, pref))
    if a.communities:
        value = b"".join(_community(c) for c in a.communities)
        out.append(encode_attribute(_OPTIONAL_TRANSITIVE, COMMUNITIES, value))
    if a.originator_id is not None:
        originator = str(parse_ipv4(a.originator_id, "ORIGINATOR_ID"))
        value = scapy_bgp.BGPPAOriginatorID(originator_id=originator)
        out.append(encode_attribute(OPTIONAL, ORIGINATOR_ID, value))
    if a.cluster_list:
        ids = [int(parse_ipv4(c, "CLUSTER_LIST id")) for c in a.cluster_list]
        out.append(
            encode_attribute(OPTIONAL, CLUSTER_LIST, scapy_bgp.BGPPAClusterList(cluster_list=ids))
        )
    return out


def late_attributes(attributes: Attributes) -> list[Packet]:
    """EXTENDED_COMMUNITIES, PMSI_TUNNEL, then `raw` verbatim."""
    out = []
    if attributes.ext_communities:
        value = b"".join(encode_ext_community(e) for e in attributes.ext_communities)
        out.append(encode_attribute(_OPTIONAL_TRANSITIVE, EXTENDED_COMMUNITIES, value))
    if attributes.pmsi is not None:
        out.append(encode_attribute(_OPTIONAL_TRANSITIVE, PMSI_TUNNEL, _pmsi(attributes.pmsi)))
    for flags, code, value in attributes.raw:
        if len(value) > U8 and not flags & EXTENDED_LENGTH:
            raise ValueError(f"raw attribute {code}: {len(value)} octets need Extended Length")
        out.append(
            scapy_bgp.BGPPathAttr(
                type_flags=check_uint(flags, U8, "raw attribute flags"),
                type_code=check_uint(code, U8, "raw attribute type"),
                attribute=Raw(load=value),
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Decoding


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
    family = FAMILY_OF.get((afi, safi))
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
    routes = decode_routes(a.value[start:], family, a.offset + start, "MP_REACH_NLRI")
    return family, str(hop), routes


@dataclass
class DecodedAttributes:
    """What `decode_attributes` found: MP_REACH_NLRI and MP_UNREACH_NLRI apart from the rest."""

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


def decode_attributes(data: bytes, offset: int) -> DecodedAttributes:
    """Every path attribute: MP_* apart, the rest as one `Attributes` (unknown ones in `raw`)."""
    fields: dict[str, Any] = {}
    raw: list[tuple[int, int, bytes]] = []
    out = DecodedAttributes(attributes=None)
    for flags, a in _split_attributes(data, offset):
        out.count += 1
        if a.code in _DECODERS:
            name, decode = _DECODERS[a.code]
            fields[name] = decode(a)
        elif a.code == MP_REACH_NLRI:
            out.reach = _mp_reach(a)
        elif a.code == MP_UNREACH_NLRI:
            family = _mp_family(a)
            out.unreach = (
                family,
                decode_routes(a.value[3:], family, a.offset + 3, "MP_UNREACH_NLRI"),
            )
        else:
            raw.append((flags, a.code, a.value))
    if fields or raw:
        if "next_hop" not in fields and out.reach is not None:
            fields["next_hop"] = out.reach[1]
        out.attributes = Attributes(raw=tuple(raw), **fields)
    return out
