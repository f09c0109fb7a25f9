"""A stand-in for OpenPERouter's controller: points every router pod at the ready RR pods.

The design's `PERouterReconciler` (Controller Changes 1-4) watches RR pods, takes the ready
ones, renders each router's FRR configuration with an iBGP neighbor `rr@<ip>` per ready RR pod,
and reconciles again whenever an RR pod IP changes (restart, reschedule). This class does the
same from the harness: it renders the SUT's own router template, so the neighbors it adds are
the ones the SUT would configure, and applies only what changed (`frr_reload`). It is a
stand-in: on a backend where the real controller runs, it stays off.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, Self

from harness.cluster.frr_reload import commands, neighbors
from harness.cluster.pods import RR_SELECTOR, Pod
from harness.errors import HarnessError
from harness.log import logger
from harness.model.plan import LabPlan
from harness.model.topology import Role

log = logger("discovery")

RESYNC = 0.5  # seconds: reconcile at least this often, like an informer's resync


class PodApi(Protocol):
    """What the reconciler needs from the cluster: a list and a watch."""

    version: int

    def list(self, selector: Mapping[str, str] | None = None) -> list[Pod]: ...
    def wait_for_change(self, seen: int, timeout: float) -> int: ...


class RouterFrr(Protocol):
    config: str

    def configure(self, batches: list[list[str]]) -> None: ...


@dataclass(frozen=True)
class Reconciled:
    """One pod re-pointed: when, and which neighbor addresses it gained and lost."""

    at: float  # time.monotonic() once applied
    pod: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    started: float = 0.0  # time.monotonic() when the reconciler began applying it


@dataclass
class ConfigReconciler:
    """Renders the configuration each managed pod should run and applies the difference."""

    plan: LabPlan
    pods: PodApi
    frr: Callable[[str], RouterFrr]
    history: list[Reconciled] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    name = "reconciler"

    def managed(self) -> list[Pod]:
        raise NotImplementedError

    def desired(self, pod: Pod) -> str:
        raise NotImplementedError

    def reconcile(self) -> list[Reconciled]:
        """Bring every managed pod's configuration in line with the pods it should peer with."""
        done = []
        for pod in self.managed():
            instance = self.frr(pod.name)
            desired = self.desired(pod)
            if desired == instance.config:
                continue
            old, new = neighbors(instance.config), neighbors(desired)
            started = time.monotonic()
            instance.configure(commands(instance.config, desired))
            instance.config = desired
            added, removed = tuple(sorted(new - old)), tuple(sorted(old - new))
            log.info("%s: %s neighbors added %s, removed %s", self.name, pod.name, added, removed)
            done.append(Reconciled(time.monotonic(), pod.name, added, removed, started))
        self.history += done
        return done

    @contextlib.contextmanager
    def running(self, every: float | None = None) -> Iterator[Self]:
        """Reconcile until the block ends: on every pod change (a watch, resynced every RESYNC
        seconds), or, with `every`, only every `every` seconds (a poller)."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                seen = self.pods.version
                try:
                    self.reconcile()
                except (HarnessError, OSError, KeyError) as exc:  # a pod went away meanwhile
                    self.errors.append(f"{time.monotonic():.3f}: {type(exc).__name__}: {exc}")
                    log.warning("%s: %s", self.name, self.errors[-1])
                if every is None:
                    self.pods.wait_for_change(seen, RESYNC)
                else:
                    stop.wait(every)

        thread = threading.Thread(target=loop, name=self.name, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=10)


@dataclass
class DiscoveryReconciler(ConfigReconciler):
    """Routers get one `rr@<ip>` neighbor per ready RR pod (the controller's watch)."""

    name = "discovery"

    def managed(self) -> list[Pod]:
        return [p for p in self.pods.list() if p.role is Role.ROUTER and p.terminating_at is None]

    def rr_addresses(self, router: Pod) -> list[str]:
        """`rr@<ip>` for every ready RR pod, plus stand-in replicas peering with this router;
        for meshrr, the router's side's anycast address."""
        if self.plan.mesh is not None or self.plan.sut.values.static_rr_neighbors:
            return self.plan.rr_ips(router.spec)  # what the router's own CR lists, unchanged
        ready = sorted(p.ip for p in self.pods.list(RR_SELECTOR) if p.ready)
        return ready + self.plan.stand_in_ips(router.spec)

    def desired(self, pod: Pod) -> str:
        return self.plan.render_router(pod.spec, self.rr_addresses(pod))


@dataclass
class MeshReconciler(ConfigReconciler):
    """A stand-in for meshrr's peer updater: every route server peers with every other ready
    one. meshrr looks its headless service up on an interval (`meshrr.poll_interval`), so this
    runs as a poller: `running(every=plan.mesh.poll_interval)`."""

    name = "mesh"

    def managed(self) -> list[Pod]:
        return [
            p
            for p in self.pods.list()
            if p.role is Role.ROUTE_REFLECTOR and p.terminating_at is None
        ]

    def desired(self, pod: Pod) -> str:
        mesh = [p.ip for p in self.managed() if p is not pod and p.ready]
        return self.plan.render_route_reflector(pod.spec, mesh=mesh)
