"""The fabric never touches the host namespace, and removes everything it made."""

from __future__ import annotations

import os
import subprocess
import threading

import pytest
from conftest import needs_root
from pyroute2 import IPRoute, netns

from harness.backends.netns.fabric import Fabric
from harness.errors import LabError
from harness.model.loading import load_topology
from harness.paths import DEFAULT_TOPOLOGY
from harness.runtime.netns_socket import create_namespace
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


def test_a_namespace_is_made_in_this_thread_without_a_fork_and_the_thread_returns(tmp_path):
    """Issue 18: unshare(2) in the calling thread, the namespace bound by name; the thread is
    back in its own, and `ip netns exec` finds the new one apart from it."""
    own = os.readlink("/proc/thread-self/ns/net")
    run = Run(root=tmp_path)
    name = run.namespace("probe")
    try:
        create_namespace(name)
        assert os.readlink("/proc/thread-self/ns/net") == own
        inside = subprocess.run(
            ["ip", "netns", "exec", name, "readlink", "/proc/self/ns/net"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert inside.startswith("net:[") and inside != own
        with pytest.raises(FileExistsError):
            create_namespace(name)
    finally:
        netns.remove(name)


def test_each_thread_gets_its_own_handle_on_a_namespace(tmp_path):
    """pyroute2 binds a handle to the thread that made it: the fabric makes one per thread
    (a socket made in the namespace) and closes them all."""
    topology = load_topology(DEFAULT_TOPOLOGY)
    run = Run(root=tmp_path)
    fabric = Fabric(run)
    node = topology.node("router-1")
    try:
        fabric.build(topology, [node])
        seen: list[object] = []

        def look() -> None:
            handle = fabric.handle("router-1")
            seen.append(handle)
            assert {link.get_attr("IFLA_IFNAME") for link in handle.get_links()} >= {"lo", "eth0"}

        worker = threading.Thread(target=look)
        worker.start()
        worker.join()
        look()
        assert len(seen) == 2 and seen[0] is not seen[1]
    finally:
        assert fabric.close() == []
    assert not [n for n in netns.listnetns() if n.startswith(f"rrh-{run.run_id}-")]
