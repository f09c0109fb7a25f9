"""An UPDATE as editable fields, to be made malformed on purpose (RFC 4271 §4.3, RFC 4760 §3).

The harness's codec (`harness.bgp`) builds valid UPDATEs and refuses to build anything else.
`RawUpdate.parse` takes such a valid message apart into its fields: the withdrawn routes, each
path attribute (flags, type code, value, and the length it claims), the NLRI; every length
field can be overridden, so a case or the fuzzer changes exactly one thing and `encode` puts
the message back together with everything else as it was. Nothing here checks anything: the
bytes are what the peer is to judge.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Self

from harness.bgp.attribute_codes import EXTENDED_LENGTH, MP_REACH_NLRI
from harness.bgp.stream import HEADER_SIZE, MARKER, UPDATE


@dataclass
class RawAttribute:
    """One path attribute (RFC 4271 §4.3): `length` overrides the Attribute Length field
    (None: the value's length), written in two octets when `flags` has Extended Length."""

    flags: int
    code: int
    value: bytes
    length: int | None = None

    def encode(self) -> bytes:
        size = len(self.value) if self.length is None else self.length
        wide = bool(self.flags & EXTENDED_LENGTH)
        head = bytes([self.flags & 0xFF, self.code & 0xFF])
        head += (size & 0xFFFF).to_bytes(2) if wide else bytes([size & 0xFF])
        return head + self.value


@dataclass
class RawUpdate:
    """An UPDATE's fields (RFC 4271 §4.3). The three length fields of the message (the header's
    Length, Withdrawn Routes Length, Total Path Attribute Length) follow the content unless
    overridden; `attributes_tail` ends the Path Attributes field with octets that are no
    attribute, `trailer` follows the NLRI (octets no field accounts for)."""

    withdrawn: bytes = b""
    attributes: list[RawAttribute] = field(default_factory=list)
    nlri: bytes = b""
    message_length: int | None = None
    withdrawn_length: int | None = None
    attributes_length: int | None = None
    attributes_tail: bytes = b""  # octets after the last attribute, inside the Path Attributes
    trailer: bytes = b""

    @classmethod
    def parse(cls, message: bytes) -> Self:
        """A well-formed UPDATE's fields (ValueError for anything else: this is for taking
        apart what the harness's own codec built)."""
        if len(message) < HEADER_SIZE + 4 or message[:16] != MARKER or message[18] != UPDATE:
            raise ValueError("not an UPDATE")
        body = message[HEADER_SIZE:]
        end = 2 + int.from_bytes(body[:2])
        attributes_end = end + 2 + int.from_bytes(body[end : end + 2])
        if attributes_end > len(body):
            raise ValueError("UPDATE: path attributes run past the message")
        return cls(
            withdrawn=bytes(body[2:end]),
            attributes=list(split_attributes(body[end + 2 : attributes_end])),
            nlri=bytes(body[attributes_end:]),
        )

    def copy(self) -> RawUpdate:
        return replace(self, attributes=[replace(a) for a in self.attributes])

    def encode(self) -> bytes:
        attributes = b"".join(a.encode() for a in self.attributes) + self.attributes_tail
        withdrawn_length = (
            len(self.withdrawn) if self.withdrawn_length is None else self.withdrawn_length
        )
        attributes_length = (
            len(attributes) if self.attributes_length is None else self.attributes_length
        )
        body = (
            (withdrawn_length & 0xFFFF).to_bytes(2)
            + self.withdrawn
            + (attributes_length & 0xFFFF).to_bytes(2)
            + attributes
            + self.nlri
            + self.trailer
        )
        length = HEADER_SIZE + len(body) if self.message_length is None else self.message_length
        return MARKER + (length & 0xFFFF).to_bytes(2) + bytes([UPDATE]) + body

    def attribute(self, code: int) -> RawAttribute:
        """The first attribute of type `code` (KeyError when there is none)."""
        for attribute in self.attributes:
            if attribute.code == code:
                return attribute
        raise KeyError(f"the UPDATE has no path attribute of type {code}")

    def without(self, code: int) -> Self:
        """The UPDATE without any attribute of type `code`."""
        self.attributes = [a for a in self.attributes if a.code != code]
        return self

    def add(self, attribute: RawAttribute) -> Self:
        """`attribute` inserted in type-code order, after any of the same code (RFC 4271 §5)."""
        at = sum(1 for a in self.attributes if a.code <= attribute.code)
        self.attributes.insert(at, attribute)
        return self

    def mp_nlri_offset(self) -> int:
        """Where the NLRI begin in MP_REACH_NLRI's value (RFC 4760 §3): after AFI, SAFI, the
        next hop's length and address, and the reserved octet."""
        value = self.attribute(MP_REACH_NLRI).value
        return 5 + value[3]


def split_attributes(data: bytes) -> Iterator[RawAttribute]:
    """The path attributes of a well-formed Path Attributes field, as they are."""
    pos = 0
    while pos < len(data):
        flags, code = data[pos], data[pos + 1]
        wide = bool(flags & EXTENDED_LENGTH)
        head = 4 if wide else 3
        length = int.from_bytes(data[pos + 2 : pos + head])
        if pos + head + length > len(data):
            raise ValueError(f"path attribute {code} runs past the Path Attributes field")
        yield RawAttribute(flags, code, bytes(data[pos + head : pos + head + length]))
        pos += head + length
