"""The kind backend's operations that need no cluster: reading pod states, choosing what
cleanup removes, the CLI's fail-fast line, the skip of what kind cannot stage, and the CI
workflow and image definition users run it with."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace as NS

import pytest
import yaml

from harness.backends.kind.cleanup import select
from harness.backends.kind.labels import MANAGED_BY, RUN_LABEL
from harness.backends.kind.pods import not_running
from harness.paths import SUITES_DIR

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "kind.yml"
PEER_IMAGE = ROOT / "fixtures" / "images" / "exabgp" / "Dockerfile"


# -- pod states ----------------------------------------------------------------------------
def container(name="frr", *, waiting=None, terminated=None, restarts=0, last=None):
    return NS(
        name=name,
        restart_count=restarts,
        state=NS(
            waiting=NS(reason=waiting, message="back-off pulling image") if waiting else None,
            terminated=terminated,
        ),
        last_state=NS(terminated=last),
    )


def pod(phase="Running", *containers, reason=None):
    return NS(status=NS(phase=phase, reason=reason, container_statuses=list(containers)))


def test_a_running_pod_is_fine_and_a_pending_one_is_still_coming():
    assert not_running(pod("Running", container())) is None
    assert not_running(pod("Pending", container(waiting="ContainerCreating"))) is None


def test_what_will_not_start_by_waiting_is_named_at_once():
    assert "ImagePullBackOff" in not_running(pod("Pending", container(waiting="ImagePullBackOff")))
    dead = container(terminated=NS(reason="Error", exit_code=1))
    assert not_running(pod("Running", dead)) == "container frr terminated: Error (exit code 1)"
    hidden = container(restarts=2, last=NS(reason="OOMKilled", exit_code=137))
    assert "restarted 2 time(s): last OOMKilled (exit code 137)" in not_running(
        pod("Running", hidden)
    )
    assert not_running(pod("Failed", reason="Evicted")) == "pod phase Failed: Evicted"


# -- cleanup selection ---------------------------------------------------------------------
def labels(run):
    return {RUN_LABEL: run, **MANAGED_BY}


def test_cleanup_takes_only_the_harness_runs_and_leaves_live_ones():
    namespaces = [
        ("rrh-dead01", labels("dead01")),
        ("rrh-live01", labels("live01")),
        ("kube-system", {}),
        ("someone-else", {RUN_LABEL: "dead01"}),  # not managed by us: never touched
    ]
    clusters = ["rrh-dead02", "rrh-live01", "kind", "production"]
    left = select(namespaces, clusters, None, live={"live01"})
    assert left.namespaces == ["rrh-dead01"]
    assert left.clusters == ["rrh-dead02"]
    assert left.skipped_live == ["live01"]
    only = select(namespaces, clusters, "dead02", live=set())
    assert only.namespaces == [] and only.clusters == ["rrh-dead02"]


# -- the command line ------------------------------------------------------------------------
def rr_harness(*args, path=None):
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


def test_run_on_kind_without_kind_or_an_engine_fails_fast_in_one_line(tmp_path):
    done = rr_harness("run", "--backend", "kind", path=str(tmp_path))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "no kind on PATH" in lines[0] and "docker or podman" in lines[0]
    assert "--kubeconfig" in lines[0]  # and says what else works


def test_a_missing_kubeconfig_is_named():
    done = rr_harness("run", "--backend", "kind", "--kubeconfig", "/nonexistent/kubeconfig")
    assert done.returncode == 2
    assert (
        done.stderr.strip() == "rr-harness run: --kubeconfig /nonexistent/kubeconfig: no such file"
    )


def test_failover_drills_are_skipped_on_kind_saying_why_without_touching_a_cluster():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(SUITES_DIR / "test_failover.py"),
            "--backend=kind",
            "-rs",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert "failover drills are not built for kind yet" in done.stdout
    assert " passed" not in done.stdout and "6 skipped" in done.stdout


# -- what users run it with ------------------------------------------------------------------
def test_the_workflow_runs_nightly_and_on_demand_and_keeps_the_reports():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers
    steps = workflow["jobs"]["kind"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "sigs.k8s.io/kind@" in runs  # kind installed
    assert f"docker build -f {PEER_IMAGE.relative_to(ROOT)}" in runs  # the peer image built
    assert "rr-harness run --backend kind" in runs
    cleanup = next(s for s in steps if "cleanup --backend kind" in s.get("run", ""))
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert cleanup["if"] == "always()" and upload["if"] == "always()"
    assert upload["with"]["path"] == "reports/"
    assert "${{" not in runs  # inputs reach the shell through env, never pasted into a script


def test_the_peer_image_holds_the_harness_and_its_pinned_exabgp():
    text = PEER_IMAGE.read_text()
    assert "COPY harness ./harness" in text and "pip install" in text
    assert "harness.backends.kind.peer_pod" in text  # checked at build time
    from harness.backends.kind.manifests import PEER_IMAGE as default_ref

    assert default_ref in WORKFLOW.read_text()  # built under the name the manifests use


@pytest.mark.parametrize("command", [["cleanup", "--backend", "kind", "--kubeconfig", "/no"]])
def test_cleanup_on_kind_names_a_missing_kubeconfig(command):
    done = rr_harness(*command)
    assert done.returncode == 2 and "--kubeconfig /no: no such file" in done.stderr
