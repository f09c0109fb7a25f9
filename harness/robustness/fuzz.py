"""Seeded mutations of valid UPDATEs (`rr-harness fuzz`): the messages alone, no lab.

Message `i` of seed `S` is the same bytes on every run: its random generator is seeded with
(S, i), its route is the i-th of a fixed series, and its valid base comes from the harness's
own codec (`harness.bgp`). The base is EVPN or IPv4 unicast, with a random choice of the
optional attributes the RR passes on; then one to three mutations, each aimed at one field
(`raw.RawUpdate`): an attribute's length, flags, type code or value, an attribute dropped or
repeated, the NLRI bytes (IPv4 prefixes, or the EVPN route inside MP_REACH_NLRI: its type, its
length, its fields), MP_REACH_NLRI's next hop length, the withdrawn or path attribute length,
or plain byte flips anywhere after the marker. The header's Length is only ever made shorter
than the message: a longer one makes the RR wait for octets that never come (no finding, a
stall of the fuzzer until the hold timer).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from ipaddress import IPv4Address

from harness.bgp.attribute_codes import (
    EXTENDED_LENGTH,
    MP_REACH_NLRI,
    OPTIONAL,
    PARTIAL,
    TRANSITIVE,
)
from harness.bgp.attributes import Attributes
from harness.bgp.evpn import MacIpRoute
from harness.bgp.stream import HEADER_SIZE, MARKER
from harness.bgp.update import build_update
from harness.model.base import Family
from harness.robustness.raw import RawAttribute, RawUpdate

Nlri = str | MacIpRoute
KNOWN_CODES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 22, 32)


@dataclass(frozen=True)
class Sender:
    """Who the messages claim to come from: the crafted client's address (next hop, RD), its
    AS, the VNI's route target."""

    address: str
    asn: int
    vni: int

    def route(self, family: Family, index: int) -> Nlri:
        """The index-th route of the series: 10.192.0.0/10 prefixes, locally administered MACs."""
        if family is Family.IPV4_UNICAST:
            return f"{IPv4Address(0x0AC00000 + (index % 0x3FFFFF) * 256)}/24"
        mac = "02:fa:{:02x}:{:02x}:{:02x}:{:02x}".format(*index.to_bytes(4))
        return MacIpRoute(rd=f"{self.address}:{self.vni}", mac=mac, label=self.vni)

    def attributes(self, family: Family) -> Attributes:
        evpn = family is Family.L2VPN_EVPN
        return Attributes(
            next_hop=self.address,
            local_pref=100,
            ext_communities=(f"target:{self.asn}:{self.vni}", "encap:vxlan") if evpn else (),
        )


@dataclass(frozen=True)
class Mutant:
    """One fuzz message: its place in the run, its family and route, the mutations applied
    (in words), and the bytes."""

    seed: int
    index: int
    family: Family
    route: Nlri
    mutations: tuple[str, ...]
    message: bytes

    @property
    def key(self) -> str:
        return self.route if isinstance(self.route, str) else self.route.key


def _extras(rng: random.Random, base: Attributes) -> Attributes:
    """A random choice of the optional attributes an RR passes on (RFC 4456 §10)."""
    extra: dict[str, object] = {}
    if rng.random() < 0.5:
        extra["med"] = rng.randrange(0, 1 << 32)
    if rng.random() < 0.4:
        extra["communities"] = tuple(f"64514:{rng.randrange(1 << 16)}" for _ in range(3))
    if rng.random() < 0.3:
        extra["large_communities"] = ("64514:1:2",)
    if rng.random() < 0.3:
        extra["aggregator"] = "64600:10.9.9.9"
        extra["atomic_aggregate"] = True
    if rng.random() < 0.3:
        extra["as_path_segments"] = (("sequence", (64600, 64601)), ("set", (64602,)))
    if rng.random() < 0.3:
        extra["raw"] = ((OPTIONAL | TRANSITIVE, 241, rng.randbytes(rng.randrange(1, 9))),)
    return replace(base, **extra)  # type: ignore[arg-type]


def mutant(seed: int, index: int, sender: Sender) -> Mutant:
    """Message `index` of the run seeded `seed`."""
    rng = random.Random(f"{seed}:{index}")
    family = rng.choice((Family.L2VPN_EVPN, Family.IPV4_UNICAST))
    route = sender.route(family, index)
    attributes = _extras(rng, sender.attributes(family))
    update = RawUpdate.parse(build_update(family, [route], attributes=attributes))
    done: list[str] = []
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        name, mutate = rng.choice(MUTATIONS)
        said = mutate(update, rng)
        if said:
            done.append(f"{name}: {said}")
    message = update.encode()
    if rng.random() < 0.15:  # random byte flips, anywhere after the marker
        message, said = _flip(message, rng)
        done.append(f"byte-flips: {said}")
    return Mutant(seed, index, family, route, tuple(done) or ("none",), message)


Mutation = Callable[[RawUpdate, random.Random], str | None]


def _pick(update: RawUpdate, rng: random.Random) -> RawAttribute | None:
    return rng.choice(update.attributes) if update.attributes else None


def _length(update: RawUpdate, rng: random.Random) -> str | None:
    a = _pick(update, rng)
    if a is None:
        return None
    limit = 0xFFFF if a.flags & EXTENDED_LENGTH else 0xFF
    a.length = rng.choice((0, 1, len(a.value) - 1, len(a.value) + 1, limit, rng.randrange(limit)))
    a.length = max(0, min(a.length, limit))
    return f"type {a.code} length {len(a.value)} -> {a.length}"


def _flags(update: RawUpdate, rng: random.Random) -> str | None:
    a = _pick(update, rng)
    if a is None:
        return None
    bit = rng.choice((OPTIONAL, TRANSITIVE, PARTIAL, EXTENDED_LENGTH, 0x08, 0x01))
    old, a.flags = a.flags, a.flags ^ bit
    return f"type {a.code} flags {old:#04x} -> {a.flags:#04x}"


def _code(update: RawUpdate, rng: random.Random) -> str | None:
    a = _pick(update, rng)
    if a is None:
        return None
    old = a.code
    a.code = rng.choice((*KNOWN_CODES, 0, 11, 13, 17, 35, 128, 241, 255))
    return f"type {old} -> {a.code}"


def _value(update: RawUpdate, rng: random.Random) -> str | None:
    a = _pick(update, rng)
    if a is None or not a.value:
        return None
    value = bytearray(a.value)
    at = rng.randrange(len(value))
    value[at] = rng.randrange(256)
    a.value = bytes(value)
    return f"type {a.code} value octet {at} -> {value[at]:#04x}"


def _truncate(update: RawUpdate, rng: random.Random) -> str | None:
    a = _pick(update, rng)
    if a is None or not a.value:
        return None
    keep = rng.randrange(len(a.value))
    a.value = a.value[:keep]
    return f"type {a.code} value cut to {keep} octets"


def _extend(update: RawUpdate, rng: random.Random) -> str | None:
    a = _pick(update, rng)
    if a is None:
        return None
    extra = rng.randbytes(rng.randrange(1, 9))
    a.value += extra
    return f"type {a.code} value + {extra.hex()}"


def _drop(update: RawUpdate, rng: random.Random) -> str | None:
    a = _pick(update, rng)
    if a is None:
        return None
    update.attributes.remove(a)
    return f"type {a.code} dropped"


def _repeat(update: RawUpdate, rng: random.Random) -> str | None:
    a = _pick(update, rng)
    if a is None:
        return None
    update.add(RawAttribute(a.flags, a.code, rng.choice((a.value, rng.randbytes(len(a.value))))))
    return f"type {a.code} twice"


def _nlri(update: RawUpdate, rng: random.Random) -> str | None:
    """One octet of the NLRI changed: the IPv4 prefixes, or the EVPN route in MP_REACH_NLRI
    (its type at 0, its length at 1, its fields after)."""
    if update.nlri:
        nlri = bytearray(update.nlri)
        at = rng.randrange(len(nlri))
        nlri[at] = rng.choice((0, 33, 255, rng.randrange(256)))
        update.nlri = bytes(nlri)
        return f"IPv4 NLRI octet {at} -> {nlri[at]}"
    try:
        reach = update.attribute(MP_REACH_NLRI)
        start = update.mp_nlri_offset()
    except (KeyError, IndexError):
        return None
    if start >= len(reach.value):
        return None
    value = bytearray(reach.value)
    at = rng.choice((start, start + 1, rng.randrange(start, len(value))))
    value[at] = rng.choice((0, 1, 4, 5, 47, 48, 255, rng.randrange(256)))
    reach.value = bytes(value)
    return f"MP_REACH_NLRI NLRI octet {at - start} -> {value[at]}"


def _next_hop_length(update: RawUpdate, rng: random.Random) -> str | None:
    try:
        reach = update.attribute(MP_REACH_NLRI)
    except KeyError:
        return None
    if len(reach.value) < 4:
        return None
    size = rng.choice((0, 3, 5, 16, 32, 255))
    reach.value = reach.value[:3] + bytes([size]) + reach.value[4:]
    return f"MP_REACH_NLRI next hop length -> {size}"


def _lengths(update: RawUpdate, rng: random.Random) -> str | None:
    """The withdrawn routes or total path attribute length, or the header's (shorter only)."""
    encoded = update.encode()
    which = rng.choice(("withdrawn", "attributes", "message"))
    if which == "withdrawn":
        update.withdrawn_length = rng.choice((1, 4, 255, rng.randrange(1 << 16)))
        return f"withdrawn routes length -> {update.withdrawn_length}"
    if which == "attributes":
        attributes = sum(len(a.encode()) for a in update.attributes)
        update.attributes_length = max(0, attributes + rng.choice((-3, -1, 1, 2, 200)))
        return f"total path attribute length {attributes} -> {update.attributes_length}"
    update.message_length = rng.randrange(HEADER_SIZE, len(encoded))
    return f"message length {len(encoded)} -> {update.message_length}"


def _flip(message: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One to four random octets after the marker and the header's Length (which only the
    length mutation touches), each XORed with a random non-zero value."""
    data = bytearray(message)
    where = []
    for _ in range(rng.randrange(1, 5)):
        at = rng.randrange(len(MARKER) + 2, len(data))
        data[at] ^= rng.randrange(1, 256)
        where.append(at)
    return bytes(data), f"octets {sorted(where)}"


MUTATIONS: tuple[tuple[str, Mutation], ...] = (
    ("attribute-length", _length),
    ("attribute-flags", _flags),
    ("attribute-type", _code),
    ("attribute-value", _value),
    ("attribute-truncated", _truncate),
    ("attribute-extended", _extend),
    ("attribute-dropped", _drop),
    ("attribute-repeated", _repeat),
    ("nlri", _nlri),
    ("nlri", _nlri),
    ("mp-next-hop-length", _next_hop_length),
    ("lengths", _lengths),
)
