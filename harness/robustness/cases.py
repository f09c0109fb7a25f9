"""The robustness cases as data: each is one malformed UPDATE built from valid parts, the rule
it breaks, and what that rule asks the receiving RR to do (RFC 7606 §2):

- *treat-as-withdraw*: the UPDATE's routes are withdrawn (a valid version sent earlier goes),
  the session stays up;
- *attribute-discard*: the malformed attribute is dropped, the route is reflected without it;
- *afi-safi-disable* / *session-reset*: for what cannot be parsed reliably; a session reset is
  a NOTIFICATION (code/subcode recorded) and the session coming back;
- *pass-on*: not an error at all, but the rule for an unrecognised optional transitive
  attribute (RFC 4271 §5, §9): reflected with its Partial bit set.

A builder gets `Parts` (the fresh route, valid attributes for the sender) and returns the
bytes: the valid UPDATE the harness's codec builds, taken apart (`raw.RawUpdate`) and changed in
exactly one place. Every case is sent by the crafted RR client over iBGP: the RR pods of the
design speak iBGP only (a listen range in the SUT's AS), so the rules that concern eBGP
neighbors (RFC 7606 §7.5's LOCAL_PREF from an external peer, say) never apply at them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from harness.bgp.attribute_codes import (
    AGGREGATOR,
    AS_PATH,
    ATOMIC_AGGREGATE,
    CLUSTER_LIST,
    COMMUNITIES,
    EXTENDED_COMMUNITIES,
    LARGE_COMMUNITIES,
    LOCAL_PREF,
    MED,
    MP_REACH_NLRI,
    NEXT_HOP,
    OPTIONAL,
    ORIGIN,
    ORIGINATOR_ID,
    TRANSITIVE,
)
from harness.model.base import Family
from harness.robustness.builders import (
    UNKNOWN_AFI,
    UNKNOWN_MESSAGE_TYPE,
    WELL_KNOWN,
    Parts,
    added,
    asn,
    attribute_overruns_total,
    duplicate_mp_reach,
    edited,
    extended_length_misread,
    flagged,
    grown,
    ip_length,
    mac_length,
    mp_next_hop_length,
    mp_nlri,
    nlri_overrun,
    oversize,
    removed,
    route_length_disagrees,
    short_attribute_header,
    short_length,
    shrunk,
    total_past_message,
    unknown_afi,
    unknown_type,
    value,
    withdrawn_past_message,
)
from harness.robustness.raw import RawAttribute

EVPN, IPV4 = Family.L2VPN_EVPN, Family.IPV4_UNICAST
UNKNOWN_TRANSITIVE, UNKNOWN_NON_TRANSITIVE, UNKNOWN_WELL_KNOWN = 241, 242, 243  # unassigned
FIRST_MED, SECOND_MED = 10, 20

# NOTIFICATION codes (RFC 4271 §4.5, §6.1, §6.3)
MESSAGE_HEADER_ERROR, UPDATE_MESSAGE_ERROR = 1, 3
BAD_MESSAGE_LENGTH, BAD_MESSAGE_TYPE = 2, 3
MALFORMED_ATTRIBUTE_LIST, UNRECOGNIZED_WELL_KNOWN, OPTIONAL_ATTRIBUTE_ERROR = 1, 2, 9


class Action(StrEnum):
    TREAT_AS_WITHDRAW = "treat-as-withdraw"
    ATTRIBUTE_DISCARD = "attribute-discard"
    AFI_SAFI_DISABLE = "afi-safi-disable"
    SESSION_RESET = "session-reset"
    PASS_ON = "pass-on"


@dataclass(frozen=True)
class Case:
    """One malformed UPDATE and the rule it breaks.

    `also`: other actions the rule allows (RFC 7606 §7.11: "session reset" or "AFI/SAFI
    disable"). `attribute`: the type code an attribute-discard or pass-on case is judged by.
    `notification`: the (code, subcode) the rule names for a session reset. `oversize`: the
    message is over the session's maximum size on purpose (RFC 8654 §4)."""

    name: str
    rfc: str
    action: Action
    family: Family
    build: Callable[[Parts], bytes]
    what: str
    also: tuple[Action, ...] = ()
    attribute: int | None = None
    notification: tuple[int, int] | None = None
    oversize: bool = False

    @property
    def allowed(self) -> tuple[Action, ...]:
        return (self.action, *self.also)


# -- the cases ------------------------------------------------------------------------------------
TAW, DISCARD, RESET, AFI_SAFI, PASS = (
    Action.TREAT_AS_WITHDRAW,
    Action.ATTRIBUTE_DISCARD,
    Action.SESSION_RESET,
    Action.AFI_SAFI_DISABLE,
    Action.PASS_ON,
)
_MP = (AFI_SAFI,)  # RFC 7606 §7.11, §5.3: "session reset" or "AFI/SAFI disable"


CASES: tuple[Case, ...] = (
    # RFC 7606 §7: each well-known attribute with a bad length or value
    Case("origin-length-2", "RFC 7606 §7.1", TAW, IPV4, grown(ORIGIN), "ORIGIN of 2 octets"),
    Case("origin-undefined", "RFC 7606 §7.1", TAW, IPV4, value(ORIGIN, b"\x07"), "ORIGIN 7"),
    Case(
        "as-path-unknown-segment-type",
        "RFC 7606 §7.2",
        TAW,
        IPV4,
        value(AS_PATH, b"\x05\x01" + asn(64600)),
        "AS_PATH segment of type 5",
    ),
    Case(
        "as-path-segment-overrun",
        "RFC 7606 §7.2",
        TAW,
        IPV4,
        value(AS_PATH, b"\x02\x03" + asn(64600) + asn(64601)),
        "AS_SEQUENCE of 3 ASNs carrying 2",
    ),
    Case(
        "as-path-segment-underrun",
        "RFC 7606 §7.2",
        TAW,
        IPV4,
        value(AS_PATH, b"\x02\x01" + asn(64600) + b"\x02"),
        "one octet after the last AS_PATH segment",
    ),
    Case(
        "as-path-zero-length-segment",
        "RFC 7606 §7.2",
        TAW,
        IPV4,
        value(AS_PATH, b"\x02\x00"),
        "AS_SEQUENCE of 0 ASNs",
    ),
    Case("next-hop-length-5", "RFC 7606 §7.3", TAW, IPV4, grown(NEXT_HOP), "NEXT_HOP of 5 octets"),
    Case("med-length-2", "RFC 7606 §7.4", TAW, IPV4, added(OPTIONAL, MED, b"\x00\x07"), "MED of 2"),
    Case(
        "med-length-2-evpn",
        "RFC 7606 §7.4",
        TAW,
        EVPN,
        added(OPTIONAL, MED, b"\x00\x07"),
        "MED of 2",
    ),
    Case(
        "local-pref-length-2", "RFC 7606 §7.5", TAW, IPV4, shrunk(LOCAL_PREF, 2), "LOCAL_PREF of 2"
    ),
    Case(
        "atomic-aggregate-length-1",
        "RFC 7606 §7.6",
        DISCARD,
        IPV4,
        added(WELL_KNOWN, ATOMIC_AGGREGATE, b"\x01"),
        "ATOMIC_AGGREGATE of 1 octet",
        attribute=ATOMIC_AGGREGATE,
    ),
    Case(
        "aggregator-length-7",
        "RFC 7606 §7.7",
        DISCARD,
        IPV4,
        added(OPTIONAL | TRANSITIVE, AGGREGATOR, asn(64600) + b"\x0a\x09\x09"),
        "AGGREGATOR of 7 octets",
        attribute=AGGREGATOR,
    ),
    Case(
        "communities-length-3",
        "RFC 7606 §7.8",
        TAW,
        IPV4,
        added(OPTIONAL | TRANSITIVE, COMMUNITIES, b"\xfc\x02\x00"),
        "COMMUNITIES of 3 octets",
    ),
    Case(
        "communities-length-0",
        "RFC 7606 §7.8",
        TAW,
        IPV4,
        added(OPTIONAL | TRANSITIVE, COMMUNITIES, b""),
        "COMMUNITIES of 0 octets",
    ),
    Case(
        "ext-communities-length-15",
        "RFC 7606 §7.14",
        TAW,
        EVPN,
        shrunk(EXTENDED_COMMUNITIES),
        "EXTENDED_COMMUNITIES of 15 octets",
    ),
    Case(
        "large-communities-length-11",
        "RFC 8092 §5",
        TAW,
        IPV4,
        added(OPTIONAL | TRANSITIVE, LARGE_COMMUNITIES, bytes(11)),
        "LARGE_COMMUNITIES of 11 octets",
    ),
    Case(
        "originator-id-length-3",
        "RFC 7606 §7.9",
        TAW,
        IPV4,
        added(OPTIONAL, ORIGINATOR_ID, b"\x0a\x00\x00"),
        "ORIGINATOR_ID of 3 octets",
    ),
    Case(
        "cluster-list-length-0",
        "RFC 7606 §7.10",
        TAW,
        IPV4,
        added(OPTIONAL, CLUSTER_LIST, b""),
        "CLUSTER_LIST of 0 octets",
    ),
    Case(
        "cluster-list-length-6",
        "RFC 7606 §7.10",
        TAW,
        EVPN,
        added(OPTIONAL, CLUSTER_LIST, b"\x09\x09\x09\x09\x09\x09"),
        "CLUSTER_LIST of 6 octets",
    ),
    # RFC 7606 §3 c, §4: attribute flags and lengths
    Case(
        "origin-optional-bit",
        "RFC 7606 §3 c",
        TAW,
        IPV4,
        flagged(ORIGIN, OPTIONAL | TRANSITIVE),
        "ORIGIN flagged optional",
    ),
    Case(
        "local-pref-optional-bit",
        "RFC 7606 §3 c",
        TAW,
        EVPN,
        flagged(LOCAL_PREF, OPTIONAL | TRANSITIVE),
        "LOCAL_PREF flagged optional",
    ),
    Case(
        "extended-length-misread",
        "RFC 7606 §4",
        TAW,
        IPV4,
        edited(extended_length_misread),
        "ORIGIN with Extended Length set over a one-octet length",
    ),
    Case(
        "attribute-overruns-total-length",
        "RFC 7606 §4",
        TAW,
        IPV4,
        edited(attribute_overruns_total),
        "the last attribute's length runs past the Total Path Attribute Length",
    ),
    Case(
        "attribute-header-truncated",
        "RFC 7606 §4",
        TAW,
        IPV4,
        edited(short_attribute_header),
        "two octets left where an attribute header needs three",
    ),
    # RFC 7606 §3 d, g; RFC 4271 §5, §6.3: attributes missing, repeated, unrecognised
    Case("missing-origin", "RFC 7606 §3 d", TAW, IPV4, removed(ORIGIN), "no ORIGIN"),
    Case("missing-as-path", "RFC 7606 §3 d", TAW, IPV4, removed(AS_PATH), "no AS_PATH"),
    Case("missing-next-hop", "RFC 7606 §3 d", TAW, IPV4, removed(NEXT_HOP), "no NEXT_HOP"),
    Case("missing-origin-evpn", "RFC 7606 §3 d", TAW, EVPN, removed(ORIGIN), "no ORIGIN (EVPN)"),
    Case(
        "duplicate-med",
        "RFC 7606 §3 g",
        DISCARD,
        IPV4,
        edited(
            lambda u: u.add(RawAttribute(OPTIONAL, MED, FIRST_MED.to_bytes(4))).add(
                RawAttribute(OPTIONAL, MED, SECOND_MED.to_bytes(4))
            )
        ),
        f"MED {FIRST_MED}, then MED {SECOND_MED}",
        attribute=MED,
    ),
    Case(
        "duplicate-mp-reach",
        "RFC 7606 §3 g",
        RESET,
        EVPN,
        edited(duplicate_mp_reach),
        "MP_REACH_NLRI twice",
        notification=(UPDATE_MESSAGE_ERROR, MALFORMED_ATTRIBUTE_LIST),
    ),
    Case(
        "unrecognised-well-known",
        "RFC 4271 §6.3",
        RESET,
        IPV4,
        added(WELL_KNOWN, UNKNOWN_WELL_KNOWN, b"\x01"),
        f"well-known attribute type {UNKNOWN_WELL_KNOWN}",
        notification=(UPDATE_MESSAGE_ERROR, UNRECOGNIZED_WELL_KNOWN),
    ),
    Case(
        "unknown-optional-transitive",
        "RFC 4271 §5, §9",
        PASS,
        IPV4,
        added(OPTIONAL | TRANSITIVE, UNKNOWN_TRANSITIVE, b"\x5a\x17"),
        f"optional transitive attribute type {UNKNOWN_TRANSITIVE}",
        attribute=UNKNOWN_TRANSITIVE,
    ),
    Case(
        "unknown-optional-non-transitive",
        "RFC 4271 §5",
        DISCARD,
        EVPN,
        added(OPTIONAL, UNKNOWN_NON_TRANSITIVE, b"\x5a\x17"),
        f"optional non-transitive attribute type {UNKNOWN_NON_TRANSITIVE}",
        attribute=UNKNOWN_NON_TRANSITIVE,
    ),
    # RFC 7606 §7.11, §5.3; RFC 4760 §3: MP_REACH_NLRI
    Case(
        "mp-reach-next-hop-length-5",
        "RFC 7606 §7.11",
        RESET,
        EVPN,
        edited(mp_next_hop_length),
        "MP_REACH_NLRI next hop length 5 for a 4-octet VTEP",
        also=_MP,
    ),
    Case(
        "mp-reach-nlri-overrun",
        "RFC 7606 §5.3",
        RESET,
        EVPN,
        edited(lambda u: mp_nlri(u, nlri_overrun)),
        "an EVPN route running past MP_REACH_NLRI",
        also=_MP,
    ),
    Case(
        "mp-reach-too-short",
        "RFC 7606 §5.3",
        RESET,
        EVPN,
        edited(lambda u: setattr(u.attribute(MP_REACH_NLRI), "value", b"\x00\x19\x46\x04")),
        "MP_REACH_NLRI of 4 octets",
        also=_MP,
    ),
    Case(
        "mp-reach-unknown-afi",
        "RFC 4760 §7, RFC 4271 §6",
        RESET,
        EVPN,
        edited(unknown_afi),
        f"MP_REACH_NLRI for AFI {UNKNOWN_AFI} (never negotiated)",
        also=_MP,
        notification=(UPDATE_MESSAGE_ERROR, OPTIONAL_ATTRIBUTE_ERROR),
    ),
    # RFC 7432 §7.2 with RFC 7606 §5.3: EVPN NLRI that does not parse
    Case(
        "evpn-route-length-disagrees",
        "RFC 7432 §7.2, RFC 7606 §5.3",
        RESET,
        EVPN,
        edited(lambda u: mp_nlri(u, route_length_disagrees)),
        "type-2 route of 34 octets (33 for its fields)",
        also=_MP,
    ),
    Case(
        "evpn-mac-length-47",
        "RFC 7432 §7.2, RFC 7606 §5.3",
        RESET,
        EVPN,
        edited(lambda u: mp_nlri(u, mac_length)),
        "type-2 MAC Address Length 47",
        also=_MP,
    ),
    Case(
        "evpn-ip-length-24",
        "RFC 7432 §7.2, RFC 7606 §5.3",
        RESET,
        EVPN,
        edited(lambda u: mp_nlri(u, ip_length)),
        "type-2 IP Address Length 24",
        also=_MP,
    ),
    # RFC 4271 §6.1, §6.3; RFC 8654 §4: the message's own lengths
    Case(
        "total-attribute-length-past-message",
        "RFC 4271 §6.3",
        RESET,
        IPV4,
        edited(total_past_message),
        "Total Path Attribute Length past the end of the message",
        notification=(UPDATE_MESSAGE_ERROR, MALFORMED_ATTRIBUTE_LIST),
    ),
    Case(
        "withdrawn-length-past-message",
        "RFC 4271 §6.3",
        RESET,
        IPV4,
        edited(withdrawn_past_message),
        "Withdrawn Routes Length past the end of the message",
        notification=(UPDATE_MESSAGE_ERROR, MALFORMED_ATTRIBUTE_LIST),
    ),
    Case(
        "update-length-under-23",
        "RFC 4271 §6.1",
        RESET,
        IPV4,
        short_length,
        "UPDATE whose header Length is 22",
        notification=(MESSAGE_HEADER_ERROR, BAD_MESSAGE_LENGTH),
    ),
    Case(
        "unknown-message-type",
        "RFC 4271 §6.1",
        RESET,
        IPV4,
        unknown_type,
        f"an UPDATE's octets under message type {UNKNOWN_MESSAGE_TYPE}",
        notification=(MESSAGE_HEADER_ERROR, BAD_MESSAGE_TYPE),
    ),
    Case(
        "oversize-update",
        "RFC 8654 §4, RFC 4271 §6.1",
        RESET,
        IPV4,
        oversize,
        "UPDATE of over 4096 octets, extended messages not negotiated",
        notification=(MESSAGE_HEADER_ERROR, BAD_MESSAGE_LENGTH),
        oversize=True,
    ),
)


def case(name: str) -> Case:
    for c in CASES:
        if c.name == name:
            return c
    raise KeyError(f"no robustness case {name!r}")
