"""Builders of malformed UPDATEs from valid parts (`cases.py` holds the table of cases).

`Parts` are the valid ingredients (one fresh route, the sender's attributes); each builder
returns the valid UPDATE the harness's codec builds, taken apart (`raw.RawUpdate`) and changed
in exactly one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from harness.bgp.attribute_codes import EXTENDED_LENGTH, MP_REACH_NLRI, ORIGIN, TRANSITIVE
from harness.bgp.attributes import Attributes
from harness.bgp.evpn import EvpnRoute
from harness.bgp.update import build_update
from harness.model.base import Family
from harness.robustness.raw import RawAttribute, RawUpdate

Nlri = str | EvpnRoute
WELL_KNOWN = TRANSITIVE  # flags of a well-known attribute (RFC 4271 §4.3)
UNKNOWN_MESSAGE_TYPE = 148  # no BGP message type (RFC 4271 §4.1: 1-4; RFC 2918: 5)


@dataclass(frozen=True)
class Parts:
    """The valid ingredients of a case's UPDATE: one fresh route, the sender's attributes."""

    family: Family
    route: Nlri
    attributes: Attributes

    def valid(self) -> RawUpdate:
        """The valid UPDATE announcing the route, as editable fields."""
        return RawUpdate.parse(build_update(self.family, [self.route], attributes=self.attributes))


Edit = Callable[[RawUpdate], object]


def edited(edit: Edit) -> Callable[[Parts], bytes]:
    """A builder: the valid UPDATE with `edit` applied."""

    def build(parts: Parts) -> bytes:
        update = parts.valid()
        edit(update)
        return update.encode()

    return build


def value(code: int, new: bytes) -> Callable[[Parts], bytes]:
    """The attribute of type `code` with another value (its length follows)."""
    return edited(lambda u: setattr(u.attribute(code), "value", new))


def grown(code: int, extra: bytes = b"\x00") -> Callable[[Parts], bytes]:
    return edited(lambda u: setattr(u.attribute(code), "value", u.attribute(code).value + extra))


def shrunk(code: int, by: int = 1) -> Callable[[Parts], bytes]:
    return edited(lambda u: setattr(u.attribute(code), "value", u.attribute(code).value[:-by]))


def flagged(code: int, flags: int) -> Callable[[Parts], bytes]:
    return edited(lambda u: setattr(u.attribute(code), "flags", flags))


def added(flags: int, code: int, new: bytes) -> Callable[[Parts], bytes]:
    return edited(lambda u: u.add(RawAttribute(flags, code, new)))


def removed(code: int) -> Callable[[Parts], bytes]:
    return edited(lambda u: u.without(code))


def asn(asn: int) -> bytes:
    return asn.to_bytes(4)


def duplicate_mp_reach(u: RawUpdate) -> None:
    u.add(RawAttribute(**vars(u.attribute(MP_REACH_NLRI))))


def mp_nlri(u: RawUpdate, edit: Callable[[bytearray], None]) -> None:
    """Edit the EVPN NLRI inside MP_REACH_NLRI (RFC 4760 §3, RFC 7432 §7)."""
    reach = u.attribute(MP_REACH_NLRI)
    start = u.mp_nlri_offset()
    nlri = bytearray(reach.value[start:])
    edit(nlri)
    reach.value = reach.value[:start] + bytes(nlri)


def mp_next_hop_length(u: RawUpdate) -> None:
    reach = u.attribute(MP_REACH_NLRI)
    reach.value = reach.value[:3] + bytes([reach.value[3] + 1]) + reach.value[4:]


def nlri_overrun(nlri: bytearray) -> None:
    nlri[1] += 10  # the route's length now runs past the attribute


# Type-2 NLRI (RFC 7432 §7.2): type, length, RD 8, ESI 10, tag 4, MAC length at 24 (+2).
_MAC_LENGTH_AT = 2 + 8 + 10 + 4
_IP_LENGTH_AT = _MAC_LENGTH_AT + 1 + 6


def route_length_disagrees(nlri: bytearray) -> None:
    """One octet more than a type-2 route with no IP and one label has (33: RFC 7432 §7.2),
    and the octet is there: the attribute parses, the route does not."""
    nlri[1] += 1
    nlri.append(0)


def mac_length(nlri: bytearray) -> None:
    nlri[_MAC_LENGTH_AT] = 47


def ip_length(nlri: bytearray) -> None:
    """IP Address Length 24 with three octets of address: the route length stays consistent
    (33 + 3), the field is not 0, 32 or 128."""
    nlri[_IP_LENGTH_AT] = 24
    nlri[_IP_LENGTH_AT + 1 : _IP_LENGTH_AT + 1] = b"\x0a\x00\x00"
    nlri[1] += 3


def extended_length_misread(u: RawUpdate) -> None:
    """ORIGIN with Extended Length set over its one-octet length: the two octets read as its
    length (0x01, then the ORIGIN value) say 256 or more, past the path attributes (RFC 7606
    §4); the octets on the wire are the valid ones but for that one bit."""
    origin = u.attribute(ORIGIN)
    origin.flags |= EXTENDED_LENGTH
    origin.length = 1 << 8 | origin.value[0]
    origin.value = b""


def attribute_overruns_total(u: RawUpdate) -> None:
    """The last attribute claims one octet more than the path attributes hold (RFC 7606 §4,
    first case); the Total Path Attribute Length still locates the NLRI."""
    last = u.attributes[-1]
    last.length = len(last.value) + 1


def short_attribute_header(u: RawUpdate) -> None:
    """Two octets left in the path attributes: fewer than an attribute header (RFC 7606 §4,
    second case)."""
    u.attributes_tail = bytes([WELL_KNOWN, 0xFF])


def total_past_message(u: RawUpdate) -> None:
    u.attributes_length = sum(len(a.encode()) for a in u.attributes) + len(u.nlri) + 5


def withdrawn_past_message(u: RawUpdate) -> None:
    u.withdrawn_length = 200


def oversize(parts: Parts) -> bytes:
    """A valid UPDATE of 4500 octets (a 4-octet-AS AS_SEQUENCE of ~1100 ASNs across segments):
    over a session without extended messages (RFC 8654 §4; RFC 4271 §4: 4096)."""
    long_path = tuple(range(65000, 65000 + 1100))
    attributes = replace(parts.attributes, as_path=long_path)
    return build_update(parts.family, [parts.route], attributes=attributes, max_size=65535)


def unknown_type(parts: Parts) -> bytes:
    """The valid UPDATE with a message type no RFC defines in its header (RFC 4271 §6.1)."""
    message = bytearray(parts.valid().encode())
    message[18] = UNKNOWN_MESSAGE_TYPE
    return bytes(message)


def short_length(parts: Parts) -> bytes:
    """An UPDATE whose header Length is 22, under the 23 octets of the shortest UPDATE (RFC 4271
    §6.1); the rest of the message follows."""
    u = parts.valid()
    u.message_length = 22
    return u.encode()


UNKNOWN_AFI = 136  # an AFI no session here negotiated (nor IANA assigned: 31-16387 free)


def unknown_afi(u: RawUpdate) -> None:
    """MP_REACH_NLRI for AFI 136 (SAFI as it was), its next hop and NLRI unchanged."""
    reach = u.attribute(MP_REACH_NLRI)
    reach.value = UNKNOWN_AFI.to_bytes(2) + reach.value[2:]
