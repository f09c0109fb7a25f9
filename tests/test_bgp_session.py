"""The BGP codec's session messages (`harness.bgp.session`, `harness.bgp.framing`): OPEN,
KEEPALIVE, NOTIFICATION and a TCP stream split into messages, offline; FRR's own messages
(frr-session-messages.hex) among the vectors."""

from __future__ import annotations

import pytest
from conftest import frr_messages
from scapy.contrib import bgp as scapy_bgp

from harness.bgp.attributes import Attributes
from harness.bgp.evpn import MacIpRoute
from harness.bgp.framing import split_messages
from harness.bgp.session import build_keepalive, build_notification, build_open, decode_open
from harness.bgp.update import build_update
from harness.model.base import Family

EVPN, V4, V6 = Family.L2VPN_EVPN, Family.IPV4_UNICAST, Family.IPV6_UNICAST


def scapy_open(message: bytes):
    parsed = scapy_bgp.BGPHeader(message)
    assert parsed.type == 1 and parsed.len == len(message)
    return parsed[scapy_bgp.BGPOpen]


def test_open_capabilities_decode_back_with_scapy():
    message = build_open(64514, 9, "10.244.0.31", [EVPN, V4, V6])
    body = scapy_open(message)
    assert (body.version, body.my_as, body.hold_time, body.bgp_id) == (4, 64514, 9, "10.244.0.31")
    caps = [p.param_value for p in body.opt_params]
    assert [(c.afi, c.safi) for c in caps if c.code == 1] == [(25, 70), (1, 1), (2, 1)]
    assert any(c.code == 2 for c in caps)  # route refresh (RFC 2918)
    assert [c.asn for c in caps if c.code == 65] == [64514]  # 4-octet AS (RFC 6793)


def test_open_with_a_4_octet_as_sends_as_trans():
    body = scapy_open(build_open(4200000000, 90, "1.2.3.4", ["ipv4-unicast"]))
    assert body.my_as == 23456
    assert [p.param_value.asn for p in body.opt_params if p.param_value.code == 65] == [4200000000]
    decoded = decode_open(build_open(4200000000, 90, "1.2.3.4", [V4, V4, EVPN]))
    assert (decoded.asn, decoded.hold_time, decoded.router_id) == (4200000000, 90, "1.2.3.4")
    assert decoded.families == (V4, EVPN)


def test_open_refuses_what_it_cannot_encode():
    with pytest.raises(ValueError):
        build_open(1 << 32, 9, "1.2.3.4", [V4])
    with pytest.raises(ValueError):
        build_open(64514, 9, "router-1", [V4])


def test_frr_open_and_notifications_decode():
    messages = {(s, r, m[18]): m for s, r, m in frr_messages("frr-session-messages.hex")}
    frr_open = decode_open(messages[("router-3", "rr-0", 1)])
    assert (frr_open.asn, frr_open.hold_time, frr_open.router_id) == (64514, 9, "10.0.0.3")
    assert frr_open.families == (V4, EVPN)
    assert (73, b"\x08router-3\x00") in frr_open.capabilities  # FQDN, several caps per parameter
    assert decode_open(messages[("rr-0", "wrong-asn", 1)]).router_id == "1.1.1.1"
    # RFC 8538 hard reset carrying Cease/Administrative Reset; OPEN error Bad Peer AS 64999
    assert messages[("router-3", "rr-0", 3)] == build_notification(6, 9, b"\x06\x04")
    assert messages[("rr-0", "wrong-asn", 3)] == build_notification(2, 2, (64999).to_bytes(2))


def test_keepalive_and_notification():
    assert build_keepalive() == b"\xff" * 16 + b"\x00\x13\x04"
    notification = build_notification(6, 2, b"bye")
    assert notification == b"\xff" * 16 + b"\x00\x18\x03\x06\x02bye"
    parsed = scapy_bgp.BGPHeader(notification)[scapy_bgp.BGPNotification]
    assert (parsed.error_code, parsed.error_subcode, parsed.data) == (6, 2, b"bye")


def test_split_messages_at_every_cut():
    stream = [
        build_open(64514, 9, "1.2.3.4", [EVPN]),
        build_keepalive(),
        build_update(
            EVPN,
            [MacIpRoute("10.0.0.1:2", "02:00:00:00:01:01")],
            attributes=Attributes(next_hop="100.65.0.1", communities=("64512:7",)),
        ),
        build_notification(6, 2),
    ]
    data = b"".join(stream)
    for cut in range(len(data) + 1):
        first, tail = split_messages(data[:cut])
        rest, empty = split_messages(tail + data[cut:])
        assert [m for _, m in first + rest] == stream and empty == b""
    assert [t for t, _ in split_messages(data)[0]] == [1, 4, 2, 3]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff" * 15 + b"\x00", "offset 0: marker"),
        (build_keepalive() + b"\xff\xfe", "offset 19: marker"),
        (b"\xff" * 16 + b"\x00\x12\x04", "length 18 is outside 19..4096"),
        (b"\xff" * 16 + b"\x10\x01\x02", "length 4097 is outside"),
    ],
)
def test_split_messages_refuses_a_broken_stream(data, message):
    with pytest.raises(ValueError, match=message):
        split_messages(data)
