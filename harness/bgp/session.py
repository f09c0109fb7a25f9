"""OPEN (RFC 4271 §4.2, capabilities RFC 5492), KEEPALIVE (§4.4) and NOTIFICATION (§4.5)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address

from scapy.packet import Packet

from harness.bgp.framing import (
    AFI_SAFI,
    FAMILY_OF,
    HEADER_SIZE,
    NOTIFICATION,
    OPEN,
    U8,
    U16,
    U32,
    build_message,
    check_uint,
    message_body,
    parse_ipv4,
    scapy_bgp,
)
from harness.bgp.stream import EXTENDED_MESSAGE
from harness.model.base import Family

AS_TRANS = 23456  # RFC 6793 §9


def _families(families: Iterable[Family | str]) -> list[Family]:
    return list(dict.fromkeys(Family(f) for f in families))


def build_open(
    asn: int,
    hold_time: int,
    router_id: str,
    families: Iterable[Family | str],
    extended_message: bool = True,
) -> bytes:
    """OPEN (RFC 4271 §4.2) with capabilities (RFC 5492): multiprotocol per family (RFC 4760
    §8), route refresh (RFC 2918), 4-octet AS (RFC 6793 §3; My AS is AS_TRANS above 65535) and,
    unless `extended_message` is false, BGP Extended Message (RFC 8654 §3), as FRR sends it.
    """
    check_uint(asn, U32, "AS number")
    check_uint(hold_time, U16, "hold time")
    capabilities: list[Packet] = [
        scapy_bgp.BGPCapMultiprotocol(afi=afi, safi=safi)
        for afi, safi in (AFI_SAFI[f] for f in _families(families))
    ]
    capabilities.append(scapy_bgp.BGPCapGeneric(code=2))
    if extended_message:
        capabilities.append(scapy_bgp.BGPCapGeneric(code=EXTENDED_MESSAGE))
    capabilities.append(scapy_bgp.BGPCapFourBytesASN(asn=asn))
    return build_message(
        scapy_bgp.BGPHeader(type=OPEN)
        / scapy_bgp.BGPOpen(
            version=4,
            my_as=asn if asn <= U16 else AS_TRANS,
            hold_time=hold_time,
            bgp_id=str(parse_ipv4(router_id, "router id")),
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

    @property
    def extended_message(self) -> bool:
        """It carries the BGP Extended Message capability (RFC 8654 §3)."""
        return any(code == EXTENDED_MESSAGE for code, _ in self.capabilities)


def decode_open(message: bytes) -> OpenMessage:
    """Decode an OPEN (RFC 4271 §4.2), capabilities per RFC 5492 §4 (several per parameter)."""
    body = message_body(message, OPEN)
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
            family = FAMILY_OF.get((int.from_bytes(value[:2]), value[3]))
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
    return build_message(scapy_bgp.BGPKeepAlive())


def build_notification(code: int, subcode: int, data: bytes = b"") -> bytes:
    """NOTIFICATION (RFC 4271 §4.5)."""
    return build_message(
        scapy_bgp.BGPHeader(type=NOTIFICATION)
        / scapy_bgp.BGPNotification(
            error_code=check_uint(code, U8, "error code"),
            error_subcode=check_uint(subcode, U8, "error subcode"),
            data=bytes(data),
        )
    )
