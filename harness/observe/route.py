"""`Route`: one path to one NLRI as seen by one node, whatever produced it (FRR, ExaBGP).

All checks compare Routes (DESIGN "Layers: observe"). Keys and extended communities are in the
canonical, readable forms of `harness.bgp.names`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from harness.model.base import Family

LOCAL = "local"  # `Route.peer` of a path the observing node originated itself


@dataclass(frozen=True)
class Route:
    """A path as one node holds it. `peer` is the address it was learned from, or LOCAL."""

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

    def brief(self) -> str:
        extra = []
        if self.originator_id:
            extra.append(f"originator {self.originator_id}")
        if self.cluster_list:
            extra.append(f"cluster-list {list(self.cluster_list)}")
        return f"{self.key} via {self.peer} nh {self.next_hop}" + (
            f" ({', '.join(extra)})" if extra else ""
        )


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
