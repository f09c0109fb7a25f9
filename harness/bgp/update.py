"""UPDATE (RFC 4271 §4.3; RFC 4760 §3-§4 for IPv6 unicast and EVPN; End-of-RIB, RFC 4724 §2).

`build_update` uses scapy for the UPDATE frame; `parse_update` is ours, strict, and names the
offset of whatever is malformed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import ip_address

from scapy.packet import Packet, Raw

from harness.bgp.attribute_codes import MP_REACH_NLRI, MP_UNREACH_NLRI, OPTIONAL
from harness.bgp.attributes import (
    Attributes,
    by_type_code,
    decode_attributes,
    encode_attribute,
    encode_attributes,
)
from harness.bgp.evpn import EvpnRoute
from harness.bgp.framing import (
    AFI_SAFI,
    HEADER_SIZE,
    MAX_MESSAGE_SIZE,
    UPDATE,
    build_message,
    message_body,
    scapy_bgp,
)
from harness.bgp.nlri import decode_prefixes, encode_routes
from harness.model.base import Family


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
    max_size: int = MAX_MESSAGE_SIZE,
) -> bytes:
    """One UPDATE (RFC 4271 §4.3) for one family, with any number of NLRI up to `max_size`
    octets: the session's maximum, 4096 or 65535 with extended messages (RFC 8654 §4).

    IPv4 unicast uses the Withdrawn Routes and NLRI fields and NEXT_HOP (left out when
    `next_hop` is None, to provoke errors); IPv6 unicast and EVPN use MP_REACH_NLRI and
    MP_UNREACH_NLRI (RFC 4760 §3, §4). Path attributes are sent when announcing or when
    `attributes` is given, in type-code order (RFC 4271 §5), MP_* and `raw` ones included.
    Nothing at all is the family's End-of-RIB marker (RFC 4724 §2).
    Raises ValueError beyond `max_size` octets.
    """
    family = Family(family)
    afi_safi = AFI_SAFI[family][0].to_bytes(2) + bytes([AFI_SAFI[family][1]])
    attrs = attributes if attributes is not None else Attributes() if announce else None
    classic = family is Family.IPV4_UNICAST
    path: list[Packet] = []
    if attrs is not None:
        path = encode_attributes(attrs, classic_next_hop=classic)
    if not classic:
        if announce and attrs is not None:
            hop = _mp_next_hop(family, attrs.next_hop)
            value = afi_safi + bytes([len(hop)]) + hop + b"\x00" + encode_routes(family, announce)
            path.append(encode_attribute(OPTIONAL, MP_REACH_NLRI, value))
        if withdraw or not (announce or attrs is not None):
            value = afi_safi + encode_routes(family, withdraw)
            path.append(encode_attribute(OPTIONAL, MP_UNREACH_NLRI, value))
    withdrawn = encode_routes(family, withdraw) if classic else b""
    nlri = encode_routes(family, announce) if classic else b""
    return build_message(
        scapy_bgp.BGPHeader(type=UPDATE)
        / scapy_bgp.BGPUpdate(
            withdrawn_routes=[Raw(load=withdrawn)] if withdrawn else [],
            path_attr=by_type_code(path),
            nlri=[Raw(load=nlri)] if nlri else [],
        ),
        max_size,
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


def parse_update(message: bytes) -> Update:
    """Decode a whole UPDATE (RFC 4271 §4.3, RFC 4760 §3-§4); ValueError names the offset."""
    body = message_body(message, UPDATE)
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
    withdrawn = decode_prefixes(body[2:withdrawn_end], v4, HEADER_SIZE + 2, "withdrawn routes")
    nlri = decode_prefixes(body[attrs_end:], v4, HEADER_SIZE + attrs_end, "NLRI")
    decoded = decode_attributes(
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
