"""Every client's routes, sampled continuously while a fault runs its course.

Zero loss is judged from samples, not from a before/after comparison: each router pod is asked
for its EVPN and IPv4 unicast tables and its sessions every SAMPLE_INTERVAL, on a vty connection
of its own (about 1 ms a sample on the lab's tables), from the moment before the fault until the
scenario ends. A route missing from any one sample is a loss at that moment.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.cluster.pods import Pod
from harness.daemons.vty import VtyClient
from harness.errors import DaemonError, HarnessError
from harness.observe import frr
from harness.observe.wait import wait_until

SAMPLER_START_TIMEOUT = 10.0
SAMPLE_INTERVAL = 0.010  # seconds between two samples of one client (issue: at most 20 ms)
EVPN_TABLE = "show bgp l2vpn evpn route json"
IPV4_TABLE = "show bgp ipv4 unicast json"


@dataclass(frozen=True)
class Sample:
    """One look at one client: which peers give it a path for each route, which of those paths
    are stale (RFC 4724), and the state of each of its sessions. `error` when it did not answer."""

    at: float  # time.monotonic() when the answer was complete
    client: str
    paths: Mapping[str, frozenset[str]]  # route key -> peer addresses
    stale: frozenset[str]
    sessions: Mapping[str, str]
    error: str | None = None
    asked_at: float = 0.0  # when the first query was sent (`at - asked_at`: the daemon's delay)
    received: Mapping[str, int] = field(default_factory=dict)  # counts mode: peer -> routes


EVPN_SUMMARY = "show bgp l2vpn evpn summary json"
MODES = ("tables", "counts")  # every route of every table, or per-peer route counts only


def read_tables(evpn: Mapping[str, Any], ipv4: Mapping[str, Any]) -> tuple[dict, frozenset]:
    """Route key -> peers with a path, and the keys with a stale path, from FRR's listings
    (`show bgp l2vpn evpn route json`, `show bgp ipv4 unicast json`). Local routes are left out:
    a client's own routes are never at risk in an RR failover."""
    paths: dict[str, set[str]] = {}
    stale: set[str] = set()

    def add(key: str, entries: Any) -> None:
        for path in _flatten(entries):
            peer = path.get("peerId")
            if peer in (None, "(unspec)", "0.0.0.0", "::"):
                continue
            paths.setdefault(key, set()).add(str(peer))
            if path.get("stale"):
                stale.add(key)

    for rd, table in evpn.items():
        if isinstance(table, dict):
            for prefix, entry in table.items():
                if isinstance(entry, dict) and "paths" in entry:
                    add(f"evpn {prefix} rd {rd}", entry["paths"])
    for prefix, entries in (ipv4.get("routes") or {}).items():
        add(f"ipv4 {prefix}", entries)
    return {k: frozenset(v) for k, v in paths.items()}, frozenset(stale)


def _flatten(entries: Any) -> Iterator[dict[str, Any]]:
    for item in entries or []:
        if isinstance(item, list):
            yield from (p for p in item if isinstance(p, dict))
        elif isinstance(item, dict):
            yield item


def take_sample(vty: VtyClient, client: str) -> Sample:
    """One sample of one FRR instance (a failed query is a sample with `error`)."""
    asked = time.monotonic()
    try:
        evpn, ipv4 = vty.json(EVPN_TABLE), vty.json(IPV4_TABLE)
        sessions = frr.session_states(vty.json(frr.SUMMARY))
    except (HarnessError, OSError) as exc:
        return Sample(time.monotonic(), client, {}, frozenset(), {}, str(exc), asked)
    paths, stale = read_tables(evpn, ipv4)
    return Sample(time.monotonic(), client, paths, stale, sessions, None, asked)


LOCAL = (sys.executable, "-m", "harness.failover.sample_process")  # the sampler, here


@dataclass(frozen=True)
class Access:
    """How a backend lets the harness sample its pods' FRR: where each pod's bgpd vty socket
    is (as the sample process sees it), which command runs the sample process that can reach
    a pod (`channel`: here for netns; inside the pod for kind), and one sample taken now."""

    sockets: Callable[[Iterable[Pod]], dict[str, Path]]
    take: Callable[[str], Sample]
    channel: Callable[[str], tuple[str, ...]] = lambda _client: LOCAL

    def sampler(self, pods: Iterable[Pod], judged: Iterable[Pod] | None = None) -> Sampler:
        """A sampler of `pods`; the routes of `judged` (default: all of them) are judged."""
        pods = list(pods)
        names = {p.name for p in (pods if judged is None else judged)}
        return Sampler(self.sockets(pods), names, channel=self.channel)


def take_counts(vty: VtyClient, client: str) -> Sample:
    """One sample of the EVPN routes received from each peer, and the sessions' states: the
    same cost at any table size (the bench's failover at 100k routes). Routes are not named."""
    asked = time.monotonic()
    try:
        peers = (vty.json(EVPN_SUMMARY).get("peers") or {}).items()
    except (HarnessError, OSError) as exc:
        return Sample(time.monotonic(), client, {}, frozenset(), {}, str(exc), asked)
    sessions = {ip: str(p.get("state", "")) for ip, p in peers}
    received = {ip: int(p.get("pfxRcd") or 0) for ip, p in peers}
    return Sample(time.monotonic(), client, {}, frozenset(), sessions, None, asked, received)


class Sampler:
    """Samples FRR instances until stopped. `routers` are the clients whose routes are judged;
    the others (RR pods) are sampled for their sessions.

    The sampling runs in a process of its own (`harness.failover.sample_process`), one thread
    per client, at a higher priority: the harness process forks (namespaces, daemons) and
    collects garbage while a drill runs, and either would stall threads sharing its interpreter
    for tens of milliseconds. Samples stream back as pickles on the child's stdout; their times
    are CLOCK_MONOTONIC, one clock for both processes (on kind, the sample process runs in the
    pod, on a kind node: a container of this machine, same kernel, same clock). Closing the
    children's stdin stops them. `channel` gives each client's sample process command: clients
    with the same command share one process.
    """

    def __init__(
        self,
        vty_sockets: Mapping[str, Path],
        routers: set[str] | None = None,
        interval: float = SAMPLE_INTERVAL,
        channel: Callable[[str], tuple[str, ...]] = lambda _client: LOCAL,
        mode: str = "tables",
    ) -> None:
        self.mode = mode
        self.vty_sockets = dict(vty_sockets)
        self.routers = set(vty_sockets) if routers is None else routers
        self.interval = interval
        self.channel = channel
        self.samples: list[Sample] = []
        self._latest: dict[str, Sample] = {}
        self._lock = threading.Lock()
        self._children: dict[tuple[str, ...], subprocess.Popen[bytes]] = {}
        self._receivers: list[threading.Thread] = []
        self.error: str | None = None

    def __enter__(self) -> Sampler:
        try:
            self.add(self.vty_sockets, judged=False)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _child(self, command: tuple[str, ...]) -> subprocess.Popen[bytes]:
        if command not in self._children:
            child = subprocess.Popen(
                [*command, str(self.interval), self.mode],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            self._children[command] = child
            receiver = threading.Thread(
                target=self._receive, args=(child,), name="samples", daemon=True
            )
            receiver.start()
            self._receivers.append(receiver)
        return self._children[command]

    def add(self, vty_sockets: Mapping[str, Path], *, judged: bool) -> None:
        """Sample more instances from now on (a pod created during the drill); returns once
        each has a first sample. `judged`: its routes are judged too, not only its sessions."""
        self.vty_sockets |= vty_sockets
        if judged:
            self.routers |= set(vty_sockets)
        by_child: dict[tuple[str, ...], dict[str, str]] = {}
        for client, path in vty_sockets.items():
            by_child.setdefault(self.channel(client), {})[client] = str(path)
        for command, clients in by_child.items():
            child = self._child(command)
            assert child.stdin is not None
            child.stdin.write(json.dumps(clients).encode() + b"\n")
            child.stdin.flush()
        wait_until(
            self.latest,
            lambda latest: set(vty_sockets) <= set(latest),
            timeout=SAMPLER_START_TIMEOUT,
            what=f"a first sample of {', '.join(sorted(vty_sockets))}",
            describe=lambda latest: f"samples of {sorted(latest)} only",
            fail_fast=self._check_children,
        )

    def _check_children(self) -> None:
        for child in self._children.values():
            if child.poll() is not None:
                err = child.stderr.read().decode(errors="replace") if child.stderr else ""
                raise DaemonError("harness", "a sampler process ended", err[-2000:])

    def __exit__(self, *exc: object) -> None:
        for child in self._children.values():
            assert child.stdin is not None
            with contextlib.suppress(OSError):
                child.stdin.close()
        for child in self._children.values():
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=5)
        for receiver in self._receivers:
            receiver.join(timeout=5)
        errors = []
        for child in self._children.values():
            if child.returncode != 0 and child.stderr is not None:
                errors.append(child.stderr.read().decode(errors="replace")[-2000:])
            for stream in (child.stdout, child.stderr):
                if stream is not None:
                    stream.close()
        self.error = "\n".join(errors) or None

    def _receive(self, child: subprocess.Popen[bytes]) -> None:
        assert child.stdout is not None
        stream = child.stdout
        while True:
            try:
                sample = pickle.load(stream)
            except (EOFError, pickle.UnpicklingError, ValueError, OSError):
                return
            with self._lock:
                self.samples.append(sample)
                self._latest[sample.client] = sample

    def snapshot(self) -> list[Sample]:
        with self._lock:
            return sorted(self.samples, key=lambda s: s.at)

    def latest(self) -> dict[str, Sample]:
        """The newest sample of every client."""
        with self._lock:
            return dict(self._latest)
