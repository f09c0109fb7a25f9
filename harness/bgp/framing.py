"""BGP message framing (RFC 4271 §4.1), on `scapy.contrib.bgp` loaded quietly with 4-octet AS.

scapy builds the header, OPEN, KEEPALIVE, NOTIFICATION and the UPDATE frame with its
well-known attributes; the rest of `harness.bgp` is ours where scapy does not encode or decode
correctly. Here: the header constants, message type codes, address families (RFC 4760 §3,
RFC 7432 §7), a whole message built with its size check (RFC 4271 §4), and a TCP byte stream
split into messages (RFC 4271 §4.1, §6.1).
"""

from __future__ import annotations

import logging
from ipaddress import IPv4Address

from harness.model.base import Family

_scapy_log = logging.getLogger("scapy.runtime")
_level = _scapy_log.level
_scapy_log.setLevel(logging.ERROR)  # importing the module logs "use_2_bytes_asn: True"
try:
    from scapy.contrib import bgp as scapy_bgp
    from scapy.packet import Packet
finally:
    _scapy_log.setLevel(_level)

# 4-octet AS everywhere (RFC 6793): AS_PATH segments carry 4-octet ASNs. Process-wide, on purpose.
scapy_bgp.bgp_module_conf.use_2_bytes_asn = False

MARKER = b"\xff" * 16
HEADER_SIZE = 19
MAX_MESSAGE_SIZE = 4096  # RFC 4271 §4
OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE_REFRESH = 1, 2, 3, 4, 5

AFI_SAFI: dict[Family, tuple[int, int]] = {
    Family.IPV4_UNICAST: (1, 1),
    Family.IPV6_UNICAST: (2, 1),
    Family.L2VPN_EVPN: (25, 70),  # RFC 7432 §7
}
FAMILY_OF = {v: k for k, v in AFI_SAFI.items()}
U8, U16, U24, U32 = 0xFF, 0xFFFF, 0xFFFFFF, 0xFFFFFFFF


def check_uint(value: int, limit: int, what: str) -> int:
    """`value` if it is an integer in 0..limit, else ValueError naming `what`."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise ValueError(f"{what} {value!r} is not an integer in 0..{limit}")
    return value


def parse_ipv4(text: str, what: str) -> IPv4Address:
    """`text` as an IPv4 address, else ValueError naming `what`."""
    try:
        return IPv4Address(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not an IPv4 address") from None


def build_message(message: Packet) -> bytes:
    """A scapy message's octets; ValueError over 4096 octets (RFC 4271 §4)."""
    data = bytes(message)
    if len(data) > MAX_MESSAGE_SIZE:
        raise ValueError(
            f"message is {len(data)} octets, over the {MAX_MESSAGE_SIZE}-octet limit "
            "(RFC 4271 §4): send fewer NLRI per UPDATE"
        )
    return data


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


def message_body(message: bytes, kind: int) -> bytes:
    """What follows the header of one whole message of type `kind` (RFC 4271 §4.1)."""
    if len(message) < HEADER_SIZE or message[:16] != MARKER:
        raise ValueError("not a BGP message: shorter than 19 octets or marker not all ones")
    length = int.from_bytes(message[16:18])
    if length != len(message):
        raise ValueError(f"BGP header says {length} octets, the message has {len(message)}")
    if message[18] != kind:
        raise ValueError(f"BGP message type is {message[18]}, expected {kind}")
    return message[HEADER_SIZE:]
