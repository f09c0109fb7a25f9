"""Pods on a real cluster, through the kubernetes Python client: the same `Pod` records and
operations the netns backend offers (list by label, readiness, delete, exec).

What needs no cluster is kept in plain functions, tested here: turning an API pod into a `Pod`
(readiness is the pod's Ready condition, which the kubelet sets from the design's TCP 179
probe), reading vtysh's JSON out of an exec, and turning API errors into `HarnessError`s that
name the object and the reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from harness.backends.kind.labels import NODE_LABEL, selector
from harness.cluster.pods import RR_SELECTOR, DeletionMode, Pod
from harness.errors import CommandError, HarnessError, LabError
from harness.model.plan import LabPlan
from harness.model.topology import Role

T = TypeVar("T")


def api_call(what: str, call: Callable[[], T]) -> T:
    """Run one API call; an ApiException becomes a HarnessError naming `what` and why."""
    from kubernetes.client.exceptions import ApiException  # heavy: imported on first use

    try:
        return call()
    except ApiException as exc:
        raise api_error(what, exc) from None


def api_error(what: str, exc: Any) -> HarnessError:
    """`pod rr-0 in rrh-1a2b3c: 404 Not Found: pods "rr-0" not found`."""
    message = ""
    try:
        message = str(json.loads(exc.body or "{}").get("message", ""))
    except (TypeError, ValueError):
        message = str(exc.body or "")
    detail = f"{exc.status} {exc.reason}" + (f": {message}" if message else "")
    return LabError(f"{what}: {detail}")


def pod_record(api_pod: Any, plan: LabPlan, seen_at: float | None = None) -> Pod:
    """An API pod as a `Pod`. Its spec is the topology node named by its NODE_LABEL (RR
    replicas all realise the first RR slot: they share one configuration)."""
    meta, status, spec = api_pod.metadata, api_pod.status, api_pod.spec
    labels: Mapping[str, str] = meta.labels or {}
    is_rr = all(labels.get(k) == v for k, v in RR_SELECTOR.items())
    slot = labels.get(NODE_LABEL) or (plan.route_reflectors[0].name if is_rr else meta.name)
    now = time.monotonic() if seen_at is None else seen_at
    ready = any(c.type == "Ready" and c.status == "True" for c in (status.conditions or []))
    pod = Pod(
        name=meta.name,
        role=Role.ROUTE_REFLECTOR if is_rr else Role.ROUTER,
        labels=dict(labels),
        ip=status.pod_ip or "",
        node=spec.node_name or "",
        spec=plan.topology.node(slot),
        created_at=now,
        ready_at=now if ready else None,
    )
    if meta.deletion_timestamp is not None:
        pod.terminating_at = now
    return pod


def vtysh_json(pod: str, command: str, output: str) -> Any:
    """The JSON a `vtysh -c '... json'` exec printed (vtysh may print notices before it)."""
    start = output.find("{")
    if start < 0:
        raise CommandError(pod, ["vtysh", "-c", command], 0, f"no JSON in: {output[:500]}")
    try:
        return json.loads(output[start:])
    except json.JSONDecodeError as exc:
        raise CommandError(pod, ["vtysh", "-c", command], 0, f"not JSON ({exc})") from None


class KubePods:
    """Pod operations in one namespace of a cluster."""

    def __init__(self, core: Any, namespace: str, plan: LabPlan) -> None:
        self.core = core
        self.namespace = namespace
        self.plan = plan

    def list(self, labels: Mapping[str, str] | None = None) -> list[Pod]:
        found = api_call(
            f"listing pods {selector(dict(labels or {}))} in {self.namespace}",
            lambda: self.core.list_namespaced_pod(
                self.namespace, label_selector=selector(dict(labels or {}))
            ),
        )
        return [pod_record(p, self.plan) for p in found.items]

    def route_reflectors(self) -> list[Pod]:
        return self.list(RR_SELECTOR)

    def delete(self, name: str, mode: DeletionMode) -> None:
        """Graceful: the pod's own grace period (SIGTERM first); crash: grace 0 (SIGKILL). The
        Deployment makes the replacement, as it would for anyone's `kubectl delete pod`."""
        if mode is DeletionMode.SILENT:
            raise LabError(
                "silent deletion needs the node's network cut, which the kind backend does not "
                "offer yet"
            )
        grace = 0 if mode is DeletionMode.CRASH else None
        api_call(
            f"deleting pod {name} in {self.namespace}",
            lambda: self.core.delete_namespaced_pod(
                name, self.namespace, grace_period_seconds=grace
            ),
        )

    def vtysh(self, name: str, command: str) -> Any:
        """`vtysh -c COMMAND` in the pod's FRR container, its JSON parsed."""
        from kubernetes.stream import stream  # heavy: imported on first use

        output = api_call(
            f"exec vtysh in pod {name} in {self.namespace}",
            lambda: stream(
                self.core.connect_get_namespaced_pod_exec,
                name,
                self.namespace,
                container="frr",
                command=["vtysh", "-c", command],
                stderr=True,
                stdin=False,
                stdout=True,
                tty=False,
            ),
        )
        return vtysh_json(name, command, str(output))
