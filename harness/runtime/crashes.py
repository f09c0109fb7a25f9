"""Did a daemon of the SUT die, or crash and come back, during a suite?

Upstream OpenPERouter learned this the hard way: watchfrr restarted a crashed zebra inside the
container, the pod's restart count stayed 0, and the node quietly stopped importing EVPN routes.
So after every suite the harness looks at each SUT daemon it started (RR pods, router pods):
- it still runs with the PID it started with, unless the harness itself ended it (a drill's
  pod deletion or crash on purpose);
- it left no crash record: FRR's crash handler (lib/sigevent.c) writes `Received signal N at
  ... aborting` and a backtrace to its log targets and to stderr; Go (gobgpd) writes `panic:`
  or `fatal error:` to stderr; a `core` file in the daemon's directory counts too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from harness.runtime.processes import ManagedProcess

# FRR's crash handler's first line, and a Go runtime's
CRASH_LINE = re.compile(r"Received signal \d+ at .*abort|^panic: |^fatal error: ")


def crash_lines(text: str) -> list[str]:
    """The lines of a daemon's log or stderr that say it crashed."""
    return [line.strip() for line in text.splitlines() if CRASH_LINE.search(line)]


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def daemon_problems(pod: str, processes: Iterable[ManagedProcess], logs: str) -> list[str]:
    """What a pod's daemons say about crashes: each process that ended without the harness
    ending it, each crash line in its logs or stderr, each core file in its directory."""
    out = []
    for proc in processes:
        if proc.died():
            assert proc.popen is not None
            out.append(
                f"{pod}: {proc.name} (PID {proc.pid}) exited with status "
                f"{proc.popen.returncode}; the harness did not end it"
            )
        stderr = _read(proc.log)
        out += [
            f"{pod}: {proc.name} (PID {proc.pid}) stderr: {line}" for line in crash_lines(stderr)
        ]
        out += [f"{pod}: core file {core}" for core in sorted(proc.log.parent.glob("core*"))]
    out += [f"{pod}: log: {line}" for line in crash_lines(logs)]
    return sorted(set(out), key=out.index)
