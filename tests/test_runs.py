"""Whole runs through the CLI, as a user (or CI) starts them: pass, fail, interrupt, kill.

After every run, nothing of it may remain: no namespace, no tagged process, no state directory.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import CLI, needs_root, rr_harness

from harness.backends.netns.cleanup import find_leftovers
from harness.mutation.catalogue import mutation
from harness.observe.wait import wait_until
from harness.paths import DEFAULT_SUT, PROJECT_ROOT, REPORTS_DIR, RUN_STATE_ROOT
from harness.runtime.processes import process_name, process_tag
from harness.runtime.run import TAG_ENV, new_run_id

pytestmark = [needs_root, pytest.mark.usefixtures("profile_frr")]


def assert_nothing_left(run_id: str) -> None:
    left = find_leftovers(run_id, include_live=True)
    assert left.empty, f"run {run_id} left {left.describe()}"


def junit(path):
    root = ET.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    return suite


def test_default_sut_passes_and_writes_junit_with_properties(tmp_path):
    run_id = new_run_id()
    report = tmp_path / "junit.xml"
    result = rr_harness("run", "reflection", "--junitxml", str(report), "--run-id", run_id)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "lab up," in result.stdout and "sessions Established" in result.stdout
    suite = junit(report)
    assert suite.get("name") == "rr-harness"
    assert int(suite.get("tests")) == 22 and suite.get("failures") == "0"  # 21 + the closing check
    assert suite.get("errors") == "0"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["run_id"] == run_id and int(props["lab_up_ms"]) > 0
    assert props["implementation"] == "frr" and props["implementation_version"][0].isdigit()
    assert int(props["teardown_ms"]) > 0
    steps = json.loads(props["startup_breakdown"])  # issue 18: where the start-up went
    assert {"interpreter_imports", "collection", "namespaces", "daemons", "sessions"} <= set(steps)
    assert all(v >= 0 for v in steps.values()) and steps["total"] >= int(props["lab_up_ms"])
    # a lab shaped by the suite: reflection needs the RRs, the routers and the observer
    assert set(props["nodes_left_out"].split(",")) == {
        "tor", "cloud", "client", "nonclient-1", "nonclient-2", "outsider", "wrong-asn", "rr-stub"
    }  # fmt: skip
    latency = [case for case in suite.iter("testcase") if "withdrawal" in case.get("name")]
    assert len(latency) == 3
    for case in latency:
        names = {p.get("name") for p in case.iter("property")}
        assert {"propagation_ms", "withdrawal_ms"} <= names
    assert_nothing_left(run_id)


def test_rr_without_route_reflector_client_fails_naming_the_missing_route(tmp_path):
    """The acceptance test of 'proven able to fail' for the reflection suite."""
    broken = mutation("rr-without-route-reflector-client").apply(DEFAULT_SUT, tmp_path / "sut")
    run_id = new_run_id()
    report = tmp_path / "junit.xml"
    result = rr_harness(
        "run",
        "reflection",
        "--sut",
        str(broken),
        "--junitxml",
        str(report),
        "--run-id",
        run_id,
        "--convergence-timeout",
        "2",
    )
    assert result.returncode == 1, result.stdout[-3000:]
    suite = junit(report)
    failures = {
        case.get("name"): case.find("failure").get("message", "") + case.find("failure").text
        for case in suite.iter("testcase")
        if case.find("failure") is not None
    }
    # The reach checks fail; the checks of what arrived cannot be decided (nothing arrived).
    assert len(failures) == 9, sorted(failures)
    errors = [case for case in suite.iter("testcase") if case.find("error") is not None]
    assert len(errors) == 12, [c.get("name") for c in errors]
    assert all("could not decide" in c.find("error").get("message", "") for c in errors)
    message = failures["test_evpn_routes_reach_every_client_via_every_rr[router-1]"]
    assert (
        "missing at router-2 via rr-0 (10.244.0.10): "
        "evpn type-2 rd 10.0.0.1:2 mac 02:00:00:00:01:01 (originated by router-1)"
    ) in message
    assert "missing at observer via rr-1 (10.244.0.11)" in message
    assert_nothing_left(run_id)


SIGINT_DEFAULT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def _start(run_id: str, *options: str) -> subprocess.Popen[str]:
    """A run that lasts minutes (the failover suite), so the signal always meets it running.
    SIGINT is given its default disposition, as a terminal's Ctrl-C finds it: a shell starting
    these tests in the background has them ignore it, and a child inherits that."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            SIGINT_DEFAULT,
            *CLI,
            "run",
            "failover",
            "--run-id",
            run_id,
            "--junitxml",
            "/dev/null",
            *options,
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _await_lab(run_id: str) -> None:
    """Until the run's lab is up: its log says every session is Established (the run writes
    its folder in reports/, its JUnit file being /dev/null)."""
    log = REPORTS_DIR / run_id / "harness.log"

    def read() -> str:
        return log.read_text(errors="replace") if log.is_file() else ""

    wait_until(
        read,
        lambda text: "every session Established" in text,
        timeout=30,
        what=f"run {run_id} to bring its lab up",
        describe=lambda text: text.splitlines()[-1] if text else f"no {log} yet",
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_tears_everything_down(sig):
    run_id = new_run_id()
    proc = _start(run_id)
    try:
        _await_lab(run_id)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, out[-3000:]
    assert "Traceback" not in out
    assert_nothing_left(run_id)


@pytest.mark.parametrize("frr", ["host", "profile"])
def test_a_killed_run_is_restored_by_cleanup(frr, profile_frr):
    """On the host's FRR and on the profile's tree: SIGKILL leaves the lab behind, `cleanup`
    removes all of it (FRR's own per-process directories too), and the tree stays as built."""
    run_id = new_run_id()
    proc = _start(run_id, *(["--frr", frr] if frr == "host" else []))
    try:
        _await_lab(run_id)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    left = find_leftovers(run_id)
    assert left.namespaces and left.pids and left.run_dirs  # the kill left the lab behind
    # FRR's own per-process directories, too: on the host, or in the run's pod directories
    tmp = Path("/var/tmp/frr") if frr == "host" else None
    frr_tmp = [
        (tmp or _pod_tmp(p)) / f"{process_name(p)}.{p}" for p in left.pids if process_name(p)
    ]
    assert any(d.is_dir() for d in frr_tmp)
    result = rr_harness("cleanup", "--run-id", run_id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("removed namespaces [")
    assert_nothing_left(run_id)
    assert not [d for d in frr_tmp if d.exists()]
    again = rr_harness("cleanup", "--run-id", run_id)
    assert again.stdout.strip() == "nothing to clean up"
    tree = profile_frr.root
    assert [p for d in ("tmp", "var/tmp") for p in (tree / d).iterdir()] == []


def _pod_tmp(pid: int) -> Path:
    """A tree daemon's /var/tmp/frr, as the host sees it (its pod directory's var-tmp/frr)."""
    run, node = process_tag(pid, TAG_ENV), process_tag(pid, "RR_HARNESS_NODE")
    return RUN_STATE_ROOT / str(run) / str(node) / "var-tmp" / "frr"
