"""`rr-harness report FILE.xml... --html OUT.html`: several runs (profiles x FRR versions x
backends) in one check x run grid, like a support matrix. Each cell is the check's outcome in
that run and links to its evidence below the grid (reason, duration, properties), and from there
to the run's own report when it sits beside its JUnit file."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from harness.report.page import anchor, html_path, render
from harness.report.results import Check, RunResult, read

SHORT = {"passed": "pass", "failed": "fail", "error": "error", "xfail": "xfail",
         "xpass": "xpass", "skipped": "skip"}  # fmt: skip


@dataclass(frozen=True)
class Cell:
    outcome: str  # an outcome, or "absent" (the run did not have this check)
    label: str
    evidence: str  # the id of its evidence block, "" when absent
    check: Check | None = None


@dataclass
class Matrix:
    runs: list[tuple[str, str, str]]  # label, JUnit file, its report (relative link, or "")
    rows: list[tuple[str, list[Cell]]]  # check id, one cell per run
    generated: str


def build(files: list[Path], out: Path) -> Matrix:
    """Read every file first: one that is missing or not JUnit stops it (InputError)."""
    results: list[RunResult] = [read(f) for f in files]
    order: dict[str, None] = {}
    for r in results:
        order.update((c.check_id, None) for c in r.checks)
    runs = []
    for r in results:
        report = html_path(r.path)
        link = os.path.relpath(report, out.parent) if report.is_file() else ""
        runs.append((r.label, str(r.path), link))
    rows = []
    for check_id in order:
        cells = []
        for i, r in enumerate(results):
            found = next((c for c in r.checks if c.check_id == check_id), None)
            if found is None:
                cells.append(Cell("absent", "-", ""))
            else:
                ev = f"ev{i}-{anchor(check_id)}"
                cells.append(Cell(found.outcome, SHORT[found.outcome], ev, found))
        rows.append((check_id, cells))
    return Matrix(runs, rows, time.strftime("%Y-%m-%d %H:%M:%S %Z"))


def write(files: list[Path], out: Path) -> Path:
    matrix = build(files, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render("matrix.html.j2", m=matrix, anchor=anchor), encoding="utf-8")
    return out
