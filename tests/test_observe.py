"""Observers: real FRR and ExaBGP output (captured from a lab, tests/data) into `Route`s."""

from __future__ import annotations

import json

import pytest
from conftest import DATA

from harness.bgp.names import evpn_key, ext_community
from harness.model.base import Family
from harness.observe import frr
from harness.observe.exabgp import ExabgpRib
from harness.observe.route import LOCAL, RouteTable

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
