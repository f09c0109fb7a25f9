"""The kind backend's static half, checked here where no container engine exists: every
manifest validates offline against the Kubernetes OpenAPI schemas, the kind config against the
model of kind's schema, and the machine check fails with one line naming what is missing."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from harness.backends.kind import preflight
from harness.backends.kind.cluster_config import KindCluster, as_yaml_dict, cluster_config
from harness.backends.kind.labels import RUN_LABEL, namespace, selector
from harness.backends.kind.manifests import RR_CONFIG, RR_NAME, manifests
from harness.cluster.pods import RR_LABELS
from harness.daemons.frr_check import rejected_lines
from harness.errors import HarnessError, InputError
from harness.inputs import load_plan
from harness.mutation.catalogue import MESHRR, PROFILES
from harness.paths import DEFAULT_SUT, DEFAULT_TOPOLOGY

kubernetes_validate = pytest.importorskip("kubernetes_validate")
K8S_VERSION = "1.31"  # kind v0.24's default node image
RUN = "abc123"


@pytest.fixture(scope="module")
def plan():
    return load_plan(DEFAULT_TOPOLOGY, DEFAULT_SUT, check_with_frr=False)


@pytest.fixture(scope="module")
def objects(plan):
    return manifests(plan, RUN)


def test_every_manifest_validates_against_the_kubernetes_schemas(plan, objects):
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    kinds = [o["kind"] for o in objects]
    assert kinds[0] == "Namespace" and kinds[-1] == "Deployment"
    pods = {o["metadata"]["name"] for o in objects if o["kind"] == "Pod"}
    # every router and peer is a pod, but the would-be client outside the pod CIDR
    assert pods == {n.name for n in [*plan.routers, *plan.peers]} - {"outsider"}


def test_a_broken_manifest_is_refused_by_the_same_validation(objects):
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_every_object_carries_the_run_and_lives_in_its_namespace(objects):
    for obj in objects:
        assert obj["metadata"]["labels"][RUN_LABEL] == RUN
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == namespace(RUN)
    assert selector({RUN_LABEL: RUN, "b": "c"}) == f"b=c,{RUN_LABEL}={RUN}"


def test_the_rr_deployment_is_the_designs_with_the_sut_values(plan, objects):
    dep = next(o for o in objects if o["kind"] == "Deployment")
    values = plan.sut.values
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert dep["metadata"]["name"] == RR_NAME
    assert spec["replicas"] == values.replicas
    assert spec["minReadySeconds"] == round(values.min_ready_seconds)
    assert spec["selector"]["matchLabels"] == dict(RR_LABELS)
    assert spec["template"]["metadata"]["labels"].items() >= RR_LABELS.items()
    assert container["readinessProbe"]["tcpSocket"]["port"] == 179
    assert container["readinessProbe"]["failureThreshold"] == values.readiness.failure_threshold
    assert set(container["securityContext"]["capabilities"]["add"]) == {
        "NET_ADMIN",
        "NET_RAW",
        "NET_BIND_SERVICE",
    }
    affinity = pod["affinity"]["podAntiAffinity"]
    assert affinity["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"] == 100
    assert pod["volumes"] == [{"name": "frr-config", "configMap": {"name": RR_CONFIG}}]


def test_the_rr_config_map_holds_the_profiles_config_and_frr_accepts_it(plan, objects):
    cm = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == RR_CONFIG)
    conf = cm["data"]["frr.conf"]
    assert "hostname route-reflector" in conf
    assert f"bgp listen range {plan.sut.values.pod_cidr} peer-group CLIENTS" in conf
    assert "bgpd=yes" in cm["data"]["daemons"]
    assert rejected_lines(conf, ("bgpd",)) == []  # FRR itself accepts it


def test_routers_start_with_no_rr_neighbor_the_discovery_loop_adds_them(plan, objects):
    for router in plan.routers:
        cm = next(o for o in objects if o["metadata"]["name"] == f"{router.name}-config")
        for rr in plan.route_reflectors:
            assert f"neighbor {plan.cluster_ip(rr)} " not in cm["data"]["frr.conf"]


def test_the_kind_config_gives_rr_and_router_pods_nodes_of_their_own(plan):
    config = cluster_config(plan, RUN)
    body = as_yaml_dict(config)
    assert body["apiVersion"] == "kind.x-k8s.io/v1alpha4" and body["kind"] == "Cluster"
    roles = [n["role"] for n in body["nodes"]]
    assert roles.count("control-plane") == 1
    assert roles.count("worker") == plan.sut.values.replicas + 1
    # dual stack: the cloud router's IPv6 routes need IPv6 pod addresses
    assert body["networking"]["ipFamily"] == "dual"
    assert body["networking"]["podSubnet"] == f"{plan.sut.values.pod_cidr},fd00:10:244::/56"
    assert KindCluster.model_validate(yaml.safe_load(yaml.safe_dump(body))) == config


def test_a_kind_config_field_kind_does_not_know_is_refused():
    with pytest.raises(ValidationError, match="podsubnet"):
        KindCluster.model_validate(
            {"name": "x", "nodes": [{"role": "control-plane"}], "networking": {"podsubnet": "1"}}
        )
    with pytest.raises(ValidationError):
        KindCluster.model_validate({"name": "x", "nodes": [{"role": "master"}]})
    with pytest.raises(ValidationError, match=r"10\.244\.0\.0/33"):
        KindCluster.model_validate(
            {
                "name": "x",
                "nodes": [{"role": "worker"}],
                "networking": {"podSubnet": "10.244.0.0/33"},
            }
        )


def test_meshrr_is_not_offered_on_kind_yet_and_says_why():
    profile, topology = PROFILES[MESHRR]
    mesh_plan = load_plan(topology, profile, check_with_frr=False)
    with pytest.raises(InputError, match="meshrr profile runs on netns only"):
        manifests(mesh_plan, RUN)


def test_without_kind_or_a_container_engine_the_check_names_what_is_missing(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(InputError) as err:
        preflight.check(None)
    message = str(err.value)
    assert "no kind" in message and "docker or podman" in message and "\n" not in message


def test_a_kubeconfig_must_exist(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        preflight.check(tmp_path / "missing")
    config = tmp_path / "kubeconfig"
    config.write_text("apiVersion: v1\n")
    preflight.check(config)


# -- pod operations' offline half --------------------------------------------------------------
def api_pod(name, labels, *, ready=True, ip="10.244.1.7", node="kind-worker", deleting=False):
    from kubernetes.client import (
        V1ObjectMeta,
        V1Pod,
        V1PodCondition,
        V1PodSpec,
        V1PodStatus,
    )

    return V1Pod(
        metadata=V1ObjectMeta(
            name=name,
            labels=labels,
            deletion_timestamp="2026-11-22T12:00:00Z" if deleting else None,
        ),
        spec=V1PodSpec(containers=[], node_name=node),
        status=V1PodStatus(
            pod_ip=ip,
            conditions=[V1PodCondition(type="Ready", status="True" if ready else "False")],
        ),
    )


def test_an_rr_pod_from_the_api_reads_as_the_harness_pod(plan):
    from harness.backends.kind.pods import pod_record
    from harness.model.topology import Role

    labels = {**RR_LABELS, "rr-harness/node": "rr-0"}
    pod = pod_record(api_pod("openperouter-rr-7d9f-x2k4p", labels), plan, seen_at=5.0)
    assert pod.role is Role.ROUTE_REFLECTOR and pod.ready and pod.exists
    assert (pod.ip, pod.node, pod.spec.name, pod.ready_at) == (
        "10.244.1.7",
        "kind-worker",
        "rr-0",
        5.0,
    )
    assert not pod_record(api_pod("p", labels, ready=False), plan).ready
    assert pod_record(api_pod("p", labels, deleting=True), plan).terminating_at is not None


def test_a_router_pod_keeps_its_topology_node():
    from harness.backends.kind.pods import pod_record

    plan = load_plan(DEFAULT_TOPOLOGY, DEFAULT_SUT, check_with_frr=False)
    pod = pod_record(api_pod("router-2", {"app": "router", "rr-harness/node": "router-2"}), plan)
    assert pod.spec.name == "router-2" and pod.spec.evpn is not None


def test_vtysh_json_is_read_past_notices_and_refused_when_absent():
    from harness.backends.kind.pods import vtysh_json
    from harness.errors import CommandError

    assert vtysh_json("rr-0", "show bgp summary json", 'Note: x\n{"a": 1}\n') == {"a": 1}
    with pytest.raises(CommandError, match="no JSON"):
        vtysh_json("rr-0", "show bgp summary json", "% Unknown command")


def test_an_api_error_names_the_object_and_the_reason():
    from kubernetes.client.exceptions import ApiException

    from harness.backends.kind.pods import api_call

    def missing():
        exc = ApiException(status=404, reason="Not Found")
        exc.body = '{"message": "pods \\"rr-0\\" not found"}'
        raise exc

    with pytest.raises(HarnessError) as err:
        api_call("deleting pod rr-0 in rrh-abc123", missing)
    assert str(err.value) == (
        'deleting pod rr-0 in rrh-abc123: 404 Not Found: pods "rr-0" not found'
    )


def test_silent_deletion_is_refused_on_kind_with_the_reason():
    from harness.backends.kind.pods import KubePods
    from harness.cluster.pods import DeletionMode

    pods = KubePods(core=None, namespace="rrh-abc123", plan=None)
    with pytest.raises(HarnessError, match="node's network cut"):
        pods.delete("rr-0", DeletionMode.SILENT)
