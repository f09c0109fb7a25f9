"""Backends: where the lab's pods run. Suites see only `Lab`; they never know which backend."""

from __future__ import annotations

from harness.backends.base import Backend
from harness.errors import InputError

BACKENDS = ("netns",)


def get_backend(name: str) -> Backend:
    if name == "netns":
        from harness.backends.netns import NetnsBackend

        return NetnsBackend()
    raise InputError(f"--backend {name!r}: expected one of {', '.join(BACKENDS)}")
