"""Numbers of the BGP wire without scapy (issue 18: a run that encodes no UPDATE never imports
it): address family identifiers (RFC 4760 §3, RFC 7432 §7), field limits and their checks.
`harness.bgp.framing` re-exports them beside its scapy-built messages."""

from __future__ import annotations

from ipaddress import IPv4Address

from harness.model.base import Family

AFI_SAFI: dict[Family, tuple[int, int]] = {
    Family.IPV4_UNICAST: (1, 1),
    Family.IPV6_UNICAST: (2, 1),
    Family.L2VPN_EVPN: (25, 70),  # RFC 7432 §7
}
FAMILY_OF = {v: k for k, v in AFI_SAFI.items()}
U8, U16, U24, U32 = 0xFF, 0xFFFF, 0xFFFFFF, 0xFFFFFFFF


def check_uint(value: int, limit: int, what: str) -> int:
    """`value` if it is an integer in 0..limit, else ValueError naming `what`."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise ValueError(f"{what} {value!r} is not an integer in 0..{limit}")
    return value


def parse_ipv4(text: str, what: str) -> IPv4Address:
    """`text` as an IPv4 address, else ValueError naming `what`."""
    try:
        return IPv4Address(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not an IPv4 address") from None
