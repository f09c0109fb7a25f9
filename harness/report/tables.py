"""The run's side files as tables: the failover measures (`<report>-failover.json`, written by
`harness.failover.report`), the mutation table (`mutations.json`) and the bench figures
(`bench.json`). Each reader returns plain rows for the HTML template and the Markdown summary;
a file that is absent gives nothing, one that cannot be read says so in one row."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Drill:
    test: str
    scenario: str
    variant: str
    repeats: int
    rows: list[tuple[str, Any, Any, Any]]  # measure, p50, p95, max
    figure: str = ""  # a data: URI of the timeline PNG
    figure_name: str = ""
    problems: list[str] = field(default_factory=list)
    witnesses_agree: bool | None = None


def failover_json(junit: Path) -> Path:
    return junit.with_name(f"{junit.stem}-failover.json")


def data_uri(path: Path, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def failover(junit: Path, run_id: str, *, figures: bool = True) -> tuple[list[Drill], str]:
    """The drills of the run `run_id` and their p50/p95/max, the first repeat's timeline figure
    inline; and a note when the file could not be read. The file of another run (an earlier
    one that wrote the same JUnit path and ran drills) is not this run's: nothing."""
    path = failover_json(junit)
    if not path.is_file():
        return [], ""
    try:
        body = json.loads(path.read_text())
        drills = body["drills"]
    except (OSError, ValueError, KeyError) as exc:
        return [], f"{path.name}: unreadable ({exc})"
    if body.get("run_id") != run_id:
        return [], ""
    out = []
    for test, drill in drills.items():
        summary = drill.get("summary", {})
        rows = [
            (name, s.get("p50"), s.get("p95"), s.get("max"))
            for name, s in summary.items()  # in harness.failover.report's order
            if isinstance(s, dict)
        ]
        repeats = drill.get("repeats", [])
        entry = Drill(
            test=test,
            scenario=str(drill.get("scenario", "")),
            variant=str(drill.get("variant", "")),
            repeats=len(repeats),
            rows=rows,
            problems=[p for r in repeats for p in r.get("problems", [])][:20],
            witnesses_agree=drill.get("witnesses_agree"),
        )
        figure = Path(str(drill.get("figure", "")))
        if not figure.is_file():  # moved with its report: look beside it
            figure = junit.with_name(f"{junit.stem}-failover") / figure.name
        if figures and figure.is_file():
            entry.figure, entry.figure_name = data_uri(figure), figure.name
        out.append(entry)
    return out, ""


@dataclass
class MutationTable:
    checks: list[str]
    rows: list[tuple[str, str, list[str]]]  # variant, status, one cell per check
    ok: bool


def mutations(path: Path) -> MutationTable | None:
    """Variant x check: `caught` (as declared), `missed` (declared, not caught), `extra`
    (caught, not declared), `error` (undecided there)."""
    if not path.is_file():
        return None
    body = json.loads(path.read_text())
    variants = [*body.get("baselines", []), *body.get("variants", [])]
    checks = sorted(
        {c for v in variants for c in [*v.get("caught_by", {}), *v.get("expected", [])]}
    )
    rows = []
    for v in variants:
        caught, expected = set(v.get("caught_by", {})), set(v.get("expected", []))
        errored = set(v.get("errored", {}))
        cells = []
        for check in checks:
            if check in caught:
                cells.append("caught" if check in expected or not expected else "extra")
            elif check in expected:
                cells.append("missed")
            else:
                cells.append("error" if check in errored else "")
        if v.get("must_pass") or str(v.get("variant", "")).startswith("baseline"):
            status = (
                "passed" if not caught and not errored and not v.get("exit_status") else "FAILED"
            )
        else:
            status = "as declared" if caught == expected else "NOT as declared"
        rows.append((str(v.get("variant", "")), status, cells))
    return MutationTable(checks, rows, bool(body.get("ok")))


def bench(path: Path) -> list[tuple[str, str, str, str, str]]:
    """Scenario, figure, value with its unit, parameters, note."""
    if not path.is_file():
        return []
    body = json.loads(path.read_text())
    return [
        (
            str(f.get("scenario", "")),
            str(f.get("name", "")),
            f"{f.get('value')} {f.get('unit', '')}".strip(),
            ", ".join(f"{k}={v}" for k, v in f.get("params", {}).items()),
            str(f.get("note", "")),
        )
        for f in body.get("figures", [])
    ]
