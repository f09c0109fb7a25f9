"""What the harness's own RR makes of one UPDATE (RFC 4271 §4.3, §6.3; RFC 4760; RFC 7606): its
routes, and the error handling its faults ask for. Stdlib only: it runs inside
`reflector_process`.

`examine` parses an UPDATE the way RFC 7606 asks a speaker to: what can be parsed reliably is
kept; a malformed attribute makes the UPDATE *treat-as-withdraw* (§2: its routes withdrawn) or
is *discarded* (§2), as §7 says for its type; what cannot be parsed reliably (the message's own
lengths, MP_REACH_NLRI and the NLRI, a repeated MP attribute, an unrecognised well-known
attribute) is a *session reset*, with the NOTIFICATION RFC 4271 §6 names. Every error also
carries the NOTIFICATION subcode RFC 4271 §6.3 gives it, for a reflector that predates RFC 7606
(fault `reset-on-every-update-error`: every error ends the session).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.bgp.attribute_codes import (
    AGGREGATOR,
    AS4_AGGREGATOR,
    AS4_PATH,
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
    TRANSITIVE,
)
from harness.bgp.stream import HEADER_SIZE

IPV4, IPV6, L2VPN, UNICAST, EVPN = 1, 2, 25, 1, 70
# UPDATE Message Error subcodes (RFC 4271 §4.5, §6.3)
MALFORMED_LIST, UNRECOGNIZED_WELL_KNOWN, MISSING_WELL_KNOWN, FLAGS_ERROR = 1, 2, 3, 4
LENGTH_ERROR, INVALID_ORIGIN, OPTIONAL_ERROR = 5, 6, 9
INVALID_NETWORK, MALFORMED_AS_PATH = 10, 11
UPDATE_ERROR = 3

Attribute = tuple[int, int, bytes]  # flags (Extended Length cleared), type, value
RouteKey = tuple[int, int, bytes]  # (AFI, SAFI, the NLRI's identity: without its label)

WELL_KNOWN = TRANSITIVE
FLAGS = {  # the Optional and Transitive bits each known attribute must carry (RFC 7606 §3 c)
    ORIGIN: WELL_KNOWN,
    AS_PATH: WELL_KNOWN,
    NEXT_HOP: WELL_KNOWN,
    LOCAL_PREF: WELL_KNOWN,
    ATOMIC_AGGREGATE: WELL_KNOWN,
    MED: OPTIONAL,
    ORIGINATOR_ID: OPTIONAL,
    CLUSTER_LIST: OPTIONAL,
    MP_REACH_NLRI: OPTIONAL,
    MP_UNREACH_NLRI: OPTIONAL,
    AGGREGATOR: OPTIONAL | TRANSITIVE,
    COMMUNITIES: OPTIONAL | TRANSITIVE,
    EXTENDED_COMMUNITIES: OPTIONAL | TRANSITIVE,
    LARGE_COMMUNITIES: OPTIONAL | TRANSITIVE,
    AS4_PATH: OPTIONAL | TRANSITIVE,
    AS4_AGGREGATOR: OPTIONAL | TRANSITIVE,
}
TAW, DISCARD = "treat-as-withdraw", "attribute-discard"


class SessionReset(ValueError):
    """What cannot be parsed reliably: the session ends with this NOTIFICATION."""

    def __init__(
        self, reason: str, subcode: int, data: bytes = b"", code: int = UPDATE_ERROR
    ) -> None:
        super().__init__(reason)
        self.code, self.subcode, self.data = code, subcode, data


@dataclass(frozen=True)
class HeldPath:
    attributes: list[Attribute]
    next_hop: bytes  # MP_REACH_NLRI's (RFC 4760 §3); IPv4 unicast's is the NEXT_HOP attribute
    nlri: bytes  # as received, label included


@dataclass(frozen=True)
class Error:
    """One malformed attribute: the RFC 7606 action, and RFC 4271 §6.3's subcode for it."""

    action: str
    subcode: int
    reason: str


@dataclass
class Examined:
    announced: dict[RouteKey, HeldPath] = field(default_factory=dict)
    withdrawn: dict[RouteKey, bytes] = field(default_factory=dict)  # key -> NLRI as sent
    errors: list[Error] = field(default_factory=list)

    @property
    def treat_as_withdraw(self) -> bool:
        return any(e.action == TAW for e in self.errors)


def identity(afi: int, safi: int, nlri: bytes) -> RouteKey:
    """What names a route: of an EVPN MAC/IP route, its type, RD, Ethernet tag, MAC and IP
    (RFC 7432 §7.2: not its ESI, its labels, the length octet that counts them); of an IP prefix
    route, its type, RD, Ethernet tag and prefix (RFC 9136 §3.1); of a unicast route, the
    prefix."""
    value = nlri[2:]
    if (afi, safi) == (L2VPN, EVPN) and nlri and nlri[0] == 2 and len(value) >= 30:
        ip_end = 30 + value[29] // 8
        return afi, safi, b"\x02" + value[0:8] + value[18:22] + value[22:29] + value[29:ip_end]
    if (afi, safi) == (L2VPN, EVPN) and nlri and nlri[0] == 5 and len(value) in (34, 58):
        prefix_end = 23 + (4 if len(value) == 34 else 16)
        return afi, safi, b"\x05" + value[0:8] + value[18:22] + value[22:prefix_end]
    return afi, safi, nlri


def _evpn_route_ok(route_type: int, value: bytes) -> bool:
    """RFC 7432 §7 (and RFC 9136 §3.1 for type 5): a route's length agrees with its fields."""
    n = len(value)
    if route_type == 2:  # RD, ESI, tag, MAC length (48), MAC, IP length, IP, 1 or 2 labels
        if n < 30 or value[22] != 48 or value[29] not in (0, 32, 128):
            return False
        return n in (33 + value[29] // 8, 36 + value[29] // 8)
    if route_type == 3:  # RD, tag, IP length, originating router's IP
        return n >= 13 and value[12] in (32, 128) and n == 13 + value[12] // 8
    if route_type == 1:
        return n == 25
    if route_type == 4:
        return n >= 19 and value[18] in (32, 128) and n == 19 + value[18] // 8
    if route_type == 5:
        return n in (34, 58)
    return True  # a type this RR does not know: carried as it is


def split_nlri(afi: int, safi: int, data: bytes) -> list[bytes]:
    """Each NLRI of a family as its own bytes (a prefix, RFC 4271 §4.3; an EVPN route, RFC 7432
    §7); SessionReset when they do not parse (RFC 7606 §5.3)."""
    out, pos = [], 0
    while pos < len(data):
        if (afi, safi) == (L2VPN, EVPN):
            if pos + 2 > len(data):
                raise SessionReset("EVPN NLRI cut short", OPTIONAL_ERROR)
            end = pos + 2 + data[pos + 1]
            if end <= len(data) and not _evpn_route_ok(data[pos], data[pos + 2 : end]):
                raise SessionReset(f"EVPN type-{data[pos]} route fields disagree", OPTIONAL_ERROR)
        elif safi == UNICAST and afi in (IPV4, IPV6):
            bits = data[pos]
            if bits > (32 if afi == IPV4 else 128):
                raise SessionReset(f"prefix length {bits}", INVALID_NETWORK)
            end = pos + 1 + (bits + 7) // 8
        else:
            raise SessionReset(f"AFI/SAFI {afi}/{safi}", OPTIONAL_ERROR)
        if end > len(data):
            raise SessionReset("NLRI runs past its field", INVALID_NETWORK)
        out.append(data[pos:end])
        pos = end
    return out


def _as_path_ok(value: bytes) -> bool:
    """RFC 7606 §7.2: 4-octet segments (RFC 6793) of a known type, none empty, that fill the
    attribute exactly."""
    pos = 0
    while pos < len(value):
        if pos + 2 > len(value) or value[pos] not in (1, 2, 3, 4) or value[pos + 1] == 0:
            return False
        pos += 2 + 4 * value[pos + 1]
    return pos == len(value)


def _value_error(kind: int, value: bytes) -> Error | None:
    """RFC 7606 §7 for each attribute type (iBGP, 4-octet AS negotiated)."""
    n = len(value)
    checks: dict[int, tuple[bool, str, int]] = {
        ORIGIN: (n == 1 and value[0] <= 2, TAW, INVALID_ORIGIN if n == 1 else LENGTH_ERROR),
        AS_PATH: (_as_path_ok(value), TAW, MALFORMED_AS_PATH),
        NEXT_HOP: (n == 4, TAW, LENGTH_ERROR),
        MED: (n == 4, TAW, LENGTH_ERROR),
        LOCAL_PREF: (n == 4, TAW, LENGTH_ERROR),
        ATOMIC_AGGREGATE: (n == 0, DISCARD, LENGTH_ERROR),
        AGGREGATOR: (n == 8, DISCARD, LENGTH_ERROR),
        COMMUNITIES: (n > 0 and n % 4 == 0, TAW, OPTIONAL_ERROR),
        ORIGINATOR_ID: (n == 4, TAW, LENGTH_ERROR),
        CLUSTER_LIST: (n > 0 and n % 4 == 0, TAW, LENGTH_ERROR),
        EXTENDED_COMMUNITIES: (n > 0 and n % 8 == 0, TAW, OPTIONAL_ERROR),
        LARGE_COMMUNITIES: (n > 0 and n % 12 == 0, TAW, OPTIONAL_ERROR),
    }
    ok, action, subcode = checks.get(kind, (True, TAW, OPTIONAL_ERROR))
    return None if ok else Error(action, subcode, f"attribute {kind} of {n} octets: malformed")


def _walk(data: bytes) -> tuple[list[Attribute], str | None]:
    """The attributes of the Path Attributes field, and why the walk stopped early (RFC 7606
    §4: a header or length that runs past the field), if it did."""
    out, pos = [], 0
    while pos < len(data):
        flags, head = data[pos], 4 if data[pos] & EXTENDED_LENGTH else 3
        if pos + head > len(data):
            return out, "an attribute header runs past the path attributes"
        length = int.from_bytes(data[pos + 2 : pos + head], "big")
        if pos + head + length > len(data):
            return out, f"attribute {data[pos + 1]}: length {length} runs past the attributes"
        out.append(
            (flags & ~EXTENDED_LENGTH, data[pos + 1], data[pos + head : pos + head + length])
        )
        pos += head + length
    return out, None


def _mp_reach(value: bytes, families: set[tuple[int, int]]) -> tuple[int, int, bytes, list[bytes]]:
    """RFC 4760 §3, RFC 7606 §7.11: AFI, SAFI, next hop, NLRI; SessionReset on any error."""
    if len(value) < 5 or len(value) < 5 + value[3]:
        raise SessionReset(f"MP_REACH_NLRI of {len(value)} octets", OPTIONAL_ERROR)
    afi, safi, nh_len = int.from_bytes(value[0:2], "big"), value[2], value[3]
    if (afi, safi) not in families:  # RFC 4760 §7: a family never negotiated
        raise SessionReset(f"MP_REACH_NLRI for AFI/SAFI {afi}/{safi}", OPTIONAL_ERROR)
    if nh_len not in ((4, 16, 32) if afi != IPV4 or safi != UNICAST else (4,)):
        raise SessionReset(f"MP_REACH_NLRI next hop length {nh_len}", OPTIONAL_ERROR)
    return afi, safi, value[4 : 4 + nh_len], split_nlri(afi, safi, value[5 + nh_len :])


def examine(message: bytes, families: set[tuple[int, int]]) -> Examined:
    """One UPDATE as RFC 7606 handles it: SessionReset for what ends the session."""
    body = message[HEADER_SIZE:]
    wlen = int.from_bytes(body[0:2], "big")
    if 2 + wlen + 2 > len(body):  # RFC 4271 §6.3
        raise SessionReset("Withdrawn Routes Length runs past the message", MALFORMED_LIST)
    alen = int.from_bytes(body[2 + wlen : 4 + wlen], "big")
    if 4 + wlen + alen > len(body):
        raise SessionReset("Total Path Attribute Length runs past the message", MALFORMED_LIST)
    out = Examined()
    for n in split_nlri(IPV4, UNICAST, body[2 : 2 + wlen]):
        out.withdrawn[identity(IPV4, UNICAST, n)] = n
    v4_nlri = split_nlri(IPV4, UNICAST, body[4 + wlen + alen :])
    attributes, broken = _walk(body[4 + wlen : 4 + wlen + alen])
    kept, mp = _attributes(attributes, families, out)
    if broken is not None:  # RFC 7606 §4: the routes that can be located are withdrawn
        if not v4_nlri and not mp:
            raise SessionReset(broken, MALFORMED_LIST)
        out.errors.append(Error(TAW, MALFORMED_LIST, broken))
    if v4_nlri or any(nlri for *_, nlri in mp):  # RFC 7606 §3 d, RFC 4271 §6.3: well-known
        present = {kind for _f, kind, _v in attributes}
        wanted = [ORIGIN, AS_PATH, LOCAL_PREF] + ([NEXT_HOP] if v4_nlri else [])
        out.errors += [
            Error(TAW, MISSING_WELL_KNOWN, f"no attribute {kind}")
            for kind in wanted
            if kind not in present
        ]
    plain = [a for a in kept if a[1] != NEXT_HOP]
    for n in v4_nlri:
        out.announced[identity(IPV4, UNICAST, n)] = HeldPath(kept, b"", n)
    for afi, safi, next_hop, nlri in mp:
        for n in nlri:
            out.announced[identity(afi, safi, n)] = HeldPath(plain, next_hop, n)
    if out.treat_as_withdraw:  # RFC 7606 §2: as if every route of it had been withdrawn
        out.withdrawn.update({key: path.nlri for key, path in out.announced.items()})
        out.announced.clear()
    return out


def _attributes(
    attributes: list[Attribute], families: set[tuple[int, int]], out: Examined
) -> tuple[list[Attribute], list[tuple[int, int, bytes, list[bytes]]]]:
    """The attributes kept (errors and MP_UNREACH_NLRI's withdrawals into `out`), and each
    MP_REACH_NLRI parsed."""
    kept: list[Attribute] = []
    seen: set[int] = set()
    mp: list[tuple[int, int, bytes, list[bytes]]] = []
    for flags, kind, value in attributes:
        if kind in seen:  # RFC 7606 §3 g: MP attributes repeated reset, others keep the first
            if kind in (MP_REACH_NLRI, MP_UNREACH_NLRI):
                raise SessionReset(f"attribute {kind} twice", MALFORMED_LIST)
            out.errors.append(Error(DISCARD, MALFORMED_LIST, f"attribute {kind} repeated"))
            continue
        seen.add(kind)
        if kind not in FLAGS:  # RFC 4271 §5, §6.3: unrecognised
            if not flags & OPTIONAL:
                raise SessionReset(
                    f"unrecognised well-known attribute {kind}",
                    UNRECOGNIZED_WELL_KNOWN,
                    bytes([kind]),
                )
            kept.append((flags, kind, value))  # passed on (Partial) or not, when reflected
        elif kind == MP_REACH_NLRI:
            mp.append(_mp_reach(value, families))
        elif kind == MP_UNREACH_NLRI:
            out.withdrawn.update(_mp_unreach(value))
        elif kind not in (AS4_PATH, AS4_AGGREGATOR):  # RFC 6793 §4.1: ignored between NEW
            error = _value_error(kind, value)
            if flags & (OPTIONAL | TRANSITIVE) != FLAGS[kind]:  # RFC 7606 §3 c: malformed
                action = DISCARD if kind in (ATOMIC_AGGREGATE, AGGREGATOR) else TAW
                error = Error(action, FLAGS_ERROR, f"attribute {kind} with flags {flags:#04x}")
            if error is not None:
                out.errors.append(error)
            if error is None or error.action != DISCARD:
                kept.append((flags, kind, value))
    return kept, mp


def _mp_unreach(value: bytes) -> dict[RouteKey, bytes]:
    if len(value) < 3:
        raise SessionReset(f"MP_UNREACH_NLRI of {len(value)} octets", OPTIONAL_ERROR)
    afi, safi = int.from_bytes(value[0:2], "big"), value[2]
    return {identity(afi, safi, n): n for n in split_nlri(afi, safi, value[3:])}
