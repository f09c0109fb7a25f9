"""The run's pods as the API server reports them, kept current by a watch.

Failover drills need what the netns lab records itself: when each pod was first seen, became
ready, started terminating and was gone (`Pod` times are this machine's `time.monotonic()`, the
clock the samples use), plus a version that changes with every event, for the discovery loop's
"wait for a change". `PodRegistry.apply` turns one watch event into those records; it needs no
cluster and is unit-tested. `PodWatch` runs list-then-watch in a thread, re-listing after the
API server ends a watch (and marking pods missing from the new list as gone).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from harness.cluster.pods import Pod, PodEvent

WATCH_SECONDS = 10  # the API server ends a watch after this; it is then re-listed


class PodRegistry:
    """Every pod of the run seen so far (gone ones too), and the events that made them so."""

    def __init__(self, record: Callable[[Any, float], Pod]) -> None:
        self._record = record  # API pod -> Pod (labels, role, IP, node, topology spec)
        self._pods: dict[str, Pod] = {}
        self.changed = threading.Condition()
        self.version = 0
        self.events: list[PodEvent] = []

    def apply(self, kind: str, api_pod: Any, now: float | None = None) -> list[str]:
        """One watch event (ADDED, MODIFIED, DELETED); what it changed, as event names."""
        now = time.monotonic() if now is None else now
        fresh = self._record(api_pod, now)
        ready, terminating = fresh.ready_at is not None, fresh.terminating_at is not None
        with self.changed:
            pod = self._pods.get(fresh.name)
            happened: list[str] = []
            if pod is None:
                pod = fresh
                pod.ready_at = pod.terminating_at = None  # set below, as events
                self._pods[pod.name] = pod
                happened.append("created")
            pod.ip, pod.node, pod.labels = fresh.ip or pod.ip, fresh.node or pod.node, fresh.labels
            if ready and pod.ready_at is None:
                pod.ready_at = now
                happened.append("ready")
            elif not ready and pod.ready_at is not None and kind != "DELETED":
                pod.ready_at = None
                happened.append("not-ready")
            if terminating and pod.terminating_at is None:
                pod.terminating_at = now
                happened.append("terminating")
            if kind == "DELETED" and pod.gone_at is None:
                pod.gone_at = now
                happened.append("gone")
            self._note(pod.name, happened, now)
            return happened

    def sync(self, listed: Iterable[Any], now: float | None = None) -> None:
        """A fresh list: apply it, and mark pods no longer in it as gone (a DELETED event
        missed between two watches)."""
        now = time.monotonic() if now is None else now
        names = set()
        for api_pod in listed:
            names.add(api_pod.metadata.name)
            self.apply("ADDED", api_pod, now)
        with self.changed:
            for pod in self._pods.values():
                if pod.name not in names and pod.gone_at is None:
                    pod.gone_at = now
                    self._note(pod.name, ["gone"], now)

    def _note(self, name: str, happened: list[str], at: float) -> None:
        if happened:
            self.events += [PodEvent(at, name, what) for what in happened]
            self.version += 1
            self.changed.notify_all()

    def pods(self) -> list[Pod]:
        with self.changed:
            return list(self._pods.values())

    def get(self, name: str) -> Pod | None:
        with self.changed:
            return self._pods.get(name)

    def wait_for_change(self, seen: int, timeout: float) -> int:
        with self.changed:
            self.changed.wait_for(lambda: self.version != seen, timeout=timeout)
            return self.version


class PodWatch:
    """List-then-watch the run's namespace in a thread, into a `PodRegistry`."""

    def __init__(self, core: Any, namespace: str, registry: PodRegistry) -> None:
        self.core, self.namespace, self.registry = core, namespace, registry
        self.errors: list[str] = []  # every failure, for the record
        self.failing: str | None = None  # the current failure, cleared by a successful list
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pod-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (the thread ends with its current watch at the latest; it is a daemon
        thread, so teardown does not wait for that)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1.0)

    def _run(self) -> None:
        from kubernetes import client, watch

        # A client of its own: an exec elsewhere must never swap this one's request method.
        with client.ApiClient(self.core.api_client.configuration) as api:
            core = client.CoreV1Api(api)
            while not self._stop.is_set():
                try:
                    listing = core.list_namespaced_pod(
                        self.namespace, _request_timeout=WATCH_SECONDS
                    )
                    self.registry.sync(listing.items)
                    self.failing = None
                    stream = watch.Watch().stream(
                        core.list_namespaced_pod,
                        self.namespace,
                        resource_version=listing.metadata.resource_version,
                        timeout_seconds=WATCH_SECONDS,
                        _request_timeout=WATCH_SECONDS + 5,  # a stalled stream ends too
                    )
                    for event in stream:
                        self.registry.apply(event["type"], event["object"])
                        if self._stop.is_set():
                            break
                except Exception as exc:  # kept for the lab's liveness check; goes on
                    self.failing = f"{type(exc).__name__}: {exc}"
                    self.errors.append(f"{time.monotonic():.3f}: {self.failing}")
                    self._stop.wait(1.0)
