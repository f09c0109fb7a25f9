"""Kubernetes objects of a run, made from the same plan and SUT profile as the netns lab.

The RR pods are the design's Deployment and ConfigMap ("RR Deployment", "RR FRR
Configuration"): labels, preferred anti-affinity on the node, NET_ADMIN/NET_RAW/
NET_BIND_SERVICE, a TCP 179 readiness probe and an frrinit liveness probe; replicas,
`minReadySeconds` and the probe timings come from sut.yaml, and the FRR config is rendered from
the profile's own route-reflector template. Router pods run FRR with the rendered router
config and no RR neighbor yet: the discovery loop (or the real controller) points them at the
ready RR pods. Every object carries the run's labels and lives in the run's namespace.
"""

from __future__ import annotations

from typing import Any

from harness.backends.kind.labels import NODE_LABEL, namespace, run_labels
from harness.cluster.pods import RR_LABELS
from harness.errors import InputError
from harness.model.plan import LabPlan
from harness.model.topology import Node

FRR_IMAGE = "quay.io/frrouting/frr:10.3.1"  # the design's RR image
RR_NAME = "openperouter-rr"
RR_CONFIG = "route-reflector-config"
FRR_DAEMONS = "zebra=yes\nbgpd=yes\nvtysh_enable=yes\n"
VTYSH_CONF = "service integrated-vtysh-config\n"
BGP_PORT = 179


def manifests(plan: LabPlan, run_id: str, frr_image: str = FRR_IMAGE) -> list[dict[str, Any]]:
    """Every object the run creates, in the order to create them."""
    if plan.mesh is not None:
        raise InputError(
            "--backend kind: the meshrr profile runs on netns only for now (its per-route-server "
            "config needs each pod's IP, which kind assigns at scheduling)"
        )
    ns = namespace(run_id)
    out: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns, run_id, namespace=None)}
    ]
    out.append(_config_map(RR_CONFIG, ns, run_id, _rr_config(plan)))
    out.append(_rr_deployment(plan, ns, run_id, frr_image))
    for router in plan.routers:
        config = plan.render_router(router, plan.stand_in_ips(router))
        out.append(_config_map(f"{router.name}-config", ns, run_id, config))
        out.append(_router_pod(router, ns, run_id, frr_image))
    return out


def _meta(name: str, run_id: str, namespace: str | None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**labels, **run_labels(run_id)}}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def _rr_config(plan: LabPlan) -> str:
    """One configuration for every replica, as the design's single ConfigMap holds."""
    slot = plan.route_reflectors[0].model_copy(update={"name": "route-reflector"})
    return plan.render_route_reflector(slot)


def _config_map(name: str, ns: str, run_id: str, frr_conf: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(name, run_id, ns),
        "data": {"frr.conf": frr_conf, "daemons": FRR_DAEMONS, "vtysh.conf": VTYSH_CONF},
    }


def _frr_container(image: str) -> dict[str, Any]:
    return {
        "name": "frr",
        "image": image,
        "ports": [{"containerPort": BGP_PORT, "name": "bgp", "protocol": "TCP"}],
        "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW", "NET_BIND_SERVICE"]}},
        "volumeMounts": [{"name": "frr-config", "mountPath": "/etc/frr"}],
    }


def _rr_deployment(plan: LabPlan, ns: str, run_id: str, image: str) -> dict[str, Any]:
    values = plan.sut.values
    labels = {**RR_LABELS, **run_labels(run_id), NODE_LABEL: plan.route_reflectors[0].name}
    container = _frr_container(image)
    container["readinessProbe"] = {
        "tcpSocket": {"port": BGP_PORT},
        "initialDelaySeconds": round(values.readiness.initial_delay),
        "periodSeconds": max(1, round(values.readiness.period)),  # Kubernetes counts seconds
        "failureThreshold": values.readiness.failure_threshold,
    }
    container["livenessProbe"] = {
        "exec": {"command": ["/usr/lib/frr/frrinit.sh", "status"]},
        "initialDelaySeconds": 10,
        "periodSeconds": 10,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(RR_NAME, run_id, ns, **RR_LABELS),
        "spec": {
            "replicas": values.replicas,
            "minReadySeconds": round(values.min_ready_seconds),
            "selector": {"matchLabels": dict(RR_LABELS)},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "affinity": {
                        "podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "weight": 100,
                                    "podAffinityTerm": {
                                        "labelSelector": {
                                            "matchLabels": {
                                                "app.kubernetes.io/name": RR_LABELS[
                                                    "app.kubernetes.io/name"
                                                ]
                                            }
                                        },
                                        "topologyKey": "kubernetes.io/hostname",
                                    },
                                }
                            ]
                        }
                    },
                    "containers": [container],
                    "volumes": [{"name": "frr-config", "configMap": {"name": RR_CONFIG}}],
                },
            },
        },
    }


def _router_pod(router: Node, ns: str, run_id: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(router.name, run_id, ns, **router.labels, **{NODE_LABEL: router.name}),
        "spec": {
            "containers": [_frr_container(image)],
            "volumes": [{"name": "frr-config", "configMap": {"name": f"{router.name}-config"}}],
        },
    }
