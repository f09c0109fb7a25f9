"""`Route`: one path to one NLRI as seen by one node, whatever produced it (FRR, ExaBGP).

All checks compare Routes (DESIGN "Layers: observe"). Keys and extended communities are in the
canonical, readable forms of `harness.bgp.names`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from harness.bgp.communities import large_community_order, normal_large_community
from harness.model.base import Family

LOCAL = "local"  # `Route.peer` of a path the observing node originated itself


@dataclass(frozen=True)
class Route:
    """A path as one node holds it. `peer` is the address it was learned from, or LOCAL.

    The path attributes, as the node reports them (RFC 4271 §5, RFC 4456 §8); a reader that
    cannot see one leaves it None or empty and says so in its docstring:
    - `origin`: `igp`, `egp` or `incomplete` (RFC 4271 §5.1.1).
    - `as_path`: the ASNs of every segment, in order; `as_path_segments`: the segments, each
      (`sequence` | `set` | `confed-sequence` | `confed-set`, ASNs) (RFC 4271 §4.3,
      RFC 5065 §3). The members of a set are in the order the node reports them (a set has no
      order: FRR sorts them).
    - `atomic_aggregate` (RFC 4271 §5.1.6); `aggregator` as `ASN:IPv4` (RFC 4271 §5.1.7, the
      AS in 4 octets, RFC 6793).
    - `communities` `AS:N` (RFC 1997) in the order the node reports them; `ext_communities`
      (RFC 4360) and `large_communities` `G:L1:L2` (RFC 8092) sorted (numerically for large
      ones).
    - `unknown`: optional attributes the reader does not model, as received: (flags, type
      code, lowercase hex value), sorted by type code. The flags are the received octet, so
      Partial (0x20, RFC 4271 §4.3, §9) shows, and Extended Length (0x10) too, which is
      encoding only (mask it when comparing).
    """

    family: Family
    key: str
    observed_at: str
    peer: str
    next_hop: str | None = None
    rd: str | None = None
    originator_id: str | None = None
    cluster_list: tuple[str, ...] = ()
    as_path: tuple[int, ...] = ()
    med: int | None = None
    local_pref: int | None = None
    communities: tuple[str, ...] = ()
    ext_communities: tuple[str, ...] = field(default=())
    origin: str | None = None
    as_path_segments: tuple[tuple[str, tuple[int, ...]], ...] = ()
    atomic_aggregate: bool = False
    aggregator: str | None = None
    large_communities: tuple[str, ...] = ()
    unknown: tuple[tuple[int, int, str], ...] = ()

    def brief(self) -> str:
        extra = []
        if self.originator_id:
            extra.append(f"originator {self.originator_id}")
        if self.cluster_list:
            extra.append(f"cluster-list {list(self.cluster_list)}")
        return f"{self.key} via {self.peer} nh {self.next_hop}" + (
            f" ({', '.join(extra)})" if extra else ""
        )


def large_communities(texts: Iterable[str]) -> tuple[str, ...]:
    """`Route.large_communities` from any reader's texts: canonical, sorted numerically."""
    return tuple(sorted(map(normal_large_community, texts), key=large_community_order))


def unknown_attributes(
    attributes: Iterable[tuple[int, int, str | bytes]],
) -> tuple[tuple[int, int, str], ...]:
    """`Route.unknown` from (flags, type code, value as octets or hex, `0x` or not)."""
    out = []
    for flags, code, value in attributes:
        text = value.hex() if isinstance(value, bytes) else value.lower().removeprefix("0x")
        out.append((int(flags), int(code), text))
    return tuple(sorted(out, key=lambda attribute: attribute[1]))


class RouteTable:
    """The paths one node held at one moment."""

    def __init__(self, node: str, routes: Iterable[Route]) -> None:
        self.node = node
        self.routes = tuple(routes)

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)

    def __len__(self) -> int:
        return len(self.routes)

    def paths(self, key: str) -> list[Route]:
        return [r for r in self.routes if r.key == key]

    def keys(self, family: Family | None = None) -> set[str]:
        return {r.key for r in self.routes if family is None or r.family is family}

    def local(self, family: Family | None = None) -> list[Route]:
        """Paths this node originated itself."""
        return [
            r for r in self.routes if r.peer == LOCAL and (family is None or r.family is family)
        ]

    def summary(self, limit: int = 12) -> str:
        lines = [r.brief() for r in sorted(self.routes, key=lambda r: (r.key, r.peer))]
        more = f"\n  ... and {len(lines) - limit} more" if len(lines) > limit else ""
        body = "\n  ".join(lines[:limit]) or "(no routes)"
        return f"{self.node} holds {len(lines)} path(s):\n  {body}{more}"
