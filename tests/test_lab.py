"""The netns lab itself: tagging, real daemons, EVPN origination, the ExaBGP bridge.

Uses the plugin's session-scoped `lab` fixture on the default topology and SUT.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest
from conftest import needs_root
from pyroute2 import NetNS, netns

from harness.backends.base import routes
from harness.backends.netns.cleanup import tagged_pids
from harness.daemons.vty import CONFIG_END, CONFIG_START
from harness.errors import CommandError
from harness.expect import expected_originations, without_rd
from harness.model.base import Family
from harness.model.topology import Role
from harness.observe.wait import wait_until
from harness.runtime.processes import process_name, process_tag
from harness.runtime.run import TAG_ENV, link_alias

pytestmark = [needs_root, pytest.mark.usefixtures("profile_frr")]


def _daemons(lab, *names: str) -> list[str]:
    """A pod's daemons, in start order: mgmtd first where the FRR has it (10.x) and zebra runs."""
    mgmtd = ["mgmtd"] if "zebra" in names and lab.frr_runtime.has("mgmtd") else []
    return [*mgmtd, *names]


def test_every_node_is_a_namespace_tagged_with_the_run(lab):
    expected = {lab.run.namespace(n.name) for n in lab.plan.lab_nodes}
    expected.add(lab.run.namespace("fabric"))
    ours = {n for n in netns.listnetns() if n.startswith(f"rrh-{lab.run.run_id}-")}
    assert ours == expected


def test_every_link_carries_the_run_alias(lab):
    for name in lab.fabric.namespaces:
        with NetNS(name) as ns:
            for link in ns.get_links():
                ifname = link.get("ifname")
                if ifname == "lo":
                    continue
                assert link.get("ifalias") == link_alias(lab.run.run_id), (name, ifname)


def test_every_process_carries_the_run_tag(lab):
    procs = [p for i in lab.frr_instances.values() for p in i.processes]
    procs += [p.process for p in lab.peers.values()]
    plan = lab.plan
    # RR: bgpd; router: (mgmtd +) zebra + bgpd; peer: exabgp (whose bridge child is found by its
    # tag) or the crafted speaker's process
    per_router = len(_daemons(lab, "zebra", "bgpd"))
    assert len(procs) == len(plan.route_reflectors) + per_router * len(plan.routers) + len(
        plan.peers
    )
    for proc in procs:
        assert proc.alive(), proc.name
        assert process_tag(proc.pid, TAG_ENV) == lab.run.run_id
    tagged = {pid for pid, rid in tagged_pids().items() if rid == lab.run.run_id}
    assert tagged >= {p.pid for p in procs}
    exabgp = [p for p in plan.peers if p.role is Role.EXABGP_PEER]
    assert len(tagged - {p.pid for p in procs}) == len(exabgp)  # one bridge per ExaBGP


def test_one_process_serves_every_crafted_speaker_in_its_own_namespace(lab):
    """Issue 18: one interpreter for every crafted speaker; each session's socket is made in
    its speaker's namespace, so each RR sees it from the speaker's own address."""
    speakers = [p for p in lab.plan.peers if p.role is Role.SPEAKER]
    assert len(speakers) > 1
    pids = {lab.speaker(p.name).process.pid for p in speakers}
    assert len(pids) == 1
    for node in speakers:
        if node.expected_session == "refused":
            continue
        for session in lab.plan.peer_sessions(node):
            rib = lab.speaker(node.name).rib.refresh()
            assert rib.sessions.get(session.peer_address) == "up", node.name


def test_route_reflectors_run_bgpd_without_zebra_and_routers_both(lab):
    for node in lab.plan.route_reflectors:
        assert [p.name for p in lab.frr(node.name).processes] == ["bgpd"]
        assert "-Z" in lab.frr(node.name).processes[0].argv
    for node in lab.plan.routers:
        assert [p.name for p in lab.frr(node.name).processes] == _daemons(lab, "zebra", "bgpd")


def test_every_sut_daemon_runs_from_the_lab_s_frr(lab):
    """Issue 14: the RR and router pods' daemons run the FRR the SUT ships (the profile's tree:
    their root directory is the tree's), with the PIDs the harness tracks; the harness's own
    peers stay on the host."""
    root = lab.frr_runtime.root or Path("/")
    for node in [*lab.plan.route_reflectors, *lab.plan.routers]:
        for proc in lab.frr(node.name).processes:
            assert Path(f"/proc/{proc.pid}/root").resolve() == root, (node.name, proc.name)
            assert process_name(proc.pid) == proc.name
    for peer in lab.peers.values():
        assert Path(f"/proc/{peer.process.pid}/root").resolve() == Path("/")


def test_routers_originate_type2_and_type3_from_their_vni(lab):
    for node in lab.plan.routers:
        table = wait_until(
            lambda n=node: routes(lab, n),
            lambda t, n=node: expected_originations(n) <= {without_rd(r.key) for r in t.local()},
            timeout=10,
            what=f"{node.name} to originate",
            describe=lambda t: t.summary(),
        )
        kinds = {r.key.split()[1] for r in table.local()}
        assert kinds == {"type-2", "type-3"}
        assert any(" ip " in r.key for r in table.local())  # MAC+IP, from the neighbour entry


def test_a_host_added_then_removed_is_originated_then_withdrawn(lab):
    mac, ip = "02:00:00:00:03:77", IPv4Address("10.100.0.77")
    keys = {f"evpn type-2 mac {mac}", f"evpn type-2 mac {mac} ip {ip}"}
    lab.set_evpn_host("router-3", mac, ip, present=True)
    try:
        wait_until(
            lambda: {without_rd(r.key) for r in routes(lab, "router-3").local()},
            lambda got: keys <= got,
            timeout=10,
            what="host routes",
        )
    finally:
        lab.set_evpn_host("router-3", mac, ip, present=False)
    wait_until(
        lambda: {without_rd(r.key) for r in routes(lab, "router-3").local()},
        lambda got: not keys & got,
        timeout=10,
        what="host routes withdrawn",
    )


def test_exabgp_bridge_announces_and_withdraws_on_command(lab):
    """The cloud router announces an IPv4 route through the process API; router-2 gets it,
    then loses it."""
    cloud = lab.exabgp("cloud")
    cloud.send(
        "neighbor 192.168.12.3 announce route 10.77.1.0/24 next-hop self "
        "med 5 community [64515:7] as-path [64515]"
    )
    try:
        table = wait_until(
            lambda: routes(lab, "router-2", Family.IPV4_UNICAST),
            lambda t: t.paths("10.77.1.0/24"),
            timeout=10,
            what="10.77.1.0/24 at router-2",
            describe=lambda t: t.summary(),
        )
        (path,) = table.paths("10.77.1.0/24")
        assert (path.peer, path.next_hop, path.med, path.as_path, path.communities) == (
            "192.168.12.2",
            "192.168.12.2",
            5,
            (64515,),
            ("64515:7",),
        )
    finally:
        cloud.send("neighbor 192.168.12.3 withdraw route 10.77.1.0/24 next-hop self")
    wait_until(
        lambda: routes(lab, "router-2", Family.IPV4_UNICAST),
        lambda t: not t.paths("10.77.1.0/24"),
        timeout=10,
        what="withdrawal at router-2",
    )


def test_exabgp_rejects_a_bad_command_with_a_clear_error(lab):
    from harness.errors import DaemonError

    with pytest.raises(DaemonError, match="cloud: ExaBGP answered 'error' to 'announce nonsense'"):
        lab.exabgp("cloud").send("announce nonsense")


def test_observer_records_what_it_receives_as_json(lab):
    import json

    path = lab.run.directory / "observer" / "received.jsonl"
    wait_until(lambda: routes(lab, "observer"), lambda t: len(t) > 0, timeout=10, what="routes")
    messages = [json.loads(line) for line in path.read_text().splitlines()]
    assert {m["type"] for m in messages} >= {"state", "update"}


def test_a_refused_command_closes_the_configuration_bracket_it_opened(lab):
    """bgpd holds back every neighbor created inside `XFRR_start_configuration` until the end
    mark (harness.daemons.vty.CONFIG_START): a batch that fails half-way must still send it, or
    the next reconcile's new RR would get no session for 600 s."""
    router = lab.frr_instances["router-1"]
    asn = lab.plan.topology.node("router-1").asn
    unused = "10.244.0.250"  # in the lab's pod network, no pod: a session that never forms
    with pytest.raises(CommandError):
        batch = ["configure terminal", CONFIG_START, f"router bgp {asn}"]
        batch += [f"neighbor {unused} remote-as internal", "address-family ipv4 unicast"]
        batch += [f"neighbor {unused} activate", "no-such-command", CONFIG_END, "end"]
        router.configure([batch])
    try:
        # a session of the neighbor the failed batch created is tried: the bracket is closed
        state = wait_until(
            lambda: router.query(f"show bgp neighbors {unused} json")[unused]["bgpState"],
            lambda s: s != "Idle",
            timeout=10,
            what=f"router-1 to try {unused} once the configuration ended",
        )
        assert state in ("Connect", "Active")
    finally:
        undo = ["configure terminal", f"router bgp {asn}", f"no neighbor {unused}", "end"]
        router.configure([undo])  # the session shared with the other tests: back out of config
