"""BGP message framing (RFC 4271 §4.1), on `scapy.contrib.bgp` loaded quietly with 4-octet AS.

scapy builds the header, OPEN, KEEPALIVE, NOTIFICATION and the UPDATE frame with its
well-known attributes; the rest of `harness.bgp` is ours where scapy does not encode or decode
correctly. Here: address families (RFC 4760 §3, RFC 7432 §7) and a whole message built with
its size check (RFC 4271 §4, RFC 8654 §4); the header constants, the session's maximum message
size and a TCP byte stream split into messages (RFC 4271 §4.1, §6.1) are `harness.bgp.stream`'s
(standard library only), re-exported here.
"""

from __future__ import annotations

import logging
import struct

from harness.bgp.numbers import (
    AFI_SAFI,
    FAMILY_OF,
    U8,
    U16,
    U24,
    U32,
    check_uint,
    parse_ipv4,
)
from harness.bgp.stream import (
    HEADER_SIZE,
    KEEPALIVE,
    MARKER,
    MAX_EXTENDED_MESSAGE_SIZE,
    MAX_MESSAGE_SIZE,
    NOTIFICATION,
    OPEN,
    ROUTE_REFRESH,
    UPDATE,
    check_size,
    split_messages,
)

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


def build_message(message: Packet, max_size: int = MAX_MESSAGE_SIZE) -> bytes:
    """A scapy message's octets; ValueError over the session's maximum `max_size` (4096 octets,
    RFC 4271 §4; up to 65535 with extended messages, never for OPEN or KEEPALIVE: RFC 8654 §4)."""
    try:
        data = bytes(message)
    except struct.error as exc:  # a Length over 65535, which no header can say
        raise ValueError(
            f"message is over the {MAX_EXTENDED_MESSAGE_SIZE}-octet limit (RFC 8654 §4; scapy: "
            f"{exc}): send fewer NLRI per UPDATE"
        ) from None
    try:
        check_size(data, max_size)
    except ValueError as exc:
        raise ValueError(f"{exc}: send fewer NLRI per UPDATE") from None
    return data


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


__all__ = [  # the header constants and stream splitting are re-exported from `stream`
    "AFI_SAFI",
    "FAMILY_OF",
    "HEADER_SIZE",
    "KEEPALIVE",
    "MARKER",
    "MAX_EXTENDED_MESSAGE_SIZE",
    "MAX_MESSAGE_SIZE",
    "NOTIFICATION",
    "OPEN",
    "ROUTE_REFRESH",
    "U8",
    "U16",
    "U24",
    "U32",
    "UPDATE",
    "build_message",
    "check_uint",
    "message_body",
    "parse_ipv4",
    "scapy_bgp",
    "split_messages",
]
