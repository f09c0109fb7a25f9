"""The crafted-UPDATE speaker as the harness drives it: any UPDATE, on a real session.

ExaBGP cannot announce EVPN (LAB-NOTES), and some checks need attributes no well-behaved
speaker sends (a foreign CLUSTER_LIST, somebody else's ORIGINATOR_ID, raw malformed bytes).
The harness encodes such UPDATEs itself (`harness.bgp`, on scapy's BGP layers with our own EVPN
NLRI codec) and hands the bytes to a small session-keeping process in the node's namespace
(`speaker_process`). One speaker is one BGP speaker: one session per configured peer.

Its OPEN carries the BGP Extended Message capability unless the topology says
`extended_message: false` (RFC 8654 §3); what each session negotiated is in its recording
(`SpeakerRib.max_message_size`), and the UPDATEs it builds stay within it (RFC 8654 §4). A
message over that size goes out only when a test asks for it (`send(..., oversize=True)`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from harness.bgp.stream import MAX_MESSAGE_SIZE
from harness.daemons.api_socket import read_log, request
from harness.errors import DaemonError
from harness.model.base import Family
from harness.model.plan import PeerSession
from harness.observe.speaker import SpeakerRib
from harness.observe.wait import START_POLL, wait_until
from harness.runtime.processes import ManagedProcess

if TYPE_CHECKING:
    from harness.bgp.attributes import Attributes
    from harness.bgp.evpn import EvpnRoute

START_TIMEOUT = 15.0


def prepare(
    directory: Path,
    sessions: list[PeerSession],
    connect_retry: float,
    namespace: str | None = None,
) -> list[str]:
    """Write the speaker's config (its sessions, each with the OPEN it sends, and the
    `namespace` they live in when the process runs elsewhere) into its state directory; return
    the command that runs it. The same on every backend."""
    from harness.bgp.session import build_open  # scapy: only where a speaker runs (issue 18)

    first = sessions[0]
    config = {
        "asn": first.local_asn,
        "router_id": first.router_id,
        "hold_time": first.hold_time,
        "connect_retry": connect_retry,
        **({"namespace": namespace} if namespace is not None else {}),
        "sessions": [
            {
                "peer": s.peer_address,
                "local": s.local_address,
                "open": build_open(
                    s.local_asn, s.hold_time, s.router_id, s.families, s.extended_message
                ).hex(),
            }
            for s in sessions
        ],
    }
    (directory / "speaker.json").write_text(json.dumps(config, indent=1))
    return [sys.executable, "-m", "harness.daemons.speaker_process", str(directory)]


@dataclass
class CraftedSpeaker:
    node: str
    namespace: str
    directory: Path
    sessions: list[PeerSession]
    env: dict[str, str]
    connect_retry: float = 1.0
    process: ManagedProcess | None = None
    rib: SpeakerRib = field(init=False)

    def __post_init__(self) -> None:
        self.rib = SpeakerRib(self.node, self.directory / "received.jsonl")

    def start(self) -> Self:
        """Run the speaker in a process of its own, in its namespace (the netns lab runs every
        speaker in one process instead: `harness.daemons.speaker_host`)."""
        self.process = ManagedProcess(
            node=self.node,
            name="speaker",
            argv=prepare(self.directory, self.sessions, self.connect_retry),
            namespace=self.namespace,
            env=self.env,
            log=self.directory / "speaker.log",
            cwd=self.directory,
            component="speaker",
        ).start()
        self.await_listening()
        return self

    def await_listening(self) -> None:
        """The speaker's API socket exists: its sessions are being kept."""
        wait_until(
            (self.directory / "api.sock").exists,
            timeout=START_TIMEOUT,
            interval=START_POLL,  # a daemon's socket appears in ms: look often
            what=f"{self.node} crafted speaker to listen",
            fail_fast=self.check_alive,
        )

    def check_alive(self) -> None:
        if self.process is not None:
            self.process.check_alive()

    def peer_address(self, peer: str | None) -> str:
        """A session's peer address, by node name or address (default: the only session)."""
        if peer is None:
            if len(self.sessions) != 1:
                names = [s.peer_name for s in self.sessions]
                raise DaemonError(self.node, f"has sessions to {names}: say which peer")
            return self.sessions[0].peer_address
        for s in self.sessions:
            if peer in (s.peer_name, s.peer_address):
                return s.peer_address
        raise DaemonError(self.node, f"has no session to {peer!r}")

    def send(
        self,
        message: bytes,
        peer: str | None = None,
        timeout: float = 10.0,
        *,
        oversize: bool = False,
    ) -> None:
        """Send one whole BGP message on an Established session. The speaker refuses a message
        over the session's maximum size (RFC 8654 §4) unless `oversize`: a test that sends one
        on purpose (a robustness case) says so."""
        self.check_alive()
        address = self.peer_address(peer)
        request: dict[str, object] = {"peer": address, "send": message.hex()}
        if oversize:
            request["oversize"] = True
        line = json.dumps(request)
        reply = self.request(line, timeout)
        if reply != "done":
            raise DaemonError(self.node, f"could not send to {address}: {reply}")

    def reconnect(self, peer: str | None = None, timeout: float = 10.0) -> None:
        """Connect again now, not when the speaker's ConnectRetry timer (1 s) expires: after a
        session reset a test provoked, the next check need not wait it out."""
        self.check_alive()
        address = self.peer_address(peer)
        reply = self.request(json.dumps({"peer": address, "reconnect": True}), timeout)
        if reply != "done":
            raise DaemonError(self.node, f"could not reconnect to {address}: {reply}")

    def max_message_size(self, peer: str | None = None) -> int:
        """The session's maximum message size as last negotiated (RFC 8654 §4); 4096 before
        any session came up."""
        return self.rib.max_message_size(self.peer_address(peer)) or MAX_MESSAGE_SIZE

    def request(self, line: str, timeout: float) -> str:
        """One line to the speaker process's API, its one-line reply."""
        return request(self.node, self.directory, line, log="speaker.log", timeout=timeout)

    def send_burst(
        self, path: Path, peer: str | None = None, timeout: float = 60.0
    ) -> tuple[float, float]:
        """Send a file of pre-encoded messages in one go (`speaker_process` sizes the socket's
        buffer to hold it). Returns the wall-clock times the first and last byte were handed
        to the kernel."""
        self.check_alive()
        address = self.peer_address(peer)
        line = json.dumps({"peer": address, "send_file": str(path)})
        reply = self.request(line, timeout)
        words = reply.split()
        if len(words) != 3 or words[0] != "done":
            raise DaemonError(self.node, f"could not send {path} to {address}: {reply}")
        return float(words[1]), float(words[2])

    def announce(
        self,
        family: Family,
        routes: Sequence[str | EvpnRoute],
        attributes: Attributes,
        peer: str | None = None,
    ) -> None:
        self.send(self._update(peer, family, announce=routes, attributes=attributes), peer)

    def withdraw(
        self, family: Family, routes: Sequence[str | EvpnRoute], peer: str | None = None
    ) -> None:
        self.send(self._update(peer, family, withdraw=routes), peer)

    def _update(self, peer: str | None, family: Family, **parts: Any) -> bytes:
        """An UPDATE within the session's maximum size (RFC 8654 §4): the recording is read
        only for one over 4096 octets."""
        from harness.bgp.update import build_update  # scapy, imported where UPDATEs are made

        try:
            return build_update(family, **parts)
        except ValueError:
            limit = self.max_message_size(peer)
            if limit == MAX_MESSAGE_SIZE:
                raise
            return build_update(family, **parts, max_size=limit)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def log_text(self) -> str:
        return read_log(self.directory, "speaker.log")
