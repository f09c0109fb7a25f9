"""The yardstick (issue 18): `rr-harness run reflection` against FRR's own `bgp_rr_ibgp`
topotest, each timed as a whole process, paired (A B A B ...) so a drift of the machine's speed
hits both alike; the medians and the median of the pairs' ratios.

The topotest runs the way FRR documents it (doc/developer/topotests.rst): pytest, as root, from
FRR's `tests/topotests` directory, on the test's file. It needs the interpreter FRR's topotests
were set up with (pytest 7 for FRR 8.4, with scapy and xmltodict: `--topotest-python`) and the
FRR daemons installed on the host, as the topotests start them from there. Its wall time is
mostly a fixed 5 s sleep and the routers' start; the reflection run checks far more (12 checks:
every EVPN route via every RR, ORIGINATOR_ID, CLUSTER_LIST, next hop, a new route and its
withdrawal).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import InputError

TOPOTEST = Path("bgp_rr_ibgp") / "test_bgp_rr_ibgp_topo1.py"  # from FRR's tests/topotests
TARGET_RATIO = 0.20  # the acceptance: the reflection run >= 5x faster, paired


def check_topotests(directory: Path | None, python: str) -> Path:
    """FRR's `tests/topotests` directory holding the yardstick's test; InputError (exit 2)
    naming what is missing."""
    if directory is None:
        raise InputError(
            "--topotests: the yardstick needs FRR's tests/topotests directory (a checkout of "
            "FRR, e.g. tag frr-8.4.4), holding " + str(TOPOTEST)
        )
    if not (directory / TOPOTEST).is_file():
        raise InputError(f"--topotests {directory}: no {TOPOTEST} there (FRR's tests/topotests?)")
    if os.sep in python and not Path(python).is_file():
        raise InputError(f"--topotest-python {python}: no such file")
    return directory.resolve()


@dataclass
class Timed:
    wall_s: float
    status: int
    tail: str  # the last lines it printed, to say why a run failed


@dataclass
class Paired:
    harness: list[Timed] = field(default_factory=list)
    topotest: list[Timed] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [h.wall_s / t.wall_s for h, t in zip(self.harness, self.topotest, strict=True)]

    @property
    def failed(self) -> list[str]:
        """Runs that did not pass: a figure from them measures something else."""
        out = []
        for name, runs in (
            ("rr-harness run reflection", self.harness),
            ("topotest", self.topotest),
        ):
            out += [f"{name} exited {r.status}: {r.tail}" for r in runs if r.status != 0]
        return out


def timed(argv: Sequence[str], cwd: Path, timeout: float) -> Timed:
    """One whole process, from its start to its end, its output kept to the last lines."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return Timed(time.monotonic() - started, -1, f"not done after {exc.timeout} s")
    wall = time.monotonic() - started
    tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-2:])
    return Timed(wall, done.returncode, tail)


def reflection_argv(junit: Path, forwarded: Sequence[str]) -> list[str]:
    """The harness's reflection run as a user starts it: the `rr-harness` command installed
    beside this interpreter (else `python -m harness.cli`)."""
    script = Path(sys.executable).with_name("rr-harness")
    cli = [str(script)] if script.is_file() else [sys.executable, "-m", "harness.cli"]
    return [*cli, "run", "reflection", "-q", "--junitxml", str(junit), *forwarded]


def paired(
    topotests: Path,
    python: str,
    reports: Path,
    forwarded: Sequence[str],
    *,
    pairs: int,
    timeout: float,
) -> Paired:
    """`pairs` times: the reflection run, then the topotest. The reflection runs' JUnit files
    are `reports/yardstick-<i>.xml` (their start-up breakdowns)."""
    out = Paired()
    for i in range(pairs):
        junit = reports / f"yardstick-{i}.xml"
        out.harness.append(timed(reflection_argv(junit, forwarded), Path.cwd(), timeout))
        out.topotest.append(
            timed([python, "-m", "pytest", "-q", str(TOPOTEST)], topotests, timeout)
        )
    return out
