"""`rr-harness mutate`: run the suites against every SUT variant and tabulate who caught what.

Each variant (and the unbroken profile, the baseline) is one ordinary `rr-harness run` in a
subprocess, with its own run id and JUnit file under `reports/mutations/`. A check *catches* a
variant when one of its test cases fails through its final assertion (a JUnit <failure>); a
test case that ended in an error (the harness could not decide: a setup wait, a missing
witness) catches nothing, and is listed apart (`errored`). A run stopped at start-up (sessions
the design implies never came up) is caught by `STARTUP_CHECK`. Each variant declares the
checks that must catch it (`expected`). The run passes when the baselines and the equivalent
variants pass, every broken variant is caught by exactly its expected checks, and every check
catches at least one variant.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.daemon_check import CHECK as DAEMONS_CHECK
from harness.mutation.catalogue import (
    FAILOVER_SUITE,
    MESHRR_SUITE,
    PARTIAL_BASELINES,
    PROVEN_ELSEWHERE,
    ROBUSTNESS_SUITE,
    STANDALONE,
    UNPROVEN,
    Mutation,
)
from harness.mutation.expected import STARTUP
from harness.suite_names import known_suites
from harness.verdicts import STARTUP_FAILURE

BASELINE = "baseline (unbroken)"
EQUIVALENT_LABEL = "equivalent (must pass)"


STARTUP_CHECK = STARTUP
REASON_CHARS = 400  # of a test's failure or error, in the table's last section


@dataclass
class VariantResult:
    variant: str
    breaks: str
    exit_status: int
    seconds: float
    # check -> test ids whose final assertion failed (and the start-up, when the run stopped)
    caught_by: dict[str, list[str]] = field(default_factory=dict)
    errored: dict[str, list[str]] = field(default_factory=dict)  # check -> undecided test ids
    passed: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)  # the checks that must catch it
    harness_errors: list[str] = field(default_factory=list)  # no report, unreadable report
    # check -> "test id: failed|error: the first line of its report", one per test that failed
    # or errored (every suite's own sut_daemons_survived apart): the table's `why` section
    reasons: dict[str, list[str]] = field(default_factory=dict)
    must_pass: bool = False  # an equivalent variant (a correct SUT configured otherwise)

    @property
    def clean(self) -> bool:
        """Passed: nothing caught it, nothing was undecided, the run ended well."""
        return (
            self.exit_status == 0
            and not self.caught_by
            and not self.errored
            and not self.harness_errors
        )

    @property
    def as_expected(self) -> bool:
        return sorted(self.caught_by) == sorted(self.expected)


def check_name(case: ET.Element) -> str:
    """`suites.test_reflection::test_x[router-1]` -> `reflection::test_x` (one check, all its
    parameters)."""
    name = case.get("name", "").split("[", 1)[0]
    if name == DAEMONS_CHECK:  # the same check closes every suite: one row
        return f"every-suite::{name}"
    module = case.get("classname", "").rsplit(".", 1)[-1].removeprefix("test_")
    return f"{module.replace('_', '-')}::{name}"


def read_junit(path: Path, result: VariantResult) -> VariantResult:
    root = ET.parse(path).getroot()
    for prop in root.iter("property"):
        if prop.get("name") == STARTUP_FAILURE:
            result.caught_by.setdefault(STARTUP_CHECK, []).append(prop.get("value", ""))
    for case in root.iter("testcase"):
        name, test_id = check_name(case), case.get("name", "")
        failure, error = case.find("failure"), case.find("error")
        if failure is not None:
            result.caught_by.setdefault(name, []).append(test_id)
        elif error is not None:
            result.errored.setdefault(name, []).append(test_id)
        if (outcome := failure if failure is not None else error) is not None:
            label = "failed" if outcome is failure else "error"
            text = (outcome.get("message") or outcome.text or "").strip()
            first = text.splitlines()[0][:REASON_CHARS].removeprefix(f"{label}: ") if text else "-"
            result.reasons.setdefault(name, []).append(f"{test_id}: {label}: {first}")
        elif case.find("skipped") is None:
            result.passed.append(name)
    return result


def run_variant(
    name: str,
    breaks: str,
    *,
    sut: Path,
    topology: Path,
    reports: Path,
    extra: Sequence[str],
    suites: Sequence[str] = (),
    select: str = "",
    must_pass: bool = False,
    expected: Sequence[str] = (),
) -> VariantResult:
    """One `rr-harness run` of `suites` (every suite when empty; only the checks `select`
    names, a pytest -k expression, when given) against one SUT profile."""
    junit = reports / f"{name}.xml"
    junit.unlink(missing_ok=True)  # never read a previous run's report
    started = time.monotonic()
    process = subprocess.run(
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
            "--keep-logs",  # every variant's log is evidence of the table
            "0",
            *(["-k", select] if select else []),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
        # one job summary for the whole table, not one per variant
        env={k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"},
    )
    (reports / f"{name}.log").write_text(process.stdout + process.stderr)
    result = VariantResult(name, breaks, process.returncode, time.monotonic() - started)
    result.must_pass, result.expected = must_pass, sorted(expected)
    if junit.is_file():
        try:
            read_junit(junit, result)
        except ET.ParseError as exc:
            result.harness_errors.append(f"unreadable JUnit report {junit}: {exc}")
    else:
        result.harness_errors.append(
            f"no JUnit report; exit {process.returncode}: "
            f"{(process.stderr or process.stdout).strip()[-300:]}"
        )
    return result


@dataclass
class Report:
    # one per SUT profile the variants edit, then the equivalent variants: each must pass
    baselines: list[VariantResult]
    variants: list[VariantResult]
    unproven: Mapping[str, str] = field(default_factory=dict)  # declared gaps, with reasons

    @property
    def checks(self) -> list[str]:
        """Every conformance check that ran (the start-up is no check)."""
        every: set[str] = set()
        for v in [*self.baselines, *self.variants]:
            every |= set(v.passed) | set(v.caught_by) | set(v.errored)
        return sorted(every - {STARTUP_CHECK})

    def caught_by(self, check: str) -> list[str]:
        return [v.variant for v in self.variants if check in v.caught_by]

    @property
    def unexpected(self) -> list[str]:
        """Broken variants not caught by exactly the checks they declare."""
        return [v.variant for v in self.variants if not v.as_expected]

    @property
    def idle_checks(self) -> list[str]:
        return [c for c in self.checks if not self.caught_by(c)]

    @property
    def gaps(self) -> set[str]:
        """Checks that caught no variant, and variants no check caught."""
        idle = set(self.idle_checks) - set(PROVEN_ELSEWHERE)
        return idle | {v.variant for v in self.variants if not v.caught_by}

    @property
    def ok(self) -> bool:
        clean = all(b.clean for b in self.baselines)
        return clean and not self.unexpected and self.gaps <= set(self.unproven)

    def table(self) -> str:
        width = max(len(v.variant) for v in [*self.baselines, *self.variants])
        lines = [f"{'variant':<{width}}  verdict   seconds  caught by (final assertion)"]
        for v in [*self.baselines, *self.variants]:
            if v in self.baselines:
                verdict = "pass" if v.clean else "FAILED"
            else:
                verdict = "expected" if v.as_expected else "UNEXPECTED"
            lines.append(
                f"{v.variant:<{width}}  {verdict:<8}  {v.seconds:7.1f}  "
                f"{len(v.caught_by):2d}: {', '.join(sorted(v.caught_by)) or '-'}"
            )
            if v not in self.baselines and not v.as_expected:
                missing = sorted(set(v.expected) - set(v.caught_by))
                extra = sorted(set(v.caught_by) - set(v.expected))
                lines.append(f"{'':<{width}}  expected but not caught by: {missing or '-'}")
                lines.append(f"{'':<{width}}  caught by, not expected: {extra or '-'}")
            if v.errored:
                lines.append(f"{'':<{width}}  errored: {', '.join(sorted(v.errored))}")
            if v.harness_errors:
                lines.append(f"{'':<{width}}  harness: {'; '.join(v.harness_errors[:3])}")
        lines.append("")
        lines.append(f"{'check':<60}  variants caught")
        for check in self.checks:
            caught = self.caught_by(check)
            shown = ", ".join(caught) or (
                f"proven by: {PROVEN_ELSEWHERE[check]}" if check in PROVEN_ELSEWHERE else "NONE"
            )
            lines.append(f"{check:<60}  {len(caught):2d} {shown}")
        for gap in sorted(self.gaps):
            why = self.unproven.get(gap)
            lines.append(f"not proven yet: {gap}: {why or 'NOT DECLARED (harness/mutation)'}")
        if self.unexpected:
            lines.append(f"\nvariants not caught as declared: {', '.join(self.unexpected)}")
        return "\n".join(lines + self._why())

    def _why(self) -> list[str]:
        """Why each baseline was not clean, and why a broken variant was not caught as
        declared: each test's outcome and the first line of its report (last in the table, so
        a log that keeps a long message's head and tail shows it)."""
        lines: list[str] = []
        for v in [*self.baselines, *self.variants]:
            baseline = v in self.baselines
            if v.clean if baseline else v.as_expected:
                continue
            checks = set(v.caught_by) | set(v.errored)
            if not baseline:  # the declared checks that did not catch it, and extras
                checks = set(v.expected) ^ set(v.caught_by)
            lines.append(f"why {v.variant} (exit {v.exit_status}):")
            for check in sorted(checks):
                if check not in v.reasons:
                    lines.append(f"  {check}: {'passed' if check in v.passed else 'not run'}")
                lines += [f"  {reason}" for reason in v.reasons.get(check, [])]
            lines += [f"  harness: {e}" for e in v.harness_errors]
        return lines

    def as_json(self) -> str:
        def entry(v: VariantResult) -> dict[str, object]:
            return asdict(v) | {"caught_by": sorted(v.caught_by), "failures": v.caught_by}

        return json.dumps(
            {
                "ok": self.ok,
                "baselines": [entry(b) for b in self.baselines],
                "variants": [entry(v) for v in self.variants],
                "checks": {c: self.caught_by(c) for c in self.checks},
            },
            indent=1,
        )


def conformance_suites(*, robustness: bool = True) -> list[str]:
    """The suites run against a standalone-RR variant: all but failover (it runs against the
    failover variants only) and meshrr (another kind of SUT). Without `robustness` for a broken
    variant that names no suites: the variants that change how the RR handles a malformed
    UPDATE name it (FRR can be configured into few of them; the harness's own RR plays the
    rest), so for the others the suite would only add its time; the baselines and the
    equivalent variants run it, and must pass it."""
    skip = {FAILOVER_SUITE, MESHRR_SUITE} | (set() if robustness else {ROBUSTNESS_SUITE})
    return [name for name in known_suites() if name not in skip]


def run_all(
    mutations: Sequence[Mutation],
    *,
    profiles: Mapping[str, tuple[Path, Path]],
    reports: Path,
    extra: Sequence[str] = (),
    jobs: int = 3,
    progress: Callable[[VariantResult], None] = lambda _: None,
) -> Report:
    """The baseline of each profile alone first (its timings undisturbed), then the variants,
    `jobs` at a time: a broken variant spends most of its time waiting on deadlines, not on
    the CPU. Variants judged by the failover suite run last, one at a time: its drills sample
    every 10 ms and call a drill undecided when a sample comes more than 100 ms late, which
    labs sharing two cores make happen. `profiles` maps a profile name to its (SUT directory,
    topology). Equivalent variants (`must_pass`) join the baselines in the report: they must
    pass every check. The baseline of a partial profile (the harness's own RR) runs only the
    suites its variants run."""
    reports.mkdir(parents=True, exist_ok=True)
    used = sorted({m.profile for m in mutations} | {STANDALONE}, key=list(profiles).index)
    baselines = []
    for name in used:
        sut, topology = profiles[name]
        suites = sorted(
            {s for m in mutations if m.profile == name for s in m.suites}
            if name in PARTIAL_BASELINES
            else ()
        )
        base = run_variant(
            f"baseline-{name}",
            BASELINE,
            sut=sut,
            topology=topology,
            reports=reports,
            extra=extra,
            suites=suites,
        )
        base.variant = f"{BASELINE}: {name}"
        progress(base)
        baselines.append(base)
    with (
        tempfile.TemporaryDirectory(prefix="rr-harness-mutants-") as tmp,
        ThreadPoolExecutor(max_workers=jobs) as pool,
    ):

        def run(m: Mutation) -> VariantResult:
            sut, topology = profiles[m.profile]
            result = run_variant(
                m.name,
                m.breaks,
                sut=m.apply(sut, Path(tmp) / m.name / sut.name),
                topology=topology,
                reports=reports,
                extra=extra,
                suites=m.suites or conformance_suites(robustness=m.must_pass),
                select=m.select,
                must_pass=m.must_pass,
                expected=m.expected,
            )
            progress(result)
            return result

        timed = [m for m in mutations if FAILOVER_SUITE in m.suites]
        futures = [pool.submit(run, m) for m in mutations if FAILOVER_SUITE not in m.suites]
        results = [f.result() for f in futures] + [run(m) for m in timed]
    for result in results:
        if result.must_pass:  # a correct SUT configured otherwise: judged like the baseline
            result.variant = f"{EQUIVALENT_LABEL}: {result.variant}"
            baselines.append(result)
    variants = [r for r in results if not r.must_pass]
    report = Report(baselines, variants, UNPROVEN)
    (reports / "mutations.json").write_text(report.as_json())
    (reports / "mutations.txt").write_text(report.table() + "\n")
    return report
