"""The kind backend's plan at the pods' own addresses (`realise`), and the router pods' start:
what the suites will expect on a cluster is derived from the addresses the CNI gave."""

from __future__ import annotations

import subprocess
from ipaddress import IPv4Address, IPv6Address

import pytest

from harness.backends.kind.manifests import startup_config
from harness.backends.kind.realise import PodAddresses, realisable_nodes, realise, unrealisable
from harness.backends.kind.vni import host_commands, router_entrypoint, script, vni_commands
from harness.errors import InputError
from harness.inputs import load_plan
from harness.model.base import Family
from harness.paths import DEFAULT_SUT, DEFAULT_TOPOLOGY


@pytest.fixture(scope="module")
def plan():
    return load_plan(DEFAULT_TOPOLOGY, DEFAULT_SUT, check_with_frr=False)


def scheduled(plan, *, ipv6=True):
    """Addresses as kindnet would give them: each pod the next IP of a node's /24."""
    out = {}
    for i, node in enumerate(realisable_nodes(plan)):
        v6 = IPv6Address(f"fd00:10:244:1::{i + 2:x}") if ipv6 else None
        out[node.name] = PodAddresses(IPv4Address(f"10.244.{1 + i % 3}.{i + 2}"), v6)
    return out


def test_a_node_outside_the_pod_cidr_is_not_staged_and_says_why(plan):
    skipped = unrealisable(plan)
    assert list(skipped) == ["outsider"]
    assert "outside the pod CIDR" in skipped["outsider"]
    assert "outsider" not in {n.name for n in realisable_nodes(plan)}


def test_sessions_and_configs_follow_the_pods_addresses(plan):
    pods = scheduled(plan)
    real = realise(plan, pods)
    assert "outsider" not in {n.name for n in real.topology.nodes}
    router1 = real.topology.node("router-1")
    config = real.render_router(router1, real.rr_ips(router1))
    for rr in real.route_reflectors:  # rr@<pod ip> for each RR pod, as the controller renders
        assert f"neighbor {pods[rr.name].ipv4} remote-as" in config
    assert f"neighbor {pods['tor'].ipv4} remote-as 64512" in config  # the ToR, now a pod
    assert f"neighbor {pods['rr-stub'].ipv4} remote-as" in config
    assert "192.168.11" not in config  # no underlay address is left
    # the ToR is a pod one routed hop away (the node): eBGP multihop, a stated deviation
    assert f"neighbor {pods['tor'].ipv4} ebgp-multihop 2" in config
    assert not any(
        f"neighbor {pods[rr.name].ipv4} ebgp-multihop" in config for rr in real.route_reflectors
    )
    tor = {s.peer_name: s for s in real.peer_sessions(real.topology.node("tor"))}
    assert tor["router-1"].peer_address == str(pods["router-1"].ipv4)
    assert tor["router-1"].local_address == str(pods["tor"].ipv4)
    # router-ids, VTEPs and VNIs are the topology's: only addresses change
    assert router1.router_id == plan.topology.node("router-1").router_id
    assert router1.evpn == plan.topology.node("router-1").evpn


def test_the_cloud_router_keeps_an_ipv6_address_on_a_dual_stack_cluster(plan):
    real = realise(plan, scheduled(plan))
    cloud = real.topology.node("cloud")
    assert cloud.address_on("cluster", 6) is not None
    assert Family.IPV6_UNICAST in cloud.families
    single = realise(plan, scheduled(plan, ipv6=False))
    assert single.topology.node("cloud").address_on("cluster", 6) is None


def test_the_rr_config_is_drafted_before_the_rr_pods_exist(plan):
    pods = {k: v for k, v in scheduled(plan).items() if not k.startswith("rr-")}
    with pytest.raises(InputError, match="no RR pod stands for rr-0"):
        realise(plan, pods)
    draft = realise(plan, pods, keep_missing=True)
    config = draft.render_route_reflector(draft.route_reflectors[0])
    assert f"neighbor {pods['nonclient-1'].ipv4} remote-as" in config  # configured non-client


def test_a_router_starts_with_its_global_config_and_gets_bgp_through_vtysh(plan):
    router = plan.topology.node("router-1")
    rendered = plan.render_router(router, plan.rr_ips(router))
    start = startup_config(rendered)
    assert "hostname router-1" in start and "router bgp" not in start
    assert rendered.startswith(start.rstrip("\n"))


def test_the_router_start_script_is_valid_shell_and_builds_the_netns_vni_layout(plan):
    evpn = plan.topology.node("router-2").evpn
    body = router_entrypoint(evpn, "/usr/lib/frr/docker-start")
    subprocess.run(["sh", "-n", "-c", body], check=True)  # parses
    lines = vni_commands(evpn)
    assert f"ip addr replace {evpn.vtep}/32 dev lo" in lines
    assert any(f"vxlan id {evpn.vni} local {evpn.vtep} dstport 4789 nolearning" in c for c in lines)
    assert body.rstrip().endswith("exec /usr/lib/frr/docker-start")
    assert "no iproute2" in body  # an image without `bridge` says so, not "not found"
    mac, ip = "02:00:00:00:02:02", IPv4Address("10.100.0.22")
    assert f"bridge fdb replace {mac} dev hp{evpn.vni} master static" in lines
    removal = script(host_commands(evpn.vni, mac, ip, present=False), tolerate_failures=True)
    assert removal.count("|| true") == 2 and "set -e" not in removal
    subprocess.run(["sh", "-n", "-c", removal], check=True)
