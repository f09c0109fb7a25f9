"""The openperouter-upstream profile: OpenPERouter's merged route-reflector design.

Its templates render what upstream's host controller renders (internal/frr/templates at
1d5dcdfd, PR #731 applied): held here to the golden file upstream tests the RR-only node
against (`internal/frr/testdata/TestRouteReflectorOnly.golden`, its lines in order, blank
lines aside) and to what the templates' rules give a client node and an RR client family. Bad
Underlay values stop a run naming the field; kind refuses the profile in one line; and a short
real run shows the design's sessions, static neighbors and reflection.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import needs_root, rr_harness

from harness.backends.kind.manifests import manifests
from harness.errors import InputError
from harness.inputs import load_plan
from harness.model.loading import load_sut
from harness.mutation.catalogue import OPENPEROUTER, PROFILES, mutation

SUT, TOPOLOGY = PROFILES[OPENPEROUTER]

# Upstream's TestRouteReflectorOnly.golden (an RR-only node: a listen range whose evpn family
# has routeReflectorClient, one inter-RR neighbor in evpn), line by line without blank lines.
GOLDEN_RR_ONLY = """\
log stdout
log timestamp precision 3
hostname hostname
ip nht resolve-via-default
ipv6 nht resolve-via-default
route-map allowall permit 1
router bgp 64514
  no bgp ebgp-requires-policy
  no bgp network import-check
  no bgp default ipv4-unicast
  bgp router-id 10.0.0.1
  bgp cluster-id 192.0.2.1
  bgp listen limit 65535
  neighbor 192.168.11.0/24 peer-group
  neighbor 192.168.11.0/24 remote-as internal
  bgp listen range 192.168.11.0/24 peer-group 192.168.11.0/24
  neighbor 192.168.10.4 remote-as internal
  address-family l2vpn evpn
    neighbor 192.168.11.0/24 activate
    neighbor 192.168.11.0/24 route-reflector-client
    neighbor 192.168.10.4 activate
  exit-address-family
exit
!"""


def _values(**underlay: object) -> dict:
    values = yaml.safe_load((SUT / "sut.yaml").read_text())
    values["underlay"] = {**values["underlay"], **underlay}
    return values


def _profile(tmp_path: Path, values: dict) -> Path:
    sut = tmp_path / "sut"
    sut.mkdir(parents=True)
    for item in SUT.iterdir():
        (sut / item.name).write_text(item.read_text())
    (sut / "sut.yaml").write_text(yaml.safe_dump(values, sort_keys=False))
    return sut


def _lines(config: str, *, timers: bool = False) -> list[str]:
    """Non-blank lines, right-stripped; the lab's per-neighbor timers left out unless asked
    (the golden's input sets none; the profile's CRs set them on every neighbor)."""
    out = [line.rstrip() for line in config.splitlines() if line.strip()]
    return [line for line in out if timers or " timers " not in line]


def _render_rr(tmp_path: Path, values: dict, *, others: list[str], non_clients: list) -> str:
    profile = load_sut(_profile(tmp_path, values))
    pod = {"name": "hostname", "address": "192.168.10.3", "router_id": "10.0.0.1"}
    return profile.render(
        "route-reflector.conf.j2",
        pod=pod,
        non_clients=non_clients,
        mesh=[],
        side=None,
        route_reflectors=[pod["address"], *others],
    )


def test_the_rr_template_renders_upstream_s_golden_rr_only_config(tmp_path):
    """TestRouteReflectorOnly: same lines, same order. Its inter-RR neighbor activates evpn
    only, which the profile's template takes from an explicit non-client's families."""
    from harness.model.base import Family
    from harness.model.plan import Neighbor

    values = _values(
        neighbors=[
            {
                "type": "Internal",
                "listenRange": "192.168.11.0/24",
                "addressFamilies": [
                    {"type": "evpn", "properties": [{"type": "routeReflectorClient"}]}
                ],
            }
        ]
    )
    peer = Neighbor("192.168.10.4", "192.168.10.4", 64514, "cp-2", (Family.L2VPN_EVPN,))
    config = _render_rr(tmp_path, values, others=[], non_clients=[peer])
    assert _lines(config) == GOLDEN_RR_ONLY.splitlines()


def test_rr_client_families_get_no_next_hop_self_and_other_rrs_do(tmp_path):
    """After PR #731: in ipv4 unicast, route-reflector-client and next-hop-self force are
    exclusive: the listen range's clients get the first, the other RR (a non-client) the
    second; l2vpn evpn never gets next-hop-self."""
    config = _render_rr(tmp_path, _values(), others=["192.168.10.11"], non_clients=[])
    lines = _lines(config)
    start = lines.index("  address-family ipv4 unicast")
    assert lines[start : start + 8] == [
        "  address-family ipv4 unicast",
        "    neighbor 192.168.10.0/24 activate",
        "    neighbor 192.168.10.0/24 route-reflector-client",
        "  exit-address-family",
        "  address-family ipv4 unicast",
        "    neighbor 192.168.10.11 activate",
        "    neighbor 192.168.10.11 next-hop-self force",
        "  exit-address-family",
    ]
    assert "192.168.10.3 remote-as" not in config  # its own address dropped from the list
    assert "  neighbor 192.168.10.0/24 timers 3 9" in _lines(config, timers=True)


def test_upstream_before_pr_731_is_the_mutation_that_sets_next_hop_self_on_clients(tmp_path):
    """The mutation puts next-hop-self force back beside route-reflector-client."""
    broken = mutation("next-hop-self-force-unicast").apply(SUT, tmp_path / "broken")
    plan = load_plan(TOPOLOGY, broken, check_with_frr=False)
    config = plan.render_all()["rr-0"]
    assert (
        "    neighbor 192.168.10.0/24 route-reflector-client\n"
        "    neighbor 192.168.10.0/24 next-hop-self force\n"
    ) in config


def test_client_nodes_list_the_rr_nodes_as_static_internal_neighbors():
    """A client's neighbors are the RR nodes' underlay addresses (`remote-as internal`, ipv4
    unicast with next-hop-self force, evpn), then its ToR with allowas-in; its VTEP announced."""
    plan = load_plan(TOPOLOGY, SUT, check_with_frr=False)
    lines = _lines(plan.render_all()["router-1"])
    for rr in ("192.168.10.10", "192.168.10.11"):
        assert f"  neighbor {rr} remote-as internal" in lines
        i = lines.index(f"    neighbor {rr} activate")
        assert lines[i + 1] == f"    neighbor {rr} next-hop-self force"
    assert "  neighbor 192.168.21.2 remote-as 64512" in lines
    assert lines.count("    neighbor 192.168.21.2 allowas-in") == 2  # ipv4 unicast, evpn
    assert "    network 100.65.0.1/32" in lines
    assert "bgp cluster-id" not in "\n".join(lines)
    # static: the same neighbors whichever RR pods are ready
    assert plan.sut.values.static_rr_neighbors
    assert plan.inter_rr_ips(plan.route_reflectors[0]) == ["192.168.10.11"]


@pytest.mark.parametrize(
    ("underlay", "message"),
    [
        (
            {"routeReflector": {"clusterID": "fd00::1"}},
            "underlay.routeReflector.clusterID: Input is not a valid IPv4 address",
        ),
        ({"bgpListenLimit": 0}, "underlay.bgpListenLimit: Input should be greater than"),
        (
            {"neighbors": [{"type": "External", "listenRange": "192.168.10.0/24"}]},
            "underlay.neighbors[0].type: Input should be 'Internal'",
        ),
        (
            {"neighbors": [{"type": "Internal", "listenRange": "192.168.10.0/33"}]},
            "underlay.neighbors[0].listenRange: value is not a valid IPv4 or IPv6 network",
        ),
        ({"neighbors": []}, "underlay.neighbors: Tuple should have at least 1 item"),
    ],
)
def test_bad_underlay_values_name_the_field(tmp_path, underlay, message):
    """Bad input stops the run with one line naming the field as an Underlay CR spells it."""
    sut = _profile(tmp_path, _values(**underlay))
    with pytest.raises(InputError, match="sut.yaml: " + message.replace("[", r"\[")):
        load_sut(sut)


def test_values_that_follow_from_the_underlay_are_written_once(tmp_path):
    values = _values()
    values["cluster_id"] = "1.1.1.1"
    with pytest.raises(InputError, match=r"cluster_id: follows from underlay \(192.0.2.1\)"):
        load_sut(_profile(tmp_path, values))
    values = _values()
    del values["underlay"]
    values |= {"cluster_id": "1.1.1.1", "pod_cidr": "10.244.0.0/16"}
    with pytest.raises(InputError, match=r"rr_lifecycle: daemonset .* needs underlay"):
        load_sut(_profile(tmp_path / "b", values))


def test_kind_refuses_the_profile_in_one_line():
    plan = load_plan(TOPOLOGY, SUT, check_with_frr=False)
    with pytest.raises(InputError, match="openperouter-upstream profile runs on netns only"):
        manifests(plan, "abc123")


@needs_root
@pytest.mark.usefixtures("profile_frr")
def test_a_real_run_of_the_design(tmp_path):
    """The design's sessions (static RR neighbors, RR-to-RR, nothing else), reflection of one
    router's routes with ORIGINATOR_ID and CLUSTER_LIST, and every attribute of its IPv4 route
    as it sent it (next hop included: PR #731), on the profile's FRR."""
    result = rr_harness(
        "run", "sessions", "reflection", "-k",
        "sessions or (router-1 and (next_hop or every_attribute or originator))",
        "--sut", str(SUT), "--topology", str(TOPOLOGY),
        "--junitxml", str(tmp_path / "junit.xml"),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert " failed" not in result.stdout and " error" not in result.stdout
    assert "passed" in result.stdout
