"""The harness's speakers in peer pods: ExaBGP and the crafted speaker, driven through exec.

They are the netns classes with another transport: starting, the one-line API and the
recording are reached through `harness.backends.kind.peer_pod` inside the pod instead of a local
process and a Unix socket, so everything the suites call (`send`, `announce`, `rib`) is the same
code on both backends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from harness.backends.kind import peer_pod
from harness.daemons.crafted import CraftedSpeaker
from harness.daemons.exabgp import ExabgpPeer
from harness.errors import CommandError, DaemonError
from harness.model.plan import PeerSession
from harness.observe.exabgp import ExabgpRib
from harness.observe.speaker import SpeakerRib

PEER_CONTAINER = "peer"
STATE_DIR = Path("/run/rr-harness")  # inside the peer pod
PYTHON = "python3"  # the peer image's interpreter


class InPod:
    """The transport of a speaker whose process runs in a peer pod."""

    node: str
    sessions: list[PeerSession]
    pods: Any  # KubePods
    kind: str  # peer_pod's name for the daemon: "exabgp" or "speaker"
    log_name: str

    def _peer_pod(self, *args: str, timeout: float = 30.0) -> str:
        argv = [PYTHON, "-m", peer_pod.__name__, args[0], str(STATE_DIR), *args[1:]]
        try:
            return str(self.pods.exec(self.node, PEER_CONTAINER, argv, timeout=timeout))
        except CommandError as exc:
            raise DaemonError(self.node, f"{args[0]} failed in its pod", exc.output) from None

    def _read(self, name: str) -> Any:
        return lambda offset: self._peer_pod("read", name, str(offset)).encode()

    def start(self) -> Self:
        self._peer_pod("start", peer_pod.spec(self.node, self.kind, self.sessions))
        return self

    def request(self, line: str, timeout: float) -> str:
        return self._peer_pod("request", line, str(timeout), timeout=timeout + 5).strip()

    def check_alive(self) -> None:
        self._peer_pod("alive")

    def stop(self) -> None:
        """Nothing to do: deleting the run's namespace ends the pod and its processes."""

    def log_text(self) -> str:
        try:
            return self._peer_pod("read", self.log_name, "0")
        except DaemonError as exc:
            return f"(no log: {exc})"


@dataclass
class KubeSpeaker(InPod, CraftedSpeaker):
    pods: Any = None
    kind: str = "speaker"
    log_name: str = "speaker.log"

    def __post_init__(self) -> None:
        self.rib = SpeakerRib(self.node, STATE_DIR / "received.jsonl", self._read("received.jsonl"))


@dataclass
class KubeExabgp(InPod, ExabgpPeer):
    pods: Any = None
    kind: str = "exabgp"
    log_name: str = "exabgp.log"

    def __post_init__(self) -> None:
        self.rib = ExabgpRib(self.node, STATE_DIR / "received.jsonl", self._read("received.jsonl"))
