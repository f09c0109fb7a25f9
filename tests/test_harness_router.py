"""Router pods the harness plays with its crafted speaker (sut.yaml `harness_routers`): the
field is checked against the topology, naming it; such a router keeps one iBGP session per RR
pod (`rr@<ip>`), and every place that reads a router pod reads it from the speaker's recording.
That it catches a router breaking RFC 4456 §8 is the mutation proof's
(`router-keeps-its-own-originator-id`, tests/test_mutate.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from conftest import needs_root, rr_harness

from harness.backends.base import bgp_identifier, routes, sessions, unready_sessions
from harness.backends.netns.lab import NetnsBackend, NetnsLab
from harness.errors import InputError
from harness.inject import attributes_for, denial_evidence
from harness.model.base import Family
from harness.model.loading import load_sut, load_topology
from harness.model.plan import LabPlan
from harness.model.topology import Topology
from harness.observe.wait import wait_until
from harness.paths import DEFAULT_SUT, DEFAULT_TOPOLOGY
from harness.runtime.run import Run, new_run_id

ESTABLISH_TIMEOUT = 30.0


def _with(sut_copy, value: str):
    path = sut_copy / "sut.yaml"
    text = path.read_text()
    assert "harness_routers: []" in text
    path.write_text(text.replace("harness_routers: []", f"harness_routers: {value}"))
    return path


def test_the_default_profile_plays_no_router():
    plan = LabPlan(load_topology(DEFAULT_TOPOLOGY), load_sut(DEFAULT_SUT))
    assert plan.harness_routers == frozenset()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[router-9]", "harness_routers[0]: router-9 is not a router node of"),
        ("[rr-0]", "harness_routers[0]: rr-0 is not a router node of"),
        ("[router-2]", "harness_routers[0]: router-2 also peers with cloud, which the crafted"),
        ("[router-3, router-1]", "harness_routers[1]: router-1 also peers with tor, rr-stub"),
    ],
)
def test_a_router_the_speaker_cannot_play_is_named(sut_copy, value, message):
    path = _with(sut_copy, value)
    with pytest.raises(InputError, match=r"harness_routers\[") as err:
        LabPlan(load_topology(DEFAULT_TOPOLOGY), load_sut(sut_copy))
    assert str(err.value).startswith(f"{path}: "), err.value
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[router-3, router-3]", "harness_routers: entry 1 names router-3 a second time"),
        ("['']", "harness_routers: entry 0 is empty"),
        ("router-3", "harness_routers: Input should be a valid tuple"),
    ],
)
def test_a_malformed_field_is_named(sut_copy, value, message):
    path = _with(sut_copy, value)
    with pytest.raises(InputError, match=rf"^{path}: ") as err:
        load_sut(sut_copy)
    assert message in str(err.value)


def test_validate_refuses_it_with_exit_status_2(sut_copy):
    _with(sut_copy, "[router-2]")
    result = rr_harness("validate", "--sut", str(sut_copy))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "harness_routers[0]: router-2 also peers with cloud" in result.stderr
    assert "Traceback" not in result.stderr


def test_its_sessions_are_the_router_s_to_every_rr(sut_copy):
    _with(sut_copy, "[router-3]")
    plan = LabPlan(load_topology(DEFAULT_TOPOLOGY), load_sut(sut_copy))
    router = plan.topology.node("router-3")
    got = plan.router_sessions(router, plan.rr_ips(router))
    assert [(s.peer_name, s.peer_address) for s in got] == [
        ("rr@10.244.0.10", "10.244.0.10"),
        ("rr@10.244.0.11", "10.244.0.11"),
    ]
    assert {(s.local_address, s.local_asn, s.peer_asn, s.router_id) for s in got} == {
        ("10.244.1.23", 64514, 64514, "10.0.0.3")
    }
    assert all(s.families == (Family.IPV4_UNICAST, Family.L2VPN_EVPN) for s in got)


def test_kind_refuses_it_in_one_line(sut_copy):
    from harness.backends.kind.manifests import manifests

    _with(sut_copy, "[router-3]")
    plan = LabPlan(load_topology(DEFAULT_TOPOLOGY), load_sut(sut_copy))
    with pytest.raises(InputError, match=r"--backend kind: .*harness_routers: .* netns only"):
        manifests(plan, "check")


# -- a lab with a played router: one RR pod, an FRR router, the played one, the client ----------
PLAYED = "router-p"


def played_plan() -> LabPlan:
    sut = load_sut(DEFAULT_SUT)
    values = sut.values.model_copy(update={"replicas": 1, "harness_routers": (PLAYED,)})
    cluster = {"segment": "cluster"}

    def pod(name: str, role: str, host: int, **more: object) -> dict[str, object]:
        address = {"addresses": [f"10.244.0.{host}/16"]}
        return {"name": name, "role": role, "asn": 64514, "interfaces": [cluster | address]} | more

    def evpn(n: int) -> dict[str, object]:
        return {"vni": 100, "vtep": f"100.65.0.{n}", "hosts": []}

    topology = Topology.model_validate(
        {
            "name": "played-router",
            "segments": [
                {"name": "cluster", "kind": "cluster-network", "subnets": ["10.244.0.0/16"]}
            ],
            "nodes": [
                pod("rr-0", "route-reflector", 10),
                pod("router-f", "router", 21, router_id="10.0.0.1", evpn=evpn(1)),
                pod(PLAYED, "router", 22, router_id="10.0.0.2", evpn=evpn(2)),
                pod(
                    "client",
                    "crafted-speaker",
                    31,
                    families=["ipv4-unicast", "l2vpn-evpn"],
                    peers=["rr-0"],
                ),
            ],
        }
    )
    return LabPlan(topology, dataclasses.replace(sut, values=values), source="played topology")


@pytest.fixture(scope="module")
def played_lab(profile_frr) -> Iterator[NetnsLab]:
    with NetnsBackend().up(played_plan(), Run(new_run_id()), ESTABLISH_TIMEOUT) as lab:
        yield lab


@needs_root
def test_a_played_router_is_read_like_any_router_pod(played_lab):
    lab = played_lab
    assert not lab.unready and unready_sessions(lab) == {}
    assert PLAYED not in lab.frr_instances  # no FRR: the speaker is the pod's daemon
    assert sessions(lab, PLAYED) == {"10.244.0.10": "Established"}
    assert bgp_identifier(lab, PLAYED) == "10.0.0.2"  # its OPEN, as the RR pod saw it
    client = lab.plan.topology.node("client")
    prefix = "10.66.200.0/24"
    attrs = attributes_for(lab, client, Family.IPV4_UNICAST, originator_id="10.0.0.2")
    lab.speaker("client").announce(Family.IPV4_UNICAST, [prefix], attrs, peer="rr-0")
    held = wait_until(
        lambda: routes(lab, PLAYED, Family.IPV4_UNICAST).paths(prefix),
        bool,
        timeout=15,
        what=f"{PLAYED} to hold {prefix} via rr-0",
    )
    # It keeps what carries its own identifier (it applies no rule) and logs no refusal.
    assert [(p.peer, str(p.originator_id)) for p in held] == [("10.244.0.10", "10.0.0.2")]
    assert denial_evidence(lab, PLAYED, prefix) == []
    assert not [p for p in lab.daemon_crashes() if p.startswith(f"{PLAYED}:")]
