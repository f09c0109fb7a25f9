"""Where a run's start-up time goes (issue 18): marks taken as the run starts, one breakdown.

A run is slow to start for reasons that grow separately: the interpreter and its imports (and
the CLI's input checks), pytest's collection (the suites' own imports), the lab's namespaces,
its daemons, and its sessions reaching Established. Each step is a mark on the monotonic clock;
the process's own start comes from the kernel (`/proc/self/stat`, field 22, in clock ticks since
boot, read against CLOCK_BOOTTIME), so the interpreter's start-up is on the record too.
`startup_breakdown` (a JUnit run property, and `rr-harness bench overhead`) is the steps in ms.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from collections.abc import Mapping

PROPERTY = "startup_breakdown"
MARKS: dict[str, float] = {}  # step name -> time.monotonic() when it was reached
_BEFORE: dict[str, bool] = {}  # what `starting()` changed, as it was


def process_age() -> float | None:
    """Seconds since this process was started (by the kernel's account), or None unknown."""
    try:
        stat = open("/proc/self/stat").read()  # noqa: SIM115 (one small read)
        ticks = int(stat[stat.rfind(")") + 2 :].split()[19])  # field 22: starttime
        since_boot = time.clock_gettime(time.CLOCK_BOOTTIME)
    except (OSError, ValueError, IndexError):
        return None
    return max(0.0, since_boot - ticks / os.sysconf("SC_CLK_TCK"))


def mark(step: str) -> None:
    """Note that `step` is reached now (again: the last time counts); the first mark also
    notes when the process started."""
    now = time.monotonic()
    if "process" not in MARKS:
        age = process_age()
        MARKS["process"] = now - age if age is not None else now
    MARKS[step] = now


def starting(*, keep_bytecode: bool) -> None:
    """While the run starts, until its suites are collected (`started()`):
    - no garbage collection: the interpreter loads some 500 modules, whose objects live as long
      as the run, and each full collection would walk all of them again;
    - `keep_bytecode`: pytest keeps the suites' assert-rewritten bytecode (beside them, in
      __pycache__) only where bytecode may be written; like the harness's own (dev.sh), it is
      written even where PYTHONDONTWRITEBYTECODE is set: rewriting them took 30 ms a run."""
    gc.disable()
    if keep_bytecode:
        _BEFORE["dont_write_bytecode"] = sys.dont_write_bytecode
        sys.dont_write_bytecode = False


def started() -> None:
    """The start is over: what exists now (modules, models, collected tests) is moved out of
    the collector's sight for good (`gc.freeze`) and collection resumes for what the run makes
    from here; bytecode is written (or not) as the environment says again."""
    gc.freeze()
    gc.enable()
    if "dont_write_bytecode" in _BEFORE:
        sys.dont_write_bytecode = _BEFORE.pop("dont_write_bytecode")


def breakdown(lab_timings: Mapping[str, float], lab_started: float | None) -> dict[str, int]:
    """The steps in ms: `interpreter_imports` (process start to pytest's session, the CLI's
    input checks included), `collection`, then the lab's `namespaces`, `daemons` and
    `sessions` (to every session Established, from `lab.timings`), and the `total`."""

    def ms(seconds: float) -> int:
        return round(seconds * 1000)

    out: dict[str, int] = {}
    process = MARKS.get("process")
    session = MARKS.get("session")
    collected = MARKS.get("collected")
    if process is not None and session is not None:
        out["interpreter_imports"] = ms(session - process)
        if "inputs" in MARKS and "checked" in MARKS:
            out["inputs_checked"] = ms(MARKS["checked"] - MARKS["inputs"])
    if session is not None and collected is not None:
        out["collection"] = ms(collected - session)
    if lab_started is not None and collected is not None:
        out["before_lab"] = ms(lab_started - collected)  # the first fixtures, the run's log
    previous = 0.0
    for key, step in (("namespaces_s", "namespaces"), ("daemons_s", "daemons")):
        if key in lab_timings:  # cumulative from the lab's start
            out[step] = ms(lab_timings[key] - previous)
            previous = lab_timings[key]
    if "established_s" in lab_timings:
        out["sessions"] = ms(lab_timings["established_s"] - previous)
        if lab_started is not None and process is not None:
            out["total"] = ms(lab_started + lab_timings["established_s"] - process)
    return out


def as_property(steps: Mapping[str, int]) -> str:
    """The breakdown as one JUnit property value: compact JSON, steps in order."""
    return json.dumps(dict(steps), separators=(",", ":"))
