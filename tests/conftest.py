"""Shared helpers for the harness's own tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.paths import DEFAULT_SUT, DEFAULT_TOPOLOGY, PROJECT_ROOT

DATA = Path(__file__).parent / "data"
CLI = [sys.executable, "-m", "harness.cli"]

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


def rr_harness(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would, capturing its output."""
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PROJECT_ROOT,
        check=False,
    )


def frr_messages(name: str) -> list[tuple[str, str, bytes]]:
    """(sender, receiver, message) of each line of a capture."""
    out = []
    for line in (DATA / name).read_text().splitlines():
        if line and not line.startswith("#"):
            flow, hexa = line.split()
            sender, receiver = flow.split(">")
            out.append((sender, receiver, bytes.fromhex(hexa)))
    return out


@dataclass(frozen=True)
class ProfileFrr:
    """The FRR the default profile ships, as resolved for this session."""

    root: Path
    outputs: tuple[str, ...]  # what each resolving process printed (one builds at most)


RESOLVE = (
    "from harness.daemons.frr_runtime import runtime_for\n"
    "from harness.model.loading import load_sut\n"
    "from harness.paths import DEFAULT_SUT\n"
    "print('root', runtime_for(load_sut(DEFAULT_SUT)).root)\n"
)


@pytest.fixture(scope="session")
def profile_frr() -> ProfileFrr:
    """The default profile's FRR (a Debian tree), resolved once per session before any lab of
    it starts: built here when the cache lacks it. Two processes ask at once, as `mutate --jobs`
    children do: one builds, the other waits for it and reuses the tree."""
    if os.geteuid() != 0:
        pytest.skip("needs root (building and running an FRR tree)")
    asking = [
        subprocess.Popen(
            [sys.executable, "-c", RESOLVE],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=PROJECT_ROOT,
        )
        for _ in range(2)
    ]
    outputs = tuple(p.communicate(timeout=900)[0] for p in asking)
    roots = {
        line.split(" ", 1)[1]
        for out in outputs
        for line in out.splitlines()
        if line.startswith("root ")
    }
    assert all(p.returncode == 0 for p in asking) and len(roots) == 1, outputs
    return ProfileFrr(Path(roots.pop()), outputs)


@pytest.fixture
def topology_text() -> str:
    return DEFAULT_TOPOLOGY.read_text()


@pytest.fixture
def sut_copy(tmp_path: Path) -> Path:
    """A writable copy of the default SUT profile."""
    import shutil

    return Path(shutil.copytree(DEFAULT_SUT, tmp_path / "sut"))


@pytest.fixture(autouse=True, scope="session")
def _templates_compiled_apart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The tests' own template cache: the profile copies they make stay out of the user's
    (harness/model/template_cache.py); runs they start as a user would use the user's."""
    from harness.model import template_cache

    kept = template_cache.CACHE_DIR
    template_cache.CACHE_DIR = tmp_path_factory.mktemp("cache")
    yield
    template_cache.CACHE_DIR = kept
