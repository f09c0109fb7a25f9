"""Topology files: the shipped one loads; every malformed one stops with its field's path."""

from __future__ import annotations

import pytest
from conftest import rr_harness

from harness.errors import InputError
from harness.model.loading import load_topology
from harness.model.topology import Role
from harness.paths import DEFAULT_TOPOLOGY


def test_cloud_hybrid_has_the_issue_s_shape():
    topo = load_topology(DEFAULT_TOPOLOGY)
    assert [n.name for n in topo.by_role(Role.ROUTE_REFLECTOR)] == ["rr-0", "rr-1"]
    assert [n.name for n in topo.by_role(Role.ROUTER)] == ["router-1", "router-2", "router-3"]
    assert {n.asn for n in topo.nodes if not n.role.is_peer} == {64514}
    tor, cloud, observer = (topo.node(n) for n in ("tor", "cloud", "observer"))
    assert (tor.asn, tor.peers, [f.value for f in tor.families]) == (
        64512,
        ("router-1",),
        ["ipv4-unicast", "l2vpn-evpn"],
    )
    assert cloud.peers == ("router-2",) and "l2vpn-evpn" not in cloud.families
    assert observer.asn == 64514 and set(observer.peers) == {"rr-0", "rr-1"}
    for node in topo.nodes:
        if not node.role.is_peer:
            assert node.address_on("cluster").ip.exploded.startswith("10.244.")


def test_models_are_frozen():
    topo = load_topology(DEFAULT_TOPOLOGY)
    with pytest.raises(Exception, match="frozen"):
        topo.nodes[0].asn = 1  # type: ignore[misc]


BAD = [
    (
        "asn: 64512",
        "asn: 99999999999",
        "nodes[5].asn: Input should be less than or equal to 4294967295",
    ),
    (
        "asn: 64512",
        "asn: sixty",
        "nodes[5].asn: Input should be a valid integer",
    ),
    (
        "role: exabgp-peer",
        "role: exabgp",
        "nodes[6].role: Input should be",
    ),
    (
        "peers: [router-1]",
        "peers: [router-9]",
        "nodes[5].peers[0]: unknown node 'router-9'",
    ),
    (
        "10.244.0.22/15",
        "10.246.0.22/15",
        "nodes[3].interfaces[0].addresses[0]: 10.246.0.22/15 is outside",
    ),
    (
        "10.244.0.22/15",
        "10.244.0.21/15",
        "nodes[3].interfaces[0].addresses[0]: 10.244.0.21 already used by router-1",
    ),
    (
        "vtep: 100.65.0.2",
        "vtep: banana",
        "nodes[3].evpn.vtep: Input is not a valid IPv4 address",
    ),
    (
        "- name: rr-1",
        "- name: rr-0",
        "nodes[1].name: duplicate node name 'rr-0'",
    ),
    (
        "segment: underlay-tor,",
        "segment: underlay-x,",
        "nodes[2].interfaces[1].segment: unknown segment",
    ),
    (
        "kind: cluster-network",
        "kind: pod-network",
        "segments[0].kind: Input should be",
    ),
    (
        "    router_id: 10.0.0.3\n",
        "",
        "nodes[4].router_id: required for a router",
    ),
    (
        'mac: "02:00:00:00:01:01"',
        'mac: "02:00:00:00:01"',
        "nodes[2].evpn.hosts[0].mac: String should match",
    ),
    (
        "description: OpenPERouter",
        "colour: blue\ndescription: OpenPERouter",
        "colour: Extra inputs are not permitted",
    ),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD, ids=[b[2].split(":")[0] for b in BAD])
def test_a_bad_field_is_named_with_what_was_expected(tmp_path, topology_text, old, new, message):
    assert old in topology_text
    bad = tmp_path / "bad.yaml"
    bad.write_text(topology_text.replace(old, new, 1))
    with pytest.raises(InputError) as err:
        load_topology(bad)
    assert str(err.value).startswith(f"{bad}: ")
    assert message in str(err.value)


def test_yaml_syntax_errors_give_line_and_column(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nnodes: [\n  - a\n")
    with pytest.raises(InputError, match=rf"{bad}:\d+:\d+: not valid YAML"):
        load_topology(bad)


def test_top_level_must_be_a_mapping(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(InputError, match="expected a mapping at the top level, got list"):
        load_topology(bad)


def test_cli_malformed_topology_is_one_line_and_exit_2(tmp_path, topology_text):
    bad = tmp_path / "bad.yaml"
    bad.write_text(topology_text.replace("asn: 64512", "asn: -1"))
    result = rr_harness("run", "--topology", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"rr-harness run: {bad}: nodes[5].asn: Input should be greater than or equal to 1 (got -1)"
    ]
    assert "Traceback" not in result.stdout + result.stderr


def test_cli_unknown_sut_is_one_line_and_exit_2():
    result = rr_harness("run", "--sut", "/nonexistent/sut")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "rr-harness run: --sut /nonexistent/sut: no such directory"
    ]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["run", "no-such-suite"], "unknown suite 'no-such-suite' (known: allowas-in,"),
        (["run", "--backend", "vm"], "argument --backend: invalid choice: 'vm'"),
        (["run", "--run-id", "BAD ID"], "--run-id 'BAD ID': expected 4-12 lower-case"),
        (["cleanup", "--run-id", "x"], "--run-id 'x': expected 4-12 lower-case"),
        ([], "the following arguments are required: command"),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(args, needle):
    result = rr_harness(*args)
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], lines


def test_pytest_direct_with_bad_input_exits_2(tmp_path):
    import subprocess
    import sys

    from harness.paths import PROJECT_ROOT

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "--sut", str(tmp_path / "nope"), "-q"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert f"--sut {tmp_path / 'nope'}: no such directory" in result.stdout + result.stderr
