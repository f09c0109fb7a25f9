"""One ExaBGP speaker in a namespace (ToR, cloud router, observer), driven through the bridge.

ExaBGP 5 negotiates and decodes EVPN but cannot announce it (LAB-NOTES "ExaBGP 5"); it is used
here to announce IPv4/IPv6 and to observe. The configuration is the harness's own, not the
SUT's: these peers stand for the world around the system under test.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from harness.daemons.api_socket import read_log, request
from harness.errors import DaemonError
from harness.model.base import Family
from harness.model.plan import PeerSession
from harness.observe.exabgp import ExabgpRib
from harness.observe.wait import START_POLL, wait_until
from harness.runtime.processes import ManagedProcess

START_TIMEOUT = 15.0
START_MODULE = "harness.daemons.exabgp_start"  # ExaBGP, loaded before it enters its namespace
_FAMILY_LINES = {
    Family.IPV4_UNICAST: "ipv4 unicast;",
    Family.IPV6_UNICAST: "ipv6 unicast;",
    Family.L2VPN_EVPN: "l2vpn evpn;",
}


def render_config(state_dir: Path, sessions: list[PeerSession]) -> str:
    lines = [
        "process bridge {",
        f"    run {sys.executable} -m harness.daemons.exabgp_bridge {state_dir};",
        "    encoder json;",
        "}",
    ]
    for s in sessions:
        families = " ".join(_FAMILY_LINES[f] for f in s.families)
        lines += [
            f"neighbor {s.peer_address} {{",
            f'    description "{s.peer_name}";',
            f"    router-id {s.router_id};",
            f"    local-address {s.local_address};",
            f"    local-as {s.local_asn};",
            f"    peer-as {s.peer_asn};",
            f"    hold-time {s.hold_time};",
            f"    family {{ {families} }}",
            "    api { processes [ bridge ]; receive { parsed; update; } neighbor-changes; }",
            "}",
        ]
    return "\n".join(lines) + "\n"


EXABGP_ENV = {
    "exabgp_daemon_user": "root",  # stays root: no privilege drop inside the lab
    "exabgp_api_cli": "false",  # no named pipes in /run: the bridge is the only API
    "exabgp_api_respawn": "false",  # a dead bridge is a failure, not something to hide
    "exabgp_log_destination": "stdout",
    "exabgp_log_statistics": "false",  # keepalive counters drown the evidence
}


def prepare(directory: Path, sessions: list[PeerSession]) -> list[str]:
    """Write ExaBGP's config into its state directory; return the command that runs it (with
    `EXABGP_ENV` in its environment). The same on every backend (a kind peer pod too)."""
    config = directory / "exabgp.conf"
    config.write_text(render_config(directory, sessions))
    return [sys.executable, "-m", "exabgp", str(config)]


@dataclass
class ExabgpPeer:
    node: str
    namespace: str
    directory: Path
    sessions: list[PeerSession]
    env: dict[str, str]
    process: ManagedProcess | None = None
    rib: ExabgpRib = field(init=False)

    def __post_init__(self) -> None:
        self.rib = ExabgpRib(self.node, self.directory / "received.jsonl")

    def spawn(self) -> Self:
        """Start the process now, before its namespace is ready: the interpreter and ExaBGP's
        modules load meanwhile (harness.daemons.exabgp_start); `start()` lets it in."""
        interpreter, _, _, config = prepare(self.directory, self.sessions)
        self.process = ManagedProcess(
            node=self.node,
            name="exabgp",
            argv=[interpreter, "-m", START_MODULE, config],
            namespace=self.namespace,
            env=self.env | EXABGP_ENV,
            log=self.directory / "exabgp.log",
            cwd=self.directory,  # not the caller's: nothing there may shadow our modules
            component="exabgp",
            joins_namespace=True,
        ).start()
        return self

    def start(self) -> Self:
        """Into its namespace (spawned now if it was not), then until its process bridge
        listens."""
        if self.process is None:
            self.spawn()
        assert self.process is not None
        self.process.enter_namespace()
        wait_until(
            (self.directory / "api.sock").exists,
            timeout=START_TIMEOUT,
            interval=START_POLL,  # a daemon's socket appears in ms: look often
            what=f"{self.node} ExaBGP process bridge to listen",
            fail_fast=self.check_alive,
        )
        return self

    def check_alive(self) -> None:
        if self.process is not None:
            self.process.check_alive()

    def send(self, command: str, timeout: float = 10.0) -> None:
        """Send one API command (`neighbor X announce route ...`); ExaBGP must answer `done`."""
        self.check_alive()
        reply = self.request(command, timeout)
        if reply != "done":
            raise DaemonError(self.node, f"ExaBGP answered {reply or 'nothing'!r} to {command!r}")

    def request(self, line: str, timeout: float) -> str:
        """One line to the process bridge, its one-line reply."""
        return request(self.node, self.directory, line, log="exabgp.log", timeout=timeout)

    def stop(self) -> None:
        """At the lab's teardown: SIGKILL at once. ExaBGP is the harness's own peer, with
        nothing left to tell its sessions (every SUT daemon stops at the same moment), and its
        orderly shutdown took 0.1-0.2 s after FRR's (issue 18). Its bridge ends on EOF; a
        leftover would still be found by its run id and ended."""
        if self.process is not None:
            self.process.kill()

    def log_text(self) -> str:
        return read_log(self.directory, "exabgp.log")
