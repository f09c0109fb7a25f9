"""ExaBGP's JSON (process API, `encoder json`) turned into `Route` records.

ExaBGP reports updates, not a table; `ExabgpRib` replays the recorded messages into the table the
peer holds: announcements add, withdrawals remove, a session going down flushes that neighbor
(LAB-NOTES "ExaBGP 5": a session loss emits only `type: state, state: down`).
"""

from __future__ import annotations

from typing import Any

from harness.bgp.attributes import decode_ext_community
from harness.bgp.names import evpn_key, ext_community
from harness.model.base import Family
from harness.observe.replay import ReplayedRib
from harness.observe.route import Route

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


def _as_path(value: Any) -> tuple[int, ...]:
    if isinstance(value, dict):  # {"0": {"element": "as-sequence", "value": [..]}, ...}
        segments = [value[k] for k in sorted(value, key=int)]
        return tuple(int(a) for seg in segments for a in seg.get("value", []))
    if isinstance(value, list):
        return tuple(int(a) for a in value)
    return ()


def _attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    communities = attrs.get("community") or []
    ext = attrs.get("extended-community") or []
    return {
        "originator_id": attrs.get("originator-id"),
        "cluster_list": tuple(attrs.get("cluster-list") or ()),
        "as_path": _as_path(attrs.get("as-path")),
        "med": attrs.get("med"),
        "local_pref": attrs.get("local-preference"),
        "communities": tuple(f"{a}:{b}" for a, b in communities),
        "ext_communities": tuple(sorted(_ext_community(e) for e in ext)),
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
