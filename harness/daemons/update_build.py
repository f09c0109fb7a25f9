"""The UPDATEs the harness's own RR sends (RFC 4271 §4.3, RFC 4760 §3-§4, RFC 4724 §2), one
route each, and how its log names a route. Stdlib only: it runs inside `reflector_process`."""

from __future__ import annotations

import ipaddress

from harness.bgp.attribute_codes import EXTENDED_LENGTH, MP_REACH_NLRI, MP_UNREACH_NLRI, OPTIONAL
from harness.bgp.stream import UPDATE, frame
from harness.daemons.update_errors import EVPN, IPV4, L2VPN, UNICAST, Attribute, HeldPath, RouteKey


def encode_attributes(attributes: list[Attribute]) -> bytes:
    """In ascending type order (RFC 4271 §5), the Extended Length bit where the value needs it."""
    out = b""
    for flags, kind, value in sorted(attributes, key=lambda a: a[1]):
        if len(value) > 255:
            out += bytes([flags | EXTENDED_LENGTH, kind]) + len(value).to_bytes(2, "big") + value
        else:
            out += bytes([flags, kind, len(value)]) + value
    return out


def build_update(
    key: RouteKey,
    path: HeldPath,
    attributes: list[Attribute] | None = None,
    *,
    withdraw: bool = False,
) -> bytes:
    """One route's UPDATE: `path` announced (with `attributes` instead of its own), or
    withdrawn."""
    afi, safi, nlri, next_hop = key[0], key[1], path.nlri, path.next_hop
    attributes = path.attributes if attributes is None else attributes
    v4 = (afi, safi) == (IPV4, UNICAST) and not next_hop  # else it came in MP_REACH_NLRI
    if withdraw:
        if v4:
            return frame(UPDATE, len(nlri).to_bytes(2, "big") + nlri + b"\x00\x00")
        unreach = encode_attributes(
            [(OPTIONAL, MP_UNREACH_NLRI, afi.to_bytes(2, "big") + bytes([safi]) + nlri)]
        )
        return frame(UPDATE, b"\x00\x00" + len(unreach).to_bytes(2, "big") + unreach)
    if v4:
        encoded = encode_attributes(attributes)
        return frame(UPDATE, b"\x00\x00" + len(encoded).to_bytes(2, "big") + encoded + nlri)
    reach = afi.to_bytes(2, "big") + bytes([safi, len(next_hop)]) + next_hop + b"\x00" + nlri
    encoded = encode_attributes([*attributes, (OPTIONAL, MP_REACH_NLRI, reach)])
    return frame(UPDATE, b"\x00\x00" + len(encoded).to_bytes(2, "big") + encoded)


def end_of_rib(afi: int, safi: int) -> bytes:
    """RFC 4724 §2: an empty UPDATE for IPv4 unicast, an empty MP_UNREACH_NLRI otherwise."""
    if (afi, safi) == (IPV4, UNICAST):
        return frame(UPDATE, b"\x00\x00\x00\x00")
    unreach = encode_attributes(
        [(OPTIONAL, MP_UNREACH_NLRI, afi.to_bytes(2, "big") + bytes([safi]))]
    )
    return frame(UPDATE, b"\x00\x00" + len(unreach).to_bytes(2, "big") + unreach)


def nlri_text(afi: int, safi: int, nlri: bytes) -> str:
    """How the log names a route: the prefix, or an EVPN route's MAC (type 2) or originating
    router's IP (type 3), as FRR's `DENIED` lines do."""
    if (afi, safi) == (L2VPN, EVPN):
        value = nlri[2:]
        if nlri[0] == 2 and len(value) >= 29:  # RD, ESI, Ethernet tag, MAC length, MAC
            return f"[2] mac {':'.join(f'{b:02x}' for b in value[23:29])}"
        if nlri[0] == 3 and len(value) >= 17:  # RD, Ethernet tag, IP length, IP
            return f"[3] ip {ipaddress.ip_address(value[13:17])}"
        return f"[{nlri[0]}] {value.hex()}"
    size = 4 if afi == IPV4 else 16
    address = nlri[1:].ljust(size, b"\x00")
    return f"{ipaddress.ip_address(address)}/{nlri[0]}"
