"""Backends: where the lab's pods run. Suites see only `Lab`; they never know which backend."""

from __future__ import annotations

from pathlib import Path

from harness.backends.base import Backend
from harness.errors import InputError
from harness.options import BACKENDS

KIND_CANNOT = {
    "node-partition": "kind cannot cut one node off the network (a silent RR loss) yet",
    "container-restart": "crashing every RR container in place needs a kubelet-side kill "
    "the kind backend does not drive yet",
    "pod-reschedule": "a router pod back with a new IP needs the harness to recreate its "
    "pod, which the kind backend does not do yet",
    "daemon-pids": "the robustness checks read each RR daemon's PID and crash records on the "
    "machine running it; in a pod the container's restart count is that witness, which the "
    "kind backend does not read yet",
}
KUBECONFIG_CANNOT = {
    "sampling": "failover samples are timed by the cluster nodes' clocks; only a kind cluster "
    "created by the run (its nodes are containers of this machine) shares the harness's",
}


def unsupported(name: str, kubeconfig: str | Path | None = None) -> dict[str, str]:
    """What a backend cannot stage: capability (a test's `requires` marker) -> why. Those
    tests are skipped there, saying why, instead of failing for the backend's sake."""
    if name != "kind":
        return {}
    return KIND_CANNOT | (KUBECONFIG_CANNOT if kubeconfig else {})


def get_backend(
    name: str, kubeconfig: Path | None = None, peer_image: str | None = None
) -> Backend:
    if name == "netns":
        from harness.backends.netns.lab import NetnsBackend

        return NetnsBackend()
    if name == "kind":
        from harness.backends.kind.lab import KindBackend

        return KindBackend(kubeconfig, peer_image=peer_image)
    raise InputError(f"--backend {name!r}: expected one of {', '.join(BACKENDS)}")
