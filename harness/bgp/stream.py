"""A BGP byte stream: the header (RFC 4271 §4.1), each session's maximum message size (RFC 4271
§4, RFC 8654 §4) and the stream cut into whole messages. Standard library only: the crafted
speaker's process imports it without scapy.

RFC 4271 caps a message at 4096 octets. RFC 8654 raises the cap to 65535 octets for every
message but OPEN and KEEPALIVE once the BGP Extended Message capability (code 6) is in use: a
capability is used on a session when both OPENs carried it (RFC 5492 §3; FRR 8.4 decides the
same way, `peer->max_packet_size` set only when the capability was advertised and received).
"""

from __future__ import annotations

from collections.abc import Iterator

MARKER = b"\xff" * 16
HEADER_SIZE = 19
MAX_MESSAGE_SIZE = 4096  # RFC 4271 §4
MAX_EXTENDED_MESSAGE_SIZE = 65535  # RFC 8654 §4
OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE_REFRESH = 1, 2, 3, 4, 5
CAPABILITIES = 2  # optional parameter type (RFC 5492 §4)
EXTENDED_MESSAGE = 6  # capability code (RFC 8654 §3)
CONNECTION_NOT_SYNCHRONIZED, BAD_MESSAGE_LENGTH = 1, 2  # Message Header Error (RFC 4271 §6.1)


def frame(kind: int, body: bytes = b"") -> bytes:
    """One message: marker, length, type, body (RFC 4271 §4.1)."""
    return MARKER + (HEADER_SIZE + len(body)).to_bytes(2, "big") + bytes([kind]) + body


class FramingError(ValueError):
    """The stream is not BGP messages within the session's maximum (RFC 4271 §6.1): `subcode`
    of Message Header Error, `data` for its NOTIFICATION (the erroneous Length field)."""

    def __init__(self, text: str, subcode: int, data: bytes = b"") -> None:
        super().__init__(text)
        self.subcode = subcode
        self.data = data


def size_limit(kind: int, max_size: int) -> int:
    """The largest message of type `kind` on a session whose maximum is `max_size`: OPEN and
    KEEPALIVE stay within 4096 octets whatever was negotiated (RFC 8654 §4)."""
    return MAX_MESSAGE_SIZE if kind in (OPEN, KEEPALIVE) else max_size


def split_messages(
    buffer: bytes, max_size: int = MAX_MESSAGE_SIZE
) -> tuple[list[tuple[int, bytes]], bytes]:
    """Whole messages (type, bytes) at the start of a TCP byte stream, and the unconsumed tail.

    `max_size` is the session's maximum (`negotiated_max_size`). A marker that is not all ones,
    or a length outside 19..maximum, raises FramingError (RFC 4271 §4.1, §6.1; RFC 8654 §4):
    the stream cannot be resynchronised after that.
    """
    messages: list[tuple[int, bytes]] = []
    pos = 0
    while True:
        head = buffer[pos : pos + HEADER_SIZE]
        if head[:16] != MARKER[: len(head[:16])]:
            raise FramingError(
                f"BGP message at offset {pos}: marker is not all ones", CONNECTION_NOT_SYNCHRONIZED
            )
        if len(head) < HEADER_SIZE:
            return messages, bytes(buffer[pos:])
        length = int.from_bytes(head[16:18], "big")
        limit = size_limit(head[18], max_size)
        if not HEADER_SIZE <= length <= limit:
            raise FramingError(
                f"BGP message at offset {pos}: length {length} is outside {HEADER_SIZE}..{limit}"
                + _why(head[18], limit),
                BAD_MESSAGE_LENGTH,
                bytes(head[16:18]),
            )
        if pos + length > len(buffer):
            return messages, bytes(buffer[pos:])
        messages.append((head[18], bytes(buffer[pos : pos + length])))
        pos += length


def first_message_end(buffer: bytes) -> int:
    """Where the first message of a byte stream ends, as far as its header says: a receiver
    that reads one message at a time (each may change the session's maximum, or be the last)
    splits `buffer[:first_message_end(buffer)]`. A length under 19 is left for
    `split_messages` to refuse."""
    if len(buffer) < HEADER_SIZE:
        return len(buffer)
    return max(HEADER_SIZE, int.from_bytes(buffer[16:18], "big"))


def _why(kind: int, limit: int) -> str:
    if kind in (OPEN, KEEPALIVE):
        return " (an OPEN or KEEPALIVE is never an extended message, RFC 8654 §4)"
    if limit == MAX_MESSAGE_SIZE:
        return " (RFC 4271 §4; 65535 once both OPENs carry Extended Message, RFC 8654 §4)"
    return ""


def check_size(message: bytes, max_size: int) -> None:
    """ValueError when a message to send is over its session's maximum (RFC 8654 §4)."""
    kind = message[18] if len(message) > 18 else 0
    limit = size_limit(kind, max_size)
    if len(message) > limit:
        raise ValueError(
            f"message is {len(message)} octets, over the {limit}-octet limit"
            + (_why(kind, limit) or " (RFC 8654 §4)")
        )


def capabilities(message: bytes) -> Iterator[tuple[int, bytes]]:
    """(code, value) of each capability of an OPEN (RFC 4271 §4.2, RFC 5492 §4), as far as the
    message is well formed: a truncated parameter or capability ends the walk."""
    body = message[HEADER_SIZE:]
    if len(message) < HEADER_SIZE + 10 or message[18] != OPEN:
        return
    params = body[10 : 10 + body[9]]
    at = 0
    while at + 2 <= len(params):
        kind, size = params[at], params[at + 1]
        value, at = params[at + 2 : at + 2 + size], at + 2 + size
        pos = 0
        while kind == CAPABILITIES and pos + 2 <= len(value):
            code, length = value[pos], value[pos + 1]
            yield code, bytes(value[pos + 2 : pos + 2 + length])
            pos += 2 + length


def advertises_extended_message(open_message: bytes) -> bool:
    """Whether an OPEN carries the BGP Extended Message capability (RFC 8654 §3)."""
    return any(code == EXTENDED_MESSAGE for code, _ in capabilities(open_message))


def negotiated_max_size(first: bytes | None, second: bytes | None) -> int | None:
    """A session's maximum message size from its two OPENs (either order; None: not seen):
    65535 when both carry the Extended Message capability, 4096 when one that was seen lacks
    it (RFC 8654 §4, RFC 5492 §3); None when that cannot be told (an OPEN missing, the other
    carrying the capability or missing too)."""
    seen = [m for m in (first, second) if m is not None]
    if not all(advertises_extended_message(m) for m in seen):
        return MAX_MESSAGE_SIZE
    return MAX_EXTENDED_MESSAGE_SIZE if len(seen) == 2 else None
