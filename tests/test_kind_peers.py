"""The kind backend's peers, end to end on this machine: the real peer_pod entry point starts
the real crafted speaker, relays its API and reads its recording, through the same calls the
lab makes over the API's exec. Only the transport is local (no cluster here): `LocalExec` runs
the exec'd argv as a process of this machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from harness.backends.kind import peers
from harness.backends.kind.peers import KubeSpeaker
from harness.bgp.session import build_keepalive
from harness.errors import CommandError, DaemonError
from harness.model.base import Family
from harness.model.plan import PeerSession
from harness.observe.wait import wait_until
from harness.runtime.processes import pid_running


class LocalExec:
    """`KubePods.exec`, run here: the argv as a process, stdout back, non-zero exit raised."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def exec(self, name, container, argv, timeout=30.0):
        assert container == peers.PEER_CONTAINER
        self.calls.append(argv)
        argv = [sys.executable if argv[0] == peers.PYTHON else argv[0], *argv[1:]]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode:
            raise CommandError(name, argv, done.returncode, done.stderr)
        return done.stdout


@pytest.fixture
def speaker(tmp_path, monkeypatch):
    monkeypatch.setattr(peers, "STATE_DIR", tmp_path)
    session = PeerSession(
        peer_name="rr-0",
        peer_address="127.0.0.1",  # loopback only; nothing answers on 179 here
        local_address="127.0.0.1",
        local_asn=64514,
        peer_asn=64514,
        router_id="10.244.0.31",
        families=(Family.L2VPN_EVPN,),
        hold_time=9,
    )
    pods = LocalExec()
    peer = KubeSpeaker(
        node="client", namespace="rrh-x", directory=tmp_path, sessions=[session], env={}, pods=pods
    )
    peer.start()
    yield peer
    pid = int((tmp_path / "pid").read_text())
    if pid_running(pid):
        os.kill(pid, signal.SIGKILL)  # the speaker this test started, by its PID


def test_the_speaker_starts_in_its_pod_and_answers_through_exec(speaker):
    assert (speaker.directory / "api.sock").exists()
    speaker.check_alive()
    with pytest.raises(
        DaemonError, match=r"could not send to 127\.0\.0\.1: error: .*not Established"
    ):
        speaker.send(build_keepalive(), "rr-0")
    starts = [c for c in speaker.pods.calls if c[3] == "start"]
    assert starts and starts[0][:3] == [peers.PYTHON, "-m", "harness.backends.kind.peer_pod"]


def test_its_recording_is_read_through_exec_into_the_same_rib(speaker):
    sessions = wait_until(
        lambda: dict(speaker.rib.refresh().sessions),
        lambda s: s.get("127.0.0.1") == "down",
        timeout=10,
        what="the refused connection to be recorded",
    )
    assert sessions == {"127.0.0.1": "down"}
    assert "(no log" not in speaker.log_text()  # read through exec too


def test_a_dead_speaker_is_reported_with_its_pid_and_log(speaker):
    pid = int((speaker.directory / "pid").read_text())
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: pid_running(pid), lambda running: not running, timeout=5, what="its end")
    with pytest.raises(DaemonError, match=f"speaker \\(pid {pid}\\) has exited"):
        speaker.check_alive()
