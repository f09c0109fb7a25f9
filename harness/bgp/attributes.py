"""Path attributes of an UPDATE (RFC 4271 §4.3, §5; RFC 4456 §8; RFC 1997; RFC 4360; RFC 8092;
RFC 6514 §5; RFC 4760 §3-§4), encoded and decoded.

scapy encodes ORIGIN, AS_PATH (its segments, of any type), NEXT_HOP, MED, LOCAL_PREF,
ORIGINATOR_ID and CLUSTER_LIST. Ours: ATOMIC_AGGREGATE, AGGREGATOR, the communities of every
kind (`harness.bgp.communities`; scapy decodes only the first COMMUNITY), PMSI_TUNNEL,
MP_REACH_NLRI / MP_UNREACH_NLRI (scapy mis-parses EVPN), and the decoder, which is strict and
names the offset of whatever is malformed. Attributes go out in type-code order (RFC 4271 §5:
"SHOULD be ordered").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, ip_address
from typing import Any

from scapy.packet import Packet, Raw

from harness.bgp.attribute_codes import (
    AGGREGATOR,
    AS_PATH,
    ATOMIC_AGGREGATE,
    CLUSTER_LIST,
    COMMUNITIES,
    EXTENDED_COMMUNITIES,
    EXTENDED_LENGTH,
    LARGE_COMMUNITIES,
    LOCAL_PREF,
    MED,
    MP_REACH_NLRI,
    MP_UNREACH_NLRI,
    NEXT_HOP,
    OPTIONAL,
    ORIGIN,
    ORIGINATOR_ID,
    PMSI_TUNNEL,
    TRANSITIVE,
)
from harness.bgp.communities import (
    decode_community,
    decode_ext_community,
    decode_large_community,
    encode_community,
    encode_ext_community,
    encode_large_community,
    normal_ext_community,
    normal_large_community,
)
from harness.bgp.evpn import EvpnRoute
from harness.bgp.framing import (
    FAMILY_OF,
    U8,
    U24,
    U32,
    check_uint,
    parse_ipv4,
    scapy_bgp,
)
from harness.bgp.names import aggregator, segment_code, segment_type
from harness.bgp.nlri import decode_routes
from harness.model.base import Family

# The flags we send the attributes with (RFC 4271 §4.3, §5); type codes in attribute_codes.
_WELL_KNOWN = TRANSITIVE
_OPTIONAL_TRANSITIVE = OPTIONAL | TRANSITIVE
_ATTRIBUTE_NAMES = {
    ORIGIN: "ORIGIN",
    AS_PATH: "AS_PATH",
    NEXT_HOP: "NEXT_HOP",
    MED: "MULTI_EXIT_DISC",
    LOCAL_PREF: "LOCAL_PREF",
    ATOMIC_AGGREGATE: "ATOMIC_AGGREGATE",
    AGGREGATOR: "AGGREGATOR",
    COMMUNITIES: "COMMUNITIES",
    ORIGINATOR_ID: "ORIGINATOR_ID",
    CLUSTER_LIST: "CLUSTER_LIST",
    MP_REACH_NLRI: "MP_REACH_NLRI",
    MP_UNREACH_NLRI: "MP_UNREACH_NLRI",
    EXTENDED_COMMUNITIES: "EXTENDED_COMMUNITIES",
    PMSI_TUNNEL: "PMSI_TUNNEL",
    LARGE_COMMUNITIES: "LARGE_COMMUNITIES",
}

_ORIGINS = ("igp", "egp", "incomplete")  # RFC 4271 §5.1.1
_SEGMENT_SIZE = 255  # ASNs in one AS_PATH segment: its length is one octet (RFC 4271 §4.3)

Segment = tuple[str, tuple[int, ...]]


def sequence_segments(as_path: tuple[int, ...]) -> tuple[Segment, ...]:
    """`as_path` as AS_SEQUENCE segments of at most 255 ASNs (RFC 4271 §4.3, RFC 6793 §4)."""
    return tuple(
        ("sequence", tuple(as_path[i : i + _SEGMENT_SIZE]))
        for i in range(0, len(as_path), _SEGMENT_SIZE)
    )


@dataclass(frozen=True)
class Attributes:
    """Path attributes of an UPDATE (RFC 4271 §5; RFC 4456 §8; RFC 4360; RFC 8092; RFC 6514 §5).

    - `origin`: `igp`, `egp` or `incomplete` (RFC 4271 §5.1.1); None sends no ORIGIN at all
      (a missing well-known attribute, RFC 7606 §3 d), and is what decoding gives without one.
    - `as_path`: the ASNs, sent as AS_SEQUENCE segments. `as_path_segments`, when given,
      replaces that: (type, ASNs) in order, type `sequence`, `set`, `confed-sequence` or
      `confed-set` (or its code 1-4; RFC 4271 §4.3, RFC 5065 §3), and `as_path` becomes their
      ASNs, whatever it was (so `replace(attributes, as_path_segments=...)` works on any
      base; to change such a path, replace `as_path_segments`). Segments that are just
      `as_path`'s AS_SEQUENCEs normalise to (); `segments()` gives what is sent either way.
    - `atomic_aggregate` (RFC 4271 §5.1.6); `aggregator` as `ASN:IPv4`, sent with a 4-octet AS
      (RFC 4271 §5.1.7, RFC 6793 §3).
    - `communities` `AS:N` (RFC 1997); `large_communities` `G:L1:L2` (RFC 8092), in the order
      given. `ext_communities` are in `harness.bgp.names.ext_community`'s text:
      `target:64514:100`, `target:1.2.3.4:5`, `origin:...`, `encap:vxlan`,
      `router-mac:aa:bb:cc:dd:ee:ff`, `mac-mobility:SEQ[:sticky]`, or `0x` and 16 hex digits
      for any other.
    - `pmsi` is (tunnel type, label or VNI, endpoint).
    - `raw` holds (flags, type code, value) sent verbatim, in type-code order among the others
      (after a modelled attribute of the same code); on decoding, every attribute not modelled
      here, with its flags as received (Partial 0x20, Extended Length 0x10 included).
    """

    origin: str | None = "igp"
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
    as_path_segments: tuple[Segment, ...] = ()
    atomic_aggregate: bool = False
    aggregator: str | None = None
    large_communities: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.origin is not None and self.origin not in _ORIGINS:
            raise ValueError(f"origin {self.origin!r} is not one of {_ORIGINS}")
        set_ = object.__setattr__  # normalising a frozen dataclass
        set_(self, "as_path", tuple(self.as_path))
        self._normalise_segments()
        set_(self, "communities", tuple(self.communities))
        set_(self, "ext_communities", tuple(normal_ext_community(e) for e in self.ext_communities))
        set_(self, "large_communities", tuple(map(normal_large_community, self.large_communities)))
        set_(self, "cluster_list", tuple(self.cluster_list))
        set_(self, "raw", tuple((f, c, bytes(v)) for f, c, v in self.raw))
        set_(self, "atomic_aggregate", bool(self.atomic_aggregate))
        if self.aggregator is not None:
            set_(self, "aggregator", aggregator(*_aggregator_parts(self.aggregator)))
        if self.pmsi is not None:
            set_(self, "pmsi", tuple(self.pmsi))

    def _normalise_segments(self) -> None:
        segments = tuple((segment_type(t), tuple(asns)) for t, asns in self.as_path_segments)
        if not segments:
            return
        for kind, asns in segments:
            if len(asns) > _SEGMENT_SIZE:
                raise ValueError(f"AS_PATH {kind} segment of {len(asns)} ASNs: at most 255")
        flat = tuple(asn for _, asns in segments for asn in asns)
        object.__setattr__(self, "as_path", flat)
        object.__setattr__(
            self, "as_path_segments", () if segments == sequence_segments(flat) else segments
        )

    def segments(self) -> tuple[Segment, ...]:
        """The AS_PATH segments sent: `as_path_segments`, or `as_path` as AS_SEQUENCEs."""
        return self.as_path_segments or sequence_segments(self.as_path)


def _aggregator_parts(text: str) -> tuple[int, str]:
    asn, sep, address = str(text).partition(":")
    if not (sep and asn.isdigit()):
        raise ValueError(f"aggregator {text!r}: expected ASN:IPv4 like 64600:10.0.0.1")
    return check_uint(int(asn), U32, "AGGREGATOR AS"), str(parse_ipv4(address, "AGGREGATOR"))


def encode_attribute(flags: int, code: int, value: bytes | Packet) -> Packet:
    """One path attribute (RFC 4271 §4.3); Extended Length when the value needs two octets."""
    length = len(value)
    if length > U8:
        flags |= EXTENDED_LENGTH
    return scapy_bgp.BGPPathAttr(type_flags=flags, type_code=code, attribute=_packet(value))


def _packet(value: bytes | Packet) -> Packet:
    return value if isinstance(value, Packet) else Raw(load=value)


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


def _as_path_value(segments: tuple[Segment, ...]) -> Packet:
    """AS_PATH with 4-octet ASNs (RFC 4271 §4.3, RFC 6793 §4): each segment's type code,
    ASN count, ASNs."""
    return scapy_bgp.BGPPAAS4BytesPath(
        segments=[
            scapy_bgp.BGPPAAS4BytesPath.ASPathSegment(
                segment_type=segment_code(kind),
                segment_value=[check_uint(asn, U32, "AS_PATH AS") for asn in asns],
            )
            for kind, asns in segments
        ]
    )


def encode_attributes(attributes: Attributes, *, classic_next_hop: bool) -> list[Packet]:
    """Every path attribute but MP_REACH_NLRI / MP_UNREACH_NLRI, in type-code order (RFC 4271
    §5), `raw` ones among them (after a modelled attribute of the same code). NEXT_HOP only
    with `classic_next_hop` (IPv4 unicast; the other families carry it in MP_REACH_NLRI)."""
    a = attributes
    out: list[Packet] = []
    if a.origin is not None:
        origin = scapy_bgp.BGPPAOrigin(origin=_ORIGINS.index(a.origin))
        out.append(encode_attribute(_WELL_KNOWN, ORIGIN, origin))
    out.append(encode_attribute(_WELL_KNOWN, AS_PATH, _as_path_value(a.segments())))
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
    if a.atomic_aggregate:  # well-known discretionary, length 0 (RFC 4271 §5.1.6)
        out.append(encode_attribute(_WELL_KNOWN, ATOMIC_AGGREGATE, b""))
    if a.aggregator is not None:  # optional transitive: 4-octet AS, IPv4 address (RFC 6793 §3)
        asn, address = _aggregator_parts(a.aggregator)
        value = asn.to_bytes(4) + IPv4Address(address).packed
        out.append(encode_attribute(_OPTIONAL_TRANSITIVE, AGGREGATOR, value))
    if a.communities:
        value = b"".join(encode_community(c) for c in a.communities)
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
    if a.ext_communities:
        value = b"".join(encode_ext_community(e) for e in a.ext_communities)
        out.append(encode_attribute(_OPTIONAL_TRANSITIVE, EXTENDED_COMMUNITIES, value))
    if a.pmsi is not None:
        out.append(encode_attribute(_OPTIONAL_TRANSITIVE, PMSI_TUNNEL, _pmsi(a.pmsi)))
    if a.large_communities:
        value = b"".join(encode_large_community(c) for c in a.large_communities)
        out.append(encode_attribute(_OPTIONAL_TRANSITIVE, LARGE_COMMUNITIES, value))
    return by_type_code(out + [_raw(flags, code, value) for flags, code, value in a.raw])


def by_type_code(attributes: list[Packet]) -> list[Packet]:
    """Path attributes in type-code order (RFC 4271 §5), keeping the order of equal codes."""
    return sorted(attributes, key=lambda attribute: attribute.type_code)


def _raw(flags: int, code: int, value: bytes) -> Packet:
    if len(value) > U8 and not flags & EXTENDED_LENGTH:
        raise ValueError(f"raw attribute {code}: {len(value)} octets need Extended Length")
    return scapy_bgp.BGPPathAttr(
        type_flags=check_uint(flags, U8, "raw attribute flags"),
        type_code=check_uint(code, U8, "raw attribute type"),
        attribute=Raw(load=value),
    )


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


def _as_path(a: _Attr) -> tuple[Segment, ...]:
    """AS_PATH with 4-octet ASNs (RFC 6793 §4): (segment type, ASNs) of every segment, in
    order (RFC 4271 §4.3; types 3 and 4 RFC 5065 §3)."""
    segments: list[Segment] = []
    pos = 0
    while pos < len(a.value):
        if pos + 2 > len(a.value) or a.value[pos] not in (1, 2, 3, 4):
            raise a.fail(f"malformed segment header at offset {a.offset + pos}")
        end = pos + 2 + 4 * a.value[pos + 1]
        if end > len(a.value):
            raise a.fail(f"segment at offset {a.offset + pos} runs past the attribute")
        asns = tuple(int.from_bytes(a.value[i : i + 4]) for i in range(pos + 2, end, 4))
        segments.append((segment_type(a.value[pos]), asns))
        pos = end
    return tuple(segments)


def _aggregator(a: _Attr) -> str:
    """AGGREGATOR: AS (4 octets on a 4-octet-AS session, RFC 6793 §3; 2 otherwise, RFC 4271
    §4.3) and the IPv4 address of the speaker that aggregated."""
    value = a.sized(8, 6)
    return aggregator(int.from_bytes(value[:-4]), str(IPv4Address(value[-4:])))


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
    AS_PATH: ("as_path_segments", _as_path),
    NEXT_HOP: ("next_hop", _ipv4_value),
    MED: ("med", _u32_value),
    LOCAL_PREF: ("local_pref", _u32_value),
    ATOMIC_AGGREGATE: ("atomic_aggregate", lambda a: a.sized(0) == b""),
    AGGREGATOR: ("aggregator", _aggregator),
    COMMUNITIES: ("communities", lambda a: tuple(map(decode_community, a.multiple(4)))),
    ORIGINATOR_ID: ("originator_id", _ipv4_value),
    CLUSTER_LIST: ("cluster_list", lambda a: tuple(str(IPv4Address(c)) for c in a.multiple(4))),
    EXTENDED_COMMUNITIES: (
        "ext_communities",
        lambda a: tuple(decode_ext_community(c) for c in a.multiple(8)),
    ),
    PMSI_TUNNEL: ("pmsi", _pmsi_decode),
    LARGE_COMMUNITIES: (
        "large_communities",
        lambda a: tuple(decode_large_community(c) for c in a.multiple(12)),
    ),
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
    """Every path attribute: MP_* apart, the rest as one `Attributes` (unknown ones in `raw`,
    with their flags as received; `origin` None when there is no ORIGIN)."""
    fields: dict[str, Any] = {"origin": None}
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
    if len(fields) > 1 or raw:
        if "next_hop" not in fields and out.reach is not None:
            fields["next_hop"] = out.reach[1]
        out.attributes = Attributes(raw=tuple(raw), **fields)
    return out
