"""The failover suite against SUTs it must fail, through the CLI (the baseline, where it passes,
runs in tests/test_mutate.py)."""

from __future__ import annotations

import json

import pytest
from conftest import needs_root, rr_harness

from harness.mutation.catalogue import mutation
from harness.paths import DEFAULT_SUT

pytestmark = [needs_root, pytest.mark.usefixtures("profile_frr")]


def drills(report_dir):
    return json.loads((report_dir / "junit-failover.json").read_text())["drills"]


def test_a_single_replica_fails_rr_deletion_with_the_loss_window_reported(tmp_path):
    """Issue 4 acceptance: with replicas: 1, scenario 1 fails and reports the loss window."""
    sut = mutation("single-replica").apply(DEFAULT_SUT, tmp_path / "sut")
    report = tmp_path / "reports" / "junit.xml"
    result = rr_harness(
        "run", "failover", "-k", "crash", "--repeat", "1", "--sut", str(sut),
        "--junitxml", str(report),
    )  # fmt: skip
    assert result.returncode == 1, result.stdout[-3000:]
    assert "loss window" in result.stdout and "no other RR replica" in result.stdout
    (drill,) = drills(report.parent).values()
    (run,) = drill["repeats"]
    assert run["loss_window_ms"] > 0 and run["losses_total"] > 0
    assert drill["summary"]["loss_window_ms"]["max"] == run["loss_window_ms"]
    assert (report.parent / "junit-failover").is_dir()
    assert drill["figure"].endswith(".png")


def test_graceful_restart_keeps_what_frr_can_keep_and_names_what_it_cannot(tmp_path):
    """Scenario 3 with graceful restart on (RFC 4724): the routers keep the RRs' IPv4 routes as
    stale. FRR 8.4 and 10.3 (the profile's) keep no EVPN route as stale (8.4's
    `gracefulRestartInfo` lists no l2VpnEvpn), so the EVPN routes are withdrawn: the check
    fails naming them. (FRR 10.7.1 keeps them: the drill passes there.)"""
    sut = tmp_path / "sut"
    sut.mkdir()
    for item in DEFAULT_SUT.iterdir():
        (sut / item.name).write_text(item.read_text())
    values = sut / "sut.yaml"
    values.write_text(values.read_text().replace("  enabled: false", "  enabled: true"))
    report = tmp_path / "reports" / "junit.xml"
    result = rr_harness(
        "run", "failover", "-k", "all_rrs", "--repeat", "1", "--sut", str(sut),
        "--junitxml", str(report),
    )  # fmt: skip
    (drill,) = drills(report.parent).values()
    (run,) = drill["repeats"]
    assert drill["variant"] == "graceful restart"
    assert run["stale_routes_seen"] > 0, run
    evpn = [p for p in run["problems"] if p.startswith("evpn ")]
    assert evpn and all("it should have been kept as stale" in p for p in evpn), run
    assert result.returncode == 1
