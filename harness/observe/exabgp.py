"""ExaBGP's JSON (process API, `encoder json`) turned into `Route` records.

ExaBGP reports updates, not a table; `ExabgpRib` replays the recorded messages into the table the
peer holds: announcements add, withdrawals remove, a session going down flushes that neighbor
(LAB-NOTES "ExaBGP 5": a session loss emits only `type: state, state: down`).

The keys of `update.attribute` in ExaBGP 5.0.15: `origin` (`igp`, `egp`, `incomplete`),
`as-path` ({position: {`element`, `value`}}), `med`, `local-preference`, `atomic-aggregate`
(true, present only when received), `aggregator` (`ASN:IPv4`), `community` ([[AS, N]]),
`extended-community`, `large-community` ([[G, L1, L2]]), `originator-id`, `cluster-list`, and
`attribute-0xTT-0xFF` (type code, flags) with a `0x...` value for every unrecognised transitive
attribute. Two blind spots:
- ExaBGP names AS_CONFED_SEQUENCE and AS_CONFED_SET `as-sequence` too (its aspath.py): a
  confederation segment reads as a `sequence` here; FRR or a crafted speaker tells them apart.
- ExaBGP sets Partial itself on every unrecognised transitive attribute it receives (its
  attributes.py, RFC 4271 §9 for passing it on), so its flags always show 0x20, whatever the
  sender did: whether a route reflector set Partial is read from a crafted speaker's wire. An
  unrecognised non-transitive attribute it drops without a word.
"""

from __future__ import annotations

from typing import Any

from harness.bgp.communities import decode_ext_community
from harness.bgp.names import evpn_key, ext_community, segment_type
from harness.model.base import Family
from harness.observe.replay import ReplayedRib
from harness.observe.route import Route, large_communities, unknown_attributes

_FAMILIES = {
    "ipv4 unicast": Family.IPV4_UNICAST,
    "ipv6 unicast": Family.IPV6_UNICAST,
    "l2vpn evpn": Family.L2VPN_EVPN,
}


def nlri_key(family: Family, nlri: dict[str, Any]) -> tuple[str, str | None]:
    """(canonical key, RD) of one NLRI object from ExaBGP's JSON."""
    if family is Family.L2VPN_EVPN:
        code = int(nlri["code"])
        prefix = None
        if code == 5:
            length = nlri.get("iplen", nlri.get("netmask", nlri.get("prefix-length", "")))
            prefix = f"{nlri.get('ip')}/{length}"
        key = evpn_key(
            code,
            str(nlri.get("rd")),
            eth_tag=int(nlri.get("ethernet-tag", nlri.get("etag", 0)) or 0),
            mac=nlri.get("mac"),
            ip=nlri.get("ip"),
            prefix=prefix,
        )
        return key, nlri.get("rd")
    return str(nlri["nlri"]), None


_SEGMENT_NAMES = {"as-sequence": "sequence", "as-set": "set"}  # the only two it prints


def _segments(value: Any) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """`as-path` as (type, ASNs) segments (RFC 4271 §4.3); a plain list is one sequence."""
    if isinstance(value, dict):  # {"0": {"element": "as-sequence", "value": [..]}, ...}
        segments = [value[k] for k in sorted(value, key=int)]
        return tuple(
            (
                segment_type(_SEGMENT_NAMES.get(str(seg.get("element")), str(seg.get("element")))),
                tuple(int(a) for a in seg.get("value", [])),
            )
            for seg in segments
        )
    if isinstance(value, list) and value:
        return (("sequence", tuple(int(a) for a in value)),)
    return ()


def _unknown(attrs: dict[str, Any]) -> tuple[tuple[int, int, str], ...]:
    """`attribute-0xTT-0xFF` entries: (flags, type code, hex value)."""
    found = []
    for name, value in attrs.items():
        kind, _, flags = name.removeprefix("attribute-").partition("-")
        if name.startswith("attribute-0x") and flags:
            found.append((int(flags, 16), int(kind, 16), str(value)))
    return unknown_attributes(found)


def _attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    communities = attrs.get("community") or []
    ext = attrs.get("extended-community") or []
    segments = _segments(attrs.get("as-path"))
    origin = attrs.get("origin")
    return {
        "originator_id": attrs.get("originator-id"),
        "cluster_list": tuple(attrs.get("cluster-list") or ()),
        "as_path": tuple(asn for _, asns in segments for asn in asns),
        "med": attrs.get("med"),
        "local_pref": attrs.get("local-preference"),
        "communities": tuple(f"{a}:{b}" for a, b in communities),
        "ext_communities": tuple(sorted(_ext_community(e) for e in ext)),
        "origin": str(origin).lower() if origin is not None else None,
        "as_path_segments": segments,
        "atomic_aggregate": bool(attrs.get("atomic-aggregate")),
        "aggregator": attrs.get("aggregator"),
        "large_communities": large_communities(
            ":".join(map(str, c)) for c in attrs.get("large-community") or ()
        ),
        "unknown": _unknown(attrs),
    }


def _ext_community(entry: Any) -> str:
    """ExaBGP's own text where it has one; it prints none for a router MAC (RFC 9135 §8.1),
    and then the 8 octets it reports are decoded by the harness's codec."""
    if isinstance(entry, dict):
        if entry.get("string"):
            return ext_community(str(entry["string"]))
        return decode_ext_community(int(entry["value"]).to_bytes(8, "big"))
    return ext_community(str(entry))


def _nlris(value: Any) -> list[dict[str, Any]]:
    """ExaBGP lists NLRI objects; older shapes keyed them by prefix."""
    if isinstance(value, list):
        return [v if isinstance(v, dict) else {"nlri": v} for v in value]
    if isinstance(value, dict):
        return [dict(v, nlri=k) if isinstance(v, dict) else {"nlri": k} for k, v in value.items()]
    return []


class ExabgpRib(ReplayedRib):
    """What an ExaBGP peer holds, replayed from its process API's `received.jsonl`."""

    def apply(self, message: dict[str, Any]) -> None:
        neighbor = message.get("neighbor") or {}
        peer = str((neighbor.get("address") or {}).get("peer"))
        kind = message.get("type")
        if kind == "state":
            self.set_state(peer, str(neighbor.get("state")))
            return
        if kind != "update":
            return
        update = (neighbor.get("message") or {}).get("update") or {}
        attrs = _attributes(update.get("attribute") or {})
        for fam_name, by_next_hop in (update.get("announce") or {}).items():
            family = _FAMILIES.get(fam_name)
            if family is None or not isinstance(by_next_hop, dict):
                continue
            for next_hop, nlris in by_next_hop.items():
                for nlri in _nlris(nlris):
                    key, rd = nlri_key(family, nlri)
                    self._table[(peer, family, key)] = Route(
                        family=family,
                        key=key,
                        observed_at=self.node,
                        peer=peer,
                        next_hop=str(next_hop),
                        rd=rd,
                        **attrs,
                    )
        for fam_name, nlris in (update.get("withdraw") or {}).items():
            family = _FAMILIES.get(fam_name)
            if family is None:
                continue
            for nlri in _nlris(nlris):
                key, _ = nlri_key(family, nlri)
                self._table.pop((peer, family, key), None)
