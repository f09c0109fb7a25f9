"""Retention of the runs' kept logs: `reports/` keeps the folders of the last N runs.

Each run writes its folder beside its JUnit report (`Run.kept`: `<reports>/<run id>/`, with
`harness.log`, and the configs and daemon logs of a failed run). `rr-harness run --keep-logs N`
removes the older ones when it ends, and `rr-harness cleanup --reports` does it on demand. A
run folder is a folder named like a run id that holds the run's `harness.log`; anything else in
`reports/` (JUnit files, HTML reports, failover figures, `mutations/`) is never touched, nor is
the folder of a run whose owner is still running.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.log import RUN_LOG
from harness.paths import RUN_STATE_ROOT
from harness.runtime.run import RUN_ID_PATTERN, owner_alive

KEEP_LOGS = 10


def is_run_folder(folder: Path) -> bool:
    """A folder the harness made for a run: named like a run id, holding the run's log, whose
    first line is the harness's own about that run (`rr_harness.run: run <id>: ...`): a user's
    folder that happens to look like one is never taken for it."""
    if not folder.is_dir() or not RUN_ID_PATTERN.fullmatch(folder.name):
        return False
    try:
        with (folder / RUN_LOG).open(encoding="utf-8", errors="replace") as log:
            first = log.readline(400)
    except OSError:
        return False
    return "rr_harness." in first and f" run {folder.name}" in first


def referenced(reports: Path, among: set[str] | None = None) -> set[str]:
    """Run ids (of `among`, when given) the JUnit files in `reports` name: their folders hold
    those reports' evidence (long property values moved to files, `harness.report.limits`).
    With `among`, a file that does not even contain one of those ids is not parsed."""
    out: set[str] = set()
    for junit in reports.glob("*.xml"):
        try:
            data = junit.read_bytes()  # read once: searched, then parsed
            if among is not None and not any(run_id.encode() in data for run_id in among):
                continue
            out |= {
                p.get("value", "")
                for p in ET.fromstring(data).iter("property")
                if p.get("name") == "run_id"
            }
        except (ET.ParseError, OSError):
            continue
    return out


def run_folders(reports: Path) -> list[Path]:
    """The run folders in `reports`, newest first (by their log's last write)."""
    if not reports.is_dir():
        return []
    found = [p for p in reports.iterdir() if is_run_folder(p)]
    return sorted(found, key=lambda p: (p / RUN_LOG).stat().st_mtime, reverse=True)


def prune(reports: Path, keep: int = KEEP_LOGS, state: Path = RUN_STATE_ROOT) -> list[Path]:
    """Remove every run folder but the newest `keep` (0: keep every one); returns those
    removed."""
    if keep <= 0:
        return []
    older = run_folders(reports)[keep:]
    if not older:  # nothing to weigh: no JUnit file need be read (issue 18: 50 ms a run)
        return []
    removed = []
    live = referenced(reports, {f.name for f in older})
    for folder in older:
        if (state / folder.name).is_dir() and owner_alive(state / folder.name):
            continue  # a run still going: its log is being written
        if folder.name in live:
            continue  # the evidence of a report still here
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed
