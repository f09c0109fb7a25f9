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
from typing import Protocol

from harness.cluster.frr_reload import commands, neighbors
from harness.cluster.pods import RR_SELECTOR, Pod
from harness.errors import HarnessError
from harness.model.plan import LabPlan
from harness.model.topology import Role

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
    """One router re-pointed: when, and which RR addresses it gained and lost."""

    at: float  # time.monotonic() once applied
    router: str
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass
class DiscoveryReconciler:
    plan: LabPlan
    pods: PodApi
    frr: Callable[[str], RouterFrr]
    history: list[Reconciled] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def rr_addresses(self, router: Pod) -> list[str]:
        """`rr@<ip>` for every ready RR pod, plus stand-in replicas peering with this router."""
        ready = sorted(p.ip for p in self.pods.list(RR_SELECTOR) if p.ready)
        return ready + self.plan.stand_in_ips(router.spec)

    def reconcile(self) -> list[Reconciled]:
        """Bring every router pod's configuration in line with the ready RR pods, once."""
        done = []
        for router in self.pods.list():
            if router.role is not Role.ROUTER or router.terminating_at is not None:
                continue
            instance = self.frr(router.name)
            desired = self.plan.render_router(router.spec, self.rr_addresses(router))
            if desired == instance.config:
                continue
            old, new = neighbors(instance.config), neighbors(desired)
            instance.configure(commands(instance.config, desired))
            instance.config = desired
            added, removed = tuple(sorted(new - old)), tuple(sorted(old - new))
            done.append(Reconciled(time.monotonic(), router.name, added, removed))
        self.history += done
        return done

    @contextlib.contextmanager
    def running(self) -> Iterator[DiscoveryReconciler]:
        """Reconcile on every pod change (and every RESYNC seconds) until the block ends."""
        stop = threading.Event()

        def loop() -> None:
            seen = -1
            while not stop.is_set():
                seen = self.pods.version
                try:
                    self.reconcile()
                except (HarnessError, OSError, KeyError) as exc:  # a pod went away meanwhile
                    self.errors.append(f"{time.monotonic():.3f}: {type(exc).__name__}: {exc}")
                self.pods.wait_for_change(seen, RESYNC)

        thread = threading.Thread(target=loop, name="discovery", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=10)
