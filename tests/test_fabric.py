"""The fabric never touches the host namespace, and removes everything it made."""

from __future__ import annotations

from conftest import needs_root
from pyroute2 import IPRoute, netns

from harness.backends.netns.fabric import Fabric
from harness.errors import LabError
from harness.model.loading import load_topology
from harness.paths import DEFAULT_TOPOLOGY
from harness.runtime.run import Run

pytestmark = needs_root


def host_state() -> tuple:
    with IPRoute() as ipr:
        links = sorted((link.get("ifname"), link.get("ifalias")) for link in ipr.get_links())
        addrs = sorted((a.get("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr())
        routes = sorted(str(r.get("RTA_DST")) + "/" + str(r["dst_len"]) for r in ipr.get_routes())
    return links, addrs, routes


def test_build_and_close_leave_the_host_as_it_was(tmp_path):
    topology = load_topology(DEFAULT_TOPOLOGY)
    before = host_state()
    run = Run(root=tmp_path)
    fabric = Fabric(run)
    try:
        fabric.build(topology, list(topology.nodes))
        assert host_state() == before  # nothing created in, or moved through, the host
        ours = {n for n in netns.listnetns() if n.startswith(f"rrh-{run.run_id}-")}
        assert len(ours) == len(topology.nodes) + 1
    finally:
        assert fabric.close() == []
    assert not [n for n in netns.listnetns() if n.startswith(f"rrh-{run.run_id}-")]
    assert host_state() == before


def test_a_failed_build_still_removes_what_it_made(tmp_path):
    topology = load_topology(DEFAULT_TOPOLOGY)
    run = Run(root=tmp_path)
    fabric = Fabric(run)
    netns.create(run.namespace("rr-1"))  # collides with the third namespace the build makes
    try:
        try:
            fabric.build(topology, list(topology.nodes))
        except LabError as exc:
            assert "rr-1" in str(exc) and "already exists" in str(exc)
        else:
            raise AssertionError("build should have failed on the existing namespace")
    finally:
        fabric.close()
    # everything the build made is gone; the namespace it did not make is still there
    assert [n for n in netns.listnetns() if n.startswith(f"rrh-{run.run_id}-")] == [
        run.namespace("rr-1")
    ]
    netns.remove(run.namespace("rr-1"))
