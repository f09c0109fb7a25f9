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
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from harness.backends.kind.labels import NODE_LABEL, selector
from harness.backends.kind.watch import PodRegistry, PodWatch
from harness.cluster.pods import RR_SELECTOR, DeletionMode, Pod, PodEvent
from harness.errors import CommandError, DaemonError, HarnessError, LabError
from harness.model.plan import LabPlan
from harness.model.topology import Role
from harness.observe.wait import wait_until

T = TypeVar("T")
FRR_CONTAINER = "frr"
RR_DEPLOYMENT = "openperouter-rr"  # the design's Deployment (manifests.RR_NAME)
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"  # what `kubectl rollout restart` sets
# A container waiting for one of these will not start by waiting longer.
STUCK = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CrashLoopBackOff",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)


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
    spec_node = plan.topology.node(slot)
    pod = Pod(
        name=meta.name,
        role=Role.ROUTE_REFLECTOR if is_rr else spec_node.role,
        labels=dict(labels),
        ip=status.pod_ip or "",
        node=spec.node_name or "",
        spec=spec_node,
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


def not_running(api_pod: Any) -> str | None:
    """Why a pod is not running as started (None: it is): its phase, a container waiting or
    terminated (with reason and exit code), or restarted."""
    status = api_pod.status
    if status.phase not in ("Running", "Pending"):
        return f"pod phase {status.phase}" + (f": {status.reason}" if status.reason else "")
    for c in status.container_statuses or []:
        state = c.state
        if state is not None and state.waiting is not None and state.waiting.reason in STUCK:
            return f"container {c.name} {state.waiting.reason}: {state.waiting.message or ''}"
        if state is not None and state.terminated is not None:
            t = state.terminated
            return f"container {c.name} terminated: {t.reason} (exit code {t.exit_code})"
        if c.restart_count:
            last = c.last_state.terminated if c.last_state is not None else None
            why = f": last {last.reason} (exit code {last.exit_code})" if last else ""
            return f"container {c.name} restarted {c.restart_count} time(s){why}"
    return None


class KubePods:
    """Pod operations in one namespace of a cluster: reads from a watch-fed registry (with
    the moments each pod was created, ready, terminating, gone), actions through the API."""

    def __init__(self, core: Any, namespace: str, plan: LabPlan) -> None:
        self.core = core
        self.namespace = namespace
        self.plan = plan
        self.aliases: dict[str, str] = {}  # RR slot (rr-0) -> the Deployment's pod standing for it
        self.registry = PodRegistry(lambda api_pod, now: pod_record(api_pod, self.plan, now))
        self.watch = PodWatch(core, namespace, self.registry)

    def resolve(self, name: str) -> str:
        """The pod's name for a topology node or pod name (RR slots are aliases)."""
        return self.aliases.get(name, name)

    # -- the API server's view, as watched -------------------------------------------------------
    @property
    def version(self) -> int:
        return self.registry.version

    @property
    def events(self) -> list[PodEvent]:
        return self.registry.events

    def wait_for_change(self, seen: int, timeout: float) -> int:
        return self.registry.wait_for_change(seen, timeout)

    def every(self) -> list[Pod]:
        """Every pod of the run seen, gone ones included."""
        return self.registry.pods()

    def list(self, labels: Mapping[str, str] | None = None) -> list[Pod]:
        return [p for p in self.every() if p.exists and p.matches(labels or {})]

    def route_reflectors(self) -> list[Pod]:
        """The RR pods that exist, oldest first: the Deployment's pods."""
        return sorted(self.list(RR_SELECTOR), key=lambda p: p.created_at)

    def api_pods(self, labels: Mapping[str, str] | None = None) -> list[Any]:
        """The API's pod objects in the run's namespace (by label selector)."""
        found = api_call(
            f"listing pods {selector(dict(labels or {}))} in {self.namespace}",
            lambda: self.core.list_namespaced_pod(
                self.namespace, label_selector=selector(dict(labels or {}))
            ),
        )
        return list(found.items)

    def check_all_running(self) -> None:
        """A DaemonError for the first pod not running as started (pods being deleted are
        on their way out, as a drill meant), a LabError while the watch keeps failing."""
        if self.watch.failing:
            raise LabError(f"watching pods in {self.namespace}: {self.watch.failing}")
        for api_pod in self.api_pods():
            if api_pod.metadata.deletion_timestamp is not None:
                continue
            problem = not_running(api_pod)
            if problem:
                name = api_pod.metadata.name
                raise DaemonError(name, problem, self.log_or_why(name))

    # -- what Kubernetes users do to pods -------------------------------------------------------
    def delete(self, name: str, mode: DeletionMode, timeout: float = 60.0) -> Pod:
        """Graceful: the pod's own grace period (SIGTERM first); crash: grace 0 (SIGKILL). The
        Deployment makes the replacement, as for anyone's `kubectl delete pod`: returned once
        the API shows it (not yet ready)."""
        if mode is DeletionMode.SILENT:
            raise LabError(
                "silent deletion needs the node's network cut, which the kind backend does not "
                "offer yet"
            )
        before = {p.name for p in self.every()}
        grace = 0 if mode is DeletionMode.CRASH else None
        name = self.resolve(name)
        api_call(
            f"deleting pod {name} in {self.namespace}",
            lambda: self.core.delete_namespaced_pod(
                name, self.namespace, grace_period_seconds=grace
            ),
        )
        return self._await_new_rr(before, timeout)[0]

    def rollout_restart(self, wait_timeout: float) -> Iterator[tuple[Pod, Pod]]:
        """`kubectl rollout restart deployment/openperouter-rr`: the Deployment controller
        replaces every pod with its own strategy. Yields (old, new) pairs, in the order the
        old pods went and the new ones came, once the rollout is complete."""
        old = self.route_reflectors()
        before = {p.name for p in self.every()}  # before the patch: the watch may be quick
        stamp = datetime.now(UTC).isoformat()
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        from kubernetes import client

        apps = client.AppsV1Api(self.core.api_client)
        api_call(
            f"restarting deployment {RR_DEPLOYMENT} in {self.namespace}",
            lambda: apps.patch_namespaced_deployment(RR_DEPLOYMENT, self.namespace, patch),
        )
        replicas = self.plan.sut.values.replicas
        min_ready = self.plan.sut.values.min_ready_seconds
        new = wait_until(
            lambda: [p for p in self.route_reflectors() if p.name not in before],
            lambda pods: (
                len(pods) == replicas
                and all(p.ready for p in pods)
                and all(self.get(p.name).gone_at is not None for p in old)
            ),
            timeout=replicas * (wait_timeout + min_ready),
            what=f"the rollout of {RR_DEPLOYMENT} to replace {', '.join(p.name for p in old)}",
            describe=lambda pods: {p.name: "ready" if p.ready else "not ready" for p in pods},
        )
        gone = sorted((self.get(p.name) for p in old), key=lambda p: p.gone_at or 0.0)
        yield from zip(gone, sorted(new, key=lambda p: p.created_at), strict=True)

    def _await_new_rr(self, before: set[str], timeout: float) -> list[Pod]:
        return wait_until(
            lambda: [p for p in self.route_reflectors() if p.name not in before],
            bool,
            timeout=timeout,
            what=f"a replacement RR pod from {RR_DEPLOYMENT}",
            describe=lambda _: [p.name for p in self.route_reflectors()],
        )

    def get(self, name: str) -> Pod:
        """The watched record of a pod (read from the API if the watch has not seen it)."""
        seen = self.registry.get(self.resolve(name))
        return seen if seen is not None else pod_record(self._read(name), self.plan)

    def _read(self, name: str) -> Any:
        pod = self.resolve(name)
        return api_call(
            f"reading pod {pod} in {self.namespace}",
            lambda: self.core.read_namespaced_pod(pod, self.namespace),
        )

    def check_running(self, name: str) -> None:
        """A DaemonError naming the pod and why, when a container of it is not running (or
        has restarted: a crash the kubelet hid)."""
        problem = not_running(self._read(name))
        if problem:
            raise DaemonError(name, problem, self.log_or_why(name))

    def log_or_why(self, name: str) -> str:
        """The pod's log for evidence, or why there is none (a container never started)."""
        try:
            return self.log(name, None)
        except LabError as exc:
            return f"(no log: {exc})"

    def log(self, name: str, container: str | None) -> str:
        """A container's log (default: the pod's first container: FRR, or the peer)."""
        pod = self.resolve(name)
        if container is None:
            container = self._read(pod).spec.containers[0].name
        return str(
            api_call(
                f"reading the log of pod {pod} ({container}) in {self.namespace}",
                lambda: self.core.read_namespaced_pod_log(
                    pod, self.namespace, container=container, tail_lines=400
                ),
            )
        )

    def exec(self, name: str, container: str, argv: list[str], timeout: float = 30.0) -> str:
        """Run `argv` in a container of the pod (the API's exec); its stdout. A non-zero exit,
        no exit within `timeout`, or a broken stream is a CommandError naming the pod, the
        command and what it printed on stderr."""
        from kubernetes import client
        from kubernetes.stream import stream  # heavy: imported on first use

        name = self.resolve(name)
        # stream() swaps the request method of the client it is given while it runs: an
        # ApiClient of its own per exec keeps parallel execs, the watch and every other call
        # on clients nobody else touches.
        with client.ApiClient(self.core.api_client.configuration) as api:
            session = api_call(
                f"exec {argv[0]} in pod {name} ({container}) in {self.namespace}",
                lambda: stream(
                    client.CoreV1Api(api).connect_get_namespaced_pod_exec,
                    name,
                    self.namespace,
                    container=container,
                    command=argv,
                    stderr=True,
                    stdin=False,
                    stdout=True,
                    tty=False,
                    _preload_content=False,
                ),
            )
            try:
                session.run_forever(timeout=timeout)
                if session.is_open():
                    err = session.read_stderr(timeout=0)
                    raise CommandError(name, argv, -1, f"no exit within {timeout:.0f} s: {err}")
                out, err = session.read_stdout(timeout=0), session.read_stderr(timeout=0)
                status = session.returncode
            except CommandError:
                raise
            except Exception as exc:  # websocket errors, an empty status channel
                why = f"exec broke: {type(exc).__name__}: {exc}"
                raise CommandError(name, argv, -1, why) from None
            finally:
                session.close()
        if status != 0:
            raise CommandError(name, argv, status, err or out)
        return str(out)

    def vtysh(self, name: str, command: str) -> Any:
        """`vtysh -c COMMAND` in the pod's FRR container, its JSON parsed."""
        return vtysh_json(name, command, self.vtysh_text(name, command))

    def vtysh_text(self, name: str, *commands: str) -> str:
        """`vtysh -c C1 -c C2 ...` in the pod's FRR container: what it printed."""
        argv = ["vtysh"] + [word for c in commands for word in ("-c", c)]
        return self.exec(name, FRR_CONTAINER, argv)
