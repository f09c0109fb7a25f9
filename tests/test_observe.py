"""Observers: real FRR and ExaBGP output (captured from a lab, tests/data) into `Route`s."""

from __future__ import annotations

import json

import pytest
from conftest import DATA, frr_messages

from harness.bgp.attributes import Attributes
from harness.bgp.names import evpn_key, ext_community
from harness.model.base import Family
from harness.observe import frr
from harness.observe.exabgp import ExabgpRib
from harness.observe.route import LOCAL, RouteTable
from harness.observe.wire import decode_update

V4 = Family.IPV4_UNICAST
ROUTER1_MAC = "evpn type-2 rd 10.0.0.1:2 mac 02:00:00:00:01:02 ip 10.100.0.12"


@pytest.fixture
def router2_table():
    data = json.loads((DATA / "frr-evpn-route-detail.json").read_text())
    return RouteTable("router-2", frr.evpn_routes(data, "router-2"))


def test_frr_evpn_detail_gives_one_route_per_path(router2_table):
    paths = router2_table.paths(ROUTER1_MAC)
    assert sorted(p.peer for p in paths) == ["10.244.0.10", "10.244.0.11"]
    for path in paths:
        assert path.family is Family.L2VPN_EVPN
        assert path.originator_id == "10.0.0.1"
        assert path.cluster_list == ("1.1.1.1",)
        assert path.next_hop == "100.65.0.1"
        assert path.rd == "10.0.0.1:2"
        assert path.ext_communities == ("encap:vxlan", "target:64514:100")
        assert path.local_pref == 100 and path.as_path == ()


def test_frr_local_paths_are_marked_local(router2_table):
    local = router2_table.local()
    assert {r.key for r in local} == {
        "evpn type-2 rd 10.0.0.2:2 mac 02:00:00:00:02:01",
        "evpn type-2 rd 10.0.0.2:2 mac 02:00:00:00:02:02",
        "evpn type-2 rd 10.0.0.2:2 mac 02:00:00:00:02:02 ip 10.100.0.22",
        "evpn type-3 rd 10.0.0.2:2 vtep 100.65.0.2",
    }
    assert all(r.peer == LOCAL and r.originator_id is None for r in local)


def test_frr_adj_rib_out_keys_match_the_table_keys(router2_table):
    """`advertised-routes` (router-1 towards rr-0, captured) names each route as the table
    does: the Adj-RIB-Out witness and the tables speak of the same keys."""
    evpn = json.loads((DATA / "frr-advertised-evpn.json").read_text())
    keys = frr.advertised_keys(evpn, Family.L2VPN_EVPN)
    assert ROUTER1_MAC in keys and len(keys) == 4
    assert keys <= router2_table.keys(Family.L2VPN_EVPN)
    ipv4 = json.loads((DATA / "frr-advertised-ipv4.json").read_text())
    assert frr.advertised_keys(ipv4, V4) == {"100.65.0.1/32"}
    assert frr.advertised_keys({}, V4) == set()


def test_frr_summary_states():
    router = frr.session_states(json.loads((DATA / "frr-bgp-summary.json").read_text()))
    assert router == {
        "10.244.0.10": "Established",
        "10.244.0.11": "Established",
        "192.168.12.2": "Established",
    }
    rr = frr.session_states(json.loads((DATA / "frr-bgp-summary-rr.json").read_text()))
    assert set(rr) == {"10.244.0.21", "10.244.0.22", "10.244.0.23", "10.244.0.30"}


def test_exabgp_replay_applies_announce_and_withdraw(router2_table):
    rib = ExabgpRib("observer", DATA / "exabgp-observer-received.jsonl")
    table = RouteTable("observer", rib.routes())
    assert rib.sessions == {"10.244.0.10": "up", "10.244.0.11": "up"}
    # the recording announced and then withdrew router-1's host 02:..:01:99
    assert not [r for r in table if "01:99" in r.key]
    paths = table.paths(ROUTER1_MAC)
    assert sorted(p.peer for p in paths) == ["10.244.0.10", "10.244.0.11"]
    frr_path = router2_table.paths(ROUTER1_MAC)[0]
    exa_path = paths[0]
    # the same path, decoded by two different speakers, is the same Route
    for field in (
        "key",
        "rd",
        "next_hop",
        "originator_id",
        "cluster_list",
        "ext_communities",
        "local_pref",
        "as_path",
    ):
        assert getattr(exa_path, field) == getattr(frr_path, field), field
    assert len(table) == 24


def test_exabgp_incremental_read_and_session_down(tmp_path):
    path = tmp_path / "received.jsonl"
    lines = (DATA / "exabgp-observer-received.jsonl").read_text().splitlines(keepends=True)
    rib = ExabgpRib("observer", path)
    assert rib.routes() == []  # no file yet
    path.write_text("".join(lines[:5]) + lines[5][:40])  # a line cut in the middle
    first = len(rib.routes())
    with path.open("a") as handle:
        handle.write(lines[5][40:] + "".join(lines[6:]))
    assert len(rib.routes()) > first
    down = json.loads(lines[0])
    down["neighbor"]["state"] = "down"
    down["neighbor"]["address"]["peer"] = "10.244.0.10"
    with path.open("a") as handle:
        handle.write(json.dumps(down) + "\n")
    assert {r.peer for r in rib.routes()} == {"10.244.0.11"}
    assert rib.sessions["10.244.0.10"] == "down"


def test_evpn_keys_and_ext_communities():
    assert evpn_key(2, "1.1.1.1:5", mac="AA:BB:CC:00:00:01") == (
        "evpn type-2 rd 1.1.1.1:5 mac aa:bb:cc:00:00:01"
    )
    assert evpn_key(3, "1.1.1.1:5", eth_tag=7, ip="100.65.0.9") == (
        "evpn type-3 rd 1.1.1.1:5 etag 7 vtep 100.65.0.9"
    )
    assert (
        evpn_key(5, "1.1.1.1:5", prefix="10.1.0.0/16")
        == "evpn type-5 rd 1.1.1.1:5 prefix 10.1.0.0/16"
    )
    assert ext_community("RT:64514:100") == ext_community("target:64514:100") == "target:64514:100"
    assert ext_community("ET:8") == ext_community("encap:VXLAN") == "encap:vxlan"
    assert ext_community("Rmac:AA:BB:CC:DD:EE:FF") == "router-mac:aa:bb:cc:dd:ee:ff"


def test_route_table_summary_is_readable(router2_table):
    text = router2_table.summary(limit=3)
    assert text.startswith("router-2 holds 20 path(s):")
    assert "... and 17 more" in text


# --- Every attribute a route reflector passes on (RFC 4456 §10), from every observer ----------
# Captured in two probe labs (netns, standalone-rr; 10.131.78.0/24 and 10.131.79.0/24 in the
# second): the crafted client sent these to rr-0, which reflected them; router-2 (FRR), the
# observer (ExaBGP) and nonclient-1 (a crafted speaker, the harness's decoder) recorded what
# they received (frr-attributes-*.json, exabgp-attributes.jsonl, frr-reflected-attributes.hex;
# the EVPN detail trimmed to the client's RD).
CRAFTED_MAC = "evpn type-2 rd 10.244.0.31:100 mac 02:31:00:00:0a:01 ip 10.100.0.201"
_EVERY = dict(
    as_path_segments=(("sequence", (64600,)), ("set", (64602, 64601))),
    med=42,
    local_pref=250,
    communities=("64514:2", "64514:1"),
    atomic_aggregate=True,
    large_communities=("64514:7:8", "64514:1:2"),
)
SENT = {  # what the client sent, besides next hop 10.244.0.31 and its route targets
    "10.131.77.0/24": dict(
        _EVERY,
        origin="incomplete",
        aggregator="64600:10.9.9.9",
        raw=((0xC0, 240, "0102030405"), (0x80, 241, "aabb"), (0xE0, 242, "ccdd")),
    ),
    "10.131.78.0/24": dict(
        _EVERY,
        origin="incomplete",
        aggregator="4200000001:10.9.9.9",
        raw=((0xC0, 240, "0102030405"), (0xD0, 243, "0a0b")),
    ),
    "10.131.79.0/24": dict(
        origin="igp",
        local_pref=100,
        as_path_segments=(
            ("confed-sequence", (65001, 65002)),
            ("confed-set", (65004, 65003)),
            ("sequence", (64600,)),
        ),
    ),
}
# FRR 8.4 reflected them with AS_SET members, communities and large communities sorted, unknown
# transitive attributes with Partial set (0xC0 -> 0xE0, 0xD0 -> 0xF0), the non-transitive one
# (241) dropped, everything else as sent.
REFLECTED = dict(
    origin="incomplete",
    as_path=(64600, 64601, 64602),
    as_path_segments=(("sequence", (64600,)), ("set", (64601, 64602))),
    med=42,
    local_pref=250,
    communities=("64514:1", "64514:2"),
    atomic_aggregate=True,
    aggregator="64600:10.9.9.9",
    large_communities=("64514:1:2", "64514:7:8"),
    originator_id="10.244.0.31",
    cluster_list=("1.1.1.1",),
    next_hop="10.244.0.31",
)
UNKNOWN = ((0xE0, 240, "0102030405"), (0xE0, 242, "ccdd"))
CONFED = (
    ("confed-sequence", (65001, 65002)),
    ("confed-set", (65003, 65004)),
    ("sequence", (64600,)),
)
FIELDS = (*REFLECTED, "unknown", "ext_communities")


def _attributes_of(route):
    return {f: getattr(route, f) for f in FIELDS}


def frr_attribute_routes():
    evpn = json.loads((DATA / "frr-attributes-evpn-detail.json").read_text())
    routes = frr.evpn_routes(evpn, "router-2")
    for name in ("frr-attributes-ipv4.json", "frr-attributes-confed.json"):
        routes += frr.unicast_routes(json.loads((DATA / name).read_text()), V4, "router-2")
    return RouteTable("router-2", routes)


def wire_attribute_routes():
    routes = []
    for _sender, receiver, message in frr_messages("frr-reflected-attributes.hex"):
        routes += decode_update(message, peer="10.244.0.10", observed_at=receiver)[0]
    return RouteTable("nonclient-1", routes)


def exabgp_attribute_routes():
    return RouteTable("observer", ExabgpRib("observer", DATA / "exabgp-attributes.jsonl").routes())


@pytest.mark.parametrize("key", [CRAFTED_MAC, "10.131.77.0/24"])
def test_frr_shows_every_attribute_but_unknown_ones(key):
    (route,) = frr_attribute_routes().paths(key)
    assert route.peer == "10.244.0.10"
    expected = dict(REFLECTED, unknown=())  # FRR 8.4 does not show unrecognised attributes
    if key == CRAFTED_MAC:
        expected["origin"] = "egp"
        assert route.ext_communities == (
            "encap:vxlan",
            "router-mac:02:00:5e:00:53:01",
            "target:64514:100",
        )
    assert {f: getattr(route, f) for f in expected} == expected


def test_frr_names_confederation_segments():
    (route,) = frr_attribute_routes().paths("10.131.79.0/24")
    assert route.as_path_segments == CONFED  # FRR sorts the members of a set
    assert route.as_path == (65001, 65002, 65003, 65004, 64600)
    assert (route.origin, route.atomic_aggregate, route.aggregator) == ("igp", False, None)
    assert route.large_communities == () and route.unknown == ()


def test_exabgp_shows_every_attribute_its_own_way():
    table = exabgp_attribute_routes()
    assert len(table) == 4
    for key in (CRAFTED_MAC, "10.131.77.0/24"):
        (route,) = table.paths(key)
        expected = dict(REFLECTED, unknown=UNKNOWN)
        expected["origin"] = "egp" if key == CRAFTED_MAC else "incomplete"
        assert {f: getattr(route, f) for f in expected} == expected
    (route,) = table.paths("10.131.78.0/24")
    assert route.aggregator == "4200000001:10.9.9.9"
    assert route.unknown == ((0xE0, 240, "0102030405"), (0xF0, 243, "0a0b"))
    (route,) = table.paths("10.131.79.0/24")
    # ExaBGP 5.0.15 names confederation segments `as-sequence`: its blind spot
    assert route.as_path_segments == tuple(("sequence", asns) for _, asns in CONFED)


def test_the_wire_shows_every_attribute_and_the_partial_bit():
    table = wire_attribute_routes()
    (route,) = table.paths("10.131.78.0/24")
    # sent 0xC0 and 0xD0: the RR set Partial (RFC 4271 §9), kept Extended Length
    assert route.unknown == ((0xE0, 240, "0102030405"), (0xF0, 243, "0a0b"))
    (route,) = table.paths("10.131.79.0/24")
    assert route.as_path_segments == CONFED and route.origin == "igp"
    assert route.med == 0  # FRR 8.4 reflects a route without MED with MED 0 (LAB-NOTES)


@pytest.mark.parametrize("key", [CRAFTED_MAC, "10.131.77.0/24"])
def test_three_observers_agree_on_every_attribute_within_their_blind_spots(key):
    """FRR, ExaBGP and the harness's decoder read the same reflected path as the same
    attributes; where FRR cannot see (unknown attributes) it says nothing rather than
    something else."""
    (by_frr,) = frr_attribute_routes().paths(key)
    (by_exabgp,) = exabgp_attribute_routes().paths(key)
    (by_wire,) = wire_attribute_routes().paths(key)
    assert _attributes_of(by_wire) == _attributes_of(by_exabgp)
    assert _attributes_of(by_frr) == dict(_attributes_of(by_wire), unknown=())
    assert by_wire.unknown == UNKNOWN


def _sorted_sets(segments):
    return tuple((k, tuple(sorted(a)) if k.endswith("set") else a) for k, a in segments)


@pytest.mark.parametrize("key", ["10.131.77.0/24", "10.131.78.0/24", "10.131.79.0/24"])
def test_frr_8_4_reflects_every_attribute_as_sent_up_to_order_and_partial(key):
    """The record of FRR 8.4 as a route reflector (RFC 4456 §10; RFC 4271 §5, §9): each
    attribute arrives as sent, except that the members of an AS_SET and the communities of
    both kinds come sorted (sets, RFC 4271 §4.3, RFC 1997, RFC 8092), and unrecognised optional
    transitive attributes come with Partial set, the non-transitive one dropped."""
    (got,) = wire_attribute_routes().paths(key)
    sent = Attributes(**dict(SENT[key], raw=()))
    assert got.origin == sent.origin
    assert got.as_path_segments == _sorted_sets(sent.segments())
    assert got.communities == tuple(sorted(sent.communities))
    assert got.large_communities == tuple(sorted(sent.large_communities))
    assert (got.atomic_aggregate, got.aggregator) == (sent.atomic_aggregate, sent.aggregator)
    assert (got.med, got.local_pref) == (sent.med or 0, sent.local_pref)  # MED: LAB-NOTES
    transitive = tuple((f | 0x20, c, v) for f, c, v in SENT[key].get("raw", ()) if f & 0x40)
    assert got.unknown == transitive
