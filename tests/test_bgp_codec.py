"""The BGP codec (`harness.bgp`): EVPN NLRI, UPDATEs and their path attributes, offline
(session messages: test_bgp_session.py).

Known-good bytes come from FRR 8.4: the EVPN NLRIs ExaBGP recorded (`"raw"` in
exabgp-observer-received.jsonl), whole messages sniffed in a lab (frr-*.hex), and the UPDATEs a
route reflector sent a crafted speaker (frr-reflected-attributes.hex).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from conftest import DATA, frr_messages
from scapy.contrib import bgp as scapy_bgp

from harness.bgp.attributes import Attributes, decode_ext_community, encode_ext_community
from harness.bgp.evpn import (
    InclusiveMulticastRoute,
    IpPrefixRoute,
    MacIpRoute,
    decode_nlris,
    decode_rd,
    encode_nlri,
    encode_rd,
)
from harness.bgp.names import evpn_key
from harness.bgp.update import build_update, parse_update
from harness.model.base import Family
from harness.observe.wire import decode_update

EVPN, V4, V6 = Family.L2VPN_EVPN, Family.IPV4_UNICAST, Family.IPV6_UNICAST
ROUTER1 = "10.0.0.1:2"
FULL = Attributes(
    origin="egp",
    as_path=(64512, 4200000000, 7),
    next_hop="100.65.0.1",
    med=5,
    local_pref=100,
    communities=("64512:7", "65535:65281"),
    ext_communities=("target:64514:100", "encap:vxlan", "router-mac:aa:bb:cc:dd:ee:ff"),
    originator_id="10.0.0.1",
    cluster_list=("1.1.1.1", "2.2.2.2"),
    pmsi=(6, 100, "100.65.0.1"),
    raw=((0xC0, 99, b"\x01\x02\x03"),),
)


def frr_nlris() -> dict[str, dict]:
    """Every distinct EVPN NLRI FRR sent, raw hex -> ExaBGP's decoding of it."""
    out = {}
    for line in (DATA / "exabgp-observer-received.jsonl").read_text().splitlines():
        update = json.loads(line)["neighbor"].get("message", {}).get("update", {})
        for kind in ("announce", "withdraw"):
            nlris = update.get(kind, {}).get("l2vpn evpn", {})
            lists = nlris.values() if isinstance(nlris, dict) else [nlris]
            out.update({n["raw"]: n for nlri_list in lists for n in nlri_list})
    return out


FRR_NLRIS = frr_nlris()
FRR_UPDATES = frr_messages("frr-evpn-updates.hex")


# --- EVPN NLRI -----------------------------------------------------------------------------


def test_the_frr_vectors_cover_type2_type3_and_withdrawals():
    codes = [n["code"] for n in FRR_NLRIS.values()]
    assert len(FRR_NLRIS) == 16
    assert set(codes) == {2, 3}
    assert any(n["label"] == [[0]] for n in FRR_NLRIS.values() if n["code"] == 2)


@pytest.mark.parametrize("raw", sorted(FRR_NLRIS))
def test_frr_nlri_decodes_to_exabgps_fields_and_encodes_back_byte_for_byte(raw):
    expected = FRR_NLRIS[raw]
    (route,) = decode_nlris(bytes.fromhex(raw))
    assert route.route_type == expected["code"]
    assert route.rd == expected["rd"]
    assert route.eth_tag == expected["ethernet-tag"]
    if isinstance(route, MacIpRoute):
        assert route.mac == expected["mac"].lower()
        assert route.ip == expected.get("ip")
        assert route.label == expected["label"][0][-1]  # VNI 100 = 0x000064 (RFC 8365 §5.1.3)
        assert route.esi == bytes(10)
        assert route.key == evpn_key(2, expected["rd"], mac=expected["mac"], ip=expected.get("ip"))
    else:
        assert isinstance(route, InclusiveMulticastRoute)
        assert route.originator_ip == expected["ip"]
        assert route.key == evpn_key(3, expected["rd"], ip=expected["ip"])
    assert encode_nlri(route) == bytes.fromhex(raw)


def test_vni_fills_all_24_label_bits():
    route = MacIpRoute(ROUTER1, "02:00:00:00:01:01", label=100)
    assert encode_nlri(route).endswith(bytes.fromhex("000064"))
    assert encode_nlri(MacIpRoute(ROUTER1, "02:00:00:00:01:01", label=0xABCDEF)).endswith(
        bytes.fromhex("abcdef")
    )


@pytest.mark.parametrize(
    "route",
    [
        MacIpRoute(ROUTER1, "02:00:00:00:01:01"),
        MacIpRoute(ROUTER1, "02:00:00:00:01:02", ip="10.100.0.12", label=100),
        MacIpRoute("64514:7", "02:00:00:00:01:03", ip="fd00::12", label=100, label2=5000),
        MacIpRoute(
            "4200000000:7", "02:00:00:00:01:04", esi=bytes(range(10)), eth_tag=7, label=0xFFFFFF
        ),
        InclusiveMulticastRoute(ROUTER1, "100.65.0.1"),
        InclusiveMulticastRoute("64514:3", "fd00::65", eth_tag=100),
        IpPrefixRoute(ROUTER1, "10.1.0.0/16", label=100),
        IpPrefixRoute(ROUTER1, "10.1.2.0/24", gateway="10.1.2.1", esi=b"\x01" * 10, eth_tag=3),
        IpPrefixRoute("64514:9", "fd00:1::/48", label=200),
        IpPrefixRoute("64514:9", "::/0", gateway="fd00::1"),
    ],
    ids=lambda r: r.key,
)
def test_every_route_type_round_trips(route):
    data = encode_nlri(route)
    assert data[0] == route.route_type and data[1] == len(data) - 2
    assert decode_nlris(data) == [route]


def test_keys_are_the_canonical_evpn_keys():
    assert MacIpRoute(ROUTER1, "02:00:00:00:01:02", ip="10.100.0.12").key == (
        "evpn type-2 rd 10.0.0.1:2 mac 02:00:00:00:01:02 ip 10.100.0.12"
    )
    assert InclusiveMulticastRoute(ROUTER1, "100.65.0.1", eth_tag=4).key == (
        "evpn type-3 rd 10.0.0.1:2 etag 4 vtep 100.65.0.1"
    )
    assert IpPrefixRoute(ROUTER1, "10.1.0.0/16").key == (
        "evpn type-5 rd 10.0.0.1:2 prefix 10.1.0.0/16"
    )


def test_type5_lengths_and_default_gateway_on_the_wire():
    v4 = encode_nlri(IpPrefixRoute(ROUTER1, "10.1.0.0/16", label=100))
    v6 = encode_nlri(IpPrefixRoute(ROUTER1, "fd00::/64"))
    assert (v4[1], v6[1]) == (34, 58)  # RFC 9136 §3.1
    assert v4[2 + 22 :] == bytes([16]) + bytes([10, 1, 0, 0]) + bytes(4) + b"\x00\x00\x64"
    assert v6[2 + 23 + 16 : 2 + 23 + 32] == bytes(16)


def test_routes_are_normalised_and_validated_when_built():
    assert MacIpRoute("10.0.0.1:02", "02-00-00-00-01-AB", ip="fd00:0::1").mac == "02:00:00:00:01:ab"
    assert MacIpRoute(ROUTER1, "02:00:00:00:01:ab", ip="fd00:0::1").ip == "fd00::1"
    for bad in [
        lambda: MacIpRoute(ROUTER1, "02:00:00:00:01"),
        lambda: MacIpRoute(ROUTER1, "02:00:00:00:01:01", esi=bytes(9)),
        lambda: MacIpRoute(ROUTER1, "02:00:00:00:01:01", label=1 << 24),
        lambda: MacIpRoute(ROUTER1, "02:00:00:00:01:01", eth_tag=-1),
        lambda: InclusiveMulticastRoute(ROUTER1, "not-an-ip"),
        lambda: IpPrefixRoute(ROUTER1, "10.1.2.3/16"),
        lambda: IpPrefixRoute(ROUTER1, "10.1.0.0/16", gateway="fd00::1"),
        lambda: IpPrefixRoute("nonsense", "10.1.0.0/16"),
    ]:
        with pytest.raises(ValueError):
            bad()


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("64514:100", "0000fc0200000064"),  # type 0: 2-octet AS, 32-bit number
        ("65535:4294967295", "0000ffffffffffff"),
        ("10.0.0.1:2", "00010a0000010002"),  # type 1: IPv4, 16-bit number
        ("4200000000:7", "0002fa56ea000007"),  # type 2: 4-octet AS, 16-bit number
        ("100L:7", "0002000000640007"),  # type 2 forced for a small AS
    ],
)
def test_route_distinguisher_types(text, wire):
    assert encode_rd(text).hex() == wire
    assert decode_rd(bytes.fromhex(wire)) == text


@pytest.mark.parametrize(
    "text",
    ["64514", ":5", "abc:5", "1.2.3:4", "10.0.0.1:65536", "70000:65536", "64514:-1", "1 :2"],
)
def test_bad_route_distinguishers_are_refused(text):
    with pytest.raises(ValueError, match="route distinguisher"):
        encode_rd(text)


def test_unknown_rd_type_is_refused():
    with pytest.raises(ValueError, match="type 3"):
        decode_rd(bytes.fromhex("0003000000000000"))


GOOD_T2 = "022100010A000001000200000000000000000000000000003002000000010100000064"


@pytest.mark.parametrize(
    ("hexa", "message"),
    [
        ("02", "EVPN NLRI at offset 0: truncated"),
        ("0221" + "00" * 10, "EVPN NLRI at offset 0: length 33 runs past the end"),
        ("0405" + "00" * 5, "route type 4 is not supported"),
        (GOOD_T2.replace("003002", "002802"), "MAC address length 40 bits is not 48 at offset 24"),
        (
            "022500010A0000010002000000000000000000000000000030020000000102180A64000C000064",
            "IP address length 24 bits is not one of (0, 32, 128) at offset 31",
        ),
        ("0222" + GOOD_T2[4:] + "00", "EVPN type-2 NLRI at offset 0: 1 unexpected trailing"),
        ("031100090A0000010002000000002064410001", "route distinguisher type 9"),
        ("0310" + "00010A0000010002000000002064" + "4100", "originator IP needs 4 octets"),
        ("0521" + "00" * 33, "length 33 is neither 34 (IPv4) nor 58 (IPv6)"),
        ("0522" + "00" * 22 + "21" + "00" * 11, "IP prefix length 33 is over 32 at offset 24"),
        (GOOD_T2 + "02", "EVPN NLRI at offset 35: truncated"),
        (GOOD_T2 + GOOD_T2.replace("003002", "002802"), "type-2 NLRI at offset 35: MAC"),
    ],
)
def test_malformed_nlri_says_what_and_where(hexa, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        decode_nlris(bytes.fromhex(hexa))


def test_nlri_error_offsets_can_be_relative_to_a_message():
    with pytest.raises(ValueError, match="at offset 107: truncated"):
        decode_nlris(bytes.fromhex(GOOD_T2 + "02"), offset=72)


# --- UPDATE ----------------------------------------------------------------------------------

EVPN_ROUTES = [
    MacIpRoute(ROUTER1, "02:00:00:00:01:01", label=100),
    MacIpRoute(ROUTER1, "02:00:00:00:01:02", ip="10.100.0.12", label=100),
    InclusiveMulticastRoute(ROUTER1, "100.65.0.1"),
    IpPrefixRoute(ROUTER1, "10.1.0.0/16", label=100),
]


@pytest.mark.parametrize(
    ("family", "announce", "next_hop"),
    [
        (V4, ["10.77.0.0/16", "0.0.0.0/0", "10.77.2.1/32", "10.77.4.0/23"], "10.244.0.31"),
        (V6, ["fd00:12::/64", "::/0", "2001:db8::1/128"], "fd00:12::2"),
        (EVPN, EVPN_ROUTES, "100.65.0.1"),
        (EVPN, EVPN_ROUTES[:1], "fd00::65"),
    ],
)
def test_attributes_and_nlri_round_trip(family, announce, next_hop):
    attributes = replace(FULL, next_hop=next_hop)
    message = build_update(family, announce, announce[:1], attributes)
    update = parse_update(message)
    assert update.attributes == attributes
    assert update.announce == tuple((family, r) for r in announce)
    assert update.withdraw == ((family, announce[0]),)
    assert update.next_hop(family) == next_hop and update.end_of_rib is None

    routes, withdrawn = decode_update(message, peer="10.244.0.10", observed_at="observer")
    keys = [r if isinstance(r, str) else r.key for r in announce]
    assert [r.key for r in routes] == keys and withdrawn == [(family, keys[0])]
    route = routes[-1]
    assert (route.family, route.peer, route.observed_at) == (family, "10.244.0.10", "observer")
    assert (route.next_hop, route.originator_id, route.cluster_list) == (
        next_hop,
        "10.0.0.1",
        ("1.1.1.1", "2.2.2.2"),
    )
    assert (route.as_path, route.med, route.local_pref) == ((64512, 4200000000, 7), 5, 100)
    assert route.communities == ("64512:7", "65535:65281")
    assert route.ext_communities == (
        "encap:vxlan",
        "router-mac:aa:bb:cc:dd:ee:ff",
        "target:64514:100",
    )
    assert route.rd == (ROUTER1 if family is EVPN else None)


def test_scapy_reads_the_classic_attributes_we_build():
    attributes = replace(FULL, next_hop="10.244.0.31", pmsi=None)
    message = build_update(V4, ["10.77.0.0/16", "10.1.2.0/24"], ["10.9.0.0/16"], attributes)
    update = scapy_bgp.BGPHeader(message)[scapy_bgp.BGPUpdate]
    assert [n.prefix for n in update.nlri] == ["10.77.0.0/16", "10.1.2.0/24"]
    assert [n.prefix for n in update.withdrawn_routes] == ["10.9.0.0/16"]
    by_code = {a.type_code: a for a in update.path_attr}
    assert by_code[1].type_flags == 0x40 and by_code[1].attribute.origin == 1
    assert by_code[2].attribute.segments[0].segment_value == [64512, 4200000000, 7]
    assert by_code[3].attribute.next_hop == "10.244.0.31"
    assert by_code[4].attribute.med == 5 and by_code[5].attribute.local_pref == 100
    assert by_code[9].attribute.originator_id == "10.0.0.1"
    assert by_code[10].attribute.cluster_list == [0x01010101, 0x02020202]


@pytest.mark.parametrize(
    ("text", "wire", "canonical"),
    [
        ("target:64514:100", "0002fc0200000064", None),
        ("RT:64514:100", "0002fc0200000064", "target:64514:100"),
        ("target:1.2.3.4:5", "0102010203040005", None),
        ("target:4200000000:5", "0202fa56ea000005", None),
        ("origin:64514:7", "0003fc0200000007", None),
        ("encap:vxlan", "030c000000000008", None),
        ("ET:8", "030c000000000008", "encap:vxlan"),
        ("encap:13", "030c00000000000d", None),
        ("router-mac:AA:BB:CC:DD:EE:FF", "0603aabbccddeeff", "router-mac:aa:bb:cc:dd:ee:ff"),
        ("mac-mobility:5:sticky", "0600010000000005", None),
        ("0x8001000000000001", "8001000000000001", None),
    ],
)
def test_extended_communities(text, wire, canonical):
    assert encode_ext_community(text).hex() == wire
    assert decode_ext_community(bytes.fromhex(wire)) == (canonical or text)


@pytest.mark.parametrize("text", ["target:x:1", "target:64514:1:2", "encap:bogus", "color:5"])
def test_bad_extended_communities_are_refused(text):
    with pytest.raises(ValueError):
        encode_ext_community(text)


def test_pmsi_tunnel_attribute_carries_the_vni():
    message = build_update(
        EVPN,
        [EVPN_ROUTES[2]],
        attributes=Attributes(next_hop="100.65.0.1", pmsi=(6, 100, "100.65.0.1")),
    )
    # flags 0xc0, type 22, length 9: no flags, ingress replication, VNI 100, endpoint
    assert bytes.fromhex("c01609000600006464410001") in message


def test_hundreds_of_nlri_in_one_update():
    macs = [MacIpRoute(ROUTER1, f"02:00:00:00:{i >> 8:02x}:{i & 255:02x}") for i in range(110)]
    message = build_update(EVPN, macs, attributes=FULL)
    assert len(message) <= 4096
    assert [r for _, r in parse_update(message).announce] == macs
    prefixes = [f"10.{i >> 8}.{i & 255}.0/24" for i in range(900)]
    update = parse_update(build_update(V4, prefixes, attributes=Attributes(next_hop="10.0.0.1")))
    assert [p for _, p in update.announce] == prefixes
    withdraw = [f"fd00:{i:x}::/64" for i in range(300)]
    assert len(parse_update(build_update(V6, withdraw=withdraw)).withdraw) == 300


def test_over_4096_octets_is_refused():
    prefixes = [f"10.{i >> 8}.{i & 255}.0/24" for i in range(1100)]
    with pytest.raises(ValueError, match="4096"):
        build_update(V4, prefixes, attributes=Attributes(next_hop="10.0.0.1"))
    macs = [MacIpRoute(ROUTER1, f"02:00:00:00:{i >> 8:02x}:{i & 255:02x}") for i in range(120)]
    with pytest.raises(ValueError, match="4096"):
        build_update(EVPN, macs, attributes=FULL)


def test_long_attributes_use_extended_length():
    communities = tuple(f"64512:{i}" for i in range(100))
    message = build_update(V4, ["10.0.0.0/8"], attributes=Attributes(communities=communities))
    assert bytes([0xC0 | 0x10, 8]) + (400).to_bytes(2) in message
    assert parse_update(message).attributes.communities == communities


def test_raw_attributes_are_appended_verbatim():
    raw = ((0x40, 1, b"\x00"), (0xD0, 200, b"x" * 300))
    message = build_update(V4, ["10.0.0.0/8"], attributes=Attributes(raw=raw[1:]))
    assert message.endswith(bytes([0xD0, 200]) + (300).to_bytes(2) + b"x" * 300 + b"\x08\x0a")
    assert parse_update(message).attributes.raw == raw[1:]
    twice = build_update(V4, ["10.0.0.0/8"], attributes=Attributes(raw=raw[:1]))
    with pytest.raises(ValueError, match=r"ORIGIN \(type 1\) at offset \d+: appears twice"):
        parse_update(twice)
    with pytest.raises(ValueError, match="Extended Length"):
        build_update(V4, ["10.0.0.0/8"], attributes=Attributes(raw=((0xC0, 200, b"x" * 300),)))


@pytest.mark.parametrize("family", list(Family))
def test_end_of_rib_markers(family):
    message = build_update(family)
    assert parse_update(message).end_of_rib is family
    assert decode_update(message, peer="p", observed_at="o") == ([], [])
    assert len(message) == (23 if family is V4 else 29)  # RFC 4724 §2


def test_withdraw_only_updates_carry_no_attributes():
    update = parse_update(build_update(EVPN, withdraw=EVPN_ROUTES))
    assert update.attributes is None and update.announce == ()
    assert [r for _, r in update.withdraw] == EVPN_ROUTES
    update = parse_update(build_update(V4, withdraw=["10.0.0.0/8"]))
    assert update.attributes is None and update.withdraw == ((V4, "10.0.0.0/8"),)


def test_build_update_refuses_wrong_nlri():
    nh = Attributes(next_hop="10.0.0.1")
    with pytest.raises(TypeError):
        build_update(EVPN, ["10.0.0.0/8"], attributes=nh)
    with pytest.raises(TypeError):
        build_update(V4, [EVPN_ROUTES[0]], attributes=nh)
    with pytest.raises(ValueError):
        build_update(V4, ["10.0.0.1/8"], attributes=nh)  # host bits set
    with pytest.raises(ValueError):
        build_update(V4, ["fd00::/64"], attributes=nh)
    with pytest.raises(ValueError, match="next hop"):
        build_update(V6, ["fd00::/64"], attributes=nh)
    with pytest.raises(ValueError, match="next_hop"):
        build_update(EVPN, EVPN_ROUTES)
    with pytest.raises(ValueError):
        Attributes(origin="bgp")
    with pytest.raises(ValueError):
        build_update(V4, ["10.0.0.0/8"], attributes=Attributes(med=1 << 32))


def corrupt(message: bytes, offset: int, value: bytes) -> bytes:
    return message[:offset] + value + message[offset + len(value) :]


UPDATE_V4 = build_update(V4, ["10.0.0.0/8"], attributes=Attributes(next_hop="10.0.0.1"))


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (UPDATE_V4[:-1], "header says 39 octets, the message has 38"),
        (corrupt(UPDATE_V4, 18, b"\x04"), "type is 4, expected 2"),
        (corrupt(UPDATE_V4, 19, b"\x00\x40"), "withdrawn routes length at offset 19"),
        (corrupt(UPDATE_V4, 21, b"\x00\x40"), "path attributes length at offset 21"),
        (corrupt(UPDATE_V4, 25, b"\x02"), r"ORIGIN \(type 1\) at offset 26: length 2, expected 1"),
        (corrupt(UPDATE_V4, 26, b"\x03"), "undefined origin 3"),
        (corrupt(UPDATE_V4, 32, b"\x05"), "type 3 at offset 30: length 5 runs past"),
        (corrupt(UPDATE_V4, 37, b"\x21"), "NLRI prefix length 33 at offset 37"),
        (corrupt(UPDATE_V4, 37, b"\x18"), "NLRI prefix at offset 37 is truncated"),
    ],
)
def test_malformed_updates_say_what_and_where(message, error):
    with pytest.raises(ValueError, match=error):
        parse_update(message)


def test_malformed_evpn_nlri_in_an_update_names_its_offset_in_the_message():
    message = build_update(EVPN, EVPN_ROUTES[:1], attributes=Attributes(next_hop="100.65.0.1"))
    start = message.index(encode_nlri(EVPN_ROUTES[0]))
    broken = corrupt(message, start + 24, b"\x28")
    with pytest.raises(ValueError, match=f"offset {start}: MAC address length 40 .* {start + 24}"):
        parse_update(broken)


# --- UPDATEs FRR sent ------------------------------------------------------------------------


def test_frr_updates_cover_the_cases():
    updates = [(s, r, parse_update(m)) for s, r, m in FRR_UPDATES]
    announced = {type(route) for _, _, u in updates for _, route in u.announce}
    assert {MacIpRoute, InclusiveMulticastRoute, str} <= announced
    assert any(u.withdraw for _, _, u in updates)
    assert {u.end_of_rib for _, _, u in updates} >= {V4, EVPN}
    assert any(u.attributes and u.attributes.pmsi for _, _, u in updates)


@pytest.mark.parametrize(("sender", "receiver", "message"), FRR_UPDATES)
def test_frr_update_decodes_and_reencodes(sender, receiver, message):
    update = parse_update(message)
    routes, withdrawn = decode_update(message, peer=sender, observed_at=receiver)
    assert len(routes) == len(update.announce) and len(withdrawn) == len(update.withdraw)
    evpn = [r for f, r in (*update.announce, *update.withdraw) if f is EVPN]
    if evpn:  # FRR's NLRI, byte for byte
        assert b"".join(encode_nlri(r) for r in evpn) in message
    for route in routes:
        # router-N: router id 10.0.0.N, RD 10.0.0.N:2, VTEP 100.65.0.N (announced as a /32)
        n = route.rd.split(":")[0][-1] if route.rd else route.key.split("/")[0][-1]
        if route.family is EVPN:
            assert route.next_hop == f"100.65.0.{n}"
            assert route.ext_communities == ("encap:vxlan", "target:64514:100")
        reflected = sender.startswith("rr-")  # RFC 4456 §8
        assert route.cluster_list == (("1.1.1.1",) if reflected else ())
        assert route.originator_id == (f"10.0.0.{n}" if reflected else None)
        assert route.as_path == ((64514,) if receiver == "tor" else ())  # eBGP, 4-octet AS
    if update.announce:
        family = update.announce[0][0]
        again = parse_update(
            build_update(family, [r for _, r in update.announce], attributes=update.attributes)
        )
        assert (again.announce, again.attributes) == (update.announce, update.attributes)


def test_frr_type3_routes_carry_pmsi_ingress_replication_with_the_vni():
    type3 = [
        (u.attributes, r)
        for u in (parse_update(m) for _, _, m in FRR_UPDATES)
        for _, r in u.announce
        if isinstance(r, InclusiveMulticastRoute)
    ]
    assert type3
    for attributes, route in type3:
        assert attributes.pmsi == (6, 100, route.originator_ip)  # RFC 6514 §5, RFC 8365 §5.1.3


def test_frr_updates_match_what_exabgp_decoded():
    """The observer's ExaBGP saw the same routes: same keys from the same RRs."""
    ours = {
        r.key
        for s, rcv, m in FRR_UPDATES
        if rcv == "observer"
        for r in decode_update(m, peer=s, observed_at=rcv)[0]
        if r.family is EVPN
    }
    exabgp = {
        evpn_key(n["code"], n["rd"], mac=n.get("mac"), ip=n.get("ip"))
        for n in FRR_NLRIS.values()
        if "02:00:00:00:01:99" not in n.get("mac", "").lower()
    }
    assert ours - {k for k in ours if ":77" in k} == exabgp


# --- Every attribute a route reflector passes on (RFC 4456 §10, RFC 4271 §5) ---------------

EVERY = replace(
    FULL,
    origin="incomplete",
    as_path=(),
    as_path_segments=(
        ("confed-sequence", (65001,)),
        ("confed-set", (65003, 65002)),
        ("sequence", (64512, 4200000000)),
        ("set", (7, 5)),
    ),
    atomic_aggregate=True,
    aggregator="4200000000:10.9.9.9",
    large_communities=("64512:7:8", "4200000000:1:2"),
    raw=((0xE0, 20, b"\x09"), (0xC0, 240, b"\x01\x02\x03")),
)


@pytest.mark.parametrize(
    ("family", "announce", "next_hop"),
    [(V4, ["10.77.0.0/16"], "10.244.0.31"), (V6, ["fd00:12::/64"], "fd00:12::2")]
    + [(EVPN, [r], "100.65.0.1") for r in EVPN_ROUTES],
)
def test_every_attribute_round_trips_and_reads_as_a_route(family, announce, next_hop):
    attributes = replace(EVERY, next_hop=next_hop)
    assert attributes.as_path == (65001, 65003, 65002, 64512, 4200000000, 7, 5)
    message = build_update(family, announce, attributes=attributes)
    assert parse_update(message).attributes == attributes
    (route,), _ = decode_update(message, peer="10.244.0.10", observed_at="nonclient-1")
    assert route.origin == "incomplete" and route.as_path == attributes.as_path
    assert route.as_path_segments == attributes.as_path_segments
    assert route.atomic_aggregate and route.aggregator == "4200000000:10.9.9.9"
    assert route.large_communities == ("64512:7:8", "4200000000:1:2")  # numerically sorted
    assert route.unknown == ((0xE0, 20, "09"), (0xC0, 240, "010203"))  # by type code
    assert route.communities == ("64512:7", "65535:65281")


def test_attributes_go_out_in_type_code_order_raw_ones_among_them():
    """RFC 4271 §5: SHOULD be ordered by type code; MP_REACH_NLRI (14) and `raw` included."""
    for family, route in ((V4, "10.77.0.0/16"), (EVPN, EVPN_ROUTES[0])):
        message = build_update(family, [route], [route], replace(EVERY, next_hop="100.65.0.1"))
        codes = [a.type_code for a in scapy_bgp.BGPHeader(message)[scapy_bgp.BGPUpdate].path_attr]
        assert codes == sorted(codes) and codes[-1] == 240
        assert {6, 7, 8, 16, 20, 22, 32} <= set(codes)
        assert (14 in codes) is (family is EVPN)


def test_new_attributes_on_the_wire():
    message = build_update(V4, ["10.77.0.0/16"], attributes=replace(EVERY, raw=()))
    # AS_PATH: confed-sequence, confed-set, sequence, set, 4-octet ASNs (RFC 4271 §4.3, 5065)
    segments = [
        "03010000fde9",
        "04020000fdeb0000fdea",
        "02020000fc00fa56ea00",
        "01020000000700000005",
    ]
    assert bytes.fromhex("400224" + "".join(segments)) in message
    assert bytes.fromhex("400600") in message  # ATOMIC_AGGREGATE: well-known, no value
    assert bytes.fromhex("c00708fa56ea000a090909") in message  # AGGREGATOR: 4-octet AS
    large = "c020180000fc000000000700000008fa56ea000000000100000002"
    assert bytes.fromhex(large) in message  # LARGE_COMMUNITIES (RFC 8092 §3), as given
    parsed = scapy_bgp.BGPHeader(message)[scapy_bgp.BGPUpdate]
    (as_path,) = [a.attribute for a in parsed.path_attr if a.type_code == 2]
    assert [s.segment_type for s in as_path.segments] == [3, 4, 2, 1]


def test_as_path_segments_normalise():
    assert Attributes(as_path_segments=[("sequence", [1, 2])]) == Attributes(as_path=(1, 2))
    assert Attributes(as_path=(1, 2)).segments() == (("sequence", (1, 2)),)
    given = Attributes(as_path_segments=((1, (3,)), ("as-confed-set", (4,)), ("AS_SEQUENCE", ())))
    assert given.as_path_segments == (("set", (3,)), ("confed-set", (4,)), ("sequence", ()))
    assert given.as_path == (3, 4) == replace(given, as_path=(3, 4)).as_path
    long = Attributes(as_path=tuple(range(1, 301)))
    assert [len(asns) for _, asns in long.segments()] == [255, 45]
    assert parse_update(build_update(V4, ["10.0.0.0/8"], attributes=long)).attributes == long
    assert Attributes(as_path=(1,), as_path_segments=(("set", (2,)),)).as_path == (2,)
    with pytest.raises(ValueError, match="at most 255"):
        Attributes(as_path_segments=(("set", tuple(range(256))),))
    with pytest.raises(ValueError, match="segment type"):
        Attributes(as_path_segments=(("confederation", (1,)),))


def test_origin_none_sends_no_origin():
    """RFC 4271 §5.1.1 makes ORIGIN mandatory: leaving it out is for error cases (RFC 7606 §3 d);
    decoding says None when there is none."""
    message = build_update(V4, ["10.0.0.0/8"], attributes=Attributes(origin=None))
    assert parse_update(message).attributes == Attributes(origin=None)
    assert 1 not in [a.type_code for a in scapy_bgp.BGPHeader(message).path_attr]
    (route,), _ = decode_update(message, peer="p", observed_at="o")
    assert route.origin is None


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"aggregator": "64600"}, "expected ASN:IPv4"),
        ({"aggregator": "64600:10.0.0"}, "AGGREGATOR '10.0.0' is not an IPv4 address"),
        ({"aggregator": "4294967296:10.0.0.1"}, "AGGREGATOR AS"),
        ({"large_communities": ("1:2",)}, "expected GLOBAL:LOCAL1:LOCAL2"),
        ({"large_communities": ("1:2:4294967296",)}, "large community"),
        ({"origin": "bgp"}, "origin"),
    ],
)
def test_bad_new_attributes_are_refused(fields, error):
    with pytest.raises(ValueError, match=error):
        Attributes(**fields)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ((0x40, 6, b"\x00"), r"ATOMIC_AGGREGATE \(type 6\) at offset \d+: length 1, expected 0"),
        ((0xC0, 7, bytes(7)), r"AGGREGATOR \(type 7\) at offset \d+: length 7, expected 8 or 6"),
        ((0xC0, 32, bytes(13)), r"LARGE_COMMUNITIES .* length 13 is not a multiple of 12"),
    ],
)
def test_malformed_new_attributes_say_what_and_where(raw, error):
    message = build_update(V4, ["10.0.0.0/8"], attributes=Attributes(raw=(raw,)))
    with pytest.raises(ValueError, match=error):
        parse_update(message)


def test_a_two_octet_aggregator_decodes():
    """RFC 4271 §4.3: 6 octets between speakers without the 4-octet AS capability."""
    raw = ((0xC0, 7, bytes.fromhex("fde90a000001")),)
    message = build_update(V4, ["10.0.0.0/8"], attributes=Attributes(origin=None, raw=raw))
    decoded = parse_update(message).attributes
    assert decoded.aggregator == "65001:10.0.0.1" and decoded.raw == ()


def test_frr_reflected_every_attribute_and_passed_unknown_ones_on_with_partial():
    """What rr-0 (FRR 8.4) sent a crafted non-client: unknown optional transitive attributes
    kept with Partial set (RFC 4271 §5, §9: sent 0xC0 and 0xD0, received 0xE0 and 0xF0), the
    optional non-transitive one (241) dropped; decoded attributes re-encode to the same."""
    updates = [parse_update(m) for _, _, m in frr_messages("frr-reflected-attributes.hex")]
    assert len(updates) == 4
    raws = [u.attributes.raw for u in updates]
    assert (
        raws[0] == raws[1] == ((0xE0, 240, bytes.fromhex("0102030405")), (0xE0, 242, b"\xcc\xdd"))
    )
    assert raws[2] == ((0xE0, 240, bytes.fromhex("0102030405")), (0xF0, 243, b"\x0a\x0b"))
    assert raws[3] == ()
    # as FRR put them on the wire: communities of both kinds and AS_SET members sorted (sent
    # 64514:2 64514:1, 64514:7:8 64514:1:2, {64602, 64601}), extended communities as sent
    first = updates[1].attributes
    assert first.communities == ("64514:1", "64514:2")
    assert first.large_communities == ("64514:1:2", "64514:7:8")
    assert first.as_path_segments == (("sequence", (64600,)), ("set", (64601, 64602)))
    assert first.ext_communities == (
        "target:64514:100",
        "encap:vxlan",
        "router-mac:02:00:5e:00:53:01",
    )
    assert (first.origin, first.atomic_aggregate, first.aggregator) == (
        "egp",
        True,
        "64600:10.9.9.9",
    )
    for update in updates:
        family = update.announce[0][0]
        again = build_update(family, [r for _, r in update.announce], attributes=update.attributes)
        assert parse_update(again).attributes == update.attributes
