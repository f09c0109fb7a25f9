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

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.backends.kind.labels import NODE_LABEL, namespace, run_labels
from harness.backends.kind.peers import PEER_CONTAINER
from harness.backends.kind.realise import realisable_nodes
from harness.backends.kind.vni import router_entrypoint
from harness.cluster.pods import RR_LABELS
from harness.errors import InputError
from harness.model.plan import LabPlan
from harness.model.topology import Node, Role

FRR_IMAGE = "quay.io/frrouting/frr:10.3.1"  # the design's RR image
FRR_START = "/usr/lib/frr/docker-start"  # that image's own start (watchfrr and the daemons)
PEER_IMAGE = "rr-harness-peer:dev"  # fixtures/images/exabgp, built and `kind load`ed in CI
SAMPLER_CONTAINER = "sampler"  # in router pods: the failover sampler, next to FRR
IN_POD_VTY = Path("/var/run/frr/bgpd.vty")  # FRR's default run directory, in the image
RR_NAME = "openperouter-rr"
RR_CONFIG = "route-reflector-config"
FRR_DAEMONS = "zebra=yes\nbgpd=yes\nvtysh_enable=yes\n"
# RR pods: bgpd without zebra (-Z), as the netns lab runs them, so next hops are not checked
# against the pod's own routing table (the image starts zebra whatever `daemons` says).
RR_DAEMONS = FRR_DAEMONS + 'bgpd_options="  -A 127.0.0.1 -Z"\n'
VTYSH_CONF = "service integrated-vtysh-config\n"
BGP_PORT = 179


def manifests(plan: LabPlan, run_id: str, frr_image: str = FRR_IMAGE) -> list[dict[str, Any]]:
    """Every object the run creates, in the order to create them (the addresses are the
    topology's here; the lab renders the RR ConfigMap again at the pods' own, `realise`)."""
    if plan.mesh is not None:
        raise InputError(
            "--backend kind: the meshrr profile runs on netns only for now (its per-route-server "
            "config needs each pod's IP, which kind assigns at scheduling)"
        )
    if plan.sut.values.underlay is not None:
        raise InputError(
            "--backend kind: the openperouter-upstream profile runs on netns only for now (its "
            "RRs are router pods on designated nodes, with node addresses: kind would need "
            "OpenPERouter's DaemonSet and underlay NICs, not the harness's RR Deployment)"
        )
    if plan.sut.values.implementation != "frr":
        raise InputError(
            f"--backend kind: the {plan.sut.values.implementation} profile runs on netns only "
            f"for now (the RR Deployment runs the FRR image)"
        )
    if plan.harness_routers:
        raise InputError(
            f"--backend kind: {plan.sut.directory}/sut.yaml: harness_routers: router pods played "
            "by the harness's crafted speaker run on netns only for now"
        )
    nodes = [n for n in realisable_nodes(plan) if n.role is not Role.ROUTE_REFLECTOR]
    return [
        namespace_object(run_id),
        *pod_objects(plan, nodes, run_id, frr_image),
        *route_reflector_objects(plan, run_id, frr_image),
    ]


def namespace_object(run_id: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": _meta(namespace(run_id), run_id, None),
    }


def pod_objects(
    plan: LabPlan,
    nodes: Iterable[Node],
    run_id: str,
    frr_image: str = FRR_IMAGE,
    peer_image: str = PEER_IMAGE,
) -> list[dict[str, Any]]:
    """Router pods (with their ConfigMaps) and peer pods: everything but the RR Deployment."""
    ns = namespace(run_id)
    out: list[dict[str, Any]] = []
    for node in nodes:
        if node.role is Role.ROUTER:
            config = startup_config(plan.render_router(node, []))
            extra = {"start.sh": router_entrypoint(node.evpn, FRR_START)}
            out.append(_config_map(f"{node.name}-config", ns, run_id, config, extra=extra))
            out.append(_router_pod(node, ns, run_id, frr_image, peer_image))
        else:
            out.append(_peer_pod(node, ns, run_id, peer_image))
    return out


def route_reflector_objects(
    plan: LabPlan, run_id: str, frr_image: str = FRR_IMAGE
) -> list[dict[str, Any]]:
    """The design's RR ConfigMap and Deployment."""
    ns = namespace(run_id)
    return [
        _config_map(RR_CONFIG, ns, run_id, _rr_config(plan), daemons=RR_DAEMONS),
        _rr_deployment(plan, ns, run_id, frr_image),
    ]


def startup_config(rendered: str) -> str:
    """What a router pod starts with: the rendered config's global part, before `router bgp`.
    The lab (or the discovery loop) adds the rest once the addresses are known, through vtysh:
    every neighbor of a router is a pod whose IP comes at scheduling."""
    lines = rendered.splitlines()
    head = next((i for i, line in enumerate(lines) if line.startswith("router bgp")), len(lines))
    return "\n".join(lines[:head]) + "\n"


def _meta(name: str, run_id: str, namespace: str | None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**labels, **run_labels(run_id)}}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def _rr_config(plan: LabPlan) -> str:
    """One configuration for every replica, as the design's single ConfigMap holds."""
    slot = plan.route_reflectors[0].model_copy(update={"name": "route-reflector"})
    return plan.render_route_reflector(slot)


def _config_map(
    name: str,
    ns: str,
    run_id: str,
    frr_conf: str,
    *,
    extra: dict[str, str] | None = None,
    daemons: str = FRR_DAEMONS,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(name, run_id, ns),
        "data": {
            "frr.conf": frr_conf,
            "daemons": daemons,
            "vtysh.conf": VTYSH_CONF,
            **(extra or {}),
        },
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


def _router_pod(router: Node, ns: str, run_id: str, image: str, peer_image: str) -> dict[str, Any]:
    """FRR with zebra; its start script sets up the VNI, then runs the image's own start. A
    `sampler` container (the peer image) shares FRR's run directory, so the failover sampler
    reaches bgpd's vty socket from inside the pod, as it does on netns."""
    run_dir = {"name": "frr-run", "mountPath": str(IN_POD_VTY.parent)}
    container = _frr_container(image)
    # tini stays PID 1, as in the image's own ENTRYPOINT: signals reach FRR, zombies are reaped
    container["command"] = ["/sbin/tini", "--", "/bin/sh", "/etc/frr/start.sh"]
    container["volumeMounts"].append(run_dir)
    sampler = {
        "name": SAMPLER_CONTAINER,
        "image": peer_image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sleep", "infinity"],
        "volumeMounts": [run_dir],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(router.name, run_id, ns, **router.labels, **{NODE_LABEL: router.name}),
        "spec": {
            "restartPolicy": "Never",  # a crash is a finding, not something to hide
            "terminationGracePeriodSeconds": 5,
            "containers": [container, sampler],
            "volumes": [
                {"name": "frr-config", "configMap": {"name": f"{router.name}-config"}},
                {"name": "frr-run", "emptyDir": {}},
            ],
        },
    }


def _peer_pod(node: Node, ns: str, run_id: str, image: str) -> dict[str, Any]:
    """A harness speaker (ExaBGP or the crafted speaker): the peer image, idle until the lab
    starts its daemon through exec (`peer_pod start`) once every address is known."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(
            node.name, run_id, ns, **{NODE_LABEL: node.name, "rr-harness/role": node.role.value}
        ),
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 5,
            "containers": [
                {
                    "name": PEER_CONTAINER,
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",  # built on the runner, `kind load`ed
                    "command": ["sleep", "infinity"],
                    "ports": [{"containerPort": BGP_PORT, "name": "bgp", "protocol": "TCP"}],
                }
            ],
        },
    }
