"""Did a daemon of the SUT die, or crash and come back, during a suite?

Upstream OpenPERouter learned this the hard way: watchfrr restarted a crashed zebra inside the
container, the pod's restart count stayed 0, and the node quietly stopped importing EVPN routes.
So after every suite the harness looks at each SUT daemon it started (RR pods, router pods):
- it still runs with the PID it started with, unless the harness itself ended it (a drill's
  pod deletion or crash on purpose);
- it left no crash record: FRR's crash handler (lib/sigevent.c) writes `Received signal N at
  ... aborting` and a backtrace to its log targets, to stderr and to `crashlog` in its
  per-process directory (`/var/tmp/frr/<daemon>.<pid>/`); Go (gobgpd) writes `panic:` or
  `fatal error:` to stderr; a `core` file in the daemon's directory counts too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from harness.paths import FRR_HOST_TMP
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


POD_TMP = "var-tmp/frr"  # where an FRR run from a root filesystem keeps them (the pod's dir)


def crash_records(name: str, pid: int, directory: Path) -> list[Path]:
    """The crash records daemon `name` (PID `pid`, its pod's state `directory`) left: FRR's
    `crashlog` in its `<daemon>.<pid>` directory (the host's /var/tmp/frr, the pod's own for an
    FRR run from a root filesystem, or the one the running process sees), the copy the harness
    kept when it stopped the daemon (`<daemon>.<pid>-crash-crashlog`), and its core file in the
    pod's directory (`core.<pid>`): each of this process, never an earlier one's."""
    where = f"{name}.{pid}"
    places = [
        FRR_HOST_TMP / where / "crashlog",
        directory / POD_TMP / where / "crashlog",
        Path(f"/proc/{pid}/root") / "var/tmp/frr" / where / "crashlog",
        directory / f"{where}-crash-crashlog",
        directory / f"core.{pid}",
    ]
    found: dict[tuple[int, int], Path] = {}  # one file seen through two places is one record
    for path in places:
        identity = _identity(path)
        if identity is not None:
            found.setdefault(identity, path)
    return list(found.values())


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of a regular file, None when there is none (or it cannot be seen: a
    /proc entry gone meanwhile, a root we may not enter)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino) if path.is_file() else None


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
        for record in crash_records(proc.name, proc.pid, proc.log.parent):
            first = _read(record).splitlines()[:1]
            out.append(f"{pod}: {proc.name} (PID {proc.pid}) crash record {record}: {first}")
    out += [f"{pod}: log: {line}" for line in crash_lines(logs)]
    return sorted(set(out), key=out.index)
