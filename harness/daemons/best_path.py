"""The BGP decision process of the harness's own RR, among the paths of one route learned over
iBGP (RFC 4271 §9.1.2.2, RFC 4456 §9). Stdlib only: it runs inside `reflector_process`.

Each step keeps the paths that are best by one criterion; the first step that leaves one path
decides: highest LOCAL_PREF; shortest AS_PATH (an AS_SET counts one, confederation segments
none); lowest ORIGIN; lowest MED among paths from the same neighbouring AS (a path with a higher
MED than another from its neighbouring AS is out); lowest ORIGINATOR_ID, or BGP identifier of the
peer without one; shortest CLUSTER_LIST; lowest peer address.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.bgp.attribute_codes import (
    AS_PATH,
    CLUSTER_LIST,
    LOCAL_PREF,
    MED,
    ORIGIN,
    ORIGINATOR_ID,
)
from harness.daemons.update_errors import Attribute

AS_SET, AS_SEQUENCE = 1, 2  # segment types (RFC 4271 §4.3); 3, 4: confederation (RFC 5065)
DEFAULT_LOCAL_PREF = 100


@dataclass(frozen=True)
class Candidate:
    attributes: list[Attribute]
    identifier: str  # the peer's BGP identifier
    address: str  # the peer's address


def attribute(attributes: list[Attribute], kind: int) -> bytes | None:
    return next((v for _f, k, v in attributes if k == kind), None)


def segments(as_path: bytes | None) -> list[tuple[int, list[int]]]:
    """(segment type, its 4-octet ASes) of an AS_PATH (RFC 6793 §3)."""
    out, pos, data = [], 0, as_path or b""
    while pos + 2 <= len(data):
        kind, count = data[pos], data[pos + 1]
        out.append(
            (kind, [int.from_bytes(data[pos + 2 + 4 * i : pos + 6 + 4 * i]) for i in range(count)])
        )
        pos += 2 + 4 * count
    return out


def path_length(as_path: bytes | None) -> int:
    """RFC 4271 §9.1.2.2 a: an AS_SET counts 1; RFC 5065 §5.3: confederation segments 0."""
    return sum(
        len(ases) if kind == AS_SEQUENCE else 1 if kind == AS_SET else 0
        for kind, ases in segments(as_path)
    )


def neighbour_as(as_path: bytes | None) -> int | None:
    """The AS the path came from: the first AS of its first AS_SEQUENCE; None for a path
    originated inside the AS (RFC 4271 §9.1.2.2 c)."""
    for kind, ases in segments(as_path):
        if kind == AS_SEQUENCE and ases:
            return ases[0]
        if kind in (AS_SET, AS_SEQUENCE):
            return None
    return None


def _number(value: bytes | None, default: int) -> int:
    return int.from_bytes(value) if value else default


def _keep_lowest(paths: Sequence[Candidate], key: Callable[[Candidate], object]) -> list[Candidate]:
    best = min(key(p) for p in paths)  # type: ignore[type-var]
    return [p for p in paths if key(p) == best]


def _med_step(paths: Sequence[Candidate]) -> list[Candidate]:
    """RFC 4271 §9.1.2.2 c: out goes a path whose MED is higher than that of another path from
    the same neighbouring AS (a missing MED is 0)."""

    def med(p: Candidate) -> int:
        return _number(attribute(p.attributes, MED), 0)

    def neighbour(p: Candidate) -> int | None:
        return neighbour_as(attribute(p.attributes, AS_PATH))

    return [
        p for p in paths if not any(neighbour(q) == neighbour(p) and med(q) < med(p) for q in paths)
    ]


def best(paths: Sequence[Candidate]) -> Candidate | None:
    """The best of `paths` (None when there is none)."""
    steps: list[Callable[[Sequence[Candidate]], list[Candidate]]] = [
        lambda ps: _keep_lowest(
            ps, lambda p: -_number(attribute(p.attributes, LOCAL_PREF), DEFAULT_LOCAL_PREF)
        ),
        lambda ps: _keep_lowest(ps, lambda p: path_length(attribute(p.attributes, AS_PATH))),
        lambda ps: _keep_lowest(ps, lambda p: (attribute(p.attributes, ORIGIN) or b"\x02")[0]),
        _med_step,
        lambda ps: _keep_lowest(
            ps,
            lambda p: attribute(p.attributes, ORIGINATOR_ID) or socket.inet_aton(p.identifier),
        ),
        lambda ps: _keep_lowest(ps, lambda p: len(attribute(p.attributes, CLUSTER_LIST) or b"")),
        lambda ps: _keep_lowest(ps, lambda p: socket.inet_aton(p.address)),
    ]
    left = list(paths)
    for step in steps:
        if len(left) <= 1:
            break
        left = step(left)
    return left[0] if left else None
