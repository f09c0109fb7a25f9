"""GoBGP's own JSON (`gobgp -j ...`, GoBGP 3.10) turned into `Route` records and session states.

`gobgp -j global rib -a evpn|ipv4` (and `neighbor ADDR adj-in|adj-out -a ...`) is a mapping
from GoBGP's name of a destination to its paths. Each path: `nlri` (the EVPN fields, or
`prefix`), `neighbor-ip` (absent for a path the daemon originated), `source-id` (the peer's BGP
identifier), `best`, and `attrs`: the path attributes as GoBGP encodes them, one object per
attribute with its type code (RFC 4271 §5, §4.3):
- 1 ORIGIN `value` 0/1/2; 2 AS_PATH `as_paths[i]` = {`segment_type` 1-4, `asns`}; 3 NEXT_HOP
  `nexthop`; 4 MED `metric`; 5 LOCAL_PREF `value`; 6 ATOMIC_AGGREGATE; 7 AGGREGATOR `as`,
  `address`; 8 COMMUNITIES `communities` (32-bit numbers); 9 ORIGINATOR_ID `value`;
  10 CLUSTER_LIST `value`; 14 MP_REACH_NLRI `nexthop`; 16 EXTENDED COMMUNITIES `value[i]` =
  {`type`, `subtype`, and per kind `value`, `tunnel_type`, `mac`, `sequence`...};
  32 LARGE_COMMUNITY `value[i]` = {`ASN`, `LocalData1`, `LocalData2`};
- an attribute GoBGP does not know: {`flags`, `type`, `value` (base64)}: `Route.unknown`.

`gobgp -j neighbor` is a list of peers: `state.neighbor_address`, `state.session_state` (the
API's enum, 6 = Established), `state.router_id` (the identifier in the peer's OPEN), and
`conf.neighbor_address` only for a configured neighbor (a dynamic one has none).
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from harness.bgp.communities import decode_community, decode_ext_community
from harness.bgp.names import aggregator, evpn_key, segment_type
from harness.errors import HarnessError
from harness.model.base import Family
from harness.observe.route import LOCAL, Route, large_communities, unknown_attributes
from harness.observe.samples import Sample
from harness.observe.sessions import SessionLife

RIB = {Family.L2VPN_EVPN: "evpn", Family.IPV4_UNICAST: "ipv4", Family.IPV6_UNICAST: "ipv6"}
NEIGHBORS = "neighbor"
GLOBAL = "global"
ORIGINS = {0: "igp", 1: "egp", 2: "incomplete"}
# The API's SessionState enum (gobgp.proto), in FRR's words, which the harness's checks use.
SESSION_STATES = {
    1: "Idle",
    2: "Connect",
    3: "Active",
    4: "OpenSent",
    5: "OpenConfirm",
    6: "Established",
}
_NO_ADDRESS = (None, "", "<nil>", "0.0.0.0", "::")


def rib_command(family: Family) -> str:
    return f"global rib -a {RIB[family]}"


def adj_out_command(family: Family, peer: str) -> str:
    """The Adj-RIB-Out towards `peer` (RFC 4271 §3.2), in the form `rib_routes` reads."""
    return f"neighbor {peer} adj-out -a {RIB[family]}"


def _rd(rd: dict[str, Any]) -> str:
    """A route distinguisher `{type, admin, assigned}` as `ADMIN:ASSIGNED` (RFC 4364 §4.2)."""
    return f"{rd.get('admin')}:{rd.get('assigned')}"


def _address(value: Any) -> str | None:
    return None if value in _NO_ADDRESS else str(value)


def nlri_key(nlri: dict[str, Any], family: Family) -> tuple[str, str | None]:
    """The canonical key of a path's NLRI, and its RD (EVPN: RFC 7432 §7; unicast: the
    prefix)."""
    if family is not Family.L2VPN_EVPN:
        return str(nlri["prefix"]), None
    kind = int(nlri["type"])
    value = nlri.get("value") or {}
    rd = _rd(value.get("rd") or {})
    key = evpn_key(
        kind,
        rd,
        eth_tag=int(value.get("etag") or 0),
        mac=value.get("mac"),
        ip=_address(value.get("ip")),
        prefix=value.get("prefix") if kind == 5 else None,
    )
    return key, rd


def ext_community(e: dict[str, Any]) -> str:
    """One extended community object as the canonical text (`target:64514:100`,
    `encap:vxlan`, `router-mac:...`): its 8 octets rebuilt (RFC 4360 §2), then named by the
    harness's own decoder, so every reader names a community alike."""
    octets = _ext_octets(e)
    if octets is None:
        return "gobgp:" + json.dumps(e, sort_keys=True, separators=(",", ":"))
    return decode_ext_community(octets)


def _ext_octets(e: dict[str, Any]) -> bytes | None:
    kind, sub = int(e.get("type", 0)), int(e.get("subtype", 0))
    head = bytes([kind, sub])
    value = e.get("value")
    if "tunnel_type" in e:  # RFC 9012 §4.1
        return head + bytes(4) + int(e["tunnel_type"]).to_bytes(2)
    if "mac" in e and (kind & 0x3F) == 0x06:  # RFC 9135 §8.1 router MAC
        return head + bytes.fromhex(str(e["mac"]).replace(":", ""))
    if "sequence" in e:  # RFC 7432 §7.7 MAC mobility
        flags = 1 if e.get("is_sticky") else 0
        return head + bytes([flags, 0]) + int(e["sequence"]).to_bytes(4)
    if isinstance(value, str) and ":" in value and (kind & 0x3F) in (0x00, 0x01, 0x02):
        admin, _, number = value.rpartition(":")  # RFC 4360 §3.1-§3.2, RFC 5668 §2
        if (kind & 0x3F) == 0x00:
            return head + int(admin).to_bytes(2) + int(number).to_bytes(4)
        if (kind & 0x3F) == 0x01:
            return head + bytes(int(o) for o in admin.split(".")) + int(number).to_bytes(2)
        high, _, low = admin.partition(".")  # GoBGP prints a 4-octet AS as HIGH.LOW
        asn = (int(high) << 16 | int(low)) if low else int(high)
        return head + asn.to_bytes(4) + int(number).to_bytes(2)
    if isinstance(value, str):  # opaque and unknown kinds: the 7 octets after the type
        raw = base64.b64decode(value)
        return bytes([kind]) + raw if len(raw) == 7 else None
    return None


def _segments(attr: dict[str, Any]) -> tuple[tuple[str, tuple[int, ...]], ...]:
    return tuple(
        (segment_type(int(seg["segment_type"])), tuple(int(a) for a in seg.get("asns") or []))
        for seg in attr.get("as_paths") or []
    )


def path_route(path: dict[str, Any], family: Family, node: str) -> Route:
    """One GoBGP path as a Route: every attribute the checks compare."""
    key, rd = nlri_key(path["nlri"], family)
    attrs = {int(a["type"]): a for a in path.get("attrs") or [] if "flags" not in a}
    unknown = [
        (int(a["flags"]), int(a["type"]), base64.b64decode(a.get("value") or ""))
        for a in path.get("attrs") or []
        if "flags" in a
    ]
    segments = _segments(attrs.get(2, {}))
    hop = attrs.get(3, {}).get("nexthop") or attrs.get(14, {}).get("nexthop")
    aggr = attrs.get(7)
    return Route(
        family=family,
        key=key,
        observed_at=node,
        peer=_address(path.get("neighbor-ip")) or LOCAL,
        next_hop=_address(hop),
        rd=rd,
        originator_id=attrs[9]["value"] if 9 in attrs else None,
        cluster_list=tuple(attrs.get(10, {}).get("value") or ()),
        as_path=tuple(asn for _, asns in segments for asn in asns),
        med=attrs[4].get("metric", 0) if 4 in attrs else None,
        local_pref=attrs[5].get("value", 0) if 5 in attrs else None,
        communities=tuple(
            decode_community(int(c).to_bytes(4)) for c in attrs.get(8, {}).get("communities") or ()
        ),
        ext_communities=tuple(
            sorted(ext_community(e) for e in attrs.get(16, {}).get("value") or ())
        ),
        origin=ORIGINS.get(int(attrs[1].get("value", 0))) if 1 in attrs else None,
        as_path_segments=segments,
        atomic_aggregate=6 in attrs,
        aggregator=aggregator(aggr["as"], str(aggr["address"])) if aggr else None,
        large_communities=large_communities(
            f"{c['ASN']}:{c['LocalData1']}:{c['LocalData2']}"
            for c in attrs.get(32, {}).get("value") or ()
        ),
        unknown=unknown_attributes(unknown),
    )


def rib_routes(rib: dict[str, Any], family: Family, node: str) -> list[Route]:
    """Every path of a `gobgp -j global rib` (or adj-in/adj-out) answer."""
    if not isinstance(rib, dict):
        return []
    return [
        path_route(p, family, node)
        for paths in rib.values()
        if isinstance(paths, list)
        for p in paths
        if isinstance(p, dict) and "nlri" in p
    ]


def _state_name(value: Any) -> str:
    if isinstance(value, int):
        return SESSION_STATES.get(value, "Unknown")
    name = str(value or "unknown").upper().removeprefix("BGP_FSM_").removeprefix("SESSION_STATE_")
    named = {v.upper(): v for v in SESSION_STATES.values()}
    return named.get(name, str(value))


def _peers(neighbors: Any) -> Iterable[dict[str, Any]]:
    return (p for p in neighbors or [] if isinstance(p, dict))


def session_states(neighbors: Any) -> dict[str, str]:
    """`gobgp -j neighbor` -> {peer address: state}, in FRR's words (`Established`)."""
    return {
        str(p["state"]["neighbor_address"]): _state_name(p["state"].get("session_state", 0))
        for p in _peers(neighbors)
        if (p.get("state") or {}).get("neighbor_address")
    }


def session_lives(neighbors: Any, now: float | None = None) -> dict[str, SessionLife]:
    """`gobgp -j neighbor` -> {peer address: its session's life}: state, uptime (from
    `timers.state.uptime`, when it came up), OPENs received and NOTIFICATIONs sent (they move
    on a flap), messages received and sent, the connection's ports (`transport`, when it
    says them), UPDATEs received."""
    now = time.time() if now is None else now
    lives = {}
    for p in _peers(neighbors):
        state = p.get("state") or {}
        if not state.get("neighbor_address"):
            continue
        messages = state.get("messages") or {}
        received, sent = messages.get("received") or {}, messages.get("sent") or {}
        since = (((p.get("timers") or {}).get("state") or {}).get("uptime") or {}).get("seconds")
        transport = p.get("transport") or {}
        ports = (transport.get("local_port"), transport.get("remote_port"))
        lives[str(state["neighbor_address"])] = SessionLife(
            state=_state_name(state.get("session_state", 0)),
            uptime_ms=int((now - int(since)) * 1000) if since else 0,
            established=int(received.get("open", 0)),
            dropped=int(sent.get("notification", 0)),
            received=int(received.get("total", 0)),
            sent=int(sent.get("total", 0)),
            connection=(int(ports[0]), int(ports[1])) if None not in ports else None,
            # an UPDATE it treated as withdraw is counted `discarded`, not `update` (measured)
            updates=int(received.get("update", 0)) + int(received.get("discarded", 0)),
        )
    return lives


def peer_identifiers(neighbors: Any) -> dict[str, str]:
    """Peer address -> the BGP identifier in its OPEN (`state.router_id`), for every peer that
    sent one (RFC 4271 §4.2)."""
    out = {}
    for p in _peers(neighbors):
        state = p.get("state") or {}
        rid = _address(state.get("router_id"))
        if state.get("neighbor_address") and rid:
            out[str(state["neighbor_address"])] = rid
    return out


def configured_neighbors(neighbors: Any) -> set[str]:
    """Addresses of the configured neighbors (a dynamic one has no `conf.neighbor_address`)."""
    return {
        str(p["conf"]["neighbor_address"])
        for p in _peers(neighbors)
        if (p.get("conf") or {}).get("neighbor_address")
    }


def configuration(global_: dict[str, Any], neighbors: Any) -> str:
    """The daemon's running configuration as it shows it: the global settings and every
    configured neighbor's (dynamic neighbors are no part of it), one canonical JSON text."""
    configured = [
        {
            "conf": p.get("conf"),
            "route_reflector": p.get("route_reflector"),
            "timers": (p.get("timers") or {}).get("config"),
            "families": sorted(
                json.dumps((a.get("config") or {}).get("family"), sort_keys=True)
                for a in p.get("afi_safis") or []
            ),
        }
        for p in _peers(neighbors)
        if (p.get("conf") or {}).get("neighbor_address")
    ]
    configured.sort(key=lambda c: str(c["conf"]["neighbor_address"]))
    return json.dumps({"global": global_, "neighbors": configured}, sort_keys=True, indent=1)


def version(text: str) -> str:
    """`gobgpd version 3.10.0` -> `3.10.0` ("unknown" when it says otherwise)."""
    match = re.search(r"version\s+v?(\d\S*)", text)
    return match.group(1) if match else "unknown"


# Why gobgpd leaves a route out, as its debug log says it (pkg/server/server.go, peer.go), by
# the reason the checks name (FRR's `DENIED due to:` wording).
REFUSALS = {
    "reflected from the same cluster": "cluster list path attribute has local cluster id",
    "originator is us": "Originator ID is mine",
}


def refusal_lines(log: str, needle: str) -> list[str]:
    """gobgpd's log lines saying it left out a route naming `needle` (its prefix or MAC),
    whatever the reason."""
    return [
        line.strip()
        for line in log.splitlines()
        if needle in line and any(why in line for why in REFUSALS.values())
    ]


def refused_for(line: str, reason: str) -> bool:
    """Whether a refusal line gives `reason` (in the checks' words)."""
    return REFUSALS.get(reason, reason) in line


def take_sample(query: Callable[[str], Any], client: str) -> Sample:
    """One failover sample of a GoBGP RR pod: its sessions (the drills' detection at the RR
    pods). Its table is never judged, so it is not read: `paths` stays empty."""
    asked = time.monotonic()
    try:
        sessions = session_states(query(NEIGHBORS))
    except (HarnessError, OSError) as exc:
        return Sample(time.monotonic(), client, {}, frozenset(), {}, str(exc), asked)
    return Sample(time.monotonic(), client, {}, frozenset(), sessions, None, asked)
