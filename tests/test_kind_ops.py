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


def failover_on_kind(*options):
    return subprocess.run(
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
            *options,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=ROOT,
    )


def test_drills_kind_cannot_stage_are_skipped_saying_why_without_touching_a_cluster():
    done = failover_on_kind("-k", "silent or all_rrs or rescheduled")
    assert done.returncode == 0, done.stdout[-2000:]
    assert "3 skipped" in done.stdout and " passed" not in done.stdout
    for need in ("node-partition", "container-restart", "pod-reschedule"):
        assert f"{need}: " in done.stdout


def test_on_a_cluster_of_elsewhere_no_drill_runs_on_foreign_clocks(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\n")
    done = failover_on_kind(f"--kubeconfig={kubeconfig}")
    assert done.returncode == 0, done.stdout[-2000:]
    # every drill, and the check that closes the suite (harness/daemon_check.py)
    assert "9 skipped" in done.stdout and "sampling: failover samples are timed" in done.stdout


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


# -- pod times from the watch ----------------------------------------------------------------
def watched(name, *, ready, ip="10.244.1.9", deleting=False):
    from kubernetes.client import V1ObjectMeta, V1Pod, V1PodCondition, V1PodSpec, V1PodStatus

    from harness.cluster.pods import RR_LABELS

    return V1Pod(
        metadata=V1ObjectMeta(
            name=name,
            labels={**RR_LABELS, "rr-harness/node": "rr-0"},
            deletion_timestamp="2026-11-22T12:00:00Z" if deleting else None,
        ),
        spec=V1PodSpec(containers=[], node_name="kind-worker2"),
        status=V1PodStatus(pod_ip=ip, conditions=[V1PodCondition(type="Ready", status=str(ready))]),
    )


def test_the_watch_gives_each_pod_the_moments_the_drills_measure_from():
    from harness.backends.kind.pods import pod_record
    from harness.backends.kind.watch import PodRegistry
    from harness.inputs import load_plan
    from harness.paths import DEFAULT_SUT, DEFAULT_TOPOLOGY

    plan = load_plan(DEFAULT_TOPOLOGY, DEFAULT_SUT, check_with_frr=False)
    registry = PodRegistry(lambda api_pod, now: pod_record(api_pod, plan, now))
    assert registry.apply("ADDED", watched("rr-x", ready=False, ip=""), now=1.0) == ["created"]
    assert registry.apply("MODIFIED", watched("rr-x", ready=False), now=1.5) == []
    assert registry.apply("MODIFIED", watched("rr-x", ready=True), now=2.0) == ["ready"]
    pod = registry.get("rr-x")
    assert (pod.created_at, pod.ready_at, pod.ip) == (1.0, 2.0, "10.244.1.9")
    seen = registry.version
    assert registry.apply("MODIFIED", watched("rr-x", ready=True, deleting=True), now=3.0) == [
        "terminating"
    ]
    assert registry.wait_for_change(seen, timeout=0) != seen
    assert registry.apply("DELETED", watched("rr-x", ready=True, deleting=True), now=4.0) == [
        "gone"
    ]
    assert (pod.terminating_at, pod.gone_at, pod.exists) == (3.0, 4.0, False)
    registry.apply("ADDED", watched("rr-y", ready=True), now=5.0)
    registry.sync([], now=6.0)  # a DELETED missed between two watches
    assert registry.get("rr-y").gone_at == 6.0
    assert [e.what for e in registry.events if e.pod == "rr-y"] == ["created", "ready", "gone"]


def test_pod_addresses_come_from_the_clients_own_status_objects():
    from kubernetes.client import V1ObjectMeta, V1Pod, V1PodIP, V1PodStatus

    from harness.backends.kind.lab import pod_addresses

    field = "pod_ips" if "pod_ips" in V1PodStatus.attribute_map else "pod_i_ps"
    both = [V1PodIP(ip="10.244.1.5"), V1PodIP(ip="fd00:10:244:1::5")]
    dual = V1Pod(
        metadata=V1ObjectMeta(name="tor"),
        status=V1PodStatus(pod_ip="10.244.1.5", **{field: both}),
    )
    got = pod_addresses(dual)
    assert (str(got.ipv4), str(got.ipv6)) == ("10.244.1.5", "fd00:10:244:1::5")
    single = V1Pod(metadata=V1ObjectMeta(name="tor"), status=V1PodStatus(pod_ip="10.244.2.7"))
    assert pod_addresses(single).ipv6 is None
