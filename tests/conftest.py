"""Shared helpers for the harness's own tests."""

from __future__ import annotations

import os
import subprocess
import sys
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


@pytest.fixture
def topology_text() -> str:
    return DEFAULT_TOPOLOGY.read_text()


@pytest.fixture
def sut_copy(tmp_path: Path) -> Path:
    """A writable copy of the default SUT profile."""
    import shutil

    return Path(shutil.copytree(DEFAULT_SUT, tmp_path / "sut"))
