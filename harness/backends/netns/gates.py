"""The order a lab's daemons start in (issue 18): everything at once, but no client connects
before what it connects to listens.

A connect refused at start-up costs far more than the wait for a listener: ExaBGP connects again
at once, then after 1 s; FRR after its connect_retry; a crafted speaker after its own. So every
pod daemon (route reflector, router) opens a gate once it answers, and a client's start waits
for the gates of the pods it has sessions with (a router: every route reflector; a session to an
address that is no pod's, such as meshrr's anycast: every route reflector too). What a client
does before connecting (a router's mgmtd and zebra, ExaBGP loading) is not held back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from harness.errors import LabError


class Gates:
    """One gate per pod daemon, opened once its start returned (or failed: the failure is
    raised by the start itself, and the clients go on to theirs)."""

    def __init__(
        self, pods: Iterable[str], route_reflectors: Iterable[str], timeout: float
    ) -> None:
        self._open = {name: threading.Event() for name in pods}
        self._route_reflectors = list(route_reflectors)
        self.timeout = timeout

    def opening(self, pod: str, start: Callable[[], object]) -> Callable[[], None]:
        """`start`, then open the pod's gate."""

        def run() -> None:
            try:
                start()
            finally:
                self._open[pod].set()

        return run

    def await_pods(self, pods: Iterable[str]) -> None:
        """Until the gates of `pods` are open; a name that is no pod's stands for every route
        reflector. LabError when one stays shut past the deadline."""
        names: set[str] = set()
        for name in pods:
            names.update([name] if name in self._open else self._route_reflectors)
        for name in sorted(names):
            if not self._open[name].wait(timeout=self.timeout):
                raise LabError(f"{name}: its daemons did not start within {self.timeout} s")

    def wait(self, pods: Iterable[str]) -> Callable[[], None]:
        """A call that waits for the gates of `pods` (a router's bgpd starts after it)."""
        wanted = list(pods)
        return lambda: self.await_pods(wanted)

    def after(
        self, pods: Iterable[str], start: Callable[..., object], *args: object
    ) -> Callable[[], None]:
        """`start(*args)` once the gates of `pods` are open."""
        wanted = list(pods)

        def run() -> None:
            self.await_pods(wanted)
            start(*args)

        return run
