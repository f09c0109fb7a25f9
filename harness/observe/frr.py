"""FRR's JSON (`show bgp ... json`) turned into `Route` records.

Paths to look at (LAB-NOTES "Where FRR shows what the checks need"): ORIGINATOR_ID and
CLUSTER_LIST of EVPN paths only appear in `show bgp l2vpn evpn route detail json`, as
`j[RD][prefix]["paths"][i][0]["originatorId"]` and `[...]["clusterList"]["list"]`.

Keys are read by what is there, never by version number: 8.4, 10.3 and 10.7 give the same
`Route` and session records (tests/data/frr-versions holds each one's JSON). Where they differ:
8.4's paths carry `VNI` and `vni`, 10.x's `vni` only; 10.3 adds `multipath` to paths, 10.7
`flags`/`pathCount` to each prefix and `numRoutes` to each RD; 10.x neighbors report
`allowAsInCount` and per-peer `prefixStats` (loop counters), which 8.4 has not.

The keys of a path object, in FRR 8.4's detail output (EVPN detail and `show bgp ipv4|ipv6
unicast PREFIX json` alike): `origin` (`IGP`, `EGP`, `incomplete`), `aspath.segments[i]`
(`type` `as-sequence`, `as-set`, `as-confed-sequence`, `as-confed-set`; `list`), `metric`,
`locPrf`, `atomicAggregate` (present only when true), `aggregatorAs` and `aggregatorId`,
`community.string`, `extendedCommunity.string`, `largeCommunity.list`, `originatorId`,
`clusterList.list`. FRR 8.4 shows no unrecognised attribute (it passes them on, but neither the
JSON nor the text output names them): `Route.unknown` is always empty here, and a check of
them must read another observer (ExaBGP, or a crafted speaker's wire).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Protocol

from harness.bgp.names import aggregator, evpn_key, ext_community, segment_type
from harness.model.base import Family
from harness.observe.route import LOCAL, Route, large_communities
from harness.observe.sessions import SessionLife

EVPN_DETAIL = "show bgp l2vpn evpn route detail json"
SUMMARY = "show bgp summary json"
NEIGHBORS = "show bgp neighbors json"
UNICAST_AFI = {Family.IPV4_UNICAST: "ipv4 unicast", Family.IPV6_UNICAST: "ipv6 unicast"}


def unicast_listing(family: Family) -> str:
    """Lists prefixes only: attributes need the per-prefix command below."""
    return f"show bgp {UNICAST_AFI[family]} json"


def unicast_detail(family: Family, prefix: str) -> str:
    """`paths[i].originatorId`, `clusterList.list` live here (LAB-NOTES)."""
    return f"show bgp {UNICAST_AFI[family]} {prefix} json"


_SUMMARY_FAMILIES = {
    "ipv4Unicast": Family.IPV4_UNICAST,
    "ipv6Unicast": Family.IPV6_UNICAST,
    "l2VpnEvpn": Family.L2VPN_EVPN,
}


def _paths(entry: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """FRR nests each path in a list of its own: `"paths": [[{...}], [{...}]]`."""
    for item in entry.get("paths", []):
        if isinstance(item, list):
            yield from (p for p in item if isinstance(p, dict))
        elif isinstance(item, dict):
            yield item


def _segments(path: dict[str, Any]) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """`aspath.segments` as (type, ASNs): FRR names the types `as-sequence`, `as-set`,
    `as-confed-sequence`, `as-confed-set` (RFC 4271 §4.3, RFC 5065 §3)."""
    segments = (path.get("aspath") or {}).get("segments") or []
    return tuple(
        (segment_type(str(seg.get("type"))), tuple(int(asn) for asn in seg.get("list", [])))
        for seg in segments
    )


def _aggregator(path: dict[str, Any]) -> str | None:
    if "aggregatorAs" not in path:
        return None
    return aggregator(path["aggregatorAs"], str(path.get("aggregatorId")))


def _origin(path: dict[str, Any]) -> str | None:
    origin = path.get("origin")
    return str(origin).lower() if origin is not None else None


def path_route(path: dict[str, Any], family: Family, key: str, node: str, rd: str | None) -> Route:
    """One FRR path object as a Route (every attribute FRR 8.4 shows; no `unknown`)."""
    peer = path.get("peer") or {}
    local = bool(path.get("local")) or peer.get("peerId") in (None, "0.0.0.0", "::", "(unspec)")
    hops = path.get("nexthops") or []
    ext = (path.get("extendedCommunity") or {}).get("string", "")
    comm = (path.get("community") or {}).get("string", "")
    large = path.get("largeCommunity") or {}
    segments = _segments(path)
    return Route(
        family=family,
        key=key,
        observed_at=node,
        peer=LOCAL if local else str(peer["peerId"]),
        next_hop=hops[0].get("ip") if hops else path.get("nexthop"),
        rd=rd,
        originator_id=path.get("originatorId"),
        cluster_list=tuple((path.get("clusterList") or {}).get("list", [])),
        as_path=tuple(asn for _, asns in segments for asn in asns),
        med=path.get("metric", path.get("med")),
        local_pref=path.get("locPrf", path.get("localpref")),
        communities=tuple(comm.split()),
        ext_communities=tuple(sorted(ext_community(e) for e in ext.split())),
        origin=_origin(path),
        as_path_segments=segments,
        atomic_aggregate=bool(path.get("atomicAggregate")),
        aggregator=_aggregator(path),
        large_communities=large_communities(large.get("list") or large.get("string", "").split()),
    )


def evpn_routes(data: dict[str, Any], node: str) -> list[Route]:
    """Routes from `show bgp l2vpn evpn route detail json` (keyed by RD, then prefix)."""
    out: list[Route] = []
    for rd, table in data.items():
        if not isinstance(table, dict):
            continue  # numPrefix, numPaths
        for entry in table.values():
            if not isinstance(entry, dict) or "routeType" not in entry:
                continue
            key = evpn_key(
                int(entry["routeType"]),
                str(entry.get("rd", rd)),
                eth_tag=int(entry.get("ethTag", 0)),
                mac=entry.get("mac"),
                ip=entry.get("ip"),
                prefix=f"{entry.get('ip')}/{entry.get('ipLen')}"
                if entry["routeType"] == 5
                else None,
            )
            out.extend(path_route(p, Family.L2VPN_EVPN, key, node, rd) for p in _paths(entry))
    return out


def unicast_prefixes(listing: dict[str, Any]) -> list[str]:
    return list((listing.get("routes") or {}).keys())


def unicast_routes(detail: dict[str, Any], family: Family, node: str) -> list[Route]:
    """Routes from `show bgp ipv4|ipv6 unicast PREFIX json`."""
    prefix = detail.get("prefix")
    if not prefix:
        return []
    return [path_route(p, family, str(prefix), node, None) for p in _paths(detail)]


def session_states(data: dict[str, Any]) -> dict[str, str]:
    """`show bgp summary json` -> {peer address: state}, across families (worst state wins)."""
    states: dict[str, str] = {}
    for family in _SUMMARY_FAMILIES:
        for addr, peer in (data.get(family) or {}).get("peers", {}).items():
            state = str(peer.get("state", "?"))
            if states.get(addr, "Established") == "Established":
                states[addr] = state
    return states


def session_lives(neighbors: dict[str, Any]) -> dict[str, SessionLife]:
    """`show bgp neighbors json` -> {peer address: its session's life}: state, uptime,
    connections established and dropped, messages, the TCP connection's ports."""
    lives = {}
    for addr, peer in neighbors.items():
        if not isinstance(peer, dict) or "bgpState" not in peer:
            continue  # a peer group, or not a neighbor
        stats = peer.get("messageStats") or {}
        ports = (peer.get("portLocal"), peer.get("portForeign"))
        lives[addr] = SessionLife(
            state=str(peer["bgpState"]),
            uptime_ms=int(peer.get("bgpTimerUpMsec", 0)),
            established=int(peer.get("connectionsEstablished", 0)),
            dropped=int(peer.get("connectionsDropped", 0)),
            received=int(stats.get("totalRecv", 0)),
            sent=int(stats.get("totalSent", 0)),
            connection=(int(ports[0]), int(ports[1])) if None not in ports else None,
            updates=int(stats.get("updatesRecv", 0)),
        )
    return lives


def version(show_version: str) -> str:
    """`FRRouting 8.4.4 (host) on Linux(...)` -> `8.4.4` ("unknown" when it says otherwise)."""
    match = re.search(r"FRRouting (\S+)", show_version)
    return match.group(1) if match else "unknown"


def peer_identifiers(neighbors: dict[str, Any]) -> dict[str, str]:
    """Peer address -> the BGP identifier it sent in its OPEN (`remoteRouterId` of
    `show bgp neighbors json`), for every peer that sent one."""
    return {
        address: str(peer["remoteRouterId"])
        for address, peer in neighbors.items()
        if isinstance(peer, dict) and peer.get("remoteRouterId") not in (None, "0.0.0.0")
    }


def allowas_in(neighbors: dict[str, Any]) -> dict[str, dict[str, int]] | None:
    """Per neighbor address, per family, the allowas-in count `show bgp neighbors json` reports
    (`addressFamilyInfo.<family>.allowAsInCount`, FRR 10.x, on the families where it is
    configured). None when it reports it for no neighbor at all: FRR 8.4 never does, so there
    its absence says nothing, and the running configuration is the only evidence."""
    counts = {
        address: {
            family: int(info["allowAsInCount"])
            for family, info in (peer.get("addressFamilyInfo") or {}).items()
            if isinstance(info, dict) and "allowAsInCount" in info
        }
        for address, peer in neighbors.items()
        if isinstance(peer, dict)
    }
    return counts if any(counts.values()) else None


class Queryable(Protocol):
    """An FRR instance answering vtysh commands as JSON, wherever it runs."""

    node: str

    def query(self, command: str) -> Any: ...


def read_routes(instance: Queryable, family: Family) -> list[Route]:
    """The paths an FRR instance holds now in one family (EVPN: one detail query; unicast:
    the listing, then one query per prefix, where ORIGINATOR_ID and CLUSTER_LIST are)."""
    if family is Family.L2VPN_EVPN:
        return evpn_routes(instance.query(EVPN_DETAIL), instance.node)
    out: list[Route] = []
    for prefix in unicast_prefixes(instance.query(unicast_listing(family))):
        detail = instance.query(unicast_detail(family, prefix))
        out += unicast_routes(detail, family, instance.node)
    return out


def advertised_listing(family: Family, peer: str) -> str:
    """The Adj-RIB-Out towards `peer` (RFC 4271 §3.2): what bgpd advertised, or is about to."""
    afi = "l2vpn evpn" if family is Family.L2VPN_EVPN else UNICAST_AFI[family]
    return f"show bgp {afi} neighbors {peer} advertised-routes json"


def advertised_keys(data: dict[str, Any], family: Family) -> set[str]:
    """Route keys of `show bgp ... neighbors X advertised-routes json`: `advertisedRoutes` is
    keyed by prefix (unicast), or by RD and then prefix, each entry holding the EVPN fields
    of the route (`routeType`, `ethTag`, `mac`, `ip`, `ipLen`)."""
    table = data.get("advertisedRoutes") or {}
    if family is not Family.L2VPN_EVPN:
        return set(table)
    return {
        evpn_key(
            int(entry["routeType"]),
            str(rd),
            eth_tag=int(entry.get("ethTag", 0)),
            mac=entry.get("mac"),
            ip=entry.get("ip"),
            prefix=f"{entry.get('ip')}/{entry.get('ipLen')}" if entry["routeType"] == 5 else None,
        )
        for rd, routes in table.items()
        if isinstance(routes, dict)
        for entry in routes.values()
        if isinstance(entry, dict) and "routeType" in entry
    }
