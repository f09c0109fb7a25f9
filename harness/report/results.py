"""A run's results as a reviewer reads them, from its JUnit file (read with `junitparser`).

A check is one JUnit testcase: its suite (the module's name, `attributes`), its name, its
outcome in the harness's terms (`harness.verdicts`: passed, failed, error, xfail, skipped), its
duration, its properties (the evidence) and its failure text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import InputError

OUTCOMES = ("passed", "failed", "error", "xfail", "xpass", "skipped")
LAST_SEEN = "last seen: "  # how a wait that timed out names what it observed last


@dataclass(frozen=True)
class Check:
    suite: str  # `attributes`, or the module path when it is not a suite
    name: str  # `test_x[evpn]`
    classname: str
    outcome: str  # one of OUTCOMES
    seconds: float
    properties: tuple[tuple[str, str], ...] = ()
    message: str = ""  # the failure's, error's or skip's one-line reason
    text: str = ""  # the failure's or error's full text (the traceback)

    @property
    def check_id(self) -> str:
        """The same check in every run: `attributes::test_x[evpn]`."""
        return f"{self.suite}::{self.name}"

    @property
    def reason(self) -> str:
        """One line: why it did not pass."""
        first = self.message.strip().splitlines()
        return first[0][:300] if first else ""

    @property
    def last_seen(self) -> str:
        """What a timed-out wait observed last (`WaitTimeout`'s message), else the failure's
        own account (an assertion's message is the state it judged)."""
        for source in (self.message, self.text):
            if LAST_SEEN in source:
                return source.rsplit(LAST_SEEN, 1)[1].strip()[:4000]
        return self.message.strip()[:4000] if self.outcome in ("failed", "error") else ""


@dataclass
class RunResult:
    path: Path
    properties: dict[str, str] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0
    timestamp: str = ""

    def count(self, outcome: str) -> int:
        return sum(1 for c in self.checks if c.outcome == outcome)

    @property
    def counts(self) -> dict[str, int]:
        return {o: self.count(o) for o in OUTCOMES}

    @property
    def verdict(self) -> str:
        """`failed` when the SUT broke a rule, `error` when the harness could not decide one,
        else `passed` (expected failures are known deviations, not failures)."""
        if self.count("failed") or self.count("xpass") or "startup_failure" in self.properties:
            return "failed"
        return "error" if self.count("error") else "passed"

    def suites(self) -> dict[str, list[Check]]:
        out: dict[str, list[Check]] = {}
        for check in self.checks:
            out.setdefault(check.suite, []).append(check)
        return out

    @property
    def label(self) -> str:
        """What tells this run apart in a matrix: profile, FRR, backend."""
        p = self.properties
        parts = [p.get("sut", self.path.stem)]
        if p.get("frr_version"):
            parts.append(f"FRR {p['frr_version']}")
        if p.get("implementation") not in (None, "frr"):
            parts.append(f"{p['implementation']} {p.get('implementation_version', '')}".strip())
        if p.get("backend"):
            parts.append(p["backend"])
        return " · ".join(parts)


def suite_of(classname: str) -> str:
    """`suites.test_reflection_rules` -> `reflection-rules`; `harness.daemon_check` stays."""
    module = classname.rsplit(".", 1)[-1]
    if classname.startswith("suites.") and module.startswith("test_"):
        return module.removeprefix("test_").replace("_", "-")
    return classname


def _outcome(case: object) -> tuple[str, str, str]:
    from junitparser import Error, Failure, Skipped

    for result in getattr(case, "result", []):
        message, text = result.message or "", result.text or ""
        if isinstance(result, Error):
            return "error", message, text
        if isinstance(result, Failure):
            if "XPASS(strict)" in message:
                return "xpass", message, text
            return "failed", message, text
        if isinstance(result, Skipped):
            return ("xfail" if result.type == "pytest.xfail" else "skipped"), message, text
    return "passed", "", ""


def read(path: Path) -> RunResult:
    """A JUnit file's results; a file that is missing or not JUnit is bad input (InputError)."""
    from junitparser import JUnitXml, JUnitXmlError, Properties, TestSuite

    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        xml = JUnitXml.fromfile(str(path))
    except (ET.ParseError, JUnitXmlError) as exc:
        raise InputError(f"{path}: not a JUnit XML file ({exc})") from None
    try:
        return _results(path, xml, TestSuite, Properties)
    except (ValueError, TypeError) as exc:  # a time or count that is not a number, say
        raise InputError(f"{path}: not a JUnit XML file the harness reads ({exc})") from None


def _results(path: Path, xml: Any, suite_type: type, properties_type: type) -> RunResult:
    suites = [xml] if isinstance(xml, suite_type) else list(xml)
    result = RunResult(path)
    for suite in suites:
        result.properties |= {p.name: p.value or "" for p in suite.properties()}
        result.seconds += float(suite.time or 0.0)
        result.timestamp = result.timestamp or str(suite.timestamp or "")
        for case in suite:
            outcome, message, text = _outcome(case)
            own = case.child(properties_type)
            result.checks.append(
                Check(
                    suite=suite_of(case.classname or ""),
                    name=case.name or "",
                    classname=case.classname or "",
                    outcome=outcome,
                    seconds=float(case.time or 0.0),
                    properties=tuple((p.name, p.value or "") for p in own)
                    if own is not None
                    else (),
                    message=message,
                    text=text,
                )
            )
    return result
