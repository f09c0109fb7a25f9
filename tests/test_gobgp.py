"""GoBGP as the route reflector (fixtures/sut/gobgp-rr): the profile, gobgpd's JSON read into
`Route`s and sessions (samples captured from gobgpd 3.10.0 in a lab, tests/data/gobgp-*.json),
bad profiles refused, and a real lab of gobgpd RR pods and FRR router pods."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest
from conftest import DATA, needs_root, rr_harness

from harness.backends.base import implementation, routes, sessions
from harness.backends.netns.cleanup import find_leftovers
from harness.backends.netns.lab import NetnsBackend
from harness.daemons.gobgp import GOBGPD, GobgpInstance
from harness.drivers.route_server import driver_for
from harness.errors import InputError
from harness.inputs import load_plan
from harness.model.base import Family
from harness.observe import gobgp
from harness.observe.wait import wait_until
from harness.paths import DEFAULT_TOPOLOGY, FIXTURES_DIR
from harness.runtime.run import Run, new_run_id

GOBGP_SUT = FIXTURES_DIR / "sut" / "gobgp-rr"
needs_gobgp = pytest.mark.skipif(not GOBGPD.is_file(), reason="gobgpd is not installed")
CLIENT_ROUTE = "evpn type-2 rd 10.244.0.31:100 mac 02:00:1f:00:00:02"
# Real gobgpd 3.10.0 debug lines (a loop-prevention run): why it left a route out.
CLUSTER_LOOP = (
    'time="2026-11-30T10:23:46Z" level=debug msg="cluster list path attribute has local cluster '
    'id, ignore" ClusterID=1.1.1.1 Data="{ 10.66.3.0/24 | src: { 10.244.0.31 | as: 64514, id: '
    '10.244.0.31, cluster-id: 1.1.1.1 }, nh: 10.244.0.31 }" Key=10.244.0.30 Topic=Peer'
)
FROM_ME = (
    'time="2026-11-30T10:23:46Z" level=debug msg="From me, ignore" Data="{ 10.66.3.0/24 | src: '
    '{ 10.244.0.31 | as: 64514, id: 10.244.0.31 }, nh: 10.244.0.31 }" Key=10.244.0.31 Topic=Peer'
)


def data(name: str):
    return json.loads((DATA / name).read_text())


# -- the profile ---------------------------------------------------------------------------------
def test_the_gobgp_profile_loads_and_renders_gobgpd_toml():
    plan = load_plan(DEFAULT_TOPOLOGY, GOBGP_SUT, check_with_frr=False)
    assert plan.sut.values.implementation == "gobgp"
    assert driver_for(plan).name == "gobgp"
    config = tomllib.loads(plan.render_route_reflector(plan.route_reflectors[0]))
    assert config["global"]["config"] == {"as": 64514, "router-id": "1.1.1.1", "port": 179}
    (group,) = config["peer-groups"]
    assert group["config"] == {"peer-group-name": "CLIENTS", "peer-as": 64514}
    assert group["route-reflector"]["config"] == {
        "route-reflector-client": True,
        "route-reflector-cluster-id": "1.1.1.1",
    }
    assert [a["config"]["afi-safi-name"] for a in group["afi-safis"]] == [
        "l2vpn-evpn",
        "ipv4-unicast",
    ]
    assert group["timers"]["config"] == {
        "keepalive-interval": 3,
        "hold-time": 9,
        "connect-retry": 2,
    }
    assert config["dynamic-neighbors"] == [
        {"config": {"prefix": "10.244.0.0/16", "peer-group": "CLIENTS"}}
    ]
    non_clients = {n["config"]["neighbor-address"]: n for n in config["neighbors"]}
    assert set(non_clients) == {"10.244.0.41", "10.244.0.42"}
    assert all("route-reflector" not in n for n in non_clients.values())


def test_router_pods_stay_frr_with_the_standalone_template():
    """The profile shares standalone-rr's router template (sut.yaml `templates.router`)."""
    plan = load_plan(DEFAULT_TOPOLOGY, GOBGP_SUT, check_with_frr=False)
    frr = load_plan(DEFAULT_TOPOLOGY, FIXTURES_DIR / "sut" / "standalone-rr", check_with_frr=False)
    router = plan.topology.node("router-1")
    ips = ["10.244.0.10", "10.244.0.11"]
    assert plan.render_router(router, ips) == frr.render_router(router, ips)


@pytest.fixture
def profiles(tmp_path: Path) -> Path:
    """Writable copies of the gobgp profile and the standalone one whose router template it
    shares, side by side as in fixtures/sut."""
    for name in ("gobgp-rr", "standalone-rr"):
        shutil.copytree(FIXTURES_DIR / "sut" / name, tmp_path / name)
    return tmp_path / "gobgp-rr"


def test_a_missing_shared_template_names_the_field(profiles):
    sut = profiles / "sut.yaml"
    sut.write_text(sut.read_text().replace("../standalone-rr/router.conf.j2", "../nope.conf.j2"))
    result = rr_harness("validate", "--sut", str(profiles))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{sut}: templates.router: ../nope.conf.j2: no such file" in result.stderr
    assert "Traceback" not in result.stderr


@needs_gobgp
def test_a_key_gobgpd_does_not_know_is_refused_naming_it(profiles):
    template = profiles / "gobgpd.toml.j2"
    template.write_text(template.read_text().replace("peer-as = {{ sut.asn }}", "peer-asn = 1"))
    result = rr_harness("validate", "--sut", str(profiles))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{template}: gobgp rejects the config rendered for rr-0: " in result.stderr
    assert "'peer-groups[0].config' has invalid keys: peer-asn" in result.stderr
    assert "Traceback" not in result.stderr


def test_kind_refuses_the_gobgp_profile_at_once():
    from harness.backends.kind.manifests import manifests

    plan = load_plan(DEFAULT_TOPOLOGY, GOBGP_SUT, check_with_frr=False)
    with pytest.raises(InputError, match="--backend kind: the gobgp profile runs on netns only"):
        manifests(plan, "check")


# -- gobgpd's JSON -------------------------------------------------------------------------------
def test_every_attribute_of_a_path_is_read():
    """The crafted client's route as the RR received it: every attribute the suites compare."""
    table = gobgp.rib_routes(data("gobgp-rib-evpn.json"), Family.L2VPN_EVPN, "rr-0")
    (path,) = [r for r in table if r.key == CLIENT_ROUTE]
    assert (path.peer, path.rd, path.next_hop) == ("10.244.0.31", "10.244.0.31:100", "10.244.0.31")
    assert path.origin == "egp"
    assert path.as_path_segments == (("sequence", (64600, 64601)), ("set", (64603, 64602)))
    assert path.as_path == (64600, 64601, 64603, 64602)
    assert (path.med, path.local_pref) == (42, 250)
    assert path.atomic_aggregate and path.aggregator == "64600:10.9.9.9"
    assert path.communities == ("64514:2", "64514:1")
    assert path.large_communities == ("64514:1:2", "64514:7:8")
    assert path.ext_communities == (
        "encap:vxlan",
        "router-mac:02:00:5e:00:53:01",
        "target:64514:100",
    )
    assert (path.originator_id, path.cluster_list) == ("10.9.9.9", ("9.9.9.9",))
    assert path.unknown == ((0xC0, 240, "5a17a5"),)  # as received: Partial clear


def test_evpn_keys_name_frr_s_routes_as_every_reader_does():
    table = gobgp.rib_routes(data("gobgp-rib-evpn.json"), Family.L2VPN_EVPN, "rr-0")
    assert {r.key for r in table if r.peer == "10.244.0.21"} == {
        "evpn type-2 rd 10.0.0.1:2 mac 02:00:00:00:01:02 ip 10.100.0.12",
        "evpn type-2 rd 10.0.0.1:2 mac 02:00:00:00:01:01",
        "evpn type-3 rd 10.0.0.1:2 vtep 100.65.0.1",
    }
    vtep = next(r for r in table if "type-3" in r.key)
    assert (vtep.next_hop, vtep.origin, vtep.local_pref, vtep.med) == (
        "100.65.0.1",
        "igp",
        100,
        None,
    )
    assert vtep.ext_communities == ("encap:vxlan", "target:64514:100")
    assert vtep.unknown == ()  # PMSI tunnel (type 22) is an attribute GoBGP knows


def test_adj_out_shows_what_the_rr_sends_a_client():
    """RFC 4456 §8, as gobgpd shows its Adj-RIB-Out to router-1: ORIGINATOR_ID set when absent,
    kept when present, its cluster id prepended."""
    table = gobgp.rib_routes(data("gobgp-adj-out-evpn.json"), Family.L2VPN_EVPN, "rr-0")
    by_key = {r.key: r for r in table}
    router2 = by_key["evpn type-3 rd 10.0.0.2:2 vtep 100.65.0.2"]
    assert (router2.originator_id, router2.cluster_list) == ("10.0.0.2", ("1.1.1.1",))
    client = by_key[CLIENT_ROUTE]
    assert (client.originator_id, client.cluster_list) == ("10.9.9.9", ("1.1.1.1", "9.9.9.9"))


def test_ipv4_paths_and_their_next_hops():
    table = gobgp.rib_routes(data("gobgp-rib-ipv4.json"), Family.IPV4_UNICAST, "rr-0")
    vteps = {r.key: r.next_hop for r in table if r.key.startswith("100.65.0.")}
    assert vteps == {
        "100.65.0.1/32": "10.244.0.21",
        "100.65.0.2/32": "10.244.0.22",
        "100.65.0.3/32": "10.244.1.23",
    }
    (client,) = [r for r in table if r.key == "10.66.1.0/24"]
    assert client.ext_communities == ("origin:10.0.0.9:5", "target:64514:7")
    assert (client.rd, client.family) == (None, Family.IPV4_UNICAST)


def test_sessions_identifiers_and_configured_neighbors():
    peers = data("gobgp-neighbor.json")
    assert gobgp.session_states(peers) == {
        "10.244.0.21": "Established",  # router-1, a dynamic neighbor
        "10.244.0.41": "Established",  # nonclient-1, configured
        "10.244.0.51": "Idle",  # wrong-asn, refused
    }
    assert gobgp.peer_identifiers(peers) == {
        "10.244.0.21": "10.0.0.1",
        "10.244.0.41": "10.244.0.41",
    }
    assert gobgp.configured_neighbors(peers) == {"10.244.0.41"}
    assert '"neighbor_address": "10.244.0.41"' in gobgp.configuration({"asn": 64514}, peers)


@pytest.mark.parametrize(
    ("community", "text"),
    [
        ({"type": 0, "subtype": 2, "value": "64514:100"}, "target:64514:100"),
        ({"type": 1, "subtype": 3, "value": "10.0.0.9:5"}, "origin:10.0.0.9:5"),
        ({"type": 2, "subtype": 2, "value": "1.0:7"}, "target:65536:7"),  # GoBGP's 4-octet AS
        ({"type": 3, "subtype": 12, "tunnel_type": 8}, "encap:vxlan"),
        ({"type": 6, "subtype": 3, "mac": "02:00:5e:00:53:01"}, "router-mac:02:00:5e:00:53:01"),
        ({"type": 6, "subtype": 0, "sequence": 7, "is_sticky": True}, "mac-mobility:7:sticky"),
        ({"type": 3, "subtype": 11, "value": "CwAAAAAAAQ=="}, "0x030b000000000001"),
    ],
)
def test_extended_communities_in_the_canonical_form(community, text):
    assert gobgp.ext_community(community) == text


def test_version_and_refusal_lines():
    assert gobgp.version("gobgpd version 3.10.0") == "3.10.0"
    assert gobgp.version("no idea") == "unknown"
    log = "\n".join([CLUSTER_LOOP, FROM_ME])
    assert gobgp.refusal_lines(log, "10.66.3.0/24") == [CLUSTER_LOOP]
    assert gobgp.refusal_lines(log, "10.66.4.0/24") == []
    assert gobgp.refused_for(CLUSTER_LOOP, "reflected from the same cluster")
    assert not gobgp.refused_for(CLUSTER_LOOP, "originator is us")


# -- real daemons --------------------------------------------------------------------------------
TOPOLOGY = """
name: gobgp-small
segments:
  - {name: cluster, kind: cluster-network, subnets: [10.244.0.0/16]}
nodes:
  - {name: rr-0, role: route-reflector, asn: 64514,
     interfaces: [{segment: cluster, addresses: [10.244.0.10/16]}]}
  - {name: rr-1, role: route-reflector, asn: 64514,
     interfaces: [{segment: cluster, addresses: [10.244.0.11/16]}]}
  - {name: router-1, role: router, asn: 64514, router_id: 10.0.0.1,
     interfaces: [{segment: cluster, addresses: [10.244.0.21/16]}],
     evpn: {vni: 100, vtep: 100.65.0.1, hosts: [{mac: "02:00:00:00:01:01"}]}}
  - {name: router-2, role: router, asn: 64514, router_id: 10.0.0.2,
     interfaces: [{segment: cluster, addresses: [10.244.0.22/16]}],
     evpn: {vni: 100, vtep: 100.65.0.2, hosts: [{mac: "02:00:00:00:02:01"}]}}
"""


@needs_root
@needs_gobgp
def test_a_gobgp_lab_forms_sessions_reflects_and_restarts(tmp_path):
    """gobgpd RR pods with FRR routers: sessions up, router-1's VTEP route at router-2 through
    both RRs with ORIGINATOR_ID and CLUSTER_LIST (RFC 4456 §8); a crashed RR container restarted
    in place comes back; nothing left behind."""
    topology = tmp_path / "topology.yaml"
    topology.write_text(TOPOLOGY)
    plan = load_plan(topology, GOBGP_SUT)
    run = Run(run_id=new_run_id(), reports=tmp_path)
    key = "evpn type-3 rd 10.0.0.1:2 vtep 100.65.0.1"
    with NetnsBackend().up(plan, run, establish_timeout=30) as lab:
        assert not lab.unready
        assert isinstance(lab.frr("rr-0"), GobgpInstance)
        assert sessions(lab, "rr-0") == {"10.244.0.21": "Established", "10.244.0.22": "Established"}
        assert driver_for(plan).identifiers(lab.frr("rr-0"))["10.244.0.21"] == "10.0.0.1"
        name, version = implementation(lab)  # what JUnit's `implementation` says
        assert name == "gobgp" and version.startswith("3.")
        table = wait_until(
            lambda: routes(lab, "router-2"),
            lambda t: {r.peer for r in t.paths(key)} == {"10.244.0.10", "10.244.0.11"},
            timeout=20,
            what=f"{key} at router-2 through both RRs",
            describe=lambda t: t.summary(),
        )
        for path in table.paths(key):
            assert (path.originator_id, path.cluster_list) == ("10.0.0.1", ("1.1.1.1",))
        lab.pods.kill_containers(["rr-0"])
        lab.pods.restart_containers(["rr-0"])
        wait_until(
            lambda: sessions(lab, "rr-0"),
            lambda s: set(s.values()) == {"Established"} and len(s) == 2,
            timeout=30,
            what="rr-0's sessions back after its restart",
        )
        assert "gobgpd started" in lab.frr("rr-0").log_text()
    left = find_leftovers(run.run_id, include_live=True)
    assert left.empty, left.describe()
