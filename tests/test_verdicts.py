"""Failure, error, expected failure: the JUnit side of a verdict (harness/verdicts.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest

from harness.backends import base
from harness.deviations import judge
from harness.errors import PreconditionFailed, WaitTimeout
from harness.expect import ExpectationFailed
from harness.mutation.runner import Report, VariantResult, read_junit
from harness.transparency import med_added
from harness.verdicts import UNDECIDED, VERDICT, undecided, undecided_to_errors

JUNIT = f"""<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="rr-harness" errors="0" failures="2" skipped="0" tests="3">
<testcase classname="suites.test_a" name="test_rule_broken"><failure message="AssertionError: x"/>
</testcase>
<testcase classname="suites.test_a" name="test_undecided"><properties>
<property name="{VERDICT}" value="{UNDECIDED}"/></properties>
<failure message="PreconditionFailed: the sentinel never arrived"/></testcase>
<testcase classname="suites.test_a" name="test_fine"/>
</testsuite></testsuites>
"""


def test_only_an_assertion_is_a_verdict_on_the_sut():
    assert not undecided(AssertionError("rule broken"))
    assert not undecided(ExpectationFailed("rule broken"))
    assert not undecided(pytest.fail.Exception("rule broken"))
    assert undecided(PreconditionFailed("sentinel missing"))
    assert undecided(WaitTimeout("x", 1.0, 3, "seen"))
    assert undecided(TypeError("a bug of the harness"))


def test_an_undecided_failure_becomes_an_error_with_the_counts(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)
    assert undecided_to_errors(junit) == 1
    suite = ET.parse(junit).getroot().find("testsuite")
    assert (suite.get("failures"), suite.get("errors")) == ("1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["test_rule_broken"].find("failure") is not None
    error = cases["test_undecided"].find("error")
    assert error is not None and cases["test_undecided"].find("failure") is None
    assert error.get("message").startswith(UNDECIDED)
    assert undecided_to_errors(junit) == 0  # nothing left to turn


def test_the_mutation_table_ends_with_why_a_baseline_or_variant_went_wrong(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)
    undecided_to_errors(junit)
    baseline = read_junit(junit, VariantResult("baseline (unbroken): x", "", 1, 1.0))
    variant = read_junit(junit, VariantResult("v", "rule", 1, 1.0))
    variant.expected = ["a::test_fine", "a::test_rule_broken"]
    table = Report([baseline], [variant]).table()
    why = table[table.index("why baseline") :].splitlines()
    assert why[:4] == [
        "why baseline (unbroken): x (exit 1):",
        "  test_rule_broken: failed: AssertionError: x",
        f"  test_undecided: {UNDECIDED}: PreconditionFailed: the sentinel never arrived",
        # a variant: its declared checks that did not catch it (and any undeclared catch)
        "why v (exit 1):",
    ]
    assert why[4] == "  a::test_fine: passed"


def test_a_known_deviation_is_an_expected_failure_only_where_it_can_show():
    """harness/deviations.py: all problems deviant on the named version -> xfail; the deviation
    declared but unseen -> failure; a check whose routes cannot show it, or another version ->
    judged as any other check."""
    deviant, other = "at r2 via rr-0: k: med 0, sent None", "at r2 via rr-0: k: med 7, sent None"
    standalone = SimpleNamespace(sut=SimpleNamespace(values=SimpleNamespace(kind="standalone-rr")))
    on_84 = SimpleNamespace(run=SimpleNamespace(run_id="judge-84"), plan=standalone)
    on_10 = SimpleNamespace(run=SimpleNamespace(run_id="judge-10"), plan=standalone)
    base._IMPLEMENTATIONS.update({"judge-84": ("frr", "8.4.4"), "judge-10": ("frr", "10.9")})
    with pytest.raises(pytest.xfail.Exception, match=r"known deviation of frr 8\.4\.4"):
        judge(on_84, "med-zero-added", [deviant], med_added)
    with pytest.raises(AssertionError, match="no longer seen"):
        judge(on_84, "med-zero-added", [], med_added)
    with pytest.raises(AssertionError, match="med 7"):
        judge(on_84, "med-zero-added", [deviant, other], med_added)
    judge(on_84, "med-zero-added", [], med_added, exposed=False)
    with pytest.raises(AssertionError, match="med 0"):
        judge(on_10, "med-zero-added", [deviant], med_added)
    judge(on_10, "med-zero-added", [], med_added)
