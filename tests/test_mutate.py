"""Every conformance check is shown able to fail, and every broken variant is caught.

Runs `rr-harness mutate` over the whole catalogue (harness/mutation/catalogue.py): the baselines
(the default SUTs) and the equivalent variants (correct SUTs configured otherwise) must pass,
every broken variant must make at least one check fail, and every check must fail against at
least one variant. This is the project's proof that no check is decoration.
"""

from __future__ import annotations

import json

from conftest import needs_root, rr_harness

from harness.mutation.catalogue import CATALOGUE, EQUIVALENT

pytestmark = needs_root


def test_every_variant_is_caught_and_every_check_catches_one(tmp_path):
    result = rr_harness("mutate", "--reports", str(tmp_path), timeout=1500)
    report = json.loads((tmp_path / "mutations.json").read_text())
    table = (tmp_path / "mutations.txt").read_text()
    # the standalone-RR and the meshrr profiles, then the correct SUTs configured otherwise
    assert len(report["baselines"]) == 2 + len(EQUIVALENT), table
    for base in report["baselines"]:
        assert base["exit_status"] == 0, table
        assert not base["failed"] and not base["errors"], table
    assert {v["variant"] for v in report["variants"]} == {m.name for m in CATALOGUE}
    uncaught = [v["variant"] for v in report["variants"] if not v["failed"]]
    assert not uncaught, f"variants no check caught: {uncaught}\n{table}"
    idle = [check for check, variants in report["checks"].items() if not variants]
    assert not idle, f"checks that caught no variant: {idle}\n{table}"
    assert report["ok"] and result.returncode == 0, result.stdout[-3000:]
    assert "variant" in result.stdout and "checks that caught it" in result.stdout
