"""`Route`: one path to one NLRI as seen by one node, whatever produced it (FRR, ExaBGP).

All checks compare Routes (DESIGN "Layers: observe"). Keys are canonical, readable strings so a
failure message names a route the way a reader would:
`evpn type-2 rd 10.0.0.1:2 mac 02:00:00:00:01:02 ip 10.100.0.11`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from harness.model.base import Family

LOCAL = "local"  # `Route.peer` of a path the observing node originated itself


def evpn_key(
    route_type: int,
    rd: str,
    *,
    eth_tag: int = 0,
    mac: str | None = None,
    ip: str | None = None,
    prefix: str | None = None,
) -> str:
    """Canonical key of an EVPN NLRI (RFC 7432 §7: the fields that identify the route)."""
    parts = [f"evpn type-{route_type}", f"rd {rd}"]
    if eth_tag:
        parts.append(f"etag {eth_tag}")
    if route_type == 2:
        parts.append(f"mac {mac.lower() if mac else '?'}")
        if ip:
            parts.append(f"ip {ip}")
    elif route_type == 3:
        parts.append(f"vtep {ip}")
    elif route_type == 5:
        parts.append(f"prefix {prefix}")
    return " ".join(parts)


_EXT_COMMUNITY_ALIASES = {"rt": "target", "et": "encap", "rmac": "router-mac"}
_TUNNEL_TYPES = {"8": "vxlan"}  # RFC 9012 §14.3 (FRR prints ET:8, ExaBGP encap:VXLAN)


def ext_community(text: str) -> str:
    """Normalise FRR (`RT:64514:100`, `ET:8`) and ExaBGP (`target:64514:100`, `encap:VXLAN`)."""
    kind, _, value = text.partition(":")
    kind = _EXT_COMMUNITY_ALIASES.get(kind.lower(), kind.lower())
    if kind == "encap":
        value = _TUNNEL_TYPES.get(value, value.lower())
    if kind == "router-mac":
        value = value.lower()
    return f"{kind}:{value}"


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
