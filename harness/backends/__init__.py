"""Backends: where the lab's pods run. Suites see only `Lab`; they never know which backend."""

from __future__ import annotations

from pathlib import Path

from harness.backends.base import Backend
from harness.errors import InputError

BACKENDS = ("netns", "kind")
# What a backend cannot stage, by pytest marker: those tests are skipped there, saying why.
UNSUPPORTED = {
    "kind": {
        "disruptive": "failover drills are not built for kind yet: they sample every router "
        "every 10 ms through FRR's vty sockets, which needs a sampler inside each router pod "
        "(README, 'What runs where')",
    },
}


def get_backend(
    name: str, kubeconfig: Path | None = None, peer_image: str | None = None
) -> Backend:
    if name == "netns":
        from harness.backends.netns import NetnsBackend

        return NetnsBackend()
    if name == "kind":
        from harness.backends.kind.lab import KindBackend

        return KindBackend(kubeconfig, peer_image=peer_image)
    raise InputError(f"--backend {name!r}: expected one of {', '.join(BACKENDS)}")
