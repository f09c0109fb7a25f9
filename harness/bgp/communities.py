"""Communities of every kind, text to octets and back: COMMUNITIES (RFC 1997), extended
communities (RFC 4360; RFC 5668, RFC 9012, RFC 9135, RFC 7432 for the kinds named here) and
LARGE_COMMUNITIES (RFC 8092).

The texts are the canonical forms of `harness.bgp.names`, the ones the observers report:
`64512:7`, `target:64514:100`, `64512:1:2`.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from harness.bgp.names import ext_community
from harness.bgp.numbers import U16, U32, check_uint, parse_ipv4

_TUNNEL_TYPES = {"vxlan": 8}  # RFC 9012 §14.3 (the one `ext_community` names)


def encode_community(text: str) -> bytes:
    """`64512:7` to 4 octets (RFC 1997)."""
    high, sep, low = text.partition(":")
    if not (sep and high.isdigit() and low.isdigit()):
        raise ValueError(f"community {text!r}: expected AS:NUMBER like 64512:7")
    return (
        check_uint(int(high), U16, "community AS") << 16
        | check_uint(int(low), U16, f"community {text!r}: value")
    ).to_bytes(4)


def decode_community(octets: bytes) -> str:
    """4 octets to `AS:NUMBER` (RFC 1997)."""
    return f"{int.from_bytes(octets[:2])}:{int.from_bytes(octets[2:])}"


def _large_parts(text: str) -> tuple[int, int, int]:
    parts = str(text).split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"large community {text!r}: expected GLOBAL:LOCAL1:LOCAL2 like 64512:1:2")
    g, l1, l2 = (check_uint(int(p), U32, f"large community {text!r}: part") for p in parts)
    return g, l1, l2


def normal_large_community(text: str) -> str:
    """`GLOBAL:LOCAL1:LOCAL2`, three decimal 4-octet numbers (RFC 8092 §3); ValueError if not."""
    return ":".join(map(str, _large_parts(text)))


def large_community_order(text: str) -> tuple[int, int, int]:
    """Sort key of a large community text: numerically, part by part (RFC 8092 §3)."""
    return _large_parts(text)


def encode_large_community(text: str) -> bytes:
    """`G:L1:L2` to 12 octets: Global Administrator, Local Data Part 1 and 2 (RFC 8092 §3)."""
    return b"".join(part.to_bytes(4) for part in _large_parts(text))


def decode_large_community(octets: bytes) -> str:
    """12 octets to `G:L1:L2` (RFC 8092 §3)."""
    return ":".join(str(int.from_bytes(octets[i : i + 4])) for i in (0, 4, 8))


def normal_ext_community(text: str) -> str:
    """An extended community text in its canonical form (`0x` and 16 hex digits: lowercase)."""
    return text.lower() if text.lower().startswith("0x") else ext_community(text)


def _admin_specific(subtype: int, value: str, text: str) -> bytes:
    """Route target / origin (RFC 4360 §4-§5 two-octet AS, IPv4; RFC 5668 §2 four-octet AS)."""
    admin, sep, number = value.rpartition(":")
    if not (sep and admin and number.isdigit()):
        raise ValueError(f"extended community {text!r}: expected ...:ADMINISTRATOR:NUMBER")
    local = int(number)
    if "." in admin:
        address = parse_ipv4(admin, f"extended community {text!r}:")
        return bytes([0x01, subtype]) + address.packed + check_uint(local, U16, text).to_bytes(2)
    if not admin.isdigit():
        raise ValueError(f"extended community {text!r}: {admin!r} is not an AS number")
    asn = check_uint(int(admin), U32, f"extended community {text!r}: AS")
    if asn > U16:
        return bytes([0x02, subtype]) + asn.to_bytes(4) + check_uint(local, U16, text).to_bytes(2)
    return bytes([0x00, subtype]) + asn.to_bytes(2) + check_uint(local, U32, text).to_bytes(4)


def encode_ext_community(text: str) -> bytes:
    """Normalised extended community text (see `Attributes`) to its 8 octets (RFC 4360 §2)."""
    kind, _, value = normal_ext_community(text).partition(":")
    if kind in ("target", "origin"):
        return _admin_specific(0x02 if kind == "target" else 0x03, value, text)
    if kind == "encap":  # RFC 9012 §4.1: opaque, subtype 0x0c, 4 reserved octets, tunnel type
        number = _TUNNEL_TYPES.get(value, int(value) if value.isdigit() else -1)
        return (
            b"\x03\x0c" + bytes(4) + check_uint(number, U16, f"tunnel type in {text!r}").to_bytes(2)
        )
    if kind == "router-mac":  # RFC 9135 §8.1: EVPN, subtype 0x03
        octets = value.split(":")
        if len(octets) != 6 or not all(len(o) == 2 for o in octets):
            raise ValueError(f"extended community {text!r}: expected router-mac:aa:bb:cc:dd:ee:ff")
        return b"\x06\x03" + bytes.fromhex("".join(octets))
    if kind == "mac-mobility":  # RFC 7432 §7.7: EVPN, subtype 0x00, flags (sticky), sequence
        seq, _, sticky = value.partition(":")
        if not seq.isdigit() or sticky not in ("", "sticky"):
            raise ValueError(f"extended community {text!r}: expected mac-mobility:SEQ[:sticky]")
        return (
            b"\x06\x00"
            + bytes([1 if sticky else 0, 0])
            + check_uint(int(seq), U32, text).to_bytes(4)
        )
    if kind.startswith("0x") and len(kind) == 18 and not value:
        try:
            return bytes.fromhex(kind[2:])
        except ValueError:
            pass
    raise ValueError(f"extended community {text!r} is not one this codec knows")


def decode_ext_community(octets: bytes) -> str:
    """8 octets to the normalised text `encode_ext_community` takes (RFC 4360 §2)."""
    kind, subtype, value = octets[0], octets[1], octets[2:]
    if subtype in (0x02, 0x03) and kind in (0x00, 0x01, 0x02):
        name = "target" if subtype == 0x02 else "origin"
        if kind == 0x00:
            return f"{name}:{int.from_bytes(value[:2])}:{int.from_bytes(value[2:])}"
        admin = IPv4Address(value[:4]) if kind == 0x01 else int.from_bytes(value[:4])
        return f"{name}:{admin}:{int.from_bytes(value[4:])}"
    if (kind, subtype) == (0x03, 0x0C):
        return ext_community(f"encap:{int.from_bytes(value[4:])}")
    if (kind, subtype) == (0x06, 0x03):
        return "router-mac:" + ":".join(f"{b:02x}" for b in value)
    if (kind, subtype) == (0x06, 0x00):
        sticky = ":sticky" if value[0] & 1 else ""
        return f"mac-mobility:{int.from_bytes(value[2:])}{sticky}"
    return "0x" + octets.hex()
