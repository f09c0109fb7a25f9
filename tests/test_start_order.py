"""The order a netns lab's daemons start in (issue 18): everything at once, a client only once
what it connects to answers; ExaBGP loaded before its namespace exists."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from harness.backends.netns.gates import Gates
from harness.errors import LabError


def test_a_client_starts_once_the_pods_it_connects_to_have_started():
    gates = Gates(["rr-0", "rr-1", "router-1"], ["rr-0", "rr-1"], timeout=5)
    order: list[str] = []
    client = threading.Thread(target=gates.after(["rr-0"], order.append, "observer"))
    client.start()
    client.join(timeout=0.05)  # it had every chance to run early
    assert client.is_alive() and order == []
    gates.opening("rr-1", lambda: order.append("rr-1"))()  # not the one it waits for
    assert order == ["rr-1"]
    gates.opening("rr-0", lambda: order.append("rr-0"))()
    client.join(timeout=5)
    assert order == ["rr-1", "rr-0", "observer"]


def test_a_session_to_no_pod_waits_for_every_route_reflector():
    """meshrr's anycast addresses belong to no pod: any route reflector may answer them."""
    gates = Gates(["rr-0", "rr-1"], ["rr-0", "rr-1"], timeout=0.2)
    gates.opening("rr-0", lambda: None)()
    with pytest.raises(LabError, match=r"rr-1: its daemons did not start within 0\.2 s"):
        gates.await_pods(["anycast-a"])
    gates.opening("rr-1", lambda: None)()
    gates.await_pods(["anycast-a"])


def test_a_failed_start_opens_its_gate_and_is_raised_by_the_start():
    gates = Gates(["rr-0"], ["rr-0"], timeout=1)

    def fails() -> None:
        raise LabError("bgpd exited")

    with pytest.raises(LabError, match="bgpd exited"):
        gates.opening("rr-0", fails)()
    gates.await_pods(["rr-0"])  # the clients go on to theirs (and fail to connect, said there)


def test_exabgp_loaded_ahead_ends_when_the_lab_gives_up_before_its_namespace():
    """An empty stdin (the lab stopped first): the process ends, saying nothing is wrong."""
    done = subprocess.run(
        [sys.executable, "-m", "harness.daemons.exabgp_start", "/nonexistent/exabgp.conf"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
