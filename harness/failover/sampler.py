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
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from harness.cluster.pods import Pod
from harness.errors import DaemonError
from harness.observe.samples import LOCAL, Access, Sample
from harness.observe.wait import wait_until

SAMPLER_START_TIMEOUT = 10.0
SAMPLE_INTERVAL = 0.010  # seconds between two samples of one client (issue: at most 20 ms)


def sampler_for(
    access: Access, pods: Iterable[Pod], judged: Iterable[Pod] | None = None
) -> Sampler:
    """A sampler of `pods` through a backend's `access`; the routes of `judged` (default: all
    of them) are judged."""
    pods = list(pods)
    names = {p.name for p in (pods if judged is None else judged)}
    return Sampler(access.sockets(pods), names, channel=access.channel)


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
