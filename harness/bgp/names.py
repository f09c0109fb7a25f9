"""Canonical readable forms shared by the codec and the observers (FRR, ExaBGP, the speaker).

Keys are canonical, readable strings so a failure message names a route the way a reader would:
`evpn type-2 rd 10.0.0.1:2 mac 02:00:00:00:01:02 ip 10.100.0.11` (RFC 7432 §7). Extended
communities are one text per community (RFC 4360 §2), whoever printed them.
"""

from __future__ import annotations


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


# AS_PATH segment types (RFC 4271 §4.3; RFC 5065 §3 for the confederation ones), by type code.
SEGMENT_TYPES = {1: "set", 2: "sequence", 3: "confed-sequence", 4: "confed-set"}
_SEGMENT_CODES = {name: code for code, name in SEGMENT_TYPES.items()}


def segment_type(kind: str | int) -> str:
    """Canonical name of an AS_PATH segment type: its type code (1-4), our name, FRR's
    (`as-sequence`, `as-confed-set`) or ExaBGP's (`as-set`); ValueError for anything else."""
    if isinstance(kind, int) and not isinstance(kind, bool):
        if kind in SEGMENT_TYPES:
            return SEGMENT_TYPES[kind]
    elif isinstance(kind, str):
        name = kind.lower().removeprefix("as-").removeprefix("as_").replace("_", "-")
        if name in _SEGMENT_CODES:
            return name
    raise ValueError(f"AS_PATH segment type {kind!r} is not one of {sorted(_SEGMENT_CODES)}")


def segment_code(kind: str | int) -> int:
    """Type code of an AS_PATH segment type (RFC 4271 §4.3, RFC 5065 §3)."""
    return _SEGMENT_CODES[segment_type(kind)]


def aggregator(asn: int | str, address: str) -> str:
    """AGGREGATOR as `ASN:IPv4` (RFC 4271 §5.1.7; the AS in 4 octets, RFC 6793)."""
    return f"{int(asn)}:{address}"
