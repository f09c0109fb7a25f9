"""Scenario 4, the harness's own overhead: the lab up (start until every session is
Established) and down, one observer query, and the conformance suites' wall time, split into
waiting for daemons (inside `wait_until`: the SUT converging, peers answering) and the rest
(the harness's own work: building the lab, encoding, parsing, reporting)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.backends.base import routes
from harness.backends.netns.lab import NetnsBackend, NetnsLab
from harness.errors import LabError
from harness.model.plan import LabPlan
from harness.observe import frr
from harness.options import ESTABLISH_TIMEOUT
from harness.runtime.run import Run, new_run_id

SCALE_SUITES = ("failover", "meshrr")  # disruptive or profile-specific: not "conformance"
QUERIES = 20


@dataclass
class Overhead:
    up_s: list[float]
    down_s: list[float]
    observer_query_ms: float  # the observer's table, replayed from what ExaBGP recorded
    frr_query_ms: float  # one vty round trip to an RR pod's bgpd (`show bgp summary json`)
    suites_s: float | None = None
    waited_s: float | None = None
    tests: int | None = None

    @property
    def waiting_share(self) -> float | None:
        if self.suites_s is None or self.waited_s is None:
            return None
        return self.waited_s / self.suites_s


def lab_cycles(plan: LabPlan, repeats: int) -> Overhead:
    """Bring the lab up and down `repeats` times; time one query of each kind in the first."""
    up: list[float] = []
    down: list[float] = []
    observer = frr_ms = 0.0
    for i in range(repeats):
        started = time.monotonic()
        with NetnsBackend().up(plan, Run(new_run_id()), ESTABLISH_TIMEOUT) as lab:
            up.append(time.monotonic() - started)
            if lab.unready:
                raise LabError(f"sessions still down after start-up: {lab.unready}")
            if i == 0:
                observer, frr_ms = _queries(lab, plan)
            stopping = time.monotonic()
        down.append(time.monotonic() - stopping)
    return Overhead(up, down, observer, frr_ms)


def _queries(lab: NetnsLab, plan: LabPlan) -> tuple[float, float]:
    """Median ms of the observer's table (or the first peer's) and of an RR's vty answer."""
    names = [n.name for n in plan.peers]
    peer = "observer" if "observer" in names else names[0]
    rr = plan.route_reflectors[0].name
    observer = _median_ms(lambda: routes(lab, peer, None))
    return observer, _median_ms(lambda: lab.frr(rr).query(frr.SUMMARY))


def _median_ms(call: Callable[[], object]) -> float:
    times = []
    for _ in range(QUERIES):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def suites(
    sut: Path, topology: Path, report: Path, names: Sequence[str], frr: str = "host"
) -> tuple[float, float, int]:
    """Run these suites with `rr-harness run`: wall seconds, seconds spent waiting for daemons
    (the run's `waited_s` property), and the number of tests."""
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            *names,
            "--sut",
            str(sut),
            "--topology",
            str(topology),
            "--junitxml",
            str(report),
            "--frr",
            frr,
            "-q",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise LabError(f"rr-harness run exited {done.returncode}: {done.stderr[-1000:]}")
    root = ET.parse(report).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    waited = next(
        (float(p.get("value", 0)) for p in suite.iter("property") if p.get("name") == "waited_s"),
        0.0,
    )
    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    if failed:
        raise LabError(f"{failed} conformance test(s) failed: the timing is not a clean run's")
    return wall, waited, int(suite.get("tests", 0))


def startup_steps(report: Path) -> dict[str, int]:
    """The run's `startup_breakdown` (harness.runtime.startup): ms per start-up step."""
    import json

    from harness.runtime.startup import PROPERTY

    root = ET.parse(report).getroot()
    for prop in root.iter("property"):
        if prop.get("name") == PROPERTY:
            return {k: int(v) for k, v in json.loads(prop.get("value", "{}")).items()}
    return {}
