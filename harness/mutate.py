"""`rr-harness mutate`: run the suites against every broken SUT variant and tabulate who caught
what (issue: "Proven able to fail").

Each variant (and the unbroken profile, the baseline) is one ordinary `rr-harness run` in a
subprocess, with its own run id and JUnit file under `reports/mutations/`. A check *catches* a
variant when one of its test cases fails (a JUnit <failure>); errors are the harness failing,
not a check, and are reported apart. The run passes when the baseline passes, every variant is
caught, and every check catches at least one variant.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.cli import known_suites
from harness.mutations import FAILOVER_SUITE, Mutation

BASELINE = "baseline (unbroken)"


@dataclass
class Outcome:
    variant: str
    breaks: str
    exit_status: int
    seconds: float
    failed: dict[str, list[str]] = field(default_factory=dict)  # check -> failing test ids
    errors: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)


def check_name(case: ET.Element) -> str:
    """`suites.test_reflection::test_x[router-1]` -> `reflection::test_x` (one check, all its
    parameters)."""
    module = case.get("classname", "").rsplit(".", 1)[-1].removeprefix("test_")
    return f"{module.replace('_', '-')}::{case.get('name', '').split('[', 1)[0]}"


def read_junit(path: Path, outcome: Outcome) -> Outcome:
    for case in ET.parse(path).getroot().iter("testcase"):
        name, test_id = check_name(case), case.get("name", "")
        if case.find("failure") is not None:
            outcome.failed.setdefault(name, []).append(test_id)
        elif case.find("error") is not None:
            outcome.errors.append(f"{name} {test_id}")
        elif case.find("skipped") is None:
            outcome.passed.append(name)
    return outcome


def run_variant(
    name: str,
    breaks: str,
    *,
    sut: Path,
    topology: Path,
    reports: Path,
    extra: Sequence[str],
    suites: Sequence[str] = (),
) -> Outcome:
    """One `rr-harness run` of `suites` (every suite when empty) against one SUT profile."""
    junit = reports / f"{name}.xml"
    junit.unlink(missing_ok=True)  # never read a previous run's report
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            *suites,
            "-q",
            "--sut",
            str(sut),
            "--topology",
            str(topology),
            "--junitxml",
            str(junit),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    (reports / f"{name}.log").write_text(result.stdout + result.stderr)
    outcome = Outcome(name, breaks, result.returncode, time.monotonic() - started)
    if junit.is_file():
        try:
            read_junit(junit, outcome)
        except ET.ParseError as exc:
            outcome.errors.append(f"unreadable JUnit report {junit}: {exc}")
    else:
        outcome.errors.append(
            f"no JUnit report; exit {result.returncode}: "
            f"{(result.stderr or result.stdout).strip()[-300:]}"
        )
    return outcome


@dataclass
class Report:
    baseline: Outcome
    variants: list[Outcome]

    @property
    def checks(self) -> list[str]:
        every = set(self.baseline.passed) | set(self.baseline.failed)
        for v in self.variants:
            every |= set(v.failed) | set(v.passed)
        return sorted(every)

    def caught_by(self, check: str) -> list[str]:
        return [v.variant for v in self.variants if check in v.failed]

    @property
    def uncaught(self) -> list[str]:
        return [v.variant for v in self.variants if not v.failed]

    @property
    def idle_checks(self) -> list[str]:
        return [c for c in self.checks if not self.caught_by(c)]

    @property
    def ok(self) -> bool:
        base = self.baseline
        clean = base.exit_status == 0 and not base.failed and not base.errors
        return clean and not self.uncaught and not self.idle_checks

    def table(self) -> str:
        width = max(len(v.variant) for v in [self.baseline, *self.variants])
        lines = [f"{'variant':<{width}}  caught  seconds  checks that caught it"]
        for v in [self.baseline, *self.variants]:
            verdict = (
                ("pass" if v.exit_status == 0 else "FAILED")
                if v is self.baseline
                else ("yes" if v.failed else "NO")
            )
            lines.append(
                f"{v.variant:<{width}}  {verdict:<6}  {v.seconds:7.1f}  "
                f"{len(v.failed):2d}: {', '.join(sorted(v.failed)) or '-'}"
            )
            if v.errors:
                lines.append(f"{'':<{width}}  errors: {'; '.join(v.errors[:3])}")
        lines.append("")
        lines.append(f"{'check':<60}  variants caught")
        for check in self.checks:
            caught = self.caught_by(check)
            lines.append(f"{check:<60}  {len(caught):2d} {', '.join(caught) or 'NONE'}")
        if self.uncaught:
            lines.append(f"\nvariants no check caught: {', '.join(self.uncaught)}")
        if self.idle_checks:
            lines.append(f"checks that caught no variant: {', '.join(self.idle_checks)}")
        return "\n".join(lines)

    def as_json(self) -> str:
        return json.dumps(
            {
                "ok": self.ok,
                "baseline": asdict(self.baseline),
                "variants": [asdict(v) for v in self.variants],
                "checks": {c: self.caught_by(c) for c in self.checks},
            },
            indent=1,
        )


def conformance_suites() -> list[str]:
    """Every suite but failover, which runs against the failover variants only."""
    return [name for name in known_suites() if name != FAILOVER_SUITE]


def run_all(
    mutations: Sequence[Mutation],
    *,
    sut: Path,
    topology: Path,
    reports: Path,
    extra: Sequence[str] = (),
    jobs: int = 3,
    progress: Callable[[Outcome], None] = lambda _: None,
) -> Report:
    """The baseline alone first (its timings undisturbed), then the variants, `jobs` at a time:
    a broken variant spends most of its time waiting on deadlines, not on the CPU."""
    reports.mkdir(parents=True, exist_ok=True)
    common = {"topology": topology, "reports": reports, "extra": extra}
    baseline = run_variant("baseline", BASELINE, sut=sut, **common)  # type: ignore[arg-type]
    baseline.variant = BASELINE
    progress(baseline)
    with (
        tempfile.TemporaryDirectory(prefix="rr-harness-mutants-") as tmp,
        ThreadPoolExecutor(max_workers=jobs) as pool,
    ):
        futures = []
        for m in mutations:
            variant_dir = m.apply(sut, Path(tmp) / m.name)
            future = pool.submit(
                run_variant,
                m.name,
                m.breaks,
                sut=variant_dir,
                suites=m.suites or conformance_suites(),
                **common,
            )
            future.add_done_callback(lambda f: progress(f.result()))
            futures.append(future)
        outcomes = [f.result() for f in futures]
    report = Report(baseline, outcomes)
    (reports / "mutations.json").write_text(report.as_json())
    (reports / "mutations.txt").write_text(report.table() + "\n")
    return report
