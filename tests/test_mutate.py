"""Every conformance check is shown able to fail through its own final assertion, and every
broken variant is caught by exactly the checks it declares.

Runs `rr-harness mutate` over the whole catalogue (harness/mutation/catalogue.py): the baselines
(the default SUTs) and the equivalent variants (correct SUTs configured otherwise) must pass;
every broken variant must be caught by exactly its `expected` checks, each through a JUnit
<failure> (a check that ended in an error, a setup wait or a missing witness, catches nothing);
every check must catch at least one variant. This is the project's proof that no check is
decoration, and that none is credited for something it did not decide.
"""

from __future__ import annotations

import json

import pytest
from conftest import needs_root, rr_harness

from harness.mutation.catalogue import CATALOGUE, EQUIVALENT, PROFILES, PROVEN_ELSEWHERE, UNPROVEN

pytestmark = [needs_root, pytest.mark.lab, pytest.mark.usefixtures("profile_frr")]


def test_every_variant_is_caught_as_declared_and_every_check_catches_one(tmp_path):
    result = rr_harness("mutate", "--reports", str(tmp_path), timeout=1500)
    report = json.loads((tmp_path / "mutations.json").read_text())
    table = (tmp_path / "mutations.txt").read_text()
    # every profile (the harness's own RR: the suites its variants run), then the correct
    # SUTs configured otherwise
    assert len(report["baselines"]) == len(PROFILES) + len(EQUIVALENT), table
    for base in report["baselines"]:
        assert base["exit_status"] == 0, table
        assert not base["caught_by"] and not base["errored"], table
    assert {v["variant"] for v in report["variants"]} == {m.name for m in CATALOGUE}
    for variant in report["variants"]:
        assert variant["caught_by"] == variant["expected"], f"{variant['variant']}\n{table}"
    # What is not proven yet is listed with its reason, and the list holds exactly that.
    idle = {check for check, variants in report["checks"].items() if not variants}
    uncaught = {v["variant"] for v in report["variants"] if not v["caught_by"]}
    assert idle | uncaught == set(UNPROVEN) | set(PROVEN_ELSEWHERE), table
    assert report["ok"] and result.returncode == 0, result.stdout[-3000:]
    assert "variant" in result.stdout and "caught by (final assertion)" in result.stdout
