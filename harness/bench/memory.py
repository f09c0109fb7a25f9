"""Scenario 3, RR memory per route: bgpd's resident set at several table sizes, and the
least-squares line through them: the slope is bytes per route, the intercept the fixed part."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from statistics import linear_regression

from harness.daemons.frr import FrrInstance
from harness.errors import LabError


def rss_bytes(instance: FrrInstance, daemon: str = "bgpd") -> int:
    """VmRSS of a daemon of an FRR instance (its PID: `ip netns exec` execs the daemon)."""
    for proc in instance.processes:
        if proc.name == daemon:
            return _vm_rss(Path(f"/proc/{proc.pid}/status"))
    raise LabError(f"{instance.node}: no {daemon} process")


def _vm_rss(status: Path) -> int:
    for line in status.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024  # the kernel reports kB
    raise LabError(f"{status}: no VmRSS line")


def per_route(points: Sequence[tuple[int, int]]) -> tuple[float, float]:
    """(bytes per route, fixed bytes) from (routes held, RSS bytes) at several sizes."""
    if len({n for n, _ in points}) < 2:
        raise ValueError("a slope needs at least two table sizes")
    slope, intercept = linear_regression([n for n, _ in points], [rss for _, rss in points])
    return slope, intercept
