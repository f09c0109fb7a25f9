"""What a check's outcome means, in JUnit terms.

- *failure*: the system under test broke the rule, shown by the check's own final assertion (an
  `AssertionError`, e.g. `ExpectationFailed`).
- *error*: the harness could not decide — a precondition or setup wait that did not hold, a
  missing witness, a daemon of the lab gone, a bug of the harness (any exception that is not
  an assertion: `PreconditionFailed`, `WaitTimeout`, a `TypeError`). pytest reports every
  exception raised in a test's body as a failure; the plugin marks these checks (`VERDICT`
  property) and `undecided_to_errors` turns their JUnit `<failure>` into an `<error>`.
- *expected failure*: a known deviation of a named implementation and version
  (`harness.deviations`), reported with its evidence.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

VERDICT = "verdict"  # the testcase property the plugin sets on an undecided check
UNDECIDED = "error: the harness could not decide"
# The suite property of a run stopped at start-up: sessions the design implies never came up,
# so no check could be decided (the SUT failed; the run says so once, exit status 1).
STARTUP_FAILURE = "startup_failure"


def undecided(exc: BaseException) -> bool:
    """True when `exc` means the harness could not decide, not that the SUT broke a rule: only
    an assertion is a verdict on the SUT; a harness error, or a bug of the harness (a
    `TypeError`, a `KeyError`), is no catch."""
    return not isinstance(exc, (AssertionError, pytest.fail.Exception))


def undecided_to_errors(junit: Path) -> int:
    """Turn the `<failure>` of every undecided testcase of a JUnit file into an `<error>`, and
    correct the suites' counts; returns how many were turned."""
    tree = ET.parse(junit)
    turned = 0
    for suite in tree.getroot().iter("testsuite"):
        here = 0
        for case in suite.iter("testcase"):
            marked = any(
                p.get("name") == VERDICT and p.get("value") == UNDECIDED
                for p in case.iter("property")
            )
            failure = case.find("failure")
            if marked and failure is not None:
                failure.tag = "error"
                failure.set("message", f"{UNDECIDED}: {failure.get('message', '')}")
                here += 1
        if here:
            suite.set("failures", str(int(suite.get("failures", "0")) - here))
            suite.set("errors", str(int(suite.get("errors", "0")) + here))
            turned += here
    if turned:
        tree.write(junit, encoding="utf-8", xml_declaration=True)
    return turned
