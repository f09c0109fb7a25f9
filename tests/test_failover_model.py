"""The failover machinery that needs no lab: reload commands, samples, measures, pods' nodes."""

from __future__ import annotations

from ipaddress import IPv4Network

import pytest

from harness.cluster.frr_reload import commands, neighbors
from harness.cluster.pods import node_of
from harness.daemons.vty import CONFIG_END
from harness.failover import measures as m
from harness.observe.samples import Sample, read_tables

ROUTER = """frr defaults traditional
hostname router-1
!
router bgp 64514
 bgp router-id 10.0.0.1
 ! rr@10.244.0.10
 neighbor 10.244.0.10 remote-as 64514
 neighbor 10.244.0.10 timers 3 9
{rr2}
 neighbor 192.168.11.2 remote-as 64512
 address-family ipv4 unicast
  neighbor 10.244.0.10 activate
{rr2_v4}
 exit-address-family
 address-family l2vpn evpn
  neighbor 10.244.0.10 activate
{rr2_evpn}
  advertise-all-vni
 exit-address-family
exit
!
"""


def router(with_second: str | None) -> str:
    if with_second is None:
        return ROUTER.format(rr2="", rr2_v4="", rr2_evpn="")
    ip = with_second
    return ROUTER.format(
        rr2=f" ! rr@{ip}\n neighbor {ip} remote-as 64514\n neighbor {ip} timers 3 9",
        rr2_v4=f"  neighbor {ip} activate",
        rr2_evpn=f"  neighbor {ip} activate",
    )


def test_a_new_rr_is_added_in_its_contexts_in_order_in_one_session():
    assert commands(router(None), router("10.244.1.100")) == [
        [
            "configure terminal",
            "XFRR_start_configuration",  # as vtysh -f: no session opens before the last line
            "router bgp 64514",
            "neighbor 10.244.1.100 remote-as 64514",
            "neighbor 10.244.1.100 timers 3 9",
            "address-family ipv4 unicast",
            "neighbor 10.244.1.100 activate",
            "exit-address-family",
            "address-family l2vpn evpn",
            "neighbor 10.244.1.100 activate",
            "XFRR_end_configuration",
            "end",
        ]
    ]


def test_a_gone_rr_is_removed_whole_and_nothing_else_changes():
    assert commands(router("10.244.0.11"), router(None)) == [
        [
            "configure terminal",
            "XFRR_start_configuration",
            "router bgp 64514",
            "no neighbor 10.244.0.11",
            "XFRR_end_configuration",
            "end",
        ]
    ]


def test_re_pointing_adds_before_it_removes():
    (batch,) = commands(router("10.244.0.11"), router("10.244.1.100"))
    assert batch[3] == "neighbor 10.244.1.100 remote-as 64514"
    # out of the address family the last activation was entered in, then the removal
    assert batch[-4:-1] == ["exit-address-family", "no neighbor 10.244.0.11", CONFIG_END]
    assert neighbors(router("10.244.0.11")) == {"10.244.0.10", "10.244.0.11", "192.168.11.2"}


def test_an_unchanged_config_needs_no_command():
    assert commands(router("10.244.0.11"), router("10.244.0.11")) == []


def test_pods_belong_to_the_node_owning_their_slash_24():
    cidr = IPv4Network("10.244.0.0/16")
    assert node_of("10.244.0.10", cidr) == "node-0"
    assert node_of("10.244.1.23", cidr) == "node-1"


EVPN = {
    "10.0.0.2:2": {
        "rd": "10.0.0.2:2",
        "[2]:[0]:[48]:[02:00:00:00:02:01]": {
            "prefix": "[2]:[0]:[48]:[02:00:00:00:02:01]",
            "paths": [[{"peerId": "10.244.0.10"}], [{"peerId": "10.244.0.11", "stale": True}]],
        },
    },
    "10.0.0.1:2": {
        "rd": "10.0.0.1:2",
        "[3]:[0]:[32]:[100.65.0.1]": {"paths": [[{"peerId": "(unspec)"}]]},
    },
    "numPrefix": 2,
}
IPV4 = {"routes": {"100.65.0.2/32": [{"peerId": "10.244.0.10"}, {"peerId": "10.244.0.11"}]}}


def test_tables_give_each_route_its_peers_and_stale_paths_leaving_local_ones_out():
    paths, stale = read_tables(EVPN, IPV4)
    key = "evpn [2]:[0]:[48]:[02:00:00:00:02:01] rd 10.0.0.2:2"
    assert paths == {
        key: frozenset({"10.244.0.10", "10.244.0.11"}),
        "ipv4 100.65.0.2/32": frozenset({"10.244.0.10", "10.244.0.11"}),
    }
    assert stale == {key}


def sample(at, client, keys, asked=None, sessions=None):
    return Sample(
        at,
        client,
        {k: frozenset({"10.244.0.11"}) for k in keys},
        frozenset(),
        sessions or {},
        None,
        at - 0.001 if asked is None else asked,
    )


def test_the_loss_window_is_the_union_over_clients_and_names_each_route_once():
    expected = {"a": frozenset({"r1", "r2"}), "b": frozenset({"r1"})}
    samples = [
        sample(9.99, "a", ["r1"]),  # before the fault: not judged
        sample(10.00, "a", ["r1", "r2"]),
        sample(10.01, "a", ["r1"]),  # r2 missing from 10.01 to 10.03 at a
        sample(10.02, "a", ["r1"]),
        sample(10.03, "a", ["r1", "r2"]),
        sample(10.02, "b", []),  # r1 missing from 10.02 to 10.04 at b: overlaps a's
        sample(10.04, "b", ["r1"]),
    ]
    window, found = m.losses(samples, 10.0, expected)
    assert window == pytest.approx(30.0)
    assert [(loss.client, loss.route, round(loss.at_ms)) for loss in found] == [
        ("a", "r2", 10),
        ("b", "r1", 20),
    ]
    assert str(found[0]) == "r2 missing at a 10 ms after the fault"


def test_restored_is_the_start_of_the_final_stretch_not_the_first_good_sample():
    up = {"peer": "Established"}
    samples = [
        sample(10.000, "a", [], sessions=up),  # still fine just after the fault
        sample(10.010, "a", [], sessions={"peer": "Idle"}),
        sample(10.020, "a", [], sessions=up),
        sample(10.030, "a", [], sessions=up),
    ]

    def established(latest):
        return all(s.sessions.get("peer") == "Established" for s in latest.values())

    assert m.restored_at(samples, 10.0, ["a"], established) == pytest.approx(20.0)
    assert m.first_time(samples, 10.0, ["a"], established) == pytest.approx(0.0)
    assert m.restored_at(samples[:2], 10.0, ["a"], established) is None


def test_gaps_separate_the_daemons_delay_from_the_samplers():
    samples = [
        sample(10.000, "a", [], asked=9.999),
        sample(10.040, "a", [], asked=10.010),  # the daemon took 30 ms to answer
        sample(10.061, "a", [], asked=10.060),  # the sampler asked 20 ms late
    ]
    resolution, late = m.gaps_ms(samples, 10.0, interval=0.010)
    assert resolution == pytest.approx(40.0)
    assert late == pytest.approx(20.0)


def test_percentiles_are_nearest_rank_and_ignore_missing_measures():
    assert m.percentiles([5.0, 1.0, None, 3.0, 2.0, 4.0]) == {
        "n": 5,
        "p50": 3.0,
        "p95": 5.0,
        "max": 5.0,
    }
    assert m.percentiles([None]) == {"n": 0, "p50": None, "p95": None, "max": None}


def test_session_predicates_need_every_client_and_every_address():
    down = {"a": sample(1.0, "a", [], sessions={"x": "Idle"}), "b": sample(1.0, "b", [])}
    up = {"a": sample(1.0, "a", [], sessions={"x": "Established", "y": "Established"})}
    assert m.sessions_down(["x"])(down) and not m.sessions_down(["x"])(up)
    assert m.sessions_up(["x", "y"])(up) and not m.sessions_up(["x", "y"])(down)
    assert not m.sessions_up(["x", "z"])(up)
